"""The report's "Seeds as an ensemble" section: each configuration's members averaged into one
model (ensemble.json, fastlstm/results/_ensemble.py), its validation numbers beside the mean
member's, and for classification the calibration of both: NLL, ECE (15 bins) and a
reliability diagram (accuracy against confidence per bin; the diagonal is perfect calibration).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm._common.html import esc, table
from fastlstm.report._plots import WIDTH_IN, _figure, _png
from fastlstm.stats._text import config_label

if TYPE_CHECKING:
    from fastlstm.report._html import Page

PLOT_FILE = "reliability.png"
MAX_ROWS = 16  # configurations in the table, best ensemble first
MAX_PANELS = 3  # reliability diagrams side by side, best ensemble first
ENSEMBLE_COLOR, MEMBER_COLOR = "#1f77b4", "#ff7f0e"


def ranked_configs(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Configurations with a usable member, best ensemble headline number first."""
    name, sign = doc["headline"], -1.0 if doc.get("higher_is_better") else 1.0
    rows = [r for r in doc["configs"] if r.get("used") and r["ensemble"].get(name) is not None]
    return sorted(rows, key=lambda r: (sign * float(r["ensemble"][name]), r["config"]))


def ensemble_body(page: Page, doc: Mapping[str, Any]) -> str:
    """The table (ensemble vs mean member), the reliability diagrams, the notes."""
    rows = ranked_configs(doc)
    if not rows:
        return "<p>No configuration has a usable member (every member diverged).</p>"
    name, calibrated = doc["headline"], bool(doc.get("calibration"))
    head = ["configuration", "members", f"val_{name}: ensemble", "mean member"]
    if calibrated:
        head += ["NLL: ensemble", "mean member", "ECE: ensemble", "mean member"]
    body = table(head, [_row(r, name, calibrated) for r in rows[:MAX_ROWS]])
    more = len(rows) - MAX_ROWS
    lead = (
        f"<p>Each configuration's seeds averaged ({esc(doc.get('averaged', 'outputs'))}) on "
        f"{esc(doc.get('rows', '?'))} validation rows, against the mean of its members' own numbers.</p>"
    )
    figure = ""
    if calibrated:
        alt = "reliability diagrams: accuracy against confidence"
        figure = page.figure(PLOT_FILE, alt, reliability_diagram, doc, rows[:MAX_PANELS])
    tail = f"<p class='note'>{more} more configurations in ensemble.json.</p>" if more > 0 else ""
    notes = "".join(f"<p class='note'>{esc(n)}</p>" for n in doc.get("notes") or [])
    return lead + body + tail + figure + notes


def _row(row: Mapping[str, Any], name: str, calibrated: bool) -> list[str]:
    settings = config_label(row.get("settings") or {}) or "—"
    cells = [
        esc(f"{row['config']}: {settings}"),
        esc(len(row["used"])),
        esc(_number(row["ensemble"].get(name))),
        esc(_number(row["mean_member"].get(name))),
    ]
    if calibrated:
        for key in ("nll", "ece"):
            cells += [esc(_number(row[key]["ensemble"])), esc(_number(row[key]["mean_member"]))]
    return cells


def _number(value: object) -> str:
    return "—" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.4g}"


def reliability_diagram(doc: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Per configuration, accuracy against mean confidence per bin for the ensemble and for
    the members pooled; the diagonal is perfect calibration, bars show how many rows a bin has."""
    fig, axes = _figure(min(WIDTH_IN, 3.6 * len(rows)), 3.4, 1, len(rows))
    for ax, row in zip(axes[0], rows):
        for label, key, color in (
            ("ensemble", "ensemble", ENSEMBLE_COLOR),
            ("members", "members_pooled", MEMBER_COLOR),
        ):
            bins = row["reliability"][key]
            confidence, accuracy = (
                np.array([math.nan if v is None else v for v in bins[k]], float) for k in ("confidence", "accuracy")
            )
            shown = np.isfinite(confidence) & np.isfinite(accuracy)
            ax.plot(
                confidence[shown],
                accuracy[shown],
                "o-",
                color=color,
                ms=3,
                label=f"{label} (ECE {_number(row['ece'][key if key == 'ensemble' else 'mean_member'])})",
            )
        ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top class)")
        ax.set_title(f"configuration {row['config']}", fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[0, 0].set_ylabel("accuracy")
    return _png(fig)
