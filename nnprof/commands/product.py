"""`nnprof` commands: predict, zoo, finetune (the everyday commands).

    nnprof predict MODEL_OR_ONNX... [--batch-size 1,8,32] [--input-size S] [--checkpoint F]
                   [--device auto|cpu|cuda] [--format table|json|csv]
    nnprof zoo --family mobilenet [--source tv|timm|all] [--batch-size] [--input-size]
               [--checkpoint F] [--measure] [--format]
    nnprof finetune measurements.csv [-o my.pt] [--checkpoint base.pt] [--epochs]
                    [--val-frac] [--seed]
    nnprof calibrate [-o my.pt] [--checkpoint base.pt] [--threads] [--families]

Library code: nnprof/predict.py (features, checkpoint, batched prediction, warnings),
nnprof/cache.py (features cache), nnprof/finetune.py (CSV, held-out scores),
nnprof/hostcal.py (calibration networks, rescale).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shlex
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from nnprof.cli import ModelBatchSizes, app, err, out, positive_finite, user_errors
from nnprof.errors import NNProfError


def parse_batch_sizes(text: str) -> list[int]:
    """commands.measure.parse_batch_sizes, imported late: importing commands.measure first
    imports nnprof.cli, which imports this module (a top-level import would be circular)."""
    from nnprof.commands.measure import parse_batch_sizes as parse

    return parse(text)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Source(str, Enum):
    tv = "tv"
    timm = "timm"
    all = "all"


BatchSizes = Annotated[
    str, typer.Option("--batch-size", "-b", help="Batch sizes, comma-separated (e.g. 1,8,32).")
]
InputSize = Annotated[
    int | None,
    typer.Option(
        "--input-size", "-s", min=1, show_default=False,
        help="Square input size. Default: the model's usual size; for an ONNX file, its own.",
    ),
]
CheckpointOpt = Annotated[
    Path | None,
    typer.Option(
        "--checkpoint", "-c", show_default=False,
        help="Predictor checkpoint: a file (nnprof train / nnprof finetune) or a bundled "
        "checkpoint's name (nnprof checkpoints). Default: the newest bundled checkpoint measured on "
        "this machine's CPU, else checkpoints/nnprof-latency.pt ('default').",
    ),
]
DeviceOpt = Annotated[
    Device, typer.Option("--device", help="Where the predictor runs: auto = cuda if available, else cpu.")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", min=1,
        help="Convert uncached models in this many worker processes (each with cores / N torch "
        "threads); the results are the same as with 1.",
    ),
]

_COLUMNS_HELP = (
    "Columns: model, input, batch, GFLOPs (10^9 multiply-accumulates, MACs, the zoo-table "
    "convention; element-wise ops count one each), params, memory access (elements: outputs "
    "+ parameters), predicted latency (ms), throughput (images/s = batch / latency), and the "
    "platform the checkpoint predicts for."
)


# --------------------------------------------------------------------------- output helpers


@contextlib.contextmanager
def _bar(total: int, what: str) -> Iterator[Any]:
    """A transient progress bar on stderr; yields step(description) -> None."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err.is_terminal:  # a pipe or a file: no bar (it would leave a blank line)
        yield lambda desc: None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, transient=True)
    with bar:
        task = bar.add_task(what, total=total)
        state = {"started": False}

        def step(desc: str) -> None:
            if state["started"]:
                bar.advance(task)
            state["started"] = True
            bar.update(task, description=f"{what} {desc}")

        yield step
        bar.update(task, completed=total)


def _num(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    v = float(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def _millions(v: Any) -> str:
    if v is None:
        return "-"
    m = v / 1e6
    return f"{m:.2f}" if m >= 1 else f"{m:.3g}"


def _gflops(v: Any) -> str:
    return "-" if v is None else (f"{v:.3g}" if v < 10 else f"{v:.1f}")


def _print_json(obj: Any) -> None:
    out.print(json.dumps(obj, indent=2, allow_nan=False), markup=False, highlight=False, soft_wrap=True)


def _print_csv(rows: list[dict[str, Any]], columns: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    out.print(buf.getvalue(), end="", markup=False, highlight=False, soft_wrap=True)


_TABLE = [  # (row key, column head, formatter)
    ("model", "model", str),
    ("input_size", "input", _num),
    ("batch_size", "batch", _num),
    ("gflops", "GFLOPs", _gflops),  # 1e9 MACs (the --help says so)
    ("params", "params M", _millions),
    ("mem_access", "mem access M", _millions),  # elements
    ("latency_ms", "latency ms", lambda v: _num(v, 3)),
    ("throughput", "images/s", lambda v: _num(v, 1)),
]


def _print_table(rows: list[dict[str, Any]], title: str, extra: list[tuple[str, str, Any]] = ()) -> None:
    from rich.table import Table

    out.print(title, highlight=False, soft_wrap=True, markup=False)  # not a Table title: it would wrap
    table = Table()
    cols = _TABLE + list(extra)
    for key, head, _ in cols:
        if key in ("model", "error"):
            table.add_column(head, overflow="fold", min_width=12)
        else:
            table.add_column(head, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(*[escape(fmt(r.get(key))) if r.get(key) not in (None, "") else "-" for key, _, fmt in cols])
    _print_wide(table)


def _print_wide(renderable: Any) -> None:
    """Print at the table's natural width even when stdout is narrow or not a terminal
    (a pipe, a file), so that no column is squeezed to "…"."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.text import Text

    need = Measurement.get(out, out.options.update_width(10_000), renderable).maximum
    if need <= out.width:
        out.print(renderable)
        return
    wide = Console(file=io.StringIO(), width=need, force_terminal=out.is_terminal, color_system=out.color_system, emoji=False)
    wide.print(renderable)
    out.print(Text.from_ansi(wide.file.getvalue()), soft_wrap=True, end="")


def _warn_rows(rows: list[dict[str, Any]]) -> None:
    """Each distinct warning of a model once, on stderr."""
    seen: set[tuple[str, str]] = set()
    for r in rows:
        for w in filter(None, (r.get("warnings") or "").split("; ")):
            if (r["model"], w) in seen:
                continue
            seen.add((r["model"], w))
            err.print(f"[yellow]warning:[/yellow] {escape(r['model'])}: {escape(w)}; the prediction may be unreliable",
                      highlight=False, soft_wrap=True)


def _note(text: str | None) -> None:
    if text:
        err.print(f"note: {text}", markup=False, highlight=False, soft_wrap=True)


def _checkpoint_or_auto(checkpoint: Path | None, csv_platform: dict | None = None) -> Path:
    """--checkpoint as given; else the newest bundled checkpoint measured on this machine's
    CPU (for finetune: on the CPU and thread count the CSV's rows name), with a note; else
    the default."""
    if checkpoint is not None:
        return checkpoint
    from nnprof.measure import cpu_id
    from nnprof.predict import auto_checkpoint, family_model

    if csv_platform is None:
        cpu, threads = cpu_id(), None
    else:
        cpu, threads = str(csv_platform.get("cpu_id") or ""), csv_platform.get("threads")
    path, name = auto_checkpoint(cpu, threads)
    if name is not None:
        whose = "this machine's CPU" if csv_platform is None else "the CPU and threads of the measurements"
        what = (family_model(cpu) or cpu) + (f", {threads} thread{'s' if str(threads) != '1' else ''}" if threads else "")
        _note(f"{whose} ({what}): using the bundled checkpoint {name!r}, measured on it "
              "(--checkpoint default for the default one)")
    return path


def _notes(feats) -> None:
    for f in feats:
        for n in f.notes:
            err.print(f"[yellow]warning:[/yellow] {escape(f.model)}: {escape(n)}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- predict


@app.command()
@user_errors
def predict(
    models: Annotated[
        list[str],
        typer.Argument(help="Zoo names (tv:NAME, timm:NAME, bare names, wildcards) or .onnx paths.",
                       show_default=False),
    ],
    batch_size: ModelBatchSizes = None,
    input_size: InputSize = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = Device.auto,
    fmt: FormatOpt = Format.table,
    jobs: JobsOpt = 1,
) -> None:
    """Predict inference latency from the ONNX graph (no model is run).

    Columns: model, input, batch, GFLOPs (10^9 multiply-accumulates, MACs), params, memory
    access (elements), predicted latency (ms), throughput (images/s = batch / latency) and
    the platform the checkpoint predicts for. Graphs with ops the checkpoint never saw in
    training, or far outside its training range, get a warning on stderr (and in the
    `warnings` field of JSON/CSV).
    """
    from nnprof import zoo
    from nnprof.predict import COLUMNS, features_for, load_predictor, other_cpu_note, result_row

    batches: list[int | None] = [None] if batch_size is None else list(parse_batch_sizes(batch_size))
    refs = zoo.expand(models)  # every name checked before any slow work
    pred = load_predictor(_checkpoint_or_auto(checkpoint), device.value)
    _note(other_cpu_note(pred))
    with _bar(len(refs) * len(batches), "features") as step:
        feats = features_for(refs, batches, input_size, progress=step, jobs=jobs)
    _notes(feats)
    lat = pred.predict(feats)
    rows = [result_row(f, y, pred.platform_text, pred.check(f, y)) for f, y in zip(feats, lat, strict=True)]
    _warn_rows(rows)
    if fmt is Format.json:
        _print_json(rows)
    elif fmt is Format.csv:
        _print_csv(rows, list(COLUMNS))
    else:
        _print_table(rows, f"Predicted latency for: {pred.platform_text}  ({pred.kind}, {pred.path.name})")


# --------------------------------------------------------------------------- zoo


ZOO_COLUMNS = [
    "model", "input_size", "batch_size", "gflops", "params", "mem_access", "latency_ms",
    "throughput", "measured_ms", "error_pct", "platform", "warnings", "error",
]  # fmt: skip


def _zoo_features(refs, batches, input_size, jobs: int = 1):
    """Features per (model, batch); a failure becomes an error string, never a crash."""
    from nnprof.predict import iter_features

    results: list[tuple[Any, int, Any, str]] = []
    with _bar(len(refs) * len(batches), "converting") as step:
        for r, b, f in iter_features(refs, batches, input_size, step, jobs=jobs):
            if isinstance(f, NNProfError):
                results.append((r, b, None, str(f)))
            elif isinstance(f, Exception):  # a model the front end cannot handle: a row, not a crash
                msg = str(f).strip().splitlines()[0] if str(f).strip() else ""
                results.append((r, b, None, f"{type(f).__name__}: {msg}"[:300]))
            else:
                results.append((r, b, f, ""))
    return results


def _measure_rows(rows, refs_sizes, threads: int, rounds: int) -> None:
    """Add measured_ms and error_pct (100 x (predicted - measured) / measured) in place."""
    from dataclasses import replace

    from nnprof import export
    from nnprof import measure as M

    protocol = replace(M.DEFAULT_PROTOCOL, rounds=rounds)
    todo = [i for i, r in enumerate(rows) if not r.get("error")]
    block = 8  # sessions held at once; rounds interleave within a block
    with _bar(len(todo), "measuring") as step:
        for start in range(0, len(todo), block):
            timers = []
            for i in todo[start : start + block]:
                ref, size, b = refs_sizes[i]
                step(f"{ref.qualified} (batch {b})")
                try:
                    res = export.convert(ref, size, b)
                    src = res.path if (ref.source != "onnx" and res.path is not None) else res.model
                    timers.append((i, M.Timer(src, threads=threads, batch_size=b, label=ref.qualified)))
                except NNProfError as e:
                    rows[i]["error"] = f"measure: {e}"
            if not timers:
                continue
            try:
                ms = M.measure_many([t for _, t in timers], protocol=protocol)
            except NNProfError as e:
                for i, _ in timers:
                    rows[i]["error"] = f"measure: {e}"
                continue
            for (i, _), m in zip(timers, ms, strict=True):
                rows[i]["measured_ms"] = m.latency_ms
                p = rows[i]["latency_ms"]
                rows[i]["error_pct"] = 100.0 * (p - m.latency_ms) / m.latency_ms if p is not None else None


@app.command("zoo")
@user_errors
def zoo_cmd(
    family: Annotated[
        str, typer.Option("--family", help="Model family over both zoos; wildcards allowed (e.g. 'mobile*').",
                          show_default=False),
    ],
    source: Annotated[Source, typer.Option("--source", help="tv (torchvision), timm, or all.")] = Source.all,
    batch_size: BatchSizes = "1",
    input_size: InputSize = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = Device.auto,
    measure: Annotated[
        bool, typer.Option("--measure", help="Also measure with ONNX Runtime (slow) and show each prediction's error.")
    ] = False,
    threads: Annotated[int, typer.Option("--threads", "-t", min=1, help="With --measure: ONNX Runtime threads.")] = 1,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="With --measure: timing rounds per model.")] = 20,
    fmt: FormatOpt = Format.table,
    jobs: JobsOpt = 1,
) -> None:
    """Predict the latency of every zoo model of a family, sorted by latency.

    Models that fail to convert become rows with an error. GFLOPs = 10^9 MACs. With
    --measure: measured latency (ms) and error % = 100 x (predicted - measured) / measured.
    """
    from nnprof import zoo
    from nnprof.predict import describe_platform, load_predictor, other_cpu_note, result_row

    batches = parse_batch_sizes(batch_size)
    names = zoo.family_models(family, source.value)
    if not names:
        raise NNProfError(f"family '{family}' has no {source.value} models (try --source all)")
    pred = load_predictor(_checkpoint_or_auto(checkpoint), device.value)
    if not measure:  # with --measure, the platform warning below says it
        _note(other_cpu_note(pred))
    if measure:
        from nnprof import measure as M

        M.check_provider("cpu")
        here = M.platform_fingerprint(threads)
        want = pred.platform or {}
        diff = [k for k in ("cpu", "cpu_id", "threads", "provider") if k in want and str(want[k]) != str(here.get(k))]
        if diff:
            err.print(f"[yellow]warning:[/yellow] the checkpoint predicts for {escape(pred.platform_text)}, "
                      f"measuring on {escape(describe_platform(here))} ({', '.join(diff)} differ): "
                      "the errors include that difference",
                      highlight=False, soft_wrap=True)
    refs = [zoo.resolve(n) for n in names]
    results = _zoo_features(refs, batches, input_size, jobs)
    ok = [(i, f) for i, (_, _, f, e) in enumerate(results) if f is not None]
    lat = dict(zip([i for i, _ in ok], pred.predict([f for _, f in ok]), strict=True))
    _notes([f for _, f in ok])
    rows, refs_sizes = [], []
    for i, (r, b, f, e) in enumerate(results):
        if f is None:
            rows.append({"model": r.qualified, "input_size": input_size, "batch_size": b, "error": e})
            refs_sizes.append((r, input_size, b))
        else:
            rows.append({**result_row(f, lat[i], pred.platform_text, pred.check(f, lat[i])), "error": ""})
            refs_sizes.append((r, f.input_size, b))
    if measure:
        _measure_rows(rows, refs_sizes, threads, rounds)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].get("latency_ms") is None, rows[i].get("latency_ms") or 0.0))
    rows = [rows[i] for i in order]
    _warn_rows(rows)
    failed = sum(1 for r in rows if r.get("error"))
    if failed and failed < len(rows):
        err.print(f"{failed} of {len(rows)} row(s) failed (see the error column)", highlight=False)
    if fmt is Format.json:
        _print_json([{k: r.get(k) for k in ZOO_COLUMNS} for r in rows])
    elif fmt is Format.csv:
        _print_csv(rows, ZOO_COLUMNS)
    else:
        extra = []
        if measure:
            extra += [("measured_ms", "measured (ms)", lambda v: _num(v, 3)),
                      ("error_pct", "error %", lambda v: f"{v:+.1f}")]
        if failed:
            extra.append(("error", "error", str))
        title = f"Family {family} ({source.value}), {len(names)} model(s): predicted for {pred.platform_text}"
        _print_table(rows, title, extra)
    if failed == len(rows):  # nothing predicted: the table shows why, the exit code says so
        raise NNProfError(f"all {failed} row(s) failed; first error: {rows[0]['error']}")


# --------------------------------------------------------------------------- finetune


@app.command()
@user_errors
def finetune(
    measurements: Annotated[
        Path, typer.Argument(help="CSV written by `nnprof measure -o` (model, input_size, batch_size, latency_ms, ...).",
                             show_default=False),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the fine-tuned checkpoint.")] = Path(
        "nnprof-finetuned.pt"
    ),
    checkpoint: CheckpointOpt = None,
    epochs: Annotated[int, typer.Option(
        "--epochs", min=1,
        help="Gradient fine-tuning epochs (run only when 8+ rows validate; fewer rows fit a calibration, see README).",
    )] = 30,
    val_frac: Annotated[
        float, typer.Option("--val-frac", min=0.0, max=0.5, help="Share of rows held out for the before/after scores.")
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the held-out split and of fine-tuning.")] = 0,
    lr: Annotated[float, typer.Option("--lr", callback=positive_finite, help="Peak learning rate of gradient fine-tuning.")] = 1e-4,
    device: DeviceOpt = Device.auto,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fine-tune a checkpoint on your own measurements; print MAPE and Acc(10%) on
    held-out rows before and after; save a checkpoint for `predict --checkpoint`."""
    from nnprof import export
    from nnprof import finetune as F
    from nnprof import train as T
    from nnprof.predict import load_predictor

    export.check_writable(output)  # fail before the slow part
    if Path(output).resolve() == Path(measurements).resolve():
        raise NNProfError(f"-o {output} would overwrite the measurements; choose another file name")
    rows = F.read_measurements(measurements)
    base = load_predictor(_checkpoint_or_auto(checkpoint, rows[0].platform), device.value)
    with _bar(len(rows), "features") as step:
        feats = F.row_features(rows, step, source=measurements)
    _notes(feats)
    for r, f in F.outliers(rows, base.predict(feats)):
        err.print(f"warning: {measurements}:{r.line}: {r.ref.qualified} measured {r.latency_ms:g} ms, "
                  f"{f if f > 1 else 1 / f:.0f}x {'slower' if f > 1 else 'faster'} than the other rows "
                  "suggest; check its unit and value", markup=False, highlight=False, soft_wrap=True)
    model, ckpt, report = F.run(
        rows, feats, base, epochs=epochs, lr=lr, val_frac=val_frac, seed=seed,
        device=device.value, source=str(measurements),
    )
    path = T.save_checkpoint(ckpt, output)
    report["checkpoint"] = str(path)
    err.print(f"saved {path} (predicts for {report['platform']}); use it with "
              f"`nnprof predict MODEL --checkpoint {shlex.quote(str(path))}`", markup=False, highlight=False, soft_wrap=True)
    if fmt is Format.json:
        _print_json(report)
        return
    table_rows = [
        {"stage": "before", "checkpoint": str(base.path.name), **report["before"]},
        {"stage": "after", "checkpoint": str(path.name), **report["after"]},
    ]
    if fmt is Format.csv:
        _print_csv([{**r, "rows": report["n_heldout"] or report["n_finetune"], "scored_on": report["scored_on"]}
                    for r in table_rows], ["stage", "checkpoint", "mape", "acc10", "rows", "scored_on"])
        return
    from rich.table import Table

    n_eval = report["n_heldout"] or report["n_finetune"]
    out.print(f"Fine-tuned on {report['n_finetune']} of {report['n']} rows (kept: {report['kept']}); "
              f"scored on {n_eval} {report['scored_on']} rows", markup=False, highlight=False, soft_wrap=True)
    t = Table()
    for col in ("", "checkpoint", "MAPE %", "Acc(10%) %"):
        t.add_column(col, justify="left" if col in ("", "checkpoint") else "right")
    for r in table_rows:
        t.add_row(r["stage"], escape(r["checkpoint"]), f"{r['mape']:.2f}", f"{r['acc10']:.1f}")
    _print_wide(t)


@app.command()
@user_errors
def calibrate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the rescaled checkpoint.")] = Path(
        "nnprof-calibrated.pt"
    ),
    checkpoint: CheckpointOpt = None,
    threads: Annotated[int, typer.Option("--threads", "-t", min=1, help="ONNX Runtime intra-op threads to time with.")] = 1,
    provider: Annotated[str, typer.Option("--provider", help="cpu, or cuda (needs onnxruntime-gpu).")] = "cpu",
    families: Annotated[
        str | None,
        typer.Option("--families", show_default=False,
                     help="Comma-separated zoo families to calibrate on (default: one network of each of the 17)."),
    ] = None,
    device: DeviceOpt = Device.auto,
    fmt: FormatOpt = Format.table,
) -> None:
    """Rescale a checkpoint to this machine's speed without measuring any model of yours:
    time one generated network per zoo family here (about half a minute), compare with the
    checkpoint's predictions, save the checkpoint rescaled by their geometric mean ratio."""
    from nnprof import export
    from nnprof import hostcal as H
    from nnprof import train as T
    from nnprof.measure import DEFAULT_PROTOCOL, check_provider
    from nnprof.predict import load_predictor

    check_provider(provider)
    pairs = H.families([f.strip() for f in families.split(",") if f.strip()] if families else None)
    export.check_writable(output, create_dirs=True)  # fail before the slow part
    base = load_predictor(_checkpoint_or_auto(checkpoint), device.value)
    with _bar(len(pairs), "building") as step:
        nets = H.build(pairs, step)
    with _bar(len(nets) * DEFAULT_PROTOCOL.rounds, "timing") as step:
        ckpt, report = H.run(base, nets, threads=threads, provider=provider, progress=lambda done, total: step(""))
    path = T.save_checkpoint(ckpt, output)
    report["checkpoint"] = str(path)
    k = report["factor"]
    if report["spread"] > H.SPREAD_WARN:
        err.print(f"warning: the networks' measured/predicted ratios disagree ({report['ratio_min']:.2f}-"
                  f"{report['ratio_max']:.2f}): this machine differs from the checkpoint's in more than speed; "
                  "measure models of yours and use `nnprof finetune`", markup=False, highlight=False, soft_wrap=True)
    if H.near_one(k):
        err.print(f"note: {base.path.name} already predicted these networks within {H.NEAR_ONE:.0%} overall (factor "
                  f"{k:.3f}), about how much the factor moves from one pass to the next here; the base checkpoint "
                  "should serve as well", markup=False, highlight=False, soft_wrap=True)
    err.print(f"saved {path}: {base.path.name} rescaled by {k:.3f} (predicts for this machine); use it with "
              f"`nnprof predict MODEL --checkpoint {shlex.quote(str(path))}`", markup=False, highlight=False, soft_wrap=True)
    if fmt is Format.json:
        _print_json(report)
        return
    rows = [{**n, "ratio": n["measured_ms"] / n["predicted_ms"]} for n in report["networks"]]
    if fmt is Format.csv:
        _print_csv(rows, ["id", "batch_size", "input_size", "measured_ms", "predicted_ms", "ratio"])
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} calibration networks timed in {report['timing_s']:.0f} s; factor = geometric mean ratio "
                    f"= {k:.3f}")
    for col in ("network", "batch", "input", "measured ms", "predicted ms", "ratio"):
        t.add_column(col, justify="left" if col == "network" else "right")
    for r in rows:
        t.add_row(r["id"], str(r["batch_size"]), str(r["input_size"]), _num(r["measured_ms"]),
                  _num(r["predicted_ms"]), f"{r['ratio']:.3f}")
    _print_wide(t)


@app.command("checkpoints")
@user_errors
def checkpoints_cmd(fmt: FormatOpt = Format.table) -> None:
    """The bundled checkpoints: the platform each predicts for, what it was trained on, which
    one was measured on this machine's CPU, and which one `predict` and `zoo` use without
    --checkpoint. Use one with `--checkpoint NAME`."""
    from nnprof import train as T
    from nnprof.measure import cpu_id
    from nnprof.predict import (
        DEFAULT_CHECKPOINT,
        auto_checkpoint,
        bundled_checkpoints,
        describe_platform,
        training_profile,
    )

    here = cpu_id() or None
    used = auto_checkpoint(here or "")[0] if DEFAULT_CHECKPOINT.is_file() else None
    rows = []
    for name, path in bundled_checkpoints().items():
        _, ckpt = T.load_checkpoint(path)
        prof, plat = training_profile(ckpt), ckpt.get("platform") or {}
        rows.append({
            "name": name,
            "file": path.name,
            "default": path == DEFAULT_CHECKPOINT,
            "predicts_for": describe_platform(plat),
            "this_cpu": here is not None and plat.get("cpu_id") == here,
            "used_without_checkpoint": path == used,
            "trained_on": ckpt.get("dataset"),
            "gmacs_max": prof.macs[1] / 1e9 if prof.macs else None,
            "latency_ms_max": prof.latency_ms[1] if prof.latency_ms else None,
        })
    if not rows:
        raise NNProfError(f"no bundled checkpoints in {DEFAULT_CHECKPOINT.parent}")
    if fmt is Format.json:
        _print_json(rows)
        return
    if fmt is Format.csv:
        _print_csv(rows, list(rows[0]))
        return
    from rich.table import Table

    t = Table(title="Bundled checkpoints (used: without --checkpoint; pick one with --checkpoint NAME)")
    for col in ("name", "file", "predicts for", "this CPU", "used", "trained on", "up to GMACs", "up to ms"):
        t.add_column(col, justify="right" if col.startswith("up to") else "left")
    for r in rows:
        t.add_row(
            r["name"], r["file"], r["predicts_for"],
            "yes" if r["this_cpu"] else "", "yes" if r["used_without_checkpoint"] else "", str(r["trained_on"] or ""),
            f"{r['gmacs_max']:.3g}" if r["gmacs_max"] else "", f"{r['latency_ms_max']:.3g}" if r["latency_ms_max"] else "",
        )
    _print_wide(t)
