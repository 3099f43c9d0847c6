"""Keras-style data in, validated numpy arrays out.

Everything a user can get wrong about the data is caught here, before any compile,
with an error that names the argument: shapes, lengths, NaN/inf, labels, weights,
the validation split. The rules are `keras.Model.fit`'s: `validation_split` takes
the last rows before any shuffling (floor of the split point), `validation_data`
overrides it, `class_weight` and `sample_weight` are exclusive, and variable-length
sequences (a list, a NumPy object array, a pandas Series of arrays) are post-padded
with a mask (as Keras's `pad_sequences` + `Masking`). Validation sequences keep their
own length: they are evaluated by a separate program. The task, loss and head come
from `y` by the rules in `fastlstm.data._targets` (which also defines `TaskInferenceWarning`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._arrays import (
    Dataset,
    Part,
    Split,
    as_targets,
    balanced_class_weights,
    check_data_arguments,
    check_options,
    checked_metrics,
    checked_weights,
    class_weights,
    encode_targets,
    from_pydataset,
    is_pydataset,
    split_last_rows,
    step_mask,
    to_sequences,
    validation_part,
)
from fastlstm.data._input_checks import Layout, check_layout, warn_zero_padding
from fastlstm.data._labels import code_labels, describe_names, wants_coding
from fastlstm.data._preprocessing import apply_preprocessing, fit_preprocessing
from fastlstm.data._splits import SplitMode, check_split, check_stratified, split_rows
from fastlstm.data._step_targets import prepare_step_data
from fastlstm.data._targets import LOSS_TASK, Targets, TaskInferenceWarning, resolve_targets
from fastlstm.engine._losses import canonical_loss

__all__ = [
    "Dataset",
    "Split",
    "TaskInferenceWarning",
    "balanced_class_weights",
    "prepare_data",
    "prepare_inputs",
]

# prepare_data's options that per-timestep targets take too (fastlstm.data._step_targets.prepare_step_data)
STEP_OPTIONS = (
    "task",
    "loss",
    "metrics",
    "num_classes",
    "output_dim",
    "mask_value",
    "validation_split",
    "validation_data",
    "sample_weight",
    "class_weight",
    "mask_zero",
    "layout",
)


def prepare_inputs(
    x: object,
    mask_value: float | None = None,
    name: str = "x",
    mask_zero: bool = False,
    layout: Layout | None = "steps_first",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs alone (for predict): float32 (n, timesteps, features) and a mask or None.

    A trained model knows its feature count (its caller checks x against it), so the
    likely-transposed refusal (`layout=None`) is not the default here: a model trained on a
    short sequence of many features with layout="steps_first" must predict on the same."""
    arr, ragged = to_sequences(x, name, check_layout(layout))
    return arr, step_mask(arr, ragged, mask_value, mask_zero)


def prepare_data(
    x: object,
    y: object,
    *,
    task: str = "auto",
    loss: str | None = None,
    metrics: str | Sequence[str] | None = None,
    num_classes: int | None = None,
    output_dim: int | None = None,
    mask_value: float | None = None,
    validation_split: float = 0.0,
    validation_data: object = None,
    sample_weight: object = None,
    class_weight: Mapping[int, float] | str | None = None,
    standardize: str | Mapping[str, Any] | None = None,
    class_weight_grid: bool = False,
    split: SplitMode = "last",
    split_seed: int = 0,
    sequence_targets: bool = False,
    mask_zero: bool = False,
    classes: Sequence[str] | None = None,
    standardize_target: bool = False,
    layout: str | None = None,  # checked: None, "steps_first" or "channels_first"
) -> Dataset:
    """Validate and convert Keras-style `fit` arguments into a `Dataset`.

    Task, loss and head follow `fastlstm.data._targets` (why: `Dataset.inference`); class labels that are
    not 0..k-1 (1/2, -1/1, names) are coded by `fastlstm.data._labels`, names kept in `Dataset.class_names`
    (`classes` fixes the list: a trained model's). Fitted on the training part only, after the split:
    `standardize` (over real steps), "balanced" class weights, `standardize_target` (a regression
    target's mean and std); a class_weight grid keeps the balanced weights beside the unweighted.
    `sequence_targets`: one target per timestep (`fastlstm.data._step_targets`); `mask_zero` masks token
    id 0; `layout="channels_first"` reads aeon's (samples, channels, length), with no layout a likely
    channels-first shape is refused and unmasked zero padding warns (fastlstm/data/_input_checks.py).
    NumPy scalars are accepted wherever a Python number is.
    """
    check_options(standardize, class_weight_grid, class_weight, sample_weight, mask_zero, sequence_targets)
    _check_split_mode(split, split_seed, validation_split, validation_data, sequence_targets)
    layout = check_layout(layout)
    if sequence_targets:
        if standardize_target:
            raise ValueError("standardize_target does not support per-timestep targets yet; scale y before the sweep")
        given = locals()
        return prepare_step_data(x, y, **{name: given[name] for name in STEP_OPTIONS})
    num_classes, output_dim, mask_value, validation_split = (
        to_python(v) for v in (num_classes, output_dim, mask_value, validation_split)
    )
    check_data_arguments(loss, num_classes, output_dim, mask_value, validation_split, sample_weight, class_weight)
    x, y, sample_weight = _in_memory_xy(x, y, sample_weight)
    train, val, val_name = _train_and_validation(
        x, y, sample_weight, validation_data, validation_split, layout, split=split, split_seed=split_seed
    )
    if train[3] is None and mask_value is None and not mask_zero:  # nothing marks padding
        warn_zero_padding(train[0], stacklevel=2)
    train, val, class_names = _coded_classes(train, val, task, loss, num_classes, output_dim, classes)
    ys = [("y", train[1])] + ([(val_name, val[1])] if val else [])
    targets = _named(resolve_targets(ys, task, loss, num_classes, output_dim), class_names)
    if split == "stratified" and val is not None and validation_data is None:
        check_stratified(train[1], val[1], targets.task, targets.out_dim)
    train, val, target_scaling = _scaled_targets(train, val, targets, standardize_target)
    weights, table, balanced = _row_weights(train, targets, class_weight, class_weight_grid)
    train_split = _split(train[0], train[1], weights, train[3], targets, mask_value, mask_zero)
    val_split = None if val is None else _split(*val, targets, mask_value, mask_zero)
    return Dataset(
        train_split,
        val_split,
        targets.task,
        targets.loss,
        checked_metrics(metrics, targets),
        targets.out_dim,
        targets.num_classes,
        targets.as_dict(),
        preprocessing=_standardized(standardize, train_split, val_split),
        class_weight=table,
        balanced_weight=balanced,
        class_names=class_names,
        target_scaling=target_scaling,
    )


def _row_weights(
    train: Part, targets: Targets, class_weight: Any, class_weight_grid: bool
) -> tuple[np.ndarray, dict[int, float] | None, np.ndarray | None]:
    """(the training rows' weights, the per-class table, the "balanced" weights kept beside
    unweighted ones for a class_weight grid): class_weight replaces sample weights."""
    if class_weight is not None:
        weights, table = class_weights(class_weight, train[1], targets)
        return weights, table, None
    if class_weight_grid:
        balanced, table = class_weights("balanced", train[1], targets)
        return train[2], table, balanced
    return train[2], None, None


def _coded_classes(
    train: Part, val: Part | None, task: str, loss: str | None, num_classes: object, output_dim: object, classes: Any
) -> tuple[Part, Part | None, tuple[str, ...] | None]:
    """Train and validation parts with their class labels coded 0..k-1 (fastlstm/data/_labels.py),
    and the class names; the parts as they were when the targets are not class labels."""
    ys = [train[1]] + ([val[1]] if val is not None else [])
    if classes is None and not wants_coding(
        ys, task, None if loss is None else canonical_loss(loss), num_classes, output_dim
    ):
        return train, val, None
    if task == "regression" or (loss is not None and LOSS_TASK.get(canonical_loss(loss)) == "regression"):
        raise ValueError("y holds class names, but regression needs numbers; pass numeric targets or drop task/loss")
    try:
        coding = code_labels(ys, classes)
    except ValueError as err:
        raise ValueError(f"y: {err}") from None
    train = (train[0], coding.ys[0], *train[2:])
    if val is not None:
        val = (val[0], coding.ys[1], *val[2:])
    return train, val, coding.names


def _named(targets: Targets, class_names: tuple[str, ...] | None) -> Targets:
    """The targets' reason in the user's class names ("binary: 2 classes (1, 2) -> ..."),
    not in the codes they were given."""
    if class_names is None or " -> " not in targets.reason:
        return targets
    head = targets.reason.split(" -> ", 1)[1]
    return dataclasses.replace(targets, reason=f"{targets.task}: {describe_names(class_names)} -> {head}")


def _scaled_targets(
    train: Part, val: Part | None, targets: Targets, standardize_target: bool
) -> tuple[Part, Part | None, dict[str, float] | None]:
    """With `standardize_target`, a regression target scaled by the training rows' mean and
    standard deviation (one of each over every output: a forecast's horizon is one quantity)."""
    if not standardize_target:
        return train, val, None
    if targets.task != "regression":
        raise ValueError(f"standardize_target scales a regression target, but y is {targets.task} ({targets.reason})")
    y = np.asarray(train[1], np.float64)
    mean, std = float(y.mean()), float(y.std())
    scaling = {"mean": mean, "std": std if std > 0 else 1.0}
    train = (train[0], scale_target(train[1], scaling), *train[2:])
    if val is not None:
        val = (val[0], scale_target(val[1], scaling), *val[2:])
    return train, val, scaling


def scale_target(y: object, scaling: Mapping[str, float] | None) -> Any:
    """y in the units the model trains on (standardized), or as it is without scaling."""
    if scaling is None:
        return y
    return ((np.asarray(y, np.float64) - scaling["mean"]) / scaling["std"]).astype(np.float32)


def metrics_in_target_units(
    values: Mapping[str, np.ndarray], scaling: Mapping[str, float] | None
) -> dict[str, np.ndarray]:
    """Logged mae/mse (and val_) in the target's own units: the members train on the scaled
    target, but an error of 0.3 std says nothing to a user counting passengers. One mean and
    std over every output make this exact (|e| std, e^2 std^2). The loss stays the scaled
    objective it was (what callbacks monitoring val_loss saw)."""
    if scaling is None:
        return dict(values)
    power = {"mae": 1, "mse": 2}
    out = {}
    for name, value in values.items():
        exponent = power.get(name.removeprefix("val_"))
        out[name] = value if exponent is None else (value * np.float32(scaling["std"] ** exponent)).astype(value.dtype)
    return out


def unscale_target(y: np.ndarray, scaling: Mapping[str, float] | None) -> np.ndarray:
    """Predictions back in the user's units."""
    if scaling is None:
        return y
    return (np.asarray(y, np.float64) * scaling["std"] + scaling["mean"]).astype(np.float32)


def _in_memory_xy(x: object, y: object, sample_weight: object) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) as arrays or lists: a PyDataset is read whole; a shard
    directory is refused here (only a sweep streams it)."""
    if isinstance(x, (str, os.PathLike)) and os.path.isdir(x):
        raise ValueError(
            f"x: {os.fspath(x)!r} is a directory of .npy shards, which only a sweep streams "
            "(fl.sweep, fastlstm sweep); this needs the data in memory"
        )
    if y is None and is_pydataset(x):
        x, y, sample_weight = from_pydataset(x)
    if y is None:
        raise ValueError("y is required (or pass a PyDataset-like x that yields (x, y) batches)")
    return x, y, sample_weight


def _split(x: np.ndarray, y: Any, w: Any, ragged: Any, targets: Any, mask_value: Any, mask_zero: bool) -> Split:
    """One part of the data with its targets encoded and its padding mask."""
    return Split(x, encode_targets(y, targets), w, step_mask(x, ragged, mask_value, mask_zero))


def _train_and_validation(
    x: object,
    y: object,
    sample_weight: object,
    validation_data: object,
    validation_split: float,
    layout: Layout | None = None,
    *,
    split: SplitMode = "last",
    split_seed: int = 0,
) -> tuple[tuple, tuple | None, str]:
    """(train, validation or None, the name validation targets go by in messages), each part
    (x, y, weights, ragged lengths): `validation_data` if given, else the rows `split`
    chooses (fastlstm/data/_splits.py; Keras's last rows by default)."""
    xa, ragged = to_sequences(x, "x", layout)
    train = (xa, as_targets(y, "y", xa.shape[0]), checked_weights(sample_weight, "sample_weight", xa.shape[0]), ragged)
    if validation_data is not None:
        return train, validation_part(validation_data, xa.shape[2], layout), "validation_data y"
    if validation_split > 0:
        train, val = _split_by_mode(train, validation_split, split, split_seed)
        return train, val, "y"
    return train, None, "y"


def _standardized(
    standardize: str | Mapping[str, Any] | None, train: Split, val: Split | None
) -> dict[str, Any] | None:
    """Fit the scaling on the training split (masks already taken from the raw input), then
    scale both splits in place; the fitted dict, or None without `standardize`. A dict is
    numbers fitted before (a Keras model's Normalization): applied as they are."""
    if standardize is None:
        return None
    if isinstance(standardize, Mapping):
        fitted = dict(standardize)
    else:
        fitted = fit_preprocessing(train.x, train.mask, standardize)
    for split in (train, val):
        if split is not None:
            split.x = apply_preprocessing(split.x, split.mask, fitted)
    return fitted


def _check_split_mode(
    split: object, split_seed: object, validation_split: object, validation_data: object, sequence_targets: bool
) -> None:
    """`split` and `split_seed` before anything is read: a known mode, and one that has rows
    to choose (a validation_split, per-sequence targets); `validation_data` overrides both."""
    check_split(split, split_seed)
    if split == "last" or validation_data is not None:
        return
    if sequence_targets:
        raise ValueError(f"split={split!r} is not supported with per-timestep targets yet; use split='last'")
    if not to_python(validation_split):
        raise ValueError(
            f"split={split!r} chooses the rows validation_split holds out, but validation_split is 0; "
            "pass validation_split (e.g. 0.2)"
        )


def _split_by_mode(train: Part, validation_split: float, split: SplitMode, split_seed: int) -> tuple[Part, Part]:
    """The rows `split` holds out (fastlstm/data/_splits.py), each part in the file's order."""
    if split == "last":
        return split_last_rows(train, validation_split)
    keep, held = split_rows(train[0].shape[0], validation_split, split, split_seed, train[1])
    head = cast(Part, tuple(None if a is None else a[keep] for a in train))
    tail = cast(Part, tuple(None if a is None else a[held] for a in train))
    return head, tail
