"""Steady-state engine throughput on W1 shapes: model GFLOP/s and % of matmul peak.

    python bench/engine_throughput.py --members 8

Runs one `fl.sweep` on W1 (2048 x 64 x 8, 64 units, batch 64, 3 epochs) in this
process and times each epoch through the sweep's progress hook, so the first epoch
(with compilation) and the steady epochs are reported separately. The float32 matmul
peak is a 2048^2 `jnp.dot`, best of 5, in the same process.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import jax
import jax.numpy as jnp

import fastlstm as fl
import fastlstm.runner as runner
from fastlstm.tasks import early_cue


def matmul_peak(n: int = 2048) -> float:
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=8)
    args = parser.parse_args()
    peak = matmul_peak()
    stamps: list[float] = []

    class Hook:
        def start_group(self, *a):
            pass

        def on_epoch(self, *a):
            stamps.append(time.perf_counter())

    @contextmanager
    def progress(*a, **k):
        yield Hook()

    runner.epoch_progress = progress
    x, y = early_cue(n=2048, timesteps=64, features=8)
    start = time.perf_counter()
    fl.sweep(x, y, model=fl.ModelSpec(units=64), seeds=args.members, epochs=3, batch_size=64, verbose=0)
    total = time.perf_counter() - start
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    flops = args.members * 2048 * 64 * 2 * 4 * 64 * (8 + 64) * 3
    print(
        f"members={args.members} total {total:.2f}s first epoch (with compile) {stamps[0] - start:.2f}s "
        f"steady epoch {steady:.3f}s -> {flops / steady / 1e9:.1f} GFLOP/s = {100 * flops / steady / 1e9 / peak:.0f}% "
        f"of the {peak:.0f} GFLOP/s matmul peak"
    )


if __name__ == "__main__":
    main()
