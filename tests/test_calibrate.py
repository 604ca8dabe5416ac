"""nnprof.calibrate: the ridge log-linear correction, its leave-one-out scores, checkpoints."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from nnprof import calibrate as C
from nnprof import encode as enc
from nnprof import train as T
from nnprof.data import Sample, synthetic
from nnprof.errors import NNProfError
from nnprof.model import ModelArgs

TINY = ModelArgs(hidden=16, groups=4, dropout=0.0)


def _feats(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, len(C.FEATURES)))


def test_fit_recovers_a_known_log_linear_device():
    x = _feats(40)
    true = np.array([0.4, 0.8, 0.3, 0.0, -0.2, 0.5])  # c_0 .. c_5
    y = np.exp(true[0] + x @ true[1:])
    f = C.fit(x, y, lam=1e-9)
    np.testing.assert_allclose(f.coef, true, atol=1e-6)
    assert f.fit_mape < 1e-4 and f.loo_mape < 1e-4
    # a strong penalty shrinks towards "right up to scale": slope 1 on log latency, 0 elsewhere
    g = C.fit(x, y, lam=1e9)
    np.testing.assert_allclose(g.coef[1:], [1.0, 0, 0, 0, 0], atol=1e-6)


def test_infinite_lambda_is_a_rescale_and_loo_matches_brute_force():
    x = _feats(12, seed=1)
    y = np.exp(x[:, 0] + 0.7 + 0.1 * np.sin(np.arange(12)))  # 2x slower, with wiggles
    r = C.fit(x, y, math.inf)
    assert r.coef[1:] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert r.coef[0] == pytest.approx(np.mean(np.log(y) - x[:, 0]))
    for lam in (0.3, 10.0, math.inf):
        fast = C.fit(x, y, lam).loo_mape
        errs = []
        for i in range(12):
            keep = np.arange(12) != i
            c = np.array(C.fit(x[keep], y[keep], lam, scale=x.std(0)).coef)
            p = math.exp(c[0] + x[i] @ c[1:])
            errs.append(abs(p / y[i] - 1))
        assert fast == pytest.approx(100 * np.mean(errs), rel=1e-6)


def test_choose_prefers_the_simpler_fit_and_needs_rows():
    x = _feats(10, seed=2)
    y = np.exp(x[:, 0] + 1.0)  # exactly 2.7x slower: every fit is perfect
    best, fits = C.choose(x, y)
    assert math.isinf(best.lam) and len(fits) == len(C.LAMBDAS) + 1
    _, few = C.choose(x[:3], y[:3])
    assert len(few) == 1 and math.isinf(few[0].lam)
    with pytest.raises(ValueError, match="at least 2"):
        C.choose(x[:1], y[:1])


def test_choose_refuses_rows_where_every_error_overflows():
    x = _feats(10, seed=3)
    y = np.exp(x[:, 0])
    y[0] = np.inf  # what an overflowing latency or feature turns into: every score is NaN
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="no calibration has a finite error"):
        C.choose(x, y)


def test_compose_equals_applying_twice():
    x = torch.from_numpy(_feats(6, seed=3))
    inner = [0.1, 0.9, 0.2, -0.1, 0.0, 0.3]
    outer = [-0.3, 1.2, 0.0, 0.05, 0.1, -0.2]
    once = C.apply(torch.tensor(inner, dtype=torch.float64), x)
    x2 = x.clone()
    x2[:, 0] = torch.log(once)
    twice = C.apply(torch.tensor(outer, dtype=torch.float64), x2)
    np.testing.assert_allclose(C.apply(torch.tensor(C.compose(outer, inner), dtype=torch.float64), x), twice, rtol=1e-10)


def test_design_reads_counts_from_the_batch():
    samples = synthetic(2, seed=0)
    data = T.prepare(samples)
    batch = enc.collate(data.graphs)
    f = C.design(torch.ones(len(samples)), batch)
    np.testing.assert_allclose(f[:, 1].exp() * 1e9, data.counts[:, 0], rtol=1e-4)
    np.testing.assert_allclose(f[:, 2].exp() * 1e9, data.counts[:, 1], rtol=1e-4)
    nodes = torch.tensor([g.num_nodes for g in data.graphs], dtype=torch.float64)
    np.testing.assert_allclose(f[:, 3].exp(), nodes)
    convs = torch.tensor([sum(n.op == "Conv" for n in s.graph.nodes) for s in samples], dtype=torch.float64)
    np.testing.assert_allclose(f[:, 4], torch.log1p(convs))


@pytest.fixture(scope="module")
def trained():
    samples = synthetic(8, seed=1)
    enc_ = T.prepare(samples)
    res = T.train_model("narformer2", enc_, None, T.TrainConfig(epochs=2, device="cpu"), TINY)
    return samples, (res.model, T.make_checkpoint(res, samples))


def _device(samples, model, fn):
    before = T.predict(model, T.prepare(samples))
    counts = T.prepare(samples).counts[:, 0]
    return [Sample(s.id, s.family, s.graph, fn(float(p), float(m)), s.batch_size, s.input_size, {"cpu": "new"})
            for s, p, m in zip(samples, before.tolist(), counts.tolist(), strict=True)]


def test_finetune_calibrates_a_device_that_scales_differently(trained, tmp_path):
    samples, base = trained
    # latency grows with MACs faster than the base model thinks: not fixable by a rescale
    new = _device(samples[:16], base[0], lambda p, m: 2.0 * p * (m / 1e6) ** 0.3)
    model, ckpt = T.finetune(base, new, epochs=2, val_frac=0.2, device="cpu")
    ft = ckpt["finetune"]
    assert ft["selected_on"] == "leave-one-out" and ft["val_data"] is None  # 3 rows < MIN_VAL_ROWS
    assert ft["kept"] == "calibrated" and ft["epochs"] == 0
    assert ft["mape_after"] < 2.0 < ft["mape_before"]
    assert ckpt["calibration"]["features"] == list(C.FEATURES)
    # the calibration survives a save and load, and an uncalibrated load is unchanged
    T.save_checkpoint(ckpt, tmp_path / "cal.pt")
    again, _ = T.load_checkpoint(tmp_path / "cal.pt")
    data = T.prepare(new)
    assert torch.allclose(T.predict(again, data), T.predict(model, data), rtol=1e-5)
    assert T.evaluate(again, data)["all"]["mape"] < 2.0
    assert not base[0].calibration.active
    # fine-tuning the calibrated checkpoint again composes (here: nothing left to fix)
    m2, ck2 = T.finetune((again, ckpt), new, device="cpu")
    assert T.evaluate(m2, data)["all"]["mape"] < 2.0


def test_finetune_with_enough_rows_validates_and_tries_gradient_steps(trained):
    samples, base = trained
    new = _device(samples[:24] * 2, base[0], lambda p, m: 3.0 * p)  # 48 rows: 10 validate
    new = [dataclasses.replace(s, id=f"{s.id}-{i}") for i, s in enumerate(new)]
    _, ckpt = T.finetune(base, new, epochs=2, val_frac=0.2, device="cpu")
    ft = ckpt["finetune"]
    assert ft["selected_on"] == "val" and ft["val_data"]["n"] == 10 and len(ft["history"]) == 2
    assert ft["kept"] in ("rescaled", "calibrated", "epoch") and ft["mape_after"] < 1.0


def test_a_bad_calibration_entry_is_refused(trained, tmp_path):
    _, (model, ckpt) = trained
    bad = dict(ckpt, calibration={"features": ["log_latency"], "coef": [0.0, 1.0]})
    T.save_checkpoint(bad, tmp_path / "bad.pt")
    with pytest.raises(NNProfError, match="calibration entry is not one this nnprof reads"):
        T.load_checkpoint(tmp_path / "bad.pt")
    worse = dict(ckpt, calibration={"features": list(C.FEATURES), "coef": [float("nan")] * 6})
    T.save_checkpoint(worse, tmp_path / "nan.pt")
    with pytest.raises(NNProfError, match="calibration entry"):
        T.load_checkpoint(tmp_path / "nan.pt")
