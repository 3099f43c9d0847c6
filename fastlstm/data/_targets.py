"""From targets `y` to the task, the loss and the head - and a sentence saying why.

Keras makes the user choose the last layer and the loss; fastlstm guesses them from
`y` when they are not given, so the guess must be predictable, explicit settings must
always win, and a guess that is probably wrong must say so (`TaskInferenceWarning`).
The rules are looked at over the training and validation targets together; `y` of
shape (n,) and (n, 1) are the same ("a column"), (n, k) with k > 1 are "rows".

With task="auto" and no loss, num_classes or output_dim given (class labels that are
not 0..k-1 - 1/2, -1/1, names - arrive here already coded 0..k-1 by
`fastlstm.data._labels`, so 1/2 is the binary row below, as "a"/"b" is):

==========================================  ==============  ===============================  ================
y                                            task            loss                             outputs
==========================================  ==============  ===============================  ================
column of 0/1 (bool, int or float 0.0/1.0)   binary          binary_crossentropy              1 sigmoid
column of whole numbers >= 0, not only 0/1   classification  sparse_categorical_crossentropy  max + 1 softmax
  (int, or floats like 2.0)
column of whole numbers that is a quantity   regression      mse                              1 linear
  (`fastlstm.data._labels.looks_like_quantity`:
  > 10 distinct, most rows their own value)
column of whole numbers with one < 0         error: encode the labels, or pass task="regression"
column with a value that is not whole        regression      mse                              1 linear
rows, each one-hot (0/1, summing to 1)       classification  categorical_crossentropy         k softmax
rows of 0/1, not all one-hot (multi-label)   binary          binary_crossentropy              k sigmoid
other rows                                   regression      mse                              k linear
==========================================  ==============  ===============================  ================

Explicit settings win, and contradicting ones are an error:
- `loss` sets the task (crossentropy over labels or one-hot rows: classification;
  binary_crossentropy: binary; mse/mae: regression); a different `task` is an error.
- `task` picks its row of the table whatever the values: classification takes a column
  of labels (sparse loss) or rows (categorical loss); binary needs values in [0, 1];
  regression takes anything numeric.
- `num_classes` means classification with that many softmax outputs (0/1 labels
  included); with task binary/regression or their losses it is an error; labels must
  be below it, and one-hot rows must have that width.
- `output_dim` must equal the number of outputs; on a column of class labels with no
  num_classes it is the number of classes (so output_dim=2 on 0/1 labels is a 2-way
  softmax).

Doubtful guesses warn: more than 100 classes (probably a regression target: pass
task="regression"); labels that are not exactly 0..k-1 when the class count was
inferred (only reached when the labels were not coded: classes with no examples).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Any

import numpy as np

from fastlstm.data._labels import MANY_CLASSES, SOME_CLASSES, looks_like_quantity
from fastlstm.engine._losses import canonical_loss

LOSS_TASK = {
    "sparse_categorical_crossentropy": "classification",
    "categorical_crossentropy": "classification",
    "binary_crossentropy": "binary",
    "mse": "regression",
    "mae": "regression",
}
# The most outputs a head may have: labels are int32 on the device, and a softmax beyond a
# million classes is a mistake (a quantity read as labels) long before it is a model.
MAX_OUTPUTS = 2**20


class TaskInferenceWarning(UserWarning):
    """The task guessed from `y` is probably not what was meant (see fastlstm.data._targets)."""


@dataclasses.dataclass(frozen=True)
class Targets:
    """What the head and the loss are, and the one-line reason (kept in the result)."""

    task: str  # classification | binary | regression
    loss: str
    out_dim: int
    num_classes: int | None
    reason: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "warnings": list(self.warnings)}


@dataclasses.dataclass(frozen=True)
class _Settings:
    """What the user set explicitly (None / "auto" where not)."""

    task: str = "auto"
    loss: str | None = None
    num_classes: int | None = None
    output_dim: int | None = None


@dataclasses.dataclass(frozen=True)
class _Facts:
    """What the rule table looks at, over all targets stacked as (rows, columns)."""

    y: np.ndarray  # (rows, columns), the original dtype
    kind: str  # "bool", "integer" or "float"
    zero_one: bool
    whole: bool
    onehot: bool

    @classmethod
    def of(cls, y: np.ndarray) -> _Facts:
        kind = "bool" if y.dtype == bool else "integer" if np.issubdtype(y.dtype, np.integer) else "float"
        zero_one = bool(np.all((y == 0) | (y == 1)))
        whole = kind != "float" or bool(np.all(y == np.round(y)))
        onehot = y.shape[1] > 1 and zero_one and bool(np.all(y.sum(axis=1) == 1))
        return cls(y, kind, zero_one, whole, onehot)

    @property
    def columns(self) -> int:
        return int(self.y.shape[1])

    @property
    def column(self) -> bool:
        return self.columns == 1

    @property
    def class_labels(self) -> bool:
        """A column that reads as class labels: whole numbers, none negative."""
        return self.column and self.whole and bool(np.all(self.y >= 0))


def resolve_targets(
    ys: Sequence[tuple[str, np.ndarray]],
    task: str = "auto",
    loss: str | None = None,
    num_classes: int | None = None,
    output_dim: int | None = None,
) -> Targets:
    """Task, loss and outputs for targets `ys` ((name, array) of train, then validation)."""
    if task not in ("auto", *LOSS_TASK.values()):
        raise ValueError(f"task must be one of auto, classification, binary, regression; got {task!r}")
    settings = _Settings(task, None if loss is None else canonical_loss(loss), num_classes, output_dim)
    facts = _Facts.of(_stack(ys))
    chosen, source = _choose_task(facts, settings)
    if chosen == "classification":
        targets = _classification(facts, ys, settings, source)
    elif chosen == "binary":
        targets = _binary(facts, ys, source)
    else:
        targets = _regression(facts, settings, source)
    if output_dim is not None and output_dim != targets.out_dim:
        raise ValueError(f"output_dim={output_dim} but {targets.reason}: {targets.out_dim} outputs")
    for message in targets.warnings:
        _warn(message)
    return targets


def _stack(ys: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """All targets as one (rows, columns) array; every part must have the same columns."""
    parts = [y.reshape(y.shape[0], -1) for _, y in ys]
    first_name, first = ys[0][0], parts[0]
    for (name, _), part in zip(ys[1:], parts[1:]):
        if part.shape[1] != first.shape[1]:
            raise ValueError(f"{name} has {part.shape[1]} columns but {first_name} has {first.shape[1]}")
    return np.concatenate(parts) if len(parts) > 1 else first


def _choose_task(facts: _Facts, s: _Settings) -> tuple[str, str]:
    """The task and what decided it (an explicit setting, or "inferred")."""
    if s.loss is not None:
        implied = LOSS_TASK[s.loss]
        if s.task not in ("auto", implied):
            raise ValueError(f"loss={s.loss!r} is a {implied} loss but task={s.task!r}; pass one that matches")
        decided = (implied, f"loss={s.loss!r}")
    elif s.task != "auto":
        decided = (s.task, f"task={s.task!r}")
    elif s.num_classes is not None:
        decided = ("classification", f"num_classes={s.num_classes}")
    elif s.output_dim is not None and s.output_dim >= 2 and facts.class_labels:
        decided = ("classification", f"output_dim={s.output_dim} on class labels")
    else:
        decided = (_auto_task(facts), "inferred")
    if s.num_classes is not None and decided[0] != "classification":
        raise ValueError(
            f"num_classes={s.num_classes} is for classification (a softmax), but {decided[1]} gives {decided[0]}"
        )
    return decided


def _auto_task(facts: _Facts) -> str:
    """The rule table of the module docstring, for task="auto"."""
    if facts.column:
        if facts.zero_one:
            return "binary"
        return "classification" if facts.whole and not looks_like_quantity(facts.y) else "regression"
    if facts.onehot:
        return "classification"
    return "binary" if facts.zero_one else "regression"


def _explained(task: str, what: str, head: str, loss: str, source: str) -> str:
    why = "" if source == "inferred" else f" (from {source})"
    return f"{task}: {what} -> {head}, {loss}{why}"


def _classification(facts: _Facts, ys: Sequence[tuple[str, np.ndarray]], s: _Settings, source: str) -> Targets:
    onehot_loss = s.loss == "categorical_crossentropy" or (s.loss is None and not facts.column)
    if onehot_loss:
        return _onehot_classification(facts, ys, s, source)
    if not facts.column:
        raise ValueError(
            f"{ys[0][0]}: integer class labels must be 1-D, got {facts.columns} columns "
            "(one-hot rows need loss='categorical_crossentropy')"
        )
    return _label_classification(facts, s, source)


def _onehot_classification(facts: _Facts, ys: Sequence[tuple[str, np.ndarray]], s: _Settings, source: str) -> Targets:
    width = facts.columns
    if facts.column:
        raise ValueError(
            f"{ys[0][0]}: categorical_crossentropy expects one-hot rows, got a column of labels "
            "(use loss='sparse_categorical_crossentropy' for integer labels)"
        )
    if s.num_classes is not None and s.num_classes != width:
        raise ValueError(f"num_classes={s.num_classes} but the one-hot rows of y have width {width}")
    what = "one-hot rows" if facts.onehot else "rows (not all one-hot)"
    reason = _explained(
        "classification", f"{what} of width {width}", f"softmax over {width}", "categorical_crossentropy", source
    )
    return Targets("classification", "categorical_crossentropy", width, width, reason)


def _label_classification(facts: _Facts, s: _Settings, source: str) -> Targets:
    flat = facts.y.reshape(-1)
    if not facts.whole:
        raise ValueError("y: class labels must be integers for classification (or pass task='regression')")
    if np.any(flat < 0):
        raise ValueError(
            f"y: class labels must be >= 0, got {flat.min()}; encode them as 0..k-1 "
            "(np.unique(y, return_inverse=True)) or pass task='regression'"
        )
    if flat.max() >= MAX_OUTPUTS:
        raise ValueError(
            f"y: label {flat.max()} is too large for a class label (at most {MAX_OUTPUTS - 1}); "
            "encode the labels as 0..k-1 or pass task='regression'"
        )
    labels = np.unique(flat).astype(np.int64)
    top = int(labels[-1])
    given = s.num_classes
    if given is None and s.output_dim is not None and s.output_dim >= 2:
        given = s.output_dim  # the width of the softmax is the number of classes
    classes = given if given is not None else max(top + 1, 2)
    if top >= classes:
        raise ValueError(f"y: label {top} is >= num_classes={classes}; labels must be in [0, num_classes)")
    what = f"{labels.size} distinct {facts.kind} labels {int(labels[0])}..{top}"
    loss = "sparse_categorical_crossentropy"
    reason = _explained("classification", what, f"softmax over {classes}", loss, source)
    doubts = [] if given is not None else _label_doubts(labels, classes, flat.size, source == "inferred")
    return Targets("classification", loss, classes, classes, reason, tuple(doubts))


def _label_doubts(labels: np.ndarray, classes: int, rows: int, task_inferred: bool) -> list[str]:
    """Why an inferred class count is probably wrong (empty when it looks fine)."""
    doubts = []
    many = classes > MANY_CLASSES or (labels.size > SOME_CLASSES and labels.size > rows / 2)
    if task_inferred and many:
        doubts.append(
            f"y has {labels.size} distinct whole-number values among {rows} rows, read as {classes} classes "
            "(a softmax over them); if y is a quantity, pass task='regression' (ModelSpec(task='regression'))"
        )
    missing = np.setdiff1d(np.arange(classes), labels)
    if missing.size:
        shown = ", ".join(str(int(c)) for c in missing[:10]) + (", ..." if missing.size > 10 else "")
        doubts.append(
            f"y's labels are not 0..{classes - 1}: {missing.size} of the {classes} classes have no examples "
            f"({shown}); encode the labels as 0..k-1, e.g. np.unique(y, return_inverse=True)[1], "
            "or pass num_classes to mean it"
        )
    return doubts


def _binary(facts: _Facts, ys: Sequence[tuple[str, np.ndarray]], source: str) -> Targets:
    for name, y in ys:
        if np.any(y < 0) or np.any(y > 1):
            raise ValueError(f"{name}: binary targets must be in [0, 1]")
    width = facts.columns
    if facts.column:
        what = "0/1 labels" if facts.zero_one else "targets in [0, 1]"
    else:
        what = f"multi-label rows of {width} (0/1, not one-hot)" if facts.zero_one else f"rows of {width} in [0, 1]"
    head = f"{width} sigmoid output" + ("s" if width > 1 else "")
    loss = "binary_crossentropy"
    return Targets("binary", loss, width, None, _explained("binary", what, head, loss, source))


def _regression(facts: _Facts, s: _Settings, source: str) -> Targets:
    width = facts.columns
    loss = s.loss or "mse"
    if facts.column and facts.whole and source == "inferred":
        distinct = np.unique(facts.y).size
        what = (
            f"{distinct} distinct whole numbers among {facts.y.shape[0]} rows, a quantity rather than class "
            "labels (task='classification' to mean classes)"
        )
    elif facts.column:
        what = f"{facts.kind} targets" + ("" if facts.whole else ", not all whole numbers")
    else:
        what = f"rows of {width} {facts.kind} targets"
    head = f"{width} linear output" + ("s" if width > 1 else "")
    return Targets("regression", loss, width, None, _explained("regression", what, head, loss, source))


def _warn(message: str) -> None:
    """Warn with the location of the first caller outside fastlstm (the user's line)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # fastlstm/
    frame: FrameType | None = sys._getframe()
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, TaskInferenceWarning, stacklevel=level)
