"""`fastlstm lr-range`: the learning-rate range test from the command line.

The configuration and data come as for `fastlstm sweep` (CONFIG.toml or the built-in
task, `--data FILE`, the model and fit flags, `--set key=value`); `--seeds`, `--steps`
and `--epochs` are the range test's own (default 3 seeds, 100 optimizer steps whatever
the data's size; `--epochs` counts epochs instead). It prints the
loss-vs-learning-rate curve and the recommendation, `--json` prints the `lr_range`
document on stdout instead of anything else there, and `--out DIR` writes a run
folder (with lr_range.json). Every check runs before anything compiles; a problem is
one line on stderr and exit 2 (fastlstm/cli.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from fastlstm._common.files import check_output_folder
from fastlstm.analysis._lr_range import RANGE_STEPS, lr_range
from fastlstm.api._sweep import read_spec_data
from fastlstm.cli._args import add_output_arguments, add_spec_arguments
from fastlstm.cli._sweep import OUT_OVERWRITE_HINT, save_run_folder, spec_without
from fastlstm.results._run_folder import strict_json

DEFAULT_SEEDS = 3


def add_lr_range_parser(sub: argparse._SubParsersAction, number_types: dict[str, Any]) -> None:
    """The `lr-range` subcommand's arguments: sweep's data and model flags, and its own."""
    positive = number_types["positive"]
    lr = sub.add_parser(
        "lr-range",
        help="learning-rate range test: which learning rates learn, which are safe",
        description="Train 24 log-spaced learning rates (1e-5 to 1) x a few seeds for a short budget in one "
        "batched run; print the median final training loss per learning rate, the largest stable one and a "
        "recommended default below it.",
    )
    add_spec_arguments(lr, number_types)
    lr.add_argument(
        "--seeds", type=positive, default=DEFAULT_SEEDS, help=f"seeds per learning rate (default {DEFAULT_SEEDS})"
    )
    lr.add_argument(
        "--steps",
        type=positive,
        default=RANGE_STEPS,
        help=f"optimizer steps per member, whatever the data's size (default {RANGE_STEPS})",
    )
    lr.add_argument("--epochs", type=positive, help="epochs per member instead of --steps")
    add_output_arguments(lr, "write a run folder there (with lr_range.json)")


def run_lr_range(args: argparse.Namespace, console: Console) -> int:
    """Resolve the spec, read the data, check --out, run the test, print, write."""

    spec = spec_without(args, own=("seeds", "epochs", "steps", "learning_rate"))
    if args.out is not None:
        check_output_folder(args.out, args.overwrite, name="--out", overwrite_hint=OUT_OVERWRITE_HINT)
    fit, loaded, description = read_spec_data(spec)
    log = Console(file=sys.stderr) if args.json else console
    budget = f"{args.epochs} epochs" if args.epochs else f"{args.steps} optimizer steps"
    log.print(
        f"learning-rate range test on {description}: {args.seeds} seeds x {budget}",
        highlight=False,
        soft_wrap=True,
    )
    start = time.perf_counter()
    verbose = 0 if args.quiet else 1
    found = lr_range(**fit, spec=spec, seeds=args.seeds, epochs=args.epochs, steps=args.steps, verbose=verbose)
    log.print(Text(str(found)), soft_wrap=True)
    log.print(
        f"{len(found.result.members)} members trained in {time.perf_counter() - start:.1f} s (compilation included)"
    )
    if args.json:
        sys.stdout.write(strict_json(found.to_dict(), indent=None) + "\n")
    if args.out is not None:
        save_run_folder(found.result, args.out, args.overwrite, loaded, log)
    return 0
