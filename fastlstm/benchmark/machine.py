"""The machine a benchmark ran on, and whether it was quiet enough to time anything.

Reads /proc (Linux); elsewhere the idle check is skipped rather than guessed. Never
starts a JAX backend: on a GPU that would take memory from the workers.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from fastlstm.runtime._devices import usable_cores

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the fastlstm package


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def busy_fraction(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy over the next `seconds` (every process, this one included)."""
    t0 = cpu_ticks()
    time.sleep(seconds)
    t1 = cpu_ticks()
    if t0 is None or t1 is None:
        return None
    return (t1[0] - t0[0]) / max(t1[1] - t0[1], 1)


def wait_quiet(max_busy: float, limit_s: float, console: Console, quiet: bool = False) -> float | None:
    """Wait until the machine is below `max_busy` for a second; the last reading (None: not measured).

    A 2-core machine shared with a test suite gives meaningless timings, so every run
    waits for this first; `limit_s` = 0 skips the check (and its one-second reading).
    """
    if limit_s <= 0:
        return None
    deadline = time.monotonic() + limit_s
    busy = busy_fraction()
    told = False
    while busy is not None and busy > max_busy and time.monotonic() < deadline:
        if not told and not quiet:
            console.print(f"  waiting for an idle machine (CPU {busy:.0%} busy, other processes)...")
            told = True
        busy = busy_fraction()
    return busy


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_state() -> dict[str, Any] | None:
    """The commit of the benchmarked fastlstm and its uncommitted files; None unless it is a git checkout.

    Only when the package folder sits directly in the repository's top level, so an
    installed copy inside some other project's repository does not report that one.
    """

    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=PACKAGE_DIR.parent, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != PACKAGE_DIR.parent:
            return None
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": git("status", "--porcelain", "--", "fastlstm").splitlines(),
        }
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(device: dict[str, Any] | None = None) -> dict[str, Any]:
    """Platform, CPU, cores, versions, git commit; `device` (platform, kind) as a worker saw it."""
    device = device or {}
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "fastlstm": _version("fastlstm"),
        "device_platform": device.get("device_platform"),
        "device_kind": device.get("device_kind"),
        "device": device.get("device"),
        "git": git_state(),
    }
