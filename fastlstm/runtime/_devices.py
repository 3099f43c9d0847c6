"""Where members run: the member axis is sharded over the local devices.

Members never talk to each other, so splitting the member axis over devices is
free parallelism. On a CPU the per-step LSTM ops are too small for XLA's intra-op
threads to help (measured: two threads on one (members, 64, 256) step are slower
than one), but two host "devices" each running half the members in their own
thread are twice as fast. So, when `fastlstm` is imported before JAX has started
its CPU backend, it asks JAX for one CPU device per usable core (JAX's
`jax_num_cpu_devices`). `FASTLSTM_CPU_DEVICES=N` picks N; `FASTLSTM_CPU_DEVICES=off`,
or a device count the user already set in JAX or XLA_FLAGS, leaves JAX alone.
On a GPU or TPU host the same code shards members over the accelerators.

Across several processes (`fastlstm.runtime._distributed.initialize`, one per host or per
GPU) the member mesh spans every process's devices: JAX runs one SPMD program in
which each process trains the members on its own devices, and `to_host` gathers
the results on every process. `devices=` picks a subset of each process's local
devices (the same subset on every process).

Fewer members than devices (one member on a two-core CPU): each member's minibatch rows
are split over the spare devices instead (`data_mesh`: a 2-D mesh, members x "data").
Each device runs the forward and backward passes of its rows, the loss and gradient
are summed across the "data" axis once per batch, and every device applies the same
update (fastlstm/engine/_program.py `split_value_and_grad`; the programs it cannot split
with one device's numbers, `rows_split_exactly`, keep one device per member).
`FASTLSTM_DATA_PARALLEL=off` turns it off (one device per member, as before).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from fastlstm._common.coerce import to_python

MEMBER_AXIS = "members"
DATA_AXIS = "data"  # a member's batch rows, split over the devices its members leave idle (as engine/_program.py)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def backends_started() -> bool:
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return True  # cannot tell: do not touch the configuration


def configure_host_devices() -> int | None:
    """Ask JAX for one CPU device per core, if nobody has decided yet; returns the count set."""
    setting = os.environ.get("FASTLSTM_CPU_DEVICES", "").strip().lower()
    if setting in ("off", "0", "none", "false"):
        return None
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    if not hasattr(jax.config, "jax_num_cpu_devices") or jax.config.jax_num_cpu_devices not in (-1, None):
        return None
    if backends_started():
        return None
    try:
        count = int(setting) if setting else usable_cores()
    except ValueError:
        raise ValueError(f"FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got {setting!r}") from None
    if count < 1:
        raise ValueError(f"FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got {setting!r}")
    jax.config.update("jax_num_cpu_devices", count)
    return count


def select_devices(devices: int | Sequence[int] | None = None) -> tuple[Any, ...]:
    """The devices members are sharded over: of every process, its local devices that
    `devices` selects (None: all; an int N: the first N; a list: those positions in
    `jax.local_devices()`, which on one process are the devices' ids), in process order.

    Every process must be given the same selection (the same command line does that).
    """
    local = jax.local_devices()
    positions = _selected_positions(devices, len(local))
    if jax.process_count() == 1:
        return tuple(local[p] for p in positions)
    by_process: dict[int, list[Any]] = {}
    for d in jax.devices():
        by_process.setdefault(d.process_index, []).append(d)
    return tuple(ordered[p] for _, ordered in sorted(by_process.items()) for p in positions if p < len(ordered))


def _selected_positions(devices: int | Sequence[int] | None, n_local: int) -> list[int]:
    """Positions in `jax.local_devices()` that `devices` names; ValueError naming `devices` otherwise."""
    devices = to_python(devices)  # NumPy ints and 1-D arrays as Python ints and lists
    if devices is None:
        return list(range(n_local))
    if isinstance(devices, int) and not isinstance(devices, bool):
        if not 1 <= devices <= n_local:
            raise ValueError(f"devices: expected a count from 1 to {n_local} (the local devices), got {devices!r}")
        return list(range(devices))
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence) or len(devices) == 0:
        raise ValueError(f"devices: expected a device count or a non-empty list of device ids, got {devices!r}")
    for d in devices:
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < n_local:
            raise ValueError(
                f"devices: expected device ids from 0 to {n_local - 1} (the local devices), got {list(devices)!r}"
            )
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices: a device is listed twice in {list(devices)!r}")
    return list(devices)


def member_mesh(n_members: int, devices: Sequence[Any] | None = None) -> Mesh:
    """A 1-D mesh over at most `n_members` of `devices` (default: `select_devices()`, every
    device of every process). With several processes the mesh keeps all of them, so
    that every process takes part in every chunk's program."""
    devices = select_devices() if devices is None else tuple(devices)
    if jax.process_count() == 1:
        devices = devices[: max(1, min(len(devices), n_members))]
    return Mesh(np.array(devices), (MEMBER_AXIS,))


def data_parallel_enabled() -> bool:
    """Whether spare devices may split a member's batches (`FASTLSTM_DATA_PARALLEL`, default on)."""
    setting = os.environ.get("FASTLSTM_DATA_PARALLEL", "").strip().lower()
    return setting not in ("off", "0", "none", "false", "no")


def data_mesh(n_members: int, devices: Sequence[Any] | None = None) -> Mesh | None:
    """A (members, data) mesh when fewer members than devices leave some idle: every member
    gets `len(devices) // n_members` devices that split its batch rows; None when that is
    one (the member mesh is used), on several processes, or with `FASTLSTM_DATA_PARALLEL=off`."""
    if not data_parallel_enabled() or jax.process_count() != 1:
        return None
    devices = select_devices() if devices is None else tuple(devices)
    members = max(1, n_members)
    per_member = len(devices) // members
    if per_member < 2:
        return None
    grid = np.array(devices[: members * per_member], dtype=object).reshape(members, per_member)
    return Mesh(grid, (MEMBER_AXIS, DATA_AXIS))


def by_row(mesh: Mesh) -> NamedSharding | None:
    """The rows of a member's batch split over the mesh's "data" axis (None: a member mesh)."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS)) if DATA_AXIS in mesh.axis_names else None


def place(tree: Any, sharding: NamedSharding) -> Any:
    """Host arrays onto `sharding`'s devices (`jax.device_put` on one process).

    With several processes every process holds the same host arrays and builds its own
    devices' shards (`jax.make_array_from_callback`): `device_put` would first check,
    array by array, that all processes hold equal values - one collective per array
    (the runner checks the data once per sweep instead)."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def local_shards(a: object) -> jax.Array:
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])

    return jax.tree.map(local_shards, tree)


def to_host(tree: Any) -> Any:
    """A tree of (possibly sharded) arrays as NumPy arrays, whole, on this process.

    On one process that is `jax.device_get`; with several, the members on other
    processes' devices are gathered (`multihost_utils.process_allgather`, a collective:
    every process calls this at the same point, as the driver's SPMD loop does)."""
    leaves, treedef = jax.tree.flatten(tree)
    remote = [i for i, a in enumerate(leaves) if not getattr(a, "is_fully_addressable", True)]
    if not remote:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather([leaves[i] for i in remote], tiled=True)
    host = [None if i in remote else jax.device_get(a) for i, a in enumerate(leaves)]
    for i, value in zip(remote, gathered, strict=True):
        host[i] = np.asarray(value)
    return jax.tree.unflatten(treedef, host)


def padded_count(n_members: int, mesh: Mesh) -> int:
    """Members rounded up to a multiple of the mesh's member axis (extra members are copies)."""
    d = mesh.shape[MEMBER_AXIS]
    return -(-n_members // d) * d


def by_member(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())
