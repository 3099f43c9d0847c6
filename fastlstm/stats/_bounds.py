"""The range each metric can take, which the intervals are clipped to and the text says."""

from __future__ import annotations

import math

# Where each metric lives; a validation metric ("val_...") has its metric's range.
METRIC_BOUNDS = {
    "accuracy": (0.0, 1.0),
    "balanced_accuracy": (0.0, 1.0),
    "loss": (0.0, math.inf),
    "mae": (0.0, math.inf),
    "mse": (0.0, math.inf),
}


def metric_bounds(name: str) -> tuple[float, float]:
    """The range a metric's values can take (unbounded for names not known here)."""
    return METRIC_BOUNDS.get(name.removeprefix("val_"), (-math.inf, math.inf))


def format_bounds(bounds: tuple[float, float]) -> str:
    low, high = bounds
    if math.isinf(high):
        return f">= {low:g}"
    return f"[{low:g}, {high:g}]"
