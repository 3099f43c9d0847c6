"""Keras 3's EarlyStopping and ReduceLROnPlateau as jit-safe, per-member array state.

Under vmap a member cannot break out of a loop, so each callback is a small state
(counters, best value) and a pure `update` that returns the new state plus a flag
(stop, reduce); the engine masks the member's updates with it. The rules are
those of `keras/src/callbacks/early_stopping.py`, `reduce_lr_on_plateau.py` and
`monitor_callback.py`, branch for branch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import jax
import jax.numpy as jnp

from fastlstm._common.coerce import object_from_config, to_python
from fastlstm.engine._losses import DIRECTION

MODES = ("auto", "min", "max")


def resolve_mode(callback: str, monitor: str, mode: str) -> str:
    """'min' or 'max' for a monitored quantity, as Keras's `_set_monitor_op` infers it."""
    if mode not in MODES:
        raise ValueError(f"{callback}.mode must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name not in DIRECTION:
        raise ValueError(
            f"{callback}: cannot tell whether monitor={monitor!r} should be minimised or maximised; pass mode='min' or mode='max'"
        )
    return DIRECTION[name]


def _plain_fields(callback: Any) -> None:
    """NumPy numbers (np.int64(3), np.float32(0.01)) -> Python values, in place (frozen dataclass)."""
    for field in dataclasses.fields(callback):
        object.__setattr__(callback, field.name, to_python(getattr(callback, field.name)))


def _check_count(where: str, value: object) -> None:
    """patience, cooldown, start_from_epoch, verbose: ints, as Keras's counters are (not 2.5 or "3")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} must be an int >= 0, got {value!r}")


@overload
def _check_finite(where: str, value: object, allow_none: Literal[False] = False) -> float: ...
@overload
def _check_finite(where: str, value: object, allow_none: bool) -> float | None: ...
def _check_finite(where: str, value: object, allow_none: bool = False) -> float | None:
    """A finite number (NaN or inf would make every comparison false), returned as a float."""
    if allow_none and value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def _check_monitor_name(callback: str, monitor: Any) -> None:
    if not isinstance(monitor, str):
        raise ValueError(f"{callback}.monitor must be a metric name (a str), e.g. 'val_loss', got {monitor!r}")


def _is_improvement(mode: str, min_delta: float, value: jax.Array, reference: jax.Array) -> jax.Array:
    """Keras's `_is_improvement` with a known reference (min_delta already >= 0)."""
    if mode == "min":
        return value + min_delta < reference
    return value - min_delta > reference


class CallbackSignal(NamedTuple):
    """What a callback tells the program after an epoch, per member (scalars or arrays).

    stop: stop this member now (it keeps its parameters; its history ends here).
    lr_factor: multiply the member's learning rate by this from the next epoch on.
    save_weights: keep this epoch's parameters as the member's best (needs
        `keeps_best_weights`); `restore_at_end` decides whether they come back.
    """

    stop: Any = False
    lr_factor: Any = 1.0
    save_weights: Any = False


CALLBACKS: dict[str, type[Callback]] = {}


class Callback:
    """Base of the per-member callbacks that run inside the compiled program.

    A callback is a frozen (hashable) dataclass of settings plus pure functions of an
    array state: `init_state()` gives one member's state, `on_epoch_end(state, logs,
    epoch)` returns the new state and a `CallbackSignal`. The program vmaps them over
    members, so they must be jit-safe (jnp, no Python branches on values). `logs`
    holds the epoch's scalars (`loss`, `val_loss`, metrics, and `learning_rate`, the
    rate in use). Subclasses register by class name, so config files can name them
    (`[[callbacks]] type = "MyCallback"`). Example, stop a member at a target:

        @dataclasses.dataclass(frozen=True)
        class StopAtTarget(fl.Callback):
            monitor: str = "val_accuracy"
            target: float = 0.9

            def on_epoch_end(self, state, logs, epoch):
                return state, fl.CallbackSignal(stop=logs[self.monitor] >= self.target)
    """

    keeps_best_weights: bool = False  # the program keeps a copy of the parameters for it
    logs_learning_rate: bool = False  # history gets a `learning_rate` column

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        CALLBACKS[cls.__name__] = cls

    def init_state(self) -> Any:
        return ()

    def on_epoch_end(self, state: Any, logs: Mapping[str, jax.Array], epoch: jax.Array) -> tuple[Any, CallbackSignal]:
        raise NotImplementedError(f"{type(self).__name__} must define on_epoch_end(state, logs, epoch)")

    @property
    def monitors(self) -> tuple[str, ...]:
        """Log names it reads: checked against what the sweep logs before compiling."""
        monitor = getattr(self, "monitor", None)
        return (monitor,) if isinstance(monitor, str) else ()

    def restore_at_end(self, state: Any) -> jax.Array:
        """Whether the member gets its saved best weights back when training ends."""
        return jnp.zeros([], bool)

    def describe(self, state: Any) -> dict[str, Any]:
        """Host-side facts for the member table (one member's state as NumPy)."""
        return {}

    def get_config(self) -> dict[str, Any]:
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        raise NotImplementedError(f"{type(self).__name__} must define get_config() (or be a dataclass)")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Callback:
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class EarlyStopping(Callback):
    """Stop a member when `monitor` stops improving (Keras 3 semantics).

    `restore_best_weights=True` gives the member the weights of its best epoch at the
    end of training, whether or not it stopped early, as Keras does.
    """

    monitor: str = "val_loss"
    min_delta: float = 0.0
    patience: int = 0
    verbose: int = 0
    mode: str = "auto"
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: int = 0
    if TYPE_CHECKING:  # set by __post_init__ ('min' or 'max'), not a constructor argument
        direction: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        """Check every field now, when the user makes the callback, not inside the compiled program."""
        _plain_fields(self)
        _check_monitor_name("EarlyStopping", self.monitor)
        for name in ("patience", "start_from_epoch"):
            _check_count(f"EarlyStopping.{name}", getattr(self, name))
        if not isinstance(self.verbose, bool):
            _check_count("EarlyStopping.verbose", self.verbose)
        if not isinstance(self.restore_best_weights, bool):
            raise ValueError(
                f"EarlyStopping.restore_best_weights must be True or False, got {self.restore_best_weights!r}"
            )
        object.__setattr__(self, "baseline", _check_finite("EarlyStopping.baseline", self.baseline, allow_none=True))
        object.__setattr__(self, "min_delta", abs(_check_finite("EarlyStopping.min_delta", self.min_delta)))
        object.__setattr__(self, "direction", resolve_mode("EarlyStopping", self.monitor, self.mode))

    @property
    def keeps_best_weights(self) -> bool:  # type: ignore[override]
        return self.restore_best_weights

    def init_state(self) -> EarlyStoppingState:
        return self.init()

    def on_epoch_end(
        self, state: EarlyStoppingState, logs: Mapping[str, jax.Array], epoch: jax.Array
    ) -> tuple[EarlyStoppingState, CallbackSignal]:
        state, stop, save = self.update(state, logs[self.monitor], epoch)
        return state, CallbackSignal(stop=stop, save_weights=save)

    def restore_at_end(self, state: EarlyStoppingState) -> jax.Array:
        """Keras's `on_train_end`: the best weights come back whenever some were kept."""
        return state.has_best_weights if self.restore_best_weights else jnp.zeros([], bool)

    def describe(self, state: EarlyStoppingState) -> dict[str, Any]:
        return {"best_epoch": int(state.best_epoch) if bool(state.has_best) else None}

    def init(self) -> EarlyStoppingState:
        return EarlyStoppingState(
            wait=jnp.zeros([], jnp.int32),
            best=jnp.zeros([], jnp.float32),
            has_best=jnp.zeros([], bool),
            best_epoch=jnp.zeros([], jnp.int32),
            stopped_epoch=jnp.full([], -1, jnp.int32),
            has_best_weights=jnp.zeros([], bool),
        )

    def update(
        self, state: EarlyStoppingState, current: jax.Array, epoch: jax.Array
    ) -> tuple[EarlyStoppingState, jax.Array, jax.Array]:
        """One `on_epoch_end`. Returns (state, stop, save_weights_now)."""
        act = epoch >= self.start_from_epoch
        first_save = act & self.restore_best_weights & ~state.has_best_weights
        best_epoch = jnp.where(first_save, epoch, state.best_epoch)
        wait = state.wait + 1
        improved = ~state.has_best | _is_improvement(self.direction, self.min_delta, current, state.best)
        if self.baseline is None:
            beats_baseline = jnp.ones([], bool)
        else:
            beats_baseline = _is_improvement(self.direction, self.min_delta, current, jnp.float32(self.baseline))
        wait = jnp.where(improved & beats_baseline, 0, wait)
        stop = act & ~improved & (wait >= self.patience) & (epoch > 0)
        new = EarlyStoppingState(
            wait=jnp.where(act, wait, state.wait),
            best=jnp.where(act & improved, current, state.best),
            has_best=state.has_best | act,
            best_epoch=jnp.where(act & improved, epoch, best_epoch),
            stopped_epoch=jnp.where(stop, epoch, state.stopped_epoch),
            has_best_weights=state.has_best_weights | (act & self.restore_best_weights),
        )
        save = first_save | (act & improved & self.restore_best_weights)
        return new, stop, save


class EarlyStoppingState(NamedTuple):
    wait: jax.Array
    best: jax.Array
    has_best: jax.Array
    best_epoch: jax.Array
    stopped_epoch: jax.Array
    has_best_weights: jax.Array


@dataclasses.dataclass(frozen=True)
class ReduceLROnPlateau(Callback):
    """Multiply a member's learning rate by `factor` when `monitor` plateaus (Keras 3)."""

    monitor: str = "val_loss"
    factor: float = 0.1
    patience: int = 10
    verbose: int = 0
    mode: str = "auto"
    min_delta: float = 1e-4
    cooldown: int = 0
    min_lr: float = 0.0
    if TYPE_CHECKING:  # set by __post_init__ ('min' or 'max'), not a constructor argument
        direction: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        """Check every field now, when the user makes the callback, not inside the compiled program."""
        _plain_fields(self)
        _check_monitor_name("ReduceLROnPlateau", self.monitor)
        for name in ("patience", "cooldown"):
            _check_count(f"ReduceLROnPlateau.{name}", getattr(self, name))
        if not isinstance(self.verbose, bool):
            _check_count("ReduceLROnPlateau.verbose", self.verbose)
        if not 0.0 < _check_finite("ReduceLROnPlateau.factor", self.factor) < 1.0:
            raise ValueError(f"ReduceLROnPlateau.factor must be in (0, 1), got {self.factor!r}")
        if _check_finite("ReduceLROnPlateau.min_lr", self.min_lr) < 0:
            raise ValueError(f"ReduceLROnPlateau.min_lr must be >= 0, got {self.min_lr!r}")
        object.__setattr__(self, "factor", float(self.factor))
        object.__setattr__(self, "min_lr", float(self.min_lr))
        object.__setattr__(self, "min_delta", abs(_check_finite("ReduceLROnPlateau.min_delta", self.min_delta)))
        object.__setattr__(self, "direction", resolve_mode("ReduceLROnPlateau", self.monitor, self.mode))

    logs_learning_rate = True

    def init_state(self) -> ReduceLROnPlateauState:
        return self.init()

    def on_epoch_end(
        self, state: ReduceLROnPlateauState, logs: Mapping[str, jax.Array], epoch: jax.Array
    ) -> tuple[ReduceLROnPlateauState, CallbackSignal]:
        lr = logs["learning_rate"]
        state, new_lr = self.update(state, logs[self.monitor], lr)
        factor = jnp.where(lr > 0, new_lr / jnp.where(lr > 0, lr, 1.0), 1.0)
        return state, CallbackSignal(lr_factor=factor)

    def init(self) -> ReduceLROnPlateauState:
        return ReduceLROnPlateauState(
            wait=jnp.zeros([], jnp.int32),
            best=jnp.zeros([], jnp.float32),
            has_best=jnp.zeros([], bool),
            cooldown_counter=jnp.zeros([], jnp.int32),
        )

    def update(
        self, state: ReduceLROnPlateauState, current: jax.Array, lr: jax.Array
    ) -> tuple[ReduceLROnPlateauState, jax.Array]:
        """One `on_epoch_end` given the learning rate now in use. Returns (state, new_lr)."""
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
        wait = jnp.where(in_cooldown, 0, state.wait)
        improved = ~state.has_best | _is_improvement(self.direction, self.min_delta, current, state.best)
        counting = ~improved & ~(cooldown_counter > 0)
        wait = jnp.where(improved, 0, jnp.where(counting, wait + 1, wait))
        reduce = counting & (wait >= self.patience) & (lr > jnp.float32(self.min_lr))
        new_lr = jnp.where(reduce, jnp.maximum(lr * self.factor, self.min_lr), lr)
        new = ReduceLROnPlateauState(
            wait=jnp.where(reduce, 0, wait),
            best=jnp.where(improved, current, state.best),
            has_best=jnp.ones([], bool),
            cooldown_counter=jnp.where(reduce, self.cooldown, cooldown_counter),
        )
        return new, new_lr


class ReduceLROnPlateauState(NamedTuple):
    wait: jax.Array
    best: jax.Array
    has_best: jax.Array
    cooldown_counter: jax.Array


def callback_to_config(callback: Callback) -> dict[str, Any]:
    """{"type": class name, **settings}: what a config file holds."""
    if not isinstance(callback, Callback):
        raise ValueError(f"callbacks: expected a fastlstm.Callback, got {type(callback).__name__}")
    return {"type": type(callback).__name__, **callback.get_config()}


def callback_from_config(config: object) -> Callback:
    """A callback from `callback_to_config`'s dict (a callback is returned as it is)."""
    return object_from_config(config, CALLBACKS, "callbacks", "a fastlstm.Callback", base=Callback)
