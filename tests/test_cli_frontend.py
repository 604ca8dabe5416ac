"""`nnprof list / convert / features` through the CLI, including every bad-input case."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from nnprof.cli import app
from nnprof.encode import NODE_DIM, STATIC_DIM

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def _tiny(path, dims=(1, 3, 8, 8)):
    """Conv(3->4, 3x3, pad 1) -> Relu -> GlobalAveragePool."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("GlobalAveragePool", ["r"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, b],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def _fails_in_one_line(args, *expect):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in r.output
    for e in expect:
        assert e in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- list


def test_list_pattern_source_natural_sort():
    r = runner.invoke(app, ["list", "mobilenet*", "--source", "tv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.split() == ["tv:mobilenet_v2", "tv:mobilenet_v3_large", "tv:mobilenet_v3_small"]
    assert r.stderr.strip() == "3 models"
    r = runner.invoke(app, ["list", "resnet", "--source", "tv"])  # no wildcard: substring
    assert r.stdout.split() == [
        "tv:resnet18", "tv:resnet34", "tv:resnet50", "tv:resnet101", "tv:resnet152",
        "tv:wide_resnet50_2", "tv:wide_resnet101_2",
    ]  # fmt: skip
    r = runner.invoke(app, ["list", "timm:test_vit*", "--format", "json"])
    assert json.loads(r.stdout) == [
        "timm:test_vit", "timm:test_vit2", "timm:test_vit3", "timm:test_vit4", "timm:test_vit_relpos",
    ]  # fmt: skip


def test_list_no_match():
    _fails_in_one_line(["list", "resnt5*"], "no model matches 'resnt5*'")


# --------------------------------------------------------------------------- convert


def test_convert_output_and_cache(tmp_path):
    out = tmp_path / "m.onnx"
    r = runner.invoke(app, ["convert", "timm:test_resnet", "-o", str(out)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "model     timm:test_resnet"
    assert lines[1] == "input     1 x 3 x 160 x 160"
    assert lines[3] == "nodes     48 before simplification, 38 after (simplified)"
    assert lines[4].startswith("cached    no")
    assert lines[5] == f"output    {out}"
    assert len(onnx.load(out).graph.node) == 38

    r = runner.invoke(app, ["convert", "timm:test_resnet", "--format", "json"])
    row = json.loads(r.stdout)
    assert row["cached"] is True and row["nodes_before"] == 48 and row["nodes_after"] == 38
    assert row["path"].startswith(str(tmp_path / "cache" / "onnx"))


def test_convert_unwritable_output_writes_nothing(tmp_path):
    _fails_in_one_line(
        ["convert", "timm:test_resnet", "-o", str(tmp_path / "no" / "m.onnx")], "does not exist"
    )
    _fails_in_one_line(["convert", "timm:test_resnet", "-o", str(tmp_path)], "is a directory")
    # /proc refuses new files even for root (os.access says yes): found before converting
    _fails_in_one_line(
        ["convert", "timm:test_resnet", "-o", "/proc/nnprof-test.onnx"], "cannot write"
    )
    assert list(tmp_path.iterdir()) == []  # nothing converted, nothing cached


def test_convert_copies_an_onnx_file_with_its_external_weights(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    model = onnx.load(_tiny(src / "m.onnx"))
    onnx.save_model(model, src / "ext.onnx", save_as_external_data=True, location="ext.onnx.data",
                    size_threshold=0)
    out = tmp_path / "out" / "copy.onnx"
    out.parent.mkdir()
    r = runner.invoke(app, ["convert", str(src / "ext.onnx"), "-o", str(out), "-f", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["opset"] == 17  # the file's own opset, not the exporter's
    copy = onnx.load(out)  # complete on its own: no side file next to it
    onnx.checker.check_model(copy)
    assert sorted(p.name for p in out.parent.iterdir()) == ["copy.onnx"]
    assert numpy_helper.to_array(copy.graph.initializer[0]).sum() == 4 * 3 * 3 * 3
    (src / "ext.onnx.data").unlink()
    _fails_in_one_line(["convert", str(src / "ext.onnx"), "-o", str(tmp_path / "out" / "c2.onnx")],
                       "external weight data")
    assert not (tmp_path / "out" / "c2.onnx").exists()


def test_convert_unknown_model():
    _fails_in_one_line(["convert", "resnt50"], "unknown model 'resnt50'", "tv:resnet50")


# --------------------------------------------------------------------------- features


def test_features_json_on_onnx_file(tmp_path):
    p = _tiny(tmp_path / "tiny.onnx", ("N", 3, 8, 8))
    r = runner.invoke(app, ["features", p, "--batch-size", "2", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["node_dim"] == NODE_DIM and d["static_dim"] == STATIC_DIM == 40
    assert d["input_shape"] == [2, 3, 8, 8] and d["batch_size"] == 2
    assert [n["op"] for n in d["nodes"]] == ["Conv", "Relu", "GlobalAveragePool"]
    assert len(d["x"]) == 3 and all(len(row) == NODE_DIM for row in d["x"])
    assert len(d["static"]) == 40
    assert d["edges"] == [[0, 1], [1, 2]] and d["degree"] == [1, 2, 1]
    conv = d["nodes"][0]
    assert conv["attributes"][:6] == [3, 3, 1, 1, 2, 2]  # kernel, stride, pad (begin + end)
    assert conv["shape"] == [2, 4, 8, 8]
    assert conv["macs"] == 2 * 4 * 8 * 8 * 3 * 3 * 3  # 13824
    assert conv["params"] == 4 * 3 * 3 * 3 + 4
    assert d["totals"]["macs"] == sum(n["macs"] for n in d["nodes"])
    assert d["static_values"][0] == 2.0


def test_features_table_on_zoo_model():
    r = runner.invoke(app, ["features", "timm:test_vit", "--limit", "5"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("timm:test_vit: ")
    assert "kernel=16x16 stride=16x16 pad=0x0" in r.stdout
    assert f"node vector  {NODE_DIM} dims" in r.stdout
    assert "static       40 dims" in r.stdout
    assert "more nodes (--limit 0 shows all" in r.stderr


def test_features_bad_inputs(tmp_path):
    _fails_in_one_line(["features", str(tmp_path / "missing.onnx")], "not found")
    txt = tmp_path / "notes.onnx"
    txt.write_text("hello, I am not a model\n")
    _fails_in_one_line(["features", str(txt)], "not an ONNX model")
    good = _tiny(tmp_path / "good.onnx")
    data = open(good, "rb").read()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    _fails_in_one_line(["features", str(cut)], str(cut))
    dyn = _tiny(tmp_path / "dyn.onnx", ("N", 3, "H", "W"))
    _fails_in_one_line(["features", dyn], "--input-size")
    r = runner.invoke(app, ["features", dyn, "--input-size", "16", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["input_shape"] == [1, 3, 16, 16]
    _fails_in_one_line(["features", "timm:nonexistent_net"], "unknown model 'timm:nonexistent_net'")
    _fails_in_one_line(["features", "mobilenet*"], "wildcard pattern")
    _fails_in_one_line(["features", good, "--batch-size", "0"], "--batch-size must be a positive")
