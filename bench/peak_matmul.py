"""The machine's float32 matmul peak as JAX sees it: best of a few large `jnp.dot`s.

    python bench/peak_matmul.py [--n 4096] [--repeats 5]

Prints one JSON object with `gflops` = 2 n^3 / best time (compile and warm-up
excluded). `bench/compare.py` runs this in its own process and reports every
system's model FLOP rate as a percentage of it.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = args.n
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    dot(a, b).block_until_ready()  # compile and warm up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        dot(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    best = min(times)
    out = {
        "n": n,
        "dtype": "float32",
        "seconds": times,
        "best_s": best,
        "gflops": 2.0 * n**3 / best / 1e9,
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
