"""Checks on how an input array is laid out, before it trains the wrong problem.

Two mistakes train without any error, and every statistic after them is about the
wrong problem, so they are caught where arrays enter (`fastlstm.data._prepare`):

- aeon and sktime hold series channels first, `(n, channels, length)`; fastlstm, like
  Keras, wants `(n, timesteps, features)`. GunPoint `(50, 1, 150)` would train as one
  step of 150 features. `apply_layout` transposes on request (`layout="channels_first"`)
  and, with no layout given, refuses a shape that is very likely transposed.
- zero padding without lengths or a mask: a ragged problem padded with zeros to one
  array (JapaneseVowels to `(n, 29, 12)`) trains on the padding as if it were data.
  `warn_zero_padding` says so once, pointing at the ways to mark padding.
"""

from __future__ import annotations

import warnings
from typing import Literal, cast

import numpy as np

Layout = Literal["steps_first", "channels_first"]
LAYOUTS: tuple[str, ...] = ("steps_first", "channels_first")

# A shape is "likely transposed" with one step and several features, or with far more
# features than steps: an LSTM over a handful of steps of a long vector is rare, a
# channels-first series read as steps-first is common (every UCR/UEA problem from aeon).
# BasicMotions (40, 6, 100) read as 6 steps x 100 features is caught (100 >= 8 * 6), its
# transposition (40, 100, 6) is not; so is JapaneseVowels padded to (n, 29, 12).
TRANSPOSED_RATIO, TRANSPOSED_MIN_FEATURES = 8, 16
# Zero padding: at least this share of the rows (and 2) end (or start) in all-zero steps,
# of more than one run length, while the steps between hold (almost) no all-zero step.
PADDED_SHARE, PADDED_MIN_ROWS, INTERIOR_ZERO_SHARE = 0.10, 2, 0.01


class ZeroPaddingWarning(UserWarning):
    """x looks zero-padded (runs of all-zero steps of varying length at the ends of many
    rows) but nothing marks the padding, so the model trains on it."""


def check_layout(layout: object, name: str = "layout") -> Layout | None:
    """The layout option as given (None, "steps_first" or "channels_first"), else a ValueError."""
    if layout is not None and (not isinstance(layout, str) or layout not in LAYOUTS):
        raise ValueError(f"{name} must be one of {list(LAYOUTS)} or None, got {layout!r}")
    return cast("Layout | None", layout)  # None or one of LAYOUTS (checked)


def likely_transposed(shape: tuple[int, ...]) -> bool:
    """A 3-D (n, timesteps, features) shape that is much more likely (n, channels, length)."""
    _, steps, features = shape
    one_step = steps == 1 and features > 1
    return one_step or (features >= TRANSPOSED_MIN_FEATURES and features >= TRANSPOSED_RATIO * steps)


def transposed_error(name: str, shape: tuple[int, ...]) -> ValueError:
    """The one-line refusal of a likely channels-first array, with both ways out."""
    n, steps, features = shape
    return ValueError(
        f"{name} has shape {shape}: {steps} step{'' if steps == 1 else 's'} of {features} features looks like the "
        "aeon/sktime layout "
        f"(samples, channels, length) = ({n}, {steps}, {features}); fastlstm wants (samples, timesteps, "
        f"features): pass {name}.transpose(0, 2, 1), or layout='channels_first' (CLI: --layout channels_first, "
        "--set data.layout=channels_first); if it really is steps first, say layout='steps_first'"
    )


def apply_layout(arr: np.ndarray, layout: Layout | None, name: str) -> np.ndarray:
    """A 3-D array as (n, timesteps, features): transposed when channels first, refused
    when no layout was given and the shape is likely transposed (`likely_transposed`)."""
    if layout == "channels_first":
        return np.ascontiguousarray(arr.transpose(0, 2, 1))
    if layout is None and likely_transposed(arr.shape):
        raise transposed_error(name, arr.shape)
    return arr


def _end_runs(zero: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a (n, t) bool array of all-zero steps: the length of the leading and of
    the trailing run of zero steps (a row of zeros only counts as trailing)."""
    t = zero.shape[1]
    real = ~zero
    any_real = real.any(axis=1)
    first = np.where(any_real, real.argmax(axis=1), t)
    last = np.where(any_real, t - 1 - real[:, ::-1].argmax(axis=1), -1)
    return np.where(any_real, first, 0), t - 1 - last


def _padded_end(runs: np.ndarray) -> bool:
    """Many rows (PADDED_SHARE, at least PADDED_MIN_ROWS) have a run, of varying lengths."""
    padded = runs[runs > 0]
    enough = padded.size >= max(PADDED_MIN_ROWS, PADDED_SHARE * runs.size)
    return bool(enough and np.unique(padded).size > 1)


def zero_padding(x: np.ndarray) -> str | None:
    """'trailing' or 'leading' when x (n, t, f) looks zero-padded at that end, else None.

    Padding lies at one end only; data that is merely sparse has all-zero steps in the
    middle as well, so those (more than INTERIOR_ZERO_SHARE of the middle steps) clear it."""
    if x.ndim != 3 or x.shape[0] < PADDED_MIN_ROWS or x.shape[1] < 2:
        return None
    zero = ~np.any(x != 0, axis=2)
    lead, trail = _end_runs(zero)
    steps = np.arange(x.shape[1])
    middle = (steps >= lead[:, None]) & (steps < x.shape[1] - trail[:, None])
    if middle.any() and zero[middle].mean() > INTERIOR_ZERO_SHARE:
        return None
    if _padded_end(trail):
        return "trailing"
    return "leading" if _padded_end(lead) else None


def warn_zero_padding(x: np.ndarray, name: str = "x", stacklevel: int = 2) -> bool:
    """Warn (`ZeroPaddingWarning`) when `x` looks zero-padded and nothing marks the padding;
    True when it warned. Callers skip it when lengths, a mask or `mask_value` were given."""
    end = zero_padding(x)
    if end is None:
        return False
    zero = ~np.any(x != 0, axis=2)
    rows = int(np.count_nonzero(zero[:, -1] if end == "trailing" else zero[:, 0]))
    warnings.warn(
        f"{name}: {rows} of {x.shape[0]} sequences have {end} all-zero steps of varying length, which look like "
        "padding and would be trained on as data; mark it: pass the unpadded sequences as a list, save lengths "
        "beside x in an .npz, or mask it with ModelSpec(mask_value=0.0) (Keras Masking; CLI: "
        "--set model.mask_value=0.0)",
        ZeroPaddingWarning,
        stacklevel=stacklevel + 1,
    )
    return True
