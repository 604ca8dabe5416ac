"""How well a checkpoint predicts latencies measured independently (not zoo variants).

Reads a measurement CSV written by `nnprof measure` (real torchvision/timm models), predicts
every row with a checkpoint (the bundled one by default) and prints, per row, measured and
predicted latency and the relative error, then MAPE, Acc(5%), Acc(10%), Kendall tau and
Spearman rho over all rows.

    python scripts/predict_vs_measured.py measurements.csv [--checkpoint ckpt.pt] [--json out.json]
        [--scale K | --scale-from calibrate.json]

--scale multiplies every prediction by K; --scale-from takes K from the report of
`nnprof calibrate --format json` (its "factor"), so a calibration's effect on these rows is
reproduced from the committed report without its 9 MB checkpoint.

The rows are only read: nothing here trains or selects anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nnprof import metrics as M
from nnprof.errors import NNProfError
from nnprof.finetune import read_measurements, row_features
from nnprof.predict import auto_checkpoint, load_predictor


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--checkpoint", "-c", default=None, help="a file or a bundled checkpoint name (default: the bundled default)")
    ap.add_argument("--json", default=None, help="also write the rows and scores here")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--scale", type=float, default=None, help="multiply every prediction by this factor")
    g.add_argument("--scale-from", default=None, help="the factor of an `nnprof calibrate --format json` report")
    a = ap.parse_args(argv)
    scale = a.scale
    if a.scale_from is not None:
        try:
            scale = float(json.loads(Path(a.scale_from).read_text())["factor"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: {a.scale_from}: not a calibrate report with a factor ({type(e).__name__}: {e})", file=sys.stderr)
            return 2
    if scale is not None and not scale > 0:
        print(f"error: the scale must be a positive number, got {scale}", file=sys.stderr)
        return 2
    try:
        rows = read_measurements(a.csv)
        pred = load_predictor(a.checkpoint, device="cpu")
        feats = row_features(rows)
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.checkpoint is None:  # the default, for reproducible figures; say when `predict` would pick another
        cpus = {str(r.platform.get("cpu_id") or "") for r in rows}
        if len(cpus) == 1 and (cpu := cpus.pop()):
            _, name = auto_checkpoint(cpu)
            if name is not None:
                print(f"note: these rows were measured on {cpu}, for which `nnprof predict` uses the bundled "
                      f"checkpoint {name!r} (-c {name}); scoring the default {pred.path.name}", file=sys.stderr)
    y_pred = [p * (scale or 1.0) for p in pred.predict(feats)]
    y_true = [r.latency_ms for r in rows]
    out = []
    print(f"{'model':34s} {'input':>5s} {'batch':>5s} {'measured':>9s} {'predicted':>9s} {'error':>7s}")
    for r, t, p in sorted(zip(rows, y_true, y_pred, strict=True), key=lambda x: x[1]):
        err = (p - t) / t * 100
        out.append({"model": r.ref.qualified, "input_size": r.input_size, "batch_size": r.batch_size, "measured_ms": t, "predicted_ms": p, "error_pct": err})
        print(f"{r.ref.qualified:34s} {r.input_size or '':>5} {r.batch_size:5d} {t:9.3f} {p:9.3f} {err:+6.1f}%")
    scores = {
        "n": len(rows),
        "mape": M.mape(y_true, y_pred),
        "acc5": M.acc(y_true, y_pred, 0.05),
        "acc10": M.acc(y_true, y_pred, 0.10),
        "kendall": M.kendall_tau(y_true, y_pred),
        "spearman": M.spearman_rho(y_true, y_pred),
        "checkpoint": str(pred.path),
        "predicts_for": pred.platform_text,
        "scale": scale,
    }
    print(
        f"\n{scores['n']} rows: MAPE {scores['mape']:.2f}%  Acc(5%) {scores['acc5']:.1f}%  Acc(10%) {scores['acc10']:.1f}%  "
        f"Kendall {scores['kendall']:.3f}  Spearman {scores['spearman']:.3f}  ({pred.path.name}"
        f"{f' x {scale:.4g}' if scale else ''}, {pred.platform_text})"
    )
    if a.json:
        Path(a.json).write_text(json.dumps({"csv": a.csv, "scores": scores, "rows": out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
