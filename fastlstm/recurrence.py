"""The LSTM recurrence with a hand-written backward pass (what cuDNN does).

Autodiff of a `lax.scan` LSTM accumulates the recurrent-kernel gradient with one
small matmul per timestep and keeps every intermediate of the gate math. Here the
forward scan keeps only `h @ R` and the gate arithmetic; it saves the activated gates
and cell states; the backward scan keeps only `dz @ R.T` and the gate derivatives;
and the recurrent-kernel gradient is one large matmul over all timesteps at the end.
The input projection `x @ W + b` is done by the caller (one big matmul), so its
gradients are big matmuls too.

`lstm_recurrence_reference` is the plain scan that autodiff differentiates; tests
check the two agree.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _gates(z: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Keras gate order i, f, c, o: sigmoid, sigmoid, tanh, sigmoid.

    sigmoid(x) = 0.5 * tanh(x / 2) + 0.5, so all four come from one tanh pass over
    the (batch, 4u) block, which XLA fuses into one loop.
    """
    units = z.shape[-1] // 4
    scale = jnp.concatenate(
        [jnp.full((2 * units,), 0.5, z.dtype), jnp.ones((units,), z.dtype), jnp.full((units,), 0.5, z.dtype)]
    )
    t = jnp.tanh(z * scale)
    act = jnp.where(scale == 0.5, 0.5 * t + 0.5, t)
    return act[..., :units], act[..., units : 2 * units], act[..., 2 * units : 3 * units], act[..., 3 * units :]


def _forward_scan(xw_t: jax.Array, r: jax.Array, mask_t: jax.Array | None, keep_residuals: bool):
    batch, units = xw_t.shape[1], r.shape[0]
    zeros = jnp.zeros((batch, units), xw_t.dtype)

    def step(carry, inputs):
        h, c = carry
        z, m = inputs if mask_t is not None else (inputs, None)
        i, f, g, o = _gates(z + h @ r)
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        if m is not None:
            keep = m[:, None]
            h_new = jnp.where(keep, h_new, h)
            c_new = jnp.where(keep, c_new, c)
        out = (h_new, (jnp.concatenate([i, f, g, o], -1), c, tc)) if keep_residuals else h_new
        return (h_new, c_new), out

    xs = xw_t if mask_t is None else (xw_t, mask_t)
    _, out = jax.lax.scan(step, (zeros, zeros), xs)
    return out


@jax.custom_vjp
def _recurrence_nomask(xw_t: jax.Array, r: jax.Array) -> jax.Array:
    return _forward_scan(xw_t, r, None, keep_residuals=False)


@jax.custom_vjp
def _recurrence_mask(xw_t: jax.Array, r: jax.Array, mask_t: jax.Array) -> jax.Array:
    return _forward_scan(xw_t, r, mask_t, keep_residuals=False)


def _fwd(xw_t, r, mask_t):
    hs, (acts, c_prev, tc) = _forward_scan(xw_t, r, mask_t, keep_residuals=True)
    return hs, (hs, acts, c_prev, tc, r, mask_t)


def _bwd(residuals, dhs):
    hs, acts, c_prev, tc, r, mask_t = residuals
    units = r.shape[0]
    r_t = r.T

    def step(carry, inputs):
        dh_next, dc_next = carry
        if mask_t is None:
            dh_out, a, cp, t = inputs
            m = None
        else:
            dh_out, a, cp, t, m = inputs
        i, f, g, o = a[:, :units], a[:, units : 2 * units], a[:, 2 * units : 3 * units], a[:, 3 * units :]
        dh = dh_out + dh_next
        dc = dc_next + dh * o * (1.0 - t * t)
        dz = jnp.concatenate(
            [dc * g * i * (1.0 - i), dc * cp * f * (1.0 - f), dc * i * (1.0 - g * g), dh * t * o * (1.0 - o)], -1
        )
        if m is not None:
            keep = m[:, None]
            dz = jnp.where(keep, dz, 0.0)
            dh_prev = jnp.where(keep, dz @ r_t, dh)
            dc_prev = jnp.where(keep, dc * f, dc_next)
        else:
            dh_prev = dz @ r_t
            dc_prev = dc * f
        return (dh_prev, dc_prev), dz

    zeros = jnp.zeros_like(dhs[0])
    xs = (dhs, acts, c_prev, tc) if mask_t is None else (dhs, acts, c_prev, tc, mask_t)
    _, dz = jax.lax.scan(step, (zeros, zeros), xs, reverse=True)
    h_prev = jnp.concatenate([jnp.zeros_like(hs[:1]), hs[:-1]], axis=0)
    # One matmul over all (time, batch) rows instead of one per step.
    dr = jnp.einsum("tbu,tbg->ug", h_prev, dz)
    return dz, dr, mask_t


def _fwd_nomask(xw_t, r):
    hs, res = _fwd(xw_t, r, None)
    return hs, res


def _bwd_nomask(residuals, dhs):
    dz, dr, _ = _bwd(residuals, dhs)
    return dz, dr


def _bwd_mask(residuals, dhs):
    dz, dr, mask_t = _bwd(residuals, dhs)
    return dz, dr, np.zeros(mask_t.shape, jax.dtypes.float0)


_recurrence_nomask.defvjp(_fwd_nomask, _bwd_nomask)
_recurrence_mask.defvjp(_fwd, _bwd_mask)


def lstm_recurrence(xw: jax.Array, recurrent_kernel: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Hidden states (batch, time, u) from the input projection xw (batch, time, 4u).

    mask: (batch, time) bool or None; a masked step carries h and c forward.
    """
    xw_t = jnp.swapaxes(xw, 0, 1)
    if mask is None:
        hs = _recurrence_nomask(xw_t, recurrent_kernel)
    else:
        hs = _recurrence_mask(xw_t, recurrent_kernel, jnp.swapaxes(mask, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


def lstm_recurrence_reference(xw: jax.Array, recurrent_kernel: jax.Array, mask: jax.Array | None) -> jax.Array:
    """The plain scan, differentiated by JAX's autodiff (the reference for tests)."""
    batch, units = xw.shape[0], recurrent_kernel.shape[0]
    zeros = jnp.zeros((batch, units), xw.dtype)
    mask_t = None if mask is None else jnp.swapaxes(mask, 0, 1)

    def step(carry, inputs):
        h, c = carry
        z, m = inputs if mask_t is not None else (inputs, None)
        z = z + h @ recurrent_kernel
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        if m is not None:
            h_new = jnp.where(m[:, None], h_new, h)
            c_new = jnp.where(m[:, None], c_new, c)
        return (h_new, c_new), h_new

    xw_t = jnp.swapaxes(xw, 0, 1)
    _, hs = jax.lax.scan(step, (zeros, zeros), xw_t if mask_t is None else (xw_t, mask_t))
    return jnp.swapaxes(hs, 0, 1)
