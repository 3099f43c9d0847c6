"""One member's LSTM layers through cuDNN (`jax.experimental.rnn`), and when that is allowed.

`jax.experimental.rnn.lstm` is a custom_vjp over primitives that lower only for CUDA
(and ROCm) and have no batching rule: it cannot sit under the `vmap` over members. A
chunk of exactly one member is therefore compiled with `program.single_member_map`
(the member axis squeezed away, no vmap) and its layers call `lstm_layer` here instead
of the hand-written scan (`fastlstm.engine._recurrence`). Everything else (many members, masks,
recurrent dropout, bfloat16, a CPU) keeps the scan; `eligibility_problems` says why.

Keras's weights map onto cuDNN's as follows: gate order i, f, c, o is cuDNN's i, f, g, o;
cuDNN's matrices are (4u, in), the transpose of Keras's kernel (in, 4u); cuDNN has two
biases (b_ih, b_hh), so Keras's bias goes in b_ih and b_hh is zero. Gradients flow
through the flat packed vector back to the Keras-layout parameters (`pack_weights` is a
differentiable concatenation), so the optimizer sees the same tree as with the scan.

`LSTM_CALL` is the primitive call (`jax.experimental.rnn.lstm`'s signature); tests on a
CPU substitute a function with the same signature built on `rnn.lstm_ref`, which runs
everywhere, to check the packing, the layout and the plumbing end to end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

RECURRENT_IMPLS = ("auto", "scan", "cudnn")

# The cuDNN LSTM call; None: `jax.experimental.rnn.lstm`, imported when first used.
LSTM_CALL: Callable | None = None


def lstm_call() -> Callable:
    """The function `lstm_layer` calls: `LSTM_CALL` when set (tests), else cuDNN's."""
    if LSTM_CALL is not None:
        return LSTM_CALL
    from jax.experimental import rnn

    return rnn.lstm


def cudnn_available() -> bool:
    """A GPU backend whose jaxlib has cuDNN's RNN kernels (`jax.experimental.rnn` lowers)."""
    try:
        if jax.default_backend() != "gpu":
            return False
        from jax._src.lib import gpu_rnn
    except Exception:  # no GPU plugin, or an older jaxlib without gpu_rnn
        return False
    return getattr(gpu_rnn, "compute_rnn_workspace_reserve_space_sizes", None) is not None


def pack_weights(layers: Sequence[tuple[jax.Array, jax.Array, jax.Array]]) -> jax.Array:
    """Keras-layout (kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u)) per layer ->
    cuDNN's flat weight vector: every layer's W_ih, W_hh (transposed), then every layer's
    b_ih (Keras's bias), b_hh (zeros). The inverse of `rnn.unpack_lstm_weights`."""
    matrices, biases = [], []
    for kernel, recurrent_kernel, bias in layers:
        matrices += [kernel.T.reshape(-1), recurrent_kernel.T.reshape(-1)]
        biases += [bias, jnp.zeros_like(bias)]
    return jnp.concatenate([*matrices, *biases])


def lstm_layer(
    x_t: jax.Array,
    kernel: jax.Array,
    recurrent_kernel: jax.Array,
    bias: jax.Array,
    return_sequences: bool = True,
    *,
    go_backwards: bool = False,
) -> jax.Array:
    """One Keras LSTM layer over x_t (time, batch, in) through one cuDNN call: hidden
    states (time, batch, u), or the last one (batch, u) without `return_sequences` -
    what `fastlstm.engine._recurrence.lstm_layer` returns with no mask and no dropout masks.

    go_backwards reads x reversed in time and returns outputs in processing order, as
    Keras. Zero initial state; every sequence has all its steps (no mask: see
    `eligibility_problems`). The matmul precision follows
    `jax.default_matmul_precision` (cuDNN allows TF32 unless it is "highest").
    """
    if go_backwards:
        x_t = x_t[::-1]
    steps, batch, features = x_t.shape
    units = recurrent_kernel.shape[0]
    zeros = jnp.zeros((1, batch, units), x_t.dtype)
    lengths = jnp.full((batch,), steps, jnp.int32)
    weights = pack_weights([(kernel, recurrent_kernel, bias)])
    x = jnp.swapaxes(x_t, 0, 1)  # cuDNN's call is batch-major
    y, h_n, _ = lstm_call()(x, zeros, zeros, weights, lengths, features, units, 1, 0.0, False, None)
    return jnp.swapaxes(y, 0, 1) if return_sequences else h_n[0]


def check_inputs(mask_t: jax.Array | None, compute_dtype: str | None, *recurrent_masks: Any) -> None:
    """The cuDNN layers take no timestep mask, no recurrent-dropout masks and float32 only:
    the driver picks them only then (`eligibility_problems`); anything else is a bug,
    said at trace time rather than as wrong numbers."""
    if mask_t is not None or compute_dtype is not None or any(m is not None for m in recurrent_masks):
        raise ValueError(
            "recurrent_impl='cudnn' takes no timestep mask, no recurrent_dropout and float32 only "
            f"(mask given: {mask_t is not None}, compute_dtype={compute_dtype!r})"
        )


def bidirectional_layer(
    x_t: jax.Array,
    forward_params: tuple[jax.Array, jax.Array, jax.Array],
    backward_params: tuple[jax.Array, jax.Array, jax.Array],
    merge: Callable[[jax.Array, jax.Array], jax.Array],
    return_sequences: bool,
    input_dropout_masks: tuple[jax.Array | None, jax.Array | None] = (None, None),
) -> jax.Array:
    """Keras's Bidirectional(LSTM) as two one-layer cuDNN calls (the backward one on x
    reversed, its sequence flipped back to input order), merged by `merge`. Two calls
    rather than cuDNN's bidirectional mode: each direction has its own input-dropout mask."""
    outs = []
    for params, backwards, drop in zip(
        (forward_params, backward_params), (False, True), input_dropout_masks, strict=True
    ):
        x = x_t if drop is None else x_t * drop[None].astype(x_t.dtype)
        outs.append(lstm_layer(x, *params, return_sequences, go_backwards=backwards))
    forward, backward = outs
    if return_sequences:
        backward = backward[::-1]
    return merge(forward, backward)


def eligibility_problems(
    *,
    precision: str,
    architecture: tuple | None,
    layer_hparams: Sequence[dict[str, Any]],
    has_mask: bool,
    streaming: bool,
    scheduler: bool,
) -> list[str]:
    """Why a sweep's one-member chunks cannot use cuDNN (empty: they can): cuDNN's LSTM
    has no masks, no recurrent dropout and no bfloat16 here, and the streamed and
    successive-halving drivers compile their own (vmapped) programs."""
    problems = []
    if not cudnn_available():
        problems.append(f"no CUDA GPU with cuDNN's RNN kernels (JAX backend {jax.default_backend()!r})")
    if precision != "float32":
        problems.append(f"precision={precision!r} (cuDNN's LSTM runs float32 only)")
    if has_mask:
        problems.append("the data has masked (padded or Masking/mask_value) timesteps")
    if architecture is not None:
        problems += _architecture_problems(architecture, layer_hparams)
    if streaming:
        problems.append("the data is streamed from disk")
    if scheduler:
        problems.append("a scheduler regathers members into shared chunks")
    return problems


def _architecture_problems(architecture: tuple, layer_hparams: Sequence[dict[str, Any]]) -> list[str]:
    """A layer list's obstacles: Embedding(mask_zero=True) masks; recurrent_dropout > 0 for some member."""
    problems = []
    for i, layer in enumerate(architecture):
        if getattr(layer, "mask_zero", False):
            problems.append(f"layers[{i}] Embedding(mask_zero=True) masks timesteps")
    key_ends = ".recurrent_dropout"
    live = sorted({k for hp in layer_hparams for k, v in hp.items() if k.endswith(key_ends) and v != 0})
    if live:
        problems.append(f"recurrent_dropout > 0 ({', '.join(live)})")
    return problems


def check_recurrent_impl(value: object) -> str:
    """The setting's value, or ValueError naming `recurrent_impl`."""
    if not isinstance(value, str) or value not in RECURRENT_IMPLS:
        raise ValueError(f"recurrent_impl must be one of {list(RECURRENT_IMPLS)}, got {value!r}")
    return value
