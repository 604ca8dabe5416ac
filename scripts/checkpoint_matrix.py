"""Several checkpoints scored on the same held-out sets: a zoo's test split per generator
tier, and measurement CSVs of real models (`nnprof measure`).

    python scripts/checkpoint_matrix.py CKPT... [--zoo zoo/zen3] [--csv m.csv ...] [--json out.json]

One row per (checkpoint, set): n, MAPE, Acc(10%), Kendall tau, and the median signed error
(positive = predicted slower than measured). Nothing here trains or selects anything: the
zoo's test part and the CSV rows are only predicted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from nnprof import metrics as M
from nnprof.errors import NNProfError


def _scores(y_true: list[float], y_pred: list[float]) -> dict:
    return {
        "n": len(y_true),
        "mape": M.mape(y_true, y_pred),
        "acc10": M.acc(y_true, y_pred, 0.10),
        "kendall": M.kendall_tau(y_true, y_pred),
        "median_err": statistics.median((p - t) / t * 100 for t, p in zip(y_true, y_pred, strict=True)),
    }


def zoo_sets(zoo: str) -> dict[str, tuple[list[float], list]]:
    """The zoo's test part, split by tier: name -> (latencies, encoded data)."""
    from nnprof import train as T
    from nnprof.data import read_zoo

    test = [s for s in read_zoo(zoo) if s.split == "test"]
    out = {}
    for tier in sorted({s.tier for s in test}):
        part = [s for s in test if s.tier == tier]
        out[f"{zoo} test, {tier} tier"] = ([s.latency_ms for s in part], T.prepare(part, True))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--zoo", default=None, help="score the test split of this measured zoo, per tier")
    ap.add_argument("--csv", action="append", default=[], help="a measurement CSV of real models (repeatable)")
    ap.add_argument("--json", default=None, help="also write every score here")
    a = ap.parse_args(argv)
    from nnprof import train as T
    from nnprof.finetune import read_measurements, row_features
    from nnprof.predict import load_predictor

    try:
        zsets = zoo_sets(a.zoo) if a.zoo else {}
        csets = {}
        for c in a.csv:
            rows = read_measurements(c)
            csets[c] = ([r.latency_ms for r in rows], row_features(rows))
        preds = [load_predictor(c, device="cpu") for c in a.checkpoints]
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = []
    w = max(len("checkpoint"), *(len(Path(c).name) for c in a.checkpoints))
    print(f"{'checkpoint':{w}s} {'set':52s} {'n':>4s} {'MAPE %':>7s} {'Acc10 %':>7s} {'tau':>6s} {'median err %':>12s}")
    for ckpt, pred in zip(a.checkpoints, preds, strict=True):
        for name, (y, data) in zsets.items():
            s = _scores(y, T.predict(pred.model, data, 32, pred.device).tolist())
            results.append({"checkpoint": ckpt, "set": name, **s})
        for name, (y, feats) in csets.items():
            s = _scores(y, pred.predict(feats))
            results.append({"checkpoint": ckpt, "set": name, **s})
        for r in results:
            if r["checkpoint"] == ckpt:
                print(f"{Path(ckpt).name:{w}s} {r['set']:52s} {r['n']:4d} {r['mape']:7.2f} {r['acc10']:7.1f} "
                      f"{r['kendall']:6.3f} {r['median_err']:+12.1f}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
