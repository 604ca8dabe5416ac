"""On-disk cache of parsed and encoded graphs, so a repeated `predict` or `zoo` skips
conversion, ONNX parsing and encoding.

`export.convert` already caches the converted ONNX file, but reading it back still costs
up to seconds for large models (the weights are inside) plus the parse. This cache holds
what prediction needs: the raw graph (`RawGraph.to_dict()`) and its encoding (node
features, static features, edges, degree), a few kilobytes to a megabyte per entry.

Keys (sha256, hex) are content hashes of everything that determines the entry:

* zoo model: the export cache key (model, input size, batch size, opset, exporters and the
  versions of torch, torchvision, timm, onnx, onnxsim and nnprof) + `FEATURE_VERSION` +
  the raw-graph version + this cache's format;
* ONNX file: sha256 of the file's bytes + the requested batch and input size + the same
  versions (so an edited file is a new entry).

Entry file ``$NNPROF_CACHE_DIR/features/<stem>-<key16>.nnpf`` (default cache dir
``~/.cache/nnprof``): the line ``nnprof-features <sha256 of the body>``, then the body,
a ``torch.save`` of plain types and tensors (read back with ``weights_only=True``). A
file whose checksum, key, version or tensor shapes do not match is corrupt: `load`
reports it and the caller rebuilds the entry. Writes are atomic (temporary file in the
same directory + ``os.replace``); a read-only cache dir only costs speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnprof import __version__
from nnprof.zoo import ModelRef, cache_dir

if TYPE_CHECKING:
    from nnprof.encode import EncodedGraph
    from nnprof.graph import RawGraph

CACHE_FORMAT = 1  # bump when an entry's layout or meaning changes
MAGIC = b"nnprof-features"
SUFFIX = ".nnpf"


@dataclass
class Entry:
    """What prediction needs about one (model, input size, batch size)."""

    raw: RawGraph
    encoded: EncodedGraph
    info: dict[str, Any] = field(default_factory=dict)  # model, input_size, batch_size, ...


def features_dir() -> Path:
    return cache_dir() / "features"


def _versions() -> dict[str, str]:
    from nnprof.encode import FEATURE_VERSION
    from nnprof.graph import RAW_GRAPH_VERSION

    return {
        "feature_version": FEATURE_VERSION,
        "raw_graph_version": str(RAW_GRAPH_VERSION),
        "cache_format": str(CACHE_FORMAT),
        "nnprof": __version__,
    }


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def zoo_key(ref: ModelRef, input_size: int, batch_size: int) -> str:
    """Key of a zoo model's entry: the export cache key + the feature versions."""
    from nnprof.export import cache_key

    return _hash({"export": cache_key(ref, input_size, batch_size), **_versions()})


def file_key(data: bytes, input_size: int | None, batch_size: int | None) -> str:
    """Key of an ONNX file's entry: its bytes' sha256 + the requested shape + versions."""
    return _hash(
        {
            "onnx_sha256": hashlib.sha256(data).hexdigest(),
            "input_size": input_size,
            "batch_size": batch_size,
            **_versions(),
        }
    )


def entry_path(key: str, label: str = "") -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:80] if label else "graph"
    return features_dir() / f"{stem}-{key[:16]}{SUFFIX}"


def load(key: str, label: str = "") -> tuple[Entry | None, bool]:
    """(entry, False) on a hit; (None, False) when absent; (None, True) when the file
    exists but is corrupt or stale (the caller rebuilds and `store`s it again)."""
    path = entry_path(key, label)
    if not path.exists():
        return None, False
    try:
        return _decode(path.read_bytes(), key), False
    except Exception:  # any damage (truncation, bit flips, wrong shapes) means: rebuild
        return None, True


def store(key: str, entry: Entry, label: str = "") -> bool:
    """Write an entry atomically; False (and nothing written) if the cache dir is not writable."""
    path = entry_path(key, label)
    data = _encode(entry, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def _encode(entry: Entry, key: str) -> bytes:
    import torch

    e = entry.encoded
    body = {
        "format": CACHE_FORMAT,
        "key": key,
        **_versions(),
        "info": json.dumps(entry.info, sort_keys=True),
        "raw": entry.raw.to_json(),
        "x": e.x.detach().cpu().contiguous(),
        "static": e.static.detach().cpu().contiguous(),
        "edges": e.edges.detach().cpu().contiguous(),
        "degree": e.degree.detach().cpu().contiguous(),
    }
    buf = io.BytesIO()
    torch.save(body, buf)
    blob = buf.getvalue()
    return MAGIC + b" " + hashlib.sha256(blob).hexdigest().encode() + b"\n" + blob


def _decode(data: bytes, key: str) -> Entry:
    import torch

    from nnprof.encode import NODE_DIM, STATIC_DIM, EncodedGraph
    from nnprof.graph import RawGraph

    head, sep, blob = data.partition(b"\n")
    magic, _, digest = head.partition(b" ")
    if not sep or magic != MAGIC or hashlib.sha256(blob).hexdigest().encode() != digest:
        raise ValueError("bad header or checksum")
    body = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    if body.get("format") != CACHE_FORMAT or body.get("key") != key:
        raise ValueError("another key or format")
    if any(body.get(k) != v for k, v in _versions().items()):
        raise ValueError("stale versions")
    raw = RawGraph.from_json(body["raw"])
    x, static, edges, degree = body["x"], body["static"], body["edges"], body["degree"]
    n = len(raw.nodes)
    if (
        tuple(x.shape) != (n, NODE_DIM)
        or tuple(static.shape) != (STATIC_DIM,)
        or edges.dim() != 2
        or edges.shape[0] != 2
        or tuple(degree.shape) != (n,)
        or (edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= n))
    ):
        raise ValueError("tensor shapes do not fit the graph")
    enc = EncodedGraph(x=x.float(), static=static.float(), edges=edges.long(), degree=degree.float())
    return Entry(raw=raw, encoded=enc, info=json.loads(body["info"]))


def clear() -> int:
    """Delete every entry; returns how many were removed."""
    n = 0
    d = features_dir()
    if d.is_dir():
        for p in d.glob(f"*{SUFFIX}"):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n
