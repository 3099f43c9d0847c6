"""UEA/UCR `.ts` files (the time series classification archive's format), via aeon.

aeon reads the header (`@problemName`, `@univariate`, `@equalLength`, `@classLabel
true a b`, ...) and the rows after `@data` (channels separated by `:`, the label
last). It returns (cases, channels, length); fastlstm wants (cases, length, channels),
so the axes are swapped, and unequal-length series come back as a list.

Class labels are strings in the file; they become 0..k-1 by sorted name (numerically
when all are numbers, as the archive's "1", "2", ... are), taken from the header's
class list, so a TRAIN and a TEST file of one problem get the same codes. aeon
lower-cases the file as it reads it, so class names come back in lower case.
Regression files (`@targetLabel true`) give float targets.

`.arff` files (Weka's format, shipped beside every UCR/UEA `.ts`) are read by aeon's
`load_from_arff_file` into the same arrays; their class list is the header's last
`@attribute name {a,b,...}`, lower-cased as aeon lower-cases a `.ts`, so
GunPoint_TRAIN.arff and GunPoint_TRAIN.ts give identical x, codes and class names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from fastlstm.data._loaded import (
    DataFileError,
    Inputs,
    LoadedData,
    describe_classes,
    describe_inputs,
    encode_labels,
    require,
    sha256_of,
    stack_if_equal,
)


def _loader() -> Any:
    datasets = require("aeon.datasets")
    # aeon >= 1.0 names it load_from_ts_file; 0.x called it load_from_tsfile.
    return getattr(datasets, "load_from_ts_file", None) or datasets.load_from_tsfile


def read_ts(source: Path) -> LoadedData:
    """Read a `.ts` file into (n, length, channels) float32 and labels."""
    load = _loader()
    try:
        data, y, meta = load(str(source), return_meta_data=True)
    except (OSError, ValueError, IndexError, KeyError, TypeError) as err:
        raise DataFileError(source, f"not a valid .ts file ({type(err).__name__}: {err})") from None
    return _loaded(source, "ts", data, y, meta)


def read_arff(source: Path) -> LoadedData:
    """Read a UCR/UEA `.arff` file as its `.ts` twin is read (same arrays, codes and names)."""
    load = require("aeon.datasets").load_from_arff_file
    try:
        data, y = load(str(source))
    except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError) as err:
        raise DataFileError(source, f"not a valid .arff file ({type(err).__name__}: {err})") from None
    classes = _arff_classes(source)
    y = None if y is None else [str(v).lower() for v in y]
    meta = {"classlabel": classes is not None, "class_values": classes, "targetlabel": classes is None}
    return _loaded(source, "arff", data, y, meta)


def _arff_classes(source: Path) -> list[str] | None:
    """The header's class list (the last `@attribute name {a,b,...}`, lower-cased as aeon
    reads a .ts), or None when the last attribute is numeric (a regression target)."""
    last = None
    with open(source, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.strip()
            if text.lower().startswith("@data"):
                break
            if text.lower().startswith("@attribute"):
                last = text
    if last is None or "{" not in last or "}" not in last:
        return None
    inside = last[last.index("{") + 1 : last.rindex("}")]
    return [name.strip().strip("'\"").lower() for name in inside.split(",") if name.strip()]


def _loaded(source: Path, fmt: Literal["ts", "arff"], data: Any, y: Any, meta: dict[str, Any]) -> LoadedData:
    """aeon's (cases, channels, length) as fastlstm's (cases, length, channels), labels coded."""
    if len(data) == 0:
        raise DataFileError(source, "has no series: expected a header, then @data, then one row per series")
    x: Inputs
    if isinstance(data, np.ndarray):
        x = np.ascontiguousarray(np.asarray(data, np.float32).transpose(0, 2, 1))
    else:
        x = stack_if_equal([np.asarray(case, np.float32).T for case in data])
    y, class_names = _labels(source, y, meta)
    description = f"{source.name}: {describe_inputs(x)}{describe_classes(class_names)}"
    return LoadedData(x, y, None, None, str(source), fmt, sha256_of([source]), description, class_names)


def _labels(source: Path, y: Any, meta: dict[str, Any]) -> tuple[np.ndarray, tuple[str, ...] | None]:
    if meta.get("targetlabel"):
        return np.asarray(y, np.float32), None
    if not meta.get("classlabel") or y is None or len(y) == 0:
        raise DataFileError(source, "has no labels: expected '@classLabel true <classes>' or '@targetLabel true'")
    declared = [str(c) for c in meta.get("class_values") or []] or None
    try:
        return encode_labels([str(v) for v in y], declared)
    except ValueError as err:
        raise DataFileError(source, str(err)) from None
