"""nnprof.graph: loading, input shapes, nodes/edges and hand-computed MACs/params/memory."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nnprof.errors import NNProfError
from nnprof.graph import RawGraph, from_onnx, load_onnx, set_input_shape

F = TensorProto.FLOAT


def _init(name, *dims, dtype=np.float32):
    return numpy_helper.from_array(np.zeros(dims, dtype=dtype), name)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, F, None) for n in outputs],
        list(inits),
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _one(op, x_shape, inits=(), extra_inputs=(), **attrs):
    """A one-node graph: input x (x_shape) plus initializers -> y. Returns the single Node."""
    names = ["x", *extra_inputs, *[t.name for t in inits]]
    m = _model([helper.make_node(op, names, ["y"], **attrs)], [("x", x_shape)], ["y"], inits)
    g = from_onnx(m)
    assert len(g.nodes) == 1
    return g.nodes[0]


# --------------------------------------------------------------------------- convolutions


def test_grouped_conv():
    n = _one(
        "Conv",
        [1, 8, 16, 16],
        [_init("w", 16, 2, 3, 3), _init("b", 16)],
        group=4,
        pads=[1, 1, 1, 1],
    )
    assert n.out_shape == [1, 16, 16, 16]
    assert n.macs == 16 * 16 * 16 * (2 * 3 * 3)  # out elements x (C_in/group x k x k) = 73728
    assert n.params == 16 * 2 * 9 + 16
    assert n.mem == 16 * 16 * 16 + 304
    assert n.has_bias
    assert n.attrs == {"group": 4, "pads": [1, 1, 1, 1]}
    assert n.in_shapes == [[1, 8, 16, 16], [16, 2, 3, 3], [16]]
    assert n.const_inputs == [1, 2]


def test_depthwise_conv_stride2():
    n = _one(
        "Conv",
        [1, 32, 28, 28],
        [_init("w", 32, 1, 3, 3)],
        group=32,
        strides=[2, 2],
        pads=[1, 1, 1, 1],
    )
    assert n.out_shape == [1, 32, 14, 14]
    assert n.macs == 32 * 14 * 14 * 9 == 56448
    assert n.params == 288
    assert not n.has_bias


def test_dilated_conv():
    n = _one("Conv", [1, 4, 20, 20], [_init("w", 8, 4, 3, 3)], dilations=[2, 2])
    assert n.out_shape == [1, 8, 16, 16]  # effective kernel 5
    assert n.macs == 8 * 16 * 16 * 4 * 9 == 73728


def test_asymmetric_1x7_conv_with_asymmetric_pads_and_strides():
    n = _one("Conv", [1, 3, 10, 20], [_init("w", 5, 3, 1, 7)], pads=[0, 3, 0, 3], strides=[1, 2])
    assert n.out_shape == [1, 5, 10, 10]  # W: (20 + 6 - 7) // 2 + 1 = 10
    assert n.macs == 500 * 3 * 7 == 10500
    assert n.params == 105


def test_conv_auto_pad_same_gets_explicit_pads():
    n = _one("Conv", [1, 2, 7, 7], [_init("w", 4, 2, 4, 4)], auto_pad="SAME_UPPER", strides=[2, 2])
    assert n.out_shape == [1, 4, 4, 4]
    # total pad = (4 - 1) * 2 + 4 - 7 = 3 -> begin 1, end 2 (SAME_UPPER puts the extra at the end)
    assert n.attrs["pads"] == [1, 1, 2, 2]
    assert n.macs == 64 * 2 * 16


def test_conv_transpose():
    n = _one(
        "ConvTranspose",
        [1, 4, 5, 5],
        [_init("w", 4, 3, 3, 3)],
        strides=[2, 2],
        pads=[1, 1, 1, 1],
        output_padding=[1, 1],
    )
    assert n.out_shape == [1, 3, 10, 10]  # (5 - 1) * 2 - 2 + 3 + 1
    assert n.macs == 4 * 5 * 5 * (3 * 3 * 3) == 2700  # in elements x (C_out/group x k x k)
    assert n.params == 108


def test_grouped_conv_transpose():
    n = _one("ConvTranspose", [1, 4, 5, 5], [_init("w", 4, 2, 3, 3), _init("b", 4)], group=2)
    assert n.out_shape == [1, 4, 7, 7]
    assert n.macs == 100 * 2 * 9 == 1800
    assert n.has_bias and n.params == 72 + 4


# --------------------------------------------------------------------------- dense layers


def test_gemm_with_and_without_bias():
    n = _one("Gemm", [2, 8], [_init("w", 16, 8), _init("b", 16)], transB=1)
    assert n.out_shape == [2, 16]
    assert n.macs == 2 * 16 * 8 == 256
    assert n.params == 144 and n.has_bias
    assert n.mem == 32 + 144
    n = _one("Gemm", [8, 2], [_init("w", 8, 16)], transA=1)
    assert n.out_shape == [2, 16]
    assert n.macs == 256 and n.params == 128 and not n.has_bias


def test_batched_matmul_attention():
    m = _model(
        [helper.make_node("MatMul", ["q", "k"], ["s"])],
        [("q", [2, 4, 10, 8]), ("k", [2, 4, 8, 10])],
        ["s"],
    )
    (n,) = from_onnx(m).nodes
    assert n.out_shape == [2, 4, 10, 10]
    assert n.macs == 2 * 4 * 10 * 10 * 8 == 6400
    assert n.params == 0 and n.const_inputs == []


def test_matmul_linear_layer_and_broadcast():
    n = _one("MatMul", [2, 10, 8], [_init("w", 8, 6)])
    assert n.out_shape == [2, 10, 6]
    assert n.macs == 120 * 8 and n.params == 48 and n.const_inputs == [1]
    m = _model(  # (B, h, L, d) x (d, L): the right operand broadcasts over the batch dims
        [helper.make_node("MatMul", ["a", "b"], ["c"])], [("a", [3, 2, 5, 4]), ("b", [4, 7])], ["c"]
    )
    (n,) = from_onnx(m).nodes
    assert n.out_shape == [3, 2, 5, 7] and n.macs == 210 * 4


def test_einsum():
    m = _model(
        [helper.make_node("Einsum", ["q", "k"], ["s"], equation="bhid,bhjd->bhij")],
        [("q", [2, 4, 10, 8]), ("k", [2, 4, 12, 8])],
        ["s"],
    )
    (n,) = from_onnx(m).nodes
    assert n.out_shape == [2, 4, 10, 12]
    assert n.macs == 2 * 4 * 10 * 12 * 8 == 7680
    m = _model(
        [helper.make_node("Einsum", ["a", "b"], ["c"], equation="...ij,jk->...ik")],
        [("a", [3, 5, 6]), ("b", [6, 2])],
        ["c"],
    )
    assert from_onnx(m).nodes[0].macs == 3 * 5 * 6 * 2


# --------------------------------------------------------------------------- pooling, norms, element-wise


def test_pooling():
    assert (
        _one("MaxPool", [1, 4, 8, 8], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]).macs
        == 64 * 9
    )
    n = _one("AveragePool", [1, 4, 8, 8], kernel_shape=[2, 2], strides=[2, 2])
    assert n.out_shape == [1, 4, 4, 4] and n.macs == 64 * 4 and n.attrs["pads"] == [0, 0, 0, 0]
    n = _one("GlobalAveragePool", [1, 4, 8, 8])
    assert n.out_shape == [1, 4, 1, 1] and n.macs == 256 and n.mem == 4
    n = _one("ReduceMean", [1, 4, 8, 8], axes=[2, 3], keepdims=0)  # opset 17: axes is an attribute
    assert n.out_shape == [1, 4] and n.macs == 256


def test_batchnorm_layernorm_and_instancenorm():
    bn = [_init(k, 4) for k in ("s", "b", "m", "v")]
    n = _one("BatchNormalization", [1, 4, 8, 8], bn)
    assert n.macs == 256 and n.params == 16 and n.mem == 256 + 16
    n = _one("LayerNormalization", [2, 10, 8], [_init("g", 8), _init("bb", 8)], axis=-1)
    assert n.out_shape == [2, 10, 8] and n.macs == 5 * 160 and n.params == 16
    n = _one("InstanceNormalization", [1, 4, 8, 8], [_init("g", 4), _init("bb", 4)])
    assert n.macs == 5 * 256 and n.params == 8


def test_elementwise_softmax_resize():
    assert _one("Relu", [1, 4, 8, 8]).macs == 256
    assert _one("Erf", [2, 3]).macs == 6
    assert _one("HardSwish", [1, 4, 8, 8]).macs == 256
    n = _one("Add", [1, 4, 8, 8], [_init("bias", 4, 1, 1)])
    assert n.macs == 256 and n.params == 4
    n = _one("Mul", [1, 4, 8, 8], [_init("half", 1)])
    assert n.macs == 256 and n.params == 0  # scalar constants are not parameters
    assert _one("Softmax", [2, 4, 10, 10], axis=-1).macs == 3 * 800
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    n = _one("Resize", [1, 4, 8, 8], [scales], extra_inputs=[""], mode="nearest")
    assert n.out_shape == [1, 4, 16, 16] and n.macs == 1024 and n.params == 0
    assert n.attrs["scales"] == [1.0, 1.0, 2.0, 2.0]
    n = _one("Resize", [1, 4, 8, 8], [scales], extra_inputs=[""], mode="linear")
    assert n.macs == 1024 * 4  # 2 resized axes -> 2^2 taps
    assert _one("Transpose", [1, 4, 8, 8], perm=[0, 2, 3, 1]).macs == 0


def test_old_opset_resize_and_upsample():
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    for op, opset in (("Resize", 10), ("Upsample", 9)):
        m = _model(
            [helper.make_node(op, ["x", "scales"], ["y"])],
            [("x", [1, 2, 4, 4])],
            ["y"],
            [scales],
            opset,
        )
        (n,) = from_onnx(m).nodes
        assert n.op == op and n.out_shape == [1, 2, 8, 8] and n.macs == 128 and n.params == 0
        assert n.attrs["scales"] == [1.0, 1.0, 2.0, 2.0]


# --------------------------------------------------------------------------- graph structure


def test_edges_constants_and_shared_initializers():
    lo = helper.make_node(
        "Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0.0, np.float32))
    )
    hi = helper.make_node(
        "Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6.0, np.float32))
    )
    nodes = [
        lo,
        hi,
        helper.make_node("Conv", ["x", "w", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c1", "lo", "hi"], ["r"]),
        helper.make_node("Conv", ["r", "w", "b2"], ["c2"], pads=[1, 1, 1, 1]),  # same weight w
        helper.make_node("Add", ["c2", "c1"], ["y"]),
    ]
    inits = [_init("w", 4, 4, 3, 3), _init("b1", 4), _init("b2", 4)]
    g = from_onnx(_model(nodes, [("x", [1, 4, 6, 6])], ["y"], inits))
    assert g.ops() == ["Conv", "Clip", "Conv", "Add"]  # Constants are not nodes
    assert g.edges == [(0, 1), (1, 2), (2, 3), (0, 3)]
    assert g.nodes[1].attrs == {"min": 0.0, "max": 6.0}
    assert g.nodes[1].params == 0 and g.nodes[1].const_inputs == [1, 2]
    assert [n.params for n in g.nodes] == [144 + 4, 0, 4, 0]  # w counted once, by its first user
    assert g.params == 152
    assert g.macs == 2 * (144 * 36) + 144 + 144
    assert g.dense_macs == 2 * 144 * 36
    assert g.batch_size == 1 and g.input_shape == [1, 4, 6, 6]


def test_split_sizes_and_multi_output_mem():
    m = _model(
        [
            helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2),
            helper.make_node("Concat", ["b", "a"], ["y"], axis=1),
        ],
        [("x", [1, 6, 4])],
        ["y"],
        opset=18,
    )
    g = from_onnx(m)
    assert g.nodes[0].attrs["split"] == [3, 3]
    assert g.nodes[0].mem == 24  # both outputs
    assert g.edges == [(0, 1)]  # one edge although Concat reads two outputs of Split


def test_nodes_out_of_order_are_sorted():
    nodes = [helper.make_node("Relu", ["a"], ["y"]), helper.make_node("Sigmoid", ["x"], ["a"])]
    g = from_onnx(_model(nodes, [("x", [2, 3])], ["y"]))
    assert g.ops() == ["Sigmoid", "Relu"] and g.edges == [(0, 1)]


def test_to_dict_round_trip():
    m = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        [("x", [1, 2, 5, 5])],
        ["y"],
        [_init("w", 3, 2, 3, 3)],
    )
    g = from_onnx(m, name="tiny")
    s = g.to_json()
    g2 = RawGraph.from_json(s)
    assert g2 == g
    assert RawGraph.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    assert g2.name == "tiny" and g2.nodes[0].attrs["auto_pad"] == "SAME_UPPER"


# --------------------------------------------------------------------------- files


def _conv_model():
    return _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
        [("x", [1, 3, 8, 8])],
        ["y"],
        [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w"), _init("b", 4)],
    )


def test_weight_stripped_file(tmp_path):
    m = _conv_model()
    full = from_onnx(m)
    for t in m.graph.initializer:  # NNLQP style: dims and type kept, data gone
        t.ClearField("raw_data")
        t.ClearField("float_data")
    p = tmp_path / "stripped.onnx"
    p.write_bytes(m.SerializeToString())
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(m)  # the official checker refuses such files; we do not
    g = from_onnx(load_onnx(p))
    assert g.to_dict() == full.to_dict()
    assert g.macs == 4 * 64 * 27 and g.params == 112


def test_external_stripped_markers_and_initializers_listed_as_inputs(tmp_path):
    from onnx.external_data_helper import set_external_data

    m = _conv_model()
    full = from_onnx(m)
    m.ir_version = 3  # old exporters also list every initializer among the graph inputs
    for t in m.graph.initializer:
        m.graph.input.append(helper.make_tensor_value_info(t.name, F, list(t.dims)))
        set_external_data(t, location='{"type": "stripped"}')  # onnx's weight-stripping tool
        t.ClearField("raw_data")
        t.ClearField("float_data")
    p = tmp_path / "external.onnx"
    p.write_bytes(m.SerializeToString())
    g = from_onnx(load_onnx(p))
    assert g.to_dict() == full.to_dict()
    assert g.input_shape == [1, 3, 8, 8]
    g2 = from_onnx(set_input_shape(load_onnx(p), batch_size=2))
    assert g2.input_shape == [2, 3, 8, 8] and g2.nodes[0].macs == 2 * full.nodes[0].macs


def test_stripped_shape_tensor_leaves_later_shapes_unknown():
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    m = _model(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Reshape", ["r", "shape"], ["f"]),
            helper.make_node("Gemm", ["f", "w"], ["y"], transB=1),
        ],
        [("x", [1, 2, 4, 4])],
        ["y"],
        [shape, _init("w", 10, 32)],
    )
    assert [n.out_shape for n in from_onnx(m).nodes] == [[1, 2, 4, 4], [1, 32], [1, 10]]
    m.graph.initializer[0].ClearField("raw_data")
    m.graph.initializer[0].ClearField("int64_data")
    g = from_onnx(m)
    assert [n.out_shape for n in g.nodes] == [[1, 2, 4, 4], [], []]
    assert g.nodes[2].macs == 0 and g.nodes[2].params == 320  # params need dims only


def _one_line_error(path):
    with pytest.raises(NNProfError) as e:
        load_onnx(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_bad_files(tmp_path):
    assert "no such file" in _one_line_error(tmp_path / "missing.onnx")
    assert "directory" in _one_line_error(tmp_path)
    txt = tmp_path / "notes.onnx"
    txt.write_text("this is not a model\n")
    assert "not an ONNX model" in _one_line_error(txt)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert "empty" in _one_line_error(empty)
    data = _conv_model().SerializeToString()
    for cut in (7, len(data) // 2, len(data) - 3):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(data[:cut])
        _one_line_error(p)


def test_corrupt_but_decodable_file(tmp_path):
    m = _conv_model()
    m.graph.node[0].input[0] = "nowhere"
    p = tmp_path / "dangling.onnx"
    p.write_bytes(m.SerializeToString())
    assert "nowhere" in _one_line_error(p)
    m = _conv_model()
    del m.opset_import[:]
    p.write_bytes(m.SerializeToString())
    assert "opset" in _one_line_error(p)


# --------------------------------------------------------------------------- input shapes


def _dynamic_model():
    x = helper.make_tensor_value_info("x", F, ["N", 3, "H", "W"])
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("GlobalAveragePool", ["c"], ["y"]),
        ],
        "dyn",
        [x],
        [helper.make_tensor_value_info("y", F, ["N", 4, 1, 1])],
        [_init("w", 4, 3, 3, 3)],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_dynamic_input_needs_input_size():
    with pytest.raises(NNProfError, match="--input-size"):
        from_onnx(_dynamic_model())
    with pytest.raises(NNProfError, match="--input-size"):
        set_input_shape(_dynamic_model(), batch_size=2)


def test_set_input_shape_fixes_batch_and_spatial_dims():
    m = set_input_shape(_dynamic_model(), batch_size=2, input_size=32)
    g = from_onnx(m)
    assert g.input_shape == [2, 3, 32, 32] and g.batch_size == 2
    assert g.nodes[0].out_shape == [2, 4, 32, 32]
    assert g.nodes[0].macs == 2 * 4 * 32 * 32 * 27
    assert len(m.graph.initializer) == 1  # the returned model is complete, weights included
    g1 = from_onnx(set_input_shape(_dynamic_model(), input_size=16))  # batch defaults to 1
    assert g1.input_shape == [1, 3, 16, 16]


def test_set_input_shape_overrides_static_dims():
    g = from_onnx(set_input_shape(_conv_model(), batch_size=4, input_size=10))
    assert g.input_shape == [4, 3, 10, 10] and g.nodes[0].out_shape == [4, 4, 10, 10]
    with pytest.raises(NNProfError, match="--batch-size"):
        set_input_shape(_conv_model(), batch_size=0)


def test_set_input_shape_refuses_a_baked_in_reshape():
    shape = numpy_helper.from_array(np.array([1, 48], np.int64), "shape")
    m = _model(
        [
            helper.make_node("Relu", ["x"], ["r"]),
            helper.make_node("Reshape", ["r", "shape"], ["y"]),
        ],
        [("x", [1, 3, 4, 4])],
        ["y"],
        [shape],
    )
    assert from_onnx(m).nodes[1].out_shape == [1, 48]
    assert from_onnx(m).nodes[1].attrs["shape"] == [1, 48]
    with pytest.raises(NNProfError, match="baked in"):
        set_input_shape(m, batch_size=2)


def test_set_input_shape_refuses_a_reshape_that_folds_the_batch():
    """ViT exports reshape to a constant [1, C, -1]: the element count still matches at
    another batch, but the batch lands in the token axis and the MatMul after it no longer
    fits, so inference loses every shape from there on (and the work would count as 0)."""
    shape = numpy_helper.from_array(np.array([1, 4, -1], np.int64), "shape")
    w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
    m = _model(
        [
            helper.make_node("Reshape", ["x", "shape"], ["t"]),
            helper.make_node("MatMul", ["t", "w"], ["y"]),
            helper.make_node("Relu", ["y"], ["z"]),
        ],
        [("x", [1, 4, 8])],
        ["z"],
        [shape, w],
    )
    assert from_onnx(m).nodes[1].out_shape == [1, 4, 3]
    with pytest.raises(NNProfError, match="does not fit MatMul .*baked in"):
        set_input_shape(m, batch_size=2)


# --------------------------------------------------------------------------- real models


@pytest.mark.parametrize(
    "name, gmacs, mparams, total_tol",
    [
        ("resnet50", 4.1, 25.6, 0.02),
        # element-wise ops (35 ReLU6 Clips: 6.1 M) add 2.1 % on top of the 0.30 G of conv/linear MACs
        ("mobilenet_v2", 0.30, 3.5, 0.03),
    ],
)
def test_published_totals(name, gmacs, mparams, total_tol):
    from nnprof.export import convert  # TorchScript exporter, opset 18, onnxsim

    g = from_onnx(convert(f"tv:{name}", cache=False).model)
    assert abs(g.dense_macs / 1e9 / gmacs - 1) < 0.02, g.dense_macs
    assert abs(g.macs / 1e9 / gmacs - 1) < total_tol, g.macs
    assert abs(g.params / 1e6 / mparams - 1) < 0.02, g.params
    assert all(n.out_shape for n in g.nodes)


def test_col2im_fold():
    image = numpy_helper.from_array(np.array([4, 4], np.int64), "image")
    block = numpy_helper.from_array(np.array([2, 2], np.int64), "block")
    m = _model(
        [helper.make_node("Col2Im", ["x", "image", "block"], ["y"])],
        [("x", [1, 8, 9])],  # C x kh x kw = 2 x 2 x 2 rows, 3 x 3 block positions
        ["y"],
        [image, block],
        opset=18,
    )
    (n,) = from_onnx(m).nodes
    assert n.out_shape == [1, 2, 4, 4]
    assert n.macs == 72 and n.params == 0
    assert n.attrs == {"image_shape": [4, 4], "block_shape": [2, 2]}
