"""Fine-tuning a checkpoint on the user's own measurements (the CSV `nnprof measure` writes).

    measurements.csv --read_measurements--> rows (validated, resolved, one platform)
        --predict.graph_features--> raw graphs --split_rows--> fine-tune part | held-out part
        --train.finetune (fine-tune part only)--> new checkpoint
        --score--> MAPE and Acc(10%) on the held-out part, before and after

The held-out rows are used for nothing but the before/after scores: `train.finetune`
picks its candidate (original, rescaled, or an epoch of gradient fine-tuning) on its own
validation share of the fine-tune part. So with 20 rows and ``val_frac=0.2``: 4 rows
held out, 16 handed to `train.finetune`, which validates on 3 and trains on 13.

CSV: the columns ``model, input_size, batch_size, latency_ms`` are required (extra
columns are fine). ``model`` is a zoo name or an ONNX path (absolute, relative to the
working directory, or to the CSV's folder); an empty ``input_size`` means the model's
default size (or the ONNX file's own). The platform fingerprint columns (``cpu, threads,
provider, onnxruntime, precision``), when present, name the platform the new checkpoint
predicts for; one CSV must hold one platform.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnprof.errors import NNProfError
from nnprof.predict import PLATFORM_KEYS, GraphFeatures, describe_platform
from nnprof.zoo import ModelRef

REQUIRED_COLUMNS = ("model", "input_size", "batch_size", "latency_ms")
MIN_ROWS = 5  # 1 held out + 4 for train.finetune (3 train, 1 validation)
# A latency outside this range (ms) is a unit or typing mistake, not a measurement: below a
# nanosecond no network runs, above a day nobody times one; either would dominate the fit.
LATENCY_RANGE_MS = (1e-6, 8.64e7)


@dataclass
class Row:
    line: int  # line number in the CSV (header = 1)
    model: str  # as written
    ref: ModelRef
    input_size: int | None  # None: the model's default (zoo) or the file's own (ONNX)
    batch_size: int
    latency_ms: float
    platform: dict[str, Any]


def _resolve(name: str, csv_dir: Path) -> ModelRef:
    from nnprof import zoo

    p = Path(name).expanduser()
    if (name.lower().endswith(".onnx") or "/" in name) and not p.is_absolute() and not p.exists():
        alt = csv_dir / p
        if alt.exists():
            return zoo.resolve(str(alt))
    return zoo.resolve(name)


def _int(value: str, column: str, where: str, allow_empty: bool = False) -> int | None:
    v = value.strip()
    if not v and allow_empty:
        return None
    try:
        n = int(v)
    except ValueError:
        try:
            f = float(v)
        except ValueError:
            raise NNProfError(f"{where}: {column} {value!r} is not a number") from None
        if not f.is_integer():
            raise NNProfError(f"{where}: {column} {value!r} is not a whole number") from None
        n = int(f)
    if n <= 0:
        raise NNProfError(f"{where}: {column} must be positive, got {value!r}")
    return n


def _platform(row: dict[str, str], where: str = "") -> dict[str, Any]:
    plat: dict[str, Any] = {}
    for k in PLATFORM_KEYS:
        v = (row.get(k) or "").strip()
        if v:
            if k == "threads":
                if not v.isdigit() or int(v) < 1:
                    raise NNProfError(f"{where}: threads {v!r} is not a positive whole number")
                plat[k] = int(v)
            else:
                plat[k] = v
    return plat


def _records(reader: csv.DictReader, path: Path) -> Iterator[dict[str, str]]:
    """The reader's rows; a row the csv module cannot read (a field over its size limit)
    becomes a one-line error naming the line."""
    try:
        yield from reader
    except csv.Error as e:
        raise NNProfError(f"{path}:{reader.line_num}: not a readable CSV row ({e})") from None


def read_measurements(path: str | Path) -> list[Row]:
    """Read and check a measurement CSV; NNProfError naming the line of the first problem."""
    from nnprof import zoo

    path = Path(path)
    if not path.exists():
        raise NNProfError(f"{path}: no such file; write one with `nnprof measure MODEL... -o {path}`")
    if path.is_dir():
        raise NNProfError(f"{path} is a directory; give the CSV written by `nnprof measure -o`")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise NNProfError(f"{path}: not a UTF-8 text file; give the CSV written by `nnprof measure -o`") from None
    except OSError as e:
        raise NNProfError(f"{path}: cannot read ({e.strerror or e})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise NNProfError(f"{path} is empty; expected a header with {', '.join(REQUIRED_COLUMNS)}")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise NNProfError(f"{path}: column(s) {', '.join(twice)} appear more than once in the header")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise NNProfError(
            f"{path}: missing column(s) {', '.join(missing)}; the CSV needs "
            f"{', '.join(REQUIRED_COLUMNS)} (as `nnprof measure -o` writes)"
        )
    reader.fieldnames = header
    rows: list[Row] = []
    seen: dict[tuple[str, int | None, int], int] = {}
    first_platform: tuple[int, dict[str, Any]] | None = None
    for rec in _records(reader, path):
        line = reader.line_num
        where = f"{path}:{line}"
        if None in rec:
            raise NNProfError(f"{where}: more cells than the header has columns")
        if all(not (v or "").strip() for v in rec.values()):
            continue
        name = (rec.get("model") or "").strip()
        if not name:
            raise NNProfError(f"{where}: empty model name")
        for col in ("input_size", "batch_size", "latency_ms"):
            if rec.get(col) is None:
                raise NNProfError(f"{where}: the row has no {col} cell")
        try:
            ref = _resolve(name, path.parent)
        except NNProfError as e:
            raise NNProfError(f"{where}: {e}") from None
        size = _int(rec["input_size"], "input_size", where, allow_empty=True)
        batch = _int(rec["batch_size"], "batch_size", where)
        try:
            latency = float(rec["latency_ms"])
        except ValueError:
            raise NNProfError(f"{where}: latency_ms {rec['latency_ms']!r} is not a number") from None
        if not math.isfinite(latency) or latency <= 0:
            raise NNProfError(f"{where}: latency_ms must be a positive number, got {rec['latency_ms']!r}")
        lo, hi = LATENCY_RANGE_MS
        if not lo <= latency <= hi:
            raise NNProfError(
                f"{where}: latency_ms {rec['latency_ms'].strip()} is outside {lo:g}..{hi:g} ms; "
                "is the unit milliseconds?"
            )
        eff = size if (size is not None or ref.source == "onnx") else zoo.default_input_size(ref)
        key = (ref.qualified, eff, batch)  # type: ignore[assignment]
        if key in seen:
            raise NNProfError(
                f"{where}: duplicate of line {seen[key]} (same model, input_size and batch_size); "
                "keep one of them"
            )
        seen[key] = line  # type: ignore[index]
        plat = _platform(rec, where)
        if first_platform is None:
            first_platform = (line, plat)
        elif plat != first_platform[1]:
            raise NNProfError(
                f"{where}: platform {describe_platform(plat)} differs from line "
                f"{first_platform[0]} ({describe_platform(first_platform[1])}); "
                "fine-tune on one platform at a time"
            )
        rows.append(Row(line, name, ref, size, batch, latency, plat))
    if len(rows) < MIN_ROWS:
        raise NNProfError(f"{path} has {len(rows)} measurement row(s); fine-tuning needs at least {MIN_ROWS} (20 or more recommended)")
    return rows


def split_rows(n: int, val_frac: float, seed: int) -> tuple[list[int], list[int]]:
    """(fine-tune indices, held-out indices): a seeded random `val_frac` is held out,
    at least 1 and leaving at least MIN_ROWS - 1 to fine-tune on; none if val_frac is 0."""
    if not 0 <= val_frac < 1:
        raise NNProfError(f"--val-frac must be in [0, 1), got {val_frac}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = 0 if val_frac == 0 else min(n - (MIN_ROWS - 1), max(1, round(val_frac * n)))
    return sorted(order[k:]), sorted(order[:k])


def score(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    from nnprof import metrics as M

    return {"mape": M.mape(y_true, y_pred), "acc10": M.acc(y_true, y_pred, 0.10)}


FeatureProgress = Callable[[str], None]


def row_features(rows: Sequence[Row], progress: FeatureProgress | None = None,
                 source: str | Path | None = None) -> list[GraphFeatures]:
    """Convert (cached), parse and encode every row's model; errors name the CSV (`source`)
    and line."""
    from nnprof.predict import graph_features

    feats = []
    for r in rows:
        if progress:
            progress(f"{r.ref.qualified} (batch {r.batch_size})")
        try:
            feats.append(graph_features(r.ref, r.input_size, r.batch_size))
        except NNProfError as e:
            raise NNProfError(f"{source}:{r.line}: {e}" if source else f"line {r.line}: {e}") from None
    return feats


OUTLIER_FACTOR = 10.0  # a row this far from the others' measured / predicted ratio stands out


def outliers(rows: Sequence[Row], predicted: Sequence[float]) -> list[tuple[Row, float]]:
    """Rows whose measured / predicted ratio is more than OUTLIER_FACTOR x away from the
    median ratio of all rows, with that factor (> 1: slower than the rest suggest). A whole
    device being faster or slower moves the median, not the rows; a unit slip or a typo
    moves one row."""
    ratios = [(r, r.latency_ms / p) for r, p in zip(rows, predicted, strict=True) if p > 0 and math.isfinite(p)]
    if len(ratios) < 3:
        return []
    mid = sorted(q for _, q in ratios)[len(ratios) // 2]
    return [(r, q / mid) for r, q in ratios if not 1 / OUTLIER_FACTOR <= q / mid <= OUTLIER_FACTOR]


def run(
    rows: Sequence[Row],
    feats: Sequence[GraphFeatures],
    base: Any,  # predict.Predictor
    *,
    epochs: int = 30,
    lr: float = 1e-4,
    val_frac: float = 0.2,
    seed: int = 0,
    device: str = "auto",
    source: str = "",
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Fine-tune `base` on the rows; returns (model, checkpoint dict, report).

    report: n, n_finetune, n_heldout, kept (the candidate train.finetune kept),
    before / after ({mape, acc10} on the held-out rows; on the fine-tune rows if none are
    held out, with ``scored_on`` saying which), per-row held-out predictions, platform.
    """
    import copy

    from nnprof import train as T
    from nnprof import zoo
    from nnprof.data import Sample
    from nnprof.predict import Predictor, samples_profile, training_profile

    if epochs < 1:
        raise NNProfError(f"--epochs must be >= 1, got {epochs}")
    samples = [
        Sample(
            id=f"line{r.line}:{r.ref.qualified}:b{f.batch_size}",
            family=zoo.family_of(r.ref) or r.ref.source,
            graph=f.raw,
            latency_ms=r.latency_ms,
            batch_size=f.batch_size,
            input_size=int(f.input_size or 0),
            platform=dict(r.platform),
            model=r.ref.qualified,
        )
        for r, f in zip(rows, feats, strict=True)
    ]
    tune_idx, held_idx = split_rows(len(samples), val_frac, seed)
    tune = [samples[i] for i in tune_idx]
    scored_on = "held-out" if held_idx else "fine-tune (no rows held out)"
    eval_idx = held_idx or tune_idx
    eval_feats = [feats[i] for i in eval_idx]
    truth = [samples[i].latency_ms for i in eval_idx]
    before_pred = base.predict(eval_feats)

    model, ckpt = T.finetune(
        (copy.deepcopy(base.model).cpu(), base.ckpt), tune, epochs=epochs, lr=lr,
        val_frac=val_frac, seed=seed, device=device, progress=progress,
    )
    dev = T.resolve_device(device)
    after = Predictor(model.to(dev), ckpt, base.path, dev, training_profile(ckpt))
    after_pred = after.predict(eval_feats)

    ft = ckpt["finetune"]
    ft["train_data"].update(samples_profile([s.graph for s in tune]))
    ft["csv"] = source
    ft["base_checkpoint"] = str(base.path)
    ft["rows"] = len(samples)
    ft["heldout"] = {
        "n": len(held_idx),
        "scored_on": scored_on,
        "before": score(truth, before_pred),
        "after": score(truth, after_pred),
    }
    platform = rows[0].platform if rows[0].platform else {"note": f"unrecorded (no fingerprint columns in {source or 'the CSV'})"}
    ckpt["platform"] = platform
    report = {
        "n": len(samples),
        "n_finetune": len(tune),
        "n_heldout": len(held_idx),
        "scored_on": scored_on,
        "kept": ft["kept"],
        "kept_epoch": ft["kept_epoch"],
        "before": ft["heldout"]["before"],
        "after": ft["heldout"]["after"],
        "platform": describe_platform(platform),
        "base_platform": describe_platform(base.platform),
        "predictions": [
            {"line": rows[i].line, "model": rows[i].ref.qualified, "batch_size": samples[i].batch_size,
             "measured_ms": t, "before_ms": b, "after_ms": a}
            for i, t, b, a in zip(eval_idx, truth, before_pred, after_pred, strict=True)
        ],
    }
    return model, ckpt, report
