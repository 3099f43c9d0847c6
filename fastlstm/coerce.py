"""NumPy numbers in, plain Python numbers out, at the public boundary.

Users compute settings with NumPy (`np.logspace(-4, -2, 3)`, `np.arange(4)`,
`np.float32(0.01)`); the checks inside fastlstm speak Python's `int`/`float`/`list`.
`to_python` converts once where a value enters (`fl.sweep`, `ModelSpec`, callbacks),
so every later check, the saved JSON and the TOML spec see plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def to_python(value: Any) -> Any:
    """NumPy scalars -> int/float/bool, 0-D and 1-D arrays -> scalars/lists; dicts, lists
    and tuples converted inside. Anything else (strings, None, objects, 2-D+ arrays) is
    returned as it is."""
    if isinstance(value, np.float32):
        return float(str(value))  # np.float32(0.2) -> 0.2 (its shortest repr), not 0.20000000298...
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return to_python(value[()])
        if value.ndim == 1 and value.dtype != object:
            return [to_python(v) for v in value]
        return value
    if isinstance(value, Mapping):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(to_python(v) for v in value)
    return value
