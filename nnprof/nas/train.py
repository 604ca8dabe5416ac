"""Training and evaluation of the NAS accuracy predictor; self-describing checkpoints.

Protocol (paper Sec. 4.3, supplement C.3): ``train_size`` training cells, 200 validation
cells, every other cell of the benchmark file is a test cell. Adam, linear warm-up over the
first 10% of the steps to lr 1e-4, then linear decay to 0, stepped per batch. Every batch
holds B cells and their information-flow-consistent renumberings (2B forward passes); the
loss is MSE + 0.1 L_SR + 0.5 L_AC (`nnprof.nas.predictor.total_loss`). The weights with the
best validation Kendall tau (checked every ``eval_every`` epochs and at the end) are kept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from nnprof import __version__, metrics
from nnprof.nas.cells import CellTensors, augment_positions, encode_cells, stack_cells
from nnprof.nas.data import VAL_SIZE, Bench, Split, make_split
from nnprof.nas.predictor import AccuracyPredictor, LossWeights, NasArgs, total_loss

CHECKPOINT_KIND = "nnprof-nas-accuracy"

# Defaults for a CPU budget (docs/nas.md says how they were chosen). The paper: D = 512,
# batch 8, lr 1e-4, 3000 (NB101) / 1000 (NB201) epochs on a GPU, i.e. ~50-150k steps.
DEFAULTS = {
    "nb101": {"hidden": 128, "lr": 1e-3},
    "nb201": {"hidden": 128, "lr": 1e-3},
}
DEFAULT_STEPS = 12000  # optimizer steps the default epoch count aims at (docs/nas.md: what converged here)
MIN_EPOCHS = 10


def default_epochs(train_size: int, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
    """Epochs for about ``steps`` optimizer steps (at least MIN_EPOCHS): the same training
    budget in steps whatever the training-set size."""
    per_epoch = max(1, train_size // batch_size)
    return max(MIN_EPOCHS, -(-steps // per_epoch))


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 16  # cells per step (plus as many augmented copies)
    lr: float = 1e-4  # peak learning rate after warm-up (reference code)
    warmup: float = 0.1  # share of the steps spent warming up
    eval_every: int = 10  # epochs between validation checks
    seed: int = 0  # split, initialisation, shuffling and augmentation
    val_size: int = VAL_SIZE  # validation cells (paper: 200)
    weights: LossWeights = field(default_factory=LossWeights)

    def to_dict(self) -> dict:
        return asdict(self)


def kendall_tau(pred: np.ndarray, target: np.ndarray) -> float:
    """Kendall's tau-b between predictions and ground truth (`nnprof.metrics`); NaN when
    either side is constant."""
    tau = metrics.kendall_tau(target, pred)
    return float("nan") if tau is None else tau


def acc_within(pred: np.ndarray, target: np.ndarray, bound: float = 0.1) -> float:
    """ACC(bound): share of cells with |pred - y| / y <= bound (supplement B.2, Eq. 8), in %."""
    return metrics.acc(target, pred, bound)


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up from 0 to 1 over ``warmup * total`` steps, then linear decay to 0."""
    w = max(1, int(round(warmup * total)))
    if step < w:
        return (step + 1) / w
    return max(0.0, (total - step) / max(1, total - w))


@torch.no_grad()
def predict(model: AccuracyPredictor, cells: CellTensors, batch_size: int = 2048) -> np.ndarray:
    """Predicted accuracy (fraction) of every cell, in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, len(cells), batch_size):
        part = cells.index(np.arange(s, min(s + batch_size, len(cells))))
        x, adj, deg, mask = encode_cells(part, pe=model.args.pe)
        out.append(model(x, adj, deg, mask))
    model.train(was_training)
    return torch.cat(out).double().numpy()


@dataclass
class TrainResult:
    model: AccuracyPredictor
    split: Split
    best_epoch: int
    val_tau: float
    history: list[dict]  # one entry per validation check
    seconds: float  # wall time of the training loop


def train_predictor(
    bench: Bench,
    train_size: int,
    cfg: TrainConfig,
    args: NasArgs | None = None,
    progress: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train one predictor on ``train_size`` cells of ``bench`` (split by ``cfg.seed``)."""
    args = args or NasArgs()
    split = make_split(len(bench), train_size, cfg.seed, cfg.val_size)
    all_cells = stack_cells(bench.cells)
    y_all = torch.from_numpy(bench.acc).float()
    train_cells = all_cells.index(split.train)
    y_train = y_all[torch.from_numpy(split.train)]
    val_cells = all_cells.index(split.val)
    y_val = bench.acc[split.val]

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    model = AccuracyPredictor(args)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, foreach=True)  # one call per step
    n = len(train_cells)
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop the last partial batch (SR needs pairs)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, cfg.warmup))

    best_tau, best_epoch, best_state = -2.0, 0, copy.deepcopy(model.state_dict())
    history: list[dict] = []
    t0 = time.perf_counter()
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(n)
        sums = {"loss": 0.0, "mse": 0.0, "sr": 0.0, "ac": 0.0}
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            cells = train_cells.index(idx)
            # the cells, then the same cells renumbered by a random topological order
            # (`augment_positions`: same rows, permuted position codes = `augment_cells`)
            both = CellTensors(*(torch.cat([t, t]) for t in (cells.ops, cells.adj, cells.mask)))
            ident = torch.arange(both.ops.shape[1]).expand(len(idx), -1)  # (B, N)
            pos = torch.cat([ident, augment_positions(cells, rng)])  # (2B, N)
            x, adj, deg, mask = encode_cells(both, positions=pos, pe=args.pe)
            pred = model(x, adj, deg, mask)  # (2B,)
            k = len(idx)
            perm = torch.from_numpy(rng.permutation(2 * k))
            loss, parts = total_loss(pred[:k], pred[k:], y_train[idx], perm, cfg.weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            sums["loss"] += loss.item()
            for key, v in parts.items():
                sums[key] += v
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            tau = kendall_tau(predict(model, val_cells), y_val)
            rec = {
                "epoch": epoch,
                "val_tau": tau,
                "seconds": time.perf_counter() - t0,
                **{k: v / steps_per_epoch for k, v in sums.items()},
            }
            history.append(rec)
            if progress:
                progress(rec)
            if tau > best_tau:
                best_tau, best_epoch = tau, epoch
                best_state = copy.deepcopy(model.state_dict())
    seconds = time.perf_counter() - t0
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, split, best_epoch, best_tau, history, seconds)


def evaluate(model: AccuracyPredictor, bench: Bench, split: Split) -> dict:
    """Kendall tau and ACC(10%) on the test cells (all, and the first 100 for NB101)."""
    all_cells = stack_cells(bench.cells)
    pred = predict(model, all_cells.index(split.test))
    y = bench.acc[split.test]
    res = {
        "tau_all": kendall_tau(pred, y),
        "acc10_all": acc_within(pred, y),
        "n_test": len(split.test),
    }
    k = len(split.test100)
    res["tau_100"] = kendall_tau(pred[:k], y[:k])
    res["acc10_100"] = acc_within(pred[:k], y[:k])
    return res


def save_checkpoint(
    path: str | Path,
    result: TrainResult,
    bench: str,
    train_size: int,
    cfg: TrainConfig,
    metrics: dict,
) -> None:
    """Write a self-describing checkpoint atomically (temp file in the same dir + replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "kind": CHECKPOINT_KIND,
        "bench": bench,
        "train_size": train_size,
        "model_args": result.model.args.to_dict(),
        "train_config": cfg.to_dict(),
        "state_dict": result.model.state_dict(),
        "best_epoch": result.best_epoch,
        "val_tau": result.val_tau,
        "metrics": metrics,
        "history": result.history,
        "train_seconds": result.seconds,
        "versions": {"nnprof": __version__, "torch": torch.__version__},
    }
    from nnprof.train import torch_save_atomic

    torch_save_atomic(ckpt, path)


def load_checkpoint(path: str | Path) -> tuple[AccuracyPredictor, dict]:
    """Load a checkpoint written by `save_checkpoint` (raises ValueError on a foreign file)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not an nnprof NAS accuracy checkpoint")
    model = AccuracyPredictor(NasArgs.from_dict(ckpt["model_args"]))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt
