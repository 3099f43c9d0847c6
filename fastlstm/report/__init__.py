"""Human-readable reports of a sweep: plain text (logs, `str(summary)`) and rich tables (the CLI).

Both are built from the same cells (`layout.py`) and fit in 80 columns for the
usual grid of one or two settings, so a log file reads like the terminal.
"""

from fastlstm.report._terminal import summary_table
from fastlstm.stats._text import metric_blocks, short_number, summary_notes, summary_text

__all__ = ["metric_blocks", "short_number", "summary_notes", "summary_table", "summary_text"]
