"""The leaderboard of a search: configurations ranked, with where each was pruned.

After `--trials` or a scheduler the user asks two things: which settings won, and how
sure is that. One table per metric and configuration, in grid order, answers neither.
Here the configurations that trained to the end come first, ranked by their mean over
seeds (never one seed); then the pruned ones, those that lasted longer first, each
ranked by its mean at the rung it was pruned at (numbers from fewer epochs, so not
comparable with the finalists'). The best configuration is also given as `--set`
assignments, to rerun it alone.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.stats import describe, higher_is_better, metric_bounds, result_metric_values
from fastlstm.stats._text import short_number

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult

TOP = 10


@dataclasses.dataclass(frozen=True)
class Leaderboard:
    """Ranked rows (rank, config, settings, n, mean, ci_low, ci_high, reached) of one metric.

    `reached` is "end" or the rung epoch the configuration was pruned at; `total` counts
    every configuration, `rows` holds the top ones.
    """

    metric: str
    higher_is_better: bool
    epochs: int
    rows: tuple[dict[str, Any], ...]
    total: int

    @property
    def best(self) -> dict[str, Any] | None:
        """The top row when it trained to the end (a scheduler's winner), else None."""
        return self.rows[0] if self.rows and self.rows[0]["reached"] == "end" else None

    def set_line(self) -> str:
        """The best configuration as `--set key=value` assignments (TOML values), '' without one."""
        if self.best is None:
            return ""
        return " ".join(f"--set {k}={_toml(v)}" for k, v in self.best["settings"].items())

    def lines(self) -> list[str]:
        """The table as plain text lines, then how to rerun the best."""
        direction = "higher" if self.higher_is_better else "lower"
        shown = f"top {len(self.rows)} of {self.total}" if len(self.rows) < self.total else f"all {self.total}"
        header = ["rank", "configuration", "seeds", f"{self.metric} mean ± 95% CI", "reached"]
        body = [[str(r["rank"]), _label(r), str(r["n"]), _mean_ci(r), _reached(r, self.epochs)] for r in self.rows]
        widths = [max(len(x) for x in column) for column in zip(header, *body)]
        out = [f"leaderboard: {shown} configurations by mean {self.metric} over seeds ({direction} is better)"]
        out += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (header, *body)]
        if self.set_line():
            out.append(f"best configuration ({_label(self.rows[0])}), to rerun it alone: {self.set_line()}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        top = f"; best {_label(self.rows[0])}: {_mean_ci(self.rows[0])}" if self.rows else ""
        return f"<Leaderboard {self.metric}, {self.total} configurations{top}>"

    def _repr_html_(self) -> str:
        cells = [[str(r["rank"]), _label(r), str(r["n"]), _mean_ci(r), _reached(r, self.epochs)] for r in self.rows]
        head = "".join(f"<th>{h}</th>" for h in ("rank", "configuration", "seeds", f"{self.metric}", "reached"))
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
        rerun = f"<p>rerun the best: <code>{html.escape(self.set_line())}</code></p>" if self.set_line() else ""
        title = html.escape(str(self).splitlines()[0])
        return f"<div><p><b>{title}</b></p><table><tr>{head}</tr>{body}</table>{rerun}</div>"


def _toml(value: object) -> str:
    """A setting as `--set` reads it (a TOML value): 0.001, "adamw", [1, 2]."""
    return json.dumps(value.item() if isinstance(value, np.generic) else value)


def _label(row: Mapping[str, Any]) -> str:

    settings = ", ".join(f"{k} {short_number(v)}" for k, v in row["settings"].items()) or "(one configuration)"
    return f"{row['config']}: {settings}"


def _mean_ci(row: Mapping[str, Any]) -> str:
    if not math.isfinite(row["mean"]):
        return "diverged" if row["n"] == 0 else "-"
    half = (row["ci_high"] - row["ci_low"]) / 2 if math.isfinite(row["ci_high"]) else math.nan
    return f"{row['mean']:.4g}" + (f" ± {half:.2g}" if math.isfinite(half) else " (1 seed, no CI)")


def _reached(row: Mapping[str, object], epochs: int) -> str:
    return f"end ({epochs} epochs)" if row["reached"] == "end" else f"pruned at epoch {row['reached']}"


def leaderboard(result: SweepResult, metric: str | None = None, top: int = TOP) -> Leaderboard:
    """The ranked configurations of `result` by `metric` (default: the scheduler's, else the
    primary metric), the `top` best shown. Finalists first by mean, then the pruned by how
    long they lasted and their mean at that rung; a configuration with no finite value last."""

    budget = result.budget
    if metric is None and budget is not None:
        metric = budget["scheduler"]["metric"]
    name, values = result_metric_values(result, metric)
    higher = higher_is_better(name)
    pruned = {int(c): int(e) for c, e in (budget or {}).get("pruned_at", {}).items()}
    config = np.array([m["config"] for m in result.members])
    epochs = int(result.spec.epochs) if result.spec is not None else int(result.history[name].shape[1])
    rows = []
    for c, settings in enumerate(result.configs):
        d = describe(values[config == c], bounds=metric_bounds(name))
        reached: Any = pruned.get(c, "end")
        rows.append({"config": c, "settings": dict(settings), **_stats(d), "reached": reached})

    def key(row: dict[str, Any]) -> tuple[int, float, float, int]:
        lasted = epochs + 1 if row["reached"] == "end" else row["reached"]
        mean = row["mean"] if math.isfinite(row["mean"]) else (-math.inf if higher else math.inf)
        return (not math.isfinite(row["mean"]), -lasted, -mean if higher else mean, row["config"])

    rows.sort(key=key)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return Leaderboard(name, higher, epochs, tuple(rows[:top]), len(rows))


def _stats(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"n": int(d["n"]), "mean": float(d["mean"]), "ci_low": float(d["ci_low"]), "ci_high": float(d["ci_high"])}


__all__ = ["Leaderboard", "leaderboard"]
