"""Data files in, `fl.sweep` arguments out: `read_data(path) -> LoadedData`.

One entry point for every format, picked from the suffix (or `format=`):

- `.npz` — keys `x`, `y`, and optionally `sample_weight`, `lengths`, `x_val`,
  `y_val`, `sample_weight_val`, `lengths_val`; the names people use instead
  (`X_train/y_train/X_test/y_test`, `X/y`, `data/labels`...) are read as those
  (`fastlstm.data._npz_keys`). Variable-length sequences are saved
  as a post-padded `x` plus `lengths` (n,): NumPy loads no object arrays without
  pickle, and fastlstm never unpickles a data file.
- a pair of `.npy` — `path` is x, `labels=` is y.
- `layout="channels_first"` reads the arrays of either as aeon's (samples, channels,
  length) and puts them steps first (see `fastlstm.data._input_checks`).
- `.csv` / `.parquet` in long format — one row per (sequence, time step); see
  `fastlstm.data._tabular`. With `window=` the file is instead one time series to cut
  into forecasting windows; see `fastlstm.data._series`.
- `.ts` — the UEA/UCR archive's format, read by aeon; see `fastlstm.data._ts_file`.
- `.arff` — the Weka files shipped beside every UCR `.ts`, read the same way.

Every problem with a file is a `DataFileError` (a ValueError) with one line naming the
file; a missing optional dependency is an ImportError naming the extra to install.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np

from fastlstm.data._input_checks import check_layout
from fastlstm.data._loaded import (
    FORMATS,
    DataFileError,
    DataFormat,
    LoadedData,
    describe_classes,
    describe_inputs,
    encode_labels,
    sha256_of,
    stack_if_equal,
)
from fastlstm.data._npz_keys import canonical_keys, renamed
from fastlstm.data._series import read_series
from fastlstm.data._tabular import frame_as_table, read_long_table
from fastlstm.data._ts_file import read_arff, read_ts

__all__ = ["FORMATS", "DataFileError", "DataFormat", "LoadedData", "read_data", "with_validation_file"]

SUFFIXES: dict[str, DataFormat] = {
    ".npz": "npz",
    ".npy": "npy",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",  # the UCR archive's files: tab-separated, no header, the label first
    ".tsv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ts": "ts",
    ".arff": "arff",
}
ARRAY_FORMATS = ("npz", "npy")  # the formats whose x has a layout to choose


class _Roles(TypedDict):
    """The column roles `read_data` passes on to the table readers."""

    time_column: str | None
    features: Sequence[str] | None
    drop_columns: Sequence[str] | None


class TableRoles(TypedDict, total=False):
    """`read_data`'s column-role keywords, as a caller collects them (a config file's `data` table)."""

    id_column: str | None
    time_column: str | None
    label_columns: str | tuple[str, ...] | list[str] | None
    features: tuple[str, ...] | list[str] | None
    drop_columns: tuple[str, ...] | list[str] | None


def read_data(
    path: str | os.PathLike[str],
    *,
    format: DataFormat | None = None,
    labels: str | os.PathLike[str] | None = None,
    window: int | None = None,
    horizon: int | None = None,
    target: str | None = None,
    validation_split: float = 0.0,
    id_column: str | None = None,
    time_column: str | None = None,
    label_columns: str | tuple[str, ...] | list[str] | None = None,
    features: tuple[str, ...] | list[str] | None = None,
    drop_columns: tuple[str, ...] | list[str] | None = None,
    layout: str | None = None,
) -> LoadedData:
    """Read a data file into `fl.sweep`'s arguments (see the module docstring).

    `window`/`horizon` turn a single-series CSV/Parquet into forecasting samples
    (x = `window` rows, y = the next `horizon` values of `target`); only then does
    `validation_split` apply here, chronologically, because overlapping windows split
    by rows (Keras's rule, which `fl.sweep` applies to everything else) would leak
    validation targets into training inputs.

    `path` may be a pandas DataFrame, read as the CSV `df.to_csv()` writes would be.
    `id_column`, `time_column`, `label_columns`, `features` and `drop_columns` say
    which column of a table is what; left None they are found by their usual names
    (`fastlstm.data._roles`), and the description says what was chosen. `layout` is the
    axis order of an .npz/.npy x ("channels_first": aeon's); x comes back steps first."""
    roles: _Roles = {"time_column": time_column, "features": features, "drop_columns": drop_columns}
    if is_dataframe(path):
        if labels is not None or format is not None:
            raise ValueError("labels/format: a DataFrame is read as a table; name its label column with label_columns=")
        return _read_dataframe(path, window, horizon, target, validation_split, id_column, label_columns, roles)
    source = _existing_file(path, "path")
    fmt = _resolve_format(source, format)
    _check_arguments(fmt, labels, window, horizon, target, validation_split)
    _check_layout(fmt, layout)
    if fmt == "npz":
        return _read_npz(source, layout)
    if fmt == "npy":
        return _read_npy_pair(source, _existing_file(labels, "labels"), layout)
    if fmt == "ts":
        return read_ts(source)
    if fmt == "arff":
        return read_arff(source)
    if window is not None:
        return read_series(
            source,
            fmt,
            window=window,
            horizon=1 if horizon is None else horizon,
            target=target,
            validation_split=validation_split,
            **roles,
        )
    return read_long_table(source, fmt, id_column=id_column, label_columns=label_columns, **roles)


def is_dataframe(value: object) -> bool:
    """A pandas DataFrame, without importing pandas when it was never imported."""
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)


def _read_dataframe(
    frame: Any,
    window: int | None,
    horizon: int | None,
    target: str | None,
    validation_split: float,
    id_column: str | None,
    label_columns: Any,
    roles: _Roles,
) -> LoadedData:
    """A DataFrame through the same table code as the CSV it would be saved as."""
    _check_arguments("csv", None, window, horizon, target, validation_split)
    table = frame_as_table(frame)
    name = Path("DataFrame")
    if window is not None:
        one = 1 if horizon is None else horizon
        return read_series(
            name,
            "csv",
            window=window,
            horizon=one,
            target=target,
            validation_split=validation_split,
            frame=table,
            **roles,
        )
    return read_long_table(name, "csv", id_column=id_column, label_columns=label_columns, frame=table, **roles)


def _existing_file(path: Any, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{name} must be a file path, got {type(path).__name__}")
    source = Path(path)
    if not source.exists():
        raise DataFileError(source, "no such file")
    if not source.is_file():
        raise DataFileError(source, "is not a file")
    return source


def _resolve_format(source: Path, format: str | None) -> DataFormat:
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"format: unknown {format!r}; expected one of {list(FORMATS)}")
        return cast(DataFormat, format)  # one of FORMATS (checked)
    name = source.name.lower()
    for suffix, fmt in sorted(SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return fmt
    raise DataFileError(
        source, f"cannot tell the format from the suffix; expected one of {list(SUFFIXES)} or pass format="
    )


def _check_arguments(
    fmt: DataFormat,
    labels: object,
    window: int | None,
    horizon: int | None,
    target: str | None,
    validation_split: float,
) -> None:
    """Arguments that only make sense for some formats, checked before any reading."""
    if fmt == "npy" and labels is None:
        raise ValueError(
            "labels: a .npy file holds x only; pass the .npy file that holds y as labels= (--labels FILE in the CLI)"
        )
    if fmt != "npy" and labels is not None:
        raise ValueError(f"labels: only a .npy x file takes a separate labels file, not a {fmt} file")
    for name, value in (("horizon", horizon), ("target", target)):
        if value is not None and window is None:
            raise ValueError(
                f"{name} (--{name}): only forecasting samples from one series use it; pass window= as well (--window N)"
            )
    if window is not None:
        if fmt not in ("csv", "parquet"):
            raise ValueError(
                f"window (--window): forecasting windows are cut from a single-series CSV or Parquet, not {fmt}"
            )
        for name, value in (("window", window), ("horizon", horizon)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")
    if validation_split > 0 and window is None:
        raise ValueError(
            "validation_split: read_data splits only a windowed series (by time); for sequence files "
            "pass validation_split to fl.sweep, which takes the last rows as Keras does"
        )


def _check_layout(fmt: DataFormat, layout: object) -> None:
    """`layout` is a known one, and "channels_first" only for arrays: a table or a .ts file
    says which values are steps itself (and .ts/.arff are read steps first already)."""
    check_layout(layout)
    if layout == "channels_first" and fmt not in ARRAY_FORMATS:
        raise ValueError(
            f"layout 'channels_first' (--layout) applies to .npz/.npy arrays; a {fmt} file is read "
            "(samples, timesteps, features) already"
        )


def _numpy_problem(err: Exception) -> str:
    """What a failed `np.load` means for the user, in their terms."""
    text = str(err)
    if "Object arrays" in text:
        return "holds an object array; save ragged data as x (post-padded) plus lengths in an .npz"
    if "pickled" in text:
        return "is not a NumPy file (loading it would need unpickling, which fastlstm never does)"
    return f"is not a readable NumPy file ({type(err).__name__}: {text})"


def _np_load(file: Path) -> Any:
    try:
        return np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataFileError(file, _numpy_problem(err)) from None


def _load_npz_arrays(source: Path) -> tuple[dict[str, np.ndarray], str]:
    """The archive's arrays under fastlstm's key names (`fastlstm.data._npz_keys`), and a note
    of the keys renamed ('' when none was)."""
    archive = _np_load(source)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataFileError(source, "is a single .npy array, not an .npz archive of named arrays")
    with archive:
        mapping = canonical_keys(source, archive.files)
        arrays = {}
        for key, given in mapping.items():
            try:
                arrays[key] = archive[given]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
                raise DataFileError(source, f"key {given!r} {_numpy_problem(err)}") from None
        return arrays, renamed(mapping)


def _read_npz(source: Path, layout: str | None = None) -> LoadedData:
    arrays, note = _load_npz_arrays(source)
    missing = [key for key in ("x", "y") if key not in arrays]
    if missing:
        raise DataFileError(source, f"missing keys {missing}; found {sorted(arrays)}{note}")
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataFileError(source, "x_val and y_val come together; found only one of them")
    for extra in ("sample_weight_val", "lengths_val"):
        if extra in arrays and "x_val" not in arrays:
            raise DataFileError(source, f"{extra} without x_val and y_val")
    x = _sequences(source, arrays["x"], arrays.get("lengths"), "x", layout)
    y, class_names = _targets(source, arrays["y"], "y", None)
    if "y_val" in arrays and (arrays["y_val"].dtype.kind in "US") != (class_names is not None):
        raise DataFileError(source, "y and y_val must both be strings (class names) or both numbers")
    validation = None
    if "x_val" in arrays:
        x_val = _sequences(source, arrays["x_val"], arrays.get("lengths_val"), "x_val", layout)
        y_val, _ = _targets(source, arrays["y_val"], "y_val", class_names)
        weight_val = arrays.get("sample_weight_val")
        validation = (x_val, y_val) if weight_val is None else (x_val, y_val, weight_val)
    description = f"{source.name}{note}: {describe_inputs(x)}{describe_classes(class_names)}"
    if validation is not None:
        description += f"; validation {describe_inputs(validation[0])}"
    return LoadedData(
        x, y, validation, arrays.get("sample_weight"), str(source), "npz", sha256_of([source]), description, class_names
    )


def _read_npy_pair(source: Path, labels: Path, layout: str | None = None) -> LoadedData:
    _require_npy(labels, "labels (--labels)")
    loaded = [_np_load(file) for file in (source, labels)]
    for file, array in zip((source, labels), loaded):
        if not isinstance(array, np.ndarray):
            raise DataFileError(file, "is an .npz archive, not one .npy array; pass an .npz alone as path")
    x = _sequences(source, loaded[0], None, "x", layout)
    y, class_names = _targets(labels, loaded[1], "y", None)
    description = f"{source.name} + {labels.name}: {describe_inputs(x)}{describe_classes(class_names)}"
    return LoadedData(x, y, None, None, str(source), "npy", sha256_of([source, labels]), description, class_names)


def _require_npy(file: Path, name: str) -> None:
    """Refuse a file that is not a .npy array (a CSV of labels, say) by what it is, before
    NumPy reads it as a pickle and says only that unpickling would be needed."""
    with open(file, "rb") as handle:
        if handle.read(6).startswith((b"\x93NUMPY", b"PK")):  # an .npz (a zip) is told apart by _np_load
            return
    kind = "".join(file.suffixes[-1:]).lower() or "suffix-less"
    raise DataFileError(file, f"{name} must be a .npy file (np.save(path, y)) like x, not a {kind} file")


def _sequences(source: Path, x: np.ndarray, lengths: np.ndarray | None, key: str, layout: str | None = None) -> Any:
    """x as float32 (n, t, f); with `lengths`, the list of unpadded sequences. A
    channels-first x (n, c, t) is put steps first before `lengths` cut its steps."""
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataFileError(source, f"{key} must be numeric, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise DataFileError(source, f"{key} must be (samples, timesteps[, features]), got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    if layout == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 2, 1))
    if lengths is None:
        return x
    name = "lengths" if key == "x" else "lengths_val"
    if lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
        raise DataFileError(
            source, f"{name} must be {x.shape[0]} integers (one per sequence), got {lengths.dtype} {lengths.shape}"
        )
    bad = np.flatnonzero((lengths < 1) | (lengths > x.shape[1]))
    if bad.size:
        raise DataFileError(
            source, f"{name}[{bad[0]}] = {lengths[bad[0]]} is outside 1..{x.shape[1]} (the padded length)"
        )
    return stack_if_equal([x[i, : int(n)] for i, n in enumerate(lengths)])


def _targets(source: Path, y: np.ndarray, key: str, class_names: tuple[str, ...] | None) -> tuple[np.ndarray, Any]:
    """Numeric targets as they are; string labels encoded by sorted class name."""
    if y.dtype.kind in "US":
        if y.ndim == 2 and y.shape[1] == 1:  # a one-column frame's to_numpy(): one label per row
            y = y[:, 0]
        if y.ndim != 1:
            raise DataFileError(source, f"{key}: string labels must be 1-D, got shape {y.shape}")
        try:
            return encode_labels(y.tolist(), class_names)
        except ValueError as err:
            raise DataFileError(source, f"{key}: {err}") from None
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataFileError(source, f"{key} must be numbers or strings, got dtype {y.dtype}")
    return y, class_names


def with_validation_file(
    train: LoadedData,
    path: str | os.PathLike[str],
    *,
    format: DataFormat | None = None,
    validation_labels: str | os.PathLike[str] | None = None,
    **options: Any,
) -> LoadedData:
    """`train` with a second file (a UCR/UEA problem's TEST file, say) as its `validation_data`.

    The file is read as `read_data(path, format=format, **options)` reads it; a .npy x
    takes its labels' .npy as `validation_labels` (--validation-labels). String
    class labels are coded by the training file's class list: each file alone would code
    its own sorted names, and a validation file that lacks a class would shift the codes."""
    if train.validation_data is not None:
        raise ValueError(
            f"validation file (--validation-data): {train.path} holds validation data already (x_val/y_val)"
        )
    source = _existing_file(path, "validation file (--validation-data)")
    fmt = _resolve_format(source, format)
    if (fmt == "npy") != (validation_labels is not None):
        raise ValueError(
            "validation labels (--validation-labels): a .npy validation x takes its labels' .npy file, "
            f"{'and none was given' if fmt == 'npy' else f'a {fmt} file has its labels inside'}"
        )
    labels = None if validation_labels is None else _existing_file(validation_labels, "validation labels")
    val = read_data(source, format=fmt, labels=labels, **options)
    if val.validation_data is not None:
        raise DataFileError(source, "holds validation data itself (x_val/y_val); as a validation file it needs x and y")
    y_val = _codes_of(train, val)
    description = f"{train.description}; validation {val.description}"
    if "npy" in (train.format, val.format):  # x and labels were hashed together; the labels' path is not kept
        sha = hashlib.sha256(f"{train.sha256}{val.sha256}".encode()).hexdigest()
    else:
        sha = sha256_of([Path(train.path), source])
    validation = (val.x, y_val) if val.sample_weight is None else (val.x, y_val, val.sample_weight)
    return dataclasses.replace(train, validation_data=validation, description=description, sha256=sha)


def _codes_of(train: LoadedData, val: LoadedData) -> np.ndarray:
    """The validation labels in the training file's class codes."""
    if (train.class_names is None) != (val.class_names is None):
        raise DataFileError(
            val.path,
            "labels must be class names in both files or numbers in both (training file: "
            f"{'names' if train.class_names else 'numbers'})",
        )
    if train.class_names is None or val.class_names == train.class_names:
        return val.y
    val_names = cast("tuple[str, ...]", val.class_names)  # names in both files (checked above)
    names = [val_names[int(code)] for code in np.asarray(val.y).ravel()]
    try:
        return encode_labels(names, train.class_names)[0]
    except ValueError as err:
        raise DataFileError(val.path, f"{err} (the training file's classes)") from None
