"""Raw graph -> tensors, as NAR-Former V2 encodes a whole network for latency.

f_PE (paper Eq. 4, supplement C.1): every scalar x becomes 10 numbers
``[sin(x f0), cos(x f0), ..., sin(x f4), cos(x f4)]`` with ``f_j = 1 / 10000^(j/5)``
(frequencies 1, 0.158, 0.025, 0.0040, 0.00063 rad per unit).

Node vector (``NODE_DIM`` = ``N_OPS`` + 12 x 10)
-----------------------------------------------
``[one-hot op type (N_OPS) | 8 attribute slots x 10 | 4 output-shape slots x 10]``.

* One-hot over ``OP_VOCAB`` plus a last "other" slot for any op outside it.
  ``OP_VOCAB`` starts with the reference's 28 codes (its ``Upsample`` slot is ``Resize``;
  ``Upsample`` maps to it) and adds every op type that 91 torchvision and timm
  classification models produce after export (TorchScript exporter, opset 17) and onnxsim,
  the ops of ``nnprof.export``'s opset-18 path (``Col2Im``: timm's VOLO through the dynamo
  exporter) and a few common relatives. With 65 ops + "other" the one-hot is 66 wide and
  ``NODE_DIM`` = 66 + 120 = 186 (the paper's 152 had a 32-wide one-hot).
* A slot holding a value v is ``f_PE(v)``; an empty slot (the op has no such attribute, or
  the value is unknown) is 10 zeros. ``f_PE(0) = [0, 1, 0, 1, ...]``, so value 0 and
  "empty" differ. Values are clamped to +-1e6.

Attribute slots (8 per node, by op family; "-" = empty)
-------------------------------------------------------
=============================  ========================================================
op                             slots 0..7
=============================  ========================================================
Conv, ConvTranspose            kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                               dilation, group
MaxPool, AveragePool, LpPool   kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                               ceil_mode, dilation (Max) / count_include_pad (Avg) / p (Lp)
Col2Im (fold)                  kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                               dilation, -
GlobalAveragePool/MaxPool      in_h, in_w (the effective window), -, ...
Pad                            -, -, -, -, pad_h, pad_w, mode (0 constant, 1 reflect,
                               2 edge, 3 wrap), value
Gemm                           K, has_bias, transA, transB, const_B, -, -, -
MatMul                         K, -, -, -, const_B, -, -, -
Einsum                         K (product of contracted index sizes), -, -, -, const
                               operand, n_operands, -, -
LayerNormalization             axis, normalised size, has_bias, -, ...
InstanceNormalization          normalised size (spatial elements), -, ...
GroupNormalization             num_groups, -, ...
Softmax, LogSoftmax            axis, size along axis, -, ...
Reduce*                        first axis, n_axes, keepdims, reduced size, -, ...
Transpose                      perm[0..7] (rank <= 8)
Reshape, Flatten, Squeeze,     in_rank, out_rank, axis (Flatten; first axis of
Unsqueeze, Expand, Tile        Squeeze/Unsqueeze; else -), -, ...
Concat                         axis, n_inputs, -, ...
Split                          axis, n_outputs, first split size, -, ...
Slice                          first axis, start, end, step (clamped to the dim), n_axes
Gather                         axis, n_indices, -, ...
Resize (Upsample)              scale_h, scale_w, mode (0 nearest, 1 linear, 2 cubic), -
Clip                           min, max (empty if unbounded), -, ...
HardSigmoid                    alpha, beta, -, ...
LeakyRelu, Elu, Celu           alpha, -, ...
Gelu                           approximate (0 none, 1 tanh), -, ...
Cast                           to (ONNX dtype code), -, ...
LRN                            size, -, ...
DepthToSpace, SpaceToDepth     blocksize, -, ...
LSTM                           hidden_size, direction (0 forward, 1 reverse, 2 both),
                               input_size, seq_len, -, ...
binary element-wise (Add, Sub, const (an input is an initializer), broadcast (input
Mul, Div, Pow, Max, Min,       shapes differ), exponent (Pow with a constant scalar
Where, Equal, PRelu, ...)      exponent; else -), -, ...
everything else                all empty (unary element-wise: Relu, Sigmoid, Erf, ...;
                               BatchNormalization)
=============================  ========================================================

Axes are normalised (``axis % rank``). Kernel/stride/pad/dilation use the last two
spatial axes (h, w); a 1-D op has (h, w) = (k, 1) and pad_w = 0; a 3-D op drops depth.
``pad_h``/``pad_w`` are begin + end per axis (the begin/end split is dropped: it moves the
window, not the cost). What the 8 conv slots drop: ``has_bias`` (the bias add is fused
into the conv), the second dilation element (``dilation`` = max of the two), and
ConvTranspose ``output_padding`` (visible in the output shape).

Output-shape slots (4: N, C, H, W)
----------------------------------
rank 4: (N, C, H, W). rank 3: transformer tokens (B, L, D) -> N=B, C=D, H=L, W=1, except
for Conv/ConvTranspose/pools/BatchNormalization/InstanceNormalization, whose rank-3
tensors are (N, C, L) -> N, C, H=L, W=1. rank 2 -> (N, C, 1, 1). rank 1 (d,) ->
(1, d, 1, 1). rank r > 4 -> (d0, d1, d2, d3 x ... x d_{r-1}), which keeps the element
count. Unknown shape -> all four empty (so is a rank-0 output: RawGraph writes both as
``[]``).

Static features (``STATIC_DIM`` = 40)
-------------------------------------
``f_PE`` of [batch size, u(MACs), u(params), u(mem)] with ``u(v) = 100 log10(1 + v/1e6)``:
100 units per decade above 1 M (10 MMACs -> 104, 0.3 GMACs -> 248, 4.1 GMACs -> 361,
100 GMACs -> 500). The log scale resolves relative differences evenly over the realistic
range (latency depends on ratios, not absolute differences): a 1 % change moves u by
0.43, i.e. 0.43 rad at the highest frequency, while the full range (< 700 units) stays
within half a period of the lowest frequency (~5000 units), so the encoding is one-to-one.
Batch size is raw (1 unit = one sample).

Graph structure
---------------
``EncodedGraph.edges``: the undirected adjacency as unique pairs i < j, no self-loops;
``degree`` = row sums of the symmetric adjacency (in + out neighbours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from nnprof.graph import Node, RawGraph

PE_DIM = 10
STATIC_DIM = 4 * PE_DIM  # batch size, MACs, params, memory access (see encode_static)

_FREQS = torch.tensor([1.0 / 10000 ** (j / (PE_DIM // 2)) for j in range(PE_DIM // 2)])


def f_pe(x: torch.Tensor) -> torch.Tensor:
    """Sinusoidal encoding of each scalar: (...) -> (..., 10), sin/cos interleaved."""
    ang = x.to(torch.float32).unsqueeze(-1) * _FREQS  # (..., 5)
    return torch.stack((torch.sin(ang), torch.cos(ang)), dim=-1).flatten(-2)  # (..., 10)


@dataclass
class EncodedGraph:
    """One network as tensors. N nodes, F = node feature width."""

    x: torch.Tensor  # (N, F) float32 node features
    static: torch.Tensor  # (STATIC_DIM,) float32 static features
    edges: torch.Tensor  # (2, E) long, undirected pairs i < j, no self-loops, unique
    degree: torch.Tensor  # (N,) float32, row sums of the symmetric adjacency

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def adjacency(self) -> torch.Tensor:
        """Dense symmetric 0/1 adjacency without self-loops: (N, N)."""
        n = self.num_nodes
        a = torch.zeros(n, n)
        a[self.edges[0], self.edges[1]] = 1.0
        a[self.edges[1], self.edges[0]] = 1.0
        return a


@dataclass
class GraphBatch:
    """B graphs padded to N = the largest graph. Padded nodes have mask False, zero rows."""

    x: torch.Tensor  # (B, N, F)
    adj: torch.Tensor  # (B, N, N)
    degree: torch.Tensor  # (B, N)
    mask: torch.Tensor  # (B, N) bool
    static: torch.Tensor  # (B, STATIC_DIM)

    def to(self, device: torch.device | str) -> GraphBatch:
        return GraphBatch(
            *(t.to(device) for t in (self.x, self.adj, self.degree, self.mask, self.static))
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])


def collate(graphs: list[EncodedGraph]) -> GraphBatch:
    """Pad a list of graphs into dense tensors with a node mask."""
    b = len(graphs)
    n = max(g.num_nodes for g in graphs)
    f = graphs[0].x.shape[1]
    x = torch.zeros(b, n, f)  # (B, N, F)
    adj = torch.zeros(b, n, n)  # (B, N, N)
    degree = torch.zeros(b, n)  # (B, N)
    mask = torch.zeros(b, n, dtype=torch.bool)  # (B, N)
    for i, g in enumerate(graphs):
        k = g.num_nodes
        x[i, :k] = g.x
        adj[i, g.edges[0], g.edges[1]] = 1.0
        adj[i, g.edges[1], g.edges[0]] = 1.0
        degree[i, :k] = g.degree
        mask[i, :k] = True
    static = torch.stack([g.static for g in graphs])  # (B, STATIC_DIM)
    return GraphBatch(x=x, adj=adj, degree=degree, mask=mask, static=static)


# --------------------------------------------------------------------------- vocabulary

FEATURE_VERSION = "nnprof-enc-2"  # bump whenever anything below changes what encode() returns

OP_VOCAB: tuple[str, ...] = (
    # the reference's 28 codes, in its order (its Upsample slot holds Resize)
    "Conv", "Relu", "Add", "Sigmoid", "Reshape", "MaxPool", "Split", "GlobalAveragePool",
    "Gemm", "Transpose", "Resize", "BatchNormalization", "Mul", "Concat", "Flatten",
    "AveragePool", "Cast", "MatMul", "ReduceMean", "Pow", "Slice", "Div", "Sub", "Sqrt",
    "Clip", "Softmax", "Tanh", "ConvTranspose",
    # ops of modern torchvision / timm graphs after onnxsim (opset 17)
    "LayerNormalization", "Erf", "Gelu", "HardSwish", "HardSigmoid", "Pad", "Einsum",
    "Gather", "Squeeze", "Unsqueeze", "Expand", "Tile", "Where", "InstanceNormalization",
    "GroupNormalization", "ReduceL2", "ReduceSum", "ReduceMax", "LeakyRelu", "ScatterND",
    "GlobalMaxPool", "Exp", "Max", "Min", "Neg", "Abs", "Softplus", "Mish", "PRelu",
    "Equal", "Elu", "SpaceToDepth", "DepthToSpace", "LRN", "LSTM", "Col2Im", "Identity",
)  # fmt: skip
OP_ALIASES = {"Upsample": "Resize"}  # NNLQP's older op names
N_OPS = len(OP_VOCAB) + 1  # + "other"
OTHER = len(OP_VOCAB)  # index of the "other" slot
N_SLOTS = 8
NODE_DIM = N_OPS + (N_SLOTS + 4) * PE_DIM
_OP_INDEX = {op: i for i, op in enumerate(OP_VOCAB)} | {
    a: OP_VOCAB.index(b) for a, b in OP_ALIASES.items()
}


def op_index(op: str) -> int:
    """Position of an op type in the one-hot (``OTHER`` if outside the vocabulary)."""
    return _OP_INDEX.get(op, OTHER)


def unknown_ops(g: RawGraph) -> set[str]:
    """Op types of g that fall into the "other" slot (worth a warning)."""
    return {n.op for n in g.nodes if n.op not in _OP_INDEX}


# --------------------------------------------------------------------------- attribute slots

_CONV_NAMES = ["kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w"]
_SLOT_NAMES: dict[str, list[str]] = {
    "Conv": _CONV_NAMES + ["dilation", "group"],
    "ConvTranspose": _CONV_NAMES + ["dilation", "group"],
    "MaxPool": _CONV_NAMES + ["ceil_mode", "dilation"],
    "AveragePool": _CONV_NAMES + ["ceil_mode", "count_include_pad"],
    "LpPool": _CONV_NAMES + ["ceil_mode", "p"],
    "Col2Im": _CONV_NAMES + ["dilation"],
    "GlobalAveragePool": ["in_h", "in_w"],
    "GlobalMaxPool": ["in_h", "in_w"],
    "Pad": ["", "", "", "", "pad_h", "pad_w", "mode", "value"],
    "Gemm": ["K", "has_bias", "transA", "transB", "const_B"],
    "MatMul": ["K", "", "", "", "const_B"],
    "Einsum": ["K", "", "", "", "const", "n_operands"],
    "LayerNormalization": ["axis", "norm_size", "has_bias"],
    "InstanceNormalization": ["norm_size"],
    "GroupNormalization": ["num_groups"],
    "Softmax": ["axis", "axis_size"],
    "LogSoftmax": ["axis", "axis_size"],
    "Transpose": [f"perm{i}" for i in range(8)],
    "Concat": ["axis", "n_inputs"],
    "Split": ["axis", "n_outputs", "split0"],
    "Slice": ["axis", "start", "end", "step", "n_axes"],
    "Gather": ["axis", "n_indices"],
    "Resize": ["scale_h", "scale_w", "mode"],
    "Upsample": ["scale_h", "scale_w", "mode"],
    "Clip": ["min", "max"],
    "HardSigmoid": ["alpha", "beta"],
    "LeakyRelu": ["alpha"],
    "Elu": ["alpha"],
    "Celu": ["alpha"],
    "Gelu": ["approximate"],
    "Cast": ["to"],
    "LRN": ["size"],
    "DepthToSpace": ["blocksize"],
    "SpaceToDepth": ["blocksize"],
    "LSTM": ["hidden_size", "direction", "input_size", "seq_len"],
}
_SHAPE_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Tile")
_REDUCE_OPS = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
)  # fmt: skip
_BINARY_OPS = (
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "PRelu", "BitShift",
)  # fmt: skip
for _op in _SHAPE_OPS:
    _SLOT_NAMES[_op] = ["in_rank", "out_rank", "axis"]
for _op in _REDUCE_OPS:
    _SLOT_NAMES[_op] = ["axis", "n_axes", "keepdims", "reduced_size"]
for _op in _BINARY_OPS:
    _SLOT_NAMES[_op] = ["const", "broadcast", "exponent"]
_CHANNELS_FIRST = {
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "BatchNormalization",
    "InstanceNormalization", "GlobalAveragePool", "GlobalMaxPool",
}  # fmt: skip


def slot_names(op: str) -> list[str]:
    """Names of the 8 attribute slots of an op ("" for an unused slot)."""
    names = list(_SLOT_NAMES.get(op, []))
    return names + [""] * (N_SLOTS - len(names))


Slots = list[float | None]


def _hw(v: list[Any] | None, fill: float = 1) -> tuple[Any, Any]:
    """(h, w) from a per-spatial-axis list: last two axes; 1-D -> (v0, fill)."""
    if not v:
        return None, None
    if len(v) == 1:
        return v[0], fill
    return v[-2], v[-1]


def _axis(a: Any, rank: int) -> int | None:
    if a is None or rank <= 0:
        return None
    return int(a) % rank


def _numel(shape: list[int]) -> int:
    return math.prod(int(d) for d in shape)


def _window_slots(n: Node) -> Slots:
    a = n.attrs
    s: Slots = [None] * N_SLOTS
    x = n.in_shapes[0] if n.in_shapes else []
    k = a.get("kernel_shape") or a.get("block_shape")
    if not k and n.op == "Col2Im":
        return s  # the block shape is a stripped or computed input
    if not k and n.op != "Col2Im" and len(n.in_shapes) > 1 and len(n.in_shapes[1]) > 2:
        k = n.in_shapes[1][2:]  # Conv without kernel_shape: from the weight
    r = len(k) if k else max(len(x) - 2, 0)
    if r == 0:
        return s
    strides = a.get("strides") or [1] * r
    pads = a.get("pads") or [0] * (2 * r)
    dil = a.get("dilations") or [1] * r
    s[0], s[1] = _hw(k) if k else (None, None)
    s[2], s[3] = _hw(strides)
    s[4], s[5] = _hw([pads[i] + pads[i + r] for i in range(r)], fill=0)
    if n.op in ("Conv", "ConvTranspose"):
        s[6] = max(dil[-2:])
        s[7] = a.get("group", 1)
    elif n.op == "Col2Im":
        s[6] = max(dil[-2:])
    else:
        s[6] = a.get("ceil_mode", 0)
        if n.op == "MaxPool":
            s[7] = max(dil[-2:])
        elif n.op == "AveragePool":
            s[7] = a.get("count_include_pad", 0)
        elif n.op == "LpPool":
            s[7] = a.get("p", 2)
    return s


def _einsum_k(eq: str, in_shapes: list[list[int]]) -> int | None:
    """Product of the sizes of the contracted indices (those not in the output)."""
    eq = eq.replace(" ", "")
    if "->" not in eq or not in_shapes:
        return None
    lhs, rhs = eq.split("->")
    terms = lhs.split(",")
    if len(terms) != len(in_shapes):
        return None
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, in_shapes, strict=True):
        if "..." in term:
            before, after = term.split("...")
            letters = list(before) + list(after)
            dims = list(shape[: len(before)]) + (
                list(shape[len(shape) - len(after) :]) if after else []
            )
        else:
            letters, dims = list(term), list(shape)
        if len(letters) != len(dims):
            return None
        for c, d in zip(letters, dims, strict=True):
            sizes[c] = max(sizes.get(c, 1), int(d))
    return math.prod(d for c, d in sizes.items() if c not in rhs)


def _slots(n: Node) -> Slots:
    """The 8 model-definition values of a node (None = empty slot); see the module table."""
    op, a = n.op, n.attrs
    s: Slots = [None] * N_SLOTS
    ins = n.in_shapes
    x = ins[0] if ins else []
    rank = len(x)
    out_rank = len(n.out_shape)
    if op in ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "Col2Im"):
        return _window_slots(n)
    if op in ("GlobalAveragePool", "GlobalMaxPool"):
        if rank >= 3:
            s[0], s[1] = _hw(x[2:])
    elif op == "Pad":
        p = a.get("pads")
        if p and rank >= 1 and len(p) == 2 * rank:
            axes = list(range(rank))
            if rank >= 2:
                s[4], s[5] = p[axes[-2]] + p[axes[-2] + rank], p[axes[-1]] + p[axes[-1] + rank]
            else:
                s[4], s[5] = p[0] + p[1], 0
        s[6] = {"constant": 0, "reflect": 1, "edge": 2, "wrap": 3}.get(
            str(a.get("mode", "constant")), 0
        )
        v = a.get("value", 0.0)
        s[7] = v if isinstance(v, int | float) else None
    elif op == "Gemm":
        if rank == 2:
            s[0] = x[0] if a.get("transA", 0) else x[1]
        s[1] = int(n.has_bias)
        s[2], s[3] = a.get("transA", 0), a.get("transB", 0)
        s[4] = int(1 in n.const_inputs)
    elif op == "MatMul":
        s[0] = x[-1] if rank else None
        s[4] = int(1 in n.const_inputs)
    elif op == "Einsum":
        if all(ins):
            s[0] = _einsum_k(str(a.get("equation", "")), ins)
        s[4] = int(bool(n.const_inputs))
        s[5] = len(ins)
    elif op == "LayerNormalization":
        ax = _axis(a.get("axis", -1), rank)
        s[0] = ax
        s[1] = _numel(x[ax:]) if ax is not None else None
        s[2] = int(len(ins) > 2 and bool(ins[2]))
    elif op == "InstanceNormalization":
        s[0] = _numel(x[2:]) if rank >= 3 else None
    elif op == "GroupNormalization":
        s[0] = a.get("num_groups")
    elif op in ("Softmax", "LogSoftmax"):
        ax = _axis(a.get("axis", -1), rank)
        s[0] = ax
        s[1] = x[ax] if ax is not None else None
    elif op in _REDUCE_OPS:
        axes = a.get("axes")
        if axes is None and not a.get("noop_with_empty_axes", 0):
            axes = list(range(rank))
        if axes is not None and rank:
            axes = sorted(int(v) % rank for v in axes)
            s[0] = axes[0] if axes else None
            s[1] = len(axes)
            s[3] = math.prod(x[i] for i in axes)
        s[2] = a.get("keepdims", 1)
    elif op == "Transpose":
        perm = a.get("perm") or list(range(rank))[::-1]
        for i, p in enumerate(perm[:N_SLOTS]):
            s[i] = p
    elif op in _SHAPE_OPS:
        s[0] = rank if x else None
        s[1] = out_rank if n.out_shape else None
        if op == "Flatten":
            s[2] = _axis(a.get("axis", 1), rank + 1) if rank else a.get("axis", 1)
        elif op in ("Squeeze", "Unsqueeze") and a.get("axes"):
            r = rank if op == "Squeeze" else out_rank
            s[2] = _axis(a["axes"][0], r) if r else None
    elif op == "Concat":
        s[0] = _axis(a.get("axis"), out_rank)
        s[1] = len(ins)
    elif op == "Split":
        s[0] = _axis(a.get("axis", 0), rank)
        split = a.get("split")
        if split:
            s[1], s[2] = len(split), split[0]
        elif a.get("num_outputs"):
            s[1] = a["num_outputs"]
    elif op == "Slice":
        starts, ends = a.get("starts"), a.get("ends")
        if starts is not None and ends is not None and rank:
            axes = a.get("axes") or list(range(len(starts)))
            steps = a.get("steps") or [1] * len(starts)
            ax = int(axes[0]) % rank
            dim = x[ax]
            st, en, sp = int(starts[0]), int(ends[0]), int(steps[0])
            st, en = (st + dim if st < 0 else st), (en + dim if en < 0 else en)
            lo, hi = (0, dim) if sp > 0 else (-1, dim - 1)
            s[0], s[1], s[2], s[3] = ax, min(max(st, lo), hi), min(max(en, lo), hi), sp
            s[4] = len(axes)
    elif op == "Gather":
        s[0] = _axis(a.get("axis", 0), rank)
        if len(ins) > 1:
            s[1] = _numel(ins[1])
    elif op in ("Resize", "Upsample"):
        y = n.out_shape
        if rank >= 3 and len(y) == rank and all(x):
            s[0], s[1] = _hw([y[i] / x[i] for i in range(2, rank)])
        elif a.get("scales"):
            s[0], s[1] = _hw(list(a["scales"])[2:])
        mode = str(a.get("mode", "nearest"))
        s[2] = {"nearest": 0, "linear": 1, "bilinear": 1, "cubic": 2}.get(mode, 0)
    elif op == "Clip":
        for i, key in enumerate(("min", "max")):
            v = a.get(key)
            if isinstance(v, int | float) and abs(v) < 1e30:
                s[i] = v
    elif op == "HardSigmoid":
        s[0], s[1] = a.get("alpha", 0.2), a.get("beta", 0.5)
    elif op == "LeakyRelu":
        s[0] = a.get("alpha", 0.01)
    elif op in ("Elu", "Celu"):
        s[0] = a.get("alpha", 1.0)
    elif op == "Gelu":
        s[0] = 1 if a.get("approximate", "none") == "tanh" else 0
    elif op == "Cast":
        s[0] = a.get("to")
    elif op == "LRN":
        s[0] = a.get("size")
    elif op in ("DepthToSpace", "SpaceToDepth"):
        s[0] = a.get("blocksize")
    elif op == "LSTM":
        s[0] = a.get("hidden_size")
        s[1] = {"forward": 0, "reverse": 1, "bidirectional": 2}.get(
            str(a.get("direction", "forward")), 0
        )
        if rank == 3:
            s[2] = x[2]
            s[3] = x[1] if a.get("layout", 0) else x[0]
    elif op in _BINARY_OPS:
        s[0] = int(bool(n.const_inputs))
        known = [sh for sh in ins if sh]
        s[1] = int(len({tuple(sh) for sh in known}) > 1) if len(known) == len(ins) else None
        if op == "Pow" and isinstance(a.get("exponent"), int | float):
            s[2] = a["exponent"]
    return s


def _shape4(shape: list[int], op: str) -> Slots:
    """Output shape -> (N, C, H, W) per the module docstring."""
    r = len(shape)
    if r == 4:
        return [float(d) for d in shape]
    if r == 3:
        b, d1, d2 = shape
        return [b, d1, d2, 1] if op in _CHANNELS_FIRST else [b, d2, d1, 1]
    if r == 2:
        return [shape[0], shape[1], 1, 1]
    if r == 1:
        return [1, shape[0], 1, 1]
    if r > 4:
        return [shape[0], shape[1], shape[2], _numel(shape[3:])]
    return [None] * 4  # rank 0: RawGraph cannot tell a scalar from an unknown shape


def node_slots(n: Node) -> Slots:
    """The node's 12 scalars: 8 attribute slots then N, C, H, W (None = empty slot)."""
    # RawGraph writes an unknown shape as [], so a true scalar output is encoded as unknown
    shape: Slots = _shape4(n.out_shape, n.op) if n.out_shape else [None] * 4
    return _slots(n) + shape


def _pe_masked(values: np.ndarray) -> torch.Tensor:
    """f_PE of each value, zeros where the value is NaN (empty): (..., k) -> (..., k*10)."""
    v = torch.from_numpy(np.clip(values, -1e6, 1e6))
    empty = torch.isnan(v)
    pe = f_pe(torch.nan_to_num(v, nan=0.0))  # (..., k, 10)
    pe = pe.masked_fill(empty.unsqueeze(-1), 0.0)
    return pe.flatten(-2)


def _log_units(v: float) -> float:
    return 100.0 * math.log10(1.0 + max(float(v), 0.0) / 1e6)


def static_values(g: RawGraph) -> list[float]:
    """The 4 static scalars before f_PE: batch size, u(MACs), u(params), u(mem)."""
    return [float(g.batch_size), _log_units(g.macs), _log_units(g.params), _log_units(g.mem)]


def encode_static(g: RawGraph) -> torch.Tensor:
    """(STATIC_DIM,) float32."""
    return _pe_masked(np.array(static_values(g), dtype=np.float64))


def encode(g: RawGraph) -> EncodedGraph:
    """RawGraph -> EncodedGraph (node features, static features, undirected edges, degree)."""
    n = len(g.nodes)
    vals = np.array(
        [[np.nan if v is None else float(v) for v in node_slots(nd)] for nd in g.nodes],
        dtype=np.float64,
    ).reshape(n, N_SLOTS + 4)  # (N, 12)
    onehot = torch.zeros(n, N_OPS)  # (N, N_OPS)
    if n:
        idx = torch.tensor([op_index(nd.op) for nd in g.nodes])
        onehot[torch.arange(n), idx] = 1.0
    x = torch.cat([onehot, _pe_masked(vals)], dim=1)  # (N, NODE_DIM)

    e = np.asarray(g.edges, dtype=np.int64).reshape(-1, 2)  # (E, 2) directed
    lo, hi = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    keep = lo != hi
    pairs = np.unique(lo[keep] * max(n, 1) + hi[keep])  # sorted unique i < j
    i, j = pairs // max(n, 1), pairs % max(n, 1)
    edges = torch.from_numpy(np.stack([i, j])).long()  # (2, E)
    degree = torch.from_numpy(
        (np.bincount(i, minlength=n) + np.bincount(j, minlength=n)).astype(np.float32)
    )
    return EncodedGraph(x=x, static=encode_static(g), edges=edges, degree=degree)
