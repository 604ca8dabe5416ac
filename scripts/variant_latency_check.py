"""Rough latency and export-time check of the variant generator, family by family.

For each family, a few generated variants are exported to ONNX (opset 17, TorchScript
exporter), simplified with onnxsim and timed with ONNX Runtime (CPU, 1 thread, fp32).
Prints one row per family: latency min / median / max over the sampled variants, MACs,
and export + simplify seconds. Meant for tuning ``nnprof.variants.BUDGETS``, not as a
measurement protocol.

Latency here is the minimum over the runs of the *thread CPU time* of ``session.run``
(and, for reference, of wall time). With one intra-op thread ONNX Runtime computes in the
calling thread, so CPU time leaves out the time the thread spent descheduled; this
matters when the core is shared (the min wall time is then inflated by other processes).

Run pinned to one core, e.g.::

    taskset -c 0 python scripts/variant_latency_check.py --per-family 8
    taskset -c 0 python scripts/variant_latency_check.py --families vit swin --per-family 4 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import warnings


def export_simplified(model, shape):
    """nn.Module -> simplified onnx.ModelProto, as the zoo collection does it."""
    import onnx
    import onnxsim
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(shape), buf, dynamo=False, opset_version=17)
    proto = onnx.load_from_string(buf.getvalue())
    simplified, ok = onnxsim.simplify(proto)
    if not ok:
        raise RuntimeError("onnxsim could not validate the simplified model")
    return simplified


def time_onnx(proto, shape, min_runs: int, min_seconds: float) -> dict[str, float]:
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    sess.run(None, feed)  # warm-up
    walls, cpus = [], []
    start = time.perf_counter()
    while len(walls) < min_runs or time.perf_counter() - start < min_seconds:
        w0, c0 = time.perf_counter(), time.thread_time()
        sess.run(None, feed)
        cpus.append(time.thread_time() - c0)
        walls.append(time.perf_counter() - w0)
        if len(walls) >= 200:
            break
    return {"cpu_ms": min(cpus) * 1e3, "wall_ms": min(walls) * 1e3, "runs": len(walls)}


def main(argv: list[str] | None = None) -> int:
    from nnprof.variants import FAMILIES, estimate_cost, generate

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", nargs="*", default=FAMILIES)
    ap.add_argument("--per-family", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first variant index")
    ap.add_argument("--stride", type=int, default=37, help="index step between sampled variants")
    ap.add_argument("--min-runs", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--json", help="also write every row to this JSON file")
    args = ap.parse_args(argv)

    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        print("warning: not pinned to one core; run under `taskset -c 0`", file=sys.stderr)

    import torch

    torch.set_num_threads(1)
    rows = []
    for fam in args.families:
        for k in range(args.per_family):
            idx = args.start + k * args.stride
            v = generate(fam, idx, args.seed)
            macs = estimate_cost(fam, v.params, v.batch_size)["macs"]
            t0, c0 = time.perf_counter(), time.process_time()
            proto = export_simplified(v.build(), v.input_shape)
            export_s, export_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            t = time_onnx(proto, v.input_shape, args.min_runs, args.min_seconds)
            row = {"id": v.id, "family": fam, "batch": v.batch_size, "input": v.input_size,
                   "gmacs": macs / 1e9, "export_s": export_s, "export_cpu_s": export_cpu_s, "onnx_mb": proto.ByteSize() / 1e6, **t}  # fmt: skip
            rows.append(row)
            print(f"{v.id:22s} b{v.batch_size} {v.input_size:3d}px {row['gmacs']:7.3f} GMAC  "
                  f"cpu {t['cpu_ms']:8.2f} ms  wall {t['wall_ms']:8.2f} ms  export {export_s:5.1f} s (cpu {export_cpu_s:4.1f} s)  "
                  f"{row['onnx_mb']:6.1f} MB", file=sys.stderr, flush=True)  # fmt: skip

    print(f"{'family':13s} {'n':>3s} {'lat min':>8s} {'median':>8s} {'max':>8s} "
          f"{'GMAC med':>8s} {'export med':>10s} {'export max':>10s} {'cpu med':>8s}")  # fmt: skip
    for fam in args.families:
        r = [x for x in rows if x["family"] == fam]
        lat = [x["cpu_ms"] for x in r]
        exp = [x["export_s"] for x in r]
        exp_cpu = [x["export_cpu_s"] for x in r]
        print(f"{fam:13s} {len(r):3d} {min(lat):8.2f} {statistics.median(lat):8.2f} {max(lat):8.2f} "
              f"{statistics.median(x['gmacs'] for x in r):8.3f} {statistics.median(exp):10.1f} {max(exp):10.1f} {statistics.median(exp_cpu):8.1f}")  # fmt: skip
    lat = [x["cpu_ms"] for x in rows]
    print(f"{'all':13s} {len(rows):3d} {min(lat):8.2f} {statistics.median(lat):8.2f} {max(lat):8.2f}")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
