"""How many seeds: for an interval of the mean this narrow, or to detect a difference this large.

Both answer the question a user asks before the next sweep. The power calculation is
statsmodels' (two-sided two-sample t-test, equal group sizes); DESIGN.md §5 checks
it: 17 seeds per configuration detect a difference of one standard deviation with
80% power at α = 0.05, 64 for half a standard deviation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return value


def seeds_for_halfwidth(std: float, halfwidth: float, confidence: float = 0.95) -> int:
    """The fewest seeds n (>= 2) whose t-interval of the mean, t(n-1) * std / sqrt(n), is at most `halfwidth`.

    `std` is the spread across seeds (from a pilot sweep). The t quantile depends on n, so
    n is found by iteration from the normal-quantile estimate, which is never too many.
    """
    from scipy import stats as sps

    std, halfwidth = _positive("std", std), _positive("halfwidth", halfwidth)
    confidence = _probability("confidence", confidence)
    quantile = 0.5 + confidence / 2
    n = max(2, math.ceil((float(sps.norm.ppf(quantile)) * std / halfwidth) ** 2))
    while float(sps.t.ppf(quantile, n - 1)) * std / math.sqrt(n) > halfwidth:
        n += 1
    return n


def halfwidth_for_seeds(std: float, seeds: int, confidence: float = 0.95) -> float:
    """The half-width of the t-interval of the mean from `seeds` values with this std."""
    from scipy import stats as sps

    if seeds < 2:
        return math.inf
    return float(sps.t.ppf(0.5 + confidence / 2, seeds - 1)) * float(std) / math.sqrt(seeds)


def seeds_for_power(difference: float, std: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Seeds per configuration to detect a true difference of means `difference` with this power.

    Two-sided two-sample t-test at level `alpha`, equal seeds per side, effect size
    |difference| / std (statsmodels' `TTestIndPower().solve_power`), rounded up; never
    fewer than 2 (a t-test needs a spread on each side). When 2 seeds already give the
    power, statsmodels' root finder fails (its bracket starts above 2) and returns NaN
    with a ConvergenceWarning: that case is answered 2 after checking the power at 2
    (`seeds_for_power(0.1, 0.01)` is 2; issue 26, item 8).
    """
    import warnings

    from statsmodels.stats.power import TTestIndPower

    effect = abs(_nonzero("difference", difference)) / _positive("std", std)
    power, alpha = _probability("power", power), _probability("alpha", alpha)
    solver = TTestIndPower()
    if solver.power(effect_size=effect, nobs1=2, alpha=alpha, ratio=1.0, alternative="two-sided") >= power:
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its ConvergenceWarning is handled below
        n = solver.solve_power(effect_size=effect, power=power, alpha=alpha, ratio=1.0, alternative="two-sided")
    n = float(np.asarray(n).reshape(-1)[0])
    if not math.isfinite(n):
        return _seeds_by_search(solver, effect, power, alpha)
    return max(2, math.ceil(n))


def _seeds_by_search(solver: Any, effect: float, power: float, alpha: float) -> int:
    """The fewest n >= 2 with the power asked for, by doubling then bisection: the fallback
    when statsmodels' solver returns NaN for a case it should answer."""

    def enough(n: int) -> bool:
        return solver.power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1.0, alternative="two-sided") >= power

    low, high = 2, 4
    while not enough(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def _nonzero(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value == 0:
        raise ValueError(f"{name} must be a nonzero finite number, got {value!r}")
    return value
