"""Layer specs: a Keras-Sequential-like model as data (what `ModelSpec(layers=[...])` holds).

Each layer is a frozen dataclass named after its Keras class, with Keras's option
names and defaults. `get_config()` gives a plain dict with a `"type"` key (the TOML
form is an array of tables, `[[model.layers]]` with `type = "LSTM"`), and
`layer_from_config` reads it back; an option Keras has but fastlstm does not support
(stateful, return_state, unroll, constraints, activity regularizers, ...) is an error
naming the layer and the option, never a silent approximation.

Numeric options are per-member hyperparameters (`hparam_defaults`): their grid keys
are `layers.<i>.<option>`, with `<i>` the layer's position in the list (from 0):
`layers.<i>.dropout`, `layers.<i>.recurrent_dropout` (LSTM, Bidirectional),
`layers.<i>.rate` (Dropout), `layers.<i>.<kernel|recurrent|bias>_regularizer.<l1|l2>`
(layers that declare that regularizer).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from fastlstm._common.coerce import to_python

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "elu", "selu", "softplus", "softsign", "gelu", "silu", "swish")
MERGE_MODES = ("concat", "sum", "mul", "ave")
REGULARIZER_DEFAULTS = {"L1": {"l1": 0.01}, "L2": {"l2": 0.01}, "L1L2": {"l1": 0.0, "l2": 0.0}}
_REGULARIZER_ALIASES = {"l1": "L1", "l2": "L2", "l1_l2": "L1L2", "l1l2": "L1L2"}


def _where(index: int | None, kind: str) -> str:
    return f"layers[{index}] {kind}" if index is not None else kind


def _number(where: str, name: str, value: Any, low: float = 0.0, high: float | None = None) -> float:
    value = to_python(value)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low
    if not ok or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{where}: {name} must be a number {bound}, got {value!r}")
    return float(value)


def _integer(where: str, name: str, value: object, low: int = 1) -> int:
    value = to_python(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}: {name} must be an int >= {low}, got {value!r}")
    return value


def _flag(where: str, name: str, value: object) -> bool:
    value = to_python(value)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {name} must be True or False, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """Keras's L1 / L2 / L1L2 weight penalty: l1 * sum|w| + l2 * sum w^2."""

    kind: str = "L2"
    l1: float = 0.0
    l2: float = 0.0

    @classmethod
    def coerce(cls, value: object, where: str) -> Regularizer | None:
        """None, a name ('l2', 'L1L2'), a dict {'type': 'L2', 'l2': 0.001} or a Regularizer."""
        if value is None or isinstance(value, Regularizer):
            return value
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
            raise ValueError(f"{where} must be 'l1', 'l2', 'l1_l2' or a table with a 'type', got {value!r}")
        kind = _REGULARIZER_ALIASES.get(value["type"].lower(), value["type"])
        if kind not in REGULARIZER_DEFAULTS:
            raise ValueError(f"{where}: unknown regularizer {value['type']!r}; expected one of L1, L2, L1L2")
        strengths = dict(REGULARIZER_DEFAULTS[kind])
        for key, v in value.items():
            if key == "type":
                continue
            if key not in strengths:
                raise ValueError(f"{where}: {kind} has no option {key!r}; expected some of {sorted(strengths)}")
            strengths[key] = _number(where, key, v)
        return cls(kind, strengths.get("l1", 0.0), strengths.get("l2", 0.0))

    @property
    def strengths(self) -> dict[str, float]:
        """The factors this kind has (the grid keys' last part)."""
        return {k: getattr(self, k) for k in REGULARIZER_DEFAULTS[self.kind]}

    def get_config(self) -> dict[str, Any]:
        return {"type": self.kind, **self.strengths}


class Layer:
    """Base of the layer specs: config round trip and the numeric (vmappable) options."""

    type: ClassVar[str] = ""
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ()
    REGULARIZERS: ClassVar[tuple[str, ...]] = ()
    if TYPE_CHECKING:  # every concrete layer is a dataclass
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def get_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (Regularizer, Layer)):
                value = value.get_config()
            if value is not None:
                out[f.name] = value
        return out

    def hparams(self) -> dict[str, float]:
        """This layer's numeric options (suffixes of the `layers.<i>.` grid keys) and values."""
        out: dict[str, float] = {}
        for name in self.REGULARIZERS:
            reg = getattr(self, name)
            if reg is not None:
                out.update({f"{name}.{k}": v for k, v in reg.strengths.items()})
        return out

    @property
    def recurrent(self) -> bool:
        return False


@dataclasses.dataclass(frozen=True)
class Masking(Layer):
    """`keras.layers.Masking`: a step whose features all equal `mask_value` is skipped."""

    mask_value: float = 0.0
    type: ClassVar[str] = "Masking"

    def __post_init__(self) -> None:
        value = to_python(self.mask_value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"Masking: mask_value must be a finite number, got {value!r}")
        object.__setattr__(self, "mask_value", float(value))


@dataclasses.dataclass(frozen=True)
class Embedding(Layer):
    """`keras.layers.Embedding` on integer token ids; `mask_zero=True` masks id 0."""

    input_dim: int
    output_dim: int
    mask_zero: bool = False
    type: ClassVar[str] = "Embedding"
    UNSUPPORTED: ClassVar[tuple[str, ...]] = (
        "embeddings_regularizer",
        "embeddings_constraint",
        "activity_regularizer",
        "lora_rank",
        "sparse",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_dim", _integer("Embedding", "input_dim", self.input_dim))
        object.__setattr__(self, "output_dim", _integer("Embedding", "output_dim", self.output_dim))
        object.__setattr__(self, "mask_zero", _flag("Embedding", "mask_zero", self.mask_zero))


@dataclasses.dataclass(frozen=True)
class LSTM(Layer):
    """`keras.layers.LSTM` (tanh / sigmoid, Keras's initialisers and gate order)."""

    units: int
    return_sequences: bool = False
    go_backwards: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    kernel_regularizer: Regularizer | None = None
    recurrent_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    unit_forget_bias: bool = True
    type: ClassVar[str] = "LSTM"
    REGULARIZERS: ClassVar[tuple[str, ...]] = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
    UNSUPPORTED: ClassVar[tuple[str, ...]] = (
        "stateful",
        "return_state",
        "unroll",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
        "activity_regularizer",
        "time_major",
        "use_bias",
        "activation",
        "recurrent_activation",
    )

    def __post_init__(self) -> None:
        where = "LSTM"
        object.__setattr__(self, "units", _integer(where, "units", self.units))
        for name in ("return_sequences", "go_backwards", "unit_forget_bias"):
            object.__setattr__(self, name, _flag(where, name, getattr(self, name)))
        for name in ("dropout", "recurrent_dropout"):
            object.__setattr__(self, name, _number(where, name, getattr(self, name), 0.0, 1.0))
        for name in self.REGULARIZERS:
            object.__setattr__(self, name, Regularizer.coerce(getattr(self, name), f"{where}: {name}"))

    def hparams(self) -> dict[str, float]:
        return {"dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, **super().hparams()}

    @property
    def recurrent(self) -> bool:
        return True


@dataclasses.dataclass(frozen=True)
class Bidirectional(Layer):
    """`keras.layers.Bidirectional(LSTM(...), merge_mode)`: concat, sum, mul or ave."""

    layer: LSTM
    merge_mode: str = "concat"
    type: ClassVar[str] = "Bidirectional"
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ("backward_layer",)

    def __post_init__(self) -> None:
        inner: object = self.layer
        if isinstance(inner, Mapping):
            inner = layer_from_config(inner)
        if not isinstance(inner, LSTM):
            raise ValueError(f"Bidirectional: layer must be an LSTM, got {inner!r}")
        if inner.go_backwards:
            raise ValueError("Bidirectional: its LSTM must not set go_backwards (the wrapper adds the backward pass)")
        object.__setattr__(self, "layer", inner)
        if self.merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {MERGE_MODES}, got {self.merge_mode!r}")

    def hparams(self) -> dict[str, float]:
        return self.layer.hparams()

    @property
    def recurrent(self) -> bool:
        return True

    @property
    def return_sequences(self) -> bool:
        return self.layer.return_sequences

    @property
    def units(self) -> int:
        return self.layer.units


@dataclasses.dataclass(frozen=True)
class Dropout(Layer):
    """`keras.layers.Dropout(rate)`: independent noise per element, training only."""

    rate: float
    type: ClassVar[str] = "Dropout"
    UNSUPPORTED: ClassVar[tuple[str, ...]] = ("noise_shape",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _number("Dropout", "rate", self.rate, 0.0, 1.0))

    def hparams(self) -> dict[str, float]:
        return {"rate": self.rate}


@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """`keras.layers.Dense(units, activation)` as a hidden layer (the head is added from the task)."""

    units: int
    activation: str = "linear"
    kernel_regularizer: Regularizer | None = None
    bias_regularizer: Regularizer | None = None
    type: ClassVar[str] = "Dense"
    REGULARIZERS: ClassVar[tuple[str, ...]] = ("kernel_regularizer", "bias_regularizer")
    UNSUPPORTED: ClassVar[tuple[str, ...]] = (
        "use_bias",
        "kernel_constraint",
        "bias_constraint",
        "activity_regularizer",
        "lora_rank",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", _integer("Dense", "units", self.units))
        activation = "linear" if self.activation is None else self.activation
        if activation not in ACTIVATIONS:
            raise ValueError(f"Dense: activation must be one of {ACTIVATIONS}, got {activation!r}")
        object.__setattr__(self, "activation", activation)
        for name in self.REGULARIZERS:
            object.__setattr__(self, name, Regularizer.coerce(getattr(self, name), f"Dense: {name}"))


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type: cls for cls in (Masking, Embedding, LSTM, Bidirectional, Dropout, Dense)
}


def layer_from_config(config: Mapping[str, Any] | Layer, index: int | None = None) -> Layer:
    """A layer spec from `{"type": "LSTM", "units": 32, ...}` (or a spec, returned as is)."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
        raise ValueError(f"{_where(index, 'layer')} must be a table with a 'type' key, got {config!r}")
    kind = config["type"]
    cls = LAYER_TYPES.get(kind)
    where = _where(index, kind)
    if cls is None:
        raise ValueError(f"{where}: layer type {kind!r} is not supported; expected one of {sorted(LAYER_TYPES)}")
    options = {k: v for k, v in config.items() if k != "type"}
    known = {f.name for f in dataclasses.fields(cls)}
    for key in options:
        if key in cls.UNSUPPORTED:
            raise ValueError(f"{where}: option {key!r} is not supported")
        if key not in known:
            raise ValueError(f"{where}: unknown option {key!r}; expected some of {sorted(known)}")
    try:
        return cls(**options)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None
    except ValueError as err:
        raise ValueError(f"{_where(index, '')}{err}" if index is not None else str(err)) from None


def hparam_defaults(layers: tuple[Layer, ...]) -> dict[str, float]:
    """Every numeric option of the stack as `layers.<i>.<option>` -> its value in the spec."""
    return {f"layers.{i}.{k}": v for i, layer in enumerate(layers) for k, v in layer.hparams().items()}


def check_architecture(layers: tuple[Layer, ...]) -> None:
    """The order rules: Masking/Embedding first only, at least one recurrent layer, and a
    recurrent layer after another needs `return_sequences=True` on the one before."""
    if not layers:
        raise ValueError("ModelSpec.layers: give at least one layer (an LSTM)")
    recurrent = [i for i, layer in enumerate(layers) if layer.recurrent]
    if not recurrent:
        raise ValueError("ModelSpec.layers: at least one LSTM or Bidirectional(LSTM) layer is needed")
    for i, layer in enumerate(layers):
        if isinstance(layer, (Masking, Embedding)) and i != 0:
            raise ValueError(f"layers[{i}] {layer.type}: must be the first layer")
    for before, after in itertools.pairwise(recurrent):
        if not cast("LSTM | Bidirectional", layers[before]).return_sequences:
            raise ValueError(
                f"layers[{after}] {layers[after].type}: needs sequences; set return_sequences=True on layers[{before}]"
            )


def sequence_output(layers: tuple[Layer, ...]) -> bool:
    """Whether the model outputs one prediction per timestep (the last recurrent layer returns sequences)."""
    last = cast("LSTM | Bidirectional", [layer for layer in layers if layer.recurrent][-1])
    return bool(last.return_sequences)
