"""The scores a scikit-learn user reports, in NumPy: one member's predictions against the truth.

Classification (codes 0..k-1 and the model's probabilities): accuracy, balanced accuracy,
macro F1, ROC AUC (binary; one-vs-rest macro for k > 2), per-class recall and the
confusion matrix. Regression and forecasting: MAE and RMSE in the target's units.

`sklearn.metrics` is the oracle the tests compare with (tests/test_scores.py); it is not a
dependency: these are a few lines each, and importing scikit-learn would cost every
`fastlstm sweep` about a second. Where sklearn warns or raises, this module decides:

- a class absent from y_true: its recall is NaN here (sklearn's `recall_score(average=None,
  labels=...)` says 0.0 with a warning): no rows, nothing to recall. Balanced accuracy
  leaves it out, as sklearn's does. Macro F1 averages over the classes present in y_true
  or in the predictions, as sklearn's default `labels` does; so a class never predicted
  but present counts with F1 0, and a class in neither is left out.
- ROC AUC of a class with no positive or no negative row is undefined (sklearn raises):
  the one-vs-rest mean leaves such classes out, and the AUC is NaN when none is left.
- predictions that are not finite (a diverged member) give NaN scores, not an error.
Sample weights are not applied: these describe the rows as they are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CLASSIFICATION_SCORES: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")
REGRESSION_SCORES: tuple[str, ...] = ("mae", "rmse")
BINARY_THRESHOLD = 0.5  # a sigmoid's class 1 from 0.5 up, as `SweepResult.predict_labels`


def predicted_codes(probs: np.ndarray) -> np.ndarray:
    """The class each row's probabilities choose: a softmax's argmax, a sigmoid's p >= 0.5."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim == 1 or probs.shape[-1] == 1:
        return (probs.reshape(len(probs)) >= BINARY_THRESHOLD).astype(np.int64)
    return probs.argmax(axis=-1).astype(np.int64)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (true class, predicted class), rows true - sklearn's layout with labels=range(k)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Each class's share of its rows predicted right; NaN for a class with no rows."""
    support = cm.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def balanced_accuracy(cm: np.ndarray) -> float:
    """The mean recall over the classes present: chance is 1/k whatever the class balance,
    so a model answering the majority class cannot look good (sklearn's definition)."""
    recall = per_class_recall(cm)
    return float(np.nanmean(recall)) if np.isfinite(recall).any() else math.nan


def macro_f1(cm: np.ndarray) -> float:
    """The unweighted mean of F1 = 2TP / (2TP + FP + FN) over the classes present in the
    truth or the predictions (sklearn's `f1_score(average="macro")`)."""
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    present = denominator > 0
    return float(np.mean(2 * tp[present] / denominator[present])) if present.any() else math.nan


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The probability that a positive row scores above a negative one, ties counting half:
    the Mann-Whitney U / (n_pos n_neg), which is the area under the ROC curve that
    sklearn integrates. NaN without both kinds of row."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _average_ranks(np.asarray(score, np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing their mean rank (scipy's rankdata "average")."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)]
    mean_rank = (first + last + 1) / 2.0  # ranks first+1 .. last, averaged
    ranks = np.empty(len(values))
    ranks[order] = mean_rank[group]
    return ranks


def roc_auc(y_true: np.ndarray, probs: np.ndarray) -> float:
    """ROC AUC: binary from the positive class's probability (a sigmoid's output or a
    2-way softmax's column 1); for k > 2 the macro mean of one-vs-rest AUCs (sklearn's
    `roc_auc_score(multi_class="ovr", average="macro")`), over the classes it is defined for."""
    y_true = np.asarray(y_true, np.int64)
    probs = np.asarray(probs, np.float64)
    if probs.ndim == 1 or probs.shape[-1] == 1:
        return binary_auc(y_true == 1, probs.reshape(len(probs)))
    if probs.shape[-1] == 2:
        return binary_auc(y_true == 1, probs[:, 1])
    aucs = np.array([binary_auc(y_true == k, probs[:, k]) for k in range(probs.shape[-1])])
    return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else math.nan


def classification_scores(y_true: np.ndarray, probs: np.ndarray, num_classes: int) -> dict[str, Any]:
    """One member's scores: CLASSIFICATION_SCORES, `per_class_recall` (list, NaN for an
    absent class) and `confusion_matrix` (k x k list, rows true); NaN scores and no matrix
    when a probability is not finite."""
    y_true = np.asarray(y_true, np.int64).reshape(-1)
    probs = np.asarray(probs, np.float64).reshape(len(y_true), -1)
    if len(y_true) == 0 or not np.isfinite(probs).all():
        nan = dict.fromkeys(CLASSIFICATION_SCORES, math.nan)
        return {**nan, "per_class_recall": [math.nan] * num_classes, "confusion_matrix": None}
    cm = confusion_matrix(y_true, predicted_codes(probs), num_classes)
    return {
        "accuracy": float(np.trace(cm) / cm.sum()),
        "balanced_accuracy": balanced_accuracy(cm),
        "macro_f1": macro_f1(cm),
        "roc_auc": roc_auc(y_true, probs),
        "per_class_recall": per_class_recall(cm).tolist(),
        "confusion_matrix": cm.tolist(),
    }


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE and RMSE over every row and output, in the units the arrays are in: RMSE is
    the root of sklearn's `mean_squared_error` (uniform average over outputs, which for
    equal rows per output is the mean over all values). NaN when a prediction is not finite."""
    y_true = np.asarray(y_true, np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, np.float64).reshape(-1)
    if len(y_true) == 0 or not np.isfinite(y_pred).all():
        return {"mae": math.nan, "rmse": math.nan}
    error = y_pred - y_true
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}


__all__ = [
    "BINARY_THRESHOLD",
    "CLASSIFICATION_SCORES",
    "REGRESSION_SCORES",
    "balanced_accuracy",
    "binary_auc",
    "classification_scores",
    "confusion_matrix",
    "macro_f1",
    "per_class_recall",
    "predicted_codes",
    "regression_scores",
    "roc_auc",
]
