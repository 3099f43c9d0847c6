"""Which rows `validation_split` holds out: Keras's last rows, or a seeded draw.

Keras takes the last rows before any shuffling, which is right for data in time order and
wrong for a file sorted by class (UCR/UEA `.ts` files often are: BasicMotions' last 8 of
40 rows are one class, so the model is scored on a class it barely trained on). So
`split` chooses:

- "last" (default, Keras's): the last `n - floor(n * (1 - validation_split))` rows.
- "shuffled": that many rows drawn at random.
- "stratified": that many rows drawn per class in proportion to its share, as
  scikit-learn's `StratifiedShuffleSplit` (its `_approximate_mode` allocation); and every
  class with rows gets at least one training row, so no class is validated unlearnt.

The draws come from one fixed `split_seed` (default 0), not from the members' seeds: every
member sees the same training and validation rows, so the spread across seeds is the
model's, not the split's. Each part keeps the file's row order (the training order is the
data-order stream's business). A windowed series is split by time in its reader
(fastlstm/data/_series.py); shuffled windows would overlap training windows, so the other
modes are refused there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

if TYPE_CHECKING:
    from fastlstm.data._arrays import Dataset

SplitMode = Literal["last", "shuffled", "stratified"]
SPLIT_MODES: tuple[str, ...] = get_args(SplitMode)

__all__ = [
    "SPLIT_MODES",
    "SplitMode",
    "check_split",
    "check_stratified",
    "check_validation_split",
    "class_codes",
    "describe_split",
    "one_class_validation",
    "split_rows",
]


def check_split(split: object, split_seed: object) -> None:
    """Refuse an unknown mode or a seed that is not a non-negative int, naming the argument."""
    if not isinstance(split, str) or split not in SPLIT_MODES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_MODES)}; got {split!r}")
    if isinstance(split_seed, np.integer):
        split_seed = int(split_seed)
    if isinstance(split_seed, bool) or not isinstance(split_seed, int) or split_seed < 0:
        raise ValueError(f"split_seed must be an int >= 0, got {split_seed!r}")


def check_validation_split(validation_split: object) -> None:
    """`validation_split` is a fraction in [0, 1): checked here for in-memory and streamed data alike."""
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0.0 <= validation_split < 1.0
    ):
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")


def validation_count(n: int, validation_split: float) -> int:
    """Keras's count of held-out rows (the split point is floored), for every mode alike, so
    switching the mode changes which rows are held out, never how many."""
    held = n - math.floor(n * (1.0 - validation_split))
    if held in (0, n):
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set with {n} samples"
        )
    return held


def split_rows(
    n: int,
    validation_split: float,
    split: SplitMode = "last",
    split_seed: int = 0,
    y: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) as sorted index arrays; `y` (the targets, one label
    per row or one-hot rows) is needed by "stratified" only."""
    check_split(split, split_seed)
    held = validation_count(n, validation_split)
    if split == "last":
        return np.arange(n - held), np.arange(n - held, n)
    rng = np.random.default_rng(int(split_seed))
    if split == "shuffled":
        order = rng.permutation(n)
        return np.sort(order[held:]), np.sort(order[:held])
    codes = class_codes(y)
    if codes is None:
        raise ValueError(
            "split='stratified' needs one class label per row, but y has several columns that are not one-hot "
            "(multi-label or regression targets); use split='shuffled'"
        )
    return _stratified(codes, held, rng)


def class_codes(y: np.ndarray | None) -> np.ndarray | None:
    """Each row's class as a code 0..k-1: a column of labels (numbers or names) by value,
    one-hot rows by their hot column; None for anything else (multi-label, regression rows)."""
    if y is None:
        return None
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        return np.unique(arr, return_inverse=True)[1].reshape(-1)
    if arr.ndim == 2 and arr.dtype.kind in "biuf" and np.all((arr == 0) | (arr == 1)) and np.all(arr.sum(1) == 1):
        return np.argmax(arr, axis=1)
    return None


def _stratified(codes: np.ndarray, held: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """StratifiedShuffleSplit's draw: per-class training counts by `_approximate_mode`, each
    class with rows raised to one training row where the training part has room, then the
    validation counts from what is left; the rows of each class in a random order."""
    counts = np.bincount(codes)
    n_train = codes.size - held
    train_counts = _at_least_one_each(_approximate_mode(counts, n_train, rng), counts)
    val_counts = _approximate_mode(counts - train_counts, held, rng)
    train, val = [], []
    for k in range(counts.size):
        rows = rng.permutation(np.flatnonzero(codes == k))
        train.append(rows[: train_counts[k]])
        val.append(rows[train_counts[k] : train_counts[k] + val_counts[k]])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """scikit-learn's `_approximate_mode`: `draws` spread over classes in proportion to
    `counts`, floored, the remaining draws to the largest remainders (ties broken at random)."""
    continuous = draws * counts / counts.sum()
    floored = np.floor(continuous).astype(np.int64)
    need = int(draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if need <= 0:
            break
        (candidates,) = np.where(remainder == value)
        chosen = rng.choice(candidates, size=min(candidates.size, need), replace=False)
        floored[chosen] += 1
        need -= chosen.size
    return floored


def _at_least_one_each(train_counts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Give every class with rows one training row, taken from the class with the most
    training rows (proportions move by one row at most); a class a small training part
    has no room for stays out (the caller says so once the task is known)."""
    out = train_counts.copy()
    for k in np.flatnonzero((out == 0) & (counts > 0)):
        donor = int(np.argmax(out))
        if out[donor] <= 1:
            break
        out[donor] -= 1
        out[k] += 1
    return out


def check_stratified(train_y: np.ndarray, val_y: np.ndarray | None, task: str, out_dim: int) -> None:
    """After the task is known: stratifying needs class labels (not regression, not several
    sigmoid outputs), and every class with two or more rows must have training rows."""
    if task == "regression" or (task == "binary" and out_dim > 1):
        what = "a regression target" if task == "regression" else f"multi-label targets ({out_dim} outputs)"
        raise ValueError(
            f"split='stratified' needs class labels, but y is {what}; use split='shuffled' "
            "(or 'last' for data in time order)"
        )
    labels = class_codes(train_y if val_y is None else np.concatenate([train_y, val_y]))
    if labels is None or val_y is None:
        return
    counts = np.bincount(labels)
    trained = np.bincount(labels[: len(train_y)], minlength=counts.size)
    lost = np.flatnonzero((counts >= 2) & (trained == 0))
    if lost.size:
        raise ValueError(
            f"split='stratified': validation_split leaves {len(train_y)} training rows for {counts.size} classes, "
            f"so {lost.size} of them would have no training row; lower validation_split"
        )


def describe_split(validation: dict[str, Any] | None) -> str:
    """The header's words for how the validation rows were chosen: "last 20% of rows",
    "stratified 20% of rows (8), split seed 0", "the given set (40 rows)", or "none"."""
    if not validation:
        return "none"
    if validation.get("source") != "validation_split":
        return f"the given set ({validation.get('rows')} rows)"
    share = f"{100 * validation['fraction']:.3g}% of rows ({validation['rows']})"
    mode = validation["split"]
    if mode == "last":
        return f"last {share}"
    return f"{mode} {share}, split seed {validation['split_seed']}"


def one_class_validation(ds: Dataset) -> str | None:
    """One plain line when a classifier's validation rows hold a single class (while training
    has several), else None. Why: every validation score then measures one class - a file
    sorted by class under Keras's last-rows split (BasicMotions_TRAIN.ts) - and the summary's
    "majority-class rate 1.000" does not say so in words."""
    labels = _scored_classes(ds)
    if labels is None:
        return None
    train, val = labels
    if np.unique(val).size != 1 or np.unique(train).size < 2:
        return None
    code = int(val[0])
    names = getattr(ds, "class_names", None)
    name = names[code] if names is not None and code < len(names) else str(code)
    record = getattr(ds, "validation", None) or {}
    rows = f"all {val.size} validation rows are class {name!r}, so every validation score is that class's"
    if record.get("source") == "validation_split" and record.get("split") != "stratified":
        how = "the last rows" if record.get("split") == "last" else "a shuffled draw"
        return f"warning: {rows} ({how}; is the file sorted by class?): pass --split stratified"
    return f"warning: {rows}: validate on rows of every class"


def _scored_classes(ds: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """(training class, validation class) of each row for one-label classification, else None."""
    if ds.val is None or ds.streaming or ds.task not in ("classification", "binary"):
        return None
    if (getattr(ds, "inference", None) or {}).get("per_timestep"):
        return None
    y_train, y_val = np.asarray(ds.train.y), np.asarray(ds.val.y)
    if y_val.ndim == 2 and y_val.shape[1] > 1:
        if ds.task == "binary":
            return None  # multi-label: each output has its own two classes
        return np.argmax(y_train, axis=1), np.argmax(y_val, axis=1)
    y_train, y_val = y_train.reshape(-1), y_val.reshape(-1)
    if ds.task == "binary":
        return (y_train > 0.5).astype(np.int64), (y_val > 0.5).astype(np.int64)
    return y_train.astype(np.int64), y_val.astype(np.int64)
