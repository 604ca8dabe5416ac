import gzip
import json

import onnx
import pytest
from onnx import TensorProto, helper

from nnprof.data import (
    common_platform,
    limit_per_family,
    load_dataset,
    read_nnlqp,
    read_zoo,
    split_in_distribution,
    split_leave_one_family_out,
    summary,
    synthetic,
    synthetic_latency,
)
from nnprof.errors import NNProfError

# ------------------------------------------------------------------------ NNLQP fixture


def stripped(name: str, dims: list[int]) -> TensorProto:
    """A weight-stripped initializer as NNLQP ships them: dims kept, no data."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    return t


def tiny_cnn(cout: int, k: int, hw: int = 8, batch: int = 1) -> onnx.ModelProto:
    """Conv(3->cout, k x k, pad k//2) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(cout->10)."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], pads=[k // 2] * 4),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
        initializer=[stripped("w", [cout, 3, k, k]), stripped("b", [cout]), stripped("fw", [10, cout]), stripped("fb", [10])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture
def nnlqp(tmp_path):
    root = tmp_path / "nnlqp"
    (root / "onnx" / "resnet").mkdir(parents=True)
    (root / "onnx" / "vgg").mkdir(parents=True)
    lines = []
    for i, (fam, cout, k) in enumerate([("resnet", 4, 3), ("resnet", 8, 3), ("vgg", 4, 1), ("vgg", 16, 5)]):
        rel = f"onnx/{fam}/{fam}_{i}.onnx"
        onnx.save(tiny_cnn(cout, k), root / rel)
        lines.append(f"{i} {rel} 1 {0.5 + i:.3f} {fam} gpu-gtx1660-trt7.1-fp32")
    (root / "gt.txt").write_text("\n".join(lines) + "\n")
    return root


def test_nnlqp_reader_on_weight_stripped_fixture(nnlqp):
    samples = read_nnlqp(nnlqp / "gt.txt")
    assert [s.id for s in samples] == ["0", "1", "2", "3"]
    assert [s.family for s in samples] == ["resnet", "resnet", "vgg", "vgg"]
    assert [s.latency_ms for s in samples] == [0.5, 1.5, 2.5, 3.5]
    s = samples[1]
    assert s.graph.ops() == ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]
    assert s.batch_size == 1 and s.input_size == 8
    assert s.platform == {"source": "nnlqp", "platform_id": "gpu-gtx1660-trt7.1-fp32"}
    assert s.split is None
    conv = s.graph.nodes[0]
    assert conv.out_shape == [1, 8, 8, 8]
    assert conv.macs == 8 * 8 * 8 * 3 * 3 * 3  # out elements x (cin k k)
    assert conv.params == 8 * 3 * 3 * 3 + 8
    # the folder works too, and so does the generic loader
    assert len(load_dataset(nnlqp)) == 4
    assert len(load_dataset(nnlqp / "gt.txt")) == 4


def test_nnlqp_stage_column_and_platform_choice(nnlqp):
    gt = nnlqp / "gt.txt"
    rows = gt.read_text().splitlines()
    rows = [r + (" train" if i < 3 else " test") for i, r in enumerate(rows)]
    rows.append("9 onnx/vgg/vgg_3.onnx 1 9.0 vgg cpu-x86")
    gt.write_text("\n".join(rows) + "\n")
    with pytest.raises(NNProfError, match="mixes 2 platforms .*--platform"):
        read_nnlqp(gt)
    samples = read_nnlqp(gt, platform="gpu-gtx1660-trt7.1-fp32")
    assert [s.split for s in samples] == ["train", "train", "train", "test"]
    assert [s.id for s in read_nnlqp(gt, platform="cpu-x86")] == ["9"]
    with pytest.raises(NNProfError, match="no lines for platform 'tpu'"):
        read_nnlqp(gt, platform="tpu")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("7 onnx/resnet/resnet_0.onnx 1 0.5 resnet", r"gt.txt:5: expected 'GraphID OnnxPath .*got 5 fields"),
        ("7 onnx/resnet/resnet_0.onnx 1 fast resnet p", r"gt.txt:5: Latency 'fast' is not a number"),
        ("7 onnx/resnet/resnet_0.onnx one 0.5 resnet p", r"gt.txt:5: BatchSize 'one' is not an integer"),
        ("7 onnx/resnet/resnet_0.onnx 1 -2 resnet p", r"gt.txt:5: latency must be > 0"),
        ("7 onnx/resnet/missing.onnx 1 0.5 resnet p", r"gt.txt:5: ONNX file 'onnx/resnet/missing.onnx' not found"),
        ("0 onnx/resnet/resnet_0.onnx 1 0.5 resnet p", r"gt.txt:5: GraphID '0' already used at .*gt.txt:1"),
    ],
)
def test_nnlqp_bad_rows_name_file_and_line(nnlqp, line, message):
    gt = nnlqp / "gt.txt"
    rows = [r.replace("gpu-gtx1660-trt7.1-fp32", "p") for r in gt.read_text().splitlines()]
    gt.write_text("\n".join([*rows, line]) + "\n")
    with pytest.raises(NNProfError, match=message):
        read_nnlqp(gt)


def test_nnlqp_corrupt_onnx(nnlqp):
    (nnlqp / "onnx" / "vgg" / "vgg_2.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(NNProfError, match=r"gt.txt:3: .*vgg_2.onnx"):
        read_nnlqp(nnlqp / "gt.txt")


# -------------------------------------------------------------------------- zoo fixture


def zoo_record(s, **over):
    rec = {
        "id": s.id, "family": s.family, "model": s.model, "gen": None, "seed": 0,
        "input_size": s.input_size, "batch_size": s.batch_size, "latency_ms": s.latency_ms,
        "latency": {"median_ms": s.latency_ms}, "platform": {"cpu": "test-cpu", "threads": 1},
        "versions": {}, "graph": s.graph.to_dict(),
    }  # fmt: skip
    rec.update(over)
    return rec


def write_zoo(root, records_by_family, split=None):
    (root / "data").mkdir(parents=True)
    for fam, recs in records_by_family.items():
        with gzip.open(root / "data" / f"{fam}.jsonl.gz", "wt") as fh:
            for r in recs:
                fh.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    if split is not None:
        (root / "split.json").write_text(json.dumps(split))


@pytest.fixture
def syn():
    return synthetic(4, seed=3)


def test_zoo_reader(tmp_path, syn):
    by_fam = {}
    for s in syn:
        by_fam.setdefault(s.family, []).append(zoo_record(s))
    write_zoo(tmp_path, by_fam, {"seed": 0, "val": ["plain_0001"], "test": ["wide_0002", "plain_0003"]})
    samples = read_zoo(tmp_path)
    assert len(samples) == 12
    assert [s.id for s in samples[:4]] == ["plain_0000", "plain_0001", "plain_0002", "plain_0003"]
    first = samples[0]
    assert first.graph.to_dict() == syn[0].graph.to_dict()
    assert first.latency_ms == syn[0].latency_ms
    assert first.platform == {"cpu": "test-cpu", "threads": 1}
    assert {s.id: s.split for s in samples if s.split != "train"} == {
        "plain_0001": "val", "plain_0003": "test", "wide_0002": "test",
    }  # fmt: skip
    sp = split_in_distribution(samples)
    assert [s.id for s in sp.val] == ["plain_0001"]
    assert sorted(s.id for s in sp.test) == ["plain_0003", "wide_0002"]
    assert len(sp.train) == 9
    assert load_dataset(tmp_path)[0].id == "plain_0000"
    with pytest.raises(NNProfError, match="--platform picks a PlatformId of an NNLQP gt.txt; .* is a measured zoo"):
        load_dataset(tmp_path, platform="nosuch")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", r"plain.jsonl.gz:2: not valid JSON"),
        ({"id": "x", "family": "plain"}, r"plain.jsonl.gz:2: record has no 'latency_ms'"),
        ("latency", r"plain.jsonl.gz:2: latency_ms must be a positive number, got -1"),
        ("dup", r"plain.jsonl.gz:2: id 'plain_0000' already used in .*plain.jsonl.gz:1"),
        ("graph", r"plain.jsonl.gz:2: 'graph' is not a raw graph"),
    ],
)
def test_zoo_bad_rows_name_file_and_line(tmp_path, syn, bad, message):
    good = zoo_record(syn[0])
    if bad == "latency":
        bad = zoo_record(syn[1], latency_ms=-1)
    elif bad == "dup":
        bad = zoo_record(syn[1], id="plain_0000")
    elif bad == "graph":
        bad = zoo_record(syn[1], graph={"nodes": []})
    write_zoo(tmp_path, {"plain": [good, bad]})
    with pytest.raises(NNProfError, match=message):
        read_zoo(tmp_path)


def test_zoo_split_file_errors(tmp_path, syn):
    write_zoo(tmp_path, {"plain": [zoo_record(s) for s in syn[:4]]}, {"seed": 0, "val": ["nope"], "test": []})
    with pytest.raises(NNProfError, match="split.json: val id 'nope' is not in the data"):
        read_zoo(tmp_path)


def test_not_a_dataset(tmp_path):
    with pytest.raises(NNProfError, match="holds no data/\\*.jsonl.gz"):
        read_zoo(tmp_path)
    with pytest.raises(NNProfError, match="neither a zoo .* nor an NNLQP folder"):
        load_dataset(tmp_path)
    with pytest.raises(NNProfError, match="synthetic:N"):
        load_dataset("synthetic:many")
    with pytest.raises(NNProfError, match="synthetic:4 has none"):
        load_dataset("synthetic:4", platform="nosuch")


# ------------------------------------------------------------------- synthetic + splits


def test_synthetic_is_deterministic_and_learnable():
    a, b = synthetic(5, seed=7), synthetic(5, seed=7)
    assert [s.latency_ms for s in a] == [s.latency_ms for s in b]
    assert [s.graph.to_dict() for s in a] == [s.graph.to_dict() for s in b]
    assert [s.latency_ms for s in a] != [s.latency_ms for s in synthetic(5, seed=8)]
    for s in a:
        assert s.latency_ms == synthetic_latency(s.graph)
        n = len(s.graph.nodes)
        assert all(0 <= i < n and 0 <= j < n for i, j in s.graph.edges)
        assert s.graph.macs > 0 and s.graph.mem > 0
    assert {s.family for s in a} == {"plain", "residual", "wide"}
    assert len(load_dataset("synthetic:5")) == 15


def test_synthetic_latency_by_hand():
    g = synthetic(1, families=("plain",), seed=0)[0].graph
    t = 0.05
    for n in g.nodes:
        overhead = {"Conv": 0.010, "Relu": 0.003, "Add": 0.004, "GlobalAveragePool": 0.005, "Gemm": 0.006, "Flatten": 0.001}[n.op]
        t += overhead + n.mem / 2e8
        if n.op == "Conv":
            eff = (1.0 if n.in_shapes[0][1] >= 16 else 0.5) * (0.7 if n.attrs["strides"][0] == 2 else 1.0)
            t += n.macs / (2e9 * eff)
        else:
            t += n.macs / 4e9
    assert synthetic_latency(g) == pytest.approx(t, rel=1e-12)


def test_in_distribution_split_takes_the_last_part_of_each_family_for_test():
    s = synthetic(10, seed=0)
    sp = split_in_distribution(s, val_frac=0.2, test_frac=0.1, seed=0)
    assert sp.sizes() == {"train": 21, "val": 6, "test": 3}  # val = round(0.2 * 9) per family
    assert [x.id for x in sp.test] == ["plain_0009", "residual_0009", "wide_0009"]
    assert not {x.id for x in sp.val} & {x.id for x in sp.train}
    again = split_in_distribution(s, val_frac=0.2, test_frac=0.1, seed=0)
    assert [x.id for x in again.val] == [x.id for x in sp.val]  # fixed before any training


def test_leave_one_family_out():
    s = synthetic(10, seed=0)
    sp = split_leave_one_family_out(s, "residual", val_frac=0.1)
    assert {x.family for x in sp.test} == {"residual"} and len(sp.test) == 10
    assert {x.family for x in sp.train + sp.val} == {"plain", "wide"}
    assert sp.sizes() == {"train": 18, "val": 2, "test": 10}
    with pytest.raises(NNProfError, match="family 'vgg' is not in the dataset"):
        split_leave_one_family_out(s, "vgg")


def test_summary():
    s = synthetic(3, seed=0)
    d = summary(s)
    assert d["n"] == 9
    assert d["families"] == {"plain": 3, "residual": 3, "wide": 3}
    assert d["latency_ms"] == {"min": min(x.latency_ms for x in s), "max": max(x.latency_ms for x in s)}
    assert d["platforms"] == [{"source": "synthetic"}]
    assert d["macs"] == {"min": min(x.graph.macs for x in s), "max": max(x.graph.macs for x in s)}
    assert d["ops"] == sorted({n.op for x in s for n in x.graph.nodes}) and "Conv" in d["ops"]


def test_limit_per_family_is_seeded_and_keeps_order():
    s = synthetic(10, seed=0)
    cut = limit_per_family(s, 4, seed=0)
    assert {f: sum(x.family == f for x in cut) for f in ("plain", "residual", "wide")} == {"plain": 4, "residual": 4, "wide": 4}
    assert [x.id for x in cut] == [x.id for x in s if x in cut]  # file order kept
    assert [x.id for x in limit_per_family(s, 4, seed=0)] == [x.id for x in cut]
    assert [x.id for x in limit_per_family(s, 4, seed=1)] != [x.id for x in cut]
    assert limit_per_family(s, 50) == s and limit_per_family(s, None) == s
    with pytest.raises(NNProfError, match=">= 1"):
        limit_per_family(s, 0)


def test_common_platform_ignores_only_the_kernel_string():
    import dataclasses

    base = synthetic(4, seed=3)
    cpu = {"cpu_id": "vendor_id=AuthenticAMD family=25 model=17", "threads": 1, "os": "Linux 6.18-a"}
    same = [dataclasses.replace(s, platform=dict(cpu)) for s in base]
    assert common_platform(same) == cpu
    # the VM's kernel was updated between two sittings of one collection: still one machine
    two_os = same[:2] + [dataclasses.replace(s, platform={**cpu, "os": "Linux 6.18-b"}) for s in same[2:]]
    assert common_platform(two_os) == {**cpu, "os": "Linux 6.18-a; Linux 6.18-b"}
    # another CPU or thread count is another platform: mixed
    assert common_platform(same[:2] + [dataclasses.replace(s, platform={**cpu, "threads": 2}) for s in same[2:]]) is None
    assert common_platform(same[:3] + [dataclasses.replace(base[3], platform={})]) is None
    assert common_platform(base) == base[0].platform  # one shared fingerprint, whatever it holds
