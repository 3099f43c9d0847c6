"""fastlstm batched: all the members in ONE `fl.sweep` call (one vmapped, jitted program).

    python -m fastlstm.benchmark.run_fastlstm --workload W1 --members S [--json OUT] [--precision P]
        [--recurrent-impl auto|scan|cudnn]

Trains the same members as the baselines - seeds 0..S-1, for W3 the grid
`{"learning_rate": [1e-3, 3e-3]}` x S seeds - with Keras's LSTM numerics and Adam
(epsilon 1e-7), shuffled every epoch, no validation split; float32 unless
`--precision` is given (then it is passed to `fl.sweep`). `FASTLSTM_CACHE_DIR` is
taken from the environment as it is (the harness decides whether the on-disk
compilation cache is off, cold or warm). Prints one JSON object (see
`worker.report`); its steady epoch trains every member (chunk after chunk when the
runner splits them), final train accuracy is `history["accuracy"][:, -1]`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

T0 = time.perf_counter()

if TYPE_CHECKING or __package__:  # python -m fastlstm.benchmark.run_fastlstm
    from fastlstm.benchmark.worker import (
        fastlstm_sweep_kwargs,
        jax_device,
        parse_args,
        report,
        steady_over_chunks,
    )
    from fastlstm.benchmark.workloads import data_digest, make_data
else:  # started by path, as `fastlstm bench` does
    from worker import (
        fastlstm_sweep_kwargs,
        jax_device,
        parse_args,
        report,
        steady_over_chunks,
    )
    from workloads import data_digest, make_data

import fastlstm as fl  # noqa: E402

IMPORT_S = time.perf_counter() - T0


def main() -> None:
    args, w = parse_args(__doc__.splitlines()[0], precision=True)
    common = fastlstm_sweep_kwargs(fl, w, args.precision, args.recurrent_impl)
    clock = fl.controllers.EpochClock()
    clocks = clock.chunks
    x, y = make_data(w)
    lrs = list(w.learning_rates)
    grid = {"learning_rate": lrs} if len(lrs) > 1 else None
    r = fl.sweep(
        x,
        y,
        seeds=args.members,
        grid=grid,
        learning_rate=None if grid else lrs[0],
        **common,
        controllers=[clock],
    )
    members = [(float(m["learning_rate"]), int(m["seed"])) for m in r.members]
    if members != w.members(args.members):
        raise SystemExit(f"fastlstm member order {members} differs from the workload's {w.members(args.members)}")
    steady, covered = steady_over_chunks(clocks)
    report(
        "fastlstm",
        args,
        w,
        t0=T0,
        import_s=IMPORT_S,
        members=members,
        final_train_accuracy=r.history["accuracy"][:, -1],
        epoch_seconds=clocks[0]["epoch_s"] if clocks else None,
        epoch_members=covered if clocks else len(members),
        steady_epoch_s=steady,
        chunks=[c["members"] for c in clocks],
        data_digest=data_digest(x, y),
        recurrent_impl=sorted(set(r.meta["recurrent_impl"])),  # what the groups' chunks ran
        **jax_device(),
    )


if __name__ == "__main__":
    main()
