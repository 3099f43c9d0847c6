"""The command-line arguments that describe one configuration and its data.

`fastlstm sweep`, `lr-range` and `doctor` read a configuration the same way - a TOML
file (or the built-in task), `--data FILE` and its reading options, the model and fit
flags, `--set key=value` - so they share these definitions; `sweep_command.spec_from_args`
turns them into a spec. Each command adds its own flags (seeds, epochs, output) beside.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DATA_FORMATS = ["npz", "npy", "csv", "parquet", "ts", "arff", "series"]
OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop"]


def add_spec_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """CONFIG, the data options, the model and fit flags and --set (not seeds, epochs or output)."""
    positive, finite = number_types["positive"], number_types["finite"]
    parser.add_argument("config", nargs="?", type=Path, help="a TOML config file (see configs/)")
    parser.add_argument(
        "--data", help="data file: .npz, .npy (with --labels), .csv/.tsv (long or wide), .parquet, .ts or .arff"
    )
    parser.add_argument("--labels", help="with --data x.npy: the labels' .npy file")
    parser.add_argument(
        "--validation-data",
        metavar="FILE",
        help="a second data file as the validation set (e.g. a UCR/UEA problem's _TEST.ts); overrides the split",
    )
    parser.add_argument(
        "--validation-labels", metavar="FILE", help="with --validation-data x_test.npy: the validation labels' .npy"
    )
    parser.add_argument("--format", choices=DATA_FORMATS, help="override the suffix")
    parser.add_argument(
        "--layout",
        choices=["steps_first", "channels_first"],
        help="axis order of an .npz/.npy x: channels_first is aeon/sktime's (samples, channels, length); "
        "steps_first takes a shape as it is (default: refuse one that looks channels first)",
    )
    parser.add_argument("--window", type=positive, help="forecasting: steps per input window (a single-series CSV)")
    parser.add_argument("--horizon", type=positive, help="forecasting: values to predict after each window")
    parser.add_argument("--target", help="forecasting: the column to predict")
    add_column_arguments(parser)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. model.units=64"
    )
    parser.add_argument(
        "--keras-model", type=Path, metavar="FILE", help="a .keras model: its architecture (needs fastlstm[keras])"
    )
    parser.add_argument("--units", type=positive, help="LSTM units (default 32)")
    parser.add_argument("--layers", type=positive, help="stacked LSTM layers (default 1)")
    parser.add_argument("--batch-size", type=positive, help="batch size (default 32, as Keras)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument(
        "--validation-split", type=finite, help="fraction of rows held out (default 0.2; which rows: --split)"
    )
    parser.add_argument(
        "--split",
        choices=["last", "shuffled", "stratified"],
        help="which rows --validation-split holds out: the last (as Keras, default), a shuffled draw, or one "
        "stratified by class (same rows for every member; seed: --set split_seed=N)",
    )
    parser.add_argument("--samples", type=positive, help="built-in task: number of sequences (default 2048)")
    parser.add_argument("--timesteps", type=positive, help="built-in task: sequence length (default 24)")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], help="matmul precision (default float32)")
    parser.add_argument("--members-per-chunk", type=positive, help="train at most this many members at once")
    parser.add_argument(
        "--recurrent-impl",
        choices=["auto", "scan", "cudnn"],
        help="the LSTM layer: cuDNN for one-member chunks on a CUDA GPU where it can run (auto, default), "
        "the batched scan, or cuDNN (an error where it cannot run)",
    )
    parser.add_argument(
        "--standardize",
        choices=["feature", "global", "min_max"],
        help="scale inputs with statistics of the training rows only (class weights: --set class_weight=balanced)",
    )
    parser.add_argument(
        "--standardize-target",
        action="store_true",
        default=None,
        help="regression/forecasting: train on the target scaled by the training rows' mean and std "
        "(predictions and errors are reported in its own units)",
    )


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    """Which column of a table is what; left out, the usual names are found (the header line says which)."""
    parser.add_argument("--id-column", metavar="COL", help="table: the column naming each sequence (id, series_id ...)")
    parser.add_argument(
        "--time-column", metavar="COL", help="table: the column ordering the steps (step, time, date ...)"
    )
    parser.add_argument(
        "--label-column", nargs="+", metavar="COL", help="table: the label column(s) (label, target, class ...)"
    )
    parser.add_argument("--features", nargs="+", metavar="COL", help="table: only these columns are features")
    parser.add_argument("--drop-columns", nargs="+", metavar="COL", help="table: columns to ignore")


def add_output_arguments(parser: argparse.ArgumentParser, out_help: str) -> None:
    """--out, --overwrite, --quiet and --json (JSON alone on stdout)."""
    parser.add_argument("--out", type=Path, help=out_help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout and nothing else there")


def learning_rate_argument(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    parser.add_argument(
        "--learning-rate",
        type=number_types["positive_float"],
        nargs="+",
        help="one value, or several for a grid (default: the optimizer's, Adam's 1e-3)",
    )


def search_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """--trials and --search-seed: random search over the distributions in the grid."""
    parser.add_argument(
        "--trials",
        type=number_types["positive"],
        metavar="N",
        help="random search: draw N configurations from the grid's distributions "
        "(--set grid.learning_rate={loguniform=[1e-4,1e-1]})",
    )
    parser.add_argument(
        "--search-seed",
        type=int,  # the spec says what a seed must be
        metavar="S",
        help="random search: the seed of the draws (default 0; same seed, same configurations)",
    )


def add_device_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """--devices, and the flags that join several processes into one sweep (`jax.distributed`)."""
    parser.add_argument(
        "--devices",
        type=device_selection,
        metavar="N|ID,ID",
        help="shard members over these local devices: a count (the first N) or ids, e.g. 0,1 (default all)",
    )
    parser.add_argument(
        "--coordinator", metavar="HOST:PORT", help="several processes: process 0's address (it listens there)"
    )
    parser.add_argument("--num-processes", type=number_types["positive"], metavar="N", help="several processes: N")
    parser.add_argument(
        "--process-id", type=non_negative, metavar="I", help="several processes: this one's rank, 0 .. N-1"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="join the processes JAX finds in the environment (SLURM, Open MPI, Kubernetes, a TPU pod); "
        "automatic under srun, mpirun and on a TPU pod",
    )


def device_selection(text: str) -> int | list[int]:
    """`--devices 2` (a count) or `--devices 0,1` (device ids)."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected a device count or comma-separated device ids, got {text!r}")
    values = [int(p) for p in parts]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a device is listed twice in {text!r}")
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"expected a device count of at least 1, got {text!r}")
        return values[0]
    return values


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value
