"""Cell graphs and encodings (nnprof.nas.cells) on tiny hand-made cells."""

import itertools
import math

import numpy as np
import pytest
import torch

from nnprof.encode import f_pe
from nnprof.nas.cells import (
    NB201_EDGES,
    augment_cells,
    cell_pe,
    encode_cells,
    nb101_cell,
    nb201_cell,
    parse_nb201,
    random_topological_order,
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
    x, adj, deg, mask = encode_cells(t)
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
