"""The command line: `fastlstm sweep | doctor | lr-range | report | compare | bench`."""

from fastlstm.cli._main import BENCH_WIDTH, EXIT_INTERRUPTED, build_parser, main, run_bench

__all__ = ["BENCH_WIDTH", "EXIT_INTERRUPTED", "build_parser", "main", "run_bench"]
