"""Print the figures of the measured zoo's datasheet (zoo/README.md) from zoo/ itself.

    python scripts/zoo_datasheet.py [zoo/] [--against OTHER_ZOO]...

Everything is read from zoo/data/*.jsonl.gz and zoo/split.json: per-family counts,
latency and size ranges, the split, the collection's time span, the protocol statistics
of every network, and the drift of the reference network over the collection (each
measured block records the reference's fastest time, `latency.ref_ms`, and its
networks' `measured_at`). Markdown on stdout. With --against, also the ratio of this zoo's
latencies to the other zoo's for the networks both hold (same id: same graph, batch, size),
overall and by the time window each was measured in here, next to that window's reference.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics as st
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path


def load(zoo: Path) -> list[dict]:
    recs = []
    for path in sorted((zoo / "data").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                g = r.pop("graph")
                r["nodes"] = len(g["nodes"])
                r["macs"] = sum(n.get("macs", 0) for n in g["nodes"])
                r["ops"] = sorted({n["op"] for n in g["nodes"]})
                recs.append(r)
    return recs


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def si(v: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def families_table(recs: list[dict], split: dict) -> list[str]:
    side = dict.fromkeys(split.get("val", []), "val") | dict.fromkeys(split.get("test", []), "test")
    by = defaultdict(list)
    for r in recs:  # a tier other than the base one gets rows of its own: "resnet (large)"
        tier = r.get("tier", "base")
        by[r["family"] if tier == "base" else f"{r['family']} ({tier})"].append(r)
    out = [
        "| family | networks | train / val / test | latency ms: min | median | max | nodes: min-max | MACs: min-max | batch sizes | input sizes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fam in sorted(by):
        rs = by[fam]
        lat = [r["latency_ms"] for r in rs]
        parts = Counter(side.get(r["id"], "train") for r in rs)
        out.append(
            f"| {fam} | {len(rs)} | {parts['train']} / {parts['val']} / {parts['test']} | {min(lat):.3g} | {st.median(lat):.3g} | {max(lat):.3g} "
            f"| {min(r['nodes'] for r in rs)}-{max(r['nodes'] for r in rs)} | {si(min(r['macs'] for r in rs))}-{si(max(r['macs'] for r in rs))} "
            f"| {', '.join(map(str, sorted({r['batch_size'] for r in rs})))} | {', '.join(map(str, sorted({r['input_size'] for r in rs})))} |"
        )
    tiers = sorted({r.get("tier", "base") for r in recs})
    groups = [(f"all, {t} tier", [r for r in recs if r.get("tier", "base") == t]) for t in tiers] if len(tiers) > 1 else []
    for name, rs in [*groups, ("all", recs)]:
        lat = [r["latency_ms"] for r in rs]
        parts = Counter(side.get(r["id"], "train") for r in rs)
        out.append(
            f"| **{name}** | **{len(rs)}** | {parts['train']} / {parts['val']} / {parts['test']} | {min(lat):.3g} | {st.median(lat):.3g} | {max(lat):.3g} "
            f"| {min(r['nodes'] for r in rs)}-{max(r['nodes'] for r in rs)} | {si(min(r['macs'] for r in rs))}-{si(max(r['macs'] for r in rs))} | | |"
        )
    return out


def blocks(recs: list[dict]) -> list[dict]:
    """Measured blocks: networks that share one reference time and were stored within
    a few minutes of each other (a block is one `measure_many` call)."""
    by = defaultdict(list)
    for r in recs:
        by[r["latency"]["ref_ms"]].append(datetime.fromisoformat(r["measured_at"]))
    out = []
    for ref, ts in by.items():
        ts.sort()
        out.append({"ref_ms": ref, "start": ts[0], "end": ts[-1], "n": len(ts)})
    return sorted(out, key=lambda b: b["start"])


def sittings(bl: list[dict], gap_h: float = 1.0) -> list[list[dict]]:
    """Blocks grouped into sittings: a pause of more than `gap_h` hours starts a new one
    (a zoo extended on another day is two sittings, not one long measurement)."""
    out: list[list[dict]] = []
    for b in bl:
        if out and (b["start"] - out[-1][-1]["end"]).total_seconds() <= gap_h * 3600:
            out[-1].append(b)
        else:
            out.append([b])
    return out


def clock(bl: list[dict]):
    """strftime format for a block's start: with the date when the blocks span days."""
    return "%m-%d %H:%M" if bl[0]["start"].date() != bl[-1]["end"].date() else "%H:%M"


def window(start: datetime, t0: datetime, minutes: int) -> int:
    """Index of the `minutes`-wide time bin, counted from t0, that `start` falls in."""
    return int((start - t0).total_seconds() // (60 * minutes))


def drift_table(bl: list[dict], minutes: int) -> list[str]:
    t0 = bl[0]["start"]
    bins = defaultdict(list)
    for b in bl:
        bins[window(b["start"], t0, minutes)].append(b)
    best, fmt = min(b["ref_ms"] for b in bl), clock(bl)
    out = [
        "| from | blocks | networks | reference ms: min | median | max | median / fastest of the collection |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in sorted(bins):
        bs = bins[k]
        refs = [b["ref_ms"] for b in bs]
        out.append(
            f"| {bs[0]['start'].strftime(fmt)} | {len(bs)} | {sum(b['n'] for b in bs)} | {min(refs):.3f} | {st.median(refs):.3f} | {max(refs):.3f} | {st.median(refs) / best:.2f}x |"
        )
    return out


def against(recs: list[dict], bl: list[dict], other_dir: str, minutes: int) -> list[str]:
    """Latency here / in another zoo over the networks both hold: overall, then by the
    window (of `drift_table`'s bins) each was measured in here, next to that window's
    reference median. A window whose ratio and reference both stand out ran in a slow or
    fast stretch; a ratio that moves without the reference is what the reference misses."""
    theirs = {r["id"]: r for r in load(Path(other_dir))}
    shared = [r for r in recs if r["id"] in theirs]
    head = f"\n## Against {other_dir}\n"
    if not shared:
        return [head, "no network in common"]
    ratio = [r["latency_ms"] / theirs[r["id"]]["latency_ms"] for r in shared]
    refs = [b["ref_ms"] for b in bl]
    orefs = [b["ref_ms"] for b in blocks(list(theirs.values()))]
    out = [
        head,
        f"{len(ratio)} networks in both: latency here / there median {st.median(ratio):.3f} "
        f"(10th-90th percentile {pct(ratio, 0.1):.3f}-{pct(ratio, 0.9):.3f}); reference network median "
        f"{st.median(refs):.3f} ms here, {st.median(orefs):.3f} ms there",
        "",
        f"by the {minutes}-minute window each network was measured in here:",
        "",
        "| from | networks in both | latency here / there: median | / median of all | reference here: median / median of all |",
        "|---|---|---|---|---|",
    ]
    t0, ref_all, r_all, fmt = bl[0]["start"], st.median(refs), st.median(ratio), clock(bl)
    start_of = {b["ref_ms"]: b["start"] for b in bl}  # a network's block, as in blocks()
    bins: dict[int, list[dict]] = defaultdict(list)
    for r in shared:
        bins[window(start_of[r["latency"]["ref_ms"]], t0, minutes)].append(r)
    for k in sorted(bins):
        rs = bins[k]
        q = st.median(r["latency_ms"] / theirs[r["id"]]["latency_ms"] for r in rs)
        rref = st.median({r["latency"]["ref_ms"] for r in rs})
        start = min(start_of[r["latency"]["ref_ms"]] for r in rs)
        out.append(f"| {start.strftime(fmt)} | {len(rs)} | {q:.3f} | {q / r_all:.3f} | {rref / ref_all:.3f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoo", nargs="?", default="zoo")
    ap.add_argument("--minutes", type=int, default=15, help="width of the drift table's time bins")
    ap.add_argument(
        "--against", action="append",
        help="another zoo directory: latency ratios over the networks both hold, overall and by time window (repeatable)",
    )
    a = ap.parse_args()
    zoo = Path(a.zoo)
    recs = load(zoo)
    split = json.loads((zoo / "split.json").read_text())
    print(f"## Families ({len(recs)} networks, {len({r['family'] for r in recs})} families)\n")
    print("\n".join(families_table(recs, split)))

    ops = Counter(op for r in recs for op in r["ops"])
    print(f"\n{len(ops)} ONNX op types occur; in how many networks each: " + ", ".join(f"{k} {v}" for k, v in ops.most_common()))

    plats = sorted({json.dumps(r["platform"], sort_keys=True) for r in recs})  # a set alone prints in any order
    vers = sorted({json.dumps(r["versions"], sort_keys=True) for r in recs})
    protos = Counter(r["latency"]["protocol"] for r in recs)
    print(f"\n## Platform and versions\n\n{len(plats)} platform fingerprint(s): " + "; ".join(plats))
    print(f"\n{len(vers)} library-version set(s): " + "; ".join(vers))
    print("\nprotocol(s): " + ", ".join(f"{k} ({v} networks)" for k, v in protos.items()))

    bl = blocks(recs)
    sits = sittings(bl)
    span = sum((s[-1]["end"] - s[0]["start"]).total_seconds() for s in sits) / 3600
    when = ", ".join(f"{s[0]['start']:%Y-%m-%d %H:%M} to {s[-1]['end'].strftime(clock(s))}" for s in sits)
    sizes = [b["n"] for b in bl]
    print(
        f"\n## Collection\n\nmeasured {when} ({span:.2f} h of measuring), "
        f"{len(bl)} blocks of {min(sizes)}-{max(sizes)} networks (median {st.median(sizes):.0f}); "
        f"export + simplification time recorded with the networks: {sum(r['export']['seconds'] for r in recs) / 3600:.2f} h in all "
        f"(median {st.median(r['export']['seconds'] for r in recs):.2f} s per network)"
    )
    conf = [r["latency"]["confirm_pct"] for r in recs]
    spread = [r["latency"]["spread_pct"] for r in recs]
    timing = [r["latency"]["timing_s"] for r in recs]
    print(
        f"\nper network: gap between its two fastest rounds (`confirm_pct`) median {st.median(conf):.2f}%, 90th percentile {pct(conf, 0.9):.2f}%; "
        f"median round minimum above the fastest (`spread_pct`) median {st.median(spread):.1f}% (10th-90th percentile {pct(spread, 0.1):.1f}-{pct(spread, 0.9):.1f}%); "
        f"timing {st.median(timing):.2f} s per network (median)"
    )
    refs = [b["ref_ms"] for b in bl]
    print(
        f"\n## Reference drift (nnprof-ref-v1, fastest time per block)\n\nover the {len(bl)} blocks: min {min(refs):.3f} ms, "
        f"median {st.median(refs):.3f}, max {max(refs):.3f} ({max(refs) / min(refs):.2f}x the fastest); by {a.minutes}-minute window:\n"
    )
    print("\n".join(drift_table(bl, a.minutes)))
    for path in a.against or []:
        print("\n".join(against(recs, bl, path, a.minutes)))


if __name__ == "__main__":
    main()
