"""Two samples of seeds: is the difference real? Welch, Mann-Whitney, P(beats), Holm.

Which tests (DESIGN.md §5): Welch's t-test, never Student's, since two configurations'
seeds rarely spread alike and Student's test then gets its error rate wrong; the
Mann-Whitney U test, which assumes no shape at all; and the probability that a seed of
A beats a seed of B, which says how much the distributions overlap in words a reader
can use. When both configurations ran the same seeds on every RNG stream the pairs are
tested as pairs too (paired t, Wilcoxon signed-rank). Exact rank tests have a floor:
with 3 and 3 seeds no arrangement of the numbers gives a Mann-Whitney p below 0.10,
and the comparison says so rather than calling the difference "not significant". The
floor holds with ties too: small samples get an exact permutation p, never scipy's
normal approximation (which gave p = 0.047 for 3 tied vs 3 tied seeds; issue 26,
item 9). Two samples with no spread at all cannot be tested (item 13): a t-test
measures the difference against the noise, and there is none to measure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

EFFECT_SIZE = "hedges_g"
# Mann-Whitney with ties: an exact permutation p while the splits of the pooled seeds number
# at most this (8 vs 8 seeds: 12,870, about 10 ms); beyond it the normal approximation,
# whose error no longer matters (the floor is then below 2 / 20,000).
PERMUTATION_SPLITS = 20_000
_PAIR_FIELDS = ("paired_t", "paired_p", "wilcoxon_w", "wilcoxon_p", "wilcoxon_method", "min_p_wilcoxon")


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Sample A against sample B; `difference` is mean A - mean B, whatever the direction.

    `p_beats` is P(a seed of A is better than a seed of B), better meaning higher when
    `higher_is_better`, ties counting one half; 0.5 means no tendency either way.
    `p` is the test to act on: the paired t-test when paired, Welch's otherwise.
    Fields that do not apply (the paired tests of unpaired samples, tests that need two
    values per side) are None or NaN; `notes` say in words what limits the comparison.
    """

    n_a: int
    n_b: int
    dropped_a: int  # NaN values left out (members that diverged)
    dropped_b: int
    paired: bool
    higher_is_better: bool
    confidence: float
    mean_a: float
    mean_b: float
    difference: float
    difference_ci_low: float
    difference_ci_high: float
    difference_ci_method: str  # "welch", "paired t" or "none" (too few seeds, or no spread)
    welch_t: float
    welch_df: float
    welch_p: float
    mannwhitney_u: float  # U of sample A
    mannwhitney_p: float
    mannwhitney_method: str  # "exact", "permutation" (exact, with ties) or "asymptotic"
    min_p: float  # the smallest p the exact Mann-Whitney test can give at these sizes
    p_beats: float
    p_beats_ci_low: float
    p_beats_ci_high: float
    hedges_g: float
    paired_t: float | None = None
    paired_p: float | None = None
    wilcoxon_w: float | None = None
    wilcoxon_p: float | None = None
    wilcoxon_method: str | None = None
    min_p_wilcoxon: float | None = None
    wilcoxon_pairs: int | None = None  # the pairs Wilcoxon counts: those whose values differ
    notes: tuple[str, ...] = ()  # what limits the comparison, one sentence each

    @property
    def note(self) -> str:
        """The notes in one line ('' when nothing limits the comparison)."""
        return "; ".join(self.notes)

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def p(self) -> float:
        """The p-value to act on: the paired t-test's when paired, Welch's otherwise."""
        return float(self.paired_p) if self.paired and self.paired_p is not None else self.welch_p

    @property
    def a_is_better(self) -> bool:
        if not math.isfinite(self.difference) or self.difference == 0:
            return False
        return bool(self.difference > 0) == self.higher_is_better

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN stays NaN: write it with the run folder's strict_json)."""
        doc = dataclasses.asdict(self)
        doc["notes"] = list(self.notes)
        doc |= {"note": self.note, "effect_size": EFFECT_SIZE, "p": self.p}
        return doc

    def __str__(self) -> str:
        test = "paired t" if self.paired else "Welch"
        sizes = f"{self.n_a} vs {self.n_b} seeds" + (" (paired)" if self.paired else "")
        text = (
            f"A - B = {self.difference:.4g} [{self.difference_ci_low:.4g}, {self.difference_ci_high:.4g}], "
            f"{sizes}, {test} {p_phrase(self.p)}, Mann-Whitney {p_phrase(self.mannwhitney_p)}, "
            f"P(A beats B) = {self.p_beats:.2f}, Hedges' g = {self.hedges_g:.2f}"
        )
        return text + (f"; {self.note}" if self.note else "")


def format_p(p: float | None) -> str:
    """A p-value as a reader wants it: 2 significant digits, '< 0.001' below that."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def p_phrase(p: float | None) -> str:
    """'p = 0.012', 'p < 0.001' or 'p n/a': `format_p` after its sign (never 'p = < 0.001')."""
    text = format_p(p)
    return f"p {text}" if text.startswith(("<", "n/a")) else f"p = {text}"


def _finite(values: npt.ArrayLike) -> np.ndarray:
    v = np.asarray(values, np.float64).reshape(-1)
    return v[np.isfinite(v)]


def compare_samples(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    paired: bool = False,
    higher_is_better: bool = True,
    confidence: float = 0.95,
) -> Comparison:
    """Compare the final metrics of two sets of seeds; NaNs (diverged members) are dropped.

    With `paired=True`, a[i] and b[i] ran the same seed (same RNG streams): a pair with a
    NaN on either side is dropped whole, and the paired t-test and the Wilcoxon
    signed-rank test are added; the difference's interval is then the paired t one.
    Unpaired, it is Welch's. The effect size is Hedges' g: the difference of means over
    the pooled standard deviation (ddof=1), times the exact small-sample correction
    J(df) = Γ(df/2) / (√(df/2) Γ((df-1)/2)), df = n_a + n_b - 2.
    The interval of `p_beats` is Newcombe's score-type interval (Newcombe 2006, "Confidence
    intervals for an effect size measure based on the Mann-Whitney statistic. Part 2",
    Stat. Med. 25:559-573, method 5): the Hanley-McNeil (1982) variance with both sample
    sizes replaced by their mean, inverted rather than plugged in, so it stays in [0, 1]
    and is not zero-width when every seed of A beats every seed of B.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    raw_a, raw_b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if paired:
        if raw_a.size != raw_b.size:
            raise ValueError(f"paired=True needs as many values in a as in b, got {raw_a.size} and {raw_b.size}")
        keep = np.isfinite(raw_a) & np.isfinite(raw_b)
        x, y = raw_a[keep], raw_b[keep]
    else:
        x, y = _finite(raw_a), _finite(raw_b)
    fields: dict[str, Any] = {
        "n_a": int(x.size),
        "n_b": int(y.size),
        "dropped_a": int(raw_a.size - x.size),
        "dropped_b": int(raw_b.size - y.size),
        "paired": bool(paired),
        "higher_is_better": bool(higher_is_better),
        "confidence": float(confidence),
        "mean_a": float(x.mean()) if x.size else math.nan,
        "mean_b": float(y.mean()) if y.size else math.nan,
    }
    fields["difference"] = fields["mean_a"] - fields["mean_b"]
    fields.update(_welch(x, y, confidence))
    fields.update(_mann_whitney(x, y, higher_is_better, confidence))
    fields["hedges_g"] = hedges_g(x, y)
    if paired:
        fields.update(_paired_tests(x, y, confidence))
    fields["notes"] = _notes(fields, 1.0 - confidence)
    return Comparison(**fields)


def _welch(x: np.ndarray, y: np.ndarray, confidence: float) -> dict[str, Any]:
    """Welch's t-test and its interval of the difference; NaN where a side has < 2 values."""
    from scipy import stats as sps

    if x.size < 2 or y.size < 2:
        return _no_t_test("welch")
    if _no_spread(x) and _no_spread(y):
        return _degenerate_t_test("welch", float(x.mean() - y.mean()))
    with _exact_ties():
        res = sps.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(confidence_level=confidence)
    return {
        "welch_t": float(res.statistic),
        "welch_df": float(res.df),
        "welch_p": float(res.pvalue),
        "difference_ci_low": float(ci.low),
        "difference_ci_high": float(ci.high),
        "difference_ci_method": "welch",
    }


@contextlib.contextmanager
def _exact_ties() -> Iterator[None]:
    """scipy warns of "catastrophic cancellation" when one side's values are all equal (every
    seed at accuracy 1.0, say): those values are exact, their variance is 0, and the test is
    still right - the warning would only reach the user as a line about nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss occurred", category=RuntimeWarning)
        yield


def _no_spread(v: np.ndarray) -> bool:
    """All values equal, up to float64 rounding (1.1 - 1.0 and 2.1 - 2.0 differ in the 16th digit)."""
    return bool(np.ptp(v) <= 1e-12 * max(1.0, float(np.max(np.abs(v)))))


def _no_t_test(kind: str) -> dict[str, Any]:
    nan = math.nan
    out = {"difference_ci_low": nan, "difference_ci_high": nan, "difference_ci_method": "none"}
    if kind == "welch":
        return out | {"welch_t": nan, "welch_df": nan, "welch_p": nan}
    return out | {"paired_t": nan, "paired_p": nan}


def _degenerate_t_test(kind: str, difference: float) -> dict[str, Any]:
    """No spread at all (identical seeds, e.g. settings that change nothing): the t statistic is
    0/0 or d/0. Equal values are no evidence of a difference (p = 1, the interval the point 0).
    A constant nonzero difference cannot be tested: with no spread there is no noise to measure
    it against, and p = 0 ("p < 0.001" from 2 seeds a side) claimed what two seeds cannot show
    (issue 26, item 13); p and the interval are NaN and a note says why."""
    if difference != 0:
        return _no_t_test(kind)
    out = {"difference_ci_low": 0.0, "difference_ci_high": 0.0, "difference_ci_method": kind}
    if kind == "welch":
        return out | {"welch_t": 0.0, "welch_df": math.nan, "welch_p": 1.0}
    return out | {"paired_t": 0.0, "paired_p": 1.0}


def _mann_whitney(x: np.ndarray, y: np.ndarray, higher_is_better: bool, confidence: float) -> dict[str, Any]:
    """Mann-Whitney U with its p from `mannwhitney_p`, and P(A beats B) with its interval."""
    nan = math.nan
    out: dict[str, Any] = {"min_p": exact_mannwhitney_min_p(x.size, y.size)}
    if x.size == 0 or y.size == 0:
        none = {"mannwhitney_u": nan, "mannwhitney_p": nan, "mannwhitney_method": "none"}
        return out | none | {"p_beats": nan, "p_beats_ci_low": nan, "p_beats_ci_high": nan}
    u, p, method = mannwhitney_p(x, y)
    out |= {"mannwhitney_u": u, "mannwhitney_p": p, "mannwhitney_method": method}
    beats = probability_of_beating(x, y, higher_is_better)
    low, high = newcombe_interval(beats, x.size, y.size, confidence)
    return out | {"p_beats": beats, "p_beats_ci_low": low, "p_beats_ci_high": high}


def mannwhitney_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """(U of x, two-sided p, method) of the Mann-Whitney test, exact whenever the floor matters.

    While the splits of the pooled values number at most `PERMUTATION_SPLITS`: scipy's
    exact null distribution when no value is tied, else an exact permutation p over every
    split (scipy's `permutation_test`, twice the smaller tail), so p never goes below
    `exact_mannwhitney_min_p` (3 tied vs 3 tied: 0.10, where method="auto" gave 0.047).
    Larger samples: the normal approximation with the tie correction.
    """
    from scipy import stats as sps

    tied = np.unique(np.concatenate([x, y])).size < x.size + y.size
    if math.comb(x.size + y.size, x.size) > PERMUTATION_SPLITS:
        res = sps.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
        return float(res.statistic), float(res.pvalue), "asymptotic"
    if not tied:
        res = sps.mannwhitneyu(x, y, alternative="two-sided", method="exact")
        return float(res.statistic), float(res.pvalue), "exact"
    res = sps.permutation_test(
        (x, y),
        _u_statistic,
        permutation_type="independent",
        alternative="two-sided",
        n_resamples=np.inf,
        vectorized=True,
    )
    return float(res.statistic), min(1.0, float(res.pvalue)), "permutation"


def _u_statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """U of x (pairs where x > y, ties counting 1/2), vectorised over leading axes for permutation_test."""
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    diff = x[..., :, None] - y[..., None, :]
    return (diff > 0).sum(axis=(-2, -1)) + 0.5 * (diff == 0).sum(axis=(-2, -1))


def probability_of_beating(x: np.ndarray, y: np.ndarray, higher_is_better: bool = True) -> float:
    """P(a value of x is better than a value of y) over all n*m pairs, a tie counting 1/2.

    Equal to U/(n*m) with U the Mann-Whitney statistic of x (when higher is better).
    """
    diff = np.subtract.outer(np.asarray(x, np.float64), np.asarray(y, np.float64))
    if not higher_is_better:
        diff = -diff
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def newcombe_interval(theta: float, n: int, m: int, confidence: float = 0.95) -> tuple[float, float]:
    """Score-type interval for theta = U/(n m) (Newcombe 2006, Part 2, method 5).

    Solves (θ - theta)² = z² V(θ) on each side of theta, with the Hanley-McNeil variance
    V(θ) = θ(1-θ)/(n m) · [1 + (N*-1)((1-θ)/(2-θ) + θ/(1+θ))], N* = (n+m)/2.
    """
    from scipy import optimize
    from scipy import stats as sps

    if n == 0 or m == 0 or not math.isfinite(theta):
        return math.nan, math.nan
    z2 = float(sps.norm.ppf(0.5 + confidence / 2)) ** 2
    half_n = (n + m) / 2.0

    def gap(t: float) -> float:
        variance = t * (1 - t) / (n * m) * (1 + (half_n - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
        return (t - theta) ** 2 - z2 * variance

    # V vanishes at 0 and 1, so at theta = 1 (or 0) the bracket must stop just short of it,
    # or the root found is theta itself and the interval has zero width.
    edge = 1e-9
    low = 0.0 if theta <= 0.0 or gap(0.0) <= 0 else optimize.brentq(gap, 0.0, min(theta, 1.0 - edge))
    high = 1.0 if theta >= 1.0 or gap(1.0) <= 0 else optimize.brentq(gap, max(theta, edge), 1.0)
    return float(low), float(high)


def hedges_g(x: np.ndarray, y: np.ndarray) -> float:
    """(mean x - mean y) / pooled std, times Hedges' exact small-sample correction J(n+m-2)."""
    n, m = x.size, y.size
    df = n + m - 2
    if n < 1 or m < 1 or df < 2:
        return math.nan
    pooled = ((n - 1) * (x.var(ddof=1) if n > 1 else 0.0) + (m - 1) * (y.var(ddof=1) if m > 1 else 0.0)) / df
    diff = float(x.mean() - y.mean())
    if pooled == 0:
        return math.nan if diff == 0 else math.copysign(math.inf, diff)
    correction = math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)
    return diff / math.sqrt(pooled) * correction


def _paired_tests(x: np.ndarray, y: np.ndarray, confidence: float) -> dict[str, Any]:
    """Paired t (its interval replaces Welch's) and Wilcoxon signed-rank on the pairs' differences."""
    from scipy import stats as sps

    d = x - y
    nonzero = int(np.count_nonzero(d))
    out: dict[str, Any] = {"min_p_wilcoxon": exact_wilcoxon_min_p(nonzero), "wilcoxon_pairs": nonzero}
    if d.size < 2:
        out |= _no_t_test("paired t")
    elif _no_spread(d):
        out |= _degenerate_t_test("paired t", float(d.mean()))
    else:
        with _exact_ties():
            res = sps.ttest_rel(x, y)
        ci = res.confidence_interval(confidence_level=confidence)
        out |= {"paired_t": float(res.statistic), "paired_p": float(res.pvalue)}
        out |= {"difference_ci_low": float(ci.low), "difference_ci_high": float(ci.high)}
        out["difference_ci_method"] = "paired t"
    if nonzero >= 1:
        # zeros left out first (Wilcoxon's rule, scipy's default), so scipy's "auto" chooses its
        # exact or permutation p by the pairs that count and the floor 2 / 2**nonzero holds
        res = sps.wilcoxon(d[d != 0], method="auto")
        out |= {"wilcoxon_w": float(res.statistic), "wilcoxon_p": float(res.pvalue)}
        out["wilcoxon_method"] = _wilcoxon_method(d[d != 0])
    else:  # every pair equal (or none): nothing against "no difference"
        out |= {"wilcoxon_w": 0.0 if d.size else math.nan, "wilcoxon_p": 1.0 if d.size else math.nan}
        out["wilcoxon_method"] = "none"
    return out


def _wilcoxon_method(d: np.ndarray) -> str:
    """Which method scipy's wilcoxon(method="auto") used on nonzero differences `d` (scipy >= 1.13's rule)."""
    nonzero = d[d != 0]
    tied = np.unique(np.abs(nonzero)).size < nonzero.size or nonzero.size < d.size
    if d.size > 50:
        return "asymptotic"
    if not tied:
        return "exact"
    return "permutation" if d.size <= 13 else "asymptotic"


def exact_mannwhitney_min_p(n: int, m: int) -> float:
    """The smallest two-sided p the exact Mann-Whitney test can give with n and m values.

    Only the most extreme ordering (every value of one sample above every value of the
    other) reaches it: 2 / C(n+m, n). 3 vs 3 -> 0.10, 4 vs 4 -> 0.029.
    """
    if n < 1 or m < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n + m, n))


def exact_wilcoxon_min_p(pairs: int) -> float:
    """The smallest two-sided p of the exact Wilcoxon signed-rank test: 2 / 2**pairs (5 pairs -> 0.0625)."""
    return min(1.0, 2.0 ** (1 - pairs)) if pairs >= 1 else 1.0


def seeds_each_for_mannwhitney(alpha: float) -> int:
    """The fewest seeds per side at which the exact Mann-Whitney test can reach p <= alpha."""
    k = 1
    while exact_mannwhitney_min_p(k, k) > alpha:
        k += 1
    return k


def _notes(f: dict[str, Any], alpha: float) -> tuple[str, ...]:
    """What limits this comparison, in plain words, one sentence each."""
    parts = []
    n, m = f["n_a"], f["n_b"]
    if f["dropped_a"] or f["dropped_b"]:
        parts.append(f"left out {f['dropped_a']} and {f['dropped_b']} values that were NaN (diverged)")
    if n < 2 or m < 2:
        parts.append(f"with {n} and {m} seeds the t-tests cannot run; use >= 2 seeds each, better >= 4")
    elif f["difference_ci_method"] == "none":
        same = (
            f"every pair differs by the same {f['difference']:.4g}"
            if f["paired"]
            else f"every seed gave the same value on each side ({f['mean_a']:.4g} and {f['mean_b']:.4g})"
        )
        parts.append(
            f"cannot be tested: {same}, so there is no spread to measure the difference against; "
            "use more seeds or a finer metric"
        )
    if f["min_p"] > alpha:
        each = seeds_each_for_mannwhitney(alpha)
        parts.append(
            f"with {n} and {m} seeds Mann-Whitney cannot reach p < {alpha:g} whatever the numbers; "
            f"use >= {each} seeds each"
        )
    if f["paired"] and f["wilcoxon_method"] != "none" and f["min_p_wilcoxon"] > alpha:
        parts.append(_wilcoxon_floor_note(n, f["wilcoxon_pairs"], alpha))
    return tuple(parts)


def _wilcoxon_floor_note(pairs: int, differing: int, alpha: float) -> str:
    """The Wilcoxon floor in the pairs it is counted by: pairs with no difference do not count
    (before, "with 6 pairs ... use >= 6 seeds" counted 6 pairs where 5 differed)."""
    need = _pairs_for_wilcoxon(alpha)
    if differing == pairs:
        return f"with {pairs} pairs Wilcoxon cannot reach p < {alpha:g} whatever the numbers; use >= {need} seeds"
    return (
        f"with {differing} of {pairs} pairs differing (Wilcoxon leaves out pairs with no difference) it "
        f"cannot reach p < {alpha:g} whatever the numbers; it needs >= {need} pairs that differ"
    )


def _pairs_for_wilcoxon(alpha: float) -> int:
    k = 1
    while exact_wilcoxon_min_p(k) > alpha:
        k += 1
    return k


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels' multipletests), in the order given.

    NaN entries (tests that could not run) stay NaN and do not count as tests.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, np.float64).reshape(-1)
    out = np.full(p.shape, math.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = multipletests(p[finite], method="holm")[1]
    return [float(v) for v in out]
