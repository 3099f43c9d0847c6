"""`fastlstm` command line: a thin layer over the library, one module per command.

- `sweep` (sweep_command.py): seeds x settings of one LSTM; with no arguments 8 seeds of
  the built-in early-cue task with Keras's defaults; `--sources` the variance sources.
- `lr-range` (lr_range_command.py): the learning-rate range test.
- `doctor` (doctor_command.py): data checks, a range test, a seed sweep, the findings,
  and the top recommendation verified by a second sweep.
- `report RUN_DIR` (report_command.py): a run folder's report.html and plots/ drawn again.
- `compare RUN_A RUN_B` (compare_command.py): two runs side by side, with the tests.
- `bench` (fastlstm/benchmark/): fastlstm against PyTorch and Keras on a reference
  workload, each system in its own process; a table and a JSON file.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from rich.console import Console

from fastlstm._common.suggest import did_you_mean
from fastlstm.benchmark import compare
from fastlstm.benchmark.systems import SYSTEMS
from fastlstm.benchmark.workloads import PUBLIC_WORKLOADS, WORKLOADS
from fastlstm.cli._compare import add_compare_parser, run_compare
from fastlstm.cli._doctor import add_doctor_parser, run_doctor
from fastlstm.cli._lr_range import add_lr_range_parser, run_lr_range
from fastlstm.cli._report import add_report_parser, run_report
from fastlstm.cli._sweep import add_sweep_parser, run_sweep
from fastlstm.runtime._driver import SweepHalted

BENCH_WIDTH = 170  # the bench table's columns, unwrapped
OUT_OVERWRITE_HINT = "pass --overwrite"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


_Number = TypeVar("_Number", int, float)


def _number(text: str, kind: Callable[[str], _Number], expected: str) -> _Number:
    """`text` as an int or a finite float: inf and nan would only fail later, after compiling."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}, which is not finite")
    return value


def _finite_float(text: str) -> float:
    return _number(text, float, "a number")


def _positive(text: str) -> int:
    value = _number(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _number(text, float, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    value = _number(text, float, "a fraction between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text, float, "a number >= 0")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _workload(text: str) -> str:

    if text not in WORKLOADS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(PUBLIC_WORKLOADS)}, got {text!r}")
    return text


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
        type=_workload,
        default="W1",
        metavar="W1|W2|W3",
        help="W1: 64 steps, 64 units; W2: 256 steps, 2x128 units; W3: W1 x 2 learning rates (default W1)",
    )
    bench.add_argument(
        "--members",
        type=_positive,
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
    bench.add_argument("--timeout", type=_positive_float, default=3600.0, help="seconds per run (default 3600)")
    bench.add_argument(
        "--max-busy", type=_fraction, default=0.10, help="CPU share others may use before a run starts (default 0.1)"
    )
    bench.add_argument(
        "--wait-quiet",
        type=_non_negative_float,
        default=300.0,
        help="seconds to wait for an idle machine before each run; 0: do not check (default 300)",
    )
    bench.add_argument(
        "--max-others", type=_fraction, default=0.10, help="warn when others used more CPU than this (default 0.1)"
    )
    bench.add_argument(
        "--min-accuracy", type=_fraction, default=None, help="accuracy floor (default: majority-class rate + 0.02)"
    )
    bench.add_argument(
        "--accuracy-tolerance", type=_fraction, default=0.05, help="max spread of mean accuracies (default 0.05)"
    )
    bench.add_argument("--no-peak", action="store_true", help="skip the matmul peak (then no %% of peak)")
    bench.add_argument("--quiet", action="store_true", help="only the table, warnings and where the JSON went")


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2) instead of the whole usage,
    with a 'did you mean' for a misspelt flag or choice, and choices read in any case
    (`--optimizer Adam` is adam)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        choices = kwargs.get("choices")
        if choices is not None and "type" not in kwargs and all(isinstance(c, str) for c in choices):
            kwargs["type"] = _any_case(choices)
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}{_suggestion(self, message)} (see {self.prog} --help)\n")


def _any_case(choices: Sequence[str]) -> Callable[[str], str]:
    """A type that maps 'Adam' to the choice 'adam' (and leaves unknown text for argparse to refuse)."""
    canonical = {c.lower(): c for c in choices}
    return lambda text: canonical.get(text.lower(), text)


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """' (did you mean '--epochs'?)' for an unrecognized flag or an invalid choice."""

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        return did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
    flags = re.findall(r"(--[\w-]+)", message) if message.startswith("unrecognized arguments") else []
    known = {option for action in _all_actions(parser) for option in action.option_strings}
    return "".join(did_you_mean(flag, known) for flag in flags[:1])


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, with unknown flags reported by the subcommand that got them, so a
    'did you mean' is one of that command's flags (`fastlstm sweep: ... '--epochs'`)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every argument of `parser` and of its subcommands (unknown flags reach the top parser)."""
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                actions += _all_actions(sub)
    return actions


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="fastlstm", description="Batched multi-seed LSTM sweeps in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    numbers = {"positive": _positive, "finite": _finite_float, "positive_float": _positive_float}
    add_sweep_parser(sub, numbers)
    add_lr_range_parser(sub, numbers)
    add_doctor_parser(sub, numbers)
    add_bench_parser(sub)
    add_compare_parser(sub)
    add_report_parser(sub)
    return parser


def run_bench(args: argparse.Namespace, console: Console) -> int:

    args.systems = list(dict.fromkeys(args.systems))  # each once, in the order given
    args.members = list(dict.fromkeys(args.members))
    return compare.run_bench(args, console)


def _one_line_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> str:
    """A warning on the command line is one line, without the source line it came from."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A bad argument, config, data file or output path, or a missing optional
    dependency, found before or after training, is one line on stderr and exit 2; Ctrl-C is
    one line and exit 130; neither prints a traceback."""
    args = _parse(build_parser(), argv)
    previous, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return _run_command(args)
    finally:
        warnings.formatwarning = previous  # main() may be called from Python (tests, notebooks)


def _still_resumable(args: argparse.Namespace) -> str:
    """The resume hint when Ctrl-C stopped `sweep --resume RUN` before training: the
    checkpoint it was resuming is still there, and the user should know it is."""
    run = getattr(args, "resume", None) if args.command == "sweep" else None
    if run is not None and (Path(run) / "checkpoint" / "progress.json").is_file():
        return f"; continue with: fastlstm sweep --resume {run}"
    return ""


def _run_command(args: argparse.Namespace) -> int:
    console = Console(width=max(Console().width, BENCH_WIDTH)) if args.command == "bench" else Console()
    try:
        return COMMANDS[args.command](args, console)
    except (ValueError, OSError, ImportError) as err:  # ImportError: an optional dependency (pip install ...)
        text = " ".join(str(err).split()) or type(err).__name__  # one line, whatever the cause wrote
        print(f"fastlstm {args.command}: error: {text}", file=sys.stderr)  # plain print: paths may hold [markup]
        return 2
    except KeyboardInterrupt:  # before training took the signal over (reading, compiling)
        print(f"fastlstm {args.command}: interrupted{_still_resumable(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SweepHalted as err:  # after Ctrl-C or SIGTERM, with the checkpoint saved
        print(f"fastlstm {args.command}: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED


# subcommand -> its runner (args, console) -> exit code
COMMANDS = {
    "sweep": run_sweep,
    "lr-range": run_lr_range,
    "doctor": run_doctor,
    "bench": run_bench,
    "compare": run_compare,
    "report": run_report,
}

if __name__ == "__main__":
    sys.exit(main())
