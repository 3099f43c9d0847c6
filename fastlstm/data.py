"""Keras-style data in, validated numpy arrays out.

Everything a user can get wrong about the data is caught here, before any compile,
with an error that names the argument: shapes, lengths, NaN/inf, labels, weights,
the validation split. The rules are `keras.Model.fit`'s: `validation_split` takes
the last rows before any shuffling (floor of the split point), `validation_data`
overrides it, `class_weight` and `sample_weight` are exclusive, and variable-length
sequences are post-padded with a mask (as Keras's `pad_sequences` + `Masking`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastlstm.losses import LOSSES, METRICS, canonical_loss

LABEL_LOSSES = ("sparse_categorical_crossentropy",)
ONEHOT_LOSSES = ("categorical_crossentropy",)


@dataclasses.dataclass
class Split:
    """One part of the data (train or validation) as host arrays."""

    x: np.ndarray  # (n, timesteps, features) float32
    y: np.ndarray  # (n,) int32 labels, or (n, k) float32
    weight: np.ndarray  # (n,) float32 sample weights (ones when none were given)
    mask: np.ndarray | None  # (n, timesteps) bool, None when every step is real

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclasses.dataclass
class Dataset:
    """Validated data plus what it says about the task."""

    train: Split
    val: Split | None
    task: str  # classification | binary | regression
    loss: str
    metrics: tuple[str, ...]
    out_dim: int
    num_classes: int | None

    @property
    def timesteps(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def features(self) -> int:
        return int(self.train.x.shape[2])


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


def _to_sequences(x: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """x as a float32 (n, timesteps, features) array and a padding mask (or None)."""
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (ValueError, TypeError):
        arr = None
    mask = None
    if arr is None or arr.dtype == object:
        arr, mask = _pad_ragged(x, name)
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
        raise ValueError(
            f"{name} contains NaN or inf values (first at index {tuple(np.argwhere(~np.isfinite(arr))[0])})"
        )
    return arr, mask


def _pad_ragged(x: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Post-pad a list of (timesteps_i, features) sequences; mask the padding."""
    if not isinstance(x, Sequence) or len(x) == 0:
        raise ValueError(f"{name} must be an array of shape (samples, timesteps, features) or a list of sequences")
    seqs = []
    for i, s in enumerate(x):
        try:
            a = np.asarray(s, dtype=np.float32)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{name}[{i}] is not a numeric array: {err}") from None
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(f"{name}[{i}] must be (timesteps,) or (timesteps, features), got shape {a.shape}")
        seqs.append(a)
    widths = {a.shape[1] for a in seqs}
    if len(widths) != 1:
        raise ValueError(f"{name}: sequences have different feature counts {sorted(widths)}")
    t_max = max(a.shape[0] for a in seqs)
    out = np.zeros((len(seqs), t_max, widths.pop()), np.float32)
    mask = np.zeros((len(seqs), t_max), bool)
    for i, a in enumerate(seqs):
        out[i, : a.shape[0]] = a
        mask[i, : a.shape[0]] = True
    return out, mask


def _infer_task(y: np.ndarray, task: str, loss: str | None) -> str:
    if loss is not None:
        loss = canonical_loss(loss)
        if loss in LABEL_LOSSES or loss in ONEHOT_LOSSES:
            return "classification"
        return "binary" if loss == "binary_crossentropy" else "regression"
    if task != "auto":
        return task
    if y.ndim == 2 and y.shape[1] > 1:
        onehot = np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)
        return "classification" if onehot else "regression"
    flat = y.reshape(-1)
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return "binary" if flat.size and flat.min() >= 0 and flat.max() <= 1 else "classification"
    return "binary" if np.all((flat == 0) | (flat == 1)) else "regression"


def _as_targets(y: Any, name: str, n: int) -> np.ndarray:
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    try:
        arr = np.asarray(y)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} must be an array of labels or targets: {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0] if arr.ndim else 0} rows but x has {n}: expected the same number of samples"
        )
    if arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples, outputs), got shape {arr.shape}")
    if not np.all(np.isfinite(arr.astype(np.float64))):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def _weights(sample_weight: Any, name: str, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, np.float32)
    w = np.asarray(sample_weight, dtype=np.float32).reshape(-1) if np.ndim(sample_weight) <= 1 else None
    if w is None or w.shape[0] != n:
        raise ValueError(
            f"{name} must be a 1-D array with one weight per sample ({n}), got shape {np.shape(sample_weight)}"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return w


@dataclasses.dataclass(frozen=True)
class _Targets:
    task: str
    loss: str
    num_classes: int | None
    out_dim: int


def _resolve_targets(
    ys: list[tuple[str, np.ndarray]], task: str, loss: str | None, num_classes: int | None, output_dim: int | None
) -> _Targets:
    """Decide task, loss and output width from all targets (train and validation)."""
    _, y0 = ys[0]
    task = _infer_task(y0, task, loss)
    if task == "classification":
        onehot = y0.ndim == 2 and y0.shape[1] > 1
        if loss is None:
            loss = ONEHOT_LOSSES[0] if onehot else LABEL_LOSSES[0]
        if canonical_loss(loss) in ONEHOT_LOSSES:
            width = y0.shape[1] if y0.ndim == 2 else num_classes
            for name, y in ys:
                if y.ndim != 2 or y.shape[1] != width:
                    raise ValueError(
                        f"{name}: categorical_crossentropy expects one-hot rows of width {width}, got shape {y.shape}"
                    )
            return _Targets(task, "categorical_crossentropy", int(width), int(width))
        top = -1
        for name, y in ys:
            flat = y.reshape(-1) if (y.ndim == 1 or y.shape[1] == 1) else None
            if flat is None:
                raise ValueError(
                    f"{name}: integer class labels must be 1-D, got shape {y.shape} (one-hot rows need loss='categorical_crossentropy')"
                )
            if np.any(flat < 0):
                raise ValueError(f"{name}: class labels must be >= 0, got {flat.min()}")
            if np.any(flat != np.round(flat)):
                raise ValueError(f"{name}: class labels must be integers for classification")
            top = max(top, int(flat.max()))
        classes = num_classes if num_classes is not None else max(top + 1, 2)
        if top >= classes:
            raise ValueError(f"y: label {top} is >= num_classes={classes}; labels must be in [0, num_classes)")
        return _Targets(task, "sparse_categorical_crossentropy", int(classes), int(classes))
    if task == "binary":
        for name, y in ys:
            if np.any(y < 0) or np.any(y > 1):
                raise ValueError(f"{name}: binary targets must be in [0, 1]")
        width = 1 if y0.ndim == 1 else y0.shape[1]
        return _Targets(task, canonical_loss(loss or "binary_crossentropy"), None, int(width))
    width = 1 if y0.ndim == 1 else y0.shape[1]
    if output_dim is not None and output_dim != width:
        raise ValueError(f"y has {width} output columns but model.output_dim={output_dim}")
    return _Targets(task, canonical_loss(loss or "mse"), None, int(width))


def _encode(y: np.ndarray, targets: _Targets) -> np.ndarray:
    if targets.loss in LABEL_LOSSES:
        return y.reshape(-1).astype(np.int32)
    y = y.astype(np.float32)
    return y[:, None] if y.ndim == 1 else y


def _class_weights(class_weight: Mapping[int, float], y: np.ndarray, targets: _Targets) -> np.ndarray:
    """Per-sample weights from Keras's `class_weight` (one-hot rows use argmax)."""
    if targets.task == "regression":
        raise ValueError("class_weight only applies to classification or binary targets")
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.round(y.reshape(-1)).astype(int)
    missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in class_weight})
    if missing:
        raise ValueError(f"class_weight has no weight for classes {missing}; expected a weight for every class in y")
    table = {int(k): float(v) for k, v in class_weight.items()}
    if any(not math.isfinite(v) or v < 0 for v in table.values()):
        raise ValueError("class_weight values must be finite and >= 0")
    return np.asarray([table[int(c)] for c in labels], np.float32)


def _masked(x: np.ndarray, ragged: np.ndarray | None, mask_value: float | None) -> np.ndarray | None:
    mask = ragged
    if mask_value is not None:
        real = np.any(x != np.float32(mask_value), axis=-1)
        mask = real if mask is None else (mask & real)
    return None if mask is None or mask.all() else mask


def prepare_inputs(x: Any, mask_value: float | None = None, name: str = "x") -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs alone (for predict): float32 (n, timesteps, features) and a mask or None."""
    arr, ragged = _to_sequences(x, name)
    return arr, _masked(arr, ragged, mask_value)


def prepare_data(
    x: Any,
    y: Any,
    *,
    task: str = "auto",
    loss: str | None = None,
    metrics: Sequence[str] | None = None,
    num_classes: int | None = None,
    output_dim: int | None = None,
    mask_value: float | None = None,
    validation_split: float = 0.0,
    validation_data: Any = None,
    sample_weight: Any = None,
    class_weight: Mapping[int, float] | None = None,
) -> Dataset:
    """Validate and convert Keras-style `fit` arguments into a `Dataset`."""
    if loss is not None and canonical_loss(loss) not in {canonical_loss(k) for k in LOSSES}:
        raise ValueError(f"loss: unknown {loss!r}; expected one of {sorted(LOSSES)}")
    if class_weight is not None and sample_weight is not None:
        raise ValueError("class_weight and sample_weight cannot be used together; pass one of them")
    if y is None and _is_pydataset(x):
        x, y, sample_weight = _from_pydataset(x)
    if y is None:
        raise ValueError("y is required (or pass a PyDataset-like x that yields (x, y) batches)")
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")

    xa, ragged = _to_sequences(x, "x")
    ya = _as_targets(y, "y", xa.shape[0])
    wa = _weights(sample_weight, "sample_weight", xa.shape[0])

    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
        xv, rv = _to_sequences(validation_data[0], "validation_data x")
        yv = _as_targets(validation_data[1], "validation_data y", xv.shape[0])
        wv = _weights(
            validation_data[2] if len(validation_data) == 3 else None, "validation_data sample_weight", xv.shape[0]
        )
        if xv.shape[2] != xa.shape[2]:
            raise ValueError(f"validation_data x has {xv.shape[2]} features but x has {xa.shape[2]}")
        if xv.shape[1] != xa.shape[1]:
            xv, rv = _match_timesteps(xv, rv, xa.shape[1])
        val = (xv, yv, wv, rv)
    elif validation_split > 0:
        n = xa.shape[0]
        split_at = math.floor(n * (1.0 - validation_split))
        if split_at == 0 or split_at == n:
            raise ValueError(
                f"validation_split={validation_split} leaves an empty training or validation set with {n} samples"
            )

        def cut(a):
            return a[:split_at], a[split_at:]

        (xa, xv), (ya, yv), (wa, wv) = cut(xa), cut(ya), cut(wa)
        (ragged, rv) = cut(ragged) if ragged is not None else (None, None)
        val = (xv, yv, wv, rv)

    ys = [("y", ya)] + ([("validation_data y" if validation_data is not None else "y", val[1])] if val else [])
    targets = _resolve_targets(ys, task, loss, num_classes, output_dim)
    if class_weight is not None:
        wa = _class_weights(class_weight, ya, targets)

    if metrics is None:
        metrics = ("accuracy",) if targets.task != "regression" else ("mae",)
    metrics = tuple(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: unknown metric {m!r}; expected some of {METRICS}")
        if m == "accuracy" and targets.task == "regression":
            raise ValueError("metrics: 'accuracy' needs classification or binary targets")
        if m in ("mae", "mse") and targets.loss in LABEL_LOSSES:
            raise ValueError(f"metrics: {m!r} needs dense targets, not integer class labels")

    train = Split(xa, _encode(ya, targets), wa, _masked(xa, ragged, mask_value))
    val_split = None
    if val is not None:
        xv, yv, wv, rv = val
        val_split = Split(xv, _encode(yv, targets), wv, _masked(xv, rv, mask_value))
    return Dataset(train, val_split, targets.task, targets.loss, metrics, targets.out_dim, targets.num_classes)


def _match_timesteps(x: np.ndarray, mask: np.ndarray | None, timesteps: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad or reject validation sequences so they have the training length."""
    if x.shape[1] > timesteps:
        raise ValueError(f"validation_data x has {x.shape[1]} timesteps, more than x's {timesteps}")
    out = np.zeros((x.shape[0], timesteps, x.shape[2]), np.float32)
    out[:, : x.shape[1]] = x
    new_mask = np.zeros((x.shape[0], timesteps), bool)
    new_mask[:, : x.shape[1]] = True if mask is None else mask
    return out, new_mask
