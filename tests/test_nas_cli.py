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
    f = tmp_path / "nb201_cifar10.csv"
    text = f.read_text()
    f.write_text(text + "5,|none~0|\n")  # a short last row
    with pytest.raises(NNProfError, match=r"nb201_cifar10.csv:7: the row does not have one cell per column"):
        load_bench("nb201", tmp_path)
    f.write_bytes(text.encode() + b"6,caf\xe9,1,1,1,1,1,1\n")  # not UTF-8
    with pytest.raises(NNProfError, match="is not a UTF-8 text file"):
        load_bench("nb201", tmp_path)
    f.write_text(text.replace("80", "eighty", 1))
    with pytest.raises(NNProfError, match="is not the expected nb201 table"):
        load_bench("nb201", tmp_path)


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
    write_nb201(tmp_path, 5)
    base = ["nas", "train", "--bench", "nb201", "--train-size", "2", "--data-dir", str(tmp_path)]
    r = runner.invoke(app, [*base, "-o", str(tmp_path)])  # refused before any training
    assert r.exit_code == 2 and "it is a directory; give a file name for -o" in r.output
    r = runner.invoke(app, [*base, "-o", str(tmp_path / "nb201_cifar10.csv" / "x.pt")])
    assert r.exit_code == 2 and "nb201_cifar10.csv is a file, not a directory" in r.output
    r = runner.invoke(app, [*base, "--epochs", "0"])
    assert r.exit_code == 2 and r.output.strip() == "error: --epochs must be >= 1, got 0"
    r = runner.invoke(app, [*base, "--batch-size", "1"])
    assert r.exit_code == 2 and "--batch-size must be >= 2 (a ranking loss needs pairs), got 1" in r.output
    r = runner.invoke(app, ["nas", "evaluate", *base[2:], "--save-dir", str(tmp_path / "nb201_cifar10.csv")])
    assert r.exit_code == 2 and "is a file, not a folder" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nb201_cifar10.csv").write_text("arch_idx,arch_str,test_acc_200ep\n")
    r = runner.invoke(app, [*base[:-2], "--data-dir", str(empty)])
    assert r.exit_code == 2 and "nb201_cifar10.csv holds no cells (empty, or a header only)" in r.output


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
    assert [x["steps"] for x in doc["runs"]] == [2 * (16 // 8)] * 2  # epochs x batches per epoch
    assert doc["model_args"]["pe"] == "nerf"
    assert doc["summary"]["tau_all"]["n"] == 2
    taus = [x["tau_all"] for x in doc["runs"]]
    assert doc["summary"]["tau_all"]["mean"] == pytest.approx(np.mean(taus))
    assert "test_acc_200ep" in doc["note"]
    r = runner.invoke(app, ["nas", "evaluate", *common, "--seeds", "1"])
    assert r.exit_code == 0, r.output
    assert "nnprof" in r.stdout and "test_acc_200ep" in r.stdout


def _load_tables_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "nas_tables.py"
    spec = importlib.util.spec_from_file_location("nas_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _doc(seeds, taus, lr=1e-3):
    runs = [
        {
            "seed": s,
            "tau_all": t,
            "tau_100": t - 0.1,
            "acc10_all": 90.0 + s,
            "best_epoch": 10,
            "train_seconds": 60.0 * (s + 1),
        }
        for s, t in zip(seeds, taus, strict=True)
    ]
    return {
        "bench": "nb101",
        "train_size": 424,
        "n_test": 19377,
        "note": "a note",
        "config": {"epochs": 20, "batch_size": 16, "lr": lr},
        "model_args": {"hidden": 128, "pe": "nerf"},
        "runs": runs,
    }


def test_nas_tables_pools_seeds_and_refuses_mixed_configs(tmp_path, capsys):
    tables = _load_tables_script()
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(_doc([0, 1], [0.70, 0.74])))
    b.write_text(json.dumps(_doc([2], [0.78])))
    tables.main([str(a), str(b)])
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("| 424 |"))
    cells = [x.strip() for x in row.strip("|").split("|")]
    assert cells[1] == "0, 1, 2" and cells[2] == "19377"
    assert cells[5] == "0.740 ± 0.040"  # tau all: mean and sample std of 0.70, 0.74, 0.78
    assert cells[3] == "0.640 ± 0.040" and cells[4] == "0.802"  # tau 100 and the paper's
    assert cells[8] == str(20 * (424 // 16)) and cells[10] == "2.0"  # steps, minutes per run
    c.write_text(json.dumps(_doc([3], [0.8], lr=1e-4)))
    with pytest.raises(SystemExit, match="another configuration"):
        tables.main([str(a), str(c)])
    with pytest.raises(SystemExit, match="already read"):
        tables.main([str(a), str(a)])
