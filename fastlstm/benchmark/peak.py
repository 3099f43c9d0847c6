"""The machine's float32 matmul peak as JAX sees it: best of a few large `jnp.dot`s.

    python -m fastlstm.benchmark.peak [--n N] [--repeats 5]

Prints one JSON object with `gflops` = 2 n^3 / best time (compile and warm-up
excluded), at JAX's default matmul precision, the one the model's matmuls use.
`fastlstm bench` runs this by path in its own process (so only jax is imported, with
JAX's own device setup) and reports every system's model FLOP rate against it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

CPU_N = 4096  # 0.1-1 s per product on a laptop or server CPU
ACCELERATOR_N = 8192  # big enough to fill a GPU's tensor units


def matmul_peak(n: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """Time `repeats` (n, n) @ (n, n) float32 products after a warm-up; the best gives the peak."""
    import jax
    import jax.numpy as jnp

    device = jax.devices()[0]
    n = n or (CPU_N if device.platform == "cpu" else ACCELERATOR_N)
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    dot(a, b).block_until_ready()  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dot(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "n": n,
        "dtype": "float32",
        # jax.config's flags are attributes set at run time, unknown to its stubs
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),  # type: ignore[attr-defined]
        "seconds": times,
        "best_s": best,
        "gflops": 2.0 * n**3 / best / 1e9,
        "device": str(device),
        "device_platform": device.platform,
        "device_kind": device.device_kind,
        "jax": jax.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, default=None, help=f"matrix size (default {CPU_N} on CPU, {ACCELERATOR_N} else)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.n is not None and args.n < 1:
        parser.error(f"--n: expected a positive integer, got {args.n}")
    if args.repeats < 1:
        parser.error(f"--repeats: expected a positive integer, got {args.repeats}")
    print(json.dumps(matmul_peak(args.n, args.repeats)))


if __name__ == "__main__":
    main()
