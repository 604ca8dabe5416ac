"""Which simple cost figure ranks each device setting's NAS-Bench-201 latencies?

Spearman rho, on the `nnprof nas fewshot` evaluation cells, of latency against MACs,
memory access, node count and Conv count of the ONNX graph, and of an *oracle* log-linear
fit of all four fitted on the evaluation cells themselves (an upper bound for a model that
only sees these totals, not a method: it uses the evaluation latencies).

    taskset -c 1 python scripts/fewshot_diagnostics.py [--eval-cells 500] [--seed 0] [--format markdown]

Uses the cached cell graphs (`nnprof.nas.fewshot.cell_graphs`; exports what is missing).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval-cells", type=int, default=500)
    ap.add_argument("--pool-cells", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--format", choices=("markdown", "json"), default="markdown")
    a = ap.parse_args()

    import torch

    from nnprof import metrics as M
    from nnprof.nas import fewshot as FS
    from nnprof.nas.data import load_device_latency

    torch.set_num_threads(1)
    d = load_device_latency(a.data_dir)
    s = FS.select_cells(d, a.eval_cells, a.pool_cells, a.seed)
    arch = [d.arch_str[i] for i in s.eval_idx]
    rows = []
    for dev in d.devices:
        b = FS.device_batch_size(dev)
        g = FS.cell_graphs(arch, (b,))
        raw = [g[(x, b)].raw for x in arch]
        feats = {
            "macs": np.array([r.macs for r in raw], dtype=float),
            "mem": np.array([r.mem for r in raw], dtype=float),
            "nodes": np.array([len(r.nodes) for r in raw], dtype=float),
            "convs": np.array([sum(n.op == "Conv" for n in r.nodes) for r in raw], dtype=float),
        }
        y = d.latency_ms[dev][s.eval_idx]
        x = np.c_[np.ones(len(y)), np.log(feats["macs"]), np.log(feats["mem"]), feats["nodes"], feats["convs"]]
        w = np.linalg.lstsq(x, np.log(y), rcond=None)[0]
        rows.append({"device": dev, "batch": b, **{k: M.spearman_rho(y, v) for k, v in feats.items()},
                     "oracle_fit": M.spearman_rho(y, x @ w)})
    if a.format == "json":
        print(json.dumps({"eval_cells": a.eval_cells, "seed": a.seed, "rows": rows}, indent=1))
        return
    cols = ("macs", "mem", "nodes", "convs", "oracle_fit")
    print("| device | batch | rho MACs | rho memory | rho nodes | rho Convs | oracle log-linear fit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['device']} | {r['batch']} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    print(f"| mean ({len(rows)}) | | " + " | ".join(f"{np.mean([r[c] for r in rows]):.3f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
