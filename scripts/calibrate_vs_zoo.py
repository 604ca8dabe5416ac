"""How well a zoo's labels reproduce: the networks `nnprof calibrate` timed against the zoo's labels.

    python scripts/calibrate_vs_zoo.py ZOO REPORT.json...

Every calibration network is a base-tier generated network (`hostcal.CAL_SET`, indices 0-2
of each family), so a zoo collected with `--per-family 3` or more holds a label for each,
measured with the same protocol. Per report: MAPE, median and maximum absolute error of the
report's measured latencies against those labels (label noise plus any change of machine
speed since the zoo was measured), and the same between each report and the one before it
(the noise of one pass). Only reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from nnprof.data import read_zoo
from nnprof.errors import NNProfError


def _errors(a: list[float], b: list[float]) -> str:
    e = [abs(x - y) / y * 100 for x, y in zip(a, b, strict=True)]
    return f"MAPE {statistics.fmean(e):.2f}%  median {statistics.median(e):.2f}%  max {max(e):.2f}%  (n={len(e)})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoo")
    ap.add_argument("reports", nargs="+")
    a = ap.parse_args(argv)
    try:
        labels = {s.id: s.latency_ms for s in read_zoo(a.zoo) if s.tier == "base"}
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    prev: tuple[str, dict[str, float]] | None = None
    for rep in a.reports:
        try:
            nets = {n["id"]: float(n["measured_ms"]) for n in json.loads(Path(rep).read_text())["networks"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"error: {rep}: not a calibrate report with networks ({type(e).__name__}: {e})", file=sys.stderr)
            return 2
        missing = sorted(set(nets) - set(labels))
        if missing:
            print(f"error: {a.zoo} has no base-tier label for {', '.join(missing)}", file=sys.stderr)
            return 2
        ids = sorted(nets)
        print(f"{Path(rep).name} vs {a.zoo}: " + _errors([nets[i] for i in ids], [labels[i] for i in ids]))
        if prev is not None:
            both = sorted(set(nets) & set(prev[1]))
            print(f"{Path(rep).name} vs {prev[0]}: " + _errors([nets[i] for i in both], [prev[1][i] for i in both]))
        prev = (Path(rep).name, nets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
