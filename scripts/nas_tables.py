"""Merge `nnprof nas evaluate --format json` outputs into Markdown tables like the paper's 3-4.

    python scripts/nas_tables.py runs/*.json

Runs of the same benchmark and training size (e.g. seeds split over several invocations
with --seed-start) are pooled; mean +- sample std over all their seeds. Files whose training
configuration or model differ (other than the seed) are not pooled: that is an error.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np

PAPER = {
    ("nb101", 424): {"tau_100": 0.802, "tau_all": 0.773},
    ("nb101", 4236): {"tau_all": 0.861},
    ("nb201", 781): {"tau_all": 0.874},
    ("nb201", 1563): {"tau_all": 0.888},
}


def ms(values: list[float], digits: int = 3) -> str:
    a = np.asarray(values, dtype=float)
    if len(a) == 1:
        return f"{a[0]:.{digits}f}"  # one seed: no spread to report
    return f"{a.mean():.{digits}f} ± {a.std(ddof=1):.{digits}f}"


def main(paths: list[str]) -> None:
    """Print the tables for the given JSON files."""
    pooled: dict[tuple[str, int], list[dict]] = defaultdict(list)
    meta: dict[tuple[str, int], dict] = {}
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        key = (doc["bench"], doc["train_size"])
        if key in meta and (doc["config"], doc["model_args"]) != (
            meta[key]["config"],
            meta[key]["model_args"],
        ):
            raise SystemExit(
                f"{p}: {key} was run with another configuration than {meta[key]['path']}"
            )
        seeds = {r["seed"] for r in pooled[key]}
        dup = seeds & {r["seed"] for r in doc["runs"]}
        if dup:
            raise SystemExit(f"{p}: seed(s) {sorted(dup)} of {key} already read")
        pooled[key].extend(doc["runs"])
        meta[key] = {**doc, "path": p}
    for bench in ("nb101", "nb201"):
        keys = sorted(k for k in pooled if k[0] == bench)
        if not keys:
            continue
        print(f"\n### {bench}\n")
        cols = ["train cells", "seeds", "test cells"]
        if bench == "nb101":
            cols += ["tau, 100 test", "paper"]
        cols += [
            "tau, all test",
            "paper",
            "ACC(10%), all",
            "steps / run",
            "epochs (best)",
            "train min / run",
        ]
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for key in keys:
            runs, doc, paper = pooled[key], meta[key], PAPER.get(key, {})
            row = [str(key[1]), ", ".join(str(r["seed"]) for r in runs), str(doc["n_test"])]
            if bench == "nb101":
                row += [ms([r["tau_100"] for r in runs]), str(paper.get("tau_100", "-"))]
            row += [
                ms([r["tau_all"] for r in runs]),
                str(paper.get("tau_all", "-")),
                ms([r["acc10_all"] for r in runs], 2),
                str(doc["config"]["epochs"] * max(1, key[1] // doc["config"]["batch_size"])),
                f"{doc['config']['epochs']} ({', '.join(str(r['best_epoch']) for r in runs)})",
                f"{np.mean([r['train_seconds'] for r in runs]) / 60:.1f}",
            ]
            print("| " + " | ".join(row) + " |")
        print(f"\nNote: {meta[keys[0]]['note']}.")
        for key in keys:
            c, a = meta[key]["config"], meta[key]["model_args"]
            print(
                f"{key[1]} cells: D = {a['hidden']}, f_PE {a.get('pe', 'trans')}, batch "
                f"{c['batch_size']}, peak lr {c['lr']:g}, {c['epochs']} epochs."
            )


if __name__ == "__main__":
    main(sys.argv[1:])
