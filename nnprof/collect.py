"""The measured zoo: generate -> convert -> raw graph -> measure, resumable, into `zoo/`.

Three stages share a work directory (default `.nnprof-collect/`, never committed):

    build     variants.generate -> export (TorchScript, opset pinned) -> onnxsim -> RawGraph
              work/onnx/<id>.onnx + work/built/<id>.json; failures in work/failed.jsonl
    measure   times built networks in blocks, rounds interleaved in time with a reference
              model (nnprof.measure); appends one line per network to work/measured.jsonl
              (flushed and fsynced: an interruption loses at most the block in progress)
    finalize  joins built and measured records into zoo/data/<family>.jsonl.gz, writes the
              split (zoo/split.json) and the summary used by the datasheet (zoo/stats.json)

Every stage skips what is already done, so re-running the same command resumes; networks
already in `zoo/data` (an earlier session's work) are neither rebuilt nor re-measured, and
`finalize` keeps them. `build`
and `measure` may run at the same time in two processes (one core each): `measure` waits
for `build` to produce work, and stops when `build` has finished and nothing is left.

The split is chosen per record from a hash of (seed, id): 10% test, 10% validation. It is
stable when the zoo grows (an id never changes side) and is recorded in zoo/split.json.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnprof import __version__
from nnprof.errors import NNProfError

TEST_FRAC = 0.1
VAL_FRAC = 0.1
BUILD_DONE = "BUILD_DONE"


@dataclass
class CollectConfig:
    zoo: Path = Path("zoo")  # where the dataset is written by `finalize`
    work: Path = Path(".nnprof-collect")  # intermediate files, resumable
    families: list[str] = field(default_factory=list)  # empty = every family of nnprof.variants
    per_family: int = 400  # variants per family (indices 0 .. per_family-1)
    seed: int = 0  # generator seed; also seeds the split
    tier: str = "base"  # budgets of nnprof.variants.TIERS: "base" (the zoo's) or "large"

    def family_list(self) -> list[str]:
        from nnprof.variants import FAMILIES

        fams = self.families or list(FAMILIES)
        unknown = [f for f in fams if f not in FAMILIES]
        if unknown:
            raise NNProfError(f"unknown family {unknown[0]!r}: choose from {', '.join(FAMILIES)}")
        return fams

    def ids_in_order(self) -> Iterator[tuple[str, int]]:
        """(family, index) interleaved across families, so partial runs stay balanced."""
        fams = self.family_list()
        for i in range(self.per_family):
            for f in fams:
                yield f, i


# ---------------------------------------------------------------------------------------
# small file helpers


def _write_atomic(path: Path, data: bytes) -> None:
    from nnprof.export import write_bytes_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)


def _append_line(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a torn last line (interrupted write) is ignored."""
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxsim
    import timm
    import torch
    import torchvision

    return {
        "nnprof": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "onnx": onnx.__version__,
        "onnxsim": getattr(onnxsim, "__version__", "?"),
        "onnxruntime": onnxruntime.__version__,
    }


def zoo_records(cfg: CollectConfig) -> dict[str, dict[str, Any]]:
    """Records already in the dataset (zoo/data/*.jsonl.gz), by id: earlier sessions' work."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((cfg.zoo / "data").glob("*.jsonl.gz")):
        n = 0
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    n += 1  # the line being read, for the error message
                    if line.strip():
                        r = json.loads(line)
                        out[r["id"]] = r
        except (OSError, EOFError, UnicodeDecodeError) as e:  # BadGzipFile is an OSError
            raise NNProfError(f"{path}: not a readable .jsonl.gz file ({type(e).__name__}: {e}); "
                              "restore it from git") from None
        except (ValueError, KeyError, TypeError) as e:
            raise NNProfError(f"{path}:{n}: not a zoo record ({type(e).__name__}: {e})") from None
    return out


# ---------------------------------------------------------------------------------------
# build


def build_one(variant) -> tuple[bytes, dict[str, Any]]:
    """One variant -> (simplified ONNX bytes, record without latency)."""
    from nnprof.export import OPSET, export_module, infer_shapes, simplify
    from nnprof.graph import from_onnx

    t0 = time.perf_counter()
    module = variant.build()
    model = export_module(module, variant.input_size, variant.batch_size, "torchscript")
    n_before = len(model.graph.node)
    model, simplified, why = simplify(model)
    model = infer_shapes(model)
    raw = from_onnx(model, name=variant.id)
    record = {
        "id": variant.id,
        "family": variant.family,
        "model": variant.id,
        "gen": variant.params,
        "index": variant.index,
        "seed": variant.seed,
        "input_size": variant.input_size,
        "batch_size": variant.batch_size,
        **({"tier": variant.tier} if variant.tier != "base" else {}),  # base records stay as they were
        "export": {
            "exporter": "torchscript",
            "opset": OPSET,
            "nodes_before": n_before,
            "nodes_after": len(model.graph.node),
            "simplified": simplified,
            "note": why,
            "seconds": round(time.perf_counter() - t0, 3),
        },
        "graph": raw.to_dict(),
    }
    return model.SerializeToString(), record


class Builder:
    """Builds missing variants one at a time, in the balanced order or in reverse.

    Two builders may share a work directory (the `run` command's build process works from
    the front of the list, its measuring process from the back while it waits for a full
    block): each variant is claimed first (work/claims/<id>, created exclusively).
    """

    def __init__(self, cfg: CollectConfig, *, reverse: bool = False,
                 on_event: Callable[[str, str], None] | None = None):
        self.cfg = cfg
        self.on_event = on_event or (lambda kind, msg: None)
        self.counts = {"built": 0, "skipped": 0, "failed": 0}
        for d in ("built", "claims", "onnx"):
            (cfg.work / d).mkdir(parents=True, exist_ok=True)
        self._skip = {r["id"] for r in read_jsonl(cfg.work / "failed.jsonl")}
        self._skip |= set(zoo_records(cfg))  # measured in an earlier session: nothing to build
        order = list(cfg.ids_in_order())
        self._todo = iter(reversed(order) if reverse else order)
        self._versions: dict[str, str] | None = None

    def _claim(self, sid: str) -> bool:
        try:
            os.close(os.open(self.cfg.work / "claims" / sid, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False

    def step(self) -> bool:
        """Build the next missing variant; False when there is nothing left to build."""
        from nnprof.variants import generate

        work = self.cfg.work
        for family, index in self._todo:
            v = generate(family, index, self.cfg.seed, self.cfg.tier)
            if v.id in self._skip or (work / "built" / f"{v.id}.json").exists() or not self._claim(v.id):
                self.counts["skipped"] += 1
                continue
            try:
                onnx_bytes, record = build_one(v)
            except Exception as e:  # a variant that cannot be exported is recorded, not fatal
                msg = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
                _append_line(work / "failed.jsonl", {"id": v.id, "family": family, "error": msg})
                self.counts["failed"] += 1
                self.on_event("failed", f"{v.id}: {msg}")
                return True
            if self._versions is None:
                self._versions = library_versions()
            record["versions"] = self._versions
            _write_atomic(work / "onnx" / f"{v.id}.onnx", onnx_bytes)
            _write_atomic(work / "built" / f"{v.id}.json", json.dumps(record, separators=(",", ":")).encode())
            self.counts["built"] += 1
            self.on_event("built", f"{v.id} ({record['export']['seconds']:.1f}s)")
            return True
        return False


def release_claims(cfg: CollectConfig) -> None:
    """Forget claims of an earlier, interrupted run (call before starting builders)."""
    d = cfg.work / "claims"
    if d.exists():
        for p in d.iterdir():
            p.unlink(missing_ok=True)


def build_stage(cfg: CollectConfig, on_event: Callable[[str, str], None] | None = None,
                *, reverse: bool = False) -> dict[str, int]:
    """Build every missing variant. Returns counts {built, skipped, failed}."""
    (cfg.work / BUILD_DONE).unlink(missing_ok=True)
    b = Builder(cfg, reverse=reverse, on_event=on_event)
    while b.step():
        pass
    (cfg.work / BUILD_DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    return b.counts


# ---------------------------------------------------------------------------------------
# measure


def pending_ids(cfg: CollectConfig) -> list[str]:
    """Built but not yet measured (nor failed to measure), in the balanced build order."""
    work = cfg.work
    done = {r["id"] for r in read_jsonl(work / "measured.jsonl")}
    done |= {r["id"] for r in read_jsonl(work / "measure_failed.jsonl")}
    built = {p.stem for p in (work / "built").glob("*.json")}
    from nnprof.variants import variant_id

    order = {variant_id(f, i, cfg.seed, cfg.tier): k for k, (f, i) in enumerate(cfg.ids_in_order())}
    return sorted(built - done, key=lambda sid: order.get(sid, len(order)))


def measure_stage(
    cfg: CollectConfig,
    *,
    block: int = 48,
    threads: int = 1,
    provider: str = "cpu",
    wait: bool = True,
    poll_s: float = 10.0,
    limit: int | None = None,
    building: Callable[[], bool] | None = None,
    builder: Builder | None = None,
    on_event: Callable[[str, str], None] | None = None,
) -> dict[str, int]:
    """Time built networks block by block until none is left (and `build` has finished).

    With `wait`, an empty queue waits while the build stage is still running: `building()`
    when given (a child process), else until its BUILD_DONE marker appears. With a
    `builder`, the wait is spent building variants on this core (never while timing).
    Each block is one `measure.measure_many` call: rounds interleaved across the block,
    a reference network probed alongside. One JSON line per network, fsynced; the
    reference's time per block goes to work/reference.jsonl (the drift log).
    """
    from nnprof.measure import DEFAULT_PROTOCOL, measure_many, platform_fingerprint

    on_event = on_event or (lambda kind, msg: None)
    work = cfg.work
    fingerprint = platform_fingerprint(threads, provider)
    counts = {"measured": 0, "failed": 0}
    while limit is None or counts["measured"] < limit:
        ids = pending_ids(cfg)
        still = wait and (building() if building is not None else not (work / BUILD_DONE).exists())
        if not ids and not still:
            break
        if still and len(ids) < block:  # a full block spaces each network's rounds further apart
            if builder is None or not builder.step():  # help the build while waiting
                time.sleep(poll_s)
            continue
        ids = ids[: block if limit is None else min(block, limit - counts["measured"])]
        paths = [work / "onnx" / f"{sid}.onnx" for sid in ids]
        t0 = time.time()
        try:
            results = measure_many(paths, threads=threads, provider=provider)
        except NNProfError:
            # one bad network must not stop the collection: time the block one by one
            results = []
            for sid, p in zip(ids, paths, strict=True):
                try:
                    results.append(measure_many([p], threads=threads, provider=provider)[0])
                except NNProfError as e:
                    _append_line(work / "measure_failed.jsonl", {"id": sid, "error": str(e)[:300]})
                    counts["failed"] += 1
                    on_event("failed", f"{sid}: {e}")
                    results.append(None)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        for sid, m in zip(ids, results, strict=True):
            if m is None:
                continue
            stats = m.stats()
            _append_line(
                work / "measured.jsonl",
                {"id": sid, "latency_ms": m.latency_ms, "latency": stats, "platform": fingerprint,
                 "timestamp": stamp},
            )
            counts["measured"] += 1
        for p in paths:  # weights take ~20 MB a network: keep only what is still to be timed
            p.unlink(missing_ok=True)
        ref = next((m.ref_ms for m in results if m is not None and m.ref_ms), None)
        _append_line(
            work / "reference.jsonl",
            {"timestamp": stamp, "ref_ms": ref, "block": len(ids), "seconds": round(time.time() - t0, 2),
             "protocol": DEFAULT_PROTOCOL.name},
        )
        on_event("block", f"{len(ids)} networks in {time.time() - t0:.0f}s (reference {ref or 0:.4f} ms)")
    return counts


# ---------------------------------------------------------------------------------------
# finalize


def split_of(seed: int, sample_id: str) -> str:
    """'test', 'val' or 'train', fixed by a hash of (seed, id)."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:8], "big") / 2**64
    if h < TEST_FRAC:
        return "test"
    if h < TEST_FRAC + VAL_FRAC:
        return "val"
    return "train"


def _gzip_lines(records: list[dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    # mtime=0: the same records give the same bytes, so an unchanged family is an unchanged file
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        for r in records:
            gz.write((json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n").encode())
    return buf.getvalue()


def finalize(cfg: CollectConfig) -> dict[str, Any]:
    """Join built + measured records into zoo/data/*.jsonl.gz, zoo/split.json, zoo/stats.json."""
    work = cfg.work
    measured = {r["id"]: r for r in read_jsonl(work / "measured.jsonl")}
    previous = zoo_records(cfg)
    if not measured and not previous:
        raise NNProfError(f"nothing measured yet in {work}: run `nnprof collect measure` first")
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sid, rec in previous.items():
        if sid not in measured:
            by_family[rec["family"]].append(rec)
    for sid, m in sorted(measured.items()):
        p = work / "built" / f"{sid}.json"
        if not p.exists():
            continue
        rec = json.loads(p.read_text())
        rec.update(
            latency_ms=m["latency_ms"],
            latency=m.get("latency", {}),
            platform=m["platform"],
            measured_at=m.get("timestamp"),
        )
        by_family[rec["family"]].append(rec)
    split: dict[str, Any] = {"seed": cfg.seed, "test_frac": TEST_FRAC, "val_frac": VAL_FRAC, "val": [], "test": []}
    stats: dict[str, Any] = {"families": {}}
    for fam, recs in sorted(by_family.items()):
        recs.sort(key=lambda r: (r.get("tier", "base") != "base", r["index"]))  # base first, as before
        _write_atomic(cfg.zoo / "data" / f"{fam}.jsonl.gz", _gzip_lines(recs))
        lat = sorted(r["latency_ms"] for r in recs)
        for r in recs:
            side = split_of(cfg.seed, r["id"])
            if side != "train":
                split[side].append(r["id"])
        stats["families"][fam] = {
            "count": len(recs),
            "latency_ms_min": lat[0],
            "latency_ms_median": lat[len(lat) // 2],
            "latency_ms_max": lat[-1],
            "nodes_median": sorted(len(r["graph"]["nodes"]) for r in recs)[len(recs) // 2],
            "batch_sizes": sorted({r["batch_size"] for r in recs}),
            "input_sizes": [min(r["input_size"] for r in recs), max(r["input_size"] for r in recs)],
        }
    stats["total"] = sum(f["count"] for f in stats["families"].values())
    stats["platform"] = next(r for recs in by_family.values() for r in recs)["platform"]
    _write_atomic(cfg.zoo / "split.json", json.dumps(split, indent=0).encode())
    _write_atomic(cfg.zoo / "stats.json", json.dumps(stats, indent=2).encode())
    return stats
