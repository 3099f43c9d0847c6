"""The hand-written LSTM backward pass agrees with autodiff of the plain scan."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fastlstm.model import LSTMModel
from fastlstm.recurrence import lstm_recurrence, lstm_recurrence_reference


def _inputs(batch=5, time=9, units=6, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 4)
    xw = jax.random.normal(k[0], (batch, time, 4 * units))
    r = 0.5 * jax.random.normal(k[1], (units, 4 * units))
    mask = jax.random.bernoulli(k[2], 0.7, (batch, time))
    w = jax.random.normal(k[3], (batch, time, units))
    return xw, r, mask, w


@pytest.mark.parametrize("masked", [False, True])
def test_forward_and_gradients_match_autodiff(masked):
    xw, r, mask, w = _inputs()
    m = mask if masked else None

    def loss(xw, r, fn):
        return jnp.sum(fn(xw, r, m) * w)

    np.testing.assert_allclose(lstm_recurrence(xw, r, m), lstm_recurrence_reference(xw, r, m), atol=1e-6)
    got = jax.grad(loss, argnums=(0, 1))(xw, r, lstm_recurrence)
    want = jax.grad(loss, argnums=(0, 1))(xw, r, lstm_recurrence_reference)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5 * float(jnp.abs(e).max()))


def test_masked_steps_carry_state_and_pass_gradients_through():
    xw, r, _, _ = _inputs(batch=2, time=6)
    mask = jnp.array([[True, True, False, False, True, False]] * 2)
    hs = lstm_recurrence(xw, r, mask)
    np.testing.assert_array_equal(hs[:, 2], hs[:, 1])
    np.testing.assert_array_equal(hs[:, 5], hs[:, 4])
    g = jax.grad(lambda xw: jnp.sum(lstm_recurrence(xw, r, mask)[:, -1]))(xw)
    assert np.all(g[:, [2, 3, 5]] == 0) and np.any(g[:, 4] != 0)


@pytest.mark.parametrize("layers", [1, 2])
def test_stacked_model_gradients_under_vmap_match_autodiff(monkeypatch, layers):
    """Through the whole Flax model, vmapped over members, with a mask and dropout off."""
    import fastlstm.model as model_module

    x = jax.random.normal(jax.random.PRNGKey(1), (4, 7, 3))
    mask = jnp.arange(7)[None, :] < jnp.array([7, 5, 3, 6])[:, None]
    model = LSTMModel(units=5, layers=layers, out_dim=2)
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    params = jax.vmap(lambda k: model.init(k, x, mask)["params"])(keys)

    def loss(p):
        return jnp.sum(jnp.tanh(model.apply({"params": p}, x, mask)))

    grad = jax.vmap(jax.grad(loss))
    got = grad(params)
    monkeypatch.setattr(model_module, "lstm_recurrence", lstm_recurrence_reference)
    want = grad(params)
    for (path, g), e in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path))
