"""The LAPACK-free orthogonal initialiser: the same matrix as the QR route, Haar-distributed."""

import jax
import numpy as np
import pytest

from fastlstm.engine._initializers import orthogonal, orthonormal_columns


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(8, 32), (64, 256), (32, 8), (5, 5)])
def test_it_is_the_matrix_jax_and_keras_draw_from_the_same_key(shape):
    key = jax.random.key(7)
    ours = np.asarray(orthogonal()(key, shape))
    theirs = np.asarray(jax.nn.initializers.orthogonal()(key, shape))
    assert ours.shape == shape
    np.testing.assert_allclose(ours, theirs, atol=2e-6)


def test_rows_or_columns_are_orthonormal_whichever_side_is_smaller():
    wide = np.asarray(orthogonal()(jax.random.key(0), (16, 64)))
    tall = np.asarray(orthogonal()(jax.random.key(0), (64, 16)))
    np.testing.assert_allclose(wide @ wide.T, np.eye(16), atol=2e-6)
    np.testing.assert_allclose(tall.T @ tall, np.eye(16), atol=2e-6)


def test_r_has_a_positive_diagonal_so_q_is_unique():
    z = np.random.default_rng(0).normal(size=(40, 10)).astype(np.float32)
    q = np.asarray(orthonormal_columns(jax.numpy.asarray(z)))
    r = q.T @ z
    assert (np.diag(r) > 0).all()
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-5)
    np.testing.assert_allclose(q @ r, z, atol=1e-4)


def test_batched_under_vmap_each_member_gets_its_own_draw():
    keys = jax.random.split(jax.random.key(1), 3)
    batch = np.asarray(jax.vmap(lambda k: orthogonal()(k, (4, 16)))(keys))
    alone = np.stack([np.asarray(orthogonal()(k, (4, 16))) for k in keys])
    np.testing.assert_allclose(batch, alone, atol=1e-6)
    assert not np.allclose(batch[0], batch[1])


def test_a_shape_that_is_not_two_dimensional_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        orthogonal()(jax.random.key(0), (4, 4, 4))
