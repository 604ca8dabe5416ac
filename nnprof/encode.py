"""Raw graph -> tensors, as NAR-Former V2 encodes a whole network for latency.

f_PE (paper Eq. 4, supplement C.1): every scalar x becomes 10 numbers
``[sin(x f0), cos(x f0), ..., sin(x f4), cos(x f4)]`` with ``f_j = 1 / 10000^(j/5)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PE_DIM = 10
STATIC_DIM = 4 * PE_DIM  # batch size, GMACs, M params... (see encode_static)

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
        return GraphBatch(*(t.to(device) for t in (self.x, self.adj, self.degree, self.mask, self.static)))

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

