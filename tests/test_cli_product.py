"""`nnprof predict / zoo / finetune` through the CLI, including every bad-input case."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from test_finetune import slower_device_csv, write_csv
from test_predict import tiny_macs, tiny_net
from typer.testing import CliRunner

from nnprof import cache, export, zoo
from nnprof import predict as P
from nnprof.cli import app
from nnprof.errors import NNProfError

runner = CliRunner()
REAL = "tv:mobilenet_v3_small"


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def ok(argv):
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    return r


def one_line_error(argv, message):
    """Exit != 0, exactly one line on stderr naming the problem, nothing on stdout."""
    r = runner.invoke(app, argv)
    assert r.exit_code != 0, r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert r.stdout == ""
    return lines[0]


# --------------------------------------------------------------------------- predict


def test_predict_keeps_an_onnx_files_own_batch_unless_told(tmp_path, ckpt):
    import onnx

    dyn = tiny_net(tmp_path / "dyn.onnx", 16, 3, 32)
    m = onnx.load(dyn)
    m.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 4
    onnx.save(m, tmp_path / "b4.onnx")
    b4 = str(tmp_path / "b4.onnx")

    def batches(*argv):
        rows = json.loads(ok(["predict", *argv, "-c", ckpt, "--device", "cpu", "-f", "json"]).stdout)
        return [(r["model"], r["batch_size"], r["gflops"]) for r in rows]

    assert batches(b4, dyn) == [(b4, 4, tiny_macs(16, 3, 32, 4) / 1e9), (dyn, 1, tiny_macs(16, 3, 32, 1) / 1e9)]
    assert batches(b4, "-b", "2") == [(b4, 2, tiny_macs(16, 3, 32, 2) / 1e9)]
    assert batches(b4) == [(b4, 4, tiny_macs(16, 3, 32, 4) / 1e9)]  # again, from the cache


def test_predict_json_csv_table_columns(tmp_path, ckpt):
    # sizes inside the synthetic training range (no warnings)
    a, b = tiny_net(tmp_path / "a.onnx", 16, 3, 32), tiny_net(tmp_path / "b.onnx", 8, 5, 32)
    rows = json.loads(ok(["predict", a, b, "-b", "1,4", "-c", ckpt, "--device", "cpu", "-f", "json"]).stdout)
    assert [(r["model"], r["batch_size"]) for r in rows] == [(a, 1), (a, 4), (b, 1), (b, 4)]
    assert list(rows[0]) == list(P.COLUMNS)
    assert rows[1]["gflops"] == tiny_macs(16, 3, 32, 4) / 1e9 and rows[1]["input_size"] == 32
    for r in rows:
        assert r["throughput"] == pytest.approx(1000.0 * r["batch_size"] / r["latency_ms"], rel=1e-12)
        assert r["platform"] == "source=synthetic" and r["warnings"] == ""
    text = ok(["predict", a, b, "-b", "1,4", "-c", ckpt, "--device", "cpu", "-f", "csv"]).stdout
    back = list(csv.DictReader(io.StringIO(text)))
    assert list(back[0]) == list(P.COLUMNS) and len(back) == 4
    assert [float(r["latency_ms"]) for r in back] == pytest.approx([r["latency_ms"] for r in rows], rel=1e-6)
    table = ok(["predict", a, "-c", ckpt, "--device", "cpu"]).stdout
    for head in ("model", "input", "batch", "GFLOPs", "params M", "mem access M", "latency ms", "images/s"):
        assert head in table
    assert "Predicted latency for: source=synthetic" in table and "a.onnx" in table


def test_predict_help_says_gflops_are_macs():
    text = ok(["predict", "--help"]).stdout
    assert "multiply-accumulates" in text and "images/s" in text


def test_predict_real_model_then_cached(ckpt, real_cache, monkeypatch):
    first = json.loads(ok(["predict", REAL, "-s", "64", "-b", "1,2", "-c", ckpt, "-f", "json"]).stdout)
    assert [r["batch_size"] for r in first] == [1, 2] and first[1]["gflops"] == pytest.approx(2 * first[0]["gflops"], rel=1e-12)

    def no_convert(*a, **k):
        raise AssertionError("convert called on a cached predict")

    monkeypatch.setattr(export, "convert", no_convert)
    again = json.loads(ok(["predict", REAL, "-s", "64", "-b", "1,2", "-c", ckpt, "-f", "json"]).stdout)
    assert again == first


def test_predict_warns_about_unseen_ops(tmp_path, ckpt):
    net = tiny_net(tmp_path / "odd.onnx", 16, 3, 32, extra_op="Celu")
    r = ok(["predict", net, "-b", "1,2", "-c", ckpt, "--device", "cpu", "-f", "json"])
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert warn == [f"warning: {net}: ops never seen in training: Celu; the prediction may be unreliable"]
    assert json.loads(r.stdout)[0]["warnings"] == "ops never seen in training: Celu"


def test_names_are_printed_as_given(tmp_path, ckpt, monkeypatch):
    """Square brackets and :codes: in names and paths are text, not Rich markup or emoji."""
    monkeypatch.chdir(tmp_path)
    tiny_net(tmp_path / "m[v2]:tv:.onnx", 16, 3, 32, extra_op="Celu")
    r = ok(["predict", "m[v2]:tv:.onnx", "-c", ckpt, "--device", "cpu"])
    assert "│ m[v2]:tv:.onnx │" in r.stdout
    assert "warning: m[v2]:tv:.onnx: ops never seen in training" in r.stderr
    one_line_error(["predict", "timm:tv:resnet18", "-c", ckpt], "unknown model 'timm:tv:resnet18'")
    (tmp_path / "x[").mkdir()
    tiny_net(tmp_path / "x[" / "v2].onnx", 8, 3, 16)
    r = ok(["convert", "x[/v2].onnx"])  # the status line raised MarkupError on "[/v2]"
    assert "x[/v2].onnx" in r.stdout
    # re-shaped in memory: the untouched original is not reported as the output
    assert "output    (not written; -o FILE saves this graph)" in ok(["convert", "x[/v2].onnx", "-b", "3"]).stdout


def test_predict_warns_about_graphs_outside_the_training_range(tmp_path, ckpt):
    net = tiny_net(tmp_path / "small.onnx", 4, 3, 16)
    r = ok(["predict", net, "-c", ckpt, "--device", "cpu", "-f", "json"])
    [w] = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert f"{tiny_macs(4, 3, 16) / 1e3:.3g}k MACs, training graphs had " in w


def test_predict_rebuilds_a_corrupt_cache_entry(tmp_path, ckpt):
    net = tiny_net(tmp_path / "a.onnx")
    first = json.loads(ok(["predict", net, "-c", ckpt, "-f", "json"]).stdout)
    [entry] = cache.features_dir().glob("*.nnpf")
    entry.write_bytes(entry.read_bytes()[:100])
    r = ok(["predict", net, "-c", ckpt, "-f", "json"])
    assert json.loads(r.stdout) == first
    assert "its features cache entry was corrupt and has been rebuilt" in r.stderr
    assert "Traceback" not in r.output


def test_predict_without_the_bundled_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", tmp_path / "checkpoints" / "nnprof-latency.pt")
    line = one_line_error(["predict", tiny_net(tmp_path / "a.onnx")], "no bundled checkpoint at")
    assert "`nnprof train zoo/ -o checkpoints/nnprof-latency.pt`" in line


@pytest.fixture
def other_version_ckpt(tmp_path, ckpt):
    d = torch.load(ckpt, weights_only=True)
    d["feature_version"] = "nnprof-enc-0"
    torch.save(d, tmp_path / "old.pt")
    return str(tmp_path / "old.pt")


def test_predict_bad_inputs(tmp_path, ckpt, other_version_ckpt):
    net = tiny_net(tmp_path / "a.onnx")
    notes = tmp_path / "notes.pt"
    notes.write_text("not a checkpoint")
    one_line_error(["predict", net, "-c", str(notes)], "notes.pt is not an nnprof checkpoint")
    one_line_error(["predict", net, "-c", other_version_ckpt], "trained on feature version nnprof-enc-0")
    one_line_error(["predict", net, "-c", str(tmp_path / "none.pt")], "none.pt not found; train one with")
    one_line_error(["predict", "tv:resnet_nope", "-c", ckpt], "unknown model 'tv:resnet_nope'")
    one_line_error(["predict", net, "-b", "1,x", "-c", ckpt], "--batch-size: 'x' is not an integer")
    one_line_error(["predict", str(tmp_path / "missing.onnx"), "-c", ckpt], "ONNX file not found")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    one_line_error(["predict", str(broken), "-c", ckpt], "broken.onnx")
    assert not cache.features_dir().exists() or not list(cache.features_dir().glob("*broken*"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(platform="x86"), "its platform entry is a str, not a table"),
        (lambda d: d["model_args"].update(hidden=-1), "its model_args are not ones this nnprof builds"),
        (lambda d: next(v for v in d["state_dict"].values() if v.is_floating_point()).fill_(float("nan")),
         "holds NaN or infinite values"),
    ],
)
def test_checkpoints_that_pass_the_format_check_but_are_broken(tmp_path, ckpt, change, message):
    d = torch.load(ckpt, weights_only=True)
    change(d)
    torch.save(d, tmp_path / "odd.pt")
    net = tiny_net(tmp_path / "a.onnx")
    one_line_error(["predict", net, "-c", str(tmp_path / "odd.pt")], message)


# --------------------------------------------------------------------------- zoo


@pytest.fixture
def tiny_family(monkeypatch, real_cache):
    """A family of two torchvision models; squeezenet1_1 fails to convert."""
    monkeypatch.setitem(zoo.FAMILIES, "tinytest", ["mobilenet_v3_small", "squeezenet1_1"])
    real = export.convert

    def convert(ref, *a, **k):
        if getattr(ref, "name", "") == "squeezenet1_1":
            raise export.NNProfError("cannot export tv:squeezenet1_1 to ONNX: simulated failure")
        return real(ref, *a, **k)

    monkeypatch.setattr(export, "convert", convert)


def test_zoo_family_sorted_with_error_rows(ckpt, tiny_family):
    rows = json.loads(ok(["zoo", "--family", "tiny*", "--source", "tv", "-s", "64", "-b", "1,4", "-c", ckpt, "-f", "json"]).stdout)
    assert [(r["model"], r["batch_size"]) for r in rows[2:]] == [("tv:squeezenet1_1", 1), ("tv:squeezenet1_1", 4)]
    assert all("simulated failure" in r["error"] and r["latency_ms"] is None for r in rows[2:])
    good = rows[:2]
    assert {r["model"] for r in good} == {REAL} and all(r["error"] == "" for r in good)
    assert good[0]["latency_ms"] <= good[1]["latency_ms"]
    r = ok(["zoo", "--family", "tinytest", "--source", "tv", "-s", "64", "-c", ckpt])
    assert "1 of 2 row(s) failed" in r.stderr
    assert r.stdout.index("mobilenet_v3_small") < r.stdout.index("squeezenet1_1")
    assert "simulated failure" in r.stdout
    text = ok(["zoo", "--family", "tinytest", "--source", "tv", "-s", "64", "-c", ckpt, "-f", "csv"]).stdout
    assert text.splitlines()[0] == "model,input_size,batch_size,gflops,params,mem_access,latency_ms,throughput,measured_ms,error_pct,platform,warnings,error"


def test_zoo_exits_non_zero_when_every_row_failed(ckpt, tiny_family, monkeypatch):
    monkeypatch.setitem(zoo.FAMILIES, "tinytest", ["squeezenet1_1"])
    r = runner.invoke(app, ["zoo", "--family", "tinytest", "--source", "tv", "-s", "64", "-c", ckpt, "-f", "json"])
    assert r.exit_code == 2, r.output
    [row] = json.loads(r.stdout)
    assert row["model"] == "tv:squeezenet1_1" and "simulated failure" in row["error"]
    assert r.stderr.strip().splitlines() == [
        "error: all 1 row(s) failed; first error: cannot export tv:squeezenet1_1 to ONNX: simulated failure"]


def test_zoo_measure_adds_measured_latency_and_error(ckpt, monkeypatch, real_cache):
    monkeypatch.setitem(zoo.FAMILIES, "tinytest", ["mobilenet_v3_small"])
    r = ok(["zoo", "--family", "tinytest", "--source", "tv", "-s", "64", "-c", ckpt, "--measure", "--rounds", "2", "-f", "json"])
    [row] = json.loads(r.stdout)
    assert row["measured_ms"] > 0
    assert row["error_pct"] == pytest.approx(100 * (row["latency_ms"] - row["measured_ms"]) / row["measured_ms"])
    assert "the checkpoint predicts for source=synthetic" not in r.stderr  # no cpu/threads recorded to compare


def test_zoo_bad_inputs(ckpt):
    one_line_error(["zoo", "--family", "nosuchfamily", "-c", ckpt], "unknown family 'nosuchfamily'")
    one_line_error(["zoo", "--family", "alexnet", "--source", "timm", "-c", ckpt], "family 'alexnet' has no timm models")


# --------------------------------------------------------------------------- finetune


def test_finetune_then_predict_and_zoo_with_the_new_checkpoint(tmp_path, ckpt):
    path = slower_device_csv(tmp_path, ckpt)
    out = tmp_path / "my.pt"
    r = ok(["finetune", str(path), "-o", str(out), "-c", ckpt, "--epochs", "2", "--device", "cpu", "-f", "json"])
    rep = json.loads(r.stdout)
    assert (rep["n"], rep["n_heldout"]) == (20, 4) and rep["checkpoint"] == str(out)
    assert rep["after"]["mape"] < rep["before"]["mape"]
    assert f"saved {out}" in r.stderr
    table = ok(["finetune", str(path), "-o", str(tmp_path / "t.pt"), "-c", ckpt, "--epochs", "1"]).stdout
    assert "MAPE %" in table and "Acc(10%) %" in table and "before" in table and "after" in table
    net = tiny_net(tmp_path / "x.onnx", 8, 3, 16)
    [row] = json.loads(ok(["predict", net, "-c", str(out), "-f", "json"]).stdout)
    assert row["platform"] == "Test CPU 9000, 2 threads, cpu, fp32, onnxruntime 1.31.0"


def _finetune_case(tmp_path, ckpt, case):
    """(argv, expected message) for one bad-input case; the CSV is valid unless broken."""
    net = tiny_net(tmp_path / "n.onnx")
    good = [{"model": net, "input_size": 16, "batch_size": b, "latency_ms": 1.0 + b} for b in range(1, 21)]
    rows, columns, extra, msg = good, None, [], ""
    if case == "missing column":
        columns, msg = ["model", "input_size", "batch_size"], "missing column(s) latency_ms"
    elif case == "non-numeric latency":
        rows, msg = good[:5] + [{**good[5], "latency_ms": "12ms"}], "m.csv:7: latency_ms '12ms' is not a number"
    elif case == "non-positive latency":
        rows, msg = [{**good[0], "latency_ms": "-1"}] + good[1:], "m.csv:2: latency_ms must be a positive number"
    elif case == "unknown model":
        rows, msg = good[:3] + [{**good[3], "model": "timm:resnet_nope"}], "m.csv:5: unknown model 'timm:resnet_nope'"
    elif case == "duplicate rows":
        rows, msg = good[:8] + [good[2]], "m.csv:10: duplicate of line 4"
    elif case == "not a checkpoint":
        (tmp_path / "x.pt").write_bytes(b"PK\x03\x04 not really a zip")
        extra, msg = ["-c", str(tmp_path / "x.pt")], "x.pt is not an nnprof checkpoint"
    elif case == "other feature version":
        d = torch.load(ckpt, weights_only=True)
        d["feature_version"] = "nnprof-enc-0"
        torch.save(d, tmp_path / "old.pt")
        extra, msg = ["-c", str(tmp_path / "old.pt")], "trained on feature version nnprof-enc-0"
    elif case == "output directory missing":
        extra, msg = ["-o", str(tmp_path / "nodir" / "o.pt")], "directory"
    elif case == "output is the CSV":
        extra, msg = ["-o", str(tmp_path / "m.csv")], "would overwrite the measurements"
    path = write_csv(tmp_path / "m.csv", rows, columns or ["model", "input_size", "batch_size", "latency_ms"])
    argv = ["finetune", str(path), "-o", str(tmp_path / "out.pt"), "-c", ckpt, "--epochs", "1", *extra]
    return argv, msg


@pytest.mark.parametrize(
    "case",
    ["missing column", "non-numeric latency", "non-positive latency", "unknown model", "duplicate rows",
     "not a checkpoint", "other feature version", "output directory missing", "output is the CSV"],
)
def test_finetune_bad_inputs_write_nothing(tmp_path, ckpt, case):
    argv, msg = _finetune_case(tmp_path, ckpt, case)
    (tmp_path / "out.pt").write_bytes(b"previous result")  # must survive a failed run untouched

    def files():
        return {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    before = files()
    one_line_error(argv, msg)
    assert files() == before  # nothing written, changed or left half-written (no .tmp)


def test_finetune_without_a_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", tmp_path / "nnprof-latency.pt")
    net = tiny_net(tmp_path / "n.onnx")
    rows = [{"model": net, "input_size": 16, "batch_size": b, "latency_ms": 1.0 + b} for b in range(1, 21)]
    path = write_csv(tmp_path / "m.csv", rows)
    one_line_error(["finetune", str(path), "-o", str(tmp_path / "o.pt")], "no bundled checkpoint at")
    assert not (tmp_path / "o.pt").exists()


def test_jobs_convert_in_workers_with_the_same_results(tmp_path, ckpt):
    nets = [tiny_net(tmp_path / f"n{w}.onnx", w, 3, 32) for w in (8, 16, 24)]
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    refs = zoo.expand([*nets, str(bad)])
    tasks = [(r, b) for r in refs for b in (1, 2)]
    # one pool of 2 workers: the 6 good graphs land in the cache, the bad file is left to the caller
    assert sorted(P.prefetch(tasks, jobs=2)) == [0, 1, 2, 3, 4, 5]
    assert len(list(cache.features_dir().glob("*.nnpf"))) == 6
    assert P.prefetch(tasks, jobs=2) == {}  # only the bad file is left: no workers for one task
    with pytest.raises(NNProfError, match="not an ONNX model"):
        P.features_for(refs, [1, 2], jobs=2)  # the caller's own pass reports it as always
    argv = ["predict", *nets, "-b", "1,2", "-c", ckpt, "--device", "cpu", "-f", "json"]
    from_workers = json.loads(ok([*argv, "--jobs", "2"]).stdout)
    cache.clear()
    serial = json.loads(ok(argv).stdout)
    assert from_workers == serial and len(serial) == 6


def test_bundled_checkpoints_by_name(tmp_path, monkeypatch, ckpt):
    import shutil

    d = tmp_path / "checkpoints"
    d.mkdir()
    for name in ("nnprof-latency.pt", "nnprof-latency-zen3.pt"):
        shutil.copy(ckpt, d / name)
    (d / "other.pt").write_bytes(b"not bundled")  # not an nnprof-latency*.pt file
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", d / "nnprof-latency.pt")
    assert P.bundled_checkpoints() == {"default": d / "nnprof-latency.pt", "zen3": d / "nnprof-latency-zen3.pt"}
    assert P.checkpoint_path("zen3") == d / "nnprof-latency-zen3.pt"
    assert P.checkpoint_path("default") == d / "nnprof-latency.pt"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()  # a folder of that name cannot be meant: the bundled one
    assert P.checkpoint_path("default") == d / "nnprof-latency.pt"
    local = tmp_path / "zen3"  # a file of that name wins over the bundled one
    shutil.copy(ckpt, local)
    assert P.checkpoint_path("zen3").resolve() == local
    net = tiny_net(tmp_path / "n.onnx")
    one_line_error(["predict", net, "-c", "zen9"], "checkpoint zen9 not found (bundled: default, zen3;")

    rows = json.loads(ok(["checkpoints", "-f", "json"]).stdout)
    assert [(r["name"], r["file"], r["default"]) for r in rows] == [
        ("default", "nnprof-latency.pt", True), ("zen3", "nnprof-latency-zen3.pt", False)]
    assert all(isinstance(r["this_cpu"], bool) and r["gmacs_max"] > 0 for r in rows)
    table = ok(["checkpoints"]).stdout
    assert "nnprof-latency-zen3.pt" in table and "--checkpoint NAME" in table
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", tmp_path / "empty" / "nnprof-latency.pt")
    one_line_error(["checkpoints"], "no bundled checkpoints in")


def test_a_checkpoint_for_another_cpu_gets_a_note(tmp_path, monkeypatch, ckpt):
    from nnprof import measure as M

    d = _bundle(tmp_path / "checkpoints", ckpt, {
        "nnprof-latency.pt": ("family=26 model=2", "2026-12-02T00:00:00+00:00"),
        "nnprof-latency-zen3.pt": ("family=25 model=1", "2026-12-04T00:00:00+00:00"),
    })
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", d / "nnprof-latency.pt")
    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=AuthenticAMD family=25 model=1 stepping=1")
    default, zen3 = P.load_predictor(None, "cpu"), P.load_predictor("zen3", "cpu")
    assert P.other_cpu_note(default) == (
        "this machine's CPU (family 25 model 1) is not the one nnprof-latency.pt predicts for; "
        "the bundled checkpoint 'zen3' was measured on it (--checkpoint zen3)")
    assert P.other_cpu_note(zen3) is None  # measured on this CPU
    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=GenuineIntel family=6 model=143 stepping=8")
    assert P.other_cpu_note(zen3).endswith("`nnprof calibrate` rescales it to this machine in about 30 s; "
                                           "measure ~30 models here and `nnprof finetune` for its own latencies")
    assert P.other_cpu_note(P.load_predictor(ckpt, "cpu")) is None  # no recorded platform: nothing to compare
    monkeypatch.setattr(M, "cpu_id", lambda: "")
    assert P.other_cpu_note(default) is None  # this CPU unknown

    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=AuthenticAMD family=25 model=1 stepping=1")
    net = tiny_net(tmp_path / "n.onnx")
    r = ok(["predict", net, "-c", "default", "--device", "cpu", "-f", "json"])
    assert "note: this machine's CPU (family 25 model 1) is not the one nnprof-latency.pt predicts for" in r.stderr
    assert "note:" not in ok(["predict", net, "-c", "zen3", "--device", "cpu", "-f", "json"]).stderr


def _bundle(d, ckpt, cpus):
    """Bundled checkpoints in d: {file name: (cpu family/model, created)}."""
    d.mkdir(exist_ok=True)
    for name, (cpu, created) in cpus.items():
        c = torch.load(ckpt, weights_only=True)
        c["platform"] = {"cpu": "AMD EPYC", "cpu_id": f"vendor_id=AuthenticAMD {cpu} stepping=1", "threads": 1}
        c["created"] = created
        torch.save(c, d / name)
    return d


def test_without_checkpoint_the_newest_bundled_one_for_this_cpu_is_used(tmp_path, monkeypatch, ckpt):
    from nnprof import measure as M

    d = _bundle(tmp_path / "checkpoints", ckpt, {
        "nnprof-latency.pt": ("family=26 model=2", "2026-12-02T00:00:00+00:00"),
        "nnprof-latency-old.pt": ("family=25 model=17", "2026-12-01T00:00:00+00:00"),
        "nnprof-latency-new.pt": ("family=25 model=17", "2026-12-05T00:00:00+00:00"),
    })
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", d / "nnprof-latency.pt")
    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=AuthenticAMD family=25 model=17 stepping=1")
    assert P.bundled_for_cpu(M.cpu_id()) == [("new", d / "nnprof-latency-new.pt"), ("old", d / "nnprof-latency-old.pt")]
    assert P.auto_checkpoint(M.cpu_id()) == (d / "nnprof-latency-new.pt", "new")
    assert P.auto_checkpoint("vendor_id=GenuineIntel family=6 model=143 stepping=8") == (d / "nnprof-latency.pt", None)
    assert P.auto_checkpoint("") == (d / "nnprof-latency.pt", None)

    net = tiny_net(tmp_path / "n.onnx")
    r = ok(["predict", net, "--device", "cpu", "-f", "json"])
    assert r.stderr.splitlines()[0] == (
        "note: this machine's CPU (family 25 model 17): using the bundled checkpoint 'new', measured on it "
        "(--checkpoint default for the default one)")
    assert "family 25 model 17" in json.loads(r.stdout)[0]["platform"]
    r = ok(["predict", net, "-c", "default", "--device", "cpu", "-f", "json"])
    assert "family 26 model 2" in json.loads(r.stdout)[0]["platform"]
    assert "'new' was measured on it (--checkpoint new)" in r.stderr
    rows = json.loads(ok(["checkpoints", "-f", "json"]).stdout)
    assert [(r["name"], r["this_cpu"], r["used_without_checkpoint"]) for r in rows] == [
        ("default", False, False), ("new", True, True), ("old", True, False)]

    # the default checkpoint is this CPU's: nothing to say
    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=AuthenticAMD family=26 model=2 stepping=1")
    r = ok(["predict", net, "--device", "cpu", "-f", "json"])
    assert "note:" not in r.stderr and "family 26 model 2" in json.loads(r.stdout)[0]["platform"]


@pytest.mark.parametrize("cpu_id, threads, base", [
    ("vendor_id=AuthenticAMD family=25 model=17 stepping=1", 1, "new"),
    ("vendor_id=AuthenticAMD family=25 model=17 stepping=1", 2, "default"),  # 'new' predicts for 1 thread
    ("", 1, "default"),
])
def test_finetune_starts_from_the_bundled_checkpoint_of_the_measurements_cpu(tmp_path, monkeypatch, ckpt, cpu_id, threads, base):
    from nnprof import measure as M

    d = _bundle(tmp_path / "checkpoints", ckpt, {
        "nnprof-latency.pt": ("family=26 model=2", "2026-12-02T00:00:00+00:00"),
        "nnprof-latency-new.pt": ("family=25 model=17", "2026-12-05T00:00:00+00:00"),
    })
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", d / "nnprof-latency.pt")
    monkeypatch.setattr(M, "cpu_id", lambda: "vendor_id=GenuineIntel family=6 model=143 stepping=8")  # not this machine's
    csv_path = slower_device_csv(tmp_path, ckpt)
    rows = list(csv.DictReader(open(csv_path)))
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*rows[0], "cpu_id"])
        w.writeheader()
        w.writerows({**r, "cpu_id": cpu_id, "threads": threads} for r in rows)
    r = ok(["finetune", str(csv_path), "-o", str(tmp_path / "ft.pt"), "--epochs", "1", "--device", "cpu", "-f", "json"])
    assert ("using the bundled checkpoint 'new'" in r.stderr) == (base == "new")
    saved = torch.load(tmp_path / "ft.pt", weights_only=True)
    want = d / ("nnprof-latency-new.pt" if base == "new" else "nnprof-latency.pt")
    assert saved["finetune"]["base_checkpoint"] == str(want)
