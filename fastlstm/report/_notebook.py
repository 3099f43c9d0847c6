"""Short reprs and notebook HTML for the objects a user holds: a result, its summary, its
ranking (`compare()`), findings and a leaderboard.

In a notebook the last expression is shown by `_repr_html_` (or `__repr__`): a dataclass
repr of a `SweepResult` dumped every array, a `Summary` printed as a list of dicts. Each
repr here is one line that says what the object is and its headline; the HTML is the
report's own tables (and, for a result, its learning curves) inline. The classes keep
only two-line delegations, so the wording lives in one place beside report.html's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastlstm.report import _html as html
from fastlstm.report._html import esc, finding_card
from fastlstm.stats._notebook import STYLE, count_of, summary_html, titled_div

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult

# --- SweepResult ------------------------------------------------------------------------------


def result_repr(result: SweepResult) -> str:
    """'<SweepResult: 72 members = 9 configurations x 8 seeds, binary, 15 epochs; 48 pruned>'."""
    members, configs = len(result.members), max(len(result.configs), 1)
    epochs = next(iter(result.history.values())).shape[1] if result.history else 0
    statuses: dict[str, int] = {}
    for m in result.members:
        statuses[m["status"]] = statuses.get(m["status"], 0) + 1
    unusual = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()) if s not in ("ok", "finished", "stopped"))
    metrics = ", ".join(n for n in result.history if n != "learning_rate")
    head = (
        f"<SweepResult: {members} members = {count_of(len(result.configs), 'configuration')} x "
        f"{count_of(members // configs, 'seed')}, {result.meta.get('task')}, {epochs} epochs; metrics {metrics}"
    )
    return head + (f"; {unusual}" if unusual else "") + ">"


def result_html(result: SweepResult) -> str:
    """The report's header, summary table and learning curves (no run-folder facts)."""

    summary = result.summary()
    metric = html.headline_metric(summary)
    shown, note = html.shown_configs(summary, metric, html.MAX_CURVE_CONFIGS)
    page = html.Page()
    parts = [
        f"<p>{esc(result_repr(result))}</p>",
        f"<p>{esc(html.leader(summary))}</p>" if html.leader(summary) else "",
        summary_html(summary),
        html.curves_section(page, result, shown, note),
    ]
    return f'<div class="fastlstm">{STYLE}{"".join(parts)}</div>'


# --- Summary ----------------------------------------------------------------------------------


# --- Ranking (result.compare()) ----------------------------------------------------------------


# --- Findings ---------------------------------------------------------------------------------


def findings_repr(findings: Sequence[Any]) -> str:
    """'<Findings: 2 (1 warning, 1 info): train.overfit, lr.too_low>'."""
    if not findings:
        return "<Findings: none>"
    severities: dict[str, int] = {}
    for f in findings:
        severities[f.severity] = severities.get(f.severity, 0) + 1
    counts = ", ".join(count_of(n, s) for s, n in severities.items())
    return f"<Findings: {len(findings)} ({counts}): {', '.join(f.id for f in findings)}>"


def findings_html(findings: Sequence[Any]) -> str:
    """The report's finding cards: id, severity, evidence, recommendation, change."""

    if not findings:
        return titled_div("Findings", "<p>No findings: nothing in the checks looked wrong.</p>")
    return titled_div(findings_repr(findings).strip("<>"), "".join(finding_card(f.to_dict()) for f in findings))


__all__ = [
    "findings_html",
    "findings_repr",
    "result_html",
    "result_repr",
    "summary_html",
]
