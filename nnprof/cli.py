"""The `nnprof` command line: the Typer app, shared consoles and the user-error wrapper.

This is the only module that prints. Heavy imports (torch, onnx, timm) stay inside the
command bodies so that `nnprof --help` is instant.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from nnprof import __version__
from nnprof.errors import NNProfError

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="Predict and measure neural-network inference latency (NAR-Former V2).",
)
out = Console(emoji=False)  # tables and results; no :code: -> emoji in names and paths
err = Console(stderr=True, emoji=False)  # progress, warnings, errors

F = TypeVar("F", bound=Callable[..., object])


def user_errors(fn: F) -> F:
    """Turn an NNProfError into one line on stderr and exit code 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NNProfError as e:
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def run(argv: list[str] | None = None) -> None:
    """The console script: the Typer app, with Typer's usage errors as one line too.

    Typer draws a multi-line box for a bad option value, an unknown option or command and a
    missing argument; here they become `error: MESSAGE (see: nnprof CMD --help)` on stderr
    with Typer's exit code (2). Everything else behaves as `app()`.
    """
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.TyperException as e:  # typer's click: UsageError, BadParameter, ...
        code = getattr(e, "exit_code", 2)
        if type(e).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(e, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            message = " ".join(str(e.format_message() if hasattr(e, "format_message") else e).split())
            err.print(f"[red]error:[/red] {escape(message)}{escape(hint)}", highlight=False, soft_wrap=True)
        sys.exit(code)
    except typer.Abort:
        err.print("aborted", highlight=False)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def positive_finite(value: float | None) -> float | None:
    """Option callback: a rate that must be a finite number > 0 (None passes)."""
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def nonnegative_finite(value: float | None) -> float | None:
    """Option callback: a finite number >= 0 (`train --init CKPT --lr 0` re-saves as is)."""
    import math

    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"must be a finite number >= 0, got {value}")
    return value


def _version(value: bool) -> None:
    if value:
        out.print(f"nnprof {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """nnprof: model-zoo latency profiling."""


# --batch-size of the commands that take ONNX files too (predict, measure); shared here
# because commands.measure and commands.product cannot import each other at the top.
ModelBatchSizes = Annotated[
    str | None,
    typer.Option(
        "--batch-size", "-b", show_default=False,
        help="Batch sizes, comma-separated (e.g. 1,8,32). Default: 1; an ONNX file keeps the "
        "batch it was saved with (1 if dynamic).",
    ),
]


# Commands live in nnprof/commands/*, one module per area; importing them registers them.
from nnprof.commands import collect, frontend, measure, nas, predictor, product  # noqa: E402,F401
