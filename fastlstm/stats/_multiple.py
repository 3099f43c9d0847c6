"""Comparisons with the observed best: a max-t step-down over all pairs (Welch's t).

Testing each configuration against the one with the best mean, Holm-adjusted over those
K - 1 pairs, ignores that the best was chosen by the same data: with all configurations
truly equal (8 seeds each) some configuration was called "worse" in 7.5% (K = 5) and
11.6% (K = 10) of runs at a nominal 5% (issue 26, item 11). Hsu's MCB does not fix
that claim: its guarantee is for "not better than the best", which is false only when
the best is unique. So the family here is every pair: "i is worse than the best" is
said only when the pair (i, best) survives a max-t step-down (Westfall & Young 1993)
over all K (K - 1) / 2 pairs, which bounds the chance of any false claim by α.

The statistic is Welch's t, its squared standard error plus `s0²` (1% of the median over
pairs), so a draw in which a configuration's seeds all agree is not infinitely extreme
(Tusher et al. 2001's fudge). Its null distribution is drawn (`null`):
- "normal" (used by `compare()`): every configuration normal with its own observed
  spread, equal means. Measured (bench/stats_verdicts.py, table in bench/RESULTS.md): a
  false verdict in at most 4-5% of runs at K = 5 and 10 from 3 seeds on, whether or
  not the configurations share seeds (a shared seed's effect only makes Welch's t
  smaller, so ignoring the pairing is conservative).
- "permutation": labels shuffled among all seeds, or among configurations within each
  seed (`paired=True`). Exact at the complete null whatever the distribution, but with
  3-5 seeds the shuffles are too few to reach p < 0.05 with pairs (4 seeds: p >= 0.13
  on data whose t-test gives 0.003), so it is kept for the bench, not the default.
- `paired=True` with "normal" draws seed rows from the sample covariance: measured
  liberal below 8 seeds (8.5-9% at 3 seeds), so it is not used either.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

PERMUTATIONS = 1999  # p resolution 1/2000; seeded, so the same data give the same p
FUDGE = 0.01  # s0² as a share of the median squared standard error over pairs
CHUNK = 200  # permutations at a time: bounded memory with many configurations


def _pair_index(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(k, 1)


def _welch_parts(values: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (last axis) the difference of means and its squared standard error, for
    rows of pooled values (..., N) split into consecutive groups of `sizes`."""
    edges = np.concatenate([[0], np.cumsum(sizes)])
    means = np.stack([values[..., a:b].mean(-1) for a, b in itertools.pairwise(edges)], -1)
    var = np.stack([values[..., a:b].var(-1, ddof=1) / (b - a) for a, b in itertools.pairwise(edges)], -1)
    i, j = _pair_index(len(sizes))
    return means[..., i] - means[..., j], var[..., i] + var[..., j]


def _paired_parts(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair the mean difference and its squared standard error, for tables (..., seeds, K)."""
    n = table.shape[-2]
    i, j = _pair_index(table.shape[-1])
    d = table[..., :, i] - table[..., :, j]
    return d.mean(-2), d.var(-2, ddof=1) / n


def _t(diff: np.ndarray, var: np.ndarray, s0: float) -> np.ndarray:
    return np.abs(diff) / np.sqrt(var + s0)


def _permuted(groups: list[np.ndarray], paired: bool, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` resamples under the complete null: (count, N) pooled, or (count, seeds, K) tables."""
    if paired:
        table = np.stack(groups, -1)
        order = np.argsort(rng.random((count, *table.shape)), axis=-1)
        return np.take_along_axis(np.broadcast_to(table, order.shape), order, -1)
    pooled = np.concatenate(groups)
    return pooled[np.argsort(rng.random((count, pooled.size)), axis=-1)]


def _simulated(groups: list[np.ndarray], paired: bool, rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` normal samples with every mean equal and the spreads as observed: each group
    N(0, its variance) (unpaired), or seed rows N(0, the configurations' sample covariance)
    drawn as standard-normal combinations of the centred rows (paired: keeps how configurations
    move together from seed to seed, twins included)."""
    if paired:
        table = np.stack(groups, -1)
        n = table.shape[0]
        centred = (table - table.mean(0)) / np.sqrt(n - 1)
        return rng.standard_normal((count, n, n)) @ centred
    parts = [rng.standard_normal((count, g.size)) * g.std(ddof=1) for g in groups]
    return np.concatenate(parts, -1)


NULLS = {"permutation": _permuted, "normal": _simulated}


def maxt_stepdown(
    groups: list[np.ndarray],
    *,
    paired: bool = False,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
    null: str = "normal",
) -> np.ndarray:
    """Adjusted p of every pair (i, j), a symmetric (K, K) matrix (NaN on the diagonal).

    `groups`: each configuration's finite values, at least 2 each; with `paired=True` all
    of one length, position r of every group being the same seed. Westfall & Young's
    step-down: pairs sorted by |t|, the r-th's p is the share of permutations whose
    largest |t| among the pairs from r on reaches it (+1 in numerator and denominator),
    made monotone down the order.
    """
    k = len(groups)
    sizes = np.array([g.size for g in groups])
    if k < 2 or sizes.min() < 2 or (paired and len(set(sizes)) != 1):
        raise ValueError(f"maxt_stepdown needs >= 2 groups of >= 2 values (equal when paired), got sizes {sizes}")
    observed_parts = _paired_parts(np.stack(groups, -1)) if paired else _welch_parts(np.concatenate(groups), sizes)
    s0 = FUDGE * float(np.median(observed_parts[1]))
    observed = _t(*observed_parts, s0)
    order = np.argsort(-observed, kind="stable")
    exceed = np.zeros(order.size)
    rng = np.random.default_rng(seed)
    for start in range(0, permutations, CHUNK):
        resampled = NULLS[null](groups, paired, rng, min(CHUNK, permutations - start))
        parts = _paired_parts(resampled) if paired else _welch_parts(resampled, sizes)
        t = _t(*parts, s0)[:, order]
        tail_max = np.maximum.accumulate(t[:, ::-1], axis=1)[:, ::-1]  # max over pairs r.. end
        exceed += (tail_max >= observed[order] * (1 - 1e-12)).sum(0)
    p_sorted = np.maximum.accumulate((exceed + 1) / (permutations + 1))
    adjusted = np.empty_like(p_sorted)
    adjusted[order] = p_sorted
    out = np.full((k, k), math.nan)
    i, j = _pair_index(k)
    out[i, j] = out[j, i] = adjusted
    return out
