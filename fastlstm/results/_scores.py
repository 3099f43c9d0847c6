"""The validation scores document: every member's scores, each configuration's mean ± std
over seeds, and the best configuration's confusion matrix, in the user's class names
and target units, with the forecast baselines beside them.

Loss and accuracy are what the model trains on; a user with an imbalanced problem or a
forecast reports balanced accuracy, macro F1 and ROC AUC, or an error in passengers next
to what the naive forecast gets. `fastlstm sweep` computes this document on the
validation rows after training (`validation_scores`, saved as scores.json in the run
folder, shown under the summary table and in report.html); `scores(result, x, y)` is the
same on any data. The numbers come from `fastlstm.stats._scores` (scikit-learn's
definitions) and `fastlstm.stats._forecast`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.data._prepare import Split, prepare_data, unscale_target
from fastlstm.results._run_folder import strict_json
from fastlstm.stats._forecast import forecast_baselines, validation_windows
from fastlstm.stats._scores import (
    CLASSIFICATION_SCORES,
    REGRESSION_SCORES,
    classification_scores,
    regression_scores,
)

if TYPE_CHECKING:
    from fastlstm.data._prepare import Dataset
    from fastlstm.results._result import SweepResult

FORMAT_VERSION = 1


def scores(result: SweepResult, x: object, y: object, forecast: Mapping[str, object] | None = None) -> dict[str, Any]:
    """Every member's scores on (x, y) - labels as the user holds them (names or numbers),
    targets in the user's units - as the document `fastlstm sweep` saves (scores.json).
    `forecast` (`LoadedData.forecast`) adds the naive and seasonal-naive baselines when
    (x, y) are its validation windows."""

    data = prepare_data(
        x,
        y,
        loss=result.meta["loss"],
        num_classes=result.meta["num_classes"],
        classes=result.class_names,
        **result._input_options(),  # the model's masking, as `evaluate` prepares inputs
    )
    predictions = result.predict(x)
    return score_document(result, data.train.y, predictions, forecast=forecast, source="given data")


def validation_scores(
    result: SweepResult, ds: Dataset, forecast: Mapping[str, object] | None = None
) -> dict[str, Any] | None:
    """The document for a sweep's own validation rows (already prepared in `ds`), or None
    when there are none or they cannot be scored here (per-step targets, a stream)."""

    if ds.val is None or not isinstance(ds.val, Split) or len(ds.val) == 0 or result.meta.get("sequence_output"):
        return None
    predictions = unscale_target(result.predict_prepared(ds.val.x, ds.val.mask), result.target_scaling)
    truth = unscale_target(ds.val.y, result.target_scaling)
    return score_document(result, truth, predictions, forecast=forecast, source="validation")


def score_document(
    result: SweepResult,
    truth: np.ndarray,
    predictions: np.ndarray,
    *,
    forecast: Mapping[str, object] | None = None,
    source: str = "validation",
) -> dict[str, Any]:
    """The document from the true targets (codes, one-hot or values, as a `Split` holds them)
    and every member's predictions (members, n, out), both in the user's units."""
    task, notes = result.meta["task"], []
    names = _class_names(result)
    if task == "regression":
        per_member = [regression_scores(truth, p) for p in predictions]
        keys, headline = REGRESSION_SCORES, "rmse"
    elif task == "binary" and result.meta["out_dim"] > 1:
        note = "multi-label targets (one sigmoid per label) are not scored here"
        return _json_ready(
            {"format_version": FORMAT_VERSION, "data": source, "task": task, "scored": False, "notes": [note]}
        )
    else:
        codes = _codes(truth)
        per_member = [classification_scores(codes, p, len(names)) for p in predictions]
        keys, headline = CLASSIFICATION_SCORES, "balanced_accuracy"
        absent = [names[k] for k in range(len(names)) if not (codes == k).any()]
        if absent:
            notes.append(f"no {source} rows of class {', '.join(absent)}: its recall is undefined (null)")
    members = _member_rows(result, per_member, keys)
    configs = _config_rows(result, members, keys)
    doc = {
        "format_version": FORMAT_VERSION,
        "data": source,
        "rows": len(truth),
        "task": task,
        "scored": True,
        "scores": list(keys),
        "headline": headline,
        "units": None if forecast is None else forecast.get("target"),  # the forecast column's name
        "class_names": None if task == "regression" else names,
        "members": members,
        "configs": configs,
        "best": _best(configs, per_member, members, headline, names if task != "regression" else None),
        "notes": notes,
    }
    if forecast is not None and task == "regression":
        doc["baselines"] = _baselines(forecast, len(truth), notes)
    return _json_ready(doc)


def _class_names(result: SweepResult) -> list[str]:
    """The class names, or the codes as text when the result kept none."""
    if result.class_names is not None:
        return list(result.class_names)
    k = result.meta.get("num_classes") or result.meta["out_dim"]
    return [str(c) for c in range(2 if result.meta["task"] == "binary" else int(k))]


def _codes(truth: np.ndarray) -> np.ndarray:
    """Class codes from sparse codes, a sigmoid's 0/1 column or one-hot rows."""
    truth = np.asarray(truth)
    if truth.ndim == 2 and truth.shape[1] > 1:
        return truth.argmax(axis=1).astype(np.int64)
    return (truth.reshape(-1) >= 0.5).astype(np.int64) if truth.dtype.kind == "f" else truth.reshape(-1)


def _member_rows(result: SweepResult, per_member: Sequence[Mapping[str, object]], keys: Sequence[str]) -> list[dict]:
    """One row per member: its configuration, status and scores (diverged members: null)."""
    rows = []
    for row, got in zip(result.members, per_member):
        ok = row.get("status") != "diverged"
        values = {k: got[k] if ok else math.nan for k in keys}
        extra = {"per_class_recall": got["per_class_recall"]} if "per_class_recall" in got and ok else {}
        rows.append({"member": row["index"], "config": row["config"], "status": row.get("status"), **values, **extra})
    return rows


def _config_rows(result: SweepResult, members: Sequence[Mapping[str, object]], keys: Sequence[str]) -> list[dict]:
    """Per configuration: seeds scored, mean and sample std of each score (NaNs left out)."""
    rows = []
    for c in range(len(result.configs)):
        mine = [m for m in members if m["config"] == c]
        mean, std, n = {}, {}, {}
        for k in keys:
            values = np.array([m[k] for m in mine], np.float64)
            values = values[np.isfinite(values)]
            n[k] = len(values)
            mean[k] = float(values.mean()) if len(values) else math.nan
            std[k] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        pruned = any(m["status"] == "pruned" for m in mine)
        rows.append({"config": c, "seeds": len(mine), "n": n, "mean": mean, "std": std, "pruned": pruned})
    return rows


def _best(
    configs: list[dict[str, Any]],
    per_member: list[dict[str, Any]],
    members: list[dict[str, Any]],
    headline: str,
    names: list[str] | None,
) -> dict[str, Any] | None:
    """The configuration with the best mean headline score (not pruned); for classes, its
    confusion matrix summed over its scored seeds and the per-class recall of that sum."""
    usable = [c for c in configs if math.isfinite(c["mean"][headline]) and not c["pruned"]]
    if not usable:
        return None
    sign = 1.0 if headline in REGRESSION_SCORES else -1.0
    top = min(usable, key=lambda c: (sign * c["mean"][headline], c["config"]))
    best: dict[str, Any] = {"config": top["config"], "by": headline}
    if names is None:
        return best
    matrices = [
        np.asarray(got["confusion_matrix"])
        for got, m in zip(per_member, members)
        if m["config"] == top["config"] and got["confusion_matrix"] is not None and m["status"] != "diverged"
    ]
    total = np.sum(matrices, axis=0)
    support = total.sum(axis=1)
    recall = [float(total[k, k] / support[k]) if support[k] else math.nan for k in range(len(names))]
    best.update(
        seeds_summed=len(matrices),
        labels=names,
        confusion_matrix=total.tolist(),
        per_class_recall=dict(zip(names, recall)),
    )
    return best


def _baselines(forecast: Mapping[str, object], rows: int, notes: list[str]) -> dict[str, Any] | None:
    """The forecast baselines on the same windows, or None (with a note) when the scored
    rows are not the series' validation windows (say, a separate validation file)."""
    windows = validation_windows(forecast)
    if windows != rows:
        notes.append(f"no forecast baselines: the series has {windows} validation windows, {rows} rows were scored")
        return None
    return forecast_baselines(forecast)


def _json_ready(doc: Mapping[str, object]) -> dict[str, Any]:
    """The document as it reads back from scores.json (NaN as null), so a loaded result
    and a fresh one hold the same."""

    return json.loads(strict_json(doc))


__all__ = ["FORMAT_VERSION", "score_document", "scores", "validation_scores"]
