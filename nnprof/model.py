"""NAR-Former V2 latency predictor (Yi et al., NeurIPS 2023, Sec. 3.2-3.3) and its baselines.

The whole model is in this file. A batch of graphs arrives as padded dense tensors
(`nnprof.encode.GraphBatch`): no Python loop over graphs anywhere.

Dimension letters used in the shape comments:
    B  graphs in the batch
    N  nodes per graph (padded to the largest graph of the batch)
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

from nnprof.encode import STATIC_DIM, GraphBatch

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelArgs:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


# ----------------------------------------------------------------------------------------
# The graph-aided attention Transformer block


class GroupedLinear(nn.Module):
    """Linear map applied separately to G equal channel groups (block-diagonal weight).

    y[..., g, :] = x[..., g, :] W_g + b_g, so it has 1/G of a dense layer's weights.
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
        lead = x.shape[:-1]
        g = self.groups
        x = x.reshape(-1, g, x.shape[-1] // g).transpose(0, 1)  # (G, M, C/G), M = all rows
        y = torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)  # (G, M, O/G)
        return y.transpose(0, 1).reshape(*lead, -1)  # (..., O)


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
        h = self.drop(F.relu(self.fc1(x)))  # (B, N, H)
        return self.fc2(h)  # (B, N, D)


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
    ``A`` is the symmetric 0/1 adjacency without self-loops. With ``use_adjacency=False``
    (the "global attention" ablation, Table 6) ``A`` is replaced by "every pair of real
    nodes", self included, i.e. ``S = X X^T / sqrt(d)`` restricted to the graph.

    The first block may change the width (``in_dim`` C -> ``dim`` D): Eq. 6 has no residual,
    so W_a and W_r project the encoded nodes, as in the reference (no separate input layer).

    Padded nodes (mask False) get no attention weight and are zeroed on output, so they
    never reach real nodes.

    Shapes:
        x (B, N, C), adj (B, N, N), degree (B, N), mask (B, N) bool -> (B, N, D)
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
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, N, 1)
        h = x * torch.sigmoid(self.degree_gate(degree.unsqueeze(-1).to(x.dtype)))  # (B, N, C)
        q = torch.sigmoid(self.qk(h))  # (B, N, C)
        if self.use_adjacency:
            a = adj.to(x.dtype)  # (B, N, N)
        else:
            a = m * m.transpose(1, 2)  # (B, N, N): all pairs of real nodes
        s = torch.bmm(q, q.transpose(1, 2)) * self.scale * a  # (B, N, N)
        s = s / (s.sum(-1, keepdim=True) + 1e-6)  # (B, N, N), rows sum to 1 (or 0 if no neighbour)
        z = self.attn_out(torch.bmm(s, h)) + self.root(h)  # (B, N, D)
        z = F.normalize(z, p=2.0, dim=-1, eps=1e-12)  # (B, N, D), unit rows
        z = self.drop(F.relu(z)) * m  # (B, N, D), padded rows zero
        return (z + self.gamma * self.ffn(self.norm(z))) * m  # (B, N, D)


# ----------------------------------------------------------------------------------------
# Readout and head shared by the neural models


class LatencyHead(nn.Module):
    r"""Static embedding, concatenation and the head of Eq. 12.

    .. math::
        e = \mathrm{ReLU}(W_s s + b_s), \quad
        \hat y = -\log\sigma(\mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}([h; e]))))))

    ``-log sigmoid(z) = softplus(-z) > 0``, so a latency is always positive. ``out_scale``
    (a buffer, 1 unless fine-tuning calibrated it to a new device) multiplies the output.
    """

    def __init__(self, hidden: int, static_dim: int, dropout: float):
        super().__init__()
        self.static = nn.Linear(static_dim, hidden)
        self.fc1 = nn.Linear(2 * hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        self.drop = nn.Dropout(dropout)
        self.register_buffer("out_scale", torch.ones(()))

    def forward(self, pooled: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        e = F.relu(self.static(static))  # (B, D)
        h = torch.cat([pooled, e], dim=-1)  # (B, 2D)
        h = self.drop(F.relu(self.fc1(h)))  # (B, D)
        h = self.drop(F.relu(self.fc2(h)))  # (B, D)
        return -F.logsigmoid(self.fc3(h)).squeeze(-1) * self.out_scale  # (B,)


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
        self.head = LatencyHead(args.hidden, args.static_dim, args.dropout)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        h = batch.x  # (B, N, F)
        for block in self.blocks:
            h = block(h, batch.adj, batch.degree, batch.mask)  # (B, N, D)
        pooled = (h * batch.mask.unsqueeze(-1).to(h.dtype)).sum(1)  # (B, D)
        return self.head(pooled, batch.static)  # (B,)


# ----------------------------------------------------------------------------------------
# Baselines


class SAGELayer(nn.Module):
    r"""GraphSAGE layer with mean aggregation (Hamilton et al. 2017), as NNLP uses it (Eq. 3-4).

    .. math::
        h'_i = \mathrm{ReLU}(L_2(W_a \cdot \mathrm{mean}_{j \in \mathcal N(i)} h_j + b_a + W_r h_i))

    Shapes: x (B, N, C), adj (B, N, N), mask (B, N) -> (B, N, D)
    """

    def __init__(self, in_dim: int, dim: int, dropout: float):
        super().__init__()
        self.neigh = nn.Linear(in_dim, dim)
        self.root = nn.Linear(in_dim, dim, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = adj.to(x.dtype)  # (B, N, N)
        mean = torch.bmm(a, x) / a.sum(-1, keepdim=True).clamp(min=1.0)  # (B, N, C)
        z = self.neigh(mean) + self.root(x)  # (B, N, D)
        z = F.normalize(z, p=2.0, dim=-1)  # (B, N, D)
        return self.drop(F.relu(z)) * mask.unsqueeze(-1).to(x.dtype)  # (B, N, D)


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
        self.head = LatencyHead(args.hidden, args.static_dim, args.dropout)

    def forward(self, batch: GraphBatch) -> torch.Tensor:
        h = batch.x  # (B, N, F)
        for layer in self.layers:
            h = layer(h, batch.adj, batch.mask)  # (B, N, D)
        pooled = (h * batch.mask.unsqueeze(-1).to(h.dtype)).sum(1)  # (B, D)
        return self.head(pooled, batch.static)  # (B,)


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
    "count_parameters",
]
