"""`nnprof` commands: predictor (train, evaluate).

    nnprof train DATASET [--model narformer2|gnn|flops|flops-mem|global-attn] [-o ckpt.pt]
    nnprof evaluate DATASET --checkpoint ckpt.pt
    nnprof evaluate DATASET --protocol in-distribution|leave-one-family-out|both --models all

DATASET is a measured zoo directory (default ``zoo/``), an NNLQP ``gt.txt`` (or a folder
holding one), or ``synthetic:N`` (N generated networks per family, for trying things out).
"""

from __future__ import annotations

import contextlib
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nnprof.cli import app, err, nonnegative_finite, out, user_errors
from nnprof.commands.product import _print_wide
from nnprof.errors import NNProfError

if TYPE_CHECKING:
    import torch

MODEL_KINDS = ("narformer2", "gnn", "flops", "flops-mem", "global-attn")
METHOD_LABEL = {  # short column heads, in the spirit of the paper's tables
    "flops": "FLOPs",
    "flops-mem": "FLOPs+MAC",
    "gnn": "NNLP GNN",
    "global-attn": "Global attn",
    "narformer2": "NARFormerV2",
}


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Protocol(str, Enum):
    in_distribution = "in-distribution"
    leave_one_family_out = "leave-one-family-out"
    both = "both"


Dataset = Annotated[
    str,
    typer.Argument(help="Zoo directory, NNLQP gt.txt (or its folder), or synthetic:N."),
]
Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Training epochs (paper: 50).")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed of initialisation and batch order.")]
Device = Annotated[str, typer.Option("--device", help="auto (cuda if available) | cpu | cuda.")]
TierOpt = Annotated[
    str, typer.Option("--tier", help="Only zoo variants of this generator tier: base, large, or all.")
]
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="NNLQP PlatformId to use when gt.txt mixes several.")
]
ValFrac = Annotated[float, typer.Option("--val-frac", min=0.0, max=0.5, help="Validation share per family.")]
TestFrac = Annotated[float, typer.Option("--test-frac", min=0.0, max=0.5, help="Test share per family (when the dataset fixes no split).")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


PrecisionOpt = Annotated[
    Precision,
    typer.Option("--precision", help="bf16: matrix products in bfloat16 (~1.7x faster training, ~2x inference on CPUs with AVX512-BF16/AMX; slower than fp32 without them: a warning says so)."),
]


def _resolve_device(device: str, precision: Precision) -> torch.device:
    """The device (a bad one fails here, before the slow part), with one warning line when
    bf16 would run emulated on this CPU."""
    from nnprof import train as T

    dev = T.resolve_device(device)
    msg = T.precision_warning(precision.value, dev)
    if msg:
        err.print(f"[yellow]warning:[/yellow] {msg}", highlight=False, soft_wrap=True)
    return dev


@contextlib.contextmanager
def _progress_bar():
    """A Rich progress bar on stderr driven by train.py's progress events."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  val MAPE {task.fields[val]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    state: dict[str, Any] = {"task": None, "label": ""}

    def on_event(ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        if kind == "start":
            if state["task"] is not None:
                bar.remove_task(state["task"])
            state["task"] = bar.add_task(f"{state['label']}{ev['kind']}", total=ev["total_steps"], loss="-", val="-")
        elif kind == "step":
            bar.update(state["task"], advance=1, loss=f"{ev['loss']:.4f}")
        elif kind == "epoch":
            if ev.get("val_mape") is not None:
                bar.update(state["task"], val=f"{ev['val_mape']:.2f}%")
            if not err.is_terminal:  # a log file gets one line per epoch instead of a bar
                val = f", val MAPE {ev['val_mape']:.2f}%" if ev.get("val_mape") is not None else ""
                err.print(f"{state['label']}{ev['kind']} epoch {ev['epoch']}: loss {ev['loss']:.4f}{val}", highlight=False)
        elif kind == "tested":
            err.print(f"{ev['kind']} seed {ev['seed']} {ev['split']}: test MAPE {ev['mape']:.2f}%", highlight=False)

    with bar:
        yield on_event


def _fmt(v: float | None, pct: bool = True) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}%" if pct else f"{v:.3f}"


def _cell(stat: dict[str, Any]) -> str:
    """A percentage without the % sign (the column head says %), ± std over seeds."""
    if stat["mean"] is None:
        return "-"
    s = f"{stat['mean']:.2f}"
    if stat["n"] > 1:
        s += f"±{stat['std']:.2f}"
    return s


def _score_table(title: str, scores: dict[str, dict]):
    from rich.table import Table

    t = Table(title=title)
    for col in ("family", "n", "MAPE", "Acc(5%)", "Acc(10%)", "Kendall tau", "Spearman rho"):
        t.add_column(col, justify="left" if col == "family" else "right")
    for fam, s in scores.items():
        t.add_row(
            fam, str(s["n"]), _fmt(s["mape"]), _fmt(s["acc5"]), _fmt(s["acc10"]),
            _fmt(s["kendall"], False), _fmt(s["spearman"], False),
        )
    return t


def _score_rows(scores: dict[str, dict], **extra) -> list[dict[str, Any]]:
    return [{**extra, "family": fam, **s} for fam, s in scores.items()]


def _print_csv(rows: list[dict[str, Any]]) -> None:
    import csv
    import io

    if not rows:
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    out.print(buf.getvalue(), end="", markup=False, highlight=False, soft_wrap=True)


def _print_json(obj: Any) -> None:
    out.print(json.dumps(obj, indent=2, allow_nan=False), markup=False, highlight=False, soft_wrap=True)


def _load(dataset: str, platform: str | None, tier: str = "all"):
    from nnprof.data import load_dataset

    samples = load_dataset(dataset, platform)
    if tier != "all":
        samples = [s for s in samples if s.tier == tier]
        if not samples:
            raise NNProfError(f"{dataset} holds no samples of tier {tier!r} (zoo variants are 'base' or 'large'); use --tier all")
    if len(samples) < 3:
        raise NNProfError(f"{dataset} holds {len(samples)} samples; a predictor needs at least 3")
    return samples


@app.command()
@user_errors
def train(
    dataset: Dataset = "zoo/",
    model: Annotated[str, typer.Option("--model", "-m", help="narformer2 | gnn | flops | flops-mem | global-attn")] = "narformer2",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Checkpoint path (default: <model>.pt).")] = None,
    init: Annotated[
        Path | None, typer.Option("--init", help="Start from this checkpoint's weights (same model kind): a further warm-up + decay schedule.")
    ] = None,
    epochs: Epochs = 50,
    seed: Seed = 0,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Training batch (paper: 16).")] = 16,
    lr: Annotated[float, typer.Option("--lr", callback=nonnegative_finite, help="Peak learning rate (paper: 1e-3).")] = 1e-3,
    val_frac: ValFrac = 0.1,
    test_frac: TestFrac = 0.1,
    platform: PlatformOpt = None,
    tier: TierOpt = "all",
    precision: PrecisionOpt = Precision.fp32,
    residual: Annotated[
        bool, typer.Option("--residual", help="Neural models: learn a bounded factor on a FLOPs+memory power law (extrapolates to bigger graphs).")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Train a latency predictor on a dataset's train part; select on validation; report test."""
    if model not in MODEL_KINDS:
        raise NNProfError(f"unknown model {model!r}; choose one of {', '.join(MODEL_KINDS)}")
    import torch

    from nnprof import train as T
    from nnprof.data import split_in_distribution

    _resolve_device(device, precision)
    from nnprof.export import check_writable

    output = check_writable(output or Path(f"{model}.pt"))  # before the slow part, not after it
    init_state, init_info = None, None
    args = T.ModelArgs(residual=True) if residual else None
    if init is not None:
        from nnprof.predict import checkpoint_path

        init = checkpoint_path(init)  # a file or a bundled checkpoint's name
        base_model, base = T.load_checkpoint(init)
        if base["kind"] != model:
            raise NNProfError(f"--init {init} holds a {base['kind']} model, not {model}; pass --model {base['kind']}")
        init_state = base_model.state_dict()
        args = T.ModelArgs.from_dict(base["model_args"])
        init_info = {"path": str(init), "created": base.get("created"), "epochs": (base.get("train_config") or {}).get("epochs"), "init": base.get("init")}
    samples = _load(dataset, platform, tier)
    split = split_in_distribution(samples, val_frac, test_frac, seed=0)
    err.print(f"{len(samples)} samples: train {len(split.train)}, val {len(split.val)}, test {len(split.test)}; encoding...", highlight=False)
    neural = model not in ("flops", "flops-mem")
    tr, va, te = (T.prepare(p, neural) for p in (split.train, split.val, split.test))
    cfg = T.TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, precision=precision.value)
    with _progress_bar() as progress:
        res = T.train_model(model, tr, va, cfg, args=args, progress=progress, init_state=init_state)
    test = T.evaluate(res.model, te) if len(te) else None
    extra = {"dataset": str(dataset), "split": split.sizes()}
    if init_info is not None:
        extra["init"] = init_info
    ckpt = T.make_checkpoint(res, split.train, split.val, test, cfg, extra=extra)
    path = T.save_checkpoint(ckpt, output)
    size = f"{T.count_parameters(res.model):,} parameters" if neural else f"{res.model.coef.numel()} coefficients (closed form)"
    err.print(f"saved {path} ({size}, best epoch {res.best_epoch}, torch {torch.__version__})", highlight=False)
    if fmt is Format.json:
        _print_json({"checkpoint": str(path), "kind": model, "parameters": ckpt["parameters"], "best_epoch": res.best_epoch, "split": split.sizes(), "val": res.val, "test": test})
    elif fmt is Format.csv:
        rows = _score_rows(res.val or {}, part="val") + _score_rows(test or {}, part="test")
        _print_csv(rows)
    else:
        if res.val:
            out.print(_score_table(f"{model}: validation", res.val))
        if test:
            out.print(_score_table(f"{model}: test", test))


def _method_table(title: str, result: dict[str, Any], group_label: str, summary_row: str, summary_first: bool):
    from rich.table import Table

    kinds = result["kinds"]
    res = result["results"]
    fams = sorted({g for k in kinds for g in res[k] if g != summary_row})
    groups = [summary_row, *fams] if summary_first else [*fams, summary_row]
    t = Table(title=title)
    t.add_column(group_label, no_wrap=True)
    for k in kinds:
        t.add_column(f"MAPE %\n{METHOD_LABEL[k]}", justify="right", no_wrap=True)
    for k in kinds:
        t.add_column(f"Acc(10%) %\n{METHOD_LABEL[k]}", justify="right", no_wrap=True)
    for g in groups:
        label = {"all": "All", "average": "Average"}.get(g, g)
        t.add_row(
            label,
            *[_cell(res[k][g]["mape"]) if g in res[k] else "-" for k in kinds],
            *[_cell(res[k][g]["acc10"]) if g in res[k] else "-" for k in kinds],
            # a line between the summary row and the families
            end_section=g == (summary_row if summary_first else fams[-1] if fams else None),
        )
    return t


def _protocol_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for k, groups in result["results"].items():
        for g, ms in groups.items():
            row = {"protocol": result["protocol"], "model": k, "family": g}
            for m, st in ms.items():
                row[f"{m}_mean"] = st["mean"]
                row[f"{m}_std"] = st["std"]
                row["runs"] = st["n"]
            rows.append(row)
    return rows


@app.command()
@user_errors
def evaluate(
    dataset: Dataset = "zoo/",
    checkpoint: Annotated[Path | None, typer.Option("--checkpoint", "-c", help="Score this checkpoint on the dataset.")] = None,
    part: Annotated[str, typer.Option("--part", help="With --checkpoint: test | val | train | all samples of the dataset.")] = "test",
    tier: TierOpt = "all",
    protocol: Annotated[Protocol | None, typer.Option("--protocol", "-p", help="Train and test every method under a protocol.")] = None,
    models: Annotated[str, typer.Option("--models", help="all, or a comma list of narformer2,gnn,flops,flops-mem,global-attn.")] = "all",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Training runs per method (mean ± std).")] = 1,
    seed_start: Annotated[int, typer.Option("--seed-start", min=0, help="First seed (runs of disjoint seed ranges pool: scripts/protocol_tables.py).")] = 0,
    epochs: Epochs = 50,
    device: Device = "auto",
    val_frac: ValFrac = 0.1,
    test_frac: TestFrac = 0.1,
    families: Annotated[str | None, typer.Option("--families", help="Leave-one-family-out: only hold out these (comma list).")] = None,
    train_per_family: Annotated[
        int | None, typer.Option("--train-per-family", min=1, help="Compute budget: train each method on at most N samples per family (seeded; val/test never cut).")
    ] = None,
    platform: PlatformOpt = None,
    precision: PrecisionOpt = Precision.fp32,
    residual: Annotated[bool, typer.Option("--residual", help="Neural models use the residual head (see nnprof train --residual).")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score a checkpoint, or train and test every method under the paper's protocols."""
    from nnprof import train as T

    if (checkpoint is None) == (protocol is None):
        raise NNProfError("give either --checkpoint ckpt.pt or --protocol in-distribution|leave-one-family-out|both")
    if checkpoint is not None:
        from nnprof.data import split_in_distribution

        if part not in ("test", "val", "train", "all"):
            raise NNProfError(f"--part {part!r}: use test, val, train or all")
        dev = _resolve_device(device, precision)
        from nnprof.predict import checkpoint_path

        model, ckpt = T.load_checkpoint(checkpoint_path(checkpoint))  # a file or a bundled name
        samples = _load(dataset, platform, tier)
        if part == "all":
            chosen = samples
        else:
            chosen = getattr(split_in_distribution(samples, val_frac, test_frac, seed=0), part)
        if not chosen:
            raise NNProfError(f"the {part} part of {dataset} is empty; try --part all")
        data = T.prepare(chosen, ckpt["kind"] not in ("flops", "flops-mem"))
        scores = T.evaluate(model, data, device=dev, precision=precision.value)
        if fmt is Format.json:
            _print_json({"checkpoint": str(checkpoint), "kind": ckpt["kind"], "dataset": dataset, "part": part, "tier": tier, "scores": scores})
        elif fmt is Format.csv:
            _print_csv(_score_rows(scores, kind=ckpt["kind"], part=part, tier=tier))
        else:
            which = "" if tier == "all" else f", {tier} tier"
            out.print(_score_table(f"{ckpt['kind']} ({checkpoint}) on the {part} part of {dataset}{which}", scores))
        return

    # the paper's column order: simple baselines first, NAR-Former V2 last
    kinds = ["flops", "flops-mem", "gnn", "global-attn", "narformer2"] if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    for k in kinds:
        if k not in MODEL_KINDS:
            raise NNProfError(f"unknown model {k!r} in --models; use all or a comma list of {', '.join(MODEL_KINDS)}")
    _resolve_device(device, precision)
    samples = _load(dataset, platform)
    protocols = ["in-distribution", "leave-one-family-out"] if protocol is Protocol.both else [protocol.value]
    held = [f.strip() for f in families.split(",")] if families else None
    cfg = T.TrainConfig(epochs=epochs, device=device, precision=precision.value)
    results = []
    with _progress_bar() as progress:
        for p in protocols:
            results.append(
                T.run_protocol(samples, p, kinds, seeds, cfg, val_frac, test_frac, held, progress, args=T.ModelArgs(residual=True) if residual else None, train_per_family=train_per_family, seed_start=seed_start)
            )
    if fmt is Format.json:
        _print_json({"dataset": dataset, "protocols": results})
        return
    if fmt is Format.csv:
        _print_csv([r for res in results for r in _protocol_rows(res)])
        return
    for res in results:
        runs = (f"{seeds} seed(s)" if seed_start == 0 else f"seeds {seed_start}-{seed_start + seeds - 1}") + f", {epochs} epochs" + (", residual head" if residual else "") + (f", at most {train_per_family} training samples per family" if train_per_family else "")
        if res["protocol"] == "in-distribution":
            sizes = next(iter(res["splits"].values()))
            title = f"In-distribution (Table 1 layout): test MAPE and Acc(10%) per family; {runs}; train {sizes['train']} / val {sizes['val']} / test {sizes['test']}"
            _print_wide(_method_table(title, res, "Test family", "all", True))
        else:
            title = f"Leave one family out (Table 2 layout): trained on the other families; {runs}"
            _print_wide(_method_table(title, res, "Held-out family", "average", False))
