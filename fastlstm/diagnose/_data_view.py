"""The data as the checks see it: `fl.sweep`'s inputs, split the same way, NaN kept.

`fastlstm.data._prepare.prepare_data` refuses NaN (rightly, for training); a diagnosis must look
at them instead. So this takes the same arguments (x, y, validation_split, split,
split_seed, validation_data, mask_value, task/loss/num_classes), pads ragged sequences the
same way, splits by the same rule (fastlstm/data/_splits.py: Keras's last rows unless `split`
says otherwise, `validation_data` overriding),
and infers the task by `fastlstm.data._targets` on the finite targets - without raising on
what the checks are there to report.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._arrays import pad_ragged
from fastlstm.data._labels import code_labels, is_text, wants_coding
from fastlstm.data._splits import split_rows
from fastlstm.data._targets import resolve_targets
from fastlstm.engine._losses import canonical_loss


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of the data: x (n, t, f) float32 with NaN kept, real steps, targets."""

    x: np.ndarray
    real: np.ndarray  # (n, t) bool: a real step (not padding, not a mask_value step)
    y: np.ndarray | None  # (n, k) float64, or None when no targets were given

    @property
    def lengths(self) -> np.ndarray:
        return self.real.sum(axis=1)

    @functools.cached_property
    def feature_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per feature over real, finite steps: mean, std, min, max (NaN for a feature with
        none). Computed once: several checks read them."""
        rows = self.x[self.real]
        if np.isfinite(rows).all():
            mean = rows.mean(axis=0, dtype=np.float64)
            return mean, rows.std(axis=0, dtype=np.float64), rows.min(axis=0), rows.max(axis=0)
        rows = rows.astype(np.float64)
        rows[~np.isfinite(rows)] = np.nan
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN features: NaN is the answer
            return np.nanmean(rows, 0), np.nanstd(rows, 0), np.nanmin(rows, 0), np.nanmax(rows, 0)


@dataclasses.dataclass(frozen=True)
class DataView:
    train: Part
    val: Part | None
    task: str | None  # classification | binary | regression | None (not inferable)
    num_classes: int | None
    val_source: str  # "validation_data", "validation_split" or "none"
    split: str = "last"  # which rows validation_split held out (fastlstm/data/_splits.py)
    class_names: tuple[str, ...] | None = None  # class k's name, when the labels were names
    feature_names: tuple[str, ...] | None = None  # feature j's column name, when known
    standardize: str | None = None  # what the spec scales already (data.unscaled leaves it out)
    standardize_target: bool = False


def data_view(
    x: Any,
    y: Any = None,
    *,
    validation_split: float = 0.0,
    validation_data: Any = None,
    mask_value: float | None = None,
    task: str = "auto",
    loss: str | None = None,
    num_classes: int | None = None,
    split: str = "last",
    split_seed: int = 0,
    feature_names: Any = None,
    standardize: str | None = None,
    standardize_target: bool = False,
) -> DataView:
    """`fl.sweep`'s data arguments as a `DataView`; ValueError naming the argument when
    the shapes cannot be read at all (NaN and inf are not errors here)."""
    validation_split, mask_value = to_python(validation_split), to_python(mask_value)
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3)
    ):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
    y, validation_data, class_names = _classes_coded(y, validation_data, task, loss, num_classes)
    train = _part(x, y, "x", "y", mask_value)
    val_source = "none"
    if validation_data is not None:
        val = _part(validation_data[0], validation_data[1], "validation_data x", "validation_data y", mask_value)
        if val.x.shape[2] != train.x.shape[2]:
            raise ValueError(f"validation_data x has {val.x.shape[2]} features but x has {train.x.shape[2]}")
        val_source = "validation_data"
    elif validation_split > 0:
        train, val = _split_rows(train, validation_split, split, split_seed)
        val_source = "validation_split"
    else:
        val = None
    inferred, classes = _task_of(train, val, task, loss, num_classes)
    names = tuple(str(n) for n in feature_names) if feature_names is not None else None
    mode = split if val_source == "validation_split" else "last"
    return DataView(
        train, val, inferred, classes, val_source, mode, class_names, names, standardize, standardize_target
    )


def _classes_coded(
    y: Any, validation_data: Any, task: str, loss: str | None, num_classes: int | None
) -> tuple[Any, Any, tuple[str, ...] | None]:
    """Class labels (a .ts file's "standing", "walking"; UCR's 1, 2) coded 0..k-1 over training
    and validation labels together, exactly when fl.sweep codes them (fastlstm/data/_labels.py), so
    the checks see the classes the members train on, and the class names (for the findings'
    words); other y as given, without names."""
    ys = [y] + ([validation_data[1]] if validation_data is not None else [])
    arrays = [None if v is None else np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v) for v in ys]
    if arrays[0] is None:
        return y, validation_data, None
    given = [a for a in arrays if a is not None]
    canonical = None if loss is None else canonical_loss(loss)
    if not (any(is_text(a) for a in given) or wants_coding(given, task, canonical, num_classes, None)):
        return y, validation_data, None
    coding = code_labels([a for a in arrays if a is not None])
    coded, names = coding.ys, tuple(str(n) for n in coding.names)
    if len(coded) == 1:
        return coded[0], validation_data, names
    return coded[0], (validation_data[0], coded[1], *validation_data[2:]), names


def _part(x: object, y: object, x_name: str, y_name: str, mask_value: float | None) -> Part:
    xs, ragged = _sequences(x, x_name)
    real = np.ones(xs.shape[:2], bool) if ragged is None else ragged
    if mask_value is not None:
        real = real & np.any(xs != np.float32(mask_value), axis=-1)
    return Part(xs, real, None if y is None else _targets(y, y_name, xs.shape[0]))


def _sequences(x: object, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """x as float32 (n, t, f) and the ragged padding mask (or None), NaN kept."""
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    try:
        arr, ragged = np.asarray(x, dtype=np.float32), None
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.dtype == object:
        arr, ragged = pad_ragged(x, name)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"{name} must be (samples, timesteps[, features]) with at least one of each, got {arr.shape}")
    return arr, ragged


def _targets(y: object, name: str, n: int) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    arr = np.asarray(y)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.ndim > 2 or arr.shape[0] != n:
        raise ValueError(f"{name} must be (samples,) or (samples, outputs) with {n} rows, got shape {arr.shape}")
    return arr.reshape(n, -1).astype(np.float64)


def _split_rows(part: Part, validation_split: float, split: Any, split_seed: Any) -> tuple[Part, Part]:
    """The rows fl.sweep would hold out (fastlstm/data/_splits.py), so a check sees its split."""
    keep, held = split_rows(part.x.shape[0], validation_split, split, split_seed, part.y)
    y = part.y
    head = Part(part.x[keep], part.real[keep], None if y is None else y[keep])
    tail = Part(part.x[held], part.real[held], None if y is None else y[held])
    return head, tail


def _task_of(
    train: Part, val: Part | None, task: str, loss: str | None, num_classes: int | None
) -> tuple[str | None, int | None]:
    """(task, num_classes) by fastlstm.data._targets' rules on the finite target rows; (None, None)
    when there are no targets or the rules refuse them (those errors are fl.sweep's to raise)."""
    parts = [("y", train.y)] + ([("validation_data y", val.y)] if val is not None and val.y is not None else [])
    if train.y is None:
        return None, None
    finite = [(name, y[np.isfinite(y).all(axis=1)]) for name, y in parts if y is not None]  # all are (train.y checked)
    if any(len(y) == 0 for _, y in finite):
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            targets = resolve_targets([(n, _as_given(y)) for n, y in finite], task, loss, num_classes)
        except ValueError:
            return None, None
    return targets.task, targets.num_classes


def _as_given(y: np.ndarray) -> np.ndarray:
    """Whole-number float targets back to ints, so the rules read them as the user's labels."""
    return y.astype(np.int64) if np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53) else y


def label_columns(y: np.ndarray, task: str | None, num_classes: int | None) -> list[np.ndarray] | None:
    """Class counts per output: one vector of `num_classes` counts for classification, a
    [negatives, positives] pair per output for binary/multi-label; None for regression."""
    rows = y[np.isfinite(y).all(axis=1)]
    if task == "classification" and num_classes:
        labels = rows[:, 0].astype(np.int64) if rows.shape[1] == 1 else np.argmax(rows, axis=1)
        return [np.bincount(labels, minlength=num_classes)[:num_classes]]
    if task == "binary":
        positive = (rows > 0.5).sum(axis=0)
        return [np.array([len(rows) - p, p]) for p in positive]
    return None
