"""What checkpointing every epoch costs: W1 with S seeds, with and without, alternated.

    python bench/checkpoint_overhead.py [--members 32] [--repeats 3]

Each round trains the same sweep once plainly and once with `checkpoint=...,
checkpoint_every=1` (every member's full state and the history saved with orbax after
every epoch), in one process after a warm-up sweep, so both use the same compiled
programs and only the checkpointing differs. Prints the wall time of each sweep and
the median overhead. The whole-process cost adds orbax's import (~1 s), which the
checkpointer overlaps with compilation in a background thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import fastlstm as fl
from fastlstm.benchmark.workloads import WORKLOADS, make_data

W1 = WORKLOADS["W1"]


def sweep_seconds(x, y, members: int, checkpoint: str | None) -> float:
    start = time.perf_counter()
    fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=W1.units, layers=W1.layers),
        seeds=members,
        epochs=W1.epochs,
        batch_size=W1.batch_size,
        checkpoint=checkpoint,
        checkpoint_every=1 if checkpoint else None,
        verbose=0,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x, y = make_data(W1)
    sweep_seconds(x, y, args.members, None)  # compile once
    plain, saved = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            plain.append(sweep_seconds(x, y, args.members, None))
            saved.append(sweep_seconds(x, y, args.members, os.path.join(tmp, f"ck{r}")))
    overhead = [s / p - 1 for p, s in zip(plain, saved)]
    print(f"W1, {args.members} seeds, {W1.epochs} epochs: plain {[f'{t:.2f}' for t in plain]} s, ", end="")
    print(
        f"checkpoint every epoch {[f'{t:.2f}' for t in saved]} s; median overhead {100 * statistics.median(overhead):.1f}%"
    )


if __name__ == "__main__":
    main()
