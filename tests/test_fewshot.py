"""Few-shot device latency (nnprof.nas.fewshot, `nnprof nas fewshot`) on a tiny fake table:
7 cells (one disconnected), 2 device settings, a hidden-8 checkpoint."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch
from test_predict import tiny_checkpoint
from typer.testing import CliRunner

from nnprof import metrics as M
from nnprof import train as T
from nnprof.cli import app
from nnprof.errors import NNProfError
from nnprof.nas import fewshot as FS
from nnprof.nas.data import load_device_latency
from nnprof.predict import load_predictor

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def arch(*ops: str) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


CELLS = [
    arch("skip_connect", "skip_connect", "skip_connect", "skip_connect", "skip_connect", "skip_connect"),
    arch("nor_conv_1x1", "skip_connect", "none", "skip_connect", "none", "none"),
    arch("avg_pool_3x3", "none", "skip_connect", "none", "none", "skip_connect"),
    arch("nor_conv_3x3", "none", "none", "skip_connect", "none", "none"),
    arch("none", "nor_conv_1x1", "none", "nor_conv_1x1", "none", "none"),
    arch("nor_conv_3x3", "none", "none", "none", "none", "none"),  # disconnected
    arch("skip_connect", "nor_conv_1x1", "skip_connect", "none", "none", "avg_pool_3x3"),
]
DEVICES = ("1080ti_2", "gold_6240")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A data dir with the fake table, a cache dir and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("fewshot")
    rng = np.random.default_rng(0)
    with open(root / "nb201_latency_devices.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch_idx", "arch_str", *(f"{d}_latency_ms" for d in DEVICES)])
        for i, a in enumerate(CELLS):
            w.writerow([i, a, *(f"{v:.4f}" for v in rng.uniform(1, 10, len(DEVICES)))])
    return {"data": root, "ckpt": tiny_checkpoint(root / "tiny.pt")}


@pytest.fixture(autouse=True)
def _private_cache(env, monkeypatch):
    """Replaces conftest's fresh cache per test: this module's tests share one, so each cell
    is exported once."""
    monkeypatch.setenv("NNPROF_CACHE_DIR", str(env["data"] / "cache"))


def cfg(**kw) -> FS.FewshotConfig:
    base = {"samples": (2, 3), "repeats": 2, "eval_cells": 3, "pool_cells": 3, "epochs": 2,
                "scratch": FS.ScratchConfig(hidden=8, groups=2, steps=3)}
    base.update(kw)
    return FS.FewshotConfig(**base)


def test_disconnected_cells():
    assert not FS.is_disconnected(CELLS[0])
    assert not FS.is_disconnected(CELLS[3])  # skip c0 -> c3
    assert FS.is_disconnected(CELLS[5])  # c0 -> c1 only, nothing leaves c1
    assert FS.is_disconnected(arch("skip_connect", "none", "none", "none", "skip_connect", "none")) is False
    assert FS.is_disconnected(arch("none", "skip_connect", "skip_connect", "none", "none", "none")) is True
    # NAS-Bench-201 has 341 cells whose output is cut from its input (the data README)
    n = sum(FS.is_disconnected(arch(*ops)) for ops in itertools.product(OPS, repeat=6))
    assert n == 341


def test_device_batch_size():
    assert FS.device_batch_size("1080ti_256") == 256
    assert FS.device_batch_size("titanxp_1") == 1
    assert FS.device_batch_size("gold_6240") == 1  # a CPU model number, not a batch
    assert FS.device_batch_size("pixel3") == 1


def test_draws_are_seeded_nested_and_per_device():
    pool = np.arange(100, 200)
    a = FS.draw(pool, 10, "pixel3", 0)
    assert np.array_equal(a, FS.draw(pool, 10, "pixel3", 0))
    assert np.array_equal(a[:5], FS.draw(pool, 5, "pixel3", 0))
    assert len(set(a.tolist())) == 10 and set(a.tolist()) <= set(pool.tolist())
    assert not np.array_equal(a, FS.draw(pool, 10, "pixel3", 1))
    assert not np.array_equal(a, FS.draw(pool, 10, "gold_6240", 0))
    assert not np.array_equal(a, FS.draw(pool, 10, "pixel3", 0, seed=1))
    with pytest.raises(NNProfError, match="pool holds 100"):
        FS.draw(pool, 101, "pixel3", 0)


def test_select_cells_excludes_disconnected(env):
    data = load_device_latency(env["data"])
    s = FS.select_cells(data, 3, 3, seed=0)
    assert s.excluded == 1
    used = set(s.eval_idx.tolist()) | set(s.pool_idx.tolist())
    assert len(used) == 6 and 5 not in used
    assert np.array_equal(s.eval_idx, FS.select_cells(data, 3, 3, seed=0).eval_idx)
    with pytest.raises(NNProfError, match="exceed the 6 connected cells"):
        FS.select_cells(data, 4, 3)


def test_val_split_is_finetunes(env):
    tr, va = FS.val_split(10, 0.2, 3)
    assert len(va) == 2 and sorted(tr + va) == list(range(10))
    graphs = FS.cell_graphs(CELLS[:5], (1,))
    cells = [graphs[(a, 1)] for a in CELLS[:5]] * 8  # 40 rows: 8 validate, as many as finetune needs
    samples = [dataclasses.replace(s, id=f"{s.id}-{i}") for i, s in
               enumerate(FS._samples(cells, [1.0 + i for i in range(40)], "dev"))]
    _, ck = T.finetune(T.load_checkpoint(env["ckpt"]), samples, epochs=1, val_frac=0.2, seed=3, device="cpu")
    tr, va = FS.val_split(40, 0.2, 3)
    assert ck["finetune"]["val_data"]["n"] == len(va) == T.MIN_VAL_ROWS
    lat = ck["finetune"]["val_data"]["latency_ms"]  # latency 1 + i marks row i
    assert (lat["min"], lat["max"]) == (1.0 + min(va), 1.0 + max(va))
    assert ck["finetune"]["train_data"]["n"] == len(tr) == 32


def test_reshaped_batch_equals_direct_export(env):
    from nnprof.export import export_module, infer_shapes, simplify
    from nnprof.graph import from_onnx, set_input_shape
    from nnprof.variants import build_nb201_network

    a = CELLS[1]
    one = FS.export_cell(a)
    direct = infer_shapes(simplify(export_module(build_nb201_network(a), FS.INPUT_SIZE, 3))[0])
    assert from_onnx(set_input_shape(one, 3, None)).to_dict() == from_onnx(direct).to_dict()


def test_cell_graphs_cached(env):
    first = FS.cell_graphs(CELLS[:2], (1, 2))
    again = FS.cell_graphs(CELLS[:2], (1, 2))
    assert all(g.cached for g in again.values())
    for key, g in first.items():
        assert again[key].raw.to_dict() == g.raw.to_dict()
        assert torch.equal(again[key].encoded.x, g.encoded.x)
    g1, g2 = again[(CELLS[0], 1)], again[(CELLS[0], 2)]
    assert g2.raw.macs == 2 * g1.raw.macs and g2.raw.batch_size == 2


def test_finetune_shortcut_matches_model(env):
    pred0 = load_predictor(env["ckpt"], "cpu")
    graphs = FS.cell_graphs(CELLS[:5], (1,))
    gs = [graphs[(a, 1)] for a in CELLS[:5]]
    base = T.predict(pred0.model, FS._encoded(gs[2:])).double().numpy()
    c = cfg(epochs=2)
    for y in (np.array([1.0, 2.0]), np.array([500.0, 900.0])):
        pred, info, model = FS.run_finetune(pred0.model, pred0.ckpt, gs[:2], y, gs[2:], base, "dev", c, 0)
        assert info["kept"] in ("original", "rescaled")
        np.testing.assert_allclose(pred, T.predict(model, FS._encoded(gs[2:])).double().numpy(), rtol=1e-5)
    # 5 cells whose latency follows their Conv count, not the base model: calibrated
    own = T.predict(pred0.model, FS._encoded(gs)).double().numpy()
    convs = np.array([sum(n.op == "Conv" for n in g.raw.nodes) for g in gs], dtype=float)
    y = own * np.exp(0.4 * np.log1p(convs))
    assert convs.std() > 0
    pred, info, model = FS.run_finetune(pred0.model, pred0.ckpt, gs, y, gs, own, "dev", c, 0)
    assert info["kept"] == "calibrated" and model.calibration.active
    np.testing.assert_allclose(pred, T.predict(model, FS._encoded(gs)).double().numpy(), rtol=1e-5)
    np.testing.assert_allclose(pred, y, rtol=0.05)  # ridge-shrunk, 5 rows


def test_benchmark_runs_and_is_deterministic(env):
    data = load_device_latency(env["data"])
    pred = load_predictor(env["ckpt"], "cpu")
    a = FS.run_benchmark(data, list(DEVICES), pred, cfg())
    b = FS.run_benchmark(data, list(DEVICES), pred, cfg())
    assert b["cells"]["exported_now"] == 0
    assert len(a["runs"]) == 2 * 2 * 2 * 3
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a["runs"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b["runs"]]
    s = FS.select_cells(data, 3, 3)
    ev = data.arch_idx[s.eval_idx].tolist()
    for r in a["runs"]:
        assert len(r["cells"]) == r["k"] and not set(r["cells"]) & set(ev)
        assert set(r["cells"]) <= set(data.arch_idx[s.pool_idx].tolist())
    # nested draws: the k=2 cells are the first 2 of the k=3 cells of the same repeat
    by = {(r["device"], r["k"], r["repeat"], r["method"]): r["cells"] for r in a["runs"]}
    assert by[("gold_6240", 2, 1, "flops")] == by[("gold_6240", 3, 1, "flops")][:2]
    # FLOPs rho is MACs against latency on the evaluation cells, whatever k
    graphs = FS.cell_graphs([data.arch_str[i] for i in s.eval_idx], (2,))
    macs = [graphs[(data.arch_str[i], 2)].raw.macs for i in s.eval_idx]
    want = M.spearman_rho(data.latency_ms["1080ti_2"][s.eval_idx], macs)
    assert a["per_device"]["1080ti_2"]["macs_rho"] == want
    assert a["per_device"]["1080ti_2"]["k"]["3"]["flops"]["rho"] == want
    assert a["per_device"]["1080ti_2"]["batch_size"] == 2
    assert a["checkpoint"]["path"] == str(pred.path) and a["checkpoint"]["created"] == pred.ckpt["created"]
    mean = np.mean([a["per_device"][d]["k"]["2"]["finetune"]["mape"] for d in DEVICES])
    assert a["mean"]["2"]["finetune"]["mape"] == pytest.approx(mean)
    # one device alone gets the same draws and scores as in the two-device run
    one = FS.run_benchmark(data, ["gold_6240"], pred, cfg())
    assert one["per_device"]["gold_6240"]["k"] == a["per_device"]["gold_6240"]["k"]


def _cli(env, *args):
    return CliRunner().invoke(
        app, ["nas", "fewshot", "--data-dir", str(env["data"]), "--checkpoint", env["ckpt"],
              "--samples", "2", "--repeats", "1", "--eval-cells", "3", "--pool-cells", "3",
              "--epochs", "1", "--scratch-hidden", "8", "--scratch-steps", "2", *args])


def test_cli_json_and_table(env, tmp_path):
    r = _cli(env, "--devices", "gold_6240", "--format", "json", "-o", str(tmp_path / "r.json"))
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["devices"] == ["gold_6240"] and res["config"]["samples"] == [2]
    assert json.loads((tmp_path / "r.json").read_text())["runs"] == res["runs"]
    r = _cli(env, "--format", "markdown")
    assert r.exit_code == 0, r.output
    assert "| 1080ti_2 | 2 |" in r.stdout and "| mean (2) |" in r.stdout


def test_describe_names_helps_devices():
    from nnprof.commands.nas_fewshot import describe

    res = {"cells": {"eval": 5, "pool": 3, "excluded_disconnected": 1}, "seconds": 2.0,
           "checkpoint": {"path": "c.pt", "created": "x"}, "help_reference": dict(FS.HELP_REFERENCE)}
    text = describe(res)
    assert "6 devices not in this table: titan_rtx_256, gold_6226, pixel2, raspi4, eyeriss, fpga" in text
    del res["help_reference"]["device_rho"]  # a result written before the names were recorded
    assert "HELP (k=10, 6 devices): mean rho 0.932" in describe(res)


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--devices", "tpu_v9"], "unknown device setting tpu_v9"),
        (["--samples", "1"], "--samples must list counts of at least 2"),
        (["--samples", "ten"], "comma-separated whole numbers"),
        (["--methods", "magic"], "unknown method magic"),
        (["--pool-cells", "1"], "at least 2"),
        (["--samples", "5"], "pool holds 3 cells"),
    ],
)
def test_cli_bad_input(env, args, msg):
    r = _cli(env, *args)
    assert r.exit_code == 2
    assert "error:" in r.output and msg in " ".join(r.output.split())


def test_cli_missing_data_and_bad_checkpoint(env, tmp_path):
    r = CliRunner().invoke(app, ["nas", "fewshot", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "not found" in r.output
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    r = _cli(env, "--checkpoint", str(bad))
    assert r.exit_code == 2 and "not an nnprof checkpoint" in r.output


def test_merge_equals_one_run(env):
    data = load_device_latency(env["data"])
    pred = load_predictor(env["ckpt"], "cpu")
    c = cfg(methods=("flops", "finetune"), samples=(2,), repeats=1)
    both = FS.run_benchmark(data, list(DEVICES), pred, c)
    parts = [FS.run_benchmark(data, [d], pred, c) for d in DEVICES]
    merged = FS.merge(parts)
    assert merged["per_device"] == both["per_device"] and merged["mean"] == both["mean"]
    with pytest.raises(NNProfError, match="share a device"):
        FS.merge([parts[0], parts[0]])
