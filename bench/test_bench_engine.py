"""pytest-benchmark timings of the engine, in this process (compilation excluded).

    pytest bench/ --benchmark-only                      # all of them
    pytest bench/ --benchmark-only -k "1_member or peak"  # the quick ones

Not part of the default `pytest` run (pyproject's testpaths is tests/). Each test
stores its model GFLOP/s in the benchmark's extra_info. For whole-process timings
against PyTorch and Keras use `fastlstm bench`.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_benchmark")

import fastlstm as fl
from fastlstm.benchmark.epoch import capture_epoch
from fastlstm.benchmark.peak import matmul_peak
from fastlstm.benchmark.workloads import WORKLOADS, make_data, model_flops

W1 = WORKLOADS["W1"]


def _gflops(benchmark, flops: float) -> None:
    """Model GFLOP/s at the fastest round, next to pytest-benchmark's times."""
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["gflops"] = flops / benchmark.stats.stats.min / 1e9


def test_w1_epoch_8_members(benchmark):
    """One steady epoch of W1 with 8 members batched: the engine's throughput."""
    program = capture_epoch(W1, members=8)
    benchmark.pedantic(program.step, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["members"] = program.members
    _gflops(benchmark, program.flops)


def test_matmul_peak(benchmark):
    """The float32 (n, n) @ (n, n) product the % of peak figures are relative to."""
    import jax
    import jax.numpy as jnp

    n = 2048
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    benchmark.pedantic(lambda: dot(a, a).block_until_ready(), rounds=10, iterations=1, warmup_rounds=2)
    benchmark.extra_info["n"] = n
    _gflops(benchmark, 2.0 * n**3)
    assert matmul_peak(n=256, repeats=1)["gflops"] > 0  # the helper `fastlstm bench` runs works here too


def test_w1_1_member(benchmark):
    """A whole W1 sweep (3 epochs) of one member, compiled programs reused: the small-run floor."""
    x, y = make_data(W1)

    def run():
        return fl.sweep(
            x,
            y,
            model=fl.ModelSpec(units=W1.units, layers=W1.layers, num_classes=W1.classes),
            seeds=1,
            learning_rate=W1.learning_rates[0],
            batch_size=W1.batch_size,
            epochs=W1.epochs,
            verbose=0,
        )

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert result.history["accuracy"].shape == (1, W1.epochs)
    _gflops(benchmark, model_flops(W1, 1))
