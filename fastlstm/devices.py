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
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MEMBER_AXIS = "members"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
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
    if _backends_started():
        return None
    try:
        count = int(setting) if setting else usable_cores()
    except ValueError:
        raise ValueError(f"FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got {setting!r}") from None
    if count < 1:
        raise ValueError(f"FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got {setting!r}")
    jax.config.update("jax_num_cpu_devices", count)
    return count


def member_mesh(n_members: int) -> Mesh:
    """A 1-D mesh over at most `n_members` of the default backend's local devices."""
    devices = jax.local_devices()
    return Mesh(np.array(devices[: max(1, min(len(devices), n_members))]), (MEMBER_AXIS,))


def padded_count(n_members: int, mesh: Mesh) -> int:
    """Members rounded up to a multiple of the mesh size (extra members are copies)."""
    d = mesh.size
    return -(-n_members // d) * d


def by_member(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())
