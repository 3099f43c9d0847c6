"""What the bench/run_*.py runners share: their command line and the one JSON object they print.

Imports only the standard library (and `workloads`, which imports numpy), so that a
runner's clock, started at the top of its script, sees its own heavy imports.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import statistics
import time
from collections.abc import Sequence
from typing import Any

from workloads import WORKLOADS, Workload

PACKAGES = ("torch", "keras", "jax", "jaxlib", "numpy", "fastlstm")


def parse_args(description: str) -> tuple[argparse.Namespace, Workload]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W1")
    parser.add_argument("--members", type=int, default=1, help="seeds S (W3 trains 2 learning rates x S)")
    parser.add_argument("--json", default=None, help="also write the result object to this file")
    args = parser.parse_args()
    if args.members < 1:
        parser.error("--members must be >= 1")
    return args, WORKLOADS[args.workload]


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


def report(
    system: str,
    args: argparse.Namespace,
    w: Workload,
    *,
    t0: float,
    import_s: float,
    members: Sequence[tuple[float, int]],
    final_train_accuracy: Sequence[float],
    epoch_seconds: Sequence[float] | None,
    epoch_members: int,
    data_digest: str,
    **extra: Any,
) -> dict[str, Any]:
    """Stop the clock, print the result object as one JSON line, and write it to --json."""
    wall_s = time.perf_counter() - t0
    out = {
        "system": system,
        "workload": w.name,
        "members": args.members,  # seeds S, as on the command line
        "trained_members": len(members),  # S, or 2S for the W3 learning-rate grid
        "member_settings": [{"learning_rate": lr, "seed": s} for lr, s in members],
        "wall_s": wall_s,
        "import_s": import_s,
        "steady_epoch_s": None if epoch_seconds is None else steady_epoch(epoch_seconds),
        "epoch_members": epoch_members,  # members one steady epoch covers (all of them when batched)
        "first_member_epoch_s": None if epoch_seconds is None else list(epoch_seconds),
        "final_train_accuracy": [float(a) for a in final_train_accuracy],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "data_digest": data_digest,
        "fastlstm_cache_dir": os.environ.get("FASTLSTM_CACHE_DIR"),
        "versions": versions(),
        **extra,
    }
    text = json.dumps(out)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return out


def clock_fastlstm_epochs() -> list[list[float]]:
    """Time every epoch of every `fl.sweep` call, without changing fastlstm.

    Wraps the engine entry the runner calls (`fastlstm.runner.run_group`) so that its
    per-epoch callback records a timestamp; the callback runs after the epoch's logs
    have reached the host, so each interval is a finished epoch (the first one also
    holds initialisation and compilation). Returns a list that gets one list of epoch
    seconds per compile group run; it stays empty if the engine no longer has that
    entry (then report steady_epoch_s = null).
    """
    import fastlstm.runner

    clocks: list[list[float]] = []
    inner = getattr(fastlstm.runner, "run_group", None)
    if inner is None:
        return clocks

    def run_group(cfg, keys, hparams, data, on_epoch=None, *rest, **kw):
        seconds: list[float] = []
        clocks.append(seconds)
        last = time.perf_counter()

        def timed(*a, **k):
            nonlocal last
            now = time.perf_counter()
            seconds.append(now - last)
            last = now
            if on_epoch is not None:
                on_epoch(*a, **k)

        return inner(cfg, keys, hparams, data, timed, *rest, **kw)

    fastlstm.runner.run_group = run_group
    return clocks
