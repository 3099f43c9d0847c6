"""`fastlstm doctor`: check the data, run a range test and a seed sweep, say what is wrong,
and verify the top recommendation with a second sweep.

The configuration and data come as for `fastlstm sweep` (CONFIG.toml or the built-in
task, `--data FILE`, the model and fit flags, `--set`); `--seeds` is doctor's own (the
seeds of each of its sweeps). Findings are not errors: doctor exits 0 when it ran and 2
when it could not (a bad flag, config, data file or output folder: one line on stderr).
`--json` prints `{"findings": [...], "verification": {...}}` alone on stdout; `--out DIR`
writes the seed sweep's run folder with findings.json, lr_range.json and the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.text import Text

from fastlstm._common.files import check_output_folder
from fastlstm.analysis._doctor import DOCTOR_SEEDS, doctor
from fastlstm.api._sweep import read_spec_data
from fastlstm.cli._args import add_output_arguments, add_spec_arguments, add_spec_flag, learning_rate_argument
from fastlstm.cli._sweep import OUT_OVERWRITE_HINT, save_run_folder, spec_without
from fastlstm.results._run_folder import strict_json

if TYPE_CHECKING:
    from fastlstm.analysis._doctor import Diagnosis


def add_doctor_parser(sub: argparse._SubParsersAction, number_types: dict[str, Any]) -> None:

    doc = sub.add_parser(
        "doctor",
        help="diagnose an LSTM set-up: data checks, a range test, a seed sweep, and a verified fix",
        description="Check the data, run a learning-rate range test and a seed sweep of the configuration "
        "(each one batched run), list what is wrong with the numbers behind it, then train the top "
        "recommendation as a second sweep with the same seeds and report before/after.",
    )
    add_spec_arguments(doc, number_types)
    learning_rate_argument(doc, number_types)
    doc.add_argument(
        "--seeds", type=number_types["positive"], default=DOCTOR_SEEDS, help=f"seeds per sweep (default {DOCTOR_SEEDS})"
    )
    add_spec_flag(doc, "epochs", number_types, help="epochs of each sweep")
    doc.add_argument("--no-verify", action="store_true", help="list the findings, do not train the fix")
    add_output_arguments(doc, "write the seed sweep's run folder there (findings, range test, report)")


def run_doctor(args: argparse.Namespace, console: Console) -> int:
    """Resolve the spec, read the data, check --out, diagnose, print, write."""

    spec = spec_without(args, own=("seeds",))
    if args.seeds < 2:
        raise ValueError(f"--seeds must be at least 2 (a spread needs two seeds), got {args.seeds}")
    if args.out is not None:
        check_output_folder(args.out, args.overwrite, name="--out", overwrite_hint=OUT_OVERWRITE_HINT)
    fit, loaded, description = read_spec_data(spec)
    log = Console(file=sys.stderr) if args.json else console
    log.print(f"fastlstm doctor on {description}: {args.seeds} seeds per sweep", highlight=False, soft_wrap=True)
    start = time.perf_counter()
    verbose = 0 if args.quiet or args.json else 1
    names = getattr(loaded, "feature_names", None)
    found = doctor(spec, **fit, seeds=args.seeds, verify=not args.no_verify, verbose=verbose, feature_names=names)
    print_diagnosis(found, log, verified=not args.no_verify)
    log.print(f"doctor ran in {time.perf_counter() - start:.1f} s (compilation included)", highlight=False)
    if args.json:
        sys.stdout.write(strict_json(found.to_dict(), indent=None) + "\n")
    if args.out is not None and found.before is not None:
        save_run_folder(found.before, args.out, args.overwrite, loaded, log)
    return 0


def print_diagnosis(found: Diagnosis, console: Console, verified: bool = True) -> None:
    """The range test's choice, the as-given sweep's score, the findings, and the
    verification's before/after (or, with --no-verify, the change it would train)."""
    if found.lr_range is not None:
        doc = found.lr_range.to_dict()
        console.print(
            f"learning-rate range test ({doc.get('steps', '?')} optimizer steps): largest stable "
            f"{_lr(doc.get('largest_stable'))}, recommended {_lr(doc.get('recommended'))}",
            highlight=False,
        )
    score = found.score()
    if score is not None:
        console.print(f"as given: {score}", highlight=False, markup=False)
    if found.findings:
        console.print(Text(str(found.findings)))
    else:
        console.print("no findings: the data checks, the range test and the seed sweep raised nothing")
    _print_verification(found, console, verified)


def _print_verification(found: Diagnosis, console: Console, verified: bool) -> None:
    verification, top = found.verification, found.top()
    if verification is None and found.before is not None:
        if top is None:
            console.print("nothing to verify: no warning or error names a change to try")
        elif not verified:
            changes = cast("dict[str, Any]", top.change)  # top() picks a finding with a change
            change = ", ".join(f"{k}={v}" for k, v in changes.items())
            console.print(f"not verified (--no-verify): {top.id}'s change would be {change}", highlight=False)
    if verification is not None and verification.get("skipped"):
        console.print(Text(f"{verification['finding']}: {verification['text']}", style="bold"))
    elif verification is not None:
        change = ", ".join(f"{k}={v}" for k, v in (verification.get("change") or {}).items())
        head = f"verified {verification['finding']}" + (f" ({change})" if change else "")
        console.print(Text(f"{head}: {verification['text']}", style="bold"))
        if verification.get("note"):
            console.print(f"note: {verification['note']}", highlight=False, markup=False, soft_wrap=True)


def _lr(value: object) -> str:
    return "none" if value is None else f"{value:.3g}"
