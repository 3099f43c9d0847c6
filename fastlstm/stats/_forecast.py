"""What a forecast must beat: the naive and seasonal-naive forecasts of each validation window.

A model that predicts a series is only useful if it beats the forecasts that need no
model at all: the last observed value repeated over the horizon (naive), and the value
one season earlier (seasonal naive). Both are computed here for the same validation
windows the model is scored on (`LoadedData.forecast`, fastlstm/data/_series.py: window i's
target rows are split_at + i + W .. split_at + i + W + H - 1), from the values a forecaster
at that origin has seen, so the comparison is fair.

The season is found on the training part of the series only: the largest significant
peak of the autocorrelation of the first differences (differencing removes the trend
that would make every lag look correlated) at lags 2..W, significant beyond the 95%
Bartlett band. A period above W would need values outside the model's window; a series
with no such peak has no clear season, and then there is no seasonal baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastlstm.stats._scores import regression_scores

Z_95 = 1.959963984540054  # the two-sided 95% normal quantile of the Bartlett band
MIN_CYCLES = 2  # a season must repeat at least twice in the training differences


def seasonal_period(values: np.ndarray, max_lag: int) -> int | None:
    """The season of `values` (the training part of a series), or None when there is no
    clear one: the lag in 2..max_lag whose autocorrelation of the first differences is
    the largest local peak above the 95% Bartlett band (statsmodels' `acf` band)."""
    from statsmodels.tsa.stattools import acf

    diffs = np.diff(np.asarray(values, np.float64))
    max_lag = min(int(max_lag), len(diffs) // MIN_CYCLES)
    if max_lag < 2 or not np.isfinite(diffs).all() or np.ptp(diffs) == 0:
        return None
    r = np.asarray(acf(diffs, nlags=max_lag, fft=False))
    band = Z_95 * np.sqrt((1 + 2 * np.cumsum(np.r_[0.0, 0.0, r[1:-1] ** 2])) / len(diffs))
    peaks = [
        lag
        for lag in range(2, max_lag + 1)
        if r[lag] > band[lag] and r[lag] > r[lag - 1] and (lag == max_lag or r[lag] >= r[lag + 1])
    ]
    return max(peaks, key=lambda lag: (r[lag], -lag)) if peaks else None


def baseline_forecasts(series: np.ndarray, split_at: int, window: int, horizon: int, period: int | None) -> dict:
    """The validation targets and the baselines' forecasts for them, each (windows, horizon):
    {"target", "naive", "seasonal_naive" (None without a period)}. Forecast origin of
    window i is t = split_at + i + W - 1; naive says series[t] for every step, seasonal
    naive says series[t + h - m * ceil(h / m)] for step h = 1..H (the same season's last
    value seen)."""
    series = np.asarray(series, np.float64)
    n = len(series) - split_at - window - horizon + 1
    if n <= 0:
        raise ValueError(f"no validation windows: {len(series) - split_at} validation steps < window + horizon")
    origin = split_at + np.arange(n)[:, None] + window - 1
    steps = np.arange(1, horizon + 1)[None, :]
    out: dict[str, Any] = {"target": series[origin + steps], "naive": np.repeat(series[origin], horizon, axis=1)}
    if period is None:
        out["seasonal_naive"] = None
    else:
        back = period * np.ceil(steps / period).astype(np.int64)
        out["seasonal_naive"] = series[origin + steps - back]
    return out


def forecast_baselines(forecast: Mapping[str, Any]) -> dict[str, Any]:
    """The baselines' document for `LoadedData.forecast`: the period found (or None, with
    `season` saying why), and MAE/RMSE of "naive" and "seasonal_naive" (None without a
    period) on the validation windows, in the target's units; `windows` is their count."""
    series = np.asarray(forecast["series"], np.float64)
    split_at, window, horizon = int(forecast["split_at"]), int(forecast["window"]), int(forecast["horizon"])
    period = seasonal_period(series[:split_at], window)
    parts = baseline_forecasts(series, split_at, window, horizon, period)
    seasonal = parts["seasonal_naive"]
    season = (
        f"period {period}: the largest significant autocorrelation peak of the training differences, lags 2..{window}"
        if period is not None
        else f"no clear season: no significant autocorrelation peak of the training differences at lags 2..{window}"
    )
    return {
        "target": forecast.get("target"),
        "windows": len(parts["target"]),
        "period": period,
        "season": season,
        "naive": regression_scores(parts["target"], parts["naive"]),
        "seasonal_naive": None if seasonal is None else regression_scores(parts["target"], seasonal),
    }


def validation_windows(forecast: Mapping[str, Any]) -> int:
    """How many validation windows `forecast` describes (0 when its series has no validation part)."""
    rows = len(forecast["series"]) - int(forecast["split_at"])
    return max(0, rows - int(forecast["window"]) - int(forecast["horizon"]) + 1)


__all__ = ["baseline_forecasts", "forecast_baselines", "seasonal_period", "validation_windows"]
