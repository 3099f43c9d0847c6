"""Class labels as users hold them -> codes 0..k-1, with the names kept.

UCR problems label their classes 1, 2, ...; others use -1/1, 3/7 or names. A softmax
needs codes 0..k-1, and the same data must give the same classes from every source
(a CSV's numbers, a Parquet file's strings, a `.ts` file's names, arrays): so every
column of class labels is coded here, by sorted value (numerically when every name is
a number, "2" before "10"), and `names[code]` is what the user called the class.
Predictions go back through the names (`SweepResult.predict_labels`).

A column of whole numbers is read as class labels unless it looks like a quantity
(`looks_like_quantity`: more distinct values than a classifier can learn from these
rows); an explicit `num_classes`/`output_dim` means the numbers are the user's own codes,
and regression settings mean they are values, so neither is coded.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

# A column with more distinct whole numbers than this, and more than half its rows
# distinct, is a quantity (Airline's passenger counts), not class labels.
SOME_CLASSES = 10
# A float column with more distinct whole values than this is a quantity whatever the rows.
MANY_CLASSES = 100
REGRESSION_LOSSES = ("mse", "mae", "mean_squared_error", "mean_absolute_error")


@dataclasses.dataclass(frozen=True)
class ClassCoding:
    """The coded label columns (train first, then validation) and the class names."""

    ys: tuple[np.ndarray, ...]
    names: tuple[str, ...]


def is_text(y: np.ndarray) -> bool:
    """Strings (or bytes), as NumPy or an object array of them holds them."""
    if y.dtype.kind in "US":
        return True
    if y.dtype.kind != "O" or y.size == 0:
        return False
    return all(isinstance(v, (str, bytes)) for v in y.ravel()[:1000].tolist())


def label_name(value: object) -> str:
    """A label's name: `2.0` and `2` are both "2"; strings stay as they are."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value)) if abs(float(value)) < 2**53 else str(float(value))  # 2.0 -> "2"; 1e38 -> "1e+38"
    return str(value)


def sorted_names(names: set[str] | Sequence[str]) -> tuple[str, ...]:
    """Numeric order when every name is a (finite) number, else text order."""
    unique = sorted(set(names))
    try:
        numbers = [float(name) for name in unique]
    except ValueError:
        return tuple(unique)
    if not all(math.isfinite(v) for v in numbers):
        return tuple(unique)
    return tuple(name for _, name in sorted(zip(numbers, unique)))


def looks_like_quantity(y: np.ndarray) -> bool:
    """Whole numbers that are a measured quantity rather than class labels: many distinct
    values, most rows their own (too few examples per class to learn), or a float column
    with more distinct values than anyone labels classes with."""
    flat = np.asarray(y).reshape(-1)
    distinct = np.unique(flat).size
    if distinct > SOME_CLASSES and distinct > flat.size / 2:
        return True
    return flat.dtype.kind == "f" and distinct > MANY_CLASSES


def _whole_column(y: np.ndarray) -> bool:
    if y.dtype.kind not in "biuf" or not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
        return False
    values = y.astype(np.float64, copy=False)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def wants_coding(
    ys: Sequence[np.ndarray], task: str, loss: str | None, num_classes: object, output_dim: object
) -> bool:
    """Whether these targets are class labels to code (see the module docstring)."""
    if any(is_text(y) for y in ys):
        return True
    if task == "regression" or (loss is not None and loss in REGRESSION_LOSSES):
        return False
    if num_classes is not None or output_dim is not None:
        return False  # the user chose the head's width: the numbers are their codes
    if loss == "categorical_crossentropy" or not all(_whole_column(y) for y in ys):
        return False
    if task == "classification":
        return True
    return not looks_like_quantity(np.concatenate([y.reshape(-1) for y in ys]))


def code_labels(
    ys: Sequence[np.ndarray], classes: Sequence[str] | None = None, known: str = "the classes"
) -> ClassCoding:
    """Code every label column by the sorted names of all of them (or by `classes`,
    the class list a trained model or a file header fixed).

    Training and validation labels are coded together, so a class seen only in the
    validation rows still gets a code (and an output)."""
    names_per_y = [[label_name(v) for v in np.asarray(y).reshape(-1).tolist()] for y in ys]
    if classes is None:
        names = sorted_names({name for part in names_per_y for name in part})
    else:
        names = tuple(str(c) for c in classes)
    index = {name: code for code, name in enumerate(names)}
    coded = []
    for part in names_per_y:
        unknown = sorted(set(part) - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not among {known} {list(names)}")
        coded.append(np.asarray([index[name] for name in part], np.int64))
    return ClassCoding(tuple(coded), names)


def describe_names(names: Sequence[str], limit: int = 6) -> str:
    """'2 classes (1, 2)' or '12 classes (a, b, c, d, e, f, ...)'."""
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return f"{len(names)} classes ({shown})"
