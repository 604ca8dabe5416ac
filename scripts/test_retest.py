"""Test-retest error of nnprof's timing protocol (issue 4; results in docs/timing.md).

The same real networks (scripts/timing_study.py's MODELS, exported to /tmp/nnprof-timing by
`python scripts/timing_study.py export`) are measured with the default protocol of
nnprof.measure, as one block, in two runs at least an hour apart:

    taskset -c 1 python scripts/test_retest.py run --run A
    # >= 60 minutes later
    taskset -c 1 python scripts/test_retest.py run --run B
    python scripts/test_retest.py compare A B

Each run writes scripts/results/retest-<run>.csv (the `nnprof measure` CSV format) and
retest-<run>.json (timing, what else used core 1 meanwhile); `compare` writes
scripts/results/retest-<A>-<B>.json with the MAPE, the max error and the reference drift.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from retest_csv import ape_stats  # noqa: E402
from timing_study import RESULTS, available_models  # noqa: E402

from nnprof.measure import (  # noqa: E402
    DEFAULT_PROTOCOL,
    MeasurementLog,
    csv_row,
    measure_many,
    platform_fingerprint,
)


def _cpu_jiffies(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                return sum(v) - idle, sum(v)
    return 0, 0


def _others_on(cpu: int) -> list[str]:
    """Other processes allowed on `cpu` that have used CPU time (timing jobs, strays)."""
    me = os.getpid()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            if cpu not in os.sched_getaffinity(int(pid)):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            if not cmd:
                continue  # kernel threads
            if len(os.sched_getaffinity(int(pid))) == 1:
                found.append(cmd[:120])
        except (OSError, ProcessLookupError):
            continue
    return found


def _timing_jobs() -> list[str]:
    """Other processes that look like latency timing (nnprof measure / collect, our scripts)."""
    me = os.getpid()
    jobs = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if any(w in cmd for w in ("nnprof measure", "nnprof collect", "collect measure",
                                  "test_retest.py run", "timing_study.py study")):
            jobs.append(f"{pid}: {cmd[:120]}")
    return jobs


def cmd_run(args) -> None:
    models = available_models()
    if len(models) < 50:
        sys.exit(f"only {len(models)} models exported: run `python scripts/timing_study.py export`")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"retest-{args.run}.csv"
    if out.exists():
        sys.exit(f"{out} exists: choose another --run name")
    cpu = sorted(os.sched_getaffinity(0))[0]
    fp = platform_fingerprint(threads=1, provider="cpu")
    over = {k: v for k, v in (("rounds", args.rounds), ("burst_s", args.burst), ("gate", args.gate))
            if v is not None}
    protocol = replace(DEFAULT_PROTOCOL, **over)
    t0 = time.time()
    busy0, tot0 = _cpu_jiffies(cpu)
    r0 = os.times()
    others = _others_on(cpu)
    jobs_before = _timing_jobs()

    def progress(done: int, total: int) -> None:
        if done % len(models) == 0:
            print(f"round {done // len(models)}/{protocol.rounds} "
                  f"at {time.time() - t0:.0f}s", flush=True)

    res = measure_many([p for _, _, p in models], protocol=protocol, progress=progress)
    busy1, tot1 = _cpu_jiffies(cpu)
    r1 = os.times()
    wall = time.time() - t0
    hz = os.sysconf("SC_CLK_TCK")
    mine = (r1.user + r1.system) - (r0.user + r0.system)
    log = MeasurementLog.open(out)
    for (name, size, _), m in zip(models, res, strict=True):
        log.append(csv_row(name, size, 1, m, fp))
    meta = {
        "run": args.run,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t0)),
        "started_epoch": t0,
        "wall_s": round(wall, 1),
        "timing_s": round(sum(m.timing_s for m in res), 1),
        "timing_s_per_model": round(float(np.mean([m.timing_s for m in res])), 3),
        "ref_ms": res[0].ref_ms,
        "protocol": protocol.__dict__ | {"name": protocol.name},
        "wall_s_per_model": round(wall / len(models), 3),
        "cpu": cpu,
        # core-time on our CPU not spent by this process: other work sharing the core
        "others_cpu_s": round((busy1 - busy0) / hz - mine, 1),
        "others_pinned_to_cpu": others,
        "timing_jobs": sorted(set(jobs_before) | set(_timing_jobs())),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "fingerprint": fp,
    }
    (RESULTS / f"retest-{args.run}.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps({k: meta[k] for k in ("run", "wall_s", "timing_s_per_model", "ref_ms",
                                           "others_cpu_s", "others_pinned_to_cpu",
                                           "timing_jobs")}, indent=1))


def _read(run: str) -> tuple[dict[tuple[str, str], dict], dict]:
    """One run, or 'A,U3': the minimum over several runs (as nnprof.measure.merge would)."""
    if "," in run:
        parts = [_read(r) for r in run.split(",")]
        keys = set.intersection(*(set(rows) for rows, _ in parts))
        rows = {k: min((p[0][k] for p in parts), key=lambda r: float(r["latency_ms"])) for k in keys}
        metas = [m for _, m in parts]
        meta = {**metas[0], "ref_ms": min(m["ref_ms"] for m in metas),
                "started_epoch": min(m["started_epoch"] for m in metas),
                "timing_s_per_model": sum(m["timing_s_per_model"] for m in metas),
                "wall_s_per_model": sum(m.get("wall_s_per_model") or 0 for m in metas),
                "others_cpu_s": [m["others_cpu_s"] for m in metas],
                "others_pinned_to_cpu": [m["others_pinned_to_cpu"] for m in metas],
                "timing_jobs": [m.get("timing_jobs") for m in metas]}
        return rows, meta
    with open(RESULTS / f"retest-{run}.csv") as f:
        rows = {(r["model"], r["input_size"]): r for r in csv.DictReader(f)}
    return rows, json.loads((RESULTS / f"retest-{run}.json").read_text())


def cmd_compare(args) -> None:
    a, ma = _read(args.a)
    b, mb = _read(args.b)
    common = sorted(set(a) & set(b))
    la = np.array([float(a[k]["latency_ms"]) for k in common])
    lb = np.array([float(b[k]["latency_ms"]) for k in common])
    err = dict(zip(common, np.abs(lb - la) / la, strict=True))
    # the same, after rescaling run B by the reference drift (latency = ratio x ref of run A)
    drift = float(mb["ref_ms"]) / float(ma["ref_ms"])
    worst = sorted(err, key=err.get, reverse=True)[:5]
    gap_min = (mb["started_epoch"] - ma["started_epoch"]) / 60
    summary = {
        "a": args.a, "b": args.b, "models": len(common),
        "minutes_apart": round(gap_min, 1),
        **ape_stats(la, lb, digits=3),
        "ref_ms_a": ma["ref_ms"], "ref_ms_b": mb["ref_ms"],
        "ref_drift_pct": round(100 * (drift - 1), 3),
        "mape_ref_normalised_pct": ape_stats(la, lb / drift, digits=3)["mape_pct"],
        "worst": [{"model": f"{k[0]}@{k[1]}", "a_ms": float(a[k]["latency_ms"]),
                   "b_ms": float(b[k]["latency_ms"]), "ape_pct": round(100 * err[k], 2)}
                  for k in worst],
        "latency_range_ms": [float(la.min()), float(la.max())],
        "timing_s_per_model": [ma["timing_s_per_model"], mb["timing_s_per_model"]],
        "wall_s_per_model": [ma.get("wall_s_per_model"), mb.get("wall_s_per_model")],
        "protocol": [ma["protocol"]["name"], mb["protocol"]["name"]],
        "others_cpu_s": [ma["others_cpu_s"], mb["others_cpu_s"]],
        "others_pinned_to_cpu": [ma["others_pinned_to_cpu"], mb["others_pinned_to_cpu"]],
        "timing_jobs": [ma.get("timing_jobs"), mb.get("timing_jobs")],
    }
    out = RESULTS / f"retest-{args.a.replace(',', '+')}-{args.b.replace(',', '+')}.json"
    out.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


def cmd_summary(args) -> None:
    """Several runs: how much slower each run was than the best of all runs (median over
    models), and the test-retest MAPE of the minimum over n runs vs n other runs."""
    import itertools

    runs = args.runs
    lat = {r: {(x["model"], x["input_size"]): float(x["latency_ms"])
               for x in csv.DictReader(open(RESULTS / f"retest-{r}.csv"))} for r in runs}
    meta = {r: json.loads((RESULTS / f"retest-{r}.json").read_text()) for r in runs}
    keys = sorted(set.intersection(*(set(v) for v in lat.values())))
    best = {k: min(lat[r][k] for r in runs) for k in keys}
    per_run = []
    for r in sorted(runs, key=lambda r: meta[r]["started_epoch"]):
        f = np.array([lat[r][k] / best[k] for k in keys])
        per_run.append({"run": r, "started": meta[r]["started"], "protocol": meta[r]["protocol"]["name"],
                        "median_excess_pct": round(100 * (float(np.median(f)) - 1), 2),
                        "ref_ms": round(meta[r]["ref_ms"], 4)})
        print(per_run[-1])
    order = sorted(runs, key=lambda r: meta[r]["started_epoch"])
    pooled = {}
    for n in range(1, len(runs) // 2 + 1):
        vals = []
        for sub in itertools.combinations(order, 2 * n):
            a = np.array([min(lat[r][k] for r in sub[0::2]) for k in keys])
            b = np.array([min(lat[r][k] for r in sub[1::2]) for k in keys])
            vals.append(float(np.mean(np.abs(b - a) / a)))
        pooled[n] = {"splits": len(vals), "mean_mape_pct": round(100 * float(np.mean(vals)), 3)}
        print(f"min of {n} run(s) vs min of {n} other run(s): mean MAPE "
              f"{pooled[n]['mean_mape_pct']:.2f}% over {len(vals)} splits")
    if args.out:
        Path(args.out).write_text(json.dumps({"runs": per_run, "min_of_n": pooled}, indent=1))


def cmd_monitor(args) -> None:
    """Drift of the reference network: every `every` seconds, measure it alone (10 rounds,
    ~0.5 s) and append {time, ref_ms, median_round_ms} to scripts/results/ref-monitor.jsonl."""
    from nnprof.measure import Protocol, measure_onnx, reference_model

    # no round period: the rounds run back to back (a sleeping core comes back slower)
    proto = Protocol(rounds=10, round_period_s=0.0, reference=False)
    out = RESULTS / "ref-monitor.jsonl"
    end = time.time() + args.minutes * 60
    while time.time() < end:
        t = time.time()
        m = measure_onnx(reference_model(), protocol=proto)
        with open(out, "a") as f:
            f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "epoch": round(t, 1),
                                "ref_ms": round(m.latency_ms, 5),
                                "median_round_ms": round(m.median_round_ms, 5)}) + "\n")
        time.sleep(max(0.0, args.every - (time.time() - t)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="measure every exported model once (run on core 1)")
    r.add_argument("--run", required=True, help="name of this run, e.g. A or B")
    r.add_argument("--rounds", type=int, help="override the protocol (study only)")
    r.add_argument("--burst", type=float, help="override the protocol (study only)")
    r.add_argument("--gate", type=float, help="override the protocol (study only)")
    r.set_defaults(fn=cmd_run)
    c = sub.add_parser("compare", help="test-retest error between two runs")
    c.add_argument("a")
    c.add_argument("b")
    c.set_defaults(fn=cmd_compare)
    sm = sub.add_parser("summary", help="run-level drift and min-of-n-runs retest error")
    sm.add_argument("runs", nargs="+")
    sm.add_argument("-o", "--out")
    sm.set_defaults(fn=cmd_summary)
    mo = sub.add_parser("monitor", help="log the reference network's time periodically (core 1)")
    mo.add_argument("--minutes", type=float, default=100)
    mo.add_argument("--every", type=float, default=60)
    mo.set_defaults(fn=cmd_monitor)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
