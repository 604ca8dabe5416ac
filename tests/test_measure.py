"""nnprof.measure and `nnprof measure`: tiny ONNX graphs built here, fast protocols."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from nnprof import __version__
from nnprof import measure as M
from nnprof.cli import app
from nnprof.commands.measure import parse_batch_sizes
from nnprof.errors import NNProfError

FAST = M.Protocol(rounds=3, burst_s=0.002, round_period_s=0.0, initial_warmup_s=0.0,
                  gate=0.0, max_wait_s=0.01, probe_interval_s=0.0)
runner = CliRunner()


def tiny_model(batch: int | str = "N", size: int = 8) -> onnx.ModelProto:
    """x (batch, 3, size, size) -> Conv 1x1 (4 channels) -> Relu."""
    w = numpy_helper.from_array(np.ones((4, 3, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, size, size])],
        [w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


@pytest.fixture
def tiny_path(tmp_path):
    p = tmp_path / "tiny.onnx"
    onnx.save(tiny_model(), p)
    return p


# --------------------------------------------------------------------------- protocol


def test_measure_onnx_statistics():
    m = M.measure_onnx(tiny_model().SerializeToString(), protocol=FAST)
    assert m.rounds == 3
    assert len(m.round_min_ms) == 3
    assert m.latency_ms == min(m.round_min_ms)
    assert m.second_ms == sorted(m.round_min_ms)[1]
    assert m.median_round_ms == float(np.median(m.round_min_ms))
    assert m.runs >= 3
    assert m.spread_pct >= 0 and m.confirm_pct >= 0
    assert m.ref_ms is not None and m.ref_ms > 0
    assert m.ref_ratio == pytest.approx(m.latency_ms / m.ref_ms)
    assert m.timing_s > 0
    assert m.protocol == "min3x2ms"
    s = m.stats()
    assert s["round_min_ms"].count(";") == 2
    assert s["rounds"] == 3


def test_measure_many_interleaves_every_model_and_reports_progress(tiny_path):
    calls = []
    res = M.measure_many([tiny_path, tiny_model(batch=1), tiny_model(batch=1, size=4)],
                         protocol=FAST, progress=lambda d, t: calls.append((d, t)))
    assert [m.rounds for m in res] == [3, 3, 3]
    assert calls[-1] == (9, 9)
    assert [d for d, _ in calls] == list(range(1, 10))
    # the same reference time for every model of a block
    assert len({m.ref_ms for m in res}) == 1


def test_gated_protocol_completes_all_rounds():
    p = replace(FAST, gate=0.15, max_wait_s=0.05, probe_interval_s=0.001)
    m = M.measure_onnx(tiny_model(), protocol=p)
    assert m.rounds == 3
    assert m.probe_s > 0
    assert m.protocol == "min3x2msg15"


def test_measure_blocks_streams_indices_in_order():
    models = [tiny_model(batch=1)] * 5
    got = list(M.measure_blocks(models, block_size=2, protocol=replace(FAST, rounds=1)))
    assert [i for i, _ in got] == [0, 1, 2, 3, 4]


def test_merge_takes_the_minimum_over_passes():
    a = M.Measurement(latency_ms=2.0, rounds=2, runs=5, round_min_ms=[2.0, 3.0],
                      median_round_ms=2.5, second_ms=3.0, ref_ms=1.0, timing_s=0.5)
    b = M.Measurement(latency_ms=1.8, rounds=2, runs=4, round_min_ms=[1.9, 1.8],
                      median_round_ms=1.85, second_ms=1.9, ref_ms=0.9, timing_s=0.4)
    m = M.merge([a, b])
    assert m.latency_ms == 1.8
    assert m.rounds == 4 and m.runs == 9
    assert m.round_min_ms == [2.0, 3.0, 1.9, 1.8]
    assert m.second_ms == 1.9
    assert m.median_round_ms == 1.95
    assert m.ref_ms == 0.9  # the reference of the block that gave the minimum
    assert m.timing_s == pytest.approx(0.9)
    assert m.protocol == f"{a.protocol}*2"
    with pytest.raises(ValueError):
        M.merge([])


def test_gate_without_reference_is_refused():
    with pytest.raises(NNProfError, match="reference"):
        M.measure_onnx(tiny_model(), protocol=replace(FAST, gate=0.1, reference=False))


def test_no_reference_gives_no_ratio():
    m = M.measure_onnx(tiny_model(), protocol=replace(FAST, reference=False))
    assert m.ref_ms is None and m.ref_ratio is None
    assert m.stats()["ref_ratio"] is None


def test_reference_model_is_fixed_and_runs():
    a = M.reference_model()
    M.reference_model.cache_clear()
    b = M.reference_model()
    assert a == b  # byte-identical: same seed, no torch involved
    s = M.make_session(a)
    (y,) = s.run(None, {"input": np.zeros((1, 3, 64, 64), np.float32)})
    assert y.shape == (1, 1000)
    assert sum(n.op_type == "Conv" for n in onnx.load_from_string(a).graph.node) == 20


# --------------------------------------------------------------------------- sessions, feeds


def test_random_feed_batch_and_errors():
    s = M.make_session(tiny_model())
    assert M.random_feed(s, 4)["x"].shape == (4, 3, 8, 8)
    assert M.random_feed(s)["x"].shape == (1, 3, 8, 8)
    fixed = M.make_session(tiny_model(batch=2))
    with pytest.raises(NNProfError, match="fixed batch size 2"):
        M.random_feed(fixed, 4)
    sym = tiny_model()
    sym.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    with pytest.raises(NNProfError, match="symbolic dimension 'H' at axis 2"):
        M.random_feed(M.make_session(sym))


def test_make_session_errors(tmp_path):
    with pytest.raises(NNProfError, match="unknown provider 'tpu'"):
        M.make_session(tiny_model(), provider="tpu")
    with pytest.raises(NNProfError, match="threads must be >= 1"):
        M.make_session(tiny_model(), threads=0)
    with pytest.raises(NNProfError, match="not found"):
        M.make_session(tmp_path / "missing.onnx")
    with pytest.raises(NNProfError, match="cannot load"):
        M.make_session(b"not an onnx model")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(NNProfError, match="CUDAExecutionProvider is not available"):
            M.make_session(tiny_model(), provider="cuda")


def test_load_errors_name_the_model_and_keep_the_reason():
    m = tiny_model()
    m.graph.node[0].op_type = "NoSuchOp"  # ORT: "... Could not find an implementation for NoSuchOp"
    with pytest.raises(NNProfError, match=r"cannot load tv:mine: .*NoSuchOp") as e:
        M.make_session(m.SerializeToString(), label="tv:mine")
    assert "[ONNXRuntimeError]" not in str(e.value)
    long = RuntimeError("[ONNXRuntimeError] : 1 : FAIL : " + "path/" * 200 + " the reason")
    text = M._ort_reason(long)
    assert text.startswith("path/") and text.endswith("the reason") and " ... " in text and len(text) < 420


def test_session_options_for_timing():
    s = M.make_session(tiny_model(), threads=2)
    o = s.get_session_options()
    assert o.intra_op_num_threads == 2
    assert o.inter_op_num_threads == 1
    assert o.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert o.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


# --------------------------------------------------------------------------- fingerprint


def test_platform_fingerprint_fields():
    fp = M.platform_fingerprint(threads=3, provider="cpu")
    for k in M.FINGERPRINT_KEYS:
        assert k in fp
    assert fp["threads"] == 3
    assert fp["provider"] == "cpu"
    assert fp["precision"] == "fp32"
    assert fp["onnxruntime"] == ort.__version__
    assert isinstance(fp["cpu"], str) and fp["cpu"]


# --------------------------------------------------------------------------- CSV


def _row(model="a", batch=1, latency=1.5, fp=None):
    fp = fp or M.platform_fingerprint()
    m = M.Measurement(latency_ms=latency, rounds=2, runs=4, round_min_ms=[latency, 2.0],
                      median_round_ms=1.75, second_ms=2.0, ref_ms=1.0, timing_s=0.1)
    return M.csv_row(model, 8, batch, m, fp)


def test_csv_append_and_resume(tmp_path):
    p = tmp_path / "m.csv"
    fp = M.platform_fingerprint()
    log = M.MeasurementLog.open(p)
    assert p.read_text() == ",".join(M.CSV_COLUMNS) + "\n"
    log.append(_row("a", fp=fp))
    log.append(_row("b", batch=4, fp=fp))
    again = M.MeasurementLog.open(p)
    assert len(again) == 2
    assert again.done("a", 8, 1, fp)
    assert again.done("b", 8, 4, fp)
    assert not again.done("b", 8, 1, fp)
    assert not again.done("a", 8, 1, {**fp, "threads": 2})  # another platform
    # another CPU that the VM names alike ("AMD EPYC"): its cpu_id tells it apart
    assert not again.done("a", 8, 1, {**fp, "cpu_id": fp["cpu_id"] + " other"})
    rows = list(csv.DictReader(p.open()))
    assert [r["model"] for r in rows] == ["a", "b"]
    assert rows[0]["latency_ms"] == "1.5"
    assert rows[0]["round_min_ms"] == "1.5;2"
    assert rows[0]["nnprof"] == __version__
    assert rows[0]["precision"] == "fp32"
    assert p.read_text().count(",".join(M.CSV_COLUMNS)) == 1  # header written once
    assert again.ignored == []
    with p.open("a") as f:
        f.write("garbage,1\n\n")  # a hand edit: kept in the file, listed (blank lines are not)
    assert M.MeasurementLog.open(p).ignored == [4]


def test_csv_torn_last_row_is_dropped(tmp_path):
    p = tmp_path / "m.csv"
    log = M.MeasurementLog.open(p)
    log.append(_row("a"))
    with p.open("a") as f:
        f.write("b,8,1,2.5,3")  # interrupted in the middle of a row
    again = M.MeasurementLog.open(p)
    assert len(again) == 1
    assert p.read_text().endswith("\n")
    assert p.read_text().count("\n") == 2


def test_csv_whole_last_row_without_newline_is_kept(tmp_path):
    p = tmp_path / "m.csv"
    M.MeasurementLog.open(p).append(_row("a"))
    M.MeasurementLog.open(p).append(_row("b"))
    p.write_bytes(p.read_bytes()[:-1])  # an editor dropped the final newline
    again = M.MeasurementLog.open(p)
    assert len(again) == 2
    assert p.read_text().count("\n") == 3
    p.write_bytes(p.read_bytes()[:-4])  # now the timestamp itself is cut: a torn row
    assert len(M.MeasurementLog.open(p)) == 1


@pytest.mark.parametrize("column, value, msg", [
    ("rounds", "20.0", "rounds '20.0' is not a whole number"),
    ("latency_ms", "nan", "latency_ms 'nan' is not a finite number"),
    ("latency_ms", "-1", "latency_ms '-1' is not positive"),
    ("ref_ms", "fast", "ref_ms 'fast' is not a number"),
])
def test_csv_edited_row_is_refused_by_line(tmp_path, column, value, msg):
    p = tmp_path / "m.csv"
    M.MeasurementLog.open(p).append(_row("a"))
    rows = list(csv.DictReader(p.open()))
    rows[0][column] = value
    with p.open("w", newline="") as f:
        w = csv.DictWriter(f, M.CSV_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(NNProfError, match=f"m.csv:2: {msg}"):
        M.MeasurementLog.open(p)


def test_csv_other_header_is_refused(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("model,latency\nx,1\n")
    with pytest.raises(NNProfError, match="different columns"):
        M.MeasurementLog.open(p)
    other = tmp_path / "weights.pt"  # -o pointed at the wrong file: refused, not cut
    other.write_bytes(b"\x80\x02binary\nmore\x00bytes")
    with pytest.raises(NNProfError, match="different columns"):
        M.MeasurementLog.open(other)
    assert other.read_bytes() == b"\x80\x02binary\nmore\x00bytes"
    p.write_text(",".join(M.CSV_COLUMNS))  # the header alone, no newline
    assert len(M.MeasurementLog.open(p)) == 0
    assert p.read_text() == ",".join(M.CSV_COLUMNS) + "\n"
    with pytest.raises(NNProfError, match="is a directory"):
        M.MeasurementLog.open(tmp_path)
    with pytest.raises(NNProfError, match="does not exist"):
        M.MeasurementLog.open(tmp_path / "nope" / "m.csv")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def fast_cli(monkeypatch):
    monkeypatch.setattr(M, "DEFAULT_PROTOCOL", replace(FAST, gate=0.15, max_wait_s=0.02))


def test_parse_batch_sizes():
    assert parse_batch_sizes("1,4, 4,8") == [1, 4, 8]
    for bad in ("a", "0", ",", "-2"):
        with pytest.raises(NNProfError, match="--batch-size"):
            parse_batch_sizes(bad)


def test_cli_measure_onnx_writes_and_resumes(tiny_path, tmp_path, fast_cli):
    out = tmp_path / "m.csv"
    args = ["measure", str(tiny_path), "-b", "1,2", "-o", str(out), "--rounds", "2"]
    r = runner.invoke(app, [*args, "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert [(x["model"], x["input_size"], x["batch_size"]) for x in rows] == [
        (str(tiny_path), "8", "1"), (str(tiny_path), "8", "2")]
    assert all(x["rounds"] == "2" and float(x["latency_ms"]) > 0 for x in rows)
    assert rows[0]["provider"] == "cpu" and rows[0]["threads"] == "1"
    printed = list(csv.DictReader(r.stdout.splitlines()))
    assert [x["batch_size"] for x in printed] == ["1", "2"]
    # a re-run measures nothing new and keeps the file as it was
    before = out.read_text()
    r2 = runner.invoke(app, [*args, "--format", "json"])
    assert r2.exit_code == 0, r2.output
    assert "2 of 2 rows already in" in r2.stderr
    assert out.read_text() == before
    # a new batch size is appended after the existing rows
    r3 = runner.invoke(app, ["measure", str(tiny_path), "-b", "4", "-o", str(out), "--rounds", "2"],
                       env={"COLUMNS": "250"})
    assert r3.exit_code == 0, r3.output
    assert [x["batch_size"] for x in csv.DictReader(out.open())] == ["1", "2", "4"]
    assert "latency ms" in r3.stdout and "min2x2msg15" in r3.stdout  # the table


def test_cli_measure_keeps_an_onnx_files_own_batch_unless_told(tmp_path, fast_cli):
    b3 = tmp_path / "b3.onnx"
    onnx.save(tiny_model(batch=3), b3)
    out = tmp_path / "m.csv"
    for argv in (["-b", "1"], []):
        r = runner.invoke(app, ["measure", str(b3), *argv, "-o", str(out), "--rounds", "1", "-f", "csv"])
        assert r.exit_code == 0, r.output
    assert [x["batch_size"] for x in csv.DictReader(out.open())] == ["1", "3"]
    r = runner.invoke(app, ["measure", str(b3), "-o", str(out), "--rounds", "1", "-f", "csv"])
    assert r.exit_code == 0 and "1 of 1 rows already in" in r.stderr  # resumes on the file's batch


def test_cli_bad_input_is_one_line(tiny_path, tmp_path, fast_cli):
    bad_csv = tmp_path / "other.csv"
    bad_csv.write_text("a,b\n1,2\n")
    cases = [
        (["measure", "no_such_model_xyz"], "unknown model"),
        (["measure", str(tmp_path / "missing.onnx")], "not found"),
        (["measure", str(tiny_path), "-b", "x"], "--batch-size"),
        (["measure", str(tiny_path), "-o", str(bad_csv)], "different columns"),
    ]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        cases.append((["measure", str(tiny_path), "--provider", "cuda"], "CUDAExecutionProvider"))
    for args, msg in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.output
        assert r.stderr.strip().count("\n") == 0, r.stderr


def test_cli_bad_input_creates_no_csv(tiny_path, tmp_path, fast_cli):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(tiny_path.read_bytes()[:40])
    for i, models in enumerate([["no_such_model_xyz"], [str(tiny_path), str(corrupt)]]):
        out = tmp_path / f"m{i}.csv"
        r = runner.invoke(app, ["measure", *models, "-o", str(out)])
        assert r.exit_code == 2, (models, r.output)
        assert r.stderr.strip().count("\n") == 0, r.stderr
        assert not out.exists(), models


def test_cli_a_model_onnxruntime_cannot_load_names_it_and_leaves_no_csv(tmp_path, fast_cli):
    m = tiny_model(batch=1)
    m.graph.node[1].domain = "com.example"  # an op the front end accepts, ORT has no kernel for
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, tmp_path / "custom.onnx")
    out = tmp_path / "m.csv"
    r = runner.invoke(app, ["measure", str(tmp_path / "custom.onnx"), "-o", str(out)])
    assert r.exit_code == 2, r.output
    line = r.stderr.strip()
    assert "\n" not in line and "cannot load " in line and "custom.onnx" in line, line
    assert "<in-memory model>" not in line
    assert not out.exists()


def test_cli_interrupted_run_keeps_finished_rows_and_resumes(tiny_path, tmp_path, fast_cli,
                                                             monkeypatch):
    out = tmp_path / "m.csv"
    real = M.measure_many
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second row is being measured
        return real(*a, **k)

    monkeypatch.setattr(M, "measure_many", flaky)
    args = ["measure", str(tiny_path), "-b", "1,2,3", "-o", str(out), "--rounds", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code != 0
    assert [x["batch_size"] for x in csv.DictReader(out.open())] == ["1"]
    r2 = runner.invoke(app, [*args, "--format", "json"])
    assert r2.exit_code == 0, r2.output
    assert "1 of 3 rows already in" in r2.stderr
    assert [x["batch_size"] for x in csv.DictReader(out.open())] == ["1", "2", "3"]
