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
