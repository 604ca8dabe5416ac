import json
import random

import pytest
import torch

from nnprof.variants import (
    BATCH_SIZES,
    BUDGETS,
    FAMILIES,
    LARGE_BATCH_SIZES,
    LARGE_BUDGETS,
    Variant,
    build_nb201_network,
    build_variant,
    estimate_cost,
    generate,
    parse_nb201_arch,
    random_nb201_arch,
)

# Tiny, hand-written params per family: every builder runs a real forward pass quickly.
TINY = {
    "resnet": {"block": "bottleneck", "depths": [1, 1, 2, 1], "base_width": 16, "groups": 4,
               "width_per_group": 16, "stem_kernel": 3, "input_size": 64},
    "vgg": {"convs": [1, 1, 2, 1, 1], "widths": [8, 16, 32, 64, 64], "batch_norm": True, "pool": 2,
            "hidden": 64, "input_size": 64},
    "efficientnet": {"width_mult": 0.25, "stages": [[1, 3, 1, 32, 16, 1], [4, 5, 2, 16, 24, 1], [3, 7, 2, 24, 40, 2],
                     [6, 3, 2, 40, 80, 1], [2, 5, 1, 80, 112, 1], [3, 3, 2, 112, 192, 1], [6, 3, 1, 192, 320, 1]],
                     "input_size": 64},
    "mobilenetv2": {"width_mult": 0.35, "setting": [[1, 16, 1, 1], [3, 24, 1, 2], [2, 32, 2, 2], [6, 64, 1, 2],
                    [4, 96, 1, 1], [3, 160, 1, 2], [6, 320, 1, 1]], "input_size": 64},
    "mobilenetv3": {"template": "small", "width_mult": 0.5, "last_channel": 1024, "input_size": 64,
                    "blocks": [[16, 3, 32, 16, True, "RE", 2], [16, 7, 64, 24, False, "RE", 2],
                               [24, 5, 96, 40, True, "HS", 2], [40, 3, 80, 48, False, "HS", 1],
                               [48, 5, 288, 96, True, "HS", 2]]},
    "mnasnet": {"alpha": 0.5, "stacks": [[3, 2, 3, 1], [5, 2, 2, 1], [5, 2, 6, 2], [3, 1, 4, 1], [5, 2, 6, 1],
                [3, 1, 6, 1]], "input_size": 64},
    "alexnet": {"widths": [16, 48, 96, 64, 64], "kernel": 11, "pool": 2, "hidden": 128, "input_size": 96},
    "squeezenet": {"version": "1_1", "stem": 64, "fires": [[8, 32, 32], [8, 16, 48], [16, 64, 64], [16, 96, 32]],
                   "pool_after": [1, 2], "input_size": 64},
    "googlenet": {"stem": [16, 16, 48], "stages": [[[16, 24, 32, 8, 8, 8]], [[48, 24, 56, 8, 16, 16],
                  [40, 32, 56, 8, 16, 16]], [[64, 40, 80, 8, 32, 32]]], "input_size": 64},
    "nasbench201": {"arch": "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
                    "C": 8, "N": 1, "input_size": 32},
    "vit": {"patch_size": 16, "embed_dim": 64, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0,
            "class_token": True, "input_size": 64},
    "swin": {"embed_dim": 32, "depths": [1, 2, 1], "num_heads": [1, 2, 4], "window_size": 4, "mlp_ratio": 2.0,
             "input_size": 64},
    "convnext": {"depths": [1, 1, 2, 1], "dims": [16, 32, 64, 128], "kernel_size": 5, "conv_mlp": False,
                 "use_grn": True, "input_size": 64},
    "mobilevit": {"channels": [16, 24, 32, 48, 64], "transformer_dims": [32, 48, 64], "transformer_depths": [1, 1, 1],
                  "ir_depth": 1, "expansion": 2.0, "num_features": 128, "input_size": 64},
    "shufflenetv2": {"repeats": [1, 2, 1], "channels": [24, 48, 96, 192, 256], "input_size": 64},
    "regnet": {"depths": [1, 2, 1], "widths": [24, 48, 96], "group_widths": [8, 8, 8],
               "bottleneck_multipliers": [1.0, 1.0, 1.0], "strides": [2, 2, 2], "se_ratio": 0.25,
               "stem_width": 32, "input_size": 64},
    "densenet": {"growth_rate": 8, "block_config": [2, 2, 3, 2], "num_init_features": 16, "bn_size": 2,
                 "input_size": 64},
}  # fmt: skip

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_families():
    nnlqp = {"resnet", "vgg", "efficientnet", "mobilenetv2", "mobilenetv3", "mnasnet", "alexnet", "squeezenet",
             "googlenet", "nasbench201"}  # fmt: skip
    assert nnlqp <= set(FAMILIES)
    assert {"vit", "swin", "convnext", "mobilevit", "shufflenetv2", "regnet", "densenet"} <= set(FAMILIES)
    assert len(FAMILIES) == len(set(FAMILIES)) == 17
    assert set(TINY) == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_builds_and_runs(family):
    model = build_variant(family, TINY[family])
    assert not model.training
    size = TINY[family]["input_size"]
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 10 if family == "nasbench201" else 1000)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_is_deterministic_and_rebuilds(family):
    v = generate(family, 5)
    w = generate(family, 5)
    assert v == w
    assert v.id == f"{family}-000005"
    assert (v.family, v.index, v.seed) == (family, 5, 0)
    assert v.batch_size in BATCH_SIZES
    assert v.input_shape == (v.batch_size, 3, v.input_size, v.input_size)
    # params survive JSON and rebuild the same network (counted on the meta device)
    back = json.loads(json.dumps(v.to_dict()))
    assert Variant(**back) == v
    lo, hi, max_mparams = BUDGETS[family]
    cost = estimate_cost(family, back["params"], v.batch_size)  # builds on the meta device
    assert lo <= cost["macs"] / 1e9 <= hi
    assert cost["params"] / 1e6 <= max_mparams


def test_same_params_same_weights():
    a = build_variant("vit", TINY["vit"])
    b = build_variant("vit", json.loads(json.dumps(TINY["vit"])))
    assert n_params(a) == n_params(b)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)


def test_ids_unique_and_seeds_differ():
    ids = [generate("squeezenet", i).id for i in range(30)]
    assert len(set(ids)) == 30
    assert ids[7] == "squeezenet-000007"
    s1 = generate("squeezenet", 7, seed=1)
    assert s1.id == "squeezenet-s1-000007"
    params = [json.dumps(generate("squeezenet", i).params, sort_keys=True) for i in range(30)]
    assert len(set(params)) > 25  # draws differ across indices
    other_seed = [json.dumps(generate("squeezenet", i, seed=1).params, sort_keys=True) for i in range(10)]
    assert sum(a != b for a, b in zip(params[:10], other_seed, strict=True)) >= 8  # and across seeds


def test_generate_rejects_unknown():
    with pytest.raises(ValueError, match="unknown family"):
        generate("lenet", 0)
    with pytest.raises(ValueError):
        generate("vit", -1)


def test_nb201_parameter_counts_match_benchmark():
    # Hand count, C=16, N=5, CIFAR-10 head (BN: weight + bias):
    # stem 3*16*9 + 32 = 464; reduction 16->32: 16*32*9 + 64 + 32*32*9 + 64 + 16*32 = 14464;
    # reduction 32->64: 32*64*9 + 128 + 64*64*9 + 128 + 32*64 = 57600; last BN 128;
    # classifier 64*10 + 10 = 650 -> 73306 (NAS-Bench-201: 0.073306 MB for the smallest cell).
    assert n_params(build_nb201_network(ALL_NONE)) == 73306
    # each nor_conv_3x3 edge adds 9C^2 + 2C per cell; 6 edges x 5 cells x (C=16, 32, 64):
    # 30 * (2336 + 9280 + 36992) = 1458240 -> 1531546 (NAS-Bench-201's largest: 1.531546 MB)
    assert n_params(build_nb201_network(ALL_CONV3)) == 1531546
    assert n_params(build_nb201_network(BEST)) == 73306 + 5 * 5 * (2336 + 9280 + 36992)
    out = build_nb201_network(BEST, C=8, N=2)(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)


def test_nb201_cell_semantics():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    net = build_nb201_network(ALL_NONE, C=8, N=1)
    # every cell outputs zeros, so the logits are the classifier bias after the last stage
    # sees only the reduction blocks; the network must still run and stay finite
    assert torch.isfinite(net(x)).all()
    skip = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    cell = build_nb201_network(skip, C=8, N=1).cells[0]
    y = torch.randn(1, 8, 4, 4)
    assert torch.equal(cell(y), y)


def test_nb201_arch_strings():
    assert parse_nb201_arch(BEST)[2] == [("skip_connect", 0), ("nor_conv_3x3", 1), ("nor_conv_3x3", 2)]
    rng = random.Random(0)
    for _ in range(20):
        parse_nb201_arch(random_nb201_arch(rng))
    for bad in ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|none~1|",
                "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_nb201_arch(bad)


def test_mac_count_nb201_by_hand():
    # all-none cells: only the skeleton multiplies. At 32x32, C=16:
    # stem 32*32*16*27; reduction 1: conv_a 16*16*32*16*9, conv_b 16*16*32*32*9, 1x1 16*16*32*16;
    # reduction 2: 8*8*64*32*9, 8*8*64*64*9, 8*8*64*32; classifier 64*10
    expect = (32 * 32 * 16 * 27 + 16 * 16 * 32 * 16 * 9 + 16 * 16 * 32 * 32 * 9 + 16 * 16 * 32 * 16
              + 8 * 8 * 64 * 32 * 9 + 8 * 8 * 64 * 64 * 9 + 8 * 8 * 64 * 32 + 64 * 10)  # fmt: skip
    cost = estimate_cost("nasbench201", {"arch": ALL_NONE, "C": 16, "N": 5, "input_size": 32})
    assert cost == {"macs": expect, "params": 73306}
    assert estimate_cost("nasbench201", {"arch": ALL_NONE, "C": 16, "N": 5, "input_size": 32}, 4)["macs"] == 4 * expect


def test_mac_count_vit_by_hand():
    p = TINY["vit"]  # 64x64 input, patch 16 -> 16 patches + class token; D=64, depth 2, mlp 2
    n, d = 17, 64
    block = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * 2 * d  # qkv, QK^T and AV, proj, MLP
    expect = 16 * d * 3 * 16 * 16 + 2 * block + d * 1000
    assert estimate_cost("vit", p)["macs"] == expect


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_generated_variants_export_and_simplify(family, tmp_path):
    import onnx
    import onnxsim

    for index in (0, 1):
        v = generate(family, index)
        path = tmp_path / f"{v.id}.onnx"
        torch.onnx.export(v.build(), torch.randn(v.input_shape), str(path), dynamo=False, opset_version=17)
        simplified, ok = onnxsim.simplify(onnx.load(str(path)))
        assert ok
        onnx.checker.check_model(simplified)
        dims = [d.dim_value for d in simplified.graph.input[0].type.tensor_type.shape.dim]
        assert tuple(dims) == v.input_shape


@pytest.mark.parametrize("family", ["resnet", "vit", "mobilenetv3"])
def test_large_tier_is_its_own_deterministic_stream(family):
    v = generate(family, 3, tier="large")
    assert v == generate(family, 3, tier="large")
    assert v.id == f"{family}-large-000003" and v.tier == "large"
    assert generate(family, 3, seed=2, tier="large").id == f"{family}-large-s2-000003"
    assert v.batch_size in LARGE_BATCH_SIZES
    lo, hi, max_mparams = LARGE_BUDGETS[family]
    cost = estimate_cost(family, v.params, v.batch_size)
    assert lo <= cost["macs"] / 1e9 <= hi  # above every base variant of the family
    assert cost["macs"] / 1e9 > BUDGETS[family][0]
    assert cost["params"] / 1e6 <= max_mparams
    base = generate(family, 3)
    assert base.tier == "base" and base.id == f"{family}-000003"
    assert base.params != v.params
    assert Variant(**json.loads(json.dumps(v.to_dict()))) == v


def test_large_samplers_reach_beyond_the_base_design_space():
    # ResNet's base sampler allows at most 6 blocks in stage 3; the large one goes to 36
    depths = [generate("resnet", i, tier="large").params["depths"][2] for i in range(8)]
    assert max(depths) > 6
    with pytest.raises(ValueError, match="unknown tier"):
        generate("resnet", 0, tier="huge")
