"""Cost of Bidirectional(LSTM(64)) against LSTM(64) per member, at the recurrence level,
on W1 shapes (64 timesteps, 8 features, 64 units, batch 64), and one scan vs two scans.

    python bench/bidirectional.py --members 8 [--repeats 20] [--masked] [--dropout]

Times one training step's recurrence work, jit(vmap over members) of value_and_grad of a
loss on the layer's last output (the W1 model is LSTM -> Dense), for:
  unidirectional   lstm_layer(return_sequences=False)
  bidir_one_scan   bidirectional_layer, both directions in one vmapped scan
  bidir_two_scans  bidirectional_layer, a forward and a go_backwards scan
and prints the median step time of each and the ratios to the unidirectional one (the
issue's target: Bidirectional at most 2.2x). --masked adds a ragged mask (pre- and
post-padding), --dropout per-gate input and recurrent dropout masks (recurrent_dropout).
The Dense head and the optimizer are left out: they are the same small cost for both.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

import fastlstm.engine._recurrence as recurrence
from fastlstm.benchmark.workloads import WORKLOADS

W1 = WORKLOADS["W1"]
FEATURES = 8


def _params(key, members: int, features: int, units: int):
    k = jax.random.split(key, 3)
    return (
        0.1 * jax.random.normal(k[0], (members, features, 4 * units)),
        0.1 * jax.random.normal(k[1], (members, units, 4 * units)),
        jnp.zeros((members, 4 * units)),
    )


def _inputs(members: int, masked: bool, dropout: bool):
    """x (time, batch, features), a ragged mask, per-gate dropout masks per member and direction."""
    time_, batch, units = W1.timesteps, W1.batch_size, W1.units
    key = jax.random.PRNGKey(0)
    x_t = jax.random.normal(key, (time_, batch, FEATURES))
    lengths = jax.random.randint(key, (batch,), time_ // 2, time_ + 1)
    steps = jnp.arange(time_)[:, None]
    mask_t = jnp.where(jnp.arange(batch) % 2 == 0, steps < lengths, steps >= time_ - lengths) if masked else None
    masks = None
    if dropout:
        k = jax.random.split(key, 4)
        draw = lambda k, width: jax.random.bernoulli(k, 0.8, (members, 4, batch, width)) / 0.8  # noqa: E731
        masks = ((draw(k[0], FEATURES), draw(k[1], FEATURES)), (draw(k[2], units), draw(k[3], units)))
    return x_t, mask_t, masks


def _step_fn(variant: str, x_t, mask_t):
    """jit(vmap(value_and_grad)) over members of the variant's loss."""

    def loss(fwd, bwd, masks):
        if variant == "unidirectional":
            in_mask, rec_mask = (None, None) if masks is None else (masks[0][0], masks[1][0])
            out = recurrence.lstm_layer(
                x_t, *fwd, mask_t, False, None, False, input_dropout_mask=in_mask, recurrent_dropout_mask=rec_mask
            )
        else:
            in_masks, rec_masks = ((None, None), (None, None)) if masks is None else masks
            out = recurrence.bidirectional_layer(
                x_t,
                fwd,
                bwd,
                mask_t,
                need_input_grad=False,
                input_dropout_masks=in_masks,
                recurrent_dropout_masks=rec_masks,
            )
        return jnp.mean(out**2)

    return jax.jit(jax.vmap(jax.value_and_grad(loss, argnums=(0, 1))))


def _time(variant: str, members: int, repeats: int, masked: bool, dropout: bool) -> float:
    recurrence.BIDIRECTIONAL_ONE_SCAN = variant != "bidir_two_scans"  # read at trace time
    x_t, mask_t, masks = _inputs(members, masked, dropout)
    fwd = _params(jax.random.PRNGKey(1), members, FEATURES, W1.units)
    bwd = _params(jax.random.PRNGKey(2), members, FEATURES, W1.units)
    step = _step_fn(variant, x_t, mask_t)
    jax.block_until_ready(step(fwd, bwd, masks))  # compile and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(step(fwd, bwd, masks))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--masked", action="store_true")
    parser.add_argument("--dropout", action="store_true")
    args = parser.parse_args()
    variants = ("unidirectional", "bidir_one_scan", "bidir_two_scans")
    medians = {v: _time(v, args.members, args.repeats, args.masked, args.dropout) for v in variants}
    print(f"W1 shapes, {args.members} members, masked={args.masked}, dropout={args.dropout}, {jax.devices()[0]}")
    for variant, seconds in medians.items():
        ratio = seconds / medians["unidirectional"]
        print(
            f"  {variant:16s} {1e3 * seconds:9.2f} ms/step  {1e3 * seconds / args.members:7.2f} ms/member  {ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
