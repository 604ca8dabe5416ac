"""`nnprof` commands: the front end (model names, ONNX conversion, graph features).

nnprof list [PATTERN] [--source tv|timm]
nnprof convert MODEL [--input-size 224] [--batch-size 1] [-o out.onnx]
nnprof features MODEL_OR_ONNX [--batch-size N] [--input-size S] [--format table|json]
"""

from __future__ import annotations

import json
import math
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from nnprof.cli import app, err, out, user_errors
from nnprof.errors import NNProfError


class Source(str, Enum):
    tv = "tv"
    timm = "timm"


class ListFormat(str, Enum):
    table = "table"
    json = "json"


class Format(str, Enum):
    table = "table"
    json = "json"


ModelArg = Annotated[
    str,
    typer.Argument(
        help="tv:NAME, timm:NAME, a bare name (torchvision first, then timm) or a path to an .onnx file.",
        show_default=False,
    ),
]
InputSize = Annotated[
    int | None,
    typer.Option(
        "--input-size",
        "-s",
        help="Square input size. Default: the model's usual size (224 for most); for an "
        "ONNX file, the size stored in it (needed when the file's size is dynamic).",
        show_default=False,
    ),
]
BatchSize = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        "-b",
        help="Batch size. Default 1 (for an ONNX file: its stored batch, 1 if dynamic).",
        show_default=False,
    ),
]


def _echo_json(obj: Any) -> None:
    out.print(json.dumps(obj, allow_nan=False), markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- list


@app.command("list")
@user_errors
def list_cmd(
    pattern: Annotated[
        str,
        typer.Argument(
            help="fnmatch pattern, e.g. 'mobilenet*' or 'timm:*vit*'. Without wildcards it "
            "matches anywhere in the name ('resnet' = '*resnet*')."
        ),
    ] = "*",
    source: Annotated[
        Source | None, typer.Option("--source", help="Only this zoo.", show_default=False)
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.table,
) -> None:
    """List image-classification models of torchvision and timm (natural sort)."""
    from nnprof import zoo

    pat = pattern
    prefix, _, bare = pattern.rpartition(":")
    if not zoo.is_pattern(bare):
        pat = f"{prefix}:*{bare}*" if prefix else f"*{bare}*"
    names = zoo.list_models(pat, source.value if source else None)
    if not names:
        close = zoo.close_matches(bare, [source.value] if source else list(zoo.SOURCES))
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise NNProfError(f"no model matches '{pattern}'{hint}")
    if fmt is ListFormat.json:
        _echo_json(names)
        return
    out.print("\n".join(names), markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(names)} models", highlight=False)


# --------------------------------------------------------------------------- convert


@app.command()
@user_errors
def convert(
    model: ModelArg,
    input_size: InputSize = None,
    batch_size: BatchSize = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Also write the ONNX file here.", show_default=False),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Convert again even if the cache has it.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Convert a model to a checked, simplified, shape-inferred ONNX graph (cached)."""
    from nnprof import export

    if output is not None:
        export.check_writable(output)  # before the slow part
    with err.status(f"converting {escape(model)} ..."):
        res = export.convert(model, input_size, batch_size, cache=not no_cache)
    # an ONNX file is re-shaped in memory: its own path is not the graph reported here
    path = None if res.ref.source == "onnx" else res.path
    if output is not None:
        model = res.model
        if res.ref.source == "onnx":  # weights kept in a side file travel into the copy
            model = export.with_external_data(model, Path(res.ref.path).parent)  # type: ignore[arg-type]
        path = export.save_onnx(model, output)
    row = {
        "model": res.ref.qualified,
        "input_size": res.input_size,
        "batch_size": res.batch_size,
        "exporter": res.exporter,
        "opset": export.opset_of(res.model),
        "nodes_before": res.nodes_before,
        "nodes_after": res.nodes_after,
        "simplified": res.simplified,
        "cached": res.cached,
        "seconds": round(res.seconds, 3),
        "path": str(path) if path else None,
        "message": res.message,
    }
    if fmt is Format.json:
        _echo_json(row)
        return
    if res.message:
        err.print(f"[yellow]note:[/yellow] {escape(res.message)}", highlight=False, soft_wrap=True)
    simp = "simplified" if res.simplified else "NOT simplified (kept the exported graph)"
    lines = [
        f"model     {row['model']}",
        f"input     {res.batch_size} x 3 x {res.input_size} x {res.input_size}"
        if res.exporter != "onnx"
        else f"input     batch {res.batch_size}, size {res.input_size}",
        f"exporter  {res.exporter}, opset {export.OPSET}"
        if res.exporter != "onnx"
        else "exporter  (ONNX file)",
        f"nodes     {res.nodes_before} before simplification, {res.nodes_after} after ({simp})",
        f"cached    {'yes' if res.cached else 'no'} ({res.seconds:.2f} s)",
        f"output    {row['path'] or '(not written; -o FILE saves this graph)'}",
    ]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- features


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.4g}"


def _attr_text(names: list[str], values: list[float | None]) -> str:
    """'kernel=3x3 stride=2x2 pad=2x2 dilation=1 group=1', 'perm=0,2,1,3': empties left out."""
    items: list[tuple[str, str, list[str]]] = []  # (name, group key, values)
    for k, (nm, v) in enumerate(zip(names, values, strict=True)):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        nm = nm or f"a{k}"
        m = re.fullmatch(r"(.*?)(_h|_w|\d+)", nm)
        base, tail = (m.group(1), m.group(2)) if m else (nm, "")
        key = f"{base}#" if tail in ("_h", "_w") else (f"{base}*" if tail else nm)
        if items and items[-1][1] == key and tail not in ("", "_h"):
            items[-1][2].append(_num(v))
        else:
            items.append((nm, key, [_num(v)]))
    parts = []
    for nm, key, vals in items:
        if len(vals) == 1:
            parts.append(f"{nm}={vals[0]}")
        else:
            parts.append(f"{key[:-1]}={('x' if key.endswith('#') else ',').join(vals)}")
    return " ".join(parts) or "-"


def _si(v: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:g}"


@app.command()
@user_errors
def features(
    model: ModelArg,
    batch_size: BatchSize = None,
    input_size: InputSize = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    limit: Annotated[
        int,
        typer.Option("--limit", help="Table: show at most this many nodes (0 = all)."),
    ] = 40,
) -> None:
    """The NAR-Former V2 features of a model: per-node attributes and shapes, static totals.

    JSON gives the encoded node vectors (NODE_DIM wide), the 40-dim static vector, the
    undirected edges (i < j) and degrees, and the raw numbers behind them.
    """
    from nnprof import encode as enc
    from nnprof import export
    from nnprof import graph as gr

    with err.status(f"converting {escape(model)} ..."):
        res = export.convert(model, input_size, batch_size)
    raw = gr.from_onnx(res.model, res.ref.qualified)
    eg = enc.encode(raw)
    slots = [enc.node_slots(n) for n in raw.nodes]
    other = sorted(enc.unknown_ops(raw))
    if other:
        err.print(
            f"[yellow]note:[/yellow] ops outside the vocabulary (encoded as 'other'): {escape(', '.join(other))}",
            highlight=False,
            soft_wrap=True,
        )
    if fmt is Format.json:
        _echo_json(_features_json(raw, eg, slots, enc))
        return
    _features_table(raw, eg, slots, enc, limit)


def _features_json(raw: Any, eg: Any, slots: list[list[float | None]], enc: Any) -> dict[str, Any]:
    def clean(v: float | None) -> float | None:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    nodes = [
        {
            "index": i,
            "name": n.name,
            "op": n.op,
            "slot_names": enc.slot_names(n.op),
            "attributes": [clean(v) for v in s[: enc.N_SLOTS]],
            "shape": [clean(v) for v in s[enc.N_SLOTS :]],
            "out_shape": n.out_shape,
            "macs": n.macs,
            "params": n.params,
            "mem": n.mem,
        }
        for i, (n, s) in enumerate(zip(raw.nodes, slots, strict=True))
    ]
    return {
        "model": raw.name,
        "input_shape": raw.input_shape,
        "batch_size": raw.batch_size,
        "feature_version": enc.FEATURE_VERSION,
        "node_dim": int(eg.x.shape[1]),
        "static_dim": int(eg.static.shape[0]),
        "num_nodes": eg.num_nodes,
        "num_edges": int(eg.edges.shape[1]),
        "totals": {"macs": raw.macs, "params": raw.params, "mem": raw.mem},
        "static_values": [float(v) for v in enc.static_values(raw)],
        "static": [round(float(v), 6) for v in eg.static.tolist()],
        "nodes": nodes,
        "x": [[round(float(v), 6) for v in row] for row in eg.x.tolist()],
        "edges": eg.edges.t().tolist(),
        "degree": [int(d) for d in eg.degree.tolist()],
    }


def _features_table(
    raw: Any, eg: Any, slots: list[list[float | None]], enc: Any, limit: int
) -> None:
    from collections import Counter

    from rich.table import Table

    n_nodes = len(raw.nodes)
    show = range(n_nodes) if limit <= 0 or limit >= n_nodes else range(limit)
    t = Table(title=f"{raw.name}: {n_nodes} nodes", title_justify="left", box=None, pad_edge=False)
    for col, just in (("#", "right"), ("op", "left"), ("attributes", "left"),
                      ("NxCxHxW", "left"), ("MACs", "right"), ("params", "right"), ("mem", "right")):  # fmt: skip
        t.add_column(col, justify=just, no_wrap=col != "attributes")  # type: ignore[arg-type]
    for i in show:
        n, s = raw.nodes[i], slots[i]
        attrs = _attr_text(enc.slot_names(n.op), s[: enc.N_SLOTS])
        shape = "x".join(_num(v) for v in s[enc.N_SLOTS :])
        t.add_row(str(i), escape(n.op), escape(attrs), shape, _si(n.macs), _si(n.params), _si(n.mem))
    out.print(t)
    if len(show) < n_nodes:
        err.print(
            f"... {n_nodes - len(show)} more nodes (--limit 0 shows all, --format json gives everything)"
        )

    ops = Counter(n.op for n in raw.nodes)
    macs = Counter()
    for n in raw.nodes:
        macs[n.op] += n.macs
    s = Table(title="by op", title_justify="left", box=None, pad_edge=False)
    for col in ("op", "nodes", "MACs", "share"):
        s.add_column(col, justify="left" if col == "op" else "right")
    total = max(raw.macs, 1)
    for op, c in sorted(ops.items(), key=lambda kv: (-macs[kv[0]], -kv[1], kv[0])):
        s.add_row(op, str(c), _si(macs[op]), f"{100 * macs[op] / total:.1f}%")
    out.print(s)

    sv = enc.static_values(raw)
    lines = [
        f"input        {'x'.join(map(str, raw.input_shape))} (batch {raw.batch_size})",
        f"MACs         {raw.macs:,} ({raw.macs / 1e9:.3f} G)",
        f"params       {raw.params:,} ({raw.params / 1e6:.3f} M)",
        f"memory       {raw.mem:,} elements ({4 * raw.mem / 1e6:.1f} MB fp32)",
        f"edges        {int(eg.edges.shape[1])} undirected, max degree {int(eg.degree.max().item()) if n_nodes else 0}",
        f"node vector  {int(eg.x.shape[1])} dims ({enc.N_OPS} op one-hot + {enc.N_SLOTS} attribute + 4 shape slots x {enc.PE_DIM} f_PE)",
        f"static       {int(eg.static.shape[0])} dims: f_PE of {', '.join(_num(round(v, 3)) for v in sv)} "
        "(batch, MACs, params, memory on the log scale)",
        f"features     {enc.FEATURE_VERSION}",
    ]
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
