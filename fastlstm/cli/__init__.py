"""The command line: `fastlstm sweep | doctor | lr-range | report | compare | bench`.

Importing this, and parsing a command's arguments, imports nothing of the library (no JAX):
each command's module is imported when it runs (fastlstm/cli/_main.py, _parser.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastlstm.cli._main import EXIT_INTERRUPTED, build_parser, main

if TYPE_CHECKING:
    from fastlstm.cli._bench import BENCH_WIDTH, run_bench


def __getattr__(name: str) -> Any:
    """BENCH_WIDTH and run_bench, from `fastlstm bench`'s module when first asked for."""
    if name in ("BENCH_WIDTH", "run_bench"):
        from fastlstm.cli import _bench

        return getattr(_bench, name)
    raise AttributeError(f"module 'fastlstm.cli' has no attribute {name!r}")


__all__ = ["BENCH_WIDTH", "EXIT_INTERRUPTED", "build_parser", "main", "run_bench"]
