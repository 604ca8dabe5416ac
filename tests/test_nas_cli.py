"""`nnprof nas ...` commands and the benchmark readers on tiny CSV files."""

import csv
import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nnprof.cli import app
from nnprof.errors import NNProfError
from nnprof.nas.cells import NB201_OPS
from nnprof.nas.data import default_data_dir, load_bench, load_device_latency

runner = CliRunner()


def write_nb201(path, n: int) -> None:
    ops = list(itertools.product(NB201_OPS[1:-1], repeat=6))[:n]
    with (path / "nb201_cifar10.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "arch_idx",
                "arch_str",
                "test_acc_200ep",
                "cifar100_test_acc_200ep",
                "imagenet16_test_acc_200ep",
                "train_time_per_epoch_s_200ep",
                "valid_acc_12ep",
                "test_acc_12ep",
            ]
        )
        for i, (a, b, c, d, e, g) in enumerate(ops):
            s = f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{g}~2|"
            w.writerow([i, s, 80 + 2 * s.count("nor_conv_3x3"), 0, 0, 0, 0, 0])


def test_load_bench_and_errors(tmp_path):
    write_nb201(tmp_path, 5)
    b = load_bench("nb201", tmp_path)
    assert len(b) == 5 and b.ids[0] == "0"
    assert b.acc[0] == pytest.approx(0.80)  # first cell: six nor_conv_1x1, no 3x3
    with pytest.raises(NNProfError, match="not found"):
        load_bench("nb101", tmp_path)
    with pytest.raises(NNProfError, match="unknown benchmark"):
        load_bench("nb301", tmp_path)


def test_nb101_reader(tmp_path):
    with (tmp_path / "nb101_subset.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "module_hash",
                "num_vertices",
                "adjacency",
                "ops",
                "trainable_parameters",
                "valid_acc_4ep",
                "valid_acc_12ep",
                "valid_acc_36ep",
                "valid_acc_108ep",
                "training_time_108ep_s",
            ]
        )
        w.writerow(
            [
                "abc",
                3,
                json.dumps([[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
                json.dumps(["input", "maxpool3x3", "output"]),
                1,
                0,
                0,
                0,
                0.9,
                0,
            ]
        )
    b = load_bench("nb101", tmp_path)
    assert b.ids == ["abc"] and b.cells[0].ops.tolist() == [0, 3, 4] and b.acc.tolist() == [0.9]


def test_device_latency_reader(tmp_path):
    (tmp_path / "nb201_latency_devices.csv").write_text(
        "arch_idx,arch_str,pixel3_latency_ms,gold_6240_latency_ms\n0,|a|,3.5,6.25\n7,|b|,1,2\n"
    )
    d = load_device_latency(tmp_path)
    assert d.devices == ["pixel3", "gold_6240"]
    assert d.arch_idx.tolist() == [0, 7] and d.latency_ms["gold_6240"].tolist() == [6.25, 2.0]


def test_default_data_dir_is_next_to_the_repo():
    assert default_data_dir().parts[-2:] == ("shared", "data")


def test_missing_file_is_one_line_error(tmp_path):
    r = runner.invoke(
        app, ["nas", "train", "--bench", "nb101", "--train-size", "10", "--data-dir", str(tmp_path)]
    )
    assert r.exit_code == 2
    assert "nb101_subset.csv not found" in r.output and "Traceback" not in r.output


def test_train_and_evaluate_commands(tmp_path):
    write_nb201(tmp_path, 240)
    ckpt = tmp_path / "ck" / "m.pt"
    common = [
        "--bench",
        "nb201",
        "--train-size",
        "16",
        "--data-dir",
        str(tmp_path),
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--batch-size",
        "8",
    ]
    r = runner.invoke(app, ["nas", "train", *common, "-o", str(ckpt), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert ckpt.is_file()
    assert json.loads(r.stdout)["n_test"] == 240 - 16 - 200
    r = runner.invoke(app, ["nas", "train", *common, "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "seed 3" in r.stdout and "test_acc_200ep" in r.stdout
    r = runner.invoke(app, ["nas", "evaluate", *common, "--seeds", "2", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_test"] == 240 - 16 - 200 and len(doc["runs"]) == 2
    assert [x["seed"] for x in doc["runs"]] == [0, 1]
    assert doc["summary"]["tau_all"]["n"] == 2
    taus = [x["tau_all"] for x in doc["runs"]]
    assert doc["summary"]["tau_all"]["mean"] == pytest.approx(np.mean(taus))
    assert "test_acc_200ep" in doc["note"]
    r = runner.invoke(app, ["nas", "evaluate", *common, "--seeds", "1"])
    assert r.exit_code == 0, r.output
    assert "nnprof" in r.stdout and "test_acc_200ep" in r.stdout
