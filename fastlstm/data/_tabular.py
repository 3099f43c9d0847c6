"""Sequences from a table in long format (CSV, Parquet or a pandas DataFrame): one row per time step.

The layout, with usual column names (`fastlstm.data._roles` lists the names recognised,
case-insensitively; `--id-column`, `--time-column`, `--label-column`, `--features`
and `--drop-columns`, or the same keywords in Python, say it when the names differ):

    sequence_id,time,temperature,pressure,label
    a,0,20.1,1.01,ok
    a,1,20.3,1.02,ok
    b,0,19.7,0.99,fault

- the id names the sequence; sequences keep the order in which their ids first appear
  (so `fl.sweep(validation_split=...)` takes the file's last sequences, as Keras would).
- the time orders the rows within a sequence by meaning (numbers, dates, "t2" before
  "t10"); the file's row order does not matter, a repeated step is an error. Without a
  time column the rows of each id are in file order.
- every other column is a feature and must be numeric.
- the label is constant within a sequence (the first id where it changes is an error).
  Numeric labels are kept as they are; string labels become 0..k-1 by sorted class
  name (numerically when they are all numbers) and the names are kept. Several label
  columns give y of shape (n, k) and must be numeric.

The chosen roles are part of the description (the CLI's header line). Sequences of
different lengths come back as a list of (t_i, features) arrays, which `fl.sweep`
post-pads and masks.

A table with a label column and no time column, whose id column (if any) has one value
per row, is read in wide format instead, as spreadsheets and the UCR archive's CSVs hold
univariate series: one row per sequence, the label column (first, last or anywhere) and
one numeric column per time step; the id (or a first column of row numbers) is dropped.
Empty cells at the end of a row make that sequence shorter.

A `.tsv` without a header row is the UCR archive's layout (the label first, then the
values, NaN-padded when lengths differ) and is read as a wide table.

A CSV whose header is separated by semicolons and has no comma (a European export) is
read with `;` between fields and `,` as the decimal mark.

A DataFrame goes through the same code as the CSV `df.to_csv()` writes: a named index
becomes a column, an unnamed one is dropped, column names are text.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data._loaded import (
    DataFileError,
    DataFormat,
    LoadedData,
    describe_classes,
    describe_inputs,
    encode_labels,
    require,
    sha256_of,
    stack_if_equal,
)
from fastlstm.data._roles import ColumnRoles, assign_roles, is_row_number, show_names, time_keys

# The first column's name when a DataFrame was saved with its index (pandas' to_csv default,
# to_parquet of a non-default index): row numbers, never a feature.
SAVED_INDEX_NAMES = ("Unnamed: 0", "__index_level_0__")
# Working columns added while grouping a long table (names no export uses).
SEQUENCE, TIME = "__fastlstm_sequence__", "__fastlstm_time__"


def read_table(source: Path, fmt: DataFormat) -> Any:
    """The file as a pandas DataFrame; a malformed file is a DataFileError."""
    frame = _read_frame(source, fmt)
    if len(frame.columns) and str(frame.columns[0]) in SAVED_INDEX_NAMES:
        frame = frame.drop(columns=frame.columns[0])  # df.to_csv() wrote its index: not a feature
    if len(frame) == 0:
        raise DataFileError(source, f"has column names {[str(c) for c in frame.columns]} but no data rows")
    return frame


def _read_frame(source: Path, fmt: DataFormat) -> Any:
    pd = require("pandas")
    try:
        if fmt == "parquet":
            require("pyarrow")
            return pd.read_parquet(source)
        with warnings.catch_warnings():  # a row with an extra field is an error, not a silent cut
            warnings.simplefilter("error", pd.errors.ParserWarning)
            if source.name.lower().endswith((".tsv", ".tsv.gz")):
                return _read_tsv(pd, source)
            if _semicolon_separated(source):
                return pd.read_csv(source, index_col=False, sep=";", decimal=",")
            return pd.read_csv(source, index_col=False)  # never guess the first column is an index
    except ImportError:
        raise
    except Exception as err:  # pandas and pyarrow raise many types for a bad file
        raise DataFileError(source, f"not a readable {fmt} file ({type(err).__name__}: {err})") from None


def _read_tsv(pd: Any, source: Path) -> Any:
    """A tab-separated file; without a header row (its second field a number) it is the UCR
    archive's layout, read as columns label, t1, t2, ... with the labels as class names
    (as a .ts file's are: FordA's -1 and 1 become classes 0 and 1)."""
    frame = pd.read_csv(source, sep="\t", header=None, dtype={0: str})
    first: Any = frame.iloc[0, 1] if frame.shape[0] and frame.shape[1] > 1 else None  # a cell, or None
    try:
        float(first)
    except (TypeError, ValueError):
        return pd.read_csv(source, sep="\t", index_col=False)  # a header row: an ordinary table
    frame.columns = ["label", *[f"t{i}" for i in range(1, frame.shape[1])]]
    return frame


def _semicolon_separated(source: Path) -> bool:
    """Whether the header line has `;` and no `,`: a European export (`;` fields, `,` decimals)."""
    import gzip

    opener = gzip.open if source.name.lower().endswith(".gz") else open
    try:
        with opener(source, "rt", encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return False  # pandas reports the unreadable file
    return ";" in header and "," not in header


def _looks_headerless(found: list[str]) -> bool:
    """Whether most column names parse as numbers: the first data row read as a header."""
    numbers = 0
    for name in found:
        try:
            float(name)
            numbers += 1
        except ValueError:
            pass
    return numbers * 2 > len(found)


def _no_label_problem(found: list[str]) -> str:
    """What a table without a label column should look like, in one line."""
    if _looks_headerless(found):
        return (
            f"the first row {found[:6]} looks like data, not column names; the file needs a header row "
            "naming its columns (an id, a time, the features and a label)"
        )
    return (
        f"no label column among {show_names(found)}; name it with --label-column NAME (label_columns= in "
        "Python). Expected long format (an id, a time, numeric features and a label: one row per time step) "
        "or wide format (a label and one numeric column per time step: one row per sequence); "
        "one series to forecast: --window"
    )


def check_complete(source: Path, frame: Any, columns: list[str]) -> None:
    """No empty cells: a CSV row with a missing field reads as NaN in pandas."""
    for column in columns:
        empty = np.flatnonzero(frame[column].isna().to_numpy())
        if empty.size:
            raise DataFileError(
                source,
                f"column {column!r} has an empty or missing value in data row {empty[0] + 1} "
                "(a short row, an empty field or NaN); every row needs every column",
            )


def numeric_columns(source: Path, frame: Any, columns: list[str], role: str) -> None:
    from pandas.api.types import is_numeric_dtype

    for column in columns:
        if not is_numeric_dtype(frame[column]):
            raise DataFileError(
                source,
                f"{role} column {column!r} is not numeric (dtype {frame[column].dtype}); {role}s must be numbers",
            )


def frame_as_table(frame: Any) -> Any:
    """A DataFrame as `read_table` would read the CSV that `frame.to_csv()` writes: a named
    index (`case`, or `id` and `step` of a MultiIndex) becomes columns, an unnamed one is
    row numbers and dropped, column names are text."""
    pd = require("pandas")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def frame_sha256(frame: Any) -> str:
    """A DataFrame's fingerprint: its column names and the hash of every row's values."""
    import hashlib

    pd = require("pandas")
    digest = hashlib.sha256(repr(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def read_long_table(
    source: Path,
    fmt: DataFormat,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    label_columns: str | Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    drop_columns: Sequence[str] | None = None,
    frame: Any = None,
) -> LoadedData:
    """Read a long-format (or wide) table into sequences and labels; see the module docstring.

    `frame` is the table already in hand (a DataFrame through `frame_as_table`): then
    `source` only names it in messages and its rows are the fingerprint."""
    label_columns = [label_columns] if isinstance(label_columns, str) else label_columns
    sha = sha256_of([source]) if frame is None else frame_sha256(frame)
    frame = read_table(source, fmt) if frame is None else frame
    if len(frame) == 0:
        raise DataFileError(source, f"has column names {[str(c) for c in frame.columns]} but no data rows")
    found = [str(c) for c in frame.columns]
    roles = assign_roles(
        source,
        found,
        id_column=id_column,
        time_column=time_column,
        label_columns=label_columns,
        features=features,
        drop_columns=drop_columns,
    )
    if not roles.labels:
        raise DataFileError(source, _no_label_problem(found))
    if roles.time is None and (roles.id is None or not frame[roles.id].duplicated().any()):
        return read_wide_table(source, fmt, frame, roles, sha)
    if roles.id is None:
        raise DataFileError(
            source,
            f"has a time column {roles.time!r} but no sequence id column among {show_names(found)}; "
            "pass --id-column NAME (or, for a table of one sequence per row, --drop-columns "
            f"{roles.time})",
        )
    return _read_long(source, fmt, frame, roles, sha)


def _read_long(source: Path, fmt: DataFormat, frame: Any, roles: ColumnRoles, sha: str) -> LoadedData:
    """One row per time step: group rows by id, order them by the time's meaning."""
    if not roles.features:
        raise DataFileError(source, f"no feature columns besides {roles.id!r}, {roles.time!r} and the labels")
    used = [c for c in (roles.id, roles.time, *roles.labels, *roles.features) if c is not None]
    check_complete(source, frame, used)
    numeric_columns(source, frame, roles.features, "feature")
    if len(roles.labels) > 1:
        numeric_columns(source, frame, roles.labels, "label")
    if roles.time is None:
        keys, order = np.arange(len(frame), dtype=np.float64), "file order"
    else:
        keys, order = time_keys(source, frame[roles.time], roles.time)
    codes = frame[roles.id].factorize(sort=False)[0]  # order of first appearance
    frame = frame.assign(**{SEQUENCE: codes, TIME: keys}).sort_values([SEQUENCE, TIME], kind="stable")
    _check_unique_steps(source, frame, roles)
    starts = np.flatnonzero(np.diff(frame[SEQUENCE].to_numpy(), prepend=-1))
    values = frame[roles.features].to_numpy(dtype=np.float32)
    x = stack_if_equal(np.split(values, starts[1:]))
    y, class_names = _sequence_labels(source, frame, roles.labels, starts, cast(str, roles.id))  # checked by the caller
    description = f"{source.name}: {describe_inputs(x)}{describe_classes(class_names)}; {roles.describe(order)}"
    names = tuple(str(c) for c in roles.features)
    return LoadedData(x, y, None, None, str(source), fmt, sha, description, class_names, feature_names=names)


def _long_table_unnamed(source: Path, frame: Any, steps: list[str]) -> None:
    """A table read as wide only because its id and time columns have names no rule knows
    (`day,hour,demand,class`): a text "step" column whose values repeat down the rows is a
    long table's time or id, and the fix is naming them, not making them numbers."""
    from pandas.api.types import is_numeric_dtype

    text = [c for c in steps if not is_numeric_dtype(frame[c])]
    repeated = [c for c in steps if frame[c].nunique() <= len(frame) / 2]  # ids and steps, not measurements
    if text and len(steps) <= 8 and text[0] in repeated:
        raise DataFileError(
            source,
            f"looks like a long table (one row per time step: {show_names(repeated)} repeat down the rows) "
            "whose id and time columns have names fastlstm does not know; name them: "
            "--id-column COL --time-column COL (id_column=, time_column= in Python)",
        )


def read_wide_table(source: Path, fmt: DataFormat, frame: Any, roles: ColumnRoles, sha: str) -> LoadedData:
    """One row per univariate sequence: the label column(s) and one column per time step;
    the id column, or a first column of row numbers, is dropped."""
    steps = list(roles.features)
    dropped = [] if roles.id is None else [roles.id]
    if roles.id is None and len(steps) > 1 and is_row_number(steps[0], frame[steps[0]]):
        dropped, steps = [steps[0]], steps[1:]
    if not steps:
        raise DataFileError(source, _no_label_problem([str(c) for c in frame.columns]))
    label_columns = roles.labels
    check_complete(source, frame, label_columns)
    _long_table_unnamed(source, frame, steps)
    numeric_columns(source, frame, steps, "time-step")
    if len(label_columns) > 1:
        numeric_columns(source, frame, label_columns, "label")
    values = frame[steps].to_numpy(dtype=np.float32)
    present = ~np.isnan(values)
    lengths = present.shape[1] - np.argmax(present[:, ::-1], axis=1)
    lengths[~present.any(axis=1)] = 0
    gaps = np.flatnonzero((present.sum(axis=1) != lengths) | (lengths == 0))
    if gaps.size:
        raise DataFileError(
            source,
            f"wide format: data row {gaps[0] + 1} has an empty cell before its last value (or no values); "
            "only the end of a row may be empty (a shorter sequence)",
        )
    x = stack_if_equal([values[i, : lengths[i], None] for i in range(len(values))])
    starts = np.arange(len(frame))
    y, class_names = _sequence_labels(source, frame, label_columns, starts, label_columns[0])
    shown = [f"id={dropped[0]} (dropped)"] if dropped else []
    shown += [f"label={', '.join(label_columns)}", f"time=columns {show_names(steps, 4)}"]
    if roles.ignored:
        shown.append(f"ignored {show_names(roles.ignored)}")
    description = (
        f"{source.name} (wide: one row per sequence): {describe_inputs(x)}{describe_classes(class_names)}; "
        f"roles: {', '.join(shown)}"
    )
    return LoadedData(x, y, None, None, str(source), fmt, sha, description, class_names)


def _check_unique_steps(source: Path, frame: Any, roles: ColumnRoles) -> None:
    repeated = frame.duplicated([SEQUENCE, TIME]).to_numpy()
    if repeated.any():
        row = frame.iloc[int(np.argmax(repeated))]
        raise DataFileError(
            source,
            f"sequence {roles.id}={to_python(row[roles.id])!r} has {roles.time}={to_python(row[roles.time])!r} "
            "twice; each time step needs exactly one row",
        )


def _sequence_labels(
    source: Path, frame: Any, label_columns: list[str], starts: np.ndarray, id_column: str
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """One label (row) per sequence, checked constant over the sequence's rows."""
    labels = frame[label_columns].to_numpy()
    first_of_row = np.repeat(starts, np.diff(np.append(starts, len(frame))))
    changed = np.flatnonzero(np.any(labels != labels[first_of_row], axis=1))
    if changed.size:
        row = frame.iloc[int(changed[0])]
        raise DataFileError(
            source,
            f"the label changes within sequence {id_column}={to_python(row[id_column])!r}; "
            "a label column must hold one value per sequence",
        )
    per_sequence = labels[starts]
    if len(label_columns) > 1:
        return _plain_numbers(per_sequence), None
    column = frame[label_columns[0]]
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if is_numeric_dtype(column) or is_bool_dtype(column):
        return _plain_numbers(column.to_numpy()[starts]), None
    return encode_labels(per_sequence[:, 0].tolist())


def _plain_numbers(values: np.ndarray) -> np.ndarray:
    """pandas' nullable numbers (Int64, Float64) can come out as objects: make them floats."""
    return values.astype(np.float64) if values.dtype == object else values
