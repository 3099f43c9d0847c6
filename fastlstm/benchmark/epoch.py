"""One steady training epoch of a workload, as a callable: for in-process benchmarks (pytest-benchmark).

`capture_epoch` runs a one-epoch `fl.sweep` (compilation and warm-up) while spying on
the jitted epoch program the engine builds (`fastlstm.engine.compiled_train`), and
keeps that program with the member state it returned and its inputs. Calling
`EpochProgram.step()` then trains every member for one more epoch on the same
compiled program, blocking until the results are ready: nothing but the epoch is
timed. It reaches into the engine on purpose; if the engine stops building its
programs through `compiled_train`, it says so instead of timing something else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastlstm.benchmark.workloads import Workload, epoch_flops, make_data


@dataclasses.dataclass
class EpochProgram:
    """The compiled epoch of `members` members and the state it carries from call to call."""

    epoch_fn: Callable[..., Any]
    state: Any
    hparams: Any
    data: Any
    members: int
    flops: float  # model FLOPs of one epoch of all members

    def step(self) -> None:
        import jax

        self.state, logs = self.epoch_fn(self.state, self.hparams, self.data)  # state is donated: keep the new one
        jax.block_until_ready((self.state, logs))


def capture_epoch(w: Workload, members: int) -> EpochProgram:
    """Compile and run one epoch of `members` members of `w` (one chunk), and keep its program."""
    import fastlstm as fl
    import fastlstm.engine as engine

    if members < 1:
        raise ValueError(f"members: expected a positive integer, got {members}")
    captured: dict[str, Any] = {}
    original = engine.compiled_train

    class Spy:
        """The jitted epoch, unchanged (its .lower etc. are forwarded), keeping its last call's state."""

        def __init__(self, epoch_fn):
            self._epoch_fn = epoch_fn

        def __getattr__(self, name):
            return getattr(self._epoch_fn, name)

        def __call__(self, state, hp, data):
            new_state, logs = self._epoch_fn(state, hp, data)
            captured.update(epoch_fn=self._epoch_fn, state=new_state, hparams=hp, data=data)
            return new_state, logs

    def spying(cfg):
        init_fn, epoch_fn, finish_fn = original(cfg)
        return init_fn, Spy(epoch_fn), finish_fn

    x, y = make_data(w)
    lrs = list(w.learning_rates)
    grid = {"learning_rate": lrs} if len(lrs) > 1 else None
    engine.compiled_train = spying
    try:
        fl.sweep(
            x,
            y,
            model=fl.ModelSpec(units=w.units, layers=w.layers, task="classification", num_classes=w.classes),
            seeds=members,
            grid=grid,
            learning_rate=None if grid else lrs[0],
            batch_size=w.batch_size,
            epochs=1,
            members_per_chunk=members * len(lrs),
            verbose=0,
        )
    finally:
        engine.compiled_train = original
    if not captured:
        raise RuntimeError(
            "fastlstm.engine.run_group no longer gets its epoch program from engine.compiled_train; "
            "update fastlstm/benchmark/epoch.py"
        )
    n = members * len(lrs)
    return EpochProgram(**captured, members=n, flops=epoch_flops(w, n))
