"""fastlstm one member at a time: the same members as the baselines, one `fl.sweep` each.

    python -m fastlstm.benchmark.run_fastlstm_sequential --workload W1 --members S [--json OUT] [--precision P]

Trains seeds 0..S-1 (for W3: each learning rate x each seed) in this process with
`fl.sweep(x, y, seeds=[s], learning_rate=lr, ...)` per member: Keras's LSTM numerics
and Adam (epsilon 1e-7), shuffled every epoch, no validation split; float32 unless
`--precision` is given. Every member has the same shapes, so only the first compiles
(in-process cache). `FASTLSTM_CACHE_DIR` is taken from the environment as it is (the
harness decides whether the on-disk compilation cache is off, cold or warm). Prints
one JSON object (see `worker.report`); final train accuracy is
`history["accuracy"][:, -1]`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

T0 = time.perf_counter()

if TYPE_CHECKING or __package__:  # python -m fastlstm.benchmark.run_fastlstm_sequential
    from fastlstm.benchmark.worker import fastlstm_sweep_kwargs, jax_device, parse_args, report
    from fastlstm.benchmark.workloads import data_digest, make_data
else:  # started by path, as `fastlstm bench` does
    from worker import fastlstm_sweep_kwargs, jax_device, parse_args, report
    from workloads import data_digest, make_data

import fastlstm as fl  # noqa: E402

IMPORT_S = time.perf_counter() - T0


def main() -> None:
    args, w = parse_args(__doc__.splitlines()[0], precision=True)
    common = fastlstm_sweep_kwargs(fl, w, args.precision, args.recurrent_impl)
    clock = fl.controllers.EpochClock()
    clocks = clock.chunks
    x, y = make_data(w)
    members = w.members(args.members)
    accuracies, impls = [], set()
    for lr, seed in members:
        r = fl.sweep(
            x,
            y,
            seeds=[seed],
            learning_rate=lr,
            **common,
            controllers=[clock],
        )
        accuracies.append(float(r.history["accuracy"][0, -1]))
        impls.update(r.meta["recurrent_impl"])
    report(
        "fastlstm_sequential",
        args,
        w,
        t0=T0,
        import_s=IMPORT_S,
        members=members,
        final_train_accuracy=accuracies,
        epoch_seconds=clocks[0]["epoch_s"] if clocks else None,
        epoch_members=1,
        data_digest=data_digest(x, y),
        recurrent_impl=sorted(impls),
        **jax_device(),
    )


if __name__ == "__main__":
    main()
