"""The hand-written LSTM backward pass agrees with autodiff of the plain scan."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fastlstm.engine._model as model_module
from fastlstm.engine import LSTMModel
from fastlstm.engine._recurrence import lstm_layer, lstm_layer_reference


def _inputs(batch=5, time=9, features=3, units=6, seed=0):
    k = jax.random.split(jax.random.PRNGKey(seed), 6)
    x_t = jax.random.normal(k[0], (time, batch, features))
    w = 0.5 * jax.random.normal(k[1], (features, 4 * units))
    r = 0.5 * jax.random.normal(k[2], (units, 4 * units))
    b = 0.1 * jax.random.normal(k[3], (4 * units,))
    mask_t = jax.random.bernoulli(k[4], 0.7, (time, batch))
    cot = jax.random.normal(k[5], (time, batch, units))
    return x_t, w, r, b, mask_t, cot


def _assert_grads_close(got, want):
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5 * float(jnp.abs(e).max()))


@pytest.mark.slow
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_forward_and_gradients_match_autodiff(masked, sequences):
    x_t, w, r, b, mask_t, cot = _inputs()
    m = mask_t if masked else None
    if not sequences:
        cot = cot[0]  # the cotangent of the last state only

    def loss(x_t, w, r, b, fn):
        return jnp.sum(fn(x_t, w, r, b, m, return_sequences=sequences) * cot)

    got = lstm_layer(x_t, w, r, b, m, return_sequences=sequences)
    assert got.shape == (x_t.shape[:2] if sequences else x_t.shape[1:2]) + (r.shape[0],)
    np.testing.assert_allclose(got, lstm_layer_reference(x_t, w, r, b, m, return_sequences=sequences), atol=1e-6)
    if not sequences:
        np.testing.assert_array_equal(got, lstm_layer(x_t, w, r, b, m)[-1])
    args = (0, 1, 2, 3)
    got = jax.grad(loss, argnums=args)(x_t, w, r, b, lstm_layer)
    want = jax.grad(loss, argnums=args)(x_t, w, r, b, lstm_layer_reference)
    _assert_grads_close(got, want)


def test_without_input_gradient_the_weight_gradients_are_unchanged():
    x_t, w, r, b, _, cot = _inputs()

    def loss(w, r, b, need):
        return jnp.sum(lstm_layer(x_t, w, r, b, None, need_input_grad=need) * cot)

    _assert_grads_close(
        jax.grad(loss, argnums=(0, 1, 2))(w, r, b, False), jax.grad(loss, argnums=(0, 1, 2))(w, r, b, True)
    )


def test_masked_steps_carry_state_and_pass_gradients_through():
    x_t, w, r, b, _, _ = _inputs(batch=2, time=6)
    mask_t = jnp.array([[True, True, False, False, True, False]] * 2).T
    hs = lstm_layer(x_t, w, r, b, mask_t)
    np.testing.assert_array_equal(hs[2], hs[1])
    np.testing.assert_array_equal(hs[5], hs[4])
    g = jax.grad(lambda x_t: jnp.sum(lstm_layer(x_t, w, r, b, mask_t)[-1]))(x_t)
    g = np.asarray(g)
    assert np.all(g[[2, 3, 5]] == 0) and np.any(g[4] != 0)


@pytest.mark.slow
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stacked_model_gradients_under_vmap_match_autodiff(monkeypatch, layers):
    """Through the whole Flax model, vmapped over members, with a mask."""
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 7, 3))
    mask = jnp.arange(7)[None, :] < jnp.array([7, 5, 3, 6])[:, None]
    model = LSTMModel(units=5, layers=layers, out_dim=2)
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    params = jax.vmap(lambda k: model.init(k, x, mask)["params"])(keys)

    def loss(p):
        return jnp.sum(jnp.tanh(model.apply({"params": p}, x, mask)))

    grad = jax.vmap(jax.grad(loss))
    got = grad(params)
    monkeypatch.setattr(model_module, "lstm_layer", lstm_layer_reference)
    want = grad(params)
    for (path, g), e in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=jax.tree_util.keystr(path))
