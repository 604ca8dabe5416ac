"""NAR-Former V2 latency predictor (Yi et al., NeurIPS 2023, Sec. 3.2-3.3) and its baselines.

The whole model is in this file. A batch of graphs arrives as padded dense tensors
(`nnprof.encode.GraphBatch`); the models drop the padding (`Packed`: the real nodes of all
graphs as rows, the edges as index lists, i.e. a block-diagonal batch without its zeros)
and never loop over graphs in Python.

Dimension letters used in the shape comments:
    B  graphs in the batch
    N  nodes per graph (padded to the largest graph of the batch)
    R  real nodes of the whole batch (padding dropped: "packed" rows)
    E  directed edges of the whole batch (each undirected edge twice)
    F  node feature width (encode.NODE_DIM; 152 in the reference encoding)
    S  static feature width (40: f_PE of batch size, GMACs, params, memory access)
    C  input width of a block (F for the first block, D afterwards)
    D  hidden width (512 in the paper)
    G  groups of the grouped feed-forward network (8)
    H  hidden width of the feed-forward network (ffn_ratio * D = 2048)

Kinds of model (`build_model(kind, args)`):
    narformer2   graph-aided attention Transformer (the paper)
    global-attn  the same with the adjacency removed from Eq. 9 (paper Table 6)
    gnn          NNLP-style GraphSAGE GNN (Liu et al., ICPP 2022), same readout and head
    flops        least squares of log latency on log FLOPs (paper Table 2, column 1)
    flops-mem    least squares of log latency on log FLOPs and log memory access (column 2)
The two regressions take whole-network counts (B, 2), not a GraphBatch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nnprof import calibrate
from nnprof.encode import _FREQS, STATIC_DIM, GraphBatch

KINDS = ("narformer2", "gnn", "flops", "flops-mem", "global-attn")
NEURAL_KINDS = ("narformer2", "gnn", "global-attn")
REGRESSION_KINDS = ("flops", "flops-mem")


@dataclass
class ModelArgs:
    node_dim: int = 152  # F: width of an encoded node (encode.NODE_DIM)
    static_dim: int = STATIC_DIM  # S: width of the static features (4 x f_PE = 40)
    hidden: int = 512  # D: width of every block output, of the static embedding and of the head
    layers: int = 2  # graph blocks (the latency configuration of the paper and NNLP)
    ffn_ratio: int = 4  # H / D in the grouped feed-forward network (supplement C.2)
    groups: int = 8  # G: groups of the grouped feed-forward network
    dropout: float = 0.05
    layer_scale: float = 1e-4  # initial gamma of the residual GFFN branch (reference code)
    # nnprof extension (off = the paper's head): predict a bounded factor on top of a
    # FLOPs + memory power law (see LatencyHead), so graphs beyond the training range
    # (bigger batches and models) still scale with their cost
    residual: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelArgs:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


# ----------------------------------------------------------------------------------------
# Packed batches: only real nodes, edges as index lists (block-diagonal without the zeros)


@dataclass
class Packed:
    """The real nodes of a padded batch as R rows, and its edges as index lists.

    Per-node layers run on (R, C) rows, so padding costs nothing; attention runs over the
    E directed edges (both directions of each undirected one), so graph-aided attention
    costs E x C instead of B x N x N x C. The edges come in P node pairs i <= j (the
    score X_i . X_j is symmetric, so it is computed once per pair). Shapes: R real
    nodes, E directed edges, P pairs.
    """

    rows: torch.Tensor  # (R,) long: flat index b * N + i of each real node
    graph: torch.Tensor  # (R,) long: graph of each real node
    src: torch.Tensor  # (E,) long: packed index of the attending node i
    dst: torch.Tensor  # (E,) long: packed index of its neighbour j
    weight: torch.Tensor  # (E,) adjacency value A_ij (0 for the reverse of a one-way edge)
    pair_i: torch.Tensor  # (P,) long: packed index of the first node of each pair
    pair_j: torch.Tensor  # (P,) long: ... and of the second (pair_i <= pair_j)
    pair: torch.Tensor  # (E,) long: the pair of each directed edge
    batch: int  # B
    nodes: int  # N

    @classmethod
    def from_dense(cls, adj: torch.Tensor, mask: torch.Tensor) -> Packed:
        b, n = mask.shape
        flat = mask.reshape(-1)  # (B*N,)
        rows = flat.nonzero().squeeze(1)  # (R,)
        pos = torch.cumsum(flat, 0) - 1  # (B*N,): packed index of each real node
        a = adj * (mask.unsqueeze(1) & mask.unsqueeze(2))  # (B, N, N): edges of real nodes only
        gb, i, j = torch.triu(a + a.transpose(1, 2)).nonzero(as_tuple=True)  # (P,) each, i <= j
        pi, pj = pos[gb * n + i], pos[gb * n + j]  # (P,) packed indices
        off = i != j  # (P,) self-loops (if any) are one directed edge, other pairs two
        pairs = torch.arange(len(pi), device=adj.device)  # (P,)
        return cls(
            rows=rows,
            graph=torch.div(rows, n, rounding_mode="floor"),
            src=torch.cat([pi, pj[off]]),  # (E,)
            dst=torch.cat([pj, pi[off]]),  # (E,)
            weight=torch.cat([a[gb, i, j], a[gb, j, i][off]]),  # (E,)
            pair_i=pi,
            pair_j=pj,
            pair=torch.cat([pairs, pairs[off]]),  # (E,)
            batch=b,
            nodes=n,
        )

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """(B, N, ...) -> (R, ...): the real rows."""
        return t.reshape(self.batch * self.nodes, *t.shape[2:]).index_select(0, self.rows)

    def scatter(self, t: torch.Tensor) -> torch.Tensor:
        """(R, D) -> (B, N, D) with zero padded rows."""
        out = t.new_zeros(self.batch * self.nodes, t.shape[-1])  # (B*N, D)
        out.index_copy_(0, self.rows, t)
        return out.reshape(self.batch, self.nodes, -1)  # (B, N, D)

    def sum_nodes(self, t: torch.Tensor) -> torch.Tensor:
        """(R, D) -> (B, D): sum over each graph's real nodes (the readout)."""
        return t.new_zeros(self.batch, t.shape[-1]).index_add_(0, self.graph, t)  # (B, D)


# ----------------------------------------------------------------------------------------
# The graph-aided attention Transformer block


def _relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU, in place when no gradient is recorded (saves a pass over memory at inference)."""
    return x.relu_() if not torch.is_grad_enabled() else F.relu(x)


class GroupedLinear(nn.Module):
    """Linear map applied separately to G equal channel groups (block-diagonal weight).

    y[:, g] = x[:, g] W_g + b_g, so it has 1/G of a dense layer's weights. One matrix
    product per group on a column slice was the fastest CPU form measured (vs. baddbmm
    on a transposed view, grouped conv1d and einsum): no transposed copies.
    """

    def __init__(self, in_dim: int, out_dim: int, groups: int):
        super().__init__()
        if in_dim % groups or out_dim % groups:
            raise ValueError(f"widths {in_dim}->{out_dim} are not divisible by {groups} groups")
        self.groups = groups
        gi, go = in_dim // groups, out_dim // groups
        bound = 1.0 / math.sqrt(gi)  # nn.Linear's default initialisation, per group
        self.weight = nn.Parameter(torch.empty(groups, gi, go).uniform_(-bound, bound))  # (G, C/G, O/G)
        self.bias = nn.Parameter(torch.empty(groups, go).uniform_(-bound, bound))  # (G, O/G)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.weight, self.bias
        x = x.to(w.dtype)  # (M, C), in the weights' precision (see `to_inference_dtype`)
        # split/unbind rather than indexing: their backward is one cat/stack, where
        # indexing would zero-fill a full-size gradient per group
        xs = x.split(w.shape[1], dim=-1)  # G x (M, C/G)
        parts = [torch.addmm(bg, xg, wg) for xg, wg, bg in zip(xs, w.unbind(0), b.unbind(0), strict=True)]  # G x (M, O/G)
        return torch.cat(parts, dim=-1)  # (M, O)


class GFFN(nn.Module):
    """Grouped feed-forward network: GroupedLinear(D->H) -> ReLU -> dropout -> GroupedLinear(H->D).

    The channels stay in their group in both layers, as in the paper (Sec. 3.2, Table 5 row 5:
    "introducing group linear transformation into the original FFN").
    """

    def __init__(self, dim: int, ratio: int = 4, groups: int = 8, dropout: float = 0.05):
        super().__init__()
        self.fc1 = GroupedLinear(dim, dim * ratio, groups)
        self.fc2 = GroupedLinear(dim * ratio, dim, groups)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Group by group, fc1 -> ReLU -> fc2: the same as fc2(relu(fc1(x))) since no channel
        # leaves its group, but the (R, H/G) hidden part stays in cache and the (R, H)
        # hidden tensor is never assembled.
        w1, b1, w2, b2 = self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
        xs = x.to(w1.dtype).split(w1.shape[1], dim=-1)  # G x (R, D/G)
        outs = []
        for xg, w1g, b1g, w2g, b2g in zip(xs, w1.unbind(0), b1.unbind(0), w2.unbind(0), b2.unbind(0), strict=True):
            hg = self.drop(_relu(torch.addmm(b1g, xg, w1g)))  # (R, H/G)
            outs.append(torch.addmm(b2g, hg, w2g))  # (R, D/G)
        return torch.cat(outs, dim=-1)  # (R, D)


class GraphAttentionBlock(nn.Module):
    r"""Graph-aided attention Transformer block (NAR-Former V2, Eq. 5-11).

    .. math::
        \tilde H &= \sigma(W_d D + b_d) \odot H                              && \text{(TAEnhance, 11)} \\
        X &= \sigma(W_q \tilde H + b_q)                                     && (8) \\
        S &= (X X^\top / \sqrt{d}) \odot A                                  && (9) \\
        Z &= W_a(\mathrm{Norm}(S) \tilde H) + b_a                           && (10) \\
        \hat H &= \mathrm{Dropout}(\mathrm{ReLU}(L_2(Z + W_r \tilde H)))    && (6) \\
        H' &= \hat H + \gamma \odot \mathrm{GFFN}(\mathrm{LN}(\hat H))      && (7)

    ``Norm`` divides each row by its sum (+1e-6): a linear attention, no softmax. ``X`` is
    both query and key; the sigmoid keeps every score positive. ``d`` is the width of X.
    ``A`` is the symmetric 0/1 adjacency without self-loops, so S is as sparse as the
    graph: it is computed on the edge list only (same values as the dense form). With
    ``use_adjacency=False`` (the "global attention" ablation, Table 6) ``A`` is replaced by
    "every pair of real nodes", self included: ``S = X X^T / sqrt(d)`` within each graph,
    computed densely.

    The first block may change the width (``in_dim`` C -> ``dim`` D): Eq. 6 has no residual,
    so W_a and W_r project the encoded nodes, as in the reference (no separate input layer).

    Padded nodes (mask False) are never computed on and come back as zero rows, so they
    cannot reach real nodes.

    Shapes:
        forward: x (B, N, C), adj (B, N, N), degree (B, N), mask (B, N) bool -> (B, N, D)
        forward_packed: x (R, C), degree (R,), Packed -> (R, D)
    """

    def __init__(
        self,
        dim: int,
        ffn_ratio: int = 4,
        groups: int = 8,
        dropout: float = 0.05,
        *,
        in_dim: int | None = None,
        use_adjacency: bool = True,
        layer_scale: float = 1e-4,
    ):
        super().__init__()
        c = dim if in_dim is None else in_dim
        self.use_adjacency = use_adjacency
        self.degree_gate = nn.Linear(1, c)  # W_d, b_d (TAEnhance)
        self.qk = nn.Linear(c, c)  # W_q, b_q: shared query/key projection, d = C
        self.attn_out = nn.Linear(c, dim)  # W_a, b_a
        self.root = nn.Linear(c, dim, bias=False)  # W_r (b_a already gives the sum a bias)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.ffn = GFFN(dim, ffn_ratio, groups, dropout)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))  # (D,)
        self.scale = 1.0 / math.sqrt(c)

    def forward(
        self, x: torch.Tensor, adj: torch.Tensor, degree: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        p = Packed.from_dense(adj, mask)
        return p.scatter(self.forward_packed(p.gather(x), p.gather(degree), p))  # (B, N, D)

    def attend(self, q: torch.Tensor, h: torch.Tensor, p: Packed, out: torch.Tensor) -> torch.Tensor:
        """out + Norm(S) V for every real node: q (R, C), V (R, K), out (R, K) -> (R, K).

        Scores are summed and normalised in float32 in any precision.
        """
        r = q.shape[0]
        if self.use_adjacency:
            # index_select, not q[idx]: several times faster on CPU
            s = (q.index_select(0, p.pair_i) * q.index_select(0, p.pair_j)).sum(-1).float()  # (P,)
            s = s.index_select(0, p.pair) * self.scale * p.weight.float()  # (E,) entries of S
            den = s.new_zeros(r).index_add_(0, p.src, s)  # (R,) row sums of S, float32
            w = (s / (den.index_select(0, p.src) + 1e-6)).to(h.dtype)  # (E,)
            msg = w.unsqueeze(-1) * h.index_select(0, p.dst)  # (E, K)
            return out.contiguous().index_add_(0, p.src, msg)  # (R, K), a new tensor
        qd, hd = p.scatter(q), p.scatter(h)  # (B, N, C) each, zero padded rows
        real = torch.zeros(p.batch * p.nodes, 1, device=q.device)  # (B*N, 1)
        real[p.rows] = 1.0
        real = real.reshape(p.batch, p.nodes, 1)  # (B, N, 1)
        s = torch.bmm(qd, qd.transpose(1, 2)).float() * self.scale * (real * real.transpose(1, 2))  # (B, N, N)
        s = s / (s.sum(-1, keepdim=True) + 1e-6)  # (B, N, N)
        return out + p.gather(torch.bmm(s.to(hd.dtype), hd))  # (R, K)

    def forward_packed(self, x: torch.Tensor, degree: torch.Tensor, p: Packed) -> torch.Tensor:
        dt = self.qk.weight.dtype  # float32, or bfloat16 for fast inference
        x = x.to(dt)
        # TAEnhance: nodes share few distinct degrees, so the gate is computed once per degree
        degs, which = torch.unique(degree, return_inverse=True)  # (U,), (R,)
        gate = torch.sigmoid(self.degree_gate(degs.unsqueeze(-1).to(dt)))  # (U, C)
        h = x * gate.index_select(0, which)  # (R, C)
        # One product for the three projections of h~ (faster than three): W_a is applied
        # before the attention, W_a (Norm(S) h~) = Norm(S) (W_a h~), and b_a after it, so a
        # node without neighbours still gets b_a.
        c, d = self.qk.out_features, self.root.out_features
        w = torch.cat([self.qk.weight, self.attn_out.weight, self.root.weight])  # (C+2D, C)
        b = torch.cat([self.qk.bias, torch.zeros_like(self.attn_out.bias), self.attn_out.bias])  # (C+2D,)
        q, v, r = F.linear(h, w, b).split([c, d, d], dim=-1)  # (R, C), (R, D), (R, D)
        z = self.attend(torch.sigmoid(q), v, p, out=r)  # (R, D): Z + W_r h~
        z = F.normalize(z, p=2.0, dim=-1, eps=1e-12)  # (R, D), unit rows
        z = self.drop(_relu(z))  # (R, D)
        # the residual sum is float32 in any precision: gamma starts at 1e-4, and a bf16
        # sum would round the GFFN branch away
        return torch.addcmul(z.float(), self.gamma, self.ffn(self.norm(z)))  # (R, D) float32


# ----------------------------------------------------------------------------------------
# Readout and head shared by the neural models


_LOWEST_FREQ = float(_FREQS[-1])  # f_4 of f_PE
RESIDUAL_BOUND = 1.5  # the residual head's factor stays within exp(+-1.5) = 0.22x .. 4.5x


def static_counts(static: torch.Tensor) -> torch.Tensor:
    """Invert the static features' MACs and memory access from their f_PE encoding.

    Slot k of the static vector is f_PE(u_k) (`encode.encode_static`), u = 100
    log10(1 + v / 1e6). Its lowest frequency f_4 = 10000^(-4/5) keeps u f_4 below pi for any
    v < 1e20, so u = atan2(sin, cos) / f_4 exactly. Shapes: (B, 40) -> (B, 2) [MACs, mem].
    """
    st = static.float()
    f4 = _LOWEST_FREQ
    out = []
    for k in (1, 3):  # MACs, memory access
        u = torch.atan2(st[:, 10 * k + 8], st[:, 10 * k + 9]) / f4  # (B,)
        out.append(1e6 * (torch.pow(10.0, u / 100.0) - 1.0))  # (B,)
    return torch.stack(out, dim=-1)  # (B, 2)


class LatencyHead(nn.Module):
    r"""Static embedding, concatenation and the head of Eq. 12.

    .. math::
        e = \mathrm{ReLU}(W_s s + b_s), \quad
        z = \mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}([h; e]))))), \quad
        \hat y = -\log\sigma(z)

    ``-log sigmoid(z) = softplus(-z) > 0``, so a latency is always positive. ``out_scale``
    (a buffer, 1 unless fine-tuning calibrated it to a new device) multiplies the output.

    ``residual=True`` (nnprof's extension, `ModelArgs.residual`) replaces the last step by

    .. math::
        \hat y = \exp(w_0 + w_1 \log \mathrm{GMACs} + w_2 \log \mathrm{GMem})
                 \cdot \exp(b \tanh(z / b)), \quad b = 1.5

    the `FlopsRegression` ``flops-mem`` power law (``base_coef``, fitted in closed form on
    the training set before training, `fit_base`) times a learned factor bounded to
    [0.22, 4.5]. GMACs and GMem are read back from the static features (`static_counts`).
    The network then only learns how a graph deviates from its cost, and a graph far beyond
    the training range (batch 32 when training saw 1-8) still scales with its MACs instead
    of saturating.
    """

    def __init__(self, hidden: int, static_dim: int, dropout: float, residual: bool = False):
        super().__init__()
        self.residual = residual
        self.static = nn.Linear(static_dim, hidden)
        self.fc1 = nn.Linear(2 * hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        self.drop = nn.Dropout(dropout)
        self.register_buffer("out_scale", torch.ones(()))
        if residual:
            self.register_buffer("base_coef", torch.zeros(3))  # w0, w1, w2

    @torch.no_grad()
    def fit_base(self, counts: torch.Tensor, latency_ms: torch.Tensor) -> None:
        """Least squares of log latency on log GMACs and log GMem (`FlopsRegression.fit`)."""
        reg = FlopsRegression(ModelArgs(), use_memory=True)
        reg.fit(counts, latency_ms)
        self.base_coef.copy_(reg.coef.to(self.base_coef.dtype))

    def base(self, static: torch.Tensor) -> torch.Tensor:
        """The power-law latency of each graph from its static features: (B, S) -> (B,)."""
        with torch.autocast(static.device.type, enabled=False):
            g = torch.log((static_counts(static) / 1e9).clamp(min=1e-9))  # (B, 2)
            w = self.base_coef.float()
            return torch.exp(w[0] + g[:, 0] * w[1] + g[:, 1] * w[2])  # (B,)

    def forward(self, pooled: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        dt = self.fc1.weight.dtype
        e = F.relu(self.static(static.to(dt)))  # (B, D)
        h = torch.cat([pooled.to(dt), e], dim=-1)  # (B, 2D)
        h = self.drop(F.relu(self.fc1(h)))  # (B, D)
        h = self.drop(F.relu(self.fc2(h)))  # (B, D)
        z = self.fc3(h).float().squeeze(-1)  # (B,)
        if self.residual:
            factor = torch.exp(RESIDUAL_BOUND * torch.tanh(z / RESIDUAL_BOUND))  # (B,)
            return self.base(static) * factor * self.out_scale  # (B,) float32
        return -F.logsigmoid(z) * self.out_scale  # (B,) float32


class Calibration(nn.Module):
    """An optional log-linear correction of a predictor's output (`nnprof.calibrate`).

    Inactive (identity) unless `set` gave it coefficients, which a fine-tuned checkpoint
    stores as its ``calibration`` entry; the buffer is not persistent, so the weights of a
    calibrated and an uncalibrated model are the same state dict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("coef", torch.tensor(calibrate.IDENTITY, dtype=torch.float64), persistent=False)
        self.active = False

    def set(self, coef) -> None:
        """Use these coefficients; the identity (`calibrate.IDENTITY`) switches it off."""
        c = torch.as_tensor(coef, dtype=torch.float64).reshape(-1)
        if c.numel() != 6 or not torch.isfinite(c).all():
            raise ValueError(f"a calibration has 6 finite coefficients, got {c.tolist()}")
        self.coef = c.to(self.coef.device)
        self.active = c.tolist() != list(calibrate.IDENTITY)

    def clear(self) -> None:
        self.set(calibrate.IDENTITY)

    def forward(self, pred: torch.Tensor, batch: GraphBatch) -> torch.Tensor:
        if not self.active:
            return pred
        with torch.autocast(pred.device.type, enabled=False):
            return calibrate.apply(self.coef, calibrate.design(pred, batch)).float()  # (B,)


class NARFormerV2(nn.Module):
    """NAR-Former V2 latency predictor: blocks -> sum over real nodes -> head (Eq. 12).

    Shapes: GraphBatch(x (B, N, F), adj (B, N, N), degree (B, N), mask (B, N), static (B, S))
    -> latency (B,) in milliseconds.
    """

    kind = "narformer2"

    def __init__(self, args: ModelArgs, use_adjacency: bool = True):
        super().__init__()
        self.args = args
        self.blocks = nn.ModuleList(
            GraphAttentionBlock(
                args.hidden,
                args.ffn_ratio,
                args.groups,
                args.dropout,
                in_dim=args.node_dim if i == 0 else args.hidden,
                use_adjacency=use_adjacency,
                layer_scale=args.layer_scale,
            )
            for i in range(args.layers)
        )
        self.head = LatencyHead(args.hidden, args.static_dim, args.dropout, residual=args.residual)
        self.calibration = Calibration()

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        p = Packed.from_dense(batch.adj, batch.mask)
        h = p.gather(batch.x)  # (R, F)
        degree = p.gather(batch.degree)  # (R,)
        for block in self.blocks:
            h = block.forward_packed(h, degree, p)  # (R, D)
        return self.calibration(self.head(p.sum_nodes(h), batch.static), batch)  # (B,)


# ----------------------------------------------------------------------------------------
# Baselines


class SAGELayer(nn.Module):
    r"""GraphSAGE layer with mean aggregation (Hamilton et al. 2017), as NNLP uses it (Eq. 3-4).

    .. math::
        h'_i = \mathrm{ReLU}(L_2(W_a \cdot \mathrm{mean}_{j \in \mathcal N(i)} h_j + b_a + W_r h_i))

    The mean runs over the edge list of the packed batch (``A_ij`` weights, as the dense
    ``Norm(A) H`` with row sums as divisors); isolated nodes aggregate zeros.

    Shapes: x (R, C), Packed -> (R, D)
    """

    def __init__(self, in_dim: int, dim: int, dropout: float):
        super().__init__()
        self.neigh = nn.Linear(in_dim, dim)
        self.root = nn.Linear(in_dim, dim, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, p: Packed) -> torch.Tensor:
        x = x.to(self.neigh.weight.dtype)
        w = p.weight.to(x.dtype)  # (E,)
        deg = x.new_zeros(x.shape[0]).index_add_(0, p.src, w).clamp(min=1.0)  # (R,)
        msg = (w / deg.index_select(0, p.src)).unsqueeze(-1) * x.index_select(0, p.dst)  # (E, C)
        mean = x.new_zeros(x.shape).index_add_(0, p.src, msg)  # (R, C)
        z = self.neigh(mean) + self.root(x)  # (R, D)
        z = F.normalize(z.float(), p=2.0, dim=-1)  # (R, D)
        return self.drop(F.relu(z))  # (R, D)


class NNLPGNN(nn.Module):
    """NNLP-style GNN: GraphSAGE layers -> sum over real nodes -> the same head as NAR-Former V2."""

    kind = "gnn"

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.layers = nn.ModuleList(
            SAGELayer(args.node_dim if i == 0 else args.hidden, args.hidden, args.dropout)
            for i in range(args.layers)
        )
        self.head = LatencyHead(args.hidden, args.static_dim, args.dropout, residual=args.residual)
        self.calibration = Calibration()

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        p = Packed.from_dense(batch.adj, batch.mask)
        h = p.gather(batch.x)  # (R, F)
        for layer in self.layers:
            h = layer(h, p)  # (R, D)
        return self.calibration(self.head(p.sum_nodes(h), batch.static), batch)  # (B,)


class FlopsRegression(nn.Module):
    r"""Log-linear least-squares latency models from whole-network counts (Table 2, cols 1-2).

    .. math::
        \log \hat y = w_0 + w_1 \log(\mathrm{GMACs}) \;[+\; w_2 \log(\mathrm{GMem})]

    ``GMACs`` is the network's multiply-accumulates / 1e9 ("FLOPs" in nnprof's convention)
    and ``GMem`` its memory access / 1e9 (output elements + parameter elements, NNLQP's
    definition), both counted at the measured batch size (`RawGraph.macs`, `RawGraph.mem`).
    ``flops`` uses GMACs only, ``flops-mem`` both. A power law fits latency across model
    sizes, and least squares on logs minimises relative error, which is what MAPE scores.
    Fitted in closed form (`fit`); the coefficients are a buffer, so a checkpoint stores
    them like any weights.

    Shapes: counts (B, 2) = [MACs, memory access] in units (not G) -> latency (B,)
    """

    def __init__(self, args: ModelArgs, use_memory: bool):
        super().__init__()
        self.args = args
        self.use_memory = use_memory
        self.kind = "flops-mem" if use_memory else "flops"
        self.register_buffer("coef", torch.zeros(3 if use_memory else 2))  # w0, w1 [, w2]

    def design(self, counts: torch.Tensor) -> torch.Tensor:
        g = torch.log((counts.double() / 1e9).clamp(min=1e-9))  # (B, 2)
        cols = [torch.ones_like(g[:, 0]), g[:, 0]]
        if self.use_memory:
            cols.append(g[:, 1])
        return torch.stack(cols, dim=-1)  # (B, K), K = 2 or 3

    @torch.no_grad()
    def fit(self, counts: torch.Tensor, latency_ms: torch.Tensor) -> None:
        x = self.design(counts)  # (B, K)
        y = torch.log(latency_ms.double()).unsqueeze(-1)  # (B, 1)
        sol = torch.linalg.lstsq(x, y, driver="gelsd").solution.squeeze(-1)  # (K,)
        self.coef.copy_(sol.to(self.coef.dtype))

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.design(counts) @ self.coef.double()).float()  # (B,)


def to_inference_dtype(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast the weights of the matrix products (nn.Linear, GroupedLinear) to `dtype` in place.

    For bf16 inference: the products run at bf16 speed while LayerNorm, the L2
    normalisation, attention weights, residual sums, readout and the output scale stay
    float32 (the forward passes cast at those points). Returns the model.
    """
    for m in model.modules():
        if isinstance(m, (nn.Linear, GroupedLinear)):
            m.to(dtype)
    return model


def build_model(kind: str, args: ModelArgs) -> nn.Module:
    """One factory for every method: narformer2 | gnn | flops | flops-mem | global-attn."""
    if kind == "narformer2":
        return NARFormerV2(args)
    if kind == "global-attn":
        m = NARFormerV2(args, use_adjacency=False)
        m.kind = "global-attn"
        return m
    if kind == "gnn":
        return NNLPGNN(args)
    if kind in REGRESSION_KINDS:
        return FlopsRegression(args, use_memory=kind == "flops-mem")
    raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "KINDS",
    "FlopsRegression",
    "GraphAttentionBlock",
    "ModelArgs",
    "NARFormerV2",
    "NNLPGNN",
    "build_model",
    "to_inference_dtype",
    "count_parameters",
]
