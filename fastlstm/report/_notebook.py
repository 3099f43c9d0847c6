"""Short reprs and notebook HTML for the objects a user holds: a result, its summary, its
ranking (`compare()`), findings and a leaderboard.

In a notebook the last expression is shown by `_repr_html_` (or `__repr__`): a dataclass
repr of a `SweepResult` dumped every array, a `Summary` printed as a list of dicts. Each
repr here is one line that says what the object is and its headline; the HTML is the
report's own tables (and, for a result, its learning curves) inline. The classes keep
only two-line delegations, so the wording lives in one place beside report.html's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastlstm.report._html import config_label, esc, table

STYLE = "<style>.fastlstm td,.fastlstm th{text-align:left;padding:0 .6em}</style>"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def _div(title: str, body: str) -> str:
    return f'<div class="fastlstm">{STYLE}<p><b>{esc(title)}</b></p>{body}</div>'


# --- SweepResult ------------------------------------------------------------------------------


def result_repr(result: Any) -> str:
    """'<SweepResult: 72 members = 9 configurations x 8 seeds, binary, 15 epochs; 48 pruned>'."""
    members, configs = len(result.members), max(len(result.configs), 1)
    epochs = next(iter(result.history.values())).shape[1] if result.history else 0
    statuses: dict[str, int] = {}
    for m in result.members:
        statuses[m["status"]] = statuses.get(m["status"], 0) + 1
    unusual = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()) if s not in ("ok", "finished", "stopped"))
    metrics = ", ".join(n for n in result.history if n != "learning_rate")
    head = (
        f"<SweepResult: {members} members = {_count(len(result.configs), 'configuration')} x "
        f"{_count(members // configs, 'seed')}, {result.meta.get('task')}, {epochs} epochs; metrics {metrics}"
    )
    return head + (f"; {unusual}" if unusual else "") + ">"


def result_html(result: Any) -> str:
    """The report's header, summary table and learning curves (no run-folder facts)."""
    from fastlstm.report import _html as html

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


def summary_repr(summary: Any) -> str:
    """'<Summary: 9 configurations x 8 seeds, metrics ...; best mean val_accuracy 0.94 (learning_rate 0.018)>'."""
    if not summary:
        return "<Summary: no configurations>"
    from fastlstm.report._html import headline_metric, ranked_configs

    seeds = max(int(r.get("seeds", 0)) for r in summary)
    head = f"<Summary: {_count(len(summary), 'configuration')} x {_count(seeds, 'seed')}"
    metric = headline_metric(summary)
    if metric is None:
        return head + ">"
    row = next(r for r in summary if r["config"] == ranked_configs(summary, metric)[0])
    label = config_label({k: row[k] for k in summary.grid_keys if k in row}) or "one configuration"
    return f"{head}; best mean {metric} {_fmt(row.get(f'{metric}_mean'))} ({label}); print() for the tables>"


def summary_html(summary: Any) -> str:
    """One table per metric: settings, seeds, mean ± std, 95% CI of the mean, min … max."""
    if not summary:
        return _div("Summary", "<p>(no configurations)</p>")
    tables = []
    for metric in summary.metrics:
        rows = [
            [
                config_label({k: r[k] for k in summary.grid_keys if k in r}) or "(one configuration)",
                str(r.get("seeds", "")),
                f"{_fmt(r.get(f'{metric}_mean'))} ± {_fmt(r.get(f'{metric}_std'))}",
                f"[{_fmt(r.get(f'{metric}_ci_low'))}, {_fmt(r.get(f'{metric}_ci_high'))}]",
                f"{_fmt(r.get(f'{metric}_min'))} … {_fmt(r.get(f'{metric}_max'))}",
            ]
            for r in summary
        ]
        headers = ["configuration", "seeds", "mean ± std", "95% CI of mean", "min … max"]
        rows = [[esc(cell) for cell in row] for row in rows]
        tables.append(f"<p>{esc(metric)}</p>{table(headers, rows)}")
    return _div("Spread across seeds", "".join(tables))


# --- Ranking (result.compare()) ----------------------------------------------------------------


def ranking_repr(ranking: Any) -> str:
    """'<Ranking by val_loss (lower is better), 9 configurations: best 3 (...) 0.19; 2 not distinguishable>'."""
    if not ranking:
        return "<Ranking: no configurations>"
    direction = "higher" if ranking.higher_is_better else "lower"
    top = ranking[0]
    label = _ranking_label(ranking, top)
    tied = sum(1 for r in ranking[1:] if "not distinguishable" in str(r.get("verdict", "")))
    return (
        f"<Ranking by {ranking.metric} ({direction} is better), {_count(len(ranking), 'configuration')}: "
        f"best {top.get('config')} ({label}) mean {_fmt(top.get('mean'))}; {tied} not distinguishable from it; "
        "print() for the tests>"
    )


def _ranking_label(ranking: Any, row: dict[str, Any]) -> str:
    return config_label({k: row[k] for k in ranking.grid_keys if k in row}) or "(one configuration)"


def ranking_html(ranking: Any) -> str:
    """The ranking's rows: configuration, seeds, mean and its CI, adjusted p, verdict."""
    rows = [
        [
            str(r.get("config")),
            _ranking_label(ranking, r),
            str(r.get("n", "")),
            _fmt(r.get("mean")),
            f"[{_fmt(r.get('ci_low'))}, {_fmt(r.get('ci_high'))}]",
            _fmt(r.get("p_adj")),
            str(r.get("verdict", "")),
        ]
        for r in ranking
    ]
    rows = [[esc(cell) for cell in row] for row in rows]
    headers = ["#", "configuration", "seeds", f"mean {esc(ranking.metric)}", "95% CI", "p (adjusted)", "verdict"]
    notes = "".join(f"<p>{esc(n)}</p>" for n in getattr(ranking, "notes", []))
    return _div(ranking_repr(ranking).strip("<>").split(";")[0], table(headers, rows) + notes)


# --- Findings ---------------------------------------------------------------------------------


def findings_repr(findings: Sequence[Any]) -> str:
    """'<Findings: 2 (1 warning, 1 info): train.overfit, lr.too_low>'."""
    if not findings:
        return "<Findings: none>"
    severities: dict[str, int] = {}
    for f in findings:
        severities[f.severity] = severities.get(f.severity, 0) + 1
    counts = ", ".join(_count(n, s) for s, n in severities.items())
    return f"<Findings: {len(findings)} ({counts}): {', '.join(f.id for f in findings)}>"


def findings_html(findings: Sequence[Any]) -> str:
    """The report's finding cards: id, severity, evidence, recommendation, change."""
    from fastlstm.report._html import finding_card

    if not findings:
        return _div("Findings", "<p>No findings: nothing in the checks looked wrong.</p>")
    return _div(findings_repr(findings).strip("<>"), "".join(finding_card(f.to_dict()) for f in findings))


__all__ = [
    "findings_html",
    "findings_repr",
    "ranking_html",
    "ranking_repr",
    "result_html",
    "result_repr",
    "summary_html",
    "summary_repr",
]
