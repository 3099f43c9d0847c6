"""`fastlstm bench`: fastlstm against PyTorch and Keras on the named workloads, whole processes
timed from start to exit (fastlstm/benchmark/compare.py runs them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from fastlstm.benchmark import compare
from fastlstm.benchmark.systems import SYSTEMS
from fastlstm.cli._arg_types import fraction, non_negative_float, positive_float, positive_int, workload

BENCH_WIDTH = 170  # the bench table's columns, unwrapped


def add_bench_parser(sub: argparse._SubParsersAction) -> None:

    bench = sub.add_parser(
        "bench",
        help="time fastlstm against PyTorch and Keras, each in its own process; table + JSON",
        description="Train the same members of a reference workload in PyTorch (nn.LSTM), Keras 3 and fastlstm "
        "(one member at a time, and all at once), each system in its own process timed from start to exit; "
        "check their answers and report wall time, steady epoch time, samples/s, GFLOP/s and % of the "
        "float32 matmul peak, peak memory and fastlstm's ratios to the others.",
    )
    bench.add_argument(
        "--workload",
        type=workload,
        default="W1",
        metavar="W1|W2|W3",
        help="W1: 64 steps, 64 units; W2: 256 steps, 2x128 units; W3: W1 x 2 learning rates (default W1)",
    )
    bench.add_argument(
        "--members",
        type=positive_int,
        nargs="+",
        default=[1, 8, 32, 128],
        metavar="S",
        help="seeds S to run, one run per system each (default 1 8 32 128)",
    )
    bench.add_argument(
        "--systems",
        nargs="+",
        choices=SYSTEMS,
        default=list(SYSTEMS),
        metavar="SYSTEM",
        help=f"any of {' '.join(SYSTEMS)} (default: all)",
    )
    bench.add_argument(
        "--fastlstm-cache",
        choices=("cold", "warm", "off"),
        default="cold",
        help="fastlstm's on-disk compilation cache: cold (empty, a first run; default), warm (primed), off",
    )
    bench.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default=None,
        help="passed to fl.sweep in the fastlstm workers (default: not passed, i.e. float32)",
    )
    bench.add_argument(
        "--recurrent-impl",
        choices=("auto", "scan", "cudnn"),
        default=None,
        help="passed to fl.sweep in the fastlstm workers (default: not passed, i.e. auto: cuDNN for one member "
        "on a CUDA GPU); the table says what each fastlstm run used",
    )
    bench.add_argument("--json", type=Path, default=None, help="default: fastlstm-bench-<workload>.json here")
    bench.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds per run (default 3600)")
    bench.add_argument(
        "--max-busy", type=fraction, default=0.10, help="CPU share others may use before a run starts (default 0.1)"
    )
    bench.add_argument(
        "--wait-quiet",
        type=non_negative_float,
        default=300.0,
        help="seconds to wait for an idle machine before each run; 0: do not check (default 300)",
    )
    bench.add_argument(
        "--max-others", type=fraction, default=0.10, help="warn when others used more CPU than this (default 0.1)"
    )
    bench.add_argument(
        "--min-accuracy", type=fraction, default=None, help="accuracy floor (default: majority-class rate + 0.02)"
    )
    bench.add_argument(
        "--accuracy-tolerance", type=fraction, default=0.05, help="max spread of mean accuracies (default 0.05)"
    )
    bench.add_argument("--no-peak", action="store_true", help="skip the matmul peak (then no %% of peak)")
    bench.add_argument("--quiet", action="store_true", help="only the table, warnings and where the JSON went")


def run_bench(args: argparse.Namespace, console: Console) -> int:

    args.systems = list(dict.fromkeys(args.systems))  # each once, in the order given
    args.members = list(dict.fromkeys(args.members))
    return compare.run_bench(args, console)
