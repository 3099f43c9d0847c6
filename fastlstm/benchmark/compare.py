"""The `fastlstm bench` orchestrator: every system in its own process, timed from outside.

For every S in --members and every system, runs `fastlstm/benchmark/run_<system>.py
--workload W --members S` as its own process (one member after another, except
`fastlstm`, which trains all members in one `fl.sweep`) and times it from outside,
process start to exit: interpreter start, imports, data, compilation, training. Runs
go one at a time; before each, the harness waits (up to --wait-quiet s) for the
machine to be idle, and afterwards reports how much CPU other processes used during
the run. It also measures the float32 matmul peak (`peak.py`, its own process) and
reports each system's model FLOP rate against it. Answers are checked (`checks.py`).

The fastlstm on-disk compilation cache (FASTLSTM_CACHE_DIR) is `cold` by default: a
fresh empty folder per process, i.e. a first run. `warm` primes a folder with one
untimed run of the same command (a repeat run); `off` disables it. Keras runs with
JAX's defaults (no persistent cache).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from fastlstm._common.files import check_output_file
from fastlstm.benchmark.checks import check_runs
from fastlstm.benchmark.machine import machine_info, wait_quiet
from fastlstm.benchmark.processes import run_timed, worker_command, worker_env
from fastlstm.benchmark.report import LEGEND, bench_table, summarize, write_json_atomic
from fastlstm.benchmark.systems import FASTLSTM_SYSTEMS, missing_library, script
from fastlstm.benchmark.workloads import WORKLOADS, Workload, majority_rate

ACCURACY_MARGIN = 0.02  # default floor: majority-class rate + this


def _fields(w: Workload) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(w).items() if k not in ("name", "hidden")}


def default_json_path(workload: str) -> Path:
    return Path.cwd() / f"fastlstm-bench-{workload}.json"


def measure_peak(args: argparse.Namespace, console: Console) -> dict[str, Any] | None:
    """The float32 matmul peak, from its own process; None (and a red line) when that fails."""
    res = run_timed(worker_command("peak"), worker_env(), args.timeout)
    if res["rc"] != 0:
        console.print(f"[red]matmul peak failed (rc={res['rc']})[/red]: {escape(res['stderr_tail'])}")
        return None
    peak = json.loads(res["stdout"].strip().splitlines()[-1])
    peak["others_cpu_fraction"] = res["others_cpu_fraction"]
    return peak


def run_system(system: str, w: Workload, seeds: int, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """One timed worker process; its run record (see report.py), `result` None when it failed."""
    env = worker_env()
    with tempfile.TemporaryDirectory(prefix="fastlstm-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = worker_command(script(system), "--workload", w.name, "--members", str(seeds), "--json", str(out))
        if system in FASTLSTM_SYSTEMS:
            if args.precision is not None:
                cmd += ["--precision", args.precision]
            if getattr(args, "recurrent_impl", None) is not None:
                cmd += ["--recurrent-impl", args.recurrent_impl]
            if args.fastlstm_cache == "off":
                env["FASTLSTM_CACHE_DIR"] = "off"
            else:
                env["FASTLSTM_CACHE_DIR"] = str(Path(tmp) / "jax-cache")
                if args.fastlstm_cache == "warm":
                    if not args.quiet:
                        console.print("  priming the compilation cache (untimed run)...")
                    run_timed(cmd, env, args.timeout)
                    out.unlink(missing_ok=True)
        busy = wait_quiet(args.max_busy, args.wait_quiet, console, args.quiet)
        res = run_timed(cmd, env, args.timeout)
        res["busy_before"] = busy
        res["system"], res["seeds"] = system, seeds
        res["result"] = json.loads(out.read_text()) if res["rc"] == 0 and out.exists() else None
    if res["result"] is None:
        console.print(f"[red]{system} S={seeds} failed (rc={res['rc']})[/red]\n{escape(res['stderr_tail'])}")
    del res["stdout"]
    return res


def _device(peak: dict[str, Any] | None, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The accelerator as a JAX process saw it (the orchestrator never starts a backend itself)."""
    if peak:
        return peak
    for r in runs:
        if r.get("result") and r["result"].get("device_platform") and r["system"] != "torch":
            return r["result"]
    return None


def run_bench(args: argparse.Namespace, console: Console) -> int:
    """Run, check, print the table, write the JSON; 0 when every run finished, 1 otherwise, 2 if none could run.

    An unwritable --json raises `OutputPathError` (a ValueError) before anything runs."""
    w = WORKLOADS[args.workload]
    out = Path(args.json) if args.json else default_json_path(w.name)
    check_output_file(out, name="--json")  # before an hour of runs, not after
    systems, skipped = [], {}
    for system in args.systems:
        why = missing_library(system)
        if why is None:
            systems.append(system)
        else:
            skipped[system] = why
            console.print(f"[yellow]skipping {system}: {escape(why)}[/yellow]")
    if not systems:
        console.print("[red]error:[/red] --systems: none of the requested systems can run here")
        return 2
    majority = majority_rate(w)
    floor = args.min_accuracy if args.min_accuracy is not None else majority + ACCURACY_MARGIN
    if not w.accuracy_checked and args.min_accuracy is None:
        floor = None
    if not args.quiet:
        console.print(
            f"[bold]{w.describe()}[/bold]\nsystems {' '.join(systems)}; S {' '.join(map(str, args.members))};"
            f" fastlstm cache {args.fastlstm_cache}"
            + (f", fastlstm precision {args.precision}" if args.precision else "")
        )
    peak = None
    if not args.no_peak:
        wait_quiet(args.max_busy, args.wait_quiet, console, args.quiet)
        peak = measure_peak(args, console)
        if peak and not args.quiet:
            console.print(
                f"float32 matmul peak {peak['gflops']:.0f} GFLOP/s ({peak['n']}x{peak['n']} on {peak['device']},"
                f" best of {len(peak['seconds'])})"
            )

    runs: list[dict[str, Any]] = []
    warnings: list[str] = []

    def save(complete: bool) -> list[dict[str, Any]]:
        """Summarize the runs so far and (re)write the JSON: an interrupted benchmark keeps its finished S."""
        _, ratio_rows = summarize(w, runs, peak["gflops"] if peak else None)
        payload = {
            "complete": complete,
            "workload": {"name": w.name, "description": w.describe(), "majority_class_rate": majority, **_fields(w)},
            "systems": systems,
            "skipped": skipped,
            "members": list(args.members),
            "options": {
                "fastlstm_cache": args.fastlstm_cache,
                "precision": args.precision or "float32",
                "recurrent_impl": getattr(args, "recurrent_impl", None) or "auto",
                "timeout_s": args.timeout,
                "max_busy": args.max_busy,
                "wait_quiet_s": args.wait_quiet,
                "max_others": args.max_others,
            },
            "accuracy_floor": floor,
            "accuracy_tolerance": args.accuracy_tolerance,
            "machine": machine_info(_device(peak, runs)),
            "peak": peak,
            "runs": runs,
            "ratios": ratio_rows,
            "warnings": warnings,
        }
        write_json_atomic(out, payload)
        return ratio_rows

    for seeds in args.members:
        group = []
        for system in systems:
            if not args.quiet:
                console.print(f"S={seeds} {system} ...")
            r = run_system(system, w, seeds, args, console)
            if r["result"] is not None and not args.quiet:
                others = r["others_cpu_fraction"]
                console.print(
                    f"  {r['outside_wall_s']:.2f} s" + (f", others used {others:.0%} CPU" if others is not None else "")
                )
            group.append(r)
        warnings += check_runs(group, floor, args.accuracy_tolerance, args.max_others)
        runs += group
        if seeds != args.members[-1]:
            save(complete=False)
    ratio_rows = save(complete=True)

    console.print(bench_table(w, runs, ratio_rows, peak))
    if not args.quiet:
        console.print(LEGEND)
        console.print(
            "accuracy checks: "
            + (
                f"floor {floor:.3f} (majority class {majority:.3f})"
                if floor is not None
                else "no floor (workload too small to learn)"
            )
            + f", tolerance {args.accuracy_tolerance}"
        )
    for line in warnings:
        console.print(f"[bold red]WARNING[/bold red] {escape(line)}")
    if not warnings and not args.quiet:
        console.print("all checks passed")
    console.print(f"results written to {escape(str(out))}")
    return 0 if all(r["result"] is not None for r in runs) else 1
