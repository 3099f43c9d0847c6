"""Which column of a table is what: the sequence id, the time, the label, the features.

Users export tables with the names their tools gave them (`sequence_id`, `timestamp`,
`target`, a pandas index named `case`), so the readers recognise the usual names,
case-insensitively, and say what they chose in the data's description. An explicit role
(`--id-column`, `--time-column`, `--label-column`, `--features`, `--drop-columns`; the
same keywords in `fl.read_data`) always wins; two candidates for one role is an error
naming the flag that settles it, never a silent pick.

A time column is ordered by what its values mean: numbers numerically, dates as dates
(ISO, `dd/mm/yyyy` or `mm/dd/yyyy`, day first when a first field above 12 says so),
numbered labels (`t0 .. t99`, `step_10`) by their number. Anything else cannot be ordered
and is an error: text order would put "t10" before "t2" without a word.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastlstm.data._loaded import DataFileError


def _key(name: str) -> str:
    """A column name compared without case or separators: 'Time Step' == 'time_step' == 'timestep'."""
    return re.sub(r"[\s_\-.]+", "", str(name).casefold())


def _keys(names: Iterable[str]) -> frozenset[str]:
    return frozenset(_key(n) for n in names)


ID_NAMES = _keys(
    [
        "id",
        "series_id",
        "sequence_id",
        "seq_id",
        "sample",
        "sample_id",
        "case",
        "case_id",
        "subject",
        "subject_id",
        "unit",
        "unit_id",
        "instance",
        "instance_id",
        "series",
        "sequence",
    ]
)
TIME_NAMES = _keys(
    [
        "step",
        "time",
        "timestamp",
        "t",
        "date",
        "datetime",
        "time_step",
        "time_idx",
        "time_index",
        "ds",
        "period",
        "time_stamp",
    ]
)
LABEL_NAMES = _keys(["label", "labels", "target", "class", "y", "class_label"])
# Parts of a calendar: in one series to forecast they say when a row is, they are not inputs.
CALENDAR_NAMES = TIME_NAMES | _keys(
    [
        "year",
        "quarter",
        "month",
        "week",
        "day",
        "hour",
        "minute",
        "second",
        "weekday",
        "day_of_week",
        "dayofweek",
        "day_of_year",
        "week_of_year",
        "yearmonth",
        "year_month",
        "month_year",
    ]
)
# A wide table's first column named so, with one value per row, counts rows: not a step.
ROW_NUMBER_NAMES = _keys(["index", "idx", "row", "row_id", "row_number"])
# One-letter names that are as often a coordinate (x, y) or a variable: a role's candidate
# only when no column has a fuller name for it (`label` beside a feature `y`).
WEAK_NAMES = _keys(["y", "t"])

_NATURAL = re.compile(r"^\s*(\D*?)[\s_\-]*(\d+)\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?([ T].*)?$")
_FIELD_DATE = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})(\s.*)?$")


@dataclasses.dataclass(frozen=True)
class ColumnRoles:
    """The roles a table's columns play; `time=None` means the rows' file order is the time."""

    id: str | None
    time: str | None
    labels: list[str]
    features: list[str]
    ignored: list[str]

    def describe(self, time_order: str | None = None) -> str:
        """'roles: id=sequence_id, time=time (numbers), label=label, features f0, f1, f2'."""
        parts = [] if self.id is None else [f"id={self.id}"]
        if self.time is not None:
            parts.append(f"time={self.time}" + (f" ({time_order})" if time_order else ""))
        elif time_order:
            parts.append(f"time={time_order}")
        parts.append(f"label={', '.join(self.labels)}")
        parts.append(f"features {show_names(self.features)}")
        if self.ignored:
            parts.append(f"ignored {show_names(self.ignored)}")
        return "roles: " + ", ".join(parts)


def show_names(names: Sequence[str], limit: int = 8) -> str:
    """'a, b, c' or, for many, 'a, b, ..., z (151 columns)': a header line stays a line."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[: limit - 1])}, ..., {names[-1]} ({len(names)} columns)"


def _show_found(found: Sequence[str]) -> str:
    return f"the columns are {show_names(found)}"


def check_named(source: Path, found: Sequence[str], names: Sequence[str] | None, flag: str) -> None:
    """Every explicitly named column exists; else one line naming the flag and the columns."""
    missing = [n for n in names or () if n not in found]
    if missing:
        raise DataFileError(source, f"{flag} {missing[0]!r} is not a column; {_show_found(found)}")


def check_kept_or_dropped(source: Path, features: Sequence[str] | None, drop_columns: Sequence[str] | None) -> None:
    """A column named both to keep (--features) and to drop (--drop-columns) is a contradiction;
    reading it either way would be a silent guess."""
    both = [c for c in features or () if c in set(drop_columns or ())]
    if both:
        raise DataFileError(
            source, f"--features {both[0]!r} is also in --drop-columns: name it in one of them, not both"
        )


def pick_role(
    source: Path, candidates: Sequence[str], explicit: str | None, names: frozenset[str], role: str, flag: str
) -> str | None:
    """The explicit column, else the one column with a usual name for `role` (a one-letter
    name only when there is no other), else None; two is an error naming `flag`."""
    if explicit is not None:
        return explicit
    hits = [c for c in candidates if _key(c) in names - WEAK_NAMES]
    if not hits:
        hits = [c for c in candidates if _key(c) in names & WEAK_NAMES]
    if role == "id" and not hits:  # patient_id, PassengerId, record-id
        hits = [c for c in candidates if re.search(r"(^|[\s_\-.])id$|[a-z]Id$", str(c), re.IGNORECASE)]
    if len(hits) > 1:
        raise DataFileError(
            source,
            f"columns {', '.join(map(repr, hits))} could each be the {role} column; pass {flag} NAME to choose",
        )
    return hits[0] if hits else None


def assign_roles(
    source: Path,
    found: Sequence[str],
    *,
    id_column: str | None,
    time_column: str | None,
    label_columns: Sequence[str] | None,
    features: Sequence[str] | None,
    drop_columns: Sequence[str] | None,
) -> ColumnRoles:
    """The roles of a sequence table's columns: explicit ones, else the usual names.

    `labels` may come back empty (the caller says what a table needs); `features` are the
    named ones, or every column with no other role and not dropped."""
    for names, flag in (
        ([id_column] if id_column else None, "--id-column"),
        ([time_column] if time_column else None, "--time-column"),
        (label_columns, "--label-column"),
        (features, "--features"),
        (drop_columns, "--drop-columns"),
    ):
        check_named(source, found, names, flag)
    check_kept_or_dropped(source, features, drop_columns)
    dropped = set(drop_columns or ())
    left = [c for c in found if c not in dropped]
    labels = list(label_columns) if label_columns else []
    if not labels:
        label = pick_role(source, left, None, LABEL_NAMES, "label", "--label-column")
        labels = [label] if label else []
    left = [c for c in left if c not in labels]
    sequence = pick_role(source, left, id_column, ID_NAMES, "id", "--id-column")
    left = [c for c in left if c != sequence]
    time = pick_role(source, left, time_column, TIME_NAMES, "time", "--time-column")
    left = [c for c in left if c != time]
    chosen = list(features) if features else left
    taken = [c for c in chosen if c in (sequence, time, *labels)]
    if taken:
        raise DataFileError(source, f"--features {taken[0]!r} is the id, time or label column, not a feature")
    ignored = [c for c in left if c not in chosen]
    return ColumnRoles(sequence, time, labels, chosen, ignored)


def is_row_number(name: str, column: Any) -> bool:
    """A column that only numbers or names the rows: a row-number name, one value per row."""
    return _key(name) in ROW_NUMBER_NAMES and not column.duplicated().any()


def calendar_columns(found: Sequence[str]) -> list[str]:
    """The columns named as parts of a calendar (year, quarter, month, date ...), in file order."""
    return [c for c in found if _key(c) in CALENDAR_NAMES]


def label_like(found: Sequence[str]) -> list[str]:
    """The columns named as labels or targets (label, target, y ...)."""
    return [c for c in found if _key(c) in LABEL_NAMES]


def time_keys(source: Path, column: Any, name: str) -> tuple[np.ndarray, str]:
    """Sort keys for a time column and what they were read as ('numbers', 'dates', ...).

    Values that are neither numbers, dates nor numbered labels are a DataFileError: no
    order can be trusted, and text order is not time order."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    if is_datetime64_any_dtype(column):
        return _date_keys(column), "dates"
    if is_numeric_dtype(column) and not is_bool_dtype(column):
        return column.to_numpy(dtype=np.float64), "numbers"
    text = [str(v) for v in column.tolist()]
    natural = _natural_keys(text)
    if natural is not None:
        return natural, "natural order"
    dates = _parse_dates(source, text, name)
    if dates is not None:
        return dates
    raise DataFileError(
        source,
        f"time column {name!r} holds values like {text[0]!r} that are neither numbers, dates nor numbered "
        "steps (t1, t2, ...), so they cannot be put in time order; pass --time-column with an orderable "
        f"column, or --drop-columns {name} to keep each sequence's rows in file order",
    )


def _date_keys(values: object) -> np.ndarray:
    import pandas as pd

    return pd.DatetimeIndex(values).asi8.astype(np.float64)


def _natural_keys(text: list[str]) -> np.ndarray | None:
    """'t0', 't2', 't10' (one shared prefix, then a number) -> 0, 2, 10; else None."""
    matches = [_NATURAL.match(v) for v in text]
    if not all(matches):
        return None
    prefixes = {m.group(1).casefold() for m in matches if m}
    if len(prefixes) != 1:
        return None
    return np.asarray([float(m.group(2)) for m in matches if m], np.float64)


def _parse_dates(source: Path, text: list[str], name: str) -> tuple[np.ndarray, str] | None:
    """ISO dates, or d/m/y and m/d/y dates with the field order read from the values."""
    import pandas as pd

    if all(_ISO_DATE.match(v) for v in text):
        try:
            return _date_keys(pd.to_datetime(pd.Series(text), format="ISO8601")), "dates"
        except (ValueError, TypeError):
            return None
    fields = [_FIELD_DATE.match(v) for v in text]
    if not all(fields):
        return None
    first = max(int(m.group(1)) for m in fields if m)
    second = max(int(m.group(2)) for m in fields if m)
    if first > 12 and second > 12:
        raise DataFileError(
            source,
            f"time column {name!r}: dates with day and month fields both above 12; "
            "write them as yyyy-mm-dd or pass --time-column with another column",
        )
    if first > 12 or second > 12:
        order = "day first" if first > 12 else "month first"
        return _field_dates(source, fields, day_first=first > 12, name=name), f"dates, {order}"
    day_first = _field_dates(source, fields, day_first=True, name=name)
    month_first = _field_dates(source, fields, day_first=False, name=name)
    if not np.array_equal(np.argsort(day_first, kind="stable"), np.argsort(month_first, kind="stable")):
        raise DataFileError(
            source,
            f"time column {name!r}: dates like {text[0]!r} read day first and month first give different "
            "orders and no day above 12 tells which; write them as yyyy-mm-dd",
        )
    return day_first, "dates (day or month first: the same order)"


def _field_dates(source: Path, fields: list[Any], *, day_first: bool, name: str) -> np.ndarray:
    """Sort keys of d/m/y (or m/d/y) dates via their ISO spelling."""
    import pandas as pd

    iso = []
    for m in fields:
        a, b, year, rest = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4) or ""
        day, month = (a, b) if day_first else (b, a)
        full = int(year) if len(year) == 4 else (2000 + int(year) if int(year) < 69 else 1900 + int(year))
        clock = f"T{rest.strip()}" if rest.strip() else ""
        iso.append(f"{full:04d}-{month:02d}-{day:02d}{clock}")
    try:
        return _date_keys(pd.to_datetime(pd.Series(iso), format="ISO8601"))
    except (ValueError, TypeError) as err:
        raise DataFileError(source, f"time column {name!r}: not valid dates ({err})") from None
