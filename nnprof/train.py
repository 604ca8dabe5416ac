"""Training, evaluation, fine-tuning and self-describing checkpoints for the latency models.

Training follows NAR-Former V2 (Sec. 4.1, supplement C.3): Adam, learning rate warmed up
linearly over the first 10% of steps to 1e-3 then decayed linearly to 0, stepped per
batch; batch 16; loss ``mean((prediction / target - 1)^2)`` on latency in milliseconds.
Unlike the reference code, the epoch kept is the best on a validation part fixed before
training; the test part is never looked at during training.

This module prints nothing: progress goes to an optional callback (the CLI draws a Rich
bar with it). Graphs are encoded once, up front (`prepare`), never per epoch.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnprof import __version__
from nnprof import encode as enc
from nnprof import metrics as M
from nnprof.data import (
    Sample,
    Split,
    common_platform,
    limit_per_family,
    split_in_distribution,
    split_leave_one_family_out,
    summary,
)
from nnprof.errors import NNProfError
from nnprof.graph import RawGraph
from nnprof.model import (
    KINDS,
    NEURAL_KINDS,
    REGRESSION_KINDS,
    FlopsRegression,
    ModelArgs,
    build_model,
    count_parameters,
    to_inference_dtype,
)

CHECKPOINT_FORMAT = "nnprof-latency-checkpoint"
CHECKPOINT_VERSION = 1

Progress = Callable[[dict[str, Any]], None]


@dataclass
class TrainConfig:
    epochs: int = 50  # supplement C.3.1
    batch_size: int = 16
    lr: float = 1e-3  # peak learning rate after warm-up
    warmup: float = 0.1  # share of all steps spent warming up
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    eval_batch_size: int = 32  # inference batches (bucketed by graph size)
    precision: str = "fp32"  # fp32 | bf16: autocast the matrix products (~1.7x faster on CPU)


def resolve_device(name: str) -> torch.device:
    """``auto`` = cuda when available, else cpu. Asking for cuda without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise NNProfError("--device cuda but no CUDA GPU is visible to torch; use --device cpu")
        return torch.device("cuda")
    raise NNProfError(f"unknown device {name!r}; use auto, cpu or cuda")


BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX512-BF16 / AMX, Arm "bf16" in Features


def cpu_has_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether the CPU has bfloat16 matrix instructions, read from /proc/cpuinfo's flags.

    None when it cannot tell (no /proc/cpuinfo, e.g. macOS or Windows). Without them torch
    runs bfloat16 matrix products emulated, slower than float32.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return None
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(val.split())
    if not flags:
        return None
    return any(f in flags for f in BF16_FLAGS)


def precision_warning(precision: str, device: torch.device, cpuinfo: str | None = None) -> str | None:
    """A warning when ``bf16`` is asked for on a CPU that would emulate it, else None."""
    if precision != "bf16" or device.type != "cpu" or cpu_has_bf16(cpuinfo) is not False:
        return None
    return "--precision bf16 on a CPU without bfloat16 instructions (no avx512_bf16 / amx_bf16 in /proc/cpuinfo): it runs emulated, slower than --precision fp32"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------
# encoded data


@dataclass
class Encoded:
    """Samples encoded once: node tensors, whole-network counts and targets, index-aligned."""

    graphs: list[enc.EncodedGraph] | None  # None when only the regressions need the data
    counts: torch.Tensor  # (M, 2) float64: MACs, memory access (elements)
    latency: torch.Tensor  # (M,) float32 ms; zeros when unknown
    families: list[str]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, idx: Sequence[int]) -> Encoded:
        idx = list(idx)
        return Encoded(
            graphs=None if self.graphs is None else [self.graphs[i] for i in idx],
            counts=self.counts[idx],
            latency=self.latency[idx],
            families=[self.families[i] for i in idx],
            ids=[self.ids[i] for i in idx],
        )


def _encode_graph(g: RawGraph, where: str) -> enc.EncodedGraph:
    try:
        return enc.encode(g)
    except NNProfError:
        raise
    except Exception as e:  # a graph the encoder cannot handle is a data problem: name it
        raise NNProfError(f"{where}: cannot encode graph ({type(e).__name__}: {e})") from None


def prepare(samples: Sequence[Sample], graphs: bool = True) -> Encoded:
    """Encode every sample once (skip the node encoding with ``graphs=False``)."""
    return Encoded(
        graphs=[_encode_graph(s.graph, s.id) for s in samples] if graphs else None,
        counts=torch.tensor([[float(s.graph.macs), float(s.graph.mem)] for s in samples], dtype=torch.float64).reshape(-1, 2),
        latency=torch.tensor([s.latency_ms for s in samples], dtype=torch.float32),
        families=[s.family for s in samples],
        ids=[s.id for s in samples],
    )


def prepare_graphs(raw: Sequence[RawGraph]) -> Encoded:
    """Encode raw graphs with no measured latency (for prediction)."""
    return Encoded(
        graphs=[_encode_graph(g, g.name) for g in raw],
        counts=torch.tensor([[float(g.macs), float(g.mem)] for g in raw], dtype=torch.float64).reshape(-1, 2),
        latency=torch.zeros(len(raw)),
        families=["" for _ in raw],
        ids=[g.name for g in raw],
    )


def size_buckets(graphs: Sequence[enc.EncodedGraph], batch_size: int) -> list[list[int]]:
    """Index batches of graphs of similar size: sorting by node count cuts padding."""
    order = sorted(range(len(graphs)), key=lambda i: graphs[i].num_nodes)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


PRECISIONS = ("fp32", "bf16")


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    data: Encoded,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
) -> torch.Tensor:
    """Latency predictions (M,) in ms, in the order of `data`.

    Graphs are batched by size (less padding to collate). ``precision="bf16"`` runs the
    matrix products in bfloat16 on a copy of the model (`model.to_inference_dtype`): about
    2x faster on CPUs with AVX512-BF16/AMX, predictions within ~0.5% of float32 (see
    scripts/bench_predictor.py); normalisations, attention weights and sums stay float32.
    """
    if precision not in PRECISIONS:
        raise NNProfError(f"unknown precision {precision!r}; use fp32 or bf16")
    device = torch.device(device)
    if isinstance(model, FlopsRegression):
        return model.to(device)(data.counts.to(device)).float().cpu()
    model.eval().to(device)
    if precision == "bf16":
        model = to_inference_dtype(copy.deepcopy(model), torch.bfloat16)
    out = torch.empty(len(data))
    for idx in size_buckets(data.graphs, batch_size):
        batch = enc.collate([data.graphs[i] for i in idx]).to(device)
        out[idx] = model(batch).float().cpu()
    return out


def evaluate(
    model: torch.nn.Module, data: Encoded, batch_size: int = 32, device: torch.device | str = "cpu", precision: str = "fp32"
) -> dict:
    """`metrics.score_by_family` of the model's predictions on `data`."""
    pred = predict(model, data, batch_size, device, precision)
    return M.score_by_family(data.latency.tolist(), pred.tolist(), data.families)


# ----------------------------------------------------------------------------------------
# training


def relative_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((pred / target - 1)^2): the squared relative error the paper trains on."""
    return ((pred / target - 1.0) ** 2).mean()


def warmup_linear(total_steps: int, warmup: float) -> Callable[[int], float]:
    """LR factor: linear 0 -> 1 over the first `warmup` share of steps, then linear -> 0."""
    warm = max(1, int(round(warmup * total_steps)))

    def factor(step: int) -> float:  # step = optimizer steps already taken
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return factor


@dataclass
class TrainResult:
    model: torch.nn.Module
    kind: str
    args: ModelArgs
    val: dict | None  # score_by_family on the validation part, of the kept state
    best_epoch: int  # epoch of the kept state (1-based; 0 = closed-form fit / initial state)
    history: list[dict] = field(default_factory=list)  # per epoch: loss, val_mape
    seconds: float = 0.0
    graphs_per_second: float = 0.0  # training throughput (forward + backward)


def train_model(
    kind: str,
    train: Encoded,
    val: Encoded | None,
    cfg: TrainConfig | None = None,
    args: ModelArgs | None = None,
    progress: Progress | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Train one model of `kind` on `train`; keep the epoch with the lowest validation MAPE.

    `init_state` (a neural model's state dict, e.g. a checkpoint's) starts training from
    those weights instead of a fresh initialisation: a further warm-up + decay schedule.
    """
    import time

    cfg = cfg or TrainConfig()
    if kind not in KINDS:
        raise NNProfError(f"unknown model {kind!r}; choose one of {', '.join(KINDS)}")
    if len(train) == 0:
        raise NNProfError("no training samples")
    val = val if val is not None and len(val) else None
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    # the node width always comes from the data (the encoder decides it, not the caller)
    node_dim = int(train.graphs[0].x.shape[1]) if train.graphs else int(getattr(enc, "NODE_DIM", 152))
    args = replace(args or ModelArgs(), node_dim=node_dim)
    model = build_model(kind, args)
    if init_state is not None:
        if kind in REGRESSION_KINDS:
            raise NNProfError("--init applies to neural models; a regression is fitted in closed form")
        try:
            model.load_state_dict(init_state)
        except RuntimeError as e:
            raise NNProfError(f"the --init checkpoint does not fit this model ({str(e).splitlines()[0]})") from None
    head = getattr(model, "head", None)
    if head is not None and getattr(head, "residual", False):
        # the power law the residual head corrects, fitted on this training set, also when
        # continuing a checkpoint (`init_state`): on another machine's measurements the
        # learned factor then starts on that machine's cost scale
        head.fit_base(train.counts, train.latency)
    t0 = time.perf_counter()

    if kind in REGRESSION_KINDS:
        model.fit(train.counts, train.latency)
        vm = evaluate(model, val) if val is not None else None
        if progress:
            progress({"event": "done", "kind": kind, "val_mape": vm["all"]["mape"] if vm else None})
        return TrainResult(model, kind, args, vm, 0, [], time.perf_counter() - t0)

    if cfg.precision not in PRECISIONS:
        raise NNProfError(f"unknown precision {cfg.precision!r}; use fp32 or bf16")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = len(train)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear(total, cfg.warmup))
    gen = torch.Generator().manual_seed(cfg.seed)
    best_state, best_mape, best_epoch, best_val = None, math.inf, 0, None
    history = []
    train_time = 0.0
    if progress:
        progress({"event": "start", "kind": kind, "total_steps": total, "epochs": cfg.epochs})
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen).tolist()
        loss_sum, seen = 0.0, 0
        te = time.perf_counter()
        for s in range(steps_per_epoch):
            idx = perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            batch = enc.collate([train.graphs[i] for i in idx]).to(device)
            target = train.latency[idx].to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                pred = model(batch)
            loss = relative_mse(pred.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            if progress:
                progress({"event": "step", "kind": kind, "epoch": epoch, "loss": loss_sum / seen})
        train_time += time.perf_counter() - te
        rec = {"epoch": epoch, "loss": loss_sum / seen, "lr": sched.get_last_lr()[0]}
        if val is not None:
            vm = evaluate(model, val, cfg.eval_batch_size, device)
            rec["val_mape"] = vm["all"]["mape"]
            if vm["all"]["mape"] < best_mape:
                best_mape, best_epoch, best_val = vm["all"]["mape"], epoch, vm
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        history.append(rec)
        if progress:
            progress({"event": "epoch", "kind": kind, **rec})
    if best_state is not None:
        model.load_state_dict(best_state)
    else:  # no validation data: keep the last epoch
        best_epoch = cfg.epochs
    model.eval().cpu()
    return TrainResult(
        model, kind, args, best_val, best_epoch, history, time.perf_counter() - t0,
        graphs_per_second=n * cfg.epochs / train_time if train_time > 0 else 0.0,
    )


# ----------------------------------------------------------------------------------------
# checkpoints


def _feature_info() -> dict[str, Any]:
    vocab = None
    for name in ("VOCAB", "OP_VOCAB", "OPS", "OP_TYPES"):
        v = getattr(enc, name, None)
        if isinstance(v, (list, tuple)) or isinstance(v, dict):
            vocab = list(v)
            break
    return {
        "feature_version": getattr(enc, "FEATURE_VERSION", None),
        "node_dim": getattr(enc, "NODE_DIM", None),
        "vocabulary": vocab,
    }


def make_checkpoint(
    result: TrainResult,
    train_samples: Sequence[Sample],
    val_samples: Sequence[Sample] = (),
    test_metrics: dict | None = None,
    cfg: TrainConfig | None = None,
    extra: dict | None = None,
) -> dict[str, Any]:
    """Everything needed to rebuild, trust and describe a model, in plain types + tensors."""
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "nnprof": __version__,
        "torch": str(torch.__version__),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "kind": result.kind,
        "model_args": result.args.to_dict(),
        "parameters": count_parameters(result.model),
        **_feature_info(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in result.model.state_dict().items()},
        "train_data": summary(list(train_samples)),
        "val_data": summary(list(val_samples)) if val_samples else None,
        "platform": common_platform(list(train_samples)),
        "train_config": asdict(cfg) if cfg else None,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "metrics": {"val": result.val, "test": test_metrics},
    }
    if extra:
        ckpt.update(extra)
    return ckpt


def _plain(obj: Any) -> Any:
    """Tensors and plain Python only, so that ``torch.load(weights_only=True)`` accepts it."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return str(obj)


def save_checkpoint(ckpt: dict[str, Any], path: str | Path) -> Path:
    """Write atomically: a temporary file in the same folder, then os.replace."""
    return torch_save_atomic(_plain(ckpt), path)


def torch_save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save through export.write_atomic into `path` (its folder created if missing)."""
    from nnprof.export import write_atomic, write_error

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f: torch.save(obj, f))
    except (OSError, RuntimeError) as e:
        # a full disk, a vanished folder (torch's own writer says RuntimeError "... failed
        # writing file ..."): one line, nothing left behind
        if isinstance(e, OSError) or "failed writing" in str(e):
            raise write_error(path, e) from None
        raise
    return path


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load with ``weights_only=True``; refuse non-checkpoints and other feature versions."""
    path = Path(path)
    if not path.is_file():
        raise NNProfError(f"checkpoint {path} not found; train one with `nnprof train DATASET -o {path}`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise NNProfError(f"{path} is not an nnprof checkpoint ({type(e).__name__}); train one with `nnprof train`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise NNProfError(f"{path} is not an nnprof checkpoint; train one with `nnprof train`")
    if ckpt.get("format_version") != CHECKPOINT_VERSION:
        raise NNProfError(f"{path} has checkpoint format {ckpt.get('format_version')}, this nnprof reads {CHECKPOINT_VERSION}; retrain it")
    have = getattr(enc, "FEATURE_VERSION", None)
    if ckpt.get("feature_version") != have:
        raise NNProfError(
            f"{path} was trained on feature version {ckpt.get('feature_version')} but this nnprof "
            f"encodes version {have}; retrain with `nnprof train` (or use the nnprof that made it, "
            f"{ckpt.get('nnprof')})"
        )
    if ckpt.get("kind") not in KINDS:
        raise NNProfError(f"{path}: unknown model kind {ckpt.get('kind')!r}")
    if not isinstance(ckpt.get("model_args"), dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise NNProfError(f"{path}: the checkpoint lacks its model_args or state_dict; train one with `nnprof train`")
    plat = ckpt.get("platform")
    if plat is not None and not (isinstance(plat, dict) and all(isinstance(k, str) for k in plat)):
        raise NNProfError(f"{path}: its platform entry is a {type(plat).__name__}, not a table of name: value")
    try:
        args = ModelArgs.from_dict(ckpt["model_args"])
        model = build_model(ckpt["kind"], args)
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        raise NNProfError(f"{path}: its model_args are not ones this nnprof builds ({type(e).__name__}: {e})") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise NNProfError(f"{path}: weights do not fit a {ckpt['kind']} model ({str(e).splitlines()[0]})") from None
    bad = next((k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise NNProfError(f"{path}: weight {bad} holds NaN or infinite values; retrain or fine-tune again")
    cal = ckpt.get("calibration")
    if cal is not None:
        from nnprof import calibrate

        ok = isinstance(cal, dict) and tuple(cal.get("features", ())) == calibrate.FEATURES and hasattr(model, "calibration")
        try:
            if not ok:
                raise ValueError("features")
            model.calibration.set(cal["coef"])
        except (ValueError, TypeError, KeyError):
            raise NNProfError(f"{path}: its calibration entry is not one this nnprof reads (features {calibrate.FEATURES})") from None
    return model.eval(), ckpt


# ----------------------------------------------------------------------------------------
# fine-tuning


def _calibrate_scale(model: torch.nn.Module, data: Encoded) -> float:
    """The factor c minimising mean((c p / t - 1)^2): c = sum(p/t) / sum((p/t)^2)."""
    r = (predict(model, data) / data.latency).double()
    return float(r.sum() / (r * r).sum())


MIN_VAL_ROWS = 8  # fewer validation rows than this cannot rank candidates: use leave-one-out


def _calibration_data(model: torch.nn.Module, data: Encoded) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5) `calibrate.design` rows of the model's current output, (n,) latency."""
    from nnprof import calibrate

    model.eval()
    feats = torch.empty(len(data), len(calibrate.FEATURES), dtype=torch.float64)
    with torch.inference_mode():
        for idx in size_buckets(data.graphs, 32):
            batch = enc.collate([data.graphs[i] for i in idx])
            feats[idx] = calibrate.design(model(batch), batch)
    return feats.numpy(), data.latency.double().numpy()


def finetune(
    checkpoint: str | Path | tuple[torch.nn.Module, dict],
    samples: Sequence[Sample],
    epochs: int = 30,
    lr: float = 1e-4,
    val_frac: float = 0.2,
    seed: int = 0,
    batch_size: int = 8,
    device: str = "auto",
    progress: Progress | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Adapt a trained predictor to a few measured samples (useful from ~10).

    Neural predictors:

    1. Calibration candidates (`nnprof.calibrate`): the model as it is, a pure rescale, and
       a ridge log-linear correction for each lambda of `calibrate.LAMBDAS`, fitted on the
       training rows and scored by exact leave-one-out error on them; the lowest wins.
    2. If a seeded `val_frac` share gives at least MIN_VAL_ROWS validation rows, those rows
       are held back from step 1, and gradient fine-tuning (from the rescaled model, low
       peak lr, warm-up + linear decay as in training) adds one candidate per epoch. The
       model as it is, the calibration of step 1 and every epoch are then compared on the
       validation rows, and the lowest MAPE is kept, so adapting never makes validation
       worse. With fewer rows every row trains the calibration and nothing is trained by
       gradient: on 8 NAS-Bench-201 cells it lowered the rank correlation on 9 of 19
       devices (docs/fewshot.md).

    A regression (flops, flops-mem) is simply refitted, kept if validation (or, with no
    validation rows, training) MAPE improves. Returns the model and an updated checkpoint
    dict (save it with `save_checkpoint`).
    """
    from nnprof import calibrate

    if isinstance(checkpoint, tuple):
        model, ckpt = copy.deepcopy(checkpoint[0]), checkpoint[1]  # the caller's model stays as it is
    else:
        model, ckpt = load_checkpoint(checkpoint)
    samples = list(samples)
    kind = ckpt["kind"]
    neural = kind in NEURAL_KINDS
    if len(samples) < 2:
        raise NNProfError(f"fine-tuning needs at least 2 measured samples, got {len(samples)}")
    rng = random.Random(seed)
    order = list(range(len(samples)))
    rng.shuffle(order)
    k = min(len(samples) - 1, max(1, round(val_frac * len(samples)))) if val_frac > 0 else 0
    if neural and k < MIN_VAL_ROWS:
        k = 0
    val_s = [samples[i] for i in sorted(order[:k])]
    train_s = [samples[i] for i in sorted(order[k:])]
    tr, va = prepare(train_s, neural), prepare(val_s, neural) if val_s else None
    select = va if va is not None else tr

    def val_mape(m: torch.nn.Module) -> float:
        return M.mape(select.latency.tolist(), predict(m, select).tolist())

    history: list[dict] = []
    calib_info: dict[str, Any] | None = None
    if not neural:
        candidates = [("original", 0, val_mape(model), copy.deepcopy(model.state_dict()), None)]
        refit = build_model(kind, ModelArgs.from_dict(ckpt["model_args"]))
        refit.fit(tr.counts, tr.latency)
        candidates.append(("refit", 0, val_mape(refit), copy.deepcopy(refit.state_dict()), None))
    else:
        model = model.cpu()
        base_coef = model.calibration.coef.tolist()  # the identity when inactive
        feats, y = _calibration_data(model, tr)
        try:
            best, fits = calibrate.choose(feats, y)
        except ValueError as e:
            raise NNProfError(f"cannot fine-tune on these measurements: {e}") from None
        orig_loo = M.mape(y.tolist(), np.exp(feats[:, 0]).tolist())  # nothing is fitted
        calib_info = {
            "features": list(calibrate.FEATURES),
            "scored_on": "leave-one-out",
            "original_mape": orig_loo,
            "fits": [{"lambda": f.lam if math.isfinite(f.lam) else None, "loo_mape": f.loo_mape,
                      "fit_mape": f.fit_mape} for f in fits],
        }
        cname = "rescaled" if math.isinf(best.lam) else "calibrated"
        cal_coef = calibrate.compose(best.coef, base_coef)
        state = copy.deepcopy(model.state_dict())  # the calibration candidates share the weights
        if va is None:  # scored by leave-one-out on the training rows; ties keep the original
            candidates = [("original", 0, orig_loo, state, base_coef), (cname, 0, best.loo_mape, state, cal_coef)]
        else:
            candidates = [("original", 0, val_mape(model), state, base_coef)]
            model.calibration.set(cal_coef)
            candidates.append((cname, 0, val_mape(model), state, cal_coef))
            # gradient fine-tuning from the rescaled model, its own calibration unchanged
            model.calibration.set(base_coef)
            model.head.out_scale.mul_(_calibrate_scale(model, tr))
            cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
            dev = resolve_device(device)
            seed_everything(seed)
            model.to(dev)
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            steps = math.ceil(len(tr) / batch_size)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear(steps * epochs, cfg.warmup))
            gen = torch.Generator().manual_seed(seed)
            if progress:
                progress({"event": "start", "kind": kind, "total_steps": steps * epochs, "epochs": epochs})
            for epoch in range(1, epochs + 1):
                model.train()
                perm = torch.randperm(len(tr), generator=gen).tolist()
                tot = 0.0
                for s in range(steps):
                    idx = perm[s * batch_size : (s + 1) * batch_size]
                    batch = enc.collate([tr.graphs[i] for i in idx]).to(dev)
                    loss = relative_mse(model(batch), tr.latency[idx].to(dev))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    tot += loss.item() * len(idx)
                    if progress:
                        progress({"event": "step", "kind": kind, "epoch": epoch, "loss": tot / len(tr)})
                model.cpu()
                vm = val_mape(model)
                model.to(dev)
                history.append({"epoch": epoch, "loss": tot / len(tr), "val_mape": vm})
                candidates.append(("epoch", epoch, vm, {k2: v.detach().cpu().clone() for k2, v in model.state_dict().items()}, base_coef))
                if progress:
                    progress({"event": "epoch", "kind": kind, **history[-1]})
            model.cpu()
    name, epoch, best_mape, state, coef = min(candidates, key=lambda c: c[2])
    if not neural and name == "refit":
        model = build_model(kind, ModelArgs.from_dict(ckpt["model_args"]))
    model.load_state_dict(state)
    if neural:
        model.calibration.set(coef)
    model.eval()
    new = dict(ckpt)
    new["state_dict"] = {k2: v.detach().cpu().clone() for k2, v in model.state_dict().items()}
    new.pop("calibration", None)
    if neural and model.calibration.active:
        new["calibration"] = {"features": list(calibrate.FEATURES), "coef": model.calibration.coef.tolist()}
    new["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new["nnprof"] = __version__
    new["finetune"] = {
        "train_data": summary(train_s),
        "val_data": summary(val_s) if val_s else None,
        "epochs": epochs if history else 0,
        "lr": lr,
        "seed": seed,
        "kept": name,
        "kept_epoch": epoch,
        "selected_on": "val" if va is not None else ("leave-one-out" if neural else "train"),
        "mape_before": candidates[0][2],
        "mape_after": best_mape,
        "calibration": calib_info,
        "history": history,
        "base_platform": ckpt.get("platform"),
    }
    new["platform"] = common_platform(samples)
    return model, new


# ----------------------------------------------------------------------------------------
# protocols: train and test every method


def _index(split: Split, pos: dict[int, int]) -> tuple[list[int], list[int], list[int]]:
    return tuple([pos[id(s)] for s in part] for part in (split.train, split.val, split.test))  # type: ignore[return-value]


def lofo_groups(scores: dict[str, dict]) -> dict[str, dict]:
    """One leave-one-family-out run's table rows: {family: its overall scores, "average": their mean}.

    `scores` maps split names "leave-out:<family>" to `evaluate` results. A metric that is
    None for some families is averaged over the others (None if it is None for all).
    """
    groups = {name.split(":", 1)[1]: sc["all"] for name, sc in scores.items()}
    groups["average"] = {
        m: (float(np.mean([g[m] for g in groups.values() if g[m] is not None])) if any(g[m] is not None for g in groups.values()) else None)
        for m in M.METRIC_NAMES
    }
    return groups


def run_protocol(
    samples: Sequence[Sample],
    protocol: str,
    kinds: Sequence[str],
    seeds: int = 1,
    cfg: TrainConfig | None = None,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    families: Sequence[str] | None = None,
    progress: Progress | None = None,
    args: ModelArgs | None = None,
    train_per_family: int | None = None,
    seed_start: int = 0,
) -> dict[str, Any]:
    """Train and test every method of `kinds` under a protocol, `seeds` times each.

    ``in-distribution``: one split fixed before training (`data.split_in_distribution`);
    per method, a test score per family and over all. ``leave-one-family-out``: for each
    family (or those in `families`), train on the others and test on it
    (`data.split_leave_one_family_out`). Seeds (`seed_start` .. `seed_start + seeds - 1`)
    change initialisation and batch order, never the split, so runs of disjoint seed ranges
    in separate processes pool exactly (scripts/protocol_tables.py). The closed-form
    regressions are deterministic and run once, recorded as seed 0.

    Returns plain types: {"protocol", "kinds", "seeds", "splits": {name: sizes},
    "results": {kind: {group: {metric: {mean, std, n}}}}, "runs": [...]}; the groups are
    families plus "all" (in-distribution) or held-out families plus "average"
    (leave-one-family-out, the mean over held-out families of each seed's score).

    `train_per_family` caps the train part of every split at that many samples per family
    (`data.limit_per_family`, seed 0, drawn before any training): a compute budget.
    Validation and test parts are never cut.
    """
    cfg = cfg or TrainConfig()
    samples = list(samples)
    for k in kinds:
        if k not in KINDS:
            raise NNProfError(f"unknown model {k!r}; choose from {', '.join(KINDS)} or all")
    all_fams = sorted({s.family for s in samples})
    if protocol == "in-distribution":
        splits = [split_in_distribution(samples, val_frac, test_frac, seed=0)]
    elif protocol == "leave-one-family-out":
        held = list(families) if families else all_fams
        splits = [split_leave_one_family_out(samples, f, val_frac, seed=0) for f in held]
    else:
        raise NNProfError(f"unknown protocol {protocol!r}; use in-distribution or leave-one-family-out")
    if train_per_family is not None:
        splits = [Split(limit_per_family(sp.train, train_per_family, seed=0), sp.val, sp.test, sp.name) for sp in splits]
    for sp in splits:
        if not sp.train or not sp.test:
            raise NNProfError(f"{sp.name}: empty train or test part ({sp.sizes()}); the dataset is too small")
    data = prepare(samples, graphs=any(k in NEURAL_KINDS for k in kinds))
    pos = {id(s): i for i, s in enumerate(samples)}
    runs = []
    for kind in kinds:
        for seed in [0] if kind in REGRESSION_KINDS else range(seed_start, seed_start + seeds):
            per_split = {}
            for sp in splits:
                tr, va, te = _index(sp, pos)
                res = train_model(kind, data.subset(tr), data.subset(va), TrainConfig(**{**asdict(cfg), "seed": seed}), args, progress)
                score = evaluate(res.model, data.subset(te), cfg.eval_batch_size)
                per_split[sp.name] = score
                if progress:
                    progress({"event": "tested", "kind": kind, "seed": seed, "split": sp.name, "mape": score["all"]["mape"]})
            runs.append({"kind": kind, "seed": seed, "scores": per_split})
    results: dict[str, Any] = {}
    for kind in kinds:
        kr = [r for r in runs if r["kind"] == kind]
        if protocol == "in-distribution":
            results[kind] = M.aggregate([r["scores"][splits[0].name] for r in kr])
        else:
            results[kind] = M.aggregate([lofo_groups(r["scores"]) for r in kr])
    return {
        "protocol": protocol,
        "kinds": list(kinds),
        "seeds": seeds,
        "seed_start": seed_start,
        "epochs": cfg.epochs,
        "precision": cfg.precision,
        "train_per_family": train_per_family,
        "residual": bool(args and args.residual),
        "families": all_fams,
        "splits": {sp.name: sp.sizes() for sp in splits},
        "results": results,
        "runs": runs,
    }
