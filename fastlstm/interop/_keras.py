"""Keras models in and out (the `[keras]` extra; Keras 3).

`from_keras(model)` reads a `Sequential` or a functional chain of Input, Masking,
a leading Normalization (fixed input scaling: `ModelSpec.normalization`, what `to_keras`
writes for a sweep with `standardize`), Embedding, LSTM, Bidirectional(LSTM), Dropout and
Dense layers (the last Dense is the
head: softmax -> classification, sigmoid -> binary, linear -> regression) into a
`ModelSpec` with a layer list plus a params tree; anything else - another layer type,
or an option such as stateful, return_state, unroll, a constraint, an activity
regularizer, a non-default activation, a 16-bit dtype policy, a Bidirectional
backward_layer unlike its forward one, an unbuilt model - is an error naming the layer
and the option, never a silent approximation. Non-default initializers convert (the
weights are what they drew) and are kept in `ModelSpec.custom_initializers`; a fresh
init per seed refuses them (`check_fresh_init`), whether the sweep gets the model or its spec. `model.compile()` settings are
not read. `to_keras(spec, params, ...)` builds the uncompiled Keras model back with
those weights.

Weight layout (Keras `get_weights()` order): LSTM [kernel, recurrent_kernel, bias];
Bidirectional forward then backward; Embedding [embeddings]; Dense [kernel, bias].
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
import sys
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from fastlstm.data._prepare import prepare_inputs
from fastlstm.data._preprocessing import apply_preprocessing, shift_and_scale
from fastlstm.engine._layer_modules import layer_name
from fastlstm.engine._layer_specs import (
    ACTIVATIONS,
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Layer,
    Masking,
    Regularizer,
)
from fastlstm.engine._model import ModelSpec, check_token_ids
from fastlstm.engine._program import ModelConfig, forward

EXTRA_HINT = "pip install 'fastlstm[keras]'"
HEAD_TASKS = {"softmax": "classification", "sigmoid": "binary", "linear": "regression"}
TASK_ACTIVATIONS = {"classification": "softmax", "binary": "sigmoid", "regression": "linear"}
_LSTM_DEFAULTS = {
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "use_bias": True,
    "stateful": False,
    "return_state": False,
    "unroll": False,
    "kernel_constraint": None,
    "recurrent_constraint": None,
    "bias_constraint": None,
    "activity_regularizer": None,
}
# Keras's default initializers, the ones fastlstm's fresh init per seed draws from
_DEFAULT_INITIALIZERS = {
    "LSTM": {
        "kernel_initializer": "glorot_uniform",
        "recurrent_initializer": "orthogonal",
        "bias_initializer": "zeros",
    },
    "Dense": {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"},
    "Embedding": {"embeddings_initializer": "uniform"},
}
_LOW_PRECISION = ("float16", "bfloat16")


def require_keras() -> Any:
    """The keras module, or an ImportError naming the extra to install.

    fastlstm runs on JAX: when Keras is not imported yet and no backend is chosen
    (KERAS_BACKEND), it is started on JAX - Keras's own default is TensorFlow (its
    keras.json), which a fastlstm install need not have; a .keras file loads on any backend.
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as err:
        missing = getattr(err, "name", None) or "keras"
        if missing.split(".")[0] == "keras":
            raise ImportError(f"Keras interop needs Keras 3: {EXTRA_HINT} ({err})") from None
        backend = os.environ.get("KERAS_BACKEND")
        raise ImportError(
            f"Keras is installed but could not start its backend (KERAS_BACKEND={backend!r}): {err}; "
            "set KERAS_BACKEND=jax"
        ) from None
    return keras


def is_keras_model(obj: Any) -> bool:
    """Duck-typed (no import of keras): a keras.Model has layers, get_weights and a config."""
    return hasattr(obj, "layers") and hasattr(obj, "get_weights") and hasattr(obj, "get_config")


def _unsupported(layer: Any, option: str, value: object, hint: str = "") -> ValueError:
    if not isinstance(value, (str, int, float, bool, tuple, list, dict, type(None))):
        value = type(value).__name__  # a Keras object (regularizer, constraint): its class, not its repr
    return ValueError(
        f"Keras layer {layer.name!r} ({type(layer).__name__}): option {option}={value!r} is not supported"
        + (f"; {hint}" if hint else "")
    )


def _regularizer(layer: Any, name: str) -> Regularizer | None:
    reg = getattr(layer, name, None)
    if reg is None:
        return None
    kind = type(reg).__name__
    if kind not in ("L1", "L2", "L1L2"):
        raise _unsupported(layer, name, kind)
    return Regularizer.coerce({"type": kind, **{k: float(v) for k, v in reg.get_config().items()}}, name)


def _initializer_config(keras: Any, init: Any) -> tuple[str, dict[str, Any]]:
    """An initializer's class and options, without its seed (which a fresh init replaces)."""
    init = keras.initializers.get(init)
    config = {k: v for k, v in init.get_config().items() if k != "seed"}
    return type(init).__name__, config


def _custom_initializer_options(layer: Any) -> list[str]:
    """`option=Kind` for each of `layer`'s initializers that is not Keras's default (an
    LSTM's live on its cell; a Bidirectional's on its two LSTMs, prefixed with which)."""
    kind = type(layer).__name__
    if kind == "Bidirectional":
        return [
            f"{side}.{text}"
            for side in ("forward_layer", "backward_layer")
            for text in _custom_initializer_options(getattr(layer, side))
        ]
    keras = require_keras()
    holder = layer.cell if kind == "LSTM" else layer
    out = []
    for option, default in _DEFAULT_INITIALIZERS.get(kind, {}).items():
        name, config = _initializer_config(keras, getattr(holder, option))
        expected = _initializer_config(keras, default)
        if (name, config) != expected:
            shown = f"{name}({config})" if name == expected[0] else name  # same class: the options differ
            out.append(f"{option}={shown}")
    return out


def custom_initializers(layer: Any) -> list[str]:
    """`layer`'s initializers that are not Keras's defaults, as "Keras layer 'name' (Class):
    option=Kind". A fresh init per seed draws Keras's defaults, so these matter only when
    members do not start from the model's weights."""
    prefix = f"Keras layer {layer.name!r} ({type(layer).__name__})"
    return [f"{prefix}: {text}" for text in _custom_initializer_options(layer)]


def _lstm_spec(layer: Any) -> LSTM:
    config = layer.get_config()
    for option, default in _LSTM_DEFAULTS.items():
        value = config.get(option, default)
        if value is not None and isinstance(value, dict):  # a serialised constraint or regularizer
            raise _unsupported(layer, option, value.get("class_name", value))
        if value != default:
            raise _unsupported(layer, option, value)
    return LSTM(
        units=int(layer.units),
        return_sequences=bool(layer.return_sequences),
        go_backwards=bool(layer.go_backwards),
        dropout=float(layer.dropout),
        recurrent_dropout=float(layer.recurrent_dropout),
        kernel_regularizer=_regularizer(layer.cell, "kernel_regularizer"),
        recurrent_regularizer=_regularizer(layer.cell, "recurrent_regularizer"),
        bias_regularizer=_regularizer(layer.cell, "bias_regularizer"),
        unit_forget_bias=bool(layer.cell.unit_forget_bias),
    )


def _bidirectional_lstm(layer: Any) -> LSTM:
    """The one LSTM spec both directions of a Keras Bidirectional share: fastlstm runs the
    same configuration forwards and backwards, so a `backward_layer` that differs (units,
    dropout, a regularizer, ...) is refused rather than silently replaced by the forward one."""
    if type(layer.backward_layer).__name__ != "LSTM":
        raise _unsupported(layer, "backward_layer", type(layer.backward_layer).__name__)
    forward = _lstm_spec(layer.forward_layer)
    backward = dataclasses.replace(_lstm_spec(layer.backward_layer), go_backwards=forward.go_backwards)
    for field in dataclasses.fields(LSTM):
        ours, theirs = getattr(forward, field.name), getattr(backward, field.name)
        if ours != theirs:
            value = theirs.get_config() if isinstance(theirs, Regularizer) else theirs
            raise _unsupported(
                layer,
                f"backward_layer.{field.name}",
                value,
                f"fastlstm's Bidirectional runs one LSTM both ways (the forward layer has {field.name}={ours!r})",
            )
    return forward


def _lstm_weights(layer: Any) -> dict[str, np.ndarray]:
    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    return {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}


def _dense_checks(layer: Any) -> str:
    config = layer.get_config()
    if not config.get("use_bias", True):
        raise _unsupported(layer, "use_bias", False)
    for option in ("kernel_constraint", "bias_constraint", "activity_regularizer"):
        if config.get(option) is not None:
            raise _unsupported(layer, option, config[option])
    activation = config.get("activation", "linear")
    if activation is not None and not isinstance(activation, str):  # a custom function, serialised
        raise _unsupported(layer, "activation", "<a custom function>", f"expected one of {ACTIVATIONS}")
    return "linear" if activation in (None, "linear") else activation


def _chain(model: Any) -> list[Any]:
    """The model's layers in order, without Input layers; a functional model must be a chain."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ != "Sequential":
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError("from_keras: a functional model must have one input and one output (a chain of layers)")
        for before, after in itertools.pairwise(layers):
            nodes = getattr(after, "_inbound_nodes", [])
            inbound = [layer for node in nodes for layer in getattr(node, "parent_nodes", [])]
            # Keras passes a layer's mask along as an argument computed by plain ops: only layers count
            keras = require_keras()
            parents = {
                id(n.operation) for n in inbound if isinstance(getattr(n, "operation", None), keras.layers.Layer)
            }
            if (nodes and len(nodes) != 1) or (parents and parents != {id(before)}):
                raise ValueError(f"from_keras: layer {after.name!r} does not take only {before.name!r}'s output")
    if not layers:
        raise ValueError("from_keras: the model has no layers")
    return layers


def _convert_layer(layer: Any) -> tuple[Layer, Any]:
    """One Keras layer -> (layer spec, its params subtree or None)."""
    kind = type(layer).__name__
    if kind == "Masking":
        return Masking(float(layer.mask_value)), None
    if kind == "Embedding":
        for option in ("embeddings_regularizer", "embeddings_constraint", "activity_regularizer"):
            if getattr(layer, option, None) is not None:
                raise _unsupported(layer, option, getattr(layer, option))
        embedding = Embedding(int(layer.input_dim), int(layer.output_dim), bool(layer.mask_zero))
        return embedding, {"embeddings": np.asarray(layer.get_weights()[0], np.float32)}
    if kind == "LSTM":
        return _lstm_spec(layer), _lstm_weights(layer)
    if kind == "Bidirectional":
        if type(layer.forward_layer).__name__ != "LSTM":
            raise _unsupported(layer, "layer", type(layer.forward_layer).__name__)
        if layer.merge_mode is None:
            raise _unsupported(layer, "merge_mode", None)
        params = {"forward": _lstm_weights(layer.forward_layer), "backward": _lstm_weights(layer.backward_layer)}
        return Bidirectional(_bidirectional_lstm(layer), layer.merge_mode), params
    if kind == "Dropout":
        if getattr(layer, "noise_shape", None) is not None:
            raise _unsupported(layer, "noise_shape", layer.noise_shape)
        return Dropout(float(layer.rate)), None
    if kind == "Dense":
        activation = _dense_checks(layer)
        spec = Dense(
            int(layer.units),
            activation,
            _regularizer(layer, "kernel_regularizer"),
            _regularizer(layer, "bias_regularizer"),
        )
        kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
        return spec, {"kernel": kernel, "bias": bias}
    raise ValueError(
        f"Keras layer {layer.name!r}: type {kind} is not supported; "
        "expected Input, Masking, Embedding, LSTM, Bidirectional(LSTM), Dropout, Dense"
    )


def _head(layer: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The last Dense: the task from its activation, the output width from its units."""
    if type(layer).__name__ != "Dense":
        raise ValueError(
            f"from_keras: the last layer must be a Dense head, got {layer.name!r} ({type(layer).__name__}); "
            "its activation gives the task: Dense(k, activation='softmax'), Dense(1, activation='sigmoid') "
            "or a linear Dense"
        )
    activation = _dense_checks(layer)
    task = HEAD_TASKS.get(activation)
    if task is None:
        raise _unsupported(layer, "activation (of the head)", activation)
    units = int(layer.units)
    if task == "classification" and units < 2:
        raise _unsupported(layer, "units (softmax head)", units)
    for option in ("kernel_regularizer", "bias_regularizer"):
        if getattr(layer, option, None) is not None:
            raise _unsupported(layer, f"{option} (of the head)", getattr(layer, option))
    options = {"task": task, "output_dim": units, "num_classes": units if task == "classification" else None}
    kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    return options, {"kernel": kernel, "bias": bias}


def _convert_named(layer: Any) -> tuple[Layer, Any]:
    """`_convert_layer`, with the Keras layer's name and class on a spec's own error."""
    try:
        return _convert_layer(layer)
    except ValueError as err:
        if str(err).startswith("Keras layer"):
            raise
        raise ValueError(f"Keras layer {layer.name!r} ({type(layer).__name__}): {err}") from None


def _check_built(model: Any) -> None:
    """An unbuilt model (a Sequential with no Input) has no weights and no input shape yet."""
    if not getattr(model, "built", True) or not getattr(model, "inputs", None):
        raise ValueError(
            f"from_keras: Keras model {model.name!r} is not built (no input shape, so no weights yet); "
            "start it with keras.Input(shape=(timesteps, features)) (token ids: shape=(timesteps,), "
            "dtype='int32'), or call model.build((None, timesteps, features)) first"
        )
    dtype = str(getattr(model.inputs[0], "dtype", "float32"))
    if dtype in _LOW_PRECISION:
        raise ValueError(
            f"from_keras: Keras model {model.name!r} has a {dtype} Input, which rounds x before the first "
            "layer; fastlstm reads x as float32: give keras.Input a float32 dtype"
        )
    first = _chain(model)[0]
    if dtype.startswith(("int", "uint")) and type(first).__name__ != "Embedding":
        raise ValueError(
            f"from_keras: Keras model {model.name!r} has Input dtype {dtype} but its first layer is "
            f"{first.name!r} ({type(first).__name__}), not an Embedding: Keras would truncate x to whole "
            "numbers before it, fastlstm reads x as float32; give keras.Input a float32 dtype"
        )


def _keras_names(message: str, layers: list[Any]) -> str:
    """A layer-list error ("layers[1] Masking: ...") with the Keras layer's name and class."""
    return re.sub(
        r"layers\[(\d+)\] \w+",
        lambda m: f"Keras layer {layers[int(m[1])].name!r} ({type(layers[int(m[1])]).__name__})",
        message,
    )


def _check_dtype(layer: Any) -> None:
    """Refuse a layer that computes in 16 bits (the 'mixed_float16' / 'mixed_bfloat16' dtype
    policies): fastlstm computes in float32 and its numbers would differ from the model's."""
    policy = getattr(layer, "dtype_policy", None)
    compute = str(getattr(policy, "compute_dtype", "float32"))
    if compute in _LOW_PRECISION:
        raise _unsupported(
            layer,
            "dtype",
            getattr(policy, "name", compute),
            "fastlstm computes in float32 (its own precision='bfloat16' option is separate); "
            "build the model under keras.mixed_precision.set_global_policy('float32')",
        )


def _normalization(layer: Any) -> dict[str, list[float]]:
    """A built Keras `Normalization` layer as `ModelSpec.normalization`: its mean and
    max(sqrt(variance), epsilon) per feature (or one number for all), what Keras divides by."""
    keras = require_keras()
    if layer.invert:
        raise _unsupported(layer, "invert", True)
    if not layer.built or layer.mean is None:
        raise _unsupported(layer, "mean", None, "adapt() it or give mean= and variance= first")
    if any(axis not in (-1, 2) for axis in layer.axis):
        raise _unsupported(layer, "axis", layer.axis, "fastlstm scales each feature (axis=-1) or all alike (None)")
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1)), keras.config.epsilon())
    return {"mean": mean.tolist(), "std": std.tolist()}


def _leading_normalization(layers: list[Any]) -> tuple[list[Any], dict[str, list[float]] | None]:
    """(the layers without a leading Normalization, its numbers or None). It may come first
    or right after a first Masking (which then sees the raw inputs, as `to_keras` writes it);
    anywhere else - before a Masking, whose mask would compare scaled values - is refused."""
    kinds = [type(layer).__name__ for layer in layers]
    position = 1 if kinds[:2] == ["Masking", "Normalization"] else 0 if kinds[:1] == ["Normalization"] else None
    for k, kind in enumerate(kinds):
        if kind == "Normalization" and (k != position or kinds[k + 1 : k + 2] == ["Masking"]):
            raise ValueError(
                f"Keras layer {layers[k].name!r} (Normalization): read only as the model's first layer "
                "(or right after a first Masking, which must see the raw inputs), as fastlstm's to_keras writes it"
            )
    if position is None:
        return layers, None
    return layers[:position] + layers[position + 1 :], _normalization(layers[position])


def spec_and_params(model: Any) -> tuple[ModelSpec, dict[str, Any]]:
    """A Keras model -> (ModelSpec with a layer list, params tree as `SequentialModel` names it).

    A leading `Normalization` (what `to_keras` writes for a sweep with `standardize`) becomes
    the spec's fixed `normalization`, so the model fastlstm gave comes back in."""
    _check_built(model)
    layers = _chain(model)
    for layer in layers:
        _check_dtype(layer)
    layers, normalization = _leading_normalization(layers)
    converted = [_convert_named(layer) for layer in layers[:-1]]
    head_options, head_params = _head(layers[-1])
    specs = tuple(spec for spec, _ in converted)
    params = {layer_name(i, spec): p for i, (spec, p) in enumerate(converted) if p is not None}
    params["head"] = head_params
    custom = tuple(text for layer in layers for text in custom_initializers(layer))
    options = {**head_options, **input_shape(model), "normalization": normalization, "custom_initializers": custom}
    try:
        return ModelSpec(layers=specs, **options), params
    except ValueError as err:  # the order rules (Masking first, an LSTM somewhere, ...)
        raise ValueError(f"from_keras: {_keras_names(str(err), layers)}") from None


def input_shape(model: Any) -> dict[str, int | None]:
    """The model's Input as ModelSpec fields (`input_timesteps`, `input_features`; None where
    Keras takes any), so a sweep can refuse data of another shape instead of training on it.
    Token ids (an Input of shape (timesteps,)) have no feature axis."""
    shape = tuple(model.inputs[0].shape)[1:]
    dims = [None if d is None else int(d) for d in shape]
    timesteps = dims[0] if dims else None
    features = dims[1] if len(dims) > 1 else None
    return {"input_timesteps": timesteps, "input_features": features}


@dataclasses.dataclass
class KerasConverted:
    """A Keras model as fastlstm sees it: `spec` (a ModelSpec) and `params` (its weights).

    `predict(x)` runs fastlstm's forward pass (what `keras_model.predict(x)` gives);
    `to_keras()` builds the Keras model back. Pass `spec` to `fl.sweep(model=...)`, or
    the Keras model itself.
    """

    spec: ModelSpec
    params: dict[str, Any]

    @property
    def custom_initializers(self) -> tuple[str, ...]:
        """The model's initializers that are not Keras's defaults (kept on the spec)."""
        return self.spec.custom_initializers

    def check_fresh_init(self) -> None:
        check_fresh_init(self.spec)

    @property
    def out_dim(self) -> int:
        return int(np.shape(self.params["head"]["bias"])[0])

    def predict(self, x: object) -> np.ndarray:

        embedding = self.spec.embedding
        mask_zero = bool(embedding and embedding.mask_zero)
        xs, mask = prepare_inputs(x, mask_value=self.spec.mask_value, mask_zero=mask_zero)
        check_token_ids(self.spec, xs, mask)
        xs = apply_preprocessing(xs, mask, normalization_preprocessing(self.spec))
        cfg = ModelConfig(0, 0, self.out_dim, self.spec.task, "mse", (), architecture=self.spec.layer_list)
        fn = jax.jit(functools.partial(forward, cfg))
        return np.asarray(fn(self.params, jnp.asarray(xs), None if mask is None else jnp.asarray(mask)))

    def to_keras(self) -> Any:
        return to_keras(self.spec, self.params, self.spec.task, normalization_preprocessing(self.spec))


def check_fresh_init(spec: ModelSpec) -> None:
    """Refuse a fresh init per seed for a model whose Keras initializers are not Keras's
    defaults (`ModelSpec.custom_initializers`): fastlstm draws the defaults, so it would
    silently train another model. Starting from given weights (init="keras_weights",
    `initial_params`) makes them irrelevant. One check for every door: a keras.Model,
    `from_keras(...).spec`, a config file."""
    if spec.custom_initializers:
        raise ValueError(
            f"{spec.custom_initializers[0]}: a fresh init per seed draws Keras's default initializers "
            "(LSTM glorot_uniform / orthogonal / zeros, Dense glorot_uniform / zeros, Embedding uniform); "
            "pass init='keras_weights' (CLI: --keras-weights) to start every member from the model's "
            "weights, or use the default initializers"
        )


def normalization_preprocessing(spec: ModelSpec) -> dict[str, Any] | None:
    """The spec's fixed `normalization` as a fitted-scaling dict (fastlstm/data/_preprocessing.py),
    which a sweep, `predict` and `to_keras` apply as they would `standardize`'s; or None."""
    if spec.normalization is None:
        return None
    return {"method": "feature", **spec.normalization, "fitted_on": "the model's Normalization layer"}


def compile_settings(model: Any) -> str | None:
    """What `model.compile(...)` set, in words ("optimizer SGD (learning_rate 0.1), loss
    'mse'"), or None for an uncompiled model. fastlstm does not read these - a sweep's
    optimizer, learning rate and loss are its own arguments - so a caller can say so."""
    if not getattr(model, "compiled", False):
        return None
    optimizer = getattr(model, "optimizer", None)
    parts = []
    if optimizer is not None:
        rate: Any = getattr(optimizer, "learning_rate", None)  # a number, a schedule or a Keras variable
        try:
            rate_text = f" (learning_rate {float(rate):.3g})"
        except (TypeError, ValueError):  # a schedule
            rate_text = f" (learning_rate {type(rate).__name__})"
        parts.append(f"optimizer {type(optimizer).__name__}{rate_text}")
    loss = getattr(model, "loss", None)
    if loss is not None:
        parts.append(f"loss {loss if isinstance(loss, str) else type(loss).__name__!r}")
    return ", ".join(parts) or "compiled"


def from_keras(model: Any) -> KerasConverted:
    """`fl.from_keras(keras_model)`: its architecture as a ModelSpec, and its weights."""
    require_keras()
    if not is_keras_model(model):
        raise ValueError(f"from_keras: expected a keras.Model, got {type(model).__name__}")
    spec, params = spec_and_params(model)
    return KerasConverted(spec, params)


def layers_and_names(spec: ModelSpec) -> list[tuple[Layer, str]]:
    """The model's layers with their params-tree names (the shorthand as a layer list)."""
    if spec.layer_list is not None:
        return [(layer, layer_name(i, layer)) for i, layer in enumerate(spec.layer_list)]
    out: list[tuple[Layer, str]] = []
    if spec.mask_value is not None:
        out.append((Masking(spec.mask_value), "masking"))
    depth = cast(int, spec.layers)  # the shorthand: a number of layers
    for k in range(depth):
        out.append((LSTM(spec.units, return_sequences=k < depth - 1, dropout=spec.dropout), f"lstm_{k}"))
    return out


def _keras_regularizer(keras: Any, reg: Regularizer | None) -> Any:
    if reg is None:
        return None
    return getattr(keras.regularizers, reg.kind)(**reg.strengths)


def _keras_lstm(keras: Any, spec: LSTM) -> Any:
    return keras.layers.LSTM(
        spec.units,
        return_sequences=spec.return_sequences,
        go_backwards=spec.go_backwards,
        dropout=spec.dropout,
        recurrent_dropout=spec.recurrent_dropout,
        kernel_regularizer=_keras_regularizer(keras, spec.kernel_regularizer),
        recurrent_regularizer=_keras_regularizer(keras, spec.recurrent_regularizer),
        bias_regularizer=_keras_regularizer(keras, spec.bias_regularizer),
        unit_forget_bias=spec.unit_forget_bias,
    )


def _keras_layer(keras: Any, layer: Layer) -> Any:
    if isinstance(layer, Masking):
        return keras.layers.Masking(layer.mask_value)
    if isinstance(layer, Embedding):
        return keras.layers.Embedding(layer.input_dim, layer.output_dim, mask_zero=layer.mask_zero)
    if isinstance(layer, LSTM):
        return _keras_lstm(keras, layer)
    if isinstance(layer, Bidirectional):
        return keras.layers.Bidirectional(_keras_lstm(keras, layer.layer), merge_mode=layer.merge_mode)
    if isinstance(layer, Dropout):
        return keras.layers.Dropout(layer.rate)
    layer = cast(Dense, layer)  # the one layer type left
    return keras.layers.Dense(
        layer.units,
        activation=layer.activation,
        kernel_regularizer=_keras_regularizer(keras, layer.kernel_regularizer),
        bias_regularizer=_keras_regularizer(keras, layer.bias_regularizer),
    )


def _weights_of(layer: Layer, tree: Any) -> list[np.ndarray]:
    """Keras `set_weights` order for one layer's params subtree."""
    if isinstance(layer, Embedding):
        return [np.asarray(tree["embeddings"])]
    if isinstance(layer, LSTM):
        return [np.asarray(tree[k]) for k in ("kernel", "recurrent_kernel", "bias")]
    if isinstance(layer, Bidirectional):
        return _weights_of(layer.layer, tree["forward"]) + _weights_of(layer.layer, tree["backward"])
    return [np.asarray(tree["kernel"]), np.asarray(tree["bias"])]


def _input_features(spec: ModelSpec, params: Any) -> int:
    """Features per step of the model's input, from the first weight that reads it."""
    for layer, name in layers_and_names(spec):
        if isinstance(layer, Bidirectional):
            return int(np.shape(params[name]["forward"]["kernel"])[0])
        if isinstance(layer, (LSTM, Dense)):
            return int(np.shape(params[name]["kernel"])[0])
    raise ValueError("to_keras: the model has no layer that reads its input")


def keras_normalization(keras: Any, preprocessing: dict[str, Any], features: int) -> Any:
    """The fitted input scaling (`result.preprocessing`) as a Keras `Normalization` layer
    with the same numbers: (x - mean) / sqrt(variance), with mean = the shift (mean, or
    min for "min_max") and variance = the scale squared (std, or the range)."""

    shift, scale = shift_and_scale(preprocessing, features)
    return keras.layers.Normalization(axis=-1, mean=shift.tolist(), variance=(scale**2).tolist())


def to_keras(
    spec: ModelSpec, params: Any, task: str, preprocessing: dict[str, Any] | None = None, *, name: str | None = None
) -> Any:
    """An uncompiled `keras.Model` with `params` as its weights (Keras-layout input:
    (batch, time, features), or (batch, time) int token ids with an Embedding first).

    With `preprocessing` (a sweep's fitted `standardize`), the model takes raw inputs: a
    `Normalization` layer scales them first - after a leading `Masking`, which must see
    the raw `mask_value` (and whose mask `Normalization` passes on). `name` names the
    model (Keras's default otherwise): sub-models of one ensemble need distinct names.
    """
    keras = require_keras()
    pairs = layers_and_names(spec)
    if spec.embedding is not None:
        inputs = keras.Input(shape=(None,), dtype="int32")
    else:
        inputs = keras.Input(shape=(None, _input_features(spec, params)))
    h = inputs
    built = []
    normalization = None if preprocessing is None else keras_normalization(keras, preprocessing, inputs.shape[-1])
    for k, (layer, key) in enumerate(pairs):
        if normalization is not None and not (k == 0 and isinstance(layer, Masking)):
            h, normalization = normalization(h), None
        keras_layer = _keras_layer(keras, layer)
        h = keras_layer(h)
        built.append((keras_layer, layer, key))
    out_dim = int(np.shape(params["head"]["bias"])[0])
    head = keras.layers.Dense(out_dim, activation=TASK_ACTIVATIONS[task])
    outputs = head(h)
    model = keras.Model(inputs, outputs, name=name)
    for keras_layer, layer, key in built:
        if key in params:
            keras_layer.set_weights(_weights_of(layer, params[key]))
    head.set_weights([np.asarray(params["head"]["kernel"]), np.asarray(params["head"]["bias"])])
    return model


def ensemble_keras(models: list[Any], name: str = "ensemble") -> Any:
    """One functional `keras.Model` that feeds its input to each of `models` (sub-models
    with distinct names, the same input) and averages their outputs with
    `keras.layers.Average`: a deep ensemble that serves, saves and loads as one model. One
    model is wrapped as it is (Average needs two inputs)."""
    keras = require_keras()
    if not models:
        raise ValueError("ensemble_keras: no models to average")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"ensemble_keras: the sub-models need distinct names, got {names}")
    first = models[0].inputs[0]
    inputs = keras.Input(shape=tuple(first.shape)[1:], dtype=first.dtype)
    outputs = [m(inputs) for m in models]
    averaged = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="average")(outputs)
    return keras.Model(inputs, averaged, name=name)


def _with_options(layer: Layer, options: dict[str, float]) -> Layer:
    """`layer` with its numeric options set to one member's values (`option` or `reg.l2`)."""
    if isinstance(layer, Bidirectional):
        return dataclasses.replace(layer, layer=cast(LSTM, _with_options(layer.layer, options)))
    changes: dict[str, Any] = {}
    for key, value in options.items():
        name, _, factor = key.partition(".")
        if factor:
            reg = changes.get(name, getattr(layer, name))
            changes[name] = dataclasses.replace(reg, **{factor: value})
        else:
            changes[name] = value
    return dataclasses.replace(layer, **changes) if changes else layer


def member_layers(layers: tuple[Layer, ...], row: dict[str, Any]) -> tuple[Layer, ...]:
    """The layer specs with one member's `layers.<i>.<option>` values (from its table row)."""
    out = []
    for i, layer in enumerate(layers):
        prefix = f"layers.{i}."
        options = {k[len(prefix) :]: float(v) for k, v in row.items() if k.startswith(prefix)}
        out.append(_with_options(layer, options))
    return tuple(out)
