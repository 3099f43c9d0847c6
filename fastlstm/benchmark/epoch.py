"""One steady training epoch of a workload, as a callable: for in-process benchmarks (pytest-benchmark).

`capture_epoch` builds the sweep a workload describes through the library's own
stages (spec -> data -> plan -> driver), compiles and runs the first chunk's first
epoch (warm-up), and keeps that chunk. Calling `EpochProgram.step()` then trains
every member for one more epoch on the same compiled program, blocking until the
results are ready: nothing but the epoch is timed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastlstm.benchmark.workloads import Workload, epoch_flops, make_data


@dataclasses.dataclass
class EpochProgram:
    """The compiled epoch of `members` members and the state it carries from call to call."""

    run: Any  # fastlstm.runtime._driver.ChunkRun
    members: int
    flops: float  # model FLOPs of one epoch of all members

    def step(self) -> None:
        import jax

        self.run.step(fetch=False)
        jax.block_until_ready(self.run.state)


def capture_epoch(w: Workload, members: int) -> EpochProgram:
    """Compile and run one epoch of `members` members of `w` (one chunk), and keep its program."""
    import fastlstm as fl
    from fastlstm.api._sweep import load_data, settings_for
    from fastlstm.runtime._driver import Driver
    from fastlstm.spec._sweep_spec import sweep_spec_from_kwargs

    if members < 1:
        raise ValueError(f"members: expected a positive integer, got {members}")
    x, y = make_data(w)
    lrs = list(w.learning_rates)
    grid = {"learning_rate": lrs} if len(lrs) > 1 else None
    n = members * len(lrs)
    spec = sweep_spec_from_kwargs(
        model=fl.ModelSpec(units=w.units, layers=w.layers, task="classification", num_classes=w.classes),
        seeds=members,
        grid=grid,
        learning_rate=None if grid else lrs[0],
        batch_size=w.batch_size,
        epochs=1,
        members_per_chunk=n,
    )
    driver = Driver(spec.plan(), load_data(spec, x, y), settings_for(spec))
    run = driver.chunk_run(next(driver.chunks()))
    program = EpochProgram(run, members=n, flops=epoch_flops(w, n))
    program.step()  # compilation and the first epoch
    return program
