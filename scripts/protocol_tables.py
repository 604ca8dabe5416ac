"""Tables from saved `nnprof evaluate --protocol ... --format json` results.

Several result files of the same protocol and settings (e.g. leave-one-family-out run for
different `--families` in parallel processes, or for further `--models`) are merged: per
method, the held-out families of all files, and the average over them recomputed from the
per-run scores with `nnprof.train.lofo_groups`, as `nnprof.train.run_protocol` does. Prints markdown (for the README and the model
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
    """One protocol result from several with the same protocol and settings; methods are joined."""
    first = results[0]
    for r in results[1:]:
        for key in ("protocol", "seeds", "epochs", "train_per_family", "residual"):
            if r.get(key) != first.get(key):
                raise SystemExit(f"cannot merge: {key} differs ({r.get(key)!r} vs {first.get(key)!r})")
    if len(results) == 1:
        return first
    if first["protocol"] != "leave-one-family-out":
        raise SystemExit("only leave-one-family-out results can be merged")
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    for r in results:
        splits.update(r["splits"])
        for run in r["runs"]:
            runs.setdefault((run["kind"], run["seed"]), {}).update(run["scores"])
    out = {k: first.get(k) for k in ("protocol", "seeds", "epochs", "train_per_family", "residual", "families")}
    out["kinds"] = list(dict.fromkeys(k for r in results for k in r["kinds"]))  # files may add methods
    out["splits"] = splits
    out["runs"] = [{"kind": k, "seed": s, "scores": sc} for (k, s), sc in runs.items()]
    out["results"] = {}
    for kind in out["kinds"]:
        out["results"][kind] = M.aggregate([lofo_groups(scores) for (k, _), scores in runs.items() if k == kind])
    return out


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
    lines.append("")
    lines.append(f"{result['protocol']}: {result['seeds']} seed(s), {result['epochs']} epochs{budget}; splits: " + "; ".join(f"{n} {s}" for n, s in sizes))
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
