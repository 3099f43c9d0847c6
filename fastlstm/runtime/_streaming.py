"""Streaming training: the block programs and the loop that feeds them from disk.

With streamed data (fastlstm/data/_stream_data.py) nothing of x lives on the device for
long: an epoch is a `begin` program, one `block` program call per block of K batches
(a `lax.scan` of the very per-batch step the in-memory epoch uses,
`TrainProgram.batch_step`), one `val_block` call per block of validation chunks, and an
`end` program (the in-memory epoch's own `end_epoch`: logs, callbacks). Each block is read
once and fed to every member of the chunk, so the I/O of S members is that of one, and
the members of a chunk share the data order (the "order" stream is then not a source of
variance; `result.members` and `result.meta["streaming"]` say so). A background thread
reads the next blocks and puts them on the devices, `PREFETCH_DEPTH` ahead, while the
compiled programs run.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import jax
import jax.numpy as jnp
import numpy as np

from fastlstm.data import _stream_files as stream
from fastlstm.data._stream_files import block_batches, return_freed_memory
from fastlstm.engine._program import (
    EVAL_BATCH,
    INIT_COMPILER_OPTIONS,
    MemberState,
    TrainConfig,
    TrainProgram,
    chunk_sums,
    compiled_program,
    with_penalty,
    zero_sums,
)
from fastlstm.runtime._chunk_run import ChunkRun
from fastlstm.runtime._devices import by_member, member_mesh, padded_count, replicated
from fastlstm.spec._plan import OVERSAMPLE_HPARAM

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastlstm.spec._plan import Plan

PREFETCH_DEPTH = 2  # blocks read and on the device ahead of the one being trained on


class EpochCarry(NamedTuple):
    """A member's state within a streamed epoch: its training state and the epoch's sums."""

    state: MemberState
    sums: dict
    val: dict
    was_active: jax.Array


class StreamProgram:
    """The pure per-member functions of a streamed epoch (the driver vmaps and jits them)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.program = TrainProgram(cfg)

    def begin(self, state: MemberState) -> EpochCarry:
        return EpochCarry(state, zero_sums(self.cfg), zero_sums(self.cfg), state.active)

    def block(self, carry: EpochCarry, hp: Mapping[str, jax.Array], batches: tuple) -> EpochCarry:
        """Train on K batches: (x, y, weight, mask, real rows, step number), each (K, batch, ...)."""
        p = self.program
        epoch_key, augment_key = p.epoch_key(carry.state), p.augment_key(carry.state)
        step = functools.partial(p.batch_step, hp=hp, tx=p.optimizer(hp), epoch_key=epoch_key, augment_key=augment_key)
        (state, sums), _ = jax.lax.scan(step, (carry.state, carry.sums), batches)
        return carry._replace(state=state, sums=sums)

    def val_block(self, carry: EpochCarry, hp: Mapping[str, jax.Array], chunks: tuple) -> EpochCarry:
        """Add K validation chunks' sums (`evaluate_sums`'s chunks, in the same order)."""
        params = carry.state.params

        def body(acc, chunk):
            return jax.tree.map(jnp.add, acc, chunk_sums(self.cfg, params, *chunk)), None

        val, _ = jax.lax.scan(body, carry.val, chunks)
        return carry._replace(val=val)

    def end(self, carry: EpochCarry, hp: Mapping[str, jax.Array]) -> tuple[MemberState, dict]:
        val = (
            with_penalty(self.cfg, dict(carry.val), carry.state.params, hp, self.cfg.n_val) if self.cfg.n_val else None
        )
        return self.program.end_epoch(carry.state, hp, carry.sums, val, carry.was_active)


@functools.lru_cache(maxsize=16)
def compiled_stream_program(cfg: TrainConfig) -> tuple[Callable, Callable, Callable, Callable]:
    """jit(vmap(...)) of (begin, block, val_block, end); a block's arrays have no member axis."""
    p = StreamProgram(cfg)
    return (
        jax.jit(jax.vmap(p.begin)),
        jax.jit(jax.vmap(p.block, in_axes=(0, 0, None)), donate_argnums=(0,)),
        jax.jit(jax.vmap(p.val_block, in_axes=(0, 0, None)), donate_argnums=(0,)),
        jax.jit(jax.vmap(p.end)),
    )


class Prefetcher:
    """Runs `items` in a background thread, `put`ting each block on the devices, at most
    `depth` ahead; an error there is raised in the caller at the item it would have been."""

    def __init__(self, items: Iterator[tuple[str, Any]], put: Callable, depth: int = PREFETCH_DEPTH):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items, put), daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[tuple[str, Any]], put: Callable) -> None:
        try:
            for kind, block in items:
                if not self._offer((kind, None if block is None else put(block))):
                    return
            self._offer(("error", RuntimeError("streaming: asked for an epoch past the last one")))
        except BaseException as err:  # raised again in the consumer
            self._offer(("error", err))

    def _offer(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> tuple[str, Any]:
        kind, value = self._queue.get()
        if kind == "error":
            raise value
        return kind, value

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


class StreamChunkRun(ChunkRun):
    """`ChunkRun` for streamed data: the same state, flags and controls; `step()` feeds the
    epoch's blocks to the block programs instead of running one epoch program."""

    def __init__(
        self,
        cfg: TrainConfig,
        keys: np.ndarray,
        hparams: dict[str, np.ndarray],
        ds: Any,
        initial_params: Any = None,
        slots: int | None = None,
        order_seed: int = 0,
        devices: Sequence[Any] | None = None,
    ):
        self.cfg, self.ds, self.order_seed = cfg, ds, int(order_seed)
        self.n_members = keys.shape[0]
        init_fn, _, self._finish_fn = compiled_program(cfg)
        self._begin, self._block, self._val_block, self._end = compiled_stream_program(cfg)
        self.mesh = member_mesh(max(self.n_members, slots or 0), devices)
        self.padded = padded_count(max(self.n_members, slots or 0), self.mesh)
        hp = {k: self._pad(v) for k, v in hparams.items()}
        sample_x, sample_mask = sample_inputs(ds, min(cfg.batch_size, cfg.n_train))
        init_args = (self._pad(keys), initial_params, hp, sample_x, sample_mask)
        state = init_fn.lower(*init_args).compile(INIT_COMPILER_OPTIONS.get(jax.default_backend()))(*init_args)
        self.state = jax.device_put(jax.device_get(state), by_member(self.mesh))
        self.hp = jax.device_put(hp, by_member(self.mesh))
        self.per_block = block_batches(cfg.batch_size, ds.train.row_shape, cfg.steps_per_epoch)
        self.val_chunk = min(EVAL_BATCH, cfg.n_val) if cfg.n_val else 0
        self.val_per_block = self._val_chunks_per_block()
        self.epoch = 0
        self._feed: Prefetcher | None = None
        self._feed_epoch = -1

    def _val_chunks_per_block(self) -> int:
        if not self.cfg.n_val:
            return 0
        chunk_bytes = self.val_chunk * int(np.prod(self.ds.val.row_shape)) * 4
        return max(1, min(-(-self.cfg.n_val // self.val_chunk), stream.BLOCK_BYTES // chunk_bytes))

    def _feed_for(self, epoch: int) -> Prefetcher:
        if self._feed is None or self._feed_epoch != epoch:
            self.close()
            shared = replicated(self.mesh)
            blocks = epoch_blocks(self.ds, self.cfg, epoch, self.order_seed, (self.per_block, self.val_per_block))
            self._feed = Prefetcher(blocks, lambda block: jax.device_put(block, shared))
        return self._feed

    @overload
    def step(self, fetch: Literal[True] = True) -> dict[str, np.ndarray]: ...
    @overload
    def step(self, fetch: bool) -> dict[str, np.ndarray] | None: ...
    def step(self, fetch: bool = True) -> dict[str, np.ndarray] | None:
        """Train every member for one epoch, block by block; its logs on the host."""
        try:
            return self._step(fetch)
        except BaseException:
            self.close()
            raise

    def _step(self, fetch: bool) -> dict[str, np.ndarray] | None:
        feed = self._feed_for(self.epoch)
        carry = self._begin(self.state)
        kind, block = feed.get()
        while kind != "end":
            carry = (self._block if kind == "train" else self._val_block)(carry, self.hp, block)
            # Dispatch is asynchronous: without waiting, every block of the epoch would be
            # queued on the device at once (memory growing with the data). The reader
            # thread keeps the next blocks ready meanwhile, so the device barely idles.
            jax.block_until_ready(carry.sums)
            del block
            return_freed_memory()
            kind, block = feed.get()
        self.state, logs = self._end(carry, self.hp)
        self.epoch += 1
        self._feed_epoch = self.epoch
        if self.epoch >= self.cfg.epochs:
            self.close()
        if not fetch:
            return None
        return {k: v[: self.n_members] for k, v in jax.device_get(logs).items()}

    def close(self) -> None:
        """Stop the reader thread (a finished, stopped or failed chunk)."""
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def finish(self) -> MemberState:
        self.close()
        return super().finish()

    def __del__(self) -> None:  # a halted sweep drops its chunk: stop the reader with it
        with contextlib.suppress(Exception):
            self.close()


def epoch_blocks(ds: Any, cfg: TrainConfig, first_epoch: int, order_seed: int, per_block: tuple[int, int]) -> Iterator:
    """Every remaining epoch's blocks in order: training, validation, then an end mark (a
    function, not a method: the reader thread must not keep the chunk alive)."""
    train_per_block, val_per_block = per_block
    val_chunk = min(EVAL_BATCH, cfg.n_val) if cfg.n_val else 0
    for epoch in range(first_epoch, cfg.epochs):
        blocks = ds.train.train_blocks(cfg.batch_size, train_per_block, epoch, order_seed, cfg.shuffle)
        yield from (("train", b) for b in blocks)
        if cfg.n_val:
            yield from (("val", b) for b in ds.val.eval_blocks(val_chunk, val_per_block))
        yield "end", None


def sample_inputs(ds: Any, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Zeros of a training batch's shape (initialisation needs shapes only, and reading a
    streamed batch for it would cost a read)."""
    x = np.zeros((rows, *ds.train.row_shape), np.float32)
    return x, (np.ones(x.shape[:2], bool) if ds.train.masked else None)


def check_stream_plan(ds: Any, plan: Plan) -> None:
    """A PyDataset's or generator's batches are its steps: every group's batch_size must be
    the rows of its batches; class-balanced sampling draws rows from the whole training set,
    which a stream does not hold (checked before anything compiles)."""
    if any(m.hparams.get(OVERSAMPLE_HPARAM, 0) for m in plan.members):
        raise ValueError(
            "oversample: class-balanced sampling draws any row at any step, but streamed data is read "
            "block by block; pass the arrays in memory (stream=False) or use class_weight='balanced'"
        )
    source = getattr(ds.train, "batches", None)
    if source is None:
        return
    for group in plan.groups:
        if group.structure["batch_size"] != source.batch_rows:
            raise ValueError(
                f"batch_size={group.structure['batch_size']}: the PyDataset or generator gives batches of "
                f"{source.batch_rows} rows, which are its steps; pass batch_size={source.batch_rows}"
            )


__all__ = ["PREFETCH_DEPTH", "Prefetcher", "StreamChunkRun", "check_stream_plan", "compiled_stream_program"]
