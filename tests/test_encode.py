"""nnprof.encode: exact node features, slots, shapes, static features, adjacency, batching."""

import hashlib
import math

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from nnprof.encode import (
    FEATURE_VERSION,
    N_OPS,
    NODE_DIM,
    OP_VOCAB,
    OTHER,
    PE_DIM,
    STATIC_DIM,
    collate,
    encode,
    encode_static,
    f_pe,
    node_slots,
    op_index,
    slot_names,
    static_values,
    unknown_ops,
)
from nnprof.graph import Node, RawGraph, from_onnx


def _graph(nodes, edges=(), batch=1):
    return RawGraph(
        name="t", nodes=nodes, edges=list(edges), batch_size=batch, input_shape=[batch, 3, 8, 8]
    )


def _slot(x, node, k):
    """The 10 features of slot k (0..11) of a node row."""
    start = N_OPS + k * PE_DIM
    return x[node, start : start + PE_DIM]


def test_dimensions_and_version_guard():
    assert N_OPS == len(OP_VOCAB) + 1 == 66
    assert NODE_DIM == N_OPS + 12 * 10 == 186
    assert STATIC_DIM == 40
    assert len(set(OP_VOCAB)) == len(OP_VOCAB)
    # Changing the vocabulary changes every encoded graph: bump FEATURE_VERSION and this line.
    digest = hashlib.sha1(",".join(OP_VOCAB).encode()).hexdigest()[:10]
    assert (FEATURE_VERSION, digest) == ("nnprof-enc-2", "15b1c3bdaa")


def test_reference_ops_come_first_and_aliases():
    ref = [
        "Conv",
        "Relu",
        "Add",
        "Sigmoid",
        "Reshape",
        "MaxPool",
        "Split",
        "GlobalAveragePool",
        "Gemm",
    ]
    assert list(OP_VOCAB[: len(ref)]) == ref
    assert op_index("Upsample") == op_index("Resize") == 10
    assert op_index("MatMul") == 17
    assert op_index("NoSuchOp") == OTHER == N_OPS - 1


def test_conv_node_features_exact():
    """The asymmetric 1x7 conv (stride 1x2, pads 0/3) from an ONNX graph, feature by feature."""
    w = numpy_helper.from_array(np.zeros((5, 3, 1, 7), np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[0, 3, 0, 3], strides=[1, 2], group=1)],
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    raw = from_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert node_slots(raw.nodes[0]) == [1, 7, 1, 2, 0, 6, 1, 1, 1.0, 5.0, 10.0, 10.0]
    assert slot_names("Conv") == [
        "kernel_h",
        "kernel_w",
        "stride_h",
        "stride_w",
        "pad_h",
        "pad_w",
        "dilation",
        "group",
    ]
    e = encode(raw)
    assert e.x.shape == (1, NODE_DIM)
    onehot = e.x[0, :N_OPS]
    assert onehot.sum() == 1 and onehot[op_index("Conv")] == 1
    expected = f_pe(
        torch.tensor([1, 7, 1, 2, 0, 6, 1, 1, 1, 5, 10, 10], dtype=torch.float32)
    ).flatten()
    assert torch.equal(e.x[0, N_OPS:], expected)
    assert torch.equal(
        _slot(e.x, 0, 4), torch.tensor([0.0, 1.0] * 5)
    )  # pad_h = 0 is PE(0), not empty


def test_pe_check_value_in_a_slot_and_empty_slots_are_zero():
    n = Node("p", "MaxPool", attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
             in_shapes=[[1, 8, 16, 16]], out_shape=[1, 8, 8, 8])  # fmt: skip
    r = Node("r", "Relu", in_shapes=[[1, 8, 8, 8]], out_shape=[1, 8, 8, 8])
    e = encode(_graph([n, r], [(0, 1)]))
    k = _slot(e.x, 0, 0)  # kernel_h = 3
    assert torch.allclose(k[:4], torch.tensor([0.141, -0.990, 0.458, 0.889]), atol=1e-3)
    assert node_slots(n)[:8] == [3, 3, 2, 2, 2, 2, 0, 1]
    assert torch.count_nonzero(e.x[1, N_OPS : N_OPS + 80]) == 0  # Relu: all 8 slots empty
    assert torch.equal(_slot(e.x, 1, 8), f_pe(torch.tensor(1.0)))  # N = 1


def test_dense_family_slots():
    gemm = Node("g", "Gemm", attrs={"transB": 1}, in_shapes=[[4, 32], [10, 32], [10]], out_shape=[4, 10],
                has_bias=True, const_inputs=[1, 2])  # fmt: skip
    assert node_slots(gemm) == [32, 1, 0, 1, 1, None, None, None, 4, 10, 1, 1]
    attn = Node("m", "MatMul", in_shapes=[[2, 4, 10, 8], [2, 4, 8, 10]], out_shape=[2, 4, 10, 10])
    assert node_slots(attn) == [8, None, None, None, 0, None, None, None, 2, 4, 10, 10]
    lin = Node(
        "l",
        "MatMul",
        in_shapes=[[1, 197, 192], [192, 576]],
        out_shape=[1, 197, 576],
        const_inputs=[1],
    )
    assert node_slots(lin) == [
        192,
        None,
        None,
        None,
        1,
        None,
        None,
        None,
        1,
        576,
        197,
        1,
    ]  # (B, L, D)
    ein = Node("e", "Einsum", attrs={"equation": "bhid,bhjd->bhij"}, in_shapes=[[2, 4, 10, 8], [2, 4, 12, 8]],
               out_shape=[2, 4, 10, 12])  # fmt: skip
    assert node_slots(ein)[:6] == [8, None, None, None, 0, 2]


def test_other_families_slots():
    ln = Node(
        "ln",
        "LayerNormalization",
        attrs={"axis": -1},
        in_shapes=[[1, 50, 64], [64], [64]],
        out_shape=[1, 50, 64],
    )
    assert node_slots(ln)[:3] == [2, 64, 1]
    sm = Node(
        "s", "Softmax", attrs={"axis": -1}, in_shapes=[[1, 3, 50, 50]], out_shape=[1, 3, 50, 50]
    )
    assert node_slots(sm)[:2] == [3, 50]
    tr = Node("t", "Transpose", attrs={"perm": [0, 1, 3, 2, 4, 5]}, in_shapes=[[1, 2, 3, 4, 5, 6]],
              out_shape=[1, 2, 4, 3, 5, 6])  # fmt: skip
    assert node_slots(tr) == [
        0,
        1,
        3,
        2,
        4,
        5,
        None,
        None,
        1,
        2,
        4,
        3 * 5 * 6,
    ]  # rank 6 keeps the element count
    rs = Node(
        "rs",
        "Resize",
        attrs={"mode": "linear"},
        in_shapes=[[1, 4, 8, 8], [], [4]],
        out_shape=[1, 4, 16, 24],
    )
    assert node_slots(rs)[:4] == [2.0, 3.0, 1, None]
    clip = Node(
        "c", "Clip", attrs={"min": 0.0, "max": 6.0}, in_shapes=[[1, 4], [], []], out_shape=[1, 4]
    )
    assert node_slots(clip)[:3] == [0.0, 6.0, None]
    pad = Node("p", "Pad", attrs={"pads": [0, 0, 1, 2, 0, 0, 3, 4], "mode": "reflect"}, in_shapes=[[1, 4, 8, 8]],
               out_shape=[1, 4, 12, 14])  # fmt: skip
    assert node_slots(pad)[:8] == [None, None, None, None, 4, 6, 1, 0.0]
    red = Node(
        "r",
        "ReduceMean",
        attrs={"axes": [-1, -2], "keepdims": 0},
        in_shapes=[[1, 8, 7, 7]],
        out_shape=[1, 8],
    )
    assert node_slots(red) == [2, 2, 0, 49, None, None, None, None, 1, 8, 1, 1]
    sl = Node("sl", "Slice", attrs={"starts": [1], "ends": [2**63 - 1], "axes": [1], "steps": [1]},
              in_shapes=[[1, 197, 64]], out_shape=[1, 196, 64])  # fmt: skip
    assert node_slots(sl)[:5] == [1, 1, 197, 1, 1]
    add = Node(
        "a", "Add", in_shapes=[[1, 8, 4, 4], [8, 1, 1]], out_shape=[1, 8, 4, 4], const_inputs=[1]
    )
    assert node_slots(add)[:3] == [1, 1, None]
    res = Node("a", "Add", in_shapes=[[1, 8, 4, 4], [1, 8, 4, 4]], out_shape=[1, 8, 4, 4])
    assert node_slots(res)[:3] == [0, 0, None]
    fold = Node("f", "Col2Im", attrs={"image_shape": [4, 4], "block_shape": [2, 2], "strides": [1, 2]},
                in_shapes=[[1, 8, 9], [2], [2]], out_shape=[1, 2, 4, 4])  # fmt: skip
    assert node_slots(fold)[:8] == [2, 2, 1, 2, 0, 0, 1, None]
    gap = Node("g", "GlobalAveragePool", in_shapes=[[1, 8, 7, 5]], out_shape=[1, 8, 1, 1])
    assert node_slots(gap)[:3] == [7, 5, None]
    cat = Node(
        "c", "Concat", attrs={"axis": -1}, in_shapes=[[1, 2], [1, 3], [1, 4]], out_shape=[1, 9]
    )
    assert node_slots(cat)[:3] == [1, 3, None]


def test_output_shape_mapping():
    def shape(op, out):
        return node_slots(Node("n", op, out_shape=out))[8:]

    assert shape("Relu", [2, 3, 4, 5]) == [2, 3, 4, 5]
    assert shape("Add", [2, 197, 768]) == [2, 768, 197, 1]  # tokens (B, L, D) -> N=B, C=D, H=L
    assert shape("Conv", [2, 16, 100]) == [2, 16, 100, 1]  # 1-D conv (N, C, L)
    assert shape("Gemm", [4, 1000]) == [4, 1000, 1, 1]
    assert shape("Reshape", [7]) == [1, 7, 1, 1]
    assert shape("Relu", []) == [None] * 4  # unknown
    e = encode(_graph([Node("n", "Relu", out_shape=[])]))
    assert torch.count_nonzero(e.x[0, N_OPS:]) == 0


def test_unknown_ops_go_to_other():
    g = _graph(
        [Node("a", "Conv"), Node("b", "MyCustomOp"), Node("c", "Upsample"), Node("d", "NonZero")]
    )
    assert unknown_ops(g) == {"MyCustomOp", "NonZero"}
    x = encode(g).x
    assert x[1, OTHER] == 1 and x[3, OTHER] == 1 and x[2, op_index("Resize")] == 1
    assert x[:, :N_OPS].sum(1).tolist() == [1.0] * 4


def test_static_features():
    g = _graph([Node("a", "Conv", macs=4_100_000_000, params=25_600_000, mem=50_000_000)], batch=2)
    v = static_values(g)
    assert v[0] == 2.0
    assert v[1] == pytest.approx(100 * math.log10(1 + 4100))  # 361.3
    assert v[2] == pytest.approx(100 * math.log10(26.6))
    assert v[3] == pytest.approx(100 * math.log10(51))
    s = encode_static(g)
    assert s.shape == (STATIC_DIM,)
    assert torch.equal(s, f_pe(torch.tensor(v, dtype=torch.float64)).flatten())
    assert torch.equal(encode(g).static, s)
    # a 10 % change of MACs moves u by 4.1, well resolved by the faster frequencies
    g2 = _graph([Node("a", "Conv", macs=4_510_000_000, params=25_600_000, mem=50_000_000)], batch=2)
    assert static_values(g2)[1] - v[1] == pytest.approx(4.14, abs=0.01)


def test_adjacency_and_degree():
    nodes = [Node(str(i), "Relu") for i in range(5)]
    # directed edges with a duplicate, a reversed duplicate and a self-loop
    e = encode(_graph(nodes, [(0, 1), (1, 2), (0, 2), (0, 1), (2, 0), (3, 3), (4, 3)]))
    assert e.edges.tolist() == [[0, 0, 1, 3], [1, 2, 2, 4]]
    assert e.edges.dtype == torch.long
    assert e.degree.tolist() == [2.0, 2.0, 2.0, 1.0, 1.0]
    a = e.adjacency()
    assert torch.equal(a, a.T) and a.diagonal().sum() == 0
    assert torch.equal(a.sum(1), e.degree)


def test_collate_encoded_graphs():
    g1 = encode(_graph([Node("a", "Conv", out_shape=[1, 8, 4, 4]), Node("b", "Relu")], [(0, 1)]))
    g2 = encode(_graph([Node(str(i), "Add") for i in range(3)], [(0, 2), (1, 2)], batch=4))
    b = collate([g1, g2])
    assert b.x.shape == (2, 3, NODE_DIM) and b.adj.shape == (2, 3, 3) and b.static.shape == (2, 40)
    assert b.mask.tolist() == [[True, True, False], [True, True, True]]
    assert torch.equal(b.x[0, :2], g1.x) and torch.count_nonzero(b.x[0, 2]) == 0
    assert torch.equal(b.adj[1], g2.adjacency()) and torch.equal(b.degree[1], g2.degree)
    assert torch.equal(b.static[1], g2.static)
    assert len(b) == 2


def test_empty_graph():
    e = encode(_graph([]))
    assert e.x.shape == (0, NODE_DIM) and e.edges.shape == (2, 0) and e.degree.shape == (0,)


def test_encode_round_trip_through_json():
    nodes = [Node("c", "Conv", attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, in_shapes=[[1, 3, 8, 8], [4, 3, 3, 3]],
                  out_shape=[1, 4, 8, 8], macs=100, params=108, mem=364)]  # fmt: skip
    g = _graph(nodes)
    e1, e2 = encode(g), encode(RawGraph.from_json(g.to_json()))
    assert torch.equal(e1.x, e2.x) and torch.equal(e1.static, e2.static)


# timm/torchvision models whose exported graphs together use every op family of the zoo
_SURVEY = [
    "tv:resnet50", "tv:mobilenet_v3_small", "tv:efficientnet_b0", "tv:convnext_tiny", "tv:swin_t",
    "tv:maxvit_t", "tv:shufflenet_v2_x1_0", "tv:densenet121", "tv:inception_v3", "timm:vit_small_patch16_224",
    "timm:mobilevit_xxs", "timm:mobilevitv2_050", "timm:edgenext_xx_small", "timm:hrnet_w18_small",
    "timm:mvitv2_tiny", "timm:tresnet_m", "timm:poolformer_s12", "timm:sequencer2d_s", "timm:efficientvit_b0",
    "timm:regnety_002", "timm:levit_128s", "timm:gcvit_xxtiny", "timm:resnet50_gn",
    "timm:volo_d1_224", "timm:eva02_tiny_patch14_224",  # these two need the dynamo exporter
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", _SURVEY)
def test_vocabulary_covers_zoo_graphs(name):
    from nnprof.export import convert

    g = from_onnx(convert(name, cache=False).model)
    assert unknown_ops(g) == set()
    e = encode(g)
    assert e.x.shape == (len(g.nodes), NODE_DIM)
    assert all(n.out_shape for n in g.nodes)
