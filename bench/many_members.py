"""Many members of W1 on one machine: time per member-epoch and peak memory as S grows.

    python bench/many_members.py [--members 128 1024] [--epochs 1] [--json OUT]

Each S trains in a fresh process (so its peak RSS, `resource.getrusage().ru_maxrss`, is
its own), all members in one `fl.sweep` call: the runner splits them into chunks that
fit in memory and, on a CPU, in cache (fastlstm/runtime/_memory.py), and every chunk of a group
reuses the group's compiled programs. Reported per S: the chunks, the wall time of the
sweep (compilation included), seconds per member-epoch (that time / (S x epochs)), the
steady epoch of all members where there are 2+ epochs, and the peak RSS. The target:
seconds per member-epoch at S=1024 no more than at S=128, and a peak RSS that does not
grow with S beyond the host-side results (history and final parameters).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_size(members: int, epochs: int) -> dict:
    """Train W1 with `members` seeds in this process; the numbers as a dict."""
    os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")
    import fastlstm as fl
    from fastlstm.benchmark.worker import fastlstm_sweep_kwargs, steady_over_chunks
    from fastlstm.benchmark.workloads import WORKLOADS, make_data

    w = WORKLOADS["W1"]
    x, y = make_data(w)
    kwargs = {**fastlstm_sweep_kwargs(fl, w, None), "epochs": epochs, "verbose": 0}
    clock = fl.controllers.EpochClock()
    start = time.perf_counter()
    result = fl.sweep(x, y, seeds=members, controllers=[clock], **kwargs)
    seconds = time.perf_counter() - start
    steady, _ = steady_over_chunks(clock.chunks)
    return {
        "members": members,
        "epochs": epochs,
        "chunks": len(clock.chunks),
        "members_per_chunk": max(c["members"] for c in clock.chunks),
        "sweep_s": seconds,
        "s_per_member_epoch": seconds / (members * epochs),
        "steady_epoch_s_per_member": None if steady is None else steady / members,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trained": int(result.history["loss"].shape[0]),
    }


def run_child(members: int, epochs: int, timeout_s: float) -> dict:
    code = f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r}); "
    code += f"from many_members import one_size; print(json.dumps(one_size({members}, {epochs})))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"S={members} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds per size (default 7200)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    print(f"{'S':>6} {'chunks':>6} {'sweep s':>9} {'s/member-epoch':>15} {'steady s/member':>16} {'peak RSS MB':>12}")
    for members in args.members:
        r = run_child(members, args.epochs, args.timeout)
        rows.append(r)
        steady = "-" if r["steady_epoch_s_per_member"] is None else f"{r['steady_epoch_s_per_member']:.4f}"
        print(
            f"{members:>6} {r['chunks']:>6} {r['sweep_s']:>9.1f} {r['s_per_member_epoch']:>15.4f} "
            f"{steady:>16} {r['peak_rss_mb']:>12.0f}",
            flush=True,
        )
    if len(rows) > 1:
        ratio = rows[-1]["s_per_member_epoch"] / rows[0]["s_per_member_epoch"]
        print(
            f"time per member-epoch at S={rows[-1]['members']} / at S={rows[0]['members']}: {ratio:.2f} (target <= 1)"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
