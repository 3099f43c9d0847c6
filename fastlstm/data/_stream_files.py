"""Data bigger than memory: training inputs read from disk block by block, never whole.

Three kinds of `x` stream:

- a row array that is not read whole: a memory-mapped `.npy` (`np.load(path,
  mmap_mode="r", allow_pickle=False)`), or a directory of `.npy` shards `x_000.npy, y_000.npy, x_001.npy,
  y_001.npy, ...` (sorted by name; optional `w_000.npy`... sample weights). `x` rows are
  read by contiguous ranges; `y` (and the weights) are small and read whole;
- a Keras `PyDataset` (`__len__`, `__getitem__(i) -> (x, y[, sample_weight])`,
  `on_epoch_end`): each item is one optimizer step, as in `keras.Model.fit`;
- a generator factory: a zero-argument callable returning an iterator of `(x, y[, w])`
  batches for one epoch (called once per epoch).

A PyDataset or a generator is read once before training (to check every batch's shape
and dtype, count the rows, infer the task from the labels and fit `standardize`), then
once per epoch. Memory-mapped rows are read once per epoch (plus one pass for
`standardize`). Batches are checked as they are read: a batch whose shape or dtype
differs from the first is a `ValueError` naming its index.

The blocks this module yields are host arrays of `block_batches` batches (the shape the
streaming block program of fastlstm/runtime/_streaming.py takes); memory-mapped pages read for a
block are released after it is copied, so the process's resident memory is bounded by the
block size and the prefetch depth, not by the file.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import mmap
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from fastlstm.data._preprocessing import safe_scale

# memory-mapped x at least this large streams by default (`stream=None`)
STREAM_THRESHOLD_BYTES = 1 << 30
# host bytes of x per block of batches (the block program's input)
BLOCK_BYTES = 4 << 20


def is_batch_source(x: object) -> bool:
    """A Keras PyDataset(-like) object or a generator factory: streamed batch by batch."""
    if isinstance(x, np.ndarray):
        return False
    pydataset = hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")
    return pydataset or callable(x)


def is_shard_directory(x: object) -> bool:
    return isinstance(x, (str, os.PathLike)) and Path(x).is_dir()


def wants_stream(x: object, stream: bool | None) -> bool:
    """Whether `x` is streamed: `stream=True/False` decides; None (the default) streams a
    PyDataset, a generator factory, a shard directory, and a memory-mapped array of at
    least `STREAM_THRESHOLD_BYTES`. Small in-memory arrays keep the device-resident path."""
    if stream is not None and not isinstance(stream, bool):
        raise ValueError(f"stream must be True, False or None (automatic), got {stream!r}")
    if is_shard_directory(x):
        if stream is False:
            raise ValueError("stream=False: a shard directory is always streamed; load the arrays yourself instead")
        return True
    if stream is not None:
        return stream
    if is_batch_source(x):
        return True
    return isinstance(x, np.memmap) and x.nbytes >= STREAM_THRESHOLD_BYTES


class RowSource:
    """x rows read by contiguous ranges from one or more arrays (memory-mapped or not)."""

    def __init__(self, parts: list[np.ndarray], names: list[str]):
        self.parts, self.names = parts, names
        self.offsets = np.cumsum([0] + [p.shape[0] for p in parts])
        first = parts[0]
        self.row_shape = tuple(first.shape[1:]) if first.ndim == 3 else (*first.shape[1:], 1)
        self.n = int(self.offsets[-1])

    @classmethod
    def of_array(cls, x: Any, name: str = "x") -> RowSource:
        check_rows_array(x, name)
        return cls([x], [name])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as a float32 (rows, timesteps, features) copy."""
        pieces = []
        for k, part in enumerate(self.parts):
            lo, hi = max(start, self.offsets[k]), min(stop, self.offsets[k + 1])
            if lo < hi:
                pieces.append(np.array(part[lo - self.offsets[k] : hi - self.offsets[k]], dtype=np.float32))
                release_pages(part)
        x = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return x.reshape((x.shape[0], *self.row_shape))


def release_pages(a: np.ndarray) -> None:
    """Drop a memory map's pages from this process's resident set (they stay in the page
    cache): without it every page ever read counts in the RSS, up to the whole file."""
    m = getattr(a, "_mmap", None)
    # Only shared maps: a copy-on-write one ("c") would lose the changes made to it.
    if m is not None and hasattr(m, "madvise") and getattr(a, "mode", None) in ("r", "r+", "w+"):
        with contextlib.suppress(OSError, ValueError):
            m.madvise(mmap.MADV_DONTNEED)


def _libc_trim() -> Callable[[int], object]:
    """glibc's `malloc_trim(0)`, or a no-op elsewhere."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda *_: 0


_MALLOC_TRIM = _libc_trim()


def return_freed_memory() -> None:
    """Give memory freed by finished blocks back to the system. glibc keeps freed blocks
    (megabytes each, allocated in the reader thread and freed in the main one) in its
    arenas, where fragments of them keep the resident set growing with the data read."""
    _MALLOC_TRIM(0)


def check_rows_array(x: object, name: str) -> None:
    """A streamable array: (samples, timesteps[, features]) of real numbers."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(f"{name}: expected an array of shape (samples, timesteps, features), got {type(x).__name__}")
    if len(x.shape) not in (2, 3) or min(x.shape) == 0:
        raise ValueError(f"{name} must be 2-D or 3-D with no empty axis, got shape {tuple(x.shape)}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must hold numbers, got dtype {x.dtype}")


def open_shards(directory: str | os.PathLike[str]) -> tuple[RowSource, np.ndarray, np.ndarray | None]:
    """A shard directory: (x rows, y, sample weights or None); every shard checked first.

    x shards are memory-mapped (never read here); y and weight shards are read whole."""
    folder = Path(directory)
    xs = sorted(folder.glob("x_*.npy"))
    if not xs:
        raise ValueError(f"x: {folder} holds no x_*.npy shards (expected x_000.npy, y_000.npy, ...)")
    parts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    for file in xs:
        suffix = file.name[2:]
        y_file, w_file = folder / f"y_{suffix}", folder / f"w_{suffix}"
        if not y_file.exists():
            raise ValueError(f"x: shard {file.name} has no {y_file.name} beside it")
        x = _load_shard(file, mmap_mode="r")
        check_rows_array(x, f"x shard {file.name}")
        if parts and (x.shape[1:] != parts[0].shape[1:] or x.dtype != parts[0].dtype):
            raise ValueError(
                f"x: shard {file.name} has rows of shape {x.shape[1:]} and dtype {x.dtype}, but "
                f"{xs[0].name} has {parts[0].shape[1:]} and {parts[0].dtype}; every shard must match"
            )
        y = _load_shard(y_file)
        if y.shape[0] != x.shape[0] or (ys and y.shape[1:] != ys[0].shape[1:]):
            raise ValueError(f"y: shard {y_file.name} has shape {y.shape}, expected {x.shape[0]} rows like its x")
        parts.append(x)
        ys.append(y)
        if w_file.exists():
            ws.append(_load_shard(w_file))
    if ws and len(ws) != len(xs):
        raise ValueError("sample_weight: some shards have a w_*.npy file and others not; give all or none")
    return RowSource(parts, [f.name for f in xs]), np.concatenate(ys), (np.concatenate(ws) if ws else None)


def _load_shard(file: Path, mmap_mode: Literal["r"] | None = None) -> np.ndarray:
    try:
        return np.load(file, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"x: cannot read shard {file.name}: {err}") from None


@dataclasses.dataclass(frozen=True)
class BatchLayout:
    """What every batch of a batch source must look like (taken from batch 0)."""

    row_shape: tuple[int, ...]
    x_dtype: np.dtype
    y_shape: tuple[int, ...]
    y_dtype: np.dtype
    has_weight: bool


class BatchSource:
    """A PyDataset or a generator factory, read batch by batch, each batch checked."""

    def __init__(self, source: Any):
        self.source = source
        self.pydataset = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        self.layout: BatchLayout | None = None
        self.n_batches: int | None = None
        self.batch_rows = 0  # rows of batch 0: every batch's but the last

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
        """One epoch's (x, y, weight or None) batches, checked, in the source's own order (as
        Keras, which does not shuffle a PyDataset: its `on_epoch_end`, called after each
        epoch, may); every batch but the last must have the same number of rows."""
        if self.pydataset:
            items: Iterator = ((i, self.source[i]) for i in range(len(self.source)))
        else:
            items = enumerate(self._generator())
        count, last = 0, None
        for index, item in items:
            batch = self.checked(index, item)
            rows = batch[0].shape[0]
            self.batch_rows = self.batch_rows or rows
            if last is not None and last[1] < self.batch_rows:
                raise ValueError(
                    f"x: batch {last[0]} has {last[1]} rows but batch 0 has {self.batch_rows}: "
                    "only the last batch may be smaller"
                )
            if rows > self.batch_rows:
                raise ValueError(f"x: batch {index} has {rows} rows, more than batch 0's {self.batch_rows}")
            last = (index, rows)
            yield batch
            count += 1
        if self.n_batches is not None and count != self.n_batches:
            raise ValueError(f"x: the generator gave {count} batches this epoch, {self.n_batches} the first time")
        self.n_batches = count
        if self.pydataset:
            self.source.on_epoch_end()

    def _generator(self) -> Iterator:
        try:
            return iter(self.source())
        except TypeError as err:
            raise ValueError(f"x: a generator factory must return an iterator of (x, y) batches: {err}") from None

    def checked(self, index: int, item: Any) -> tuple[np.ndarray, np.ndarray, Any]:
        """(x float32 (rows, T, F), y, weight or None) of batch `index`, or a ValueError naming it."""
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"x: batch {index} is not an (x, y) or (x, y, sample_weight) tuple")
        x, y = np.asarray(item[0]), np.asarray(item[1])
        w = None if len(item) == 2 or item[2] is None else np.asarray(item[2], np.float32).reshape(-1)
        if x.ndim == 2:
            x = x[:, :, None]
        layout = BatchLayout(tuple(x.shape[1:]), x.dtype, tuple(y.shape[1:]), y.dtype, w is not None)
        if self.layout is None:
            check_rows_array(x, "x: batch 0")
            self.layout = layout
        elif layout != self.layout:
            raise ValueError(
                f"x: batch {index} has x rows {layout.row_shape} {layout.x_dtype}, y rows {layout.y_shape} "
                f"{layout.y_dtype}{', a weight' if layout.has_weight else ''}; batch 0 had x rows "
                f"{self.layout.row_shape} {self.layout.x_dtype}, y rows {self.layout.y_shape} {self.layout.y_dtype}"
                f"{', a weight' if self.layout.has_weight else ''}: every batch must have the same shapes and dtypes"
            )
        if y.shape[0] != x.shape[0] or (w is not None and w.shape[0] != x.shape[0]):
            raise ValueError(f"x: batch {index} has {x.shape[0]} rows of x but {y.shape[0]} of y")
        if x.shape[0] == 0:
            raise ValueError(f"x: batch {index} is empty")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"x: batch {index} contains NaN or inf values")
        return x.astype(np.float32, copy=False), y, w


class RunningMoments:
    """Chan et al.'s parallel mean/variance (and min/max), merged block by block in float64."""

    def __init__(self):
        self.count = 0
        self.mean: np.ndarray | float = 0.0  # per column once a block is added
        self.m2: np.ndarray | float = 0.0
        self.low: np.ndarray | float = np.inf
        self.high: np.ndarray | float = -np.inf

    def add(self, values: np.ndarray) -> None:
        """`values` (rows, columns) float64: one more block of observations per column."""
        k = values.shape[0]
        if k == 0:
            return
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self.count + k
        delta = mean - self.mean
        self.mean = self.mean + delta * (k / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * k / total)
        self.count = total
        self.low = np.minimum(self.low, values.min(axis=0))
        self.high = np.maximum(self.high, values.max(axis=0))


def fit_streamed(blocks: Iterator[tuple[np.ndarray, np.ndarray | None]], method: str) -> dict[str, Any]:
    """`fastlstm.data._preprocessing.fit_preprocessing` over blocks of (x, mask), in one pass."""

    moments, steps, rows = RunningMoments(), 0, 0
    for x, mask in blocks:
        rows += x.shape[0]
        real = (x.reshape(-1, x.shape[-1]) if mask is None else x[mask]).astype(np.float64)
        steps += real.shape[0]
        moments.add(real.reshape(-1, 1) if method == "global" else real)
    if steps == 0:
        raise ValueError("standardize: the training rows have no real (unmasked) steps to fit on")
    fitted_on = {"rows": int(rows), "steps": int(steps)}
    # steps > 0: a block was added, so the moments are per-column arrays
    if method == "min_max":
        low, high = cast(np.ndarray, moments.low), cast(np.ndarray, moments.high)
        scale = safe_scale(high - low, high)
        return {"method": method, "min": low.tolist(), "range": scale.tolist(), "fitted_on": fitted_on}
    mean, std = cast(np.ndarray, moments.mean), np.sqrt(cast(np.ndarray, moments.m2) / moments.count)
    if method == "global":
        mean, std = mean[0], std[0]
    std = safe_scale(std, mean)
    return {"method": method, "mean": mean.tolist(), "std": std.tolist(), "fitted_on": fitted_on}


def block_batches(batch_size: int, row_shape: tuple[int, ...], steps: int) -> int:
    """Batches per block: about `BLOCK_BYTES` of x, at most one epoch."""
    batch_bytes = batch_size * int(np.prod(row_shape)) * 4
    return int(max(1, min(steps, BLOCK_BYTES // max(1, batch_bytes))))


__all__ = [
    "BLOCK_BYTES",
    "STREAM_THRESHOLD_BYTES",
    "BatchSource",
    "RowSource",
    "fit_streamed",
    "is_batch_source",
    "open_shards",
    "wants_stream",
]
