"""The LSTM stack with Keras numerics, as a Flax linen module.

Keras users compare against `keras.layers.LSTM`, so the defaults here are Keras's:
one kernel (in, 4u), one recurrent kernel (u, 4u), one bias (4u), gate order
i, f, c, o; glorot_uniform kernel, orthogonal recurrent kernel, zero bias with +1 on
the forget slice; tanh / sigmoid; zero initial state; masked steps carry h and c.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from fastlstm.coerce import to_python
from fastlstm.recurrence import lstm_layer
from fastlstm.targets import checked_int

TASKS = ("auto", "classification", "binary", "regression")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What to build: a stacked LSTM and a head for the task.

    With `task="auto"` the head and the loss come from `y` (see `fastlstm.targets`
    for the whole table; `y` of shape (n,) and (n, 1) alike):

    - a column of 0/1 (bool, int or float) -> binary: 1 sigmoid output, binary_crossentropy;
    - a column of whole numbers >= 0 otherwise (ints, or floats such as 2.0) ->
      classification: a softmax over max + 1 classes, sparse_categorical_crossentropy;
      negative whole numbers are an error;
    - a column with any value that is not a whole number -> regression: 1 linear output, mse;
    - one-hot rows (n, k) -> classification: k softmax outputs, categorical_crossentropy;
    - other 0/1 rows (multi-label) -> binary: k sigmoid outputs, binary_crossentropy;
    - other rows (n, k) -> regression: k linear outputs, mse.

    Explicit settings always win: `task` picks its row whatever the values; `loss`
    (of `sweep`) implies its task; `num_classes` means a softmax over that many
    classes (also for 0/1 labels) and is an error with task binary/regression;
    `output_dim` must equal the number of outputs (on class labels with no
    num_classes it is the number of classes). A doubtful guess - more than 100
    classes, mostly distinct labels, or labels that are not 0..k-1 - raises
    `fastlstm.data.TaskInferenceWarning`; what was decided and why is in
    `result.meta["inferred"]`.

    `mask_value` works like `keras.layers.Masking`: a timestep whose features all
    equal it is skipped (its state is carried forward). NumPy numbers are accepted
    for every field and stored as Python numbers.
    """

    units: int = 64
    layers: int = 1
    task: str = "auto"
    num_classes: int | None = None
    output_dim: int | None = None
    dropout: float = 0.0
    mask_value: float | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, to_python(getattr(self, field.name)))
        for name, minimum in (("units", 1), ("layers", 1), ("num_classes", 2), ("output_dim", 1)):
            value = getattr(self, name)
            if value is not None or name in ("units", "layers"):
                checked_int(f"ModelSpec.{name}", value, minimum)
        if not isinstance(self.task, str) or self.task not in TASKS:
            raise ValueError(f"ModelSpec.task must be one of {TASKS}, got {self.task!r}")
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelSpec.dropout must be in [0, 1), got {self.dropout!r}")
        object.__setattr__(self, "dropout", float(self.dropout))
        if self.mask_value is not None:
            if not _is_number(self.mask_value) or not math.isfinite(self.mask_value):
                raise ValueError(f"ModelSpec.mask_value must be a finite number or None, got {self.mask_value!r}")
            object.__setattr__(self, "mask_value", float(self.mask_value))

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
