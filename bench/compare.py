"""Kept for old command lines: `python bench/compare.py ...` is `fastlstm bench ...`.

    python bench/compare.py --workload W1 --members 1 8

Same options as `fastlstm bench --help`; without --json the results go to
bench/results/compare_<workload>.json, as they used to. The harness itself lives in
fastlstm/benchmark/ (installed with the package).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from fastlstm.cli import BENCH_WIDTH, build_parser, run_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    if args.json is None:
        args.json = RESULTS / f"compare_{args.workload}.json"
    return run_bench(args, Console(width=max(Console().width, BENCH_WIDTH)))


if __name__ == "__main__":
    sys.exit(main())
