"""The regression suite: what a change to fastlstm must not make slower (pytest-benchmark).

    pytest bench/ --benchmark-only --benchmark-storage=bench/baselines --benchmark-save=NAME
    pytest bench/ --benchmark-only --benchmark-storage=bench/baselines --benchmark-compare \
        --benchmark-compare-fail=median:10%

The first saves a run under bench/baselines/<machine>/; the second runs the suite again and
compares it with the newest saved run, failing when a median is more than 10% slower. Timings
only compare on the same machine, quiet (nothing else running: this box has 2 cores).

In-process (compiled programs kept, the measured call only): one steady W1 epoch at 1, 8 and
32 members, one training step (one minibatch of W1), and the compile (the epoch program of 8
members traced and compiled from a cleared cache, the persistent cache off). Whole processes
(a fresh interpreter each round, so imports count): `import fastlstm`, `fastlstm --help`, and
`fastlstm doctor` on a small built-in task. Not part of the README's test command (pyproject's
testpaths is tests/); CI does not run it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

pytest.importorskip("pytest_benchmark")

from fastlstm.benchmark.epoch import capture_epoch
from fastlstm.benchmark.workloads import WORKLOADS

W1 = WORKLOADS["W1"]
ONE_STEP = dataclasses.replace(W1, name="W1-one-batch", n=W1.batch_size)  # an epoch of one minibatch
DOCTOR = ["doctor", "--samples", "256", "--epochs", "3", "--seeds", "3", "--no-verify", "--quiet"]


@pytest.mark.parametrize("members", [1, 8, 32])
def test_w1_steady_epoch(benchmark, members):
    """One epoch of W1 (2048 rows, 64 steps, 64 units; 32 batches) with `members` members batched."""
    program = capture_epoch(W1, members=members)
    benchmark.pedantic(program.step, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["members"] = members


def test_one_training_step(benchmark):
    """One minibatch of W1 (64 rows, 8 members): forward, backward through 64 steps, Adam."""
    program = capture_epoch(ONE_STEP, members=8)
    benchmark.pedantic(program.step, rounds=20, iterations=1, warmup_rounds=2)


def test_compile_w1_epoch(benchmark):
    """Tracing and compiling W1's epoch program for 8 members, plus its first epoch, from a
    cleared in-memory cache with the persistent compilation cache off."""
    import jax

    previous = jax.config.jax_enable_compilation_cache  # type: ignore[attr-defined]
    jax.config.update("jax_enable_compilation_cache", False)
    try:
        benchmark.pedantic(
            lambda: capture_epoch(W1, members=8), setup=jax.clear_caches, rounds=3, iterations=1, warmup_rounds=0
        )
    finally:
        jax.config.update("jax_enable_compilation_cache", previous)


def _process(*args: str) -> None:
    env = {**os.environ, "FASTLSTM_CACHE_DIR": "off"}  # a compile is a compile, not a cache hit
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_fastlstm(benchmark):
    """`python -c "import fastlstm"`, the whole process."""
    benchmark.pedantic(_process, args=("-c", "import fastlstm"), rounds=10, iterations=1, warmup_rounds=1)


def test_cli_help(benchmark):
    """`fastlstm --help`, the whole process."""
    benchmark.pedantic(_process, args=("-m", "fastlstm.cli", "--help"), rounds=10, iterations=1, warmup_rounds=1)


def test_doctor_builtin(benchmark, tmp_path):
    """`fastlstm doctor` on the built-in task (256 rows, 3 seeds, 3 epochs, no verification sweep):
    data checks, the range test and the seed sweep, compiles included."""
    out = tmp_path / "doctor"
    command = ("-m", "fastlstm.cli", *DOCTOR, "--out", str(out), "--overwrite")
    benchmark.pedantic(_process, args=command, rounds=3, iterations=1, warmup_rounds=0)
