"""`fastlstm` command line: a thin layer over the library, one module per command.

The arguments are parsed before anything of the library is imported (fastlstm/cli/_parser.py:
`--help` and a bad flag answer without loading JAX); then the command's module is imported
and its runner called.

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
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fastlstm.cli._parser import build_parser, parse

if TYPE_CHECKING:
    from rich.console import Console

OUT_OVERWRITE_HINT = "pass --overwrite"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C

# subcommand -> "module:function" of its runner (args, console) -> exit code, imported once the
# arguments parse: the parser needs no more than argparse (fastlstm/cli/_parser.py)
COMMANDS = {
    "sweep": "fastlstm.cli._sweep:run_sweep",
    "lr-range": "fastlstm.cli._lr_range:run_lr_range",
    "doctor": "fastlstm.cli._doctor:run_doctor",
    "bench": "fastlstm.cli._bench:run_bench",
    "compare": "fastlstm.cli._compare:run_compare",
    "report": "fastlstm.cli._report:run_report",
    "importance": "fastlstm.cli._importance:run_importance",
}


def _one_line_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> str:
    """A warning on the command line is one line, without the source line it came from."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A bad argument, config, data file or output path, or a missing optional
    dependency, found before or after training, is one line on stderr and exit 2; Ctrl-C is
    one line and exit 130; neither prints a traceback."""
    args = parse(build_parser(), argv)
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


def _runner(command: str) -> Callable[[argparse.Namespace, Console], int]:
    """The command's runner, its module imported now (the library, JAX included, with it)."""
    import fastlstm

    fastlstm._configure_host_devices()  # a bad FASTLSTM_CPU_DEVICES is this command's error
    module, _, name = COMMANDS[command].partition(":")
    runner: Callable[[argparse.Namespace, Console], int] = getattr(importlib.import_module(module), name)
    return runner


def _console(command: str) -> Console:
    from rich.console import Console

    if command != "bench":
        return Console()
    from fastlstm.cli._bench import BENCH_WIDTH

    return Console(width=max(Console().width, BENCH_WIDTH))


def _run_command(args: argparse.Namespace) -> int:
    try:
        runner = _runner(args.command)
        return runner(args, _console(args.command))
    except (ValueError, OSError, ImportError) as err:  # ImportError: an optional dependency (pip install ...)
        text = " ".join(str(err).split()) or type(err).__name__  # one line, whatever the cause wrote
        print(f"fastlstm {args.command}: error: {text}", file=sys.stderr)  # plain print: paths may hold [markup]
        return 2
    except KeyboardInterrupt:  # before training took the signal over (importing, reading, compiling)
        print(f"fastlstm {args.command}: interrupted{_still_resumable(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as err:
        from fastlstm.runtime._driver import SweepHalted  # imported already: the runner raised it

        if not isinstance(err, SweepHalted):
            raise
        # after Ctrl-C or SIGTERM, with the checkpoint saved
        print(f"fastlstm {args.command}: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
