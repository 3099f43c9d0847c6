"""Streaming from disk vs the same data in memory, and a training set bigger than memory.

    python bench/streaming.py [--members 8 32] [--epochs 5]      # steady epoch, mmap vs in memory
    python bench/streaming.py big [--gb 4] [--members 1]          # a 4 GB memory-mapped set, 1 epoch

The first mode trains W1 (fastlstm/benchmark/workloads.py) on its data held in memory
(the device-resident epoch program) and on the same data saved to a .npy file and
memory-mapped (`stream=True`: the block program fed by the prefetch thread), one chunk
of S members each, compiled and warmed up by one epoch, then times `--epochs` more
epochs of each, alternating, and prints the median epoch time and the ratio (target:
streaming within 15% of in memory for 8 and 32 members).

`big` writes a W1-shaped float32 training set of `--gb` gigabytes to a temporary folder
(it checks the free disk first), trains W1's model for one epoch on it memory-mapped in a
child process, and prints the wall time and the child's peak resident memory (VmHWM;
target: under 1.5 GB for 4 GB of data). The file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import numpy as np

from fastlstm.benchmark.workloads import WORKLOADS, make_data

W1 = WORKLOADS["W1"]


def chunk_run(x, y, members: int, stream: bool):
    """One compiled, warmed-up chunk of W1 with `members` members (in memory or streamed)."""
    import fastlstm as fl
    from fastlstm.api._sweep import load_data, settings_for
    from fastlstm.runtime._driver import Driver
    from fastlstm.spec._sweep_spec import sweep_spec_from_kwargs

    spec = sweep_spec_from_kwargs(
        model=fl.ModelSpec(units=W1.units, layers=W1.layers, task="classification", num_classes=W1.classes),
        seeds=members,
        batch_size=W1.batch_size,
        epochs=1000,
        members_per_chunk=members,
    )
    driver = Driver(spec.plan(), load_data(spec, x, y, stream=stream), settings_for(spec))
    run = driver.chunk_run(next(driver.chunks()))
    epoch_seconds(run)  # compilation and the first epoch
    return run


def epoch_seconds(run) -> float:
    import jax

    start = time.perf_counter()
    run.step(fetch=False)
    jax.block_until_ready(run.state)
    return time.perf_counter() - start


def compare(members_list: list[int], epochs: int) -> None:
    x, y = make_data(W1)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        mapped = np.load(Path(tmp) / "x.npy", mmap_mode="r")
        print(f"{W1.describe()}; steady epoch, median of {epochs}")
        for members in members_list:
            runs = {"in memory": chunk_run(x, y, members, False), "memory-mapped": chunk_run(mapped, y, members, True)}
            times = {name: [] for name in runs}
            for _ in range(epochs):
                for name, run in runs.items():
                    times[name].append(epoch_seconds(run))
            memory, streamed = (statistics.median(times[k]) for k in ("in memory", "memory-mapped"))
            print(
                f"{members:>3} members: in memory {memory:.3f} s, memory-mapped {streamed:.3f} s, "
                f"ratio {streamed / memory:.3f} (target <= 1.15)"
            )
            for run in runs.values():
                getattr(run, "close", lambda: None)()


CHILD = """
import os, sys, time
os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")
import numpy as np
import fastlstm as fl
x = np.load(sys.argv[1], mmap_mode="r")
y = np.load(sys.argv[2])
start = time.perf_counter()
result = fl.sweep(x, y, model=fl.ModelSpec(units=int(sys.argv[4]), layers=1), seeds=int(sys.argv[3]),
                  batch_size=int(sys.argv[5]), epochs=1, stream=True, verbose=0)
seconds = time.perf_counter() - start
status = open("/proc/self/status").read()
peak = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")][0]
print(f"{seconds:.1f} {peak} {np.nanmean(result.history['accuracy'][:, 0]):.3f}")
"""


def write_big(folder: Path, gigabytes: float) -> tuple[Path, Path, int]:
    """A W1-shaped float32 x of `gigabytes` GB (early-cue data, written 64k rows at a time) and its y."""
    from fastlstm.tasks import early_cue

    row_bytes = W1.timesteps * W1.features * 4
    rows = int(gigabytes * 1e9 // row_bytes)
    free = shutil.disk_usage(folder).free
    if free < 1.2 * rows * row_bytes:
        raise SystemExit(f"big: {free / 1e9:.1f} GB free in {folder}, need {1.2 * rows * row_bytes / 1e9:.1f} GB")
    x_path, y_path = folder / "x.npy", folder / "y.npy"
    x = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, W1.timesteps, W1.features))
    y = np.empty(rows, np.int64)
    step = 65536
    for k, lo in enumerate(range(0, rows, step)):
        hi = min(lo + step, rows)
        xs, ys = early_cue(hi - lo, W1.timesteps, W1.features, classes=W1.classes, seed=k)
        x[lo:hi], y[lo:hi] = xs, ys
        x.flush()
    del x
    np.save(y_path, y)
    return x_path, y_path, rows


def big(gigabytes: float, members: int) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("FASTLSTM_BENCH_TMP")) as tmp:
        start = time.perf_counter()
        x_path, y_path, rows = write_big(Path(tmp), gigabytes)
        print(f"wrote {rows} rows ({x_path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s")
        args = [str(x_path), str(y_path), str(members), str(W1.units), str(W1.batch_size)]
        out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        seconds, peak_kib, accuracy = out.stdout.split()
        print(
            f"{members} members of W1's model, 1 epoch over {gigabytes:g} GB memory-mapped: {float(seconds):.0f} s, "
            f"peak RSS {int(peak_kib) / 1024**2:.2f} GiB (target < 1.5 GB), mean training accuracy {accuracy}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["compare", "big"], default="compare")
    parser.add_argument("--members", type=int, nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--gb", type=float, default=4.0)
    args = parser.parse_args()
    if args.mode == "big":
        big(args.gb, (args.members or [1])[0])
    else:
        compare(args.members or [8, 32], args.epochs)


if __name__ == "__main__":
    main()
