"""Model names -> models: torchvision and timm image classifiers, wildcards, families.

Names, timm style:

* ``tv:resnet50`` - a torchvision image-classification model,
* ``timm:convnext_tiny`` (also with a pretrained tag, ``timm:resnet50.a1_in1k``, which only
  picks the default input size: weights are never loaded),
* a bare name - torchvision first, then timm (``resnet50`` is ``tv:resnet50``),
* a path to an ``.onnx`` file.

A name with wildcards (``*``, ``?``, ``[``) is an fnmatch pattern where a list of models is
expected (``expand``); ``resolve`` asks for exactly one model. Listings are qualified names
(``tv:mobilenet_v2``) in natural order (``resnet18`` before ``resnet101``).

Models are always built with random weights (torchvision ``weights=None``, timm
``pretrained=False``), in eval mode: nothing is downloaded.

Default input sizes: torchvision - the crop size of the model's ImageNet-1K weights (the
smallest if it has several, e.g. 224 for ``vit_h_14``), read from the weights' metadata
without downloading them (224, ``inception_v3`` 299, ``efficientnet_b7`` 600, ...);
timm - ``input_size`` of the pretrained config (again metadata only). Non-square sizes are
not supported: the input is ``(batch, 3, size, size)``.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnprof import __version__
from nnprof.errors import NNProfError

if TYPE_CHECKING:
    from torch import nn

SOURCES = ("tv", "timm")
_PREFIXES = {"tv": "tv", "torchvision": "tv", "timm": "timm"}
_WILDCARDS = set("*?[")
_INDEX_FORMAT = 1

# Families over both zoos: fnmatch patterns on bare model names. A model may sit in more
# than one family (deit* models are also ViTs in spirit, but only match `deit`).
FAMILIES: dict[str, list[str]] = {
    "alexnet": ["alexnet"],
    "vgg": ["vgg*"],
    "resnet": ["resnet[0-9]*", "wide_resnet*"],
    "resnext": ["resnext*"],
    "seresnet": ["seresnet*", "seresnext*"],
    "res2net": ["res2net*"],
    "resnest": ["resnest*"],
    "densenet": ["densenet*"],
    "inception": ["googlenet", "inception_v*"],
    "xception": ["xception*"],
    "dla": ["dla*"],
    "dpn": ["dpn*"],
    "hrnet": ["hrnet*"],
    "squeezenet": ["squeezenet*"],
    "shufflenet": ["shufflenet*"],
    "mobilenet": ["mobilenet*"],
    "mnasnet": ["mnasnet*", "semnasnet*"],
    "fbnet": ["fbnet*"],
    "ghostnet": ["ghostnet*"],
    "efficientnet": ["efficientnet*", "tf_efficientnet*"],
    "mixnet": ["mixnet*", "tf_mixnet*"],
    "tinynet": ["tinynet*"],
    "lcnet": ["lcnet*"],
    "rexnet": ["rexnet*"],
    "regnet": ["regnet*"],
    "repvgg": ["repvgg*"],
    "mobileone": ["mobileone*"],
    "cspnet": ["cs3*", "cspdarknet*", "cspresne*"],
    "nfnet": ["nfnet*", "dm_nfnet*", "eca_nfnet*"],
    "convnext": ["convnext*"],
    "vit": ["vit_*"],
    "deit": ["deit*"],
    "beit": ["beit*"],
    "cait": ["cait*"],
    "eva": ["eva02*"],
    "swin": ["swin*"],
    "maxvit": ["maxvit*", "maxxvit*"],
    "coatnet": ["coatnet*", "coatnext*"],
    "mobilevit": ["mobilevit*"],
    "levit": ["levit*"],
    "efficientformer": ["efficientformer*"],
    "efficientvit": ["efficientvit*"],
    "edgenext": ["edgenext*"],
    "fastvit": ["fastvit*"],
    "repvit": ["repvit*"],
    "poolformer": ["poolformer*"],
    "mixer": ["mixer_*", "resmlp*", "gmlp*"],
    "pvt": ["pvt_v2*"],
    "twins": ["twins*"],
    "xcit": ["xcit*"],
    "crossvit": ["crossvit*"],
    "pit": ["pit_*"],
    "tiny_vit": ["tiny_vit*"],
    "focalnet": ["focalnet*"],
    "davit": ["davit*"],
    "hgnet": ["hgnet*"],
    "mambaout": ["mambaout*"],
}


@dataclass(frozen=True)
class ModelRef:
    """One resolved model: where it comes from and what it is called there."""

    source: str  # 'tv' | 'timm' | 'onnx'
    name: str  # name inside its zoo (timm: may carry a pretrained tag); onnx: file stem
    path: Path | None = None  # the .onnx file (source 'onnx' only)

    @property
    def qualified(self) -> str:
        """`tv:resnet50`, `timm:convnext_tiny`, or the ONNX path."""
        return str(self.path) if self.source == "onnx" else f"{self.source}:{self.name}"

    def __str__(self) -> str:
        return self.qualified


def natural_key(s: str) -> list[int | str]:
    """Sort key that orders digit runs by value: resnet18 < resnet50 < resnet101."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s.lower())]


def is_pattern(name: str) -> bool:
    return any(c in _WILDCARDS for c in name)


def cache_dir() -> Path:
    """`$NNPROF_CACHE_DIR` or `~/.cache/nnprof` (converted graphs, the zoo index)."""
    env = os.environ.get("NNPROF_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nnprof"


def _lib_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"nnprof": __version__, "index_format": str(_INDEX_FORMAT)}
    for pkg in ("torchvision", "timm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out


def _build_index() -> dict[str, Any]:
    """Names and input sizes of both zoos; needs torchvision and timm (seconds to import)."""
    import timm
    import torchvision

    # module=torchvision.models keeps image classification only (no detection, video, ...).
    tv = {n: list(_tv_sizes(n)) for n in torchvision.models.list_models(module=torchvision.models)}
    tm: dict[str, list[int]] = {}
    for n in timm.list_models():
        cfg = _timm_cfg(n)
        size = getattr(cfg, "input_size", None)
        lo = getattr(cfg, "min_input_size", None)
        fixed = bool(getattr(cfg, "fixed_input_size", False))
        tm[n] = [int(size[-1]) if size else 224, int(lo[-1]) if lo else 1, int(fixed)]
    return {"versions": _lib_versions(), "tv": tv, "timm": tm}


@functools.cache
def _index() -> dict[str, Any]:
    """The zoo index, read from the cache dir (rebuilt when missing, stale or corrupt).

    It lets name resolution and a cached `convert` run without importing torch, torchvision
    or timm, which takes seconds.
    """
    path = cache_dir() / "zoo-index.json"
    try:
        idx = json.loads(path.read_text())
        if idx["versions"] == _lib_versions() and idx["tv"] and idx["timm"]:
            return idx
    except Exception:  # missing, unreadable or from other versions: rebuild
        pass
    idx = _build_index()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".zoo-index.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(idx, f)
        os.replace(tmp, path)
    except OSError:  # a read-only cache dir only costs speed
        pass
    return idx


def _names(source: str) -> dict[str, list[int]]:
    """Model name -> [default size, min size, (timm) fixed size] of one zoo."""
    return _index()[source]


def _split_source(name: str) -> tuple[str | None, str]:
    """'tv:resnet50' -> ('tv', 'resnet50'); 'resnet50' -> (None, 'resnet50')."""
    prefix, sep, rest = name.partition(":")
    if not sep:
        return None, name
    if prefix.lower() not in _PREFIXES:
        raise NNProfError(
            f"unknown model source '{prefix}' in '{name}': use tv:NAME, timm:NAME, a bare name "
            "or a path to an .onnx file"
        )
    return _PREFIXES[prefix.lower()], rest


def _check_source(source: str | None) -> list[str]:
    if source in (None, "all"):
        return list(SOURCES)
    if source not in _PREFIXES:
        raise NNProfError(f"unknown source '{source}': use tv or timm")
    return [_PREFIXES[source]]


def _sorted_qualified(pairs: Iterable[tuple[str, str]]) -> list[str]:
    rank = {s: i for i, s in enumerate(SOURCES)}
    uniq = sorted(set(pairs), key=lambda p: (natural_key(p[1]), rank[p[0]]))
    return [f"{s}:{n}" for s, n in uniq]


def list_models(pattern: str = "*", source: str | None = None) -> list[str]:
    """Qualified names (`tv:mobilenet_v2`) matching an fnmatch pattern, natural order.

    `pattern` may carry a source prefix (`timm:*vit*`), which then overrides `source`.
    torchvision contributes its image-classification models only.
    """
    prefix, pat = _split_source(pattern or "*")
    sources = [prefix] if prefix else _check_source(source)
    pairs = [(s, n) for s in sources for n in fnmatch.filter(_names(s), pat or "*")]
    return _sorted_qualified(pairs)


def close_matches(name: str, sources: list[str], n: int = 5) -> list[str]:
    """Close names across the given zoos, qualified where the bare name would be ambiguous."""
    cands: dict[str, list[str]] = {}
    for s in sources:
        for m in _names(s):
            cands.setdefault(m, []).append(s)
    hits = difflib.get_close_matches(name.lower(), list(cands), n=n, cutoff=0.6)
    return [f"{cands[h][0]}:{h}" for h in hits]


def _is_path_like(name: str) -> bool:
    return name.lower().endswith(".onnx") or "/" in name or "\\" in name or Path(name).is_file()


def resolve(name: str) -> ModelRef:
    """One model name -> ModelRef. Unknown names raise NNProfError with close matches."""
    name = name.strip()
    if not name:
        raise NNProfError("empty model name: give e.g. resnet50, timm:convnext_tiny or model.onnx")
    if _is_path_like(name):
        p = Path(name).expanduser()
        if not p.exists():
            raise NNProfError(f"ONNX file not found: {name}")
        if not p.is_file():
            raise NNProfError(f"not a file: {name} (give the path of an .onnx file)")
        return ModelRef("onnx", p.stem, p)
    source, bare = _split_source(name)
    if is_pattern(bare):
        raise NNProfError(
            f"'{name}' is a wildcard pattern, not a model: name one model "
            f"(see: nnprof list '{name}')"
        )
    sources = [source] if source else list(SOURCES)
    for s in sources:
        if bare in _names(s):
            return ModelRef(s, bare)
        if s == "timm" and "." in bare and _timm_tag_ok(bare):
            return ModelRef(s, bare)
    close = close_matches(bare.split(".")[0], sources)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    where = {"tv": "torchvision", "timm": "timm"}[source] if source else "torchvision or timm"
    raise NNProfError(f"unknown model '{name}' in {where}{hint} (see: nnprof list)")


def _timm_tag_ok(name: str) -> bool:
    """'resnet50.a1_in1k': a timm architecture with a registered pretrained tag."""
    import timm

    arch = name.split(".", 1)[0]
    return arch in _names("timm") and name in timm.list_pretrained(f"{arch}.*")


def expand(names: Iterable[str], source: str | None = None) -> list[ModelRef]:
    """Names and wildcard patterns -> ModelRefs, in order, without duplicates.

    A pattern that matches nothing is an error, as is an unknown name.
    """
    refs: list[ModelRef] = []
    seen: set[ModelRef] = set()
    for name in names:
        if is_pattern(name) and not _is_path_like(name):
            found = list_models(name, source)
            if not found:
                raise NNProfError(f"no model matches '{name}' (see: nnprof list)")
            new = [resolve(q) for q in found]
        else:
            new = [resolve(name)]
        for r in new:
            if r not in seen:
                seen.add(r)
                refs.append(r)
    return refs


def family_models(family_pattern: str, source: str | None = "all") -> list[str]:
    """Qualified names of every model in the families matching `family_pattern` ("mobile*")."""
    families = fnmatch.filter(FAMILIES, family_pattern.lower())
    if not families:
        close = difflib.get_close_matches(family_pattern.lower(), list(FAMILIES), n=5, cutoff=0.5)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise NNProfError(
            f"unknown family '{family_pattern}'{hint} (families: {', '.join(sorted(FAMILIES))})"
        )
    sources = _check_source(source)
    pairs = [
        (s, n)
        for f in families
        for pat in FAMILIES[f]
        for s in sources
        for n in fnmatch.filter(_names(s), pat)
    ]
    return _sorted_qualified(pairs)


def family_of(ref: ModelRef | str) -> str | None:
    """The first family whose patterns match the model's bare name, or None."""
    bare = ref.name if isinstance(ref, ModelRef) else _split_source(ref)[1]
    bare = bare.split(".", 1)[0]
    for fam, pats in FAMILIES.items():
        if any(fnmatch.fnmatchcase(bare, p) for p in pats):
            return fam
    return None


def _tv_sizes(name: str) -> tuple[int, int]:
    """(default, minimum) input size of a torchvision model, from its weights' metadata."""
    from torchvision.models import get_model_weights

    try:
        weights = list(get_model_weights(name))
    except Exception:  # a model without registered weights
        return 224, 1
    crops = [w.transforms.keywords.get("crop_size") for w in weights]
    crops = [c if isinstance(c, int) else 224 for c in crops]
    # A min_size equal to the crop size describes the weights (ViT, Swin), not a limit of
    # the architecture, which nnprof builds for the requested size anyway.
    mins = [w.meta.get("min_size", (1, 1))[0] for w in weights]
    limits = [m for m, c in zip(mins, crops, strict=True) if m < c]
    return (min(crops) if crops else 224), (max(limits) if limits else 1)


def _timm_cfg(name: str):
    from timm.models import get_pretrained_cfg

    try:
        return get_pretrained_cfg(name)
    except Exception:
        return None


def default_input_size(ref: ModelRef) -> int | None:
    """The model's usual square input size (metadata only, no download); None for ONNX."""
    if ref.source == "onnx":
        return None
    if ref.name in _names(ref.source):
        return int(_names(ref.source)[ref.name][0])
    size = getattr(_timm_cfg(ref.name), "input_size", None)  # a tagged timm name
    return int(size[-1]) if size else 224


def min_input_size(ref: ModelRef) -> int:
    """The smallest input size the model is documented to accept (1 if unknown)."""
    if ref.source == "onnx":
        return 1
    if ref.name in _names(ref.source):
        return int(_names(ref.source)[ref.name][1])
    size = getattr(_timm_cfg(ref.name), "min_input_size", None)
    return int(size[-1]) if size else 1


def build(ref: ModelRef, input_size: int | None = None) -> nn.Module:
    """A randomly initialised model in eval mode (never downloads weights).

    `input_size` only matters for models whose size is baked into the architecture
    (ViT position embeddings, MaxViT windows): they are built for that size.
    """
    if ref.source == "onnx":
        raise NNProfError(f"{ref.path} is an ONNX file, not a model to build")
    size = input_size or default_input_size(ref)
    lo = min_input_size(ref)
    if size < lo:
        raise NNProfError(f"input size {size} is too small for {ref}: at least {lo}")
    try:
        if ref.source == "tv":
            model = _build_tv(ref.name, size)
        else:
            model = _build_timm(ref.name, size)
    except NNProfError:
        raise
    except Exception as e:  # a model that cannot take this input size, and the like
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NNProfError(f"cannot build {ref} at input size {size}: {msg}") from e
    return model.eval()


def _build_tv(name: str, size: int) -> nn.Module:
    import torchvision

    kwargs: dict[str, object] = {"weights": None}
    if name.startswith("vit_"):
        kwargs["image_size"] = size  # position embeddings are sized for it
    elif name == "maxvit_t":
        kwargs["input_size"] = (size, size)
    elif name in ("googlenet", "inception_v3"):
        kwargs["init_weights"] = True  # the default, stated to silence a FutureWarning
    return torchvision.models.get_model(name, **kwargs)


def _build_timm(name: str, size: int) -> nn.Module:
    import timm

    kwargs: dict[str, object] = {"pretrained": False}
    cfg = _timm_cfg(name)
    default = getattr(cfg, "input_size", None)
    if cfg is not None and getattr(cfg, "fixed_input_size", False) and default:
        if int(default[-1]) != size:
            kwargs["img_size"] = size  # ViT-like: position embeddings follow the size
    return timm.create_model(name, **kwargs)
