"""Rescale a latency predictor to this machine's speed in half a minute: `nnprof calibrate`.

Why. A checkpoint predicts for the machine its data was measured on, and machines with the
same CPU id are not equally fast: on 2026-12-06 the Zen 5 machine (the CPU id `zoo/zen5`
was measured on) ran the 42 real models 18.45% faster than on 2026-12-02, so the default
checkpoint was 27.21% off (MAPE), while ranking them as well as ever (Spearman 0.994)
(docs/timing.md, section 9). Fine-tuning on the user's own measurements (`nnprof finetune`)
fixes that but needs measured models; this needs none.

How. `CAL_SET` is one generated network per zoo family (`nnprof.variants.generate`: no zoo
data, no download; the index is the family's first whose latency in `zoo/` was 2-40 ms,
so that none is dominated by launch overhead or takes long to time).
Each is built and exported as the zoo's were (`collect.build_one`), all are timed here in
one block with the measurement protocol (`measure.measure_many`: rounds interleaved in
time), and predicted by the checkpoint. The factor is the geometric mean of measured /
predicted over the networks: the least-squares rescale in log space, which is the pure
rescale `nnprof finetune` fits from few rows (`calibrate.fit` with lambda = infinity). The
median, tried first, was level with it for the Zen 5 checkpoint on its own CPU and worse
where the ratios are skewed (the Xeon checkpoint on a Zen 5 machine: 14.32% and 20.15%
against 11.62% and 16.46% MAPE on 42 real models; README). The new checkpoint is the old
one with a pure rescale composed onto its calibration entry (`calibrate.compose`; weights
unchanged) and this machine's platform; the networks, both latencies and the factor are
recorded in its ``host_calibration`` entry (``total_factor``: the product over repeated
calibrations, which also rescales the training-latency range `predict` warns with).

What it cannot do. It corrects a speed, not a change in which work is expensive: when the
networks' ratios disagree (`SPREAD_WARN`) it says so, and `nnprof finetune` on measured
models is the remedy. The factor carries the noise of one timing pass (docs/timing.md:
1-8% depending on the hour).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nnprof import __version__
from nnprof.errors import NNProfError

if TYPE_CHECKING:
    from nnprof.graph import RawGraph

CAL_SET: tuple[tuple[str, int], ...] = (
    ("alexnet", 1), ("convnext", 0), ("densenet", 0), ("efficientnet", 0), ("googlenet", 1),
    ("mnasnet", 2), ("mobilenetv2", 0), ("mobilenetv3", 0), ("mobilevit", 0), ("nasbench201", 2),
    ("regnet", 1), ("resnet", 1), ("shufflenetv2", 0), ("squeezenet", 0), ("swin", 0),
    ("vgg", 0), ("vit", 1),
)  # fmt: skip
SPREAD_WARN = 0.25  # upper / lower quartile of the ratios above 1 + this: more than a speed changed
# A factor this close to 1 is within a calibration's own pass-to-pass spread: the default
# checkpoint's calibrations on one Zen 5 machine from 02:24 to 03:16 UTC gave 0.792-0.866 (about
# +-4.5% around their geometric middle), and on a Zen 4 machine matching the zen4 checkpoint's
# data two gave 1.035 and 1.019, where rescaling cost 0.21 and 0.12 points of MAPE on 42 real
# models (scripts/results/calibrate/zen4host.md). `calibrate` says so; it still saves.
NEAR_ONE = 0.05


@dataclass
class CalNet:
    """One calibration network, built."""

    id: str
    family: str
    input_size: int
    batch_size: int
    onnx: bytes  # simplified ONNX with weights, what is timed
    graph: RawGraph  # what is predicted


def families(selected: Sequence[str] | None = None) -> list[tuple[str, int]]:
    """The (family, index) pairs of `CAL_SET`, restricted to `selected` families if given."""
    if not selected:
        return list(CAL_SET)
    known = dict(CAL_SET)
    unknown = [f for f in selected if f not in known]
    if unknown:
        raise NNProfError(f"unknown family {unknown[0]!r} for --families: choose from {', '.join(known)}")
    return [(f, known[f]) for f in dict.fromkeys(selected)]


def build(pairs: Sequence[tuple[str, int]], step: Callable[[str], None] | None = None) -> list[CalNet]:
    """Generate, export (TorchScript, onnxsim, shape inference) and parse each network."""
    from nnprof.collect import build_one
    from nnprof.graph import RawGraph
    from nnprof.variants import generate

    out = []
    for family, index in pairs:
        v = generate(family, index)
        if step is not None:
            step(v.id)
        try:
            onnx_bytes, record = build_one(v)
        except Exception as e:  # the generator's networks export on every supported stack
            raise NNProfError(f"cannot build calibration network {v.id}: {type(e).__name__}: "
                              f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]) from None
        out.append(CalNet(v.id, family, v.input_size, v.batch_size, onnx_bytes,
                          RawGraph.from_dict(record["graph"])))
    return out


def factor(measured: Sequence[float], predicted: Sequence[float]) -> tuple[float, list[float]]:
    """(geometric mean of measured / predicted, every ratio); raises on a non-positive latency."""
    if not measured or len(measured) != len(predicted):
        raise ValueError("factor needs as many predictions as measurements, at least one")
    for m, p in zip(measured, predicted, strict=True):
        if not (m > 0 and p > 0 and math.isfinite(m) and math.isfinite(p)):
            raise NNProfError(f"cannot calibrate on a non-positive or non-finite latency "
                              f"(measured {m:g} ms, predicted {p:g} ms)")
    ratios = [m / p for m, p in zip(measured, predicted, strict=True)]
    return math.exp(statistics.fmean(math.log(r) for r in ratios)), ratios


def near_one(k: float) -> bool:
    """True when a factor is within NEAR_ONE of 1 either way (log-symmetric)."""
    return abs(math.log(k)) <= math.log1p(NEAR_ONE)


def spread(ratios: Sequence[float]) -> float:
    """Upper over lower quartile of the ratios, minus 1 (0 for fewer than 4 ratios)."""
    if len(ratios) < 4:
        return 0.0
    q = statistics.quantiles(ratios, n=4)
    return q[2] / q[0] - 1.0


def rescaled(ckpt: dict[str, Any], k: float, record: dict[str, Any], platform: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint with a pure rescale by `k` composed onto its calibration entry."""
    from nnprof import calibrate
    from nnprof.predict import host_factor

    if not (k > 0 and math.isfinite(k)):
        raise NNProfError(f"calibration factor {k!r} is not a positive number")
    cal = ckpt.get("calibration")
    inner = list(cal["coef"]) if cal else list(calibrate.IDENTITY)
    outer = [math.log(k), 1.0, 0.0, 0.0, 0.0, 0.0]
    new = dict(ckpt)
    new["calibration"] = {"features": list(calibrate.FEATURES), "coef": calibrate.compose(outer, inner)}
    new["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    new["nnprof"] = __version__
    before = host_factor(ckpt) or 1.0
    new["host_calibration"] = {**record, "factor": k, "total_factor": before * k,
                               "base_platform": ckpt.get("platform")}
    new["platform"] = platform
    return new


def run(pred, nets: Sequence[CalNet], *, threads: int = 1, provider: str = "cpu",
        progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time `nets` here, predict them with `pred` (a `predict.Predictor`), and return
    (the rescaled checkpoint, a report)."""
    from nnprof import train as T
    from nnprof.measure import DEFAULT_PROTOCOL, measure_many, platform_fingerprint

    if not hasattr(pred.model, "calibration"):
        raise NNProfError(f"{pred.path}: a {pred.kind!r} checkpoint has no calibration to rescale; "
                          "use a NAR-Former V2 or GNN checkpoint")
    t0 = time.time()
    ms = measure_many([n.onnx for n in nets], threads=threads, provider=provider, progress=progress)
    timed_s = time.time() - t0
    data = T.prepare_graphs([n.graph for n in nets])
    predicted = [float(v) for v in T.predict(pred.model, data, 32, pred.device)]
    measured = [m.latency_ms for m in ms]
    k, ratios = factor(measured, predicted)
    disagree = spread(ratios)
    record = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": DEFAULT_PROTOCOL.name,
        "timing_s": round(timed_s, 1),
        "reference_ms": ms[0].ref_ms,
        "base_checkpoint": str(pred.path),
        "base_created": pred.ckpt.get("created"),
        "networks": [
            {"id": n.id, "batch_size": n.batch_size, "input_size": n.input_size,
             "measured_ms": round(m, 5), "predicted_ms": round(p, 5)}
            for n, m, p in zip(nets, measured, predicted, strict=True)
        ],
        "spread": round(disagree, 4),
    }
    ckpt = rescaled(pred.ckpt, k, record, platform_fingerprint(threads, provider))
    report = {
        "factor": k,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "spread": disagree,
        "networks": record["networks"],
        "timing_s": record["timing_s"],
        "base_checkpoint": str(pred.path),
        "base_platform": pred.platform_text,
    }
    return ckpt, report
