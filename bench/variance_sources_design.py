"""Variance sources' crossed block: phantom shares, interval coverage, power by size (issue 26, item 14).

    python bench/variance_sources_design.py               # the tables in bench/RESULTS.md (~1 minute)
    python bench/variance_sources_design.py --reps 500    # a quick look

Simulates k x k init x order tables from the two-way random-effects model the document
assumes (y = a_init + b_order + e, normal, total variance 1) and measures:

1. phantom share: the mean init share when init has no effect (order 0, all interaction),
   clipping each configuration's estimate before averaging (the old rule) against
   averaging the raw estimates first, over 10 configurations; and sd / mean of one
   table's clipped init estimate (issue 26: at 3 x 3 it equals its value);
2. coverage of the 95% interval of each share: generalized pivotal quantity (GPQ,
   made to agree with the F tests as the document reports it: `agree_with_tests`)
   against the parametric bootstrap from the clipped fit, for several true shares;
3. power of the F test (p < 0.05) for a true 10% init share, with the rest all
   interaction (the hardest case) or split with order, simulated and exact, and the
   members and cost of each k against the old default (8 seeds, 3 x 3: 41 members).

The default `DEFAULT_LEVELS` in fastlstm/analysis/_sources.py is the smallest k with
simulated power >= 0.80 in the hardest case.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastlstm.analysis._sources import (
    agree_with_tests,
    bootstrap_shares,
    clipped_shares,
    components,
    crossed_degrees,
    f_pvalues,
    gpq_shares,
    mean_squares,
    power_10,
    share_interval,
)

OLD_MEMBERS = 4 * 8 + 3 * 3  # seeds=8, 3 x 3: the old default
SCENARIOS = {  # true (init, order, interaction) shares
    "no init": (0.0, 0.0, 1.0),
    "init 10%": (0.10, 0.0, 0.90),
    "init 10%, order 45%": (0.10, 0.45, 0.45),
    "init 50%, order 30%": (0.50, 0.30, 0.20),
}


def tables(rng: np.random.Generator, truth: tuple[float, float, float], k: int, reps: int) -> np.ndarray:
    """(reps, k, k) tables of the two-way random-effects model with the given variances."""
    a = rng.normal(0, np.sqrt(truth[0]), (reps, k, 1))
    b = rng.normal(0, np.sqrt(truth[1]), (reps, 1, k))
    return a + b + rng.normal(0, np.sqrt(truth[2]), (reps, k, k))


def phantom(reps: int, k: int, configs: int = 10) -> dict[str, float]:
    """Mean init share with no init effect: clip-then-average vs average-then-clip."""
    rng = np.random.default_rng([1, k])
    ms = mean_squares(tables(rng, SCENARIOS["no init"], k, reps * configs)).reshape(reps, configs, 3)
    comps = components(ms, k)
    clipped_first = clipped_shares(np.maximum(comps, 0).mean(axis=1))[:, 0]
    averaged_first = clipped_shares(comps.mean(axis=1))[:, 0]
    single = np.maximum(comps[:, 0, 0], 0)
    truth10 = np.maximum(components(mean_squares(tables(rng, SCENARIOS["init 10%"], k, reps)), k)[:, 0], 0)
    return {
        "clip first": float(np.nanmean(clipped_first)),
        "average first": float(np.nanmean(averaged_first)),
        "one table": float(np.nanmean(clipped_shares(comps[:, 0])[:, 0])),
        "sd/mean at 10%": float(truth10.std() / truth10.mean()),
        "sd/mean null": float(single.std() / single.mean()),
    }


def coverage(truth: tuple[float, float, float], k: int, reps: int, draws: int) -> dict[str, np.ndarray]:
    """Share of `reps` intervals per method that hold each true share (init, order, interaction)."""
    rng = np.random.default_rng([2, k, int(1000 * truth[0]), int(1000 * truth[1])])
    ms = mean_squares(tables(rng, truth, k, reps))
    df = crossed_degrees(k)
    out = {}
    for name, draw in (("GPQ", gpq_shares), ("bootstrap", bootstrap_shares)):
        held = []
        for chunk in np.array_split(ms, max(1, reps // 250)):
            low, high = share_interval(draw(chunk, df, k, draws, rng))
            if name == "GPQ":  # as the document reports it
                low, high = agree_with_tests(low, high, f_pvalues(chunk, df))
            held.append((low <= np.array(truth) + 1e-12) & (np.array(truth) - 1e-12 <= high))
        out[name] = np.concatenate(held).mean(axis=0)
    return out


def power(truth: tuple[float, float, float], k: int, reps: int) -> float:
    """Share of `reps` simulated tables whose init F test gives p < 0.05."""
    rng = np.random.default_rng([3, k, int(1000 * truth[1])])
    p = f_pvalues(mean_squares(tables(rng, truth, k, reps)), crossed_degrees(k))
    return float(np.mean(p[:, 0] < 0.05))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    print("## 1. Phantom share of an init stream with no effect (mean share; 10 configurations)\n")
    print("| k x k | clip, then average | average, then clip | one table | sd/mean of one estimate (null; 10%) |")
    print("|---|---|---|---|---|")
    for k in (3, 5, 8, 15):
        r = phantom(args.reps // 4, k)
        print(
            f"| {k} x {k} | {r['clip first']:.3f} | {r['average first']:.3f} | {r['one table']:.3f} "
            f"| {r['sd/mean null']:.2f}; {r['sd/mean at 10%']:.2f} |"
        )
    print("\n## 2. Coverage of the 95% share interval (init / order / interaction; < 0.93 marked *)\n")
    print("| true shares | k x k | GPQ | parametric bootstrap |")
    print("|---|---|---|---|")
    for name, truth in SCENARIOS.items():
        for k in (3, 8, 15):
            c = coverage(truth, k, args.reps // 4, args.draws)
            cells = [" / ".join(f"{v:.3f}{'*' if v < 0.93 else ''}" for v in c[m]) for m in ("GPQ", "bootstrap")]
            print(f"| {name} | {k} x {k} | {cells[0]} | {cells[1]} |")
    print("\n## 3. Power of the F test (p < 0.05) for a true 10% init share; false rate with no init\n")
    print(
        "| k x k | members (seeds=8) | cost vs old default | no init (size) | 10%, rest interaction (exact) | 10%, order 45% |"
    )
    print("|---|---|---|---|---|---|")
    for k in (3, 5, 8, 10, 12, 13, 14, 15, 16, 18, 20):
        members = 4 * 8 + k * k
        print(
            f"| {k} x {k} | {members} | {members / OLD_MEMBERS:.1f}x | {power(SCENARIOS['no init'], k, args.reps):.3f} "
            f"| {power(SCENARIOS['init 10%'], k, args.reps):.3f} ({power_10(k):.3f}) "
            f"| {power(SCENARIOS['init 10%, order 45%'], k, args.reps):.3f} |"
        )
    print(f"\n{args.reps} reps, {args.draws} interval draws; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
