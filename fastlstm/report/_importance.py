"""The report's "What moves the metric" section: the measured version of the pie chart.

Articles on failing LSTMs guess shares ("learning rate 30 %, preprocessing 25 %");
importance.json (fastlstm/stats/_importance.py) measures them. Each hyperparameter's share
is a bar with its resampling interval; the seeds' share is grey; a share that is not
distinguishable from seed noise is drawn hollow and says so in the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm._common.html import esc, table
from fastlstm.report._plots import WIDTH_IN, _figure, _png

if TYPE_CHECKING:
    from fastlstm.report._html import Page

EFFECT_COLOR, SEED_COLOR, OTHER_COLOR = "#1f77b4", "#9e9e9e", "#c7c7c7"
PLOT_FILE = "importance.png"


def importance_body(page: Page, doc: Mapping[str, Any]) -> str:
    """The bars, a table of the terms and the note on how they were measured."""
    terms = doc["terms"]
    if not isinstance(terms, list) or not terms:
        raise KeyError("terms")
    img = page.figure(PLOT_FILE, f"importance for {doc.get('metric', 'the metric')}", importance_bars, doc)
    rows = [_row(t) for t in terms]
    head = ["term", "share", f"{_level(doc)} interval", "p", "against seed noise"]
    lead = (
        f"<p>{esc(_sentence(doc))}</p>" if doc.get("method") else ""
    )  # which method, over how many configurations and members
    note = f"<p class='note'>{esc(doc.get('note', ''))}</p>"
    return lead + img + table(head, rows) + note


def _level(doc: Mapping[str, Any]) -> str:
    confidence = doc.get("confidence")
    return f"{100 * confidence:.0f}%" if isinstance(confidence, (int, float)) else ""


def _sentence(doc: Mapping[str, Any]) -> str:
    method = {"anova": "fixed-effects ANOVA over the grid", "surrogate": "additive surrogate with a permutation null"}
    how = method.get(str(doc.get("method")), str(doc.get("method")))
    return (
        f"Share of the variance of {doc.get('metric', 'the metric')} across {doc.get('members', '?')} members "
        f"({doc.get('configurations', '?')} configurations): {how}."
    )


def _row(term: Mapping[str, Any]) -> list[str]:
    share, low, high = (_number(term.get(k)) for k in ("share", "low", "high"))
    low, high = max(low, 0.0), min(high, 1.0)  # a share of the variance: shown within [0, 100%]
    interval = f"[{_percent(low)}, {_percent(high)}]" if math.isfinite(low) and math.isfinite(high) else "—"
    p = term.get("p_value")
    distinguishable = term.get("distinguishable")
    verdict = "" if distinguishable is None else ("distinguishable" if distinguishable else "indistinguishable")
    return [
        esc(term["name"]),
        esc(_percent(max(share, 0.0)) if math.isfinite(share) else "—"),
        esc(interval),
        esc("—" if p is None else (f"{p:.2g}" if p >= 0.001 else "< 0.001")),
        esc(verdict),
    ]


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%" if abs(value) < 0.1 else f"{100 * value:.0f}%"


def importance_bars(doc: Mapping[str, Any]) -> bytes:
    """Horizontal bars, largest share on top: effects in blue, hollow (hatched) when
    indistinguishable from seed noise, the seeds' share in grey; whiskers the interval."""
    terms: Sequence[Mapping[str, Any]] = doc["terms"]
    fig, axes = _figure(WIDTH_IN * 0.7, 0.9 + 0.32 * len(terms))
    ax = axes[0, 0]
    rows = list(terms)[::-1]
    shares = np.array([max(_number(t.get("share")), 0.0) for t in rows])
    shares = np.nan_to_num(shares) * 100
    low = np.nan_to_num(np.array([_number(t.get("low")) for t in rows]), nan=0.0) * 100
    high = np.clip(np.nan_to_num(np.array([_number(t.get("high")) for t in rows]), nan=0.0), 0, 1) * 100
    xerr = np.clip([shares - np.clip(low, 0, None), high - shares], 0, None)
    for i, term in enumerate(rows):
        _bar(ax, i, shares[i], term)
    ax.errorbar(shares, np.arange(len(rows)), xerr=xerr, fmt="none", ecolor="#333333", capsize=3, lw=1)
    ax.set_yticks(np.arange(len(rows)), [str(t["name"]) for t in rows], fontsize=8)
    for i, term in enumerate(rows):
        label = f"{shares[i]:.0f}%" + (" indistinguishable from seeds" if term.get("distinguishable") is False else "")
        ax.annotate(
            label,
            (high[i] if high[i] > shares[i] else shares[i], i),
            va="center",
            fontsize=8,
            xytext=(4, 0),
            textcoords="offset points",
        )
    ax.set_xlim(0, max(105.0, float(np.max(high, initial=0)) + 15))
    ax.set_xlabel(f"share of the variance of {doc.get('metric', 'the metric')} (%)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _bar(ax: Any, y: int, share: float, term: Mapping[str, Any]) -> None:
    kind = term.get("kind")
    if kind == "seeds":
        ax.barh(y, share, color=SEED_COLOR)
    elif kind == "lack_of_fit":
        ax.barh(y, share, color=OTHER_COLOR)
    elif term.get("distinguishable") is False:
        ax.barh(y, share, facecolor="white", edgecolor=EFFECT_COLOR, hatch="//")
    else:
        ax.barh(y, share, color=EFFECT_COLOR)
