"""The LSTM stack with Keras numerics, as a Flax linen module.

Keras users compare against `keras.layers.LSTM`, so the defaults here are Keras's:
one kernel (in, 4u), one recurrent kernel (u, 4u), one bias (4u), gate order
i, f, c, o; glorot_uniform kernel, orthogonal recurrent kernel, zero bias with +1 on
the forget slice; tanh / sigmoid; zero initial state; masked steps carry h and c.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from fastlstm._common.coerce import checked_int, to_python
from fastlstm._common.suggest import did_you_mean
from fastlstm.engine import _cudnn as cudnn
from fastlstm.engine._initializers import orthogonal
from fastlstm.engine._layer_specs import LSTM, Bidirectional, Layer, Masking, check_architecture, layer_from_config
from fastlstm.engine._layer_specs import hparam_defaults as layer_hparam_defaults
from fastlstm.engine._layer_specs import sequence_output as layers_sequence_output
from fastlstm.engine._recurrence import lstm_layer

if TYPE_CHECKING:
    from jax.typing import DTypeLike

    from fastlstm.engine._layer_specs import Embedding

TASKS = ("auto", "classification", "binary", "regression")


class DataOptions(TypedDict):
    """What `prepare_data` needs to know about the model beyond the head."""

    sequence_targets: bool
    mask_zero: bool


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What to build: a stacked LSTM and a head for the task.

    With `task="auto"` the head and the loss come from `y` (see `fastlstm.data._targets`
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
    `fastlstm.data._prepare.TaskInferenceWarning`; what was decided and why is in
    `result.meta["inferred"]`.

    `mask_value` works like `keras.layers.Masking`: a timestep whose features all
    equal it is skipped (its state is carried forward). NumPy numbers are accepted
    for every field and stored as Python numbers.

    `layers` is either an int (the shorthand: that many stacked `LSTM(units)`, the
    last returning its final state) or a list of layer specs, Keras-Sequential-like
    (`fastlstm.layers`: Masking, Embedding, LSTM, Bidirectional, Dropout, Dense; dicts
    with a "type" key are accepted, as TOML's `[[model.layers]]` tables give them).
    The head (Dense from the task) is always added after them. With a list, `units`
    and `dropout` are unused (set them per layer: grid keys `layers.<i>.dropout`...),
    and a first `Masking` layer sets `mask_value`.

    `input_timesteps` / `input_features` are the input shape the model was built for (a
    Keras model's `Input(shape=(timesteps, features))`, kept by `fl.from_keras`); None
    accepts any. The data is checked against them before anything compiles: a model
    built for 6 features would otherwise train on 12 without a word.

    `normalization={"mean": [...], "std": [...]}` is a fixed input scaling the model
    applies first, (x - mean) / std per feature (or one number for all): a Keras
    `Normalization` layer read by `fl.from_keras`. Unlike `standardize` it is not fitted
    on the data; a sweep scales with it (`result.preprocessing`) and `to_keras` writes
    the layer back. `custom_initializers` lists the Keras model's initializers that are not
    Keras's defaults ("Keras layer 'lstm' (LSTM): kernel_initializer=..."): a fresh init
    per seed draws the defaults, so a sweep refuses them unless members start from given
    weights, whichever way the model came in (`fastlstm.interop._keras.check_fresh_init`).
    """

    units: int = 64
    layers: int | tuple[Layer, ...] = 1
    task: str = "auto"
    num_classes: int | None = None
    output_dim: int | None = None
    dropout: float = 0.0
    mask_value: float | None = None
    input_timesteps: int | None = None
    input_features: int | None = None
    normalization: Mapping[str, Any] | None = None
    custom_initializers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, to_python(getattr(self, field.name)))
        object.__setattr__(self, "normalization", _checked_normalization(self.normalization))
        object.__setattr__(self, "custom_initializers", _checked_texts(self.custom_initializers))
        if isinstance(self.layers, (list, tuple)):
            self._set_layer_list()
        for name, minimum in (
            ("units", 1),
            ("layers", 1),
            ("num_classes", 2),
            ("output_dim", 1),
            ("input_timesteps", 1),
            ("input_features", 1),
        ):
            value = getattr(self, name)
            if name == "layers" and self.layer_list is not None:
                continue
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

    def _set_layer_list(self) -> None:
        """Layer configs -> specs (errors name the position); a first Masking sets mask_value."""
        given = cast("Sequence[Layer | Mapping[str, Any]]", self.layers)  # a list or tuple: see __post_init__
        layers = tuple(layer_from_config(layer, i) for i, layer in enumerate(given))
        check_architecture(layers)
        object.__setattr__(self, "layers", layers)
        if to_python(self.dropout):
            raise ValueError("ModelSpec.dropout applies to the shorthand only; with a layer list set LSTM(dropout=...)")
        if isinstance(layers[0], Masking):
            given = to_python(self.mask_value)
            if given is not None and float(given) != layers[0].mask_value:
                raise ValueError(
                    f"ModelSpec.mask_value={given!r} contradicts layers[0] Masking(mask_value={layers[0].mask_value})"
                )
            object.__setattr__(self, "mask_value", layers[0].mask_value)
        elif self.mask_value is not None:
            raise ValueError("ModelSpec.mask_value with a layer list: put a Masking layer first instead")

    @property
    def layer_list(self) -> tuple[Layer, ...] | None:
        """The layer specs, or None for the shorthand (`layers` an int)."""
        return self.layers if isinstance(self.layers, tuple) else None

    @property
    def sequence_output(self) -> bool:
        """One prediction per timestep (the last LSTM returns sequences)."""
        return self.layer_list is not None and layers_sequence_output(self.layer_list)

    @property
    def embedding(self) -> Embedding | None:
        """The first layer when it is an Embedding (the input is token ids), else None."""
        first = self.layer_list[0] if self.layer_list else None
        return cast("Embedding | None", first if first is not None and first.type == "Embedding" else None)

    def hparam_defaults(self) -> dict[str, float] | None:
        """The layers' numeric options (`layers.<i>.<option>` -> value), None for the shorthand."""
        return None if self.layer_list is None else layer_hparam_defaults(self.layer_list)

    def data_options(self) -> DataOptions:
        """What `prepare_data` needs to know about the model beyond the head."""
        embedding = self.embedding
        return {"sequence_targets": self.sequence_output, "mask_zero": bool(embedding and embedding.mask_zero)}

    def result_meta(self) -> dict[str, Any]:
        """Result metadata that rebuilds a layer-list model (empty for the shorthand)."""
        if self.layer_list is None:
            return {}
        return {
            "architecture": [layer.get_config() for layer in self.layer_list],
            "sequence_output": self.sequence_output,
        }

    def plan_shape(self) -> tuple[int, int]:
        """(units, layers) the plan and the memory estimate use: for a layer list the widest
        LSTM and the number of LSTM directions."""
        if self.layer_list is None:
            return self.units, cast(int, self.layers)  # the shorthand: a number of layers
        recurrent = [layer for layer in self.layer_list if isinstance(layer, (LSTM, Bidirectional))]
        directions = sum(2 if isinstance(layer, Bidirectional) else 1 for layer in recurrent)
        return max(layer.units for layer in recurrent), directions

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
                hint = did_you_mean(unknown[0], known)
                raise ValueError(f"model: unknown ModelSpec fields {unknown}{hint}; expected some of {sorted(known)}")
            return cls(**model)
        raise TypeError(f"model must be a fastlstm.ModelSpec or a dict of its fields, got {type(model).__name__}")

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("input_timesteps", "input_features", "normalization", "custom_initializers"):
            if not out[name]:  # unset: left out, as before they existed
                del out[name]
        if "custom_initializers" in out:
            out["custom_initializers"] = list(out["custom_initializers"])
        if self.layer_list is not None:
            out["layers"] = [layer.get_config() for layer in self.layer_list]
        return out


def check_token_ids(model: ModelSpec, x: np.ndarray, mask: np.ndarray | None, name: str = "x") -> None:
    """With an Embedding first, x holds token ids: whole numbers in [0, input_dim) at every
    step that is not padding (an id out of range would silently read a wrong row)."""
    embedding = model.embedding
    if embedding is None:
        return
    ids = x[..., 0]
    if x.shape[-1] != 1:
        raise ValueError(f"{name}: an Embedding model takes token ids (samples, timesteps), got shape {x.shape}")
    bad = (ids != np.round(ids)) | (ids < 0) | (ids >= embedding.input_dim)
    if mask is not None and not embedding.mask_zero:
        bad &= mask
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: token id {ids[where]!r} at {where} is not a whole number in [0, {embedding.input_dim}) "
            f"(Embedding input_dim={embedding.input_dim})"
        )


def _checked_normalization(value: object) -> dict[str, list[float]] | None:
    """`ModelSpec.normalization` as {"mean": [...], "std": [...]} of finite numbers (std > 0),
    of one length or one of them a single number; None as it is."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"mean", "std"}:
        raise ValueError(f"ModelSpec.normalization must be a table of 'mean' and 'std', got {value!r}")
    out = {}
    for key in ("mean", "std"):
        numbers = np.atleast_1d(np.asarray(value[key], dtype=object))
        if numbers.ndim != 1 or not all(_is_number(v) and math.isfinite(v) for v in numbers):
            raise ValueError(f"ModelSpec.normalization[{key!r}] must be finite numbers, got {value[key]!r}")
        out[key] = [float(v) for v in numbers]
    if min(out["std"]) <= 0 or len({len(out["mean"]), len(out["std"])} - {1}) > 1:
        raise ValueError("ModelSpec.normalization: 'std' must be > 0, as many numbers as 'mean' (or one)")
    return out


def _checked_texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"ModelSpec.custom_initializers must be a list of strings, got {value!r}")
    return tuple(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def keras_lstm_bias_init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
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
    `recurrent_impl="cudnn"` runs the layer through cuDNN (fastlstm/engine/_cudnn.py; one member,
    no mask, float32): a static choice, so the default scan program is unchanged.
    """

    units: int
    return_sequences: bool = False
    time_major: bool = False
    first_layer: bool = False
    compute_dtype: str | None = None
    recurrent_impl: str = "scan"

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
        recurrent_kernel = self.param("recurrent_kernel", orthogonal(), (self.units, 4 * self.units))
        bias = self.param("bias", keras_lstm_bias_init, (4 * self.units,))
        if dropout_rate is not None:
            keep = 1.0 - dropout_rate
            drop_mask = jax.random.bernoulli(self.make_rng("dropout"), keep, (x.shape[1], features))
            x = x * (drop_mask / keep)[None, :, :].astype(x.dtype)
        if self.recurrent_impl == "cudnn":
            cudnn.check_inputs(mask, self.compute_dtype)
            out = cudnn.lstm_layer(x, kernel, recurrent_kernel, bias, self.return_sequences)
        else:
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
    recurrent_impl: str = "scan"

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
                recurrent_impl=self.recurrent_impl,
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


def check_input_shape(model: ModelSpec, shape: tuple[int, ...], name: str = "x") -> None:
    """Refuse data whose (timesteps, features) differ from the shape the model was built for
    (`ModelSpec.input_timesteps` / `input_features`, a Keras model's Input), in one line
    naming both shapes. `shape` is the data's (n, timesteps, features)."""
    steps_wanted, features_wanted = model.input_timesteps, model.input_features
    _, steps, features = shape
    if features_wanted not in (None, features):
        what = f"{features} features per step where the model takes {features_wanted}"
        fix = f"keras.Input(shape=({steps_wanted}, {features}))"
    elif steps_wanted not in (None, steps):
        what = f"{steps} timesteps where the model takes {steps_wanted}"
        fix = f"keras.Input(shape=(None, {features_wanted}))" if features_wanted else "keras.Input(shape=(None,))"
        fix += " (any length)"
    else:
        return
    keras_shape = (None, steps_wanted) + ((features_wanted,) if features_wanted else ())  # token ids: (None, t)
    raise ValueError(
        f"{name} has shape (samples, {steps}, {features}) but the model's Input shape is {keras_shape}: {what}; "
        f"give the data the model's shape, or rebuild the model with {fix}"
    )
