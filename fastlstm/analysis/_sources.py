"""Where the spread across seeds comes from: init, data order, dropout, and how they mix.

Every member has RNG streams (fastlstm/spec/_plan.py): the initial weights, the order of the
batches, the dropout masks, and - when the sweep augments its data - the augmentations'
random draws. `variance_sources` trains one configuration in one batched run with
blocks of members that differ in one stream only (the others held at `BASE_SEED`), a
block where all differ, and a crossed init x order block. The augment stream gets its
own block only when the sweep has `augment`: without it, the stream draws nothing.
From the final values of the primary metric it reports:

- each source's std over its block (a stream that does nothing - order without
  shuffling, dropout at rate 0 - has std exactly 0, because members that share every
  stream that matters compute the same numbers);
- a method-of-moments decomposition of the crossed block (a two-way random-effects
  layout without replication: init, order, and their interaction, which cannot be told
  apart from the residual noise with one member per cell, so they are one term), each
  share with a 95% interval and an F test, "indistinguishable from zero" where p >= 0.05,
  raw estimates averaged over configurations before a negative one is set to 0, and a
  default 15 x 15 block sized by simulated power (bench/variance_sources_design.py);
- additivity: the single-source variances summed against the variance with all three
  varied. Sources are not additive in practice (a different init changes what a given
  data order does), and the document says so with the numbers (DESIGN.md section 5);
- with a grid, the split of seed variance from hyperparameter variance (a one-way
  random-effects layout over configurations, on the all-streams block).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fastlstm.api._sweep import sweep
from fastlstm.spec._plan import STREAMS
from fastlstm.stats import primary_metric
from fastlstm.stats._text import percent, share_phrase

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult
    from fastlstm.spec._sweep_spec import SweepSpec

BASE_SEED = 0  # the seed a stream is held at while another varies
SINGLE_BLOCKS = STREAMS[:3]  # ("init", "order", "dropout"): one stream varied
AUGMENT_BLOCK = "augment"  # a fourth single-stream block, only for a sweep that augments
BLOCKS = (*SINGLE_BLOCKS, "all")
CROSSED_TERMS = ("init", "order", "interaction")
# k of the default k x k crossed block: the smallest k at which a true 10 % init (or
# order) share is told from zero in >= 80 % of runs at alpha 0.05 even when the rest is
# all interaction (82 % at 15; 64 % at 12, 8 % at the old 3): bench/variance_sources_design.py.
DEFAULT_LEVELS = 15
ALPHA = 0.05  # the F test's level for "indistinguishable from zero"
CONFIDENCE = 0.95  # of each share's interval
GPQ_DRAWS = 4000  # generalized pivotal draws per interval (Monte Carlo se of a 2.5 % quantile ~ 0.002)
GPQ_SEED = 26014  # fixed: the same run gives the same document
INTERVAL_METHOD = "generalized pivotal quantity (GPQ), 95% percentile; F test at alpha 0.05"


@dataclasses.dataclass(frozen=True)
class SourceDesign:
    """The members of one configuration: their stream seeds and the block each is in."""

    seeds: int  # members per single-source block and in the all-streams block
    levels: int  # k: the crossed block is k init seeds x k order seeds
    streams: tuple[dict[str, int], ...]
    blocks: tuple[str, ...]  # "init" | "order" | "dropout" | "augment" | "all" | "crossed", per member
    cells: tuple[tuple[int, int] | None, ...]  # (init level, order level) in the crossed block
    single: tuple[str, ...] = SINGLE_BLOCKS  # the streams varied one at a time (+ "augment")

    @property
    def all_blocks(self) -> tuple[str, ...]:
        return (*self.single, "all")

    def positions(self, block: str) -> list[int]:
        return [i for i, b in enumerate(self.blocks) if b == block]


def source_design(seeds: int, levels: int | None = None, augment: bool = False) -> SourceDesign:
    """The stream seeds of every member, no member twice.

    Varied seeds start at 1, so a held stream's `BASE_SEED` (0) is never also a varied
    one; the all-streams block takes fresh seeds after the single-source blocks'.
    `augment=True` (the sweep augments its data) adds an augment-only block and varies
    the augment stream in the all-streams block too; otherwise it is held at `BASE_SEED`.
    """
    n = _count("seeds", seeds)
    k = DEFAULT_LEVELS if levels is None else _count("levels", levels)
    single = (*SINGLE_BLOCKS, AUGMENT_BLOCK) if augment else SINGLE_BLOCKS
    streams: list[dict[str, int]] = []
    blocks: list[str] = []
    cells: list[tuple[int, int] | None] = []
    for block in single:
        for i in range(n):
            streams.append({s: (1 + i if s == block else BASE_SEED) for s in single})
    streams += [{s: n + 1 + i for s in single} for i in range(n)]
    blocks += [b for b in (*single, "all") for _ in range(n)]
    cells += [None] * len(streams)
    for i in range(k):
        for j in range(k):
            streams.append(
                {"init": 1 + i, "order": 1 + j, "dropout": BASE_SEED, **dict.fromkeys(single[3:], BASE_SEED)}
            )
            blocks.append("crossed")
            cells.append((i, j))
    return SourceDesign(n, k, tuple(streams), tuple(blocks), tuple(cells), single)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{name} must be an int >= 2 (a spread needs two members), got {value!r}")
    return int(value)


# --- the decompositions (plain numbers in, plain numbers out) ---------------------------


def mean_squares(values: object) -> np.ndarray:
    """(..., 3) MS_init, MS_order, MS_res of k x k tables (..., k, k), one value per cell.

    Two-way layout without replication: MS_init = k sum (row mean - grand)^2 / (k - 1),
    likewise MS_order over columns, MS_res = the residual sum of squares / (k - 1)^2.
    Vectorised over leading axes so bench/variance_sources_design.py can simulate
    thousands of tables at once.
    """
    y = np.asarray(values, np.float64)
    k = y.shape[-1]
    grand = y.mean(axis=(-2, -1), keepdims=True)
    rows, cols = y.mean(axis=-1, keepdims=True), y.mean(axis=-2, keepdims=True)
    ms_init = k * np.sum((rows - grand) ** 2, axis=(-2, -1)) / (k - 1)
    ms_order = k * np.sum((cols - grand) ** 2, axis=(-2, -1)) / (k - 1)
    ms_res = np.sum((y - rows - cols + grand) ** 2, axis=(-2, -1)) / (k - 1) ** 2
    return np.stack([ms_init, ms_order, ms_res], axis=-1)


def components(ms: np.ndarray, k: int) -> np.ndarray:
    """Unclipped method-of-moments components (..., 3) from mean squares (..., 3).

    E[MS_init] = s2_res + k s2_init (likewise order), so s2_init = (MS_init - MS_res) / k;
    the interaction is MS_res itself (with one member per cell it is one term with the
    residual noise). Negative values are sampling noise, kept here so that they can be
    averaged before clipping (issue 26 item 14: clipping first gave a source with no
    effect a 12-13 % share at 3 x 3).
    """
    ms = np.asarray(ms, np.float64)
    return np.stack([(ms[..., 0] - ms[..., 2]) / k, (ms[..., 1] - ms[..., 2]) / k, ms[..., 2]], axis=-1)


def clipped_shares(comps: np.ndarray) -> np.ndarray:
    """Components (..., 3) set to 0 where negative, over their sum (NaN where the sum is 0)."""
    positive = np.maximum(np.asarray(comps, np.float64), 0.0)
    total = positive.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, positive / np.where(total > 0, total, 1.0), np.nan)


def crossed_decomposition(values: object) -> dict[str, Any]:
    """Method-of-moments variance components of one k x k init x order table.

    See `components`. A negative estimate (sampling noise) is set to 0 and listed in
    `truncated`. Returns {"variance", "share", "truncated"}; shares are NaN when every
    component is 0. Several configurations are pooled by `crossed_components`, which
    averages before clipping.
    """
    y = np.asarray(values, np.float64)
    if y.ndim != 2 or y.shape[0] != y.shape[1] or y.shape[0] < 2:
        raise ValueError(f"crossed values must be a k x k table with k >= 2, got shape {y.shape}")
    raw = dict(zip(CROSSED_TERMS, components(mean_squares(y), y.shape[0]).tolist(), strict=True))
    variance = {term: max(0.0, v) for term, v in raw.items()}
    return {
        "variance": variance,
        "share": shares(variance),
        "truncated": [term for term, v in raw.items() if v < 0],
    }


def crossed_degrees(k: int, configurations: int = 1) -> np.ndarray:
    """Degrees of freedom of MS_init, MS_order, MS_res pooled over `configurations` tables."""
    return np.array([k - 1, k - 1, (k - 1) ** 2], np.float64) * configurations


def f_pvalues(ms: np.ndarray, df: np.ndarray) -> np.ndarray:
    """(..., 2) p of H0 "s2_init = 0" and "s2_order = 0": MS_term / MS_res ~ F(df_term, df_res).

    Exact for normal effects; its false "distinguishable" rate is 5.0 % at alpha 0.05
    by simulation (bench/variance_sources_design.py). A term with MS 0 (a stream that
    does nothing) gets p = 1; MS_res = 0 with MS_term > 0 gets p = 0.
    """
    from scipy import stats as sps

    ms = np.asarray(ms, np.float64)
    out = []
    for t in (0, 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = ms[..., t] / ms[..., 2]
        p = sps.f.sf(ratio, df[t], df[2])
        p = np.where(ms[..., t] <= 0, 1.0, np.where(ms[..., 2] <= 0, 0.0, p))
        out.append(p)
    return np.stack(out, axis=-1)


def gpq_shares(ms: np.ndarray, df: np.ndarray, k: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(..., draws, 3) generalized pivotal draws of the three shares (Weerahandi's GPQ).

    Each expected mean square's pivot is MS df / chi2(df); components and clipped shares
    follow as for the estimates. Its percentile interval (with `agree_with_tests`) held
    0.936-0.983 coverage at 3 x 3, 8 x 8 and 15 x 15 for every true split tried, where
    the parametric bootstrap fell to 0.90-0.92 (bench/variance_sources_design.py, 1000
    runs a cell), so it is the one reported.
    """
    ms = np.asarray(ms, np.float64)[..., None, :]
    chi = rng.chisquare(df, size=(*ms.shape[:-2], draws, 3))
    return clipped_shares(components(ms * df / chi, k))


def bootstrap_shares(ms: np.ndarray, df: np.ndarray, k: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(..., draws, 3) parametric-bootstrap shares: mean squares redrawn from the clipped fit.

    Kept for the bench's comparison with `gpq_shares` (it under-covers small shares).
    """
    fit = np.maximum(components(ms, k), 0.0)[..., None, :]
    expected = np.stack([fit[..., 2] + k * fit[..., 0], fit[..., 2] + k * fit[..., 1], fit[..., 2]], axis=-1)
    redrawn = expected * rng.chisquare(df, size=(*expected.shape[:-2], draws, 3)) / df
    return clipped_shares(components(redrawn, k))


def share_interval(draws: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed percentile interval of share draws (..., draws, 3) -> (..., 3) each."""
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(draws, [tail, 1 - tail], axis=-2)
    return low, high


def agree_with_tests(low: np.ndarray, high: np.ndarray, pvalue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (..., 3) that agree with the F tests (..., 2): a share the test cannot tell
    from zero starts at 0, and where neither init nor order is told from zero at alpha / 2
    (Bonferroni over the two tests), the interaction's reaches 1 (all of the variance may
    be interaction). Without this the GPQ interval of an all-interaction truth held its
    share of 1 in only 86-90 % of runs (bench/variance_sources_design.py)."""
    low, high = np.array(low, np.float64), np.array(high, np.float64)
    low[..., :2] = np.where(~(pvalue < ALPHA), 0.0, low[..., :2])
    high[..., 2] = np.where((~(pvalue < ALPHA / 2)).all(axis=-1), 1.0, high[..., 2])
    return low, high


def crossed_components(tables: Sequence[object], seed: int = GPQ_SEED) -> dict[str, Any]:
    """The crossed block's variances, shares, intervals and tests over one or more tables.

    Mean squares are averaged over configurations (the raw, unclipped components with
    them), and only then is a negative component set to 0 - averaging clipped values
    was the phantom share of issue 26 item 14. The pooled mean squares get the summed
    degrees of freedom (exact when configurations share their components, a
    Satterthwaite-style approximation otherwise). The interval is GPQ's, seeded so a
    run's document is reproducible.
    """
    k = int(np.asarray(tables[0]).shape[0])
    ms = np.mean([mean_squares(t) for t in tables], axis=0)
    df = crossed_degrees(k, len(tables))
    raw = components(ms, k)
    low, high = share_interval(gpq_shares(ms, df, k, GPQ_DRAWS, np.random.default_rng(seed)))
    pvalue = f_pvalues(ms, df)
    low, high = agree_with_tests(low, high, pvalue)
    p_init, p_order = float(pvalue[0]), float(pvalue[1])
    p = {"init": p_init, "order": p_order, "interaction": None}
    zero = {"init": not (p_init < ALPHA), "order": not (p_order < ALPHA)}
    zero["interaction"] = bool(ms[2] <= 0)
    variance = {t: max(0.0, float(v)) for t, v in zip(CROSSED_TERMS, raw, strict=True)}
    return {
        "variance": variance,
        "share": shares(variance),
        "raw_variance": dict(zip(CROSSED_TERMS, raw.tolist(), strict=True)),
        "share_interval": {t: [float(lo), float(hi)] for t, lo, hi in zip(CROSSED_TERMS, low, high, strict=True)},
        "p": p,
        "indistinguishable_from_zero": zero,
        "configurations": len(tables),
        "method": INTERVAL_METHOD,
    }


def shares(variance: Mapping[str, float]) -> dict[str, float]:
    """Each component over their sum (NaN for all when the sum is 0 or not finite)."""
    total = sum(variance.values())
    if not (total > 0 and math.isfinite(total)):
        return {term: math.nan for term in variance}
    return {term: v / total for term, v in variance.items()}


def additivity(single_variances: Mapping[str, float], all_variance: float) -> dict[str, float]:
    """The single-source variances summed against the all-streams variance.

    Were the sources independent and additive, all_variance would estimate the sum;
    `ratio` = all / sum (NaN when both are 0, inf when only the sum is).
    """
    total = float(sum(single_variances.values()))
    all_variance = float(all_variance)
    if total > 0:
        ratio = all_variance / total
    else:
        ratio = math.nan if all_variance == 0 or not math.isfinite(all_variance) else math.inf
    return {"sum_of_single_variances": total, "all_variance": all_variance, "ratio": ratio}


def additivity_range(single_variances: Mapping[str, float], seeds: int, level: float = 0.95) -> tuple[float, float]:
    """The ratio all / sum that additive sources would give 95% of the time with `seeds`
    members per block: an F distribution, the sum's degrees of freedom by Satterthwaite.

    Variances from a few seeds are rough (with 8 seeds, a ratio of 0.4 or 2.5 can be
    chance), so a note calls sources non-additive only outside this range.
    """
    from scipy import stats as sps

    df = seeds - 1
    v = np.asarray(list(single_variances.values()), np.float64)
    if not (v.sum() > 0):
        return math.nan, math.nan
    df_sum = float(v.sum() ** 2 / np.sum(v**2 / df))
    tail = (1 - level) / 2
    return float(sps.f.ppf(tail, df, df_sum)), float(sps.f.ppf(1 - tail, df, df_sum))


def grid_split(groups: Sequence[object]) -> dict[str, float]:
    """Seed variance against hyperparameter variance, one group of values per configuration.

    One-way random-effects ANOVA by the method of moments: seed_variance is the pooled
    within-configuration variance MS_w; hyperparameter_variance is
    (MS_b - MS_w) / n0, the between-configuration variance of the means less what the
    seeds alone would put there (n0 = the group size; for unequal groups the usual
    (N - sum n_i^2 / N) / (a - 1)), set to 0 when negative. NaNs are left out.
    """
    parts = [v[np.isfinite(v)] for v in (np.asarray(g, np.float64) for g in groups)]
    parts = [p for p in parts if p.size > 0]
    a, sizes = len(parts), np.array([p.size for p in parts], np.float64)
    big_n = float(sizes.sum())
    if a < 2 or big_n - a < 1:
        raise ValueError(f"grid_split needs two configurations and a spread within one, got sizes {sizes.tolist()}")
    grand = float(np.concatenate(parts).mean())
    ms_within = float(sum(np.sum((p - p.mean()) ** 2) for p in parts)) / (big_n - a)
    ms_between = float(sum(p.size * (p.mean() - grand) ** 2 for p in parts)) / (a - 1)
    n0 = (big_n - float(np.sum(sizes**2)) / big_n) / (a - 1)
    between = max(0.0, (ms_between - ms_within) / n0)
    total = between + ms_within
    return {
        "seed_variance": ms_within,
        "hyperparameter_variance": between,
        "hyperparameter_share": between / total if total > 0 else math.nan,
    }


# --- from a finished run to the document ------------------------------------------------


def _grid_part(all_block: np.ndarray) -> dict[str, float]:
    """`grid_split` of the all-streams block, NaN when too few members stayed finite for it."""
    try:
        return grid_split(list(all_block))
    except ValueError:
        return {"seed_variance": math.nan, "hyperparameter_variance": math.nan, "hyperparameter_share": math.nan}


def member_table(result: SweepResult, metric: str, n_design: int) -> np.ndarray:
    """(configurations, members of the design) final values of `metric`; NaN where diverged."""
    final = result.final_metrics()
    if metric not in final:
        raise ValueError(f"metric {metric!r} was not logged; logged: {sorted(final)}")
    table = np.full((len(result.configs), n_design), np.nan)
    for m in result.members:
        if m["status"] != "diverged":
            table[m["config"], m["seed"]] = final[metric][m["index"]]
    return table


def block_summary(values: np.ndarray) -> dict[str, Any]:
    """n, mean, std and values of one block, (configurations, members): the std is the
    pooled within-configuration one, so a grid's differences do not count as seed spread."""
    finite = [row[np.isfinite(row)] for row in values]
    spread = [float(np.var(row, ddof=1)) for row in finite if row.size > 1]
    flat = np.concatenate(finite)
    return {
        "n": int(flat.size),
        "mean": float(flat.mean()) if flat.size else math.nan,
        "std": math.sqrt(float(np.mean(spread))) if spread else math.nan,
        "values": [float(v) for v in flat],
    }


def crossed_summary(table: np.ndarray, design: SourceDesign) -> tuple[dict[str, Any], list[str]]:
    """The crossed block's document part, pooled over configurations (`crossed_components`),
    and the terms whose pooled (averaged) estimate was negative and so set to 0."""
    k = design.levels
    matrices = []
    for row in table:
        cells = np.full((k, k), np.nan)
        for pos in design.positions("crossed"):
            i, j = cast("tuple[int, int]", design.cells[pos])  # a crossed position has its cell
            cells[i, j] = row[pos]
        matrices.append(cells)
    complete = [c for c in matrices if np.isfinite(c).all()]
    doc: dict[str, Any] = {"levels": k, "values": matrices[0].tolist()}
    if not complete:
        nan = dict.fromkeys(CROSSED_TERMS, math.nan)
        doc.update(variance=nan, share=dict(nan), configurations=0)
        return doc, []
    doc.update(crossed_components(complete))
    return doc, [t for t, v in doc["raw_variance"].items() if v < 0]


def sources_document(result: SweepResult, design: SourceDesign, metric: str | None = None) -> dict[str, Any]:
    """The `variance_sources` document (see the schema in the project's shared notes)."""
    metric = metric or primary_metric(list(result.final_metrics()), result.meta.get("task"))
    table = member_table(result, metric, len(design.streams))
    sources = {b: block_summary(table[:, design.positions(b)]) for b in design.all_blocks}
    crossed, truncated = crossed_summary(table, design)
    single = {b: sources[b]["std"] ** 2 for b in design.single}
    adds = additivity(single, sources["all"]["std"] ** 2)
    all_block = table[:, design.positions("all")]
    grid = _grid_part(all_block) if len(result.configs) > 1 else None
    doc = {
        "kind": "variance_sources",
        "metric": metric,
        "seeds": design.seeds,
        "sources": sources,
        "crossed": crossed,
        "additivity": adds,
        "grid": grid,
        "notes": [],
    }
    doc["notes"] = source_notes(doc, result, single, truncated)
    return doc


def source_notes(
    doc: Mapping[str, Any], result: SweepResult, single: Mapping[str, float], truncated: Sequence[str]
) -> list[str]:
    """What a reader must know to read the numbers, in sentences with the numbers in them."""
    notes = []
    diverged = sum(m["status"] == "diverged" for m in result.members)
    if diverged:
        notes.append(f"{diverged} of {len(result.members)} members diverged and are left out of every number")
    if all(m.get("dropout", 0.0) == 0 for m in result.members):
        notes.append(
            f"dropout std {doc['sources']['dropout']['std']:.3g}: the dropout stream does nothing without "
            "dropout (rate 0), so members that differ only in it are identical"
        )
    spec = result.spec
    if spec is not None and not spec.shuffle:
        notes.append(
            f"order std {doc['sources']['order']['std']:.3g}: with shuffle=False the data-order stream "
            "does nothing, so members that differ only in it are identical"
        )
    notes.append(
        "crossed block: a two-way layout without replication (one member per init x order cell), so the "
        "interaction and the residual noise are one term, reported as 'interaction'"
    )
    if truncated:
        notes.append(
            f"crossed block: the estimate of {', '.join(truncated)} was negative (sampling noise), set to 0 "
            "(after averaging over configurations, never before)"
        )
    notes.append(crossed_power_note(doc["crossed"]))
    notes.append(additivity_note(doc["additivity"], single, doc["seeds"]))
    if len(result.configs) > 1:
        notes.append(
            f"with {len(result.configs)} configurations: sources' std is pooled within configurations, and the "
            "crossed values shown are configuration 0's (its variances are averaged over configurations)"
        )
    return notes


def crossed_power_note(crossed: Mapping[str, Any]) -> str:
    """What the crossed block's size can tell: a small k cannot tell a 10 % source from 0."""
    k = crossed["levels"]
    head = (
        f"crossed block: each share has a 95% interval (generalized pivotal quantity) and an F test; "
        f"'indistinguishable from zero' where p >= {ALPHA}"
    )
    if k >= DEFAULT_LEVELS:
        return f"{head}; {k} x {k} tells a true 10% source from zero in >= 80% of runs"
    return (
        f"{head}; at {k} x {k} a true 10% source is told from zero in only {100 * power_10(k):.0f}% of runs "
        f"(levels={DEFAULT_LEVELS} for 80%)"
    )


def power_10(k: int, share: float = 0.10, alpha: float = ALPHA) -> float:
    """Power of the F test for a term with `share` of the variance, the rest all residual.

    MS_term / MS_res is (1 + k s2_term / s2_res) times an F(k-1, (k-1)^2) variable, so the
    power is exact (bench/variance_sources_design.py checks it by simulation).
    """
    from scipy import stats as sps

    df1, df2 = k - 1, (k - 1) ** 2
    scale = 1 + k * share / (1 - share)
    return float(sps.f.sf(sps.f.isf(alpha, df1, df2) / scale, df1, df2))


def additivity_note(adds: Mapping[str, float], single: Mapping[str, float], seeds: int) -> str:
    """Sources are not additive in practice: say so with the numbers, and what chance allows."""
    total, both, ratio = adds["sum_of_single_variances"], adds["all_variance"], adds["ratio"]
    names = " + ".join(single)
    head = f"additivity: {names} variances sum to {total:.3g}; all {len(single)} varied together give {both:.3g}"
    if not math.isfinite(ratio):
        return f"{head}, so the ratio is undefined"
    low, high = additivity_range(single, seeds)
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{head} (ratio {ratio:.2g})"
    if low <= ratio <= high:
        verdict = f"within what {seeds} seeds per block allow for additive sources ({low:.2g}-{high:.2g})"
    else:
        verdict = (
            f"outside the {low:.2g}-{high:.2g} that additive sources would give with {seeds} seeds: "
            "the sources are not additive (one stream changes what the others do)"
        )
    return f"{head} (ratio {ratio:.2g}), {verdict}"


# --- the experiment ---------------------------------------------------------------------


def variance_sources(
    x: object,
    y: object = None,
    *,
    seeds: int = 8,
    levels: int | None = None,
    spec: SweepSpec | None = None,
    **sweep_kwargs: Any,
) -> SweepResult:
    """Train one configuration with each RNG stream varied alone, all varied, and init x
    order crossed, in one batched run; `result.analysis["variance_sources"]` says how
    much of the spread across seeds each source makes.

    `seeds` members per single-source block and in the all-streams block; the crossed
    block is `levels` x `levels` (default `DEFAULT_LEVELS` = 15: the size at which a true
    10 % source is told from zero in 80 % of runs), so
    4 * seeds + levels**2 members per configuration (257 at the defaults) (5 * seeds + levels**2 with `augment`:
    the augment stream gets a block of its own). Other keyword arguments are
    `fl.sweep`'s (model, epochs, grid, validation_split, ...); with a `grid` the whole
    design runs for every configuration, and the document also splits seed variance
    from hyperparameter variance. `fixed_streams` does not apply (this sets every
    stream itself); a `spec`'s is dropped. Print `VarianceSources.from_result(result)`.
    """

    augmented = bool(sweep_kwargs.get("augment")) or (spec is not None and bool(spec.augment))
    design = source_design(seeds, levels, augment=augmented)
    if sweep_kwargs.get("fixed_streams"):
        raise ValueError("fixed_streams: variance_sources sets every member's streams itself; drop fixed_streams")
    if spec is not None and spec.fixed_streams:
        spec = spec.replace(fixed_streams={})
    result = sweep(x, y, spec=spec, seeds=[dict(s) for s in design.streams], **sweep_kwargs)
    result.analysis["variance_sources"] = sources_document(result, design)
    return result


@dataclasses.dataclass(frozen=True)
class VarianceSources:
    """The `variance_sources` document, printable: `print(VarianceSources.from_result(result))`."""

    document: dict[str, Any]

    @classmethod
    def from_result(cls, result: SweepResult) -> VarianceSources:
        doc = result.analysis.get("variance_sources")
        if doc is None:
            raise ValueError("this result has no variance_sources document: run fl.variance_sources(...)")
        return cls(doc)

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def __str__(self) -> str:
        return sources_text(self.document)


def _num(value: object) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def sources_text(doc: Mapping[str, Any]) -> str:
    """The document as a small plain-text table, then the decompositions and the notes."""
    lines = [f"Variance sources of {doc['metric']} ({doc['seeds']} seeds per source)"]
    lines.append(f"{'source':<9}{'n':>4}  {'mean':>10}  {'std':>10}")
    for name, s in doc["sources"].items():
        lines.append(f"{name:<9}{s['n']:>4}  {_num(s['mean']):>10}  {_num(s['std']):>10}")
    lines += crossed_lines(doc["crossed"])
    adds = doc["additivity"]
    lines.append(
        f"additivity: sum of single-source variances {_num(adds['sum_of_single_variances'])}, "
        f"all varied {_num(adds['all_variance'])}, ratio {_num(adds['ratio'])}"
    )
    grid = doc.get("grid")
    if grid:
        lines.append(
            f"grid: seed variance {_num(grid['seed_variance'])}, hyperparameter variance "
            f"{_num(grid['hyperparameter_variance'])} ({percent(grid['hyperparameter_share'])} of the total)"
        )
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    return "\n".join(lines)


def crossed_lines(crossed: Mapping[str, Any]) -> list[str]:
    """One line per crossed term: variance, share, its 95% interval, the F test's p and,
    where p >= alpha, "indistinguishable from zero" (documents from before issue 26 item
    14 have no interval and print as before)."""
    k = crossed["levels"]
    intervals = crossed.get("share_interval")
    if not intervals:
        parts = ", ".join(f"{t} {_num(crossed['variance'][t])} ({percent(crossed['share'][t])})" for t in CROSSED_TERMS)
        return [f"crossed init x order ({k} x {k}) variance: {parts}"]
    lines = [f"crossed init x order ({k} x {k}): variance, share [95% interval], F test"]
    for t in CROSSED_TERMS:
        lines.append(f"  {t:<12}{_num(crossed['variance'][t]):>10}  {share_phrase(crossed, t)}")
    return lines


__all__ = [
    "SourceDesign",
    "VarianceSources",
    "additivity",
    "crossed_decomposition",
    "grid_split",
    "source_design",
    "sources_document",
    "variance_sources",
]
