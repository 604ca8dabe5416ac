"""Readers for the public NAS benchmark CSVs in ../shared/data and the train/val/test split.

What the files hold (see the data README):

- ``nb101_subset.csv``: 20,001 NAS-Bench-101 cells (a ~4.7% sample of the 423,624) with
  one 108-epoch validation accuracy each (fraction). No test accuracy: nnprof trains *and*
  tests on ``valid_acc_108ep`` (the paper trains on mean validation and tests on mean test
  accuracy over NAS-Bench-101's 3 runs).
- ``nb201_cifar10.csv``: all 15,625 NAS-Bench-201 cells with the CIFAR-10 test accuracy
  after 200 epochs (%, mean over seeds). No 200-epoch validation accuracy: nnprof trains
  *and* tests on ``test_acc_200ep`` (the paper trains on validation accuracy).
- ``nb201_latency_devices.csv``: the same cells timed on 19 device settings (HELP).

Accuracies are returned as fractions in [0, 1] for both benchmarks.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnprof.errors import NNProfError
from nnprof.nas.cells import Cell, nb101_cell, nb201_cell

BENCHES = ("nb101", "nb201")
FILES = {"nb101": "nb101_subset.csv", "nb201": "nb201_cifar10.csv"}
DEVICES_FILE = "nb201_latency_devices.csv"
VAL_SIZE = 200  # validation cells, as in the paper (after TNASP)
TEST100 = 100  # the "100 test samples" column of Table 3

TARGET_NOTE = {
    "nb101": "target = valid_acc_108ep for training, validation and test (the subset has no "
    "test accuracy; the paper tests on mean test accuracy)",
    "nb201": "target = CIFAR-10 test_acc_200ep for training, validation and test (no 200-epoch "
    "validation accuracy is available; the paper trains on validation accuracy)",
}


def default_data_dir() -> Path:
    """../shared/data relative to the repository root (the directory holding nnprof/)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class Bench:
    """All cells of one benchmark with their accuracy (fraction)."""

    name: str
    ids: list[str]  # module_hash (nb101) or arch_idx (nb201)
    cells: list[Cell]
    acc: np.ndarray  # (M,) float64, fraction

    def __len__(self) -> int:
        return len(self.cells)


def _open_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise NNProfError(f"data file {path} not found; pass --data-dir with the folder holding it")
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = []
            for r in reader:
                if None in r or None in r.values():  # more or fewer cells than the header
                    raise NNProfError(f"{path}:{reader.line_num}: the row does not have one cell per column")
                rows.append(r)
            return rows
    except UnicodeDecodeError:
        raise NNProfError(f"{path} is not a UTF-8 text file") from None
    except csv.Error as e:
        raise NNProfError(f"{path}: not a readable CSV ({e})") from None


def load_bench(name: str, data_dir: str | Path | None = None) -> Bench:
    """Read nb101 or nb201 from ``data_dir`` (default: `default_data_dir`)."""
    if name not in BENCHES:
        raise NNProfError(f"unknown benchmark {name!r}; choose nb101 or nb201")
    path = Path(data_dir) if data_dir is not None else default_data_dir()
    rows = _open_csv(path / FILES[name])
    if not rows:
        raise NNProfError(f"{path / FILES[name]} holds no cells (empty, or a header only)")
    ids: list[str] = []
    cells: list[Cell] = []
    acc: list[float] = []
    try:
        for r in rows:
            if name == "nb101":
                ids.append(r["module_hash"])
                cells.append(nb101_cell(json.loads(r["adjacency"]), json.loads(r["ops"])))
                acc.append(float(r["valid_acc_108ep"]))
            else:
                ids.append(r["arch_idx"])
                cells.append(nb201_cell(r["arch_str"]))
                acc.append(float(r["test_acc_200ep"]) / 100.0)
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise NNProfError(f"{path / FILES[name]} is not the expected {name} table: {e}") from None
    return Bench(name, ids, cells, np.asarray(acc, dtype=np.float64))


@dataclass
class Split:
    train: np.ndarray  # indices into the bench
    val: np.ndarray
    test: np.ndarray  # every cell not in train or val
    test100: np.ndarray  # the first 100 test cells (Table 3's "100 test samples")


def make_split(num_cells: int, train_size: int, seed: int, val_size: int = VAL_SIZE) -> Split:
    """Seeded random split: ``train_size`` training cells, ``val_size`` validation cells,
    everything else is test. The same seed always gives the same split."""
    if train_size < 2:
        raise NNProfError(f"--train-size must be at least 2, got {train_size}")
    if train_size + val_size >= num_cells:
        raise NNProfError(
            f"--train-size {train_size} + {val_size} validation cells leave no test cells "
            f"out of {num_cells}; use a smaller --train-size"
        )
    perm = np.random.default_rng(seed).permutation(num_cells)
    train = perm[:train_size]
    val = perm[train_size : train_size + val_size]
    test = perm[train_size + val_size :]
    return Split(train, val, test, test[:TEST100])


@dataclass
class DeviceLatency:
    """NAS-Bench-201 cells timed on real devices (HELP): latency_ms[device] is (M,)."""

    arch_idx: np.ndarray  # (M,) int
    arch_str: list[str]
    latency_ms: dict[str, np.ndarray]

    @property
    def devices(self) -> list[str]:
        return list(self.latency_ms)


def load_device_latency(data_dir: str | Path | None = None) -> DeviceLatency:
    """Read nb201_latency_devices.csv: one column ``<device>_latency_ms`` per device setting."""
    path = (Path(data_dir) if data_dir is not None else default_data_dir()) / DEVICES_FILE
    rows = _open_csv(path)
    if not rows:
        raise NNProfError(f"{path} has no rows")
    cols = [c for c in rows[0] if c.endswith("_latency_ms")]
    try:
        idx = np.array([int(r["arch_idx"]) for r in rows])
        strs = [r["arch_str"] for r in rows]
        lat = {c.removesuffix("_latency_ms"): np.array([float(r[c]) for r in rows]) for c in cols}
    except (KeyError, ValueError) as e:
        raise NNProfError(f"{path} is not the expected device-latency table: {e}") from None
    return DeviceLatency(idx, strs, lat)
