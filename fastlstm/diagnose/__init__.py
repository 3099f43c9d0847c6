"""What is wrong, with the numbers: `fl.diagnose(result_or_data) -> Findings`.

Data checks (before training) read `fl.sweep`'s data arguments; training checks read a
`SweepResult`'s histories, member table and meta; `lr.*` findings also come from an
`lr_range` document. Every finding has a stable id (DESIGN.md §4), a severity, its
evidence, a recommendation and the spec `change` that `fastlstm doctor` runs to verify
the fix. See fastlstm/diagnose/_data_checks.py, training_checks.py, seed_checks.py and
lr_checks.py for each check's rule and thresholds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.diagnose._curves import curves_of
from fastlstm.diagnose._data_checks import check_data
from fastlstm.diagnose._findings import FINDING_IDS, Finding, Findings, apply_change
from fastlstm.diagnose._lr_checks import lr_findings
from fastlstm.diagnose._training import check_training
from fastlstm.diagnose._training_checks import plateau_configs

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult

DATA_KEYS = (
    "validation_split",
    "split",
    "split_seed",
    "validation_data",
    "mask_value",
    "task",
    "loss",
    "num_classes",
    "feature_names",
    "standardize",
    "standardize_target",
)


def diagnose(
    result_or_data: Any = None,
    y: object = None,
    *,
    x: object = None,
    lr_range: Mapping[str, object] | None = None,
    learning_rate: float | None = None,
    attach: bool = False,
    **data_options: Any,
) -> Findings:
    """Findings about a sweep's result, its data, or both, most severe first.

    `result_or_data` is a `SweepResult` (training checks; data checks too when `x`/`y` are
    given), or the data alone: an array `x` with `y`, an `(x, y)` tuple, a dict with "x"
    and "y" (and optionally "validation_data"), or a `fastlstm.data._prepare.LoadedData`.
    `data_options` are `fl.sweep`'s data arguments (validation_split, split, split_seed,
    validation_data, mask_value, task, loss, num_classes, standardize, standardize_target)
    and `feature_names` (the columns' names, for the findings' words); for a result they
    default to its spec's.
    `lr_range` (default: `result.analysis["lr_range"]`) adds lr.too_high / lr.too_low for
    `learning_rate` (default: the sweep's). `attach=True` stores the findings in
    `result.analysis["findings"]`, which `result.save()` writes as findings.json.
    """
    unknown = sorted(set(data_options) - set(DATA_KEYS))
    if unknown:
        raise ValueError(f"diagnose: unknown arguments {unknown}; data options are {', '.join(DATA_KEYS)}")
    result = result_or_data if _is_result(result_or_data) else None
    if result is None and result_or_data is not None:
        x, y, data_options = _data_arguments(result_or_data, y, data_options)
    elif result is not None and x is None and y is not None:
        raise ValueError("diagnose: pass the data of a result as x=..., y=...")
    if result is None and x is None:
        raise ValueError("diagnose: expected a SweepResult or data (x, y); got nothing to diagnose")
    found: list[Finding] = []
    if x is not None:
        found.extend(check_data(x, y, **{**_spec_data_options(result), **data_options}))
    doc = lr_range if lr_range is not None else (result.analysis.get("lr_range") if result is not None else None)
    if doc is not None:
        found.extend(_lr_doc_findings(doc, result, learning_rate))
    if result is not None:
        found.extend(check_training(result, doc))
    findings = _explained_symptoms(_explained_by_the_data(_one_per_id(found)))
    if attach:
        if result is None:
            raise ValueError("diagnose: attach=True needs a SweepResult to attach the findings to")
        attach_findings(result, findings)
    return findings


def attach_findings(result: SweepResult, findings: Findings) -> None:
    """Store `findings` as `result.analysis["findings"]` (saved as findings.json by
    `result.save()`; a verification already there is kept when the findings are the same)."""
    doc = findings.to_dict()
    previous = result.analysis.get("findings")
    if isinstance(previous, Mapping) and previous.get("findings") == doc["findings"]:
        doc["verification"] = previous.get("verification")
    result.analysis["findings"] = doc


def _is_result(value: object) -> bool:
    return all(hasattr(value, name) for name in ("history", "members", "meta", "analysis"))


def _data_arguments(data: object, y: object, options: Mapping[str, object]) -> tuple[Any, Any, dict[str, Any]]:
    """(x, y, options) from the accepted data shapes."""
    options = dict(options)
    if hasattr(data, "fit_arguments"):  # fastlstm.data._prepare.LoadedData
        data = data.fit_arguments()
    if isinstance(data, Mapping):
        if "x" not in data:
            raise ValueError("diagnose: a dict of data needs an 'x' (and a 'y')")
        if data.get("validation_data") is not None:
            options.setdefault("validation_data", data["validation_data"])
        return data["x"], data.get("y", y), options
    if isinstance(data, tuple) and y is None and len(data) in (2, 3) and not isinstance(data[0], (int, float)):
        if len(data) == 3:
            options.setdefault("validation_data", data[2])
        return data[0], data[1], options
    if isinstance(data, (np.ndarray, list)) or hasattr(data, "to_numpy"):
        return data, y, options
    raise ValueError(
        f"diagnose: expected a SweepResult, x and y, an (x, y) tuple, a dict with 'x' and 'y' or a "
        f"LoadedData; got {type(data).__name__}"
    )


def _spec_data_options(result: SweepResult | None) -> dict[str, Any]:
    """A result's data settings (validation_split, split, mask_value, task, loss, num_classes)."""
    spec = getattr(result, "spec", None)
    if spec is None:
        return {"mask_value": result.meta.get("mask_value")} if result is not None else {}
    model = spec.model
    options = {"validation_split": spec.validation_split, "mask_value": model.mask_value, "task": model.task}
    options.update(split=spec.split, split_seed=spec.split_seed)
    options.update(standardize=spec.standardize, standardize_target=spec.standardize_target)
    return {**options, "loss": spec.loss, "num_classes": model.num_classes}


def _lr_doc_findings(
    doc: Mapping[str, object], result: SweepResult | None, learning_rate: float | None
) -> list[Finding]:
    """The range test's verdict on the given learning rate, or on each of the sweep's."""
    if learning_rate is not None or result is None:
        return list(lr_findings(doc, learning_rate))
    rates = sorted({m["learning_rate"] for m in result.members if isinstance(m.get("learning_rate"), (int, float))})
    optimizer = str(result.meta.get("optimizer", "adam"))
    found = [f for lr in (rates or [None]) for f in lr_findings(doc, lr, optimizer)]
    return _confirmed_by_the_sweep(found, result)


def _confirmed_by_the_sweep(found: list[Finding], result: SweepResult) -> list[Finding]:
    """A range test's lr.too_low is kept only where the sweep's own loss stood still at that
    rate: a rate the full sweep learnt at is slow at most, and "the loss barely moves" beside
    a sweep that learnt says the opposite of what happened (a clean 8 seeds x 3 rates
    control, and nearly every clean real data set, were flagged otherwise)."""

    stuck = {row["learning_rate"] for row in plateau_configs(curves_of(result))}
    return [f for f in found if f.id != "lr.too_low" or f.evidence.get("learning_rate") in stuck]


# Training symptoms a data finding can cause: shown as warnings after the data finding, so
# the fix `doctor` verifies first is the data's (one feature x10^4 leaves every member at
# chance: "check your labels" would send the user the wrong way).
DATA_CAUSES = {
    "train.no_signal": ("data.unscaled", "data.constant_feature"),
    "train.underfit": ("data.unscaled",),
}


def _explained_by_the_data(findings: Findings) -> Findings:
    """Training findings that a data finding may explain, at most warnings and saying so."""
    present = set(findings.ids())
    out = []
    for f in findings:
        causes = [c for c in DATA_CAUSES.get(f.id, ()) if c in present]
        if causes and f.severity == "error":
            title = f"{f.title} (may come from {', '.join(causes)}: fix that first)"
            f = dataclasses.replace(f, severity="warning", title=title)
        out.append(f)
    return Findings(out)


# Findings another finding explains, and what they become then (info, no change): seeds
# that disagree in a run too short to learn, at chance, or whose loss never moved (init
# luck), say nothing about seeds ("lower
# the learning rate" beside "train longer" contradicts it); at chance with labels that
# carry nothing, no learning-rate advice is a fix. The explaining finding comes first.
SYMPTOMS = {
    "seeds.instability": ("train.underfit", "train.no_signal", "train.divergence", "train.plateau"),
    "train.plateau": ("train.no_signal",),
    "lr.too_low": ("train.no_signal",),
    "lr.too_high": ("train.no_signal",),
}


def _explained_symptoms(findings: Findings) -> Findings:
    """Findings that SYMPTOMS says another present finding explains: info, without a
    change, naming the finding that explains them."""
    present = {f.id for f in findings if f.severity != "info"}
    out = []
    for f in findings:
        causes = [c for c in SYMPTOMS.get(f.id, ()) if c in present]
        if causes and f.severity != "info":
            f = dataclasses.replace(f, severity="info", change=None, title=f"{f.title} (explained by {causes[0]})")
        out.append(f)
    return Findings(out)


def _one_per_id(found: list[Finding]) -> Findings:
    """The most severe finding of each id (the first given among equals)."""
    kept: dict[str, Finding] = {}
    for f in Findings(found):  # sorted most severe first; stable among equals
        kept.setdefault(f.id, f)
    return Findings(kept.values())


__all__ = [
    "FINDING_IDS",
    "Finding",
    "Findings",
    "apply_change",
    "attach_findings",
    "check_data",
    "check_training",
    "diagnose",
    "lr_findings",
]
