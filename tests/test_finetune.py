"""nnprof.finetune: the measurement CSV, the held-out split, fine-tuning with before/after."""

from __future__ import annotations

import csv

import pytest
from test_predict import NETS, tiny_net

from nnprof import finetune as F
from nnprof import predict as P
from nnprof import train as T
from nnprof.errors import NNProfError
from nnprof.zoo import resolve

FP = {"cpu": "Test CPU 9000", "threads": "2", "provider": "cpu", "onnxruntime": "1.31.0", "precision": "fp32"}
COLUMNS = ["model", "input_size", "batch_size", "latency_ms", "rounds", *FP, "timestamp"]
BATCHES = [1, 2, 4, 8]


def write_csv(path, rows, columns=COLUMNS):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**FP, "rounds": 20, "timestamp": "2025-01-01T00:00:00", **r})
    return path


def slower_device_csv(tmp_path, ckpt, factor=3.0, relative=False):
    """20 rows (5 tiny nets x 4 batch sizes) timed on a device `factor` x slower than the
    checkpoint predicts, with a deterministic +-3% jitter."""
    nets = [tiny_net(tmp_path / f"net{i}.onnx", c, k, s) for i, (c, k, s) in enumerate(NETS)]
    pred = P.load_predictor(ckpt, "cpu")
    feats = P.features_for([resolve(n) for n in nets], BATCHES)
    base = pred.predict(feats)
    rows = []
    for i, (f, y) in enumerate(zip(feats, base, strict=True)):
        model = f"net{i // len(BATCHES)}.onnx" if relative else f.model
        rows.append({"model": model, "input_size": "", "batch_size": f.batch_size,
                     "latency_ms": factor * y * (1 + 0.03 * ((i % 3) - 1))})
    return write_csv(tmp_path / "m.csv", rows)


def test_read_measurements_resolves_models_next_to_the_csv(tmp_path, ckpt, monkeypatch):
    path = slower_device_csv(tmp_path, ckpt, relative=True)
    monkeypatch.chdir(tmp_path.parent)  # the relative ONNX paths only exist next to the CSV
    rows = F.read_measurements(path)
    assert len(rows) == 20
    assert [r.line for r in rows[:3]] == [2, 3, 4]
    assert rows[0].ref.path == tmp_path / "net0.onnx" and rows[0].input_size is None
    assert [r.batch_size for r in rows[:4]] == BATCHES
    assert rows[0].platform == {**FP, "threads": 2}


def test_split_rows_is_seeded_disjoint_and_keeps_enough_to_train():
    tune, held = F.split_rows(20, 0.2, seed=0)
    assert len(held) == 4 and len(tune) == 16 and sorted(tune + held) == list(range(20))
    assert F.split_rows(20, 0.2, seed=0) == (tune, held)
    assert F.split_rows(20, 0.2, seed=1) != (tune, held)
    assert F.split_rows(20, 0.0, seed=0) == (list(range(20)), [])
    assert len(F.split_rows(5, 0.5, seed=0)[1]) == 1  # 4 rows stay for train.finetune
    with pytest.raises(NNProfError, match="--val-frac"):
        F.split_rows(20, 1.0, 0)


def test_finetune_on_20_rows_fixes_a_slower_device(tmp_path, ckpt):
    rows = F.read_measurements(slower_device_csv(tmp_path, ckpt))
    feats = F.row_features(rows)
    base = P.load_predictor(ckpt, "cpu")
    before_state = {k: v.clone() for k, v in base.model.state_dict().items()}
    model, new, report = F.run(rows, feats, base, epochs=3, val_frac=0.2, seed=0, device="cpu", source="m.csv")
    assert (report["n"], report["n_finetune"], report["n_heldout"]) == (20, 16, 4)
    assert report["scored_on"] == "held-out"
    # 3x slower: every old prediction is 2/3 too low (up to the +-3% jitter)
    assert 64.0 < report["before"]["mape"] < 69.0 and report["before"]["acc10"] == 0.0
    assert report["after"]["mape"] < 5.0 and report["after"]["acc10"] == 100.0
    assert report["kept"] in ("rescaled", "calibrated")  # 16 rows: leave-one-out, no gradient steps
    # the base predictor is untouched
    assert all((base.model.state_dict()[k] == v).all() for k, v in before_state.items())
    assert new["platform"] == {**FP, "threads": 2}
    ft = new["finetune"]
    assert ft["heldout"]["after"] == report["after"] and ft["csv"] == "m.csv"
    assert set(ft["train_data"]["ops"]) == {"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"}
    held = [p["line"] for p in report["predictions"]]
    assert len(held) == 4 and all(p["after_ms"] > 0 for p in report["predictions"])
    # saved and loaded again, it predicts for the new platform
    T.save_checkpoint(new, tmp_path / "ft.pt")
    again = P.load_predictor(tmp_path / "ft.pt", "cpu")
    assert again.platform_text == "Test CPU 9000, 2 threads, cpu, fp32, onnxruntime 1.31.0"
    # the base checkpoint's ops (synthetic training graphs) plus the fine-tuning rows' ops
    assert again.profile.ops == base.profile.ops | {"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"}
    assert "Add" in base.profile.ops
    y = again.predict(feats)
    assert y == pytest.approx(P.Predictor(model, new, again.path, again.device, again.profile).predict(feats), rel=1e-5)


def test_outliers_are_single_rows_far_from_the_device_ratio(tmp_path, ckpt):
    rows = F.read_measurements(slower_device_csv(tmp_path, ckpt))  # 3x slower, +-3% jitter
    pred = P.load_predictor(ckpt, "cpu").predict(F.row_features(rows))
    assert F.outliers(rows, pred) == []  # a whole device 3x slower is not an outlier
    rows[4] = F.Row(**{**rows[4].__dict__, "latency_ms": rows[4].latency_ms * 1000})  # seconds typed as ms
    rows[7] = F.Row(**{**rows[7].__dict__, "latency_ms": rows[7].latency_ms / 50})
    found = F.outliers(rows, pred)
    assert [(r.line, round(f, -1)) for r, f in found] == [(rows[4].line, 1000.0), (rows[7].line, 0.0)]
    assert found[1][1] == pytest.approx(1 / 50, rel=0.1)


def test_finetune_without_held_out_rows_scores_the_finetune_rows(tmp_path, ckpt):
    rows = F.read_measurements(slower_device_csv(tmp_path, ckpt))
    base = P.load_predictor(ckpt, "cpu")
    _, _, report = F.run(rows, F.row_features(rows), base, epochs=1, val_frac=0.0, device="cpu")
    assert report["n_heldout"] == 0 and report["scored_on"].startswith("fine-tune")
    assert len(report["predictions"]) == 20
    assert report["after"]["mape"] < report["before"]["mape"]


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        ([], ["model", "batch_size", "latency_ms"], r"missing column\(s\) input_size; the CSV needs"),
        ([{"latency_ms": "fast"}], None, r"m.csv:2: latency_ms 'fast' is not a number"),
        ([{"latency_ms": "0"}], None, r"m.csv:2: latency_ms must be a positive number, got '0'"),
        ([{"latency_ms": "-3"}], None, r"m.csv:2: latency_ms must be a positive number"),
        ([{"latency_ms": "nan"}], None, r"m.csv:2: latency_ms must be a positive number"),
        ([{"latency_ms": "1e-9"}], None, r"m.csv:2: latency_ms 1e-9 is outside 1e-06\.\.8\.64e\+07 ms"),
        ([{"latency_ms": "1e300"}], None, r"m.csv:2: latency_ms 1e300 is outside"),
        ([{"batch_size": "0"}], None, r"m.csv:2: batch_size must be positive"),
        ([{"batch_size": "1.5"}], None, r"m.csv:2: batch_size '1.5' is not a whole number"),
        ([{"model": "tv:resnet_nope"}], None, r"m.csv:2: unknown model 'tv:resnet_nope'"),
        ([{"model": ""}], None, r"m.csv:2: empty model name"),
        ([{}, {}], None, r"m.csv:3: duplicate of line 2 \(same model, input_size and batch_size\)"),
        ([{}, {"batch_size": 2, "cpu": "Other CPU"}], None, r"m.csv:3: platform Other CPU, 2 threads.* differs from line 2"),
        ([{}], None, r"has 1 measurement row\(s\); fine-tuning needs at least 5"),
        ([{"threads": "1.0"}], None, r"m.csv:2: threads '1.0' is not a positive whole number"),
        ([{}], [*COLUMNS, "latency_ms"], r"column\(s\) latency_ms appear more than once in the header"),
    ],
)
def test_bad_csv_rows_name_the_line(tmp_path, rows, columns, message):
    net = tiny_net(tmp_path / "n.onnx")
    full = [{"model": net, "input_size": 16, "batch_size": 1, "latency_ms": 1.5, **r} for r in rows]
    path = write_csv(tmp_path / "m.csv", full, columns or COLUMNS)
    with pytest.raises(NNProfError, match=message):
        F.read_measurements(path)


def test_bad_csv_files(tmp_path):
    with pytest.raises(NNProfError, match="no such file; write one with `nnprof measure"):
        F.read_measurements(tmp_path / "none.csv")
    with pytest.raises(NNProfError, match="is a directory"):
        F.read_measurements(tmp_path)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(NNProfError, match="e.csv is empty"):
        F.read_measurements(tmp_path / "e.csv")
    (tmp_path / "long.csv").write_text("model,input_size,batch_size,latency_ms\n" + "x" * 200_000 + ",1,1,1\n")
    with pytest.raises(NNProfError, match=r"long.csv:\d+: not a readable CSV row \(field larger than field limit"):
        F.read_measurements(tmp_path / "long.csv")
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(NNProfError, match="not a UTF-8 text file"):
        F.read_measurements(tmp_path / "b.csv")


def test_a_row_whose_model_fails_names_the_csv_line_and_the_file(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    const = helper.make_node("Constant", [], ["y"], value=numpy_helper.from_array(np.ones((1, 3), np.float32)))
    graph = helper.make_graph([const], "noin", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "noin.onnx")
    net = tiny_net(tmp_path / "n.onnx")
    rows = [{"model": net, "input_size": 16, "batch_size": b, "latency_ms": 1.5} for b in range(1, 6)]
    path = write_csv(tmp_path / "m.csv", [*rows, {"model": "noin.onnx", "input_size": "", "batch_size": 1, "latency_ms": 2}])
    with pytest.raises(NNProfError, match=r"m.csv:7: .*noin.onnx: the ONNX graph has no inputs"):
        F.row_features(F.read_measurements(path), source=path)


def test_default_input_size_counts_for_duplicates(tmp_path):
    rows = [{"model": "tv:resnet18", "input_size": 224}, {"model": "resnet18", "input_size": ""}]
    path = write_csv(tmp_path / "m.csv", [{"batch_size": 1, "latency_ms": 2.0, **r} for r in rows])
    with pytest.raises(NNProfError, match="m.csv:3: duplicate of line 2"):
        F.read_measurements(path)
