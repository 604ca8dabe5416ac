"""nnprof.predict and nnprof.cache: features (cached), batched prediction, warnings.

Helpers here (`tiny_net`, `tiny_checkpoint`) are reused by test_finetune.py and
test_cli_product.py.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from nnprof import cache, export
from nnprof import encode as enc
from nnprof import predict as P
from nnprof.errors import NNProfError
from nnprof.zoo import resolve

# (channels, kernel, spatial size) of the tiny test nets
NETS = [(4, 3, 16), (8, 3, 16), (8, 5, 16), (16, 1, 16), (16, 3, 32)]


def tiny_net(path, c: int = 4, k: int = 3, size: int = 16, extra_op: str | None = None) -> str:
    """Conv(3->c, k) -> Relu -> Conv(c->c, 3) -> Relu -> GAP -> Flatten -> Gemm(c->10),
    input (N, 3, size, size) with a dynamic batch. `extra_op` inserts an element-wise op."""
    rng = np.random.default_rng(c * 10 + k)
    init = [
        numpy_helper.from_array(rng.standard_normal((c, 3, k, k)).astype(np.float32), "w1"),
        numpy_helper.from_array(np.zeros(c, np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((c, c, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(c, np.float32), "b2"),
        numpy_helper.from_array(rng.standard_normal((10, c)).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(10, np.float32), "bf"),
    ]
    p = k // 2
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[k, k], pads=[p] * 4, strides=[1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4, strides=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
    ]
    last = "r2"
    if extra_op:
        nodes.append(helper.make_node(extra_op, ["r2"], ["e"]))
        last = "e"
    nodes += [
        helper.make_node("GlobalAveragePool", [last], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    g = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        init,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def tiny_macs(c: int, k: int, size: int, batch: int = 1) -> int:
    """MACs of `tiny_net` by hand (graph.py's conventions)."""
    hw = size * size
    conv1 = c * hw * 3 * k * k
    conv2 = c * hw * c * 9
    relus = 2 * c * hw
    gap = c * hw  # in_elems
    gemm = c * 10
    return batch * (conv1 + conv2 + relus + gap + gemm)


def tiny_checkpoint(path, epochs: int = 3) -> str:
    """A hidden-size-8 NAR-Former V2 trained a few steps on the synthetic dataset."""
    from nnprof import train as T
    from nnprof.data import synthetic
    from nnprof.model import ModelArgs

    samples = synthetic(8, seed=1)
    res = T.train_model(
        "narformer2", T.prepare(samples), None, T.TrainConfig(epochs=epochs, device="cpu", seed=0),
        ModelArgs(hidden=8, groups=2, dropout=0.0),
    )
    T.save_checkpoint(T.make_checkpoint(res, samples), path)
    return str(path)


@pytest.fixture
def nets(tmp_path):
    return [tiny_net(tmp_path / f"net{i}.onnx", c, k, s) for i, (c, k, s) in enumerate(NETS)]


def test_features_counts_and_row_columns(ckpt, nets):
    pred = P.load_predictor(ckpt, "cpu")
    c, k, s = NETS[0]
    f1 = P.graph_features(resolve(nets[0]), None, 1)
    f8 = P.graph_features(resolve(nets[0]), None, 8)
    assert (f1.input_size, f1.batch_size, f8.batch_size) == (16, 1, 8)
    assert f1.raw.macs == tiny_macs(c, k, s) and f8.raw.macs == tiny_macs(c, k, s, 8)
    assert f1.raw.params == c * 3 * k * k + c + c * c * 9 + c + 10 * c + 10
    [y1, y8] = pred.predict([f1, f8])
    row = P.result_row(f8, y8, pred.platform_text)
    assert list(row) == list(P.COLUMNS)
    assert row["gflops"] == tiny_macs(c, k, s, 8) / 1e9
    assert row["throughput"] == 1000.0 * 8 / y8
    assert row["platform"] == "source=synthetic"
    assert P.result_row(f1, -1.0, "x")["throughput"] is None


def test_batched_prediction_equals_one_by_one(ckpt, nets):
    pred = P.load_predictor(ckpt, "cpu")
    feats = P.features_for([resolve(n) for n in nets], [1, 2, 8])
    assert len(feats) == 15
    together = pred.predict(feats)
    alone = [pred.predict([f])[0] for f in feats]
    assert together == pytest.approx(alone, rel=1e-5)
    assert len({round(v, 6) for v in together}) > 5  # the graphs really differ


def test_second_call_hits_the_cache_without_converting(ckpt, nets, monkeypatch):
    ref = resolve(nets[1])
    first = P.graph_features(ref, None, 4)
    assert not first.cached and len(list(cache.features_dir().glob("*.nnpf"))) == 1

    def no_convert(*a, **k):
        raise AssertionError("convert called on a cache hit")

    monkeypatch.setattr(export, "convert", no_convert)
    second = P.graph_features(ref, None, 4)
    assert second.cached and second.notes == []
    assert second.raw.to_dict() == first.raw.to_dict()
    for a, b in [(first.encoded.x, second.encoded.x), (first.encoded.edges, second.encoded.edges),
                 (first.encoded.static, second.encoded.static), (first.encoded.degree, second.encoded.degree)]:
        assert a.dtype == b.dtype and bool((a == b).all())
    # another batch size is another entry: convert is needed (and refused here)
    with pytest.raises(AssertionError, match="convert called"):
        P.graph_features(ref, None, 2)


def test_cache_keys_follow_content_and_feature_version(tmp_path, monkeypatch):
    path = tiny_net(tmp_path / "a.onnx")
    data = open(path, "rb").read()
    k = cache.file_key(data, None, 1)
    assert k == cache.file_key(data, None, 1)
    assert k != cache.file_key(data, None, 2) and k != cache.file_key(data, 32, 1)
    assert k != cache.file_key(data + b"\0", None, 1)
    ref = resolve("tv:resnet18")
    z = cache.zoo_key(ref, 224, 1)
    assert z != cache.zoo_key(ref, 160, 1)
    monkeypatch.setattr(enc, "FEATURE_VERSION", "some-future-encoding")
    assert cache.file_key(data, None, 1) != k and cache.zoo_key(ref, 224, 1) != z


def test_edited_onnx_file_is_not_served_from_the_cache(tmp_path):
    path = tiny_net(tmp_path / "m.onnx", c=4)
    a = P.graph_features(resolve(path), None, 1)
    tiny_net(path, c=8)  # same path, new content
    b = P.graph_features(resolve(path), None, 1)
    assert not b.cached and b.raw.macs == tiny_macs(8, 3, 16) != a.raw.macs


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b[:-10] + b"x" * 10,  # flipped bytes (checksum)
        lambda b: b"garbage",
        lambda b: b"",
    ],
)
def test_corrupt_cache_entry_is_rebuilt(tmp_path, damage, monkeypatch):
    ref = resolve(tiny_net(tmp_path / "m.onnx"))
    good = P.graph_features(ref, None, 2)
    [entry] = cache.features_dir().glob("*.nnpf")
    entry.write_bytes(damage(entry.read_bytes()))
    again = P.graph_features(ref, None, 2)
    assert not again.cached and again.notes == ["its features cache entry was corrupt and has been rebuilt"]
    assert again.raw.to_dict() == good.raw.to_dict()
    hit, corrupt = cache.load(cache.file_key(open(ref.path, "rb").read(), None, 2), "onnx-m-sNone-b2")
    assert hit is not None and not corrupt  # the entry was written again, intact


def test_entry_with_wrong_shapes_is_corrupt(tmp_path):
    ref = resolve(tiny_net(tmp_path / "m.onnx"))
    f = P.graph_features(ref, None, 1)
    key = cache.file_key(open(ref.path, "rb").read(), None, 1)
    bad = cache.Entry(f.raw, enc.EncodedGraph(f.encoded.x[:-1], f.encoded.static, f.encoded.edges, f.encoded.degree))
    assert cache.store(key, bad, "x")
    assert cache.load(key, "x") == (None, True)
    assert cache.load(key, "never-written") == (None, False)


def test_unwritable_cache_only_costs_speed(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NNPROF_CACHE_DIR", str(blocker))
    f = P.graph_features(resolve(tiny_net(tmp_path / "m.onnx")), None, 1)
    assert not f.cached and f.raw.macs == tiny_macs(4, 3, 16)


def test_missing_checkpoints_say_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", tmp_path / "checkpoints" / "nnprof-latency.pt")
    with pytest.raises(NNProfError, match=r"no bundled checkpoint at .*nnprof-latency.pt; train one with `nnprof train zoo/ -o checkpoints/nnprof-latency.pt`"):
        P.load_predictor(None, "cpu")
    with pytest.raises(NNProfError, match=r"checkpoint .*nope.pt not found; train one with"):
        P.load_predictor(tmp_path / "nope.pt", "cpu")


def _features(tmp_path, name, **kw):
    return P.graph_features(resolve(tiny_net(tmp_path / name, **kw)), None, 1)


def test_warnings_use_recorded_training_ops_and_ranges(ckpt, tmp_path):
    pred = P.load_predictor(ckpt, "cpu")
    f = _features(tmp_path, "a.onnx")
    pred.profile = P.TrainingProfile(
        ops=frozenset({"Conv", "Relu", "GlobalAveragePool", "Flatten"}), nodes=(7, 7), macs=None, latency_ms=(1.0, 2.0)
    )
    assert pred.check(f, 1.5) == ["ops never seen in training: Gemm"]
    pred.profile.nodes = (20, 40)  # 7 nodes < 20 / 2
    pred.profile.macs = (1e9, 2e9)
    assert pred.check(f, 5.0) == [
        "ops never seen in training: Gemm",
        "7 nodes, training graphs had 20-40",
        f"{tiny_macs(4, 3, 16) / 1e3:.3g}k MACs, training graphs had 1G-2G",
        "predicted 5 ms, training latencies were 1-2 ms",
    ]
    assert pred.check(f, 3.9) == pred.check(f, 5.0)[:3]  # within 2x of the range: fine


def test_training_profile_records_ops_and_macs(ckpt):
    p = P.load_predictor(ckpt, "cpu").profile
    assert p.ops == {"Conv", "Relu", "Add", "GlobalAveragePool", "Flatten", "Gemm"}  # synthetic graphs
    assert p.macs is not None and 0 < p.macs[0] < p.macs[1]


@pytest.fixture
def old_ckpt(ckpt, tmp_path):
    """The tiny checkpoint as an older nnprof wrote it: no op list, no MACs range."""
    d = torch.load(ckpt, weights_only=True)
    del d["train_data"]["ops"], d["train_data"]["macs"]
    torch.save(d, tmp_path / "old.pt")
    return str(tmp_path / "old.pt")


def test_without_recorded_ops_the_vocabulary_decides(old_ckpt, tmp_path):
    pred = P.load_predictor(old_ckpt, "cpu")
    assert pred.profile.ops is None and pred.profile.macs is None
    assert pred.profile.nodes == (9, 29) and pred.profile.latency_ms is not None
    assert "Celu" not in enc.OP_VOCAB
    f = _features(tmp_path, "a.onnx", extra_op="Celu")
    y = pred.predict([f])[0]
    assert pred.check(f, y)[0] == "ops outside the encoder's vocabulary: Celu"
    assert pred.check(_features(tmp_path, "b.onnx"), y) == []


def test_training_profile_merges_finetune_data():
    ck = {
        "train_data": {"ops": ["Conv"], "nodes": {"min": 10, "max": 20}, "latency_ms": {"min": 1, "max": 2}},
        "finetune": {"train_data": {"ops": {"Gemm": 3}, "nodes": {"min": 5, "max": 8}, "macs": {"min": 1, "max": 9}}},
    }
    p = P.training_profile(ck)
    assert p == P.TrainingProfile(frozenset({"Conv", "Gemm"}), (5.0, 20.0), (1.0, 9.0), (1.0, 2.0))


def test_describe_platform():
    fp = {"cpu": "Xeon X", "threads": 2, "provider": "cpu", "onnxruntime": "1.2", "precision": "fp32"}
    assert P.describe_platform(fp) == "Xeon X, 2 threads, cpu, fp32, onnxruntime 1.2"
    vm = {**fp, "cpu": "AMD EPYC", "cpu_id": "vendor_id=AuthenticAMD family=26 model=2 stepping=1"}
    assert P.describe_platform(vm) == "AMD EPYC (family 26 model 2), 2 threads, cpu, fp32, onnxruntime 1.2"
    assert P.describe_platform({"source": "synthetic"}) == "source=synthetic"
    assert P.describe_platform(None).startswith("unknown")


def test_real_model_counts_scale_with_batch(ckpt, real_cache):
    rows, feats, pred = P.predict_models([resolve("tv:mobilenet_v3_small")], [1, 4], 64, ckpt, "cpu")
    r1, r4 = rows
    assert (r1["input_size"], r4["batch_size"]) == (64, 4)
    assert feats[1].raw.macs == 4 * feats[0].raw.macs  # every count is per image
    assert r1["params"] == r4["params"] > 2_000_000
    assert r4["throughput"] == pytest.approx(4000.0 / r4["latency_ms"])
    assert feats[0].raw.input_shape == [1, 3, 64, 64]
