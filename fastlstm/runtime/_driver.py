"""The driver: compile groups, chunks, sharding, the epoch loop, and the controllers.

The pure program (fastlstm/engine/_program.py) trains one epoch of a chunk of members; this
module is everything around it that touches the host. For each compile group it
builds the static `TrainConfig`, splits the members into chunks that fit in memory
(and, on a CPU, in cache), shards each chunk's member axis over the local devices,
runs the epochs and, after each, hands the epoch's logs to the controllers (progress
bar, epoch clock, checkpointer), which may stop members or halt the sweep.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, cast

import jax
import numpy as np

from fastlstm.data._prepare import Dataset
from fastlstm.engine._callbacks import Callback
from fastlstm.engine._optimizers import float32_hparams
from fastlstm.engine._program import EVAL_BATCH, Data, TrainConfig, compiled_program
from fastlstm.runtime._chunk_run import ChunkRun
from fastlstm.runtime._controllers import ChunkInfo, ChunkOutcome, Controller, Decision, EpochEnd, SweepInfo, Timer
from fastlstm.runtime._devices import select_devices
from fastlstm.runtime._distributed import agree_on_min
from fastlstm.runtime._memory import (
    BUDGET_FRACTION,
    activation_bytes_per_member,
    auto_members_per_chunk,
    available_bytes,
    cache_friendly_members_per_device,
    check_member_fits,
    lstm_param_count,
    step_bytes_per_member,
)
from fastlstm.runtime._streaming import StreamChunkRun, sample_inputs
from fastlstm.spec._plan import STREAMS, Group, Plan, live_augmentations, oversampling


class SweepHalted(RuntimeError):
    """A controller halted the sweep (e.g. on Ctrl-C, after saving a checkpoint)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The sweep-wide settings the driver needs beside the plan and the data."""

    shuffle: bool
    callbacks: tuple[Callback, ...]
    precision: str
    members_per_chunk: int | None
    initial_params: Any = None
    architecture: tuple | None = None  # a layer-list ModelSpec's layers (None: the shorthand)
    devices: tuple | None = None  # the devices members are sharded over (None: every device)
    # "scan": the batched hand-written layer everywhere; "auto": cuDNN for one-member chunks,
    # falling back to the scan (with a warning) if that program fails to build; "cudnn": cuDNN
    # for every chunk, which the runner has checked are one member each (fastlstm/engine/_cudnn.py).
    recurrent_impl: str = "scan"


class CudnnFallbackWarning(UserWarning):
    """recurrent_impl="auto" could not build the cuDNN program and trains with the scan instead."""


def train_config(group: Group, plan: Plan, ds: Dataset, settings: Settings) -> TrainConfig:
    """The static description of one compile group (what one compiled program is for)."""
    s = group.structure
    return TrainConfig(
        units=s["units"],
        layers=s["layers"],
        out_dim=ds.out_dim,
        task=ds.task,
        loss=ds.loss,
        metrics=ds.metrics,
        optimizer=s["optimizer"],
        optimizer_flags=tuple(sorted(plan.optimizer_flags.items())),
        schedule=plan.schedule,
        piecewise=(plan.schedule_static["boundaries"], plan.schedule_static["values"])
        if plan.schedule == "piecewise_constant"
        else None,
        staircase=plan.schedule_static.get("staircase", False),
        batch_size=effective_batch_size(s["batch_size"], len(ds.train)),
        epochs=s["epochs"],
        n_train=len(ds.train),
        n_val=len(ds.val) if ds.val else 0,
        shuffle=settings.shuffle,
        use_dropout=any(plan.members[i].hparams["dropout"] > 0 for i in group.members),
        callbacks=settings.callbacks,
        precision=settings.precision,
        architecture=settings.architecture,
        live=live_layer_options(plan, group) if settings.architecture else frozenset(),
        augment=live_augmentations(plan, group),
        oversample=oversampling(plan, group),
    )


def effective_batch_size(batch_size: int, n_train: int) -> int:
    """The batch a member trains with: Keras's `fit` clips a batch_size above the training
    rows to one batch of all of them, so do we (padding it up would draw dropout masks and
    spend compute on rows that are not there, and differ from batch_size=n)."""
    return max(1, min(int(batch_size), int(n_train)))


def live_layer_options(plan: Plan, group: Group) -> frozenset:
    """The `layers.<i>.<option>` numbers non-zero for some member of the group: only those
    cost anything in the compiled program (a dropout rate that is 0 everywhere draws no mask)."""
    return frozenset(
        k for i in group.members for k, v in plan.members[i].hparams.items() if k.startswith("layers.") and v != 0
    )


def member_bytes(cfg: TrainConfig, ds: Dataset) -> int:
    """The memory estimate of one member of a compile group (fastlstm/runtime/_memory.py)."""
    return activation_bytes_per_member(
        timesteps=ds.timesteps,
        features=ds.features,
        units=cfg.units,
        layers=cfg.layers,
        batch_size=max(cfg.batch_size, min(EVAL_BATCH, cfg.n_val)),
        n_params=lstm_param_count(ds.features, cfg.units, cfg.layers, cfg.out_dim),
    )


def check_members_fit(plan: Plan, ds: Dataset, settings: Settings) -> None:
    """Refuse a sweep whose largest member cannot fit in memory, before anything compiles
    (`fastlstm.runtime._memory.check_member_fits`; the estimate the chunks are sized by)."""
    largest = max(member_bytes(train_config(group, plan, ds, settings), ds) for group in plan.groups)
    check_member_fits(largest)


def auto_chunk(cfg: TrainConfig, ds: Dataset, n_members: int, devices: Sequence[Any] | None = None) -> int:
    """Members per chunk: what fits in memory and, on a CPU, in cache (see fastlstm/runtime/_memory.py).

    With several processes each holds its share of a chunk; they agree on the smallest
    size any of them can hold, so that all run the same chunks."""
    per_member = member_bytes(cfg, ds)
    devices = select_devices() if devices is None else devices
    processes = jax.process_count()
    budget = None if processes == 1 else processes * int(BUDGET_FRACTION * available_bytes())
    size = auto_members_per_chunk(n_members, per_member, len(devices), budget)
    if devices[0].platform == "cpu":
        step = step_bytes_per_member(
            features=ds.features, units=cfg.units, layers=cfg.layers, batch_size=cfg.batch_size
        )
        size = min(size, len(devices) * cache_friendly_members_per_device(step))
    return agree_on_min(size)


def member_keys(plan: Plan, indices: Sequence[int]) -> np.ndarray:
    """(members, streams, 2) raw keys: one independent stream per purpose (`STREAMS`: init,
    order, dropout, and augment when the sweep augments), from its seed; a stream's key
    does not depend on the streams after it, and a sweep without augmentation passes the
    three it had before the fourth existed.

    `fold_in(PRNGKey(seed), stream)` for every member and stream in one vectorised call
    (a thousand members were 6000 small dispatches, one at a time)."""
    names = STREAMS if plan.augment else STREAMS[:3]
    seeds = [[plan.members[i].stream_seeds[s] for s in names] for i in indices]
    if any(seed >= 1 << 63 for row in seeds for seed in row):
        raise ValueError(f"seeds: expected seeds below 2**63, got {max(max(row) for row in seeds)}")
    # PRNGKey(seed) reads a Python int as an int64 (x64 on) or as its low 32 bits (x64 off).
    wide = np.asarray(seeds, np.uint64).reshape(-1)
    x64 = jax.config.jax_enable_x64  # type: ignore[attr-defined]  # flags are set at run time, unknown to jax's stubs
    as_jax_reads = wide.astype(np.int64) if x64 else (wide & 0xFFFFFFFF).astype(np.uint32)
    streams = np.tile(np.arange(len(names), dtype=np.uint32), len(seeds))
    return np.asarray(_stream_keys(as_jax_reads, streams), np.uint32).reshape(len(seeds), len(names), -1)


@jax.jit
def _stream_keys(seeds: jax.Array, streams: jax.Array) -> jax.Array:
    return jax.vmap(lambda seed, k: jax.random.fold_in(jax.random.PRNGKey(seed), k))(seeds, streams)


def device_data(ds: Dataset) -> Data:
    """The dataset as the program's `Data` (host arrays; the chunk puts them on its mesh)."""
    val = ds.val
    arrays = (
        ds.train.x,
        ds.train.y,
        ds.train.weight,
        ds.train.mask,
        val.x if val else None,
        val.y if val else None,
        val.weight if val else None,
        val.mask if val else None,
        ds.balanced_weight,
    )
    return Data(*arrays)  # type: ignore[arg-type]  # NumPy arrays here; the program sees them as jax.Arrays


@dataclasses.dataclass(frozen=True)
class Resume:
    """Where an interrupted sweep stopped: its chunk layout, finished chunks, the chunk in flight.

    States are flat lists of leaves (NumPy), in `jax.tree.flatten` order of `MemberState`;
    the driver rebuilds the trees from the program's structure.
    """

    layout: tuple[tuple[int, tuple[int, ...]], ...]  # (group, members) per chunk, in order
    done: dict[int, tuple[list[np.ndarray], dict[str, np.ndarray]]]  # chunk number -> (leaves, history)
    current: tuple[int, int, list[np.ndarray], dict[str, np.ndarray]] | None  # (chunk, epochs done, leaves, history)


class Driver:
    """Runs a plan: every group, chunk by chunk, epoch by epoch, with controllers between."""

    def __init__(
        self,
        plan: Plan,
        ds: Dataset,
        settings: Settings,
        controllers: Sequence[Controller] = (),
        resume: Resume | None = None,
    ):
        self.plan, self.ds, self.settings, self.resume = plan, ds, settings, resume
        self.controllers = list(controllers)
        self.data = None if ds.streaming else device_data(ds)  # streamed: read by blocks, per chunk
        self._programs: dict = {}  # compiled programs and placed data, shared by a group's chunks
        self._cudnn_failed = False  # "auto": the cuDNN program failed once; every chunk uses the scan
        self._used_impl: dict[int, str] = {}  # group -> the recurrent layer its chunks ran
        self.layout = resume.layout if resume is not None else self._layout()
        n_chunks = [sum(1 for g, _ in self.layout if g == group) for group in range(len(plan.groups))]
        seen = [0] * len(plan.groups)
        self.infos: list[ChunkInfo] = []
        for g, members in self.layout:
            epochs = plan.groups[g].structure["epochs"]
            self.infos.append(ChunkInfo(g, seen[g], len(plan.groups), n_chunks[g], members, epochs))
            seen[g] += 1

    def _layout(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """(group, members) of every chunk: members that fit in memory (and cache) at once.

        A group has as few chunks as fit, of equal size but for the last (11 members at
        most 10 at a time: 6 + 5, not 10 + 1), and the last is padded to the others' size
        (see `ChunkRun`), so a group compiles one program whatever its remainder: an epoch
        program is seconds of compilation on a CPU, a padded member a fraction of a chunk.
        """
        layout = []
        for g, group in enumerate(self.plan.groups):
            idx = list(group.members)
            most = self.settings.members_per_chunk or auto_chunk(
                self.config(g), self.ds, len(idx), self.settings.devices
            )
            size = -(-len(idx) // -(-len(idx) // most))  # ceil(n / number of chunks)
            layout += [(g, tuple(idx[start : start + size])) for start in range(0, len(idx), size)]
        return tuple(layout)

    def slots(self, group: int) -> int:
        """Members per compiled chunk of `group`: its largest chunk (the others are padded to it)."""
        return max(len(members) for g, members in self.layout if g == group)

    def config(self, group: int) -> TrainConfig:
        return train_config(self.plan.groups[group], self.plan, self.ds, self.settings)

    def uses_cudnn(self, group: int) -> bool:
        """The group's chunks run cuDNN's LSTM: allowed by the settings (the runner checked
        the rest: GPU, no mask, ...), one member per compiled chunk, one process."""
        if self.settings.recurrent_impl == "scan" or self._cudnn_failed or self.ds.streaming:
            return False
        return self.slots(group) == 1 and jax.process_count() == 1

    def chunk_config(self, group: int) -> TrainConfig:
        """The config a chunk of `group` compiles: `config` with the recurrent layer it uses."""
        cfg = self.config(group)
        return dataclasses.replace(cfg, recurrent_impl="cudnn") if self.uses_cudnn(group) else cfg

    def recurrent_impls(self) -> list[str]:
        """The recurrent layer ("cudnn" or "scan") each group's chunks ran, in group order."""
        return [self._used_impl.get(g, "cudnn" if self.uses_cudnn(g) else "scan") for g in range(len(self.plan.groups))]

    def _chunk_inputs(self, info: ChunkInfo) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        per_member = [float32_hparams(self.plan.members[i].hparams) for i in info.members]
        hp = {k: np.stack([p[k] for p in per_member]) for k in per_member[0]}
        return member_keys(self.plan, info.members), hp

    def chunk_run(self, info: ChunkInfo) -> ChunkRun:
        """Compile and initialise one chunk (public so benchmarks can time its epochs).

        With recurrent_impl="auto", a cuDNN program that fails to lower, compile or
        initialise (an untested GPU stack, say) is replaced by the scan's, once, with a
        `CudnnFallbackWarning`; with "cudnn" the error is raised."""
        cfg = self.chunk_config(info.group)
        try:
            run = self._chunk_run(info, cfg)
        except Exception as err:
            if cfg.recurrent_impl != "cudnn" or self.settings.recurrent_impl != "auto":
                raise
            warnings.warn(
                f"recurrent_impl='auto': the cuDNN program failed ({type(err).__name__}: {err}); "
                "training with the scan instead (pass recurrent_impl='scan' to skip the attempt)",
                CudnnFallbackWarning,
                stacklevel=2,
            )
            self._cudnn_failed = True
            cfg = self.chunk_config(info.group)
            run = self._chunk_run(info, cfg)
        self._used_impl[info.group] = cfg.recurrent_impl
        return run

    def _chunk_run(self, info: ChunkInfo, cfg: TrainConfig) -> ChunkRun:
        keys, hp = self._chunk_inputs(info)
        if self.ds.streaming:  # x read from disk block by block: fastlstm/runtime/_streaming.py
            order_seed = self.plan.members[info.members[0]].stream_seeds["order"]
            args = (self.settings.initial_params, self.slots(info.group), order_seed, self.settings.devices)
            return StreamChunkRun(cfg, keys, hp, self.ds, *args)
        return ChunkRun(
            cfg,
            keys,
            hp,
            cast(Data, self.data),  # in memory: set in __init__
            self.settings.initial_params,
            self.slots(info.group),
            self.settings.devices,
            self._programs,
        )

    def state_structure(self, info: ChunkInfo) -> Any:
        """The tree structure of a chunk's `MemberState` (traced, nothing compiled or run)."""
        keys, hp = self._chunk_inputs(info)
        init_fn = compiled_program(self.config(info.group))[0]
        if self.data is None:
            sample_x, sample_mask = sample_inputs(self.ds, 1)
        else:
            sample_x = np.asarray(self.data.x)[:1]
            sample_mask = None if self.data.mask is None else np.asarray(self.data.mask)[:1]
        abstract = jax.eval_shape(init_fn, keys, self.settings.initial_params, hp, sample_x, sample_mask)
        return jax.tree.structure(abstract)

    def chunks(self) -> Iterator[ChunkInfo]:
        yield from self.infos

    def run(self) -> list[ChunkOutcome]:
        """Train every chunk; controllers see every epoch. Raises `SweepHalted` if one halts."""
        total = sum(c.epochs for c in self.infos)
        info = SweepInfo(len(self.plan.members), len(self.plan.groups), total, self.layout)
        started: list[Controller] = []
        try:
            for c in self.controllers:
                c.on_sweep_start(info)
                started.append(c)  # only these are ended: a later one may fail to start
            return [self._run_chunk(k, chunk) for k, chunk in enumerate(self.infos)]
        finally:
            for c in started:
                c.on_sweep_end()

    def _resumed(self, k: int, info: ChunkInfo) -> ChunkOutcome | None:
        if self.resume is None or k not in self.resume.done:
            return None
        leaves, history = self.resume.done[k]
        return ChunkOutcome(info, jax.tree.unflatten(self.state_structure(info), leaves), history)

    def _start_chunk(self, k: int, info: ChunkInfo) -> tuple[ChunkRun, dict[str, np.ndarray]]:
        run = self.chunk_run(info)
        history = {name: np.full((run.n_members, info.epochs), np.nan, np.float32) for name in run.cfg.log_names}
        current = self.resume.current if self.resume is not None else None
        if current is not None and current[0] == k:
            _, epoch, leaves, saved = current
            run.load_state(jax.tree.unflatten(jax.tree.structure(run.state), leaves), epoch)
            history = {name: np.array(values) for name, values in saved.items()}
        return run, history

    def _run_chunk(self, k: int, info: ChunkInfo) -> ChunkOutcome:
        done = self._resumed(k, info)
        if done is not None:
            for c in self.controllers:
                c.on_chunk_end(done)
            return done
        timer = Timer()
        run, history = self._start_chunk(k, info)
        info = dataclasses.replace(info, first_epoch=run.epoch)
        for c in self.controllers:
            c.on_chunk_start(info)
        active = run.flags()[0]
        while run.epoch < info.epochs and active.any():
            logs = run.step()
            for name, values in logs.items():
                history[name][:, run.epoch - 1] = values
            active, diverged = run.flags()
            event = EpochEnd(info, run.epoch - 1, logs, active, diverged, timer.lap(), run.host_state, history)
            decisions = [d for c in self.controllers if (d := c.on_epoch_end(event)) is not None]
            active = self._apply(run, decisions, active)
            for c in self.controllers:  # the state they see now has every decision applied
                c.on_epoch_applied(event)
            if any(d.halt for d in decisions):
                for c in self.controllers:
                    c.on_halt(event)
                raise SweepHalted(f"halted after epoch {run.epoch} of {info.label}")
        outcome = ChunkOutcome(info, run.finish(), history)
        for c in self.controllers:
            c.on_chunk_end(outcome)
        return outcome

    @staticmethod
    def _apply(run: ChunkRun, decisions: list[Decision], active: np.ndarray) -> np.ndarray:
        stops = [np.asarray(d.stop, bool) for d in decisions if d.stop is not None]
        if not stops:
            return active
        stop = np.logical_or.reduce(stops)
        run.stop_members(stop)
        return active & ~stop


__all__ = ["ChunkOutcome", "ChunkRun", "CudnnFallbackWarning", "Driver", "Resume", "Settings", "SweepHalted"]
