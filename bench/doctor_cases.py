"""`fastlstm doctor` on the issue's cases: the classic failures planted in real data, and
clean real data (which must raise no warning).

Each case reads its data the way `fastlstm doctor --data FILE` does (the reader, the
windows of a series, a UCR/UEA TEST file as validation data), optionally plants a fault
(labels permuted, a column scaled, NaN), runs the doctor (range test, seed sweep,
verification sweep) and prints one row: the case, the expected first finding, the first
finding at warning level or above, whether the top fix was verified (helped), and the
wall time. At the end: the share of cases whose first finding is the expected one, and
whether every clean case had no warning.

    python bench/doctor_cases.py [--seeds 4] [--only italy airline ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import fastlstm as fl
from fastlstm.analysis._doctor import doctor
from fastlstm.api._sweep import read_spec_data

AEON = Path(__import__("aeon").__file__).parent / "datasets" / "data"


def ucr(name: str, validation: bool = True) -> dict[str, Any]:
    """The data table of a UCR/UEA problem: TRAIN file, TEST file as validation data."""
    table = {"path": str(AEON / name / f"{name}_TRAIN.ts")}
    if validation:
        table["validation_path"] = str(AEON / name / f"{name}_TEST.ts")
    return table


def series(name: str, window: int) -> dict[str, Any]:
    return {"path": str(AEON / name / f"{name}.csv"), "window": window}


def shuffle_labels(fit: dict[str, Any]) -> dict[str, Any]:
    """Training labels permuted (the validation labels stay true): nothing to learn."""
    y = np.asarray(fit["y"])
    return {**fit, "y": np.random.default_rng(1).permutation(y)}


def scale_channel(fit: dict[str, Any]) -> dict[str, Any]:
    """One channel in raw units (x 10^4, in training and validation rows alike)."""

    def scaled(x: Any) -> Any:
        if isinstance(x, np.ndarray) and x.dtype != object:
            x = x.astype(np.float32).copy()
            x[..., 0] *= 1e4
            return x
        return [np.asarray(s, np.float32) * np.array([1e4] + [1] * (np.shape(s)[-1] - 1), np.float32) for s in x]

    val = fit.get("validation_data")
    out = {**fit, "x": scaled(fit["x"])}
    if val is not None:
        out["validation_data"] = (scaled(val[0]), *val[1:])
    return out


def add_nan(fit: dict[str, Any]) -> dict[str, Any]:
    x = np.asarray(fit["x"], np.float32).copy()
    x[:5, 3, 0] = np.nan
    return {**fit, "x": x}


# (spec overrides with the data table, the expected first id - None: no warning; a tuple:
# any of them, a symptom and its cause naming the same change - and a fault to plant)
Case = tuple[dict[str, Any], str | tuple[str, ...] | None, Callable[[dict[str, Any]], dict[str, Any]] | None]
SMALL = {"model": {"units": 16}}


def cases() -> dict[str, Case]:
    """name -> (spec overrides with the data table, the expected first id (None: clean), a fault to plant)."""
    italy = {**SMALL, "data": ucr("ItalyPowerDemand"), "epochs": 30, "batch_size": 16}
    gun = {"data": ucr("GunPoint"), "epochs": 100}  # 64 units at Adam's 1e-3: 200 steps to learn 150 raw steps
    basic = {**SMALL, "data": ucr("BasicMotions"), "epochs": 40, "batch_size": 8, "standardize": "feature"}
    vowels = {**SMALL, "data": ucr("JapaneseVowels"), "epochs": 15, "batch_size": 16}
    return {
        "clean GunPoint": (gun, None, None),
        "clean ItalyPowerDemand": (italy, None, None),
        "clean BasicMotions": (basic, None, None),
        "clean JapaneseVowels": (vowels, None, None),
        "ItalyPowerDemand, shuffled labels": (italy, "train.no_signal", shuffle_labels),
        "ItalyPowerDemand, epochs 2": ({**italy, "epochs": 2}, "train.underfit", None),
        "GunPoint, epochs 2": ({**gun, "epochs": 2}, "train.underfit", None),
        "Airline, raw target (window 12)": (
            {**SMALL, "data": series("Airline", 12), "epochs": 30, "batch_size": 16, "validation_split": 0.2},
            "data.unscaled",
            None,
        ),
        "ShampooSales, raw target (window 6)": (
            {**SMALL, "data": series("ShampooSales", 6), "epochs": 30, "batch_size": 8, "validation_split": 0.2},
            "data.unscaled",
            None,
        ),
        "BasicMotions TRAIN, last 25% split": (
            {**basic, "data": ucr("BasicMotions", validation=False), "validation_split": 0.25},
            "data.label_shift",
            None,
        ),
        "ItalyPowerDemand, lr 1.0": ({**italy, "learning_rate": 1.0}, "train.divergence", None),
        "ItalyPowerDemand, lr 1e-6": ({**italy, "learning_rate": 1e-6}, ("lr.too_low", "train.plateau"), None),
        "JapaneseVowels, one channel x1e4": (vowels, "data.unscaled", scale_channel),
        "GunPoint, NaN in 5 sequences": (gun, "data.nan", add_nan),
    }


def first_warning(found: Any) -> str | None:
    top = next((f for f in found.findings if f.severity != "info"), None)
    return None if top is None else top.id


def run_case(name: str, case: Case, seeds: int) -> dict[str, Any]:
    overrides, expected, plant = case
    spec = fl.SweepSpec.from_dict({"name": "case", **overrides})
    fit, loaded, _ = read_spec_data(spec)
    if plant is not None:
        fit = plant(fit)
    start = time.perf_counter()
    found = doctor(spec, **fit, seeds=seeds, feature_names=getattr(loaded, "feature_names", None))
    seconds = time.perf_counter() - start
    got = first_warning(found)
    title = next((f.title for f in found.findings if f.severity != "info"), "")
    right = got in expected if isinstance(expected, tuple) else got == expected
    expected = " / ".join(expected) if isinstance(expected, tuple) else expected
    v = found.verification or {}
    verified = v.get("text", "") if v else ""
    change = ", ".join(f"{k}={val}" for k, val in (v.get("change") or {}).items())
    row = {"case": name, "expected": expected or "(no warning)", "first": got or "(no warning)"}
    row.update({"right": right, "change": change, "helped": v.get("helped"), "verification": verified})
    row.update({"seconds": round(seconds, 1), "findings": [f"{f.id}:{f.severity}" for f in found.findings]})
    row.update({"title": title, "score": found.score()})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds per doctor sweep (default 4)")
    parser.add_argument("--only", nargs="*", help="substrings of case names (case-insensitive)")
    parser.add_argument("--json", type=Path, help="also write the rows there")
    args = parser.parse_args()
    rows = []
    for name, case in cases().items():
        if args.only and not any(s.lower() in name.lower() for s in args.only):
            continue
        row = run_case(name, case, args.seeds)
        rows.append(row)
        mark = "ok " if row["right"] else "NO "
        print(f"{mark} {name:40} expected {row['expected']:18} first {row['first']:18} {row['seconds']:6.1f} s")
        print(f"      findings: {', '.join(row['findings']) or 'none'}; as given: {row['score']}")
        if row["title"]:
            print(f"      first: {row['title']}")
        if row["verification"]:
            print(f"      verified ({row['change']}): {row['verification']} helped={row['helped']}")
    right = sum(r["right"] for r in rows)
    clean = [r for r in rows if r["expected"] == "(no warning)"]
    print(f"\nright first finding: {right} of {len(rows)} ({right / max(1, len(rows)):.0%})")
    print(f"clean real data without a warning: {sum(r['right'] for r in clean)} of {len(clean)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
