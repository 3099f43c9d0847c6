"""Run one worker process and time it from outside: wall time, its peak RSS, others' CPU use.

`os.wait4` gives the rusage of exactly that child (its own ru_maxrss), which
`getrusage(RUSAGE_CHILDREN)` cannot: that is a maximum over all children so far.
Output goes to temporary files, so a chatty worker cannot block on a full pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastlstm.benchmark.machine import cpu_ticks

BENCH_DIR = Path(__file__).resolve().parent


def worker_command(script: str, *args: str) -> list[str]:
    """Start `fastlstm/benchmark/<script>.py` by path: the fastlstm package is then not imported for it."""
    return [sys.executable, str(BENCH_DIR / f"{script}.py"), *args]


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONSAFEPATH", None)  # the workers import their neighbours from the script's folder
    env.update(extra or {})
    return env


def _maxrss_mb(ru_maxrss: int) -> float:
    return ru_maxrss / (1024.0 * 1024.0) if sys.platform == "darwin" else ru_maxrss / 1024.0


def run_timed(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run `cmd` to its end (killed after `timeout` s); what it cost, measured from outside."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        ticks0 = cpu_ticks()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        ticks1 = cpu_ticks()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    child_cpu_s = usage.ru_utime + usage.ru_stime
    others = None
    if ticks0 is not None and ticks1 is not None:
        busy_cpu_s = (ticks1[0] - ticks0[0]) / os.sysconf("SC_CLK_TCK")  # every process, all CPUs
        others = max(busy_cpu_s - child_cpu_s, 0.0) / (wall * (os.cpu_count() or 1))
    return {
        "cmd": cmd,
        "rc": "timeout" if timed_out.is_set() and proc.returncode < 0 else proc.returncode,
        "outside_wall_s": wall,
        "child_cpu_s": child_cpu_s,
        "child_maxrss_mb": _maxrss_mb(usage.ru_maxrss),
        "others_cpu_fraction": others,
        "stdout": stdout,
        "stderr_tail": stderr[-3000:],
    }
