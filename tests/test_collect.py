"""The collection pipeline end to end on two tiny NAS-Bench-201 variants."""

import gzip
import json

import pytest

from nnprof import collect
from nnprof.collect import (
    CollectConfig,
    build_stage,
    finalize,
    measure_stage,
    pending_ids,
    split_of,
)
from nnprof.data import read_zoo
from nnprof.errors import NNProfError
from nnprof.measure import Protocol
from nnprof.variants import variant_id


@pytest.fixture
def fast_protocol(monkeypatch):
    import nnprof.measure as m

    quick = Protocol(rounds=3, burst_s=0.005, round_period_s=0.0, gate=0.0, reference=True)
    real = m.measure_many
    monkeypatch.setattr(m, "measure_many", lambda models, **kw: real(models, protocol=quick, **kw))


def test_build_measure_finalize_resume(tmp_path, fast_protocol):
    cfg = CollectConfig(zoo=tmp_path / "zoo", work=tmp_path / "work", families=["nasbench201"], per_family=2)
    assert build_stage(cfg) == {"built": 2, "skipped": 0, "failed": 0}
    assert build_stage(cfg) == {"built": 0, "skipped": 2, "failed": 0}  # resumes: nothing redone
    assert pending_ids(cfg) == ["nasbench201-000000", "nasbench201-000001"]

    assert measure_stage(cfg, block=1, limit=1) == {"measured": 1, "failed": 0}
    assert pending_ids(cfg) == ["nasbench201-000001"]
    assert not (cfg.work / "onnx" / "nasbench201-000000.onnx").exists()  # weights dropped once timed
    assert measure_stage(cfg, block=4) == {"measured": 1, "failed": 0}
    assert pending_ids(cfg) == []

    stats = finalize(cfg)
    assert stats["total"] == 2
    samples = read_zoo(cfg.zoo)
    assert sorted(s.id for s in samples) == ["nasbench201-000000", "nasbench201-000001"]
    for s in samples:
        assert s.latency_ms > 0
        assert s.platform["threads"] == 1 and s.platform["provider"] == "cpu"
        assert s.split == split_of(0, s.id)
        assert s.graph.nodes and s.graph.batch_size == s.batch_size
    drift = collect.read_jsonl(cfg.work / "reference.jsonl")
    assert len(drift) == 2 and all(r["ref_ms"] > 0 for r in drift)
    spec = json.loads((cfg.zoo / "split.json").read_text())
    assert spec["seed"] == 0 and set(spec) >= {"val", "test"}

    # a later session with a fresh work directory resumes from what the zoo already holds
    later = CollectConfig(zoo=cfg.zoo, work=tmp_path / "work2", families=["nasbench201"], per_family=2)
    assert build_stage(later) == {"built": 0, "skipped": 2, "failed": 0}
    assert finalize(later)["total"] == 2
    assert sorted(s.id for s in read_zoo(cfg.zoo)) == ["nasbench201-000000", "nasbench201-000001"]


def test_torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"id": "a"}\n{"id": "b", "lat')
    assert collect.read_jsonl(p) == [{"id": "a"}]


def test_split_is_stable_and_about_ten_percent():
    sides = [split_of(0, f"resnet-{i:06d}") for i in range(4000)]
    assert sides == [split_of(0, f"resnet-{i:06d}") for i in range(4000)]
    assert 0.08 < sides.count("test") / 4000 < 0.12
    assert 0.08 < sides.count("val") / 4000 < 0.12


def test_unknown_family_and_empty_finalize(tmp_path):
    with pytest.raises(NNProfError, match="unknown family 'resnot'"):
        CollectConfig(families=["resnot"]).family_list()
    with pytest.raises(NNProfError, match="nothing measured"):
        finalize(CollectConfig(zoo=tmp_path / "zoo", work=tmp_path / "work"))


@pytest.mark.parametrize("content, msg", [
    (gzip.compress(b'{"id": "a"}\n' * 50)[:-20], "resnet.jsonl.gz: not a readable .jsonl.gz file"),
    (b"plain text, not gzip\n", "resnet.jsonl.gz: not a readable .jsonl.gz file"),
    (gzip.compress(b'{"id": "a"}\n{"no id": 1}\n'), "resnet.jsonl.gz:2: not a zoo record"),
    (gzip.compress(b'{"id": "a"}\n{broken\n'), "resnet.jsonl.gz:2: not a zoo record"),
])
def test_damaged_zoo_file_is_named(tmp_path, content, msg):
    (tmp_path / "zoo" / "data").mkdir(parents=True)
    (tmp_path / "zoo" / "data" / "resnet.jsonl.gz").write_bytes(content)
    with pytest.raises(NNProfError, match=msg):
        collect.zoo_records(CollectConfig(zoo=tmp_path / "zoo"))


def test_two_builders_share_the_work(tmp_path, monkeypatch):
    built = []

    def fake_build_one(v):
        built.append(v.id)
        return b"onnx", {"id": v.id, "family": v.family, "export": {"seconds": 0.0}}

    monkeypatch.setattr(collect, "build_one", fake_build_one)
    monkeypatch.setattr(collect, "library_versions", lambda: {"nnprof": "test"})
    cfg = CollectConfig(zoo=tmp_path / "zoo", work=tmp_path / "work", families=["vgg", "alexnet"], per_family=3)
    front, back = collect.Builder(cfg), collect.Builder(cfg, reverse=True)
    while front.step() | back.step():
        pass
    assert sorted(built) == sorted(set(built)) and len(built) == 6  # each variant exactly once
    assert built[:2] == ["vgg-000000", "alexnet-000002"]  # front and back ends of the order
    assert front.counts["built"] + back.counts["built"] == 6
    collect.release_claims(cfg)
    assert not list((cfg.work / "claims").iterdir())


def test_large_tier_ids_order_and_finalize_keep_base_records_first(tmp_path):
    # Two measured records, one per tier, finalized into a zoo that already holds a base
    # record: base records keep their order and bytes, the large one follows with its tier.
    cfg = CollectConfig(zoo=tmp_path / "zoo", work=tmp_path / "work", families=["vgg"], per_family=2, tier="large")
    assert [variant_id(f, i, cfg.seed, cfg.tier) for f, i in cfg.ids_in_order()] == [
        "vgg-large-000000", "vgg-large-000001"]
    template = {"family": "vgg", "gen": {}, "seed": 0, "input_size": 64, "batch_size": 1,
                "graph": {"name": "g", "nodes": [], "edges": [], "batch_size": 1, "input_shape": [1, 3, 64, 64]}}
    base = {**template, "id": "vgg-000001", "model": "vgg-000001", "index": 1, "latency_ms": 1.0, "platform": {}}
    collect._write_atomic(cfg.zoo / "data" / "vgg.jsonl.gz", collect._gzip_lines([base]))
    before = (cfg.zoo / "data" / "vgg.jsonl.gz").read_bytes()
    for sid, idx in (("vgg-large-000001", 1), ("vgg-large-000000", 0)):
        rec = {**template, "id": sid, "model": sid, "index": idx, "tier": "large"}
        collect._write_atomic(cfg.work / "built" / f"{sid}.json", json.dumps(rec).encode())
        collect._append_line(cfg.work / "measured.jsonl", {"id": sid, "latency_ms": 5.0 + idx, "platform": {}})
    assert pending_ids(cfg) == []  # both measured
    assert finalize(cfg)["total"] == 3
    lines = [json.loads(x) for x in gzip.decompress((cfg.zoo / "data" / "vgg.jsonl.gz").read_bytes()).splitlines()]
    assert [r["id"] for r in lines] == ["vgg-000001", "vgg-large-000000", "vgg-large-000001"]
    assert [r.get("tier") for r in lines] == [None, "large", "large"]
    assert gzip.decompress(before).splitlines()[0] == json.dumps(lines[0], separators=(",", ":"), sort_keys=True).encode()


def test_collect_rejects_an_unknown_tier(tmp_path, capsys):
    from nnprof.cli import run

    with pytest.raises(SystemExit) as exc:
        run(["collect", "status", "--tier", "huge", "--work", str(tmp_path / "w"), "--zoo", str(tmp_path / "z")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2
    assert err == "error: --tier: unknown tier 'huge'; choose from base, large"
