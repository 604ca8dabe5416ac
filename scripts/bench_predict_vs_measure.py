"""What a latency costs: `nnprof predict` (cold and cached) vs `nnprof measure`, same models.

    taskset -c 0 python scripts/bench_predict_vs_measure.py --family mobilenet --source tv
        [--batch-size 1] [--input-size S] [--checkpoint ckpt.pt] [--rounds 20]

For every model of one zoo family, each step runs as a new process (what a user waits
for: interpreter start and imports included), in a fresh cache directory:

  predict cold    `nnprof predict MODELS` with empty ONNX and features caches (build,
                  export, onnxsim, shape inference, parsing, encoding, prediction),
  predict cached  the same command again (features-cache hits: nothing converted),
  measure         `nnprof measure MODELS` with the ONNX cache warm (so measuring pays
                  for timing only, never for conversion: the cheapest measure can be).

Then, in this process, the marginal cost of prediction: the predictor loaded once, the
features of all models read from the cache and predicted in one batch (what `nnprof zoo`
and `predict` do per extra model). The ratio measure / predict is the target's figure
(issue 5: predict >= 20x cheaper). Without --checkpoint the bundled checkpoint is used;
if it does not exist yet, a stand-in with the default architecture (hidden 512) is
trained for one epoch on synthetic data (prediction cost does not depend on the weights).
Numbers depend on the machine and its load; pin to one core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(argv)}\n{r.stderr.strip()}")
    return dt


def _standin_checkpoint(path: Path) -> Path:
    from nnprof import train as T
    from nnprof.data import synthetic

    samples = synthetic(8, seed=0)
    res = T.train_model("narformer2", T.prepare(samples), None, T.TrainConfig(epochs=1, device="cpu"))
    T.save_checkpoint(T.make_checkpoint(res, samples), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="mobilenet")
    ap.add_argument("--source", default="tv", choices=["tv", "timm", "all"])
    ap.add_argument("--batch-size", default="1")
    ap.add_argument("--input-size", type=int, default=None)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=20, help="measure's timing rounds (protocol default 20)")
    args = ap.parse_args()

    from nnprof import predict as P
    from nnprof import zoo

    models = zoo.family_models(args.family, args.source)
    if not models:
        sys.exit(f"family {args.family} has no {args.source} models")
    script = Path(sys.executable).with_name("nnprof")  # the console script of this environment
    nnprof = [str(script)] if script.is_file() else [sys.executable, "-c", "from nnprof.cli import run; run()"]
    work = Path(tempfile.mkdtemp(prefix="nnprof-bench-"))
    ckpt = args.checkpoint
    note = ""
    if ckpt is None:
        if P.DEFAULT_CHECKPOINT.is_file():
            ckpt = P.DEFAULT_CHECKPOINT
        else:
            ckpt = _standin_checkpoint(work / "standin.pt")
            note = " (stand-in: the bundled checkpoint does not exist yet; default architecture, synthetic weights)"
    env = dict(os.environ, NNPROF_CACHE_DIR=str(work / "cache"), COLUMNS="200")
    size = ["--input-size", str(args.input_size)] if args.input_size else []
    common = [*models, "--batch-size", args.batch_size, *size]
    try:
        # the zoo index (names and default sizes) is built once per cache dir, by any command:
        # keep it out of every timing
        _run([*nnprof, "list", "mobilenet_v2"], env)
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"family {args.family} ({args.source}): {len(models)} model(s): {', '.join(models)}")
        print(f"batch {args.batch_size}, input {args.input_size or 'default'}; checkpoint {ckpt}{note}")
        print(f"cpus available to this process: {affinity}; load average {os.getloadavg()[0]:.2f} "
              "(the machine is shared: absolute times are inflated)", flush=True)

        cold = _run([*nnprof, "predict", *common, "--checkpoint", str(ckpt), "--device", "cpu"], env)
        cached = _run([*nnprof, "predict", *common, "--checkpoint", str(ckpt), "--device", "cpu"], env)
        measure = _run([*nnprof, "measure", *common, "--rounds", str(args.rounds)], env)
        print(f"wall s: predict cold {cold:.2f}, predict cached {cached:.2f}, measure {measure:.2f}", flush=True)

        # in-process marginal cost: predictor loaded, features cached
        os.environ["NNPROF_CACHE_DIR"] = env["NNPROF_CACHE_DIR"]
        import nnprof.cli  # noqa: F401  (registers the commands; commands/measure imports it)
        from nnprof.commands.measure import parse_batch_sizes

        t = time.perf_counter()
        pred = P.load_predictor(ckpt, "cpu")
        t_load = time.perf_counter() - t
        refs = [zoo.resolve(m) for m in models]
        batches = parse_batch_sizes(args.batch_size)
        t = time.perf_counter()
        feats = P.features_for(refs, batches, args.input_size)
        t_feats = time.perf_counter() - t
        t = time.perf_counter()
        pred.predict(feats)
        t_pred = time.perf_counter() - t
        assert all(f.cached for f in feats)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(models) * len(batches)
    inproc = t_feats + t_pred
    rows = [
        ("predict, cold (export + parse + encode + predict)", cold),
        ("predict, cached (features cache hits)", cached),
        (f"measure ({args.rounds} rounds, ONNX already converted)", measure),
        ("in-process: features from cache + one batched prediction", inproc),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"\n{'step':<{w}}  {'wall s':>8}  {'s / graph':>9}  {'measure / this':>14}")
    for name, s in rows:
        print(f"{name:<{w}}  {s:8.2f}  {s / n:9.3f}  {measure / s:14.1f}x")
    print(f"(in-process: checkpoint load {t_load:.2f} s once; features {t_feats:.3f} s, prediction {t_pred:.3f} s "
          f"for {n} graph(s))")


if __name__ == "__main__":
    main()
