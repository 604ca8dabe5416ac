import math

import pytest
import torch

from nnprof.encode import EncodedGraph, collate
from nnprof.model import (
    FlopsRegression,
    GraphAttentionBlock,
    GroupedLinear,
    ModelArgs,
    build_model,
    count_parameters,
)

F_DIM = 12


def chain_graph(n: int, seed: int, extra: list[tuple[int, int]] = ()) -> EncodedGraph:
    """A random n-node chain (plus optional extra undirected edges), F_DIM features."""
    g = torch.Generator().manual_seed(seed)
    pairs = sorted({(i, i + 1) for i in range(n - 1)} | {tuple(sorted(e)) for e in extra})
    edges = torch.tensor(pairs, dtype=torch.long).T.reshape(2, -1)
    degree = torch.zeros(n)
    degree.index_add_(0, edges[0], torch.ones(edges.shape[1]))
    degree.index_add_(0, edges[1], torch.ones(edges.shape[1]))
    return EncodedGraph(torch.rand(n, F_DIM, generator=g), torch.rand(40, generator=g), edges, degree)


def small_args(**kw) -> ModelArgs:
    return ModelArgs(node_dim=F_DIM, hidden=16, groups=4, **kw)


def test_block_shapes_and_padding_does_not_leak():
    torch.manual_seed(0)
    block = GraphAttentionBlock(16, ffn_ratio=4, groups=8, in_dim=F_DIM).eval()
    graphs = [chain_graph(3, 1), chain_graph(6, 2, [(0, 5)])]
    b = collate(graphs)
    y = block(b.x, b.adj, b.degree, b.mask)
    assert y.shape == (2, 6, 16)
    assert torch.equal(y[0, 3:], torch.zeros(3, 16))  # padded rows stay zero
    # changing the padding content must not change real nodes
    x2 = b.x.clone()
    x2[0, 3:] = 100.0
    y2 = block(x2, b.adj, b.degree, b.mask)
    assert torch.allclose(y[0, :3], y2[0, :3])
    alone = block(*(t[:1, :3] for t in (b.x, b.adj[:, :, :3], b.degree, b.mask)))
    assert torch.allclose(y[0, :3], alone[0], atol=1e-6)


@pytest.mark.parametrize("use_adjacency", [True, False])
def test_block_matches_equations_by_hand(use_adjacency):
    torch.manual_seed(0)
    d = 8
    block = GraphAttentionBlock(d, ffn_ratio=4, groups=8, use_adjacency=use_adjacency).eval()
    g = chain_graph(4, 3, [(0, 2)])
    x, a, deg = g.x[:, :d], g.adjacency(), g.degree
    h = x * torch.sigmoid(block.degree_gate(deg[:, None]))
    q = torch.sigmoid(block.qk(h))
    s = q @ q.T / math.sqrt(d)
    if use_adjacency:
        s = s * a
    s = s / (s.sum(1, keepdim=True) + 1e-6)
    z = block.attn_out(s @ h) + block.root(h)
    z = torch.relu(z / z.norm(dim=1, keepdim=True))
    expected = z + block.gamma * block.ffn(block.norm(z))
    got = block(x[None], a[None], deg[None], torch.ones(1, 4, dtype=torch.bool))[0]
    assert torch.allclose(got, expected, atol=1e-6)


def test_global_attention_differs_from_graph_attention_only_by_adjacency():
    torch.manual_seed(0)
    local = GraphAttentionBlock(8, groups=8).eval()
    glob = GraphAttentionBlock(8, groups=8, use_adjacency=False).eval()
    glob.load_state_dict(local.state_dict())
    g = chain_graph(5, 4)
    args = (g.x[None, :, :8], g.adjacency()[None], g.degree[None], torch.ones(1, 5, dtype=torch.bool))
    assert not torch.allclose(local(*args), glob(*args))
    full = torch.ones(1, 5, 5)
    assert torch.allclose(glob(*args), local(args[0], full, args[2], args[3]))


def test_grouped_linear_is_block_diagonal():
    torch.manual_seed(0)
    gl = GroupedLinear(8, 4, groups=2)
    x = torch.rand(3, 8)
    dense = torch.zeros(8, 4)
    dense[:4, :2] = gl.weight[0]
    dense[4:, 2:] = gl.weight[1]
    assert torch.allclose(gl(x), x @ dense + gl.bias.reshape(-1), atol=1e-6)
    assert sum(p.numel() for p in gl.parameters()) == 2 * (4 * 2 + 2)


def test_reference_configuration_has_about_2_3m_parameters():
    m = build_model("narformer2", ModelArgs(node_dim=152))
    assert count_parameters(m) == 2_309_641
    assert count_parameters(build_model("global-attn", ModelArgs(node_dim=152))) == 2_309_641


@pytest.mark.parametrize("kind", ["narformer2", "gnn", "global-attn"])
def test_batched_equals_one_by_one(kind):
    torch.manual_seed(0)
    model = build_model(kind, small_args()).eval()
    graphs = [chain_graph(n, n, [(0, n - 1)]) for n in (2, 5, 9, 3)]
    with torch.no_grad():
        batched = model(collate(graphs))
        alone = torch.cat([model(collate([g])) for g in graphs])
    assert batched.shape == (4,)
    assert (batched > 0).all()
    assert torch.allclose(batched, alone, rtol=1e-5, atol=1e-6)


def test_build_model_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown model kind 'transformer'"):
        build_model("transformer", ModelArgs())


def test_flops_regression_recovers_power_law():
    macs = torch.tensor([1e8, 5e8, 2e9, 4e9], dtype=torch.float64)
    mem = torch.tensor([3e6, 1e7, 2e7, 9e7], dtype=torch.float64)
    lat = 2.0 * (macs / 1e9) ** 0.8 * (mem / 1e9) ** 0.1
    counts = torch.stack([macs, mem], 1)
    m = FlopsRegression(ModelArgs(), use_memory=True)
    m.fit(counts, lat)
    assert torch.allclose(m.coef.double(), torch.tensor([math.log(2.0), 0.8, 0.1], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(m(counts).double(), lat, rtol=1e-5)
    only = FlopsRegression(ModelArgs(), use_memory=False)
    only.fit(counts, 3.0 * (macs / 1e9) ** 0.5)
    assert torch.allclose(only.coef.double(), torch.tensor([math.log(3.0), 0.5], dtype=torch.float64), atol=1e-5)


# ------------------------------------------------------------------- residual head (nnprof)


def test_static_counts_inverts_the_static_encoding():
    from nnprof.data import synthetic
    from nnprof.encode import encode_static
    from nnprof.model import static_counts

    samples = synthetic(4, seed=1)
    st = torch.stack([encode_static(s.graph) for s in samples])  # (B, 40)
    got = static_counts(st).double()  # (B, 2)
    want = torch.tensor([[s.graph.macs, s.graph.mem] for s in samples], dtype=torch.float64)
    assert torch.allclose(got, want, rtol=1e-5)


def test_residual_head_is_the_power_law_times_a_bounded_factor():
    from nnprof.model import RESIDUAL_BOUND, NARFormerV2

    torch.manual_seed(0)
    m = NARFormerV2(small_args(residual=True)).eval()
    assert "head.base_coef" in m.state_dict()
    assert "head.base_coef" not in NARFormerV2(small_args()).state_dict()  # paper head unchanged
    m.head.base_coef.copy_(torch.tensor([math.log(3.0), 1.0, 0.0]))  # 3 ms per GMAC
    macs = torch.tensor([2e9, 8e9])
    from nnprof.encode import _log_units, _pe_masked

    static = torch.stack([_pe_masked(torch.tensor([1.0, _log_units(v), 0.0, _log_units(1e6)]).double().numpy()) for v in macs.tolist()]).float()
    assert torch.allclose(m.head.base(static), torch.tensor([6.0, 24.0]), rtol=1e-4)
    with torch.no_grad():
        m.head.fc3.weight.zero_()
        m.head.fc3.bias.fill_(0.0)
    batch = collate([chain_graph(3, 0), chain_graph(5, 1)])
    batch.static = static
    assert torch.allclose(m(batch), torch.tensor([6.0, 24.0]), rtol=1e-4)  # z = 0: factor 1
    with torch.no_grad():
        m.head.fc3.bias.fill_(100.0)  # a huge z saturates at exp(bound)
    assert torch.allclose(m(batch), torch.tensor([6.0, 24.0]) * math.exp(RESIDUAL_BOUND), rtol=1e-4)
