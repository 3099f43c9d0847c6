"""Where the fused call's time goes: the layer's forward + backward for 4 members on one
core (one device, 1 thread), split by the library's own counters, against the scan's forward + backward on the same
core; "fused" is the default (impl 1: own AVX-512 kernels, the forward's gate math on the
matmul's accumulators, a separate backward elementwise pass), "fused-bwd-epilogue"
(impl 2) the backward's elementwise step moved into the dh kernel, and "fused-openblas"
(impl 0) OpenBLAS sgemm with separate gate passes.

    python bench/ffi_step/profile_kernel.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_num_cpu_devices", 1)
import jax.numpy as jnp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fused_lstm  # noqa: E402

from fastlstm.engine._recurrence import lstm_layer  # noqa: E402

T, B, F, U, M = 64, 64, 8, 64, 4


def grad_fn(layer):
    def loss(x, w, r, b, ct):
        return jnp.sum(layer(x, w, r, b, None, False, None, False) * ct)

    return jax.jit(jax.vmap(jax.grad(loss, argnums=(1, 2, 3)), in_axes=(None, 0, 0, 0, 0)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    assert fused_lstm.available()
    lib = fused_lstm._state["lib"]
    k = jax.random.split(jax.random.PRNGKey(0), 5)
    x = jax.random.normal(k[0], (T, B, F))
    w = jax.random.normal(k[1], (M, F, 4 * U)) * 0.3
    r = jax.random.normal(k[2], (M, U, 4 * U)) * 0.15
    b = jax.random.normal(k[3], (M, 4 * U)) * 0.1
    ct = jax.random.normal(k[4], (M, B, U))
    fused = grad_fn(fused_lstm.fused_lstm_layer)
    fns = {"scan": grad_fn(lstm_layer), "fused": fused, "fused-bwd-epilogue": fused, "fused-openblas": fused}
    impl = {"fused": 1, "fused-bwd-epilogue": 2, "fused-openblas": 0}
    for f in fns.values():
        jax.block_until_ready(f(x, w, r, b, ct))
    times: dict[str, list[float]] = {n: [] for n in fns}
    prof = (ctypes.c_int64 * 2)()
    split = []
    for _ in range(args.rounds):
        for name, f in fns.items():
            lib.fused_lstm_set_impl(impl.get(name, 1))
            if name == "fused":
                lib.fused_lstm_set_profile(1)
            t0 = time.perf_counter()
            for _ in range(args.reps):
                out = f(x, w, r, b, ct)
            jax.block_until_ready(out)
            dt = (time.perf_counter() - t0) / args.reps
            times[name].append(dt)
            if name == "fused":
                lib.fused_lstm_profile(prof)
                lib.fused_lstm_set_profile(0)
                split.append((prof[0] / 1e9 / args.reps, prof[1] / 1e9 / args.reps, dt))
    # forward x@[W;R], backward dz@R^T and [x;h]^T@dz: 2*B*(F+U)*4U + 2*B*4U*U + 2*(F+U)*B*4U per step and member
    gemm_flops = (2 * B * (F + U) * 4 * U * 2 + 2 * B * 4 * U * U) * T * M
    print(
        f"layer forward+backward, {M} members on one core, T={T} B={B} F={F} U={U}; "
        f"{args.rounds} rounds x {args.reps} calls (median [min-max])"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"  {name:14s} {1e3 * med:6.2f} ms [{1e3 * min(ts):.2f}-{1e3 * max(ts):.2f}]  "
            f"{1e6 * med / T:5.0f} us/timestep ({M} members)"
        )
    g = statistics.median(s[0] for s in split)
    e = statistics.median(s[1] for s in split)
    tot = statistics.median(s[2] for s in split)
    print(
        f"  fused split (median): matmul kernels (forward incl. its gate math) {1e3 * g:.2f} ms "
        f"({gemm_flops / g / 1e9:.0f} GFLOP/s counting matmul flops only), backward elementwise pass {1e3 * e:.2f} ms, "
        f"rest (copies, call overhead) {1e3 * (tot - g - e):.2f} ms of {1e3 * tot:.2f} ms"
    )
    lib.fused_lstm_set_impl(1)


if __name__ == "__main__":
    main()
