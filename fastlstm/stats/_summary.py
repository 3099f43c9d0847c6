"""Spread across seeds: per-configuration mean, std, IQM, range and a 95% interval of the mean.

Which interval: the one simulated coverage supports (bench/stats_coverage.py, 4000
simulated sweeps per cell, table in bench/RESULTS.md; issue 26, item 12). The rule:
the t-interval at every number of seeds. On normal spreads it holds 0.946-0.955 from 3
to 30 seeds; BCa, used from 10 seeds before, held 0.72-0.92 below 30 seeds and is
dropped. On a skewed spread (lognormal σ 0.5) t holds 0.91-0.93; the studentized
bootstrap holds 0.93-0.94 from 4 seeds, but at 4 and 5 seeds it is 2x and 1.3x as wide
(median), unbounded at 3, and one failed seed blows it up: 11 seeds at 0.90-0.93 and one
at 0.30 give [-0.25, 1.02] against t's [0.75, 0.97]. With a seed failing to chance now
and then (10%), no interval of the mean holds 95% below about 30 seeds (0.55-0.88 for all
three): the notes point to the median, IQM and min there. Intervals are clipped to the
metric's range (accuracy in [0, 1], losses >= 0), and the row says so. With 2 seeds
the t-interval spans ±12.7 standard errors: it is computed, but flagged as
uninformative; 1 seed gets none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from fastlstm.stats._bounds import format_bounds, metric_bounds
from fastlstm.stats._notebook import summary_html, summary_repr
from fastlstm.stats._text import summary_text

BOOTSTRAP_RESAMPLES = 1999  # for callers of fastlstm.stats._intervals' bootstrap intervals, as in the table
MAJORITY_TOLERANCE, MAJORITY_MARGIN = 0.01, 0.02  # see at_majority_rate
STATS = ("n", "mean", "std", "median", "iqm", "min", "max", "ci_low", "ci_high", "ci_method", "ci_clipped", "note")


def final_values(history: np.ndarray, epoch_index: np.ndarray) -> np.ndarray:
    """history (members, epochs) at each member's chosen epoch (-1 = none -> NaN)."""
    rows = np.arange(history.shape[0])
    safe = np.clip(epoch_index, 0, history.shape[1] - 1)
    return np.where(epoch_index >= 0, history[rows, safe], np.nan)


def describe(
    values: Iterable[float],  # a list or a 1-D array
    confidence: float = 0.95,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> dict[str, Any]:
    """n, mean, std (ddof=1), median, IQM, min, max and an interval of the mean; NaNs ignored.

    The IQM (interquartile mean: `scipy.stats.trim_mean(v, 0.25)`, the mean of the middle
    half) sits between mean and median: it ignores a quarter of seeds at each end (a
    seed that failed) yet uses more values than the median (Agarwal et al. 2021).

    `ci_method` is "t" or "none" (fewer than 2 values); the interval is
    clipped to `bounds` (`ci_clipped` says whether that changed it) and `note`
    says in words what to make of it ("" when nothing needs saying).
    """
    v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
    n = int(v.size)
    if n == 0:
        nan = math.nan
        return dict(zip(STATS, (0, nan, nan, nan, nan, nan, nan, nan, nan, "none", False, "no finite values")))
    low, high, method = mean_interval(v, confidence)
    clipped_low, clipped_high = max(low, bounds[0]), min(high, bounds[1])
    clipped = bool(n > 1 and (clipped_low != low or clipped_high != high))
    return {
        "n": n,
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if n > 1 else math.nan,
        "median": float(np.median(v)),
        "iqm": interquartile_mean(v),
        "min": float(v.min()),
        "max": float(v.max()),
        "ci_low": clipped_low,
        "ci_high": clipped_high,
        "ci_method": method,
        "ci_clipped": clipped,
        "note": interval_note(n, clipped, bounds),
    }


def interquartile_mean(v: np.ndarray) -> float:
    """The mean of the middle half of `v` (as many values cut from each end, `trim_mean`'s rule)."""
    from scipy import stats as sps  # lazily, as in mean_interval

    return float(sps.trim_mean(v, 0.25))


def mean_interval(v: np.ndarray, confidence: float = 0.95) -> tuple[float, float, str]:
    """(low, high, method) for the mean of finite values `v`, not yet clipped: the t-interval,
    the one whose simulated coverage holds from 3 seeds up (module doc, bench/stats_coverage.py)."""
    from scipy import stats as sps  # here, not at the top: scipy.stats costs ~0.4 s of every `import fastlstm`

    n = v.size
    if n < 2:
        return math.nan, math.nan, "none"
    mean, std = float(v.mean()), float(v.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half, "t"


def interval_note(n: int, clipped: bool, bounds: tuple[float, float]) -> str:
    """What a reader should know about an interval from `n` values, in a few words."""
    parts = []
    if n == 1:
        parts.append("1 seed: no interval")
    elif n == 2:
        parts.append("2 seeds: uninformative")
    if clipped:
        parts.append(f"clipped to {format_bounds(bounds)}")
    return "; ".join(parts)


def at_majority_rate(mean: float, std: float, rate: float) -> bool:
    """Whether a mean accuracy is indistinguishable from always answering the most frequent class.

    Within the spread across seeds, at least 0.01 and at most 0.02 (the margin by
    which `fastlstm bench` asks a trained model to beat that rate): a mean of 0.55
    with seeds all over the place does not "equal" a rate of 0.25.
    """
    spread = std if math.isfinite(std) else 0.0
    return bool(math.isfinite(mean) and abs(mean - rate) <= max(MAJORITY_TOLERANCE, min(spread, MAJORITY_MARGIN)))


def majority_class_rate(y: np.ndarray, task: str) -> float | None:
    """Accuracy of always answering the most frequent class (per output for binary targets).

    What a model that learnt nothing from the inputs scores; None for regression.
    `y` is as `prepare_data` stores it: int labels (n,), one-hot or binary (n, k).
    """
    if len(y) == 0 or task not in ("classification", "binary"):
        return None
    if task == "classification":
        labels = y.reshape(-1) if y.ndim == 1 or y.shape[1] == 1 else np.argmax(y, axis=1)
        return float(np.bincount(labels.astype(np.int64)).max() / labels.size)
    positive = (np.asarray(y).reshape(len(y), -1) > 0.5).mean(axis=0)
    return float(np.maximum(positive, 1.0 - positive).mean())


class Summary(list):
    """Rows (dicts), one per configuration; prints as plain text tables, one per metric.

    `grid_keys` are the settings that vary between configurations; `majority_class_rate`
    (None if unknown) lets the printout point out an accuracy no better than guessing.
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, object]],
        metrics: Sequence[str],
        grid_keys: Sequence[str] = (),
        majority_class_rate: float | None = None,
    ):
        super().__init__(dict(r) for r in rows)
        self.metrics = tuple(metrics)
        self.grid_keys = tuple(grid_keys)
        self.majority_class_rate = majority_class_rate

    def columns(self) -> list[str]:
        return list(self[0]) if self else []

    def __str__(self) -> str:
        return summary_text(self)

    def __repr__(self) -> str:  # one line: a notebook showed every row's dict
        return summary_repr(self)

    def _repr_html_(self) -> str:
        return summary_html(self)


def summarize(
    final: Mapping[str, np.ndarray],
    config_of_member: np.ndarray,
    configs: Sequence[Mapping[str, object]],
    ok: np.ndarray,
    majority_class_rate: float | None = None,
) -> Summary:
    """One row per configuration over its seeds; diverged members are counted, not averaged.

    Each metric m gets m_mean, m_std, m_median, m_iqm, m_min, m_max, m_ci_low, m_ci_high,
    m_ci_method, m_ci_clipped, m_n (values used) and m_note; an accuracy also gets
    m_at_majority_rate and m_below_majority_rate when `majority_class_rate` is known.
    """
    grid_keys = list(dict.fromkeys(k for point in configs for k in point))
    rows = []
    for c, point in enumerate(configs):
        sel = config_of_member == c
        row: dict[str, Any] = {"config": c, **point, "seeds": int(sel.sum()), "diverged": int((sel & ~ok).sum())}
        for name, values in final.items():
            d = describe(values[sel & ok], bounds=metric_bounds(name))
            for stat in STATS:
                row[f"{name}_{stat}"] = d[stat]
            if majority_class_rate is not None and name.removeprefix("val_") == "accuracy":
                at_rate = at_majority_rate(d["mean"], d["std"], majority_class_rate)
                row[f"{name}_at_majority_rate"] = at_rate
                row[f"{name}_below_majority_rate"] = bool(not at_rate and d["mean"] < majority_class_rate)
        rows.append(row)
    return Summary(rows, list(final), grid_keys, majority_class_rate)
