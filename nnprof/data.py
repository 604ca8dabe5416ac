"""Latency datasets: nnprof's measured zoo, NNLQP's `gt.txt`, and a synthetic set for tests.

Every reader returns a list of `Sample` (one measured network each) in a stable order;
the protocols below turn it into train / validation / test parts that are fixed before
any training starts.

Formats
-------
* nnprof zoo (docs/DESIGN.md): ``<dir>/data/<family>.jsonl.gz``, one JSON record per line
  with ``id, family, model, input_size, batch_size, latency_ms, platform, graph`` (graph =
  `RawGraph.to_dict()`), and optionally ``<dir>/split.json`` = ``{"seed", "val": [ids],
  "test": [ids]}``.
* NNLQP: ``gt.txt`` lines ``GraphID OnnxPath BatchSize Latency(ms) ModelType PlatformId
  [Stage]``; OnnxPath is relative to the file's folder (or its parent) and points to a
  weight-stripped ONNX file. ModelType is the family.
* synthetic: small random conv nets whose latency is a fixed function of their structure
  (`synthetic`), so a predictor can learn it. Named ``synthetic`` or ``synthetic:N`` on the
  command line (N networks per family).

A bad row raises `NNProfError` naming the file and line.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnprof.errors import NNProfError
from nnprof.graph import Node, RawGraph

SPLITS = ("train", "val", "test")


@dataclass
class Sample:
    """One network measured once: its raw graph and its latency."""

    id: str
    family: str
    graph: RawGraph
    latency_ms: float
    batch_size: int = 1
    input_size: int = 0  # spatial input size (224 for 1x3x224x224), 0 if unknown
    platform: dict[str, Any] = field(default_factory=dict)
    split: str | None = None  # "train" | "val" | "test" as fixed by the dataset, else None
    model: str = ""  # model name (zoo) or ONNX path (NNLQP)
    tier: str = "base"  # the generator's budget tier (nnprof.variants.TIERS) for zoo variants


@dataclass
class Split:
    """Train / validation / test parts of a dataset, and how they were made."""

    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    name: str = ""  # e.g. "in-distribution" or "leave-out:resnet"

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


# ----------------------------------------------------------------------------------------
# nnprof measured zoo

_ZOO_FIELDS = {"id": str, "family": str, "latency_ms": (int, float), "batch_size": int, "graph": dict}


def _positive_latency(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def read_zoo(root: str | Path) -> list[Sample]:
    """Read a measured zoo directory (``data/*.jsonl.gz`` + optional ``split.json``)."""
    root = Path(root)
    files = sorted((root / "data").glob("*.jsonl.gz"))
    if not files:
        raise NNProfError(f"{root} holds no data/*.jsonl.gz files; point to a zoo directory or an NNLQP gt.txt")
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                lines = fh.readlines()
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise NNProfError(f"{path}: cannot read ({e}); re-run the collection for this family") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise NNProfError(f"{where}: not valid JSON ({e.msg}); fix or delete the line") from None
            if not isinstance(rec, dict):
                raise NNProfError(f"{where}: a record must be a JSON object")
            for key, typ in _ZOO_FIELDS.items():
                if key not in rec:
                    raise NNProfError(f"{where}: record has no {key!r}; fix or delete the line")
                if not isinstance(rec[key], typ) or isinstance(rec[key], bool):
                    raise NNProfError(f"{where}: {key!r} has the wrong type ({type(rec[key]).__name__})")
            if not _positive_latency(rec["latency_ms"]):
                raise NNProfError(f"{where}: latency_ms must be a positive number, got {rec['latency_ms']!r}")
            if rec["id"] in seen:
                raise NNProfError(f"{where}: id {rec['id']!r} already used in {seen[rec['id']]}")
            seen[rec["id"]] = where
            try:
                graph = RawGraph.from_dict(rec["graph"])
            except (KeyError, TypeError, ValueError) as e:
                raise NNProfError(f"{where}: 'graph' is not a raw graph ({e!r}); re-run the conversion") from None
            if not graph.nodes:
                raise NNProfError(f"{where}: the graph has no nodes")
            samples.append(
                Sample(
                    id=rec["id"],
                    family=rec["family"],
                    graph=graph,
                    latency_ms=float(rec["latency_ms"]),
                    batch_size=int(rec["batch_size"]),
                    input_size=int(rec.get("input_size") or 0),
                    platform=dict(rec.get("platform") or {}),
                    model=str(rec.get("model") or ""),
                    tier=str(rec.get("tier") or "base"),
                )
            )
    _apply_split_file(root / "split.json", samples)
    return samples


def _apply_split_file(path: Path, samples: list[Sample]) -> None:
    if not path.exists():
        return
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise NNProfError(f"{path}: not valid JSON ({e}); delete it to let nnprof make its own split") from None
    if not isinstance(spec, dict) or not all(isinstance(spec.get(k, []), list) for k in ("val", "test")):
        raise NNProfError(f"{path}: expected {{\"seed\": int, \"val\": [ids], \"test\": [ids]}}")
    by_id = {s.id: s for s in samples}
    val, test = set(spec.get("val", [])), set(spec.get("test", []))
    both = val & test
    if both:
        raise NNProfError(f"{path}: id {sorted(both)[0]!r} is in both val and test")
    for part, ids in (("val", val), ("test", test)):
        unknown = sorted(ids - by_id.keys())
        if unknown:
            raise NNProfError(f"{path}: {part} id {unknown[0]!r} is not in the data; regenerate the split")
    for s in samples:
        s.split = "val" if s.id in val else "test" if s.id in test else "train"


# ----------------------------------------------------------------------------------------
# NNLQP


def read_nnlqp(gt_path: str | Path, platform: str | None = None) -> list[Sample]:
    """Read an NNLQP ``gt.txt`` and the weight-stripped ONNX files it names.

    With several PlatformIds in the file, ``platform`` picks one (a predictor is per device).
    """
    from nnprof import graph as graph_mod

    gt_path = Path(gt_path)
    try:
        lines = gt_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise NNProfError(f"{gt_path}: cannot read ({e})") from None
    rows = []
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        where = f"{gt_path}:{lineno}"
        if len(parts) not in (6, 7):
            raise NNProfError(
                f"{where}: expected 'GraphID OnnxPath BatchSize Latency(ms) ModelType PlatformId [Stage]', "
                f"got {len(parts)} fields"
            )
        gid, onnx_rel, bs, lat, family, plat = parts[:6]
        stage = parts[6].lower() if len(parts) == 7 else None
        try:
            batch = int(bs)
        except ValueError:
            raise NNProfError(f"{where}: BatchSize {bs!r} is not an integer") from None
        try:
            latency = float(lat)
        except ValueError:
            raise NNProfError(f"{where}: Latency {lat!r} is not a number") from None
        if not _positive_latency(latency) or batch < 1:
            raise NNProfError(f"{where}: latency must be > 0 and batch size >= 1")
        if stage is not None and stage not in SPLITS:
            stage = None  # NNLQP stage tags other than train/val/test carry no split
        rows.append((where, gid, onnx_rel, batch, latency, family, plat, stage))
    if not rows:
        raise NNProfError(f"{gt_path}: no data lines")
    platforms = sorted({r[6] for r in rows})
    if platform is not None:
        rows = [r for r in rows if r[6] == platform]
        if not rows:
            raise NNProfError(f"{gt_path}: no lines for platform {platform!r}; it has {', '.join(platforms)}")
    elif len(platforms) > 1:
        raise NNProfError(
            f"{gt_path} mixes {len(platforms)} platforms ({', '.join(platforms[:5])}); pick one with --platform"
        )
    samples = []
    seen: dict[str, str] = {}
    for where, gid, onnx_rel, batch, latency, family, plat, stage in rows:
        if gid in seen:
            raise NNProfError(f"{where}: GraphID {gid!r} already used at {seen[gid]}")
        seen[gid] = where
        onnx_path = _resolve(gt_path, onnx_rel)
        if onnx_path is None:
            raise NNProfError(f"{where}: ONNX file {onnx_rel!r} not found next to {gt_path.name} or one folder up")
        try:
            g = graph_mod.from_onnx(graph_mod.load_onnx(onnx_path))
        except NNProfError as e:
            raise NNProfError(f"{where}: {e}") from None
        except Exception as e:  # a corrupt file is the user's data problem, not a bug of ours
            raise NNProfError(f"{where}: cannot read {onnx_path} as ONNX ({type(e).__name__}: {e})") from None
        shape = g.input_shape
        samples.append(
            Sample(
                id=gid,
                family=family,
                graph=g,
                latency_ms=latency,
                batch_size=batch,
                input_size=int(shape[-1]) if len(shape) >= 3 else 0,
                platform={"source": "nnlqp", "platform_id": plat},
                split=stage,
                model=onnx_rel,
            )
        )
    return samples


def _resolve(gt_path: Path, rel: str) -> Path | None:
    p = Path(rel)
    candidates = [p] if p.is_absolute() else [gt_path.parent / p, gt_path.parent.parent / p]
    return next((c for c in candidates if c.is_file()), None)


# ----------------------------------------------------------------------------------------
# synthetic

SYNTHETIC_FAMILIES = ("plain", "residual", "wide")


def _conv(name: str, cin: int, cout: int, hw: int, k: int, stride: int, batch: int) -> tuple[Node, int]:
    out_hw = (hw + 2 * (k // 2) - k) // stride + 1
    params = cout * cin * k * k + cout
    out_el = batch * cout * out_hw * out_hw
    node = Node(
        name=name,
        op="Conv",
        attrs={
            "kernel_shape": [k, k],
            "strides": [stride, stride],
            "pads": [k // 2] * 4,
            "dilations": [1, 1],
            "group": 1,
        },
        in_shapes=[[batch, cin, hw, hw], [cout, cin, k, k], [cout]],
        out_shape=[batch, cout, out_hw, out_hw],
        has_bias=True,
        macs=out_el * cin * k * k,
        params=params,
        mem=out_el + params,
    )
    return node, out_hw


def _elementwise(name: str, op: str, shape: list[int], n_inputs: int = 1) -> Node:
    el = math.prod(shape)
    return Node(name=name, op=op, in_shapes=[list(shape)] * n_inputs, out_shape=list(shape), macs=el if op == "Add" else 0, mem=el)


# per-op cost model of the synthetic "device", in ms: launch overhead + work / throughput
_OVERHEAD = {"Conv": 0.010, "Relu": 0.003, "Add": 0.004, "GlobalAveragePool": 0.005, "Gemm": 0.006, "Flatten": 0.001}


def synthetic_latency(g: RawGraph) -> float:
    """The synthetic device: fixed overhead + per-node launch cost + MACs and memory terms.

    Convolutions with stride 2 or few channels run at lower efficiency, so latency is not
    a function of total FLOPs alone: a structure-aware model can beat the regressions.
    """
    t = 0.05
    for n in g.nodes:
        t += _OVERHEAD.get(n.op, 0.002) + n.mem / 2e8
        if n.op == "Conv":
            cin = n.in_shapes[0][1]
            eff = 1.0 if cin >= 16 else 0.5
            if n.attrs["strides"][0] == 2:
                eff *= 0.7
            t += n.macs / (2e9 * eff)
        else:
            t += n.macs / 4e9
    return t


def synthetic_graph(family: str, rng: random.Random, name: str) -> RawGraph:
    """A small random conv net of the given family (8-40 nodes)."""
    if family not in SYNTHETIC_FAMILIES:
        raise ValueError(f"unknown synthetic family {family!r}")
    batch = rng.choice([1, 1, 2, 4])
    hw = hw0 = rng.choice([16, 32])
    c = rng.choice([8, 16, 32]) * (2 if family == "wide" else 1)
    nodes: list[Node] = []
    edges: list[tuple[int, int]] = []

    def add(node: Node, *inputs: int) -> int:
        nodes.append(node)
        i = len(nodes) - 1
        edges.extend((j, i) for j in inputs)
        return i

    cin = 3
    prev: int | None = None
    for stage in range(rng.randint(2, 4)):
        k = rng.choice([1, 3, 5]) if family != "wide" else rng.choice([1, 3])
        conv, hw = _conv(f"conv{stage}", cin, c, hw, k, 2 if stage and rng.random() < 0.5 else 1, batch)
        cur = add(conv, *([] if prev is None else [prev]))
        cur = add(_elementwise(f"relu{stage}", "Relu", conv.out_shape), cur)
        for rep in range(rng.randint(0, 2)):
            shape = nodes[cur].out_shape
            c2, _ = _conv(f"conv{stage}_{rep}", c, c, hw, 3, 1, batch)
            j = add(c2, cur)
            j = add(_elementwise(f"relu{stage}_{rep}", "Relu", shape), j)
            if family == "residual":
                j = add(_elementwise(f"add{stage}_{rep}", "Add", shape, 2), j, cur)
            cur = j
        prev, cin = cur, c
        c = min(c * 2, 128)
    shape = nodes[prev].out_shape
    gap = add(Node("gap", "GlobalAveragePool", in_shapes=[shape], out_shape=[shape[0], shape[1], 1, 1], mem=shape[0] * shape[1]), prev)
    flat = add(Node("flatten", "Flatten", attrs={"axis": 1}, in_shapes=[nodes[gap].out_shape], out_shape=[shape[0], shape[1]], mem=shape[0] * shape[1]), gap)
    params = shape[1] * 10 + 10
    add(
        Node(
            "fc", "Gemm", attrs={"transB": 1}, in_shapes=[[shape[0], shape[1]], [10, shape[1]], [10]],
            out_shape=[shape[0], 10], has_bias=True, macs=shape[0] * shape[1] * 10, params=params, mem=shape[0] * 10 + params,
        ),
        flat,
    )
    return RawGraph(name=name, nodes=nodes, edges=edges, batch_size=batch, input_shape=[batch, 3, hw0, hw0])


def synthetic(per_family: int = 40, families: tuple[str, ...] = SYNTHETIC_FAMILIES, seed: int = 0) -> list[Sample]:
    """`per_family` random networks per family with their synthetic-device latency."""
    rng = random.Random(seed)
    samples = []
    for fam in families:
        for i in range(per_family):
            g = synthetic_graph(fam, rng, f"{fam}_{i:04d}")
            samples.append(
                Sample(
                    id=g.name,
                    family=fam,
                    graph=g,
                    latency_ms=synthetic_latency(g),
                    batch_size=g.batch_size,
                    input_size=g.input_shape[-1],
                    platform={"source": "synthetic"},
                    model=g.name,
                )
            )
    return samples


# ----------------------------------------------------------------------------------------
# one entry point for the CLI


def load_dataset(spec: str | Path, platform: str | None = None) -> list[Sample]:
    """A zoo directory, an NNLQP gt.txt (or a folder holding one), or ``synthetic[:N]``."""
    path = Path(spec)
    if path.is_dir():
        if (path / "data").is_dir():
            if platform is not None:  # a zoo is one machine's measurements
                raise NNProfError(f"--platform picks a PlatformId of an NNLQP gt.txt; {path} is a measured zoo")
            return read_zoo(path)
        if (path / "gt.txt").is_file():
            return read_nnlqp(path / "gt.txt", platform)
        raise NNProfError(f"{path} is neither a zoo (no data/ folder) nor an NNLQP folder (no gt.txt)")
    if path.is_file():
        return read_nnlqp(path, platform)
    text = str(spec)
    if text == "synthetic" or text.startswith("synthetic:"):
        try:
            n = int(text.split(":", 1)[1]) if ":" in text else 40
        except ValueError:
            raise NNProfError(f"{text!r}: write synthetic:N with N networks per family") from None
        if n < 2:
            raise NNProfError("synthetic:N needs N >= 2")
        if platform is not None:
            raise NNProfError(f"--platform picks a PlatformId of an NNLQP gt.txt; {text} has none")
        return synthetic(n)
    raise NNProfError(f"dataset {text!r} not found; give a zoo directory, an NNLQP gt.txt or synthetic:N")


# ----------------------------------------------------------------------------------------
# protocols


def _take_val(samples: list[Sample], frac: float, rng: random.Random) -> tuple[list[Sample], list[Sample]]:
    """Per family, a seeded random `frac` (at least 1 when the family has >= 2) for validation."""
    train, val = [], []
    for fam in sorted({s.family for s in samples}):
        part = [s for s in samples if s.family == fam]
        k = min(len(part) - 1, max(1, round(frac * len(part)))) if frac > 0 and len(part) >= 2 else 0
        chosen = set(rng.sample(range(len(part)), k))
        for i, s in enumerate(part):
            (val if i in chosen else train).append(s)
    return train, val


def split_in_distribution(
    samples: list[Sample], val_frac: float = 0.1, test_frac: float = 0.1, seed: int = 0
) -> Split:
    """Train, validation and test from every family.

    The dataset's own split labels win (zoo split.json, NNLQP Stage column). Otherwise,
    per family in file order, the last `test_frac` is the test part (NNLQP's "first 1800
    train, last 200 test") and a seeded random `val_frac` of the rest validates.
    Validation drawn from the train labels when the dataset labels no validation.
    """
    rng = random.Random(seed)
    if any(s.split for s in samples):
        test = [s for s in samples if s.split == "test"]
        val = [s for s in samples if s.split == "val"]
        rest = [s for s in samples if s.split not in ("test", "val")]
        if not val:
            rest, val = _take_val(rest, val_frac, rng)
        return Split(rest, val, test, "in-distribution")
    train, test = [], []
    for fam in sorted({s.family for s in samples}):
        part = [s for s in samples if s.family == fam]
        k = min(len(part) - 1, max(1, round(test_frac * len(part)))) if len(part) >= 2 else 0
        train += part[: len(part) - k]
        test += part[len(part) - k :]
    train, val = _take_val(train, val_frac, rng)
    return Split(train, val, test, "in-distribution")


def split_leave_one_family_out(samples: list[Sample], family: str, val_frac: float = 0.1, seed: int = 0) -> Split:
    """Test on every sample of `family`; train and validate on the other families only."""
    families = sorted({s.family for s in samples})
    if family not in families:
        raise NNProfError(f"family {family!r} is not in the dataset; it has {', '.join(families)}")
    if len(families) < 2:
        raise NNProfError("leave-one-family-out needs at least two families")
    test = [s for s in samples if s.family == family]
    train, val = _take_val([s for s in samples if s.family != family], val_frac, random.Random(seed))
    return Split(train, val, test, f"leave-out:{family}")


def limit_per_family(samples: list[Sample], n: int | None, seed: int = 0) -> list[Sample]:
    """At most `n` samples per family, drawn by `seed` (file order kept); ``None`` keeps all.

    A compute budget for protocols that train many models: the draw depends only on the
    samples and the seed, never on test results.
    """
    if n is None:
        return list(samples)
    if n < 1:
        raise NNProfError(f"the per-family training limit must be >= 1, got {n}")
    rng = random.Random(seed)
    keep: set[int] = set()
    for fam in sorted({s.family for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.family == fam]
        keep.update(idx if len(idx) <= n else rng.sample(idx, n))
    return [s for i, s in enumerate(samples) if i in keep]


# Fingerprint fields that say nothing about what a latency was measured on: the kernel
# build string changes when a VM's host is updated between two sittings of one collection.
PLATFORM_INCIDENTAL = ("os",)


def distinct_platforms(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """The samples' platform fingerprints, each once, in order of first appearance."""
    out: list[dict[str, Any]] = []
    for s in samples:
        if s.platform not in out:
            out.append(s.platform)
    return out


def common_platform(samples: Sequence[Sample]) -> dict[str, Any] | None:
    """The one platform a training set was measured on, for a checkpoint's "platform"
    entry: the samples' shared fingerprint when they agree on everything but the
    incidental fields (whose values are then joined with "; "), else None (mixed or
    unrecorded)."""
    plats = distinct_platforms(samples)
    if len(plats) == 1:
        return plats[0]
    if not plats or not all(isinstance(p, dict) and p for p in plats):
        return None

    def core(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k not in PLATFORM_INCIDENTAL}
    if any(core(p) != core(plats[0]) for p in plats[1:]):
        return None
    out = dict(plats[0])
    for k in PLATFORM_INCIDENTAL:
        vals = sorted({str(p[k]) for p in plats if k in p})
        if vals:
            out[k] = "; ".join(vals)
    return out


def summary(samples: list[Sample]) -> dict[str, Any]:
    """Plain-python description of a training set, stored in checkpoints."""
    lat = [s.latency_ms for s in samples]
    return {
        "n": len(samples),
        "families": dict(sorted(Counter(s.family for s in samples).items())),
        "latency_ms": {"min": min(lat), "max": max(lat)} if lat else None,
        "nodes": {"min": min(len(s.graph.nodes) for s in samples), "max": max(len(s.graph.nodes) for s in samples)} if samples else None,
        "macs": {"min": min(s.graph.macs for s in samples), "max": max(s.graph.macs for s in samples)} if samples else None,
        "ops": sorted({n.op for s in samples for n in s.graph.nodes}),
        "batch_sizes": sorted({s.batch_size for s in samples}),
        "input_sizes": sorted({s.input_size for s in samples}),
        "platforms": distinct_platforms(samples)[:5],
    }
