"""CLI command groups. Each module registers its commands on `nnprof.cli.app`.

Only `nnprof.cli` and these modules print.
"""
