import json

import pytest

from nnprof.metrics import (
    acc,
    aggregate,
    kendall_tau,
    mape,
    mean_std,
    score,
    score_by_family,
    spearman_rho,
)

Y = [1.0, 2.0, 4.0, 10.0]
P = [1.1, 1.8, 4.0, 7.0]  # relative errors 0.10, 0.10, 0.00, 0.30


def test_mape_and_acc_by_hand():
    assert mape(Y, P) == pytest.approx(100 * (0.1 + 0.1 + 0.0 + 0.3) / 4)  # 12.5
    assert acc(Y, P, 0.10) == 75.0  # errors of exactly 10% count
    assert acc(Y, P, 0.05) == 25.0
    assert acc(Y, P, 0.30) == 100.0


def test_rank_metrics_by_hand():
    assert kendall_tau(Y, P) == pytest.approx(1.0)  # same order
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one discordant pair of 6 -> (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall_tau([1.0], [2.0]) is None
    assert spearman_rho([1, 2, 3], [5, 5, 5]) is None


def test_score_by_family_and_json_safe():
    s = score_by_family(Y, P, ["a", "a", "b", "b"])
    assert list(s) == ["all", "a", "b"]
    assert s["a"]["mape"] == pytest.approx(10.0)
    assert s["b"]["mape"] == pytest.approx(15.0)
    assert s["b"]["acc10"] == 50.0
    assert s["all"]["n"] == 4
    json.dumps(s, allow_nan=False)


def test_mean_std_and_aggregate():
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": pytest.approx(2**0.5), "n": 2}
    assert mean_std([None, 5.0]) == {"mean": 5.0, "std": 0.0, "n": 1}
    r1 = {"all": score([1, 2], [1, 2]), "x": score([1, 2], [1, 2])}
    r2 = {"all": score([1, 2], [1.1, 2.2])}
    agg = aggregate([r1, r2])
    assert agg["all"]["mape"]["mean"] == pytest.approx(5.0)
    assert agg["all"]["acc10"]["mean"] == 100.0
    assert agg["x"]["mape"]["n"] == 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 targets but 3 predictions"):
        mape([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="positive"):
        mape([0.0], [1.0])
