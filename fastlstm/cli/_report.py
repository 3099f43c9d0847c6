"""`fastlstm report RUN_DIR`: draw report.html and plots/*.png again from a run folder.

For a folder written with `save(..., report=False)`, after an upgrade of fastlstm, or
after analysis documents were added. Only the report's own files are rewritten (each
under a temporary name, then renamed); result.json and the rest are never touched.
A path that is not a finished run folder is one line on stderr and exit 2 (cli.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from fastlstm._common.files import MARKER, NotAResultFolderError, is_fastlstm_folder
from fastlstm.results import rebuild_report


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="rebuild report.html and its plots in a run folder",
        description="Draw report.html (self-contained, offline) and plots/*.png again from a run folder's "
        "files alone: the configuration, the summary with its intervals, learning curves, final metrics and "
        "any analysis documents (lr_range.json, variance_sources.json, findings.json). No other file changes.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run folder")


def run_report(args: argparse.Namespace, console: Console) -> int:

    folder = args.run_dir
    if not folder.is_dir():
        raise NotAResultFolderError(
            f"RUN_DIR {str(folder)!r}: {'no such folder' if not folder.exists() else 'is not a folder'}"
        )
    if not is_fastlstm_folder(folder):
        raise NotAResultFolderError(f"RUN_DIR {str(folder)!r}: not a fastlstm run folder (no {MARKER} marker)")
    page = rebuild_report(folder)
    console.print(f"report: {page}", highlight=False, soft_wrap=True)
    return 0
