"""Turn run records into numbers, a table and a JSON file.

A run record is what the orchestrator keeps per (S, system): `system`, `seeds`,
`rc`, `outside_wall_s` (process start to exit, timed from outside),
`child_maxrss_mb`, `others_cpu_fraction` and `result`, the worker's JSON object
(None when it failed). Everything here is pure, so it is tested on synthetic records.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from fastlstm.benchmark.systems import BASELINES
from fastlstm.benchmark.workloads import Workload, epoch_flops, model_flops

MB = 1024.0 * 1024.0
SHORT = {"torch": "torch", "keras": "keras", "fastlstm_sequential": "seq"}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def peak_memory(run: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(peak MB, where from): device memory on an accelerator, else the process's peak RSS."""
    res = run["result"]
    if res.get("device_peak_bytes") is not None:
        return res["device_peak_bytes"] / MB, "device"
    if run.get("child_maxrss_mb") is not None:
        return float(run["child_maxrss_mb"]), "rss"
    if res.get("peak_rss_mb") is not None:
        return float(res["peak_rss_mb"]), "rss (worker)"
    return None, None


def run_metrics(run: Mapping[str, Any], w: Workload, peak_gflops: float | None) -> dict[str, Any]:
    """Derived numbers of one finished run; rates per second of the outside wall time or of a steady epoch.

    A steady epoch covers `epoch_members` members (1 for the one-at-a-time systems,
    all of them for batched fastlstm), so samples/s and GFLOP/s count member-samples.
    """
    res = run["result"]
    wall = float(run["outside_wall_s"])
    trained = int(res["trained_members"])
    flops = model_flops(w, trained)
    steady = res.get("steady_epoch_s")
    em = int(res.get("epoch_members") or 1)
    mem, source = peak_memory(run)
    accs = [float(a) for a in res["final_train_accuracy"]]
    m: dict[str, Any] = {
        "wall_s": wall,
        "inside_wall_s": res.get("wall_s"),
        "import_s": res.get("import_s"),
        "trained_members": trained,
        "model_gflop": flops / 1e9,
        "gflops_wall": flops / wall / 1e9,
        "samples_per_s_wall": w.n * w.epochs * trained / wall,
        "steady_epoch_s": steady,
        "steady_epoch_per_member_s": steady / em if steady else None,
        "samples_per_s": w.n * em / steady if steady else None,
        "gflops_steady": epoch_flops(w, em) / steady / 1e9 if steady else None,
        "peak_mem_mb": mem,
        "mem_source": source,
        "mem_per_member_mb": mem / trained if mem is not None else None,
        "accuracy_mean": statistics.fmean(accs) if accs else None,
        "accuracy_min": min(accs) if accs else None,
        "accuracy_max": max(accs) if accs else None,
        "recurrent_impl": "+".join(res.get("recurrent_impl") or []) or None,  # fastlstm's runs: cudnn / scan
    }
    m["pct_peak_wall"] = 100 * m["gflops_wall"] / peak_gflops if peak_gflops else None
    m["pct_peak_steady"] = 100 * m["gflops_steady"] / peak_gflops if peak_gflops and m["gflops_steady"] else None
    return m


def ratios(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """fastlstm over each baseline for the runs of one S (< 1: fastlstm is faster or smaller).

    Keys "fastlstm/<baseline>", each with the wall-time, steady-epoch-per-member and
    peak-memory ratios; a baseline that did not run or failed has no key.
    """
    done = {r["system"]: r["metrics"] for r in runs if r.get("result") is not None and "metrics" in r}
    out: dict[str, Any] = {"members": runs[0]["seeds"] if runs else None}
    fast = done.get("fastlstm")
    if fast is None:
        return out
    for base in BASELINES:
        if base in done:
            b = done[base]
            out[f"fastlstm/{base}"] = {
                "wall": _ratio(fast["wall_s"], b["wall_s"]),
                "steady_epoch_per_member": _ratio(fast["steady_epoch_per_member_s"], b["steady_epoch_per_member_s"]),
                "peak_mem": _ratio(fast["peak_mem_mb"], b["peak_mem_mb"]),
            }
    return out


def summarize(
    w: Workload, runs: list[dict[str, Any]], peak_gflops: float | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Add `metrics` to every finished run (in place) and return (runs, ratios per S, in run order)."""
    by_seeds: dict[int, list[dict[str, Any]]] = {}
    for r in runs:
        if r.get("result") is not None:
            r["metrics"] = run_metrics(r, w, peak_gflops)
        by_seeds.setdefault(r["seeds"], []).append(r)
    return runs, [ratios(group) for group in by_seeds.values()]


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def bench_table(
    w: Workload, runs: Sequence[Mapping[str, Any]], ratio_rows: Sequence[Mapping[str, Any]], peak: Mapping | None
) -> Table:
    """One row per (S, system); the fastlstm row carries its wall-time ratios to the others."""
    title = f"{w.describe()}\nfloat32 matmul peak: " + (f"{peak['gflops']:.0f} GFLOP/s" if peak else "not measured")
    t = Table(title=title, title_justify="left")
    columns = ["S", "system", "members", "wall s", "epoch s", "samples/s", "GFLOP/s", "% peak", "% peak wall"]
    columns += ["mem MB", "MB/member", "accuracy", *(f"fl/{SHORT[b]}" for b in BASELINES)]
    for col in columns:
        t.add_column(col, justify="left" if col == "system" else "right")
    by_seeds = {r["members"]: r for r in ratio_rows}
    last = None
    for r in runs:
        if last is not None and r["seeds"] != last:
            t.add_section()
        last = r["seeds"]
        if r.get("result") is None:
            t.add_row(str(r["seeds"]), r["system"], "", f"failed (rc={r['rc']})", *[""] * (len(columns) - 4))
            continue
        m = r["metrics"]
        rat = by_seeds.get(r["seeds"], {}) if r["system"] == "fastlstm" else {}
        t.add_row(
            str(r["seeds"]),
            system_label(r["system"], m.get("recurrent_impl")),
            str(m["trained_members"]),
            f"{m['wall_s']:.2f}",
            _fmt(m["steady_epoch_s"], ".3f"),
            _fmt(m["samples_per_s"], ",.0f"),
            _fmt(m["gflops_steady"], ".1f"),
            _fmt(m["pct_peak_steady"], ".1f"),
            _fmt(m["pct_peak_wall"], ".1f"),
            _fmt(m["peak_mem_mb"], ".0f"),
            _fmt(m["mem_per_member_mb"], ".1f"),
            _fmt(m["accuracy_mean"], ".3f"),
            *(_fmt(rat.get(f"fastlstm/{b}", {}).get("wall"), ".2f") for b in BASELINES),
        )
    return t


def system_label(system: str, recurrent_impl: str | None) -> str:
    """The system, and for fastlstm the recurrent layer it ran: "fastlstm (cudnn)"."""
    return f"{system} ({recurrent_impl})" if recurrent_impl else system


LEGEND = (
    "system (x): the recurrent layer fastlstm ran, cuDNN or the batched scan (recurrent_impl);"
    " wall s: whole process from outside (start to exit: imports, compilation, training); epoch s: median steady"
    " epoch (after the first), of all the members it trains at once; samples/s, GFLOP/s, % peak: over a steady"
    " epoch (member-samples, model FLOPs); % peak wall: over the whole process; mem MB: peak device memory on an"
    " accelerator, else the process's peak RSS; fl/x: fastlstm's wall time over x's (< 1 = fastlstm is faster)."
)


def write_json_atomic(path: Path, payload: Mapping[str, object]) -> None:
    """Write `payload` to `path` through a temporary file in the same folder and os.replace:
    a reader never sees a half-written file, and an interrupted run leaves the old one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
