"""nnprof.hostcal and `nnprof calibrate`: the calibration set, the factor, the rescaled checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_cli_product import ok, one_line_error
from test_predict import NETS, tiny_net

from nnprof import hostcal as H
from nnprof import measure as M
from nnprof import predict as P
from nnprof import train as T
from nnprof.errors import NNProfError
from nnprof.variants import FAMILIES, generate
from nnprof.zoo import resolve


def test_the_set_is_one_generated_network_per_zoo_family():
    assert sorted(f for f, _ in H.CAL_SET) == sorted(FAMILIES)
    for family, index in H.CAL_SET:
        v = generate(family, index)  # parameters only: nothing is built
        assert v.family == family and v.batch_size in (1, 2, 4, 8)


def test_families_selects_in_the_given_order_and_names_an_unknown_one():
    assert H.families(None) == list(H.CAL_SET)
    assert H.families(["vit", "alexnet", "vit"]) == [("vit", 1), ("alexnet", 1)]
    with pytest.raises(NNProfError, match="unknown family 'resnet50'"):
        H.families(["resnet50"])


def test_factor_is_the_geometric_mean_ratio():
    k, ratios = H.factor([2.0, 3.0, 36.0], [1.0, 1.0, 1.0])
    assert k == pytest.approx(6.0) and ratios == [2.0, 3.0, 36.0]
    assert H.factor([1.0, 4.0], [2.0, 2.0])[0] == pytest.approx(1.0)
    assert H.factor([5.0], [2.0])[0] == pytest.approx(2.5)
    with pytest.raises(NNProfError, match="non-positive"):
        H.factor([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(NNProfError, match="non-positive"):
        H.factor([1.0], [float("nan")])


def test_spread_is_the_quartile_ratio():
    assert H.spread([1.0, 1.0, 1.0]) == 0.0  # too few to tell
    assert H.spread([1.0] * 8) == 0.0
    wide = H.spread([0.5, 0.6, 0.7, 1.0, 1.2, 1.4, 1.5, 1.6])
    assert wide > H.SPREAD_WARN
    assert H.spread([0.78, 0.8, 0.81, 0.82, 0.83, 0.85]) < 0.1


def _nets(tmp_path):
    """Three tiny networks as calibration networks, and their features."""
    paths = [tiny_net(tmp_path / f"n{i}.onnx", c, k, s) for i, (c, k, s) in enumerate(NETS[:3])]
    feats = P.features_for([resolve(p) for p in paths], [1])
    nets = [H.CalNet(f"tiny-{i}", "tiny", 16, 1, Path(p).read_bytes(), f.raw)
            for i, (p, f) in enumerate(zip(paths, feats, strict=True))]
    return nets, feats


def _fake_timing(monkeypatch, nets, base_pred, factors):
    """measure_many returns factor_i x the base checkpoint's prediction of network i."""
    def fake(models, **kw):
        assert [bytes(m) for m in models] == [n.onnx for n in nets]
        assert kw["threads"] == 1 and kw["provider"] == "cpu"
        return [SimpleNamespace(latency_ms=f * p, ref_ms=0.5) for f, p in zip(factors, base_pred, strict=True)]
    monkeypatch.setattr(M, "measure_many", fake)


def test_cli_saves_a_checkpoint_that_predicts_factor_times_the_base(tmp_path, ckpt, monkeypatch):
    nets, feats = _nets(tmp_path)
    base = P.load_predictor(ckpt, "cpu")
    before = base.predict(feats)
    monkeypatch.setattr(H, "build", lambda pairs, step=None: nets)
    _fake_timing(monkeypatch, nets, before, [2.0, 3.0, 4.5])  # geometric mean 3
    out = tmp_path / "out" / "cal.pt"
    r = ok(["calibrate", "-c", ckpt, "-o", str(out), "--device", "cpu", "--format", "json"])
    report = json.loads(r.stdout)
    assert report["factor"] == pytest.approx(3.0)
    assert [n["id"] for n in report["networks"]] == ["tiny-0", "tiny-1", "tiny-2"]
    assert "rescaled by 3.000" in r.stderr and "warning" not in r.stderr and "note" not in r.stderr
    cal = P.load_predictor(out, "cpu")
    assert cal.predict(feats) == pytest.approx([3.0 * b for b in before], rel=1e-5)
    assert cal.platform == M.platform_fingerprint(1, "cpu")
    assert cal.platform_text.endswith("(rescaled 3x by nnprof calibrate)")
    shown = json.loads(ok(["predict", tiny_net(tmp_path / "p.onnx"), "-c", str(out), "-f", "json"]).stdout)
    assert shown[0]["platform"] == cal.platform_text
    rec = cal.ckpt["host_calibration"]
    assert rec["factor"] == pytest.approx(3.0) and rec["base_checkpoint"] == str(Path(ckpt))
    assert rec["networks"][2]["measured_ms"] == pytest.approx(4.5 * before[2], rel=1e-4)

    # calibrating the calibrated checkpoint composes: 3 x 0.5
    _fake_timing(monkeypatch, nets, cal.predict(feats), [0.5, 0.5, 0.5])
    again = tmp_path / "again.pt"
    ok(["calibrate", "-c", str(out), "-o", str(again), "--device", "cpu", "--format", "csv"])
    twice = P.load_predictor(again, "cpu")
    assert twice.predict(feats) == pytest.approx([1.5 * b for b in before], rel=1e-5)
    assert twice.ckpt["host_calibration"]["total_factor"] == pytest.approx(1.5)
    lo, hi = base.profile.latency_ms  # the training latencies, in this machine's time
    assert twice.profile.latency_ms == pytest.approx((1.5 * lo, 1.5 * hi))


def test_cli_warns_when_the_ratios_disagree(tmp_path, ckpt, monkeypatch):
    nets, feats = _nets(tmp_path)
    nets = nets + nets[:1]  # four networks: enough for quartiles
    feats = feats + feats[:1]
    before = P.load_predictor(ckpt, "cpu").predict(feats)
    monkeypatch.setattr(H, "build", lambda pairs, step=None: nets)
    _fake_timing(monkeypatch, nets, before, [0.3, 1.0, 2.0, 4.0])
    r = ok(["calibrate", "-c", ckpt, "-o", str(tmp_path / "w.pt"), "--device", "cpu"])
    assert "warning: the networks' measured/predicted ratios disagree (0.30-4.00)" in r.stderr
    assert "calibration networks timed" in r.stdout


def test_near_one_is_log_symmetric():
    assert H.near_one(1.0) and H.near_one(1.0499) and H.near_one(1 / 1.0499)
    assert not H.near_one(1.051) and not H.near_one(0.95) and not H.near_one(3.0)


def test_cli_notes_a_factor_within_the_pass_to_pass_spread(tmp_path, ckpt, monkeypatch):
    nets, feats = _nets(tmp_path)
    before = P.load_predictor(ckpt, "cpu").predict(feats)
    monkeypatch.setattr(H, "build", lambda pairs, step=None: nets)
    _fake_timing(monkeypatch, nets, before, [1.0, 1.03, 1.06])
    out = tmp_path / "near.pt"
    r = ok(["calibrate", "-c", ckpt, "-o", str(out), "--device", "cpu", "--format", "json"])
    assert "note:" in r.stderr and "within 5% overall (factor 1.030)" in r.stderr
    assert json.loads(r.stdout)["factor"] == pytest.approx(1.03, rel=1e-3) and out.exists()


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, ckpt, monkeypatch):
    out = tmp_path / "never.pt"
    one_line_error(["calibrate", "-c", ckpt, "-o", str(out), "--families", "mobilenet"], "unknown family 'mobilenet'")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    monkeypatch.setattr(H, "build", lambda pairs, step=None: pytest.fail("built before checking the checkpoint"))
    one_line_error(["calibrate", "-c", str(junk), "-o", str(out)], "junk.pt")
    one_line_error(["calibrate", "-c", ckpt, "-o", str(tmp_path)], "it is a directory")
    one_line_error(["calibrate", "-c", ckpt, "-o", str(out), "--provider", "tpu"], "unknown provider 'tpu'")
    # os.access lets root write anywhere, /proc still refuses a new file: found before building
    one_line_error(["calibrate", "-c", ckpt, "-o", "/proc/nnprof-test.pt"], "cannot write /proc/nnprof-test.pt")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["junk.pt"]


def test_a_checkpoint_without_calibration_is_refused(tmp_path):
    from nnprof.data import synthetic

    samples = synthetic(4, seed=1)
    res = T.train_model("flops", T.prepare(samples), None, T.TrainConfig(epochs=1, device="cpu"))
    path = T.save_checkpoint(T.make_checkpoint(res, samples), tmp_path / "flops.pt")
    nets, _ = _nets(tmp_path)
    with pytest.raises(NNProfError, match="has no calibration to rescale"):
        H.run(P.load_predictor(path, "cpu"), nets)


@pytest.mark.slow
def test_cli_end_to_end_builds_and_times_real_calibration_networks(tmp_path, ckpt):
    out = tmp_path / "cal.pt"
    r = ok(["calibrate", "-c", ckpt, "-o", str(out), "--families", "mobilenetv3,resnet", "--format", "json"])
    report = json.loads(r.stdout)
    assert [n["id"] for n in report["networks"]] == ["mobilenetv3-000000", "resnet-000001"]
    assert all(n["measured_ms"] > 0 for n in report["networks"])
    ratios = sorted(n["measured_ms"] / n["predicted_ms"] for n in report["networks"])
    assert report["factor"] == pytest.approx((ratios[0] * ratios[1]) ** 0.5, rel=1e-4)
    assert P.load_predictor(out, "cpu").ckpt["host_calibration"]["protocol"] == M.DEFAULT_PROTOCOL.name
