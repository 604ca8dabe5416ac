"""scripts/zoo_datasheet.py --against: latency ratios to another zoo, by measuring window."""

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import zoo_datasheet as ZD  # noqa: E402


def _zoo(root: Path, rows: list[tuple[str, float, float, str]]) -> Path:
    """A zoo directory of one family; rows: (id, latency_ms, block reference ms, measured_at)."""
    (root / "data").mkdir(parents=True)
    with gzip.open(root / "data" / "fam.jsonl.gz", "wt") as fh:
        for nid, ms, ref, at in rows:
            rec = {"id": nid, "family": "fam", "latency_ms": ms, "measured_at": at,
                   "latency": {"ref_ms": ref}, "graph": {"nodes": [{"op": "Conv", "macs": 1}]}}
            fh.write(json.dumps(rec) + "\n")
    return root


def test_against_splits_the_ratio_by_window_next_to_the_reference(tmp_path):
    # Here: a fast block at 10:00 (reference 1.0 ms, networks 2x the other zoo) and a slow
    # block at 10:20 (reference 1.2 ms, networks 2.4x); "x" is in this zoo only. Medians over
    # the two blocks: reference 1.1 ms, ratio 2.2.
    here = _zoo(tmp_path / "here", [
        ("a", 2.0, 1.0, "2026-01-01T10:00:00"), ("b", 4.0, 1.0, "2026-01-01T10:01:00"),
        ("c", 2.4, 1.2, "2026-01-01T10:20:00"), ("d", 4.8, 1.2, "2026-01-01T10:21:00"),
        ("x", 9.0, 1.2, "2026-01-01T10:22:00"),
    ])
    there = _zoo(tmp_path / "there", [
        ("a", 1.0, 0.5, "2026-01-02T09:00:00"), ("b", 2.0, 0.5, "2026-01-02T09:00:00"),
        ("c", 1.0, 0.5, "2026-01-02T09:00:00"), ("d", 2.0, 0.5, "2026-01-02T09:00:00"),
    ])
    recs = ZD.load(here)
    out = ZD.against(recs, ZD.blocks(recs), str(there), 15)
    text = "\n".join(out)
    assert "4 networks in both: latency here / there median 2.200" in text
    assert "reference network median 1.100 ms here, 0.500 ms there" in text
    rows = [line for line in out if line.startswith("| 10:")]
    assert rows == ["| 10:00 | 2 | 2.000 | 0.909 | 0.909 |", "| 10:20 | 2 | 2.400 | 1.091 | 1.091 |"]


def test_against_a_zoo_with_nothing_in_common(tmp_path):
    here = _zoo(tmp_path / "here", [("a", 2.0, 1.0, "2026-01-01T10:00:00")])
    there = _zoo(tmp_path / "there", [("z", 1.0, 0.5, "2026-01-01T10:00:00")])
    recs = ZD.load(here)
    assert ZD.against(recs, ZD.blocks(recs), str(there), 15)[-1] == "no network in common"


def test_a_zoo_extended_on_another_day_is_two_sittings_with_dated_rows(tmp_path):
    # Two blocks on day 1 (10:00-10:21), one on day 2 at 09:00: the night between them is
    # not measuring time, and the drift table's rows say which day they are from.
    here = _zoo(tmp_path / "here", [
        ("a", 2.0, 1.0, "2026-01-01T10:00:00"), ("b", 2.4, 1.2, "2026-01-01T10:21:00"),
        ("c", 2.0, 1.1, "2026-01-02T09:00:00"), ("d", 2.2, 1.1, "2026-01-02T09:30:00"),
    ])
    bl = ZD.blocks(ZD.load(here))
    sits = ZD.sittings(bl)
    assert [len(s) for s in sits] == [2, 1]
    assert sum((s[-1]["end"] - s[0]["start"]).total_seconds() for s in sits) == 51 * 60
    rows = [line for line in ZD.drift_table(bl, 15) if line.startswith("| 01-")]
    assert [r.split(" | ")[0] for r in rows] == ["| 01-01 10:00", "| 01-01 10:21", "| 01-02 09:00"]
    assert ZD.clock(bl[:2]) == "%H:%M"  # one day: times only, as before
