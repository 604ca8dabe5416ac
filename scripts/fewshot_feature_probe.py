"""Would more graph counts in the few-row calibration help? A probe, not a method.

`nnprof.calibrate` fits log y on [log prediction, log GMACs, log GMem, log nodes,
log(1 + Conv count)] from the k measured cells. On HELP's batch-256 GPU settings no fit of
these totals ranks the cells well (docs/fewshot.md, diagnostic table), while the counts of
each op type on the cell's live paths do (rho 0.92 on those settings, fitted on the
evaluation cells). This script repeats the calibration of `nnprof nas fewshot` (same cells,
same draws, same ridge grid and leave-one-out choice, "original" kept when its error is
lower) with extra count features, and prints mean Spearman rho per device setting:

    base           the shipped feature set
    +pool          + log(1 + AveragePool/MaxPool count)
    c1c3+pool      Conv count split into 1x1 and larger kernels, + pool count
    sel+pool       +pool, but only where its leave-one-out MAPE beats the base set's
    sel+c1c3pool   both extras, chosen the same way

    taskset -c 1 python scripts/fewshot_feature_probe.py [--samples 10] [--repeats 3]

The "base" column reproduces the `nnprof nas fewshot --methods finetune` figures (the
calibration is kept in all 57 k = 10 runs there, so no gradient steps are involved).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

BASE = ["lp", "macs", "mem", "nodes", "convs"]
SETS = {
    "base": BASE,
    "+pool": [*BASE, "pool"],
    "c1c3+pool": ["lp", "macs", "mem", "nodes", "c1", "c3", "pool"],
    "sel+pool": [*BASE, "pool"],
    "sel+c1c3pool": [*BASE, "c1", "c3", "pool"],
}


def _kernel(n) -> int:
    k = n.attrs.get("kernel_shape")
    return int(k[0]) if k else 0


def _feats(g, pred: float) -> dict[str, float]:
    nodes = g.raw.nodes
    conv = [n for n in nodes if n.op == "Conv"]
    return {
        "lp": math.log(pred),
        "macs": math.log(g.raw.macs / 1e9),
        "mem": math.log(g.raw.mem / 1e9),
        "nodes": math.log(len(nodes)),
        "convs": math.log1p(len(conv)),
        "pool": math.log1p(sum(n.op in ("AveragePool", "MaxPool") for n in nodes)),
        "c1": math.log1p(sum(_kernel(n) == 1 for n in conv)),
        "c3": math.log1p(sum(_kernel(n) > 1 for n in conv)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eval-cells", type=int, default=500)
    ap.add_argument("--pool-cells", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    from nnprof import calibrate as C
    from nnprof import metrics as M
    from nnprof import predict as P
    from nnprof import train as T
    from nnprof.nas import fewshot as FS
    from nnprof.nas.data import load_device_latency

    torch.set_num_threads(1)
    d = load_device_latency(None)
    s = FS.select_cells(d, a.eval_cells, a.pool_cells, a.seed)
    arch = d.arch_str
    model = P.load_predictor(None, device="cpu").model.cpu()
    batches = sorted({FS.device_batch_size(dev) for dev in d.devices})
    graphs = FS.cell_graphs([arch[i] for i in s.eval_idx] + [arch[i] for i in s.pool_idx], batches)

    def feats(idx, b):
        gs = [graphs[(arch[i], b)] for i in idx]
        pred = T.predict(model, FS._encoded(gs)).double().numpy()
        return [_feats(g, p) for g, p in zip(gs, pred, strict=True)]

    eval_f = {b: feats(s.eval_idx, b) for b in batches}
    pool_f = {b: dict(zip(s.pool_idx.tolist(), feats(s.pool_idx, b), strict=True)) for b in batches}
    res: dict[str, dict[str, float]] = {k: {} for k in SETS}
    for dev in d.devices:
        b = FS.device_batch_size(dev)
        lat = d.latency_ms[dev]
        y_eval = lat[s.eval_idx]
        for name, cols in SETS.items():
            xe = np.array([[f[c] for c in cols] for f in eval_f[b]])
            rhos = []
            for r in range(a.repeats):
                idx = FS.draw(s.pool_idx, a.samples, dev, r, a.seed)[: a.samples]
                x = np.array([[pool_f[b][int(i)][c] for c in cols] for i in idx])
                y = lat[idx]
                best, _ = C.choose(x, y)
                if name.startswith("sel"):  # the extras only where they cut the LOO error
                    b0, _ = C.choose(x[:, : len(BASE)], y)
                    if b0.loo_mape <= best.loo_mape:
                        best = C.Fit(b0.lam, [*b0.coef, *[0.0] * (x.shape[1] - len(BASE))], b0.loo_mape, b0.fit_mape)
                orig = M.mape(y.tolist(), np.exp(x[:, 0]).tolist())
                c = np.array(best.coef)
                pe = np.exp(c[0] + xe @ c[1:]) if best.loo_mape < orig else np.exp(xe[:, 0])
                rhos.append(M.spearman_rho(y_eval, pe))
            res[name][dev] = float(np.mean(rhos))
    print(f"k = {a.samples}, mean Spearman rho over {a.repeats} draws, {len(s.eval_idx)} evaluation cells")
    print("| device | " + " | ".join(SETS) + " |")
    print("|---|" + "---:|" * len(SETS))
    for dev in d.devices:
        print(f"| {dev} | " + " | ".join(f"{res[k][dev]:.3f}" for k in SETS) + " |")
    print(f"| mean ({len(d.devices)}) | " + " | ".join(f"{np.mean(list(res[k].values())):.3f}" for k in SETS) + " |")


if __name__ == "__main__":
    main()
