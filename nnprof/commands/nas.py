"""`nnprof nas ...`: accuracy prediction for NAS-Bench-101/201 cells (paper Sec. 4.3).

nnprof nas train    --bench nb101|nb201 --train-size N [--seed S] [-o ckpt.pt]
nnprof nas evaluate --bench nb101|nb201 --train-size N --seeds 10 [--format json]
"""

from __future__ import annotations

import json
import math
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nnprof.cli import app, err, out, positive_finite, user_errors
from nnprof.errors import NNProfError

nas_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Accuracy predictor for NAS-Bench-101/201 cells (NAR-Former V2, Sec. 4.3).",
)
app.add_typer(nas_app, name="nas")


class BenchName(str, Enum):
    nb101 = "nb101"
    nb201 = "nb201"


class Format(str, Enum):
    table = "table"
    json = "json"


# The paper's average of 10 runs (Tables 3-4): {(bench, train size): {column: tau}}.
PAPER = {
    ("nb101", 424): {"tau_100": 0.802, "tau_all": 0.773},
    ("nb101", 4236): {"tau_all": 0.861},
    ("nb201", 781): {"tau_all": 0.874},
    ("nb201", 1563): {"tau_all": 0.888},
}

Bench = Annotated[BenchName, typer.Option("--bench", help="Benchmark: nb101 or nb201.")]
TrainSize = Annotated[
    int, typer.Option("--train-size", help="Training cells (paper: 424/4236, 781/1563).")
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder with the benchmark CSVs (default: ../shared/data next to the repo).",
    ),
]
Epochs = Annotated[
    int | None,
    typer.Option(
        "--epochs",
        help="Training epochs (default: enough for ~12,000 steps, at least 10; see docs/nas.md).",
    ),
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", help="Cells per step (plus their augmented copies).")
]
Lr = Annotated[
    float | None,
    typer.Option("--lr", callback=positive_finite, help="Peak learning rate after warm-up (default: per benchmark)."),
]
Hidden = Annotated[
    int | None, typer.Option("--hidden", help="Block width D (default: per benchmark; paper 512).")
]
Fmt = Annotated[Format, typer.Option("--format", help="Output format.")]


def _setup_threads() -> None:
    import torch

    # One thread per core we may run on (taskset -c 0 -> 1): more only oversubscribes.
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))


def _config(
    bench: str,
    train_size: int,
    seed: int,
    epochs: int | None,
    batch_size: int,
    lr: float | None,
    hidden: int | None,
):
    from nnprof.nas.predictor import NasArgs
    from nnprof.nas.train import DEFAULTS, TrainConfig, default_epochs

    d = DEFAULTS[bench]
    if epochs is not None and epochs < 1:
        raise NNProfError(f"--epochs must be >= 1, got {epochs}")
    if batch_size < 2:
        raise NNProfError(f"--batch-size must be >= 2 (a ranking loss needs pairs), got {batch_size}")
    if hidden is not None and (hidden < 8 or hidden % 8):
        raise NNProfError(f"--hidden must be a multiple of 8 (the GFFN groups), got {hidden}")
    cfg = TrainConfig(
        epochs=epochs or default_epochs(train_size, batch_size),
        batch_size=batch_size,
        lr=lr or d["lr"],
        seed=seed,
    )
    return cfg, NasArgs(hidden=hidden or d["hidden"])


def _run_one(bench_data, train_size: int, cfg, args, label: str) -> tuple[dict, object]:
    from nnprof.nas.train import evaluate, train_predictor

    def progress(rec: dict) -> None:
        err.print(
            f"[dim]{label} epoch {rec['epoch']}/{cfg.epochs}: loss {rec['loss']:.5f} "
            f"val tau {rec['val_tau']:.4f} ({rec['seconds']:.0f} s)[/dim]",
            highlight=False,
        )

    result = train_predictor(bench_data, train_size, cfg, args, progress=progress)
    metrics = evaluate(result.model, bench_data, result.split)
    row = {
        "seed": cfg.seed,
        **metrics,
        "val_tau": result.val_tau,
        "best_epoch": result.best_epoch,
        "steps": max(1, train_size // cfg.batch_size) * cfg.epochs,
        "train_seconds": result.seconds,
    }
    return row, result


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _mean_std(values: list[float]) -> dict:
    import numpy as np

    a = np.asarray(values, dtype=float)
    return {
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
        "n": len(a),
    }


@nas_app.command("train")
@user_errors
def train_cmd(
    bench: Bench,
    train_size: TrainSize,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Split, initialisation and shuffling seed.")
    ] = 0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the checkpoint here.")
    ] = None,
    data_dir: DataDir = None,
    epochs: Epochs = None,
    batch_size: BatchSize = 16,
    lr: Lr = None,
    hidden: Hidden = None,
    fmt: Fmt = Format.table,
) -> None:
    """Train one accuracy predictor and report Kendall's tau on the held-out cells."""
    _setup_threads()
    from nnprof.nas.data import TARGET_NOTE, load_bench
    from nnprof.nas.train import save_checkpoint

    name = bench.value
    cfg, args = _config(name, train_size, seed, epochs, batch_size, lr, hidden)
    if output is not None:  # before the data load and the training; missing folders are made
        if output.is_dir():
            raise NNProfError(f"cannot write {output}: it is a directory; give a file name for -o")
        from nnprof.export import check_writable

        check_writable(output, create_dirs=True)
    data = load_bench(name, data_dir)
    err.print(f"{name}: {len(data)} cells; {TARGET_NOTE[name]}", highlight=False)
    row, result = _run_one(data, train_size, cfg, args, f"seed {seed}")
    if output is not None:
        save_checkpoint(output, result, name, train_size, cfg, row)
        err.print(f"checkpoint written to {output}", highlight=False)
    if fmt is Format.json:
        out.print_json(
            json.dumps(
                {
                    "bench": name,
                    "train_size": train_size,
                    "note": TARGET_NOTE[name],
                    "config": cfg.to_dict(),
                    "model_args": args.to_dict(),
                    **row,
                }
            )
        )
        return
    t = Table(title=f"{name}, {train_size} training cells, seed {seed}")
    for col in (
        "test cells",
        "tau (all)",
        "tau (100)",
        "ACC(10%) all",
        "val tau",
        "best epoch",
        "train s",
    ):
        t.add_column(col, justify="right")
    t.add_row(
        str(row["n_test"]),
        _fmt(row["tau_all"], 4),
        _fmt(row["tau_100"], 4),
        f"{row['acc10_all']:.2f}",
        _fmt(row["val_tau"], 4),
        str(row["best_epoch"]),
        f"{row['train_seconds']:.0f}",
    )
    out.print(t)
    out.print(f"Note: {TARGET_NOTE[name]}.", highlight=False)


@nas_app.command("evaluate")
@user_errors
def evaluate_cmd(
    bench: Bench,
    train_size: TrainSize,
    seeds: Annotated[
        int,
        typer.Option("--seeds", help="Independent runs (seeds seed-start .. seed-start+seeds-1)."),
    ] = 10,
    seed_start: Annotated[int, typer.Option("--seed-start", min=0, help="First seed.")] = 0,
    data_dir: DataDir = None,
    epochs: Epochs = None,
    batch_size: BatchSize = 16,
    lr: Lr = None,
    hidden: Hidden = None,
    save_dir: Annotated[
        Path | None, typer.Option("--save-dir", help="Also write each run's checkpoint here.")
    ] = None,
    fmt: Fmt = Format.table,
) -> None:
    """Train on --seeds splits and print Kendall's tau and ACC(10%) as mean +- std (Tables 3-4)."""
    if seeds < 1:
        raise NNProfError(f"--seeds must be >= 1, got {seeds}")
    _setup_threads()
    from nnprof.nas.data import TARGET_NOTE, load_bench
    from nnprof.nas.train import save_checkpoint

    name = bench.value
    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise NNProfError(f"--save-dir {save_dir} is a file, not a folder")
    data = load_bench(name, data_dir)
    err.print(f"{name}: {len(data)} cells; {TARGET_NOTE[name]}", highlight=False)
    rows = []
    cfg = args = None
    for s in range(seed_start, seed_start + seeds):
        cfg, args = _config(name, train_size, s, epochs, batch_size, lr, hidden)
        row, result = _run_one(data, train_size, cfg, args, f"seed {s}")
        rows.append(row)
        err.print(
            f"seed {s}: tau all {row['tau_all']:.4f}, tau 100 {row['tau_100']:.4f}, "
            f"ACC(10%) {row['acc10_all']:.2f}, {row['train_seconds']:.0f} s",
            highlight=False,
        )
        if save_dir is not None:
            save_checkpoint(
                save_dir / f"{name}_{train_size}_seed{s}.pt", result, name, train_size, cfg, row
            )
    keys = ("tau_all", "tau_100", "acc10_all", "acc10_100", "val_tau", "train_seconds")
    summary = {k: _mean_std([r[k] for r in rows]) for k in keys}
    paper = PAPER.get((name, train_size), {})
    if fmt is Format.json:
        out.print_json(
            json.dumps(
                {
                    "bench": name,
                    "train_size": train_size,
                    "n_test": rows[0]["n_test"],
                    "note": TARGET_NOTE[name],
                    "config": {k: v for k, v in cfg.to_dict().items() if k != "seed"},
                    "model_args": args.to_dict(),
                    "runs": rows,
                    "summary": summary,
                    "paper": paper,
                }
            )
        )
        return

    def ms(k: str, digits: int = 3) -> str:
        v = summary[k]
        return f"{v['mean']:.{digits}f} ± {v['std']:.{digits}f}"

    t = Table(
        title=f"Accuracy prediction on {name}: {train_size} training cells, "
        f"{len(rows)} seed(s), mean ± std"
    )
    t.add_column("Method")
    if name == "nb101":
        t.add_column(f"tau, 100 test\n({train_size} train)", justify="right")
    t.add_column(f"tau, all {rows[0]['n_test']} test\n({train_size} train)", justify="right")
    t.add_column("ACC(10%), all", justify="right")
    t.add_column("train s / run", justify="right")
    if paper:
        cells = [_fmt(paper.get("tau_100"))] if name == "nb101" else []
        t.add_row("NAR-Former V2 (paper)", *cells, _fmt(paper.get("tau_all")), "-", "-")
    cells = [ms("tau_100")] if name == "nb101" else []
    t.add_row(
        "nnprof",
        *cells,
        ms("tau_all"),
        ms("acc10_all", 2),
        f"{summary['train_seconds']['mean']:.0f}",
    )
    out.print(t)
    out.print(
        f"Note: {TARGET_NOTE[name]}. Test cells = every cell of the file not used for "
        f"training or validation (200).",
        highlight=False,
    )


# `nnprof nas fewshot` (few-shot device latency) lives in its own module.
from nnprof.commands import nas_fewshot  # noqa: E402,F401
