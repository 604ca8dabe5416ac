"""Would the reference network alone rescale a checkpoint to another machine? (No: evidence.)

Every `nnprof measure` row records the reference network's time in its block (``ref_ms``),
and every zoo record the reference's time when it was measured. If machines differed only
in speed, predicted x (ref here / median ref of the checkpoint's training zoo) would fix
the scale without timing anything else. This prints, for each CSV and checkpoint, the
MAPE as predicted and so rescaled, next to the factor; `nnprof calibrate` (17 networks
instead of one tiny one) is the alternative that was kept (docs/timing.md, section 9).

    python scripts/reference_scaling.py CSV... [-c default -c zen3 ...]

The checkpoint's zoo is its ``dataset`` entry (a folder of this repository); the rows are
only read.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from pathlib import Path

from nnprof import metrics as M
from nnprof.errors import NNProfError
from nnprof.finetune import read_measurements, row_features
from nnprof.predict import DEFAULT_CHECKPOINT, load_predictor

ROOT = DEFAULT_CHECKPOINT.parent.parent


def zoo_reference_ms(dataset: str) -> float:
    """Median reference time over the zoo's records (each measured alongside its block)."""
    refs = []
    for path in sorted((ROOT / dataset / "data").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            refs += [r["latency"]["ref_ms"] for r in map(json.loads, f) if r.get("latency", {}).get("ref_ms")]
    if not refs:
        raise NNProfError(f"no reference times in {ROOT / dataset}/data")
    return statistics.median(refs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--checkpoint", "-c", action="append", default=None,
                    help="bundled name or file, repeatable (default: default zen3 zen4 xeon epyc-f25)")
    a = ap.parse_args(argv)
    names = a.checkpoint or ["default", "zen3", "zen4", "xeon", "epyc-f25"]
    try:
        preds = [load_predictor(c, device="cpu") for c in names]
        zref = [zoo_reference_ms(str(p.ckpt.get("dataset"))) for p in preds]
        print("csv | reference ms | " + " | ".join(f"{c}: factor, MAPE % as predicted -> rescaled" for c in names))
        for path in a.csv:
            rows = read_measurements(path)
            with open(path, newline="", encoding="utf-8") as f:
                refs = [float(r["ref_ms"]) for r in csv.DictReader(f) if (r.get("ref_ms") or "").strip()]
            if not refs:
                raise NNProfError(f"{path}: no values in a ref_ms column")
            here = statistics.median(refs)
            feats = row_features(rows)
            true = [r.latency_ms for r in rows]
            cells = []
            for p, z in zip(preds, zref, strict=True):
                y = p.predict(feats)
                k = here / z
                cells.append(f"{k:.3f}, {M.mape(true, y):.2f} -> {M.mape(true, [k * v for v in y]):.2f}")
            print(f"{Path(path).name} | {here:.4f} | " + " | ".join(cells))
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
