"""scripts/protocol_tables.py: merging saved leave-one-family-out results."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import protocol_tables as PT  # noqa: E402


def _score(mape):
    return {"all": {"mape": mape, "acc5": 10.0, "acc10": 50.0, "kendall": 0.5, "spearman": 0.6, "n": 4}}


def _result(kinds, fams_scores, epochs=12):
    """A `run_protocol` result: one seed, {kind: {family: mape}}."""
    runs = [
        {"kind": k, "seed": 0, "scores": {f"leave-out:{f}": _score(m) for f, m in fams_scores[k].items()}}
        for k in kinds
    ]
    fams = sorted({f for k in kinds for f in fams_scores[k]})
    return {
        "protocol": "leave-one-family-out", "kinds": kinds, "seeds": 1, "epochs": epochs,
        "train_per_family": 40, "residual": True, "families": fams,
        "splits": {f"leave-out:{f}": {"train": 8, "val": 2, "test": 4} for f in fams}, "runs": runs, "results": {},
    }


def test_merge_joins_families_and_methods():
    a = _result(["narformer2", "gnn"], {"narformer2": {"a": 10.0}, "gnn": {"a": 20.0}})
    b = _result(["narformer2", "gnn"], {"narformer2": {"b": 30.0}, "gnn": {"b": 40.0}})
    ga = _result(["global-attn"], {"global-attn": {"a": 5.0, "b": 7.0}})
    out = PT.merge([a, b, ga])
    assert out["kinds"] == ["narformer2", "gnn", "global-attn"]
    assert out["results"]["narformer2"]["average"]["mape"]["mean"] == pytest.approx(20.0)
    assert out["results"]["gnn"]["average"]["mape"]["mean"] == pytest.approx(30.0)
    assert out["results"]["global-attn"]["average"]["mape"]["mean"] == pytest.approx(6.0)
    assert out["results"]["global-attn"]["b"]["mape"]["mean"] == pytest.approx(7.0)
    table = PT.markdown(out)
    assert "MAPE % Global attn" in table and "| **average** | 20.00 | 30.00 | 6.00 |" in table


def test_merge_refuses_different_settings():
    a = _result(["gnn"], {"gnn": {"a": 1.0}})
    b = _result(["gnn"], {"gnn": {"b": 1.0}}, epochs=5)
    with pytest.raises(SystemExit, match="epochs differs"):
        PT.merge([a, b])
    c = _result(["gnn"], {"gnn": {"b": 1.0}})
    c["precision"] = "fp32"  # a file that records it against one that does not
    with pytest.raises(SystemExit, match="precision differs"):
        PT.merge([a, c])


def _ind(kind_seed_mape, seeds=1):
    """An in-distribution result: {(kind, seed): mape}."""
    kinds = list(dict.fromkeys(k for k, _ in kind_seed_mape))
    runs = [{"kind": k, "seed": s, "scores": {"in-distribution": _score(m)}} for (k, s), m in kind_seed_mape.items()]
    return {
        "protocol": "in-distribution", "kinds": kinds, "seeds": seeds, "epochs": 15,
        "train_per_family": 100, "residual": True, "families": ["a"],
        "splits": {"in-distribution": {"train": 8, "val": 2, "test": 4}}, "runs": runs, "results": {},
    }


def test_merge_pools_seeds_of_separate_runs():
    a = _ind({("flops", 0): 30.0, ("narformer2", 0): 8.0, ("gnn", 0): 9.0})
    b = _ind({("narformer2", 1): 10.0, ("narformer2", 2): 12.0, ("gnn", 1): 9.0, ("gnn", 2): 9.0}, seeds=2)
    out = PT.merge([a, b])
    nf = out["results"]["narformer2"]["all"]["mape"]
    assert (nf["n"], nf["mean"]) == (3, pytest.approx(10.0))
    assert nf["std"] == pytest.approx(2.0)  # sample std of 8, 10, 12
    assert out["results"]["flops"]["all"]["mape"]["n"] == 1
    table = PT.markdown(out)
    assert "| **all** | 30.00 | 10.00 ± 2.00 | 9.00 ± 0.00 |" in table
    assert "seeds: FLOPs 1, NAR-Former V2 3, NNLP GNN 3" in table


def test_merge_refuses_conflicting_or_partial_runs():
    a = _ind({("gnn", 0): 9.0})
    with pytest.raises(SystemExit, match="gnn seed 0 on in-distribution has two different scores"):
        PT.merge([a, _ind({("gnn", 0): 9.5})])
    assert PT.merge([a, _ind({("gnn", 0): 9.0})])["results"]["gnn"]["all"]["mape"]["n"] == 1  # same run twice
    full = _result(["gnn"], {"gnn": {"a": 1.0, "b": 2.0}})
    half = _result(["gnn"], {"gnn": {"a": 3.0}})
    half["runs"][0]["seed"] = 1
    with pytest.raises(SystemExit, match="gnn seed 1 covers 1 of the 2 splits"):
        PT.merge([full, half])
