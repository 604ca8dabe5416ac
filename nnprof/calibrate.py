"""Few-row adaptation of a trained latency predictor: a log-linear calibration.

A new device mostly changes how fast each kind of work runs, not which work a network
does. With 10-50 measured networks there is too little data to retrain the predictor (on
NAS-Bench-201 cells, gradient fine-tuning on 8 cells lowered the rank correlation it
started from on 9 of 19 device settings: docs/fewshot.md), but enough to fit a handful
of numbers on top of it. The calibration is

.. math::
    \\log \\hat y' = c_0 + c_1 \\log \\hat y + c_2 \\log \\mathrm{GMACs}
                  + c_3 \\log \\mathrm{GMem} + c_4 \\log n_\\mathrm{nodes}
                  + c_5 \\log(1 + n_\\mathrm{Conv})

where :math:`\\hat y` is the predictor's latency (ms) and the counts are the graph's own
(read back from its static features and node one-hots, `features`): the total work, the
memory traffic, and the number of kernels a device launches (what ranks networks on a
launch-bound GPU at batch 1: Conv count rho 0.96-0.97 on HELP's GPUs, docs/fewshot.md).

Fitting (`fit`): ridge regression of :math:`\\log y - \\log \\hat y` on the standardised
features with an unpenalised intercept, so the prior is "the predictor is right up to its
scale" (:math:`c_1 = 1`, other slopes 0) and the penalty :math:`\\lambda` pulls towards it.
:math:`\\lambda = \\infty` is a pure rescale. `choose` scores every :math:`\\lambda` of a grid
by exact leave-one-out error (ridge's hat-matrix identity
:math:`e_{-i} = e_i / (1 - H_{ii})`, with the standardisation of all rows held fixed), so
no rows are spent on a validation share; picking the lambda on it makes the chosen figure
slightly optimistic.

The coefficients live outside the model weights (`nnprof.model.Calibration`, stored as
the checkpoint's ``calibration`` entry), so a calibrated checkpoint loads in any nnprof
that knows the entry and a second calibration composes with the first exactly
(`compose`): both are linear in the same log features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nnprof import encode as enc

FEATURES = ("log_latency", "log_gmacs", "log_gmem", "log_nodes", "log1p_convs")
IDENTITY = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0)  # c_0 .. c_5: no change
LAMBDAS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # ridge strengths tried (standardised)
CONV_SLOT = enc.op_index("Conv")
MIN_ROWS = 5  # fewer rows: rescale only
TIE = 0.01  # leave-one-out MAPEs within 1% of each other count as equal
# ... and so do any two below this many percentage points: float32 predictions carry
# ~1e-6 % of rounding noise that differs between CPUs (a pure rescale lost to a 5-feature
# fit on 2.6e-6 % vs 2.4e-6 % on one machine and won on another)
TIE_ABS = 1e-3


def graph_counts(batch: enc.GraphBatch) -> torch.Tensor:
    """(B, 4) float64: log GMACs, log GMem, log node count, log(1 + Conv count)."""
    from nnprof.model import static_counts

    counts = static_counts(batch.static).double()  # (B, 2)
    mask = batch.mask.double()  # (B, N)
    nodes = mask.sum(1).clamp(min=1.0)  # (B,)
    convs = (batch.x[:, :, CONV_SLOT].double() * mask).sum(1)  # (B,)
    g = torch.log((counts / 1e9).clamp(min=1e-9))  # (B, 2)
    return torch.stack([g[:, 0], g[:, 1], torch.log(nodes), torch.log1p(convs)], dim=-1)


def design(pred: torch.Tensor, batch: enc.GraphBatch) -> torch.Tensor:
    """(B, 5) float64 features in the order of `FEATURES`."""
    lp = torch.log(pred.double().clamp(min=1e-12)).unsqueeze(-1)  # (B, 1)
    return torch.cat([lp, graph_counts(batch)], dim=-1)


def apply(coef: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
    """exp(c_0 + feats @ c_1..5): (6,), (B, 5) -> (B,) float64."""
    c = coef.double()
    return torch.exp(c[0] + feats.double() @ c[1:])


def compose(outer: Sequence[float], inner: Sequence[float]) -> list[float]:
    """The single calibration equal to `outer` applied to the output of `inner`."""
    o, i = [float(v) for v in outer], [float(v) for v in inner]
    b = o[1]
    return [o[0] + b * i[0], b * i[1]] + [o[k] + b * i[k] for k in range(2, 6)]


@dataclass
class Fit:
    lam: float  # math.inf = rescale only
    coef: list[float]  # c_0 .. c_5 in raw (unstandardised) feature units
    loo_mape: float  # % leave-one-out error of this lambda's fit
    fit_mape: float  # % error on the rows it was fitted on


def _ape(log_err: np.ndarray) -> np.ndarray:
    """|pred / y - 1| from log(y) - log(pred)."""
    return np.abs(np.exp(-log_err) - 1.0)


def fit(feats: np.ndarray, y: np.ndarray, lam: float, scale: np.ndarray | None = None) -> Fit:
    """Ridge fit of log y - log pred on standardised features, intercept unpenalised.

    feats (n, 5) = `design` rows (float64), y (n,) measured latency (ms) > 0. ``scale``:
    the per-feature standard deviations that standardise (default: these rows'). The
    leave-one-out error is exact for that fixed scale.
    """
    x = np.asarray(feats, dtype=np.float64)
    t = np.log(np.asarray(y, dtype=np.float64)) - x[:, 0]  # what the calibration must add
    n = len(t)
    mu = x.mean(0)
    sd = x.std(0) if scale is None else np.asarray(scale, dtype=np.float64)
    keep = sd > 1e-9 * np.maximum(1.0, np.abs(mu))  # a constant column carries nothing
    z = np.zeros_like(x)
    z[:, keep] = (x[:, keep] - mu[keep]) / sd[keep]
    a = np.concatenate([np.ones((n, 1)), z[:, keep]], axis=1)  # (n, 1 + K)
    if math.isinf(lam) or not keep.any():
        a = a[:, :1]
        pen = np.zeros((1, 1))
    else:
        pen = lam * np.eye(a.shape[1])
        pen[0, 0] = 0.0
    inv = np.linalg.pinv(a.T @ a + pen)
    w = inv @ a.T @ t  # (1 + K,)
    resid = t - a @ w
    h = np.einsum("ij,jk,ik->i", a, inv, a)  # hat-matrix diagonal
    loo = resid / np.clip(1.0 - h, 1e-9, None)
    slopes = np.zeros(x.shape[1])
    if a.shape[1] > 1:
        slopes[keep] = w[1:] / sd[keep]
    c0 = float(w[0] - (slopes * mu).sum())
    coef = [c0, 1.0 + slopes[0], *slopes[1:].tolist()]
    return Fit(lam, [float(v) for v in coef], float(100 * _ape(loo).mean()), float(100 * _ape(resid).mean()))


def choose(feats: np.ndarray, y: np.ndarray, lambdas: Sequence[float] = LAMBDAS) -> tuple[Fit, list[Fit]]:
    """Every lambda of the grid plus the pure rescale; the lowest leave-one-out MAPE wins,
    except that the most strongly penalised (simplest) fit within a relative `TIE` of it
    is preferred. Needs at least 2 rows; with fewer
    than MIN_ROWS only the rescale is tried."""
    if len(y) < 2:
        raise ValueError("a calibration needs at least 2 rows")
    grid = sorted(lambdas) if len(y) >= MIN_ROWS else []
    fits = [fit(feats, y, lam) for lam in (*grid, math.inf)]
    finite = [f for f in fits if math.isfinite(f.loo_mape)]
    if not finite:  # latencies or features so extreme that every error overflows
        raise ValueError("no calibration has a finite error on these rows")
    low = min(f.loo_mape for f in finite)
    # a more flexible fit must cut the error by more than 1% of it (else: rounding noise)
    best = next(f for f in reversed(finite) if f.loo_mape <= low * (1 + TIE) + TIE_ABS)
    return best, fits
