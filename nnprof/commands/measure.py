"""`nnprof` commands: measure.

nnprof measure MODEL... [--batch-size 1,4] [--input-size S] [--threads 1] [--provider cpu|cuda]
                        [-o measurements.csv] [--format table|json|csv]

Times each model with ONNX Runtime under nnprof's protocol (nnprof/measure.py,
docs/timing.md). With -o, every finished row is appended (and fsynced) to the CSV at once,
and rows already in the file for the same model, input size, batch size and platform are
skipped, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from nnprof.cli import ModelBatchSizes, app, err, out, user_errors
from nnprof.errors import NNProfError


class Provider(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def parse_batch_sizes(text: str) -> list[int]:
    """'1,4' -> [1, 4]; duplicates dropped, order kept."""
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            v = int(part)
        except ValueError:
            raise NNProfError(
                f"--batch-size: '{part}' is not an integer (give e.g. 1 or 1,4,8)"
            ) from None
        if v <= 0:
            raise NNProfError(f"--batch-size must be positive, got {v}")
        if v not in sizes:
            sizes.append(v)
    if not sizes:
        raise NNProfError("--batch-size is empty (give e.g. 1 or 1,4,8)")
    return sizes


_TABLE_COLUMNS = [
    ("model", "model"),
    ("input_size", "input"),
    ("batch_size", "batch"),
    ("latency_ms", "latency ms"),
    ("spread_pct", "spread %"),
    ("rounds", "rounds"),
    ("runs", "runs"),
    ("ref_ratio", "x ref"),
]


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
        return str(v)
    return f"{f:.4g}" if abs(f) < 1000 else f"{f:.1f}"


@app.command()
@user_errors
def measure(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Zoo names (tv:NAME, timm:NAME, bare names) or .onnx paths.", show_default=False
        ),
    ],
    batch_size: ModelBatchSizes = None,
    input_size: Annotated[
        int | None,
        typer.Option(
            "--input-size",
            "-s",
            min=1,
            help="Square input size. Default: the model's usual size; for an ONNX file, its own.",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", "-t", min=1, help="ONNX Runtime intra-op threads.")
    ] = 1,
    provider: Annotated[
        Provider, typer.Option("--provider", help="cpu, or cuda (needs onnxruntime-gpu).")
    ] = Provider.cpu,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Append rows to this CSV (resumes: rows already there are skipped).",
            show_default=False,
        ),
    ] = None,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, help="Timing rounds per model (protocol default 20).")
    ] = 20,
    block_size: Annotated[
        int,
        typer.Option(
            "--block-size",
            min=1,
            help="Models timed together, rounds interleaved. 1: rows finish (and are saved) one "
            "by one; larger blocks are faster for many models but an interruption loses the "
            "whole block in progress.",
        ),
    ] = 1,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Measure inference latency with ONNX Runtime (warm-up, interleaved rounds, minimum)."""
    from dataclasses import replace

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nnprof import measure as M

    batches: list[int | None] = [None] if batch_size is None else list(parse_batch_sizes(batch_size))
    protocol = replace(M.DEFAULT_PROTOCOL, rounds=rounds)
    M.check_provider(provider.value)
    fp = M.platform_fingerprint(threads, provider.value)
    from nnprof import export, zoo

    if output is not None:
        export.check_writable(output)  # fail early; the CSV is created only once the inputs are good
    refs = [zoo.resolve(m) for m in models]  # every name checked before any slow work
    jobs = [(r, b) for r in refs for b in batches]
    rows: list[dict[str, Any]] = [{} for _ in jobs]
    files: dict[int, Any] = {}  # ONNX files given by the user, loaded and re-shaped
    sizes: list[int] = []
    for i, (r, b) in enumerate(jobs):  # batch None: an ONNX file's own batch, else 1
        if r.source == "onnx":
            files[i] = export.convert(r, input_size, b)
            sizes.append(files[i].input_size)
            jobs[i] = (r, b or files[i].batch_size or 1)
        else:
            sizes.append(input_size or zoo.default_input_size(r) or 224)
            jobs[i] = (r, b or 1)
    created = output is not None and not output.exists()
    log = M.MeasurementLog.open(output) if output is not None else None
    if log is not None and log.ignored:
        lines = ", ".join(map(str, log.ignored[:5])) + (", ..." if len(log.ignored) > 5 else "")
        err.print(f"warning: {output}: {len(log.ignored)} line(s) without the {len(M.CSV_COLUMNS)} "
                  f"columns ignored (line {lines}); `nnprof finetune` will refuse them", markup=False, highlight=False,
                  soft_wrap=True)
    try:
        todo: list[int] = []
        for i, ((r, b), size) in enumerate(zip(jobs, sizes, strict=True)):
            hit = log.find(r.qualified, size, b, fp) if log is not None else None
            if hit is not None:
                rows[i] = M.typed_row(hit)
            else:
                todo.append(i)
        if log is not None and len(todo) < len(jobs):
            err.print(f"{len(jobs) - len(todo)} of {len(jobs)} rows already in {output}: skipped",
                      markup=False, highlight=False)

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=err, transient=True)
        with bar:
            task = bar.add_task("measuring", total=len(todo) * protocol.rounds)
            for start in range(0, len(todo), block_size):
                block = todo[start : start + block_size]
                loaded = _load_block(jobs, block, files, input_size, threads, provider.value, bar, task)
                base = bar.tasks[0].completed

                def progress(done: int, total: int, base=base, n=len(loaded)) -> None:
                    bar.update(task, completed=base + done * n * protocol.rounds // total)

                bar.update(task, description=f"measuring {len(loaded)} model(s)")
                results = M.measure_many([t for _, _, t in loaded], protocol=protocol,
                                         progress=progress)
                for (i, (label, size, b), _), m in zip(
                    [(i, meta, t) for i, meta, t in loaded], results, strict=True
                ):
                    row = M.csv_row(label, size, b, m, fp)
                    if log is not None:
                        log.append(row)
                    rows[i] = row
    except BaseException:
        if created and log is not None and not log.keys:  # a failed first run leaves no header-only file
            output.unlink(missing_ok=True)  # type: ignore[union-attr]
        raise
    _print(rows, fmt)


def _load_block(jobs, block, files, input_size, threads, provider, bar, task):
    """Convert (cached) and open ONNX Runtime sessions for one block of jobs."""
    from nnprof import export
    from nnprof import measure as M

    loaded = []
    for i in block:
        ref, b = jobs[i]
        bar.update(task, description=f"converting {ref.qualified} (batch {b})")
        res = files[i] if i in files else export.convert(ref, input_size, b)
        # a cached zoo export is a file on disk; an ONNX file given by the user was re-shaped
        # in memory (batch, input size), so time that in-memory model
        src = res.path if (ref.source != "onnx" and res.path is not None) else res.model
        timer = M.Timer(src, threads=threads, provider=provider, batch_size=b, label=ref.qualified)
        loaded.append((i, (ref.qualified, res.input_size, res.batch_size or b), timer))
    return loaded


def _print(rows: list[dict[str, Any]], fmt: Format) -> None:
    from nnprof.measure import CSV_COLUMNS

    if fmt is Format.json:
        out.print(json.dumps(rows, allow_nan=False), markup=False, highlight=False,
                  soft_wrap=True)
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        out.print(buf.getvalue(), end="", markup=False, highlight=False, soft_wrap=True)
        return
    from rich.table import Table

    fp = rows[0] if rows else {}
    table = Table(title=f"{fp.get('cpu', '')} | {fp.get('provider', '')}, {fp.get('threads', '')} "
                  f"thread(s) | onnxruntime {fp.get('onnxruntime', '')} | {fp.get('protocol', '')}")
    for key, head in _TABLE_COLUMNS:
        if key == "model":
            table.add_column(head, overflow="fold", min_width=12)
        else:
            table.add_column(head, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(*[escape(_fmt(r.get(k))) for k, _ in _TABLE_COLUMNS])
    out.print(table)
