"""fastlstm vs Keras vs PyTorch: whole-process wall time for the same members, answers checked.

    python bench/compare.py --workload W1 --members 1 2 [--systems torch keras fastlstm_sequential fastlstm]
                            [--fastlstm-cache cold|warm|off] [--json OUT]

For every S in --members and every system, runs `bench/run_<system>.py --workload W
--members S` as its own process (one member after another, except `fastlstm`, which
trains all members in one `fl.sweep`) and times it from outside, process start to
exit: interpreter start, imports, data, compilation, training. Runs go one at a time;
before each, the harness waits (up to --wait-quiet s) for the machine to be idle and
afterwards reports how much CPU other processes used during the run, since a 2-core
machine shared with a test suite gives meaningless timings.

It also measures the float32 matmul peak (`bench/peak_matmul.py`, its own process)
and reports each system's model FLOP rate (`workloads.model_flops`) against it, over
the whole process and over a steady epoch.

Answers are checked so that a fast wrong answer cannot win: every system's mean final
train accuracy must clear a floor (default: the majority-class rate + 0.02; on W1 a
model that does not train, e.g. PyTorch with lr=0, ends its 3rd epoch at 0.24-0.26,
one that trains at 0.28-0.31) and lie within --accuracy-tolerance of the others;
fastlstm batched and sequential train the same members from the same seeds and must
agree member by member; all systems must report the same data digest. A failed
check prints a WARNING line and is stored in the JSON.

The fastlstm on-disk compilation cache (FASTLSTM_CACHE_DIR) is `cold` by default: a
fresh empty folder per process, i.e. a first run. `warm` primes a folder with one
untimed run of the same command (a repeat run); `off` disables it. Keras runs with
JAX's defaults (no persistent cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from workloads import WORKLOADS, Workload, epoch_flops, make_data, model_flops

HERE = Path(__file__).resolve().parent
SYSTEMS = ("torch", "keras", "fastlstm_sequential", "fastlstm")
FASTLSTM_SYSTEMS = ("fastlstm_sequential", "fastlstm")


# -- the machine -------------------------------------------------------------------------------


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def busy_fraction(seconds: float = 1.0) -> float:
    b0, t0 = _cpu_ticks()
    time.sleep(seconds)
    b1, t1 = _cpu_ticks()
    return (b1 - b0) / max(t1 - t0, 1)


def wait_quiet(max_busy: float, limit_s: float, console: Console) -> float:
    """Wait until the whole machine is below `max_busy` for a second; return the last reading."""
    deadline = time.monotonic() + limit_s
    busy = busy_fraction()
    told = False
    while busy > max_busy and time.monotonic() < deadline:
        if not told:
            console.print(f"  waiting for an idle machine (CPU {busy:.0%} busy, other processes)...")
            told = True
        busy = busy_fraction()
    return busy


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": model,
        "fastlstm_git": git_state(),
    }


def git_state() -> dict[str, Any] | None:
    """The commit the benchmarked fastlstm is at, and whether its files had uncommitted changes."""

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=HERE.parent, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": git("status", "--porcelain", "--", "fastlstm").splitlines(),
        }
    except (OSError, subprocess.CalledProcessError):
        return None


# -- running -----------------------------------------------------------------------------------


def run_process(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one process; its wall time from outside and the CPU others used meanwhile."""
    cpu0, (b0, _) = _children_cpu_s(), _cpu_ticks()
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, stdout, stderr = "timeout", e.stdout or "", e.stderr or ""
    wall = time.perf_counter() - start
    b1, _ = _cpu_ticks()
    busy_cpu_s = (b1 - b0) / os.sysconf("SC_CLK_TCK")  # every process, all CPUs
    others_cpu_s = max(busy_cpu_s - (_children_cpu_s() - cpu0), 0.0)
    return {
        "cmd": cmd,
        "rc": rc,
        "outside_wall_s": wall,
        "others_cpu_fraction": others_cpu_s / (wall * (os.cpu_count() or 1)),
        "stdout": stdout,
        "stderr_tail": stderr[-3000:] if isinstance(stderr, str) else "",
    }


def torch_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return probe.returncode == 0


def measure_peak(console: Console) -> dict[str, Any] | None:
    res = run_process([sys.executable, str(HERE / "peak_matmul.py")], dict(os.environ), timeout=600)
    if res["rc"] != 0:
        console.print(f"[red]peak_matmul.py failed[/red]: {res['stderr_tail']}")
        return None
    peak = json.loads(res["stdout"].strip().splitlines()[-1])
    peak["others_cpu_fraction"] = res["others_cpu_fraction"]
    return peak


def run_system(system: str, w: Workload, seeds: int, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    script = HERE / f"run_{system}.py"
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="fastlstm-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(script), "--workload", w.name, "--members", str(seeds), "--json", str(out)]
        if system in FASTLSTM_SYSTEMS:
            if args.fastlstm_cache == "off":
                env["FASTLSTM_CACHE_DIR"] = "off"
            else:
                env["FASTLSTM_CACHE_DIR"] = str(Path(tmp) / "jax-cache")
                if args.fastlstm_cache == "warm":
                    console.print("  priming the compilation cache (untimed run)...")
                    run_process(cmd, env, args.timeout)
                    out.unlink(missing_ok=True)
        busy = wait_quiet(args.max_busy, args.wait_quiet, console)
        res = run_process(cmd, env, args.timeout)
        res["busy_before"] = busy
        res["system"], res["seeds"] = system, seeds
        if res["rc"] == 0 and out.exists():
            res["result"] = json.loads(out.read_text())
        else:
            res["result"] = None
            console.print(f"[red]{system} S={seeds} failed (rc={res['rc']})[/red]\n{res['stderr_tail']}")
    del res["stdout"]
    return res


# -- checking ----------------------------------------------------------------------------------


def check(runs: list[dict[str, Any]], floor: float, tolerance: float, max_others: float) -> list[str]:
    """The WARNING lines for one S (empty when every check passes)."""
    warnings = []
    ok = [r for r in runs if r["result"] is not None]
    for r in runs:
        if r["result"] is None:
            warnings.append(f"{r['system']} S={r['seeds']}: did not finish (rc={r['rc']})")
    means = {r["system"]: float(np.mean(r["result"]["final_train_accuracy"])) for r in ok}
    for r in ok:
        accs = np.asarray(r["result"]["final_train_accuracy"], np.float64)
        if not np.all(np.isfinite(accs)):
            warnings.append(f"{r['system']} S={r['seeds']}: non-finite final accuracy {accs.tolist()}")
        if means[r["system"]] < floor:
            warnings.append(
                f"{r['system']} S={r['seeds']}: mean final train accuracy {means[r['system']]:.3f} is below the floor {floor:.3f}"
            )
        if r["others_cpu_fraction"] > max_others:
            warnings.append(
                f"{r['system']} S={r['seeds']}: other processes used {r['others_cpu_fraction']:.0%} of the CPUs during the run; its time is not trustworthy"
            )
    if len(means) > 1 and max(means.values()) - min(means.values()) > tolerance:
        spread = ", ".join(f"{k} {v:.3f}" for k, v in means.items())
        warnings.append(f"S={runs[0]['seeds']}: mean final train accuracies differ by more than {tolerance}: {spread}")
    digests = {r["result"]["data_digest"] for r in ok}
    if len(digests) > 1:
        warnings.append(f"S={runs[0]['seeds']}: systems trained on different data (digests {sorted(digests)})")
    fl = {r["system"]: r["result"] for r in ok if r["system"] in FASTLSTM_SYSTEMS}
    if len(fl) == 2:
        a = np.asarray(fl["fastlstm"]["final_train_accuracy"])
        b = np.asarray(fl["fastlstm_sequential"]["final_train_accuracy"])
        diff = float(np.max(np.abs(a - b)))
        if diff > 0.02:
            warnings.append(
                f"S={runs[0]['seeds']}: fastlstm batched and sequential differ per member by up to {diff:.3f}"
            )
    return warnings


# -- reporting ---------------------------------------------------------------------------------


def derived(r: dict[str, Any], w: Workload, peak: float | None, base: dict[str, float]) -> dict[str, Any]:
    res = r["result"]
    wall = r["outside_wall_s"]
    flops = model_flops(w, res["trained_members"])
    d: dict[str, Any] = {
        "model_gflop": flops / 1e9,
        "gflops_wall": flops / wall / 1e9,
        "steady_epoch_per_member_s": None,
        "gflops_steady": None,
    }
    if res["steady_epoch_s"]:
        d["steady_epoch_per_member_s"] = res["steady_epoch_s"] / res["epoch_members"]
        d["gflops_steady"] = epoch_flops(w, res["epoch_members"]) / res["steady_epoch_s"] / 1e9
    d["pct_peak_wall"] = 100 * d["gflops_wall"] / peak if peak else None
    d["pct_peak_steady"] = 100 * d["gflops_steady"] / peak if peak and d["gflops_steady"] else None
    for name, t in base.items():
        d[f"wall_over_{name}"] = wall / t
    return d


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table(w: Workload, rows: list[dict[str, Any]], peak: dict[str, Any] | None) -> Table:
    title = f"{w.describe()}\nfloat32 matmul peak: " + (f"{peak['gflops']:.0f} GFLOP/s" if peak else "not measured")
    t = Table(title=title, title_justify="left")
    for col in (
        "S",
        "members",
        "system",
        "wall s",
        "inside s",
        "import s",
        "epoch s/member",
        "train acc mean [min-max]",
    ):
        t.add_column(col, justify="left" if col in ("system", "train acc mean [min-max]") else "right")
    for col in ("RSS MB", "GFLOP/s", "% peak", "% peak steady", "/ torch", "/ keras", "others CPU"):
        t.add_column(col, justify="right")
    last_s = None
    for r in rows:
        if last_s is not None and r["seeds"] != last_s:
            t.add_section()
        last_s = r["seeds"]
        res, d = r["result"], r.get("derived")
        if res is None:
            t.add_row(str(r["seeds"]), "", r["system"], f"failed (rc={r['rc']})", *[""] * 11)
            continue
        accs = res["final_train_accuracy"]
        t.add_row(
            str(r["seeds"]),
            str(res["trained_members"]),
            r["system"],
            f"{r['outside_wall_s']:.2f}",
            f"{res['wall_s']:.2f}",
            f"{res['import_s']:.2f}",
            fmt(d["steady_epoch_per_member_s"], ".3f"),
            f"{statistics.fmean(accs):.3f} [{min(accs):.3f}-{max(accs):.3f}]",
            f"{res['peak_rss_mb']:.0f}",
            f"{d['gflops_wall']:.1f}",
            fmt(d["pct_peak_wall"], ".1f"),
            fmt(d["pct_peak_steady"], ".1f"),
            fmt(d.get("wall_over_torch"), ".2f"),
            fmt(d.get("wall_over_keras"), ".2f"),
            f"{r['others_cpu_fraction']:.0%}",
        )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W1")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2], help="seeds S to run (W3: 2S members)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--fastlstm-cache", choices=("cold", "warm", "off"), default="cold")
    parser.add_argument("--min-accuracy", type=float, default=None, help="default: majority-class rate + 0.02")
    parser.add_argument("--accuracy-tolerance", type=float, default=0.05, help="max spread of mean accuracies")
    parser.add_argument("--max-busy", type=float, default=0.10, help="idle threshold before each run (0-1)")
    parser.add_argument("--wait-quiet", type=float, default=300.0, help="max seconds to wait for an idle machine")
    parser.add_argument("--max-others", type=float, default=0.10, help="warn when others used more CPU than this")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per run, seconds")
    parser.add_argument("--no-peak", action="store_true", help="skip the matmul peak")
    parser.add_argument("--json", default=None, help="default: bench/results/compare_<workload>.json")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 220))
    w = WORKLOADS[args.workload]

    systems = list(args.systems)
    if "torch" in systems and not torch_available():
        console.print("[yellow]PyTorch is not importable here: skipping the torch system (pip install torch).[/yellow]")
        systems.remove("torch")
    _, y = make_data(w)
    majority = float(np.bincount(y, minlength=w.classes).max() / len(y))
    floor = args.min_accuracy if args.min_accuracy is not None else majority + 0.02

    console.print(
        f"[bold]{w.describe()}[/bold]\nsystems {systems}, S {args.members}, fastlstm cache {args.fastlstm_cache}"
    )
    peak = None
    if not args.no_peak:
        wait_quiet(args.max_busy, args.wait_quiet, console)
        peak = measure_peak(console)
        if peak:
            console.print(
                f"float32 matmul peak {peak['gflops']:.0f} GFLOP/s ({peak['n']}x{peak['n']}, best of {len(peak['seconds'])})"
            )

    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for seeds in args.members:
        runs = []
        for system in systems:
            console.print(f"S={seeds} {system} ...")
            r = run_system(system, w, seeds, args, console)
            if r["result"] is not None:
                res = r["result"]
                console.print(
                    f"  {r['outside_wall_s']:.2f} s, accuracy {statistics.fmean(res['final_train_accuracy']):.3f},"
                    f" others used {r['others_cpu_fraction']:.0%} CPU"
                )
            runs.append(r)
        base = {
            r["system"]: r["outside_wall_s"]
            for r in runs
            if r["result"] is not None and r["system"] in ("torch", "keras")
        }
        for r in runs:
            if r["result"] is not None:
                r["derived"] = derived(r, w, peak["gflops"] if peak else None, base)
        warnings += check(runs, floor, args.accuracy_tolerance, args.max_others)
        rows += runs

    console.print(table(w, rows, peak))
    console.print(
        "wall s: whole process from outside (start to exit); inside s / import s: from the top of the runner script;"
        " epoch s/member: median steady epoch / members it trains; / torch, / keras: wall time over theirs (< 1 = faster);"
        " GFLOP/s: model FLOPs over the whole-process wall time; % peak steady: over a steady epoch."
    )
    console.print(
        f"accuracy checks: floor {floor:.3f} (majority class {majority:.3f}), tolerance {args.accuracy_tolerance}"
    )
    if floor < 0.35:
        console.print(
            "NOTE: after this many epochs every system is close to chance, so the accuracy checks tell a model that"
            " trained from one that did not, not a subtly wrong one (fastlstm's Keras parity is what tests/ checks)."
        )
    for line in warnings:
        console.print(f"[bold red]WARNING[/bold red] {line}")
    if not warnings:
        console.print("all checks passed")

    out = Path(args.json) if args.json else HERE / "results" / f"compare_{w.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "workload": {"name": w.name, "description": w.describe(), "majority_class_rate": majority},
                "systems": systems,
                "members": args.members,
                "fastlstm_cache": args.fastlstm_cache,
                "accuracy_floor": floor,
                "accuracy_tolerance": args.accuracy_tolerance,
                "machine": machine(),
                "peak": peak,
                "runs": rows,
                "warnings": warnings,
            },
            indent=1,
        )
    )
    console.print(f"results written to {out}")


if __name__ == "__main__":
    main()
