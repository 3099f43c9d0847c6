"""Keras's optimizers and learning-rate schedules as Optax transformations.

Keras's updates are not Optax's: Keras's Adam folds the bias correction into the
step size with epsilon outside the corrected sqrt, Keras's SGD puts the learning
rate inside the momentum buffer, Keras's RMSprop has epsilon inside the sqrt, and
Keras's weight decay is `p -= p * wd * lr` for every optimizer. Each update below is
read off `keras/src/optimizers/` and written as a small Optax transform that takes
the current learning rate as an extra argument, so a per-member, per-step learning
rate (schedules, ReduceLROnPlateau) is a traced value and the member axis can be
vmapped. Every numeric argument may be a traced array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

# Keras 3 defaults, per optimizer; these are also the hyperparameters each accepts.
OPTIMIZER_DEFAULTS: dict[str, dict[str, float]] = {
    "adam": {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.0},
    "adamw": {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": 0.004},
    "sgd": {"learning_rate": 1e-2, "momentum": 0.0, "weight_decay": 0.0},
    "rmsprop": {"learning_rate": 1e-3, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "weight_decay": 0.0},
}
# Boolean (structural) options per optimizer.
OPTIMIZER_FLAGS: dict[str, dict[str, bool]] = {
    "adam": {},
    "adamw": {},
    "sgd": {"nesterov": False},
    "rmsprop": {"centered": False},
}
CLIP_KEYS = ("clipnorm", "global_clipnorm", "clipvalue")

SCHEDULE_DEFAULTS: dict[str, dict[str, float]] = {
    "constant": {},
    "warmup_cosine": {"alpha": 0.0},
    "exponential_decay": {"decay_rate": 0.96, "decay_steps": 1000.0},
    "piecewise_constant": {},
}
WARMUP_KEYS = ("warmup_steps", "warmup_fraction")


COMPLEMENTS = ("beta_1", "beta_2", "rho")


def float32_hparams(hp: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Host floats -> float32 arrays for the traced path, plus `one_minus_<beta>`.

    Keras computes `1 - beta_2` from the Python float; `1 - float32(0.999)` in
    float32 is off by 1.3e-5 relative, so the complements are taken in float64 here,
    before the cast, and passed alongside.
    """
    out = {k: np.asarray(v, np.float32) for k, v in hp.items()}
    for k in COMPLEMENTS:
        if k in hp:
            out[f"one_minus_{k}"] = np.asarray(1.0 - np.float64(hp[k]), np.float32)
    return out


class ScaleByKerasAdamState(NamedTuple):
    count: jax.Array  # type: ignore[assignment]  # optax's state field name; it shadows tuple.count
    m: Any
    v: Any


def scale_by_keras_adam(
    beta_1: Any = 0.9,
    beta_2: Any = 0.999,
    epsilon: Any = 1e-7,
    one_minus_beta_1: Any = None,
    one_minus_beta_2: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """Keras Adam: `lr_t = lr*sqrt(1-b2^t)/(1-b1^t)`, `p -= lr_t*m/(sqrt(v)+eps)`.

    `one_minus_beta_*` may be given precomputed (see `float32_hparams`).
    """
    c1 = 1.0 - beta_1 if one_minus_beta_1 is None else one_minus_beta_1
    c2 = 1.0 - beta_2 if one_minus_beta_2 is None else one_minus_beta_2

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByKerasAdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update_fn(grads, state, params=None, *, learning_rate, **extra):
        del params, extra
        t = (state.count + 1).astype(jnp.float32)
        alpha = learning_rate * jnp.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        m = jax.tree.map(lambda m, g: m + (g - m) * c1, state.m, grads)
        v = jax.tree.map(lambda v, g: v + (jnp.square(g) - v) * c2, state.v, grads)
        updates = jax.tree.map(lambda m, v: -(m * alpha) / (jnp.sqrt(v) + epsilon), m, v)
        return updates, ScaleByKerasAdamState(state.count + 1, m, v)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByKerasSGDState(NamedTuple):
    m: Any


def scale_by_keras_sgd(momentum: Any = 0.0, nesterov: bool = False) -> optax.GradientTransformationExtraArgs:
    """Keras SGD: `m = momentum*m - lr*g`; `p += m` (or Nesterov `p += momentum*m - lr*g`).

    With momentum 0 this is plain `p -= lr*g`, so one state shape serves every member.
    """

    def init_fn(params):
        return ScaleByKerasSGDState(jax.tree.map(jnp.zeros_like, params))

    def update_fn(grads, state, params=None, *, learning_rate, **extra):
        del params, extra
        m = jax.tree.map(lambda m, g: m * momentum - g * learning_rate, state.m, grads)
        if nesterov:
            updates = jax.tree.map(lambda m, g: m * momentum - g * learning_rate, m, grads)
        else:
            updates = m
        return updates, ScaleByKerasSGDState(m)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByKerasRMSpropState(NamedTuple):
    velocity: Any
    average_grad: Any
    momentum: Any


def scale_by_keras_rmsprop(
    rho: Any = 0.9, momentum: Any = 0.0, epsilon: Any = 1e-7, centered: bool = False, one_minus_rho: Any = None
) -> optax.GradientTransformationExtraArgs:
    """Keras RMSprop: epsilon inside the sqrt, momentum on the scaled increment."""
    c = 1.0 - rho if one_minus_rho is None else one_minus_rho

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByKerasRMSpropState(zeros, zeros, zeros)

    def update_fn(grads, state, params=None, *, learning_rate, **extra):
        del params, extra
        vel = jax.tree.map(lambda v, g: rho * v + c * jnp.square(g), state.velocity, grads)
        if centered:
            avg = jax.tree.map(lambda a, g: rho * a + c * g, state.average_grad, grads)
            denom = jax.tree.map(lambda v, a: v - jnp.square(a) + epsilon, vel, avg)
        else:
            avg = state.average_grad
            denom = jax.tree.map(lambda v: v + epsilon, vel)
        inc = jax.tree.map(lambda g, d: learning_rate * g / jnp.sqrt(d), grads, denom)
        mom = jax.tree.map(lambda m, i: momentum * m + i, state.momentum, inc)
        updates = jax.tree.map(jnp.negative, mom)
        return updates, ScaleByKerasRMSpropState(vel, avg, mom)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def add_keras_weight_decay(weight_decay: Any) -> optax.GradientTransformationExtraArgs:
    """Keras's decoupled decay `p -= p*wd*lr`, added to the update (it does not
    depend on the gradient, so its place in the chain does not matter)."""

    def update_fn(updates, state, params=None, *, learning_rate, **extra):
        del extra
        updates = jax.tree.map(lambda u, p: u - p * weight_decay * learning_rate, updates, params)
        return updates, state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update_fn)


def clip_by_norm_per_variable(clipnorm: Any) -> optax.GradientTransformation:
    """Keras `clipnorm`: each variable's gradient is clipped to norm <= clipnorm.

    An infinite clipnorm (a member of a grid that asked for no clipping) is a no-op.
    """

    def update_fn(updates, state, params=None):
        del params

        def clip(g):
            norm = jnp.sqrt(jnp.sum(jnp.square(g)))
            clipped = g * clipnorm / jnp.maximum(norm, clipnorm)
            return jnp.where(jnp.isfinite(clipnorm), clipped, g)

        return jax.tree.map(clip, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def make_optimizer(
    name: str, hp: Mapping[str, object], flags: Mapping[str, bool]
) -> optax.GradientTransformationExtraArgs:
    """The Keras optimizer `name` with (possibly traced) hyperparameters `hp`.

    Order as in Keras's `Optimizer.apply`: clip the gradients, then weight decay and
    the update; the learning rate is passed at each `update(..., learning_rate=lr)`.
    """
    parts: list[optax.GradientTransformation] = []
    if "clipnorm" in hp:
        parts.append(clip_by_norm_per_variable(hp["clipnorm"]))
    if "global_clipnorm" in hp:
        parts.append(optax.clip_by_global_norm(hp["global_clipnorm"]))
    if "clipvalue" in hp:
        parts.append(optax.clip(hp["clipvalue"]))
    if name in ("adam", "adamw"):
        parts.append(
            scale_by_keras_adam(
                hp["beta_1"], hp["beta_2"], hp["epsilon"], hp.get("one_minus_beta_1"), hp.get("one_minus_beta_2")
            )
        )
    elif name == "sgd":
        parts.append(scale_by_keras_sgd(hp["momentum"], nesterov=flags.get("nesterov", False)))
    elif name == "rmsprop":
        parts.append(
            scale_by_keras_rmsprop(hp["rho"], hp["momentum"], hp["epsilon"], centered=flags.get("centered", False))
        )
    else:
        raise ValueError(f"optimizer: unknown {name!r}; expected one of {sorted(OPTIMIZER_DEFAULTS)}")
    parts.append(add_keras_weight_decay(hp["weight_decay"]))
    return optax.chain(*parts)


def learning_rate_at(
    step: jax.Array,
    total_steps: int,
    schedule: str,
    hp: Mapping[str, Any],
    piecewise: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    staircase: bool = False,
) -> jax.Array:
    """The scheduled learning rate at optimizer step `step` (0-based, as Keras's
    `optimizer.iterations`), with every numeric parameter possibly traced.

    - constant: `learning_rate`.
    - warmup_cosine: linear from 0 to `learning_rate` over the warmup, then cosine
      decay to `alpha * learning_rate` at `total_steps` (Optax's
      `warmup_cosine_decay_schedule`).
    - exponential_decay: `learning_rate * decay_rate ** (step / decay_steps)`
      (Keras's `ExponentialDecay`, floor of the exponent if `staircase`).
    - piecewise_constant: Keras's `PiecewiseConstantDecay(boundaries, values)`.
    `warmup_steps` (or `warmup_fraction` of all steps) adds a linear warmup from 0
    to the other schedules too.
    """
    t = step.astype(jnp.float32)
    lr = jnp.asarray(hp.get("learning_rate", 1e-3), jnp.float32)
    warmup = jnp.asarray(hp.get("warmup_steps", 0.0), jnp.float32)
    if "warmup_fraction" in hp:
        warmup = jnp.maximum(warmup, hp["warmup_fraction"] * total_steps)
    warm_factor = jnp.where(warmup > 0, jnp.minimum(1.0, t / jnp.maximum(warmup, 1e-12)), 1.0)
    if schedule == "constant":
        return lr * warm_factor
    if schedule == "warmup_cosine":
        decay_len = jnp.maximum(total_steps - warmup, 1.0)
        progress = jnp.clip((t - warmup) / decay_len, 0.0, 1.0)
        alpha = hp["alpha"]
        cosine = lr * (alpha + (1.0 - alpha) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress)))
        return jnp.where(t < warmup, lr * warm_factor, cosine)
    if schedule == "exponential_decay":
        exponent = t / hp["decay_steps"]
        if staircase:
            exponent = jnp.floor(exponent)
        return lr * hp["decay_rate"] ** exponent * warm_factor
    if schedule == "piecewise_constant":
        assert piecewise is not None
        boundaries, values = (jnp.asarray(v, jnp.float32) for v in piecewise)
        return values[jnp.searchsorted(boundaries, t, side="left")] * warm_factor
    raise ValueError(f"schedule: unknown {schedule!r}; expected one of {sorted(SCHEDULE_DEFAULTS)}")
