"""argparse types for numbers: each refuses with a message that says what was expected."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

_Number = TypeVar("_Number", int, float)


def number_of(text: str, kind: Callable[[str], _Number], expected: str) -> _Number:
    """`text` as an int or a finite float: inf and nan would only fail later, after compiling."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}, which is not finite")
    return value


def finite_float(text: str) -> float:
    return number_of(text, float, "a number")


def positive_int(text: str) -> int:
    value = number_of(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = number_of(text, float, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    value = number_of(text, float, "a fraction between 0 and 1")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = number_of(text, float, "a number >= 0")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def device_selection(text: str) -> int | list[int]:
    """`--devices 2` (a count) or `--devices 0,1` (device ids)."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected a device count or comma-separated device ids, got {text!r}")
    values = [int(p) for p in parts]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a device is listed twice in {text!r}")
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"expected a device count of at least 1, got {text!r}")
        return values[0]
    return values


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def workload(text: str) -> str:
    """`fastlstm bench --workload W1`: one of the benchmark's workloads."""
    from fastlstm.benchmark.workloads import PUBLIC_WORKLOADS, WORKLOADS  # numpy only, and only for bench

    if text not in WORKLOADS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(PUBLIC_WORKLOADS)}, got {text!r}")
    return text
