import json
import os

import pytest
import torch
from typer.testing import CliRunner

from nnprof import encode as enc
from nnprof import train as T
from nnprof.cli import app
from nnprof.data import Sample, split_in_distribution, synthetic
from nnprof.errors import NNProfError
from nnprof.model import ModelArgs

TINY = ModelArgs(hidden=16, groups=4, dropout=0.0)
runner = CliRunner()


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return synthetic(8, seed=1)  # 3 families x 8


@pytest.fixture(scope="module")
def encoded(samples) -> T.Encoded:
    return T.prepare(samples)


def test_warmup_then_linear_decay():
    f = T.warmup_linear(total_steps=20, warmup=0.1)  # 2 warm-up steps
    assert [f(s) for s in range(4)] == [0.5, 1.0, 1.0, 17 / 18]
    assert f(19) == pytest.approx(1 / 18)
    assert f(20) == 0.0


def test_relative_mse():
    loss = T.relative_mse(torch.tensor([1.1, 1.8]), torch.tensor([1.0, 2.0]))
    assert loss.item() == pytest.approx((0.1**2 + 0.1**2) / 2)


def test_loss_falls_and_best_epoch_is_kept(encoded):
    tr, va = encoded.subset(range(0, 24, 2)), encoded.subset(range(1, 24, 2))
    res = T.train_model("narformer2", tr, va, T.TrainConfig(epochs=8, batch_size=4, lr=3e-3, device="cpu"), TINY)
    losses = [h["loss"] for h in res.history]
    assert losses[-1] < 0.5 * losses[0]
    best = min(res.history, key=lambda h: h["val_mape"])
    assert res.best_epoch == best["epoch"]
    # the returned model is the kept epoch's, scored again from scratch
    assert T.evaluate(res.model, va)["all"]["mape"] == pytest.approx(best["val_mape"], rel=1e-5)
    assert res.args.node_dim == enc.NODE_DIM


def test_hidden_8_model_overfits_four_graphs(encoded):
    four = encoded.subset([0, 9, 17, 23])
    cfg = T.TrainConfig(epochs=300, batch_size=4, lr=1e-2, device="cpu")
    res = T.train_model("narformer2", four, None, cfg, ModelArgs(hidden=8, groups=2, dropout=0.0))
    assert res.history[-1]["loss"] < 1e-3
    assert T.evaluate(res.model, four)["all"]["mape"] < 3.0


def test_bf16_inference_stays_close_to_fp32(encoded):
    cfg = T.TrainConfig(epochs=3, batch_size=4, device="cpu")
    res = T.train_model("narformer2", encoded, None, cfg, ModelArgs(hidden=64, dropout=0.0))
    for block in res.model.blocks:  # a GFFN branch that matters, as after long training
        block.gamma.data.fill_(0.5)
    fp32 = T.predict(res.model, encoded)
    bf16 = T.predict(res.model, encoded, precision="bf16")
    assert ((bf16 - fp32).abs() / fp32).max() < 0.02
    assert res.model.blocks[0].qk.weight.dtype == torch.float32  # predict works on a copy
    with pytest.raises(NNProfError, match="unknown precision 'fp8'"):
        T.predict(res.model, encoded, precision="fp8")


def test_regression_kinds_fit_in_closed_form(encoded):
    res = T.train_model("flops-mem", encoded, encoded, T.TrainConfig(device="cpu"))
    assert res.best_epoch == 0 and res.history == []
    assert res.model.coef.shape == (3,)
    assert res.val["all"]["n"] == 24


def test_predict_keeps_input_order_despite_size_buckets(encoded):
    torch.manual_seed(0)
    model = T.build_model("gnn", ModelArgs(node_dim=enc.NODE_DIM, hidden=16, groups=4)).eval()
    sub = encoded.subset([5, 20, 1, 13])
    bucketed = T.predict(model, sub, batch_size=2)
    alone = torch.cat([T.predict(model, sub.subset([i]), batch_size=1) for i in range(4)])
    assert torch.allclose(bucketed, alone, rtol=1e-5)


def test_checkpoint_round_trip_and_description(tmp_path, samples, encoded):
    split = split_in_distribution(samples, 0.2, 0.2)
    tr, va = T.prepare(split.train), T.prepare(split.val)
    res = T.train_model("narformer2", tr, va, T.TrainConfig(epochs=1, device="cpu"), TINY)
    ckpt = T.make_checkpoint(res, split.train, split.val, {"all": {"mape": 1.0}}, T.TrainConfig(epochs=1))
    path = T.save_checkpoint(ckpt, tmp_path / "sub" / "m.pt")
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp file left
    model, meta = T.load_checkpoint(path)
    assert torch.equal(T.predict(model, encoded), T.predict(res.model, encoded))
    assert meta["kind"] == "narformer2"
    assert meta["model_args"]["hidden"] == 16
    assert meta["feature_version"] == enc.FEATURE_VERSION
    assert meta["node_dim"] == enc.NODE_DIM
    assert meta["vocabulary"][:2] == ["Conv", "Relu"]
    assert meta["train_data"]["families"] == {"plain": 5, "residual": 5, "wide": 5}
    assert meta["train_data"]["latency_ms"]["min"] > 0
    assert meta["platform"] == {"source": "synthetic"}
    assert meta["metrics"]["test"] == {"all": {"mape": 1.0}}
    assert meta["metrics"]["val"]["all"]["n"] == 3
    assert meta["nnprof"]
    torch.load(path, weights_only=True)  # plain types + tensors only
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it, not mkstemp's 0600


def test_regression_checkpoint_round_trip(tmp_path, samples, encoded):
    res = T.train_model("flops", encoded, None, T.TrainConfig())
    T.save_checkpoint(T.make_checkpoint(res, samples), tmp_path / "f.pt")
    model, meta = T.load_checkpoint(tmp_path / "f.pt")
    assert meta["kind"] == "flops"
    assert torch.equal(model.coef, res.model.coef)
    assert torch.allclose(T.predict(model, encoded), T.predict(res.model, encoded))


def test_checkpoint_refusals(tmp_path, samples, encoded, monkeypatch):
    res = T.train_model("flops", encoded, None, T.TrainConfig())
    good = T.save_checkpoint(T.make_checkpoint(res, samples), tmp_path / "f.pt")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NNProfError, match="notes.txt is not an nnprof checkpoint"):
        T.load_checkpoint(text)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(NNProfError, match="other.pt is not an nnprof checkpoint"):
        T.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(NNProfError, match="missing.pt not found"):
        T.load_checkpoint(tmp_path / "missing.pt")
    ckpt = torch.load(good, weights_only=True)  # the right header, crafted insides
    for damage, msg in ((lambda c: c.pop("state_dict"), "lacks its model_args or state_dict"),
                        (lambda c: c.update(model_args=None), "lacks its model_args or state_dict")):
        bad = dict(ckpt)
        damage(bad)
        torch.save(bad, tmp_path / "crafted.pt")
        with pytest.raises(NNProfError, match=msg):
            T.load_checkpoint(tmp_path / "crafted.pt")
    monkeypatch.setattr(enc, "FEATURE_VERSION", "some-future-encoding")
    with pytest.raises(NNProfError, match="trained on feature version .* encodes version some-future-encoding; retrain"):
        T.load_checkpoint(good)


def test_finetune_adapts_to_a_slower_device_from_20_samples(samples, encoded):
    res = T.train_model("narformer2", encoded, None, T.TrainConfig(epochs=2, device="cpu"), TINY)
    base = (res.model, T.make_checkpoint(res, samples))
    # a device 3x slower than what the base model predicts: rescaling alone fits it
    before = T.predict(res.model, encoded)
    new_device = [
        Sample(s.id, s.family, s.graph, 3.0 * float(p), s.batch_size, s.input_size, {"cpu": "slow"})
        for s, p in zip(samples[:20], before[:20].tolist(), strict=True)
    ]
    model, ckpt = T.finetune(base, new_device, epochs=3, lr=1e-4, val_frac=0.25, device="cpu")
    ft = ckpt["finetune"]
    # 5 validation rows would be too few (< MIN_VAL_ROWS): all 20 fit the calibration
    assert ft["val_data"] is None and ft["train_data"]["n"] == 20 and ft["selected_on"] == "leave-one-out"
    assert ft["mape_before"] == pytest.approx(100 * 2 / 3, rel=1e-4)
    assert ft["mape_after"] < 1.0
    assert ft["kept"] == "rescaled"  # a pure speed change: the simplest fit wins
    assert ckpt["calibration"]["coef"][1:] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert ckpt["platform"] == {"cpu": "slow"}
    assert ckpt["train_data"] == base[1]["train_data"]  # the original data stays described
    data = T.prepare(new_device)
    assert T.evaluate(model, data)["all"]["mape"] < 1.0


def test_finetune_refits_regressions(samples, encoded):
    res = T.train_model("flops", encoded, None, T.TrainConfig())
    scaled = [Sample(s.id, s.family, s.graph, 10 * s.latency_ms) for s in samples[:20]]
    model, ckpt = T.finetune((res.model, T.make_checkpoint(res, samples)), scaled, val_frac=0.25)
    assert ckpt["finetune"]["kept"] == "refit"
    assert ckpt["finetune"]["mape_after"] < ckpt["finetune"]["mape_before"]


def test_finetune_needs_two_samples(samples, encoded):
    res = T.train_model("flops", encoded, None, T.TrainConfig())
    with pytest.raises(NNProfError, match="at least 2"):
        T.finetune((res.model, T.make_checkpoint(res, samples)), samples[:1])


def test_device_handling():
    assert T.resolve_device("cpu").type == "cpu"
    assert T.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(NNProfError, match="unknown device 'tpu'"):
        T.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(NNProfError, match="no CUDA GPU"):
            T.resolve_device("cuda")


def test_run_protocol_leave_one_family_out(samples):
    cfg = T.TrainConfig(epochs=1, device="cpu")
    out = T.run_protocol(samples, "leave-one-family-out", ["flops", "gnn"], seeds=2, cfg=cfg, args=TINY)
    assert out["splits"] == {
        f"leave-out:{f}": {"train": 14, "val": 2, "test": 8} for f in ("plain", "residual", "wide")
    }
    assert list(out["results"]["gnn"]) == ["plain", "residual", "wide", "average"]
    assert out["results"]["gnn"]["average"]["mape"]["n"] == 2  # two seeds
    assert out["results"]["flops"]["plain"]["mape"]["n"] == 1  # deterministic: one run
    avg = out["results"]["flops"]["average"]["mape"]["mean"]
    fams = [out["results"]["flops"][f]["mape"]["mean"] for f in ("plain", "residual", "wide")]
    assert avg == pytest.approx(sum(fams) / 3)
    json.dumps(out, allow_nan=False)


def test_run_protocol_seed_start_gives_the_runs_of_a_longer_call(samples):
    cfg = T.TrainConfig(epochs=1, device="cpu")
    both = T.run_protocol(samples, "in-distribution", ["flops", "gnn"], seeds=2, cfg=cfg, args=TINY)
    second = T.run_protocol(samples, "in-distribution", ["flops", "gnn"], seeds=1, cfg=cfg, args=TINY, seed_start=1)
    assert [(r["kind"], r["seed"]) for r in second["runs"]] == [("flops", 0), ("gnn", 1)]
    assert second["seed_start"] == 1
    assert second["precision"] == "fp32"
    assert second["runs"][1]["scores"] == both["runs"][2]["scores"]  # gnn seed 1, whichever call ran it
    assert second["runs"][1]["scores"] != both["runs"][1]["scores"]  # ... and not seed 0's


# ---------------------------------------------------------------------------------- CLI


def test_cli_train_then_evaluate_checkpoint(tmp_path):
    ckpt = tmp_path / "m.pt"
    argv = ["train", "synthetic:6", "--epochs", "1", "--device", "cpu", "--precision", "bf16", "-o", str(ckpt), "-f", "json"]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    assert ckpt.is_file()
    # not a terminal: one line per epoch on stderr instead of a progress bar
    [line] = [ln for ln in r.stderr.splitlines() if ln.startswith("narformer2 epoch")]
    assert line.startswith("narformer2 epoch 1: loss ") and ", val MAPE " in line
    r = runner.invoke(app, ["evaluate", "synthetic:6", "--checkpoint", str(ckpt), "--part", "all", "-f", "json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["kind"] == "narformer2"
    assert res["scores"]["all"]["n"] == 18
    r = runner.invoke(app, ["evaluate", "synthetic:6", "--checkpoint", str(ckpt)])
    assert r.exit_code == 0, r.output
    assert "MAPE" in r.stdout and "plain" in r.stdout


def test_cli_train_init_continues_from_a_checkpoint(tmp_path):
    import torch

    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    base = ["train", "synthetic:4", "--epochs", "1", "--device", "cpu", "-f", "json"]
    r = runner.invoke(app, [*base, "-o", str(first)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*base, "--init", str(first), "--lr", "0", "-o", str(second)])
    assert r.exit_code == 0, r.output
    a = torch.load(first, weights_only=True)
    b = torch.load(second, weights_only=True)
    assert b["init"]["path"] == str(first) and b["init"]["epochs"] == 1
    # lr 0: the weights it started from are the weights it keeps
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    r = runner.invoke(app, [*base, "--model", "gnn", "--init", str(first), "-o", str(tmp_path / "c.pt")])
    assert r.exit_code == 2 and "holds a narformer2 model, not gnn" in r.output
    assert not (tmp_path / "c.pt").exists()


def test_cli_train_residual_head_round_trips(tmp_path):
    from nnprof import train as T

    ckpt = tmp_path / "r.pt"
    r = runner.invoke(app, ["train", "synthetic:4", "--residual", "--epochs", "1", "--device", "cpu", "-o", str(ckpt), "-f", "json"])
    assert r.exit_code == 0, r.output
    model, meta = T.load_checkpoint(ckpt)
    assert meta["model_args"]["residual"] is True
    assert model.head.residual and float(model.head.base_coef.abs().sum()) > 0  # the power law was fitted


def test_cli_evaluate_protocols_all_models_tables():
    r = runner.invoke(app, ["evaluate", "synthetic:4", "--protocol", "both", "--models", "all", "--epochs", "1", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Table 1 layout" in out and "Table 2 layout" in out
    for head in ("FLOPs+MAC", "NNLP GNN", "Global attn", "NARFormerV2", "Acc(10%)", "Average", "All"):
        assert head in out
    assert "…" not in out  # nothing truncated on a narrow stdout


def test_cli_evaluate_protocol_json():
    r = runner.invoke(app, ["evaluate", "synthetic:4", "-p", "in-distribution", "--models", "flops,flops-mem", "-f", "json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["protocols"][0]
    assert res["protocol"] == "in-distribution"
    assert set(res["results"]) == {"flops", "flops-mem"}
    assert set(res["results"]["flops"]) == {"all", "plain", "residual", "wide"}


def test_cli_evaluate_train_per_family_cuts_only_the_train_part():
    argv = ["evaluate", "synthetic:10", "-p", "both", "--models", "flops", "-f", "json", "--train-per-family", "3"]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    ind, lofo = json.loads(r.stdout)["protocols"]
    assert ind["train_per_family"] == 3
    assert ind["splits"]["in-distribution"] == {"train": 9, "val": 3, "test": 3}
    assert lofo["splits"]["leave-out:plain"] == {"train": 6, "val": 2, "test": 10}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "synthetic:4", "--model", "bert"], "unknown model 'bert'"),
        (["train", "no/such/dir"], "dataset 'no/such/dir' not found"),
        (["evaluate", "synthetic:4"], "give either --checkpoint"),
        (["evaluate", "synthetic:4", "-p", "both", "--models", "flops,xgb"], "unknown model 'xgb'"),
        (["train", "synthetic:4", "-o", "tests"], "cannot write tests: it is a directory"),
        (["train", "synthetic:4", "-o", "no/such/dir/m.pt"], "directory no/such/dir does not exist"),
    ],
)
def test_cli_user_errors(argv, message):
    r = runner.invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_init_on_another_machine_refits_the_residual_power_law(encoded):
    """Continuing a residual checkpoint on a machine twice as slow: the power law is refitted
    on the new data, so with lr 0 (weights untouched) every prediction doubles exactly."""
    args = ModelArgs(hidden=16, groups=4, dropout=0.0, residual=True)
    cfg = T.TrainConfig(epochs=1, device="cpu", seed=0)
    first = T.train_model("narformer2", encoded, None, cfg, args)
    slower = T.Encoded(encoded.graphs, encoded.counts, 2.0 * encoded.latency, encoded.families, encoded.ids)
    state = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = T.train_model("narformer2", slower, None, T.TrainConfig(epochs=1, device="cpu", seed=0, lr=0.0), args, init_state=state)
    w1, w2 = first.model.head.base_coef, second.model.head.base_coef
    assert float(w2[0]) == pytest.approx(float(w1[0]) + 0.6931471805599453, abs=1e-5) and torch.allclose(w1[1:], w2[1:], atol=1e-5)
    assert T.predict(second.model, encoded).tolist() == pytest.approx((2.0 * T.predict(first.model, encoded)).tolist(), rel=1e-4)


ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_bf16_support_is_read_from_cpu_flags():
    assert T.cpu_has_bf16(ZEN3) is False
    assert T.cpu_has_bf16(SAPPHIRE) is True
    assert T.cpu_has_bf16(GRAVITON3) is True
    assert T.cpu_has_bf16("model name : something\n") is None  # no flags line: cannot tell
    cpu = torch.device("cpu")
    assert "runs emulated" in T.precision_warning("bf16", cpu, ZEN3)
    assert T.precision_warning("bf16", cpu, SAPPHIRE) is None
    assert T.precision_warning("fp32", cpu, ZEN3) is None
    assert T.precision_warning("bf16", torch.device("cuda"), ZEN3) is None  # the GPU decides there
    assert T.precision_warning("bf16", cpu, "") is None  # unknown: no warning


@pytest.mark.parametrize("has_bf16", [False, True])
def test_cli_warns_once_when_bf16_would_be_emulated(tmp_path, monkeypatch, has_bf16):
    monkeypatch.setattr(T, "cpu_has_bf16", lambda cpuinfo=None: has_bf16)
    argv = ["train", "synthetic:6", "--epochs", "1", "--device", "cpu", "--precision", "bf16", "-o", str(tmp_path / "m.pt")]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    warned = [ln for ln in r.stderr.splitlines() if "--precision bf16 on a CPU without bfloat16" in ln]
    assert len(warned) == (0 if has_bf16 else 1)


def test_cli_evaluate_checkpoint_on_one_tier(tmp_path):
    import gzip

    ckpt = tmp_path / "m.pt"
    r = runner.invoke(app, ["train", "synthetic:6", "--epochs", "1", "--device", "cpu", "-o", str(ckpt), "-f", "json"])
    assert r.exit_code == 0, r.output
    zoo = tmp_path / "zoo"
    (zoo / "data").mkdir(parents=True)
    recs = []
    for i, s in enumerate(synthetic(per_family=3)[:7]):
        rec = {"id": f"conv-{i:06d}", "family": "conv", "latency_ms": s.latency_ms, "batch_size": s.graph.batch_size,
               "graph": s.graph.to_dict()}
        if i >= 3:
            rec.update(id=f"conv-large-{i:06d}", tier="large")
        recs.append(json.dumps(rec))
    (zoo / "data" / "conv.jsonl.gz").write_bytes(gzip.compress("\n".join(recs).encode()))
    counts = {}
    for tier in ("all", "base", "large"):
        r = runner.invoke(app, ["evaluate", str(zoo), "--checkpoint", str(ckpt), "--part", "all", "--tier", tier, "-f", "json"])
        assert r.exit_code == 0, r.output
        res = json.loads(r.stdout)
        assert res["tier"] == tier
        counts[tier] = res["scores"]["all"]["n"]
    assert counts == {"all": 7, "base": 3, "large": 4}
    r = runner.invoke(app, ["evaluate", str(zoo), "--checkpoint", str(ckpt), "--part", "all", "--tier", "huge"])
    assert r.exit_code == 2
    assert "holds no samples of tier 'huge'" in r.output


def test_cli_evaluate_and_init_take_a_bundled_checkpoint_name(tmp_path, monkeypatch):
    from nnprof import predict as P

    ckpt = tmp_path / "checkpoints" / "nnprof-latency-tiny.pt"
    ckpt.parent.mkdir()
    r = runner.invoke(app, ["train", "synthetic:4", "--epochs", "1", "--device", "cpu", "-o", str(ckpt), "-f", "json"])
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(P, "DEFAULT_CHECKPOINT", tmp_path / "checkpoints" / "nnprof-latency.pt")
    r = runner.invoke(app, ["evaluate", "synthetic:4", "--checkpoint", "tiny", "--part", "all", "-f", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scores"]["all"]["n"] == 12
    out = tmp_path / "b.pt"
    r = runner.invoke(app, ["train", "synthetic:4", "--epochs", "1", "--device", "cpu", "--init", "tiny", "-o", str(out), "-f", "json"])
    assert r.exit_code == 0, r.output
    assert torch.load(out, weights_only=True)["init"]["path"] == str(ckpt)


def test_a_failed_checkpoint_write_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "m.pt"
    out.write_bytes(b"old")  # what was there stays, untouched

    def full_disk(obj, f):
        f.write(b"partial")  # torch.save gets the temporary file, open
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(T.torch, "save", full_disk)
    with pytest.raises(NNProfError, match=r"^cannot write .*m\.pt: \[enforce fail"):
        T.torch_save_atomic({"a": 1}, out)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"] and out.read_bytes() == b"old"

    def no_space(obj, f):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(T.torch, "save", no_space)
    with pytest.raises(NNProfError, match="cannot write .*: No space left on device$"):
        T.torch_save_atomic({"a": 1}, out)
    monkeypatch.setattr(T.torch, "save", lambda obj, f: (_ for _ in ()).throw(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):  # not a write failure: not dressed up as one
        T.torch_save_atomic({"a": 1}, out)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
