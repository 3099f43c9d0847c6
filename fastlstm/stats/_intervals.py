"""Intervals of the mean over seeds: the t-interval, the studentized bootstrap and BCa.

Which one `describe` uses is chosen by simulated coverage (bench/stats_coverage.py,
table in bench/RESULTS.md), not by a rule of thumb. The bootstrap ones are here,
vectorised over many samples at once, so the bench can measure them on thousands of
simulated sweeps in seconds; `bca_interval` equals scipy's `bootstrap(method="BCa")`
up to resampling noise (tests/test_stats_intervals.py).
"""

from __future__ import annotations

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 1999  # for the vectorised bootstrap intervals


def t_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the t-interval of the mean for each row of `samples` (rows, n), n >= 2."""
    from scipy import stats as sps

    x = np.atleast_2d(np.asarray(samples, np.float64))
    n = x.shape[1]
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * x.std(axis=1, ddof=1) / math.sqrt(n)
    mean = x.mean(axis=1)
    return mean - half, mean + half


def _resample_means(x: np.ndarray, resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap means and standard errors, (rows, resamples) each, of each row of x (rows, n)."""
    rows, n = x.shape
    pick = rng.integers(0, n, size=(rows, resamples, n))
    boot = np.take_along_axis(x[:, None, :].repeat(resamples, axis=1), pick, axis=2)
    return boot.mean(axis=2), boot.std(axis=2, ddof=1) / math.sqrt(n)


def studentized_interval(
    samples: np.ndarray,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the studentized ("bootstrap-t") interval of the mean, per row of `samples`.

    t* = (mean* - mean) / se* over resamples; [mean - q(1-α/2) se, mean - q(α/2) se].
    A resample whose values are all equal has se* = 0: its t* is ±inf (or 0 when the
    mean did not move), which is what the order statistic should see.
    """
    x = np.atleast_2d(np.asarray(samples, np.float64))
    rng = np.random.default_rng(0) if rng is None else rng
    means, ses = _resample_means(x, resamples, rng)
    mean = x.mean(axis=1, keepdims=True)
    se = x.std(axis=1, ddof=1, keepdims=True) / math.sqrt(x.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ses > 0, (means - mean) / ses, np.sign(means - mean) * np.inf)
    t = np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf)
    alpha = 1 - confidence
    # order statistics, not interpolation: between inf and a finite t there is no number
    q_low = np.quantile(t, alpha / 2, axis=1, method="lower")
    q_high = np.quantile(t, 1 - alpha / 2, axis=1, method="higher")
    with np.errstate(invalid="ignore"):
        return mean[:, 0] - q_high * se[:, 0], mean[:, 0] - q_low * se[:, 0]


def bca_interval(
    samples: np.ndarray,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the BCa interval of the mean (Efron 1987), per row of `samples`.

    Bias correction z0 = Φ⁻¹(share of means* below the mean, ties half), acceleration
    from the jackknife, a = Σ d³ / (6 (Σ d²)^1.5), d = mean of jackknife means - each;
    the ends are the means*' quantiles at Φ(z0 + (z0 + z) / (1 - a (z0 + z))), as scipy does.
    """
    from scipy import stats as sps

    x = np.atleast_2d(np.asarray(samples, np.float64))
    rng = np.random.default_rng(0) if rng is None else rng
    n = x.shape[1]
    means, _ = _resample_means(x, resamples, rng)
    mean = x.mean(axis=1, keepdims=True)
    below = (means < mean).mean(axis=1) + 0.5 * (means == mean).mean(axis=1)
    z0 = sps.norm.ppf(below)
    jack = (x.sum(axis=1, keepdims=True) - x) / (n - 1)
    d = jack.mean(axis=1, keepdims=True) - jack
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (d**3).sum(axis=1) / (6 * ((d**2).sum(axis=1)) ** 1.5)
    a = np.nan_to_num(a)
    ordered = np.sort(means, axis=1)
    ends = []
    for z in sps.norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2]):
        with np.errstate(divide="ignore", invalid="ignore"):
            level = sps.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        ends.append(_quantile_rows(ordered, np.nan_to_num(level, nan=0.5)))
    return ends[0], ends[1]


def _quantile_rows(ordered: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Each sorted row's quantile at its own level (linear interpolation, numpy's default)."""
    position = level * (ordered.shape[1] - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, ordered.shape[1] - 1)
    rows = np.arange(ordered.shape[0])
    low, high = ordered[rows, below], ordered[rows, above]
    return low + (position - below) * (high - low)


INTERVALS = {"t": t_interval, "studentized": studentized_interval, "BCa": bca_interval}
