"""Deterministic architecture-variant generator: the networks of the measured zoo.

``generate(family, index, seed)`` draws one architecture of a family from a random stream
seeded by the string ``f"{family}:{seed}:{index}"`` (never Python's salted ``hash()``), so
the same triple gives the same variant on every machine and in every process. A variant
holds JSON-friendly ``params`` that rebuild the network without the random stream
(``build_variant(family, params)``), plus its input size and batch size.

Families (the ten of NNLQP, transformers and a hybrid, three more CNN designs):

==============  ==========================================================================
family          built from / what varies
==============  ==========================================================================
resnet          torchvision ``ResNet`` with ``_make_layer``: basic or bottleneck blocks,
                depth and width of each stage, groups / width per group, stem kernel
alexnet         AlexNet layout: conv widths, first kernel, pooled size, FC width
vgg             torchvision ``VGG`` + ``make_layers``: convs per stage, widths, BN,
                pooled size, FC width
squeezenet      torchvision ``Fire`` modules in the SqueezeNet design space (base_e,
                incr_e, pct_3x3, squeeze ratio, number of fires, v1.0 / v1.1 layout)
googlenet       torchvision ``Inception`` / ``BasicConv2d``: modules per stage, branch widths
mobilenetv2     torchvision ``MobileNetV2``: width_mult, expansion and depth per stage
mobilenetv3     torchvision ``MobileNetV3``: small/large template, per-block kernel,
                expansion, SE; depth per stage; width_mult
mnasnet         torchvision ``MNASNet`` with its ``_stack``s replaced: alpha, kernel,
                expansion and repeats per stack
efficientnet    torchvision ``EfficientNet`` + ``MBConvConfig``: width_mult, kernel,
                expansion and depth per stage
nasbench201     NAS-Bench-201 cells (random arch string) in the CIFAR macro skeleton,
                C and N varied, input 32 or 64 (see ``build_nb201_network``)
vit             timm ``VisionTransformer`` (ViT/DeiT style): patch, width, heads, depth,
                MLP ratio, class token or average pooling
swin            timm ``SwinTransformer``: 3 or 4 stages, depths, width, window, MLP ratio
convnext        timm ``ConvNeXt``: depths, widths, kernel size, conv MLP, GRN (V2)
mobilevit       timm ``ByobNet`` with MobileViT blocks: widths, transformer widths and
                depths, expansion
shufflenetv2    torchvision ``ShuffleNetV2``: repeats and widths of the three stages
regnet          torchvision ``RegNet`` from the RegNetX/Y design space (depth, w_0, w_a,
                w_m, group width, SE or not), 3-4 stages
densenet        torchvision ``DenseNet``: growth rate, block sizes, stem width, bn_size
==============  ==========================================================================

Every family varies its input resolution (64-256 depending on the family; nasbench201
32, the benchmark's CIFAR size, or 64) and batch size (1, 2, 4, 8). A drawn architecture
is kept only if its cost at the drawn batch size fits the family's budget (``BUDGETS``:
total multiply-accumulates and a parameter cap); otherwise the batch is halved, and if
that is not enough the architecture is drawn again, all from the same random stream. The
budgets keep single-model latency on ONNX Runtime, CPU, 1 thread, fp32 within roughly
0.2-150 ms (``scripts/variant_latency_check.py``) and the exported files under ~120 MB.
The cost is counted on the ``meta`` device (no memory, no weights) by ``estimate_cost``,
about 0.1-0.5 s of CPU per draw, which is most of what ``generate`` costs: callers that
only need the id of a variant should use ``variant_id``.

The variant drawn for a (family, index, seed) depends only on this module and on the MAC
counts of the torchvision/timm modules it builds; a saved ``params`` dict rebuilds the
same network regardless.

Weights are random (default initialisation under a fixed torch seed); models are returned
in eval mode. No pretrained weights are ever loaded.
"""

from __future__ import annotations

import operator
import random
import re
from dataclasses import asdict, dataclass, field
from functools import reduce
from typing import Any

FAMILIES: list[str] = [
    "resnet",
    "vgg",
    "efficientnet",
    "mobilenetv2",
    "mobilenetv3",
    "mnasnet",
    "alexnet",
    "squeezenet",
    "googlenet",
    "nasbench201",
    "vit",
    "swin",
    "convnext",
    "mobilevit",
    "shufflenetv2",
    "regnet",
    "densenet",
]

BATCH_SIZES = (1, 2, 4, 8)

# Per-family budget: total multiply-accumulates (batch included) in GMACs, and a cap on
# parameters (millions) so exported ONNX files stay small and quick to write. On the
# collection machine (AMD EPYC, ORT 1 thread) a dense CNN costs ~21-30 ms per GMAC and
# depthwise, attention and memory-bound nets 30-80 ms per GMAC; the upper bounds aim at
# <= ~100 ms. Tuned with scripts/variant_latency_check.py.
BUDGETS: dict[str, tuple[float, float, float]] = {
    # family: (min GMACs, max GMACs, max M params)
    "resnet": (0.01, 3.0, 30.0),
    "vgg": (0.01, 3.0, 30.0),
    "efficientnet": (0.005, 1.5, 30.0),
    "mobilenetv2": (0.005, 2.0, 30.0),
    "mobilenetv3": (0.003, 1.5, 30.0),
    "mnasnet": (0.005, 2.0, 30.0),
    "alexnet": (0.01, 3.0, 30.0),
    "squeezenet": (0.01, 3.0, 30.0),
    "googlenet": (0.01, 3.0, 30.0),
    "nasbench201": (0.005, 3.0, 30.0),
    "vit": (0.005, 2.0, 30.0),
    "swin": (0.01, 1.8, 30.0),
    "convnext": (0.01, 1.8, 30.0),
    "mobilevit": (0.01, 1.6, 30.0),
    "shufflenetv2": (0.003, 1.5, 30.0),
    "regnet": (0.01, 2.5, 30.0),
    "densenet": (0.01, 2.5, 30.0),
}

# The "large" tier: networks bigger than the base budgets allow, so that a predictor trained
# on both covers real models such as VGG-16, ViT-B/16 or ResNet-152 and larger batches. Each
# family starts where its base budget ends; the caps aim at <= ~400 ms on ONNX Runtime, CPU,
# 1 thread (dense CNNs ~10 ms per GMAC on AMD EPYC family 26, depthwise and attention nets
# up to ~40), and 140 M parameters admit VGG-style 4096-wide classifiers (VGG-11: 133 M).
LARGE_BUDGETS: dict[str, tuple[float, float, float]] = {
    "resnet": (3.0, 20.0, 140.0),
    "vgg": (3.0, 20.0, 140.0),
    "efficientnet": (1.5, 8.0, 140.0),
    "mobilenetv2": (2.0, 10.0, 140.0),
    "mobilenetv3": (1.5, 8.0, 140.0),
    "mnasnet": (2.0, 10.0, 140.0),
    "alexnet": (3.0, 20.0, 140.0),
    "squeezenet": (3.0, 20.0, 140.0),
    "googlenet": (3.0, 20.0, 140.0),
    "nasbench201": (3.0, 15.0, 140.0),
    "vit": (2.0, 20.0, 140.0),
    "swin": (1.8, 12.0, 140.0),
    "convnext": (1.8, 15.0, 140.0),
    "mobilevit": (1.6, 8.0, 140.0),
    "shufflenetv2": (1.5, 8.0, 140.0),
    "regnet": (2.5, 15.0, 140.0),
    "densenet": (2.5, 15.0, 140.0),
}
LARGE_BATCH_SIZES = (1, 2, 4, 8, 16)
TIERS: dict[str, tuple[dict[str, tuple[float, float, float]], tuple[int, ...]]] = {
    "base": (BUDGETS, BATCH_SIZES),
    "large": (LARGE_BUDGETS, LARGE_BATCH_SIZES),
}

_MAX_TRIES = 200
_WEIGHT_SEED = 0


@dataclass
class Variant:
    """One generated network: ``params`` rebuild it, ``input_shape`` feeds it."""

    id: str
    family: str
    index: int
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    input_size: int = 224
    batch_size: int = 1
    tier: str = "base"

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch_size, 3, self.input_size, self.input_size)

    def build(self):
        """The network as an eval-mode ``nn.Module`` with random (seeded) weights."""
        return build_variant(self.family, self.params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def variant_id(family: str, index: int, seed: int = 0, tier: str = "base") -> str:
    """``resnet-000123`` for seed 0, ``resnet-s7-000123`` for seed 7; other tiers name
    themselves: ``resnet-large-000123``, ``resnet-large-s7-000123``."""
    name = family if tier == "base" else f"{family}-{tier}"
    return f"{name}-{index:06d}" if seed == 0 else f"{name}-s{seed}-{index:06d}"


def generate(family: str, index: int, seed: int = 0, tier: str = "base") -> Variant:
    """The variant number ``index`` of ``family`` under ``seed`` (deterministic).

    ``tier`` picks the budgets (``TIERS``): "base" (the zoo's, ``BUDGETS``) or "large"
    (``LARGE_BUDGETS``: the same samplers, bigger networks and batches up to 16, drawn from
    their own random stream). In the large tier a network too small for the budget at the
    drawn batch is also tried at doubled batches before it is drawn again.
    """
    if family not in _SAMPLERS:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose from {', '.join(TIERS)}")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    # the base stream's key is the one the measured zoo was drawn with: never change it
    rng = random.Random(f"{family}:{seed}:{index}" if tier == "base" else f"{family}:{tier}:{seed}:{index}")
    budgets, batches = TIERS[tier]
    lo, hi, max_mparams = budgets[family]
    sampler = _SAMPLERS[family] if tier == "base" else _LARGE_SAMPLERS.get(family, _SAMPLERS[family])
    for _ in range(_MAX_TRIES):
        params = sampler(rng)
        batch = rng.choice(batches)
        cost = estimate_cost(family, params)
        gmacs = cost["macs"] / 1e9
        if cost["params"] / 1e6 > max_mparams:
            continue
        while batch > 1 and batch * gmacs > hi:
            batch //= 2
        if tier != "base":
            while batch < batches[-1] and batch * gmacs < lo:
                batch *= 2
        if lo <= batch * gmacs <= hi:
            return Variant(
                id=variant_id(family, index, seed, tier),
                family=family,
                index=index,
                seed=seed,
                params=params,
                input_size=int(params["input_size"]),
                batch_size=batch,
                tier=tier,
            )
    raise RuntimeError(f"no {family} {tier}-tier variant within budget after {_MAX_TRIES} draws")


def build_variant(family: str, params: dict[str, Any]):
    """Rebuild a variant's network from its saved ``params`` (eval mode, seeded weights)."""
    import torch

    if family not in _BUILDERS:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_WEIGHT_SEED)
        model = _BUILDERS[family](params)
    return model.eval()


def estimate_cost(family: str, params: dict[str, Any], batch_size: int = 1) -> dict[str, int]:
    """Multiply-accumulates and parameter count of a variant, counted on the meta device.

    MACs cover convolutions, linear layers and attention (QK^T and AV: 2 N^2 C per
    sequence); element-wise ops are left out. No memory is allocated for weights.
    """
    import torch

    with torch.device("meta"):
        model = _BUILDERS[family](params).eval()
        size = int(params["input_size"])
        x = torch.empty(batch_size, 3, size, size)
        macs = _count_macs(model, x)
    n_params = sum(p.numel() for p in model.parameters())
    return {"macs": int(macs), "params": int(n_params)}


def _count_macs(model, x) -> int:
    import torch
    from torch import nn

    total = [0]

    def conv(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear(m, inp, out):
        total[0] += out.numel() * m.in_features

    def attention(m, inp, out):
        b, n, c = inp[0].shape  # (B, N, C): B sequences (or windows) of N tokens
        total[0] += 2 * b * n * n * c

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear))
        elif type(m).__name__ in ("Attention", "WindowAttention") and hasattr(m, "num_heads"):
            handles.append(m.register_forward_hook(attention))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def _round8(v: float, minimum: int = 8) -> int:
    return max(minimum, int(round(v / 8.0)) * 8)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# --------------------------------------------------------------------------- ResNet


def _sample_resnet(rng: random.Random) -> dict[str, Any]:
    block = rng.choice(["basic", "bottleneck"])
    base = rng.choice([16, 24, 32, 40, 48, 64])
    if block == "basic":
        depths = [rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 3)]
        groups, width_per_group = 1, 64
    else:
        depths = [rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 3)]
        groups = rng.choice([1, 1, 2, 4, 8, 32])
        ratio = rng.choice([0.5, 1.0, 1.0, 2.0])  # bottleneck inner width / planes
        width_per_group = max(1, int(64 * ratio / groups))
        while base * width_per_group < 64:  # at least one channel per group
            width_per_group *= 2
    return {
        "block": block,
        "depths": depths,
        "base_width": base,
        "groups": groups,
        "width_per_group": width_per_group,
        "stem_kernel": rng.choice([3, 5, 7]),
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_resnet(p: dict[str, Any]):
    from torch import nn
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

    block = BasicBlock if p["block"] == "basic" else Bottleneck
    m = ResNet(block, [1, 1, 1, 1], groups=p["groups"], width_per_group=p["width_per_group"])
    w, k = p["base_width"], p["stem_kernel"]
    m.inplanes = w
    m.conv1 = nn.Conv2d(3, w, kernel_size=k, stride=2, padding=k // 2, bias=False)
    m.bn1 = nn.BatchNorm2d(w)
    m.layer1 = m._make_layer(block, w, p["depths"][0])
    m.layer2 = m._make_layer(block, 2 * w, p["depths"][1], stride=2)
    m.layer3 = m._make_layer(block, 4 * w, p["depths"][2], stride=2)
    m.layer4 = m._make_layer(block, 8 * w, p["depths"][3], stride=2)
    m.fc = nn.Linear(8 * w * block.expansion, 1000)
    return m


# --------------------------------------------------------------------------- VGG


def _sample_vgg(rng: random.Random) -> dict[str, Any]:
    base = rng.choice([8, 16, 24, 32, 48, 64])
    convs = [rng.randint(1, 2), rng.randint(1, 2), rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)]
    widths = [base, 2 * base, 4 * base, 8 * base, 8 * base]
    size = rng.choice([64, 96, 128, 160, 192, 224])
    return {
        "convs": convs,
        "widths": widths,
        "batch_norm": rng.random() < 0.5,
        "pool": rng.choice(_divisors(size // 32)),  # ONNX needs an integer pooling ratio
        "hidden": rng.choice([256, 512, 1024, 2048, 4096]),
        "input_size": size,
    }


def _build_vgg(p: dict[str, Any]):
    from torch import nn
    from torchvision.models.vgg import VGG, make_layers

    cfg: list[Any] = []
    for n, w in zip(p["convs"], p["widths"], strict=True):
        cfg += [w] * n + ["M"]
    m = VGG(make_layers(cfg, batch_norm=p["batch_norm"]), init_weights=False)
    c, s, h = p["widths"][-1], p["pool"], p["hidden"]
    m.avgpool = nn.AdaptiveAvgPool2d((s, s))
    m.classifier = nn.Sequential(
        nn.Linear(c * s * s, h), nn.ReLU(True), nn.Dropout(),
        nn.Linear(h, h), nn.ReLU(True), nn.Dropout(),
        nn.Linear(h, 1000),
    )  # fmt: skip
    return m


# --------------------------------------------------------------------------- EfficientNet

# EfficientNet-B0 stages: expand, kernel, stride, in, out, layers
_EFFNET_B0 = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


def _sample_efficientnet(rng: random.Random) -> dict[str, Any]:
    stages = []
    for i, (e, _k, s, cin, cout, n) in enumerate(_EFFNET_B0):
        expand = e if i == 0 else rng.choice([2, 3, 4, 6])
        kernel = rng.choice([3, 5, 7]) if i else 3
        layers = rng.randint(1, n + 2) if i else 1
        stages.append([expand, kernel, s, cin, cout, layers])
    return {
        "width_mult": rng.choice([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0]),
        "stages": stages,
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_efficientnet(p: dict[str, Any]):
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig

    w = p["width_mult"]
    setting = [MBConvConfig(e, k, s, cin, cout, n, width_mult=w) for e, k, s, cin, cout, n in p["stages"]]
    return EfficientNet(setting, dropout=0.2)


# --------------------------------------------------------------------------- MobileNetV2

_MNV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _sample_mobilenetv2(rng: random.Random) -> dict[str, Any]:
    setting = []
    for i, (t, c, n, s) in enumerate(_MNV2):
        if i == 0:
            setting.append([t, c, n, s])
        else:
            setting.append([rng.choice([2, 3, 4, 6]), c, rng.randint(1, n + 1), s])
    return {
        "width_mult": rng.choice([0.35, 0.5, 0.75, 1.0, 1.25, 1.4]),
        "setting": setting,
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_mobilenetv2(p: dict[str, Any]):
    from torchvision.models.mobilenetv2 import MobileNetV2

    return MobileNetV2(width_mult=p["width_mult"], inverted_residual_setting=[list(r) for r in p["setting"]])


# --------------------------------------------------------------------------- MobileNetV3

# stages: out channels, base depth, stride, activation, SE in template, template kernel
_MNV3 = {
    "large": {
        "stages": [(16, 1, 1, "RE"), (24, 2, 2, "RE"), (40, 3, 2, "RE"), (80, 4, 2, "HS"), (112, 2, 1, "HS"), (160, 3, 2, "HS")],
        "last_channel": 1280,
    },
    "small": {
        "stages": [(16, 1, 2, "RE"), (24, 2, 2, "RE"), (40, 3, 2, "HS"), (48, 2, 1, "HS"), (96, 3, 2, "HS")],
        "last_channel": 1024,
    },
}


def _sample_mobilenetv3(rng: random.Random) -> dict[str, Any]:
    template = rng.choice(["small", "large"])
    blocks = []  # input, kernel, expanded, out, use_se, activation, stride (before width_mult)
    cin = 16
    for i, (cout, n, s, act) in enumerate(_MNV3[template]["stages"]):
        depth = rng.randint(1, n + 1) if i else 1
        for j in range(depth):
            ratio = 1 if (i == 0 and template == "large") else rng.choice([2, 3, 4, 6])
            blocks.append([cin, rng.choice([3, 5, 7]), int(cin * ratio), cout, rng.random() < 0.5, act, s if j == 0 else 1])
            cin = cout
    return {
        "template": template,
        "width_mult": rng.choice([0.35, 0.5, 0.75, 1.0, 1.25]),
        "blocks": blocks,
        "last_channel": _MNV3[template]["last_channel"],
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_mobilenetv3(p: dict[str, Any]):
    from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3

    w = p["width_mult"]
    setting = [
        InvertedResidualConfig(cin, k, exp, cout, bool(se), act, s, 1, w)
        for cin, k, exp, cout, se, act, s in p["blocks"]
    ]
    return MobileNetV3(setting, last_channel=InvertedResidualConfig.adjust_channels(p["last_channel"], w))


# --------------------------------------------------------------------------- MnasNet

# torchvision MNASNet stacks: kernel, stride, expansion, repeats
_MNASNET = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1)]


def _sample_mnasnet(rng: random.Random) -> dict[str, Any]:
    stacks = [[rng.choice([3, 5]), s, rng.choice([2, 3, 4, 6]), rng.randint(1, r + 1)] for _k, s, _e, r in _MNASNET]
    return {
        "alpha": rng.choice([0.35, 0.5, 0.75, 1.0, 1.3]),
        "stacks": stacks,
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_mnasnet(p: dict[str, Any]):
    from torchvision.models.mnasnet import _BN_MOMENTUM, MNASNet, _get_depths, _stack

    m = MNASNet(p["alpha"])
    d = _get_depths(p["alpha"])
    for i, (k, s, e, r) in enumerate(p["stacks"]):
        m.layers[8 + i] = _stack(d[i + 1], d[i + 2], k, s, e, r, _BN_MOMENTUM)
    return m


# --------------------------------------------------------------------------- AlexNet


def _sample_alexnet(rng: random.Random) -> dict[str, Any]:
    w = rng.choice([0.25, 0.375, 0.5, 0.75, 1.0, 1.25])
    kernel = rng.choice([7, 9, 11])
    size = rng.choice([96, 112, 128, 160, 192, 224, 256])
    fmap = (size + 4 - kernel) // 4 + 1  # conv1, stride 4
    for _ in range(3):
        fmap = (fmap - 3) // 2 + 1  # the three 3x3/2 max-pools
    return {
        "widths": [_round8(c * w * rng.uniform(0.8, 1.25)) for c in (64, 192, 384, 256, 256)],
        "kernel": kernel,
        "pool": rng.choice(_divisors(fmap)),  # ONNX needs an integer pooling ratio
        "hidden": rng.choice([512, 1024, 2048, 3072, 4096]),
        "input_size": size,
    }


def _build_alexnet(p: dict[str, Any]):
    from torch import nn
    from torchvision.models.alexnet import AlexNet

    c1, c2, c3, c4, c5 = p["widths"]
    k, s, h = p["kernel"], p["pool"], p["hidden"]
    m = AlexNet.__new__(AlexNet)  # torchvision's class, our layer sizes
    nn.Module.__init__(m)
    m.features = nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=k, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )  # fmt: skip
    m.avgpool = nn.AdaptiveAvgPool2d((s, s))
    m.classifier = nn.Sequential(
        nn.Dropout(), nn.Linear(c5 * s * s, h), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(h, h), nn.ReLU(inplace=True),
        nn.Linear(h, 1000),
    )  # fmt: skip
    return m


# --------------------------------------------------------------------------- SqueezeNet


def _sample_squeezenet(rng: random.Random) -> dict[str, Any]:
    # SqueezeNet design space (Iandola et al. 2016, sec. 5): e_i = base_e + incr_e *
    # floor(i / freq), squeeze = SR * e_i, 3x3 share pct_3x3.
    version = rng.choice(["1_0", "1_1"])
    n_fire = rng.choice([4, 6, 8, 10])
    base_e = rng.choice([32, 64, 96, 128, 192, 256])
    incr_e = rng.choice([16, 32, 64, 96, 128, 192])
    freq = rng.choice([1, 2, 3])
    pct = rng.choice([0.25, 0.5, 0.75])
    sr = rng.choice([0.125, 0.25, 0.5, 0.75])
    fires = []
    for i in range(n_fire):
        e = base_e + incr_e * (i // freq)
        e3 = _round8(e * pct)
        e1 = _round8(e - e3)
        fires.append([_round8(sr * e), e1, e3])
    pools = [round(n_fire * 3 / 8), round(n_fire * 7 / 8)] if version == "1_0" else [n_fire // 4, n_fire // 2]
    return {
        "version": version,
        "stem": 96 if version == "1_0" else 64,
        "fires": fires,
        "pool_after": pools,  # max-pool after these many fire modules
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_squeezenet(p: dict[str, Any]):
    from torch import nn
    from torchvision.models.squeezenet import Fire, SqueezeNet

    k = 7 if p["version"] == "1_0" else 3
    layers: list[nn.Module] = [
        nn.Conv2d(3, p["stem"], kernel_size=k, stride=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
    ]
    cin = p["stem"]
    for i, (s, e1, e3) in enumerate(p["fires"]):
        if i in p["pool_after"] and i > 0:
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True))
        layers.append(Fire(cin, s, e1, e3))
        cin = e1 + e3
    m = SqueezeNet.__new__(SqueezeNet)  # torchvision's class and forward, our layers
    nn.Module.__init__(m)
    m.num_classes = 1000
    m.features = nn.Sequential(*layers)
    m.classifier = nn.Sequential(
        nn.Dropout(p=0.5), nn.Conv2d(cin, 1000, kernel_size=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
    )
    return m


# --------------------------------------------------------------------------- GoogLeNet

# Inception modules of GoogLeNet: ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
_INCEPTION = {
    3: [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64)],
    4: [(192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64), (128, 128, 256, 24, 64, 64),
        (112, 144, 288, 32, 64, 64), (256, 160, 320, 32, 128, 128)],
    5: [(256, 160, 320, 32, 128, 128), (384, 192, 384, 48, 128, 128)],
}  # fmt: skip


def _sample_googlenet(rng: random.Random) -> dict[str, Any]:
    w = rng.choice([0.25, 0.375, 0.5, 0.75, 1.0])
    stages = []
    for stage, (lo, hi) in ((3, (1, 3)), (4, (1, 6)), (5, (1, 3))):
        n = rng.randint(lo, hi)
        templ = _INCEPTION[stage]
        mods = []
        for j in range(n):
            t = templ[round(j * (len(templ) - 1) / max(n - 1, 1))]
            mods.append([_round8(c * w * rng.uniform(0.75, 1.25)) for c in t])
        stages.append(mods)
    return {
        "stem": [_round8(64 * w), _round8(64 * w), _round8(192 * w)],
        "stages": stages,
        "input_size": rng.choice([96, 112, 128, 160, 192, 224]),
    }


def _build_googlenet(p: dict[str, Any]):
    from torch import nn
    from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception

    c1, c2, c3 = p["stem"]
    m = GoogLeNet.__new__(GoogLeNet)  # torchvision's class and forward, our inception widths
    nn.Module.__init__(m)
    m.aux_logits = False
    m.transform_input = False
    m.conv1 = BasicConv2d(3, c1, kernel_size=7, stride=2, padding=3)
    m.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    m.conv2 = BasicConv2d(c1, c2, kernel_size=1)
    m.conv3 = BasicConv2d(c2, c3, kernel_size=3, padding=1)
    m.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    cin = c3
    seqs = []
    for mods in p["stages"]:
        blocks = []
        for a, b_red, b, c_red, c, d in mods:
            blocks.append(Inception(cin, a, b_red, b, c_red, c, d))
            cin = a + b + c + d
        seqs.append(nn.Sequential(*blocks))
    # torchvision's forward calls inception3a, 3b, 4a..4e, 5a, 5b: the stages fill 3a, 4a, 5a
    m.inception3a, m.inception4a, m.inception5a = seqs
    m.inception3b = m.inception4b = m.inception4c = m.inception4d = m.inception4e = nn.Identity()
    m.inception5b = nn.Identity()
    m.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    m.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
    m.aux1 = m.aux2 = None
    m.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    m.dropout = nn.Dropout(0.2)
    m.fc = nn.Linear(cin, 1000)
    return m  # eval mode: GoogLeNet.forward returns the logits tensor


# --------------------------------------------------------------------------- NAS-Bench-201

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_NB201_EDGE = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def parse_nb201_arch(arch_str: str) -> list[list[tuple[str, int]]]:
    """``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` -> per node, the (op, input node) pairs."""
    nodes = []
    for i, part in enumerate(arch_str.strip().split("+")):
        edges = [e for e in part.split("|") if e]
        parsed = []
        for e in edges:
            m = _NB201_EDGE.match(e)
            if not m or m.group(1) not in NB201_OPS:
                raise ValueError(f"bad NAS-Bench-201 edge {e!r} in {arch_str!r}")
            parsed.append((m.group(1), int(m.group(2))))
        if sorted(j for _, j in parsed) != list(range(i + 1)):
            raise ValueError(f"node {i + 1} of {arch_str!r} must read nodes 0..{i} once each")
        nodes.append(parsed)
    if len(nodes) != 3:
        raise ValueError(f"a NAS-Bench-201 cell has 3 nodes, {arch_str!r} has {len(nodes)}")
    return nodes


def random_nb201_arch(rng: random.Random) -> str:
    return "+".join("|" + "|".join(f"{rng.choice(NB201_OPS)}~{j}" for j in range(i)) + "|" for i in (1, 2, 3))


def build_nb201_network(arch_str: str, C: int = 16, N: int = 5, num_classes: int = 10):
    """The NAS-Bench-201 CIFAR network (``TinyNetwork`` of the official code) for one cell.

    Stem conv3x3 (C) + BN; three stages of ``N`` cells at C, 2C, 4C with a residual
    reduction block (ReLU-Conv3x3/2-BN, ReLU-Conv3x3-BN, shortcut AvgPool2 + Conv1x1)
    between stages; BN-ReLU, global average pooling, linear. Cell ops: ``none`` (x * 0),
    ``skip_connect``, ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN),
    ``avg_pool_3x3`` (stride 1, padding 1, ``count_include_pad=False``). With C=16, N=5
    the parameter counts match NAS-Bench-201's (0.073306 M for the all-``none`` cell,
    1.531546 M for the all-``nor_conv_3x3`` cell).
    """
    from torch import nn

    cell = parse_nb201_arch(arch_str)

    class ReLUConvBN(nn.Sequential):
        def __init__(self, cin: int, cout: int, k: int, stride: int):
            super().__init__(
                nn.ReLU(inplace=False),
                nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                nn.BatchNorm2d(cout),
            )

    class Zero(nn.Module):
        def forward(self, x):
            return x.mul(0.0)

    def op(name: str, c: int) -> nn.Module:
        if name == "none":
            return Zero()
        if name == "skip_connect":
            return nn.Identity()
        if name == "nor_conv_1x1":
            return ReLUConvBN(c, c, 1, 1)
        if name == "nor_conv_3x3":
            return ReLUConvBN(c, c, 3, 1)
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    class InferCell(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.inputs = [[j for _, j in node] for node in cell]
            self.edges = nn.ModuleList(nn.ModuleList(op(name, c) for name, _ in node) for node in cell)

        def forward(self, x):
            nodes = [x]
            for ins, ops in zip(self.inputs, self.edges, strict=True):
                nodes.append(reduce(operator.add, (o(nodes[j]) for o, j in zip(ops, ins, strict=True))))
            return nodes[-1]

    class ResNetBasicblock(nn.Module):
        def __init__(self, cin: int, cout: int):
            super().__init__()
            self.conv_a = ReLUConvBN(cin, cout, 3, 2)
            self.conv_b = ReLUConvBN(cout, cout, 3, 1)
            self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(cin, cout, 1, bias=False))

        def forward(self, x):
            return self.downsample(x) + self.conv_b(self.conv_a(x))

    class TinyNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
            cells: list[nn.Module] = []
            for stage, c in enumerate((C, 2 * C, 4 * C)):
                if stage:
                    cells.append(ResNetBasicblock(c // 2, c))
                cells += [InferCell(c) for _ in range(N)]
            self.cells = nn.Sequential(*cells)
            self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=True))
            self.global_pooling = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(4 * C, num_classes)

        def forward(self, x):
            x = self.lastact(self.cells(self.stem(x)))
            return self.classifier(self.global_pooling(x).flatten(1))

    return TinyNetwork().eval()


def _sample_nasbench201(rng: random.Random) -> dict[str, Any]:
    arch = random_nb201_arch(rng)
    if rng.random() < 0.5:  # the benchmark's own network
        return {"arch": arch, "C": 16, "N": 5, "input_size": 32}
    return {
        "arch": arch,
        "C": rng.choice([8, 16, 24, 32, 48, 64]),
        "N": rng.randint(1, 5),
        "input_size": rng.choice([32, 32, 64]),
    }


def _build_nasbench201(p: dict[str, Any]):
    return build_nb201_network(p["arch"], C=p["C"], N=p["N"], num_classes=10)


# --------------------------------------------------------------------------- ViT / DeiT


def _sample_vit(rng: random.Random) -> dict[str, Any]:
    size = rng.choice([64, 96, 112, 128, 160, 192, 224, 256])
    patch = rng.choice([p for p in (8, 14, 16, 32) if size % p == 0 and size // p >= 4])
    heads = rng.choice([1, 2, 3, 4, 6, 8, 12])
    head_dim = rng.choice([32, 64])
    class_token = rng.random() < 0.7
    return {
        "patch_size": patch,
        "embed_dim": heads * head_dim,
        "depth": rng.randint(1, 12),
        "num_heads": heads,
        "mlp_ratio": rng.choice([2.0, 3.0, 4.0]),
        "class_token": class_token,
        "input_size": size,
    }


def _build_vit(p: dict[str, Any]):
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        img_size=p["input_size"],
        patch_size=p["patch_size"],
        embed_dim=p["embed_dim"],
        depth=p["depth"],
        num_heads=p["num_heads"],
        mlp_ratio=p["mlp_ratio"],
        class_token=p["class_token"],
        global_pool="token" if p["class_token"] else "avg",
        num_classes=1000,
    )


# --------------------------------------------------------------------------- Swin


def _sample_swin(rng: random.Random) -> dict[str, Any]:
    while True:
        size = rng.choice([96, 128, 160, 192, 224, 256])
        n_stages = rng.choice([3, 4])
        last = size // 4 // 2 ** (n_stages - 1)  # the window must tile every stage
        windows = [w for w in range(3, 9) if last % w == 0]
        if windows:
            break
    embed = rng.choice([24, 32, 48, 64, 96])
    depths = [rng.randint(1, 2), rng.randint(1, 2), rng.randint(1, 6), rng.randint(1, 2)][:n_stages]
    return {
        "embed_dim": embed,
        "depths": depths,
        "num_heads": [max(1, embed * 2**i // 32) for i in range(n_stages)],
        "window_size": rng.choice(windows),
        "mlp_ratio": rng.choice([2.0, 3.0, 4.0]),
        "input_size": size,
    }


def _build_swin(p: dict[str, Any]):
    from timm.models.swin_transformer import SwinTransformer

    return SwinTransformer(
        img_size=p["input_size"],
        patch_size=4,
        embed_dim=p["embed_dim"],
        depths=tuple(p["depths"]),
        num_heads=tuple(p["num_heads"]),
        window_size=p["window_size"],
        mlp_ratio=p["mlp_ratio"],
        drop_path_rate=0.0,
        num_classes=1000,
    )


# --------------------------------------------------------------------------- ConvNeXt


def _sample_convnext(rng: random.Random) -> dict[str, Any]:
    base = rng.choice([16, 24, 32, 40, 48, 64, 80, 96])
    return {
        "depths": [rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 9), rng.randint(1, 3)],
        "dims": [base, 2 * base, 4 * base, 8 * base],
        "kernel_size": rng.choice([3, 5, 7]),
        "conv_mlp": rng.random() < 0.3,
        "use_grn": rng.random() < 0.3,
        "input_size": rng.choice([64, 96, 128, 160, 192, 224, 256]),
    }


def _build_convnext(p: dict[str, Any]):
    from timm.models.convnext import ConvNeXt

    return ConvNeXt(
        depths=tuple(p["depths"]),
        dims=tuple(p["dims"]),
        kernel_sizes=p["kernel_size"],
        conv_mlp=p["conv_mlp"],
        use_grn=p["use_grn"],
        ls_init_value=None if p["use_grn"] else 1e-6,
        num_classes=1000,
    )


# --------------------------------------------------------------------------- MobileViT

# mobilevit_xxs / xs / s: channels of the 5 stages, transformer dims of the last 3, features
_MOBILEVIT = {
    "xxs": ((16, 24, 48, 64, 80), (64, 80, 96), 320, 2.0),
    "xs": ((32, 48, 64, 80, 96), (96, 120, 144), 384, 4.0),
    "s": ((32, 64, 96, 128, 160), (144, 192, 240), 640, 4.0),
}


def _sample_mobilevit(rng: random.Random) -> dict[str, Any]:
    chs, tdims, feats, _ = _MOBILEVIT[rng.choice(list(_MOBILEVIT))]
    mult = rng.choice([0.35, 0.5, 0.75, 1.0, 1.25])
    return {
        "channels": [_round8(c * mult * rng.uniform(0.8, 1.25)) for c in chs],
        "transformer_dims": [max(32, int(round(t * mult * rng.uniform(0.8, 1.25) / 16)) * 16) for t in tdims],
        "transformer_depths": [rng.randint(1, 3), rng.randint(2, 5), rng.randint(1, 4)],
        "ir_depth": rng.randint(1, 3),
        "expansion": rng.choice([2.0, 3.0, 4.0]),
        "num_features": _round8(feats * mult),
        "input_size": rng.choice([64, 128, 192, 256]),  # /64: no resampling around patches
    }


def _build_mobilevit(p: dict[str, Any]):
    import timm.models.mobilevit  # noqa: F401  (registers the 'mobilevit' block type)
    from timm.models.byobnet import ByoBlockCfg, ByobNet, ByoModelCfg

    def ir(d: int, c: int, s: int) -> ByoBlockCfg:
        return ByoBlockCfg(type="bottle", d=d, c=c, s=s, gs=1, br=p["expansion"],
                           block_kwargs={"bottle_in": True, "linear_out": True})  # fmt: skip

    def mvit(c: int, tdim: int, tdepth: int) -> tuple[ByoBlockCfg, ByoBlockCfg]:
        return (
            ir(1, c, 2),
            ByoBlockCfg(type="mobilevit", d=1, c=c, s=1,
                        block_kwargs={"transformer_dim": tdim, "transformer_depth": tdepth, "patch_size": 2}),
        )  # fmt: skip

    ch, td, tdep = p["channels"], p["transformer_dims"], p["transformer_depths"]
    cfg = ByoModelCfg(
        blocks=(
            ir(1, ch[0], 1),
            ir(p["ir_depth"], ch[1], 2),
            mvit(ch[2], td[0], tdep[0]),
            mvit(ch[3], td[1], tdep[1]),
            mvit(ch[4], td[2], tdep[2]),
        ),
        stem_chs=16,
        stem_type="3x3",
        stem_pool="",
        downsample="",
        act_layer="silu",
        num_features=p["num_features"],
    )
    return ByobNet(cfg, num_classes=1000)


# --------------------------------------------------------------------------- ShuffleNetV2

# torchvision ShuffleNetV2 x0.5 / x1.0 / x1.5 / x2.0 stage widths
_SHUFFLE = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}


def _sample_shufflenetv2(rng: random.Random) -> dict[str, Any]:
    width = rng.choice(list(_SHUFFLE))
    *stages, last = _SHUFFLE[width]
    chans = [24] + [2 * max(8, int(round(c * rng.uniform(0.75, 1.25) / 2))) for c in stages] + [last]
    return {
        "repeats": [rng.randint(1, 5), rng.randint(2, 10), rng.randint(1, 5)],
        "channels": chans,  # stem, 3 stages (even: the block splits channels in two), last conv
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_shufflenetv2(p: dict[str, Any]):
    from torchvision.models.shufflenetv2 import ShuffleNetV2

    return ShuffleNetV2(list(p["repeats"]), list(p["channels"]))


# --------------------------------------------------------------------------- RegNet


def _sample_regnet(rng: random.Random, depth: tuple[int, int] = (6, 18), w_0: range = range(16, 97, 8)) -> dict[str, Any]:
    # RegNet design space (Radosavovic et al. 2020): widths from a quantised linear rule
    from torchvision.models.regnet import BlockParams

    while True:
        init = {
            "depth": rng.randint(*depth),
            "w_0": rng.choice(w_0),
            "w_a": round(rng.uniform(8.0, 48.0), 2),
            "w_m": round(rng.uniform(2.0, 3.0), 3),
            "group_width": rng.choice([8, 16, 24, 32, 48, 64]),
            "se_ratio": rng.choice([None, 0.25]),  # RegNetX or RegNetY
        }
        bp = BlockParams.from_init_params(**init)
        if 3 <= len(bp.depths) <= 4:
            break
    return {
        "init": init,
        "depths": bp.depths,
        "widths": bp.widths,
        "group_widths": bp.group_widths,
        "bottleneck_multipliers": bp.bottleneck_multipliers,
        "strides": bp.strides,
        "se_ratio": bp.se_ratio,
        "stem_width": 32,
        "input_size": rng.choice([96, 112, 128, 160, 192, 224, 256]),
    }


def _build_regnet(p: dict[str, Any]):
    from torchvision.models.regnet import BlockParams, RegNet

    bp = BlockParams(
        depths=list(p["depths"]),
        widths=list(p["widths"]),
        group_widths=list(p["group_widths"]),
        bottleneck_multipliers=list(p["bottleneck_multipliers"]),
        strides=list(p["strides"]),
        se_ratio=p["se_ratio"],
    )
    return RegNet(bp, stem_width=p["stem_width"])


# --------------------------------------------------------------------------- DenseNet


def _sample_densenet(rng: random.Random) -> dict[str, Any]:
    return {
        "growth_rate": rng.choice([8, 12, 16, 24, 32]),
        "block_config": [rng.randint(2, 8), rng.randint(2, 16), rng.randint(2, 24), rng.randint(2, 16)],
        "num_init_features": rng.choice([16, 24, 32, 48, 64]),
        "bn_size": rng.choice([2, 4]),
        "input_size": rng.choice([64, 96, 112, 128, 160, 192, 224]),
    }


def _build_densenet(p: dict[str, Any]):
    from torchvision.models.densenet import DenseNet

    return DenseNet(
        growth_rate=p["growth_rate"],
        block_config=tuple(p["block_config"]),
        num_init_features=p["num_init_features"],
        bn_size=p["bn_size"],
    )


# --------------------------------------------------------------------------- large tier
# The base samplers stop near ResNet-50 / Swin-T / ConvNeXt-T / DenseNet-121 size. For the
# large tier these six draw deeper and wider networks (up to about ResNet-152, Wide ResNet,
# Swin-B, ConvNeXt-B, EfficientNet-B7 depth, DenseNet-201, RegNetY-16GF); VGG and ViT reach
# VGG-19 and ViT-B with their base samplers once the parameter cap allows it, and the other
# families grow by batch size.


def _sample_resnet_large(rng: random.Random) -> dict[str, Any]:
    p = _sample_resnet(rng)
    p["depths"] = [rng.randint(1, 3), rng.randint(2, 8), rng.randint(2, 36), rng.randint(1, 3)]
    p["base_width"] = rng.choice([32, 48, 64, 80, 96, 128])  # wider only: the groups still fit
    return p


def _sample_swin_large(rng: random.Random) -> dict[str, Any]:
    p = _sample_swin(rng)
    n = len(p["depths"])
    embed = rng.choice([64, 96, 128])
    p["embed_dim"] = embed
    p["depths"] = [rng.randint(1, 2), rng.randint(1, 2), rng.randint(2, 18), rng.randint(1, 2)][:n]
    p["num_heads"] = [max(1, embed * 2**i // 32) for i in range(n)]
    return p


def _sample_convnext_large(rng: random.Random) -> dict[str, Any]:
    p = _sample_convnext(rng)
    base = rng.choice([64, 80, 96, 128])
    p["dims"] = [base, 2 * base, 4 * base, 8 * base]
    p["depths"] = [rng.randint(1, 3), rng.randint(1, 3), rng.randint(3, 27), rng.randint(1, 3)]
    return p


def _sample_efficientnet_large(rng: random.Random) -> dict[str, Any]:
    p = _sample_efficientnet(rng)
    for i, (*_, n) in enumerate(_EFFNET_B0):
        if i:
            p["stages"][i][5] = rng.randint(n, 3 * n + 1)  # B7 repeats B0's stages ~3.1x
    p["width_mult"] = rng.choice([1.0, 1.25, 1.5, 2.0])
    return p


def _sample_densenet_large(rng: random.Random) -> dict[str, Any]:
    p = _sample_densenet(rng)
    p["block_config"] = [rng.randint(4, 8), rng.randint(8, 16), rng.randint(12, 48), rng.randint(8, 32)]
    p["growth_rate"] = rng.choice([24, 32, 48])
    return p


def _sample_regnet_large(rng: random.Random) -> dict[str, Any]:
    return _sample_regnet(rng, depth=(12, 28), w_0=range(48, 257, 16))


_LARGE_SAMPLERS = {
    "resnet": _sample_resnet_large,
    "swin": _sample_swin_large,
    "convnext": _sample_convnext_large,
    "efficientnet": _sample_efficientnet_large,
    "densenet": _sample_densenet_large,
    "regnet": _sample_regnet_large,
}

_SAMPLERS = {
    "resnet": _sample_resnet,
    "vgg": _sample_vgg,
    "efficientnet": _sample_efficientnet,
    "mobilenetv2": _sample_mobilenetv2,
    "mobilenetv3": _sample_mobilenetv3,
    "mnasnet": _sample_mnasnet,
    "alexnet": _sample_alexnet,
    "squeezenet": _sample_squeezenet,
    "googlenet": _sample_googlenet,
    "nasbench201": _sample_nasbench201,
    "vit": _sample_vit,
    "swin": _sample_swin,
    "convnext": _sample_convnext,
    "mobilevit": _sample_mobilevit,
    "shufflenetv2": _sample_shufflenetv2,
    "regnet": _sample_regnet,
    "densenet": _sample_densenet,
}
_BUILDERS = {
    "resnet": _build_resnet,
    "vgg": _build_vgg,
    "efficientnet": _build_efficientnet,
    "mobilenetv2": _build_mobilenetv2,
    "mobilenetv3": _build_mobilenetv3,
    "mnasnet": _build_mnasnet,
    "alexnet": _build_alexnet,
    "squeezenet": _build_squeezenet,
    "googlenet": _build_googlenet,
    "nasbench201": _build_nasbench201,
    "vit": _build_vit,
    "swin": _build_swin,
    "convnext": _build_convnext,
    "mobilevit": _build_mobilevit,
    "shufflenetv2": _build_shufflenetv2,
    "regnet": _build_regnet,
    "densenet": _build_densenet,
}
assert list(_SAMPLERS) == FAMILIES and list(_BUILDERS) == FAMILIES and set(_LARGE_SAMPLERS) <= set(FAMILIES)
