"""How many members to train at once: memory that must fit, and cache that should.

Training memory grows linearly in members; the largest term is what the backward
pass keeps per LSTM layer and timestep (the four gates' gradient factors, o(1-tanh^2 c),
f and [x; h_{t-1}; 1]: 7u + in + 1 floats per sequence, see fastlstm/engine/_recurrence.py)
plus the stacked outputs and their gradients. When all
members of a group do not fit in half of the free memory, the runner trains them in
chunks of members one after another (same results, see tests/test_chunking.py).

On a CPU there is a second, softer limit: each timestep touches every member's gates,
saved factors and weights, and once that working set outgrows the core's L2 cache the
step slows down. Measured on W1 (2 cores, 2 MB L2, 2 host devices), seconds per
member-epoch: 0.097 with 1 member per device, 0.100 with 2, 0.117 with 4, 0.142 with
8, 0.154 with 16. So on a CPU a chunk holds as many members per device as fit in half
the L2 cache (at least one); accelerators take every member that fits in memory.
"""

from __future__ import annotations

import os

import jax

FLOAT_BYTES = 4
SAFETY = 2.0  # XLA's temporaries (zero-initialised scan buffers, copies) on top of the residuals
BUDGET_FRACTION = 0.5


def activation_bytes_per_member(
    *, timesteps: int, features: int, units: int, layers: int, batch_size: int, n_params: int
) -> int:
    """Bytes one member needs during a training step (residuals, outputs, params, optimizer)."""
    per_step_floats = sum(7 * units + width + 1 + 2 * units for width in _input_widths(features, units, layers))
    residuals = timesteps * batch_size * per_step_floats * FLOAT_BYTES
    state = 6 * n_params * FLOAT_BYTES  # params, two optimizer moments, best weights, grads, update
    return int(SAFETY * residuals + state)


def lstm_param_count(features: int, units: int, layers: int, out_dim: int) -> int:
    n = sum(4 * units * (width + units + 1) for width in _input_widths(features, units, layers))
    return n + units * out_dim + out_dim


def _input_widths(features: int, units: int, layers: int) -> list[int]:
    """Each stacked LSTM layer's input width: the data's features, then the layer below's units."""
    return [features] + [units] * (layers - 1)


def available_bytes() -> int:
    """Free memory on the default device: accelerator memory, or the host's MemAvailable."""
    device = jax.local_devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        limit = stats.get("bytes_limit")
        if limit:
            return int((limit - stats.get("bytes_in_use", 0)) * len(jax.local_devices()))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def device_bytes() -> int:
    """Free memory one member can use: one accelerator's, or the host's on a CPU (where
    every host device shares it). A member lives on one device; it cannot be split."""
    n_devices = 1 if jax.local_devices()[0].platform == "cpu" else len(jax.local_devices())
    return available_bytes() // n_devices


def check_member_fits(member_bytes: int) -> None:
    """Refuse, before anything compiles, a member (its training step's estimate) larger
    than the free memory: XLA would fail later with an allocation error that names neither
    the cause nor the fix."""
    need, have = member_bytes, device_bytes()
    if need > have:
        raise ValueError(
            f"one member needs ~{_gigabytes(need)} GB, this machine has {_gigabytes(have)} GB; "
            "lower batch_size/units/timesteps or stream the data"
        )


def _gigabytes(n: int) -> str:
    return f"{n / 1e9:.3g}"


def auto_members_per_chunk(n_members: int, bytes_per_member: int, n_devices: int, budget: int | None = None) -> int:
    """Largest chunk that fits in the budget; a multiple of the device count when possible."""
    budget = int(BUDGET_FRACTION * available_bytes()) if budget is None else budget
    fit = max(1, budget // max(1, bytes_per_member))
    if fit >= n_members:
        return n_members
    if fit >= n_devices:
        fit -= fit % n_devices
    return fit


def step_bytes_per_member(*, features: int, units: int, layers: int, batch_size: int) -> int:
    """Bytes one member touches per timestep: gates and their gradients, saved factors, weights and accumulators."""
    floats = sum(
        batch_size * (2 * 4 * units + 7 * units + width + 1) + 2 * (width + units + 1) * 4 * units
        for width in _input_widths(features, units, layers)
    )
    return floats * FLOAT_BYTES


def l2_cache_bytes(default: int = 1 << 20) -> int:
    """The per-core L2 cache size from sysfs (Linux), else 1 MiB."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index2/size") as f:
            text = f.read().strip().upper()
    except OSError:
        return default
    scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
    try:
        return int(text.rstrip("KM")) * scale
    except ValueError:
        return default


def cache_friendly_members_per_device(step_bytes: int, cache_bytes: int | None = None) -> int:
    """Members per CPU device whose per-step working set fits in half the L2 cache."""
    cache = l2_cache_bytes() if cache_bytes is None else cache_bytes
    return max(1, (cache // 2) // max(1, step_bytes))
