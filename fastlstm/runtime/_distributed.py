"""Many processes - hosts, or one per GPU - training one sweep, through `jax.distributed`.

fastlstm invents nothing here: `initialize` is `jax.distributed.initialize` (plus the
CPU collectives JAX needs between processes, and clear errors), after which
`jax.devices()` lists every process's devices. The driver's 1-D `members` mesh then
spans them all (fastlstm/runtime/_devices.py), each process runs the same SPMD program and
trains the members on its own devices, and results are gathered on every process.
Every process plans the same members from the same spec and data (planning and data
are deterministic), so host arrays are placed with `jax.device_put` on a global
sharding. Process 0 alone writes files (the run folder, checkpoints); every process
reads a checkpoint to resume, so on several hosts it must be on a shared filesystem.

Library use: call `fl.distributed.initialize(...)` once, before anything runs
on JAX, in every process; then `fl.sweep(...)` as usual, and save on process 0:

    import fastlstm as fl
    fl.distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=rank)
    result = fl.sweep(x, y, seeds=1024)
    if fl.distributed.is_primary():
        result.save("runs/big")

On SLURM, Open MPI, Kubernetes and Cloud TPU pods `initialize()` with no arguments
lets JAX read the process count, rank and coordinator from the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from fastlstm.runtime._devices import backends_started


class DistributedError(ValueError):
    """The processes could not be joined (bad arguments, too late, or the coordinator unreachable)."""


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    timeout_s: int = 300,
) -> None:
    """Join this process to a multi-process sweep (`jax.distributed.initialize`).

    `coordinator` is "HOST:PORT" of process 0 (it listens there); `num_processes` and
    `process_id` (0 .. num_processes - 1) say who is who. Left out, JAX reads them from
    its environment variables (JAX_COORDINATOR_ADDRESS, ...) or from a SLURM, Open MPI,
    Kubernetes or Cloud TPU environment. Must run before anything else runs on JAX.
    """
    _check_arguments(coordinator, num_processes, process_id, timeout_s)
    if jax.distributed.is_initialized():
        return  # joined already (a second call, e.g. the CLI after a user's own call)
    if backends_started():
        raise DistributedError(
            "distributed.initialize must run before anything else uses JAX (a computation already "
            "started JAX's devices in this process); call it first, right after importing fastlstm"
        )
    use_gloo_on_cpu()
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            local_device_ids=None if local_device_ids is None else list(local_device_ids),
            initialization_timeout=timeout_s,
        )
    except Exception as err:  # JAX raises ValueError, RuntimeError and XlaRuntimeError here
        raise DistributedError(f"could not join the distributed sweep: {type(err).__name__}: {err}") from None


def _check_arguments(coordinator: Any, num_processes: Any, process_id: Any, timeout_s: Any) -> None:
    if coordinator is not None and (
        not isinstance(coordinator, str) or ":" not in coordinator or not coordinator.rsplit(":", 1)[1].isdigit()
    ):
        raise DistributedError(f"coordinator: expected 'HOST:PORT' of process 0, got {coordinator!r}")
    if num_processes is not None and (not _is_int(num_processes) or num_processes < 1):
        raise DistributedError(f"num_processes: expected a positive int, got {num_processes!r}")
    if process_id is not None and (not _is_int(process_id) or process_id < 0):
        raise DistributedError(f"process_id: expected a non-negative int, got {process_id!r}")
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise DistributedError(f"process_id: expected 0 .. {num_processes - 1} (num_processes={num_processes})")
    if not _is_int(timeout_s) or timeout_s < 1:
        raise DistributedError(f"timeout_s: expected a positive int of seconds, got {timeout_s!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def use_gloo_on_cpu() -> None:
    """CPU devices of different processes talk through gloo (TCP); GPUs and TPUs use their own.

    JAX 0.10 defaults to gloo already; older versions default to none, under which a
    CPU program spanning processes fails. A choice the user made ("mpi") is kept."""
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")


# Launchers whose environment is joined without being asked: SLURM (srun), Open MPI
# (mpirun) and Cloud TPU VMs. Not Kubernetes: a pod is not a multi-process job by itself.
AUTOMATIC_CLUSTERS = ("slurm", "ompi", "gcetpu", "gketpu")


def detected_cluster() -> str | None:
    """The launcher JAX would read the process layout from (e.g. "slurm", "gketpu"), when
    it says there is more than one process; None otherwise (also when JAX's detection,
    a private interface, is not there)."""
    try:
        from jax._src.clusters import ClusterEnv
    except ImportError:
        return None
    for env in ClusterEnv._cluster_types:
        try:
            if getattr(env, "name", "") not in AUTOMATIC_CLUSTERS or not env.is_env_present():
                continue
            if int(env.get_process_count()) > 1:
                return str(env.name)
        except Exception:  # a half-configured environment: not a cluster we can join
            continue
    return None


def is_primary() -> bool:
    """True on process 0, the one that writes files (always True on one process)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches this point (nothing on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"fastlstm: {name}")


def check_same_everywhere(digest: str, what: str) -> None:
    """Raise unless every process computed the same hex `digest` (of its spec and data):
    each process trains its share of members planned from its own copy of them."""
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    mine = np.frombuffer(bytes.fromhex(digest), np.uint8)
    everyone = np.asarray(multihost_utils.process_allgather(mine))
    if not (everyone == mine).all():
        raise DistributedError(
            f"the processes were given different {what}: every process must run the same sweep on the same data"
        )


def any_process(flag: bool) -> bool:
    """True when `flag` is True on some process. A signal (Ctrl-C, SIGTERM) reaches one
    process: for all of them to stop at the same epoch - the checkpoint whole, none left
    waiting in a collective for JAX's heartbeat timeout - each asks the others at every
    epoch's end (one small all-gather; nothing with one process)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.asarray([bool(flag)], np.int32))))


def agree_on_min(value: int) -> int:
    """The smallest `value` over all processes (a chunk size each process computed from
    its own free memory: every process must run the same chunks)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(np.min(multihost_utils.process_allgather(np.asarray([value], np.int64))))


__all__ = [
    "DistributedError",
    "agree_on_min",
    "any_process",
    "barrier",
    "check_same_everywhere",
    "detected_cluster",
    "initialize",
    "is_primary",
]
