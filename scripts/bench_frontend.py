"""Time the front end on real models: convert (cold and cached) and features.

    taskset -c 0 python scripts/bench_frontend.py [--models resnet50 vit_b_16 ...]
    taskset -c 0 python scripts/bench_frontend.py --compare-exporters [--models ...]

Default mode, per model, in one process with a fresh cache directory:
  cold     export.convert with an empty cache (build + export + onnxsim + shape inference
           + cache write; the stages are broken down in the next columns),
  cached   export.convert again (a cache hit: checksum + load),
  cli      `nnprof convert MODEL` as a new process on the warm cache (what a user waits
           for, interpreter start and imports included),
  features graph.from_onnx + encode.encode on the converted model.
--compare-exporters times the TorchScript and dynamo exporters (export + onnx.checker,
then onnxsim) on each model: the evidence behind export.EXPORTERS.
Prints a table; numbers depend on the machine and its load (pin to a core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = [
    "resnet50",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "vit_b_16",
    "convnext_tiny",
    "swin_t",
]


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(_row(head, widths))
    for r in rows:
        print(_row(r, widths), flush=True)


def bench(models: list[str]) -> None:
    from nnprof import encode, export, graph

    head = ["model", "nodes", "cold s", "build", "export", "simplify", "infer", "write",
            "cached s", "cli s", "features s", "GMACs"]  # fmt: skip
    rows = []
    for name in models:
        t = time.perf_counter()
        cold = export.convert(name)
        t_cold = time.perf_counter() - t
        t = time.perf_counter()
        hit = export.convert(name)
        t_hit = time.perf_counter() - t
        assert hit.cached, name
        t = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("nnprof")), "convert", name],
            check=True,
            capture_output=True,
        )
        t_cli = time.perf_counter() - t
        t = time.perf_counter()
        raw = graph.from_onnx(hit.model, name)
        encode.encode(raw)
        t_feat = time.perf_counter() - t
        tm = cold.timings
        rows.append(
            [name, f"{cold.nodes_before}->{cold.nodes_after}", f"{t_cold:.2f}",
             *(f"{tm.get(k, float('nan')):.2f}" for k in ("build", "export", "simplify", "infer", "write")),
             f"{t_hit:.3f}", f"{t_cli:.2f}", f"{t_feat:.3f}", f"{raw.macs / 1e9:.3f}"]
        )  # fmt: skip
        print(f"# {name} done", file=sys.stderr, flush=True)
    _table(head, rows)


def compare_exporters(models: list[str]) -> None:
    import onnx

    from nnprof import export, zoo

    head = ["model", "exporter", "ok", "export s", "simplify s", "nodes", "error"]
    rows = []
    for name in models:
        ref = zoo.resolve(name)
        size = zoo.default_input_size(ref) or 224
        module = zoo.build(ref, size)
        for ex in export.EXPORTERS:
            t = time.perf_counter()
            try:
                m = export.export_module(module, size, 1, ex)
                onnx.checker.check_model(m)
                t_ex = time.perf_counter() - t
                t = time.perf_counter()
                s, ok, _why = export.simplify(m)
                t_s = time.perf_counter() - t
                rows.append([name, ex, "yes", f"{t_ex:.1f}", f"{t_s:.1f}",
                             f"{len(m.graph.node)}->{len(s.graph.node)}", "" if ok else "not simplified"])  # fmt: skip
            except Exception as e:  # record and go on
                msg = str(e).strip().splitlines()[0][:80] if str(e).strip() else ""
                rows.append([name, ex, "no", f"{time.perf_counter() - t:.1f}", "-", "-",
                             f"{type(e).__name__}: {msg}"])  # fmt: skip
            print(f"# {name} {ex} done", file=sys.stderr, flush=True)
    _table(head, rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", nargs="+", default=DEFAULT)
    ap.add_argument("--compare-exporters", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnprof-bench-") as d:
        os.environ["NNPROF_CACHE_DIR"] = d  # cold means cold; the subprocess inherits it
        from nnprof import export

        print(f"# opset {export.OPSET}, exporters {export.EXPORTERS}, cache {d}", file=sys.stderr)
        if args.compare_exporters:
            compare_exporters(args.models)
        else:
            bench(args.models)


if __name__ == "__main__":
    main()
