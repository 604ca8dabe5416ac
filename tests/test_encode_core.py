import torch

from nnprof.encode import EncodedGraph, collate, f_pe


def test_f_pe_check_values():
    v = f_pe(torch.tensor(3.0))
    assert v.shape == (10,)
    assert torch.allclose(v[:4], torch.tensor([0.1411, -0.9900, 0.4577, 0.8891]), atol=1e-3)
    z = f_pe(torch.tensor(0.0))
    assert torch.equal(z, torch.tensor([0.0, 1.0] * 5))


def test_collate_pads_and_masks():
    g1 = EncodedGraph(torch.ones(2, 3), torch.zeros(40), torch.tensor([[0], [1]]), torch.tensor([1.0, 1.0]))
    g2 = EncodedGraph(torch.ones(3, 3), torch.zeros(40), torch.tensor([[0, 1], [1, 2]]), torch.tensor([1.0, 2.0, 1.0]))
    b = collate([g1, g2])
    assert b.x.shape == (2, 3, 3)
    assert b.mask.tolist() == [[True, True, False], [True, True, True]]
    assert torch.equal(b.adj[0], torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, 0]]))
    assert torch.equal(b.adj[1], g2.adjacency())
    assert torch.equal(b.adj[1].sum(1), g2.degree)
