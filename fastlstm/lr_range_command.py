"""`fastlstm lr-range`: the learning-rate range test from the command line.

The configuration and data come as for `fastlstm sweep` (CONFIG.toml or the built-in
task, `--data FILE`, the model and fit flags, `--set key=value`); `--seeds` and
`--epochs` are the range test's own (default 3 seeds, 2 epochs). It prints the
loss-vs-learning-rate curve and the recommendation, `--json` prints the `lr_range`
document on stdout instead of anything else there, and `--out DIR` writes a run
folder (with lr_range.json). Every check runs before anything compiles; a problem is
one line on stderr and exit 2 (fastlstm/cli.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from fastlstm.io.folders import OutputPathError, check_output_folder
from fastlstm.sweep_command import FLAG_KEYS, OUT_OVERWRITE_HINT, spec_from_args

DEFAULT_SEEDS, DEFAULT_EPOCHS = 3, 2


def add_lr_range_parser(sub: argparse._SubParsersAction, number_types: dict[str, Any]) -> None:
    """The `lr-range` subcommand's arguments: sweep's data and model flags, and its own."""
    positive, finite = number_types["positive"], number_types["finite"]
    lr = sub.add_parser(
        "lr-range",
        help="learning-rate range test: which learning rates learn, which are safe",
        description="Train 24 log-spaced learning rates (1e-5 to 1) x a few seeds for a short budget in one "
        "batched run; print the median final training loss per learning rate, the largest stable one and a "
        "recommended default below it.",
    )
    lr.add_argument("config", nargs="?", type=Path, help="a TOML config file (see configs/)")
    lr.add_argument("--data", help="data file: .npz, .npy (with --labels), .csv, .parquet or .ts")
    lr.add_argument("--labels", help="with --data x.npy: the labels' .npy file")
    lr.add_argument("--format", choices=["npz", "npy", "csv", "parquet", "ts", "series"], help="override the suffix")
    lr.add_argument("--window", type=positive, help="forecasting: steps per input window (a single-series CSV)")
    lr.add_argument("--horizon", type=positive, help="forecasting: values to predict after each window")
    lr.add_argument("--target", help="forecasting: the column to predict")
    lr.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. model.units=64"
    )
    lr.add_argument(
        "--seeds", type=positive, default=DEFAULT_SEEDS, help=f"seeds per learning rate (default {DEFAULT_SEEDS})"
    )
    lr.add_argument(
        "--epochs", type=positive, default=DEFAULT_EPOCHS, help=f"epochs per member (default {DEFAULT_EPOCHS})"
    )
    lr.add_argument("--units", type=positive, help="LSTM units")
    lr.add_argument("--layers", type=positive, help="stacked LSTM layers")
    lr.add_argument("--batch-size", type=positive, help="batch size (default 32, as Keras)")
    lr.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop"])
    lr.add_argument("--validation-split", type=finite, help="last fraction of rows held out (not trained on)")
    lr.add_argument("--samples", type=positive, help="built-in task: number of sequences (default 2048)")
    lr.add_argument("--timesteps", type=positive, help="built-in task: sequence length (default 24)")
    lr.add_argument("--precision", choices=["float32", "bfloat16"], help="matmul precision (default float32)")
    lr.add_argument("--members-per-chunk", type=positive, help="train at most this many members at once")
    lr.add_argument("--out", type=Path, help="write a run folder there (with lr_range.json)")
    lr.add_argument("--overwrite", action="store_true", help="replace an existing run folder --out")
    lr.add_argument("--quiet", action="store_true", help="no progress bar")
    lr.add_argument("--json", action="store_true", help="print the lr_range document as JSON on stdout, nothing else")


def _spec(args: argparse.Namespace) -> Any:
    """The configuration under test, resolved as `fastlstm sweep` resolves it (its --seeds and
    --epochs are the range test's own, so they are not the spec's)."""
    values = {flag: getattr(args, flag, None) for flag in FLAG_KEYS}
    values.update(seeds=None, epochs=None, learning_rate=None, config=args.config, set=args.set)
    return spec_from_args(argparse.Namespace(**values))


def run_lr_range(args: argparse.Namespace, console: Console) -> int:
    """Resolve the spec, read the data, check --out, run the test, print, write."""
    from fastlstm.analysis.lr_range import lr_range
    from fastlstm.io.run_folder import strict_json
    from fastlstm.runner import read_spec_data

    spec = _spec(args)
    if args.out is not None:
        check_output_folder(args.out, args.overwrite, name="--out", overwrite_hint=OUT_OVERWRITE_HINT)
    fit, loaded, description = read_spec_data(spec)
    log = Console(file=sys.stderr) if args.json else console
    log.print(
        f"learning-rate range test on {description}: {args.seeds} seeds x {args.epochs} epochs",
        highlight=False,
        soft_wrap=True,
    )
    start = time.perf_counter()
    found = lr_range(**fit, spec=spec, seeds=args.seeds, epochs=args.epochs, verbose=0 if args.quiet else 1)
    log.print(Text(str(found)))
    log.print(
        f"{len(found.result.members)} members trained in {time.perf_counter() - start:.1f} s (compilation included)"
    )
    if args.json:
        sys.stdout.write(strict_json(found.to_dict(), indent=None) + "\n")
    if args.out is not None:
        try:
            found.result.save(args.out, overwrite=args.overwrite, data=loaded)
        except OSError as err:
            raise OutputPathError(f"--out {str(args.out)!r}: could not save ({err.strerror or err})") from None
        log.print(f"run folder: {args.out}", highlight=False, soft_wrap=True)
    return 0
