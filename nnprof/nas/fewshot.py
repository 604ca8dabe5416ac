"""Few-shot latency on real devices: NAS-Bench-201 networks timed on 19 device settings (HELP).

    nb201_latency_devices.csv --load_device_latency--> latency per device setting
    arch_str --build_nb201_network--> nn.Module (CIFAR macro skeleton, 3x32x32)
        --export (TorchScript, opset 18) -> onnx.checker -> onnxsim -> shape inference-->
        simplified ONNX (batch 1) --set_input_shape(B)--> --graph.from_onnx--> RawGraph
        --encode--> EncodedGraph, cached on disk (`nnprof.cache`, key: `cell_key`)

Per device setting and number of measured cells k, for each seeded repeat: draw k cells
from a fixed pool, then score on a fixed evaluation set of other cells (Spearman rho,
MAPE):

* ``finetune``: the checkpoint adapted with `nnprof.train.finetune`, the algorithm
  `nnprof finetune` runs (below 8 validation cells: the calibration of
  `nnprof.calibrate`, a rescale or the checkpoint, chosen by leave-one-out error on all k
  cells; with more, gradient epochs too, chosen on the validation cells);
* ``flops``: rho of the network's MACs against latency (needs no measurement); MAPE of
  the ``flops`` power law (log latency on log MACs) fitted on the k cells;
* ``scratch``: a small NAR-Former V2 trained from scratch on the same k cells (best
  epoch kept on a seeded ``val_frac`` share of them, `val_split`);
* ``zeroshot``: the checkpoint as it is (rho only means something here: it predicts
  this machine's ONNX Runtime CPU latency).

Cells. The 341 cells whose cell has no path from input to output through non-``none``
edges (`is_disconnected`) are excluded everywhere: some devices skip their dead work
(pixel3 times 273 of them below 5% of its median), others run it; the ONNX graph always
holds it. From the rest, a seeded permutation gives the evaluation cells (the first
``eval_cells``) and the pool the k measured cells are drawn from (the next
``pool_cells``), so exporting stays a one-time ~15 min instead of ~3 h for all 15,625.

Batch size. The GPU settings ``<gpu>_<B>`` time batch B; the CPUs and phones batch 1
(`device_batch_size`). A cell is exported once at batch 1 and re-shaped to each batch
(`graph.set_input_shape` + shape inference), which gives the same raw graph as exporting
at that batch (tests/test_fewshot.py checks it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nnprof.errors import NNProfError

if TYPE_CHECKING:
    import torch

    from nnprof.encode import EncodedGraph
    from nnprof.graph import RawGraph
    from nnprof.nas.data import DeviceLatency

C, N, INPUT_SIZE, NUM_CLASSES = 16, 5, 32, 10  # the NAS-Bench-201 CIFAR network
CACHE_FORMAT = 1  # bump when a cached cell graph's meaning changes
METHODS = ("finetune", "flops", "scratch")
# HELP's published result (Lee et al., NeurIPS 2021, NAS-Bench-201 table; its README): rho with
# 10 samples on its 6 meta-test devices. None of them is in the 19-setting table: HELP
# meta-trains on 9 of those settings and validates on 4 (1080ti_*, silver_*, phones / titanx_*,
# gold_6240), so the reference is for other hardware, not the same devices.
HELP_REFERENCE = {
    "k": 10,
    "mean_rho": 0.932,
    "flops_rho": 0.787,
    "devices": 6,
    "device_rho": {"titan_rtx_256": 0.987, "gold_6226": 0.989, "pixel2": 0.802,
                   "raspi4": 0.890, "eyeriss": 0.940, "fpga": 0.985},
}

Progress = Callable[[str], None]

# The cell's edges in arch_str order: (source node, target node).
_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


# --------------------------------------------------------------------------- cells


def is_disconnected(arch_str: str) -> bool:
    """True when no path of non-``none`` edges leads from cell node 0 to node 3."""
    from nnprof.nas.cells import parse_nb201

    ops = parse_nb201(arch_str)
    reach = {0}
    for op, (a, b) in sorted(zip(ops, _EDGES, strict=True), key=lambda e: e[1][1]):
        if op != "none" and a in reach:
            reach.add(b)
    return 3 not in reach


GPUS = ("1080ti", "2080ti", "titanx", "titanxp")  # HELP's GPUs, timed at batch 1, 32 and 256


def device_batch_size(device: str) -> int:
    """``1080ti_32`` -> 32 (a GPU setting ``<gpu>_<batch>``); CPUs (``gold_6240``: a model
    number, not a batch) and phones -> 1."""
    name, _, batch = device.rpartition("_")
    return int(batch) if name in GPUS and batch.isdigit() else 1


@dataclass
class CellGraph:
    arch_str: str
    batch_size: int
    raw: RawGraph
    encoded: EncodedGraph
    cached: bool


def cell_key(arch_str: str, batch_size: int) -> str:
    """Content key of one cell network's graph: the cell, the skeleton, the batch and the
    versions of everything that shapes the export, the raw graph and the encoding."""
    from nnprof import cache, export
    from nnprof.encode import FEATURE_VERSION
    from nnprof.graph import RAW_GRAPH_VERSION

    payload = {
        "nb201": arch_str,
        "C": C,
        "N": N,
        "num_classes": NUM_CLASSES,
        "input_size": INPUT_SIZE,
        "batch_size": int(batch_size),
        "export": export.versions(),
        "feature_version": FEATURE_VERSION,
        "raw_graph_version": RAW_GRAPH_VERSION,
        "features_cache": cache.CACHE_FORMAT,
        "fewshot_format": CACHE_FORMAT,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _label(arch_str: str, batch_size: int) -> str:
    return f"nb201-{zlib.crc32(arch_str.encode()):08x}-b{batch_size}"


def export_cell(arch_str: str):
    """The cell's CIFAR network -> checked, simplified, shape-inferred ONNX at batch 1 (the
    `export.convert` pipeline, TorchScript exporter; dynamo as the fallback)."""
    import onnx

    from nnprof import export
    from nnprof.variants import build_nb201_network

    module = build_nb201_network(arch_str, C=C, N=N, num_classes=NUM_CLASSES)
    failures = []
    for exporter in export.EXPORTERS:
        try:
            model = export.export_module(module, INPUT_SIZE, 1, exporter)
            onnx.checker.check_model(model)
            break
        except Exception as e:
            failures.append(f"{exporter}: {type(e).__name__}: {str(e).strip()[:200]}")
    else:
        raise NNProfError(f"cannot export NAS-Bench-201 cell {arch_str}: " + "; ".join(failures))
    model, _, _ = export.simplify(model)
    return export.infer_shapes(model)


def cell_graphs(
    arch_strs: Sequence[str],
    batch_sizes: Sequence[int] = (1,),
    use_cache: bool = True,
    progress: Progress | None = None,
) -> dict[tuple[str, int], CellGraph]:
    """Raw + encoded graph of every (cell, batch size), from the features cache when it
    holds them; a missing cell is exported once and re-shaped to each batch size."""
    from nnprof import cache
    from nnprof import encode as enc
    from nnprof.graph import from_onnx, set_input_shape

    out: dict[tuple[str, int], CellGraph] = {}
    batches = sorted({int(b) for b in batch_sizes})
    todo = list(dict.fromkeys(arch_strs))
    built = 0
    for i, arch in enumerate(todo):
        missing = []
        for b in batches:
            hit = cache.load(cell_key(arch, b), _label(arch, b))[0] if use_cache else None
            if hit is not None:
                out[(arch, b)] = CellGraph(arch, b, hit.raw, hit.encoded, True)
            else:
                missing.append(b)
        if not missing:
            continue
        onnx_model = export_cell(arch)
        for b in missing:
            model = onnx_model if b == 1 else set_input_shape(onnx_model, b, None)
            raw = from_onnx(model, name=arch)
            encoded = enc.encode(raw)
            if use_cache:
                info = {"model": f"nb201:{arch}", "input_size": INPUT_SIZE, "batch_size": b}
                cache.store(cell_key(arch, b), cache.Entry(raw, encoded, info), _label(arch, b))
            out[(arch, b)] = CellGraph(arch, b, raw, encoded, False)
        built += 1
        if progress and (built % 25 == 0 or i == len(todo) - 1):
            progress(f"exported {built} cell networks ({i + 1}/{len(todo)} cells done)")
    return out


# --------------------------------------------------------------------------- cell sets


@dataclass
class CellSets:
    eval_idx: np.ndarray  # row indices into the device table
    pool_idx: np.ndarray  # the cells few-shot samples are drawn from (disjoint from eval)
    excluded: int  # disconnected cells left out
    seed: int


def select_cells(data: DeviceLatency, eval_cells: int, pool_cells: int, seed: int = 0) -> CellSets:
    """Seeded disjoint evaluation set and pool among the connected cells."""
    ok = np.array([not is_disconnected(a) for a in data.arch_str])
    usable = np.flatnonzero(ok)
    if eval_cells < 2 or pool_cells < 2:
        raise NNProfError("--eval-cells and --pool-cells must be at least 2")
    if eval_cells + pool_cells > len(usable):
        raise NNProfError(
            f"--eval-cells {eval_cells} + --pool-cells {pool_cells} exceed the "
            f"{len(usable)} connected cells in the table"
        )
    perm = np.random.default_rng(seed).permutation(usable)
    return CellSets(
        np.sort(perm[:eval_cells]), np.sort(perm[eval_cells : eval_cells + pool_cells]),
        int((~ok).sum()), seed,
    )


def draw(pool_idx: np.ndarray, k: int, device: str, repeat: int, seed: int = 0) -> np.ndarray:
    """k pool cells for (device, repeat): the first k of a permutation seeded by the seed,
    the repeat and the device name, so the 10 cells are part of the 20 and the 20 of the
    50, and one device's draws do not depend on which other devices run."""
    if k > len(pool_idx):
        raise NNProfError(f"{k} samples requested but the pool holds {len(pool_idx)} cells; raise --pool-cells")
    rng = np.random.default_rng([seed, repeat, zlib.crc32(device.encode())])
    return pool_idx[rng.permutation(len(pool_idx))[:k]]


def val_split(n: int, val_frac: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation) positions: the seeded split `nnprof.train.finetune` makes when it
    validates (it only does with at least `train.MIN_VAL_ROWS` validation rows; the
    from-scratch baseline always uses it)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = min(n - 1, max(1, round(val_frac * n))) if val_frac > 0 else 0
    return sorted(order[k:]), sorted(order[:k])


# --------------------------------------------------------------------------- methods


@dataclass
class ScratchConfig:
    hidden: int = 64
    layers: int = 2
    groups: int = 8
    steps: int = 300  # optimiser steps whatever k is (epochs = steps / steps per epoch)
    batch_size: int = 8
    lr: float = 1e-3

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FewshotConfig:
    samples: tuple[int, ...] = (10, 20, 50)
    repeats: int = 5
    eval_cells: int = 500
    pool_cells: int = 200
    seed: int = 0
    epochs: int = 30  # nnprof finetune's defaults
    lr: float = 1e-4
    val_frac: float = 0.2
    methods: tuple[str, ...] = METHODS
    scratch: ScratchConfig = field(default_factory=ScratchConfig)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["samples"], d["methods"] = list(self.samples), list(self.methods)
        d["scratch"] = self.scratch.to_dict()
        return d


def _encoded(graphs: Sequence[CellGraph], latency: Sequence[float] | None = None):
    import torch

    from nnprof import train as T

    return T.Encoded(
        graphs=[g.encoded for g in graphs],
        counts=torch.tensor([[float(g.raw.macs), float(g.raw.mem)] for g in graphs], dtype=torch.float64).reshape(-1, 2),
        latency=torch.tensor(list(latency) if latency is not None else [0.0] * len(graphs), dtype=torch.float32),
        families=["nasbench201"] * len(graphs),
        ids=[g.arch_str for g in graphs],
    )


def _samples(graphs: Sequence[CellGraph], latency: Sequence[float], device: str):
    from nnprof.data import Sample

    return [
        Sample(id=f"{device}:{g.arch_str}", family="nasbench201", graph=g.raw, latency_ms=float(t),
               batch_size=g.batch_size, input_size=INPUT_SIZE, platform={"device": device},
               model=f"nb201:{g.arch_str}")
        for g, t in zip(graphs, latency, strict=True)
    ]


def _rho(t: np.ndarray, p: np.ndarray) -> float | None:
    from nnprof import metrics as M

    return M.spearman_rho(t, p)


def _score(t: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    from nnprof import metrics as M

    return {"rho": _rho(t, p), "mape": M.mape(t, p)}


def run_finetune(
    base_model: torch.nn.Module,
    base_ckpt: dict[str, Any],
    train: Sequence[CellGraph],
    y: np.ndarray,
    evals: Sequence[CellGraph],
    base_eval_pred: np.ndarray,
    device: str,
    cfg: FewshotConfig,
    seed: int,
) -> tuple[np.ndarray, dict[str, Any], torch.nn.Module]:
    """`nnprof.train.finetune` on the k cells -> predictions on the evaluation cells.

    A kept "original", "rescaled" or "calibrated" state has the base weights, so its
    predictions are the base predictions through its calibration (`_calibrated`: no
    second pass of the network over the evaluation cells; tested equal)."""
    from nnprof import train as T

    model, ckpt = T.finetune(
        (copy.deepcopy(base_model).cpu(), base_ckpt), _samples(train, y, device),
        epochs=cfg.epochs, lr=cfg.lr, val_frac=cfg.val_frac, seed=seed, device="cpu",
    )
    ft = ckpt["finetune"]
    if ft["kept"] == "original":
        pred = base_eval_pred
    elif ft["kept"] != "epoch" and not base_model.calibration.active:
        pred = _calibrated(model.calibration.coef, base_eval_pred, evals)
    else:
        pred = T.predict(model, _encoded(evals)).double().numpy()
    return pred, {"kept": ft["kept"], "kept_epoch": ft["kept_epoch"],
                  "val_mape_before": ft["mape_before"], "val_mape_after": ft["mape_after"]}, model


def _calibrated(coef: torch.Tensor, base_pred: np.ndarray, graphs: Sequence[CellGraph]) -> np.ndarray:
    """`nnprof.calibrate.apply` of `coef` to an uncalibrated model's predictions."""
    import torch

    from nnprof import calibrate
    from nnprof import encode as enc

    pred = torch.from_numpy(np.asarray(base_pred, dtype=np.float64))
    feats = [calibrate.design(pred[s : s + 64], enc.collate([g.encoded for g in graphs[s : s + 64]]))
             for s in range(0, len(graphs), 64)]
    return calibrate.apply(coef, torch.cat(feats)).numpy()


def run_flops(train: Sequence[CellGraph], y: np.ndarray, evals: Sequence[CellGraph]) -> np.ndarray:
    """The ``flops`` regression (log latency on log MACs) fitted on the k cells."""
    from nnprof import train as T

    res = T.train_model("flops", _encoded(train, y), None, T.TrainConfig(device="cpu"))
    return T.predict(res.model, _encoded(evals)).double().numpy()


def run_scratch(
    train: Sequence[CellGraph], y: np.ndarray, evals: Sequence[CellGraph], cfg: FewshotConfig, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """A small NAR-Former V2 trained from scratch on the k cells; the epoch kept is the best
    on the seeded validation share of `val_split` (2 of 10 cells at the default 0.2)."""
    from nnprof import train as T
    from nnprof.model import ModelArgs

    sc = cfg.scratch
    tr_i, va_i = val_split(len(train), cfg.val_frac, seed)
    tr = _encoded([train[i] for i in tr_i], y[tr_i])
    va = _encoded([train[i] for i in va_i], y[va_i]) if va_i else None
    epochs = max(1, math.ceil(sc.steps / math.ceil(len(tr_i) / sc.batch_size)))
    tcfg = T.TrainConfig(epochs=epochs, batch_size=sc.batch_size, lr=sc.lr, seed=seed, device="cpu")
    args = ModelArgs(hidden=sc.hidden, layers=sc.layers, groups=sc.groups)
    res = T.train_model("narformer2", tr, va, tcfg, args)
    pred = T.predict(res.model, _encoded(evals)).double().numpy()
    return pred, {"epochs": epochs, "best_epoch": res.best_epoch}


# --------------------------------------------------------------------------- benchmark


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.mean(v)) if v else None


def _std(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return float(np.std(v, ddof=1)) if len(v) > 1 else None


def run_benchmark(
    data: DeviceLatency,
    devices: Sequence[str],
    predictor: Any,  # nnprof.predict.Predictor
    cfg: FewshotConfig,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Every (device, k, repeat, method) run and the per-device / mean summaries."""
    import time

    from nnprof import train as T

    say = progress or (lambda msg: None)
    unknown = [d for d in devices if d not in data.latency_ms]
    if unknown:
        raise NNProfError(f"unknown device setting(s) {', '.join(unknown)}; choose from {', '.join(data.devices)}")
    bad = [m for m in cfg.methods if m not in METHODS]
    if bad:
        raise NNProfError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    if not cfg.samples or min(cfg.samples) < 2:
        raise NNProfError("--samples must be a list of counts of at least 2, e.g. 10,20,50")
    if cfg.repeats < 1:
        raise NNProfError(f"--repeats must be >= 1, got {cfg.repeats}")
    t0 = time.perf_counter()
    sets = select_cells(data, cfg.eval_cells, cfg.pool_cells, cfg.seed)
    kmax = max(cfg.samples)
    needed_pool: set[int] = set()
    for dev in devices:
        for r in range(cfg.repeats):
            needed_pool.update(draw(sets.pool_idx, kmax, dev, r, cfg.seed).tolist())
    batches = sorted({device_batch_size(d) for d in devices})
    arch = data.arch_str
    want = [arch[i] for i in sets.eval_idx] + [arch[i] for i in sorted(needed_pool)]
    say(f"{len(sets.eval_idx)} evaluation cells + {len(needed_pool)} pool cells, batch sizes {batches}")
    tg = time.perf_counter()
    graphs = cell_graphs(want, batches, use_cache, say)
    graph_seconds = time.perf_counter() - tg
    n_built = sum(not g.cached for g in graphs.values())

    base_model, base_ckpt = predictor.model.cpu(), predictor.ckpt
    neural = hasattr(base_model, "head")
    eval_graphs = {b: [graphs[(arch[i], b)] for i in sets.eval_idx] for b in batches}
    base_pred = {b: T.predict(base_model, _encoded(eval_graphs[b])).double().numpy() for b in batches}
    macs = {b: np.array([g.raw.macs for g in eval_graphs[b]], dtype=np.float64) for b in batches}

    runs: list[dict[str, Any]] = []
    per_device: dict[str, Any] = {}
    for dev in devices:
        b = device_batch_size(dev)
        lat = data.latency_ms[dev]
        y_eval = lat[sets.eval_idx]
        dev_rec: dict[str, Any] = {
            "batch_size": b,
            "zeroshot": _score(y_eval, base_pred[b]),
            "macs_rho": _rho(y_eval, macs[b]),
            "k": {},
        }
        for k in cfg.samples:
            per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in cfg.methods}
            for r in range(cfg.repeats):
                idx = draw(sets.pool_idx, kmax, dev, r, cfg.seed)[:k]
                tr = [graphs[(arch[i], b)] for i in idx]
                y = lat[idx]
                seed = cfg.seed * 1000 + r
                for m in cfg.methods:
                    tm = time.perf_counter()
                    extra: dict[str, Any] = {}
                    if m == "finetune":
                        if not neural:
                            raise NNProfError("the checkpoint is a regression; few-shot fine-tuning needs a neural checkpoint")
                        pred, extra, _ = run_finetune(base_model, base_ckpt, tr, y, eval_graphs[b], base_pred[b], dev, cfg, seed)
                        s = _score(y_eval, pred)
                    elif m == "flops":
                        pred = run_flops(tr, y, eval_graphs[b])
                        s = {"rho": _rho(y_eval, macs[b]), "mape": _score(y_eval, pred)["mape"],
                             "fit_rho": _rho(y_eval, pred)}
                    else:
                        pred, extra = run_scratch(tr, y, eval_graphs[b], cfg, seed)
                        s = _score(y_eval, pred)
                    rec = {"device": dev, "k": k, "repeat": r, "method": m, **s, **extra,
                           "cells": [int(data.arch_idx[i]) for i in idx],
                           "seconds": round(time.perf_counter() - tm, 3)}
                    runs.append(rec)
                    per_method[m].append(rec)
                say(f"{dev} k={k} repeat {r}: " + ", ".join(
                    f"{m} rho {_f(per_method[m][-1]['rho'])} MAPE {_f(per_method[m][-1]['mape'], 1)}"
                    for m in cfg.methods))
            dev_rec["k"][str(k)] = {
                m: {
                    "rho": _mean([x["rho"] for x in v]), "rho_std": _std([x["rho"] for x in v]),
                    "mape": _mean([x["mape"] for x in v]), "mape_std": _std([x["mape"] for x in v]),
                    **({"kept": _counts([x["kept"] for x in v])} if m == "finetune" else {}),
                }
                for m, v in per_method.items()
            }
        per_device[dev] = dev_rec
    mean = summarise(per_device, devices, cfg.samples, cfg.methods)
    return {
        "config": cfg.to_dict(),
        "checkpoint": {"path": str(predictor.path), "created": base_ckpt.get("created"),
                       "kind": base_ckpt.get("kind"), "parameters": base_ckpt.get("parameters"),
                       "platform": base_ckpt.get("platform", {}) and {k: base_ckpt["platform"].get(k) for k in ("cpu", "provider", "threads", "precision")}},
        "cells": {"eval": len(sets.eval_idx), "pool": len(sets.pool_idx), "pool_used": len(needed_pool),
                  "excluded_disconnected": sets.excluded, "exported_now": n_built,
                  "graph_seconds": round(graph_seconds, 1)},
        "network": {"C": C, "N": N, "input_size": INPUT_SIZE, "num_classes": NUM_CLASSES},
        "devices": list(devices),
        "per_device": per_device,
        "mean": mean,
        "help_reference": HELP_REFERENCE,
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def summarise(
    per_device: dict[str, Any], devices: Sequence[str], samples: Sequence[int], methods: Sequence[str]
) -> dict[str, Any]:
    """Mean over device settings of the per-device means (per k and method, and zero-shot)."""
    mean: dict[str, Any] = {
        str(k): {
            m: {stat: _mean([per_device[d]["k"][str(k)][m][stat] for d in devices]) for stat in ("rho", "mape")}
            for m in methods
        }
        for k in samples
    }
    mean["zeroshot"] = {stat: _mean([per_device[d]["zeroshot"][stat] for d in devices]) for stat in ("rho", "mape")}
    return mean


def merge(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs on disjoint device lists with the same settings (a device's
    draws do not depend on the other devices, so the merge equals one run over all)."""
    if not results:
        raise NNProfError("nothing to merge")
    first = results[0]
    keys = ("config", "checkpoint", "network")
    for r in results[1:]:
        for k in keys:
            if r[k] != first[k]:
                raise NNProfError(f"cannot merge runs with different {k}")
    devices = [d for r in results for d in r["devices"]]
    if len(set(devices)) != len(devices):
        raise NNProfError("cannot merge runs that share a device setting")
    out = dict(first)
    out["devices"] = devices
    out["per_device"] = {d: r["per_device"][d] for r in results for d in r["devices"]}
    out["runs"] = [x for r in results for x in r["runs"]]
    out["seconds"] = round(sum(r["seconds"] for r in results), 1)
    out["cells"] = dict(first["cells"], pool_used=max(r["cells"]["pool_used"] for r in results))
    out["command"] = [r.get("command") for r in results]
    out["mean"] = summarise(out["per_device"], devices, first["config"]["samples"], first["config"]["methods"])
    return out


def _counts(values: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"
