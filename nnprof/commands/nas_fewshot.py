"""`nnprof nas fewshot`: few-shot latency on the 19 real device settings of HELP's
NAS-Bench-201 table (`nnprof.nas.fewshot`, docs/fewshot.md).

nnprof nas fewshot [--checkpoint CKPT] [--samples 10,20,50] [--repeats 3]
                   [--devices all|D1,D2] [--format table|json|markdown] [-o results.json]
"""

from __future__ import annotations

import json
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from nnprof.cli import err, out, positive_finite, user_errors
from nnprof.commands.nas import _setup_threads, nas_app
from nnprof.errors import NNProfError

METHOD_LABELS = {"finetune": "fine-tuned", "flops": "FLOPs", "scratch": "from scratch"}


class FewshotFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _int_list(text: str, what: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise NNProfError(f"{what} must be comma-separated whole numbers, got {text!r}") from None
    if not vals or min(vals) < 2:
        raise NNProfError(f"{what} must list counts of at least 2, got {text!r}")
    return tuple(sorted(set(vals)))


def _names(text: str, choices: list[str], what: str) -> list[str]:
    if text.strip().lower() == "all":
        return list(choices)
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in choices]
    if bad or not names:
        raise NNProfError(f"unknown {what} {', '.join(bad) or repr(text)}; choose from {', '.join(choices)} or all")
    return list(dict.fromkeys(names))


def _f(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) per sample count: one row per device setting and the mean."""
    methods = result["config"]["methods"]
    out_tables = []
    for k in result["config"]["samples"]:
        header = ["device", "batch"]
        for m in methods:
            header += [f"{METHOD_LABELS[m]} rho", f"{METHOD_LABELS[m]} MAPE %"]
        if "finetune" in methods:
            header.append("kept (orig/resc/calib/epoch)")
        header.append("zero-shot rho")
        rows = []
        for dev in result["devices"]:
            d = result["per_device"][dev]
            cells = d["k"][str(k)]
            row = [dev, str(d["batch_size"])]
            for m in methods:
                row += [_f(cells[m]["rho"]), _f(cells[m]["mape"], 1)]
            if "finetune" in methods:
                kept = cells["finetune"]["kept"]
                row.append("/".join(str(kept.get(c, 0)) for c in ("original", "rescaled", "calibrated", "epoch")))
            row.append(_f(d["zeroshot"]["rho"]))
            rows.append(row)
        mean = result["mean"][str(k)]
        row = [f"mean ({len(result['devices'])})", ""]
        for m in methods:
            row += [_f(mean[m]["rho"]), _f(mean[m]["mape"], 1)]
        if "finetune" in methods:
            row.append("")
        row.append(_f(result["mean"]["zeroshot"]["rho"]))
        rows.append(row)
        c = result["cells"]
        title = (f"k = {k} measured cells per device, mean over {result['config']['repeats']} draws; "
                 f"scored on {c['eval']} other cells")
        out_tables.append((title, header, rows))
    return out_tables


def _help_devices(ref: dict[str, Any]) -> str:
    names = ref.get("device_rho")  # absent from results written before it was recorded
    return f" not in this table: {', '.join(names)}" if names else ""


def describe(result: dict[str, Any]) -> str:
    c, ck = result["cells"], result["checkpoint"]
    ref = result["help_reference"]
    return (
        f"checkpoint {ck['path']} (created {ck['created']}); {c['eval']} evaluation cells, "
        f"k drawn from a pool of {c['pool']} other cells; {c['excluded_disconnected']} disconnected "
        f"cells excluded; HELP (k={ref['k']}, {ref['devices']} devices{_help_devices(ref)}): mean rho {ref['mean_rho']}, "
        f"FLOPs {ref['flops_rho']}; {result['seconds']:.0f} s"
    )


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for title, header, rows in tables(result):
        lines += [f"**{title}**", "", "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    lines.append(describe(result))
    return "\n".join(lines)


@nas_app.command("fewshot")
@user_errors
def fewshot_cmd(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Latency checkpoint to adapt (default: the bundled one).")
    ] = None,
    samples: Annotated[str, typer.Option("--samples", help="Measured cells per device, comma-separated.")] = "10,20,50",
    repeats: Annotated[int, typer.Option("--repeats", help="Seeded draws per device and sample count.")] = 3,
    devices: Annotated[str, typer.Option("--devices", help="Device settings, comma-separated, or all.")] = "all",
    methods: Annotated[
        str, typer.Option("--methods", help="Comma-separated: finetune, flops, scratch (or all).")
    ] = "all",
    eval_cells: Annotated[int, typer.Option("--eval-cells", help="Fixed seeded evaluation cells.")] = 500,
    pool_cells: Annotated[
        int, typer.Option("--pool-cells", help="Cells the k measured ones are drawn from (disjoint from evaluation).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the cell sets and the draws.")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Gradient fine-tuning epochs (as nnprof finetune; only with >= 8 validation cells).")] = 30,
    lr: Annotated[float, typer.Option("--lr", callback=positive_finite, help="Fine-tuning peak learning rate (as nnprof finetune).")] = 1e-4,
    val_frac: Annotated[
        float, typer.Option("--val-frac", help="Share of the k cells that validates (fine-tune: only if >= 8 cells; scratch: always).")
    ] = 0.2,
    scratch_hidden: Annotated[int, typer.Option("--scratch-hidden", help="Width of the from-scratch model.")] = 64,
    scratch_steps: Annotated[int, typer.Option("--scratch-steps", help="Training steps of the from-scratch model.")] = 300,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Folder with nb201_latency_devices.csv (default: ../shared/data).")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also write the full JSON here.")] = None,
    fmt: Annotated[FewshotFormat, typer.Option("--format", help="Output format.")] = FewshotFormat.table,
) -> None:
    """Adapt the latency checkpoint to each unseen device from k measured NAS-Bench-201
    networks; Spearman rho and MAPE on other cells, next to FLOPs and a from-scratch model."""
    from nnprof.nas import fewshot as FS

    ks = _int_list(samples, "--samples")
    if repeats < 1:
        raise NNProfError(f"--repeats must be >= 1, got {repeats}")
    if epochs < 1:
        raise NNProfError(f"--epochs must be >= 1, got {epochs}")
    if not 0 < val_frac < 0.5:
        raise NNProfError(f"--val-frac must be in (0, 0.5), got {val_frac}")
    if scratch_hidden < 8 or scratch_hidden % 8 or scratch_steps < 1:
        raise NNProfError("--scratch-hidden must be a multiple of 8 and --scratch-steps >= 1")
    meth = _names(methods, list(FS.METHODS), "method")
    if output is not None:
        from nnprof.export import check_writable

        check_writable(output)
    from nnprof.nas.data import load_device_latency
    from nnprof.predict import load_predictor

    data = load_device_latency(data_dir)
    devs = _names(devices, data.devices, "device setting")
    _setup_threads()
    predictor = load_predictor(checkpoint, "cpu")
    cfg = FS.FewshotConfig(
        samples=ks, repeats=repeats, eval_cells=eval_cells, pool_cells=pool_cells, seed=seed,
        epochs=epochs, lr=lr, val_frac=val_frac, methods=tuple(meth),
        scratch=FS.ScratchConfig(hidden=scratch_hidden, steps=scratch_steps),
    )
    result = FS.run_benchmark(data, devs, predictor, cfg,
                              progress=lambda m: err.print(f"[dim]{m}[/dim]", highlight=False))
    result["command"] = shlex.join(["nnprof", *sys.argv[1:]])
    if output is not None:
        from nnprof.export import write_bytes_atomic

        write_bytes_atomic(output, json.dumps(result, indent=1).encode())
        err.print(f"wrote {output}", highlight=False)
    if fmt is FewshotFormat.json:
        out.print_json(json.dumps(result))
        return
    if fmt is FewshotFormat.markdown:
        out.print(markdown(result), highlight=False, markup=False, soft_wrap=True)
        return
    from rich.table import Table

    for title, header, rows in tables(result):
        t = Table(title=title)
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            t.add_row(*r)
        out.print(t)
    out.print(describe(result), highlight=False, soft_wrap=True)
