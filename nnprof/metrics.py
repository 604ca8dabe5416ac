"""Latency-prediction metrics (NAR-Former V2 supplement B.2, Eq. 7-8) and their summaries.

All error metrics are percentages, as in the paper's tables:

    MAPE   = 100 / n * sum |y_i - y'_i| / y_i                       (Eq. 7)
    Acc(d) = 100 / n * sum [ |y_i - y'_i| / y_i <= d ]              (Eq. 8)

plus Kendall's tau-b and Spearman's rho between true and predicted values (rank
agreement, what a NAS loop cares about). y is the measured latency, y' the prediction.
A rank metric of fewer than two samples, or of constant values, is None (not NaN) so
that results stay valid JSON.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

METRIC_NAMES = ("mape", "acc5", "acc10", "kendall", "spearman")


def _arrays(y_true: Sequence[float], y_pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"{t.size} targets but {p.size} predictions")
    if t.size == 0:
        raise ValueError("no samples to score")
    if (t <= 0).any():
        raise ValueError("relative errors need positive targets")
    return t, p


def relative_errors(y_true: Sequence[float], y_pred: Sequence[float]) -> np.ndarray:
    t, p = _arrays(y_true, y_pred)
    return np.abs(t - p) / t


def mape(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute percentage error, in percent (Eq. 7)."""
    return float(100.0 * relative_errors(y_true, y_pred).mean())


def acc(y_true: Sequence[float], y_pred: Sequence[float], delta: float) -> float:
    """Error-bound accuracy Acc(delta), in percent (Eq. 8): share with relative error <= delta."""
    # a tiny tolerance so that an error of exactly delta counts despite float rounding
    return float(100.0 * (relative_errors(y_true, y_pred) <= delta + 1e-12).mean())


def _rank_stat(fn, t: np.ndarray, p: np.ndarray) -> float | None:
    if t.size < 2 or np.all(t == t[0]) or np.all(p == p[0]):
        return None
    v = float(fn(t, p).statistic)
    return None if math.isnan(v) else v


def kendall_tau(y_true: Sequence[float], y_pred: Sequence[float]) -> float | None:
    """Kendall's tau-b between measured and predicted values."""
    from scipy.stats import kendalltau

    return _rank_stat(kendalltau, *_arrays(y_true, y_pred))


def spearman_rho(y_true: Sequence[float], y_pred: Sequence[float]) -> float | None:
    """Spearman's rank correlation between measured and predicted values."""
    from scipy.stats import spearmanr

    return _rank_stat(spearmanr, *_arrays(y_true, y_pred))


def score(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float | int | None]:
    """All metrics of one set of predictions: {n, mape, acc5, acc10, kendall, spearman}."""
    return {
        "n": len(np.asarray(y_true).reshape(-1)),
        "mape": mape(y_true, y_pred),
        "acc5": acc(y_true, y_pred, 0.05),
        "acc10": acc(y_true, y_pred, 0.10),
        "kendall": kendall_tau(y_true, y_pred),
        "spearman": spearman_rho(y_true, y_pred),
    }


def score_by_family(
    y_true: Sequence[float], y_pred: Sequence[float], families: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Metrics per family (sorted by name) and over all samples under the key "all"."""
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    fam = np.asarray(list(families))
    if fam.shape != t.shape:
        raise ValueError(f"{t.size} targets but {fam.size} family labels")
    out = {"all": score(t, p)}
    for f in sorted(set(fam.tolist())):
        sel = fam == f
        out[f] = score(t[sel], p[sel])
    return out


def mean_std(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean and sample standard deviation of one metric over seeds (None values skipped)."""
    v = [float(x) for x in values if x is not None]
    if not v:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}


def aggregate(runs: Sequence[dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """Combine per-seed `score_by_family` results: {group: {metric: {mean, std, n}}}.

    A group (family) missing from some runs is aggregated over the runs that have it.
    """
    groups: list[str] = []
    for r in runs:
        groups += [g for g in r if g not in groups]
    return {
        g: {m: mean_std([r[g][m] for r in runs if g in r]) for m in METRIC_NAMES}
        for g in groups
    }
