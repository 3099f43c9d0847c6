"""lr.too_high / lr.too_low: the configured learning rate against a range test, or against
what the sweep itself showed.

From an `lr_range` document (prompts/schemas.md; fastlstm/analysis/_lr_range.py makes it):
above `largest_stable` is too high (warning), above the recommended `range` but still
stable is worth knowing (info), far below the range's low end too low (warning; a
little below it, info). Unlike a
fixed cut-off (UMLAUT calls anything under 1e-7 "too low") the bounds come from this
model on this data. From a sweep: a learning rate at which most members blew up is too
high; one whose loss did not move, while a larger one in the same sweep learnt (or one
under a tenth of the optimizer's default), too low.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fastlstm.diagnose._curves import Curves
from fastlstm.diagnose._findings import Finding, Findings, Severity
from fastlstm.diagnose._training_checks import plateau_configs, raised_lr, stable_lr_below, unstable_configs
from fastlstm.engine._optimizers import OPTIMIZER_DEFAULTS

# Below the range's low end by more than this factor is a warning; closer, only info: the
# range test trains for 2 short epochs, where a rate that is a little low has hardly moved
# yet but does learn in a full run (the built-in task at Adam's 1e-3, range from 1.5e-3,
# reaches val_accuracy 0.74 in 15 epochs).
FAR_BELOW = 3.0


def _checked_doc(doc: object) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping) or doc.get("kind") != "lr_range" or not doc.get("learning_rates"):
        raise ValueError("lr_range_doc must be an lr_range document (a dict with kind 'lr_range' and learning_rates)")
    return doc


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _at(doc: Mapping[str, Any], key: str, lr: float) -> Any:
    """doc[key] at the tested learning rate nearest to lr (log scale)."""
    rates = np.asarray(doc["learning_rates"], np.float64)
    values = doc.get(key) or []
    i = int(np.argmin(np.abs(np.log(rates) - math.log(lr))))
    return values[i] if i < len(values) else None


def lr_findings(
    lr_range_doc: Mapping[str, object], learning_rate: float | None = None, optimizer: str = "adam"
) -> Findings:
    """lr.too_high / lr.too_low for `learning_rate` (None: the optimizer's default) from an
    `lr_range` document; empty when the learning rate is inside the recommended range."""
    doc = _checked_doc(lr_range_doc)
    if learning_rate is None:
        learning_rate = OPTIMIZER_DEFAULTS.get(optimizer, OPTIMIZER_DEFAULTS["adam"])["learning_rate"]
    lr = _number(learning_rate)
    if lr is None or lr <= 0:
        raise ValueError(f"learning_rate must be a positive number or None, got {learning_rate!r}")
    stable, recommended = _number(doc.get("largest_stable")), _number(doc.get("recommended"))
    span = doc.get("range")
    low = _number(span[0]) if span else (recommended / 10 if recommended else None)
    high = _number(span[1]) if span else recommended
    evidence = {"learning_rate": lr, "largest_stable": stable, "recommended": recommended, "range": span}
    evidence.update({"median_loss_here": _at(doc, "median_loss", lr), "initial_loss": doc.get("initial_loss")})
    evidence.update(
        {"diverged_here": _at(doc, "diverged", lr), "seeds": len(doc.get("seeds") or []), "rule": doc.get("rule")}
    )
    target = recommended or (stable / 3 if stable else None)
    change = {"learning_rate": target} if target else None
    if stable is None and recommended is None:
        if not _all_diverged(doc):
            return Findings()  # nothing learnt at any rate: no_signal / plateau say why, not the rate
        lowest = min(doc["learning_rates"])
        title = f"no tested learning rate was stable (down to {lowest:.2g}); {lr:.2g} is too high"
        return Findings([_too_high("error", title, evidence, {"learning_rate": lowest / 10})])
    if stable is not None and lr > stable * (1 + 1e-9):
        title = f"learning rate {lr:.2g} is above the largest stable one in the range test ({stable:.2g})"
        return Findings([_too_high("warning", title, evidence, change)])
    if high is not None and lr > high * (1 + 1e-9):
        title = f"learning rate {lr:.2g} is stable but above the recommended range (up to {high:.2g})"
        return Findings([_too_high("info", title, evidence, change)])
    if low is not None and lr < low * (1 - 1e-9):
        if lr < low / FAR_BELOW:
            title = (
                f"learning rate {lr:.2g} is far below the range test's range (from {low:.2g}); the loss barely moves"
            )
            return Findings([_too_low("warning", title, evidence, change)])
        title = (
            f"learning rate {lr:.2g} is a little below the range test's range (from {low:.2g}); "
            "a short test favours larger rates, so it may only be slower"
        )
        return Findings([_too_low("info", title, evidence, change)])
    return Findings()


def _all_diverged(doc: Mapping[str, Any]) -> bool:
    """Whether every member of the range test diverged (no rate was stable), as opposed to
    none having learnt (shuffled labels learn at no rate: that says nothing of the rate)."""
    diverged, seeds = doc.get("diverged") or [], len(doc.get("seeds") or []) or 1
    return bool(diverged) and all(isinstance(d, (int, float)) and d >= seeds for d in diverged)


def _too_high(severity: Severity, title: str, evidence: dict[str, Any], change: dict[str, Any] | None) -> Finding:
    advice = "Lower the learning rate to the recommended one; above the largest stable rate losses spike or diverge."
    return Finding("lr.too_high", severity, title, evidence, advice, change)


def _too_low(severity: Severity, title: str, evidence: dict[str, Any], change: dict[str, Any] | None) -> Finding:
    advice = (
        "Raise the learning rate to the recommended one: below the range, training spends its epochs barely moving."
    )
    return Finding("lr.too_low", severity, title, evidence, advice, change)


def sweep_lr_findings(c: Curves) -> list[Finding]:
    """lr.too_high where most members of a configuration blew up at its learning rate;
    lr.too_low where the loss did not move at a rate under one that learnt (or under a
    tenth of the optimizer's default)."""
    found = []
    unstable = [r for r in unstable_configs(c) if math.isfinite(r["learning_rate"])]
    if unstable:
        lr = min(r["learning_rate"] for r in unstable)
        evidence = {"learning_rate": lr, "configs": unstable, "source": "sweep"}
        title = f"learning rate {lr:.2g} is too high: most members blew up or diverged at it"
        found.append(_too_high("warning", title, evidence, {"learning_rate": stable_lr_below(c, lr)}))
    stuck = [r for r in plateau_configs(c) if math.isfinite(r["learning_rate"])]
    excluded = {r["config"] for r in stuck} | {r["config"] for r in unstable_configs(c)}
    moving = [c.lr_of_config(k) for k in range(len(c.configs)) if k not in excluded]
    low = [r for r in stuck if any(r["learning_rate"] < m for m in moving) or r["learning_rate"] < c.default_lr() / 10]
    if low:
        lr = max(r["learning_rate"] for r in low)
        evidence = {"learning_rate": lr, "configs": low, "default_learning_rate": c.default_lr(), "source": "sweep"}
        title = f"learning rate {lr:.2g} is too low: the loss did not move at it"
        found.append(_too_low("warning", title, evidence, {"learning_rate": raised_lr(c, lr)}))
    return found
