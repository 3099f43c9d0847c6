"""`fastlstm importance RUN_DIR`: which hyperparameter moves the metric, beside the seeds.

Reads a finished run folder and prints each varied hyperparameter's share of the metric's
variance (and each two-way interaction's), the seeds' share, the intervals and whether each
share is distinguishable from seed noise (`fastlstm.results.importance`). Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from fastlstm.results._importance import importance
from fastlstm.results._result import load
from fastlstm.results._run_folder import strict_json


def add_importance_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "importance",
        help="which hyperparameter moves the metric, and is it more than seed noise",
        description="Each varied hyperparameter's share of the metric's variance beside the seeds' share, with "
        "an interval from resampling seeds and whether it is distinguishable from seed noise. A full grid with "
        "2 or more seeds: a fixed-effects ANOVA (Type II, omega squared, F-tests, Holm); random search: an "
        "additive surrogate fitted to every member with a permutation null.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run folder (fastlstm sweep --out)")
    parser.add_argument("--metric", help="the metric (default: val_accuracy, val_loss, accuracy or loss)")
    parser.add_argument("--json", action="store_true", help="print the importance as strict JSON and nothing else")


def run_importance(args: argparse.Namespace, console: Console) -> int:
    """Load, measure, print. Errors are ValueErrors (one line, exit 2, in cli/_main.py)."""
    try:
        result = load(args.run_dir)
    except (ValueError, OSError) as err:
        raise ValueError(f"RUN_DIR: {err}") from None
    found = importance(result, args.metric)
    if args.json:
        sys.stdout.write(strict_json(found.to_dict(), indent=None) + "\n")
        return 0
    for line in found.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0
