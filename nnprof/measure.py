"""ONNX Runtime latency measurement: the timing protocol, the platform fingerprint, the CSV.

The protocol (the evidence is in docs/timing.md) is built for a machine whose speed
changes from one second to the next (a busy neighbour core, other tenants):

- Every model gets ``rounds`` short rounds, and the rounds of a *block* of models are
  interleaved in time (round-robin: round 1 of every model, then round 2, ...), so the
  rounds of one model are seconds apart and meet independent noise (the slowdowns stay
  correlated for ~1-2 s). Two rounds of the same model are at least ``round_period_s``
  apart; a lone model fills the gap with reference runs rather than sleeping (after an
  idle pause the core came back slower).
- A round = one discarded warm-up run (for models faster than ``warmup_below_ms``: the
  first run after switching models is slow), then runs for ``burst_s`` seconds (>= 1 run).
- The latency is the minimum over all timed runs: the noise only ever adds time, and the
  minimum over 20 independent rounds settles near the machine's fast mode. The median of
  the round minima and the gap to the second-best round are kept as quality signals.
- A fixed reference network (``reference_model``: ResNet-18 topology at half width, 64x64,
  seeded weights, built without torch) is probed before every round; its fastest time in
  the block (``ref_ms``) tracks the machine's drift over a long collection. Optionally
  (``gate`` > 0) a round waits until the probe says the machine is in its fast mode.

``measure_many`` times one block; ``measure_blocks`` streams a long list block by block;
``measure_onnx`` times one model; ``merge`` combines measurements of the same network made
at different times (minutes-long slow stretches are the remaining noise: the minimum over
two blocks far apart in time is steadier than one block). Everything runs in the calling
process on the cores it is pinned to (``taskset -c N``); ``threads`` sets ORT's intra-op
threads.
"""

from __future__ import annotations

import csv
import functools
import gc
import io
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnprof import __version__
from nnprof.errors import NNProfError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
PRECISION = "fp32"


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class Protocol:
    """Timing protocol parameters (defaults: the protocol chosen in docs/timing.md)."""

    rounds: int = 20  # rounds per model, interleaved across the block
    burst_s: float = 0.03  # timed seconds per round (at least one run)
    warmup_below_ms: float = 20.0  # discard the first run of a round for models faster than this
    round_period_s: float = 0.5  # minimum time between two rounds of the same block
    initial_warmup_s: float = 0.2  # once per session, before the first round (at least 2 runs)
    reference: bool = True  # probe the reference network before every round (drift monitor)
    gate: float = 0.0  # > 0: run a round only when the probe is within this of its fastest
    # (tried at 0.15: no better test-retest here, +0.4 s wall per network; docs/timing.md)
    probe_runs: int = 3  # reference runs per probe (their minimum is the probe)
    max_wait_s: float = 2.0  # a model held back by the gate this long runs its round anyway
    probe_interval_s: float = 0.02  # pause between probes when every model is held back

    @property
    def name(self) -> str:
        gate = f"g{round(self.gate * 100)}" if self.gate > 0 else ""
        return f"min{self.rounds}x{round(self.burst_s * 1e3)}ms{gate}"


DEFAULT_PROTOCOL = Protocol()


@dataclass
class Measurement:
    """One model's latency and the statistics of how it was obtained (times in ms)."""

    latency_ms: float  # the protocol's estimate: minimum over all timed runs
    rounds: int
    runs: int  # timed runs (warm-up excluded)
    round_min_ms: list[float]  # per-round minima, in time order
    median_round_ms: float  # median of the round minima (typical speed during the block)
    second_ms: float  # second-smallest round minimum (the fast mode seen twice?)
    ref_ms: float | None  # reference network's latency in the same block (same protocol)
    timing_s: float  # seconds spent running this model (warm-up included)
    probe_s: float = 0.0  # seconds of reference probes spent on this model's behalf
    protocol: str = DEFAULT_PROTOCOL.name

    @property
    def spread_pct(self) -> float:
        """How much slower a typical round was than the fastest, in percent."""
        return 100.0 * (self.median_round_ms / self.latency_ms - 1.0)

    @property
    def confirm_pct(self) -> float:
        """Gap between the two fastest rounds, in percent (small: the minimum is not a fluke)."""
        return 100.0 * (self.second_ms / self.latency_ms - 1.0)

    @property
    def ref_ratio(self) -> float | None:
        return None if not self.ref_ms else self.latency_ms / self.ref_ms

    def stats(self) -> dict[str, Any]:
        """Flat statistics for a CSV row or a JSON record."""
        return {
            "latency_ms": round(self.latency_ms, 5),
            "rounds": self.rounds,
            "runs": self.runs,
            "median_round_ms": round(self.median_round_ms, 5),
            "spread_pct": round(self.spread_pct, 3),
            "confirm_pct": round(self.confirm_pct, 3),
            "ref_ms": None if self.ref_ms is None else round(self.ref_ms, 5),
            "ref_ratio": None if self.ref_ratio is None else round(self.ref_ratio, 6),
            "timing_s": round(self.timing_s, 3),
            "probe_s": round(self.probe_s, 3),
            "protocol": self.protocol,
            "round_min_ms": ";".join(f"{x:.5g}" for x in self.round_min_ms),
        }


# --------------------------------------------------------------------------- sessions


def check_provider(provider: str) -> str:
    """The ORT provider name for 'cpu' / 'cuda'; NNProfError if this onnxruntime lacks it."""
    import onnxruntime as ort

    if provider not in PROVIDERS:
        raise NNProfError(f"unknown provider '{provider}': use one of {', '.join(PROVIDERS)}")
    name = PROVIDERS[provider]
    if name not in ort.get_available_providers():
        raise NNProfError(
            f"{name} is not available in onnxruntime {ort.__version__} "
            f"(available: {', '.join(ort.get_available_providers())}); "
            "install onnxruntime-gpu with a working CUDA for --provider cuda, or use --provider cpu"
        )
    return name


def make_session(model: Any, *, threads: int = 1, provider: str = "cpu", label: str | None = None):
    """An ORT session set up for timing: `threads` intra-op threads, 1 inter-op thread,
    sequential execution, all graph optimisations. `model`: path, bytes or ModelProto;
    `label` names it in errors (default: the path)."""
    import onnxruntime as ort

    name = check_provider(provider)
    if threads < 1:
        raise NNProfError(f"--threads must be >= 1, got {threads}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    src = model if isinstance(model, bytes) else str(model)
    if not isinstance(model, bytes) and not Path(src).is_file():
        raise NNProfError(f"ONNX file not found: {src}")
    try:
        # CUDA: the provider must actually be used, not silently replaced by the CPU one
        session = ort.InferenceSession(src, sess_options=so, providers=[name])
    except Exception as e:  # onnxruntime raises its own exception types for bad models
        what = label or ("<in-memory model>" if isinstance(model, bytes) else src)
        raise NNProfError(f"onnxruntime cannot load {what}: {_ort_reason(e)}") from None
    if session.get_providers()[0] != name:
        raise NNProfError(f"onnxruntime did not start {name} (got {session.get_providers()})")
    return session


def _ort_reason(e: BaseException, limit: int = 400) -> str:
    """ONNX Runtime's message on one line without its status prefix; the reason comes last
    (after the model path and node), so a long one keeps its head and its tail."""
    s = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", " ".join(str(e).split()))
    if not s:
        return type(e).__name__
    return s if len(s) <= limit else f"{s[: limit // 3]} ... {s[-(2 * limit) // 3 :]}"


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:300] if s else type(e).__name__


_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def random_feed(session, batch_size: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input; a symbolic first dim becomes `batch_size` (or 1)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for inp in session.get_inputs():
        shape = []
        for k, d in enumerate(inp.shape):
            if isinstance(d, int) and d > 0:
                if k == 0 and batch_size is not None and d != batch_size:
                    raise NNProfError(
                        f"input '{inp.name}' has a fixed batch size {d}, not {batch_size}: "
                        f"export the model with batch {batch_size} or drop --batch-size"
                    )
                shape.append(d)
            elif k == 0:
                shape.append(batch_size or 1)
            else:
                raise NNProfError(
                    f"input '{inp.name}' has a symbolic dimension '{d}' at axis {k}: "
                    "give --input-size or export the model with a fixed input shape"
                )
        dtype = _NUMPY_TYPES.get(inp.type)
        if dtype is None:
            raise NNProfError(f"input '{inp.name}' has unsupported type {inp.type}")
        if np.issubdtype(dtype, np.floating):
            feed[inp.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feed[inp.name] = np.zeros(shape, dtype=dtype)
    return feed


class Timer:
    """One model loaded and warmed up; `round()` runs one round of the protocol."""

    def __init__(self, model: Any, *, threads: int = 1, provider: str = "cpu",
                 batch_size: int | None = None, label: str | None = None):
        self.session = make_session(model, threads=threads, provider=provider, label=label)
        self.feed = random_feed(self.session, batch_size)
        self.out_names = [o.name for o in self.session.get_outputs()]
        self.fast_ms = float("inf")  # fastest run seen so far (decides the per-round warm-up)
        self.seconds = 0.0  # time spent running (warm-up included)
        self.round_mins: list[float] = []
        self.probes: list[float] = []  # probe minima, when this is the reference
        self.runs = 0

    def run_once(self) -> float:
        """One inference; returns its wall time in ms."""
        t0 = time.perf_counter()
        self.session.run(self.out_names, self.feed)
        dt = time.perf_counter() - t0
        self.seconds += dt
        return dt * 1e3

    def warmup(self, seconds: float) -> None:
        """At least two runs and `seconds` of running, not recorded as rounds."""
        end = time.perf_counter() + seconds
        n = 0
        try:
            while n < 2 or time.perf_counter() < end:
                self.fast_ms = min(self.fast_ms, self.run_once())
                n += 1
        except Exception as e:  # a model that loads but fails to run is a user-facing error
            raise NNProfError(f"onnxruntime failed to run the model: {_first_line(e)}") from None

    def round(self, burst_s: float, warmup_below_ms: float) -> float:
        """One round: optional warm-up run, then runs for `burst_s` (at least one); its minimum."""
        if self.fast_ms < warmup_below_ms:
            self.run_once()
        best, total = float("inf"), 0.0
        while True:
            x = self.run_once()
            best = min(best, x)
            total += x
            self.runs += 1
            if total >= burst_s * 1e3:
                break
        self.fast_ms = min(self.fast_ms, best)
        self.round_mins.append(best)
        return best

    def probe(self, runs: int, gate: float) -> bool:
        """A few runs of this (reference) network: is the machine in its fast mode now?

        Quiet = the probe's minimum is within `gate` of the fastest probe seen so far.
        """
        best = min(self.run_once() for _ in range(max(1, runs)))
        self.probes.append(best)
        quiet = best <= self.fast_ms * (1.0 + gate)
        self.fast_ms = min(self.fast_ms, best)
        return quiet

    def measurement(self, protocol: Protocol, ref_ms: float | None,
                    probe_s: float = 0.0) -> Measurement:
        mins = self.round_mins
        srt = sorted(mins)
        return Measurement(
            latency_ms=srt[0],
            rounds=len(mins),
            runs=self.runs,
            round_min_ms=list(mins),
            median_round_ms=statistics.median(mins),
            second_ms=srt[1] if len(srt) > 1 else srt[0],
            ref_ms=ref_ms,
            timing_s=self.seconds,
            probe_s=probe_s,
            protocol=protocol.name,
        )


# --------------------------------------------------------------------------- reference


REFERENCE_NAME = "nnprof-ref-v1"


@functools.lru_cache(maxsize=1)
def reference_model() -> bytes:
    """The reference network: ResNet-18 topology (BatchNorm folded) at half width, input
    1x3x64x64, weights He-initialised from a fixed seed. Built with onnx.helper so it is
    byte-identical on every machine and for every torch version."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(20240901)
    nodes: list = []
    inits: list = []
    count = [0]

    def fresh() -> str:
        count[0] += 1
        return f"t{count[0]}"

    def conv(x: str, cin: int, cout: int, k: int, s: int, relu: bool = True) -> str:
        w = rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))
        wn, bn, y = fresh(), fresh(), fresh()
        inits.append(numpy_helper.from_array(w.astype(np.float32), wn))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), bn))
        nodes.append(helper.make_node("Conv", [x, wn, bn], [y], kernel_shape=[k, k],
                                      strides=[s, s], pads=[k // 2] * 4))
        if not relu:
            return y
        z = fresh()
        nodes.append(helper.make_node("Relu", [y], [z]))
        return z

    x = conv("input", 3, 32, 7, 2)
    y = fresh()
    nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1] * 4))
    x, cin = y, 32
    for cout, stride in ((32, 1), (64, 2), (128, 2), (256, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            h = conv(conv(x, cin, cout, 3, s), cout, cout, 3, 1, relu=False)
            short = conv(x, cin, cout, 1, s, relu=False) if (s != 1 or cin != cout) else x
            a, r = fresh(), fresh()
            nodes.append(helper.make_node("Add", [h, short], [a]))
            nodes.append(helper.make_node("Relu", [a], [r]))
            x, cin = r, cout
    g, f = fresh(), fresh()
    nodes.append(helper.make_node("GlobalAveragePool", [x], [g]))
    nodes.append(helper.make_node("Flatten", [g], [f], axis=1))
    w = rng.standard_normal((1000, cin)) * np.sqrt(1.0 / cin)
    inits.append(numpy_helper.from_array(w.astype(np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", [f, "fc_w", "fc_b"], ["output"], transB=1))
    graph = helper.make_graph(
        nodes, REFERENCE_NAME,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="nnprof")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


# --------------------------------------------------------------------------- protocol runs


Progress = Callable[[int, int], None]  # (rounds done, rounds total) over the block


def measure_many(
    models: Sequence[Any],
    *,
    threads: int = 1,
    provider: str = "cpu",
    batch_size: int | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    progress: Progress | None = None,
) -> list[Measurement]:
    """Time one block of models with rounds interleaved in time (see the module docstring).

    `models`: paths, ONNX bytes, ModelProtos or ready `Timer`s. All sessions of the block
    are held in memory at once; for thousands of models use `measure_blocks`.
    `progress(done, total)` is called after every round (total = rounds x models).
    """
    if protocol.rounds < 1 or protocol.burst_s < 0:
        raise NNProfError("the protocol needs rounds >= 1 and burst_s >= 0")
    if protocol.gate > 0 and not protocol.reference:
        raise NNProfError("a gated protocol needs the reference network (reference=True)")
    timers = [
        m if isinstance(m, Timer)
        else Timer(m, threads=threads, provider=provider, batch_size=batch_size)
        for m in models
    ]
    if not timers:
        return []
    ref = Timer(reference_model(), threads=threads, provider=provider) if protocol.reference else None
    n = len(timers)
    total = protocol.rounds * n
    done = 0
    next_ok = [0.0] * n  # earliest start of each model's next round (round_period_s)
    waiting = [0.0] * n  # since when the model has been held back by the gate (0: not held)
    probe_s = [0.0] * n  # reference time spent probing on each model's behalf
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection pause inside a timed run is pure noise
    try:
        for t in timers + ([ref] if ref is not None else []):
            t.warmup(protocol.initial_warmup_s)
        while done < total:
            visited = False
            for i, t in enumerate(timers):
                if len(t.round_mins) >= protocol.rounds or time.perf_counter() < next_ok[i]:
                    continue
                visited = True
                now = time.perf_counter()
                if ref is not None:
                    before = ref.seconds
                    quiet = ref.probe(protocol.probe_runs, protocol.gate)
                    probe_s[i] += ref.seconds - before
                    if protocol.gate > 0 and not quiet:
                        if waiting[i] == 0.0:
                            waiting[i] = now
                        if now - waiting[i] < protocol.max_wait_s:
                            continue
                waiting[i] = 0.0
                try:
                    t.round(protocol.burst_s, protocol.warmup_below_ms)
                except Exception as e:
                    raise NNProfError(f"onnxruntime failed to run a model: {_first_line(e)}") from None
                next_ok[i] = now + protocol.round_period_s
                done += 1
                if progress is not None:
                    progress(done, total)
            if not visited:  # everyone is inside its round period: wait, but busy
                pending = [next_ok[i] for i, t in enumerate(timers)
                           if len(t.round_mins) < protocol.rounds]
                _busy_until(min(pending), ref)
            elif protocol.gate > 0 and all(w > 0 for w, t in zip(waiting, timers, strict=True)
                                           if len(t.round_mins) < protocol.rounds):
                _busy_until(time.perf_counter() + protocol.probe_interval_s, ref)
    finally:
        if gc_was_enabled:
            gc.enable()
    ref_ms = ref.fast_ms if ref is not None else None
    return [t.measurement(protocol, ref_ms, probe_s[i]) for i, t in enumerate(timers)]


def _busy_until(deadline: float, ref: Timer | None) -> None:
    """Wait without letting the core idle: a sleeping vCPU came back measurably slower
    (5-28% on a lone model, docs/timing.md), so the reference runs (or we spin) instead."""
    while time.perf_counter() < deadline:
        if ref is not None:
            ref.run_once()
        else:
            end = min(deadline, time.perf_counter() + 0.001)
            while time.perf_counter() < end:
                pass


def measure_blocks(
    models: Iterable[Any],
    *,
    block_size: int = 48,
    threads: int = 1,
    provider: str = "cpu",
    batch_size: int | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
    progress: Progress | None = None,
) -> Iterator[tuple[int, Measurement]]:
    """Stream (index, Measurement) over any number of models, `block_size` models at a time.

    A block of >= ~40 models of ~1 s each spaces one model's rounds >= 2 s apart, past the
    ~1-2 s the machine's slowdowns stay correlated (docs/timing.md).
    """
    block: list[Any] = []
    start = 0
    for m in models:
        block.append(m)
        if len(block) == block_size:
            for i, r in enumerate(measure_many(block, threads=threads, provider=provider,
                                               batch_size=batch_size, protocol=protocol,
                                               progress=progress)):
                yield start + i, r
            start += len(block)
            block = []
    if block:
        for i, r in enumerate(measure_many(block, threads=threads, provider=provider,
                                           batch_size=batch_size, protocol=protocol,
                                           progress=progress)):
            yield start + i, r


def merge(measurements: Sequence[Measurement]) -> Measurement:
    """One network measured several times (e.g. in two collection passes hours apart) ->
    one Measurement: the minimum over all rounds, the round minima concatenated."""
    if not measurements:
        raise ValueError("merge() needs at least one measurement")
    mins = [x for m in measurements for x in m.round_min_ms]
    srt = sorted(mins)
    refs = [m.ref_ms for m in measurements if m.ref_ms]
    best = min(measurements, key=lambda m: m.latency_ms)
    return Measurement(
        latency_ms=srt[0],
        rounds=len(mins),
        runs=sum(m.runs for m in measurements),
        round_min_ms=mins,
        median_round_ms=statistics.median(mins),
        second_ms=srt[1] if len(srt) > 1 else srt[0],
        ref_ms=best.ref_ms if best.ref_ms else (min(refs) if refs else None),
        timing_s=sum(m.timing_s for m in measurements),
        probe_s=sum(m.probe_s for m in measurements),
        protocol=f"{best.protocol}*{len(measurements)}" if len(measurements) > 1 else best.protocol,
    )


def measure_onnx(
    model: Any,
    *,
    threads: int = 1,
    provider: str = "cpu",
    batch_size: int | None = None,
    protocol: Protocol = DEFAULT_PROTOCOL,
) -> Measurement:
    """Time one model (path, bytes or ModelProto); rounds are `round_period_s` apart."""
    return measure_many([model], threads=threads, provider=provider, batch_size=batch_size,
                        protocol=protocol)[0]


# --------------------------------------------------------------------------- fingerprint


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                k, _, v = line.partition(":")
                info[k.strip()] = v.strip()
    except OSError:
        pass
    return info


def cpu_id() -> str:
    """'vendor_id=AuthenticAMD family=25 model=1 stepping=1': tells apart CPUs that a VM names
    alike ("AMD EPYC"); empty where /proc/cpuinfo is not readable."""
    info = _cpuinfo()
    return " ".join(f"{k.split()[-1]}={info[k]}" for k in ("vendor_id", "cpu family", "model", "stepping") if k in info)


def platform_fingerprint(threads: int = 1, provider: str = "cpu") -> dict[str, Any]:
    """What a latency depends on besides the network: CPU, threads, provider, runtime, precision.

    `cpu`, `cpu_id`, `threads`, `provider`, `onnxruntime` and `precision` identify a platform
    (FINGERPRINT_KEYS; `cpu_id` because a VM may name two different CPUs alike, e.g. "AMD
    EPYC"); the other fields are informative.
    """
    import onnxruntime as ort

    info = _cpuinfo()
    cpu = info.get("model name") or platform.processor() or platform.machine() or "unknown"
    flags = set(info.get("flags", "").split())
    isa = [x for x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
           if x in flags]
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cpu_id": cpu_id(),
        "isa": "+".join(isa),
        "logical_cpus": os.cpu_count() or 0,
        "affinity_cpus": affinity,
        "threads": int(threads),
        "provider": provider,
        "onnxruntime": ort.__version__,
        "precision": PRECISION,
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
    }


FINGERPRINT_KEYS = ("cpu", "cpu_id", "threads", "provider", "onnxruntime", "precision")


# --------------------------------------------------------------------------- CSV


CSV_COLUMNS = [
    "model", "input_size", "batch_size", "latency_ms",
    "rounds", "runs", "median_round_ms", "spread_pct", "confirm_pct", "ref_ms", "ref_ratio",
    "timing_s", "probe_s", "protocol", "round_min_ms",
    "cpu", "cpu_id", "threads", "provider", "onnxruntime", "precision",
    "nnprof", "timestamp",
]  # fmt: skip

_ROW_KEY = ("model", "input_size", "batch_size", *FINGERPRINT_KEYS)


def csv_row(model: str, input_size: int | None, batch_size: int | None, m: Measurement,
            fingerprint: dict[str, Any]) -> dict[str, Any]:
    """One measurement as a CSV row (CSV_COLUMNS)."""
    row: dict[str, Any] = {"model": model, "input_size": input_size, "batch_size": batch_size}
    row.update(m.stats())
    row.update({k: fingerprint.get(k) for k in FINGERPRINT_KEYS})
    row["nnprof"] = __version__
    row["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return {c: row.get(c) for c in CSV_COLUMNS}


_INT_COLUMNS = {"input_size", "batch_size", "rounds", "runs", "threads"}
_FLOAT_COLUMNS = {"latency_ms", "median_round_ms", "spread_pct", "confirm_pct", "ref_ms",
                  "ref_ratio", "timing_s", "probe_s"}


def typed_row(row: dict[str, str]) -> dict[str, Any]:
    """A row read back from the CSV with its numbers as numbers (empty cells -> None).

    ValueError names the first cell that is not what `nnprof measure` writes: a whole
    number in an integer column, a finite number in a float column, a positive latency.
    """
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v == "" and (k in _INT_COLUMNS or k in _FLOAT_COLUMNS):
            out[k] = None
        elif k in _INT_COLUMNS:
            if not v.strip().lstrip("+-").isdigit():
                raise ValueError(f"{k} {v!r} is not a whole number")
            out[k] = int(v)
        elif k in _FLOAT_COLUMNS:
            try:
                x = float(v)
            except ValueError:
                raise ValueError(f"{k} {v!r} is not a number") from None
            if not math.isfinite(x):
                raise ValueError(f"{k} {v!r} is not a finite number")
            out[k] = x
        else:
            out[k] = v
    if out.get("latency_ms") is not None and out["latency_ms"] <= 0:
        raise ValueError(f"latency_ms {row['latency_ms']!r} is not positive")
    return out


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple("" if row.get(k) is None else str(row[k]) for k in _ROW_KEY)


@dataclass
class MeasurementLog:
    """An append-only measurement CSV that survives interruption and resumes.

    Every row is written, flushed and fsynced on its own, so an interrupted run loses at
    most the row being written; a torn last line is cut off when the file is reopened.
    The header is written once (atomically, with the file); a file with another header is
    refused. `done()` tells which (model, input size, batch size, platform) rows exist.
    """

    path: Path
    keys: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)
    ignored: list[int] = field(default_factory=list)  # lines with a wrong number of cells

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> MeasurementLog:
        p = Path(path)
        if p.is_dir():
            raise NNProfError(f"{p} is a directory: give a .csv file for -o")
        if not p.parent.exists():
            raise NNProfError(f"directory {p.parent} does not exist: create it or choose another -o")
        log = cls(p)
        if not p.exists() or p.stat().st_size == 0:
            _write_atomic(p, _format_line(CSV_COLUMNS))
            return log
        with open(p, "rb") as f:
            data = f.read()
        # The header first: a file that is not a measurement CSV is refused untouched.
        first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
        if next(csv.reader([first]), []) != CSV_COLUMNS:
            raise NNProfError(
                f"{p} has different columns (not an nnprof measure CSV of this version): "
                "choose another -o file"
            )
        if b"\n" not in data:
            data += b"\n"  # the header alone, without its newline
            _write_atomic(p, data.decode("utf-8", errors="replace"))
        elif not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            if _complete_row(data[cut:]):  # a whole row whose newline is missing (an editor)
                with open(p, "ab") as f:
                    f.write(b"\n")
                    f.flush()
                    os.fsync(f.fileno())
                data += b"\n"
            else:  # a row torn by an interruption: drop it
                with open(p, "r+b") as f:
                    f.truncate(cut)
                    f.flush()
                    os.fsync(f.fileno())
                data = data[:cut]
        reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
        next(reader)
        for values in reader:
            if len(values) != len(CSV_COLUMNS):
                if any(v.strip() for v in values):
                    log.ignored.append(reader.line_num)
                continue
            row = dict(zip(CSV_COLUMNS, values, strict=True))
            try:
                typed_row(row)
            except ValueError as e:
                raise NNProfError(f"{p}:{reader.line_num}: {e}; fix or remove that row") from None
            log.keys[_key(row)] = row
        return log

    def find(self, model: str, input_size: int | None, batch_size: int | None,
             fingerprint: dict[str, Any]) -> dict[str, str] | None:
        """The row already measured for this model, input, batch and platform, if any."""
        row = {"model": model, "input_size": input_size, "batch_size": batch_size, **fingerprint}
        return self.keys.get(_key(row))

    def done(self, model: str, input_size: int | None, batch_size: int | None,
             fingerprint: dict[str, Any]) -> bool:
        return self.find(model, input_size, batch_size, fingerprint) is not None

    def __len__(self) -> int:
        return len(self.keys)

    def append(self, row: dict[str, Any]) -> None:
        line = _format_line([_cell(row.get(c)) for c in CSV_COLUMNS])
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.keys[_key(row)] = {c: _cell(row.get(c)) for c in CSV_COLUMNS}


def _complete_row(line: bytes) -> bool:
    """True when `line` holds every column and ends with a whole timestamp (as written)."""
    values = next(csv.reader([line.decode("utf-8", errors="replace")]), [])
    if len(values) != len(CSV_COLUMNS):
        return False
    return re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", values[-1]) is not None


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return str(v)


def _format_line(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    from nnprof.export import write_bytes_atomic

    write_bytes_atomic(path, text.encode("utf-8"))


def measurement_dict(m: Measurement) -> dict[str, Any]:
    """All fields of a Measurement (round minima as a list) for JSON."""
    d = asdict(m)
    d.update(spread_pct=m.spread_pct, confirm_pct=m.confirm_pct, ref_ratio=m.ref_ratio)
    return d
