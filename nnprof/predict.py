"""Latency prediction for named models and ONNX files: features (cached), one checkpoint
loaded once, all graphs of a call predicted in batches, and warnings about graphs the
checkpoint knows little about.

    refs --graph_features (nnprof.cache)--> GraphFeatures --Predictor.predict--> ms
        --Predictor.check--> warnings --result_row--> the rows `nnprof predict` prints

The checkpoint is a `nnprof.train` checkpoint. `load_predictor(None)` loads the bundled
default, `DEFAULT_CHECKPOINT` (``checkpoints/nnprof-latency.pt`` in the source tree); the
commands first look for a bundled checkpoint measured on the CPU in question
(`auto_checkpoint`). When the default file is missing the user is told, in one line, how
to make one (`TRAIN_COMMAND`).

Training range. The warnings compare a graph with the checkpoint's training-data
description (``ckpt["train_data"]``, `nnprof.data.summary`, widened by
``ckpt["finetune"]["train_data"]`` after fine-tuning):

* ``ops`` (list of op types, or a dict op -> count) if the checkpoint has it: an op the
  training graphs never held is reported. Without it, ops outside the encoder's vocabulary
  (they share its "other" slot, `encode.unknown_ops`) are reported instead.
* ``nodes``, ``macs`` and ``latency_ms`` (``{"min", "max"}``): a graph more than `FAR`
  times beyond the range (node count, MACs, or the predicted latency) is reported.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnprof.errors import NNProfError
from nnprof.zoo import ModelRef, default_input_size

if TYPE_CHECKING:
    import torch

    from nnprof.encode import EncodedGraph
    from nnprof.graph import RawGraph

# The one place that names the bundled checkpoint.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "nnprof-latency.pt"
TRAIN_COMMAND = "nnprof train zoo/ -o checkpoints/nnprof-latency.pt"
FAR = 2.0  # a graph this many times beyond the training range gets a warning
PLATFORM_KEYS = ("cpu", "cpu_id", "threads", "provider", "onnxruntime", "precision")  # measure.FINGERPRINT_KEYS


# --------------------------------------------------------------------------- features


@dataclass
class GraphFeatures:
    """One (model, input size, batch size), parsed and encoded."""

    ref: ModelRef
    input_size: int | None  # None: an ONNX file whose spatial size is not known
    batch_size: int
    raw: RawGraph
    encoded: EncodedGraph
    cached: bool  # True: read from the features cache (nothing converted or parsed)
    seconds: float
    notes: list[str] = field(default_factory=list)  # e.g. a corrupt cache entry rebuilt

    @property
    def model(self) -> str:
        return self.ref.qualified


def _read_file(ref: ModelRef) -> bytes:
    assert ref.path is not None
    try:
        return Path(ref.path).read_bytes()
    except OSError as e:
        raise NNProfError(f"{ref.path}: cannot read ({e.strerror or e})") from None


def _cache_key(
    ref: ModelRef, input_size: int | None, batch_size: int | None
) -> tuple[str, int | None, str]:
    """(features-cache key, input size used, file label) of one (model, input size, batch).

    batch_size None: an ONNX file keeps its own batch (1 if dynamic); a zoo model gets 1.
    """
    from nnprof import cache

    if (batch_size is not None and batch_size < 1) or (input_size is not None and input_size < 1):
        raise NNProfError("--batch-size and --input-size must be positive integers")
    if ref.source == "onnx":
        key = cache.file_key(_read_file(ref), input_size, batch_size)
        size = input_size
    else:
        batch_size = batch_size or 1
        size = int(input_size or default_input_size(ref) or 224)
        key = cache.zoo_key(ref, size, batch_size)
    return key, size, f"{ref.source}-{ref.name}-s{size}-b{batch_size or 'file'}"


def _task_label(ref: ModelRef, batch_size: int | None) -> str:
    """Progress text of one (model, batch) task."""
    return f"{ref.qualified} (batch {batch_size})" if batch_size else ref.qualified


def graph_features(
    ref: ModelRef, input_size: int | None = None, batch_size: int | None = 1, use_cache: bool = True
) -> GraphFeatures:
    """Convert (cached by `export.convert`), parse and encode one model; cached on disk.

    batch_size None: an ONNX file keeps the batch it was saved with (1 if dynamic), a zoo
    model gets 1.

    A hit in the features cache skips all three. A corrupt entry is rebuilt (and said so
    in `notes`). Conversion problems raise NNProfError.
    """
    from nnprof import cache

    t0 = time.perf_counter()
    key, size, label = _cache_key(ref, input_size, batch_size)
    notes: list[str] = []
    if use_cache:
        hit, corrupt = cache.load(key, label)
        if hit is not None:
            info = hit.info
            return GraphFeatures(
                ref, info.get("input_size"), int(info.get("batch_size") or batch_size or 1),
                hit.raw, hit.encoded, True, time.perf_counter() - t0,
            )
        if corrupt:
            notes.append("its features cache entry was corrupt and has been rebuilt")

    from nnprof import encode as enc
    from nnprof import export
    from nnprof.graph import from_onnx

    res = export.convert(ref, size, batch_size, cache=use_cache)
    if res.message and "cache entry was corrupt" in res.message:
        notes.append("its ONNX cache entry was corrupt and has been rebuilt")
    try:
        raw = from_onnx(res.model, name=ref.qualified)
    except NNProfError as e:
        raise NNProfError(f"{ref}: {e}") from None
    if not raw.nodes:
        raise NNProfError(f"{ref}: the graph has no nodes")
    encoded = enc.encode(raw)
    real_size = res.input_size if res.input_size else size
    real_batch = int(res.batch_size or raw.batch_size or batch_size or 1)
    if use_cache:
        info = {"model": ref.qualified, "input_size": real_size, "batch_size": real_batch,
                "exporter": res.exporter, "simplified": res.simplified}
        cache.store(key, cache.Entry(raw, encoded, info), label)
    return GraphFeatures(ref, real_size, real_batch, raw, encoded, False, time.perf_counter() - t0, notes)


# --------------------------------------------------------------------------- checkpoint


def bundled_checkpoints() -> dict[str, Path]:
    """The checkpoints shipped next to the default one, by short name: ``default`` is
    ``nnprof-latency.pt``, ``zen3`` is ``nnprof-latency-zen3.pt`` and so on."""
    found = {p.stem[len(DEFAULT_CHECKPOINT.stem):].lstrip("-") or "default": p
             for p in DEFAULT_CHECKPOINT.parent.glob(f"{DEFAULT_CHECKPOINT.stem}*.pt")}
    return dict(sorted(found.items(), key=lambda kv: (kv[0] != "default", kv[0])))  # the default first


def checkpoint_path(path: str | Path | None = None) -> Path:
    """The checkpoint to use: `path` (a file, or a bundled checkpoint's short name such as
    ``zen3``), or the bundled default; one-line error if it is missing."""
    if path is None:
        if not DEFAULT_CHECKPOINT.is_file():
            raise NNProfError(
                f"no bundled checkpoint at {DEFAULT_CHECKPOINT}; train one with "
                f"`{TRAIN_COMMAND}` or pass --checkpoint FILE"
            )
        return DEFAULT_CHECKPOINT
    p = Path(path).expanduser()
    if not p.is_file():
        bundled = bundled_checkpoints()
        if str(path) in bundled:  # a bundled name; only a file of that name would shadow it
            return bundled[str(path)]
        what = "is a directory, not a checkpoint file" if p.is_dir() else "not found"
        looks_like_a_name = bundled and p.suffix == "" and len(p.parts) == 1
        names = f" (bundled: {', '.join(bundled)}; `nnprof checkpoints` lists them)" if looks_like_a_name else ""
        raise NNProfError(
            f"checkpoint {p} {what}{names}; train one with `{TRAIN_COMMAND}` (or fine-tune one with "
            "`nnprof finetune measurements.csv -o FILE`)"
        )
    return p


def family_model(cpu_id: str) -> str | None:
    """'family 25 model 1' from a fingerprint's cpu_id, None when it names neither."""
    fm = re.search(r"family=(\S+) model=(\S+)", cpu_id)
    return f"family {fm.group(1)} model {fm.group(2)}" if fm else None


def describe_platform(platform: dict[str, Any] | None) -> str:
    """One short line: 'Intel Xeon ..., 1 thread, cpu, onnxruntime 1.x, fp32'."""
    if not platform:
        return "unknown (mixed or unrecorded training platforms)"
    if "cpu" in platform or "provider" in platform:
        parts = [str(platform.get("cpu", "?"))]
        # a VM often names only the vendor line ("AMD EPYC"): the family/model tell machines apart
        fm = family_model(str(platform.get("cpu_id", "")))
        if fm:
            parts[0] += f" ({fm})"
        if platform.get("threads") not in (None, ""):
            t = int(platform["threads"])
            parts.append(f"{t} thread{'s' if t != 1 else ''}")
        for k in ("provider", "precision"):
            if platform.get(k):
                parts.append(str(platform[k]))
        if platform.get("onnxruntime"):
            parts.append(f"onnxruntime {platform['onnxruntime']}")
        return ", ".join(parts)
    return ", ".join(f"{k}={v}" for k, v in platform.items())


def _range(d: Any) -> tuple[float, float] | None:
    if isinstance(d, dict) and d.get("min") is not None and d.get("max") is not None:
        return float(d["min"]), float(d["max"])
    return None


def _union(a: tuple[float, float] | None, b: tuple[float, float] | None):
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


@dataclass
class TrainingProfile:
    """What the checkpoint saw in training (see the module docstring)."""

    ops: frozenset[str] | None  # None: not recorded -> fall back to the vocabulary check
    nodes: tuple[float, float] | None
    macs: tuple[float, float] | None
    latency_ms: tuple[float, float] | None


def host_factor(ckpt: dict[str, Any]) -> float | None:
    """The product of the `nnprof calibrate` rescales a checkpoint records (None if never calibrated)."""
    k = (ckpt.get("host_calibration") or {}).get("total_factor")
    return float(k) if isinstance(k, (int, float)) and not isinstance(k, bool) and k > 0 else None


def training_profile(ckpt: dict[str, Any]) -> TrainingProfile:
    base = ckpt.get("train_data") or {}
    ft = (ckpt.get("finetune") or {}).get("train_data") or {}
    ops: frozenset[str] | None = None
    if isinstance(base.get("ops"), (list, dict)):
        ops = frozenset(base["ops"]) | frozenset(ft.get("ops") or ())
    latency = _union(_range(base.get("latency_ms")), _range(ft.get("latency_ms")))
    scale = host_factor(ckpt)
    if latency is not None and scale is not None:
        latency = (latency[0] * scale, latency[1] * scale)  # in this machine's time
    return TrainingProfile(
        ops=ops,
        nodes=_union(_range(base.get("nodes")), _range(ft.get("nodes"))),
        macs=_union(_range(base.get("macs")), _range(ft.get("macs"))),
        latency_ms=latency,
    )


def samples_profile(graphs: Sequence[RawGraph]) -> dict[str, Any]:
    """``ops`` and ``macs`` of a set of graphs, the fields `training_profile` reads beyond
    `data.summary` (fine-tuning adds them to its training-data description)."""
    ops: dict[str, int] = {}
    for g in graphs:
        for op in g.ops():
            ops[op] = ops.get(op, 0) + 1
    macs = [g.macs for g in graphs]
    return {
        "ops": dict(sorted(ops.items())),
        "macs": {"min": min(macs), "max": max(macs)} if macs else None,
    }


def _outside(v: float, rng: tuple[float, float] | None) -> bool:
    return rng is not None and (v > FAR * rng[1] or v < rng[0] / FAR)


def _si(v: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


@dataclass
class Predictor:
    """A checkpoint loaded once, ready to predict many graphs."""

    model: torch.nn.Module
    ckpt: dict[str, Any]
    path: Path
    device: torch.device
    profile: TrainingProfile

    @property
    def kind(self) -> str:
        return str(self.ckpt.get("kind"))

    @property
    def platform(self) -> dict[str, Any] | None:
        return self.ckpt.get("platform")

    @property
    def platform_text(self) -> str:
        text = describe_platform(self.platform)
        scale = host_factor(self.ckpt)
        if scale is not None:
            text += f" (rescaled {scale:.3g}x by nnprof calibrate)"
        return text

    def predict(self, feats: Sequence[GraphFeatures], batch_size: int = 32) -> list[float]:
        """Latency (ms) of every graph, in order; graphs run through the model in batches
        of up to `batch_size` (grouped by size, `train.predict`)."""
        import torch

        from nnprof import train as T

        if not feats:
            return []
        data = T.Encoded(
            graphs=[f.encoded for f in feats],
            counts=torch.tensor([[float(f.raw.macs), float(f.raw.mem)] for f in feats], dtype=torch.float64),
            latency=torch.zeros(len(feats)),
            families=["" for _ in feats],
            ids=[f.model for f in feats],
        )
        return [float(v) for v in T.predict(self.model, data, batch_size, self.device)]

    def check(self, f: GraphFeatures, latency_ms: float) -> list[str]:
        """Reasons to distrust a prediction (empty when the graph is inside the training range)."""
        from nnprof import encode as enc

        p = self.profile
        out = []
        if p.ops is not None:
            unseen = sorted(set(f.raw.ops()) - p.ops)
            if unseen:
                out.append(f"ops never seen in training: {', '.join(unseen)}")
        else:
            unknown = sorted(enc.unknown_ops(f.raw))
            if unknown:
                out.append(f"ops outside the encoder's vocabulary: {', '.join(unknown)}")
        n = len(f.raw.nodes)
        if _outside(n, p.nodes):
            out.append(f"{n} nodes, training graphs had {p.nodes[0]:.0f}-{p.nodes[1]:.0f}")  # type: ignore[index]
        if _outside(f.raw.macs, p.macs):
            out.append(f"{_si(f.raw.macs)} MACs, training graphs had {_si(p.macs[0])}-{_si(p.macs[1])}")  # type: ignore[index]
        if latency_ms <= 0:
            out.append(f"non-positive predicted latency {latency_ms:.4g} ms")
        elif _outside(latency_ms, p.latency_ms):
            lo, hi = p.latency_ms  # type: ignore[misc]
            out.append(f"predicted {latency_ms:.3g} ms, training latencies were {lo:.3g}-{hi:.3g} ms")
        return out


def _bundled_headers() -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, path, checkpoint) of each readable bundled checkpoint (`nnprof checkpoints`
    reports the unreadable ones)."""
    import torch

    out = []
    for name, path in bundled_checkpoints().items():
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            continue
        if isinstance(ckpt, dict):
            out.append((name, path, ckpt))
    return out


def _platform_of(ckpt: dict[str, Any]) -> dict[str, Any]:
    plat = ckpt.get("platform")
    return plat if isinstance(plat, dict) else {}


def bundled_for_cpu(cpu: str, threads: int | None = None) -> list[tuple[str, Path]]:
    """The bundled checkpoints whose training latencies were measured on CPU `cpu` (a
    `measure.cpu_id()` string), with `threads` ONNX Runtime threads if given, the newest
    (`created`) first."""
    if not cpu:
        return []
    hits = [(str(c.get("created") or ""), name, path)
            for name, path, c in _bundled_headers()
            if _platform_of(c).get("cpu_id") == cpu
            and (threads is None or str(_platform_of(c).get("threads")) == str(threads))]
    return [(name, path) for _, name, path in sorted(hits, key=lambda h: h[0], reverse=True)]


def auto_checkpoint(cpu: str, threads: int | None = None) -> tuple[Path, str | None]:
    """The checkpoint `predict`, `zoo` and `finetune` use without --checkpoint: the bundled
    default (with None) when it was measured on `cpu` (a `measure.cpu_id()` string; and with
    `threads` threads, if given) or no bundled checkpoint was; else the newest bundled
    checkpoint measured so, with its short name."""
    default = checkpoint_path(None)
    mine = bundled_for_cpu(cpu, threads)
    if not mine or any(path.resolve() == default.resolve() for _, path in mine):
        return default, None
    return mine[0][1], mine[0][0]


def other_cpu_note(pred: Predictor) -> str | None:
    """One line for a checkpoint that predicts for another CPU than this machine's (None when
    the CPUs match or either is unknown), naming a bundled checkpoint measured on this CPU."""
    from nnprof.measure import cpu_id

    want, here = str((pred.platform or {}).get("cpu_id") or ""), cpu_id()
    if not want or not here or want == here:
        return None
    mine = [name for name, path in bundled_for_cpu(here) if path.resolve() != pred.path.resolve()]
    this = family_model(here) or here
    then = (f"the bundled checkpoint {mine[0]!r} was measured on it (--checkpoint {mine[0]})" if mine
            else "`nnprof calibrate` rescales it to this machine in about 30 s; measure ~30 models here "
            "and `nnprof finetune` for its own latencies")
    return f"this machine's CPU ({this}) is not the one {pred.path.name} predicts for; {then}"


def load_predictor(path: str | Path | None = None, device: str = "auto") -> Predictor:
    """Load a checkpoint (the bundled one by default) once, on the chosen device."""
    from nnprof import train as T

    dev = T.resolve_device(device)
    p = checkpoint_path(path)
    model, ckpt = T.load_checkpoint(p)
    model.to(dev).eval()
    return Predictor(model, ckpt, p, dev, training_profile(ckpt))


# --------------------------------------------------------------------------- rows


COLUMNS = (
    "model", "input_size", "batch_size", "gflops", "params", "mem_access",
    "latency_ms", "throughput", "platform", "warnings",
)  # fmt: skip


def result_row(f: GraphFeatures, latency_ms: float | None, platform: str, warnings: Sequence[str] = ()) -> dict[str, Any]:
    """One output row. gflops = 1e9 MACs; mem_access in elements; throughput in images/s."""
    ok = latency_ms is not None and latency_ms > 0
    return {
        "model": f.model,
        "input_size": f.input_size,
        "batch_size": f.batch_size,
        "gflops": f.raw.macs / 1e9,
        "params": f.raw.params,
        "mem_access": f.raw.mem,
        "latency_ms": latency_ms,
        "throughput": 1000.0 * f.batch_size / latency_ms if ok else None,  # type: ignore[operator]
        "platform": platform,
        "warnings": "; ".join(warnings),
    }


Progress = Callable[[str], None]  # called with a description before each slow step


def _prefetch_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _prefetch_one(ref: ModelRef, input_size: int | None, batch_size: int | None) -> list[str] | None:
    """In a worker: one graph into the features cache; its notes, or None if it failed."""
    try:
        return graph_features(ref, input_size, batch_size).notes
    except Exception:  # the parent redoes it, and reports the failure as it always does
        return None


def prefetch(
    tasks: Sequence[tuple[ModelRef, int | None]],
    input_size: int | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
) -> dict[int, list[str]]:
    """Convert the uncached (model, batch) `tasks` in `jobs` worker processes.

    The workers only fill the features cache (each with usable cores // jobs torch threads);
    the caller then reads every graph from it, so the results are those of a serial run.
    Returns {task index: notes} for the tasks a worker finished (progress is called once
    for each); a task that failed in a worker, or whose worker died, is left to the caller,
    which converts it again itself and reports its error as usual.
    """
    from nnprof import cache

    if jobs <= 1:
        return {}
    todo: dict[str, int] = {}
    for i, (ref, b) in enumerate(tasks):
        try:
            key, _, label = _cache_key(ref, input_size, b)
        except NNProfError:
            continue  # the caller's own pass raises it
        if key not in todo and not cache.entry_path(key, label).exists():
            todo[key] = i
    if len(todo) < 2:
        return {}
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = min(jobs, len(todo))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // n)
    done: dict[int, list[str]] = {}
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_prefetch_init, initargs=(threads,)) as pool:
        futures = {pool.submit(_prefetch_one, tasks[i][0], input_size, tasks[i][1]): i for i in todo.values()}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                notes = fut.result()
            except Exception:  # e.g. the worker was killed (out of memory): the caller redoes it
                notes = None
            if notes is not None:
                done[i] = notes
                if progress:
                    progress(_task_label(*tasks[i]))
    return done


def iter_features(
    refs: Sequence[ModelRef],
    batch_sizes: Sequence[int | None],
    input_size: int | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
    jobs: int = 1,
) -> Iterator[tuple[ModelRef, int, GraphFeatures | Exception]]:
    """(model, batch size, its features or the exception computing them raised), model-major.

    Lazy: a caller that stops at a failure converts nothing after it. jobs > 1: uncached
    graphs are converted in that many worker processes first (`prefetch`).
    """
    tasks = [(r, b) for r in refs for b in batch_sizes]
    done = prefetch(tasks, input_size, jobs, progress) if use_cache else {}
    for i, (r, b) in enumerate(tasks):
        if progress and i not in done:
            progress(_task_label(r, b))
        try:
            f = graph_features(r, input_size, b, use_cache)
        except Exception as e:
            yield r, b, e
            continue
        f.notes = done.get(i, []) + f.notes
        yield r, b, f


def features_for(
    refs: Sequence[ModelRef],
    batch_sizes: Sequence[int | None],
    input_size: int | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
    jobs: int = 1,
) -> list[GraphFeatures]:
    """Features for every (model, batch size), model-major; raises the first failure."""
    out = []
    for _, _, f in iter_features(refs, batch_sizes, input_size, progress, use_cache, jobs):
        if isinstance(f, Exception):
            raise f
        out.append(f)
    return out


def predict_models(
    refs: Sequence[ModelRef],
    batch_sizes: Sequence[int | None],
    input_size: int | None = None,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    predictor: Predictor | None = None,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], list[GraphFeatures], Predictor]:
    """The rows of `nnprof predict` (library form): features, one batched prediction, checks."""
    pred = predictor or load_predictor(checkpoint, device)
    feats = features_for(refs, batch_sizes, input_size, progress)
    lat = pred.predict(feats)
    rows = [result_row(f, y, pred.platform_text, pred.check(f, y)) for f, y in zip(feats, lat, strict=True)]
    return rows, feats, pred
