"""nnprof.zoo: name resolution, listings, families, default sizes, building with random weights."""

import json

import pytest

from nnprof import zoo
from nnprof.errors import NNProfError
from nnprof.zoo import ModelRef


def test_natural_key_orders_digit_runs_by_value():
    names = ["resnet101", "resnet18", "resnet50", "ResNet34", "resnet152"]
    assert sorted(names, key=zoo.natural_key) == [
        "resnet18", "ResNet34", "resnet50", "resnet101", "resnet152",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "source", "bare"),
    [
        ("tv:resnet50", "tv", "resnet50"),
        ("torchvision:resnet50", "tv", "resnet50"),
        ("timm:convnext_tiny", "timm", "convnext_tiny"),
        ("resnet50", "tv", "resnet50"),  # both zoos have it: torchvision first
        ("convnext_atto", "timm", "convnext_atto"),  # timm only
        ("timm:resnet50", "timm", "resnet50"),
        ("timm:resnet50.a1_in1k", "timm", "resnet50.a1_in1k"),  # a pretrained tag
        ("  vit_b_16 ", "tv", "vit_b_16"),
    ],
)
def test_resolve_names(name, source, bare):
    r = zoo.resolve(name)
    assert (r.source, r.name, r.path) == (source, bare, None)
    assert r.qualified == f"{source}:{bare}"


def test_resolve_onnx_path(tmp_path):
    p = tmp_path / "net.onnx"
    p.write_bytes(b"not checked here")
    assert zoo.resolve(str(p)) == ModelRef("onnx", "net", p)
    assert zoo.resolve(str(p)).qualified == str(p)


def _err(name):
    with pytest.raises(NNProfError) as e:
        zoo.resolve(name)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_name_lists_close_matches_in_one_line():
    msg = _err("resnt50")
    assert msg.startswith(
        "unknown model 'resnt50' in torchvision or timm; close matches: tv:resnet50,"
    )
    assert _err("tv:mobilenet_v4").startswith(
        "unknown model 'tv:mobilenet_v4' in torchvision; close matches: tv:mobilenet_v2"
    )
    assert "timm:" not in _err("tv:mobilenet_v4")  # restricted to the zoo asked for
    assert "close matches: timm:resnet50" in _err("timm:resnet50.not_a_tag")


def test_resolve_errors():
    assert _err("mobilenet*") == (
        "'mobilenet*' is a wildcard pattern, not a model: name one model "
        "(see: nnprof list 'mobilenet*')"
    )
    assert _err("hf:bert").startswith("unknown model source 'hf' in 'hf:bert'")
    assert _err("missing/net.onnx") == "ONNX file not found: missing/net.onnx"
    assert _err("").startswith("empty model name")


def test_list_models_patterns_sources_and_natural_sort():
    assert zoo.list_models("mobilenet*", source="tv") == [
        "tv:mobilenet_v2", "tv:mobilenet_v3_large", "tv:mobilenet_v3_small",
    ]  # fmt: skip
    assert zoo.list_models("resnet*", "tv") == [
        "tv:resnet18", "tv:resnet34", "tv:resnet50", "tv:resnet101", "tv:resnet152",
    ]  # fmt: skip
    assert zoo.list_models("tv:resnet1*") == ["tv:resnet18", "tv:resnet101", "tv:resnet152"]
    assert zoo.list_models("timm:resnet18*") == ["timm:resnet18", "timm:resnet18d"]
    # both zoos, natural order, torchvision first on a tie
    assert zoo.list_models("resnet18*") == ["tv:resnet18", "timm:resnet18", "timm:resnet18d"]
    assert len(zoo.list_models("*", "tv")) == 80  # image classification only
    assert zoo.list_models("no_such_model*") == []
    with pytest.raises(NNProfError, match="unknown source 'onnx'"):
        zoo.list_models("*", "onnx")


def test_expand_patterns_in_order_without_duplicates():
    refs = zoo.expand(["tv:resnet1*", "resnet18", "timm:test_vit"])
    assert [r.qualified for r in refs] == [
        "tv:resnet18", "tv:resnet101", "tv:resnet152", "timm:test_vit",
    ]  # fmt: skip
    with pytest.raises(NNProfError, match=r"^no model matches 'nope\*'"):
        zoo.expand(["nope*"])


def test_families():
    assert zoo.family_models("swin", "tv") == [
        "tv:swin_b", "tv:swin_s", "tv:swin_t", "tv:swin_v2_b", "tv:swin_v2_s", "tv:swin_v2_t",
    ]  # fmt: skip
    mobile = zoo.family_models("mobile*")  # mobilenet, mobileone, mobilevit
    assert {"tv:mobilenet_v2", "timm:mobileone_s0", "timm:mobilevit_xxs"} <= set(mobile)
    assert mobile == sorted(mobile, key=lambda q: zoo.natural_key(q.split(":")[1]))
    assert zoo.family_models("resnet", "tv") == [
        "tv:resnet18", "tv:resnet34", "tv:resnet50", "tv:resnet101", "tv:resnet152",
        "tv:wide_resnet50_2", "tv:wide_resnet101_2",
    ]  # fmt: skip
    with pytest.raises(NNProfError, match=r"^unknown family 'resnt'; close matches: resnet"):
        zoo.family_models("resnt")
    # every torchvision classifier belongs to a family
    assert [q for q in zoo.list_models("*", "tv") if zoo.family_of(q) is None] == []
    assert zoo.family_of("timm:deit_tiny_patch16_224") == "deit"


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("tv:resnet50", 224),
        ("tv:inception_v3", 299),
        ("tv:efficientnet_b3", 300),
        ("tv:efficientnet_v2_s", 384),
        ("tv:vit_h_14", 224),  # its smallest weights' crop (SWAG linear), not 518
        ("tv:swin_v2_t", 256),
        ("timm:test_vit", 160),
        ("timm:convnext_tiny", 224),
        ("timm:efficientnet_b3", 288),
    ],
)
def test_default_input_size(name, size):
    assert zoo.default_input_size(zoo.resolve(name)) == size


def test_min_input_size():
    assert zoo.min_input_size(zoo.resolve("tv:inception_v3")) == 75
    assert zoo.min_input_size(zoo.resolve("tv:vit_b_16")) == 1  # built for any size
    with pytest.raises(
        NNProfError, match="input size 32 is too small for tv:inception_v3: at least 75"
    ):
        zoo.build(zoo.resolve("tv:inception_v3"), 32)


def test_build_random_weights_eval_mode():
    m = zoo.build(zoo.resolve("timm:test_resnet"))
    assert not m.training
    m2 = zoo.build(zoo.resolve("timm:test_resnet"))
    w1, w2 = next(m.parameters()), next(m2.parameters())
    assert w1.shape == w2.shape and not (w1 == w2).all()  # random, not loaded


def test_build_fixed_size_model_for_another_size():
    import torch

    m = zoo.build(zoo.resolve("timm:test_vit"), 96)  # default 160; position embeddings follow
    with torch.no_grad():
        assert m(torch.randn(1, 3, 96, 96)).shape == (1, 1000)


def test_index_is_cached_and_a_corrupt_one_is_rebuilt(tmp_path):
    zoo._index.cache_clear()
    zoo.list_models("resnet18", "tv")
    path = tmp_path / "cache" / "zoo-index.json"
    idx = json.loads(path.read_text())
    assert idx["tv"]["inception_v3"] == [299, 75]
    assert idx["timm"]["test_vit"] == [160, 1, 1]
    path.write_text('{"versions": {"nnprof": "0"}, "tv"')  # truncated
    zoo._index.cache_clear()
    assert zoo.list_models("resnet18", "tv") == ["tv:resnet18"]
    assert json.loads(path.read_text())["tv"]["inception_v3"] == [299, 75]
