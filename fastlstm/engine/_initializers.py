"""Keras's orthogonal recurrent initialiser, without LAPACK.

Keras (and `jax.nn.initializers.orthogonal`) draw a normal (max(r, c), min(r, c))
matrix, take Q of its QR decomposition, flip each column by the sign of R's diagonal,
and transpose when there are fewer rows than columns: a Haar-distributed matrix with
orthonormal rows or columns.

We compute the same Q by Gram-Schmidt instead of LAPACK's QR. Measured (jax 0.10.2, two
host devices on a 2-core machine): a Bidirectional or stacked model has two independent
batched QRs in its init program; XLA's CPU runtime runs them at once on both intra-op
threads, each LAPACK kernel then waits for batch tasks it queued on that same busy pool,
and the process hung in about 1 run of 3 (6 of 6 fine with one device). Gram-Schmidt is
plain matrix-vector products: no custom call, nothing to deadlock, the same code on
every backend. The Q with a positive-diagonal R is unique, so this is the very matrix
the QR route gives, up to float32 rounding (about 1e-6, tested).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax import lax

if TYPE_CHECKING:
    from collections.abc import Callable

    from jax.typing import DTypeLike


def orthonormal_columns(z: jax.Array) -> jax.Array:
    """Q of z = QR with R's diagonal positive, for a tall (m, n) z with m >= n.

    Classical Gram-Schmidt, each column projected out twice ("twice is enough",
    Giraud et al. 2005): float32 orthogonality stays at rounding level.
    """

    def add_column(j: int, q: jax.Array) -> jax.Array:
        v = lax.dynamic_index_in_dim(z, j, axis=1, keepdims=False)
        for _ in range(2):  # columns not yet written are zero and project out nothing
            v = v - q @ (q.T @ v)
        return lax.dynamic_update_index_in_dim(q, v / jnp.linalg.norm(v), j, axis=1)

    return lax.fori_loop(0, z.shape[1], add_column, jnp.zeros_like(z))


def orthogonal(scale: float = 1.0) -> Callable[[jax.Array, tuple[int, ...], DTypeLike], jax.Array]:
    """A Flax initialiser for a 2-D (rows, cols) orthogonal matrix, as Keras's `Orthogonal`."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        if len(shape) != 2:
            raise ValueError(f"the orthogonal initialiser takes a 2-D shape, got {shape}")
        rows, cols = shape
        z = jax.random.normal(key, (max(rows, cols), min(rows, cols)), dtype)
        q = orthonormal_columns(z)
        return jnp.asarray(scale, dtype) * (q.T if rows < cols else q)

    return init
