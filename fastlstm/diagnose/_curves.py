"""A sweep's histories arranged for the training checks: per member, per configuration.

The checks compare each member with what a model that learnt nothing scores: the
*reference loss* (the loss of a uniform prediction: ln K for a softmax over K classes,
ln 2 per sigmoid output; for regression, where that needs the targets, the median
first-epoch loss of the sweep) and the *majority rate* (`result.meta`'s accuracy of
always answering the most frequent class). An accuracy is "at chance" within the
sampling noise of the rows it was measured on: 3 binomial standard errors, at least 0.02.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.engine._optimizers import OPTIMIZER_DEFAULTS

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult
    from fastlstm.spec._sweep_spec import SweepSpec

NOISE_SES, MIN_MARGIN = 3.0, 0.02
WEAK_GAIN = 0.25  # a range test whose best rate lowers the loss less than this share learns nothing much


@dataclasses.dataclass(frozen=True)
class Curves:
    loss: np.ndarray  # (members, epochs) training loss, NaN where not trained
    val_loss: np.ndarray | None
    accuracy: np.ndarray | None  # the accuracy that is judged: validation if there is one
    final_accuracy: np.ndarray | None  # (members,) at each member's final epoch
    status: np.ndarray  # (members,) "ok" | "stopped" | "diverged"
    config: np.ndarray  # (members,) configuration index
    learning_rate: np.ndarray  # (members,) NaN when unknown
    restored: np.ndarray  # (members,) final_epoch is not the last trained epoch (best weights restored)
    reference_loss: float
    majority_rate: float | None
    eval_rows: int
    epochs: int
    configs: list[dict[str, Any]]
    meta: dict[str, Any]
    spec: SweepSpec | None
    range_doc: dict[str, Any] | None = None  # the range test's document, when one ran (fastlstm/analysis/_lr_range.py)

    @property
    def diverged(self) -> np.ndarray:
        return self.status == "diverged"

    def members_of(self, c: int) -> np.ndarray:
        return np.flatnonzero(self.config == c)

    def chance_margin(self) -> float:
        """How far above the majority rate an accuracy must be to count as learnt."""
        r = self.majority_rate or 0.0
        return max(MIN_MARGIN, NOISE_SES * math.sqrt(r * (1 - r) / max(1, self.eval_rows)))

    def lr_of_config(self, c: int) -> float:
        lrs = self.learning_rate[self.members_of(c)]
        return float(np.nanmedian(lrs)) if np.isfinite(lrs).any() else math.nan

    def steps_per_epoch(self, c: int) -> int | None:
        """Configuration c's optimizer steps per epoch (training rows / batch size), None when unknown."""
        rows = int(self.meta.get("n_train") or 0)
        batch = self.configs[c].get("batch_size") if c < len(self.configs) else None
        batch = batch if batch is not None else getattr(self.spec, "batch_size", None)
        if rows <= 0 or not isinstance(batch, int) or batch <= 0:
            return None
        return math.ceil(rows / min(batch, rows))

    def nothing_learns(self) -> bool:
        """Whether the range test found no learning rate at which the training loss fell much
        (not: every rate diverged): raising or lowering the rate is then no fix. "Much" is
        WEAK_GAIN of the initial loss at the best rate: permuted ItalyPowerDemand labels fall
        3-8% there (a little memorising), every real task of the issue's 50-90%."""
        doc = self.range_doc
        if not doc:
            return False
        if doc.get("recommended") is None and str(doc.get("rule", "")).startswith("nothing learns"):
            return True
        initial = doc.get("initial_loss")
        medians = [v for v in doc.get("median_loss") or [] if isinstance(v, (int, float)) and math.isfinite(v)]
        if not medians or not isinstance(initial, (int, float)) or not math.isfinite(initial) or initial <= 0:
            return False
        return initial - min(medians) < WEAK_GAIN * initial

    def default_lr(self) -> float:
        name = str(self.meta.get("optimizer", "adam"))
        return float(OPTIMIZER_DEFAULTS.get(name, OPTIMIZER_DEFAULTS["adam"])["learning_rate"])


def curves_of(result: SweepResult, range_doc: dict[str, Any] | None = None) -> Curves:
    """The `Curves` of a `SweepResult` (loaded ones too: only history, members, meta), with
    the range test's document when there is one (`range_doc`, else the result's own)."""
    h, meta, members = result.history, result.meta, result.members
    loss = np.asarray(h["loss"], np.float64)
    val_loss = np.asarray(h["val_loss"], np.float64) if "val_loss" in h else None
    name = "val_accuracy" if "val_accuracy" in h else "accuracy" if "accuracy" in h else None
    accuracy = np.asarray(h[name], np.float64) if name else None
    final_epoch = np.array([m.get("final_epoch", -1) for m in members])
    final_accuracy = None
    if accuracy is not None:
        rows = np.arange(len(members))
        final_accuracy = np.where(final_epoch >= 0, accuracy[rows, np.clip(final_epoch, 0, None)], np.nan)
    trained = np.isfinite(loss).sum(axis=1)
    return Curves(
        loss=loss,
        val_loss=val_loss,
        accuracy=accuracy,
        final_accuracy=final_accuracy,
        status=np.array([m.get("status", "ok") for m in members]),
        config=np.array([m.get("config", 0) for m in members]),
        learning_rate=np.array([_float(m.get("learning_rate")) for m in members]),
        restored=(final_epoch >= 0) & (final_epoch < trained - 1),
        reference_loss=reference_loss(meta, loss),
        majority_rate=meta.get("majority_class_rate"),
        eval_rows=int(meta.get("n_val") or meta.get("n_train") or 0),
        epochs=int(loss.shape[1]),
        configs=list(getattr(result, "configs", None) or [{}]),
        meta=dict(meta),
        spec=getattr(result, "spec", None),
        range_doc=range_doc if range_doc is not None else getattr(result, "analysis", {}).get("lr_range"),
    )


def _float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def reference_loss(meta: dict[str, Any], loss: np.ndarray) -> float:
    """The loss of knowing nothing: ln K (softmax over K), ln 2 (sigmoid outputs), or for
    regression the sweep's median first-epoch loss."""
    task = meta.get("task")
    if task == "classification":
        return math.log(int(meta.get("num_classes") or meta.get("out_dim") or 2))
    if task == "binary":
        return math.log(2.0)
    first = loss[:, 0] if loss.size else np.array([])
    first = first[np.isfinite(first)]
    return float(np.median(first)) if first.size else math.nan


def last_finite(values: np.ndarray) -> np.ndarray:
    """Each row's last finite value (NaN for a row with none)."""
    ok = np.isfinite(values)
    last = np.where(ok.any(axis=1), values.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), -1)
    return np.where(last >= 0, values[np.arange(values.shape[0]), np.clip(last, 0, None)], np.nan)
