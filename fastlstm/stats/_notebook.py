"""Notebook reprs of the statistics a user holds: a `Summary` and a `Ranking` (`compare()`).

One line for `__repr__` (what it is and its headline), the report's tables for
`_repr_html_`; the classes keep two-line delegations so the wording lives here."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fastlstm._common.html import esc, table
from fastlstm.stats._text import config_label, headline_metric, ranked_configs

if TYPE_CHECKING:
    from fastlstm.stats._ranking import Ranking
    from fastlstm.stats._summary import Summary

STYLE = "<style>.fastlstm td,.fastlstm th{text-align:left;padding:0 .6em}</style>"


def count_of(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def fmt_number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def titled_div(title: str, body: str) -> str:
    return f'<div class="fastlstm">{STYLE}<p><b>{esc(title)}</b></p>{body}</div>'


def summary_repr(summary: Summary) -> str:
    """'<Summary: 9 configurations x 8 seeds, metrics ...; best mean val_accuracy 0.94 (learning_rate 0.018)>'."""
    if not summary:
        return "<Summary: no configurations>"
    seeds = max(int(r.get("seeds", 0)) for r in summary)
    head = f"<Summary: {count_of(len(summary), 'configuration')} x {count_of(seeds, 'seed')}"
    metric = headline_metric(summary)
    if metric is None:
        return head + ">"
    row = next(r for r in summary if r["config"] == ranked_configs(summary, metric)[0])
    label = config_label({k: row[k] for k in summary.grid_keys if k in row}) or "one configuration"
    return f"{head}; best mean {metric} {fmt_number(row.get(f'{metric}_mean'))} ({label}); print() for the tables>"


def summary_html(summary: Summary) -> str:
    """One table per metric: settings, seeds, mean ± std, 95% CI of the mean, min … max."""
    if not summary:
        return titled_div("Summary", "<p>(no configurations)</p>")
    tables = []
    for metric in summary.metrics:
        rows = [
            [
                config_label({k: r[k] for k in summary.grid_keys if k in r}) or "(one configuration)",
                str(r.get("seeds", "")),
                f"{fmt_number(r.get(f'{metric}_mean'))} ± {fmt_number(r.get(f'{metric}_std'))}",
                f"[{fmt_number(r.get(f'{metric}_ci_low'))}, {fmt_number(r.get(f'{metric}_ci_high'))}]",
                f"{fmt_number(r.get(f'{metric}_min'))} … {fmt_number(r.get(f'{metric}_max'))}",
            ]
            for r in summary
        ]
        headers = ["configuration", "seeds", "mean ± std", "95% CI of mean", "min … max"]
        rows = [[esc(cell) for cell in row] for row in rows]
        tables.append(f"<p>{esc(metric)}</p>{table(headers, rows)}")
    return titled_div("Spread across seeds", "".join(tables))


def ranking_repr(ranking: Ranking) -> str:
    """'<Ranking by val_loss (lower is better), 9 configurations: best 3 (...) 0.19; 2 not distinguishable>'."""
    if not ranking:
        return "<Ranking: no configurations>"
    direction = "higher" if ranking.higher_is_better else "lower"
    top = ranking[0]
    label = _ranking_label(ranking, top)
    tied = sum(1 for r in ranking[1:] if "not distinguishable" in str(r.get("verdict", "")))
    return (
        f"<Ranking by {ranking.metric} ({direction} is better), {count_of(len(ranking), 'configuration')}: "
        f"best {top.get('config')} ({label}) mean {fmt_number(top.get('mean'))}; {tied} not distinguishable from it; "
        "print() for the tests>"
    )


def _ranking_label(ranking: Ranking, row: dict[str, Any]) -> str:
    return config_label({k: row[k] for k in ranking.grid_keys if k in row}) or "(one configuration)"


def ranking_html(ranking: Ranking) -> str:
    """The ranking's rows: configuration, seeds, mean and its CI, adjusted p, verdict."""
    rows = [
        [
            str(r.get("config")),
            _ranking_label(ranking, r),
            str(r.get("n", "")),
            fmt_number(r.get("mean")),
            f"[{fmt_number(r.get('ci_low'))}, {fmt_number(r.get('ci_high'))}]",
            fmt_number(r.get("p_adj")),
            str(r.get("verdict", "")),
        ]
        for r in ranking
    ]
    rows = [[esc(cell) for cell in row] for row in rows]
    headers = ["#", "configuration", "seeds", f"mean {esc(ranking.metric)}", "95% CI", "p (adjusted)", "verdict"]
    notes = "".join(f"<p>{esc(n)}</p>" for n in getattr(ranking, "notes", []))
    return titled_div(ranking_repr(ranking).strip("<>").split(";")[0], table(headers, rows) + notes)
