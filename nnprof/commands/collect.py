"""`nnprof` commands: collect (build and measure the variant zoo).

nnprof collect run      [--per-family 400] [--families a,b] [--seed 0] [--work DIR] [--zoo zoo]
nnprof collect build    ...   (export + simplify + raw graph; CPU heavy, no timing)
nnprof collect measure  ...   (ONNX Runtime timing of what `build` produced)
nnprof collect finalize ...   (zoo/data/*.jsonl.gz, zoo/split.json, zoo/stats.json)
nnprof collect status   ...

Every stage resumes where it stopped. `run` starts `build` in a child process pinned to
one core and times on another core in this process, then finalizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from nnprof.cli import app, err, out, user_errors
from nnprof.errors import NNProfError

collect_app = typer.Typer(
    no_args_is_help=True, help="Build and measure the variant zoo (resumable).", add_completion=False
)
app.add_typer(collect_app, name="collect")

PerFamily = Annotated[int, typer.Option("--per-family", help="Variants per family.")]
Families = Annotated[
    str, typer.Option("--families", help="Comma-separated families (default: all).")
]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Generator seed (also seeds the split).")]
Tier = Annotated[
    str,
    typer.Option("--tier", help="Variant budgets: base (the zoo's) or large (bigger networks and batches up to 16)."),
]
Work = Annotated[Path, typer.Option("--work", help="Work directory (resumable state).")]
Zoo = Annotated[Path, typer.Option("--zoo", help="Dataset directory written by finalize.")]
Block = Annotated[int, typer.Option("--block", help="Networks timed together (rounds interleaved).")]
Threads = Annotated[int, typer.Option("--threads", help="ONNX Runtime intra-op threads.")]
Cores = Annotated[
    str,
    typer.Option("--cores", help="BUILD,MEASURE cores for `run` (e.g. 0,1); empty: no pinning."),
]


def _config(per_family: int, families: str, seed: int, work: Path, zoo: Path, tier: str = "base"):
    from nnprof.collect import CollectConfig
    from nnprof.variants import TIERS

    if per_family < 1:
        raise NNProfError(f"--per-family must be >= 1, got {per_family}")
    if tier not in TIERS:
        raise NNProfError(f"--tier: unknown tier {tier!r}; choose from {', '.join(TIERS)}")
    fams = [f.strip() for f in families.split(",") if f.strip()]
    cfg = CollectConfig(zoo=zoo, work=work, families=fams, per_family=per_family, seed=seed, tier=tier)
    cfg.family_list()  # validates the names
    return cfg


def _event(kind: str, msg: str) -> None:
    colour = {"failed": "yellow", "block": "cyan"}.get(kind, "dim")
    err.print(f"[{colour}]{kind}[/{colour}] {msg}", highlight=False)


@collect_app.command("build")
@user_errors
def build_cmd(
    per_family: PerFamily = 400,
    families: Families = "",
    seed: Seed = 0,
    tier: Tier = "base",
    work: Work = Path(".nnprof-collect"),
    zoo: Zoo = Path("zoo"),
) -> None:
    """Export, simplify and parse every variant not built yet."""
    from nnprof.collect import build_stage

    counts = build_stage(_config(per_family, families, seed, work, zoo, tier), on_event=_event)
    out.print(f"build: {counts['built']} built, {counts['skipped']} already there, {counts['failed']} failed")


@collect_app.command("measure")
@user_errors
def measure_cmd(
    per_family: PerFamily = 400,
    families: Families = "",
    seed: Seed = 0,
    tier: Tier = "base",
    work: Work = Path(".nnprof-collect"),
    zoo: Zoo = Path("zoo"),
    block: Block = 48,
    threads: Threads = 1,
    wait: Annotated[bool, typer.Option(help="Wait for `build` while it is still running.")] = True,
) -> None:
    """Time every built, unmeasured network (ONNX Runtime CPU, nnprof's protocol)."""
    from nnprof.collect import measure_stage

    cfg = _config(per_family, families, seed, work, zoo, tier)
    counts = measure_stage(cfg, block=block, threads=threads, wait=wait, on_event=_event)
    out.print(f"measure: {counts['measured']} measured, {counts['failed']} failed")


@collect_app.command("finalize")
@user_errors
def finalize_cmd(
    per_family: PerFamily = 400,
    families: Families = "",
    seed: Seed = 0,
    tier: Tier = "base",
    work: Work = Path(".nnprof-collect"),
    zoo: Zoo = Path("zoo"),
) -> None:
    """Write zoo/data/<family>.jsonl.gz, zoo/split.json and zoo/stats.json."""
    from rich.table import Table

    from nnprof.collect import finalize

    stats = finalize(_config(per_family, families, seed, work, zoo, tier))
    t = Table(title=f"{zoo}: {stats['total']} measured networks")
    for c in ("family", "count", "min ms", "median ms", "max ms", "median nodes"):
        t.add_column(c, justify="left" if c == "family" else "right")
    for fam, s in stats["families"].items():
        t.add_row(fam, str(s["count"]), f"{s['latency_ms_min']:.3f}", f"{s['latency_ms_median']:.3f}",
                  f"{s['latency_ms_max']:.3f}", str(s["nodes_median"]))
    out.print(t)


@collect_app.command("status")
@user_errors
def status_cmd(
    per_family: PerFamily = 400,
    families: Families = "",
    seed: Seed = 0,
    tier: Tier = "base",
    work: Work = Path(".nnprof-collect"),
    zoo: Zoo = Path("zoo"),
) -> None:
    """How far the collection got, per family."""
    from collections import Counter

    from rich.table import Table

    from nnprof.collect import read_jsonl

    cfg = _config(per_family, families, seed, work, zoo, tier)
    built = Counter(p.stem.split("-", 1)[0] for p in (work / "built").glob("*.json"))  # ids start "<family>-"
    measured = Counter(r["id"].split("-", 1)[0] for r in read_jsonl(work / "measured.jsonl"))
    failed = Counter(r["family"] for r in read_jsonl(work / "failed.jsonl"))
    t = Table(title=f"collection in {work}")
    for c in ("family", "target", "built", "build failed", "measured"):
        t.add_column(c, justify="left" if c == "family" else "right")
    for fam in cfg.family_list():
        t.add_row(fam, str(cfg.per_family), str(built[fam]), str(failed[fam]), str(measured[fam]))
    t.add_row("all", str(cfg.per_family * len(cfg.family_list())), str(sum(built.values())),
              str(sum(failed.values())), str(sum(measured.values())), style="bold")
    out.print(t)


@collect_app.command("run")
@user_errors
def run_cmd(
    per_family: PerFamily = 400,
    families: Families = "",
    seed: Seed = 0,
    tier: Tier = "base",
    work: Work = Path(".nnprof-collect"),
    zoo: Zoo = Path("zoo"),
    block: Block = 48,
    threads: Threads = 1,
    cores: Cores = "0,1",
) -> None:
    """build (child process, one core) + measure (this process, another core) + finalize.

    While the measuring process waits for a full block it builds too, from the other end
    of the list, so neither core sits idle; it never builds and times at the same time.
    """
    from nnprof.collect import Builder, finalize, measure_stage, release_claims

    cfg = _config(per_family, families, seed, work, zoo, tier)
    release_claims(cfg)
    pins: list[int] = []
    if cores.strip():
        try:
            pins = [int(c) for c in cores.split(",")]
        except ValueError:
            raise NNProfError(f"--cores: expected two core numbers like 0,1, got {cores!r}") from None
        if len(pins) != 2 or any(c not in os.sched_getaffinity(0) for c in pins):
            raise NNProfError(f"--cores: {cores!r} must name two available cores (have {sorted(os.sched_getaffinity(0))})")
    argv = [sys.executable, "-c", "from nnprof.cli import run; run()", "collect", "build",
            "--per-family", str(per_family), "--families", families, "--seed", str(seed),
            "--tier", tier, "--work", str(work), "--zoo", str(zoo)]
    def pre() -> None:  # pinned, and ended with its parent (Linux PR_SET_PDEATHSIG)
        if pins:
            os.sched_setaffinity(0, {pins[0]})
        try:
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
        except OSError:
            pass

    child = subprocess.Popen(argv, preexec_fn=pre)  # noqa: PLW1509 - affinity only
    try:
        if pins:
            os.sched_setaffinity(0, {pins[1]})
        helper = Builder(cfg, reverse=True, on_event=_event)
        counts = measure_stage(cfg, block=block, threads=threads, on_event=_event,
                               building=lambda: child.poll() is None, builder=helper)
        if child.wait() != 0:
            raise NNProfError(f"the build stage exited with code {child.returncode}; re-run to resume")
    except BaseException:
        child.terminate()
        raise
    stats = finalize(cfg)
    out.print(f"collect: {counts['measured']} measured this run; zoo holds {stats['total']} networks")
