"""Spread across seeds: per-configuration mean, std, range and a 95% t-interval."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def final_values(history: np.ndarray, epoch_index: np.ndarray) -> np.ndarray:
    """history (members, epochs) at each member's chosen epoch (-1 = none -> NaN)."""
    rows = np.arange(history.shape[0])
    safe = np.clip(epoch_index, 0, history.shape[1] - 1)
    return np.where(epoch_index >= 0, history[rows, safe], np.nan)


def describe(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """n, mean, std (ddof=1), min, max and a t-interval of the mean; NaNs ignored."""
    v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
    n = int(v.size)
    if n == 0:
        return {
            "n": 0,
            "mean": math.nan,
            "std": math.nan,
            "min": math.nan,
            "max": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
        }
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        from scipy import stats as sps  # here, not at the top: scipy.stats costs ~0.4 s of every `import fastlstm`

        half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    else:
        half = math.nan
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "min": float(v.min()),
        "max": float(v.max()),
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


class Summary(list):
    """Rows (dicts), one per configuration; prints as a plain text table."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]):
        super().__init__(dict(r) for r in rows)
        self.metrics = tuple(metrics)

    def columns(self) -> list[str]:
        return list(self[0]) if self else []

    def __str__(self) -> str:
        cols = self.columns()
        cells = [[_fmt(r[c]) for c in cols] for r in self]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def summarize(
    final: Mapping[str, np.ndarray],
    config_of_member: np.ndarray,
    configs: Sequence[Mapping[str, Any]],
    ok: np.ndarray,
) -> Summary:
    """One row per configuration over its seeds; diverged members are counted, not averaged."""
    rows = []
    for c, point in enumerate(configs):
        sel = config_of_member == c
        row: dict[str, Any] = {"config": c, **point, "seeds": int(sel.sum()), "diverged": int((sel & ~ok).sum())}
        for name, values in final.items():
            d = describe(values[sel & ok])
            for stat in ("mean", "std", "min", "max", "ci_low", "ci_high"):
                row[f"{name}_{stat}"] = d[stat]
        rows.append(row)
    return Summary(rows, list(final))
