"""NumPy numbers in, plain Python numbers out, at the public boundary.

Users compute settings with NumPy (`np.logspace(-4, -2, 3)`, `np.arange(4)`,
`np.float32(0.01)`); the checks inside fastlstm speak Python's `int`/`float`/`list`.
`to_python` converts once where a value enters (`fl.sweep`, `ModelSpec`, callbacks),
so every later check, the saved JSON and the TOML spec see plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

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


class Configurable(Protocol):
    """A class that reads itself from a config table (callbacks, augmentations, schedulers)."""

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Any: ...


def object_from_config(
    config: object,
    registry: Mapping[str, type[Configurable]],
    argument: str,
    example: str,
    base: type | None = None,
) -> Any:
    """The one step every Keras-style config reader shares (callbacks, augmentations,
    schedulers): an object of a registered class (or of `base`, where users may subclass
    it) is returned as it is, and a table
    `{"type": name, **options}` becomes `registry[name].from_config(options)`.

    Every way it can go wrong is a ValueError naming `argument`: not a table, an unknown
    type, an option the class does not take (named, for dataclasses) or a bad value."""
    if isinstance(config, base or tuple(registry.values())):
        return config
    if not isinstance(config, Mapping):
        raise ValueError(f"{argument}: expected {example} or a table with a 'type', got {config!r}")
    options = {k: v for k, v in config.items() if k != "type"}
    kind = config.get("type")
    if not isinstance(kind, str) or kind not in registry:
        raise ValueError(f"{argument}: unknown type {kind!r}; expected one of {sorted(registry)}")
    cls = registry[kind]
    if dataclasses.is_dataclass(cls):
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"{argument}: {kind} takes no {unknown}; expected some of {sorted(known)}")
    try:
        return cls.from_config(options)
    except TypeError as err:
        raise ValueError(f"{argument}: {kind}: {err}") from None


def checked_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """`value` as an int >= minimum (and <= maximum; NumPy integers accepted; bools and floats not)."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value!r}")
    return value
