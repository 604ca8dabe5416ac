"""NAS-Bench-101/201 cells as labelled DAGs, and their encoding (NAR-Former V2, supplement C.1).

A cell is a directed acyclic graph whose nodes carry an operation label and whose node
order is topological (input first, output last, every edge i -> j has i < j).

Encoding of node i (128 numbers)::

    t_i = [ cell_pe(op_label_i, 64) ; cell_pe(i, 64) ]        # operation ; position

with the sinusoidal encoding ``cell_pe`` below. The graph-aided attention blocks also get
the symmetric 0/1 adjacency (edges in both directions, no self-loops) and each node's
degree (row sum of that adjacency), as in the latency encoding (`nnprof.encode`).

NAS-Bench-101 (Ying et al., 2019) cells already have operations on nodes: up to 7 nodes,
labels input=0, conv1x1-bn-relu=1, conv3x3-bn-relu=2, maxpool3x3=3, output=4.

NAS-Bench-201 (Dong & Yang, 2020) cells keep operations on the 6 edges of a 4-node DAG
(cell nodes c0..c3, edge j->i for every j < i). `nb201_cell` turns every edge into an
operation node (the line graph of the cell) and adds an input and an output node::

    node 0  input                          label 0
    node 1  edge c0->c1   (arch_str op 1)  labels: nor_conv_1x1=1, nor_conv_3x3=2,
    node 2  edge c0->c2   (op 2)                   avg_pool_3x3=3, skip_connect=4, none=5
    node 3  edge c1->c2   (op 3)
    node 4  edge c0->c3   (op 4)
    node 5  edge c1->c3   (op 5)
    node 6  edge c2->c3   (op 6)
    node 7  output                         label 6

An op node for edge a->b feeds every op node for an edge b->c; the input node feeds the
edges leaving c0, the edges entering c3 feed the output node. Directed edges:
0->1, 0->2, 0->4, 1->3, 1->5, 2->6, 3->6, 4->7, 5->7, 6->7 (10 edges, the same graph for
every cell; only the labels differ). "none" edges stay as nodes with label 5, so a cell
whose path from input to output is cut is still an 8-node graph the predictor sees whole.
Node numbering and labels follow NAR-Former's public code, so encodings are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NB101_OPS = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
NB201_OPS = (
    "input",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
    "output",
)

OP_DIM = 64  # width of the operation encoding (supplement C.1)
POS_DIM = 64  # width of the position encoding (supplement C.1)
NODE_DIM = OP_DIM + POS_DIM  # 128

# The line graph of the NAS-Bench-201 cell (see the module docstring).
NB201_EDGES = ((0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7))
# Source cell node of the 6 ops in arch_str order: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|
_NB201_SOURCES = (0, 0, 1, 0, 1, 2)


@dataclass(frozen=True)
class Cell:
    """A labelled DAG in topological order.

    ops: (N,) int operation labels; adj: (N, N) 0/1 int, adj[i, j] = 1 for an edge i -> j,
    strictly upper triangular.
    """

    ops: np.ndarray
    adj: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.ops.shape[0])

    def edges(self) -> set[tuple[int, int]]:
        return {(int(i), int(j)) for i, j in zip(*np.nonzero(self.adj), strict=True)}


def nb101_cell(adjacency: list[list[int]], ops: list[str]) -> Cell:
    """A NAS-Bench-101 cell from its adjacency matrix and op names (as in the benchmark)."""
    a = np.asarray(adjacency, dtype=np.int64)
    n = len(ops)
    if a.shape != (n, n):
        raise ValueError(f"adjacency {a.shape} does not match {n} ops")
    if np.any(np.tril(a) != 0):
        raise ValueError("adjacency is not strictly upper triangular (not in topological order)")
    try:
        labels = np.array([NB101_OPS.index(o) for o in ops], dtype=np.int64)
    except ValueError as e:
        raise ValueError(f"unknown NAS-Bench-101 op in {ops}") from e
    return Cell(labels, a)


def parse_nb201(arch_str: str) -> list[str]:
    """The 6 edge ops of a NAS-Bench-201 arch string, in string order (checks the sources)."""
    ops: list[str] = []
    for step in arch_str.strip().split("+"):
        for token in step.strip("|").split("|"):
            name, _, src = token.partition("~")
            ops.append(name)
            if len(ops) > 6 or not src.isdigit() or int(src) != _NB201_SOURCES[len(ops) - 1]:
                raise ValueError(f"not a NAS-Bench-201 arch string: {arch_str!r}")
            if name not in NB201_OPS[1:-1]:
                raise ValueError(f"unknown NAS-Bench-201 op {name!r} in {arch_str!r}")
    if len(ops) != 6:
        raise ValueError(f"not a NAS-Bench-201 arch string: {arch_str!r}")
    return ops


def nb201_cell(arch_str: str) -> Cell:
    """A NAS-Bench-201 cell as the 8-node op-on-node graph of the module docstring."""
    ops = ["input", *parse_nb201(arch_str), "output"]
    labels = np.array([NB201_OPS.index(o) for o in ops], dtype=np.int64)
    a = np.zeros((8, 8), dtype=np.int64)
    for i, j in NB201_EDGES:
        a[i, j] = 1
    return Cell(labels, a)


def cell_pe(x: torch.Tensor, dim: int = 64, base: float = 10000.0) -> torch.Tensor:
    r"""Sinusoidal encoding of each scalar to ``dim`` numbers (Vaswani et al., 2017).

    .. math::
        \mathrm{PE}(x) = [\sin(x f_0), \cos(x f_0), \ldots, \sin(x f_{k-1}), \cos(x f_{k-1})],
        \quad f_j = \mathrm{base}^{-j/k}, \quad k = \mathrm{dim} / 2

    The same formula as `nnprof.encode.f_pe` with a configurable width: ``cell_pe(x, 10)``
    equals ``f_pe(x)``. That one is fixed at 10 numbers; cells need 64 (supplement C.1).
    Integer op labels and positions 0..7 are told apart by the first few frequencies.

    Shapes: x (...) -> (..., dim)
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    k = dim // 2
    freqs = torch.tensor([base ** (-j / k) for j in range(k)], dtype=torch.float64)
    ang = x.to(torch.float64).unsqueeze(-1) * freqs  # (..., k)
    return torch.stack((torch.sin(ang), torch.cos(ang)), dim=-1).flatten(-2).float()  # (..., dim)


@dataclass
class CellTensors:
    """M cells padded to N nodes. Padded nodes: label -1, mask False, zero rows."""

    ops: torch.Tensor  # (M, N) long, -1 on padding
    adj: torch.Tensor  # (M, N, N) float, directed, adj[m, i, j] = 1 for an edge i -> j
    mask: torch.Tensor  # (M, N) bool

    def __len__(self) -> int:
        return int(self.ops.shape[0])

    def index(self, idx: torch.Tensor | np.ndarray | list[int]) -> CellTensors:
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        return CellTensors(self.ops[idx], self.adj[idx], self.mask[idx])


def stack_cells(cells: list[Cell], num_nodes: int | None = None) -> CellTensors:
    """Pad a list of cells into dense tensors."""
    n = num_nodes or max(c.num_nodes for c in cells)
    m = len(cells)
    ops = torch.full((m, n), -1, dtype=torch.long)
    adj = torch.zeros(m, n, n)
    mask = torch.zeros(m, n, dtype=torch.bool)
    for i, c in enumerate(cells):
        k = c.num_nodes
        ops[i, :k] = torch.from_numpy(c.ops)
        adj[i, :k, :k] = torch.from_numpy(c.adj).float()
        mask[i, :k] = True
    return CellTensors(ops, adj, mask)


def encode_cells(
    cells: CellTensors, op_dim: int = OP_DIM, pos_dim: int = POS_DIM
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Node features, symmetric adjacency, degree and mask of M cells (supplement C.1).

    Node i of a cell gets ``[cell_pe(label_i, op_dim); cell_pe(i, pos_dim)]``; padded nodes
    get zeros. The adjacency is made symmetric (the paper's A: edges both ways, no
    self-loops) and the degree is its row sum (in + out edges).

    Shapes: CellTensors (M, N) -> x (M, N, op_dim + pos_dim), adj (M, N, N), degree (M, N),
    mask (M, N)
    """
    m, n = cells.ops.shape
    maskf = cells.mask.unsqueeze(-1).float()  # (M, N, 1)
    op_code = cell_pe(cells.ops.clamp(min=0), op_dim)  # (M, N, op_dim)
    pos_code = cell_pe(torch.arange(n), pos_dim).expand(m, n, pos_dim)  # (M, N, pos_dim)
    x = torch.cat([op_code, pos_code], dim=-1) * maskf  # (M, N, op_dim + pos_dim)
    sym = ((cells.adj + cells.adj.transpose(1, 2)) > 0).float()  # (M, N, N)
    return x, sym, sym.sum(-1), cells.mask


def random_topological_order(adj: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random topological order of a DAG (Kahn's algorithm, uniform pick among ready nodes).

    In a NAS cell the input is the only source and the output the only sink (every node
    lies on an input->output path), so the order starts with the input and ends with the
    output, as NAR-Former's augmentation requires.
    """
    n = adj.shape[0]
    indeg = adj.sum(0).astype(np.int64)
    ready = [i for i in range(n) if indeg[i] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop(int(rng.integers(len(ready))))
        order.append(v)
        for w in np.nonzero(adj[v])[0]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(int(w))
    if len(order) != n:
        raise ValueError("graph has a cycle")
    return np.asarray(order, dtype=np.int64)


def augment_cells(cells: CellTensors, rng: np.random.Generator) -> CellTensors:
    """Information-flow-consistency augmentation (NAR-Former, Yi et al., CVPR 2023, Sec. 3.3).

    Each cell is renumbered by a random topological order ``p`` of its DAG: new node k is
    old node p[k], so ops' = ops[p] and adj' = adj[p][:, p]. The labelled DAG (which
    operation feeds which) is unchanged, only the node numbering -- and so the position
    part of the encoding -- differs; adj' stays strictly upper triangular, i.e. the new
    numbering is again an order in which information can flow. A cell with a single
    topological order (a chain) comes back unchanged. NAR-Former's code picks the first
    valid permutation once per cell; here a new one is drawn every time (every epoch).

    Padded nodes keep their place at the end.
    """
    ops = cells.ops.clone()
    adj = cells.adj.clone()
    for m in range(len(cells)):
        k = int(cells.mask[m].sum())
        a = cells.adj[m, :k, :k].numpy()
        p = torch.from_numpy(random_topological_order(a, rng))
        ops[m, :k] = cells.ops[m, p]
        adj[m, :k, :k] = cells.adj[m, p][:, p]
    return CellTensors(ops, adj, cells.mask.clone())
