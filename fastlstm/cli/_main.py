"""`fastlstm` command line: a thin layer over the library, one module per command.

- `sweep` (sweep_command.py): seeds x settings of one LSTM; with no arguments 8 seeds of
  the built-in early-cue task with Keras's defaults; `--sources` the variance sources.
- `lr-range` (lr_range_command.py): the learning-rate range test.
- `doctor` (doctor_command.py): data checks, a range test, a seed sweep, the findings,
  and the top recommendation verified by a second sweep.
- `report RUN_DIR` (report_command.py): a run folder's report.html and plots/ drawn again.
- `compare RUN_A RUN_B` (compare_command.py): two runs side by side, with the tests.
- `importance RUN_DIR` (_importance.py): each hyperparameter's share of the metric beside the seeds'.
- `bench` (fastlstm/benchmark/): fastlstm against PyTorch and Keras on a reference
  workload, each system in its own process; a table and a JSON file.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from fastlstm._common.suggest import did_you_mean
from fastlstm.cli._arg_types import finite_float, positive_float, positive_int
from fastlstm.cli._bench import BENCH_WIDTH, add_bench_parser, run_bench
from fastlstm.cli._compare import add_compare_parser, run_compare
from fastlstm.cli._doctor import add_doctor_parser, run_doctor
from fastlstm.cli._importance import add_importance_parser, run_importance
from fastlstm.cli._lr_range import add_lr_range_parser, run_lr_range
from fastlstm.cli._report import add_report_parser, run_report
from fastlstm.cli._sweep import add_sweep_parser, run_sweep
from fastlstm.runtime._driver import SweepHalted

OUT_OVERWRITE_HINT = "pass --overwrite"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


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
    numbers = {"positive": positive_int, "finite": finite_float, "positive_float": positive_float}
    add_sweep_parser(sub, numbers)
    add_lr_range_parser(sub, numbers)
    add_doctor_parser(sub, numbers)
    add_bench_parser(sub)
    add_compare_parser(sub)
    add_report_parser(sub)
    add_importance_parser(sub)
    return parser


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
    "importance": run_importance,
}

if __name__ == "__main__":
    sys.exit(main())
