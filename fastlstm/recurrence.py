"""One LSTM layer over time, with a hand-written backward pass.

Layout and work split chosen by measurement on the CPU (see bench/): sequences are
time-major (time, batch, features) from the first layer to the last, so that under
`vmap` over members no large tensor is ever transposed. Each step does the input and
recurrent matmuls and the gate math: precomputing x @ W for all steps before the scan
was 3x slower on W1 (a (time, members, batch, 4u) tensor is written and read back,
memory-bound for 8 input features). The forward step also stores the backward
pass's per-step factors, so the backward step is two multiplies, `dz @ R.T`
(and `dz @ W.T` when the input needs a gradient) and the step's share of the weight
gradients (one matmul for kernel, recurrent kernel and bias), added into an
accumulator: no (time, batch, 4u) gradient tensor is kept. The last layer of a
stack (`return_sequences=False`) neither stores its hidden states nor reads a
gradient for each of them. Autodiff of the plain scan (`lstm_layer_reference`, kept
for tests) does more work and stores more."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

UNROLL = 1  # timesteps per scan iteration; 2 and 4 were not reliably faster on W1 here


def _activate(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Keras gate order i, f, c, o: sigmoid, sigmoid, tanh, sigmoid, on the (batch, 4u) block.

    sigmoid(x) = 0.5 * tanh(x / 2) + 0.5, so all four come from one tanh pass,
    which XLA fuses into one loop (cheaper than exp-based logistic on the CPU).
    Returns the activated block and the per-column scale (0.5 marks a sigmoid).
    """
    units = z.shape[-1] // 4
    half = jnp.full((units,), 0.5, z.dtype)
    scale = jnp.concatenate([half, half, jnp.ones((units,), z.dtype), half])
    t = jnp.tanh(z * scale)
    return jnp.where(scale == 0.5, 0.5 * t + 0.5, t), scale


def _mm(a: jax.Array, b: jax.Array, dtype: str | None) -> jax.Array:
    """a @ b, or with operands in `dtype` (bfloat16) and a float32 result."""
    if dtype is None:
        return a @ b
    return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def _forward(x_t, w, r, b, mask_t, keep_residuals: bool, dtype: str | None, sequences: bool):
    """The scan: all hidden states (or, without `sequences`, the last one) and, with
    `keep_residuals`, what the backward pass needs per step.

    Residuals are chosen so the backward step is two multiplies and two matmuls:
    dfac = d(gate)/dz times the factor it meets in dc or dh (g, c_{t-1}, i,
    tanh(c_t) for i, f, c, o), q = o * (1 - tanh(c_t)^2), f, and [x; h_{t-1}; 1]
    transposed (so the weight-gradient matmul needs no transpose). With `dtype`, the
    matmul operands are cast once to it; gate math and the state stay float32.
    """
    batch, units = x_t.shape[1], r.shape[0]
    zeros = jnp.zeros((batch, units), x_t.dtype)
    if dtype is not None:
        x_t, w, r = x_t.astype(dtype), w.astype(dtype), r.astype(dtype)

    def step(carry, inputs):
        h, c = carry
        x, m = inputs if mask_t is not None else (inputs, None)
        a, scale = _activate(_mm(x, w, dtype) + _mm(h, r, dtype) + b)
        i, f, g, o = a[:, :units], a[:, units : 2 * units], a[:, 2 * units : 3 * units], a[:, 3 * units :]
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        if m is not None:
            h_new = jnp.where(m[:, None], h_new, h)
            c_new = jnp.where(m[:, None], c_new, c)
        h_out = h_new if sequences else None  # the last layer of a stack needs only the final state
        if not keep_residuals:
            return (h_new, c_new), h_out
        deriv = jnp.where(scale == 0.5, a * (1.0 - a), 1.0 - a * a)
        dfac = jnp.concatenate([g, c, i, tc], -1) * deriv
        if m is not None:
            dfac = jnp.where(m[:, None], dfac, 0.0)  # a masked step passes gradients through untouched
        # [x; h_{t-1}; 1]^T: the weight gradients' left operand, kernel, recurrent kernel and bias in one.
        # Stored in float32 even with a bfloat16 `dtype` (x round-trips exactly): XLA:CPU writes a
        # transposed bfloat16 slice ~15x slower than a float32 one.
        stacked_t = jnp.concatenate([x.T.astype(h.dtype), h.T, jnp.ones((1, batch), h.dtype)], axis=0)
        return (h_new, c_new), (h_out, dfac, o * (1.0 - tc * tc), f, stacked_t)

    (h_last, _), out = jax.lax.scan(step, (zeros, zeros), x_t if mask_t is None else (x_t, mask_t), unroll=UNROLL)
    if not keep_residuals:
        return out if sequences else h_last
    hs, *residuals = out
    return (hs if sequences else h_last), tuple(residuals)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _layer(x_t, w, r, b, mask_t, need_input_grad, dtype, sequences):
    return _forward(x_t, w, r, b, mask_t, False, dtype, sequences)


def _layer_fwd(x_t, w, r, b, mask_t, need_input_grad, dtype, sequences):
    out, (dfac, q, f, stacked_t) = _forward(x_t, w, r, b, mask_t, True, dtype, sequences)
    return out, (x_t, stacked_t, dfac, q, f, w, r, mask_t)


def _layer_bwd(need_input_grad, dtype, sequences, residuals, d_out):
    """Reverse scan over the saved factors.

    A step's weight gradients are one matmul, [x; h_{t-1}; 1]^T (in + u + 1, batch)
    @ dz (batch, 4u), added into one accumulator that is split into kernel, recurrent
    kernel and bias at the end (three matmuls, three adds and a sum were slower).
    """
    x_t, stacked_t, dfac, q, f, w, r, mask_t = residuals
    batch, features = x_t.shape[1:]
    units = r.shape[0]
    w_t, r_t = w.T, r.T
    if dtype is not None:
        w_t, r_t = w_t.astype(dtype), r_t.astype(dtype)

    def step(carry, inputs):
        dh_next, dc_next, dk = carry
        if sequences:
            dh_out, *inputs = inputs
            dh = dh_out + dh_next
        else:
            dh = dh_next
        df, qq, ff, a_t = inputs[:4]
        dc = dc_next + dh * qq
        dz = jnp.concatenate([dc, dc, dc, dh], -1) * df
        dh_prev, dc_prev = _mm(dz, r_t, dtype), dc * ff
        dx = _mm(dz, w_t, dtype) if need_input_grad else None
        if mask_t is not None:
            keep = inputs[4][:, None]
            dh_prev = jnp.where(keep, dh_prev, dh)
            dc_prev = jnp.where(keep, dc_prev, dc_next)
        return (dh_prev, dc_prev, dk + _mm(a_t, dz, dtype)), dx

    zeros = jnp.zeros((batch, units), x_t.dtype)
    dk = jnp.zeros((features + units + 1, 4 * units), w.dtype)
    xs = (dfac, q, f, stacked_t) + (() if mask_t is None else (mask_t,))
    if sequences:
        xs, init = (d_out, *xs), (zeros, zeros, dk)
    else:
        init = (d_out, zeros, dk)
    (_, _, dk), dx = jax.lax.scan(step, init, xs, reverse=True, unroll=UNROLL)
    if dx is None:
        dx = jnp.zeros_like(x_t)
    dw, dr, db = dk[:features], dk[features : features + units], dk[features + units]
    dmask = None if mask_t is None else np.zeros(mask_t.shape, jax.dtypes.float0)
    return dx, dw, dr, db, dmask


_layer.defvjp(_layer_fwd, _layer_bwd)


def _check_dropout_mask(mask: jax.Array | None, batch: int, width: int, name: str, shared_ok: bool) -> None:
    """ValueError naming `name` unless `mask` is None, (4, batch, width) or, if `shared_ok`, (batch, width)."""
    if mask is None:
        return
    shapes = [(4, batch, width)] + ([(batch, width)] if shared_ok else [])
    if tuple(mask.shape) not in shapes:
        expected = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{name}: expected shape {expected} (gates, batch, features), got {tuple(mask.shape)}")


def _per_gate(mask: jax.Array | None, batch: int, width: int, dtype) -> jax.Array:
    """A (4, batch, width) mask: ones when None, a shared (batch, width) mask repeated."""
    if mask is None:
        return jnp.ones((4, batch, width), dtype)
    return jnp.broadcast_to(mask, (4, batch, width)).astype(dtype)


def lstm_layer(
    x_t: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array,
    mask_t: jax.Array | None = None,
    need_input_grad: bool = True,
    compute_dtype: str | None = None,
    return_sequences: bool = True,
    *,
    go_backwards: bool = False,
    input_dropout_mask: jax.Array | None = None,
    recurrent_dropout_mask: jax.Array | None = None,
    zero_output_for_mask: bool = False,
) -> jax.Array:
    """Hidden states (time, batch, u) of one Keras LSTM layer over x_t (time, batch, in),
    or with `return_sequences=False` the last output (batch, u), as Keras's flag.

    mask_t: (time, batch) bool or None; a masked step carries h and c forward and
    outputs the held h, or zeros with `zero_output_for_mask` (Keras returns the last
    processed step's output, so a masked last step gives zeros then, even without
    sequences). go_backwards: the sequence (and mask) reversed in time, outputs in
    processing order, as Keras. input_dropout_mask: (batch, in) shared by the four
    gates or (4, batch, in) one per gate; recurrent_dropout_mask: (4, batch, u) on
    h_{t-1} per gate; the caller draws them once per sequence (values 0 or
    1/(1-rate)) and they are reused at every step.
    need_input_grad=False skips the input gradient (the first layer's input is data).
    compute_dtype="bfloat16" runs the matmuls in bfloat16 with float32 results.
    """
    options = (go_backwards, input_dropout_mask, recurrent_dropout_mask, zero_output_for_mask)
    if options == (False, None, None, False):
        return _layer(x_t, kernel, recurrent_kernel, bias, mask_t, need_input_grad, compute_dtype, return_sequences)
    return lstm_layer_reference(
        x_t,
        kernel,
        recurrent_kernel,
        bias,
        mask_t,
        need_input_grad,
        compute_dtype,
        return_sequences,
        go_backwards=go_backwards,
        input_dropout_mask=input_dropout_mask,
        recurrent_dropout_mask=recurrent_dropout_mask,
        zero_output_for_mask=zero_output_for_mask,
    )


def lstm_layer_reference(
    x_t: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array,
    mask_t: jax.Array | None = None,
    need_input_grad: bool = True,
    compute_dtype: str | None = None,
    return_sequences: bool = True,
    *,
    go_backwards: bool = False,
    input_dropout_mask: jax.Array | None = None,
    recurrent_dropout_mask: jax.Array | None = None,
    zero_output_for_mask: bool = False,
) -> jax.Array:
    """The plain scan with Keras's equations (its `implementation=1` cell, one matmul
    per gate on per-gate masked inputs), differentiated by JAX's autodiff."""
    del need_input_grad
    batch, features, units = x_t.shape[1], x_t.shape[2], recurrent_kernel.shape[0]
    _check_dropout_mask(input_dropout_mask, batch, features, "input_dropout_mask", True)
    _check_dropout_mask(recurrent_dropout_mask, batch, units, "recurrent_dropout_mask", False)
    in_masks = _per_gate(input_dropout_mask, batch, features, x_t.dtype)
    rec_masks = _per_gate(recurrent_dropout_mask, batch, units, x_t.dtype)
    if go_backwards:
        x_t, mask_t = x_t[::-1], None if mask_t is None else mask_t[::-1]
    zeros = jnp.zeros((batch, units), x_t.dtype)
    kernels, recurrents, biases = (jnp.split(p, 4, axis=-1) for p in (kernel, recurrent_kernel, bias))

    def step(carry, inputs):
        h, c = carry
        x, m = inputs if mask_t is not None else (inputs, None)
        i, f, g, o = (
            _mm(x * in_masks[k], kernels[k], compute_dtype)
            + _mm(h * rec_masks[k], recurrents[k], compute_dtype)
            + biases[k]
            for k in range(4)
        )
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        if m is None:
            return (h_new, c_new), h_new
        out = jnp.where(m[:, None], h_new, 0.0 if zero_output_for_mask else h)
        return (jnp.where(m[:, None], h_new, h), jnp.where(m[:, None], c_new, c)), out

    _, outs = jax.lax.scan(step, (zeros, zeros), x_t if mask_t is None else (x_t, mask_t))
    return outs if return_sequences else outs[-1]


MERGE_MODES = ("concat", "sum", "mul", "ave")


def merge_directions(forward: jax.Array, backward: jax.Array, merge_mode: str) -> jax.Array:
    """Keras Bidirectional's merge of the two directions' outputs (same time order)."""
    if merge_mode == "concat":
        return jnp.concatenate([forward, backward], axis=-1)
    if merge_mode == "sum":
        return forward + backward
    if merge_mode == "mul":
        return forward * backward
    if merge_mode == "ave":
        return (forward + backward) / 2
    raise ValueError(f"merge_mode: expected one of {MERGE_MODES}, got {merge_mode!r}")


def bidirectional_layer(
    x_t: jax.Array,
    forward_params: tuple[jax.Array, jax.Array, jax.Array],
    backward_params: tuple[jax.Array, jax.Array, jax.Array],
    mask_t: jax.Array | None = None,
    *,
    merge_mode: str = "concat",
    return_sequences: bool = False,
    need_input_grad: bool = True,
    compute_dtype: str | None = None,
    input_dropout_masks: tuple[jax.Array | None, jax.Array | None] = (None, None),
    recurrent_dropout_masks: tuple[jax.Array | None, jax.Array | None] = (None, None),
) -> jax.Array:
    """Keras `Bidirectional(LSTM(...), merge_mode)` over x_t (time, batch, in).

    params: (kernel, recurrent_kernel, bias) per direction. The backward layer runs
    with go_backwards and its outputs are flipped back to input time order when
    returning sequences; since masked steps hold the state, this is a reverse over
    the valid steps for pre- and post-padding alike. As Keras, masked steps output
    zeros when returning sequences. Returns (time, batch, 2u or u) or (batch, 2u or u).
    """
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode: expected one of {MERGE_MODES}, got {merge_mode!r}")
    outs = [
        lstm_layer(
            x_t,
            *params,
            mask_t,
            need_input_grad,
            compute_dtype,
            return_sequences,
            go_backwards=backwards,
            input_dropout_mask=input_mask,
            recurrent_dropout_mask=rec_mask,
            zero_output_for_mask=return_sequences,
        )
        for params, backwards, input_mask, rec_mask in zip(
            (forward_params, backward_params), (False, True), input_dropout_masks, recurrent_dropout_masks
        )
    ]
    if return_sequences:
        outs[1] = outs[1][::-1]
    return merge_directions(outs[0], outs[1], merge_mode)
