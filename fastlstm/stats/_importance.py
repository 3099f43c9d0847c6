"""Which hyperparameter moves the metric, with the seeds' share measured beside it.

The trap this exists to avoid: importance tools that fit the configurations' values
without separating the seeds (Optuna's fANOVA, a random forest over the trials) attribute
seed noise to whatever varied, so an inert hyperparameter gets a share of the noise and
looks important. Here every member (configuration x seed) is a data point, the variance
between seeds of one configuration is reported as its own term ("seeds"), and each
hyperparameter's share is tested against that noise.

Two methods, chosen from the data:

- "anova": the configurations form a full grid and some configuration has >= 2 seeds. A
  full-factorial fixed-effects ANOVA with every key a categorical factor, so the residual
  is exactly the within-configuration (seed) variance. Type II sums of squares, shares as
  omega squared, F-tests, Holm over the effect terms; intervals from a bootstrap of the
  seeds within each configuration (`_anova`).
- "surrogate": anything else (random search). An additive model (a GAM: splines of the
  numeric keys, factors for the others) fitted by least squares to every member, each
  key's share the variance of its own fitted component, a permutation null per key,
  Holm over the keys; intervals from the same within-configuration bootstrap (`_surrogate`).

Both work on the configuration level: a member's row of the design depends only on its
configuration, so a least-squares fit to the members equals a weighted fit to the
configuration means (weights = seeds), plus the within-configuration sum of squares. Every
resample and permutation therefore costs a few small matrix products, and whole batches of
them run as one. Measured on a 2-core CPU, 32 configurations x 8 seeds x 3 keys with the
defaults (1000 resamples, 199 permutations): anova 0.015 s, surrogate 0.03 s a call, plus
about 1 s for the first call's imports of scipy, statsmodels and patsy.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from fastlstm.stats._compare import format_p

TermKind = Literal["main", "interaction", "higher_order", "lack_of_fit", "seeds"]
EFFECT_KINDS = ("main", "interaction", "higher_order")
HIGHER_ORDER = "higher-order interactions"
LACK_OF_FIT = "interactions and lack of fit"
SEEDS = "seeds"
ONE_SEED = "importance needs at least 2 seeds per configuration to separate seed noise; got {n}"
NOTHING_VARIES = "importance needs a hyperparameter that varies across configurations; all {n} share the same settings"
NO_VALUES = "importance needs finite values; all {n} members are NaN (diverged)"
NO_SPREAD = "importance needs values that differ; all {n} finite members have the value {value}"
TOO_FEW_CONFIGS = (
    "the additive surrogate needs more configurations than its {p} columns to test them against seed noise; "
    "got {g} (not a full grid, so the ANOVA cannot be used)"
)


@dataclasses.dataclass(frozen=True)
class ImportanceTerm:
    """One term's share of the metric's variance, its interval, and its test against seed noise."""

    name: str  # "learning_rate", "learning_rate × dropout", "higher-order interactions", ..., "seeds"
    kind: TermKind
    share: float  # omega squared (anova; can be < 0) or the component's variance share (surrogate)
    low: float  # the resampling interval of the share
    high: float
    p_value: float | None  # F-test (anova) or permutation (surrogate); None for seeds and lack of fit
    distinguishable: bool | None  # from seed noise, after Holm; None for seeds and lack of fit
    df: int | None  # the term's degrees of freedom (anova) or basis columns (surrogate)


@dataclasses.dataclass(frozen=True)
class Importance:
    """Each hyperparameter's share of the variance of `metric`, beside the seeds' share."""

    metric: str
    method: Literal["anova", "surrogate"]
    terms: tuple[ImportanceTerm, ...]  # effects by share, descending, then lack of fit, then seeds
    configurations: int
    members: int  # finite members used (diverged ones dropped)
    seeds_per_configuration: tuple[int, int]  # min, max
    confidence: float
    note: str  # how it was computed, for a reader

    def ranked(self) -> list[ImportanceTerm]:
        """Effects by share, descending; then lack of fit; the seeds last."""
        order = {"lack_of_fit": 1, "seeds": 2}
        return sorted(self.terms, key=lambda t: (order.get(t.kind, 0), -t.share if math.isfinite(t.share) else 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-ready document (None where a number is missing); `from_dict` reads it back."""
        doc = dataclasses.asdict(self)
        doc["terms"] = [{k: _json_number(v) for k, v in dataclasses.asdict(t).items()} for t in self.terms]
        doc["seeds_per_configuration"] = list(self.seeds_per_configuration)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Importance:
        """The inverse of `to_dict`."""
        terms = tuple(
            ImportanceTerm(
                name=str(t["name"]),
                kind=t["kind"],
                share=_float(t["share"]),
                low=_float(t["low"]),
                high=_float(t["high"]),
                p_value=None if t["p_value"] is None else float(t["p_value"]),
                distinguishable=t["distinguishable"],
                df=None if t["df"] is None else int(t["df"]),
            )
            for t in doc["terms"]
        )
        low, high = doc["seeds_per_configuration"]
        return cls(
            metric=str(doc["metric"]),
            method=doc["method"],
            terms=terms,
            configurations=int(doc["configurations"]),
            members=int(doc["members"]),
            seeds_per_configuration=(int(low), int(high)),
            confidence=float(doc["confidence"]),
            note=str(doc["note"]),
        )

    def lines(self) -> list[str]:
        """A terminal table: term, share, interval, p, verdict; then the note."""
        level = f"{100 * self.confidence:g}%"
        rows = [("term", "share", f"{level} interval", "p", "verdict")]
        for t in self.ranked():
            verdict = _verdict(t)
            p = "" if t.p_value is None else format_p(t.p_value)
            rows.append((t.name, _percent(t.share), f"[{_percent(t.low)}, {_percent(t.high)}]", p, verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        head = f"what moves {self.metric} ({self.method}, {self.configurations} configurations, {self.members} members)"
        table = [
            "  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:4], widths[1:])), r[4]]).rstrip()
            for r in rows
        ]
        return [head, *table, self.note]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def headline(self) -> str:
        """One line for under a summary: what is distinguishable, the seeds' share, what is not."""
        ranked = self.ranked()
        moving = [
            f"{t.name} {_percent(t.share)} [{_pct_number(t.low)}, {_pct_number(t.high)}]"
            for t in ranked
            if t.distinguishable
        ]
        seeds = [f"seeds {_percent(t.share)}" for t in ranked if t.kind == "seeds"]
        inert = [t.name for t in ranked if t.kind == "main" and t.distinguishable is False]
        lead = (
            ", ".join(moving + seeds)
            if moving
            else "nothing distinguishable from seed noise" + (f" ({seeds[0]})" if seeds else "")
        )
        tail = f"; {', '.join(inert)} indistinguishable from seed noise" if moving and inert else ""
        return f"what moves {self.metric}: {lead}{tail}"


def _verdict(term: ImportanceTerm) -> str:
    if term.distinguishable is None:
        return "" if term.kind == "seeds" else "(not tested)"
    return "distinguishable" if term.distinguishable else "indistinguishable from seed noise"


def _json_number(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _float(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _pct_number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    v = min(max(value, 0.0), 1.0) * 100  # a resampled share can leave [0, 1]; a share of the variance cannot
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


def _percent(value: float) -> str:
    """A share for display: clipped to [0, 100%] (omega squared below 0 means 'no effect beyond
    noise'; a bootstrap share above 1 comes from components that cancel in one resample)."""
    return "n/a" if not math.isfinite(value) else f"{_pct_number(value)}%"


# ---------------------------------------------------------------------------------------- the table


@dataclasses.dataclass(frozen=True)
class _Table:
    """The finite members grouped by cell (a distinct combination of the varying keys' values),
    sorted by cell so that cell `g` holds members starts[g]:starts[g] + counts[g]."""

    y: np.ndarray  # (n,) member values, sorted by cell
    cell: np.ndarray  # (n,) cell index per member
    counts: np.ndarray  # (G,) members per cell
    starts: np.ndarray  # (G,) first member of each cell
    keys: tuple[str, ...]  # the keys that vary
    levels: np.ndarray  # (G, K) each cell's level index per key
    distinct: tuple[tuple[object, ...], ...]  # per key, its distinct values (level order)
    dropped: int  # NaN members left out


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _sort_key(value: object) -> tuple[int, object]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, repr(value))


def _prepare(values: np.ndarray, config: np.ndarray, settings: Sequence[Mapping[str, object]]) -> _Table:
    """Drop NaN members, find the varying keys, group the members by cell."""
    y = np.asarray(values, np.float64).reshape(-1)
    idx = np.asarray(config).reshape(-1).astype(np.int64)
    if y.shape != idx.shape:
        raise ValueError(f"values and config must have one entry per member; got {y.size} and {idx.size}")
    if idx.size and (idx.min() < 0 or idx.max() >= len(settings)):
        raise ValueError(f"config holds indices outside the {len(settings)} settings")
    all_keys = sorted({k for s in settings for k in s})
    rows = [tuple(_hashable(s.get(k)) for k in all_keys) for s in settings]
    varying = [i for i, k in enumerate(all_keys) if len({r[i] for r in rows}) > 1]
    if not varying:
        raise ValueError(NOTHING_VARIES.format(n=len(settings)))
    ok = np.isfinite(y)
    if not ok.any():
        raise ValueError(NO_VALUES.format(n=y.size))
    used = sorted(set(idx[ok].tolist()))
    distinct = tuple(tuple(sorted({rows[c][i] for c in used}, key=_sort_key)) for i in varying)
    level_of = [{v: j for j, v in enumerate(d)} for d in distinct]
    combo = {c: tuple(level_of[j][rows[c][i]] for j, i in enumerate(varying)) for c in used}
    cells = sorted(set(combo.values()))
    cell_of = {cmb: g for g, cmb in enumerate(cells)}
    member_cell = np.array([cell_of[combo[c]] for c in idx[ok].tolist()], np.int64)
    order = np.argsort(member_cell, kind="stable")
    counts = np.bincount(member_cell, minlength=len(cells))
    return _Table(
        y=y[ok][order],
        cell=member_cell[order],
        counts=counts,
        starts=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        keys=tuple(all_keys[i] for i in varying),
        levels=np.array(cells, np.int64).reshape(len(cells), len(varying)),
        distinct=distinct,
        dropped=int((~ok).sum()),
    )


def _is_full_grid(table: _Table) -> bool:
    return len(table.counts) == math.prod(len(d) for d in table.distinct)


def _resample(table: _Table, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) member values, each cell's seeds drawn with replacement within the cell,
    so each cell keeps its number of members and the design stays the same.

    The draws' deviations from their cell's mean are scaled by sqrt(n_g / (n_g - 1)): a plain
    resample of n_g seeds has (n_g - 1) / n_g of their variance (1/8 too little with 8 seeds),
    which would bias the resampled seeds' share low and push its interval below the estimate.
    """
    u = rng.random((resamples, table.y.size))
    within = np.floor(u * table.counts[table.cell]).astype(np.int64)
    drawn = table.y[table.starts[table.cell] + within]
    means = (np.add.reduceat(table.y, table.starts) / table.counts)[table.cell]
    n = table.counts[table.cell].astype(np.float64)
    scale = np.sqrt(n / np.maximum(n - 1, 1))
    return means + scale * (drawn - means)


def _cell_stats(table: _Table, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell means (..., G), the within-cell sum of squares (...,) and the total sum of squares (...,)."""
    means = np.add.reduceat(y, table.starts, axis=-1) / table.counts
    ss_within = np.sum((y - means[..., table.cell]) ** 2, axis=-1)
    ss_total = np.sum((y - y.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    return means, ss_within, ss_total


def holm_adjusted(p: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values in the order given, the numbers of statsmodels' `multipletests(p,
    method="holm")` (the tests check it), in numpy: statsmodels' Holm branch runs gc.collect(),
    about 0.1 s a call in a process holding JAX, which made a 200-table simulation take 23 s."""
    raw = np.asarray(p, np.float64).reshape(-1)
    order = np.argsort(raw, kind="stable")
    m = raw.size
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.maximum.accumulate(raw[order] * np.arange(m, 0, -1)), 1.0)
    return adjusted


def _holm_reject(p: Sequence[float], alpha: float) -> list[bool]:
    """Distinguishable from seed noise: Holm-adjusted p < alpha (family-wise error <= alpha)."""
    return [bool(a < alpha) for a in holm_adjusted(p)] if len(p) else []


def _interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of (resamples, terms); NaN resamples are left out."""
    alpha = 1 - confidence
    low, high = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high


# ---------------------------------------------------------------------------------------- anova


def _treatment(levels: np.ndarray, count: int) -> np.ndarray:
    """(G, count - 1) treatment-coded columns of one factor (the first level the reference), as
    patsy's C(...) codes a factor beside an intercept."""
    return (levels[:, None] == np.arange(1, count)[None, :]).astype(np.float64)


def _term_columns(table: _Table, term: tuple[int, ...]) -> np.ndarray:
    """(G, prod(L_k - 1)) the columns of one term: products of its factors' coded columns."""
    cols = np.ones((len(table.counts), 1))
    for k in term:
        coded = _treatment(table.levels[:, k], len(table.distinct[k]))
        cols = (cols[:, :, None] * coded[:, None, :]).reshape(len(table.counts), -1)
    return cols


def _fitted(table: _Table, columns: Sequence[np.ndarray], v: np.ndarray) -> np.ndarray:
    """The weighted least-squares fit of sqrt(n_g)-scaled cell means `v` (..., G) on an intercept
    plus `columns` (each (G, c)), in the same scaled units."""
    w = np.sqrt(table.counts.astype(np.float64))[:, None]
    design = np.hstack([np.ones((len(table.counts), 1)), *columns]) * w
    q, _ = np.linalg.qr(design)
    return (v @ q) @ q.T


def _anova_terms(keys: int) -> list[tuple[int, ...]]:
    return [t for r in range(1, keys + 1) for t in itertools.combinations(range(keys), r)]


def _anova_ss(table: _Table, means: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Type II sums of squares of the reported terms for cell means (..., G): names, SS (..., T), df (T,).

    Term t's SS is the reduction in the residual sum of squares from adding t to the model of
    every term that does not contain t (marginality: its own higher-order relatives left out),
    computed as the squared norm of the difference of the two nested fits. Terms of order >= 3
    are pooled: all of them against the model of main effects and two-way interactions.
    """
    k = len(table.keys)
    terms = _anova_terms(k)
    cols = {t: _term_columns(table, t) for t in terms}
    wmean = np.sum(means * table.counts, axis=-1, keepdims=True) / table.counts.sum()
    v = (means - wmean) * np.sqrt(table.counts)  # centred: every model has the intercept
    names, ss, df = [], [], []
    for t in (t for t in terms if len(t) <= 2):
        bigger = [s for s in terms if not (set(t) < set(s))]
        with_t = _fitted(table, [cols[s] for s in bigger], v)
        without = _fitted(table, [cols[s] for s in bigger if s != t], v)
        names.append(" × ".join(table.keys[i] for i in t))
        ss.append(np.sum((with_t - without) ** 2, axis=-1))
        df.append(cols[t].shape[1])
    high = [t for t in terms if len(t) >= 3]
    if high:
        low_model = _fitted(table, [cols[s] for s in terms if len(s) <= 2], v)
        full = _fitted(table, [cols[s] for s in terms], v)
        names.append(HIGHER_ORDER)
        ss.append(np.sum((full - low_model) ** 2, axis=-1))
        df.append(sum(cols[t].shape[1] for t in high))
    return names, np.stack(ss, axis=-1), np.array(df, np.int64)


def _omega(ss: np.ndarray, df: np.ndarray, ss_within: np.ndarray, ss_total: np.ndarray, df_res: int) -> np.ndarray:
    ms_res = (ss_within / df_res)[..., None]
    return (ss - df * ms_res) / (ss_total[..., None] + ms_res)


def anova_table(values: np.ndarray, config: np.ndarray, settings: Sequence[Mapping[str, object]]) -> dict[str, Any]:
    """The point estimates behind method "anova": per reported term its Type II SS, df, F, p and
    omega squared, plus the residual; what the tests compare with statsmodels' `anova_lm`."""
    from scipy import stats

    table = _prepare(values, config, settings)
    means, ss_within, ss_total = _cell_stats(table, table.y)
    names, ss, df = _anova_ss(table, means)
    df_res = int(table.y.size - len(table.counts))
    f = (ss / df) / (ss_within / df_res)
    return {
        "names": names,
        "sum_sq": ss,
        "df": df,
        "F": f,
        "p": stats.f.sf(f, df, df_res),
        "omega_sq": _omega(ss, df, ss_within, ss_total, df_res),
        "ss_residual": float(ss_within),
        "df_residual": df_res,
        "ss_total": float(ss_total),
    }


def _anova(table: _Table, confidence: float, resamples: int, rng: np.random.Generator) -> list[ImportanceTerm]:
    """Full-factorial fixed-effects ANOVA, seeds as replicates.

    Type II sums of squares: for a balanced grid Types I, II and III agree; with diverged
    members dropped the grid is unbalanced, and Type II tests each main effect after the
    other main effects, respecting marginality, where Type I would depend on the order of the
    keys (and Type III tests main effects in the presence of their own interactions, which
    depends on the contrasts). statsmodels' `anova_lm(typ=2)` computes the same numbers
    with Wald tests in the full model: its hypothesis for term t is the part of "t and its
    higher-order relatives are 0" orthogonal (in the estimates' covariance) to "the relatives
    are 0", whose sum of squares is exactly RSS(without t) - RSS(with t) over the models of
    the terms not containing t. The tests check the agreement to 1e-10 on an unbalanced grid.

    Shares are omega squared, (SS_t - df_t MS_res) / (SS_total + MS_res), not eta squared
    SS_t / SS_total: eta squared credits an inert factor with its df's worth of the seed
    noise (E[SS_t] = df_t sigma^2 when it does nothing), the trap this exists to avoid.
    Omega squared subtracts that expectation, so it can come out below 0; the raw number is
    kept and only the display clips it. The seeds' share is SS_residual / SS_total.
    """
    from scipy import stats

    df_res = int(table.y.size - len(table.counts))
    means, ss_within, ss_total = _cell_stats(table, table.y)
    names, ss, df = _anova_ss(table, means)
    with np.errstate(divide="ignore", invalid="ignore"):  # seeds that agree exactly: F is inf (p 0) or 0/0
        f = (ss / df) / (ss_within / df_res)
    p = stats.f.sf(f, df, df_res)
    omega = _omega(ss, df, ss_within, ss_total, df_res)
    seeds = ss_within / ss_total
    boot = _resample(table, resamples, rng)
    b_means, b_within, b_total = _cell_stats(table, boot)
    _, b_ss, _ = _anova_ss(table, b_means)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_shares = np.column_stack([_omega(b_ss, df, b_within, b_total, df_res), b_within / b_total])
    low, high = _interval(b_shares, confidence)
    reject = _holm_reject(list(p), 1 - confidence)
    k = len(table.keys)
    terms = []
    for i, name in enumerate(names):
        kind: TermKind = "main" if i < k else ("higher_order" if name == HIGHER_ORDER else "interaction")
        terms.append(
            ImportanceTerm(
                name, kind, float(omega[i]), float(low[i]), float(high[i]), float(p[i]), reject[i], int(df[i])
            )
        )
    terms.append(ImportanceTerm(SEEDS, "seeds", float(seeds), float(low[-1]), float(high[-1]), None, None, df_res))
    return terms


# ---------------------------------------------------------------------------------------- surrogate


def _is_numeric(values: tuple[object, ...]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _key_basis(values: list[object], distinct: tuple[object, ...], most: int = 4) -> np.ndarray:
    """(G, d) one key's additive basis over the cells: a B-spline of a numeric key with
    > 3 distinct values (of its log when all > 0 and spanning more than a factor of 10, as
    log-uniform draws are), treatment-coded levels otherwise (patsy's C(...)). The spline has
    at most `most` columns (cubic from 3 on), so a short search still leaves the residual
    degrees of freedom the test needs."""
    import patsy  # statsmodels' formula layer

    if _is_numeric(distinct) and len(distinct) > 3:
        x = np.array(values, np.float64)
        if x.min() > 0 and x.max() > 10 * x.min():
            x = np.log(x)
        df = max(1, min(most, len(distinct) - 1))
        return np.asarray(patsy.dmatrix(f"0 + bs(x, df={df}, degree={min(3, df)})", {"x": x}), np.float64)
    level = {v: j for j, v in enumerate(distinct)}
    return _treatment(np.array([level[v] for v in values]), len(distinct))


def _fit_shares(
    design: np.ndarray, slices: list[slice], means: np.ndarray, counts: np.ndarray, ss_total: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of cell means on the design; returns each key's share (..., K) (the
    member-weighted variance of its fitted component over the total) and the residual SS (...)."""
    w = np.sqrt(counts.astype(np.float64))
    pinv = np.linalg.pinv(design * w[:, None])  # (..., p, G)
    beta = np.einsum("...pg,...g->...p", pinv, means * w)
    shares = []
    for sl in slices:
        comp = np.einsum("...gp,...p->...g", design[..., sl], beta[..., sl])
        comp = comp - np.sum(comp * counts, axis=-1, keepdims=True) / counts.sum()
        shares.append(np.sum(counts * comp**2, axis=-1) / ss_total)
    fitted = np.einsum("...gp,...p->...g", design, beta)
    return np.stack(shares, axis=-1), np.sum(counts * (means - fitted) ** 2, axis=-1)


def _surrogate_design(table: _Table) -> tuple[list[np.ndarray], np.ndarray, list[slice]]:
    g = len(table.counts)
    most = min(4, max(1, (g - 3) // max(1, len(table.distinct))))  # columns per key the configurations allow
    blocks = [_key_basis([d[j] for j in table.levels[:, i]], d, most) for i, d in enumerate(table.distinct)]
    design = np.hstack([np.ones((g, 1)), *blocks])
    edges = np.cumsum([1] + [b.shape[1] for b in blocks])
    return blocks, design, [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _permutation_p(
    table: _Table,
    design: np.ndarray,
    sl: slice,
    block: np.ndarray,
    observed: float,
    permutations: int,
    rng: np.random.Generator,
) -> float:
    """One key's basis rows shuffled across cells (all seeds of a cell move together, the other
    keys stay), refitted: p = (1 + #null >= observed) / (1 + permutations), ties counting.

    The statistic is the key's extra sum of squares given the other keys, which with the
    other keys fixed is minus the full model's residual SS (`observed` is that residual), not
    its component's variance: when the bases are correlated (a permutation makes them so at
    random) components can cancel each other with large opposite variances, and the component
    variance of a shuffled key then beat the real one 2 times in 199 in a table where the
    real key held 30% of the variance. The permuted designs are one stack, one batched pinv.
    """
    means, _, ss_total = _cell_stats(table, table.y)
    perms = np.argsort(rng.random((permutations, len(table.counts))), axis=1)
    stack = np.repeat(design[None], permutations, axis=0)
    stack[:, :, sl] = block[perms]
    _, residual = _fit_shares(stack, [sl], means, table.counts, ss_total)
    return float((1 + np.sum(residual <= observed * (1 + 1e-9))) / (1 + permutations))


def _surrogate(
    table: _Table, confidence: float, resamples: int, permutations: int, rng: np.random.Generator
) -> list[ImportanceTerm]:
    """An additive surrogate (GAM) over every member, its functional ANOVA, a permutation null.

    Why this model: an additive model's functional ANOVA is exact and closed form (each key's
    share is the variance of its own fitted component over the members), it fits in well under
    a millisecond, so a permutation null with hundreds of refits per key is affordable, and it
    needs nothing beyond numpy and patsy (statsmodels' formula layer). A random forest would
    need scikit-learn and fits the seed noise into spurious shares. Interactions are not
    modelled; what the additive fit leaves between the configuration means, less the seed
    noise expected there ((G - p) MS_within), is reported as "interactions and lack of fit"
    (clipped at 0). The seeds' share is the pooled within-configuration variance over the
    total variance (both with their degrees of freedom: the unbiased ratio, which may exceed
    the sum of the rest). A key's share is biased upward by the noise its component fits,
    which is why the verdict comes from the permutation null, not from the share.
    """
    blocks, design, slices = _surrogate_design(table)
    g, n, k = len(table.counts), table.y.size, len(table.keys)
    rank = int(np.linalg.matrix_rank(design))
    if g < rank + 2:
        raise ValueError(TOO_FEW_CONFIGS.format(p=design.shape[1], g=g))
    means, ss_within, ss_total = _cell_stats(table, table.y)
    shares, ss_lof = _fit_shares(design, slices, means, table.counts, ss_total)
    ms_within = ss_within / (n - g)
    seeds = ms_within / (ss_total / (n - 1))
    lof = max(0.0, float(ss_lof - (g - rank) * ms_within) / float(ss_total))
    p = [
        _permutation_p(table, design, sl, b, float(ss_lof), permutations, rng)
        for i, (sl, b) in enumerate(zip(slices, blocks))
    ]
    b_means, b_within, b_total = _cell_stats(table, _resample(table, resamples, rng))
    with np.errstate(divide="ignore", invalid="ignore"):
        b_shares, b_lof = _fit_shares(design, slices, b_means, table.counts, b_total)
        b_ms = b_within / (n - g)
        extra = np.column_stack([(b_lof - (g - rank) * b_ms) / b_total, b_ms / (b_total / (n - 1))])
    low, high = _interval(np.column_stack([b_shares, extra]), confidence)
    low[k], high[k] = max(low[k], 0.0), max(high[k], 0.0)  # lack of fit: clipped like its estimate
    reject = _holm_reject(p, 1 - confidence)
    terms = [
        ImportanceTerm(
            key, "main", float(shares[i]), float(low[i]), float(high[i]), p[i], reject[i], int(blocks[i].shape[1])
        )
        for i, key in enumerate(table.keys)
    ]
    terms.append(ImportanceTerm(LACK_OF_FIT, "lack_of_fit", lof, float(low[k]), float(high[k]), None, None, g - rank))
    terms.append(ImportanceTerm(SEEDS, "seeds", float(seeds), float(low[k + 1]), float(high[k + 1]), None, None, n - g))
    return terms


# ---------------------------------------------------------------------------------------- entry point


def _note(method: str, table: _Table, confidence: float, resamples: int, permutations: int, tests: int) -> str:
    level = f"{100 * confidence:g}%"
    alpha = f"{1 - confidence:.3g}"
    dropped = f" {table.dropped} diverged members left out." if table.dropped else ""
    if method == "anova":
        how = (
            "Full-factorial ANOVA with Type II sums of squares, seeds as replicates; shares are omega squared "
            "(seed noise subtracted, below 0 shown as 0%)"
        )
        test = f"F-tests, Holm-adjusted over the {tests} effect terms at {alpha}"
    else:
        how = (
            "Additive surrogate (splines, factors) fitted to every member; a key's share is the variance of its "
            "component"
        )
        test = f"{permutations}-permutation tests, Holm-adjusted over the {tests} keys at {alpha}"
    return (
        f"{how}; {level} intervals from {resamples} bootstrap resamples of the seeds within each "
        f"configuration; verdicts from {test}.{dropped}"
    )


def hyperparameter_importance(
    values: np.ndarray,
    config: np.ndarray,
    settings: Sequence[Mapping[str, object]],
    *,
    metric: str = "value",
    confidence: float = 0.95,
    resamples: int = 1000,
    permutations: int = 199,
    seed: int = 0,
) -> Importance:
    """Each varying hyperparameter's share of the variance of `values`, with the seeds' share
    beside it, an interval per share, and whether the share is distinguishable from seed noise.

    `values` holds one number per member (NaN for a diverged member: left out), `config` each
    member's index into `settings`, whose keys with one value everywhere are ignored. A full
    grid with >= 2 seeds somewhere is analysed by ANOVA; anything else (random search) by an
    additive surrogate with a permutation null (module docstring). One seed per configuration
    cannot separate a hyperparameter from the seeds: ValueError.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    if resamples < 1 or permutations < 1:
        raise ValueError(f"resamples and permutations must be >= 1; got {resamples} and {permutations}")
    table = _prepare(values, config, settings)
    if int(table.counts.max()) < 2:
        raise ValueError(ONE_SEED.format(n=int(table.counts.max())))
    if np.ptp(table.y) == 0:
        raise ValueError(NO_SPREAD.format(n=table.y.size, value=table.y[0]))
    rng = np.random.default_rng(seed)
    method: Literal["anova", "surrogate"] = "anova" if _is_full_grid(table) else "surrogate"
    if method == "anova":
        terms = _anova(table, confidence, resamples, rng)
    else:
        terms = _surrogate(table, confidence, resamples, permutations, rng)
    tests = sum(t.p_value is not None for t in terms)
    found = Importance(
        metric=metric,
        method=method,
        terms=tuple(terms),
        configurations=len(table.counts),
        members=int(table.y.size),
        seeds_per_configuration=(int(table.counts.min()), int(table.counts.max())),
        confidence=confidence,
        note=_note(method, table, confidence, resamples, permutations, tests),
    )
    return dataclasses.replace(found, terms=tuple(found.ranked()))
