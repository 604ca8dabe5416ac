"""nnprof.export: exporter choice, MHA fast path, simplification, cache hits and corrupt entries."""

import io
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from nnprof import export
from nnprof.errors import NNProfError


class _Attn(nn.Module):
    """torchvision ViT's attention call: nn.MultiheadAttention, batch_first, no weights out."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 16, 4, stride=4)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        t = self.proj(x).flatten(2).transpose(1, 2)  # (B, L, 16)
        y, _ = self.attn(t, t, t, need_weights=False)
        return y.mean(1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_mha_fast_path_exports_and_flag_is_restored():
    m = _Attn().eval()
    # The problem being solved: under no_grad the fused kernel is traced and has no export.
    with torch.no_grad(), pytest.raises(Exception, match="_native_multi_head_attention"):
        torch.onnx.export(m, (torch.randn(1, 3, 16, 16),), io.BytesIO(), dynamo=False)
    assert torch.backends.mha.get_fastpath_enabled()
    model = export.export_module(m, 16, 2, "torchscript")
    assert torch.backends.mha.get_fastpath_enabled()  # switched back on afterwards
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    assert "MatMul" in ops and "Softmax" in ops
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 16, 16]
    assert model.opset_import[0].version == export.OPSET


def test_convert_then_cache_hit(tmp_path):
    r = export.convert("timm:test_resnet")
    assert (r.ref.qualified, r.input_size, r.batch_size) == ("timm:test_resnet", 160, 1)
    assert (r.exporter, r.simplified, r.cached, r.message) == ("torchscript", True, False, "")
    assert r.nodes_before == 48 and r.nodes_after == 38  # onnxsim drops Identity/Constant nodes
    assert r.path is not None and r.path.parent == tmp_path / "cache" / "onnx"
    assert r.path.name.startswith("timm-test_resnet-s160-b1-")
    # shape inference ran: every intermediate tensor has a shape
    assert len(r.model.graph.value_info) >= r.nodes_after - 1
    meta = json.loads(r.path.with_suffix(".json").read_text())
    assert meta["nodes_after"] == 38 and meta["versions"]["opset"] == str(export.OPSET)

    again = export.convert("timm:test_resnet")
    assert again.cached and again.path == r.path
    assert (again.nodes_before, again.nodes_after, again.simplified) == (48, 38, True)
    assert again.model.SerializeToString() == r.model.SerializeToString()

    other = export.convert("timm:test_resnet", input_size=128, batch_size=2)
    assert not other.cached and other.path != r.path
    dims = [d.dim_value for d in other.model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 128, 128]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "meta", "no-meta", "meta-null", "meta-key"])
def test_corrupt_cache_entry_is_rebuilt(damage):
    r = export.convert("timm:test_efficientnet")
    onnx_path, meta_path = r.path, r.path.with_suffix(".json")
    if damage == "truncate":
        data = onnx_path.read_bytes()
        onnx_path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        onnx_path.write_bytes(b"\x00garbage" * 100)
    elif damage == "meta":
        meta_path.write_text("{not json")
    elif damage in ("meta-null", "meta-key"):  # valid JSON, but not what convert wrote
        meta = json.loads(meta_path.read_text())
        if damage == "meta-null":
            meta["nodes_before"] = None
        else:
            del meta["exporter"]
        meta_path.write_text(json.dumps(meta))
    else:
        meta_path.unlink()
    again = export.convert("timm:test_efficientnet")
    assert not again.cached
    if damage != "no-meta":
        assert again.message == "the cache entry was corrupt and has been rebuilt"
    assert again.nodes_after == r.nodes_after
    assert export.convert("timm:test_efficientnet").cached  # valid again


def test_simplification_failure_keeps_the_exported_graph(monkeypatch):
    import onnxsim

    def boom(model, *a, **k):
        raise RuntimeError("simulated\nsecond line")

    monkeypatch.setattr(onnxsim, "simplify", boom)
    r = export.convert("timm:test_resnet", cache=False)
    assert not r.simplified and r.path is None
    assert r.nodes_before == r.nodes_after == 48
    assert r.message == (
        "not simplified: onnxsim failed (RuntimeError: simulated); kept the exported graph"
    )


def test_exporter_fallback(monkeypatch):
    real = export.export_module
    calls = []

    def flaky(module, size, batch, exporter):
        calls.append(exporter)
        if exporter == "torchscript":
            raise RuntimeError("tracing failed")
        return real(module, size, batch, "torchscript")  # stands in for dynamo (slow)

    monkeypatch.setattr(export, "export_module", flaky)
    r = export.convert("timm:test_resnet", cache=False)
    assert calls == ["torchscript", "dynamo"]
    assert r.exporter == "dynamo"
    assert r.message == "exported with dynamo after torchscript: RuntimeError: tracing failed"


def test_all_exporters_fail_is_one_line(monkeypatch):
    def fail(module, size, batch, exporter):
        raise ValueError(f"{exporter} broke\ndetails")

    monkeypatch.setattr(export, "export_module", fail)
    with pytest.raises(NNProfError) as e:
        export.convert("timm:test_resnet", cache=False)
    assert str(e.value) == (
        "cannot export timm:test_resnet to ONNX: torchscript: ValueError: torchscript broke; "
        "dynamo: ValueError: dynamo broke"
    )


def test_out_of_memory_export_asks_for_a_smaller_batch(monkeypatch):
    calls = []

    def oom(module, size, batch, exporter):
        calls.append(exporter)
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 602112000000 bytes. Error code 12")

    monkeypatch.setattr(export, "export_module", oom)
    with pytest.raises(NNProfError) as e:
        export.convert("timm:test_resnet", 224, 1000000, cache=False)
    assert str(e.value) == (
        "cannot export timm:test_resnet at batch 1000000, input 224: out of memory "
        "(560.8 GiB for one tensor); use a smaller --batch-size or --input-size"
    )
    assert calls == ["torchscript"]  # the other exporter would need the same memory


def test_cache_key_depends_on_size_batch_and_versions(monkeypatch):
    from nnprof.zoo import resolve

    ref = resolve("tv:resnet18")
    k = export.cache_key(ref, 224, 1)
    assert len({k, export.cache_key(ref, 256, 1), export.cache_key(ref, 224, 2)}) == 3
    monkeypatch.setattr(export, "OPSET", 17)
    assert export.cache_key(ref, 224, 1) != k


def _tiny_onnx(path, batch="N", size="H"):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_convert_onnx_file_sets_input_shape(tmp_path):
    p = _tiny_onnx(tmp_path / "tiny.onnx", size=8)
    r = export.convert(str(p))
    assert (r.ref.source, r.exporter, r.path, r.cached, r.simplified) == (
        "onnx",
        "onnx",
        p,
        False,
        False,
    )
    assert (r.batch_size, r.input_size, r.nodes_before, r.nodes_after) == (1, 8, 2, 2)
    r4 = export.convert(str(p), input_size=16, batch_size=4)
    assert [d.dim_value for d in r4.model.graph.output[0].type.tensor_type.shape.dim] == [
        4,
        4,
        16,
        16,
    ]
    with pytest.raises(NNProfError, match="pass --input-size"):
        export.convert(str(_tiny_onnx(tmp_path / "dyn.onnx")))
    with pytest.raises(NNProfError, match="--batch-size must be a positive integer, got 0"):
        export.convert(str(p), batch_size=0)


def test_save_onnx_is_atomic_and_fails_in_one_line(tmp_path):
    m = onnx.load(_tiny_onnx(tmp_path / "a.onnx", 1, 8))
    out = export.save_onnx(m, tmp_path / "b.onnx")
    assert onnx.load(out).graph.node[0].op_type == "Conv"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    for bad, why in [
        (tmp_path / "nodir" / "c.onnx", "does not exist"),
        (tmp_path, "it is a directory"),
        (tmp_path / "a.onnx" / "c.onnx", "a.onnx is a file, not a directory"),
    ]:
        with pytest.raises(NNProfError, match=why):
            export.save_onnx(m, bad)


def test_quiet_silences_file_descriptors(capfd):
    """onnxsim's C++ warnings go straight to fd 1 and would corrupt `--format json`."""
    import os
    import sys

    print("before", flush=True)
    with export._quiet():
        os.write(1, b"C++ warning on stdout\n")
        os.write(2, b"C++ warning on stderr\n")
        print("python print")
        print("python stderr", file=sys.stderr)
    print("after", flush=True)
    cap = capfd.readouterr()
    assert cap.out == "before\nafter\n"
    assert cap.err == ""
