"""Tables from saved `nnprof evaluate --protocol ... --format json` results.

Several result files of the same protocol and settings (e.g. leave-one-family-out run for
different `--families` in parallel processes, for further `--models`, or for further seeds
with `--seed-start`) are merged: per method, the runs of all files, and mean ± std over
seeds recomputed from the per-run scores (the leave-one-family-out average with
`nnprof.train.lofo_groups`), as `nnprof.train.run_protocol` does. Prints markdown (for the README and the model
card) or the same rich table `nnprof evaluate` prints.

    python scripts/protocol_tables.py ind.json lofo_a.json lofo_b.json [--rich]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nnprof import metrics as M
from nnprof.train import lofo_groups

LABEL = {"flops": "FLOPs", "flops-mem": "FLOPs+MAC", "gnn": "NNLP GNN", "global-attn": "Global attn", "narformer2": "NAR-Former V2"}


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One protocol result from several with the same protocol and settings.

    Files may add methods, held-out families (leave-one-family-out) or seeds (`nnprof
    evaluate --seed-start`); a run (method, seed, split) found in two files must have the
    same scores, and every run of a method and seed must cover the same splits, so that no
    average is taken over a part of the held-out families.
    """
    first = results[0]
    for r in results[1:]:
        for key in ("protocol", "epochs", "train_per_family", "residual", "precision"):  # precision: None in files before it was recorded
            if r.get(key) != first.get(key):
                raise SystemExit(f"cannot merge: {key} differs ({r.get(key)!r} vs {first.get(key)!r})")
    if len(results) == 1:
        return first
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    for r in results:
        for name, size in r["splits"].items():
            if splits.setdefault(name, size) != size:
                raise SystemExit(f"cannot merge: split {name} has sizes {size} and {splits[name]}")
        for run in r["runs"]:
            have = runs.setdefault((run["kind"], run["seed"]), {})
            for name, sc in run["scores"].items():
                if have.setdefault(name, sc) != sc:
                    raise SystemExit(f"cannot merge: {run['kind']} seed {run['seed']} on {name} has two different scores")
    for (kind, seed), sc in runs.items():
        if set(sc) != set(splits):
            raise SystemExit(f"cannot merge: {kind} seed {seed} covers {len(sc)} of the {len(splits)} splits")
    out = {k: first.get(k) for k in ("protocol", "epochs", "train_per_family", "residual", "precision", "families")}
    out["kinds"] = list(dict.fromkeys(k for r in results for k in r["kinds"]))  # files may add methods
    out["seeds"] = max(sum(1 for k, _ in runs if k == kind) for kind in out["kinds"])
    out["splits"] = splits
    out["runs"] = [{"kind": k, "seed": s, "scores": sc} for (k, s), sc in sorted(runs.items(), key=lambda kv: (out["kinds"].index(kv[0][0]), kv[0][1]))]
    pooled = (lambda sc: sc[next(iter(splits))]) if out["protocol"] == "in-distribution" else lofo_groups
    out["results"] = {kind: M.aggregate([pooled(r["scores"]) for r in out["runs"] if r["kind"] == kind]) for kind in out["kinds"]}
    return out


def _seeds(result: dict[str, Any]) -> str:
    """'5 seed(s)' or, when methods differ, 'seeds: FLOPs 1, NAR-Former V2 5'."""
    n = {k: len({r["seed"] for r in result["runs"] if r["kind"] == k}) for k in result["kinds"]}
    if len(set(n.values())) == 1:
        return f"{next(iter(n.values()))} seed(s)"
    return "seeds: " + ", ".join(f"{LABEL[k]} {c}" for k, c in n.items())


def _fmt(stat: dict[str, Any]) -> str:
    if stat["mean"] is None:
        return "-"
    return f"{stat['mean']:.2f}" + (f" ± {stat['std']:.2f}" if stat["n"] > 1 else "")


def markdown(result: dict[str, Any]) -> str:
    kinds = result["kinds"]
    res = result["results"]
    summary = "all" if result["protocol"] == "in-distribution" else "average"
    fams = sorted({g for k in kinds for g in res[k] if g != summary})
    groups = [summary, *fams] if summary == "all" else [*fams, summary]
    head = ["family"] + [f"MAPE % {LABEL[k]}" for k in kinds] + [f"Acc(10%) % {LABEL[k]}" for k in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        name = {"all": "**all**", "average": "**average**"}.get(g, g)
        cells = [_fmt(res[k][g]["mape"]) if g in res[k] else "-" for k in kinds]
        cells += [_fmt(res[k][g]["acc10"]) if g in res[k] else "-" for k in kinds]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    sizes = sorted(result["splits"].items())
    budget = f", at most {result['train_per_family']} training samples per family" if result.get("train_per_family") else ""
    budget += ", residual head" if result.get("residual") else ""
    budget += f", {result['precision']}" if result.get("precision") else ""
    lines.append("")
    lines.append(f"{result['protocol']}: {_seeds(result)}, {result['epochs']} epochs{budget}; splits: " + "; ".join(f"{n} {s}" for n, s in sizes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--rich", action="store_true", help="print the rich tables of `nnprof evaluate` instead of markdown")
    a = ap.parse_args(argv)
    by_protocol: dict[str, list[dict[str, Any]]] = {}
    for f in a.files:
        for r in json.load(open(f))["protocols"]:
            by_protocol.setdefault(r["protocol"], []).append(r)
    for proto in ("in-distribution", "leave-one-family-out"):
        if proto not in by_protocol:
            continue
        res = merge(by_protocol[proto])
        if a.rich:
            from nnprof.commands.predictor import _method_table, _print_wide

            if proto == "in-distribution":
                _print_wide(_method_table("In-distribution (Table 1 layout)", res, "Test family", "all", True))
            else:
                _print_wide(_method_table("Leave one family out (Table 2 layout)", res, "Held-out family", "average", False))
        else:
            print(markdown(res))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
