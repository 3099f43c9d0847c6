"""One chunk of members on the devices: its state, its compiled epoch and its stops.

In memory the chunk's data sits on the devices whole; `_streaming.StreamChunkRun` is the
same run fed block by block from disk. The driver (`_driver.py`) makes one per chunk."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, overload

import jax
import numpy as np

from fastlstm.engine._program import (
    INIT_COMPILER_OPTIONS,
    Data,
    MemberState,
    TrainConfig,
    compiled_program,
    rows_split_exactly,
)
from fastlstm.runtime._devices import (
    by_member,
    by_row,
    data_mesh,
    member_mesh,
    padded_count,
    place,
    replicated,
    to_host,
)


def _signature(tree: Any) -> tuple:
    """A tree's structure, shapes and dtypes: what a compiled program was compiled for."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(a), np.result_type(a).str) for a in leaves)


def chunk_mesh(cfg: TrainConfig, width: int, devices: Sequence[Any] | None) -> Any:
    """The chunk's mesh: members over the devices, or, with fewer members than devices, a
    (members, data) mesh whose spare devices split each member's batch rows (`data_mesh`;
    only for the programs `rows_split_exactly` admits)."""
    mesh = data_mesh(width, devices) if rows_split_exactly(cfg) else None
    return member_mesh(width, devices) if mesh is None else mesh


class ChunkRun:
    """One chunk of members on the devices: compiled programs, state, and `step()` per epoch.

    The member axis is sharded over the local devices, padded with copies of the last
    member up to `slots` members (the group's chunk size, so that a smaller last chunk
    reuses the program its group already compiled) and to a multiple of the device count;
    the copies are dropped on the way out. With fewer members than devices the mesh is
    (members, data) and each member's batch rows are split over its devices (`chunk_mesh`).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        keys: np.ndarray,
        hparams: dict[str, np.ndarray],
        data: Data,
        initial_params: Any = None,
        slots: int | None = None,
        devices: Sequence[Any] | None = None,
        programs: dict | None = None,
    ):
        self.cfg = cfg
        self.n_members = keys.shape[0]
        width = max(self.n_members, slots or 0)
        self.mesh = chunk_mesh(cfg, width, devices)
        init_fn, self._epoch_fn, self._finish_fn = compiled_program(cfg, by_row(self.mesh))
        self.padded = padded_count(width, self.mesh)
        keys = self._pad(keys)
        hp = {k: self._pad(v) for k, v in hparams.items()}
        sample_x = np.asarray(data.x)[: min(cfg.batch_size, cfg.n_train)]
        sample_mask = None if data.mask is None else np.asarray(data.mask)[: sample_x.shape[0]]
        init_args = (keys, initial_params, hp, sample_x, sample_mask)
        # A group's chunks share their compiled programs and the placed data (`programs`,
        # one dict per sweep): tracing and lowering again cost more than a small chunk's epoch.
        programs = {} if programs is None else programs
        mesh = (tuple(self.mesh.devices.flat), self.mesh.devices.shape)
        key = (cfg, self.padded, mesh, _signature(init_args), _signature(data))
        cached = programs.get(key)
        with ThreadPoolExecutor(1) as pool:  # the epoch program compiles while init compiles and runs
            if cached is None:
                abstract = self._abstract_epoch_args(init_fn, init_args, hp, data)
                compiled = pool.submit(lambda: self._epoch_fn.lower(*abstract).compile())
            # Initialise on the default device (a small program, compiled at a low
            # optimisation level), then spread the state over the mesh.
            with jax.default_device(self.mesh.local_devices[0]):  # every process inits every member
                options = INIT_COMPILER_OPTIONS.get(jax.default_backend())
                init = cached[0] if cached else init_fn.lower(*init_args).compile(options)
                state = init(*init_args)
            # Through the host: resharding device arrays would compile a slicing program per shape.
            # On several processes each places its own devices' share of the same host arrays.
            self.state = place(jax.device_get(state), by_member(self.mesh))
            self.hp = place(hp, by_member(self.mesh))
            self.data = cached[2] if cached else place(jax.device_get(data), replicated(self.mesh))
            self._epoch = cached[1] if cached else compiled.result()
        programs[key] = (init, self._epoch, self.data)
        self.epoch = 0

    @classmethod
    def from_state(
        cls,
        cfg: TrainConfig,
        state: MemberState,
        hparams: dict[str, np.ndarray],
        data: Data,
        epoch: int,
        slots: int,
        devices: Sequence[Any] | None = None,
    ) -> ChunkRun:
        """A chunk that continues from host member states (successive halving's survivors,
        regathered): nothing is initialised, and the epoch program compiles only for a
        `slots` it has not run at before."""
        run = cls.__new__(cls)
        run.cfg = cfg
        run.n_members = int(np.shape(state.epoch)[0])
        width = max(run.n_members, slots)
        run.mesh = chunk_mesh(cfg, width, devices)
        _, run._epoch_fn, run._finish_fn = compiled_program(cfg, by_row(run.mesh))
        run._epoch = run._epoch_fn  # jit compiles once per chunk shape and reuses it
        run.padded = padded_count(width, run.mesh)
        run.hp = place({k: run._pad(v) for k, v in hparams.items()}, by_member(run.mesh))
        run.data = place(jax.device_get(data), replicated(run.mesh))
        run.load_state(state, epoch)
        return run

    def _pad(self, a: object) -> np.ndarray:
        a = np.asarray(a)
        extra = self.padded - self.n_members
        return np.concatenate([a, np.repeat(a[-1:], extra, axis=0)]) if extra else a

    def _abstract_epoch_args(self, init_fn: Any, init_args: tuple, hp: Any, data: Data) -> tuple:
        """Shapes, dtypes and shardings of `epoch`'s (state, hp, data), without running init."""
        state = jax.eval_shape(init_fn, *init_args)

        def spec(a: Any, sharding: Any) -> jax.ShapeDtypeStruct:
            return jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding, weak_type=getattr(a, "weak_type", False))

        members, shared = by_member(self.mesh), replicated(self.mesh)
        return (
            jax.tree.map(lambda a: spec(a, members), state),
            jax.tree.map(lambda a: spec(a, members), hp),
            jax.tree.map(lambda a: spec(a, shared), data),
        )

    @overload
    def step(self, fetch: Literal[True] = True) -> dict[str, np.ndarray]: ...
    @overload
    def step(self, fetch: bool) -> dict[str, np.ndarray] | None: ...
    def step(self, fetch: bool = True) -> dict[str, np.ndarray] | None:
        """Train every member for one epoch; its logs on the host (or None, not waiting)."""
        self.state, logs = self._epoch(self.state, self.hp, self.data)  # state is donated
        self.epoch += 1
        if not fetch:
            return None
        return {k: v[: self.n_members] for k, v in to_host(logs).items()}

    def flags(self) -> tuple[np.ndarray, np.ndarray]:
        """(active, diverged) per member, on the host."""
        active, diverged = to_host((self.state.active, self.state.diverged))
        return np.asarray(active)[: self.n_members], np.asarray(diverged)[: self.n_members]

    def host_state(self) -> MemberState:
        return self._on_host(self.state)

    def _on_host(self, state: MemberState) -> MemberState:
        """NumPy copies without the padding members."""
        return jax.tree.map(lambda a: np.asarray(a)[: self.n_members], to_host(state))

    def load_state(self, state: MemberState, epoch: int) -> None:
        """Continue from a saved state (a resumed sweep)."""
        self.state = place(jax.tree.map(self._pad, state), by_member(self.mesh))
        self.epoch = epoch

    def stop_members(self, stop: np.ndarray) -> None:
        """Stop members from the host (a controller's decision), as a callback would."""
        host = self.host_state()
        now = np.asarray(stop, bool) & host.active
        host = host._replace(
            active=host.active & ~now,
            stopped=host.stopped | now,
            # a host copy: its fields are NumPy arrays, not the jax.Array the class names
            stopped_epoch=np.where(now, self.epoch - 1, host.stopped_epoch).astype(np.int32),  # type: ignore[arg-type]
        )
        self.load_state(host, self.epoch)

    def finish(self) -> MemberState:
        """Final states (callbacks may restore best weights), as host arrays."""
        return self._on_host(self._finish_fn(self.state))
