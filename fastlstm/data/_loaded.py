"""What every data reader returns, and the small pieces the readers share.

A reader turns one file (or a pair) into the arguments of `fl.sweep` — `x`, `y`,
`validation_data`, `sample_weight` — plus what the run folder records about where
they came from: the path, the format, the SHA-256 of the bytes read and a one-line
description for the CLI header. Checking values (NaN, label ranges, shapes against
each other) stays in `fastlstm.data._prepare.prepare_data`; a reader only answers "is this file
what its format promises", and says so in one line naming the file when it is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fastlstm.data._labels import code_labels, sorted_names

DataFormat = Literal["npz", "npy", "csv", "parquet", "ts", "arff"]
FORMATS: tuple[str, ...] = ("npz", "npy", "csv", "parquet", "ts", "arff")

# x as one (n, t, f) array, or a list of (t_i, f) arrays when lengths differ.
Inputs = np.ndarray | list[np.ndarray]


class DataFileError(ValueError):
    """A data file is missing or is not what its format promises.

    The message is one line, `<path>: <problem>`, so the CLI can print it as it is."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # one line, whatever the cause said
        super().__init__(f"{self.path}: {self.problem}")


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedData:
    """One data file read into `fl.sweep`'s arguments, and where it came from.

    `x` is float32 (n, timesteps, features), or a list of (timesteps_i, features)
    arrays when the sequences have different lengths (`fl.sweep` pads and masks
    them). `class_names[k]` is the name of class `k` when the file's labels were
    strings; otherwise None. `sha256` covers the bytes of every file read, in order."""

    x: Inputs
    y: np.ndarray
    validation_data: tuple[Any, ...] | None
    sample_weight: np.ndarray | None
    path: str
    format: DataFormat
    sha256: str
    description: str
    class_names: tuple[str, ...] | None = None
    # A windowed series (fastlstm/data/_series.py): what a forecast is judged against -
    # {"target", "window", "horizon", "series": the target's values in time order,
    # "split_at": the row where validation starts} - None for other data.
    forecast: dict[str, Any] | None = None
    # Feature j's column name, where the file named its features (a long table, a series);
    # None otherwise. The doctor's findings name columns by it ("column 'Passengers'").
    feature_names: tuple[str, ...] | None = None

    def fit_arguments(self) -> dict[str, Any]:
        """`x`, `y` and, when the file had them, `validation_data` and `sample_weight`,
        ready for `fl.sweep(**data.fit_arguments(), ...)`. Class labels go as their names,
        so `fl.sweep` codes and names them as it codes labels from any other source."""
        args: dict[str, Any] = {"x": self.x, "y": self.named(self.y)}
        if self.validation_data is not None:
            x_val, y_val, *weight = self.validation_data
            args["validation_data"] = (x_val, self.named(y_val), *weight)
        if self.sample_weight is not None:
            args["sample_weight"] = self.sample_weight
        return args

    def named(self, codes: np.ndarray) -> np.ndarray:
        """Class codes as their names (strings); other targets as they are."""
        if self.class_names is None:
            return codes
        return np.asarray(self.class_names)[np.asarray(codes).astype(np.int64)]


def sha256_of(paths: Sequence[Path]) -> str:
    """Hex SHA-256 of the files' bytes, read in order (a pair hashes as one stream)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def encode_labels(values: Sequence[object], classes: Sequence[str] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """String labels -> int64 codes 0..k-1 by sorted class name, and the names.

    The coding `fl.sweep` applies to every source (`fastlstm.data._labels`): names sort as numbers
    when they all are numbers (UCR labels are "1", "2", ..., "10"), otherwise as text.
    `classes` fixes the class set (a .ts header's list), so a file that lacks a class still
    gets the same codes as its sibling file."""
    labels = np.asarray([str(v) for v in values], dtype=object)
    declared = None if classes is None else sorted_names([str(c) for c in classes])
    coding = code_labels([labels], declared, known="the declared classes")
    return coding.ys[0], coding.names


def stack_if_equal(sequences: list[np.ndarray]) -> Inputs:
    """One (n, t, f) array when every sequence has the same length, else the list."""
    if len({s.shape[0] for s in sequences}) == 1:
        return np.stack(sequences).astype(np.float32, copy=False)
    return sequences


def count(n: int, noun: str) -> str:
    """'1 feature', '4 features'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def describe_inputs(x: Inputs) -> str:
    """'1200 sequences x 24 steps x 4 features' (or 'of 5-30 steps' when ragged)."""
    if isinstance(x, np.ndarray):
        n, t, f = x.shape
        return f"{count(n, 'sequence')} x {count(t, 'step')} x {count(f, 'feature')}"
    lengths = [s.shape[0] for s in x]
    return f"{len(x)} sequences of {min(lengths)}-{max(lengths)} steps x {count(x[0].shape[1], 'feature')}"


def describe_classes(class_names: tuple[str, ...] | None) -> str:
    if class_names is None:
        return ""
    shown = ", ".join(class_names[:6]) + (", ..." if len(class_names) > 6 else "")
    return f", {len(class_names)} classes ({shown})"


def require(module: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"reading this data file needs {module.split('.')[0]!r}, which is not installed: "
            "pip install 'fastlstm[data]'"
        ) from err
