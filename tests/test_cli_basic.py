import pytest
from typer.testing import CliRunner

from nnprof import __version__
from nnprof.cli import app, run

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert __version__ in result.output


def _run(capsys, argv):
    """The console script's entry (`nnprof.cli.run`): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exc:
        run(argv)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, names",
    [
        (["predict", "resnet50", "--input-size", "-3"], "--input-size"),
        (["predict", "resnet50", "--device", "tpu"], "--device"),
        (["predict", "resnet50", "--no-such-option"], "--no-such-option"),
        (["predict"], "models"),
        (["no-such-command"], "no-such-command"),
        (["nas", "train", "--bench", "nb201", "--train-size", "10", "--seed", "-1"], "--seed"),
        (["nas", "evaluate", "--bench", "nb201", "--train-size", "10", "--seed-start", "-1"], "--seed-start"),
        (["nas", "fewshot", "--seed", "-1"], "--seed"),
        (["finetune", "m.csv", "--seed", "-2"], "--seed"),
        (["train", "zoo", "--lr", "-1"], "'--lr': must be a finite number >= 0, got -1.0"),
        (["train", "zoo", "--lr", "nan"], "got nan"),
        (["finetune", "m.csv", "--lr", "0"], "must be a finite number > 0, got 0.0"),
        (["nas", "fewshot", "--lr", "inf"], "got inf"),
        (["nas", "train", "--bench", "nb201", "--train-size", "10", "--lr", "0"], "--lr"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, names):
    code, out, err = _run(capsys, argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and names in lines[0] and "--help" in lines[0]
    assert "╭" not in err and "Traceback" not in err


def test_run_keeps_exit_codes(capsys):
    code, out, _ = _run(capsys, ["--version"])
    assert code == 0 and __version__ in out
    # a user error raised inside a command: one line, exit 2, markup in it printed as is
    code, _, err = _run(capsys, ["finetune", "[missing].csv"])
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and "[missing].csv" in err
