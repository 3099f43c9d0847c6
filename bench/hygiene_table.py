"""Data hygiene across seeds: does standardising, balancing or augmenting help? (issue 18)

    python bench/hygiene_table.py [--seeds 16] [--epochs 15] [--keep-minority 1.0] [--json out.json]

On the built-in task of `fastlstm sweep` (early-cue, 2048 sequences x 24 steps, the
same model and settings: 32 units, 15 epochs, validation_split 0.2), trains `--seeds`
seeds of each row - the baseline, standardize="feature", class_weight="balanced",
oversample=True, and each augmentation at a moderate strength - and prints the final
val accuracy and val loss as mean +- 95% CI (`fastlstm.stats.describe`) in a markdown
table. The built-in task's four classes are balanced; `--keep-minority F` keeps only a
fraction F of the rows of classes 1-3 (class 0 stays whole) so that balancing has
something to do. Each row is its own batched sweep; wall times are printed but this is
not a timing benchmark.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

import fastlstm as fl
from fastlstm.cli._sweep import BUILTIN
from fastlstm.stats import describe
from fastlstm.tasks import early_cue

MODERATE = {  # strengths of the survey's recommended order (Iwana & Uchida 2021, Um et al. 2017)
    "Jitter(0.03)": fl.Jitter(0.03),
    "Scaling(0.1)": fl.Scaling(0.1),
    "MagnitudeWarp(0.2)": fl.MagnitudeWarp(0.2, knots=4),
    "TimeWarp(0.2)": fl.TimeWarp(0.2, knots=4),
    "WindowSlice(0.9)": fl.WindowSlice(0.9),
}


def rows() -> dict[str, dict[str, Any]]:
    """Row label -> the fl.sweep keyword arguments that differ from the baseline."""
    out: dict[str, dict[str, Any]] = {
        "baseline": {},
        'standardize="feature"': {"standardize": "feature"},
        'class_weight="balanced"': {"class_weight": "balanced"},
        "oversample=True": {"oversample": True},
    }
    out.update({f"augment={name}": {"augment": [aug]} for name, aug in MODERATE.items()})
    return out


def task(keep_minority: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The built-in early-cue data, optionally with classes 1-3 thinned to `keep_minority`."""
    x, y = early_cue()
    if keep_minority >= 1.0:
        return x, y
    rng = np.random.default_rng(seed)
    keep = (y == 0) | (rng.random(len(y)) < keep_minority)
    return x[keep], y[keep]


def fmt(d: dict[str, Any], digits: int = 3) -> str:
    return f"{d['mean']:.{digits}f} ± {(d['ci_high'] - d['ci_low']) / 2:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=BUILTIN["epochs"])
    parser.add_argument("--keep-minority", type=float, default=1.0)
    parser.add_argument("--rows", default=None, help="comma-separated row labels to run (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    x, y = task(args.keep_minority)
    common = dict(
        model=fl.ModelSpec(**BUILTIN["model"]),
        seeds=args.seeds,
        epochs=args.epochs,
        validation_split=BUILTIN["validation_split"],
        verbose=0,
    )
    wanted = rows() if args.rows is None else {k: v for k, v in rows().items() if k in args.rows.split(",")}
    counts = np.bincount(y, minlength=4).tolist()
    print(f"early-cue, {len(y)} sequences (class counts {counts}), {args.seeds} seeds, {args.epochs} epochs\n")
    print("| setting | val accuracy (mean ± 95% CI) | val loss (mean ± 95% CI) | seconds |")
    print("|---|---|---|---|")
    table = {}
    for label, kwargs in wanted.items():
        start = time.perf_counter()
        result = fl.sweep(x, y, **common, **kwargs)
        seconds = time.perf_counter() - start
        final = result.final_metrics()
        acc, loss = describe(final["val_accuracy"], bounds=(0.0, 1.0)), describe(final["val_loss"])
        table[label] = {"val_accuracy": acc, "val_loss": loss, "seconds": seconds}
        print(f"| {label} | {fmt(acc)} | {fmt(loss)} | {seconds:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seeds": args.seeds, "epochs": args.epochs, "class_counts": counts, "rows": table}, f, indent=1)


if __name__ == "__main__":
    main()
