"""ONNX -> raw graph: ops, attributes, shapes, edges and per-node cost counts.

The raw graph is a plain, JSON-serialisable record of a network. It holds everything the
encoder needs, so a dataset can keep raw graphs and be re-encoded when the encoding
changes, without converting or measuring anything again.

Conventions
-----------
* One node per ONNX operator. Graph inputs and initializers (weights) are not nodes.
  ``Constant`` operators are not nodes either: their outputs are treated exactly like
  initializers (onnxsim folds most of them into initializers anyway; the few it leaves,
  e.g. Clip bounds, are configuration, not computation).
* Edges follow tensors from producer node to consumer node (directed, node indices).
  A pair appears once even when the consumer reads several outputs of the producer.
  Nodes are listed in topological order (the ONNX order, re-sorted if a file breaks it).
* Shapes (``in_shapes``, ``out_shape``) come from ONNX shape inference (strict mode,
  falling back to non-strict when strict fails). A shape that is not fully known is ``[]``
  (so is an absent optional input; a scalar is ``[]`` too).
* ``attrs``: the ONNX attributes, JSON-friendly (strings decoded, tensors/graphs left out,
  non-finite floats -> None). Constant inputs that older opsets had as attributes are
  added under their old attribute names when their values are stored in the file:
  Pad ``pads``/``value``/``axes``, Split ``split`` (always filled, from the output shapes
  if need be), Reduce*/Squeeze/Unsqueeze ``axes``, Resize/Upsample ``scales``/``sizes``,
  Clip ``min``/``max``, Reshape/Expand ``shape``, Tile ``repeats``, Slice
  ``starts``/``ends``/``axes``/``steps``, Pow ``exponent``. ``auto_pad`` convolutions and
  pools get explicit ``pads`` computed from the shapes.
* Weight-stripped files (initializers that keep dims and type but no data, as in NNLQP,
  or data marked as external) work: only dims are needed for counting, and shape
  inference runs on a skeleton copy that never holds the weights (which also keeps
  models > 2 GB working). Old files that list initializers among the graph inputs are
  fine. If a stripped tensor is a shape (a Reshape target), shapes after it are unknown.
* Control-flow bodies (If/Loop/Scan) are not expanded: such a node counts 0.

Counts
------
``macs`` is a multiply-accumulate count (one MAC = one multiply + one add) for the ops
that multiply-accumulate, and one operation per element for the rest, so that a graph has
one cost figure. nnprof calls it "FLOPs" like the published zoo tables (ResNet-50 at 224:
"4.1 GFLOPs" = 4.1 G MACs). Bias additions are not counted (folded into the MAC).
Published tables count only the multiply-accumulate layers: ``RawGraph.dense_macs``
(Conv/ConvTranspose/Gemm/MatMul/Einsum/LSTM/GRU/RNN) is that figure; ``RawGraph.macs`` adds the
per-element work (ResNet-50: 4.089 G dense, 4.106 G total; MobileNetV2: 0.301 G dense,
0.307 G total, the ReLU6 Clips adding 2 %).

=========================================  ================================================
op                                         macs
=========================================  ================================================
Conv (any group, dilation, padding, rank)  out_elems x (C_in / group) x prod(kernel)
ConvTranspose                              in_elems x (C_out / group) x prod(kernel)
Gemm                                       M x N x K
MatMul (batched, broadcast)                out_elems x K (K = last dim of A)
Einsum                                     product of the sizes of all indices (the naive
                                           loop count; exact for 2-operand contractions)
MaxPool / AveragePool / LpPool             out_elems x prod(kernel)
GlobalAveragePool / GlobalMaxPool          in_elems
Col2Im (fold)                              in_elems
Reduce* / ArgMax / ArgMin                  in_elems
BatchNormalization                         out_elems (inference: one folded x*a+b)
LayerNorm / GroupNorm / InstanceNorm       5 x out_elems (mean, subtract, variance,
                                           normalise, affine; fvcore's convention)
Softmax / LogSoftmax                       3 x out_elems (exp, sum, divide)
Resize / Upsample                          out_elems x (1 nearest, 2^k linear, 4^k cubic;
                                           k = number of resized axes)
LRN                                        out_elems x size
LSTM / GRU / RNN                           seq x batch x (elements of W + R): the gate
                                           matrix products, all gates and directions
element-wise (Add, Mul, Relu, Sigmoid,     out_elems (one op per output element,
HardSwish, Gelu, Erf, Clip, Div, Pow, ...)  whatever the function costs)
data movement (Reshape, Transpose, Concat,  0 (no arithmetic; their cost shows in mem)
Slice, Gather, Pad, Cast, ...) and unknown
=========================================  ================================================

``params``: elements of the floating-point initializers (or Constant outputs) a node
consumes, excluding scalars (epsilons, clip bounds, Gelu constants) and configuration
inputs (Resize roi/scales, Pad pads/value, Clip min/max). Integer initializers (shapes,
axes, indices) are configuration, not parameters. An initializer read by several nodes
is counted once, by its first consumer in topological order, so ``RawGraph.params`` is
the number of distinct parameter elements. Because exporters fold BatchNorm into Conv,
a fused ONNX graph has one bias per conv instead of BN's (gamma, beta), so its count
differs slightly from PyTorch's ``numel`` sum (ResNet-50: 25.53 M vs 25.56 M).

``mem``: memory access in elements = elements of all the node's outputs + its
``params`` (NNLQP's definition). Bytes = 4 x elements for fp32.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nnprof.errors import NNProfError

if TYPE_CHECKING:  # onnx is imported lazily so that `nnprof --help` stays instant
    import onnx

RAW_GRAPH_VERSION = 1
DENSE_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "Gemm",
        "MatMul",
        "Einsum",
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
        "LSTM",
        "GRU",
        "RNN",
    }
)


@dataclass
class Node:
    name: str
    op: str  # ONNX op_type, e.g. "Conv"
    attrs: dict[str, Any] = field(default_factory=dict)  # ONNX attributes, JSON-friendly values
    in_shapes: list[list[int]] = field(default_factory=list)  # shapes of all inputs ([] if unknown)
    out_shape: list[int] = field(default_factory=list)  # shape of the first output, batch included
    has_bias: bool = False  # Conv/ConvTranspose/Gemm: a third input is present
    macs: int = 0
    params: int = 0
    mem: int = 0
    const_inputs: list[int] = field(
        default_factory=list
    )  # input indices fed by initializers/Constants


@dataclass
class RawGraph:
    name: str
    nodes: list[Node]
    edges: list[tuple[int, int]]  # (producer, consumer) node indices
    batch_size: int
    input_shape: list[int]  # shape of the (first) graph input, batch included
    version: int = RAW_GRAPH_VERSION

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def dense_macs(self) -> int:
        """MACs of the DENSE_OPS (Conv, Gemm, MatMul, ...) only: what published zoo tables count."""
        return sum(n.macs for n in self.nodes if n.op in DENSE_OPS)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def mem(self) -> int:
        return sum(n.mem for n in self.nodes)

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["edges"] = [list(e) for e in self.edges]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawGraph:
        nodes = [Node(**n) for n in d["nodes"]]
        return cls(
            name=d["name"],
            nodes=nodes,
            edges=[(int(a), int(b)) for a, b in d["edges"]],
            batch_size=int(d["batch_size"]),
            input_shape=[int(s) for s in d["input_shape"]],
            version=int(d.get("version", RAW_GRAPH_VERSION)),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, s: str) -> RawGraph:
        return cls.from_dict(json.loads(s))


# --------------------------------------------------------------------------- loading


def load_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read an ONNX file without its external weight data; one-line NNProfError if unusable.

    Weight-stripped files (initializers with dims but no data) load fine: nothing here
    needs the weights.
    """
    import onnx
    from google.protobuf.message import DecodeError

    p = os.fspath(path)
    if not os.path.exists(p):
        raise NNProfError(f"{p}: no such file; check the path")
    if os.path.isdir(p):
        raise NNProfError(f"{p}: is a directory, not an ONNX file")
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        raise NNProfError(f"{p}: cannot read ({e.strerror or e})") from None
    if not data:
        raise NNProfError(f"{p}: empty file, not an ONNX model")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError):
        raise NNProfError(
            f"{p}: not an ONNX model, or a truncated/corrupt one (protobuf decoding failed)"
        ) from None
    problem = _structural_problem(model)
    if problem:
        raise NNProfError(
            f"{p}: not a valid ONNX model ({problem}); the file may be truncated or corrupt"
        )
    return model


def _structural_problem(model: onnx.ModelProto) -> str | None:
    """A light validity check that, unlike onnx.checker, accepts weight-stripped files."""
    if model.ir_version <= 0:
        return "no IR version"
    if not model.opset_import:
        return "no opset import"
    g = model.graph
    if not g.node:
        return "the graph has no nodes"
    if not g.output:
        return "the graph has no outputs"
    known = {vi.name for vi in g.input} | {t.name for t in g.initializer} | {""}
    known |= {t.values.name for t in g.sparse_initializer}
    for n in g.node:
        known.update(n.output)
    for n in g.node:
        for x in n.input:
            if x not in known:
                return f"node {n.name or n.op_type!r} reads tensor {x!r} that nothing produces"
    for o in g.output:
        if o.name not in known:
            return f"graph output {o.name!r} is never produced"
    return None


# --------------------------------------------------------------------------- shapes


def _graph_inputs(g: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Real graph inputs: old IR versions also list the initializers as inputs."""
    inits = {t.name for t in g.initializer}
    return [vi for vi in g.input if vi.name not in inits]


def _dims(vi: onnx.ValueInfoProto) -> list[int | str | None] | None:
    """Dims of a value: int if known, dim_param string or None if not; None if rank unknown."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or None)
    return out


def _known(dims: list[Any] | None) -> list[int] | None:
    if dims is None or not all(isinstance(d, int) for d in dims):
        return None
    return [int(d) for d in dims]


def _fmt(dims: list[Any] | None) -> str:
    if dims is None:
        return "(unknown rank)"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy without the weight data (dims and types kept); small tensors keep their data.

    Tensors whose data is missing (stripped, or stored externally) keep only name, type
    and dims, so that shape inference never tries to read them.
    """
    sk = _without_initializers(model)
    for t in model.graph.initializer:
        s = sk.graph.initializer.add()
        if _numel(t.dims) <= _SMALL and _has_data(t):
            s.CopyFrom(t)
        else:
            s.name, s.data_type = t.name, t.data_type
            s.dims.extend(t.dims)
    return sk


def _without_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnx

    m = onnx.ModelProto()
    _copy_fields(model, m, skip="graph")
    _copy_fields(model.graph, m.graph, skip="initializer")
    return m


def _copy_fields(src: Any, dst: Any, skip: str) -> None:
    """Copy every set protobuf field of src into dst except one (no serialisation)."""
    for f, v in src.ListFields():
        if f.name == skip:
            continue
        repeated = getattr(f, "is_repeated", None)
        if repeated is None:  # older protobuf
            repeated = f.label == f.LABEL_REPEATED
        if repeated:
            getattr(dst, f.name).extend(v)
        elif f.message_type is not None:
            getattr(dst, f.name).CopyFrom(v)
        else:
            setattr(dst, f.name, v)


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference, strict where possible (non-strict when strict mode fails)."""
    from onnx import shape_inference

    try:
        return shape_inference.infer_shapes(
            model, check_type=False, strict_mode=True, data_prop=True
        )
    except Exception:
        pass
    try:
        return shape_inference.infer_shapes(
            model, check_type=False, strict_mode=False, data_prop=True
        )
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NNProfError(f"ONNX shape inference failed: {msg[:200]}") from None


def _clear_inferred(g: onnx.GraphProto) -> None:
    """Drop inferred shapes (value_info, output dims) so new input dims can propagate."""
    del g.value_info[:]
    for o in g.output:
        if o.type.HasField("tensor_type"):
            o.type.tensor_type.ClearField("shape")


def set_input_shape(
    model: onnx.ModelProto, batch_size: int | None = None, input_size: int | None = None
) -> onnx.ModelProto:
    """Fix the graph inputs' dims and re-run shape inference; returns a new model.

    Dim 0 is the batch: set to ``batch_size`` if given, else to 1 when it is dynamic.
    Dims 2.. of inputs of rank >= 3 are spatial: set to ``input_size`` if given.
    Static dims are overridden only when a size is given; the result is checked for
    Reshape nodes that then disagree (a size baked into the file) and refused if so.
    Raises NNProfError when a dim stays unknown (pass --input-size) or the new shape
    does not fit the graph.
    """
    import onnx

    for what, v in (("--batch-size", batch_size), ("--input-size", input_size)):
        if v is not None and int(v) <= 0:
            raise NNProfError(f"{what} must be a positive integer, got {v}")
    sk = _skeleton(model)
    inputs = _graph_inputs(sk.graph)
    if not inputs:
        raise NNProfError("the ONNX graph has no inputs")
    original = onnx.ModelProto()
    original.CopyFrom(sk)  # for what shape inference could follow before the change
    changed = False
    for vi in inputs:
        dims = _dims(vi)
        if dims is None:
            raise NNProfError(
                f"input {vi.name!r} has an unknown rank; re-export the model with a static input shape"
            )
        new: list[int | str | None] = list(dims)
        for i, d in enumerate(dims):
            want: int | None = None
            if i == 0:
                want = batch_size if batch_size is not None else (None if isinstance(d, int) else 1)
            elif i >= 2 and len(dims) >= 3 and input_size is not None:
                want = input_size
            if want is not None and want != d:
                new[i] = int(want)
        if any(not isinstance(d, int) for d in new):
            hint = "pass --input-size (e.g. --input-size 224)"
            if len(new) >= 2 and not isinstance(new[1], int):
                hint = (
                    "the channel dim is unknown too: re-export the model with a static input shape"
                )
            raise NNProfError(f"input {vi.name!r} has unknown dims {_fmt(new)}; {hint}")
        if new != dims:
            changed = True
            shape = vi.type.tensor_type.shape
            for i, d in enumerate(new):
                shape.dim[i].Clear()
                shape.dim[i].dim_value = int(d)  # type: ignore[arg-type]
    if changed:
        _clear_inferred(sk.graph)
    inferred = _infer(sk)
    if changed:
        shapes = ", ".join(_fmt(_dims(vi)) for vi in inputs)
        _check_reshapes(inferred, shapes)
        _check_shapes_kept(_infer(original), inferred, shapes)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    by_name = {vi.name: vi for vi in inferred.graph.input}
    for vi in g.input:
        if vi.name in by_name:
            vi.CopyFrom(by_name[vi.name])
    del g.value_info[:]
    g.value_info.extend(inferred.graph.value_info)
    del g.output[:]
    g.output.extend(inferred.graph.output)
    return out


def _check_reshapes(model: onnx.ModelProto, shapes: str) -> None:
    shapes = _shape_table(model)
    for n in model.graph.node:
        if n.op_type == "Reshape" and n.input and n.output:
            a, b = shapes.get(n.input[0]), shapes.get(n.output[0])
            if a is not None and b is not None and _numel(a) != _numel(b):
                raise NNProfError(
                    f"the input shape {shapes} does not fit Reshape {n.name or n.output[0]!r} "
                    f"({a} -> {b}): this ONNX file has its size baked in; re-export it at the size you want"
                )


def _check_shapes_kept(before: onnx.ModelProto, after: onnx.ModelProto, shapes: str) -> None:
    """Refuse a new input shape that shape inference cannot follow where it followed the
    original one. A Reshape to a constant that keeps the element count but folds the new
    batch into another axis (ViT exports: [1, 384, -1]) passes `_check_reshapes`, and the
    nodes after it would get no shapes and count no work: wrong figures, no error."""
    known_before = {k for k, v in _shape_table(before).items() if v is not None}
    known_after = {k for k, v in _shape_table(after).items() if v is not None}
    for n in before.graph.node:
        if any(o in known_before and o not in known_after for o in n.output):
            raise NNProfError(
                f"the input shape {shapes} does not fit {n.op_type} {n.name or n.output[0]!r} (shape inference "
                "cannot follow it): this ONNX file has its size baked in; re-export it at the size you want"
            )


def _shape_table(model: onnx.ModelProto) -> dict[str, list[int] | None]:
    g = model.graph
    table: dict[str, list[int] | None] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        table[vi.name] = _known(_dims(vi))
    for t in g.initializer:
        table[t.name] = [int(d) for d in t.dims]
    return table


# --------------------------------------------------------------------------- from_onnx

_SMALL = 1024  # tensors up to this many elements keep their data in the skeleton
_FLOAT_TYPES = {
    1,
    10,
    11,
    16,
    17,
    18,
    19,
    20,
    23,
}  # float, float16, double, bfloat16, float8*, float4
_NON_PARAM_INPUTS = {  # configuration inputs that are floating point but not weights
    "Resize": {1, 2, 3},
    "Upsample": {1},
    "Pad": {1, 2, 3},
    "Clip": {1, 2},
}
_INPUT_ATTRS = {  # op -> {input index: attribute name in older opsets}
    "Pad": {1: "pads", 2: "value", 3: "axes"},
    "Split": {1: "split"},
    "Squeeze": {1: "axes"},
    "Unsqueeze": {1: "axes"},
    "Resize": {2: "scales", 3: "sizes"},
    "Upsample": {1: "scales"},
    "Clip": {1: "min", 2: "max"},
    "Reshape": {1: "shape"},
    "Expand": {1: "shape"},
    "Tile": {1: "repeats"},
    "Slice": {1: "starts", 2: "ends", 3: "axes", 4: "steps"},
    "Pow": {1: "exponent"},
    "Col2Im": {1: "image_shape", 2: "block_shape"},
}
for _r in (
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
):
    _INPUT_ATTRS[_r] = {1: "axes"}

ELEMENTWISE_OPS = frozenset(
    "Add Sub Mul Div Pow Sqrt Relu LeakyRelu PRelu Sigmoid HardSigmoid HardSwish Tanh Erf Gelu "
    "Exp Log Abs Neg Reciprocal Clip Max Min Sum Mean Elu Selu Celu Softplus Softsign Mish Swish "
    "ThresholdedRelu Floor Ceil Round Sign Sin Cos Tan Where Equal Less Greater LessOrEqual "
    "GreaterOrEqual And Or Not Xor Mod BitShift IsNaN IsInf Shrink".split()
)
MOVEMENT_OPS = frozenset(
    "Reshape Flatten Squeeze Unsqueeze Transpose Concat Split Slice Gather GatherElements GatherND "
    "Pad Expand Tile Identity Cast CastLike Shape Size ConstantOfShape Range DepthToSpace "
    "SpaceToDepth ScatterND ScatterElements Dropout Trilu".split()
)
NORM_OPS = frozenset({"LayerNormalization", "GroupNormalization", "InstanceNormalization"})


def _numel(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _has_data(t: onnx.TensorProto) -> bool:
    if t.data_location == 1:  # EXTERNAL
        return False
    if _numel(t.dims) == 0:
        return True
    return bool(
        t.raw_data
        or t.float_data
        or t.int32_data
        or t.int64_data
        or t.double_data
        or t.uint64_data
        or t.string_data
    )


def _tensor_value(t: onnx.TensorProto) -> Any:
    """Small tensor -> nested Python list / scalar; None if too big or stripped."""
    from onnx import numpy_helper

    if _numel(t.dims) > 64 or not _has_data(t):
        return None
    try:
        return _jsonable(numpy_helper.to_array(t).tolist())
    except Exception:
        return None


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _attr_value(a: onnx.AttributeProto) -> Any:
    import onnx

    t = a.type
    if t == onnx.AttributeProto.INT:
        return int(a.i)
    if t == onnx.AttributeProto.FLOAT:
        return _jsonable(float(a.f))
    if t == onnx.AttributeProto.STRING:
        return _jsonable(a.s)
    if t == onnx.AttributeProto.INTS:
        return [int(x) for x in a.ints]
    if t == onnx.AttributeProto.FLOATS:
        return [_jsonable(float(x)) for x in a.floats]
    if t == onnx.AttributeProto.STRINGS:
        return [_jsonable(x) for x in a.strings]
    if t == onnx.AttributeProto.TENSOR:
        return _tensor_value(a.t)
    return None  # graphs, sparse tensors, type protos: not JSON material


class _Const:
    """A constant tensor (initializer or Constant output): dims, dtype, value if small."""

    __slots__ = ("dims", "dtype", "value")

    def __init__(self, dims: list[int], dtype: int, value: Any) -> None:
        self.dims, self.dtype, self.value = dims, dtype, value


def _constant_node(n: onnx.NodeProto) -> _Const | None:
    import onnx

    for a in n.attribute:
        if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
            return _Const([int(d) for d in a.t.dims], a.t.data_type, _tensor_value(a.t))
        if a.name == "value_float":
            return _Const([], 1, _jsonable(float(a.f)))
        if a.name == "value_floats":
            return _Const([len(a.floats)], 1, [_jsonable(float(x)) for x in a.floats])
        if a.name == "value_int":
            return _Const([], 7, int(a.i))
        if a.name == "value_ints":
            return _Const([len(a.ints)], 7, [int(x) for x in a.ints])
        if a.name == "sparse_value":
            return _Const(
                [int(d) for d in a.sparse_tensor.dims], a.sparse_tensor.values.data_type, None
            )
    return None


def _topo_order(nodes: list[onnx.NodeProto], const: set[str]) -> list[int]:
    """Kahn's algorithm over tensor dependencies, stable in the file's order."""
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer[o] = i
    deps = [
        {producer[x] for x in n.input if x in producer and x not in const} - {i}
        for i, n in enumerate(nodes)
    ]
    if all(max(d, default=-1) < i for i, d in enumerate(deps)):
        return list(range(len(nodes)))
    users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for i, d in enumerate(deps):
        for p in d:
            users[p].append(i)
    indeg = [len(d) for d in deps]
    import heapq

    ready = [i for i, k in enumerate(indeg) if k == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        raise NNProfError("the ONNX graph has a cycle; the file is corrupt")
    return order


def from_onnx(model: onnx.ModelProto, name: str = "") -> RawGraph:
    """ONNX model -> RawGraph with shapes, attributes, edges and per-node counts.

    Dynamic input dims are fixed first (batch -> 1; unknown spatial dims raise an
    NNProfError asking for --input-size: call ``set_input_shape`` to choose sizes).
    """
    sk = _skeleton(model)
    dynamic = any(_known(_dims(vi)) is None for vi in _graph_inputs(sk.graph))
    inferred = set_input_shape(sk) if dynamic else _infer(sk)
    g = inferred.graph
    shapes = _shape_table(inferred)

    consts: dict[str, _Const] = {}
    for t in g.initializer:
        consts[t.name] = _Const([int(d) for d in t.dims], t.data_type, _tensor_value(t))
    for t in g.sparse_initializer:
        consts[t.values.name] = _Const([int(d) for d in t.dims], t.values.data_type, None)
    onnx_nodes = []
    for n in g.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and len(n.output) == 1:
            c = _constant_node(n)
            if c is not None:
                consts[n.output[0]] = c
                shapes[n.output[0]] = c.dims
                continue
        onnx_nodes.append(n)
    order = _topo_order(onnx_nodes, set(consts))
    onnx_nodes = [onnx_nodes[i] for i in order]

    producer: dict[str, int] = {}
    for i, n in enumerate(onnx_nodes):
        for o in n.output:
            if o:
                producer[o] = i
    counted: set[str] = set()  # parameter tensors already attributed to a node
    nodes: list[Node] = []
    edges: list[tuple[int, int]] = []
    for i, n in enumerate(onnx_nodes):
        in_shapes = [(shapes.get(x) or []) if x else [] for x in n.input]
        out_shapes = [shapes.get(o) for o in n.output if o]
        out_shape = (out_shapes[0] or []) if out_shapes else []
        attrs = {a.name: v for a in n.attribute if (v := _attr_value(a)) is not None}
        from_inputs = _INPUT_ATTRS.get(n.op_type, {})
        if n.op_type == "Resize" and len(n.input) == 2:
            from_inputs = {1: "scales"}  # opset 10: Resize(X, scales)
        for k, key in from_inputs.items():
            if k < len(n.input) and n.input[k] in consts and key not in attrs:
                v = consts[n.input[k]].value
                if v is not None:
                    attrs[key] = v
        _derive_attrs(n.op_type, attrs, in_shapes, out_shape, [s or [] for s in out_shapes])
        params = 0
        skip = _NON_PARAM_INPUTS.get(n.op_type, set())
        for k, x in enumerate(n.input):
            c = consts.get(x)
            if c is None or k in skip or x in counted or c.dtype not in _FLOAT_TYPES:
                continue
            if _numel(c.dims) > 1:
                params += _numel(c.dims)
                counted.add(x)
        has_bias = (
            n.op_type in ("Conv", "ConvTranspose", "Gemm") and len(n.input) > 2 and bool(n.input[2])
        )
        macs = op_macs(n.op_type, attrs, in_shapes, out_shape)
        out_elems = sum(_numel(s) for s in out_shapes if s is not None)
        nodes.append(
            Node(
                name=n.name or f"{n.op_type}_{i}",
                op=n.op_type,
                attrs=attrs,
                in_shapes=in_shapes,
                out_shape=out_shape,
                has_bias=has_bias,
                macs=int(macs),
                params=int(params),
                mem=int(out_elems + params),
                const_inputs=[k for k, x in enumerate(n.input) if x in consts],
            )
        )
        seen: set[int] = set()
        for x in n.input:
            p = producer.get(x)
            if p is not None and p != i and p not in seen:
                seen.add(p)
                edges.append((p, i))

    first = _graph_inputs(g)
    input_shape = (_known(_dims(first[0])) or []) if first else []
    return RawGraph(
        name=name or g.name,
        nodes=nodes,
        edges=edges,
        batch_size=int(input_shape[0]) if input_shape else 1,
        input_shape=input_shape,
    )


def _derive_attrs(
    op: str,
    attrs: dict[str, Any],
    in_shapes: list[list[int]],
    out_shape: list[int],
    out_shapes: list[list[int]],
) -> None:
    """Fill attributes that are implied by shapes (auto_pad pads, Split sizes)."""
    if op == "Split" and "split" not in attrs and in_shapes and in_shapes[0] and all(out_shapes):
        axis = attrs.get("axis", 0) % len(in_shapes[0])
        attrs["split"] = [s[axis] for s in out_shapes]
    if op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool") and "pads" not in attrs:
        mode = attrs.get("auto_pad", "NOTSET")
        x = in_shapes[0] if in_shapes else []
        k = attrs.get("kernel_shape") or (
            in_shapes[1][2:] if len(in_shapes) > 1 and len(in_shapes[1]) > 2 else []
        )
        if (
            mode in ("SAME_UPPER", "SAME_LOWER")
            and x
            and out_shape
            and k
            and len(x) == len(out_shape)
        ):
            r = len(k)
            s = attrs.get("strides") or [1] * r
            d = attrs.get("dilations") or [1] * r
            begin, end = [], []
            for j in range(r):
                xi, oi = x[2 + j], out_shape[2 + j]
                if op == "ConvTranspose":
                    op_ = (attrs.get("output_padding") or [0] * r)[j]
                    total = (xi - 1) * s[j] + op_ + (k[j] - 1) * d[j] + 1 - oi
                else:
                    total = (oi - 1) * s[j] + (k[j] - 1) * d[j] + 1 - xi
                total = max(total, 0)
                small, big = total // 2, total - total // 2
                b, e = (small, big) if mode == "SAME_UPPER" else (big, small)
                begin.append(b)
                end.append(e)
            attrs["pads"] = begin + end
        elif k:
            attrs["pads"] = [0] * (2 * len(k))


def op_macs(
    op: str, attrs: dict[str, Any], in_shapes: list[list[int]], out_shape: list[int]
) -> int:
    """MACs of one node from its op, attributes and shapes (see the module docstring)."""
    x = in_shapes[0] if in_shapes else []
    out = _numel(out_shape) if out_shape else 0
    if op in ("Conv", "QLinearConv", "ConvInteger"):
        w = (
            in_shapes[3]
            if op == "QLinearConv" and len(in_shapes) > 3
            else (in_shapes[1] if len(in_shapes) > 1 else [])
        )
        return out * _numel(w[1:]) if w and out_shape else 0
    if op == "ConvTranspose":
        w = in_shapes[1] if len(in_shapes) > 1 else []
        return _numel(x) * _numel(w[1:]) if w and x else 0
    if op == "Gemm":
        if len(x) != 2 or not out_shape:
            return 0
        k = x[0] if attrs.get("transA", 0) else x[1]
        return out * k
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        return out * x[-1] if x and out_shape else 0
    if op == "Einsum":
        return _einsum_macs(str(attrs.get("equation", "")), in_shapes)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        k = attrs.get("kernel_shape") or []
        return out * _numel(k)
    if op == "Col2Im":  # fold: every input element is added into the image once
        return _numel(x) if x else 0
    if op in (
        "GlobalAveragePool",
        "GlobalMaxPool",
        "GlobalLpPool",
        "ArgMax",
        "ArgMin",
    ) or op.startswith("Reduce"):
        return _numel(x) if x else 0
    if op == "BatchNormalization":
        return out
    if op in NORM_OPS:
        return 5 * out
    if op == "MeanVarianceNormalization":
        return 4 * out
    if op == "LpNormalization":
        return 2 * out
    if op in ("Softmax", "LogSoftmax"):
        return 3 * out
    if op == "Hardmax":
        return out
    if op in ("Resize", "Upsample"):
        mode = str(attrs.get("mode", "nearest"))
        k = (
            sum(1 for a, b in zip(x, out_shape, strict=False) if a != b)
            if x and len(x) == len(out_shape)
            else 2
        )
        per = 2**k if mode in ("linear", "bilinear") else 4**k if mode == "cubic" else 1
        return out * per
    if op in ("LSTM", "GRU", "RNN"):
        w = in_shapes[1] if len(in_shapes) > 1 else []
        r = in_shapes[2] if len(in_shapes) > 2 else []
        if len(x) != 3 or not w or not r:
            return 0
        steps = x[0] * x[1]  # seq x batch, whatever the layout
        return steps * (_numel(w) + _numel(r))  # W and R hold every direction and gate
    if op == "LRN":
        return out * int(attrs.get("size", 1))
    if op in ELEMENTWISE_OPS:
        return out
    return 0  # data movement and unknown ops


def _einsum_macs(eq: str, in_shapes: list[list[int]]) -> int:
    """Product of the sizes of all indices (naive loop count), '...' broadcast included."""
    if not eq or not in_shapes or not all(in_shapes):
        return 0
    eq = eq.replace(" ", "")
    lhs = eq.split("->")[0]
    terms = lhs.split(",")
    if len(terms) != len(in_shapes):
        return 0
    sizes: dict[str, int] = {}
    ell: list[list[int]] = []
    for term, shape in zip(terms, in_shapes, strict=True):
        if "..." in term:
            before, after = term.split("...")
            n_ell = len(shape) - len(before) - len(after)
            if n_ell < 0:
                return 0
            letters = list(before) + list(after)
            dims = list(shape[: len(before)]) + list(shape[len(shape) - len(after) :])
            ell.append(list(shape[len(before) : len(before) + n_ell]))
        else:
            if len(term) != len(shape):
                return 0
            letters, dims = list(term), list(shape)
        for c, d in zip(letters, dims, strict=True):
            sizes[c] = max(sizes.get(c, 1), int(d))
    total = _numel(sizes.values())
    if ell:
        r = max(len(e) for e in ell)
        padded = [[1] * (r - len(e)) + e for e in ell]
        total *= _numel(max(col) for col in zip(*padded, strict=True))
    return total
