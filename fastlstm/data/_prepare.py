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
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._input_checks import Layout, apply_layout, check_layout, warn_zero_padding
from fastlstm.data._labels import code_labels, describe_names, is_text, wants_coding
from fastlstm.data._preprocessing import apply_preprocessing, check_standardize, fit_preprocessing
from fastlstm.data._splits import SplitMode, check_split, check_stratified, split_rows
from fastlstm.data._targets import LOSS_TASK, MAX_OUTPUTS, Targets, TaskInferenceWarning, checked_int, resolve_targets
from fastlstm.engine._losses import LOSSES, METRICS, canonical_loss

__all__ = [
    "Dataset",
    "Split",
    "TaskInferenceWarning",
    "balanced_class_weights",
    "prepare_data",
    "prepare_inputs",
]

FLOAT32_MAX = float(np.finfo(np.float32).max)  # weights are float32 on the device
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


@dataclasses.dataclass
class Split:
    """One part of the data (train or validation) as host arrays."""

    x: np.ndarray  # (n, timesteps, features) float32
    y: np.ndarray  # (n,) int32 labels, or (n, k) float32
    weight: np.ndarray  # (n,) float32 sample weights (ones when none were given)
    mask: np.ndarray | None  # (n, timesteps) bool, None when every step is real

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def row_shape(self) -> tuple[int, ...]:
        """(timesteps, features) of one row."""
        return tuple(self.x.shape[1:])


@dataclasses.dataclass
class Dataset:
    """Validated data plus what it says about the task."""

    train: Split  # or a fastlstm.data._stream_data.StreamSplit: x read from disk by blocks
    val: Split | None
    task: str  # classification | binary | regression
    loss: str
    metrics: tuple[str, ...]
    out_dim: int
    num_classes: int | None
    # How task/loss/out_dim were decided: Targets.as_dict() (task, loss, out_dim,
    # num_classes, a one-line `reason`, and the `warnings` raised about the guess).
    inference: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The fitted input scaling (fastlstm/data/_preprocessing.py), None without `standardize`.
    preprocessing: dict[str, Any] | None = None
    # The per-class weights the training rows got ({class: weight}), None without class_weight.
    class_weight: dict[int, float] | None = None
    # With class_weight in the grid: the training rows' "balanced" weights, which members
    # with class_weight="balanced" train with instead of `train.weight` (ones).
    balanced_weight: np.ndarray | None = None
    # The class names of coded labels (names[code]), None when y is not class labels.
    class_names: tuple[str, ...] | None = None
    # standardize_target's {"mean", "std"} of the training targets, None without it.
    target_scaling: dict[str, float] | None = None
    # How the validation rows were chosen ({"source", "split", "split_seed", "fraction",
    # "rows"}; fastlstm.api._sweep.load_data fills it), None when nobody said.
    validation: dict[str, Any] | None = None

    @property
    def timesteps(self) -> int:
        """The training sequence length (validation sequences may be longer or shorter)."""
        return int(self.train.row_shape[0])

    @property
    def features(self) -> int:
        return int(self.train.row_shape[1])

    @property
    def streaming(self) -> bool:
        """x is read from disk block by block (fastlstm/runtime/_streaming.py), not held on the device."""
        return not isinstance(self.train, Split)


def _is_pydataset(x: Any) -> bool:
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")


def _from_pydataset(ds: Any) -> tuple[Any, Any, Any]:
    """Concatenate the batches of a Keras PyDataset-like object into arrays."""
    xs, ys, ws = [], [], []
    for i in range(len(ds)):
        batch = ds[i]
        if not isinstance(batch, tuple) or len(batch) not in (2, 3):
            raise ValueError("x: a PyDataset must yield (x, y) or (x, y, sample_weight) batches")
        xs.append(np.asarray(batch[0]))
        ys.append(np.asarray(batch[1]))
        if len(batch) == 3:
            ws.append(np.asarray(batch[2]))
    if not xs:
        raise ValueError("x: the PyDataset is empty")
    return np.concatenate(xs), np.concatenate(ys), (np.concatenate(ws) if ws else None)


def _to_sequences(x: Any, name: str, layout: Layout | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """x as a float32 (n, timesteps, features) array and a padding mask (or None).

    `layout="channels_first"` reads (n, channels, length) arrays and sequences (aeon's);
    with no layout a shape that is likely channels first is refused (fastlstm.data._input_checks)."""
    if x is None:
        raise ValueError(f"{name} is required: expected an array of shape (samples, timesteps, features)")
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    arr = _float32_or_none(x, name)
    mask = None
    if arr is None:
        arr, mask = _pad_ragged(x, name, layout)
    elif arr.ndim == 3:
        arr = apply_layout(arr, layout, name)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be 2-D (samples, timesteps) or 3-D (samples, timesteps, features), got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one sample")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"{name} has shape {arr.shape}: expected at least one timestep and one feature")
    if not np.all(np.isfinite(arr)):
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} contains NaN or inf values{BEYOND_FLOAT32} (first at index {first})")
    return arr, mask


BEYOND_FLOAT32 = ", or numbers beyond float32's range (|value| > 3.4e38)"


def _float32_or_none(x: Any, name: str) -> np.ndarray | None:
    """`x` as a float32 array, or None when it is not one rectangular array (ragged
    sequences, objects: `_pad_ragged` decides). Text and complex numbers are refused rather
    than parsed or cut to their real part, as `np.asarray(x, np.float32)` would."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # NumPy 2: ragged nested lists
        return None
    if arr.dtype == object:
        return None
    return _as_float32(arr, name)


def _as_float32(arr: np.ndarray, name: str) -> np.ndarray:
    """A numeric array as float32 (beyond float32's range becomes inf, which callers refuse)."""
    check_real_dtype(arr.dtype, name)
    with np.errstate(over="ignore", invalid="ignore"):
        return arr.astype(np.float32, copy=False)


def check_real_dtype(dtype: np.dtype, name: str) -> None:
    """Refuse text, complex, datetime and other non-numbers, naming `name`."""
    if dtype.kind not in "biuf":
        what = {"U": "text", "S": "bytes", "c": "complex numbers", "O": "Python objects"}.get(dtype.kind, "not numbers")
        raise ValueError(f"{name} must hold real numbers, got dtype {dtype} ({what})")


def _sequence_items(x: Any, name: str) -> list[Any]:
    """The sequences of a ragged collection: a list or tuple, a NumPy object array
    (what aeon and `pandas.Series.to_numpy()` give), or any other sized iterable."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        if x.ndim == 2 and x.shape[1] == 1:  # a one-column DataFrame of sequences
            x = x[:, 0]
        if x.ndim == 1:
            return list(x)
    elif (
        not isinstance(x, (str, bytes, Mapping, np.ndarray, set, frozenset))
        and hasattr(x, "__len__")
        and hasattr(x, "__iter__")
    ):
        return list(x)
    raise ValueError(f"{name} must be an array of shape (samples, timesteps, features) or a list of sequences")


def _pad_ragged(x: Any, name: str, layout: Layout | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Post-pad a collection of (timesteps_i, features) sequences - (channels, length_i)
    ones with layout="channels_first" - and mask the padding."""
    items = _sequence_items(x, name)
    if not items:
        raise ValueError(f"{name} is empty: expected at least one sequence")
    seqs = []
    for i, s in enumerate(items):
        try:
            a = np.asarray(s)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{name}[{i}] is not a numeric array: {err}") from None
        if a.dtype.kind not in "biuf":  # text would be parsed, complex cut to its real part
            raise ValueError(f"{name}[{i}] is not a numeric array: it holds {a.dtype} values")
        a = _as_float32(a, f"{name}[{i}]")
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"{name}[{i}] must be (timesteps,) or (timesteps, features), got shape {a.shape}")
        seqs.append(a.T if layout == "channels_first" else a)
    widths = {a.shape[1] for a in seqs}
    if len(widths) != 1:
        hint = ""
        if layout is None and len({a.shape[0] for a in seqs}) == 1:  # aeon's unequal-length (channels, length_i)
            hint = "; they look like (channels, length) sequences (aeon's layout): pass layout='channels_first'"
        raise ValueError(f"{name}: sequences have different feature counts {sorted(widths)}{hint}")
    t_max = max(a.shape[0] for a in seqs)
    out = np.zeros((len(seqs), t_max, widths.pop()), np.float32)
    mask = np.zeros((len(seqs), t_max), bool)
    for i, a in enumerate(seqs):
        out[i, : a.shape[0]] = a
        mask[i, : a.shape[0]] = True
    return out, mask


def _as_targets(y: Any, name: str, n: int) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be an array of labels or targets: {err}") from None
    text = is_text(arr)
    if text and arr.ndim == 2 and arr.shape[1] == 1:  # a one-column frame of class names
        arr = arr[:, 0]
    if text and arr.ndim != 1:
        raise ValueError(f"{name}: class names must be one per sample (1-D), got shape {arr.shape}")
    if not text and arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0] if arr.ndim else 0} rows but x has {n}: expected the same number of samples"
        )
    if arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples, outputs), got shape {arr.shape}")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}: expected at least one output column")
    if not text and not np.all(np.isfinite(_as_float32(arr, name))):  # float32 is what trains
        raise ValueError(f"{name} contains NaN or inf values{BEYOND_FLOAT32}")
    return arr


def _weights(sample_weight: Any, name: str, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, np.float32)
    try:
        given = np.asarray(sample_weight)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a 1-D array with one weight per sample ({n}): {err}") from None
    if given.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold one number per sample ({n}), got dtype {given.dtype}")
    w = _as_float32(given, name).reshape(-1) if given.ndim <= 1 else None
    if w is None or w.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one weight per sample ({n}), got shape {given.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return w


def _encode(y: np.ndarray, targets: Targets) -> np.ndarray:
    if targets.loss == "sparse_categorical_crossentropy":
        return y.reshape(-1).astype(np.int32)
    y = y.astype(np.float32)
    return y[:, None] if y.ndim == 1 else y


def _class_weights(
    class_weight: Mapping[int, float] | str, y: np.ndarray, targets: Targets
) -> tuple[np.ndarray, dict[int, float]]:
    """Per-sample weights from Keras's `class_weight` (one-hot rows use argmax), and the table.

    "balanced" is scikit-learn's n_samples / (n_classes * count) over these (training) rows.
    """
    if targets.task == "regression":
        raise ValueError("class_weight only applies to classification or binary targets")
    multi_label = targets.task == "binary" and y.ndim == 2 and y.shape[1] > 1
    if _is_balanced(class_weight) and multi_label:
        raise ValueError(
            f"class_weight='balanced' needs one class per sample, but y is multi-label ({y.shape[1]} binary outputs)"
        )
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.round(y.reshape(-1)).astype(int)
    table = balanced_class_weights(labels) if _is_balanced(class_weight) else _class_weight_table(class_weight)
    missing = sorted(set(np.unique(labels).tolist()) - set(table))
    if missing:
        raise ValueError(f"class_weight has no weight for classes {missing}; expected a weight for every class in y")
    return np.asarray([table[int(c)] for c in labels], np.float32), table


def _is_balanced(class_weight: Any) -> bool:
    return isinstance(class_weight, str) and class_weight == "balanced"


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's `compute_class_weight("balanced")` over the classes present in `labels`:
    n_samples / (n_classes * count_c), so every class carries the same total weight."""
    classes, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    n = counts.sum()
    return {int(c): float(n / (len(classes) * k)) for c, k in zip(classes, counts)}


def _class_weight_table(class_weight: Mapping[Any, Any]) -> dict[int, float]:
    """{class: weight} with plain int keys and float values (NumPy numbers accepted)."""
    table = {}
    for key, value in class_weight.items():
        k, v = to_python(key), to_python(value)
        if isinstance(k, bool) or not isinstance(k, int):
            raise ValueError(f"class_weight keys must be int class indices, got {key!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= FLOAT32_MAX:
            raise ValueError(f"class_weight values must be finite and >= 0, got {value!r} for class {k}")
        table[k] = float(v)
    return table


def _masked(
    x: np.ndarray, ragged: np.ndarray | None, mask_value: float | None, mask_zero: bool = False
) -> np.ndarray | None:
    mask = ragged
    if mask_zero:  # Embedding(mask_zero=True): token id 0 is padding
        mask = x[..., 0] != 0 if mask is None else (mask & (x[..., 0] != 0))
    if mask_value is not None:
        real = np.any(x != np.float32(mask_value), axis=-1)
        mask = real if mask is None else (mask & real)
    return None if mask is None or mask.all() else mask


def prepare_inputs(
    x: Any,
    mask_value: float | None = None,
    name: str = "x",
    mask_zero: bool = False,
    layout: Layout | None = "steps_first",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs alone (for predict): float32 (n, timesteps, features) and a mask or None.

    A trained model knows its feature count (its caller checks x against it), so the
    likely-transposed refusal (`layout=None`) is not the default here: a model trained on a
    short sequence of many features with layout="steps_first" must predict on the same."""
    arr, ragged = _to_sequences(x, name, check_layout(layout))
    return arr, _masked(arr, ragged, mask_value, mask_zero)


def prepare_data(
    x: Any,
    y: Any,
    *,
    task: str = "auto",
    loss: str | None = None,
    metrics: str | Sequence[str] | None = None,
    num_classes: int | None = None,
    output_dim: int | None = None,
    mask_value: float | None = None,
    validation_split: float = 0.0,
    validation_data: Any = None,
    sample_weight: Any = None,
    class_weight: Mapping[int, float] | str | None = None,
    standardize: str | Mapping[str, Any] | None = None,
    class_weight_grid: bool = False,
    split: SplitMode = "last",
    split_seed: int = 0,
    sequence_targets: bool = False,
    mask_zero: bool = False,
    classes: Sequence[str] | None = None,
    standardize_target: bool = False,
    layout: Layout | None = None,
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
    _check_options(standardize, class_weight_grid, class_weight, sample_weight, mask_zero, sequence_targets)
    _check_split_mode(split, split_seed, validation_split, validation_data, sequence_targets)
    layout = check_layout(layout)
    if sequence_targets:
        from fastlstm.data._step_targets import prepare_step_data

        if standardize_target:
            raise ValueError("standardize_target does not support per-timestep targets yet; scale y before the sweep")
        given = locals()
        return prepare_step_data(x, y, **{name: given[name] for name in STEP_OPTIONS})
    num_classes, output_dim, mask_value, validation_split = (
        to_python(v) for v in (num_classes, output_dim, mask_value, validation_split)
    )
    _check_arguments(loss, num_classes, output_dim, mask_value, validation_split, sample_weight, class_weight)
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
        _check_metrics(metrics, targets),
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
        weights, table = _class_weights(class_weight, train[1], targets)
        return weights, table, None
    if class_weight_grid:
        balanced, table = _class_weights("balanced", train[1], targets)
        return train[2], table, balanced
    return train[2], None, None


def _coded_classes(
    train: Part, val: Part | None, task: str, loss: str | None, num_classes: Any, output_dim: Any, classes: Any
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


def scale_target(y: Any, scaling: Mapping[str, float] | None) -> Any:
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


def _in_memory_xy(x: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """(x, y, sample_weight) as arrays or lists: a PyDataset is read whole; a shard
    directory is refused here (only a sweep streams it)."""
    if isinstance(x, (str, os.PathLike)) and os.path.isdir(x):
        raise ValueError(
            f"x: {os.fspath(x)!r} is a directory of .npy shards, which only a sweep streams "
            "(fl.sweep, fastlstm sweep); this needs the data in memory"
        )
    if y is None and _is_pydataset(x):
        x, y, sample_weight = _from_pydataset(x)
    if y is None:
        raise ValueError("y is required (or pass a PyDataset-like x that yields (x, y) batches)")
    return x, y, sample_weight


def _split(x: np.ndarray, y: Any, w: Any, ragged: Any, targets: Any, mask_value: Any, mask_zero: bool) -> Split:
    """One part of the data with its targets encoded and its padding mask."""
    return Split(x, _encode(y, targets), w, _masked(x, ragged, mask_value, mask_zero))


def _check_options(
    standardize: str | Mapping[str, Any] | None,
    class_weight_grid: bool,
    class_weight: Any,
    sample_weight: Any,
    mask_zero: bool,
    sequence_targets: bool,
) -> None:
    """The combinations of preprocessing options that cannot work, refused before anything is read."""
    check_standardize(None if isinstance(standardize, Mapping) else standardize)  # a dict: fixed numbers
    if class_weight_grid and (class_weight is not None or sample_weight is not None):
        raise ValueError("grid['class_weight'] cannot be combined with class_weight or sample_weight; pass one of them")
    if standardize is not None and mask_zero:
        raise ValueError("standardize: the input is token ids (an Embedding layer); they are not scaled")
    if sequence_targets and (standardize is not None or class_weight_grid):
        raise ValueError(
            "standardize and a class_weight grid do not support per-timestep targets yet; "
            "scale x before the sweep, and pass one class_weight"
        )


def _train_and_validation(
    x: Any,
    y: Any,
    sample_weight: Any,
    validation_data: Any,
    validation_split: float,
    layout: Layout | None = None,
    *,
    split: SplitMode = "last",
    split_seed: int = 0,
) -> tuple[tuple, tuple | None, str]:
    """(train, validation or None, the name validation targets go by in messages), each part
    (x, y, weights, ragged lengths): `validation_data` if given, else the rows `split`
    chooses (fastlstm/data/_splits.py; Keras's last rows by default)."""
    xa, ragged = _to_sequences(x, "x", layout)
    train = (xa, _as_targets(y, "y", xa.shape[0]), _weights(sample_weight, "sample_weight", xa.shape[0]), ragged)
    if validation_data is not None:
        return train, _validation_data(validation_data, xa.shape[2], layout), "validation_data y"
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
    fixed = isinstance(standardize, Mapping)
    fitted = dict(standardize) if fixed else fit_preprocessing(train.x, train.mask, standardize)
    for split in (train, val):
        if split is not None:
            split.x = apply_preprocessing(split.x, split.mask, fitted)
    return fitted


def _check_arguments(
    loss: Any,
    num_classes: Any,
    output_dim: Any,
    mask_value: Any,
    validation_split: Any,
    sample_weight: Any,
    class_weight: Any,
) -> None:
    """The settings that do not depend on the data (NumPy scalars already converted)."""
    if loss is not None and (not isinstance(loss, str) or canonical_loss(loss) not in LOSSES):
        raise ValueError(f"loss: unknown {loss!r}; expected one of {sorted(LOSSES)}")
    if num_classes is not None:
        checked_int("num_classes", num_classes, 2, MAX_OUTPUTS)
    if output_dim is not None:
        checked_int("output_dim", output_dim, 1, MAX_OUTPUTS)
    if mask_value is not None and (
        isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)) or not abs(mask_value) <= FLOAT32_MAX
    ):
        raise ValueError(f"mask_value must be a number or None (finite, |value| <= 3.4e38), got {mask_value!r}")
    if class_weight is not None and sample_weight is not None:
        raise ValueError("class_weight and sample_weight cannot be used together; pass one of them")
    if class_weight is not None and not isinstance(class_weight, Mapping) and not _is_balanced(class_weight):
        raise ValueError(
            f"class_weight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}"
            if isinstance(class_weight, str)
            else f"class_weight must be a dict {{class: weight}} or 'balanced', got {type(class_weight).__name__}"
        )
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0.0 <= validation_split < 1.0
    ):
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")


Part = tuple[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]  # x, y, weight, ragged mask


def _validation_data(validation_data: Any, features: int, layout: Layout | None = None) -> Part:
    """Keras's `validation_data`: (x, y) or (x, y, sample_weight).

    Its sequences need not have the training length (shorter or longer): validation
    is a separate evaluation program, so only the feature count must match.
    """
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
    xv, rv = _to_sequences(validation_data[0], "validation_data x", layout)
    yv = _as_targets(validation_data[1], "validation_data y", xv.shape[0])
    wv = _weights(validation_data[2] if len(validation_data) == 3 else None, "validation_data sample_weight", len(xv))
    if xv.shape[2] != features:
        raise ValueError(f"validation_data x has {xv.shape[2]} features but x has {features}")
    return xv, yv, wv, rv


def _check_split_mode(
    split: Any, split_seed: Any, validation_split: Any, validation_data: Any, sequence_targets: bool
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
        return _split_last_rows(train, validation_split)
    keep, held = split_rows(train[0].shape[0], validation_split, split, split_seed, train[1])
    head = tuple(None if a is None else a[keep] for a in train)
    tail = tuple(None if a is None else a[held] for a in train)
    return head, tail


def _split_last_rows(train: Part, validation_split: float) -> tuple[Part, Part]:
    """Keras's `validation_split`: the last rows, before any shuffling."""
    n = train[0].shape[0]
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set with {n} samples"
        )
    head = tuple(None if a is None else a[:split_at] for a in train)
    tail = tuple(None if a is None else a[split_at:] for a in train)
    return head, tail


def _check_metrics(metrics: str | Sequence[str] | None, targets: Targets) -> tuple[str, ...]:
    """Keras's `metrics`: a name or a list of names (default: accuracy, or mae for regression)."""
    if metrics is None:
        return ("accuracy",) if targets.task != "regression" else ("mae",)
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, Sequence) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"metrics must be a metric name or a list of names, got {metrics!r}")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: unknown metric {m!r}; expected some of {METRICS}")
        if m == "accuracy" and targets.task == "regression":
            raise ValueError("metrics: 'accuracy' needs classification or binary targets")
        if m in ("mae", "mse") and targets.loss == "sparse_categorical_crossentropy":
            raise ValueError(f"metrics: {m!r} needs dense targets, not integer class labels")
    return tuple(metrics)
