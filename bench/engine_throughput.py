"""Steady-state engine throughput on W1 shapes: model GFLOP/s and % of matmul peak.

    python bench/engine_throughput.py --members 8

Runs one `fl.sweep` on W1 (2048 x 64 x 8, 64 units, batch 64, 3 epochs) in this
process and times every epoch of every chunk of members (the harness's
the `EpochClock` controller), so the first epoch (with compilation) and the steady epoch
of all members (the chunks' steady epochs added up) are reported separately. The float32 matmul
peak is a 2048^2 `jnp.dot`, best of 5, in the same process. For the same numbers
under pytest-benchmark see bench/test_bench_engine.py; against other systems,
`fastlstm bench`.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import fastlstm as fl
from fastlstm.benchmark.peak import matmul_peak
from fastlstm.benchmark.worker import steady_over_chunks
from fastlstm.benchmark.workloads import WORKLOADS, epoch_flops, make_data

W1 = WORKLOADS["W1"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=8)
    args = parser.parse_args()
    peak = matmul_peak(n=2048)["gflops"]
    clock = fl.controllers.EpochClock()
    clocks = clock.chunks
    x, y = make_data(W1)
    start = time.perf_counter()
    fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=W1.units, layers=W1.layers),
        seeds=args.members,
        epochs=W1.epochs,
        batch_size=W1.batch_size,
        verbose=0,
        controllers=[clock],
    )
    total = time.perf_counter() - start
    steady, covered = steady_over_chunks(clocks)
    if steady is None or covered != args.members:
        raise SystemExit(f"no steady epoch of all {args.members} members was timed: {clocks}")
    first = sum(c["epoch_s"][0] for c in clocks)
    flops = epoch_flops(W1, args.members)
    print(
        f"members={args.members} in chunks {[c['members'] for c in clocks]}: total {total:.2f}s, "
        f"first epochs (with compile) {first:.2f}s, "
        f"steady epoch {steady:.3f}s -> {flops / steady / 1e9:.1f} GFLOP/s = {100 * flops / steady / 1e9 / peak:.0f}% "
        f"of the {peak:.0f} GFLOP/s matmul peak"
    )


if __name__ == "__main__":
    main()
