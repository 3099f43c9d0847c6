"""The summary as rich tables for the terminal (`fastlstm sweep`).

Same cells and layouts as the plain text (layout.py), chosen for the width rich
renders at: 80 columns when stdout is a pipe or a log file. The layout is picked so
the tables fit, and every column is at least as wide as its header, so no header
or setting is cut to "learning…".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from fastlstm.stats._text import GAP, Block, blocks_for_width, interval_legend, summary_notes

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult
    from fastlstm.stats import Summary


class SummaryTables:
    """A renderable: the tables for the width it is printed at, the legend and any notes."""

    def __init__(self, summary: Summary):
        self.summary = summary

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.summary:
            yield Text("(no configurations)")
            return
        for block in blocks_for_width(self.summary, options.max_width):
            yield _table(block, options.max_width)
            yield from (Text(footnote) for footnote in block.footnotes)
            yield Text("")
        yield Text(interval_legend(self.summary), style="dim")
        for note in summary_notes(self.summary):
            yield Text(note, style="yellow")


def summary_table(result: SweepResult | Summary) -> SummaryTables:
    """The spread across seeds of a sweep (or of its `summary()`), ready for `console.print`."""
    summary: Summary = result.summary() if hasattr(result, "summary") else result
    return SummaryTables(summary)


def _table(block: Block, max_width: int) -> Table:
    table = Table(
        title=block.title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, GAP - 1, 0, 0),  # plus the blank column separator: GAP spaces, as in the plain text
    )
    fits = block.width() <= max_width
    for i, (header, width) in enumerate(zip(block.headers, block.widths())):
        # at least the header's width, so rich never cuts it to "learning…"; where it fits, the plain text's
        minimum = width if fits else len(header)
        table.add_column(header, justify="left" if i < block.text_columns else "right", min_width=minimum)
    for row in block.rows:
        table.add_row(*row)
    return table
