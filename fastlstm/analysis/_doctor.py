"""`fastlstm doctor` as a library: what is wrong with this set-up, and does the fix work?

Three batched runs, each one compiled program: the learning-rate range test
(fastlstm/analysis/_lr_range.py), a seed sweep of the configuration as given, and -
for the most severe finding that names a spec change - the same sweep with that change
and the same seeds. The two sweeps are compared with the statistics of fastlstm.stats
(paired when the members share seeds on every stream), so the recommendation is not a
rule of thumb but a measured before/after: "val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03,
8 seeds each, p < 0.001". The data checks run first; data that cannot be trained on
(NaN) stops there with its findings.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fastlstm.analysis._lr_range import lr_range
from fastlstm.api._sweep import load_data, train
from fastlstm.diagnose import Findings, apply_change, check_data, diagnose
from fastlstm.diagnose._data_view import data_view
from fastlstm.runtime._progress import ProgressBar
from fastlstm.spec._space import is_distribution
from fastlstm.stats import compare_samples, describe, metric_bounds
from fastlstm.stats._compare import format_p
from fastlstm.stats._ranking import best_configuration, higher_is_better, result_metric_values

if TYPE_CHECKING:
    from fastlstm.analysis._lr_range import LRRange
    from fastlstm.diagnose import Finding, Findings
    from fastlstm.results._result import SweepResult
    from fastlstm.spec._sweep_spec import SweepSpec
    from fastlstm.stats._compare import Comparison

DOCTOR_SEEDS = 8  # seeds per sweep: a t-interval of useful width, 80% power for ~1.5 std effects
RANGE_SEEDS = 3  # the range test's seeds: one diverged seed leaves the median finite
BLOCKING = ("data.nan",)
JUDGED_BY_BALANCED_ACCURACY = (
    "data.imbalance",
)  # see balanced_accuracy_values  # findings that make training impossible: doctor stops after the data checks


@dataclasses.dataclass
class Diagnosis:
    """What `doctor` found: the findings (most severe first), the verification of the top
    recommendation (None when nothing could be verified), and the runs behind them."""

    findings: Findings
    verification: dict[str, Any] | None
    lr_range: LRRange | None = None
    before: SweepResult | None = None
    after: SweepResult | None = None

    def top(self) -> Finding | None:
        """The finding doctor verifies (or would, with verify=False): the most severe
        warning or error that names a change."""
        return next((f for f in self.findings if f.change and f.severity != "info"), None)

    def score(self) -> str | None:
        """The as-given sweep's own score: its best configuration's primary metric, mean ±
        std over seeds ('val_accuracy 0.61 ± 0.12 over 8 seeds'), None without a sweep."""
        if self.before is None:
            return None

        metric, values = result_metric_values(self.before)
        finite = list(_best_by_seed(self.before, values, metric).values())
        ok = np.isfinite(finite)
        if not ok.any():
            return f"{metric}: every member diverged"
        mean, std = (
            float(np.mean(np.asarray(finite)[ok])),
            float(np.std(np.asarray(finite)[ok], ddof=1)) if ok.sum() > 1 else 0.0,
        )
        lost = f" ({int((~ok).sum())} diverged)" if (~ok).any() else ""
        return f"{metric} {mean:.3g} ± {std:.2g} over {int(ok.sum())} seeds{lost}"

    def to_dict(self) -> dict[str, Any]:
        """The `--json` document: {"findings": [...], "verification": {...} | None}."""
        return {"findings": [f.to_dict() for f in self.findings], "verification": self.verification}


def doctor(
    spec: SweepSpec,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    sample_weight: Any = None,
    seeds: int = DOCTOR_SEEDS,
    verify: bool = True,
    verbose: int | str = 0,
    feature_names: Any = None,
) -> Diagnosis:
    """Check the data, run the range test and a `seeds`-seed sweep of `spec`, diagnose, and
    verify the top recommendation with a second sweep (same seeds, the finding's change).

    Only a warning or an error is verified: an info finding is worth knowing, not a problem
    to fix. `feature_names` (the columns' names) lets the findings name columns, not indices.
    Findings are not errors: the call returns them. Bad arguments raise `ValueError`
    before anything compiles. The sweep's result carries `analysis["findings"]` (with the
    verification) and `analysis["lr_range"]`, so `diagnosis.before.save(path)` writes a
    run folder whose report shows all of it.
    """

    fit = {"validation_data": validation_data, "sample_weight": sample_weight}
    data_options = {**_data_options(spec, validation_data), "feature_names": feature_names}
    blocking = [f for f in check_data(x, y, **data_options) if f.id in BLOCKING]
    if blocking:
        return Diagnosis(_findings(blocking), _not_verified(blocking[0], "the data cannot be trained on as it is"))
    sweep_spec = spec.replace(seeds=_seed_count(seeds))
    ds = load_data(sweep_spec, x, y, validation_data, sample_weight)  # every data error before any compile
    found_range = lr_range(x, y, spec=spec, seeds=RANGE_SEEDS, **_shown("range test", verbose), **fit)
    before = train(sweep_spec, ds, **_shown("as given", verbose))
    before.analysis["lr_range"] = found_range.to_dict()
    findings = diagnose(before, x=x, y=y, lr_range=found_range.to_dict(), **data_options)
    top = Diagnosis(findings, None).top()  # info is no problem to fix
    after, verification = None, None
    if top is not None and verify:
        after, verification = verify_change(top, sweep_spec, before, x, y, verbose=verbose, **fit)
    before.analysis["findings"] = {"findings": [f.to_dict() for f in findings], "verification": verification}
    return Diagnosis(findings, verification, found_range, before, after)


def _shown(title: str, verbose: int | str) -> dict[str, Any]:
    """The run arguments that show a progress bar named `title` ("range test", "as given",
    "with the fix": doctor runs three, and three bars all called "training" say nothing)."""

    show = sys.stderr.isatty() if verbose == "auto" else bool(verbose)
    return {"verbose": 0, "controllers": [ProgressBar(title=title)] if show else []}


def _seed_count(seeds: object) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ValueError(f"seeds must be an int >= 2 (a spread needs two seeds), got {seeds!r}")
    return seeds


def _data_options(spec: SweepSpec, validation_data: Any) -> dict[str, Any]:
    """The spec's settings that decide how the data checks read x and y."""
    model = spec.model
    options = {
        "validation_split": spec.validation_split,
        "split": spec.split,
        "split_seed": spec.split_seed,
        "mask_value": model.mask_value,
        "task": model.task,
        "loss": spec.loss,
        "num_classes": model.num_classes,
        "standardize": spec.standardize,
        "standardize_target": spec.standardize_target,
    }
    if validation_data is not None:
        options["validation_data"] = validation_data
    return options


def _findings(found: list[Finding]) -> Findings:

    return Findings(found)


def _not_verified(finding: Finding, why: str) -> dict[str, Any]:
    return {"finding": finding.id, "change": None, "skipped": why, "text": f"not verified: {why}"}


def changed_spec(spec: SweepSpec, change: Mapping[str, object]) -> SweepSpec:
    """`spec` with a finding's change applied; a grid key the change sets is dropped from
    the grid (the grid's values would otherwise override the change)."""

    grid = {k: v for k, v in spec.grid.items() if k not in change}
    if grid == spec.grid:
        return apply_change(spec, change)
    searched = any(is_distribution(v) for v in grid.values())  # a random search's trials need a distribution
    return apply_change(spec.replace(grid=grid, trials=spec.trials if searched else None), change)


def verify_change(
    finding: Finding,
    spec: SweepSpec,
    before: SweepResult,
    x: object,
    y: object = None,
    *,
    validation_data: object = None,
    sample_weight: object = None,
    verbose: int | str = 0,
) -> tuple[SweepResult, dict[str, Any]]:
    """Train `spec` with `finding.change` (same seeds) and compare it with `before` on the
    primary metric: each run's best configuration by mean over seeds, paired by seed."""

    change = cast("dict[str, Any]", finding.change)  # only a finding with a change is verified
    after_spec = changed_spec(spec, change)
    ds = load_data(after_spec, x, y, validation_data, sample_weight)
    after = train(after_spec, ds, **_shown("with the fix", verbose))
    values = None
    if finding.id in JUDGED_BY_BALANCED_ACCURACY and "split" not in change:  # a split moves the rows
        values = balanced_accuracy_values(before, after, x, y, spec, validation_data)
    verification = before_after(finding, before, after, values)
    if "split" in change:  # say it: the numbers are not over the same rows
        verification["note"] = (
            f"split={change['split']!r} holds out other rows: before and after are scored on different "
            f"validation rows (before: the spec's {spec.split!r} split; after: a {change['split']} draw)"
        )
    return after, verification


def balanced_accuracy_values(
    before: SweepResult, after: SweepResult, x: object, y: object, spec: SweepSpec, validation_data: object = None
) -> tuple[str, np.ndarray, np.ndarray] | None:
    """("val_balanced_accuracy", per member before, per member after): the mean recall over
    classes on the validation rows, or None without validation rows or for another task.

    Why: weighting the classes trades majority-class hits for minority-class hits, so plain
    accuracy can fall while the model got better at what imbalance hides (the minority).
    Balanced accuracy (scikit-learn's `balanced_accuracy_score`) scores always-the-majority
    at 1/k whatever the imbalance, which is the question the finding asks.
    """

    view = data_view(x, y, **_data_options(spec, validation_data))
    if view.val is None or view.val.y is None or view.task not in ("classification", "binary"):
        return None
    if view.task == "binary" and view.val.y.shape[1] != 1:
        return None  # multi-label: one balanced accuracy per output, no single number to compare
    part = view.val
    x_val = part.x if part.real.all() else [row[real] for row, real in zip(part.x, part.real)]
    y_val = cast(np.ndarray, part.y)  # checked above
    truth = y_val[:, 0].astype(np.int64) if y_val.shape[1] == 1 else np.argmax(y_val, axis=1)
    scores = [_balanced_accuracy(result.predict(x_val), truth) for result in (before, after)]
    return "val_balanced_accuracy", scores[0], scores[1]


def _balanced_accuracy(predictions: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per member: the mean over the classes present in `truth` of each class's recall."""
    guessed = predictions[..., 0] > 0.5 if predictions.shape[-1] == 1 else np.argmax(predictions, axis=-1)
    classes = np.unique(truth)
    recalls = [(guessed[:, truth == c] == c).mean(axis=1) for c in classes]
    return np.mean(recalls, axis=0)


def before_after(
    finding: Finding,
    before: SweepResult,
    after: SweepResult,
    values: tuple[str, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The verification document (fastlstm/diagnose schema): both runs' statistics on the
    primary metric (or on `values`: a metric name and per-member values for each run) over
    the same seeds, the test between them, the seeds the change lost, and one line.

    Why the same seeds: a fix that makes 4 of 8 seeds diverge and leaves the 4 lucky ones
    looks better on its survivors; so each run's best configuration is read per seed, the
    statistics and the test use the seeds finite in both runs (paired when they are the
    same seeds), and seeds that diverged or are missing after the change (not before)
    count against it: never "better" then.
    """

    if values is None:
        metric = verification_metric(before, after)
        values = (metric, _metric_values(before, metric), _metric_values(after, metric))
    metric, values_before, values_after = values
    by_seed = {
        "before": _best_by_seed(before, values_before, metric),
        "after": _best_by_seed(after, values_after, metric),
    }
    seeds_b, seeds_a = set(by_seed["before"]), set(by_seed["after"])
    paired = bool(seeds_b & seeds_a)  # disjoint seeds: two independent samples, nothing lost
    ok_b = {s for s, v in by_seed["before"].items() if np.isfinite(v)}
    ok_a = {s for s, v in by_seed["after"].items() if np.isfinite(v)}
    lost = sorted(ok_b - ok_a) if paired else []  # diverged, or missing, with the change
    gained = sorted(ok_a - ok_b) if paired else []
    b_seeds, a_seeds = (sorted(ok_b & ok_a),) * 2 if paired else (sorted(ok_b), sorted(ok_a))
    b = np.array([by_seed["before"][s] for s in b_seeds])
    a = np.array([by_seed["after"][s] for s in a_seeds])
    bounds = metric_bounds(metric)
    stats_before, stats_after = describe(b, bounds=bounds), describe(a, bounds=bounds)
    test = (
        compare_samples(a, b, paired=paired, higher_is_better=higher_is_better(metric))
        if min(a.size, b.size) >= 2
        else None
    )
    seeds = {"before": len(seeds_b), "after": len(seeds_a), "compared": int(a.size), "lost": lost, "regained": gained}
    helped = bool(test is not None and test.a_is_better and test.p < test.alpha and not lost)
    return {
        "finding": finding.id,
        "change": dict(finding.change or {}),
        "metric": metric,
        "before": stats_before,
        "after": stats_after,
        "test": None if test is None else test.to_dict(),
        "seeds": seeds,
        "helped": helped,
        "text": verification_text(metric, stats_before, stats_after, test, seeds),
    }


def verification_metric(before: SweepResult, after: SweepResult) -> str:
    """The primary metric, except when the change scales the target: a loss of the scaled
    target is not a loss of the raw one, so compare the mean absolute error in the target's
    units (val_mae, else mae) - which standardize_target logs in those units."""

    metric, _ = result_metric_values(before)
    scaled = [bool(r.meta.get("target_scaling")) for r in (before, after)]
    if scaled[0] != scaled[1]:
        both = set(before.history) & set(after.history)
        metric = next((m for m in ("val_mae", "mae", "val_mse", "mse") if m in both), metric)
    return metric


def _metric_values(result: SweepResult, metric: str) -> np.ndarray:

    return result_metric_values(result, metric)[1]


def _best_by_seed(result: SweepResult, values: np.ndarray, metric: str) -> dict[int, float]:
    """{seed: value} of the result's best configuration (by mean over its finite seeds; a
    run where every member diverged keeps its first configuration), NaN where diverged."""

    config = [m["config"] for m in result.members]
    if np.isfinite(values).any():
        chosen = best_configuration(values, config, result.configs, metric=metric).config
    else:
        chosen = config[0]
    return {int(m["seed"]): float(values[i]) for i, m in enumerate(result.members) if m["config"] == chosen}


def verification_text(
    metric: str,
    before: Mapping[str, object],
    after: Mapping[str, object],
    test: Comparison | None,
    seeds: Mapping[str, Any] | None = None,
) -> str:
    """'val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03, 8 seeds each, p < 0.001 (better)' (mean ±
    std over seeds), saying how many seeds the change lost; never "better" when it lost any."""

    def cell(d: Mapping[str, object]) -> str:
        return f"{d['mean']:.3g} ± {d['std']:.2g}"

    n_b, n_a = before["n"], after["n"]
    count = f"{n_a} seeds each" if n_a == n_b else f"{n_b} and {n_a} seeds"
    lost = list((seeds or {}).get("lost") or [])
    if lost:
        count = f"over the {n_a} seeds finite in both"
    if test is None:
        return f"{metric} {cell(before)} → {cell(after)}, {count}: too few seeds to compare" + _lost_text(lost, seeds)
    paired = ", paired by seed" if test.paired else ""
    verdict = "no clear difference"
    if test.p < test.alpha:
        verdict = "better" if test.a_is_better else "worse"
    if lost:
        verdict = "worse: the change lost seeds" if verdict != "worse" else verdict
    text = f"{metric} {cell(before)} → {cell(after)}, {count}{paired}, p {_p_phrase(format_p(test.p))}"
    return f"{text}{_lost_text(lost, seeds)} ({verdict})"


def _lost_text(lost: list[int], seeds: Mapping[str, object] | None) -> str:
    if not lost or seeds is None:
        return ""
    return f"; {len(lost)} of {seeds['after']} seeds diverged or are missing with the change (seeds {lost})"


def _p_phrase(formatted: str) -> str:
    """format_p gives '0.012' or '< 0.001': one phrase either way."""
    return formatted if formatted.startswith(("<", ">")) else f"= {formatted}"
