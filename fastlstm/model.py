"""The LSTM stack with Keras numerics, as a Flax linen module.

Keras users compare against `keras.layers.LSTM`, so the defaults here are Keras's:
one kernel (in, 4u), one recurrent kernel (u, 4u), one bias (4u), gate order
i, f, c, o; glorot_uniform kernel, orthogonal recurrent kernel, zero bias with +1 on
the forget slice; tanh / sigmoid; zero initial state; masked steps carry h and c.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from fastlstm.recurrence import lstm_layer

TASKS = ("auto", "classification", "binary", "regression")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What to build: a stacked LSTM and a head for the task.

    `task="auto"` infers the task from `y`: floats that are not whole numbers give
    regression, 0/1 labels give binary, other integer labels or one-hot rows give
    classification. `num_classes` and `output_dim` are inferred from `y` when None.
    `mask_value` works like `keras.layers.Masking`: a timestep whose features all
    equal it is skipped (its state is carried forward).
    """

    units: int = 64
    layers: int = 1
    task: str = "auto"
    num_classes: int | None = None
    output_dim: int | None = None
    dropout: float = 0.0
    mask_value: float | None = None

    def __post_init__(self) -> None:
        for name in ("units", "layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelSpec.{name} must be a positive int, got {value!r}")
        if self.task not in TASKS:
            raise ValueError(f"ModelSpec.task must be one of {TASKS}, got {self.task!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"ModelSpec.dropout must be in [0, 1), got {self.dropout!r}")
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(f"ModelSpec.num_classes must be >= 2, got {self.num_classes!r}")

    @classmethod
    def coerce(cls, model: ModelSpec | Mapping[str, Any] | None) -> ModelSpec:
        """Accept a ModelSpec, a dict of its fields, or None (the defaults)."""
        if model is None:
            return cls()
        if isinstance(model, cls):
            return model
        if isinstance(model, Mapping):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(model) - known)
            if unknown:
                raise ValueError(f"model: unknown ModelSpec fields {unknown}; expected some of {sorted(known)}")
            return cls(**model)
        raise TypeError(f"model must be a fastlstm.ModelSpec or a dict of its fields, got {type(model).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def keras_lstm_bias_init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """Zero bias with ones on the forget-gate slice (Keras `unit_forget_bias=True`)."""
    del key
    units = shape[0] // 4
    return jnp.zeros(shape, dtype).at[units : 2 * units].set(1.0)


class KerasLSTM(nn.Module):
    """One `keras.layers.LSTM` layer: same parameters, initialisers and equations.

    `dropout_rate` is a call argument (not an attribute) so that it can be a traced,
    per-member value under vmap. As in Keras, one input-dropout mask is drawn per
    sequence and reused at every timestep. With `time_major=True` the input is
    (time, batch, features) and so are returned sequences (what `LSTMModel` uses
    between layers: no transposes); otherwise (batch, time, features) as in Keras.
    `first_layer=True` skips the gradient with respect to the input (it is data).
    `compute_dtype="bfloat16"` runs the matmuls in bfloat16 (parameters stay float32).
    """

    units: int
    return_sequences: bool = False
    time_major: bool = False
    first_layer: bool = False
    compute_dtype: str | None = None

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array | None = None,
        dropout_rate: jax.Array | float | None = None,
    ) -> jax.Array:
        if not self.time_major:
            x = jnp.swapaxes(x, 0, 1)
            mask = None if mask is None else jnp.swapaxes(mask, 0, 1)
        features = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.glorot_uniform(), (features, 4 * self.units))
        recurrent_kernel = self.param("recurrent_kernel", nn.initializers.orthogonal(), (self.units, 4 * self.units))
        bias = self.param("bias", keras_lstm_bias_init, (4 * self.units,))
        if dropout_rate is not None:
            keep = 1.0 - dropout_rate
            drop_mask = jax.random.bernoulli(self.make_rng("dropout"), keep, (x.shape[1], features))
            x = x * (drop_mask / keep)[None, :, :].astype(x.dtype)
        out = lstm_layer(
            x,
            kernel,
            recurrent_kernel,
            bias,
            mask,
            need_input_grad=not self.first_layer,
            compute_dtype=self.compute_dtype,
            return_sequences=self.return_sequences,
        )
        if self.return_sequences and not self.time_major:
            return jnp.swapaxes(out, 0, 1)
        return out  # the last state (batch, u), or time-major hidden states


class LSTMModel(nn.Module):
    """Stacked Keras LSTMs then a Dense head (glorot_uniform kernel, zero bias).

    Takes Keras-layout input (batch, time, features) and an optional (batch, time)
    mask; runs the stack time-major. The head returns raw outputs; `head_activation`
    turns them into what Keras's Dense(activation=...) would output.
    """

    units: int
    layers: int
    out_dim: int
    compute_dtype: str | None = None

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        mask: jax.Array | None = None,
        dropout_rate: jax.Array | float | None = None,
    ) -> jax.Array:
        h = jnp.swapaxes(x, 0, 1)
        mask_t = None if mask is None else jnp.swapaxes(mask, 0, 1)
        for layer in range(self.layers):
            last = layer == self.layers - 1
            h = KerasLSTM(
                self.units,
                return_sequences=not last,
                time_major=True,
                first_layer=layer == 0,
                compute_dtype=self.compute_dtype,
                name=f"lstm_{layer}",
            )(h, mask_t, dropout_rate)
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.glorot_uniform(), name="head")(h)


def head_activation(task: str, outputs: jax.Array) -> jax.Array:
    """Apply the Keras head activation for the task (softmax / sigmoid / linear)."""
    if task == "classification":
        return jax.nn.softmax(outputs, axis=-1)
    if task == "binary":
        return jax.nn.sigmoid(outputs)
    return outputs
