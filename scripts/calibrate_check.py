"""Does `nnprof calibrate` fix the scale, and how long does a calibration stay good?

Pairs of files taken together on one machine: the report of `nnprof calibrate --format json`
and a CSV of real models `nnprof measure` wrote right after it. For each pair, the MAPE of
the base checkpoint on the CSV as it predicts, rescaled by that pair's factor, by the first
pair's factor (a calibration reused later), by the factor the report stored, and by the
best single factor for these rows (their median measured/predicted: what no rescale can
beat by much).

    python scripts/calibrate_check.py CAL.json:REAL.csv ... [-c CHECKPOINT]

The rows are only read. The factor is recomputed from the networks each report records
(measured and predicted ms) as `nnprof calibrate` computes it now (`hostcal.factor`, the
geometric mean ratio), so reports written by its first version, which stored the median
ratio as "factor" (scripts/results/calibrate/, 2026-12-06 02:24-03:00), are scored as the
current command would have scored them; the stored factor is printed next to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from nnprof import metrics as M
from nnprof.errors import NNProfError
from nnprof.finetune import read_measurements, row_features
from nnprof.hostcal import factor
from nnprof.predict import load_predictor


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", nargs="+", metavar="CAL.json:REAL.csv")
    ap.add_argument("--checkpoint", "-c", default=None, help="the calibrated base (default: the bundled default)")
    a = ap.parse_args(argv)
    try:
        pred = load_predictor(a.checkpoint, device="cpu")
        first = None
        print("calibration | factor | stored factor | real models | MAPE % as predicted | x own factor "
              "| x first factor | x stored factor | best factor | x best factor")
        print("|".join(["---"] * 10))
        for pair in a.pairs:
            cal, sep, real = pair.partition(":")
            if not sep:
                raise NNProfError(f"{pair}: give CAL.json:REAL.csv")
            try:
                report = json.loads(Path(cal).read_text())
                nets = report["networks"]
                k, _ = factor([n["measured_ms"] for n in nets], [n["predicted_ms"] for n in nets])
                stored = float(report["factor"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise NNProfError(f"{cal}: not a calibrate report with networks and a factor ({type(e).__name__})") from None
            first = k if first is None else first
            rows = read_measurements(real)
            y = [r.latency_ms for r in rows]
            p = pred.predict(row_features(rows))
            best = statistics.median(t / q for t, q in zip(y, p, strict=True))
            cells = [M.mape(y, [s * q for q in p]) for s in (1.0, k, first, stored, best)]
            print(f"{Path(cal).name} | {k:.3f} | {stored:.3f} | {Path(real).name} | {cells[0]:.2f} | "
                  f"{cells[1]:.2f} | {cells[2]:.2f} | {cells[3]:.2f} | {best:.3f} | {cells[4]:.2f}")
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
