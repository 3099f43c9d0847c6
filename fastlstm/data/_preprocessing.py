"""Input scaling fitted on the training rows only, as numbers a result keeps.

`standardize="feature"` subtracts each feature's mean and divides by its standard
deviation, `"global"` uses one mean and one standard deviation over all features, and
`"min_max"` maps each feature's training range onto [0, 1]. The statistics come from the
training part alone (after `validation_split` has taken the last rows; never from
`validation_data`), over real steps only: padding and `mask_value` steps would drag
the mean towards the pad value. The fitted numbers are a plain JSON-ready dict
(`result.preprocessing`, saved in result.json), and the same dict transforms training,
validation, `predict` and `evaluate` inputs, so the model always sees scaled inputs.

Masked steps are left exactly as they were: the mask is computed from the raw input
before scaling, and a `mask_value` step must still read as `mask_value` afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("feature", "global", "min_max")
# sklearn's rule for a scale that is zero up to rounding: treat the feature as constant
CONSTANT_TOLERANCE = 10 * np.finfo(np.float64).eps


def check_standardize(value: object) -> str | None:
    """The method name, or None; anything else is a ValueError naming the argument."""
    if value is None or (isinstance(value, str) and value in METHODS):
        return value
    allowed = ", ".join(repr(m) for m in METHODS)
    raise ValueError(f"standardize: unknown {value!r}; expected one of {allowed} or None")


def safe_scale(scale: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A constant feature gets scale 1 (so it becomes 0, not a division by zero)."""
    tiny = scale <= CONSTANT_TOLERANCE * np.maximum(np.abs(level), 1.0)
    return np.where(tiny, 1.0, scale)


def fit_preprocessing(x: np.ndarray, mask: np.ndarray | None, method: str) -> dict[str, Any]:
    """Fit `method` on the real steps of `x` (n, timesteps, features); a JSON-ready dict.

    The dict holds the method, the numbers that define the transform and what they were
    fitted on (rows and real steps), and nothing else: `apply_preprocessing` needs only it.
    """
    check_standardize(method)
    real = (x.reshape(-1, x.shape[-1]) if mask is None else x[mask]).astype(np.float64)
    if real.shape[0] == 0:
        raise ValueError("standardize: the training rows have no real (unmasked) steps to fit on")
    fitted_on = {"rows": int(x.shape[0]), "steps": int(real.shape[0])}
    if method == "min_max":
        low, high = real.min(axis=0), real.max(axis=0)
        scale = safe_scale(high - low, high)
        return {"method": method, "min": low.tolist(), "range": scale.tolist(), "fitted_on": fitted_on}
    axis = 0 if method == "feature" else None
    mean, std = real.mean(axis=axis), real.std(axis=axis)
    std = safe_scale(std, mean)
    return {"method": method, "mean": mean.tolist(), "std": std.tolist(), "fitted_on": fitted_on}


def shift_and_scale(doc: dict[str, Any], features: int) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) float64 arrays of shape (features,) from a fitted dict, checked."""
    method = doc.get("method") if isinstance(doc, dict) else None
    known: dict[object, tuple[str, str]] = {
        "feature": ("mean", "std"),
        "global": ("mean", "std"),
        "min_max": ("min", "range"),
    }
    keys = known.get(method)
    if keys is None:
        raise ValueError(f"preprocessing: unknown method {method!r}; expected one of {METHODS}")
    try:
        shift, scale = (np.broadcast_to(np.asarray(doc[k], np.float64), (features,)) for k in keys)
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"preprocessing: {method!r} needs {keys[0]!r} and {keys[1]!r} numbers for {features} features"
        ) from None
    if not (np.all(np.isfinite(shift)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        raise ValueError(f"preprocessing: {keys[0]!r} must be finite and {keys[1]!r} finite and > 0")
    return shift, scale


def apply_preprocessing(x: np.ndarray, mask: np.ndarray | None, doc: dict[str, Any] | None) -> np.ndarray:
    """`x` scaled by a fitted dict (float32); masked steps keep their raw values. None: `x` as it is."""
    if doc is None:
        return x
    shift, scale = shift_and_scale(doc, x.shape[-1])
    out = ((x.astype(np.float64) - shift) / scale).astype(np.float32)
    return out if mask is None else np.where(mask[..., None], out, x)


__all__ = ["METHODS", "apply_preprocessing", "check_standardize", "fit_preprocessing"]
