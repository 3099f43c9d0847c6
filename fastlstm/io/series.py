"""Forecasting samples cut from one time series in a CSV or Parquet file.

The file holds one series in time order, one row per time step, a header row and
numeric columns (the features). A column named `time_column` (for example a date) is
not a feature: it is dropped, and when its values are numbers or dates the reader
checks that they increase. Any other non-numeric column is an error.

With `window=W, horizon=H`, sample i is

    x[i] = all feature columns, rows i .. i+W-1          (W, features)
    y[i] = the `target` column, rows i+W .. i+W+H-1      (H,)

so the target's own past is an input. `validation_split=v` cuts the *series* at a time
point first — the last v of the rows, as Keras takes the last rows — and windows each
part on its own: no validation target lies in a training window and no training window
sees a validation row. Nothing is shuffled across time here (`fl.sweep(shuffle=True)`
shuffles training windows between epochs, which is harmless once the split is clean).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fastlstm.coerce import to_python
from fastlstm.io.loaded import DataFileError, DataFormat, LoadedData, count, sha256_of
from fastlstm.io.tabular import check_complete, numeric_columns, read_table


def read_series(
    source: Path,
    fmt: DataFormat,
    *,
    window: int,
    horizon: int,
    target: str | None,
    validation_split: float,
    time_column: str,
) -> LoadedData:
    """Read one series and cut it into (window -> horizon) samples; see the module docstring."""
    frame = read_table(source, fmt)
    found = [str(c) for c in frame.columns]
    check_complete(source, frame, found)
    if time_column in found:
        _check_time_order(source, frame[time_column], time_column)
    features = [c for c in found if c != time_column]
    if not features:
        raise DataFileError(source, f"no feature columns besides {time_column!r}")
    numeric_columns(source, frame, features, "feature")
    target = _target_column(source, features, target)
    values = frame[features].to_numpy(dtype=np.float32)
    targets = values[:, features.index(target)]
    rows = len(values)
    split_at = rows if validation_split == 0 else math.floor(rows * (1.0 - validation_split))
    x, y = _windows(source, values[:split_at], targets[:split_at], window, horizon, "the series")
    validation = None
    part = (
        f"1 series of {count(rows, 'step')} x {count(len(features), 'feature')} -> "
        f"{count(len(x), 'window')} of {count(window, 'step')}, horizon {horizon}"
    )
    if validation_split > 0:
        x_val, y_val = _windows(
            source,
            values[split_at:],
            targets[split_at:],
            window,
            horizon,
            f"the validation part (last {rows - split_at} rows)",
        )
        validation = (x_val, y_val)
        part += f"; validation: last {count(rows - split_at, 'step')} -> {count(len(x_val), 'window')}"
    description = f"{source.name}: {part}, target {target!r}"
    return LoadedData(x, y, validation, None, str(source), fmt, sha256_of([source]), description, None)


def _target_column(source: Path, features: list[str], target: str | None) -> str:
    if target is None:
        if len(features) == 1:
            return features[0]
        raise DataFileError(source, f"has several columns {features}; pass target= the one to forecast")
    if target not in features:
        raise DataFileError(source, f"target column {target!r} not found; columns are {features}")
    return target


def _check_time_order(source: Path, column: Any, name: str) -> None:
    """The time column must increase when it can be compared (numbers or dates)."""
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    values = column
    if not (is_numeric_dtype(column) or is_datetime64_any_dtype(column)):
        try:
            values = pd.to_datetime(column, format="ISO8601")
        except (ValueError, TypeError):
            return  # not comparable: the file's row order is the time order
    later = values.to_numpy()
    back = np.flatnonzero(later[1:] <= later[:-1])
    if back.size:
        raise DataFileError(
            source,
            f"{name!r} does not increase at data row {back[0] + 2} ({to_python(column.iloc[back[0]])!r} then "
            f"{to_python(column.iloc[back[0] + 1])!r}); the rows must be in time order",
        )


def _windows(
    source: Path, values: np.ndarray, targets: np.ndarray, window: int, horizon: int, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """x (n, window, features) and y (n, horizon), n = rows - window - horizon + 1."""
    rows = len(values)
    count = rows - window - horizon + 1
    if count < 1:
        raise DataFileError(
            source, f"window={window} + horizon={horizon} is longer than {part} ({rows} rows); no sample fits"
        )
    view = np.lib.stride_tricks.sliding_window_view
    x = view(values, window, axis=0)[:count].transpose(0, 2, 1)  # (n, features, W) -> (n, W, features)
    y = view(targets[window:], horizon)[:count]
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32)
