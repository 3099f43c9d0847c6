"""Validation sequences that repeat training data: equal sequences, and shared long runs.

Windows cut with stride 1 from one series and split at random put nearly every
validation window next to a training window that shares all but one of its steps; the
validation score then measures memory, not generalisation. Comparing sequences pairwise
is O(n·m·t²); instead every timestep row is hashed to 64 bits (its float32 bit pattern,
mixed by random odd multipliers), every run of `k` consecutive rows is hashed from those
(a polynomial rolling hash), and a validation sequence overlaps when one of its runs is
among the training runs (a sorted-set lookup). For 10⁴ x 100 x 10 data that is a few
vectorised passes over the array.

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
    bits = (x.astype(np.float32) + np.float32(0.0)).view(np.uint32).astype(np.uint64)  # -0.0 -> 0.0
    multipliers = np.random.default_rng(0).integers(1, 2**63, size=x.shape[-1], dtype=np.uint64) * np.uint64(2) + 1
    with np.errstate(over="ignore"):
        h = ((bits + np.uint64(1)) * multipliers).sum(axis=-1, dtype=np.uint64)
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


def overlapping(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """(m,) whether each validation sequence shares a run of k rows with some training sequence."""
    g_train, v_train = run_hashes(*train, k)
    g_val, v_val = run_hashes(*val, k)
    if g_val.shape[1] == 0 or g_train.shape[1] == 0:
        return np.zeros(val[0].shape[0], bool)
    known = np.unique(g_train[v_train])
    return (np.isin(g_val, known) & v_val).any(axis=1)


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
    same = np.isin(sequence_hashes(*val), np.unique(sequence_hashes(*train))) & val[1].any(axis=1)
    overlap = overlapping(train, val, k)
    reversed_overlap = overlapping(train, (val[0][:, ::-1], val[1][:, ::-1]), k)
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
