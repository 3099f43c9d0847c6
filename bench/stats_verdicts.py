"""False verdicts of `compare()` against the best when every configuration is truly equal (issue 26, item 11).

    python bench/stats_verdicts.py                 # the table in bench/RESULTS.md (about 10 minutes)
    python bench/stats_verdicts.py --reps 300      # a quick look

Draws `--reps` simulated sweeps of K configurations with the same true mean and counts
the runs in which some configuration is called "worse" (or "better") than the best:
the old rule (each configuration's Welch or paired t against the observed best, Holm
over the K - 1 pairs) next to `rank_configurations` (max-t step-down over all pairs).
Seeds either independent across configurations, or shared (every configuration ran the
same seeds; a seed's own effect, half the variance, is common to all of them, and the
tests pair). Nominal rate 5%.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastlstm.stats._multiple import maxt_stepdown

CASES = [(k, n, shared) for k in (5, 10) for n in (3, 8) for shared in (False, True)]


def draw(rng: np.random.Generator, k: int, n: int, shared: bool) -> np.ndarray:
    """(K, n) final accuracies, equal true means; `shared`: a seed effect common to every configuration."""
    noise = rng.normal(0.0, 0.02, (k, n))
    if shared:
        noise = (noise + rng.normal(0.0, 0.02, (1, n))) / np.sqrt(2)
    return 0.8 + noise


def old_rule(values: np.ndarray, paired: bool) -> bool:
    """Holm over each configuration's t-test against the observed best: any 'worse' verdict?
    In numpy (scipy's ttest and statsmodels' Holm cost ~0.1 s a sweep); equal to them
    (tests/test_stats_verdicts.py)."""
    from scipy import stats as sps

    top = int(np.argmax(values.mean(1)))
    others = np.array([c for c in range(len(values)) if c != top])
    n = values.shape[1]
    if paired:
        d = values[others] - values[top]
        se2 = d.var(axis=1, ddof=1) / n
        t, df = d.mean(1) / np.sqrt(se2), np.full(len(others), n - 1)
    else:
        v = values.var(axis=1, ddof=1) / n
        se2 = v[others] + v[top]
        t = (values[others].mean(1) - values[top].mean()) / np.sqrt(se2)
        df = se2**2 / ((v[others] ** 2 + v[top] ** 2) / (n - 1))
    p = np.sort(2 * sps.t.sf(np.abs(t), df))
    return bool((np.maximum.accumulate(p * (len(p) - np.arange(len(p)))) < 0.05).any())


def new_rule(values: np.ndarray, paired: bool) -> bool:
    """What `rank_configurations` decides against the best, without its per-row descriptions
    (Mann-Whitney, Newcombe: 0.3 s a sweep): the max-t step-down's p of (configuration, best);
    tests/test_stats_verdicts.py checks that the two agree."""
    top = int(np.argmax(values.mean(1)))
    matrix = maxt_stepdown(list(values), paired=False, null="normal")
    return bool(np.nanmin(matrix[top]) < 0.05)


def rates(k: int, n: int, shared: bool, reps: int, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng([seed, k, n, shared])
    old = new = 0
    for _ in range(reps):
        values = draw(rng, k, n, shared)
        old += old_rule(values, shared)
        new += new_rule(values, shared)
    return old / reps, new / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="simulated sweeps per row (default 2000)")
    args = parser.parse_args()
    start = time.perf_counter()
    print("| K | seeds | seeds shared | Holm vs observed best | max-t step-down (compare()) |")
    print("|---|---|---|---|---|")
    for k, n, shared in CASES:
        old, new = rates(k, n, shared, args.reps)
        print(f"| {k} | {n} | {'yes' if shared else 'no'} | {old:.3f} | {new:.3f} |", flush=True)
    se = np.sqrt(0.05 * 0.95 / args.reps)
    print(
        f"\n{args.reps} simulated sweeps per row; Monte Carlo se at 5% ≈ {se:.3f}; {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
