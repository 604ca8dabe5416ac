"""nn.Module -> checked, simplified, shape-inferred ONNX, with an on-disk cache.

Pipeline (``convert``): resolve the name (zoo) -> build with random weights -> export with
an explicitly chosen exporter at a pinned opset -> ``onnx.checker`` -> onnxsim (node counts
before/after; if it fails the unsimplified graph is kept and the result says so) -> ONNX
shape inference -> cache.

Exporter: the TorchScript exporter (``dynamo=False``) first, the dynamo exporter as the
fallback (``EXPORTERS``). Measured over the zoo (scripts/bench_frontend.py, CHANGELOG),
TorchScript is several times faster and converts the same models; dynamo rescues the few
that tracing cannot handle. Both run under ``torch.no_grad()`` with the
``nn.MultiheadAttention`` fast path switched off, because the fused kernel
(``aten::_native_multi_head_attention``, taken by torchvision's ViT under no_grad) has no
ONNX export.

Cache: ``$NNPROF_CACHE_DIR`` or ``~/.cache/nnprof``, sub-directory ``onnx/``. An entry is
``<name>.onnx`` plus ``<name>.json`` (sha256 of the ONNX bytes, counts, message), keyed
by model, input size, batch size, opset, exporter order and the versions of torch,
torchvision, timm, onnx, onnxsim and nnprof. The JSON is written last and is the commit
mark: an entry whose JSON is missing, unreadable or whose checksum or ONNX fails to load
is rebuilt. Every write is a temporary file in the same directory + ``os.replace``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from nnprof import __version__
from nnprof.errors import NNProfError
from nnprof.zoo import ModelRef, cache_dir, default_input_size, resolve

if TYPE_CHECKING:
    import onnx
    from torch import nn

OPSET = 18  # the dynamo exporter's native opset, so a fallback export needs no conversion
EXPORTERS = ("torchscript", "dynamo")  # tried in this order
CACHE_FORMAT = 1  # bump when the cached file's meaning changes
_PROTOBUF_LIMIT = 2**31 - 1  # a single ONNX file (weights inside) must stay below 2 GB


@dataclass
class ConvertResult:
    """One converted model and how it was obtained."""

    ref: ModelRef
    model: onnx.ModelProto  # simplified (if it worked) and shape-inferred, with weights
    path: Path | None  # the cached file (the input file for ONNX input; None if not cached)
    input_size: int | None  # spatial size of the input (None: taken from the ONNX file)
    batch_size: int | None
    nodes_before: int  # nodes as exported
    nodes_after: int  # nodes after simplification (== before if not simplified)
    simplified: bool
    cached: bool  # True: read from the cache, nothing exported
    exporter: str  # 'torchscript' | 'dynamo' | 'onnx' (a given file)
    message: str = ""  # what happened worth telling (fallbacks, failed simplification)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


# --------------------------------------------------------------------------- versions, cache


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("torch", "torchvision", "timm", "onnx", "onnxsim"):
        try:
            out.append((pkg, version(pkg)))
        except PackageNotFoundError:
            out.append((pkg, "missing"))
    return tuple(out)


def versions() -> dict[str, str]:
    """Versions of everything that shapes the exported graph (packages looked up once per process)."""
    out = {"nnprof": __version__, "opset": str(OPSET), "exporters": ",".join(EXPORTERS)}
    out.update(_package_versions())
    out["cache_format"] = str(CACHE_FORMAT)
    return out


def cache_key(ref: ModelRef, input_size: int, batch_size: int) -> str:
    payload = {
        "model": ref.qualified,
        "input_size": input_size,
        "batch_size": batch_size,
        "versions": versions(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _entry_stem(ref: ModelRef, input_size: int, batch_size: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{ref.source}-{ref.name}")
    return f"{safe}-s{input_size}-b{batch_size}-{cache_key(ref, input_size, batch_size)[:16]}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def new_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """`write(f)` into a temporary file in the same directory, then os.replace: nothing
    half-written, no temporary file left on failure. The file gets the umask's usual mode."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda f: f.write(data))


def check_writable(path: str | os.PathLike[str], create_dirs: bool = False) -> Path:
    """Fail early, in one line, if `path` cannot be written (before any slow work).
    `create_dirs`: the writer makes missing folders, so only the nearest existing one
    must be a writable directory."""
    p = Path(path).expanduser()
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise NNProfError(f"cannot write {p}: it is a directory; give a file name")
    if not parent.is_dir():
        up = next((a for a in (parent, *parent.parents) if a.exists()), None)  # nearest existing
        if up is not None and not up.is_dir():
            raise NNProfError(f"cannot write {p}: {up} is a file, not a directory")
        if not create_dirs or up is None:
            raise NNProfError(f"cannot write {p}: directory {parent} does not exist")
        parent = up
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise NNProfError(f"cannot write {p}: permission denied")
    # os.access says yes to root everywhere and knows nothing of /proc-like filesystems:
    # create (and remove) a file where the writer will put its temporary one
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=parent)
    except OSError as e:
        raise write_error(p, e) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return p


def opset_of(model: onnx.ModelProto) -> int | None:
    """The default-domain opset a model declares."""
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def with_external_data(model: onnx.ModelProto, base_dir: Path) -> onnx.ModelProto:
    """A copy whose initializers stored in external files (relative to `base_dir`) hold
    their data inline, so that saving it elsewhere makes a complete file; `model` itself
    when it has none. One-line NNProfError when a data file is missing."""
    import onnx
    from onnx import external_data_helper as edh

    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    try:
        edh.load_external_data_for_model(out, str(base_dir))
    except (OSError, ValueError, onnx.checker.ValidationError) as e:  # a missing or unsafe data file
        raise NNProfError(f"cannot read the ONNX file's external weight data ({_first_line(e)})") from None
    return out


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike[str]) -> Path:
    """Save a model (weights inside) atomically; one-line NNProfError if it cannot."""
    p = check_writable(path)
    data = _serialize(model)
    try:
        write_bytes_atomic(p, data)
    except OSError as e:
        raise write_error(p, e) from None
    return p


def _serialize(model: onnx.ModelProto) -> bytes:
    if model.ByteSize() > _PROTOBUF_LIMIT:
        raise NNProfError("the model is larger than 2 GB, more than one ONNX file can hold")
    return model.SerializeToString()


def _read_cache(stem: Path) -> tuple[onnx.ModelProto, dict] | None:
    """A valid cache entry, or None (missing or corrupt: the caller rebuilds it)."""
    import onnx

    onnx_path, meta_path = stem.with_suffix(".onnx"), stem.with_suffix(".json")
    if not meta_path.exists() or not onnx_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        data = onnx_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta["sha256"]:
            return None
        model = onnx.load_from_string(data)
        if not model.graph.node:
            return None
        meta = dict(meta, nodes_before=int(meta["nodes_before"]), nodes_after=int(meta["nodes_after"]),
                    simplified=bool(meta["simplified"]), exporter=str(meta["exporter"]),
                    message=str(meta.get("message") or ""))
        if meta["exporter"] in ("", "None"):  # a null or empty exporter: not what convert wrote
            return None
        return model, meta
    except Exception:  # unreadable JSON or ONNX, missing keys: treat as absent
        return None


def _write_cache(stem: Path, model: onnx.ModelProto, meta: dict) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    data = _serialize(model)
    write_bytes_atomic(stem.with_suffix(".onnx"), data)
    meta = dict(meta, sha256=hashlib.sha256(data).hexdigest())
    write_bytes_atomic(stem.with_suffix(".json"), json.dumps(meta, indent=1).encode())


# --------------------------------------------------------------------------- export


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter and onnxsim chatter: Python warnings and prints, and what their C++
    parts write straight to file descriptors 1 and 2 (onnxsim prints warnings to stdout,
    which would corrupt `--format json` output)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved: list[tuple[int, int]] = []
    with tempfile.TemporaryFile() as sink:
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(sink.fileno(), fd)
                except OSError:  # no such descriptor (embedded interpreters): leave it
                    pass
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                warnings.simplefilter("ignore")
                yield
        finally:
            for fd, dup in saved:
                os.dup2(dup, fd)
                os.close(dup)


@contextlib.contextmanager
def _no_mha_fastpath() -> Iterator[None]:
    """Turn off nn.MultiheadAttention's fused fast path (no ONNX export for it)."""
    import torch

    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def export_module(
    module: nn.Module, input_size: int, batch_size: int = 1, exporter: str = "torchscript"
) -> onnx.ModelProto:
    """Export one module with the given exporter at OPSET; raises whatever the exporter raises."""
    import onnx
    import torch

    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}")
    x = torch.randn(batch_size, 3, input_size, input_size)  # (B, 3, H, W)
    # In memory, not via a file: writing and re-reading the weights costs seconds.
    with torch.no_grad(), _no_mha_fastpath(), _quiet():
        if exporter == "torchscript":
            buf = io.BytesIO()
            torch.onnx.export(
                module,
                (x,),
                buf,
                dynamo=False,
                opset_version=OPSET,
                input_names=["input"],
                output_names=["output"],
                do_constant_folding=True,
            )
            return onnx.load_from_string(buf.getvalue())
        prog = torch.onnx.export(
            module,
            (x,),
            dynamo=True,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            optimize=True,
            verbose=False,
            report=False,
        )
        return prog.model_proto


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:200]


def write_error(path: str | os.PathLike[str], e: BaseException) -> NNProfError:
    """The one-line error for a file that could not be written: an OSError's reason
    (strerror), else the first line of the message."""
    reason = (e.strerror or e) if isinstance(e, OSError) else _first_line(e)
    return NNProfError(f"cannot write {path}: {reason}")


def simplify(model: onnx.ModelProto) -> tuple[onnx.ModelProto, bool, str]:
    """onnxsim; on failure the input model is returned unchanged with the reason."""
    import onnxsim

    try:
        with _quiet():
            simp, ok = onnxsim.simplify(model)
    except Exception as e:
        return model, False, f"onnxsim failed ({type(e).__name__}: {_first_line(e)})"
    if not ok:
        return model, False, "onnxsim's check failed"
    return simp, True, ""


_SMALL = 1024  # initializers up to this many elements keep their values for data propagation


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference (strict, else non-strict), run on a copy without the weights.

    Big initializers keep only name, type and dims in that copy (inference needs no more;
    small ones, such as Reshape targets, keep their values): serialising the weights into
    the C++ inference costs seconds on large models. The inferred shapes are then written
    into `model`, which is returned.
    """
    import onnx
    from onnx import shape_inference

    g = model.graph
    sk = onnx.ModelProto()
    _copy_except(model, sk, "graph")
    _copy_except(g, sk.graph, "initializer")
    for t in g.initializer:
        stub = sk.graph.initializer.add()
        n = 1
        for d in t.dims:
            n *= d
        if n <= _SMALL:
            stub.CopyFrom(t)
        else:
            stub.name, stub.data_type = t.name, t.data_type
            stub.dims.extend(t.dims)
    try:
        inferred = shape_inference.infer_shapes(sk, strict_mode=True, data_prop=True)
    except Exception:
        inferred = shape_inference.infer_shapes(sk, strict_mode=False, data_prop=True)
    del g.value_info[:]
    g.value_info.extend(inferred.graph.value_info)
    del g.output[:]
    g.output.extend(inferred.graph.output)
    return model


def _copy_except(src, dst, skip: str) -> None:
    """Copy every set protobuf field of src into dst except one (no serialisation)."""
    for f, v in src.ListFields():
        if f.name == skip:
            continue
        rep = getattr(f, "is_repeated", None)
        if rep if rep is not None else f.label == f.LABEL_REPEATED:
            getattr(dst, f.name).extend(v)
        elif f.message_type is not None:
            getattr(dst, f.name).CopyFrom(v)
        else:
            setattr(dst, f.name, v)


def _export_any(
    module: nn.Module, input_size: int, batch_size: int, ref: ModelRef
) -> tuple[onnx.ModelProto, str, list[str]]:
    """Try the exporters in order; NNProfError naming each failure if none works."""
    import onnx

    failures: list[str] = []
    for exporter in EXPORTERS:
        try:
            model = export_module(module, input_size, batch_size, exporter)
            onnx.checker.check_model(model)
            return model, exporter, failures
        except Exception as e:
            if "can't allocate memory" in str(e) or isinstance(e, MemoryError):
                need = re.search(r"allocate (\d+) bytes", str(e))
                size = f" ({int(need.group(1)) / 2**30:,.1f} GiB for one tensor)" if need else ""
                raise NNProfError(
                    f"cannot export {ref} at batch {batch_size}, input {input_size}: out of memory{size}; "
                    "use a smaller --batch-size or --input-size"
                ) from None
            failures.append(f"{exporter}: {type(e).__name__}: {_first_line(e)}")
    raise NNProfError(f"cannot export {ref} to ONNX: " + "; ".join(failures))


def convert(
    name_or_path: str | ModelRef,
    input_size: int | None = None,
    batch_size: int | None = 1,
    cache: bool = True,
) -> ConvertResult:
    """A model name or an .onnx path -> ConvertResult (see the module docstring).

    For an ONNX file: loaded (graph.load_onnx) and its input fixed to the given batch and
    input size (graph.set_input_shape: a dynamic batch becomes 1); not re-exported,
    simplified or cached. For a zoo model: `input_size` None means the model's default,
    `batch_size` None means 1.
    """
    t0 = time.perf_counter()
    ref = name_or_path if isinstance(name_or_path, ModelRef) else resolve(str(name_or_path))
    for what, v in (("--batch-size", batch_size), ("--input-size", input_size)):
        if v is not None and int(v) <= 0:
            raise NNProfError(f"{what} must be a positive integer, got {v}")
    if ref.source == "onnx":
        return _convert_file(ref, input_size, batch_size, t0)

    size = int(input_size or default_input_size(ref) or 224)
    batch = int(batch_size or 1)
    stem = cache_dir() / "onnx" / _entry_stem(ref, size, batch)
    notes: list[str] = []
    if cache:
        hit = _read_cache(stem)
        if hit is not None:
            model, meta = hit
            return ConvertResult(
                ref=ref,
                model=model,
                path=stem.with_suffix(".onnx"),
                input_size=size,
                batch_size=batch,
                nodes_before=meta["nodes_before"],
                nodes_after=meta["nodes_after"],
                simplified=meta["simplified"],
                cached=True,
                exporter=meta["exporter"],
                message=meta["message"],
                seconds=time.perf_counter() - t0,
            )
        if stem.with_suffix(".json").exists() or stem.with_suffix(".onnx").exists():
            notes.append("the cache entry was corrupt and has been rebuilt")

    from nnprof.zoo import build

    timings: dict[str, float] = {}
    t = time.perf_counter()
    module = build(ref, size)
    timings["build"] = time.perf_counter() - t
    t = time.perf_counter()
    exported, exporter, failures = _export_any(module, size, batch, ref)
    timings["export"] = time.perf_counter() - t
    del module
    if failures:
        notes.append(f"exported with {exporter} after {'; '.join(failures)}")
    before = len(exported.graph.node)
    t = time.perf_counter()
    model, simplified, why = simplify(exported)
    timings["simplify"] = time.perf_counter() - t
    if not simplified:
        notes.append(f"not simplified: {why}; kept the exported graph")
    t = time.perf_counter()
    try:
        model = infer_shapes(model)
    except Exception as e:
        notes.append(f"shape inference failed ({_first_line(e)})")
    timings["infer"] = time.perf_counter() - t
    message = "; ".join(notes)
    meta = {
        "model": ref.qualified,
        "input_size": size,
        "batch_size": batch,
        "nodes_before": before,
        "nodes_after": len(model.graph.node),
        "simplified": simplified,
        "exporter": exporter,
        "message": "; ".join(n for n in notes if "cache entry" not in n),
        "versions": versions(),
    }
    path: Path | None = None
    if cache:
        t = time.perf_counter()
        try:
            _write_cache(stem, model, meta)
            path = stem.with_suffix(".onnx")
            timings["write"] = time.perf_counter() - t
        except OSError as e:
            message = "; ".join(
                [*notes, f"not cached: cannot write {stem.parent} ({e.strerror or e})"]
            )
    return ConvertResult(
        ref=ref,
        model=model,
        path=path,
        input_size=size,
        batch_size=batch,
        nodes_before=before,
        nodes_after=len(model.graph.node),
        simplified=simplified,
        cached=False,
        exporter=exporter,
        message=message,
        seconds=time.perf_counter() - t0,
        timings=timings,
    )


def _convert_file(
    ref: ModelRef, input_size: int | None, batch_size: int | None, t0: float
) -> ConvertResult:
    from nnprof.graph import load_onnx, set_input_shape

    model = load_onnx(ref.path)  # type: ignore[arg-type]
    try:
        model = set_input_shape(model, batch_size, input_size)
    except NNProfError as e:  # e.g. "the ONNX graph has no inputs": it cannot know the file
        raise NNProfError(f"{ref.path}: {e}") from None
    n = len(model.graph.node)
    inp = _input_dims(model)
    return ConvertResult(
        ref=ref,
        model=model,
        path=ref.path,
        input_size=input_size or (inp[-1] if len(inp) >= 3 else None),
        batch_size=batch_size or (inp[0] if inp else None),
        nodes_before=n,
        nodes_after=n,
        simplified=False,
        cached=False,
        exporter="onnx",
        message="ONNX file: used as given (not re-exported or simplified)",
        seconds=time.perf_counter() - t0,
    )


def _input_dims(model: onnx.ModelProto) -> list[int]:
    inits = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name not in inits:
            return [d.dim_value for d in vi.type.tensor_type.shape.dim]
    return []
