"""Cell graphs and encodings (nnprof.nas.cells) on tiny hand-made cells."""

import itertools
import math

import numpy as np
import pytest
import torch

from nnprof.encode import f_pe
from nnprof.nas.cells import (
    NB201_EDGES,
    CellTensors,
    augment_cells,
    augment_positions,
    cell_pe,
    encode_cells,
    nb101_cell,
    nb201_cell,
    nerf_pe,
    parse_nb201,
    pe_table,
    random_topological_order,
    random_topological_orders,
    stack_cells,
)

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

# input -> conv3x3 -> maxpool -> output, and input -> conv1x1 -> output: two branches
DIAMOND_ADJ = [
    [0, 1, 0, 1, 0],
    [0, 0, 1, 0, 0],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0],
]
DIAMOND_OPS = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"]


def test_cell_pe_values():
    x = torch.tensor([0.0, 3.0])
    pe = cell_pe(x, 4)  # f = 1, 10000^(-1/2) = 0.01
    assert pe.shape == (2, 4)
    assert torch.allclose(pe[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    expect = [math.sin(3), math.cos(3), math.sin(0.03), math.cos(0.03)]
    assert torch.allclose(pe[1], torch.tensor(expect), atol=1e-7)
    # with 10 dims it is the latency encoding's f_PE
    assert torch.allclose(cell_pe(torch.arange(8.0), 10), f_pe(torch.arange(8.0)), atol=1e-6)
    assert cell_pe(torch.arange(8.0), 64).shape == (8, 64)
    # labels and positions 0..7 all get different codes
    codes = cell_pe(torch.arange(8.0), 64)
    assert torch.cdist(codes, codes).add(torch.eye(8)).min() > 0.5
    with pytest.raises(ValueError):
        cell_pe(x, 5)


def test_nb201_edge_to_node_graph():
    assert parse_nb201(ARCH) == [
        "nor_conv_3x3",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    ]
    c = nb201_cell(ARCH)
    # input, edges c0->c1, c0->c2, c1->c2, c0->c3, c1->c3, c2->c3, output
    assert c.ops.tolist() == [0, 2, 2, 3, 4, 2, 4, 6]
    assert c.edges() == set(NB201_EDGES)
    assert c.edges() == {
        (0, 1),
        (0, 2),
        (0, 4),
        (1, 3),
        (1, 5),
        (2, 6),
        (3, 6),
        (4, 7),
        (5, 7),
        (6, 7),
    }
    # every op node for edge a->b feeds exactly the op nodes for edges b->c
    cell_edge = {1: (0, 1), 2: (0, 2), 3: (1, 2), 4: (0, 3), 5: (1, 3), 6: (2, 3)}
    for u, (_, b) in cell_edge.items():
        succ = {v for (x, v) in c.edges() if x == u and v in cell_edge}
        assert succ == {v for v, (a2, _) in cell_edge.items() if a2 == b}
    none_cell = nb201_cell("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert none_cell.ops.tolist() == [0, 5, 5, 5, 5, 5, 5, 6]


@pytest.mark.parametrize(
    "bad",
    [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|",  # 3 ops only
        "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|conv_5x5~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    ],
)
def test_nb201_rejects_bad_strings(bad):
    with pytest.raises(ValueError):
        nb201_cell(bad)


def test_nb101_cell_and_encoding():
    c = nb101_cell(DIAMOND_ADJ, DIAMOND_OPS)
    assert c.ops.tolist() == [0, 2, 3, 1, 4]
    with pytest.raises(ValueError):
        nb101_cell([[0, 0], [1, 0]], ["input", "output"])  # edge 1 -> 0: not topological
    t = stack_cells([c, nb201_cell(ARCH)])
    assert t.ops.shape == (2, 8) and t.ops[0].tolist() == [0, 2, 3, 1, 4, -1, -1, -1]
    x, adj, deg, mask = encode_cells(t, pe="trans")
    assert x.shape == (2, 8, 128) and adj.shape == (2, 8, 8) and deg.shape == (2, 8)
    assert mask[0].tolist() == [True] * 5 + [False] * 3
    assert torch.equal(x[0, 5:], torch.zeros(3, 128))  # padding
    # node 2 of the NB101 cell: maxpool (label 3) at position 2
    assert torch.allclose(x[0, 2, :64], cell_pe(torch.tensor(3.0), 64))
    assert torch.allclose(x[0, 2, 64:], cell_pe(torch.tensor(2.0), 64))
    assert torch.equal(adj[0], adj[0].T) and adj[0].diagonal().sum() == 0
    assert deg[0].tolist() == [2, 2, 2, 2, 2, 0, 0, 0]
    assert deg[1].tolist() == [3, 3, 2, 2, 2, 2, 3, 3]


def _same_labelled_dag(ops_a, adj_a, ops_b, adj_b) -> bool:
    n = len(ops_a)
    for p in itertools.permutations(range(n)):
        p = list(p)
        if np.array_equal(ops_a[p], ops_b) and np.array_equal(adj_a[np.ix_(p, p)], adj_b):
            return True
    return False


def test_random_topological_order_is_valid():
    a = np.array(DIAMOND_ADJ)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(50):
        order = random_topological_order(a, rng)
        pos = {int(v): k for k, v in enumerate(order)}
        assert all(pos[i] < pos[j] for i, j in zip(*np.nonzero(a), strict=True))
        assert order[0] == 0 and order[-1] == 4
        seen.add(tuple(order.tolist()))
    # the 3 interleavings of the branches 1->2 and 3
    assert seen == {(0, 1, 2, 3, 4), (0, 1, 3, 2, 4), (0, 3, 1, 2, 4)}
    with pytest.raises(ValueError):
        random_topological_order(np.array([[0, 1], [1, 0]]), rng)


def test_augmentation_preserves_the_dag():
    cells = stack_cells([nb101_cell(DIAMOND_ADJ, DIAMOND_OPS), nb201_cell(ARCH)])
    rng = np.random.default_rng(1)
    changed = 0
    for _ in range(20):
        aug = augment_cells(cells, rng)
        assert torch.equal(aug.mask, cells.mask)
        for m, k in ((0, 5), (1, 8)):
            ops_a, adj_a = cells.ops[m, :k].numpy(), cells.adj[m, :k, :k].numpy()
            ops_b, adj_b = aug.ops[m, :k].numpy(), aug.adj[m, :k, :k].numpy()
            assert np.all(np.tril(adj_b) == 0)  # still an order information flows in
            assert ops_b[0] == ops_a[0] and ops_b[-1] == ops_a[-1]  # input first, output last
            if m == 0:  # brute-force isomorphism check on the small cell
                assert _same_labelled_dag(ops_a, adj_a, ops_b, adj_b)
            else:
                assert sorted(ops_b.tolist()) == sorted(ops_a.tolist())
                assert adj_b.sum() == adj_a.sum()
            changed += int(not np.array_equal(ops_a, ops_b) or not np.array_equal(adj_a, adj_b))
        assert torch.equal(aug.ops[0, 5:], cells.ops[0, 5:])  # padding untouched
    assert changed > 0
    # the input tensors are not modified in place
    assert cells.ops[0].tolist() == [0, 2, 3, 1, 4, -1, -1, -1]


def test_nerf_pe_values():
    pe = nerf_pe(torch.tensor([0.0, 1.0, 3.0]), 64)
    assert pe.shape == (3, 64)
    freqs = np.linspace(1.0, 2.0**31, 32)  # the reference tokenizer's linear sampling
    assert freqs[1] == pytest.approx(1 + (2**31 - 1) / 31)
    for row, x in zip(pe, (0.0, 1.0, 3.0), strict=True):
        expect = np.stack([np.sin(np.pi * x * freqs), np.cos(np.pi * x * freqs)], -1).ravel()
        assert np.allclose(row.numpy(), expect, atol=1e-6)
    assert pe[2, :2].tolist() == pytest.approx([0.0, -1.0], abs=1e-6)  # sin(3 pi), cos(3 pi)
    # the codes of 0..7 are far apart (nearly orthogonal apart from f_0 = 1)
    codes = nerf_pe(torch.arange(8.0), 64)
    gram = codes @ codes.T / 32
    off = gram - torch.diag(torch.diag(gram))
    assert torch.allclose(torch.diag(gram), torch.ones(8), atol=1e-5)
    assert off.abs().max() < 0.5
    trans = cell_pe(torch.arange(8.0), 64)
    trans_off = (trans @ trans.T / 32).fill_diagonal_(0)
    assert off.abs().max() < 0.5 * trans_off.abs().max()  # the Transformer codes are close
    with pytest.raises(ValueError):
        nerf_pe(torch.tensor([1.0]), 5)
    assert torch.equal(pe_table(4, 64, "nerf"), nerf_pe(torch.arange(4), 64))
    assert torch.equal(pe_table(4, 64, "trans"), cell_pe(torch.arange(4), 64))
    with pytest.raises(ValueError):
        pe_table(4, 64, "onehot")


def test_encode_cells_nerf_and_positions():
    t = stack_cells([nb101_cell(DIAMOND_ADJ, DIAMOND_OPS), nb201_cell(ARCH)])
    x, _, _, _ = encode_cells(t, pe="nerf")
    assert torch.allclose(x[0, 2, :64], nerf_pe(torch.tensor(3.0), 64))  # maxpool label 3
    assert torch.allclose(x[0, 2, 64:], nerf_pe(torch.tensor(2.0), 64))  # position 2
    pos = torch.tensor([[0, 3, 4, 1, 2, 5, 6, 7], [0, 2, 1, 3, 4, 5, 6, 7]])
    xp, _, _, _ = encode_cells(t, positions=pos, pe="nerf")
    assert torch.equal(xp[..., :64], x[..., :64])  # the op half does not move
    assert torch.allclose(xp[0, 1, 64:], nerf_pe(torch.tensor(3.0), 64))
    assert torch.allclose(xp[1, 2, 64:], nerf_pe(torch.tensor(1.0), 64))
    assert torch.equal(xp[0, 5:], torch.zeros(3, 128))  # padding stays zero


def test_batched_topological_orders():
    cells = stack_cells([nb101_cell(DIAMOND_ADJ, DIAMOND_OPS)] * 600 + [nb201_cell(ARCH)] * 3)
    order = random_topological_orders(cells, np.random.default_rng(0))
    assert order.shape == (603, 8)
    a = np.array(DIAMOND_ADJ)
    counts: dict[tuple, int] = {}
    for row in order[:600].tolist():
        assert row[5:] == [5, 6, 7]  # padding keeps its place
        pos = {v: k for k, v in enumerate(row[:5])}
        assert all(pos[i] < pos[j] for i, j in zip(*np.nonzero(a), strict=True))
        counts[tuple(row[:5])] = counts.get(tuple(row[:5]), 0) + 1
    # uniform pick among ready nodes (as random_topological_order): after 0, node 3 with
    # probability 1/2; after 0, 1 the two ready nodes 2 and 3 with 1/2 each -> 1/4, 1/4, 1/2
    assert set(counts) == {(0, 1, 2, 3, 4), (0, 1, 3, 2, 4), (0, 3, 1, 2, 4)}
    assert counts[(0, 3, 1, 2, 4)] == pytest.approx(300, abs=45)
    assert counts[(0, 1, 2, 3, 4)] == pytest.approx(150, abs=40)
    e201 = np.array(NB201_EDGES)
    for row in order[600:].tolist():
        pos = {v: k for k, v in enumerate(row)}
        assert all(pos[i] < pos[j] for i, j in e201)
    cyc = CellTensors(
        torch.zeros(1, 2, dtype=torch.long),
        torch.tensor([[[0.0, 1], [1, 0]]]),
        torch.ones(1, 2, dtype=torch.bool),
    )
    with pytest.raises(ValueError):
        random_topological_orders(cyc, np.random.default_rng(0))


def test_augment_positions_is_augment_cells():
    # the same draw: renumbering the nodes, or giving the old nodes the new positions
    cells = stack_cells([nb101_cell(DIAMOND_ADJ, DIAMOND_OPS), nb201_cell(ARCH)] * 4)
    aug = augment_cells(cells, np.random.default_rng(5))
    pos = augment_positions(cells, np.random.default_rng(5))
    order = random_topological_orders(cells, np.random.default_rng(5))
    for m in range(len(cells)):
        assert torch.equal(pos[m][order[m]], torch.arange(8))  # pos is the inverse permutation
        assert torch.equal(aug.ops[m], cells.ops[m][order[m]])
    xa, adja, dega, _ = encode_cells(aug, pe="nerf")
    xp, adjp, degp, _ = encode_cells(cells, positions=pos, pe="nerf")
    for m in range(len(cells)):
        p = order[m]
        assert torch.allclose(xa[m], xp[m][p])  # the same nodes, listed in another order
        assert torch.equal(adja[m], adjp[m][p][:, p]) and torch.equal(dega[m], degp[m][p])
