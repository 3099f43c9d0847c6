"""The markdown table of bench/gpu_check.sh: fastlstm's cuDNN path against its scan and PyTorch.

    python bench/gpu_table.py BENCH.json [BENCH.json ...] > table.md

Reads `fastlstm bench` JSON files (W1), one row per (S, system, recurrent layer): the
whole process's wall time from outside, the steady epoch, per member, and the mean
final train accuracy. Below it: S=1 cuDNN over the scan (steady epoch and wall), the
issue's target (64 members in at most 2x the wall time of 1, fastlstm's best S=1), and
fastlstm over torch per S. Numbers are only as good as the machine was quiet.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def rows_of(paths: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every finished or failed run of the files, and the first file's machine (with its workload)."""
    rows, machine = [], {}
    for path in paths:
        if not Path(path).exists():
            print(f"<!-- {path}: missing (that bench run failed) -->")
            continue
        data = json.loads(Path(path).read_text())
        machine = machine or {**data.get("machine", {}), "workload": data["workload"]["name"]}
        asked = data.get("options", {}).get("recurrent_impl", "auto")
        for run in data["runs"]:
            res, m = run.get("result"), run.get("metrics", {})
            rows.append(
                {
                    "S": run["seeds"],
                    "system": run["system"],
                    "asked": asked if run["system"].startswith("fastlstm") else "",
                    "impl": "+".join(res.get("recurrent_impl") or []) if res else "",
                    "ok": res is not None,
                    "wall": m.get("wall_s"),
                    "epoch": m.get("steady_epoch_s"),
                    "per_member": m.get("steady_epoch_per_member_s"),
                    "accuracy": m.get("accuracy_mean"),
                }
            )
    return rows, machine


def _f(v: float | None, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| S | system | recurrent_impl | layer ran | wall s | steady epoch s | epoch s per member | accuracy |",
        "|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["S"], r["system"], r["asked"])):
        head = f"| {r['S']} | {r['system']} | {r['asked'] or '-'} | {r['impl'] or '-'} | "
        if not r["ok"]:
            lines.append(head + "failed | | | |")
            continue
        cells = [_f(r["wall"], ".2f"), _f(r["epoch"], ".4f"), _f(r["per_member"], ".5f"), _f(r["accuracy"])]
        lines.append(head + " | ".join(cells) + " |")
    return lines


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def findings(rows: list[dict[str, Any]]) -> list[str]:
    """The three questions of issue 19, as ratios."""
    fast = {(r["S"], r["impl"]): r for r in rows if r["system"] == "fastlstm" and r["ok"]}
    torch = {r["S"]: r for r in rows if r["system"] == "torch" and r["ok"]}
    out = []
    cudnn, scan = fast.get((1, "cudnn")), fast.get((1, "scan"))
    if cudnn and scan:
        out.append(
            f"- S=1, cuDNN over the scan: steady epoch {_ratio(cudnn['epoch'], scan['epoch'])}, "
            f"wall {_ratio(cudnn['wall'], scan['wall'])} (< 1: cuDNN is faster; 'auto' picks cuDNN for one member)"
        )
    ones = [r for (s, _), r in fast.items() if s == 1]
    best_one = min(ones, key=lambda r: r["wall"]) if ones else None
    s64 = next((r for (s, _), r in fast.items() if s == 64), None)
    if best_one and s64:
        ratio = s64["wall"] / best_one["wall"]
        verdict = "met" if ratio <= 2.0 else "NOT met"
        out.append(
            f"- target, 64 members in at most 2x the wall time of 1 ({best_one['impl']}): {ratio:.2f}x, {verdict}"
        )
    for (s, _), r in sorted(fast.items()):
        if s in torch:
            out.append(
                f"- S={s}, fastlstm ({r['impl']}) over torch nn.LSTM (sequential): wall {_ratio(r['wall'], torch[s]['wall'])}, "
                f"steady epoch per member {_ratio(r['per_member'], torch[s]['per_member'])}"
            )
    return out


def main(paths: list[str]) -> None:
    rows, machine = rows_of(paths)
    where = machine.get("device_kind") or machine.get("device") or machine.get("cpu") or "an unknown machine"
    print(f"### {machine.get('workload', 'W1')} on {where}\n")
    print("\n".join(table(rows)))
    print()
    print("\n".join(findings(rows)) or "- no comparable runs")


if __name__ == "__main__":
    main(sys.argv[1:])
