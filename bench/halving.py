"""Successive halving against the full grid: 27 configurations x 3 seeds, eta 3, epochs 9.

    python bench/halving.py [--n 2048] [--repeats 1] [--json out.json]

W1's shape (T=64, F=8, units 64, batch 64, the early-cue task) with a 3x3x3 grid of
learning_rate x dropout x weight_decay (AdamW) and 3 seeds: 81 members. The scheduler
run (`fl.SuccessiveHalving(eta=3, min_epochs=1)`, rungs after epochs 1 and 3, ranked by
val_loss on a 20% validation split) should execute 27*3*1 + 9*3*2 + 3*3*6 = 189
member-epochs instead of 729. Each sweep runs once untimed first (a warm-up that
compiles every chunk shape), then `--repeats` timed rounds alternating the two, so the
numbers compare steady-state training. Prints the budget, the wall time of both and
their ratio, and per rung its configurations, members, chunk sizes and seconds per epoch
(targets: wall time <= 0.40x the full grid's; last rung's epoch <= 0.35x the first's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import fastlstm as fl
from fastlstm.benchmark.workloads import WORKLOADS, make_data

W1 = WORKLOADS["W1"]
GRID = {"learning_rate": [3e-4, 1e-3, 3e-3], "dropout": [0.0, 0.1, 0.3], "weight_decay": [0.0, 1e-4, 1e-2]}


def run(x, y, scheduler) -> tuple[float, fl.SweepResult]:
    start = time.perf_counter()
    result = fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=W1.units),
        seeds=3,
        grid=GRID,
        optimizer="adamw",
        epochs=9,
        batch_size=W1.batch_size,
        validation_split=0.2,
        scheduler=scheduler,
        verbose=0,
    )
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=W1.n, help="sequences (W1: 2048)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    import dataclasses

    x, y = make_data(dataclasses.replace(W1, n=args.n))
    halving = fl.SuccessiveHalving(eta=3, min_epochs=1, metric="val_loss")
    print(f"W1 shape (T={W1.timesteps} F={W1.features} units={W1.units} batch={W1.batch_size}), n={args.n}, AdamW;")
    print("grid learning_rate x dropout x weight_decay, 3x3x3 x 3 seeds = 81 members, epochs 9, 20% validation")
    for scheduler in (None, halving):  # warm-up: compile every shape once
        run(x, y, scheduler)
    full_s, pruned_s, result = [], [], None
    for _ in range(args.repeats):
        full_s.append(run(x, y, None)[0])
        seconds, result = run(x, y, halving)
        pruned_s.append(seconds)
    budget = result.budget
    full, pruned = statistics.median(full_s), statistics.median(pruned_s)
    print(f"member-epochs: {budget['member_epochs']} executed of {budget['full_member_epochs']} (target 189 of 729)")
    print(
        f"wall: full grid {full:.2f} s, successive halving {pruned:.2f} s, ratio {pruned / full:.2f} (target <= 0.40)"
    )
    print("epoch  configurations  members  chunks          s/epoch")
    for r in budget["rungs"]:
        print(
            f"{r['epoch']:>5}  {r['configurations']:>14}  {r['members']:>7}  {r['chunks']!s:<14}  {r['epoch_seconds']:.3f}"
        )
    first, last = budget["rungs"][0]["epoch_seconds"], budget["rungs"][-1]["epoch_seconds"]
    print(f"last rung's epoch / first's: {last / first:.2f} (target <= 0.35)")
    best = result.best()
    print(f"best: configuration {best.config} {best.settings}, {best.verdict}")
    if args.json:
        doc = {"full_s": full_s, "pruned_s": pruned_s, "budget": budget}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)


if __name__ == "__main__":
    main()
