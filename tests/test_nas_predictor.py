"""Accuracy predictor, its losses and a tiny training run (nnprof.nas.predictor / train)."""

import itertools

import numpy as np
import pytest
import torch

from nnprof.nas.cells import (
    NB201_OPS,
    augment_cells,
    augment_positions,
    encode_cells,
    nb101_cell,
    nb201_cell,
    stack_cells,
)
from nnprof.nas.data import Bench, make_split
from nnprof.nas.predictor import AccuracyPredictor, NasArgs, ac_loss, sr_loss, total_loss
from nnprof.nas.train import (
    TrainConfig,
    acc_within,
    evaluate,
    kendall_tau,
    load_checkpoint,
    lr_factor,
    predict,
    save_checkpoint,
    train_predictor,
)

EDGE_OPS = NB201_OPS[1:-1]


def arch(ops: tuple[str, ...]) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def tiny_bench(n: int = 64, seed: int = 0) -> Bench:
    """n NAS-Bench-201 cells whose 'accuracy' grows with the number of 3x3 convs."""
    rng = np.random.default_rng(seed)
    all_ops = list(itertools.product(EDGE_OPS, repeat=6))
    picks = rng.choice(len(all_ops), n, replace=False)
    strs = [arch(all_ops[i]) for i in picks]
    acc = (
        np.array([0.5 + 0.07 * s.count("nor_conv_3x3") - 0.05 * s.count("none") for s in strs])
        + 0.3
    )
    return Bench("nb201", [str(i) for i in picks], [nb201_cell(s) for s in strs], acc)


def test_sr_loss_zero_and_positive():
    y = torch.tensor([0.90, 0.80, 0.95, 0.70])
    perm = torch.tensor([1, 2, 3, 0])
    assert sr_loss(y, y, perm) == 0
    assert sr_loss(y + 0.05, y, perm) == pytest.approx(0.0, abs=1e-7)  # shared offset: order right
    # one swapped pair costs twice its gap on each of its two terms
    pred = torch.tensor([0.0, 1.0])
    assert sr_loss(pred, torch.tensor([1.0, 0.0]), torch.tensor([1, 0])) == pytest.approx(2.0)
    # right order, wrong gap: |(0.9 - 0.7) - (0.9 - 0.8)| = 0.1 on both terms
    assert sr_loss(
        torch.tensor([0.9, 0.7]), torch.tensor([0.9, 0.8]), torch.tensor([1, 0])
    ) == pytest.approx(0.1)
    assert sr_loss(y, y.flip(0), perm) > 0


def test_ac_and_total_loss():
    p = torch.tensor([0.5, 0.7])
    assert ac_loss(p, p) == 0
    assert ac_loss(p, torch.tensor([0.6, 0.4])) == pytest.approx((0.1 + 0.3) / 2)
    y = torch.tensor([0.5, 0.9])
    loss, parts = total_loss(p, torch.tensor([0.6, 0.4]), y, torch.tensor([1, 0, 3, 2]))
    mse = ((0.5 - 0.5) ** 2 + (0.7 - 0.9) ** 2 + (0.6 - 0.5) ** 2 + (0.4 - 0.9) ** 2) / 4
    sr = (abs(-0.2 - -0.4) * 2 + abs(0.2 - -0.4) * 2) / 4
    assert parts["mse"] == pytest.approx(mse)
    assert parts["sr"] == pytest.approx(sr)
    assert parts["ac"] == pytest.approx(0.2)
    assert float(loss) == pytest.approx(mse + 0.1 * sr + 0.5 * 0.2)


def test_predictor_shapes_and_padding():
    torch.manual_seed(0)
    model = AccuracyPredictor(NasArgs(hidden=16, layers=6)).eval()
    cells = [nb201_cell(arch(("nor_conv_3x3",) * 6)), nb201_cell(arch(("none",) * 6))]
    x, adj, deg, mask = encode_cells(stack_cells(cells))
    y = model(x, adj, deg, mask)
    assert y.shape == (2,) and torch.all(y > 0)
    assert model.fusion[-2].out_features == 6  # one adaptive weight per block
    # extra padded nodes change nothing
    x2, adj2, deg2, mask2 = encode_cells(stack_cells(cells, num_nodes=11))
    assert torch.allclose(model(x2, adj2, deg2, mask2), y, atol=1e-6)


def test_lr_schedule_and_metrics():
    f = [lr_factor(s, 100, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert (
        f[10] == pytest.approx(1.0)
        and f[55] == pytest.approx(0.5)
        and f[99] == pytest.approx(1 / 90)
    )
    assert kendall_tau(np.array([1.0, 2, 3]), np.array([10.0, 20, 30])) == pytest.approx(1.0)
    assert kendall_tau(np.array([3.0, 2, 1]), np.array([10.0, 20, 30])) == pytest.approx(-1.0)
    assert acc_within(np.array([1.05, 1.2, 0.95, 2.0]), np.ones(4)) == pytest.approx(50.0)


def test_split_is_seeded_and_disjoint():
    a, b = make_split(500, 50, seed=3), make_split(500, 50, seed=3)
    assert np.array_equal(a.train, b.train)
    assert len(a.train) == 50 and len(a.val) == 200 and len(a.test) == 250
    assert len(set(a.train) | set(a.val) | set(a.test)) == 500
    assert np.array_equal(a.test100, a.test[:100])
    assert not np.array_equal(a.train, make_split(500, 50, seed=4).train)


def test_tiny_training_run_loss_falls(tmp_path):
    # The outputs start near -logsigmoid(0) = ln 2 ~ 0.69 and the targets (shifted by 1) average
    # ~1.85: the loop must move the predictions onto the targets within a few epochs.
    torch.manual_seed(0)
    bench = tiny_bench(64)
    bench.acc = bench.acc + 1.0
    cfg = TrainConfig(epochs=12, batch_size=8, lr=3e-3, eval_every=1, seed=0, val_size=8)
    res = train_predictor(bench, 32, cfg, NasArgs(hidden=8, layers=6))
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 12, losses
    assert all(b < a for a, b in itertools.pairwise(losses[:6])), losses  # falls every epoch
    assert max(losses[-3:]) < 0.85 * losses[0], losses
    assert res.history[-1]["mse"] < 0.85 * res.history[0]["mse"]
    assert 1 <= res.best_epoch <= 12
    m = evaluate(res.model, bench, res.split)
    assert m["n_test"] == 24 and -1 <= m["tau_all"] <= 1
    path = tmp_path / "nas.pt"
    save_checkpoint(path, res, "nb201", 32, cfg, m)
    model, ckpt = load_checkpoint(path)
    assert ckpt["train_size"] == 32 and ckpt["model_args"]["hidden"] == 8
    cells = stack_cells(bench.cells[:4])
    assert np.allclose(predict(model, cells), predict(res.model, cells))
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "other.pt")


def _per_block_forward(model: AccuracyPredictor, x, adj, deg, mask) -> torch.Tensor:
    """The predictor written with each block's padded forward (which packs every time)."""
    m = mask.unsqueeze(-1).float()
    h, readouts = x, []
    for block in model.blocks:
        h = block(h, adj, deg, mask)
        readouts.append((h * m).sum(1) / m.sum(1))
    r = torch.stack(readouts, 1)
    fused = (r * model.fusion(r.flatten(1)).unsqueeze(-1)).sum(1)
    z = torch.relu(model.fc2(torch.relu(model.fc1(fused))))
    return -torch.nn.functional.logsigmoid(model.fc3(z)).squeeze(-1)


def test_packed_forward_matches_per_block_forward():
    torch.manual_seed(1)
    model = AccuracyPredictor(NasArgs(hidden=16, layers=6)).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.gamma.fill_(0.5)  # let the GFFN branch count
    diamond = nb101_cell(
        [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
        ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"],
    )
    cells = stack_cells([diamond, nb201_cell(arch(("nor_conv_3x3",) * 6)), diamond])
    x, adj, deg, mask = encode_cells(cells, pe="nerf")
    assert torch.allclose(
        model(x, adj, deg, mask), _per_block_forward(model, x, adj, deg, mask), atol=1e-6
    )


def test_augmented_positions_predict_like_renumbered_cells():
    # the training loop encodes the augmentation as permuted positions (augment_positions);
    # the model must then give exactly what it gives on the renumbered cells (augment_cells)
    torch.manual_seed(2)
    model = AccuracyPredictor(NasArgs(hidden=16, layers=6)).eval()
    bench = tiny_bench(12)
    cells = stack_cells(bench.cells)
    aug = augment_cells(cells, np.random.default_rng(3))
    pos = augment_positions(cells, np.random.default_rng(3))
    assert not torch.equal(aug.ops, cells.ops)  # some cells were renumbered
    with torch.no_grad():
        y_aug = model(*encode_cells(aug, pe="nerf"))
        y_pos = model(*encode_cells(cells, positions=pos, pe="nerf"))
        y_orig = model(*encode_cells(cells, pe="nerf"))
    assert torch.allclose(y_aug, y_pos, atol=1e-6)
    assert not torch.allclose(y_orig, y_pos, atol=1e-6)  # the position codes do matter


def test_nas_args_encoding_field():
    assert NasArgs().pe == "nerf"
    assert NasArgs.from_dict(NasArgs(hidden=8).to_dict()) == NasArgs(hidden=8)
    old = {k: v for k, v in NasArgs(hidden=8).to_dict().items() if k != "pe"}
    assert NasArgs.from_dict(old).pe == "trans"  # checkpoints from before the field
