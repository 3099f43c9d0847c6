"""Per-sample losses and metrics with Keras's formulas.

Keras computes crossentropy from the head's probabilities (softmax / sigmoid) with
the probabilities clipped to [1e-7, 1 - 1e-7]; so do we, so that losses, gradients
and `keras.Model.fit` parity hold even when the model saturates. Every function maps
(targets, outputs) of one batch to a (batch,) vector; the reduction (Keras's
"sum_over_batch_size") is the engine's job.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

EPSILON = 1e-7  # keras.config.epsilon()

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


def sparse_categorical_crossentropy(labels: jax.Array, probs: jax.Array) -> jax.Array:
    probs = probs / jnp.sum(probs, axis=-1, keepdims=True)
    log_p = jnp.log(jnp.clip(probs, EPSILON, 1.0 - EPSILON))
    return -jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]


def categorical_crossentropy(onehot: jax.Array, probs: jax.Array) -> jax.Array:
    probs = probs / jnp.sum(probs, axis=-1, keepdims=True)
    log_p = jnp.log(jnp.clip(probs, EPSILON, 1.0 - EPSILON))
    return -jnp.sum(onehot * log_p, axis=-1)


def binary_crossentropy(targets: jax.Array, probs: jax.Array) -> jax.Array:
    p = jnp.clip(probs, EPSILON, 1.0 - EPSILON)
    bce = targets * jnp.log(p) + (1.0 - targets) * jnp.log(1.0 - p)
    return -jnp.mean(bce, axis=-1)


def mean_squared_error(targets: jax.Array, outputs: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(outputs - targets), axis=-1)


def mean_absolute_error(targets: jax.Array, outputs: jax.Array) -> jax.Array:
    return jnp.mean(jnp.abs(outputs - targets), axis=-1)


LOSSES: dict[str, LossFn] = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
}

# Canonical Keras history names for the loss aliases users may pass.
_LOSS_CANONICAL = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def canonical_loss(name: str) -> str:
    return _LOSS_CANONICAL.get(name, name)


def accuracy(targets: jax.Array, outputs: jax.Array, loss: str) -> jax.Array:
    """Per-sample 0/1 correctness, as Keras's "accuracy" resolves for the loss."""
    if loss == "sparse_categorical_crossentropy":
        return (jnp.argmax(outputs, axis=-1) == targets.astype(jnp.int32)).astype(jnp.float32)
    if loss == "categorical_crossentropy":
        return (jnp.argmax(outputs, axis=-1) == jnp.argmax(targets, axis=-1)).astype(jnp.float32)
    if loss == "binary_crossentropy":
        return jnp.mean(((outputs > 0.5) == (targets > 0.5)).astype(jnp.float32), axis=-1)
    raise ValueError(f"metrics: 'accuracy' needs a crossentropy loss, got loss={loss!r}")


METRICS = ("accuracy", "mae", "mse")
# Which way each quantity improves - the one table every layer asks (callbacks' `mode="auto"`,
# ranking, halving's promotions, the report): Keras's metric `_direction` for the metrics
# fastlstm computes, and for other names (read from a file or a Keras model) the errors by suffix.
DIRECTION = {"loss": "min", "accuracy": "max", "mae": "min", "mse": "min"}
LOWER_IS_BETTER = ("loss", "mae", "mse", "rmse", "mape", "crossentropy")


def higher_is_better(metric: str) -> bool:
    """False for losses and errors (loss, mae, mse, val_..., *crossentropy), True otherwise (accuracy)."""
    base = metric.removeprefix("val_")
    if base in DIRECTION:
        return DIRECTION[base] == "max"
    return not any(base == word or base.endswith(word) for word in LOWER_IS_BETTER)


def metric_values(name: str, targets: jax.Array, outputs: jax.Array, loss: str) -> jax.Array:
    """Per-sample values of a named metric."""
    if name == "accuracy":
        return accuracy(targets, outputs, loss)
    if loss == "sparse_categorical_crossentropy":
        raise ValueError(f"metrics: {name!r} needs dense targets, not integer labels")
    if name == "mae":
        return mean_absolute_error(targets, outputs)
    if name == "mse":
        return mean_squared_error(targets, outputs)
    raise ValueError(f"metrics: unknown metric {name!r}; expected one of {METRICS}")
