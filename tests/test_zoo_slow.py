"""convert + features over 79 torchvision and timm classifiers across 45 families (slow).

Run: taskset -c 0 python -m pytest -m slow -s tests/test_zoo_slow.py
Prints one line per model (nodes, MACs, time, ops outside the vocabulary) and every
failure with its reason; passes when at least 95% of the models convert and encode.
"""

import shutil
import time
import traceback

import pytest

TV = """alexnet vgg11 resnet18 resnet50 resnext50_32x4d wide_resnet50_2 densenet121 googlenet
inception_v3 squeezenet1_0 squeezenet1_1 shufflenet_v2_x0_5 shufflenet_v2_x1_0 mobilenet_v2
mobilenet_v3_small mobilenet_v3_large mnasnet0_5 mnasnet1_0 efficientnet_b0 efficientnet_v2_s
regnet_x_400mf regnet_y_400mf regnet_y_800mf convnext_tiny swin_t swin_v2_t vit_b_16 vit_b_32
maxvit_t""".split()
TIMM = """deit_tiny_patch16_224 deit_small_patch16_224 deit3_small_patch16_224
vit_tiny_patch16_224 vit_small_patch16_224 beitv2_base_patch16_224 eva02_tiny_patch14_224
cait_xxs24_224 crossvit_tiny_240 pit_ti_224 xcit_nano_12_p16_224 swin_tiny_patch4_window7_224
convnext_atto convnextv2_atto mobilevit_xxs mobilevit_xs mobilevitv2_050 levit_128s
efficientnet_b0 tf_efficientnet_lite0 efficientformer_l1 efficientvit_b0 efficientvit_m0
mobilenetv3_small_100 mobilenetv4_conv_small mobilenetv4_hybrid_medium ghostnet_100
regnetx_002 regnety_002 resnet18d resnet26 seresnet18 repvgg_a0 mobileone_s0 fastvit_t8
poolformer_s12 pvt_v2_b0 tiny_vit_5m_224 coatnet_nano_rw_224 maxvit_nano_rw_256
edgenext_xx_small hgnetv2_b0 lcnet_050 rexnet_100 dla34 mixer_s16_224 resmlp_12_224
mambaout_femto focalnet_tiny_srf davit_tiny""".split()
MODELS = [f"tv:{n}" for n in TV] + [f"timm:{n}" for n in TIMM]


def _one(name):
    from nnprof import encode, export, graph

    t0 = time.perf_counter()
    res = export.convert(name)
    raw = graph.from_onnx(res.model, name)
    eg = encode.encode(raw)
    assert eg.x.shape == (len(raw.nodes), encode.NODE_DIM)
    assert eg.static.shape == (40,)
    assert raw.macs > 0 and raw.params > 0 and len(raw.nodes) > 0
    unknown_shapes = sum(1 for n in raw.nodes if not n.out_shape)
    if res.path is not None:  # keep the disk small: the cache entry is not needed again
        res.path.unlink(missing_ok=True)
        res.path.with_suffix(".json").unlink(missing_ok=True)
    return {
        "nodes": f"{res.nodes_before}->{res.nodes_after}",
        "exporter": res.exporter,
        "simplified": res.simplified,
        "gmacs": raw.macs / 1e9,
        "mparams": raw.params / 1e6,
        "other_ops": sorted(encode.unknown_ops(raw)),
        "unknown_shapes": unknown_shapes,
        "seconds": time.perf_counter() - t0,
        "message": res.message,
    }


@pytest.mark.slow
def test_convert_and_features_over_the_zoo(tmp_path):
    from nnprof import zoo

    # NNPROF_CACHE_DIR is tmp_path / "cache" (conftest.py)
    assert len(MODELS) >= 60
    families = {zoo.family_of(m) for m in MODELS}
    assert None not in families and len(families) >= 40
    ok, failed = {}, {}
    for m in MODELS:
        try:
            ok[m] = r = _one(m)
            extra = f" other={','.join(r['other_ops'])}" if r["other_ops"] else ""
            extra += f" unknown-shapes={r['unknown_shapes']}" if r["unknown_shapes"] else ""
            extra += f" note: {r['message']}" if r["message"] else ""
            print(
                f"ok   {m:40s} {r['nodes']:>10s} {r['gmacs']:8.3f} GMACs {r['mparams']:7.2f} M "
                f"{r['exporter']:11s} {r['seconds']:6.1f} s{extra}",
                flush=True,
            )
        except BaseException as e:  # noqa: B036 - record everything, keep going
            if isinstance(e, KeyboardInterrupt):
                raise
            reason = (
                f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            )
            failed[m] = reason
            print(f"FAIL {m:40s} {reason[:300]}", flush=True)
            print("".join(traceback.format_exception(e)[-3:]), flush=True)
        shutil.rmtree(tmp_path / "cache" / "onnx", ignore_errors=True)
    rate = len(ok) / len(MODELS)
    print(f"\n{len(ok)}/{len(MODELS)} succeeded ({100 * rate:.1f}%) over {len(families)} families")
    for m, why in failed.items():
        print(f"  failed: {m}: {why}")
    assert rate >= 0.95, failed
