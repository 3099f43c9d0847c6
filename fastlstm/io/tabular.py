"""Sequences from a table in long format (CSV or Parquet): one row per time step.

The layout, with the default column names (`id_column`, `time_column`,
`label_columns` rename them):

    id,step,temperature,pressure,label
    a,0,20.1,1.01,ok
    a,1,20.3,1.02,ok
    b,0,19.7,0.99,fault

- `id` names the sequence; sequences keep the order in which their ids first appear
  (so `fl.sweep(validation_split=...)` takes the file's last sequences, as Keras would).
- `step` orders the rows within a sequence (numbers, dates or anything sortable);
  the file's row order does not matter, a repeated step is an error.
- every other column is a feature and must be numeric.
- `label` is constant within a sequence (the first id where it changes is an error).
  Numeric labels are kept as they are; string labels become 0..k-1 by sorted class
  name (numerically when they are all numbers) and the names are kept. Several label
  columns give y of shape (n, k) and must be numeric.

Sequences of different lengths come back as a list of (t_i, features) arrays, which
`fl.sweep` post-pads and masks.

A table without a `step` column but with the label column (and no `id` column, or one id
per row, dropped) is read in wide format instead, as spreadsheets and the UCR archive's
CSVs hold univariate series: one row per sequence, the label column (first, last or
anywhere) and one numeric column per time step. Empty cells at the end of a row make that sequence shorter.

A `.tsv` without a header row is the UCR archive's layout (the label first, then the
values, NaN-padded when lengths differ) and is read as a wide table.

A CSV whose header is separated by semicolons and has no comma (a European export) is
read with `;` between fields and `,` as the decimal mark.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from fastlstm.coerce import to_python
from fastlstm.io.loaded import (
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

# The first column's name when a DataFrame was saved with its index (pandas' to_csv default,
# to_parquet of a non-default index): row numbers, never a feature.
SAVED_INDEX_NAMES = ("Unnamed: 0", "__index_level_0__")


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
    first = frame.iloc[0, 1] if frame.shape[0] and frame.shape[1] > 1 else None
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


def _missing_columns_problem(found: list[str], wanted: list[str], missing: list[str]) -> str:
    """What a table without the expected columns should look like, in one line."""
    if _looks_headerless(found):
        return (
            f"the first row {found[:6]} looks like data, not column names; the file needs a header row "
            f"naming its columns ({', '.join(wanted)}, then the features)"
        )
    return (
        f"missing columns {missing}; found {found}. Expected long format (columns {wanted[0]!r}, {wanted[1]!r}, "
        f"numeric features and {wanted[2:]}: one row per time step) or wide format (a label column {wanted[2:]} "
        "and one numeric column per time step: one row per sequence); other names: id_column=, time_column=, "
        "label_columns= (in a config, data.id_column ...); one series to forecast: window= (--window)"
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


def read_long_table(
    source: Path, fmt: DataFormat, *, id_column: str, time_column: str, label_columns: tuple[str, ...] | list[str]
) -> LoadedData:
    """Read a long-format table (see the module docstring) into sequences and labels."""
    label_columns = [label_columns] if isinstance(label_columns, str) else list(label_columns)
    if not label_columns:
        raise ValueError("label_columns: name at least one label column")
    frame = read_table(source, fmt)
    found = [str(c) for c in frame.columns]
    wanted = [id_column, time_column, *label_columns]
    missing = [c for c in wanted if c not in found]
    if _is_wide(frame, missing, id_column, time_column) and len(found) > len(label_columns) + 1:
        return read_wide_table(source, fmt, frame.drop(columns=[id_column], errors="ignore"), label_columns)
    if missing:
        raise DataFileError(source, _missing_columns_problem(found, wanted, missing))
    features = [c for c in found if c not in (id_column, time_column, *label_columns)]
    if not features:
        raise DataFileError(source, f"no feature columns besides {id_column!r}, {time_column!r} and the labels")
    check_complete(source, frame, found)
    numeric_columns(source, frame, features, "feature")
    if len(label_columns) > 1:
        numeric_columns(source, frame, label_columns, "label")

    codes = frame[id_column].factorize(sort=False)[0]  # order of first appearance
    frame = frame.assign(_sequence=codes).sort_values(["_sequence", time_column], kind="stable")
    _check_unique_steps(source, frame, id_column, time_column)
    starts = np.flatnonzero(np.diff(frame["_sequence"].to_numpy(), prepend=-1))
    values = frame[features].to_numpy(dtype=np.float32)
    x = stack_if_equal(np.split(values, starts[1:]))
    y, class_names = _sequence_labels(source, frame, label_columns, starts, id_column)
    description = (
        f"{source.name}: {describe_inputs(x)} ({', '.join(features[:8])}"
        f"{', ...' if len(features) > 8 else ''}){describe_classes(class_names)}"
    )
    return LoadedData(x, y, None, None, str(source), fmt, sha256_of([source]), description, class_names)


def _is_wide(frame: Any, missing: list[str], id_column: str, time_column: str) -> bool:
    """No time column and the labels present: wide, when there is no id column either or
    every row of several has its own id (a long file without its time column repeats its
    ids; one row cannot tell)."""
    if missing == [id_column, time_column]:
        return True
    return missing == [time_column] and len(frame) > 1 and not frame[id_column].duplicated().any()


def read_wide_table(source: Path, fmt: DataFormat, frame: Any, label_columns: list[str]) -> LoadedData:
    """One row per univariate sequence: the label column(s) and one column per time step."""
    found = [str(c) for c in frame.columns]
    steps = [c for c in found if c not in label_columns]
    check_complete(source, frame, label_columns)
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
    description = f"{source.name} (wide: one row per sequence): {describe_inputs(x)}{describe_classes(class_names)}"
    return LoadedData(x, y, None, None, str(source), fmt, sha256_of([source]), description, class_names)


def _check_unique_steps(source: Path, frame: Any, id_column: str, time_column: str) -> None:
    repeated = frame.duplicated(["_sequence", time_column]).to_numpy()
    if repeated.any():
        row = frame.iloc[int(np.argmax(repeated))]
        raise DataFileError(
            source,
            f"sequence {id_column}={to_python(row[id_column])!r} has {time_column}={to_python(row[time_column])!r} twice; "
            "each time step needs exactly one row",
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
