"""`fastlstm doctor` as a library: what is wrong with this set-up, and does the fix work?

Three batched runs, each one compiled program: the learning-rate range test
(fastlstm/analysis/lr_range.py), a seed sweep of the configuration as given, and -
for the most severe finding that names a spec change - the same sweep with that change
and the same seeds. The two sweeps are compared with the statistics of fastlstm.stats
(paired when the members share seeds on every stream), so the recommendation is not a
rule of thumb but a measured before/after: "val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03,
8 seeds each, p < 0.001". The data checks run first; data that cannot be trained on
(NaN) stops there with its findings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from fastlstm.analysis.lr_range import LRRange
    from fastlstm.diagnose import Finding, Findings
    from fastlstm.result import SweepResult
    from fastlstm.spec import SweepSpec

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
) -> Diagnosis:
    """Check the data, run the range test and a `seeds`-seed sweep of `spec`, diagnose, and
    verify the top recommendation with a second sweep (same seeds, the finding's change).

    Only a warning or an error is verified: an info finding is worth knowing, not a problem
    to fix. Findings are not errors: the call returns them. Bad arguments raise `ValueError`
    before anything compiles. The sweep's result carries `analysis["findings"]` (with the
    verification) and `analysis["lr_range"]`, so `diagnosis.before.save(path)` writes a
    run folder whose report shows all of it.
    """
    from fastlstm.analysis.lr_range import lr_range
    from fastlstm.diagnose import check_data, diagnose
    from fastlstm.runner import load_data, train

    fit = {"validation_data": validation_data, "sample_weight": sample_weight}
    data_options = _data_options(spec, validation_data)
    blocking = [f for f in check_data(x, y, **data_options) if f.id in BLOCKING]
    if blocking:
        return Diagnosis(_findings(blocking), _not_verified(blocking[0], "the data cannot be trained on as it is"))
    sweep_spec = spec.replace(seeds=_seed_count(seeds))
    ds = load_data(sweep_spec, x, y, validation_data, sample_weight)  # every data error before any compile
    found_range = lr_range(x, y, spec=spec, seeds=RANGE_SEEDS, verbose=verbose, **fit)
    before = train(sweep_spec, ds, verbose=verbose)
    before.analysis["lr_range"] = found_range.to_dict()
    findings = diagnose(before, x=x, y=y, lr_range=found_range.to_dict(), **data_options)
    top = next((f for f in findings if f.change and f.severity != "info"), None)  # info is no problem to fix
    after, verification = None, None
    if top is not None and verify:
        after, verification = verify_change(top, sweep_spec, before, x, y, verbose=verbose, **fit)
    before.analysis["findings"] = {"findings": [f.to_dict() for f in findings], "verification": verification}
    return Diagnosis(findings, verification, found_range, before, after)


def _seed_count(seeds: Any) -> int:
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
    }
    if validation_data is not None:
        options["validation_data"] = validation_data
    return options


def _findings(found: list[Finding]) -> Findings:
    from fastlstm.diagnose import Findings

    return Findings(found)


def _not_verified(finding: Finding, why: str) -> dict[str, Any]:
    return {"finding": finding.id, "change": None, "skipped": why, "text": f"not verified: {why}"}


def changed_spec(spec: SweepSpec, change: Mapping[str, Any]) -> SweepSpec:
    """`spec` with a finding's change applied; a grid key the change sets is dropped from
    the grid (the grid's values would otherwise override the change)."""
    from fastlstm.diagnose import apply_change
    from fastlstm.search.space import is_distribution

    grid = {k: v for k, v in spec.grid.items() if k not in change}
    if grid == spec.grid:
        return apply_change(spec, change)
    searched = any(is_distribution(v) for v in grid.values())  # a random search's trials need a distribution
    return apply_change(spec.replace(grid=grid, trials=spec.trials if searched else None), change)


def verify_change(
    finding: Finding,
    spec: SweepSpec,
    before: SweepResult,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    sample_weight: Any = None,
    verbose: int | str = 0,
) -> tuple[SweepResult, dict[str, Any]]:
    """Train `spec` with `finding.change` (same seeds) and compare it with `before` on the
    primary metric: each run's best configuration by mean over seeds, paired by seed."""
    from fastlstm.runner import load_data, train

    after_spec = changed_spec(spec, finding.change)
    ds = load_data(after_spec, x, y, validation_data, sample_weight)
    after = train(after_spec, ds, verbose=verbose)
    values = None
    if finding.id in JUDGED_BY_BALANCED_ACCURACY and "split" not in finding.change:  # a split moves the rows
        values = balanced_accuracy_values(before, after, x, y, spec, validation_data)
    verification = before_after(finding, before, after, values)
    if "split" in finding.change:  # say it: the numbers are not over the same rows
        verification["note"] = (
            f"split={finding.change['split']!r} holds out other rows: before and after are scored on different "
            f"validation rows (before: the spec's {spec.split!r} split; after: a {finding.change['split']} draw)"
        )
    return after, verification


def balanced_accuracy_values(
    before: SweepResult, after: SweepResult, x: Any, y: Any, spec: SweepSpec, validation_data: Any = None
) -> tuple[str, np.ndarray, np.ndarray] | None:
    """("val_balanced_accuracy", per member before, per member after): the mean recall over
    classes on the validation rows, or None without validation rows or for another task.

    Why: weighting the classes trades majority-class hits for minority-class hits, so plain
    accuracy can fall while the model got better at what imbalance hides (the minority).
    Balanced accuracy (scikit-learn's `balanced_accuracy_score`) scores always-the-majority
    at 1/k whatever the imbalance, which is the question the finding asks.
    """
    from fastlstm.diagnose.data_view import data_view

    view = data_view(x, y, **_data_options(spec, validation_data))
    if view.val is None or view.val.y is None or view.task not in ("classification", "binary"):
        return None
    if view.task == "binary" and view.val.y.shape[1] != 1:
        return None  # multi-label: one balanced accuracy per output, no single number to compare
    part = view.val
    x_val = part.x if part.real.all() else [row[real] for row, real in zip(part.x, part.real)]
    truth = part.y[:, 0].astype(np.int64) if part.y.shape[1] == 1 else np.argmax(part.y, axis=1)
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
    primary metric (or on `values`: a metric name and per-member values for each run), the
    test between them and one line that says it."""
    from fastlstm.stats import compare_samples, describe, metric_bounds
    from fastlstm.stats.ranking import best_configuration, higher_is_better, result_metric_values

    if values is None:
        metric, values_before = result_metric_values(before)
        _, values_after = result_metric_values(after, metric)
    else:
        metric, values_before, values_after = values
    pick = {}
    for name, result, values in (("before", before, values_before), ("after", after, values_after)):
        config = [m["config"] for m in result.members]
        best = best_configuration(values, config, result.configs, metric=metric)
        pick[name] = [(result.members[i]["seed"], values[i]) for i in best.members]
    seeds_before, seeds_after = ([s for s, _ in pick[k]] for k in ("before", "after"))
    paired = sorted(seeds_before) == sorted(seeds_after) and len(set(seeds_before)) == len(seeds_before)
    a = np.array([v for _, v in sorted(pick["after"])])
    b = np.array([v for _, v in sorted(pick["before"])])
    test = compare_samples(a, b, paired=paired, higher_is_better=higher_is_better(metric))
    bounds = metric_bounds(metric)
    stats_before, stats_after = describe(b, bounds=bounds), describe(a, bounds=bounds)
    return {
        "finding": finding.id,
        "change": dict(finding.change),
        "metric": metric,
        "before": stats_before,
        "after": stats_after,
        "test": test.to_dict(),
        "helped": bool(test.a_is_better and test.p < test.alpha),
        "text": verification_text(metric, stats_before, stats_after, test),
    }


def verification_text(metric: str, before: Mapping[str, Any], after: Mapping[str, Any], test: Any) -> str:
    """'val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03, 8 seeds each, p < 0.001' (mean ± std over seeds)."""
    from fastlstm.stats.compare import format_p

    def cell(d: Mapping[str, Any]) -> str:
        return f"{d['mean']:.3g} ± {d['std']:.2g}"

    n_b, n_a = before["n"], after["n"]
    seeds = f"{n_a} seeds each" if n_a == n_b else f"{n_b} and {n_a} seeds"
    paired = ", paired by seed" if test.paired else ""
    verdict = "no clear difference"
    if test.p < test.alpha:
        verdict = "better" if test.a_is_better else "worse"
    return f"{metric} {cell(before)} → {cell(after)}, {seeds}{paired}, p {_p_phrase(format_p(test.p))} ({verdict})"


def _p_phrase(formatted: str) -> str:
    """format_p gives '0.012' or '< 0.001': one phrase either way."""
    return formatted if formatted.startswith(("<", ">")) else f"= {formatted}"
