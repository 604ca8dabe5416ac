"""Timing-noise study for nnprof's measurement protocol (see docs/timing.md).

Subcommands:
  export   build the study's real torchvision/timm models as ONNX into /tmp/nnprof-timing/
           (random weights; run it on core 0: `taskset -c 0 python scripts/timing_study.py export`)
  study    time the models under several candidate protocols and write raw per-burst
           times to scripts/results/ (run it on core 1: `taskset -c 1 python ...`)
  analyse  test-retest error, spread and cost of each candidate protocol from the raw times

The models are real zoo networks exported with `torch.onnx.export(dynamo=False, opset 17)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ONNX_DIR = Path(os.environ.get("NNPROF_TIMING_DIR", "/tmp/nnprof-timing"))
RESULTS = Path(__file__).resolve().parent / "results"

# (zoo name, input size): >= 50 real networks spanning ~0.2 ms to ~150 ms at 1 thread.
# Input sizes are chosen to keep the biggest ones under ~150 ms and get small ones near 0.2 ms.
MODELS: list[tuple[str, int]] = [
    # tiny
    ("timm:test_efficientnet", 96),
    ("timm:test_byobnet", 96),
    ("timm:test_vit", 96),
    ("timm:test_convnext", 96),
    ("tv:mobilenet_v3_small", 64),
    ("timm:lcnet_035", 64),
    ("tv:squeezenet1_1", 64),
    ("tv:shufflenet_v2_x0_5", 96),
    ("timm:lcnet_050", 128),
    ("timm:mobilenetv4_conv_small_035", 128),
    ("timm:tinynet_e", 106),
    ("timm:regnetx_002", 160),
    # small / medium
    ("tv:mobilenet_v3_small", 224),
    ("tv:mobilenet_v3_large", 224),
    ("tv:mobilenet_v2", 224),
    ("tv:mnasnet0_5", 224),
    ("tv:mnasnet1_0", 224),
    ("tv:shufflenet_v2_x1_0", 224),
    ("tv:squeezenet1_0", 224),
    ("tv:alexnet", 224),
    ("tv:googlenet", 224),
    ("tv:inception_v3", 160),
    ("tv:resnet18", 224),
    ("tv:resnet34", 224),
    ("tv:resnet50", 224),
    ("tv:resnet101", 160),
    ("tv:resnext50_32x4d", 160),
    ("tv:wide_resnet50_2", 128),
    # VGG: adaptive_avg_pool2d(7) only exports when the last map is a multiple of 7 -> 224
    ("tv:vgg11", 224),
    ("tv:densenet121", 160),
    ("tv:efficientnet_b0", 224),
    ("tv:efficientnet_b2", 192),
    ("tv:regnet_x_400mf", 224),
    ("tv:regnet_y_800mf", 224),
    ("tv:convnext_tiny", 160),
    ("tv:vit_b_16", 128),
    ("tv:swin_t", 128),
    ("timm:resnet10t", 160),
    ("timm:resnet18d", 224),
    ("timm:efficientnet_lite0", 224),
    ("timm:ghostnet_100", 224),
    ("timm:mobilevit_xxs", 160),
    ("timm:mobilevit_s", 192),
    ("timm:deit_tiny_patch16_224", 224),
    ("timm:deit_small_patch16_224", 224),
    ("timm:levit_128s", 224),
    ("timm:convnext_atto", 224),
    ("timm:convnext_nano", 160),
    ("timm:lcnet_100", 224),
    ("timm:mixnet_s", 224),
    ("timm:efficientformer_l1", 224),
    ("timm:poolformer_s12", 160),
    ("timm:fastvit_t8", 224),
    ("timm:edgenext_xx_small", 224),
    ("timm:repvit_m1_0", 224),
    ("timm:mobilenetv4_conv_small", 224),
    ("timm:mobilenetv4_hybrid_medium", 224),
    ("timm:dla34", 160),
    ("timm:cspresnet50", 160),
]

# Candidate reference models: small, timed alternately with every model.
REFERENCES: list[tuple[str, int]] = [("tv:resnet18", 64), ("tv:mobilenet_v2", 96)]

# Fixed-resolution models: timm needs img_size, torchvision ViT needs image_size.
_TIMM_IMG_SIZE = {"timm:test_vit", "timm:deit_tiny_patch16_224", "timm:deit_small_patch16_224"}


def onnx_path(name: str, size: int) -> Path:
    return ONNX_DIR / f"{name.replace(':', '_')}_{size}.onnx"


def build(name: str, size: int):
    lib, arch = name.split(":", 1)
    if lib == "tv":
        import torchvision

        kw: dict = {"weights": None}
        if arch == "vit_b_16":
            kw["image_size"] = size
        if arch in ("inception_v3", "googlenet"):
            kw.update(aux_logits=False, init_weights=False)
        return torchvision.models.get_model(arch, **kw)
    import timm

    kw = {"pretrained": False}
    if name in _TIMM_IMG_SIZE:
        kw["img_size"] = size
    return timm.create_model(arch, **kw)


def export_one(name: str, size: int, force: bool = False) -> Path:
    import torch

    path = onnx_path(name, size)
    if path.exists() and not force:
        return path
    torch.manual_seed(0)
    model = build(name, size).eval()
    x = torch.randn(1, 3, size, size)
    tmp = path.with_suffix(".tmp")
    torch.onnx.export(model, (x,), str(tmp), dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["output"])
    os.replace(tmp, path)
    return path


def cmd_export(args) -> None:
    import torch

    torch.backends.mha.set_fastpath_enabled(False)
    torch.set_num_threads(1)
    ONNX_DIR.mkdir(parents=True, exist_ok=True)
    ok = 0
    for name, size in MODELS + REFERENCES:
        t = time.time()
        try:
            p = export_one(name, size, force=args.force)
            ok += 1
            print(f"ok   {name}@{size} -> {p.name} ({time.time() - t:.1f}s)", flush=True)
        except Exception as e:  # a study script: report and keep going
            print(f"FAIL {name}@{size}: {type(e).__name__}: {str(e).splitlines()[0][:200]}",
                  flush=True)
    print(f"{ok}/{len(MODELS)} exported to {ONNX_DIR}")


def available_models() -> list[tuple[str, int, Path]]:
    return [(n, s, onnx_path(n, s)) for n, s in MODELS if onnx_path(n, s).exists()]


def _steal(cpu: int = 1) -> int:
    """Steal ticks of one CPU from /proc/stat (time the hypervisor ran someone else)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                return int(line.split()[8])
    return 0


def cmd_study(args) -> None:
    """Trace: cycles over all models in random order; per model refA burst, model burst, refB burst.

    Every single run time is kept so that candidate protocols can be replayed offline.
    """
    import random

    from nnprof.measure import Timer

    models = available_models()
    refs = [(n, s, onnx_path(n, s)) for n, s in REFERENCES]
    timers = {f"{n}@{s}": Timer.load(p) for n, s, p in models + refs}
    refa, refb = (f"{n}@{s}" for n, s, _ in refs)
    for t in timers.values():
        t.burst(0.2, min_runs=2)
    out = ONNX_DIR / f"study-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"  # ~4 MB: not committed
    RESULTS.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    keys = [f"{n}@{s}" for n, s, _ in models]
    t0 = time.time()
    cycle = 0
    print(f"{len(keys)} models; writing {out}", flush=True)
    with open(out, "w") as f:
        while time.time() - t0 < args.minutes * 60:
            rng.shuffle(keys)
            for k in keys:
                for kind, name, dur in (("refA", refa, args.ref_burst), ("model", k, args.burst),
                                        ("refB", refb, args.ref_burst)):
                    st, ts = _steal(), time.time()
                    times = timers[name].burst(dur, min_runs=2)
                    rec = {"cycle": cycle, "t": round(ts - t0, 3), "kind": kind, "model": name,
                           "steal": _steal() - st, "times": [round(x, 4) for x in times]}
                    f.write(json.dumps(rec) + "\n")
            f.flush()
            cycle += 1
            print(f"cycle {cycle} done at {time.time() - t0:.0f}s", flush=True)


def load_trace(path: Path) -> tuple[dict, dict]:
    """Trace -> (model bursts, reference bursts): {model: {cycle: rec}}, {(ref, model, cycle): rec}."""
    bursts: dict[str, dict[int, dict]] = {}
    refs: dict[tuple[str, str, int], dict] = {}
    last_model = None
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "model":
                bursts.setdefault(r["model"], {})[r["cycle"]] = r
                last_model = r["model"]
                # refA precedes its model: re-key it now that the model is known
                a = refs.pop(("refA", None, r["cycle"]), None)
                if a is not None:
                    refs[("refA", last_model, r["cycle"])] = a
            elif r["kind"] == "refA":
                refs[("refA", None, r["cycle"])] = r
            else:
                refs[("refB", last_model, r["cycle"])] = r
    return bursts, refs


def truncate(times: list[float], seconds: float, min_runs: int, skip: int = 0) -> list[float]:
    """The runs a burst of `seconds` (at least `min_runs` runs) would have produced."""
    out, acc = [], 0.0
    for x in times[skip:]:
        if len(out) >= min_runs and acc >= seconds * 1e3:
            break
        out.append(x)
        acc += x
    return out or times[-1:]


def _runs_cost(times: list[float], seconds: float, min_runs: int, skip: int) -> float:
    return sum(times[:skip]) + sum(truncate(times, seconds, min_runs, skip))


def measure_window(bursts, refs, model, cycles, *, burst, ref_burst, min_runs=2, skip=1,
                   ref="refA"):
    """Replay one measurement of `model` made of the rounds in `cycles`.

    Returns candidate estimates (ms) and the timing cost (s), the cost counting the model
    bursts plus one reference burst per round.
    """
    mins, meds, ratios, rmins, cost, pooled = [], [], [], [], 0.0, []
    for c in cycles:
        t = bursts[model][c]["times"]
        x = truncate(t, burst, min_runs, skip)
        pooled += x
        cost += _runs_cost(t, burst, min_runs, skip)
        mins.append(min(x))
        meds.append(float(np.median(x)))
        if ref_burst > 0:
            rt = refs[(ref, model, c)]["times"]
            rx = truncate(rt, ref_burst, min_runs, 0)
            cost += _runs_cost(rt, ref_burst, min_runs, 0)
            rmins.append(min(rx))
            ratios.append(min(x) / min(rx))
    est = {"min": min(mins), "median": float(np.median(meds)),
           "median_of_min": float(np.median(mins)),
           "pooled_q10": float(np.percentile(pooled, 10)),
           "second_min": sorted(mins)[1] if len(mins) > 1 else mins[0]}
    if ratios:
        # window-level correction: min of the model over the min of the reference
        est["ratio_of_mins"] = min(mins) / min(rmins)
        est["ratio_median"] = float(np.median(ratios))
        est["ratio_min"] = min(ratios)
        est["ratio_lowmean"] = float(np.mean(sorted(ratios)[: max(1, len(ratios) // 2)]))
    return est, cost / 1e3, rmins


def cmd_analyse(args) -> None:
    """Replay candidate protocols on a trace: test-retest MAPE between disjoint windows."""
    bursts, refs = load_trace(Path(args.trace))
    models = sorted(bursts)
    ncyc = min(len(v) for v in bursts.values())
    half = ncyc // 2
    # A window is K rounds on consecutive cycles (~25 s apart, like a block of ~25 networks
    # timed round-robin at ~1 s each). Retest = the same window shifted by half the trace.
    rows = []
    for ref_name in ("refA", "refB"):
        for K in args.rounds:
            for b in args.bursts:
                for rb in args.ref_bursts:
                    errs: dict[str, list[float]] = {}
                    costs = []
                    for start in range(0, half - K + 1, max(1, K // 2)):
                        ca = list(range(start, start + K))
                        cb = [c + half for c in ca]
                        ests = {}
                        for tag, cyc in (("A", ca), ("B", cb)):
                            per = {}
                            rall = []
                            for m in models:
                                e, cost, rmins = measure_window(
                                    bursts, refs, m, cyc, burst=b, ref_burst=rb, ref=ref_name)
                                per[m] = e
                                rall += rmins
                                if tag == "A":
                                    costs.append(cost)
                            # reference fast mode = min over every reference burst in the window
                            ref_fast = min(rall) if rall else None
                            for m in models:
                                for k in [k for k in per[m] if k.startswith("ratio")]:
                                    per[m][k] *= ref_fast
                            ests[tag] = per
                        for m in models:
                            for k, va in ests["A"][m].items():
                                vb = ests["B"][m][k]
                                errs.setdefault(k, []).append(abs(vb - va) / va)
                    for k, e in errs.items():
                        if rb > 0 or not k.startswith("ratio"):
                            rows.append({"ref": ref_name, "rounds": K, "burst_s": b,
                                         "ref_burst_s": rb, "stat": k,
                                         "mape_pct": 100 * float(np.mean(e)),
                                         "p95_pct": 100 * float(np.percentile(e, 95)),
                                         "max_pct": 100 * float(np.max(e)),
                                         "cost_s": float(np.mean(costs))})
    rows.sort(key=lambda r: r["mape_pct"])
    print(f"{len(models)} models, {ncyc} cycles; test-retest between windows {half} cycles apart")
    print(f"{'ref':5} {'K':>2} {'burst':>5} {'refb':>5} {'stat':14} {'MAPE%':>6} {'p95%':>6} "
          f"{'max%':>6} {'cost s':>6}")
    seen = set()
    for r in rows:
        key = (r["rounds"], r["burst_s"], r["ref_burst_s"], r["stat"], r["ref"])
        if key in seen:
            continue
        seen.add(key)
        print(f"{r['ref']:5} {r['rounds']:2d} {r['burst_s']:5.2f} {r['ref_burst_s']:5.2f} "
              f"{r['stat']:14} {r['mape_pct']:6.2f} {r['p95_pct']:6.2f} {r['max_pct']:6.1f} "
              f"{r['cost_s']:6.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"trace": Path(args.trace).name, "models": len(models),
                                              "cycles": ncyc, "rows": rows}, indent=1))


def _round_min(times: list[float], burst: float, warmup_below_ms: float = 20.0) -> tuple[float, float]:
    """(minimum, cost ms) of one protocol round replayed on a recorded burst: the first run
    discarded for models faster than `warmup_below_ms`, then >= 1 run and >= `burst` s."""
    skip = 1 if times[0] < warmup_below_ms and len(times) > 1 else 0
    out, acc = [], 0.0
    for x in times[skip:]:
        if out and acc >= burst * 1e3:
            break
        out.append(x)
        acc += x
    return min(out), sum(times[:skip]) + acc


def cmd_replay(args) -> None:
    """Replay the minimum protocol (K rounds x burst b, optionally gated by the reference
    burst before each round) on a trace: test-retest MAPE between windows half a trace apart."""
    bursts, refs = load_trace(Path(args.trace))
    models = sorted(bursts)
    ncyc = min(len(v) for v in bursts.values())
    half = ncyc // 2
    probe = {k: min(v["times"][:3]) for k, v in refs.items() if k[0] == "refA"}
    rows = []
    for gate in args.gates:
        for K in args.rounds:
            if K > half:
                continue
            for b in args.bursts:
                errs, costs, turns = [], [], []
                for m in models:
                    est = []
                    for cyc in (range(0, half), range(half, 2 * half)):
                        fast = min(probe[("refA", mm, c)] for mm in models for c in cyc)
                        quiet = [c for c in cyc
                                 if gate == 0 or probe[("refA", m, c)] <= (1 + gate) * fast]
                        # gated: the first K quiet turns (then forced rounds if too few)
                        spaced = list(cyc)[:: args.step]
                        use = ((quiet + [c for c in cyc if c not in quiet])[:K] if gate
                               else spaced[:K])
                        vals = [_round_min(bursts[m][c]["times"], b) for c in use]
                        est.append(min(v for v, _ in vals))
                        costs.append(sum(c for _, c in vals) / 1e3)
                        turns.append(max(use) - cyc[0] + 1)
                    errs.append(abs(est[1] - est[0]) / est[0])
                e = np.array(errs)
                rows.append({"gate": gate, "rounds": K, "burst_s": b,
                             "mape_pct": round(100 * e.mean(), 3),
                             "p95_pct": round(100 * float(np.percentile(e, 95)), 3),
                             "max_pct": round(100 * e.max(), 3),
                             "cost_s": round(float(np.mean(costs)), 3),
                             "turns": round(float(np.mean(turns)), 1)})
                r = rows[-1]
                print(f"gate {gate:4.2f} K={K:2d} b={b:.2f}: MAPE {r['mape_pct']:5.2f}% "
                      f"p95 {r['p95_pct']:5.2f}% max {r['max_pct']:5.1f}% cost {r['cost_s']:.2f}s "
                      f"turns {r['turns']:.1f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"trace": Path(args.trace).name,
                                              "models": len(models), "cycles": ncyc,
                                              "rows": rows}, indent=1))


def cmd_autocorr(args) -> None:
    """Run two models back to back for `seconds` each (core 1) and print how long the
    machine's slow and fast stretches last: autocorrelation of 0.2 s window minima."""
    from nnprof.measure import Timer

    out = {}
    for name in args.models:
        t = Timer(ONNX_DIR / f"{name}.onnx")
        t.warmup(0.5)
        ts, xs = [], []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            ts.append(time.perf_counter() - t0)
            xs.append(t.run_once())
        ts_a, xs_a = np.array(ts), np.array(xs)
        res = {"runs": len(xs), "fastest_ms": float(xs_a.min())}
        for w in (0.05, 0.2):
            idx = (ts_a // w).astype(int)
            mins = np.array([xs_a[idx == i].min() for i in np.unique(idx)]) / xs_a.min()
            lf = np.log(mins)
            lags = [1, 2, 5, 10, 25]
            res[f"window_{w}s"] = {
                "median_factor": round(float(np.median(mins)), 3),
                "share_within_3pct": round(float(np.mean(mins < 1.03)), 3),
                "autocorr": {f"{lag * w:g}s": round(float(np.corrcoef(lf[:-lag], lf[lag:])[0, 1]), 3)
                             for lag in lags},
            }
        out[name] = res
        print(name, json.dumps(res), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


def cmd_sched(args) -> None:
    """Is the noise preemption on our core? Alternate SCHED_OTHER / SCHED_FIFO every 0.3 s
    (three models, 0.1 s bursts) and compare the burst minima of the two modes. Needs root."""
    from nnprof.measure import Timer

    names = args.models
    timers = {n: Timer(ONNX_DIR / f"{n}.onnx") for n in names}
    for t in timers.values():
        t.warmup(0.3)
    res: dict[str, dict[str, list[float]]] = {m: {n: [] for n in names} for m in ("other", "fifo")}
    t0 = time.time()
    i = 0
    try:
        while time.time() - t0 < args.seconds:
            mode = "fifo" if i % 2 else "other"
            if mode == "fifo":
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            else:
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            for n, t in timers.items():
                xs, end = [], time.perf_counter() + 0.1
                while time.perf_counter() < end:
                    xs.append(t.run_once())
                res[mode][n].append(min(xs))
            i += 1
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    out = {}
    for n in names:
        fast = min(min(res[m][n]) for m in res)
        for m in res:
            f = np.array(res[m][n]) / fast
            out[f"{n}/{m}"] = {"bursts": len(f), "median_factor": round(float(np.median(f)), 3),
                               "p90_factor": round(float(np.percentile(f, 90)), 3),
                               "share_within_3pct": round(float(np.mean(f < 1.03)), 3)}
            print(n, m, out[f"{n}/{m}"], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


def cmd_describe(args) -> None:
    """Describe the noise in a trace: per model the slowdown of burst minima, their
    correlation with the adjacent reference bursts, the first-run penalty, and how well a
    quiet reference burst predicts a fast model burst (the idea behind gating)."""
    bursts, refs = load_trace(Path(args.trace))
    models = sorted(bursts, key=lambda m: min(min(r["times"]) for r in bursts[m].values()))
    rmin = {k: min(v["times"]) for k, v in refs.items()}
    fast_ref = {r: min(v for k, v in rmin.items() if k[0] == r) for r in ("refA", "refB")}
    per, pooled = {}, {"refA": ([], []), "refB": ([], [])}
    for m in models:
        cyc = sorted(bursts[m])
        mins = np.array([min(bursts[m][c]["times"][1:] or bursts[m][c]["times"]) for c in cyc])
        f = mins / mins.min()
        d = {"fastest_ms": round(float(mins.min()), 4),
             "median_factor": round(float(np.median(f)), 3),
             "p90_factor": round(float(np.percentile(f, 90)), 3),
             "share_within_3pct": round(float(np.mean(f < 1.03)), 3)}
        for r in ("refA", "refB"):
            g = np.array([rmin[(r, m, c)] for c in cyc]) / fast_ref[r]
            d[f"corr_{r}"] = round(float(np.corrcoef(np.log(f), np.log(g))[0, 1]), 3)
            pooled[r][0].extend(np.log(f))
            pooled[r][1].extend(np.log(g))
        first = [b["times"][0] / min(b["times"][1:]) for b in bursts[m].values() if len(b["times"]) > 2]
        d["first_run_factor"] = round(float(np.median(first)), 3) if first else None
        per[m] = d
    out: dict = {"models": per, "pooled_corr": {
        r: round(float(np.corrcoef(*pooled[r])[0, 1]), 3) for r in pooled}}
    # gating: P(model burst within 3% of its fastest | the reference burst before it is quiet)
    probe = {k: min(v["times"][:3]) for k, v in refs.items() if k[0] == "refA"}
    fastp = min(probe.values())
    gates = {}
    for g in (0.05, 0.10, 0.20, 0.30):
        pq, pn, nq, nt = [], [], 0, 0
        for m in models:
            cyc = sorted(bursts[m])
            mins = np.array([min(bursts[m][c]["times"][1:] or bursts[m][c]["times"]) for c in cyc])
            good = mins <= mins.min() * 1.03
            q = np.array([probe[("refA", m, c)] <= (1 + g) * fastp for c in cyc])
            if q.any():
                pq.append(good[q].mean())
            if (~q).any():
                pn.append(good[~q].mean())
            nq += int(q.sum())
            nt += len(q)
        gates[str(g)] = {"quiet_share": round(nq / nt, 3),
                         "p_fast_if_quiet": round(float(np.mean(pq)), 3) if pq else None,
                         "p_fast_otherwise": round(float(np.mean(pn)), 3)}
    out["gating_refA_probe"] = gates
    print(f"{'model':40} {'fast ms':>8} {'med f':>6} {'p90 f':>6} {'<3%':>5} {'corrA':>6} "
          f"{'corrB':>6} {'1st run':>7}")
    for m, d in per.items():
        print(f"{m:40} {d['fastest_ms']:8.3f} {d['median_factor']:6.3f} {d['p90_factor']:6.3f} "
              f"{d['share_within_3pct']:5.2f} {d['corr_refA']:6.2f} {d['corr_refB']:6.2f} "
              f"{d['first_run_factor'] or float('nan'):7.3f}")
    print("pooled correlation:", out["pooled_corr"])
    print("gating:", json.dumps(gates))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


def cmd_alone(args) -> None:
    """Four models measured alone (measure_onnx) vs together in one block (measure_many),
    10 rounds, repeated: does measuring a lone model differ from measuring in a block?"""
    from nnprof.measure import Protocol, measure_many, measure_onnx

    p = Protocol(rounds=10)
    paths = [ONNX_DIR / f"{n}.onnx" for n in args.models]
    for rep in range(args.repeats):
        blk = measure_many(paths, protocol=p)
        alone = [measure_onnx(x, protocol=p) for x in paths]
        for n, b, a in zip(args.models, blk, alone, strict=True):
            print(f"{rep} {n:24} block {b.latency_ms:8.3f}  alone {a.latency_ms:8.3f}  "
                  f"alone/block {a.latency_ms / b.latency_ms:.3f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--force", action="store_true")
    e.set_defaults(fn=cmd_export)
    st = sub.add_parser("study")
    st.add_argument("--minutes", type=float, default=20)
    st.add_argument("--burst", type=float, default=0.25, help="model burst per cycle (s)")
    st.add_argument("--ref-burst", type=float, default=0.06, help="reference burst (s)")
    st.add_argument("--seed", type=int, default=0)
    st.set_defaults(fn=cmd_study)
    an = sub.add_parser("analyse")
    an.add_argument("trace")
    an.add_argument("--rounds", type=int, nargs="+", default=[1, 3, 5, 7])
    an.add_argument("--bursts", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.25])
    an.add_argument("--ref-bursts", type=float, nargs="+", default=[0.0, 0.02, 0.06])
    an.add_argument("-o", "--out")
    an.set_defaults(fn=cmd_analyse)
    rp = sub.add_parser("replay")
    rp.add_argument("trace")
    rp.add_argument("--rounds", type=int, nargs="+", default=[5, 10, 14, 20, 24])
    rp.add_argument("--bursts", type=float, nargs="+", default=[0.01, 0.02, 0.03, 0.05, 0.1])
    rp.add_argument("--gates", type=float, nargs="+", default=[0.0, 0.1, 0.2])
    rp.add_argument("--step", type=int, default=1,
                    help="ungated: use every STEP-th cycle (rounds ~23 s x STEP apart)")
    rp.add_argument("-o", "--out")
    rp.set_defaults(fn=cmd_replay)
    de = sub.add_parser("describe")
    de.add_argument("trace")
    de.add_argument("-o", "--out")
    de.set_defaults(fn=cmd_describe)
    ac = sub.add_parser("autocorr")
    ac.add_argument("--models", nargs="+", default=["tv_mobilenet_v2_224", "timm_test_vit_96"])
    ac.add_argument("--seconds", type=float, default=60)
    ac.add_argument("-o", "--out")
    ac.set_defaults(fn=cmd_autocorr)
    sc = sub.add_parser("sched")
    sc.add_argument("--models", nargs="+",
                    default=["timm_test_vit_96", "timm_tinynet_e_106", "tv_mobilenet_v2_224"])
    sc.add_argument("--seconds", type=float, default=120)
    sc.add_argument("-o", "--out")
    sc.set_defaults(fn=cmd_sched)
    al = sub.add_parser("alone")
    al.add_argument("--models", nargs="+", default=["timm_test_vit_96", "tv_mobilenet_v2_224",
                                                     "tv_resnet18_224", "timm_tinynet_e_106"])
    al.add_argument("--repeats", type=int, default=2)
    al.set_defaults(fn=cmd_alone)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
