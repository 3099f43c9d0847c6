"""Forecasting samples cut from one time series in a CSV, Parquet file or DataFrame.

The file holds one series in time order, one row per time step, a header row and
numeric columns (the features). Columns that say when a row is — `time_column`, and
any column named as a part of a calendar (year, quarter, month, day, date, timestamp,
YEAR ...: `fastlstm.data._roles.CALENDAR_NAMES`) — are the time, not inputs: they are
dropped, and when their values can be ordered (numbers, dates) the reader checks that
the rows increase (year then quarter, when there are several). `drop_columns` drops
others; `features` keeps only those as inputs. Any other non-numeric column is an error.

The target is `target`, else the one feature, else the one column named as a target
(`target`, `y`, ...); otherwise `--target` must name it. The description names the
time, the features and the target.

With `window=W, horizon=H`, sample i is

    x[i] = all feature columns, rows i .. i+W-1          (W, features)
    y[i] = the `target` column, rows i+W .. i+W+H-1      (H,)

so the target's own past is an input (unless `features` leaves it out). `validation_split=v`
cuts the *series* at a time point first — the last v of the rows, as Keras takes the last
rows — and windows each part on its own: no validation target lies in a training window
and no training window sees a validation row. Nothing is shuffled across time here
(`fl.sweep(shuffle=True)` shuffles training windows between epochs, which is harmless once
the split is clean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._loaded import DataFileError, DataFormat, LoadedData, count, sha256_of
from fastlstm.data._roles import (
    calendar_columns,
    check_kept_or_dropped,
    check_named,
    label_like,
    show_names,
    time_keys,
)
from fastlstm.data._tabular import check_complete, frame_sha256, numeric_columns, read_table


def read_series(
    source: Path,
    fmt: DataFormat,
    *,
    window: int,
    horizon: int,
    target: str | None,
    validation_split: float,
    time_column: str | None = None,
    features: Sequence[str] | None = None,
    drop_columns: Sequence[str] | None = None,
    frame: Any = None,
) -> LoadedData:
    """Read one series and cut it into (window -> horizon) samples; see the module docstring.

    `frame` is the table already in hand (a DataFrame through `frame_as_table`)."""
    sha = sha256_of([source]) if frame is None else frame_sha256(frame)
    frame = read_table(source, fmt) if frame is None else frame
    found = [str(c) for c in frame.columns]
    times, inputs = _series_roles(source, found, time_column, features, drop_columns)
    target = _target_column(source, inputs, [c for c in found if c not in times], target)
    check_complete(source, frame, [*times, *inputs, target])
    numeric_columns(source, frame, list(dict.fromkeys([*inputs, target])), "feature")
    order = _check_time_order(source, frame, times)
    values = frame[inputs].to_numpy(dtype=np.float32)
    targets = frame[target].to_numpy(dtype=np.float32)
    rows = len(values)
    split_at = rows if validation_split == 0 else math.floor(rows * (1.0 - validation_split))
    x, y = _windows(source, values[:split_at], targets[:split_at], window, horizon, "the series")
    validation = None
    part = (
        f"1 series of {count(rows, 'step')} x {count(len(inputs), 'feature')} -> "
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
    time = f"time={', '.join(times)} ({order})" if times else "time=file order"
    description = f"{source.name}: {part}, target {target!r}; roles: {time}, features {show_names(inputs)}"
    forecast = {"target": target, "window": window, "horizon": horizon, "series": targets, "split_at": split_at}
    names = tuple(str(c) for c in inputs)
    return LoadedData(x, y, validation, None, str(source), fmt, sha, description, None, forecast, names)


def _series_roles(
    source: Path,
    found: list[str],
    time_column: str | None,
    features: Sequence[str] | None,
    drop_columns: Sequence[str] | None,
) -> tuple[list[str], list[str]]:
    """(time columns, input columns): the named time column and every calendar-named one
    are the time; the inputs are `features`, else every other column not dropped."""
    check_named(source, found, [time_column] if time_column else None, "--time-column")
    check_named(source, found, features, "--features")
    check_named(source, found, drop_columns, "--drop-columns")
    check_kept_or_dropped(source, features, drop_columns)
    dropped = set(drop_columns or ())
    chosen = set(features or ())
    times = [c for c in found if c == time_column or (c in calendar_columns(found) and c not in chosen)]
    times = [c for c in times if c not in dropped]
    inputs = list(features) if features else [c for c in found if c not in times and c not in dropped]
    if not inputs:
        raise DataFileError(source, f"no feature columns besides the time columns {show_names(times)}")
    return times, inputs


def _target_column(source: Path, inputs: list[str], columns: list[str], target: str | None) -> str:
    """The column to forecast: named, else the only input, else the only target-named column."""
    if target is not None:
        if target not in columns:
            raise DataFileError(source, f"--target {target!r} is not a column; the columns are {show_names(columns)}")
        return target
    if len(inputs) == 1:
        return inputs[0]
    named = label_like(inputs)
    if len(named) == 1:
        return named[0]
    raise DataFileError(
        source,
        f"has several columns ({show_names(inputs)}); pass --target NAME, the one to forecast (target= in Python)",
    )


def _check_time_order(source: Path, frame: Any, times: list[str]) -> str:
    """The rows must increase in time (year, then quarter ...) where the time columns can be
    ordered; says what the time was read as ('numbers', 'dates', 'file order')."""
    keys, kinds = [], []
    for name in times:
        try:
            values, kind = time_keys(source, frame[name], name)
        except DataFileError:
            continue  # not orderable (month names): the file's row order is the time order
        keys.append(values)
        kinds.append(kind)
    if not keys:
        return "file order"
    increases = np.zeros(len(frame) - 1, dtype=bool)
    for values in reversed(keys):  # compare the first column that differs between neighbours
        increases = np.where(values[1:] != values[:-1], values[1:] > values[:-1], increases)
    back = np.flatnonzero(~increases)
    if back.size:
        row = frame.iloc[back[0] : back[0] + 2][times].to_dict("records")
        raise DataFileError(
            source,
            f"{', '.join(map(repr, times))} does not increase at data row {back[0] + 2} "
            f"({_show_row(row[0])} then {_show_row(row[1])}); the rows must be in time order",
        )
    return ", ".join(dict.fromkeys(kinds))


def _show_row(values: dict[str, Any]) -> str:
    shown = [repr(to_python(v)) for v in values.values()]
    return shown[0] if len(shown) == 1 else f"({', '.join(shown)})"


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
