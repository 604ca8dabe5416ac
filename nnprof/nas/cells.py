"""NAS-Bench-101/201 cells as labelled DAGs, and their encoding (NAR-Former V2, supplement C.1).

A cell is a directed acyclic graph whose nodes carry an operation label and whose node
order is topological (input first, output last, every edge i -> j has i < j).

Encoding of node i (128 numbers)::

    t_i = [ PE(op_label_i, 64) ; PE(i, 64) ]        # operation ; position

with a sinusoidal f_PE: by default ``nerf_pe`` (the NeRF form, with the frequencies of
NAR-Former V2's released cell tokenizer), or ``cell_pe`` (the Transformer form, the
latency encoding's f_PE widened to 64); docs/nas.md compares the two. The graph-aided attention blocks also get
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

import math
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


PE_KINDS = ("trans", "nerf")


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


def nerf_pe(x: torch.Tensor, dim: int = 64) -> torch.Tensor:
    r"""The NeRF form of the encoding (Mildenhall et al., 2020; the paper's [30]), with the
    frequencies of NAR-Former V2's released cell tokenizer (``embed_type nerf``,
    ``multires 32``, linear sampling):

    .. math::
        \mathrm{PE}(x) = [\sin(\pi x f_0), \cos(\pi x f_0), \ldots], \quad
        f_j = 1 + j \frac{2^{k-1} - 1}{k - 1}, \quad j = 0..k-1, \quad k = \mathrm{dim} / 2

    i.e. k frequencies spaced evenly from 1 to 2^(k-1). For the small integers of a cell
    (labels 0-6, positions 0-7) the high frequencies make the codes of different integers
    nearly orthogonal, where `cell_pe`'s low frequencies (most f_j << 1) leave the codes of
    neighbouring integers nearly equal. The angles are computed in float64.

    Shapes: x (...) -> (..., dim)
    """
    if dim % 2 or dim < 4:
        raise ValueError(f"dim must be even and >= 4, got {dim}")
    k = dim // 2
    # numpy's linspace, as the reference: at angles up to ~5e10 the last bits of f_j show
    freqs = torch.from_numpy(np.linspace(1.0, 2.0 ** (k - 1), k))  # (k,) float64
    ang = (x.to(torch.float64) * math.pi).unsqueeze(-1) * freqs  # (..., k), the reference's order
    return torch.stack((torch.sin(ang), torch.cos(ang)), dim=-1).flatten(-2).float()  # (..., dim)


def pe_table(n: int, dim: int, kind: str = "trans") -> torch.Tensor:
    """Encodings of the integers 0..n-1: row i = PE(i). Shapes: -> (n, dim)"""
    if kind not in PE_KINDS:
        raise ValueError(f"unknown encoding {kind!r}; choose one of {PE_KINDS}")
    x = torch.arange(n)
    return cell_pe(x, dim) if kind == "trans" else nerf_pe(x, dim)


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
    cells: CellTensors,
    op_dim: int = OP_DIM,
    pos_dim: int = POS_DIM,
    *,
    positions: torch.Tensor | None = None,
    pe: str = "nerf",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Node features, symmetric adjacency, degree and mask of M cells (supplement C.1).

    Node i of a cell gets ``[PE(label_i, op_dim); PE(position_i, pos_dim)]`` (``pe``:
    "trans" = `cell_pe`, "nerf" = `nerf_pe`); padded nodes get zeros. The position of node i
    is i, unless ``positions`` (M, N) gives another numbering (see `augment_positions`). The
    adjacency is made symmetric (the paper's A: edges both ways, no self-loops) and the
    degree is its row sum (in + out edges). Both encodings come from small tables
    (`pe_table`) indexed by label and position.

    Shapes: CellTensors (M, N), positions (M, N) long -> x (M, N, op_dim + pos_dim),
    adj (M, N, N), degree (M, N), mask (M, N)
    """
    m, n = cells.ops.shape
    maskf = cells.mask.unsqueeze(-1).float()  # (M, N, 1)
    ops = cells.ops.clamp(min=0)  # (M, N)
    op_code = pe_table(int(ops.max()) + 1 if ops.numel() else 1, op_dim, pe)[ops]  # (M, N, op_dim)
    if positions is None:
        pos_code = pe_table(n, pos_dim, pe).expand(m, n, pos_dim)  # (M, N, pos_dim)
    else:
        pos_code = pe_table(n, pos_dim, pe)[positions]  # (M, N, pos_dim)
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


def random_topological_orders(cells: CellTensors, rng: np.random.Generator) -> torch.Tensor:
    """A random topological order of every cell at once (Kahn's algorithm, batched).

    The same distribution as `random_topological_order` on each cell: at every step one of
    the ready nodes (all predecessors placed) is picked uniformly at random. Padded nodes
    keep their place at the end: row m is a permutation of 0..N-1 whose first k_m entries
    order the k_m real nodes.

    Shapes: CellTensors (M, N) -> (M, N) long, order[m, k] = old index of new node k
    """
    adj = cells.adj.numpy() > 0  # (M, N, N)
    mask = cells.mask.numpy()  # (M, N)
    m, n = mask.shape
    indeg = adj.sum(1).astype(np.int64)  # (M, N) predecessors not yet placed
    placed = ~mask  # padded nodes never get picked
    order = np.tile(np.arange(n), (m, 1))  # (M, N); padded tail stays as it is
    rows = np.arange(m)
    for k in range(n):
        live = ~placed.all(1)  # (M,) cells with a node left to place
        if not live.any():
            break
        ready = ~placed & (indeg == 0)  # (M, N)
        if np.any(live & ~ready.any(1)):
            raise ValueError("graph has a cycle")
        score = np.where(ready, rng.random((m, n)), -1.0)  # uniform among ready nodes
        v = score.argmax(1)  # (M,)
        r, v = rows[live], v[live]
        order[r, k] = v
        placed[r, v] = True
        indeg[r] -= adj[r, v].astype(np.int64)  # (L, N): drop v's out-edges
    if np.any(~placed):
        raise ValueError("graph has a cycle")
    return torch.from_numpy(order)


def augment_positions(cells: CellTensors, rng: np.random.Generator) -> torch.Tensor:
    """Node positions of the information-flow-consistency augmentation, without moving nodes.

    `augment_cells` renumbers a cell by a random topological order p (new node k = old node
    p[k]). The predictor sees a node only through its label, its position code, the
    adjacency and the degree, and is otherwise indifferent to the order of the rows (the
    attention follows the adjacency, the readout is a mean). Giving old node p[k] position k
    -- positions = p^-1 -- in the original cell therefore encodes the same graph as the
    renumbered cell, with the rows in the old order: the prediction is the same (tested), and
    only a small table gather is needed per step.

    Shapes: CellTensors (M, N) -> (M, N) long, positions[m, i] = new index of old node i
    """
    order = random_topological_orders(cells, rng)  # (M, N)
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return pos


def augment_cells(cells: CellTensors, rng: np.random.Generator) -> CellTensors:
    """Information-flow-consistency augmentation (NAR-Former, Yi et al., CVPR 2023, Sec. 3.3).

    Each cell is renumbered by a random topological order ``p`` of its DAG: new node k is
    old node p[k], so ops' = ops[p] and adj' = adj[p][:, p]. The labelled DAG (which
    operation feeds which) is unchanged, only the node numbering -- and so the position
    part of the encoding -- differs; adj' stays strictly upper triangular, i.e. the new
    numbering is again an order in which information can flow. A cell with a single
    topological order (a chain) comes back unchanged. NAR-Former's code picks the first
    valid permutation once per cell; here a new one is drawn every time (every step).
    Training uses the equivalent `augment_positions`.

    Padded nodes keep their place at the end.
    """
    p = random_topological_orders(cells, rng)  # (M, N)
    ops = torch.gather(cells.ops, 1, p)
    adj = cells.adj[torch.arange(len(cells)).unsqueeze(1), p]  # rows permuted (M, N, N)
    adj = torch.gather(adj, 2, p.unsqueeze(1).expand_as(adj))  # columns permuted
    return CellTensors(ops, adj, cells.mask.clone())
