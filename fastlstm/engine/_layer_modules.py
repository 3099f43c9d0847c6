"""The Flax module for a list of layer specs (`SequentialModel`), Keras's numerics.

Runs time-major from the first layer to the last (as `LSTMModel`): Embedding, Dense
and Dropout act on the last axis, so they need no transposes. Parameter names are
`<type>_<i>` (e.g. `lstm_1`, `bidirectional_2` with `forward` and `backward`,
`embedding_0` with `embeddings`), then
`head`. Per-member numeric options (dropout rates, regularizer strengths) arrive in
`hp` (keys `layers.<i>.<option>`); `hp=None` means inference (no dropout).

Dropout masks follow Keras: an LSTM's input mask (and, with recurrent_dropout, its
h mask) is drawn once per sequence and reused at every step; with recurrent_dropout
> 0 there are four independent masks (one per gate) for the inputs and four for h,
otherwise one input mask shared by the gates. Values are 0 or 1/(1-rate).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import flax.linen as nn
import jax
import jax.numpy as jnp

from fastlstm.engine import _cudnn as cudnn
from fastlstm.engine._initializers import orthogonal
from fastlstm.engine._layer_specs import LSTM, Bidirectional, Dense, Dropout, Embedding, Layer, Masking, sequence_output
from fastlstm.engine._recurrence import bidirectional_layer, lstm_layer, merge_directions

if TYPE_CHECKING:
    from jax.typing import DTypeLike


def embedding_init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
    """Keras's Embedding default: uniform(-0.05, 0.05)."""
    return jax.random.uniform(key, shape, dtype, -0.05, 0.05)


def lstm_bias_init(unit_forget_bias: bool):
    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        del key
        units = shape[0] // 4
        bias = jnp.zeros(shape, dtype)
        return bias.at[units : 2 * units].set(1.0) if unit_forget_bias else bias

    return init


def activation(name: str, x: jax.Array) -> jax.Array:
    """Keras's activations by name (hidden Dense layers)."""
    if name == "linear":
        return x
    if name in ("silu", "swish"):
        return jax.nn.silu(x)
    if name == "gelu":
        return jax.nn.gelu(x, approximate=False)
    if name == "softsign":
        return x / (1 + jnp.abs(x))
    return getattr(jax.nn, name)(x)


class LSTMWeights(nn.Module):
    """Kernel (in, 4u), recurrent kernel (u, 4u) and bias (4u) of one LSTM direction."""

    spec: LSTM

    @nn.compact
    def __call__(self, features: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        u = self.spec.units
        return (
            self.param("kernel", nn.initializers.glorot_uniform(), (features, 4 * u)),
            self.param("recurrent_kernel", orthogonal(), (u, 4 * u)),
            self.param("bias", lstm_bias_init(self.spec.unit_forget_bias), (4 * u,)),
        )


class EmbeddingTable(nn.Module):
    """The (input_dim, output_dim) `embeddings` table of a Keras Embedding."""

    spec: Embedding

    @nn.compact
    def __call__(self) -> jax.Array:
        return self.param("embeddings", embedding_init, (self.spec.input_dim, self.spec.output_dim))


class BidirectionalWeights(nn.Module):
    """The `forward` and `backward` LSTM weights of a Bidirectional layer."""

    spec: LSTM

    @nn.compact
    def __call__(self, features: int) -> tuple[tuple, tuple]:
        return (
            LSTMWeights(self.spec, name="forward")(features),
            LSTMWeights(self.spec, name="backward")(features),
        )


def layer_name(i: int, layer: Layer) -> str:
    """Parameter-tree name of layer i: `lstm_1`, `bidirectional_2`, `embedding_0`, `dense_3`."""
    return f"{layer.type.lower()}_{i}"


def _bernoulli_mask(key: jax.Array, rate: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    keep = 1.0 - rate
    return jax.random.bernoulli(key, keep, shape).astype(jnp.float32) / keep


def dropout_masks(
    key: jax.Array, spec: LSTM, hp: Mapping[str, jax.Array], prefix: str, live: frozenset, batch: int, features: int
) -> tuple[jax.Array | None, jax.Array | None]:
    """(input mask, recurrent mask) of one LSTM direction for one batch, Keras's rules.

    `live` says which rates are non-zero for some member of the group (static): a rate
    that is zero everywhere draws nothing. A member whose recurrent_dropout is 0 while
    another's is not gets Keras's shared input mask (the first of the four).
    """
    use_in, use_rec = f"{prefix}dropout" in live, f"{prefix}recurrent_dropout" in live
    if not (use_in or use_rec):
        return None, None
    in_key, rec_key = jax.random.split(key)
    in_mask = None
    if use_in:
        four = _bernoulli_mask(in_key, hp[f"{prefix}dropout"], (4, batch, features))
        if use_rec:
            in_mask = jnp.where(hp[f"{prefix}recurrent_dropout"] > 0, four, four[:1])
        else:
            in_mask = four[0]
    rec_mask = None
    if use_rec:
        rec_mask = _bernoulli_mask(rec_key, hp[f"{prefix}recurrent_dropout"], (4, batch, spec.units))
    return in_mask, rec_mask


class SequentialModel(nn.Module):
    """A stack of layer specs, then the Dense head (glorot kernel, zero bias; raw outputs).

    x: (batch, time, features) float (token ids in feature 0 with an Embedding first);
    mask: (batch, time) bool or None (the data's padding and Masking/mask_zero steps).
    `live`: the `layers.<i>.<option>` rates that are non-zero for some member (static).
    `recurrent_impl="cudnn"`: the LSTMs run through cuDNN (fastlstm/engine/_cudnn.py; one member,
    no mask, no recurrent dropout, float32), otherwise the hand-written scan.
    """

    architecture: tuple[Layer, ...]
    out_dim: int
    compute_dtype: str | None = None
    live: frozenset = frozenset()
    recurrent_impl: str = "scan"

    @nn.compact
    def __call__(
        self, x: jax.Array, mask: jax.Array | None = None, hp: Mapping[str, object] | None = None
    ) -> jax.Array:
        h = jnp.swapaxes(x, 0, 1)
        mask_t = None if mask is None else jnp.swapaxes(mask, 0, 1)
        input_is_data = True
        for i, layer in enumerate(self.architecture):
            name = layer_name(i, layer)
            if isinstance(layer, Masking):
                h = h * (mask_t[..., None] if mask_t is not None else 1.0)
            elif isinstance(layer, Embedding):
                ids = h[..., 0].astype(jnp.int32)
                table = EmbeddingTable(layer, name=name)()
                h = jnp.take(table, ids, axis=0)
                if layer.mask_zero:
                    mask_t = (ids != 0) if mask_t is None else (mask_t & (ids != 0))
                input_is_data = False
            elif isinstance(layer, Dense):
                dense = nn.Dense(layer.units, kernel_init=nn.initializers.glorot_uniform(), name=name)
                h = activation(layer.activation, dense(h))
                input_is_data = False
            elif isinstance(layer, Dropout):
                h = self._dropout(h, i, hp)
            else:
                h = self._recurrent(h, mask_t, layer, i, name, hp, input_is_data)
                input_is_data = False
        out = nn.Dense(self.out_dim, kernel_init=nn.initializers.glorot_uniform(), name="head")(h)
        return jnp.swapaxes(out, 0, 1) if sequence_output(self.architecture) else out

    def _dropout(self, h: jax.Array, i: int, hp: Mapping[str, Any] | None) -> jax.Array:
        key = f"layers.{i}.rate"
        if hp is None or key not in self.live:
            return h
        return h * _bernoulli_mask(self.make_rng("dropout"), hp[key], h.shape).astype(h.dtype)

    def _recurrent(self, h, mask_t, layer, i, name, hp, input_is_data) -> jax.Array:
        prefix = f"layers.{i}."
        features, batch = h.shape[-1], h.shape[1]
        train = hp is not None
        common: _CommonOptions = {"need_input_grad": not input_is_data, "compute_dtype": self.compute_dtype}
        if isinstance(layer, Bidirectional):
            spec = layer.layer
            directions = BidirectionalWeights(spec, name=name)(features)
            masks = [
                dropout_masks(self.make_rng("dropout"), spec, hp, prefix, self.live, batch, features)
                if train
                else (None, None)
                for _ in range(2)
            ]
            if self.recurrent_impl == "cudnn":
                return self._through_cudnn(h, mask_t, layer, directions, masks)
            return bidirectional_layer(
                h,
                directions[0],
                directions[1],
                mask_t,
                merge_mode=layer.merge_mode,
                return_sequences=spec.return_sequences,
                input_dropout_masks=(masks[0][0], masks[1][0]),
                recurrent_dropout_masks=(masks[0][1], masks[1][1]),
                **common,
            )
        weights = LSTMWeights(layer, name=name)(features)
        in_mask, rec_mask = (
            dropout_masks(self.make_rng("dropout"), layer, hp, prefix, self.live, batch, features)
            if train
            else (None, None)
        )
        if self.recurrent_impl == "cudnn":
            return self._through_cudnn(h, mask_t, layer, weights, [(in_mask, rec_mask)])
        options: _LSTMOptions = {}
        if layer.go_backwards:
            options["go_backwards"] = True
        if in_mask is not None:
            options["input_dropout_mask"] = in_mask
        if rec_mask is not None:
            options["recurrent_dropout_mask"] = rec_mask
        return lstm_layer(
            h, *weights, mask_t, common["need_input_grad"], self.compute_dtype, layer.return_sequences, **options
        )

    def _through_cudnn(self, h, mask_t, layer, weights, masks) -> jax.Array:
        """An LSTM or Bidirectional layer through cuDNN (fastlstm/engine/_cudnn.py): the input
        dropout mask (shared by the gates; recurrent dropout is not allowed) multiplies x."""
        cudnn.check_inputs(mask_t, self.compute_dtype, *(rec for _, rec in masks))
        if isinstance(layer, Bidirectional):
            merge = functools.partial(merge_directions, merge_mode=layer.merge_mode)
            drops = (masks[0][0], masks[1][0])
            return cudnn.bidirectional_layer(h, weights[0], weights[1], merge, layer.layer.return_sequences, drops)
        in_mask = masks[0][0]
        x = h if in_mask is None else h * in_mask[None].astype(h.dtype)
        kernel, recurrent_kernel, bias = weights
        return cudnn.lstm_layer(
            x, kernel, recurrent_kernel, bias, layer.return_sequences, go_backwards=layer.go_backwards
        )


class _CommonOptions(TypedDict):
    need_input_grad: bool
    compute_dtype: str | None


class _LSTMOptions(TypedDict, total=False):
    go_backwards: bool
    input_dropout_mask: jax.Array
    recurrent_dropout_mask: jax.Array


def _penalty(reg: Any, w: jax.Array, hp: Mapping[str, Any], key: str) -> jax.Array:
    total = jnp.zeros([], jnp.float32)
    if "l1" in reg.strengths:
        total = total + hp[f"{key}.l1"] * jnp.sum(jnp.abs(w))
    if "l2" in reg.strengths:
        total = total + hp[f"{key}.l2"] * jnp.sum(jnp.square(w))
    return total


_WEIGHT_OF = {"kernel_regularizer": "kernel", "recurrent_regularizer": "recurrent_kernel", "bias_regularizer": "bias"}


def regularization_penalty(architecture: tuple[Layer, ...], params: Any, hp: Mapping[str, object]) -> jax.Array:
    """Keras's regularization losses of the stack (added in full to each batch's mean loss).

    A Bidirectional layer's regularizers apply to both directions (Keras copies the layer).
    """
    total = jnp.zeros([], jnp.float32)
    for i, layer in enumerate(architecture):
        name = layer_name(i, layer)
        spec = layer.layer if isinstance(layer, Bidirectional) else layer
        trees = (
            [params[name][d] for d in ("forward", "backward")]
            if isinstance(layer, Bidirectional)
            else [params.get(name)]
        )
        for reg_name in spec.REGULARIZERS:
            reg = getattr(spec, reg_name)
            if reg is None:
                continue
            for tree in trees:
                total = total + _penalty(reg, tree[_WEIGHT_OF[reg_name]], hp, f"layers.{i}.{reg_name}")
    return total


def has_regularizers(architecture: tuple[Layer, ...]) -> bool:
    for layer in architecture:
        spec = layer.layer if isinstance(layer, Bidirectional) else layer
        if any(getattr(spec, r) is not None for r in spec.REGULARIZERS):
            return True
    return False
