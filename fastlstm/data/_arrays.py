"""Arrays in, checked: the containers (Split, Dataset) and the checks every way of preparing
data shares (in memory, per-timestep targets, streamed): sequences, padding, weights, masks, splits."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from fastlstm._common.coerce import checked_int, to_python
from fastlstm.data._input_checks import Layout, apply_layout
from fastlstm.data._labels import is_text
from fastlstm.data._preprocessing import check_standardize
from fastlstm.data._splits import check_validation_split, validation_count
from fastlstm.data._targets import MAX_OUTPUTS, Targets
from fastlstm.engine._losses import LOSSES, METRICS, canonical_loss

FLOAT32_MAX = float(np.finfo(np.float32).max)  # weights are float32 on the device


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


def is_pydataset(x: object) -> bool:
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")


def from_pydataset(ds: Any) -> tuple[Any, Any, Any]:
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


def to_sequences(x: object, name: str, layout: Layout | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """x as a float32 (n, timesteps, features) array and a padding mask (or None).

    `layout="channels_first"` reads (n, channels, length) arrays and sequences (aeon's);
    with no layout a shape that is likely channels first is refused (fastlstm.data._input_checks)."""
    if x is None:
        raise ValueError(f"{name} is required: expected an array of shape (samples, timesteps, features)")
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    arr = float32_or_none(x, name)
    mask = None
    if arr is None:
        arr, mask = pad_ragged(x, name, layout)
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


def float32_or_none(x: object, name: str) -> np.ndarray | None:
    """`x` as a float32 array, or None when it is not one rectangular array (ragged
    sequences, objects: `pad_ragged` decides). Text and complex numbers are refused rather
    than parsed or cut to their real part, as `np.asarray(x, np.float32)` would."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # NumPy 2: ragged nested lists
        return None
    if arr.dtype == object:
        return None
    return as_float32(arr, name)


def as_float32(arr: np.ndarray, name: str) -> np.ndarray:
    """A numeric array as float32 (beyond float32's range becomes inf, which callers refuse)."""
    check_real_dtype(arr.dtype, name)
    with np.errstate(over="ignore", invalid="ignore"):
        return arr.astype(np.float32, copy=False)


def check_real_dtype(dtype: np.dtype, name: str) -> None:
    """Refuse text, complex, datetime and other non-numbers, naming `name`."""
    if dtype.kind not in "biuf":
        what = {"U": "text", "S": "bytes", "c": "complex numbers", "O": "Python objects"}.get(dtype.kind, "not numbers")
        raise ValueError(f"{name} must hold real numbers, got dtype {dtype} ({what})")


def sequence_items(x: object, name: str) -> list[Any]:
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


def pad_ragged(x: object, name: str, layout: Layout | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Post-pad a collection of (timesteps_i, features) sequences - (channels, length_i)
    ones with layout="channels_first" - and mask the padding."""
    items = sequence_items(x, name)
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
        a = as_float32(a, f"{name}[{i}]")
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


def checked_weights(sample_weight: object, name: str, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, np.float32)
    try:
        given = np.asarray(sample_weight)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be a 1-D array with one weight per sample ({n}): {err}") from None
    if given.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold one number per sample ({n}), got dtype {given.dtype}")
    w = as_float32(given, name).reshape(-1) if given.ndim <= 1 else None
    if w is None or w.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one weight per sample ({n}), got shape {given.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return w


def is_balanced(class_weight: object) -> bool:
    return isinstance(class_weight, str) and class_weight == "balanced"


def step_mask(
    x: np.ndarray, ragged: np.ndarray | None, mask_value: float | None, mask_zero: bool = False
) -> np.ndarray | None:
    mask = ragged
    if mask_zero:  # Embedding(mask_zero=True): token id 0 is padding
        mask = x[..., 0] != 0 if mask is None else (mask & (x[..., 0] != 0))
    if mask_value is not None:
        real = np.any(x != np.float32(mask_value), axis=-1)
        mask = real if mask is None else (mask & real)
    return None if mask is None or mask.all() else mask


def check_data_arguments(
    loss: Any,
    num_classes: object,
    output_dim: object,
    mask_value: object,
    validation_split: object,
    sample_weight: object,
    class_weight: object,
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
    if class_weight is not None and not isinstance(class_weight, Mapping) and not is_balanced(class_weight):
        raise ValueError(
            f"class_weight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}"
            if isinstance(class_weight, str)
            else f"class_weight must be a dict {{class: weight}} or 'balanced', got {type(class_weight).__name__}"
        )
    check_validation_split(validation_split)


Part = tuple[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]  # x, y, weight, ragged mask


def split_last_rows(train: Part, validation_split: float) -> tuple[Part, Part]:
    """Keras's `validation_split`: the last rows, before any shuffling (as many as every mode holds out)."""
    n = train[0].shape[0]
    split_at = n - validation_count(n, validation_split)
    head = cast(Part, tuple(None if a is None else a[:split_at] for a in train))
    tail = cast(Part, tuple(None if a is None else a[split_at:] for a in train))
    return head, tail


def checked_metrics(metrics: str | Sequence[str] | None, targets: Targets) -> tuple[str, ...]:
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


def as_targets(y: object, name: str, n: int) -> np.ndarray:
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
    if not text and not np.all(np.isfinite(as_float32(arr, name))):  # float32 is what trains
        raise ValueError(f"{name} contains NaN or inf values{BEYOND_FLOAT32}")
    return arr


def encode_targets(y: np.ndarray, targets: Targets) -> np.ndarray:
    if targets.loss == "sparse_categorical_crossentropy":
        return y.reshape(-1).astype(np.int32)
    y = y.astype(np.float32)
    return y[:, None] if y.ndim == 1 else y


def class_weights(
    class_weight: Mapping[int, float] | str, y: np.ndarray, targets: Targets
) -> tuple[np.ndarray, dict[int, float]]:
    """Per-sample weights from Keras's `class_weight` (one-hot rows use argmax), and the table.

    "balanced" is scikit-learn's n_samples / (n_classes * count) over these (training) rows.
    """
    if targets.task == "regression":
        raise ValueError("class_weight only applies to classification or binary targets")
    multi_label = targets.task == "binary" and y.ndim == 2 and y.shape[1] > 1
    if is_balanced(class_weight) and multi_label:
        raise ValueError(
            f"class_weight='balanced' needs one class per sample, but y is multi-label ({y.shape[1]} binary outputs)"
        )
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.round(y.reshape(-1)).astype(int)
    table = (
        balanced_class_weights(labels)
        if is_balanced(class_weight)
        else class_weight_table(cast("Mapping[int, float]", class_weight))  # a table unless 'balanced'
    )
    missing = sorted(set(np.unique(labels).tolist()) - set(table))
    if missing:
        raise ValueError(f"class_weight has no weight for classes {missing}; expected a weight for every class in y")
    return np.asarray([table[int(c)] for c in labels], np.float32), table


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's `compute_class_weight("balanced")` over the classes present in `labels`:
    n_samples / (n_classes * count_c), so every class carries the same total weight."""
    classes, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    n = counts.sum()
    return {int(c): float(n / (len(classes) * k)) for c, k in zip(classes, counts)}


def class_weight_table(class_weight: Mapping[Any, Any]) -> dict[int, float]:
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


def check_options(
    standardize: str | Mapping[str, Any] | None,
    class_weight_grid: bool,
    class_weight: object,
    sample_weight: object,
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


def validation_part(validation_data: object, features: int, layout: Layout | None = None) -> Part:
    """Keras's `validation_data`: (x, y) or (x, y, sample_weight).

    Its sequences need not have the training length (shorter or longer): validation
    is a separate evaluation program, so only the feature count must match.
    """
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
    xv, rv = to_sequences(validation_data[0], "validation_data x", layout)
    yv = as_targets(validation_data[1], "validation_data y", xv.shape[0])
    wv = checked_weights(
        validation_data[2] if len(validation_data) == 3 else None, "validation_data sample_weight", len(xv)
    )
    if xv.shape[2] != features:
        raise ValueError(f"validation_data x has {xv.shape[2]} features but x has {features}")
    return xv, yv, wv, rv
