"""`fastlstm doctor` on planted faults: which findings each produces, and the verification.

Each case is small data with one fault planted (the issue's list) plus a clean control;
the doctor runs its range test, an 8-seed sweep and, when a finding names a change, the
verification sweep. Prints one block per case: the findings at warning level and above
(info in brackets), the verified change and its before/after, and the wall time.

    python bench/doctor_planted.py [--seeds 8] [--only unscaled leakage ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastlstm as fl
from fastlstm.analysis._doctor import doctor
from fastlstm.tasks import step_cue


def binary_cue(n, positive_rate, seed=0, strength=2.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(np.int64)
    x = rng.normal(size=(n, 8, 3)).astype(np.float32)
    x[:, 1, 0] += strength * (2 * y - 1)
    return x, y


def windows(series, length):
    return np.stack([series[i : i + length] for i in range(len(series) - length + 1)])


def leakage_case():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(1200, 3)), axis=0).astype(np.float32)
    w = windows(series, 16)
    y = (w[:, -1, 0] > w[:, 0, 0]).astype(np.int64)
    order = rng.permutation(len(w))
    train, val = order[:900], order[900:]
    return (w[train], y[train]), {"validation_data": (w[val], y[val]), "validation_split": 0.0}


def label_shift_case():
    x, y = binary_cue(800, 0.5, seed=1)
    xv, yv = binary_cue(200, 0.9, seed=2)
    return (x, y), {"validation_data": (xv, yv), "validation_split": 0.0}


def far_cue(n, seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, size=n)
    x = r.normal(size=(n, 30, 2)).astype(np.float32)
    x[:, 0, 0] += 2.0 * (2 * y - 1)
    return x, y


def cases():
    """name -> ((x, y), spec overrides, fit extras)."""
    base = {"model": {"units": 8}, "epochs": 8, "validation_split": 0.25, "learning_rate": 1e-2}
    x, y = step_cue(n=600)
    unscaled, constant, nan = x.copy(), x.copy(), x.copy()
    unscaled[:, :, 2] *= 1e4
    constant[:, :, 2] = 3.0
    nan[:20, 3, 1] = np.nan
    xs, ys = step_cue(n=48, strength=1.5)
    return {
        "clean control (8 seeds x 3 lrs)": ((x, y), {**base, "grid": {"learning_rate": [3e-3, 1e-2, 3e-2]}}, {}),
        "one feature x1e4": ((unscaled, y), base, {}),
        "a constant feature": ((constant, y), base, {}),
        "NaN in 20 sequences": ((nan, y), base, {}),
        "3% positives": (binary_cue(1000, 0.03), base, {}),
        "stride-1 windows split at random": (leakage_case()[0], {**base, "validation_split": 0.0}, leakage_case()[1]),
        "validation 90% positive vs 50%": (
            label_shift_case()[0],
            {**base, "validation_split": 0.0},
            label_shift_case()[1],
        ),
        "shuffled labels": ((x, np.random.default_rng(1).permutation(y)), base, {}),
        "lr 1.0": ((x, y), {**base, "learning_rate": 1.0}, {}),
        "lr 1e-6": ((x, y), {**base, "learning_rate": 1e-6}, {}),
        "tiny training set, large model, 40 epochs": (
            (xs, ys),
            {**base, "model": {"units": 32}, "epochs": 40, "batch_size": 16, "validation_split": 0.0},
            {"validation_data": step_cue(n=300, strength=1.5, seed=5)},
        ),
        "tiny hard task (cue 30 steps back, 4 units)": (
            far_cue(256, 0),
            {**base, "model": {"units": 4}, "epochs": 10, "validation_split": 0.0},
            {"validation_data": far_cue(256, 1)},
        ),
    }


def run_case(name, data, overrides, fit, seeds):
    fit = {k: v for k, v in fit.items() if k == "validation_data"}
    spec = fl.SweepSpec.from_dict({"name": "planted", **overrides})
    start = time.perf_counter()
    found = doctor(spec, *data, seeds=seeds, **fit)
    elapsed = time.perf_counter() - start
    shown = [f"{f.id} ({f.severity})" if f.severity != "info" else f"[{f.id}]" for f in found.findings]
    print(f"## {name}  ({elapsed:.1f} s)")
    print("   findings: " + (", ".join(shown) or "none"))
    v = found.verification
    if v is not None and v.get("skipped"):
        print(f"   {v['finding']}: {v['text']}")
    elif v is not None:
        change = ", ".join(f"{k}={val}" for k, val in (v.get("change") or {}).items())
        print(f"   verified {v['finding']} ({change}): {v['text']}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--only", nargs="*", help="substrings of case names")
    args = parser.parse_args()
    for name, (data, overrides, fit) in cases().items():
        if args.only and not any(s in name for s in args.only):
            continue
        run_case(name, data, overrides, fit, args.seeds)


if __name__ == "__main__":
    main()
