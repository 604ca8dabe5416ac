"""Test-retest error between two `nnprof measure -o` CSVs of the same models (docs/timing.md).

    python scripts/retest_csv.py scripts/results/real/xeon-real-1t-1819.csv scripts/results/real/xeon-real-1t-1900.csv

Rows are matched on (model, input_size, batch_size). Prints, relative to the first CSV: the
mean, median, 90th-percentile and max absolute error (%), the share within 2%, the mean signed change of
the second over the first (the whole-run shift) and the error after dividing each latency
by the reference network timed in its block (`ref_ms`). Only reads the two files.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np


def _rows(path: str) -> dict[tuple[str, str, str], dict[str, str]]:
    try:
        with open(path, newline="") as f:
            return {(r["model"], r["input_size"], r["batch_size"]): r for r in csv.DictReader(f)}
    except OSError as e:
        raise SystemExit(f"error: cannot read {path}: {e.strerror}") from None
    except KeyError as e:
        raise SystemExit(f"error: {path} is not an `nnprof measure` CSV (no column {e})") from None


def _column(rows: dict, keys: list, col: str, path: str) -> np.ndarray:
    """One numeric column over the matched rows; a missing, non-numeric or non-positive
    value is a one-line error naming the file, model and column."""
    out = []
    for k in keys:
        try:
            v = float(rows[k][col])
        except (TypeError, ValueError):
            v = float("nan")
        if not v > 0:
            raise SystemExit(f"error: {path}: {k[0]} (input {k[1]}, batch {k[2]}) has {col} {rows[k][col]!r}, not a positive number")
        out.append(v)
    return np.array(out)


def ape_stats(la: np.ndarray, lb: np.ndarray, digits: int = 2) -> dict[str, float]:
    """Error of pass b against pass a over matched latencies: mean, median, 90th percentile
    and max absolute error (%), the share within 2%, and the mean signed change (%)."""
    e = np.abs(lb - la) / la
    return {
        "mape_pct": round(100 * float(e.mean()), digits),
        "median_ape_pct": round(100 * float(np.median(e)), digits),
        "p90_ape_pct": round(100 * float(np.percentile(e, 90)), digits),
        "max_ape_pct": round(100 * float(e.max()), digits),
        "within_2pct": round(float((e <= 0.02).mean()), 3),
        "mean_signed_pct": round(100 * float((lb / la - 1).mean()), digits),
    }


def compare(a_path: str, b_path: str) -> dict[str, float | int]:
    a, b = _rows(a_path), _rows(b_path)
    keys = sorted(set(a) & set(b))
    if not keys:
        raise SystemExit(f"error: {a_path} and {b_path} share no (model, input_size, batch_size) row")
    la, ra = _column(a, keys, "latency_ms", a_path), _column(a, keys, "ref_ms", a_path)
    lb, rb = _column(b, keys, "latency_ms", b_path), _column(b, keys, "ref_ms", b_path)
    return {
        "rows": len(keys),
        **ape_stats(la, lb),
        "ref_ms_median": [round(float(np.median(ra)), 4), round(float(np.median(rb)), 4)],
        "mape_ref_normalised_pct": ape_stats(la / ra, lb / rb)["mape_pct"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args(argv)
    print(json.dumps(compare(args.a, args.b), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
