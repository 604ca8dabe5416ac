"""Merge `nnprof nas fewshot -o` JSON files run on disjoint --devices lists (e.g. one
process per core) into one result; print its tables.

    python scripts/fewshot_merge.py a.json b.json [-o all.json] [--format markdown|json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--format", choices=("markdown", "json"), default="markdown")
    a = ap.parse_args()

    from nnprof.commands.nas_fewshot import markdown
    from nnprof.nas.fewshot import merge

    res = merge([json.loads(p.read_text()) for p in a.files])
    if a.output:
        a.output.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1) if a.format == "json" else markdown(res))


if __name__ == "__main__":
    main()
