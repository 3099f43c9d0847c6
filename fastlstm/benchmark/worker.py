"""What the worker scripts share: their command line and the one JSON object they print.

Imports only the standard library (and `workloads`, which imports numpy), so that a
worker's clock, started at the top of its script, sees its own heavy imports.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # python -m fastlstm.benchmark.run_...
    from fastlstm.benchmark.workloads import WORKLOADS, Workload
else:  # started by path, as `fastlstm bench` does
    from workloads import WORKLOADS, Workload

PACKAGES = ("torch", "keras", "jax", "jaxlib", "numpy", "fastlstm")
PRECISIONS = ("float32", "bfloat16")
RECURRENT_IMPLS = ("auto", "scan", "cudnn")


def parse_args(description: str, *, precision: bool = False) -> tuple[argparse.Namespace, Workload]:
    """The workers' command line; `precision=True` (the fastlstm workers) adds the flags
    passed to `fl.sweep`: --precision and --recurrent-impl."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W1")
    parser.add_argument("--members", type=int, default=1, help="seeds S (W3 trains 2 learning rates x S)")
    parser.add_argument("--json", default=None, help="also write the result object to this file")
    if precision:
        parser.add_argument("--precision", choices=PRECISIONS, default=None, help="passed to fl.sweep only when given")
        parser.add_argument(
            "--recurrent-impl", choices=RECURRENT_IMPLS, default=None, help="passed to fl.sweep only when given"
        )
    args = parser.parse_args()
    if args.members < 1:
        parser.error(f"--members: expected a positive integer, got {args.members}")
    return args, WORKLOADS[args.workload]


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (nothing is imported)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def steady_epoch(epoch_seconds: Sequence[float]) -> float | None:
    """Median epoch time after the first (which carries compilation); None with < 2 epochs."""
    return float(statistics.median(epoch_seconds[1:])) if len(epoch_seconds) >= 2 else None


def self_peak_rss_mb() -> float:
    """This process's peak resident memory (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def jax_device() -> dict[str, Any]:
    """The JAX device the run used and, on an accelerator, its peak memory (summed over local devices).

    On CPU `memory_stats()` is None: the harness then reports the process's RSS.
    """
    import jax

    devices = jax.local_devices()
    peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in devices]
    known = [p for p in peaks if p is not None]
    return {
        "device": str(devices[0]),
        "device_platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "device_peak_bytes": int(sum(known)) if known else None,
    }


def fastlstm_sweep_kwargs(
    fl: Any, w: Workload, precision: str | None, recurrent_impl: str | None = None
) -> dict[str, Any]:
    """The `fl.sweep` arguments both fastlstm workers share: the workload's model and fit
    settings, and `precision` and `recurrent_impl` only when the user chose them (float32
    and "auto" are the defaults)."""
    return {
        "model": fl.ModelSpec(units=w.units, layers=w.layers, task="classification", num_classes=w.classes),
        "optimizer": "adam",
        "batch_size": w.batch_size,
        "epochs": w.epochs,
        "shuffle": True,
        "verbose": 0,
        **({} if precision is None else {"precision": precision}),
        **({} if recurrent_impl is None else {"recurrent_impl": recurrent_impl}),
    }


def report(
    system: str,
    args: argparse.Namespace,
    w: Workload,
    *,
    t0: float,
    import_s: float,
    members: Sequence[tuple[float, int]],
    final_train_accuracy: Iterable[float],
    epoch_seconds: Sequence[float] | None,
    epoch_members: int,
    data_digest: str,
    steady_epoch_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Stop the clock, print the result object as one JSON line, and write it to --json.

    `epoch_seconds` are the epochs of the first timed member (or chunk of members);
    `steady_epoch_s` defaults to their median after the first.
    """
    wall_s = time.perf_counter() - t0
    if steady_epoch_s is None and epoch_seconds is not None:
        steady_epoch_s = steady_epoch(epoch_seconds)
    out = {
        "system": system,
        "workload": w.name,
        "members": args.members,  # seeds S, as on the command line
        "trained_members": len(members),  # S, or 2S for the W3 learning-rate grid
        "member_settings": [{"learning_rate": lr, "seed": s} for lr, s in members],
        "wall_s": wall_s,
        "import_s": import_s,
        "steady_epoch_s": steady_epoch_s,
        "epoch_members": epoch_members,  # members one steady epoch covers (all of them when batched)
        "timed_epoch_s": None if epoch_seconds is None else list(epoch_seconds),
        "final_train_accuracy": [float(a) for a in final_train_accuracy],
        "peak_rss_mb": self_peak_rss_mb(),
        "data_digest": data_digest,
        "fastlstm_cache_dir": os.environ.get("FASTLSTM_CACHE_DIR"),
        "precision": getattr(args, "precision", None) or "float32",
        "versions": versions(),
        **extra,
    }
    text = json.dumps(out)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return out


def steady_over_chunks(clocks: Sequence[dict[str, Any]]) -> tuple[float | None, int]:
    """(seconds of one steady epoch of every member, members it covers) for one chunked sweep.

    The runner trains chunks one after another, so an epoch of all members costs the
    sum of the chunks' steady epochs; None when a chunk has fewer than 2 epochs.
    """
    steady = [steady_epoch(c["epoch_s"]) for c in clocks]
    known = [s for s in steady if s is not None]
    if not steady or len(known) < len(steady):
        return None, sum(c["members"] for c in clocks)
    return float(sum(known)), sum(c["members"] for c in clocks)
