"""`prepare_data` for streamed inputs: a `Dataset` whose splits read x block by block.

The same rules as `fastlstm.data._prepare.prepare_data` (Keras's), without ever holding x whole:
`validation_split` takes the last rows (a range of the same file), the labels are read
whole (they are small) for the task inference and `class_weight`, and `standardize` is
fitted by one streaming pass over the training rows (Chan's parallel mean and variance).
A `StreamSplit` then yields the blocks of batches the streaming block program takes
(fastlstm/runtime/_streaming.py); a PyDataset or a generator is read once here, checking every
batch, and once per epoch after that.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np

from fastlstm._common.coerce import to_python
from fastlstm.data import _arrays as base
from fastlstm.data import _stream_files as stream
from fastlstm.data._preprocessing import apply_preprocessing
from fastlstm.data._splits import validation_count
from fastlstm.data._stream_files import (
    BatchLayout,
    BatchSource,
    RowSource,
    fit_streamed,
    is_batch_source,
    is_shard_directory,
    open_shards,
)
from fastlstm.data._targets import resolve_targets

Block = tuple  # (x, y, weight, mask or None, real rows, step index) per batch of a block
# A batch source's (raw y, raw weight or None) -> (encoded y, float32 weights).
Encoder = Callable[[np.ndarray, "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass
class StreamSplit:
    """A streamed part of the data: x read by blocks of rows (or batches), labels in memory."""

    y: np.ndarray  # every row's encoded targets (a batch source: as its first read gave them)
    weight: np.ndarray  # (n,) float32
    row_shape: tuple[int, ...]  # (timesteps, features)
    rows: RowSource | None = None  # x as rows (memory-mapped, shards or in memory) ...
    start: int = 0  # ... from this row on
    batches: BatchSource | None = None  # ... or as a PyDataset's / generator's batches
    encode: Encoder | None = None  # batch source: (raw y, raw weight) -> (y, weight)
    ragged_mask: np.ndarray | None = None  # an in-memory validation_data's padding mask
    mask_value: float | None = None
    mask_zero: bool = False
    preprocessing: dict[str, Any] | None = None
    mask = None  # no whole-data mask: masks are computed per block

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def masked(self) -> bool:
        """Whether its blocks carry a mask (static: it decides the compiled program)."""
        return self.mask_value is not None or self.mask_zero or self.ragged_mask is not None

    def block_mask(self, x: np.ndarray, ragged: np.ndarray | None) -> np.ndarray | None:
        if not self.masked:
            return None
        return real_steps(x, ragged, self.mask_value, self.mask_zero)

    def raw_rows(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows [lo, hi) of this split, unscaled, with their mask; NaN/inf refused."""
        x = cast(RowSource, self.rows).read(self.start + lo, self.start + hi)  # a split read by rows
        if not np.all(np.isfinite(x)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ValueError(f"x contains NaN or inf values (first at index {(bad[0] + self.start + lo, *bad[1:])})")
        return x, self.block_mask(x, None if self.ragged_mask is None else self.ragged_mask[lo:hi])

    def scaled(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return apply_preprocessing(x, mask, self.preprocessing)

    def raw_blocks(self, rows_per_block: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """(x, mask) of every row in order, unscaled (the standardize pass)."""
        for lo in range(0, len(self), rows_per_block):
            yield self.raw_rows(lo, min(lo + rows_per_block, len(self)))

    def train_blocks(self, batch_size: int, per_block: int, epoch: int, seed: int, shuffle: bool) -> Iterator[Block]:
        """One epoch's blocks of `per_block` batches. Rows are shuffled by blocks: the order of
        the blocks and the rows inside each come from (seed, epoch); a batch source keeps its
        own order."""
        if self.batches is not None:
            yield from self._batch_source_blocks(batch_size, per_block)
            return
        n, block_rows = len(self), per_block * batch_size
        starts = list(range(0, n, block_rows))
        rng = np.random.default_rng([seed, epoch]) if shuffle else None
        step = 0
        for b in rng.permutation(len(starts)) if rng is not None else range(len(starts)):
            lo, hi = starts[b], min(starts[b] + block_rows, n)
            x, mask = self.raw_rows(lo, hi)
            idx = np.arange(lo, hi)
            if rng is not None:
                perm = rng.permutation(hi - lo)
                x, mask, idx = x[perm], (None if mask is None else mask[perm]), idx[perm]
            yield pack(self.scaled(x, mask), self.y[idx], self.weight[idx], mask, batch_size, step)
            step += math.ceil((hi - lo) / batch_size)

    def _batch_source_blocks(self, batch_size: int, per_block: int) -> Iterator[Block]:
        group: list[Block] = []
        source, encode = cast(BatchSource, self.batches), cast(Encoder, self.encode)  # set together
        for step, (x, y, w) in enumerate(source.batches()):
            if x.shape[0] > batch_size:
                raise ValueError(f"x: batch {step} has {x.shape[0]} rows, more than batch_size={batch_size}")
            mask = self.block_mask(x, None)
            y, w = encode(y, w)
            group.append(pack(self.scaled(x, mask), y, w, mask, batch_size, step))
            if len(group) == per_block:
                yield stacked(group)
                group = []
        if group:
            yield stacked(group)

    def eval_blocks(self, chunk: int, per_block: int) -> Iterator[Block]:
        """Blocks of `per_block` chunks of `chunk` rows, in order (validation): (x, y, weight,
        mask or None, 1.0 at the real rows)."""
        n = len(self)
        for lo in range(0, n, chunk * per_block):
            hi = min(lo + chunk * per_block, n)
            x, mask = self.raw_rows(lo, hi)
            xb, yb, wb, mb, ok, _ = pack(self.scaled(x, mask), self.y[lo:hi], self.weight[lo:hi], mask, chunk, 0)
            yield xb, yb, wb, mb, ok.astype(np.float32)


def real_steps(x: np.ndarray, ragged: np.ndarray | None, mask_value: float | None, mask_zero: bool) -> np.ndarray:
    """(rows, timesteps) True at the real steps: not padding, not `mask_value`, not token 0
    with `mask_zero` (the rules of `fastlstm.data._prepare`, always as an array)."""
    mask = np.ones(x.shape[:2], bool) if ragged is None else ragged
    if mask_zero:
        mask = mask & (x[..., 0] != 0)
    if mask_value is not None:
        mask = mask & np.any(x != np.float32(mask_value), axis=-1)
    return mask


def pack(x, y, w, mask, batch_size: int, step: int) -> Block:
    """Rows -> one block's arrays: (batches, batch_size, ...) zero-padded, which rows are real,
    and each batch's step number in the epoch (its dropout key)."""
    rows = x.shape[0]
    n_batches = math.ceil(rows / batch_size)
    real = np.arange(n_batches * batch_size) < rows

    def batched(a):
        if a is None:
            return None
        pad = n_batches * batch_size - rows
        a = np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)]) if pad else a
        return a.reshape((n_batches, batch_size, *a.shape[1:]))

    steps = np.arange(step, step + n_batches, dtype=np.int32)
    return (*(batched(a) for a in (x, y, w, mask)), real.reshape(n_batches, batch_size), steps)


def stacked(blocks: list[Block]) -> Block:
    return tuple(None if parts[0] is None else np.concatenate(parts) for parts in zip(*blocks))


def prepare_stream_data(x: object, y: object, **options: Any) -> base.Dataset:
    """`fastlstm.data._prepare.prepare_data`'s arguments and checks, for a streamed `x`."""
    _check_stream_options(options)
    num_classes, output_dim, mask_value, validation_split = (
        to_python(options[k]) for k in ("num_classes", "output_dim", "mask_value", "validation_split")
    )
    sample_weight, class_weight = options["sample_weight"], options["class_weight"]
    base.check_data_arguments(
        options["loss"], num_classes, output_dim, mask_value, validation_split, sample_weight, class_weight
    )
    masking = {"mask_value": mask_value, "mask_zero": options["mask_zero"]}
    if is_batch_source(x):
        train, val, raw_y, raw_val_y = _batch_source_splits(x, y, options, masking)
    else:
        train, val, raw_y, raw_val_y = _row_splits(x, y, options, validation_split, masking)
    val_name = "validation_data y" if options["validation_data"] is not None else "y"
    ys = [("y", raw_y)] + ([(val_name, raw_val_y)] if val is not None else [])
    targets = resolve_targets(ys, options["task"], options["loss"], num_classes, output_dim)
    table = None
    if class_weight is not None:
        weights, table = base.class_weights(class_weight, raw_y, targets)
        train.weight = weights if train.batches is None else train.weight
    train.y = base.encode_targets(raw_y, targets)
    if val is not None:
        val.y = base.encode_targets(raw_val_y, targets)
    if train.batches is not None:
        train.encode = _batch_encoder(targets, table)
    preprocessing = _fit_standardize(options["standardize"], train, val)
    return base.Dataset(
        train,
        val,
        targets.task,
        targets.loss,
        base.checked_metrics(options["metrics"], targets),
        targets.out_dim,
        targets.num_classes,
        targets.as_dict(),
        preprocessing,
        table,
        None,
    )


def _check_stream_options(options: dict[str, Any]) -> None:
    base.check_options(
        options["standardize"],
        options["class_weight_grid"],
        options["class_weight"],
        options["sample_weight"],
        options["mask_zero"],
        options["sequence_targets"],
    )
    if options["sequence_targets"]:
        raise ValueError("x: streamed data does not support per-timestep targets yet; pass in-memory arrays")
    if options.get("standardize_target"):
        raise ValueError("standardize_target is not supported with streamed data yet; scale y before the sweep")
    if options["class_weight_grid"]:
        raise ValueError("grid['class_weight'] is not supported with streamed data yet; pass one class_weight")


def _row_splits(x: Any, y: Any, options: dict, validation_split: float, masking: dict) -> tuple:
    """A row array or shard directory: (train, val or None, raw train y, raw val y)."""
    if is_shard_directory(x):
        if y is not None or options["sample_weight"] is not None:
            raise ValueError("y: a shard directory holds its own y_*.npy (and w_*.npy) files; pass y=None")
        rows, y, weight = open_shards(x)
    else:
        rows, weight = RowSource.of_array(x), options["sample_weight"]
    if y is None:
        raise ValueError("y is required with a memory-mapped x")
    y = base.as_targets(y, "y", rows.n)
    weight = base.checked_weights(weight, "sample_weight", rows.n)
    split_at = rows.n
    if options["validation_data"] is not None:
        val, val_y = _in_memory_validation(options["validation_data"], rows.row_shape, masking)
    elif validation_split > 0:
        split_at = rows.n - validation_count(rows.n, validation_split)  # the last rows, as Keras
        val, val_y = (
            StreamSplit(y[split_at:], weight[split_at:], rows.row_shape, rows, split_at, **masking),
            y[split_at:],
        )
    else:
        val, val_y = None, None
    train = StreamSplit(y[:split_at], weight[:split_at], rows.row_shape, rows, 0, **masking)
    return train, val, y[:split_at], val_y


def _in_memory_validation(validation_data: object, row_shape: tuple, masking: dict) -> tuple[StreamSplit, np.ndarray]:
    """`validation_data` beside streamed training data: read into memory (as Keras) and
    evaluated by the same blocks."""
    xv, yv, wv, ragged = base.validation_part(validation_data, row_shape[-1])
    split = StreamSplit(yv, wv, tuple(xv.shape[1:]), RowSource.of_array(xv, "validation_data x"), 0, **masking)
    split.ragged_mask = ragged
    return split, yv


def _batch_source_splits(x: object, y: object, options: dict, masking: dict) -> tuple:
    """A PyDataset or generator: one checked pass collects its labels (and weights)."""
    if y is not None:
        raise ValueError("y: a PyDataset or generator yields its own (x, y) batches; pass y=None")
    if options["validation_split"]:
        raise ValueError(
            "validation_split is not supported with a PyDataset or generator (as in Keras); pass validation_data"
        )
    if options["sample_weight"] is not None:
        raise ValueError("sample_weight: a PyDataset or generator yields its own (x, y, sample_weight) batches")
    source, ys, ws = BatchSource(x), [], []

    def checking_pass() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        for xb, yb, wb in source.batches():
            ys.append(yb)
            ws.append(wb)
            yield xb, real_steps(xb, None, masking["mask_value"], masking["mask_zero"])

    method = options["standardize"]  # fitted in the same pass: every batch is a training batch
    if method is not None:
        fitted = fit_streamed(checking_pass(), method)
    else:
        collections.deque(checking_pass(), 0)  # the checking pass alone
        fitted = None
    if not ys:
        raise ValueError("x: the PyDataset or generator gave no batches")
    row_shape = cast(BatchLayout, source.layout).row_shape  # set by the first batch
    raw_y = base.as_targets(np.concatenate(ys), "y", sum(len(b) for b in ys))
    weight = np.concatenate(ws) if ws[0] is not None else np.ones(len(raw_y), np.float32)
    train = StreamSplit(raw_y, base.checked_weights(weight, "sample_weight", len(raw_y)), row_shape, **masking)
    train.batches = source
    train.preprocessing = fitted
    val, val_y = None, None
    if options["validation_data"] is not None:
        val, val_y = _in_memory_validation(options["validation_data"], row_shape, masking)
    return train, val, raw_y, val_y


def _batch_encoder(targets: Any, table: dict[int, float] | None) -> Encoder:
    """(raw y, raw weight or None) of one batch -> (encoded y, float32 weights)."""

    def encode(y: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if table is not None:
            w, _ = base.class_weights(table, y, targets)
        elif w is None:
            w = np.ones(len(y), np.float32)
        return base.encode_targets(y, targets), np.asarray(w, np.float32)

    return encode


def _fit_standardize(method: str | None, train: StreamSplit, val: StreamSplit | None) -> dict[str, Any] | None:
    """Fit on the training rows only (one streaming pass), then scale every block of both."""
    if method is None:
        return None
    if train.batches is not None:  # fitted in the checking pass
        if val is not None:
            val.preprocessing = train.preprocessing
        return train.preprocessing
    per_block = max(1, stream.BLOCK_BYTES // (4 * int(np.prod(train.row_shape))))
    fitted = fit_streamed(train.raw_blocks(per_block), method)
    for split in (train, val):
        if split is not None:
            split.preprocessing = fitted
    return fitted


def fingerprint(ds: base.Dataset) -> str:
    """SHA-256 of a streamed dataset's identity (see `fastlstm.api._sweep.stream_digest`)."""
    digest = hashlib.sha256()
    streamed = cast("tuple[StreamSplit, StreamSplit | None]", (ds.train, ds.val))
    for split in streamed:
        if split is None:
            continue
        digest.update(repr((len(split), split.row_shape, split.start, split.masked)).encode())
        for a in (split.y, split.weight):
            digest.update(np.ascontiguousarray(a).tobytes())
        for part in split.rows.parts if split.rows is not None else ():
            name = getattr(part, "filename", None)
            stat = os.stat(name) if name else None
            digest.update(repr((part.shape, str(part.dtype), name, stat and (stat.st_size, stat.st_mtime_ns))).encode())
    return digest.hexdigest()


__all__ = ["StreamSplit", "fingerprint", "prepare_stream_data"]
