"""Validation sequences that repeat training data: equal sequences, and shared long runs.

Windows cut with stride 1 from one series and split at random put nearly every
validation window next to a training window that shares all but one of its steps; the
validation score then measures memory, not generalisation. Comparing sequences pairwise
is O(n·m·t²); instead every timestep row is hashed to 64 bits (its float32 bit pattern,
mixed by random odd multipliers), every run of `k` consecutive rows is hashed from those
(a polynomial rolling hash), and a validation sequence overlaps when one of its runs is
among the training runs (a binary search in their sorted hashes). For 10⁴ x 100 x 10 data that is a few
vectorised passes over the array.

A feature that gives the label away (a copy of the label column, a code derived from it)
is the other leak: `label_features` finds features whose value at a sequence's last real
step takes few distinct values, each with one class only.

Runs are half the median length long (at least MIN_RUN steps): an overlap that long is
not chance for real-valued data. Discrete data (a few symbols per step) share runs by
chance; the same lookup on time-reversed validation sequences measures that chance rate,
and only the excess over it counts.
"""

from __future__ import annotations

import math

import numpy as np

MIN_RUN, MAX_RUN = 2, 64  # shared-run length bounds, in steps
_POWER = np.uint64(0x9E3779B97F4A7C15)  # the rolling hash's base (odd, golden-ratio bits)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def row_hashes(x: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, t) uint64 hash of each timestep row, and (n, t) whether the row counts
    (a real step, every value finite). Rows equal as float32 get equal hashes."""
    bits = (x.astype(np.float32) + np.float32(0.0)).view(np.uint32)  # + 0.0: -0.0 hashes as 0.0
    # numpy's stubs type integers(..., size=n, dtype=np.uint64) as a scalar; it is an (n,) array
    draws = np.random.default_rng(0).integers(1, 2**63, size=x.shape[-1], dtype=np.uint64)
    multipliers: np.ndarray = draws * np.uint64(2) + 1  # type: ignore[assignment]
    h = np.zeros(x.shape[:2], np.uint64)
    with np.errstate(over="ignore"):
        for j, multiplier in enumerate(multipliers):  # one feature at a time: no (n, t, f) uint64 copy
            h += (bits[:, :, j].astype(np.uint64) + np.uint64(1)) * multiplier
        h ^= h >> np.uint64(31)
        h *= _MIX
        h ^= h >> np.uint64(29)
    ok = real & np.isfinite(x).all(axis=-1)
    return h, ok


def run_hashes(h: np.ndarray, ok: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every run of k consecutive rows (n, t - k + 1) and whether all its rows count."""
    n, t = h.shape
    width = t - k + 1
    if width <= 0:
        return np.zeros((n, 0), np.uint64), np.zeros((n, 0), bool)
    g = np.zeros((n, width), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            g = g * _POWER + h[:, j : j + width]
    bad = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(~ok, axis=1)], axis=1)
    valid = (bad[:, k:] - bad[:, :width]) == 0
    return g, valid


def sequence_hashes(h: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """One hash per sequence over its counted rows and their positions (equal sequences, equal hashes)."""
    powers = np.cumprod(np.full(h.shape[1], _POWER, np.uint64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        return np.where(ok, h * powers, np.uint64(0)).sum(axis=1, dtype=np.uint64) + ok.sum(axis=1).astype(np.uint64)


def run_length(lengths: np.ndarray) -> int:
    """k: half the median real length, within [MIN_RUN, MAX_RUN]."""
    median = float(np.median(lengths)) if lengths.size else 0.0
    return int(min(MAX_RUN, max(MIN_RUN, math.ceil(median / 2))))


def training_runs(train: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """The sorted, distinct hashes of every run of k counted rows in the training data."""
    g, valid = run_hashes(*train, k)
    return _sorted_distinct(g[valid])


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting (NumPy 2.3+'s np.unique is ~15x slower on uint64 hashes)."""
    s = np.sort(values, axis=None)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


def _member(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """np.isin(values, known) for a sorted, distinct `known`, by binary search."""
    at = np.clip(np.searchsorted(known, values), 0, known.size - 1)
    return known[at] == values


def overlapping(known: np.ndarray, val: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """(m,) whether each validation sequence shares a run of k rows with the training runs `known`."""
    g_val, v_val = run_hashes(*val, k)
    if g_val.shape[1] == 0 or known.size == 0:
        return np.zeros(val[0].shape[0], bool)
    return (_member(g_val, known) & v_val).any(axis=1)


def leakage_counts(
    x_train: np.ndarray, real_train: np.ndarray, x_val: np.ndarray, real_val: np.ndarray
) -> dict[str, float | int]:
    """How many validation sequences equal or overlap training ones, and the chance rate.

    `chance_fraction` is the share of time-reversed validation sequences that overlap:
    what shared runs of this length amount to without any copying.
    """
    train = row_hashes(x_train, real_train)
    val = row_hashes(x_val, real_val)
    lengths = np.concatenate([real_train.sum(axis=1), real_val.sum(axis=1)])
    k = run_length(lengths)
    same = _member(sequence_hashes(*val), _sorted_distinct(sequence_hashes(*train))) & val[1].any(axis=1)
    known = training_runs(train, k)
    overlap = overlapping(known, val, k)
    reversed_overlap = overlapping(known, (val[0][:, ::-1], val[1][:, ::-1]), k)
    m = max(1, x_val.shape[0])
    affected = same | overlap
    return {
        "validation_sequences": int(x_val.shape[0]),
        "equal_to_training": int(same.sum()),
        "overlapping": int((overlap & ~same).sum()),
        "affected": int(affected.sum()),
        "fraction": float(affected.sum() / m),
        "chance_fraction": float(reversed_overlap.sum() / m),
        "run_length": k,
    }


# label_features: at least this many labelled sequences, and each distinct value seen on
# average this many times, before "each value has one class" can't be chance (a feature of
# n/4 values, each with 4 sequences of 2 balanced classes, matches by chance with 2^-(3n/4)).
MIN_LABELLED, MIN_REPEATS = 20, 4


def label_features(x: np.ndarray, real: np.ndarray, labels: np.ndarray) -> list[dict[str, int]]:
    """Features whose value at each sequence's last real step determines its class.

    `labels` (n,) int class codes. A continuous feature takes n distinct values and maps to
    the labels trivially; only features with at most n / MIN_REPEATS distinct values count."""
    keep = real.any(axis=1)
    if int(keep.sum()) < MIN_LABELLED or np.unique(labels[keep]).size < 2:
        return []
    last = x[np.arange(x.shape[0]), x.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1)][keep]
    labels = labels[keep]
    found = []
    for j in range(last.shape[1]):
        values = last[:, j]
        if not np.isfinite(values).all():
            continue
        distinct = np.unique(values).size
        if distinct < 2 or distinct * MIN_REPEATS > values.size:
            continue
        pairs = np.unique(np.stack([values.astype(np.float64), labels.astype(np.float64)], axis=1), axis=0)
        if pairs.shape[0] == distinct:
            found.append({"feature": j, "distinct_values": int(distinct)})
    return found
