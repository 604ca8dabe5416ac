"""Print a checkpoint's model card (markdown) from what the checkpoint records about itself.

    python scripts/model_card.py checkpoints/nnprof-latency.pt

Model, parameters, feature version, training data (families, sizes, latency range,
platform), training configuration, the kept epoch with its history, and the validation
and test scores per family that `nnprof train` stored. Nothing is recomputed here: the
figures are the checkpoint's own (`nnprof evaluate DATASET --checkpoint CKPT` recomputes
the test scores from the data).
"""

from __future__ import annotations

import argparse
import sys

from nnprof.errors import NNProfError
from nnprof.predict import describe_platform
from nnprof.train import load_checkpoint


def _scores(title: str, scores: dict) -> list[str]:
    out = [f"**{title}**", "", "| family | n | MAPE % | Acc(5%) % | Acc(10%) % | Kendall tau | Spearman rho |", "|---|---|---|---|---|---|---|"]
    rows = sorted((k, v) for k, v in scores.items() if k != "all")
    if "all" in scores:
        rows.append(("**all**", scores["all"]))
    def rank(v: float | None) -> str:  # None: a family with one network has no rank correlation
        return "-" if v is None else f"{v:.3f}"

    for fam, s in rows:
        out.append(
            f"| {fam} | {s['n']} | {s['mape']:.2f} | {s['acc5']:.1f} | {s['acc10']:.1f} | "
            f"{rank(s['kendall'])} | {rank(s['spearman'])} |"
        )
    return out + [""]


def card(path: str) -> str:
    _, ck = load_checkpoint(path)
    args, cfg, tr = ck["model_args"], ck.get("train_config", {}), ck.get("train_data", {})
    head = "residual (FLOPs+memory power law x a learned factor in [0.22, 4.5])" if args.get("residual") else "-logsigmoid (the paper's Eq. 12)"
    lines = [
        f"- model: `{ck['kind']}`, {ck['parameters']:,} parameters; {args['layers']} blocks x {args['hidden']}, "
        f"GFFN {args['groups']} groups x ratio {args['ffn_ratio']}, dropout {args['dropout']}; head: {head}",
        f"- features: `{ck['feature_version']}`, {ck['node_dim']}-dim nodes, {len(ck.get('vocabulary', []))}-op vocabulary + other",
        f"- predicts for: {describe_platform(ck.get('platform'))}",
        f"- created {ck.get('created')} by nnprof {ck.get('nnprof')} (torch {ck.get('torch')})",
        f"- data: `{ck.get('dataset')}`, split {ck.get('split')}; training latencies {tr['latency_ms']['min']:.3g}-{tr['latency_ms']['max']:.3g} ms, "
        f"{tr['nodes']['min']}-{tr['nodes']['max']} nodes, batch sizes {tr.get('batch_sizes')}, input sizes {tr.get('input_sizes')}",
        f"- training: {cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}, Adam, peak lr {cfg.get('lr')} after {cfg.get('warmup', 0) * 100:.0f}% warm-up then linear decay, "
        f"seed {cfg.get('seed')}, precision {cfg.get('precision')}; kept epoch {ck.get('best_epoch')} (lowest validation MAPE)",
    ]
    if ck.get("init"):
        lines.append(f"- continued from `{ck['init']['path']}` (created {ck['init'].get('created')}, {ck['init'].get('epochs')} epochs), weights and all")
    lines += [
        "",
        "| epoch | train loss | val MAPE % |",
        "|---|---|---|",
    ]
    for h in ck.get("history", []):
        lines.append(f"| {h['epoch']} | {h['loss']:.4f} | {h.get('val_mape', float('nan')):.2f} |")
    lines.append("")
    metrics = ck.get("metrics") or {}
    if metrics.get("val"):
        lines += _scores("Validation split (used for model selection)", metrics["val"])
    if metrics.get("test"):
        lines += _scores("Test split (never used for training or selection)", metrics["test"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    a = ap.parse_args(argv)
    try:
        print(card(a.checkpoint))
    except NNProfError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
