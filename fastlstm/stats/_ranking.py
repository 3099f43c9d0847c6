"""Configurations ranked by their mean over seeds, with the tests that say which differences are real.

Never by the single best seed: Reimers & Gurevych (2017, "Reporting Score Distributions
Makes a Difference", EMNLP; 2018, "Why Comparing Single Performance Scores Does Not
Allow to Draw Conclusions About Machine Learning Approaches", arXiv:1803.09578) found
that comparing one score per approach concluded a difference that the score
distributions did not support in up to 26% of cases. Each configuration is tested
against the top one (Welch's t, or the paired t-test when every configuration ran the
same seeds on every RNG stream and none diverged). The top one is chosen by the same
data, so Holm over those K - 1 pairs calls equal configurations "worse" too often
(7.5% at K = 5, 11.6% at K = 10, nominal 5%): the p-values against the best come from
a max-t step-down over all pairs of Welch's t (fastlstm/stats/_multiple.py). Against a
reference the user names, nothing is selected and Holm over the K - 1 pairs is right.

Ranking and tests use the same members (issue 26, item 10): a configuration's mean is
over its seeds that finished, and so is its test; pairs are used only when no seed of
either side diverged, since dropping pairs would test other members than the means rank
(which made `best()` and `compare()` disagree).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fastlstm.engine._losses import higher_is_better
from fastlstm.stats._compare import compare_samples, holm
from fastlstm.stats._multiple import maxt_stepdown
from fastlstm.stats._notebook import ranking_html, ranking_repr
from fastlstm.stats._summary import describe, final_values, metric_bounds
from fastlstm.stats._text import ranking_text

if TYPE_CHECKING:
    import numpy.typing as npt

    from fastlstm.results._result import SweepResult
    from fastlstm.stats._compare import Comparison

# The metric to rank by when none is named, first present wins (classification and binary;
# for regression only the losses count). Validation before training: it is the one that
# says how the model generalises; accuracy before loss: it is what the user reads.
PRIMARY_ORDER = ("val_accuracy", "val_loss", "accuracy", "loss")
REGRESSION_ORDER = ("val_loss", "loss")
STREAM_KEYS = ("init_seed", "order_seed", "dropout_seed")


def primary_metric(metrics: Sequence[str], task: str | None = None) -> str:
    """The metric to rank and diagnose by when the user names none.

    "val_accuracy" if present, else "val_loss", else "accuracy", else "loss" (for a
    regression `task` only "val_loss", then "loss"); failing all, the first one given.
    """
    names = list(metrics)
    if not names:
        raise ValueError("metrics: expected at least one metric name, got none")
    order = REGRESSION_ORDER if task == "regression" else PRIMARY_ORDER
    return next((m for m in order if m in names), names[0])


class Ranking(list):
    """Rows (dicts), one per configuration, best mean first; prints as a plain-text table.

    Each row: rank, config, the settings, seeds, diverged, n (seeds used), mean, std,
    ci_low, ci_high, ci_method, iqm, median, and against the reference configuration:
    test ("welch" or "paired t"), p (that test's, unadjusted), p_welch, p_adj (adjusted
    for the comparisons made: `adjustment`), p_beats (P(a seed of this configuration
    beats one of the reference's)), hedges_g, verdict, comparison (`Comparison.to_dict()`;
    None for the reference). `adjustment`: "max-t step-down" (against the best),
    "holm" (against a named reference) or "none" (a single comparison).
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, object]],
        *,
        metric: str,
        higher_is_better: bool,
        reference: int | None,
        grid_keys: Sequence[str] = (),
        confidence: float = 0.95,
        notes: Sequence[str] = (),
        adjustment: str = "none",
    ):
        super().__init__(dict(r) for r in rows)
        self.adjustment = adjustment
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.reference = reference
        self.grid_keys = tuple(grid_keys)
        self.confidence = confidence
        self.notes = list(notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN stays NaN: write it with the run folder's strict_json)."""
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "confidence": self.confidence,
            "reference": self.reference,
            "adjustment": self.adjustment,
            "grid_keys": list(self.grid_keys),
            "rows": [dict(r) for r in self],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        return ranking_text(self)

    def __repr__(self) -> str:  # one line: a notebook showed every row's dict
        return ranking_repr(self)

    def _repr_html_(self) -> str:
        return ranking_html(self)


@dataclasses.dataclass(frozen=True)
class BestConfiguration:
    """The configuration with the best mean, and the member to use for it.

    `member` is that configuration's median seed (the middle of its sorted values; the
    lower of the two middles for an even count): a typical model, not a lucky one.
    """

    config: int
    settings: dict[str, Any]
    metric: str
    higher_is_better: bool
    stats: dict[str, Any]  # describe()'s row
    member: int
    members: tuple[int, ...]
    # Against the runner-up (the second best mean): is the best really better?
    runner_up: int | None = None
    significant: bool | None = None  # None: no runner-up, or too few seeds to test
    comparison: dict[str, Any] | None = None  # compare_samples(best, runner-up).to_dict()
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"members": list(self.members)}


def member_pair_keys(members: Sequence[Mapping[str, object]]) -> list[Hashable | None]:
    """Per member (seed, init, order, dropout seeds); None where the streams are not recorded."""
    keys: list[Hashable | None] = []
    for m in members:
        streams = [m.get(k) for k in STREAM_KEYS]
        keys.append(None if any(s is None for s in streams) or m.get("seed") is None else (m["seed"], *streams))
    return keys


def paired_order(keys_a: Sequence[Hashable | None], keys_b: Sequence[Hashable | None]) -> tuple[list, list] | None:
    """Positions that pair A's members with B's (same seed on every stream), or None if they do not all pair."""
    if not keys_a or None in keys_a or None in keys_b:
        return None
    if len(set(keys_a)) != len(keys_a) or set(keys_a) != set(keys_b) or len(keys_a) != len(keys_b):
        return None
    where_b = {k: i for i, k in enumerate(keys_b)}
    order_a = sorted(range(len(keys_a)), key=lambda i: str(keys_a[i]))
    return order_a, [where_b[keys_a[i]] for i in order_a]


def compare_groups(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    keys_a: Sequence[Hashable | None] | None = None,
    keys_b: Sequence[Hashable | None] | None = None,
    *,
    higher_is_better: bool = True,
    confidence: float = 0.95,
):
    """`compare_samples` of two configurations' seeds, paired when their keys pair up one to one
    and no value on either side is NaN: dropping a pair would test other members than each
    side's mean is over (issue 26, item 10), so then the test is Welch's on every finite value."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    complete = bool(np.isfinite(a).all() and np.isfinite(b).all())
    can_pair = complete and keys_a is not None and keys_b is not None
    order = paired_order(list(keys_a), list(keys_b)) if can_pair and keys_a is not None and keys_b is not None else None
    if order is not None:
        a, b = a[order[0]], b[order[1]]
    return compare_samples(a, b, paired=order is not None, higher_is_better=higher_is_better, confidence=confidence)


def _sort_key(d: Mapping[str, Any], better_high: bool) -> tuple[int, float]:
    if d["n"] == 0:
        return (1, 0.0)
    return (0, -d["mean"] if better_high else d["mean"])


def rank_configurations(
    values: npt.ArrayLike,
    config_of_member: npt.ArrayLike,
    configs: Sequence[Mapping[str, object]],
    *,
    metric: str,
    against: str | int = "best",
    pair_keys: Sequence[Hashable | None] | None = None,
    confidence: float = 0.95,
) -> Ranking:
    """Rank configurations by mean `values` (NaN = diverged) and test each against the reference.

    `against` is "best" (the top mean; p adjusted by the max-t step-down over all pairs)
    or a configuration index (Holm over the K - 1 pairs). `pair_keys` (one per member, see
    `member_pair_keys`) pairs the configurations' members when every one of them pairs up.
    """
    values = np.asarray(values, np.float64)
    config_of_member = np.asarray(config_of_member)
    better_high = higher_is_better(metric)
    members = [np.flatnonzero(config_of_member == c) for c in range(len(configs))]
    described = [describe(values[idx], confidence, metric_bounds(metric)) for idx in members]
    order = sorted(range(len(configs)), key=lambda c: (_sort_key(described[c], better_high), c))
    reference = _reference(against, order, described, len(configs))
    keys = list(pair_keys) if pair_keys is not None else None
    samples = _family_samples(values, members, described, keys)
    tests: dict[int, Any] = {}
    if reference is not None:
        for c in order:
            if c != reference:
                tests[c] = _family_test(samples, c, reference, better_high, confidence)
    adjusted, adjustment = _adjusted(tests, samples, reference, against)
    rows = [
        _row(rank, c, configs[c], described[c], len(members[c]), tests.get(c), adjusted.get(c), c == reference, against)
        for rank, c in enumerate(order, start=1)
    ]
    grid_keys = list(dict.fromkeys(k for point in configs for k in point))
    return Ranking(
        rows,
        metric=metric,
        higher_is_better=better_high,
        reference=reference,
        grid_keys=grid_keys,
        confidence=confidence,
        notes=_ranking_notes(tests, len(configs), samples),
        adjustment=adjustment,
    )


@dataclasses.dataclass(frozen=True)
class _Samples:
    """Each configuration's values as tested: finite values, in seed order when `paired`."""

    values: dict[int, np.ndarray]
    paired: bool
    left_out: int = 0  # members with no finite value (diverged), in configurations that have some


def _family_samples(
    values: np.ndarray, members: list[np.ndarray], described: list[dict[str, Any]], keys: list | None
) -> _Samples:
    """The values every test of one ranking uses, the same members its means are over.

    Paired only when every configuration with a value ran the same seeds on every stream and
    none of them diverged; otherwise each configuration's finite values, tested unpaired.
    """
    present = [c for c in range(len(members)) if described[c]["n"] > 0]
    finite = {c: values[members[c]][np.isfinite(values[members[c]])] for c in present}
    left_out = sum(members[c].size - finite[c].size for c in present)
    if keys is None or not present or left_out:
        return _Samples(finite, False, left_out)
    first = [keys[i] for i in members[present[0]]]
    orders = {c: paired_order(first, [keys[i] for i in members[c]]) for c in present}
    if any(o is None for o in orders.values()):
        return _Samples(finite, False)
    paired = cast("dict[int, tuple[list[int], list[int]]]", orders)  # none is None (checked above)
    return _Samples({c: values[members[c]][paired[c][1]] for c in present}, True)


def _family_test(samples: _Samples, c: int, reference: int, better_high: bool, confidence: float) -> Comparison:
    a = samples.values.get(c, np.empty(0))
    b = samples.values.get(reference, np.empty(0))
    paired = samples.paired and a.size == b.size and a.size > 0
    return compare_samples(a, b, paired=paired, higher_is_better=better_high, confidence=confidence)


def _adjusted(
    tests: Mapping[int, Any], samples: _Samples, reference: int | None, against: str | int
) -> tuple[dict[int, float], str]:
    """(p adjusted for the comparisons made, per configuration; the adjustment's name).

    Against a named reference: Holm. Against the best: the max-t step-down's p of the pair
    (configuration, best) over all pairs of testable configurations (>= 2 values each);
    with only one such pair there is nothing to adjust. Untestable pairs stay NaN.
    """
    if against != "best":
        return _holm_by_config(tests), "holm"
    testable = [c for c in samples.values if samples.values[c].size >= 2]
    usable = {c: t for c, t in tests.items() if c in testable and math.isfinite(t.p)}
    if reference not in testable or len(testable) < 2 or not usable:
        return {}, "none"
    if len(testable) == 2:
        return {c: float(t.p) for c, t in usable.items()}, "none"
    # unpaired on purpose: the normal-null max-t with pairs measured liberal below 8 seeds (multiple.py)
    matrix = maxt_stepdown([samples.values[c] for c in testable], paired=False, null="normal")
    where = {c: i for i, c in enumerate(testable)}
    return {c: float(matrix[where[c], where[reference]]) for c in usable}, "max-t step-down"


def _reference(against: str | int, order: list[int], described: list[dict[str, Any]], count: int) -> int | None:
    if isinstance(against, str):
        if against != "best":
            raise ValueError(f"against must be 'best' or a configuration index, got {against!r}")
        return order[0] if order and described[order[0]]["n"] > 0 else None
    if isinstance(against, bool) or not isinstance(against, (int, np.integer)) or not 0 <= against < count:
        raise ValueError(f"against must be 'best' or a configuration index 0..{count - 1}, got {against!r}")
    return int(against)


def _holm_by_config(tests: Mapping[int, Any]) -> dict[int, float]:
    configs = list(tests)
    return dict(zip(configs, holm([tests[c].p for c in configs])))


def _row(
    rank: int,
    c: int,
    settings: Mapping[str, Any],
    d: Mapping[str, Any],
    seeds: int,
    test: Comparison | None,
    p_adj: float | None,
    is_reference: bool,
    against: str | int,
) -> dict[str, Any]:
    nan = math.nan
    row: dict[str, Any] = {"rank": rank, "config": c, **settings, "seeds": seeds, "diverged": seeds - d["n"]}
    row |= {k: d[k] for k in ("n", "mean", "std", "ci_low", "ci_high", "ci_method", "iqm", "median")}
    row |= {
        "test": None if test is None else ("paired t" if test.paired else "welch"),
        "p": nan if test is None else test.p,
        "p_welch": nan if test is None else test.welch_p,
        "p_adj": nan if p_adj is None else p_adj,
        "p_beats": nan if test is None else test.p_beats,
        "hedges_g": nan if test is None else test.hedges_g,
        "verdict": _verdict(d, test, p_adj, is_reference, against),
        "comparison": None if test is None else test.to_dict(),
    }
    return row


def _verdict(
    d: Mapping[str, object], test: Comparison | None, p_adj: float | None, is_reference: bool, against: str | int
) -> str:
    """'best', 'not distinguishable from the best', 'worse (p_adj=0.003)', ... in words; the
    direction is the test's own (its difference of means), never the ranking's."""
    target = "the best" if against == "best" else "the reference"
    if is_reference:
        return "best" if against == "best" else "reference"
    if d["n"] == 0:
        return "all seeds diverged"
    if test is not None and test.n_a >= 2 and test.n_b >= 2 and test.difference_ci_method == "none":
        return "cannot be tested (no spread within either configuration's seeds)"
    if test is None or p_adj is None or not math.isfinite(p_adj):
        return f"not testable ({d['n']} seed{'s' if d['n'] != 1 else ''}; needs >= 2 on each side)"
    if p_adj < test.alpha and test.difference != 0:
        return f"{'better' if test.a_is_better else 'worse'} (p_adj={p_adj:.2g})"
    return f"not distinguishable from {target}"


def _ranking_notes(tests: Mapping[int, Any], count: int, samples: _Samples) -> list[str]:
    """The notes the comparisons raised (each once), or why there is nothing to compare."""
    if count < 2:
        return ["one configuration: nothing to compare"]
    notes = []
    if samples.left_out:
        notes.append(
            "some seeds diverged: each configuration is ranked and tested on its seeds that finished "
            "(Welch's t, unpaired, so the means ranked and the means tested are the same)"
        )
    for test in tests.values():
        for part in test.notes:
            if part not in notes and not part.startswith("left out"):
                notes.append(part)
    return notes


def best_configuration(
    values: npt.ArrayLike,
    config_of_member: npt.ArrayLike,
    configs: Sequence[Mapping[str, object]],
    *,
    metric: str,
    pair_keys: Sequence[Hashable | None] | None = None,
    eligible: Sequence[bool] | None = None,
) -> BestConfiguration:
    """The configuration with the best mean `values` over its seeds, its median member, and
    whether it is significantly better than the runner-up.

    The verdict is the runner-up's row of `rank_configurations` over the eligible
    configurations (same members, same test, same max-t adjustment), so `best()` and
    `compare()` cannot disagree (issue 26, item 10). `eligible` (per configuration) leaves
    some out, e.g. those a scheduler pruned before the end: a configuration's value at its
    rung is not comparable with one at the last epoch.
    """
    values = np.asarray(values, np.float64)
    config_of_member = np.asarray(config_of_member)
    allowed = np.ones(len(configs), bool) if eligible is None else np.asarray(eligible, bool)
    masked = np.where(allowed[config_of_member], values, np.nan) if len(values) else values
    ranking = rank_configurations(masked, config_of_member, configs, metric=metric, pair_keys=pair_keys)
    if ranking.reference is None:
        raise ValueError(f"metric {metric!r}: every member diverged or has no value; there is no best configuration")
    top = ranking.reference
    members = np.flatnonzero(config_of_member == top)
    finite = [int(i) for i in members if np.isfinite(values[i])]
    by_value = sorted(finite, key=lambda i: (values[i], i))
    return BestConfiguration(
        config=top,
        settings=dict(configs[top]),
        metric=metric,
        higher_is_better=ranking.higher_is_better,
        stats=describe(values[members], bounds=metric_bounds(metric)),
        member=by_value[(len(by_value) - 1) // 2],
        members=tuple(int(i) for i in members),
        **_against_runner_up(ranking),
    )


def _against_runner_up(ranking: Ranking) -> dict[str, Any]:
    """runner_up, significant, comparison and verdict from the ranking's second row."""
    if len(ranking) < 2 or ranking[1]["n"] == 0:
        return {"verdict": "no runner-up to compare with"}
    row = ranking[1]
    second, p = row["config"], row["p_adj"]
    name = f"configuration {second}"
    if row["verdict"].startswith("cannot be tested"):
        verdict = f"cannot be tested against {name} (no spread within either's seeds)"
        return {"runner_up": second, "significant": None, "comparison": row["comparison"], "verdict": verdict}
    if not math.isfinite(p):
        verdict = f"not testable against {name} (needs >= 2 seeds on each side)"
        return {"runner_up": second, "significant": None, "comparison": row["comparison"], "verdict": verdict}
    significant = row["verdict"].startswith("worse")  # the runner-up is worse than the best
    word = "significantly better than" if significant else "not distinguishable from"
    test = row["test"]
    how = f"{test}, {ranking.adjustment}-adjusted" if ranking.adjustment != "none" else test
    verdict = f"{word} {name} ({how} p={p:.2g})"
    return {"runner_up": second, "significant": significant, "comparison": row["comparison"], "verdict": verdict}


def result_metric_values(result: SweepResult, metric: str | None = None) -> tuple[str, np.ndarray]:
    """(metric, each member's final value of it) of a `SweepResult`; NaN for members that diverged.

    None means `primary_metric` of the metrics `summary()` reports (`final_metrics()`);
    any other metric in the history is taken at the same epoch, as `final_metrics` does.
    """
    final = result.final_metrics()
    name = primary_metric(list(final), result.meta.get("task")) if metric is None else metric
    available = [n for n in result.history if n != "learning_rate"]
    if name not in available:
        raise ValueError(f"metric {name!r} is not in this result; expected one of {', '.join(available)}")
    epoch_index = np.array([m["final_epoch"] for m in result.members])
    values = final[name] if name in final else final_values(result.history[name], epoch_index)
    ok = np.array([m["status"] != "diverged" for m in result.members])
    return name, np.where(ok, np.asarray(values, np.float64), np.nan)
