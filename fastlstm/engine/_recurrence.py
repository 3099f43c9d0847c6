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
for tests) does more work and stores more.

Keras's options (issue 16), all inside the same hand-written backward pass:
- go_backwards flips x and the mask in time before the scan (outputs in processing
  order, as Keras); a copy of x, small next to the residuals.
- zero_output_for_mask zeroes a masked step's output in the step and its incoming
  gradient in the backward step (no extra pass over the outputs).
- A dropout mask shared by the gates (Keras's `dropout` without `recurrent_dropout`)
  multiplies x once before the scan (same size as x, unlike a 4u projection), so the
  default path's jaxpr is unchanged: the layer without options traces to the same jaxpr
  as before these options (checked by comparing `jax.make_jaxpr` of value_and_grad,
  masked or not, with and without sequences, input gradient and bfloat16).
- Per-gate masks (`recurrent_dropout > 0`: four input masks and four on h_{t-1}) switch
  the step to a gate-major (4, batch, u) block: (x * m_k) @ W_k and (h * m'_k) @ R_k as
  two batched matmuls with a batch of four gates, the same flops as the dense path's two
  matmuls (a block-diagonal (4 in, 4u) kernel would do 4x the flops). The residual
  [x; h; 1] stays unmasked and the backward step re-applies the masks (an elementwise
  multiply) rather than storing four masked copies. Its cost against the dense path: to
  be measured (bench/bidirectional.py --dropout times it against the unmasked layer's
  bidirectional and unidirectional runs).
- Bidirectional runs both directions as one `lstm_layer` vmapped over a leading
  direction axis (x and the mask stacked with their time-flipped copies), so each step
  is one batched matmul and there is one scan loop, or as two scans
  (BIDIRECTIONAL_ONE_SCAN). Which is faster on W1, and the ratio to the unidirectional
  layer (target <= 2.2x per member): to be measured with bench/bidirectional.py."""

from __future__ import annotations

import functools
from typing import TypedDict

import jax
import jax.numpy as jnp
import numpy as np

UNROLL = 1  # timesteps per scan iteration; 2 and 4 were not reliably faster on W1 here


def _activate(z: jax.Array, gate_major: bool = False) -> tuple[jax.Array, jax.Array]:
    """Keras gate order i, f, c, o: sigmoid, sigmoid, tanh, sigmoid, on the (batch, 4u)
    block (or the (4, batch, u) gate-major block of the per-gate dropout path).

    sigmoid(x) = 0.5 * tanh(x / 2) + 0.5, so all four come from one tanh pass,
    which XLA fuses into one loop (cheaper than exp-based logistic on the CPU).
    Returns the activated block and the per-column scale (0.5 marks a sigmoid).
    """
    if gate_major:
        scale = jnp.array([0.5, 0.5, 1.0, 0.5], z.dtype)[:, None, None]
    else:
        units = z.shape[-1] // 4
        half = jnp.full((units,), 0.5, z.dtype)
        scale = jnp.concatenate([half, half, jnp.ones((units,), z.dtype), half])
    t = jnp.tanh(z * scale)
    return jnp.where(scale == 0.5, 0.5 * t + 0.5, t), scale


def _split_gates(a: jax.Array, gate_major: bool) -> tuple[jax.Array, ...]:
    """i, f, c, o of a (batch, 4u) block (column slices) or a (4, batch, u) one."""
    if gate_major:
        return a[0], a[1], a[2], a[3]
    units = a.shape[-1] // 4
    return a[:, :units], a[:, units : 2 * units], a[:, 2 * units : 3 * units], a[:, 3 * units :]


def _join_gates(parts: list[jax.Array], gate_major: bool) -> jax.Array:
    return jnp.stack(parts) if gate_major else jnp.concatenate(parts, -1)


def _mm(a: jax.Array, b: jax.Array, dtype: str | None) -> jax.Array:
    """a @ b, or with operands in `dtype` (bfloat16) and a float32 result."""
    if dtype is None:
        return a @ b
    return jnp.matmul(a.astype(dtype), b.astype(dtype), preferred_element_type=jnp.float32)


def _gate_major(p: jax.Array, units: int) -> jax.Array:
    """(rows, 4u) -> (4, rows, u): the four gates' blocks of a kernel, stacked."""
    return p.reshape(p.shape[0], 4, units).transpose(1, 0, 2)


def _preactivation(w, r, b, gate_masks, dtype: str | None):
    """The step's z from (x, h): x @ W + h @ R + b on (batch, 4u), or, with per-gate
    dropout masks (4, batch, in) and (4, batch, u), (x * m_k) @ W_k + (h * m'_k) @ R_k
    + b_k as one batched matmul per operand on a (4, batch, u) gate-major block (four
    (in, u) matmuls cost the flops of one (in, 4u) matmul; no zero blocks)."""
    if gate_masks is None:
        return lambda x, h: _mm(x, w, dtype) + _mm(h, r, dtype) + b
    in_masks, rec_masks = gate_masks
    units = r.shape[0]
    w4, r4, b4 = _gate_major(w, units), _gate_major(r, units), b.reshape(4, 1, units)
    if dtype is not None:
        w4, r4 = w4.astype(dtype), r4.astype(dtype)
    return lambda x, h: _mm(x * in_masks, w4, dtype) + _mm(h * rec_masks, r4, dtype) + b4


def _forward(
    x_t, w, r, b, mask_t, gate_masks, keep_residuals: bool, dtype: str | None, sequences: bool, zero_out: bool
):
    """The scan: all step outputs (or, without `sequences`, the last state) and, with
    `keep_residuals`, what the backward pass needs per step.

    Residuals are chosen so the backward step is two multiplies and two matmuls:
    dfac = d(gate)/dz times the factor it meets in dc or dh (g, c_{t-1}, i,
    tanh(c_t) for i, f, c, o), q = o * (1 - tanh(c_t)^2), f, and [x; h_{t-1}; 1]
    transposed (so the weight-gradient matmul needs no transpose). With `dtype`, the
    matmul operands are cast once to it; gate math and the state stay float32.
    With per-gate dropout masks, [x; h_{t-1}; 1] is stored unmasked (the backward
    step re-applies the masks: no 4x larger residual) and dfac is gate-major.
    """
    batch, units = x_t.shape[1], r.shape[0]
    gate_major = gate_masks is not None
    zeros = jnp.zeros((batch, units), x_t.dtype)
    if dtype is not None and not gate_major:
        x_t, w, r = x_t.astype(dtype), w.astype(dtype), r.astype(dtype)
    preactivation = _preactivation(w, r, b, gate_masks, dtype)

    def step(carry, inputs):
        h, c = carry
        x, m = inputs if mask_t is not None else (inputs, None)
        a, scale = _activate(preactivation(x, h), gate_major)
        i, f, g, o = _split_gates(a, gate_major)
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        h_out = (
            jnp.where(m[:, None], h_new, 0.0) if zero_out and m is not None else None
        )  # Keras's zero_output_for_mask
        if m is not None:
            h_new = jnp.where(m[:, None], h_new, h)
            c_new = jnp.where(m[:, None], c_new, c)
        h_out = (
            (h_new if h_out is None else h_out) if sequences else None
        )  # the last layer of a stack needs only the final state
        if not keep_residuals:
            return (h_new, c_new), h_out
        deriv = jnp.where(scale == 0.5, a * (1.0 - a), 1.0 - a * a)
        dfac = _join_gates([g, c, i, tc], gate_major) * deriv
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


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8, 9))
def _layer(x_t, w, r, b, mask_t, gate_masks, need_input_grad, dtype, sequences, zero_out):
    return _forward(x_t, w, r, b, mask_t, gate_masks, False, dtype, sequences, zero_out)


def _layer_fwd(x_t, w, r, b, mask_t, gate_masks, need_input_grad, dtype, sequences, zero_out):
    out, (dfac, q, f, stacked_t) = _forward(x_t, w, r, b, mask_t, gate_masks, True, dtype, sequences, zero_out)
    return out, (x_t, stacked_t, dfac, q, f, w, r, mask_t, gate_masks)


def _backward_matmuls(w, r, gate_masks, dtype: str | None):
    """The backward step's three products of dz: (dh_{t-1}, dx, weight-gradient share).

    Dense: dz @ R^T, dz @ W^T and [x; h; 1]^T @ dz into an (in + u + 1, 4u)
    accumulator. Per-gate masks: the same per gate as batched matmuls on the
    gate-major dz (4, batch, u), each gate's share masked and summed for dh and dx,
    [x * m_k; h * m'_k; 1]^T @ dz_k into a (4, in + u + 1, u) accumulator.
    """
    if gate_masks is None:
        w_t, r_t = w.T, r.T
        if dtype is not None:
            w_t, r_t = w_t.astype(dtype), r_t.astype(dtype)
        return (lambda dz: _mm(dz, r_t, dtype)), (lambda dz: _mm(dz, w_t, dtype)), (lambda a_t, dz: _mm(a_t, dz, dtype))
    in_masks, rec_masks = gate_masks
    units, batch = r.shape[0], in_masks.shape[1]
    w4_t, r4_t = _gate_major(w, units).transpose(0, 2, 1), _gate_major(r, units).transpose(0, 2, 1)
    if dtype is not None:
        w4_t, r4_t = w4_t.astype(dtype), r4_t.astype(dtype)
    ones = jnp.ones((4, 1, batch), in_masks.dtype)
    masks_t = jnp.concatenate([in_masks.transpose(0, 2, 1), rec_masks.transpose(0, 2, 1), ones], axis=1)
    return (
        lambda dz: jnp.sum(_mm(dz, r4_t, dtype) * rec_masks, axis=0),
        lambda dz: jnp.sum(_mm(dz, w4_t, dtype) * in_masks, axis=0),
        lambda a_t, dz: _mm(a_t * masks_t, dz, dtype),
    )


def _split_weight_grad(dk: jax.Array, features: int, units: int, gate_major: bool):
    """Kernel, recurrent kernel and bias gradients out of the one accumulator."""
    if gate_major:  # (4, in + u + 1, u) -> (rows, 4u) in Keras's gate-column order
        dk = dk.transpose(1, 0, 2).reshape(features + units + 1, 4 * units)
    return dk[:features], dk[features : features + units], dk[features + units]


def _layer_bwd(need_input_grad, dtype, sequences, zero_out, residuals, d_out):
    """Reverse scan over the saved factors.

    A step's weight gradients are one matmul, [x; h_{t-1}; 1]^T (in + u + 1, batch)
    @ dz (batch, 4u), added into one accumulator that is split into kernel, recurrent
    kernel and bias at the end (three matmuls, three adds and a sum were slower).
    """
    x_t, stacked_t, dfac, q, f, w, r, mask_t, gate_masks = residuals
    batch, features = x_t.shape[1:]
    units, gate_major = r.shape[0], gate_masks is not None
    h_grad, x_grad, weight_grad = _backward_matmuls(w, r, gate_masks, dtype)

    def step(carry, inputs):
        dh_next, dc_next, dk = carry
        if sequences:
            dh_out, *inputs = inputs
            if zero_out and mask_t is not None:
                dh_out = jnp.where(inputs[4][:, None], dh_out, 0.0)  # a zeroed output passes no gradient
            dh = dh_out + dh_next
        else:
            dh = dh_next
        df, qq, ff, a_t = inputs[:4]
        dc = dc_next + dh * qq
        dz = _join_gates([dc, dc, dc, dh], gate_major) * df
        dh_prev, dc_prev = h_grad(dz), dc * ff
        dx = x_grad(dz) if need_input_grad else None
        if mask_t is not None:
            keep = inputs[4][:, None]
            dh_prev = jnp.where(keep, dh_prev, dh)
            dc_prev = jnp.where(keep, dc_prev, dc_next)
        return (dh_prev, dc_prev, dk + weight_grad(a_t, dz)), dx

    zeros = jnp.zeros((batch, units), x_t.dtype)
    rows = features + units + 1
    dk = jnp.zeros((4, rows, units) if gate_major else (rows, 4 * units), w.dtype)
    xs = (dfac, q, f, stacked_t) + (() if mask_t is None else (mask_t,))
    if sequences:
        xs, init = (d_out, *xs), (zeros, zeros, dk)
    else:
        init = (d_out, zeros, dk)
    (_, _, dk), dx = jax.lax.scan(step, init, xs, reverse=True, unroll=UNROLL)
    if dx is None:
        dx = jnp.zeros_like(x_t)
    dw, dr, db = _split_weight_grad(dk, features, units, gate_major)
    dmask = None if mask_t is None else np.zeros(mask_t.shape, jax.dtypes.float0)
    dgate_masks = None if gate_masks is None else tuple(jnp.zeros_like(m) for m in gate_masks)
    return dx, dw, dr, db, dmask, dgate_masks


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
    batch, features, units = x_t.shape[1], x_t.shape[2], recurrent_kernel.shape[0]
    _check_dropout_mask(input_dropout_mask, batch, features, "input_dropout_mask", shared_ok=True)
    _check_dropout_mask(recurrent_dropout_mask, batch, units, "recurrent_dropout_mask", shared_ok=False)
    if go_backwards:
        x_t, mask_t = x_t[::-1], None if mask_t is None else mask_t[::-1]
    gate_masks = None
    if recurrent_dropout_mask is not None or (input_dropout_mask is not None and input_dropout_mask.ndim == 3):
        # Masks are constants drawn by the caller: no gradient flows into them.
        gate_masks = tuple(
            jax.lax.stop_gradient(_per_gate(m, batch, width, x_t.dtype))
            for m, width in ((input_dropout_mask, features), (recurrent_dropout_mask, units))
        )
    elif input_dropout_mask is not None:  # one mask shared by the gates: mask the input once, outside the scan
        x_t = x_t * jax.lax.stop_gradient(input_dropout_mask).astype(x_t.dtype)
    zero_out = zero_output_for_mask and mask_t is not None
    out = _layer(
        x_t,
        kernel,
        recurrent_kernel,
        bias,
        mask_t,
        gate_masks,
        need_input_grad,
        compute_dtype,
        return_sequences,
        zero_out,
    )
    if (
        zero_out and mask_t is not None and not return_sequences
    ):  # Keras returns the last processed step's (zeroed) output
        out = jnp.where(mask_t[-1][:, None], out, 0.0)
    return out


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
# Both directions of a Bidirectional layer in one vmapped scan (else two scans): to be measured
# with bench/bidirectional.py on W1-like shapes.
BIDIRECTIONAL_ONE_SCAN = True


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


class _LayerOptions(TypedDict):
    """The `lstm_layer` options both directions of a Bidirectional layer share."""

    need_input_grad: bool
    compute_dtype: str | None
    return_sequences: bool
    zero_output_for_mask: bool


_Params = tuple[jax.Array, jax.Array, jax.Array]  # (kernel, recurrent_kernel, bias)


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
    batch, features, units = x_t.shape[1], x_t.shape[2], forward_params[1].shape[0]
    input_masks = _stack_directions(input_dropout_masks, batch, features, "input_dropout_masks", x_t.dtype)
    rec_masks = _stack_directions(recurrent_dropout_masks, batch, units, "recurrent_dropout_masks", x_t.dtype)
    layer_options: _LayerOptions = {
        "need_input_grad": need_input_grad,
        "compute_dtype": compute_dtype,
        "return_sequences": return_sequences,
        "zero_output_for_mask": return_sequences,  # Keras's Bidirectional forces it
    }
    same_shapes = all(f.shape == b.shape for f, b in zip(forward_params, backward_params))
    both = _directions_in_one_scan if BIDIRECTIONAL_ONE_SCAN and same_shapes else _directions_in_two_scans
    forward, backward = both(x_t, forward_params, backward_params, mask_t, input_masks, rec_masks, layer_options)
    if return_sequences:
        backward = backward[::-1]  # processing order back to input order
    return merge_directions(forward, backward, merge_mode)


def _stack_directions(masks, batch: int, width: int, name: str, dtype) -> jax.Array | None:
    """The two directions' dropout masks stacked on a new leading axis, or None if both
    are None. A missing one becomes ones, and a shared (batch, width) one is repeated
    per gate when the other is per gate (the same products), so the two stack."""
    for mask, direction in zip(masks, ("forward", "backward")):
        _check_dropout_mask(mask, batch, width, f"{name} ({direction})", shared_ok=name.startswith("input"))
    given = [m for m in masks if m is not None]
    if not given:
        return None
    shape = max((m.shape for m in given), key=len)
    return jnp.stack([jnp.ones(shape, dtype) if m is None else jnp.broadcast_to(m, shape).astype(dtype) for m in masks])


def _directions_in_one_scan(
    x_t: jax.Array,
    forward_params: _Params,
    backward_params: _Params,
    mask_t: jax.Array | None,
    input_masks: jax.Array | None,
    rec_masks: jax.Array | None,
    layer_options: _LayerOptions,
) -> tuple[jax.Array, jax.Array]:
    """Both directions as one `lstm_layer` vmapped over a leading direction axis: the
    backward one reads x and the mask flipped in time, and each step is one batched
    matmul for the two directions (one scan loop, half the per-step overhead)."""
    kernels, recurrent_kernels, biases = (jnp.stack([f, b]) for f, b in zip(forward_params, backward_params))
    xs = jnp.stack([x_t, x_t[::-1]])
    masks = None if mask_t is None else jnp.stack([mask_t, mask_t[::-1]])

    def one_direction(x, kernel, recurrent_kernel, bias, mask, input_mask, rec_mask):
        return lstm_layer(
            x,
            kernel,
            recurrent_kernel,
            bias,
            mask,
            input_dropout_mask=input_mask,
            recurrent_dropout_mask=rec_mask,
            **layer_options,
        )

    out = jax.vmap(one_direction)(xs, kernels, recurrent_kernels, biases, masks, input_masks, rec_masks)
    return out[0], out[1]


def _directions_in_two_scans(
    x_t: jax.Array,
    forward_params: _Params,
    backward_params: _Params,
    mask_t: jax.Array | None,
    input_masks: jax.Array | None,
    rec_masks: jax.Array | None,
    layer_options: _LayerOptions,
) -> tuple[jax.Array, jax.Array]:
    """Both directions as two `lstm_layer` calls, the second with go_backwards."""
    outs = []
    for direction, (params, backwards) in enumerate(((forward_params, False), (backward_params, True))):
        outs.append(
            lstm_layer(
                x_t,
                *params,
                mask_t,
                go_backwards=backwards,
                input_dropout_mask=None if input_masks is None else input_masks[direction],
                recurrent_dropout_mask=None if rec_masks is None else rec_masks[direction],
                **layer_options,
            )
        )
    return outs[0], outs[1]
