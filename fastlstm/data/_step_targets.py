"""Per-timestep targets (sequence tagging, many-to-many forecasting).

A model whose last LSTM returns sequences predicts at every step, so `y` has a time
axis: (n, T) labels or values, (n, T, k) rows, or a list of per-sequence arrays when
`x` is ragged (each must have its sequence's length). The task is inferred from the
valid steps only (masked steps may hold any filler), by `fastlstm.data._targets`' table
with every valid step as a row. Masked steps are left out of loss and metrics
(Keras's reduction: sum over valid steps / number of valid steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._arrays import (
    Dataset,
    Split,
    check_data_arguments,
    checked_metrics,
    checked_weights,
    from_pydataset,
    is_pydataset,
    sequence_items,
    split_last_rows,
    step_mask,
    to_sequences,
)
from fastlstm.data._targets import Targets, resolve_targets


def _padded_ragged_targets(y: object, name: str, lengths: np.ndarray, x_name: str) -> np.ndarray:
    """A list of per-sequence target arrays, post-padded; each must match its x sequence's length."""
    items = sequence_items(y, name)
    if len(items) != len(lengths):
        raise ValueError(f"{name} has {len(items)} sequences but {x_name} has {len(lengths)}")
    arrays = []
    for i, item in enumerate(items):
        a = np.asarray(item)
        if a.ndim == 0 or a.shape[0] != lengths[i]:
            got = a.shape[0] if a.ndim else 0
            raise ValueError(f"{name}[{i}] has {got} timesteps but {x_name}[{i}] has {lengths[i]}: expected the same")
        arrays.append(a)
    tail = {a.shape[1:] for a in arrays}
    if len(tail) != 1:
        raise ValueError(f"{name}: sequences have different target widths {sorted(tail)}")
    out = np.zeros((len(arrays), int(max(lengths)), *tail.pop()), np.result_type(*arrays))
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def step_targets(y: object, name: str, x: np.ndarray, ragged: np.ndarray | None, x_name: str = "x") -> np.ndarray:
    """y as (n, T) or (n, T, k), checked against x (n, T, features)."""
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    if ragged is not None and (isinstance(y, (list, tuple)) or (isinstance(y, np.ndarray) and y.dtype == object)):
        arr = _padded_ragged_targets(y, name, ragged.sum(axis=1), x_name)
    else:
        try:
            arr = np.asarray(y)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{name}: per-timestep targets must be an array (n, timesteps[, k]): {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric per-timestep targets, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3) or arr.shape[0] != x.shape[0] or arr.shape[1] != x.shape[1]:
        raise ValueError(
            f"{name} has shape {arr.shape}: the model returns sequences, so expected per-timestep targets "
            f"({x.shape[0]}, {x.shape[1]}) or ({x.shape[0]}, {x.shape[1]}, k) matching {x_name}"
        )
    if not np.all(np.isfinite(arr.astype(np.float64))):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def _valid_rows(y: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The targets of the valid steps as rows: (steps,) or (steps, k)."""
    return y[mask] if mask is not None else y.reshape((-1, *y.shape[2:]))


def _encode_steps(y: np.ndarray, mask: np.ndarray | None, targets: Targets) -> np.ndarray:
    """Labels (n, T) int32 or values (n, T, k) float32; masked steps hold 0 (never looked at)."""
    if targets.loss == "sparse_categorical_crossentropy":
        out = (y[..., 0] if y.ndim == 3 else y).astype(np.int32)
    else:
        out = y.astype(np.float32)
        out = out[..., None] if out.ndim == 2 else out
    if mask is not None:
        out = np.where(mask.reshape(mask.shape + (1,) * (out.ndim - 2)), out, 0).astype(out.dtype)
    return out


def prepare_step_data(
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
    class_weight: Mapping[int, float] | None = None,
    mask_zero: bool = False,
    layout: Any = None,
) -> Dataset:
    """`prepare_data` for a model with per-timestep outputs (same rules, y with a time axis)."""
    num_classes, output_dim, mask_value, validation_split = (
        to_python(v) for v in (num_classes, output_dim, mask_value, validation_split)
    )
    check_data_arguments(loss, num_classes, output_dim, mask_value, validation_split, sample_weight, class_weight)
    if class_weight is not None:
        raise ValueError("class_weight is not supported with per-timestep targets; pass sample_weight per sequence")
    if y is None and is_pydataset(x):
        x, y, sample_weight = from_pydataset(x)
    if y is None:
        raise ValueError("y is required (or pass a PyDataset-like x that yields (x, y) batches)")
    xa, ragged = to_sequences(x, "x", layout)
    ya = step_targets(y, "y", xa, ragged)
    wa = checked_weights(sample_weight, "sample_weight", xa.shape[0])
    train = (xa, ya, wa, step_mask(xa, ragged, mask_value, mask_zero))
    val = None
    if validation_data is not None:
        val = _step_validation_data(validation_data, xa.shape[2], mask_value, mask_zero, layout)
    elif validation_split > 0:
        train, val = split_last_rows(train, validation_split)
    parts = [("y", train)] + ([("validation_data y", val)] if val else [])
    targets = resolve_targets(
        [(name, _valid_rows(p[1], p[3])) for name, p in parts], task, loss, num_classes, output_dim
    )
    metrics = checked_metrics(metrics, targets)
    splits = [Split(p[0], _encode_steps(p[1], p[3], targets), p[2], p[3]) for _, p in parts]
    return Dataset(
        splits[0],
        splits[1] if val else None,
        targets.task,
        targets.loss,
        metrics,
        targets.out_dim,
        targets.num_classes,
        {**targets.as_dict(), "per_timestep": True},
    )


def _step_validation_data(
    validation_data: object, features: int, mask_value: Any, mask_zero: bool, layout: Any = None
) -> tuple:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
    xv, rv = to_sequences(validation_data[0], "validation_data x", layout)
    if xv.shape[2] != features:
        raise ValueError(f"validation_data x has {xv.shape[2]} features but x has {features}")
    yv = step_targets(validation_data[1], "validation_data y", xv, rv, "validation_data x")
    wv = checked_weights(
        validation_data[2] if len(validation_data) == 3 else None, "validation_data sample_weight", len(xv)
    )
    return xv, yv, wv, step_mask(xv, rv, mask_value, mask_zero)
