"""Where the spread across seeds comes from: init, data order, dropout, and how they mix.

Every member has RNG streams (fastlstm/plan.py): the initial weights, the order of the
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
  apart from the residual noise with one member per cell, so they are one term);
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
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.plan import STREAMS
from fastlstm.stats import primary_metric

if TYPE_CHECKING:
    from fastlstm.result import SweepResult
    from fastlstm.spec import SweepSpec

BASE_SEED = 0  # the seed a stream is held at while another varies
SINGLE_BLOCKS = STREAMS[:3]  # ("init", "order", "dropout"): one stream varied
AUGMENT_BLOCK = "augment"  # a fourth single-stream block, only for a sweep that augments
BLOCKS = (*SINGLE_BLOCKS, "all")
CROSSED_TERMS = ("init", "order", "interaction")


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
    k = max(3, round(math.sqrt(n))) if levels is None else _count("levels", levels)
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


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"{name} must be an int >= 2 (a spread needs two members), got {value!r}")
    return int(value)


# --- the decompositions (plain numbers in, plain numbers out) ---------------------------


def crossed_decomposition(values: Any) -> dict[str, Any]:
    """Method-of-moments variance components of a k x k init x order table, one value per cell.

    Two-way random-effects ANOVA without replication: with the row, column and residual
    mean squares MS_init, MS_order, MS_res, E[MS_init] = s2_res + k s2_init (likewise
    order), so s2_init = (MS_init - MS_res) / k, s2_order = (MS_order - MS_res) / k,
    and the interaction term is MS_res itself: with one member per cell the
    interaction and the residual noise are one term. A negative estimate (sampling
    noise) is set to 0 and listed in `truncated`. Returns {"variance", "share",
    "truncated"}; shares are NaN when every component is 0.
    """
    y = np.asarray(values, np.float64)
    if y.ndim != 2 or y.shape[0] != y.shape[1] or y.shape[0] < 2:
        raise ValueError(f"crossed values must be a k x k table with k >= 2, got shape {y.shape}")
    k = y.shape[0]
    grand, rows, cols = y.mean(), y.mean(axis=1), y.mean(axis=0)
    ms_init = k * float(np.sum((rows - grand) ** 2)) / (k - 1)
    ms_order = k * float(np.sum((cols - grand) ** 2)) / (k - 1)
    residual = y - rows[:, None] - cols[None, :] + grand
    ms_res = float(np.sum(residual**2)) / (k - 1) ** 2
    raw = {"init": (ms_init - ms_res) / k, "order": (ms_order - ms_res) / k, "interaction": ms_res}
    variance = {term: max(0.0, v) for term, v in raw.items()}
    return {
        "variance": variance,
        "share": shares(variance),
        "truncated": [term for term, v in raw.items() if v < 0],
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


def grid_split(groups: Sequence[Any]) -> dict[str, float]:
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
    """The crossed block's document part (variances averaged over configurations) and the
    terms whose estimate was negative in some configuration."""
    k = design.levels
    matrices = []
    for row in table:
        cells = np.full((k, k), np.nan)
        for pos in design.positions("crossed"):
            i, j = design.cells[pos]
            cells[i, j] = row[pos]
        matrices.append(cells)
    complete = [c for c in matrices if np.isfinite(c).all()]
    parts = [crossed_decomposition(c) for c in complete]
    variance = {t: float(np.mean([p["variance"][t] for p in parts])) if parts else math.nan for t in CROSSED_TERMS}
    truncated = sorted({t for p in parts for t in p["truncated"]})
    doc = {
        "levels": k,
        "values": matrices[0].tolist(),
        "variance": variance,
        "share": shares(variance) if parts else {t: math.nan for t in CROSSED_TERMS},
    }
    return doc, truncated


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
        notes.append(f"crossed block: the estimate of {', '.join(truncated)} was negative (sampling noise), set to 0")
    notes.append(additivity_note(doc["additivity"], single, doc["seeds"]))
    if len(result.configs) > 1:
        notes.append(
            f"with {len(result.configs)} configurations: sources' std is pooled within configurations, and the "
            "crossed values shown are configuration 0's (its variances are averaged over configurations)"
        )
    return notes


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
    x: Any,
    y: Any = None,
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
    block is `levels` x `levels` (default max(3, round(sqrt(seeds)))), so
    4 * seeds + levels**2 members per configuration (5 * seeds + levels**2 with `augment`:
    the augment stream gets a block of its own). Other keyword arguments are
    `fl.sweep`'s (model, epochs, grid, validation_split, ...); with a `grid` the whole
    design runs for every configuration, and the document also splits seed variance
    from hyperparameter variance. `fixed_streams` does not apply (this sets every
    stream itself); a `spec`'s is dropped. Print `VarianceSources.from_result(result)`.
    """
    from fastlstm.runner import sweep

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


def _num(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def sources_text(doc: Mapping[str, Any]) -> str:
    """The document as a small plain-text table, then the decompositions and the notes."""
    lines = [f"Variance sources of {doc['metric']} ({doc['seeds']} seeds per source)"]
    lines.append(f"{'source':<9}{'n':>4}  {'mean':>10}  {'std':>10}")
    for name, s in doc["sources"].items():
        lines.append(f"{name:<9}{s['n']:>4}  {_num(s['mean']):>10}  {_num(s['std']):>10}")
    crossed = doc["crossed"]
    k = crossed["levels"]
    parts = ", ".join(
        f"{term} {_num(crossed['variance'][term])} ({_percent(crossed['share'][term])})" for term in CROSSED_TERMS
    )
    lines.append(f"crossed init x order ({k} x {k}) variance: {parts}")
    adds = doc["additivity"]
    lines.append(
        f"additivity: sum of single-source variances {_num(adds['sum_of_single_variances'])}, "
        f"all varied {_num(adds['all_variance'])}, ratio {_num(adds['ratio'])}"
    )
    grid = doc.get("grid")
    if grid:
        lines.append(
            f"grid: seed variance {_num(grid['seed_variance'])}, hyperparameter variance "
            f"{_num(grid['hyperparameter_variance'])} ({_percent(grid['hyperparameter_share'])} of the total)"
        )
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    return "\n".join(lines)


def _percent(share: Any) -> str:
    return "-" if share is None or not math.isfinite(share) else f"{100 * share:.0f}%"


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
