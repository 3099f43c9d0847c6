"""Coverage of the 95% interval of the mean over seeds: t, studentized bootstrap, BCa (issue 26, item 12).

    python bench/stats_coverage.py                  # the table in bench/RESULTS.md (about 2 minutes)
    python bench/stats_coverage.py --reps 500       # a quick look

For each spread of seeds and each number of seeds, draws `--reps` simulated sweeps of
one configuration, builds each interval and counts how often it holds the true mean.
The spreads: normal; skewed (lognormal, σ = 0.5); and "a failed seed now and then"
(each seed fails to chance level with probability 0.1: N(0.80, 0.02) or N(0.50, 0.02)),
the shape a Keras user's accuracies take. Coverage below 0.93 is marked with '*'.
`describe` uses the interval this table supports (fastlstm/stats/_summary.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastlstm.stats._intervals import INTERVALS


def normal(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    return rng.normal(0.8, 0.02, shape), 0.8


def skewed(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    return rng.lognormal(0.0, 0.5, shape), float(np.exp(0.125))


def failed_seed(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, float]:
    failed = rng.random(shape) < 0.1
    values = np.where(failed, rng.normal(0.5, 0.02, shape), rng.normal(0.8, 0.02, shape))
    return values, 0.9 * 0.8 + 0.1 * 0.5


SPREADS = {"normal": normal, "skewed": skewed, "failed seed": failed_seed}
SEEDS = (3, 4, 5, 6, 8, 10, 12, 15, 20, 30)


def coverage(spread: str, n: int, reps: int, seed: int = 0) -> dict[str, float]:
    """Share of `reps` simulated intervals per method that hold the true mean."""
    rng = np.random.default_rng([seed, n, list(SPREADS).index(spread)])
    samples, truth = SPREADS[spread](rng, (reps, n))
    out = {}
    for name, interval in INTERVALS.items():
        kwargs = {} if name == "t" else {"rng": np.random.default_rng(seed)}
        held = []
        for chunk in np.array_split(samples, max(1, reps // 200)):  # bounded memory: chunk x resamples x n
            low, high = interval(chunk, 0.95, **kwargs)
            held.append((low <= truth) & (truth <= high))
        out[name] = float(np.mean(np.concatenate(held)))
    return out


def table(reps: int) -> str:
    """The coverage table as Markdown, one row per (spread, seeds)."""
    lines = ["| spread | seeds | t | studentized | BCa |", "|---|---|---|---|---|"]
    for spread in SPREADS:
        for n in SEEDS:
            cov = coverage(spread, n, reps)
            cells = [f"{cov[m]:.3f}{'*' if cov[m] < 0.93 else ''}" for m in INTERVALS]
            lines.append(f"| {spread} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4000, help="simulated sweeps per cell (default 4000)")
    args = parser.parse_args()
    start = time.perf_counter()
    print(table(args.reps))
    print(f"\n{args.reps} simulated sweeps per cell; Monte Carlo se ≈ {np.sqrt(0.95 * 0.05 / args.reps):.3f}; ", end="")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
