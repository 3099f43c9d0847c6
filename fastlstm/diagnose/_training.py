"""All training checks on a result: the per-curve checks, then the ones built on them
(seed instability, learning-rate findings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastlstm.diagnose._curves import curves_of
from fastlstm.diagnose._findings import Finding, Findings
from fastlstm.diagnose._lr_checks import sweep_lr_findings
from fastlstm.diagnose._seed_checks import check_instability
from fastlstm.diagnose._training_checks import TRAINING_CHECKS

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult


def check_training(result: SweepResult, lr_range: Any = None) -> Findings:
    """Every training check on a `SweepResult` (fl.load'ed ones too); `lr_range` (default:
    the result's own range test) lets underfit, no_signal and plateau tell a run that was too
    short, a task with nothing to learn and a learning rate that is too low apart."""
    curves = curves_of(result, lr_range)
    found: list[Finding] = []
    for check in TRAINING_CHECKS:
        found.extend(check(curves))
    found.extend(check_instability(curves))
    found.extend(sweep_lr_findings(curves))
    return Findings(found)
