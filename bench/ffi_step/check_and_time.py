"""Check the fused FFI LSTM layer against fastlstm's scan, then time W1 training steps.

    bash bench/ffi_step/build.sh && python bench/ffi_step/check_and_time.py [--rounds 7] [--steps 16]

1. One layer, forward and gradients (dx, dW, dR, db) against
   `fastlstm.engine._recurrence.lstm_layer` (return_sequences True and False, one member
   and 8 vmapped members): max |a - b| / max |b| per output, bar 1e-5.
2. W1 training (8 members, LSTM(64) -> Dense(4), softmax cross-entropy, optax Adam
   lr 1e-3 eps 1e-7, batch 64 of fastlstm.benchmark.workloads.make_data(W1)), the same
   init and batches through the scan and the fused layer: per-step loss over epochs,
   bar 1e-6 relative.
3. Steady time of one training step (forward + backward + Adam) of 8 members, W1
   shapes, variants alternated round by round: the scan (members sharded over the
   2 host devices with shard_map, 4 per device, as fastlstm shards them), the fused
   call the same way (1 thread per call), the fused call on one device with 2 threads,
   and fastlstm's own engine (`capture_epoch(W1, 8)`, one epoch / 32 steps) as an anchor.
   Medians and min-max of the rounds, % of the float32 matmul peak
   (fastlstm.benchmark.peak.matmul_peak, measured before and after).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_num_cpu_devices", 2)  # one host device per core, as fastlstm configures it

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fused_lstm  # noqa: E402

from fastlstm.benchmark.workloads import WORKLOADS, make_data  # noqa: E402
from fastlstm.engine._recurrence import lstm_layer  # noqa: E402

W1 = WORKLOADS["W1"]
T, B, F, U, C = W1.timesteps, W1.batch_size, W1.features, W1.units, W1.classes
MEMBERS = 8
SCAN = "scan, 2 devices x 4 members"


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


# ---------------------------------------------------------------- 1. one layer
def _layer_outputs(layer, seq: bool, members: int, x, w, r, b, ct):
    """Forward output and (dx, dW, dR, db) of sum(layer(...) * ct), for 1 or `members` vmapped members."""

    def loss(x, w, r, b, ct):
        return jnp.sum(layer(x, w, r, b, None, True, None, seq) * ct)

    def forward(x, w, r, b):
        return layer(x, w, r, b, None, True, None, seq)

    grad = jax.value_and_grad(loss, argnums=(0, 1, 2, 3))
    if members == 1:
        fwd = forward(x[0], w[0], r[0], b[0])
        _, g = jax.jit(grad)(x[0], w[0], r[0], b[0], ct[0])
    else:
        fwd = jax.vmap(forward)(x, w, r, b)
        _, g = jax.jit(jax.vmap(grad))(x, w, r, b, ct)
    return (fwd, *g)


def check_layer() -> dict:
    k = jax.random.split(jax.random.PRNGKey(0), 6)
    x = jax.random.normal(k[0], (MEMBERS, T, B, F))
    w = jax.random.normal(k[1], (MEMBERS, F, 4 * U)) * 0.3
    r = jax.random.normal(k[2], (MEMBERS, U, 4 * U)) * 0.15
    b = jax.random.normal(k[3], (MEMBERS, 4 * U)) * 0.1
    out = {}
    for seq in (True, False):
        ct = jax.random.normal(k[4], (MEMBERS, T, B, U) if seq else (MEMBERS, B, U))
        for members in (1, MEMBERS):
            got = _layer_outputs(fused_lstm.fused_lstm_layer, seq, members, x, w, r, b, ct)
            ref = _layer_outputs(lstm_layer, seq, members, x, w, r, b, ct)
            errs = {n: rel(a, c) for n, a, c in zip(("out", "dx", "dW", "dR", "db"), got, ref)}
            out[f"return_sequences={seq}, members={members}"] = errs
    return out


# ---------------------------------------------------------------- 2. W1 training
def init_params(members: int) -> dict:
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    glorot = jax.nn.initializers.glorot_uniform()
    orth = jax.nn.initializers.orthogonal()
    bias = jnp.concatenate([jnp.zeros(U), jnp.ones(U), jnp.zeros(2 * U)])  # Keras unit_forget_bias
    return {
        "w": jax.vmap(lambda k: glorot(k, (F, 4 * U)))(jax.random.split(keys[0], members)),
        "r": jax.vmap(lambda k: orth(k, (U, 4 * U)))(jax.random.split(keys[1], members)),
        "b": jnp.tile(bias, (members, 1)),
        "wd": jax.vmap(lambda k: glorot(k, (U, C)))(jax.random.split(keys[2], members)),
        "bd": jnp.zeros((members, C)),
    }


OPT = optax.adam(W1.learning_rates[0], eps=1e-7)


def make_step(layer, devices: int, epoch: bool = False):
    """jit'ed (params, opt_state, x_t, y) -> (params, opt_state, loss per member); with
    `epoch`, x_t and y carry a leading steps axis and one program runs them all (a
    lax.scan over the batches, as fastlstm's epoch program: no dispatch per step)."""

    def member_loss(p, x_t, y):
        h = layer(x_t, p["w"], p["r"], p["b"], None, False, None, False)
        logits = h @ p["wd"] + p["bd"]
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    def local(params, opt_state, x_t, y):
        loss, grads = jax.vmap(jax.value_and_grad(member_loss), in_axes=(0, None, None))(params, x_t, y)
        updates, opt_state = jax.vmap(OPT.update)(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def local_epoch(params, opt_state, xs, ys):
        def body(carry, batch):
            params, opt_state, loss = local(*carry, *batch)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), (xs, ys))
        return params, opt_state, losses.T  # (members, steps)

    fn = local_epoch if epoch else local
    if devices == 1:
        return jax.jit(fn, donate_argnums=(0, 1))
    mesh = Mesh(np.array(jax.devices()[:devices]), ("m",))
    sharded = jax.shard_map(
        fn, mesh=mesh, in_specs=(P("m"), P("m"), P(), P()), out_specs=(P("m"), P("m"), P("m")), check_vma=False
    )
    return jax.jit(sharded, donate_argnums=(0, 1))


def batches() -> list[tuple[jax.Array, jax.Array]]:
    x, y = make_data(W1)
    order = np.random.default_rng(0).permutation(len(x))
    out = []
    for s in range(0, len(x) - B + 1, B):  # 32 full batches
        idx = order[s : s + B]
        out.append((jnp.asarray(np.ascontiguousarray(x[idx].transpose(1, 0, 2))), jnp.asarray(y[idx])))
    return out


def fresh_state(devices: int):
    params = init_params(MEMBERS)
    opt_state = jax.vmap(OPT.init)(params)
    if devices > 1:
        from jax.sharding import NamedSharding

        sh = NamedSharding(Mesh(np.array(jax.devices()[:devices]), ("m",)), P("m"))
        params, opt_state = jax.device_put((params, opt_state), sh)
    return params, opt_state


def train(layer, devices: int, data, epochs: int):
    """`epochs` epochs through the timed epoch program; losses (epochs * steps, members)."""
    epoch = make_step(layer, devices, epoch=True)
    params, opt_state = fresh_state(devices)
    xs = jnp.stack([x for x, _ in data])
    ys = jnp.stack([y for _, y in data])
    losses = []
    for _ in range(epochs):
        params, opt_state, loss = epoch(params, opt_state, xs, ys)
        losses.append(np.asarray(loss).T)
    return np.concatenate(losses), jax.tree.map(np.asarray, params)


def check_training(data, epochs: int) -> dict:
    ref_losses, ref_params = train(lstm_layer, 2, data, epochs)
    got_losses, got_params = train(fused_lstm.fused_lstm_layer, 2, data, epochs)
    steps = len(data)
    per_epoch = [
        rel(got_losses[e * steps : (e + 1) * steps], ref_losses[e * steps : (e + 1) * steps]) for e in range(epochs)
    ]
    per_epoch_mean = [
        abs(
            got_losses[e * steps : (e + 1) * steps].astype(np.float64).mean()
            / ref_losses[e * steps : (e + 1) * steps].astype(np.float64).mean()
            - 1
        )
        for e in range(epochs)
    ]
    return {
        "loss_rel_per_epoch": per_epoch,
        "epoch_mean_loss_rel_diff": per_epoch_mean,
        "last_loss_ref": float(ref_losses[-1].mean()),
        "params_rel_after": {k: rel(got_params[k], ref_params[k]) for k in ref_params},
    }


# ---------------------------------------------------------------- 3. timing
def step_runner(layer, devices: int, data, threads: int = 1):
    """Time whole epochs (one program, lax.scan over the 32 batches) and return s/step."""
    fused_lstm.THREADS = threads  # read at trace time
    epoch = make_step(layer, devices, epoch=True)
    state = list(fresh_state(devices))
    xs = jnp.stack([x for x, _ in data])
    ys = jnp.stack([y for _, y in data])
    state[0], state[1], loss = epoch(state[0], state[1], xs, ys)  # compile and warm up
    jax.block_until_ready(loss)
    fused_lstm.THREADS = 1

    def run(n: int) -> float:
        reps = max(1, n // len(data))
        t0 = time.perf_counter()
        for _ in range(reps):
            state[0], state[1], loss = epoch(state[0], state[1], xs, ys)
        jax.block_until_ready((state[0], loss))
        return (time.perf_counter() - t0) / (reps * len(data))

    return run


def engine_runner():
    from fastlstm.benchmark.epoch import capture_epoch

    program = capture_epoch(W1, MEMBERS)
    steps = W1.n // W1.batch_size

    def run(n: int) -> float:
        reps = max(1, n // steps)
        t0 = time.perf_counter()
        for _ in range(reps):
            program.step()
        return (time.perf_counter() - t0) / (reps * steps)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=32, help="training steps per timed run (whole epochs of 32)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the training check")
    parser.add_argument("--no-engine", action="store_true", help="skip fastlstm's engine anchor")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--peak-gflops",
        type=float,
        default=None,
        help="matmul peak for the %% column (default: the best of the readings before and after, "
        "too low on a busy machine)",
    )
    args = parser.parse_args()
    if not fused_lstm.available():
        sys.exit("fused LSTM library not built: run bench/ffi_step/build.sh")
    from fastlstm.benchmark.peak import matmul_peak

    report: dict = {"devices": [str(d) for d in jax.devices()]}
    report["layer"] = check_layer()
    print("1. one layer, max|a-b|/max|b| (bar 1e-5):")
    for case, errs in report["layer"].items():
        print(f"   {case}: " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    data = batches()
    report["training"] = check_training(data, args.epochs)
    tr = report["training"]
    print(f"2. W1 training, {MEMBERS} members, {args.epochs} epochs x {len(data)} steps (bar 1e-6):")
    print("   per-step loss max rel diff per epoch: " + ", ".join(f"{v:.1e}" for v in tr["loss_rel_per_epoch"]))
    print("   epoch-mean loss rel diff: " + ", ".join(f"{v:.1e}" for v in tr["epoch_mean_loss_rel_diff"]))
    print("   params after, max rel diff: " + ", ".join(f"{k} {v:.1e}" for k, v in tr["params_rel_after"].items()))

    peak0 = max(matmul_peak()["gflops"] for _ in range(2))
    runners = {
        SCAN: step_runner(lstm_layer, 2, data),
        "fused FFI, 2 devices x 4 members": step_runner(fused_lstm.fused_lstm_layer, 2, data),
        "fused FFI, 1 device, 2 threads": step_runner(fused_lstm.fused_lstm_layer, 1, data, threads=2),
    }
    if not args.no_engine:
        runners["fastlstm engine (capture_epoch)"] = engine_runner()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            times[name].append(run(args.steps))
    peak1 = max(matmul_peak()["gflops"] for _ in range(2))
    peak = args.peak_gflops or max(peak0, peak1)
    flops = 3 * 2 * 4 * U * (F + U) * T * B * MEMBERS  # fastlstm.benchmark.workloads.model_flops per step
    report["peak_gflops"] = [peak0, peak1]
    report["timing"] = {}
    print(
        f"3. steady training step, {MEMBERS} members x batch {B} x {T} steps x {U} units, "
        f"{args.rounds} rounds x {args.steps} steps (matmul peak read {peak0:.0f} / {peak1:.0f} GFLOP/s, % of {peak:.0f}):"
    )
    base = statistics.median(times[SCAN])
    for name, ts in times.items():
        med = statistics.median(ts)
        row = {
            "median_ms": 1e3 * med,
            "min_ms": 1e3 * min(ts),
            "max_ms": 1e3 * max(ts),
            "us_per_timestep": 1e6 * med / T,
            "pct_peak": 100 * flops / med / 1e9 / peak,
            "speedup_vs_scan": base / med,
            # paired per round (the variants alternate within a round): scan time / this time
            "paired_speedup_median": statistics.median(a / b for a, b in zip(times[SCAN], ts)),
            "paired_speedup_min": min(a / b for a, b in zip(times[SCAN], ts)),
            "paired_speedup_max": max(a / b for a, b in zip(times[SCAN], ts)),
            "rounds_ms": [1e3 * t for t in ts],
        }
        report["timing"][name] = row
        print(
            f"   {name:34s} {row['median_ms']:6.2f} ms/step [{row['min_ms']:.2f}-{row['max_ms']:.2f}]  "
            f"{row['us_per_timestep']:5.0f} us/timestep  {row['pct_peak']:4.1f} % peak  "
            f"x{row['speedup_vs_scan']:.2f} (paired per round x{row['paired_speedup_median']:.2f} "
            f"[{row['paired_speedup_min']:.2f}-{row['paired_speedup_max']:.2f}])"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
