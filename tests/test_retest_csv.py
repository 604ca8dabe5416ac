"""scripts/retest_csv.py: test-retest error between two `nnprof measure` CSVs."""

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import retest_csv as RT  # noqa: E402


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["model", "input_size", "batch_size", "latency_ms", "ref_ms"])
        w.writeheader()
        for m, lat, ref in rows:
            w.writerow({"model": m, "input_size": 224, "batch_size": 1, "latency_ms": lat, "ref_ms": ref})
    return str(path)


def test_compare_errors_shift_and_reference(tmp_path):
    a = _csv(tmp_path / "a.csv", [("m1", 10.0, 1.0), ("m2", 20.0, 1.0), ("only_a", 5.0, 1.0)])
    # Second pass: m1 10% slower, m2 unchanged; the reference 10% slower as well.
    b = _csv(tmp_path / "b.csv", [("m1", 11.0, 1.1), ("m2", 20.0, 1.1)])
    out = RT.compare(a, b)
    assert out["rows"] == 2
    assert out["mape_pct"] == pytest.approx(5.0)
    assert out["max_ape_pct"] == pytest.approx(10.0)
    assert out["within_2pct"] == pytest.approx(0.5)
    assert out["mean_signed_pct"] == pytest.approx(5.0)
    # Divided by the reference: m1 unchanged, m2 1/1.1 - 1 = -9.09% -> mean 4.55%.
    assert out["mape_ref_normalised_pct"] == pytest.approx(4.55)


def test_bad_inputs_are_one_line_errors(tmp_path):
    a = _csv(tmp_path / "a.csv", [("m1", 10.0, 1.0)])
    b = _csv(tmp_path / "b.csv", [("m9", 10.0, 1.0)])
    with pytest.raises(SystemExit, match="share no"):
        RT.compare(a, b)
    with pytest.raises(SystemExit, match="cannot read"):
        RT.compare(a, str(tmp_path / "missing.csv"))
    (tmp_path / "other.csv").write_text("name,ms\nx,1\n")
    with pytest.raises(SystemExit, match="no column"):
        RT.compare(a, str(tmp_path / "other.csv"))
    _csv(tmp_path / "bad.csv", [("m1", "n/a", 1.0)])
    with pytest.raises(SystemExit, match="m1 .* latency_ms 'n/a', not a positive number"):
        RT.compare(a, str(tmp_path / "bad.csv"))
