"""Batched seeds vs the same seeds one after another, through the same code.

    python bench/seeds_vs_sequential.py [--seeds 8] [--json out.json]

Runs the default `fastlstm sweep` workload (built-in early-cue task, Keras defaults)
once with all seeds batched and once seed by seed, in this process, compilation
included for both (each path compiles its own member count once).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")  # measure compilation honestly

import numpy as np

import fastlstm as fl
from fastlstm.tasks import early_cue


def run(seeds: list[int], x, y, epochs: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    r = fl.sweep(x, y, model=fl.ModelSpec(units=32), seeds=seeds, epochs=epochs, validation_split=0.2, verbose=0)
    return time.perf_counter() - start, r.history["val_accuracy"][:, -1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    x, y = early_cue()
    seeds = list(range(args.seeds))
    batched, acc_b = run(seeds, x, y, args.epochs)
    seq_times, acc_s = [], []
    for s in seeds:
        t, a = run([s], x, y, args.epochs)
        seq_times.append(t)
        acc_s.append(a[0])
    sequential = sum(seq_times)
    out = {
        "seeds": args.seeds,
        "batched_s": round(batched, 2),
        "sequential_s": round(sequential, 2),
        "sequential_first_s": round(seq_times[0], 2),
        "speedup": round(sequential / batched, 2),
        "max_abs_val_accuracy_diff": float(np.max(np.abs(np.asarray(acc_s) - acc_b))),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
