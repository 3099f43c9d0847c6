"""Which hyperparameter moves the metric, and is it more than seed noise: a result's
members turned into the table `fastlstm.stats.hyperparameter_importance` reads.

The statistics live in fastlstm/stats/_importance.py; this module only decides which
number stands for each member. After a sweep it is each member's final value (the epoch
its weights come from, as `summary()` and `compare()` use). After successive halving the
final values come from different epochs - a pruned configuration stopped at its rung - so
they are not comparable; the first rung is the one epoch where every configuration has a
value, and the importance is measured there (the `Importance.note` says so).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.stats import Importance, hyperparameter_importance, primary_metric, result_metric_values

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult

MISSING_METRIC = "metric {name!r} is not in this result; expected one of {names}"


def importance(result: SweepResult, metric: str | None = None, *, confidence: float = 0.95) -> Importance:
    """Each varied hyperparameter's share of the metric's variance beside the seeds' share,
    with an interval and whether it is distinguishable from seed noise.

    A full grid with >= 2 seeds: a fixed-effects ANOVA with the seeds as replicates; random
    search: an additive surrogate with a permutation null (fastlstm/stats/_importance.py).
    `metric` None means the one `compare()` ranks by (val_accuracy, else val_loss, ...).
    """
    rung = _first_rung_epoch(result)
    if rung is None:
        name, values = result_metric_values(result, metric)
        where = ""
    else:
        name, values = _values_at_epoch(result, metric, rung)
        where = (
            f"Measured at epoch {rung}, successive halving's first rung: the one epoch every configuration reached. "
        )
    config = np.array([m["config"] for m in result.members])
    found = hyperparameter_importance(values, config, result.configs, metric=name, confidence=confidence)
    return dataclasses.replace(found, note=where + found.note) if where else found


def importance_document(result: SweepResult) -> dict[str, Any] | None:
    """`importance()` as the JSON document a run folder keeps (importance.json), or None when
    the sweep cannot say: one configuration, nothing varied, one seed per configuration
    (`hyperparameter_importance` refuses each with a ValueError)."""
    try:
        return importance(result).to_dict()
    except ValueError:  # one seed, every member diverged: nothing to separate
        return None


def _first_rung_epoch(result: SweepResult) -> int | None:
    """The epoch (1-based) of a scheduler's first rung, None without a scheduler."""
    budget = result.budget
    rungs = (budget or {}).get("rungs") or []
    return int(rungs[0]["epoch"]) if rungs else None


def _values_at_epoch(result: SweepResult, metric: str | None, epoch: int) -> tuple[str, np.ndarray]:
    """Every member's metric after `epoch` epochs (NaN for a member that diverged)."""
    names = [n for n in result.history if n != "learning_rate"]
    name = primary_metric(names, result.meta.get("task")) if metric is None else metric
    if name not in names:
        raise ValueError(MISSING_METRIC.format(name=name, names=", ".join(names)))
    values = np.asarray(result.history[name][:, epoch - 1], np.float64)
    ok = np.array([m["status"] != "diverged" for m in result.members])
    return name, np.where(ok, values, np.nan)
