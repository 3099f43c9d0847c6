"""Numerical parity with Keras 3 (JAX backend): LSTM forward pass, initialisers,
optimizers step by step, learning-rate schedules and losses.

Every check compares against Keras itself (or Optax, for the schedule fastlstm
documents as Optax's), never against a re-derivation, and the negative controls
show that the tolerances used are tight enough to tell the Keras update rules
from their near neighbours.
"""

import functools
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

from fastlstm.engine import _losses as fl_losses
from fastlstm.engine._model import KerasLSTM, LSTMModel, head_activation
from fastlstm.engine._optimizers import OPTIMIZER_DEFAULTS, float32_hparams, learning_rate_at, make_optimizer

FWD_ATOL = 1e-5


# --------------------------------------------------------------------------- forward


def _random_weights(rng, features, units, layers, out_dim):
    """Random (not initialiser-shaped) weights so that every gate slice matters."""
    weights = []
    fan_in = features
    for _ in range(layers):
        weights.append(
            [
                (0.5 * rng.normal(size=(fan_in, 4 * units))).astype(np.float32),
                (0.5 * rng.normal(size=(units, 4 * units))).astype(np.float32),
                (0.3 * rng.normal(size=(4 * units,))).astype(np.float32),
            ]
        )
        fan_in = units
    head = [
        (rng.normal(size=(units, out_dim))).astype(np.float32),
        (0.3 * rng.normal(size=(out_dim,))).astype(np.float32),
    ]
    return weights, head


def _keras_model(timesteps, features, units, layers, out_dim, activation, masking, weights, head):
    stack = [keras.Input((timesteps, features))]
    if masking:
        stack.append(keras.layers.Masking(mask_value=0.0))
    # Zero initialisers: the weights are overwritten below, and Keras's orthogonal
    # initialiser costs a compile per shape.
    zeros = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
    for i in range(layers):
        stack.append(keras.layers.LSTM(units, return_sequences=i < layers - 1, **zeros))
    stack.append(keras.layers.Dense(out_dim, activation=activation, kernel_initializer="zeros"))
    model = keras.Sequential(stack)
    flat = [w for layer in weights for w in layer] + head
    model.set_weights(flat)
    return model


def _fastlstm_params(weights, head):
    params = {
        f"lstm_{i}": {"kernel": jnp.asarray(k), "recurrent_kernel": jnp.asarray(r), "bias": jnp.asarray(b)}
        for i, (k, r, b) in enumerate(weights)
    }
    params["head"] = {"kernel": jnp.asarray(head[0]), "bias": jnp.asarray(head[1])}
    return params


def _fastlstm_forward(params, units, layers, out_dim, task, x, mask=None):
    model = LSTMModel(units=units, layers=layers, out_dim=out_dim)
    raw = model.apply({"params": params}, jnp.asarray(x), None if mask is None else jnp.asarray(mask))
    return np.asarray(head_activation(task, raw))


def _pad(rng, x, lengths):
    """Zero-pad each row to its length: even rows at the end, odd rows at the start."""
    x = x.copy()
    mask = np.zeros(x.shape[:2], bool)
    t = x.shape[1]
    for row, n in enumerate(lengths):
        keep = slice(0, n) if row % 2 == 0 else slice(t - n, t)
        mask[row, keep] = True
    x[~mask] = 0.0
    return x, mask


FORWARD_CASES = {
    # name: (batch, timesteps, features, units, layers, task, out_dim)
    "one_layer": (5, 6, 4, 5, 1, "classification", 3),
    "two_layers": (5, 6, 4, 5, 2, "classification", 3),
    "units7_feat3_t11": (4, 11, 3, 7, 1, "classification", 4),
    "binary_sigmoid": (5, 6, 4, 5, 1, "binary", 1),
    "regression_linear": (5, 6, 4, 5, 1, "regression", 2),
}
ACTIVATION = {"classification": "softmax", "binary": "sigmoid", "regression": "linear"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FORWARD_CASES))
def test_forward_matches_keras(name):
    batch, timesteps, features, units, layers, task, out_dim = FORWARD_CASES[name]
    rng = np.random.default_rng(len(name))
    weights, head = _random_weights(rng, features, units, layers, out_dim)
    x = rng.normal(size=(batch, timesteps, features)).astype(np.float32)
    kmodel = _keras_model(timesteps, features, units, layers, out_dim, ACTIVATION[task], False, weights, head)
    expected = np.asarray(kmodel(x))
    got = _fastlstm_forward(_fastlstm_params(weights, head), units, layers, out_dim, task, x)
    assert got.shape == expected.shape == (batch, out_dim)
    np.testing.assert_allclose(got, expected, atol=FWD_ATOL, rtol=0)
    # The outputs are not degenerate (the comparison could otherwise pass vacuously).
    assert np.ptp(expected, axis=0).max() > 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_masking_matches_keras_masking_layer(layers):
    batch, timesteps, features, units, out_dim = 6, 9, 3, 5, 3
    rng = np.random.default_rng(10 + layers)
    weights, head = _random_weights(rng, features, units, layers, out_dim)
    lengths = [9, 1, 4, 7, 2, 5]
    x, mask = _pad(rng, rng.normal(size=(batch, timesteps, features)).astype(np.float32), lengths)
    kmodel = _keras_model(timesteps, features, units, layers, out_dim, "softmax", True, weights, head)
    expected = np.asarray(kmodel(x))
    params = _fastlstm_params(weights, head)
    got = _fastlstm_forward(params, units, layers, out_dim, "classification", x, mask)
    np.testing.assert_allclose(got, expected, atol=FWD_ATOL, rtol=0)
    # Negative control: ignoring the mask (running over the zero padding) is detectably different.
    unmasked = _fastlstm_forward(params, units, layers, out_dim, "classification", x)
    assert np.abs(unmasked - expected).max() > 1e-3


def test_forward_gate_order_is_detected():
    """Negative control: swapping the i and f gate slices must break parity."""
    batch, timesteps, features, units, layers, task, out_dim = FORWARD_CASES["one_layer"]
    rng = np.random.default_rng(3)
    weights, head = _random_weights(rng, features, units, layers, out_dim)
    x = rng.normal(size=(batch, timesteps, features)).astype(np.float32)
    kmodel = _keras_model(timesteps, features, units, layers, out_dim, "softmax", False, weights, head)
    expected = np.asarray(kmodel(x))
    perm = np.concatenate([np.arange(units, 2 * units), np.arange(units), np.arange(2 * units, 4 * units)])
    swapped = [[k[:, perm], r[:, perm], b[perm]] for k, r, b in weights]
    got = _fastlstm_forward(_fastlstm_params(swapped, head), units, layers, out_dim, task, x)
    assert np.abs(got - expected).max() > 1e-3


def test_forward_keras_initialised_weights_copied_over():
    """Keras's own initial weights, read with get_weights(), give the same outputs."""
    batch, timesteps, features, units, _, task, out_dim = FORWARD_CASES["one_layer"]
    keras.utils.set_random_seed(7)
    kmodel = keras.Sequential(
        [
            keras.Input((timesteps, features)),
            keras.layers.LSTM(units),
            keras.layers.Dense(out_dim, activation="softmax"),
        ]
    )
    k, r, b, hk, hb = kmodel.get_weights()
    x = np.random.default_rng(0).normal(size=(batch, timesteps, features)).astype(np.float32)
    got = _fastlstm_forward(_fastlstm_params([[k, r, b]], [hk, hb]), units, 1, out_dim, task, x)
    np.testing.assert_allclose(got, np.asarray(kmodel(x)), atol=FWD_ATOL, rtol=0)


# --------------------------------------------------------------------------- initialisers


@functools.cache
def _init_params(features, units, layers=1, out_dim=3, seed=0):
    """fastlstm's own initialisation (KerasLSTM layers lstm_i inside LSTMModel)."""
    model = LSTMModel(units=units, layers=layers, out_dim=out_dim)
    params = jax.jit(model.init)(jax.random.PRNGKey(seed), jnp.zeros((2, 3, features), jnp.float32))["params"]
    return jax.tree.map(np.asarray, params)


INIT_SHAPES = [(3, 1, 1), (3, 7, 2), (200, 128, 1)]  # (features, units, layers)


def test_keras_lstm_layer_params_are_keras_shaped():
    x = jnp.zeros((2, 3, 4), jnp.float32)
    shapes = jax.eval_shape(KerasLSTM(5).init, jax.random.PRNGKey(0), x)["params"]
    assert {k: v.shape for k, v in shapes.items()} == {
        "kernel": (4, 20),
        "recurrent_kernel": (5, 20),
        "bias": (20,),
    }


@pytest.mark.slow
@pytest.mark.parametrize("shape", INIT_SHAPES)
def test_init_bias_is_unit_forget_bias(shape):
    _, units, layers = shape
    params = _init_params(*shape)
    expected = np.zeros(4 * units, np.float32)
    expected[units : 2 * units] = 1.0
    for i in range(layers):
        np.testing.assert_array_equal(params[f"lstm_{i}"]["bias"], expected)


@pytest.mark.parametrize("shape", INIT_SHAPES)
def test_init_recurrent_kernel_has_orthonormal_rows(shape):
    _, units, layers = shape
    params = _init_params(*shape)
    for i in range(layers):
        rec = params[f"lstm_{i}"]["recurrent_kernel"].astype(np.float64)
        assert rec.shape == (units, 4 * units)
        # Orthogonal over the whole (u, 4u) matrix (Keras), not per gate block (that gives 4*I).
        np.testing.assert_allclose(rec @ rec.T, np.eye(units), atol=1e-5)


@pytest.mark.parametrize("shape", INIT_SHAPES)
def test_init_kernels_within_glorot_limit(shape):
    features, units, layers = shape
    params = _init_params(*shape)
    fan_in = features
    for i in range(layers):
        kernel = params[f"lstm_{i}"]["kernel"]
        assert kernel.shape == (fan_in, 4 * units)
        assert np.abs(kernel).max() <= np.sqrt(6.0 / (fan_in + 4 * units))
        fan_in = units
    # The Dense head: glorot_uniform kernel, zero bias.
    assert np.abs(params["head"]["kernel"]).max() <= np.sqrt(6.0 / (units + 3))
    np.testing.assert_array_equal(params["head"]["bias"], np.zeros(3, np.float32))


def test_init_kernel_std_is_glorot_uniform():
    features, units, _ = INIT_SHAPES[-1]
    kernel = _init_params(*INIT_SHAPES[-1])["lstm_0"]["kernel"].astype(np.float64)
    limit = np.sqrt(6.0 / (features + 4 * units))
    # Uniform(-limit, limit) has std limit/sqrt(3); ~100k draws pin it to well under 2 %
    # (lecun_normal, Flax's default, would be sqrt(1/200), 1.33x larger).
    assert kernel.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.02)
    assert abs(kernel.mean()) < 0.01 * limit
    # It fills the range (a narrower or normal initialiser would not reach 99 % of the limit).
    assert np.abs(kernel).max() > 0.99 * limit


# --------------------------------------------------------------------------- optimizers

SHAPES = [(4, 8), (8,), (3, 3)]
# One variable gets large gradients (clipnorm clips it), one tiny ones (epsilon placement
# matters there), one moderate ones.
GRAD_SCALES = [5.0, 1e-4, 1.0]
LRS = [0.1, 0.05, 0.2, 0.01, 0.1]  # changes every step


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    p0 = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[(scale * rng.normal(size=s)).astype(np.float32) for s, scale in zip(SHAPES, GRAD_SCALES)] for _ in LRS]
    return p0, grads


def _run_keras(opt, p0, grads, lrs):
    variables = [keras.Variable(p) for p in p0]
    opt.build(variables)
    for g, lr in zip(grads, lrs):
        opt.learning_rate = lr
        opt.apply([jnp.asarray(x) for x in g], variables)
    return [np.asarray(v) for v in variables]


def _run_fastlstm(name, overrides, flags, p0, grads, lrs, traced):
    hp = dict(OPTIMIZER_DEFAULTS[name])
    hp.update(overrides)
    if traced:  # as the engine passes them: float32 arrays, one per member
        hp = {k: jnp.asarray(v) for k, v in float32_hparams(hp).items()}
    tx = make_optimizer(name, hp, flags)
    params = [jnp.asarray(p) for p in p0]
    state = tx.init(params)
    for g, lr in zip(grads, lrs):
        updates, state = tx.update([jnp.asarray(x) for x in g], state, params, learning_rate=jnp.float32(lr))
        params = optax.apply_updates(params, updates)
    return [np.asarray(p) for p in params]


def _assert_params_close(got, expected, p0, rtol=1e-6):
    """Agreement to `rtol` relative to the parameter or, for parameters near zero,
    to the distance the optimizer moved that variable (so a near-zero entry does not
    make an exact match look bad, and a tiny total move does not hide a wrong one)."""
    for i, (g, e, p) in enumerate(zip(got, expected, p0)):
        moved = np.abs(e - p).max()
        assert moved > 0, f"variable {i} did not move"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * moved, err_msg=f"variable {i}")


def _mismatch(got, expected, p0, rtol=1e-6):
    try:
        _assert_params_close(got, expected, p0, rtol)
    except AssertionError:
        return True
    return False


OPTIMIZER_CASES = {
    # id: (fastlstm name, hp overrides, flags, keras constructor)
    "adam": ("adam", {}, {}, lambda: keras.optimizers.Adam()),
    "adam_betas_eps": (
        "adam",
        {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5},
        {},
        lambda: keras.optimizers.Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-5),
    ),
    "adam_weight_decay": ("adam", {"weight_decay": 0.05}, {}, lambda: keras.optimizers.Adam(weight_decay=0.05)),
    "adamw_default_wd": ("adamw", {}, {}, lambda: keras.optimizers.AdamW()),
    "adamw_wd0.1": ("adamw", {"weight_decay": 0.1}, {}, lambda: keras.optimizers.AdamW(weight_decay=0.1)),
    "sgd": ("sgd", {}, {}, lambda: keras.optimizers.SGD()),
    "sgd_momentum": ("sgd", {"momentum": 0.9}, {}, lambda: keras.optimizers.SGD(momentum=0.9)),
    "sgd_nesterov": (
        "sgd",
        {"momentum": 0.9},
        {"nesterov": True},
        lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True),
    ),
    "sgd_momentum_wd": (
        "sgd",
        {"momentum": 0.5, "weight_decay": 0.1},
        {},
        lambda: keras.optimizers.SGD(momentum=0.5, weight_decay=0.1),
    ),
    "rmsprop": ("rmsprop", {}, {}, lambda: keras.optimizers.RMSprop()),
    "rmsprop_momentum": ("rmsprop", {"momentum": 0.9}, {}, lambda: keras.optimizers.RMSprop(momentum=0.9)),
    "rmsprop_centered": (
        "rmsprop",
        {"rho": 0.8},
        {"centered": True},
        lambda: keras.optimizers.RMSprop(rho=0.8, centered=True),
    ),
    "rmsprop_centered_momentum": (
        "rmsprop",
        {"momentum": 0.5},
        {"centered": True},
        lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True),
    ),
    "adam_clipnorm": ("adam", {"clipnorm": 1.0}, {}, lambda: keras.optimizers.Adam(clipnorm=1.0)),
    "sgd_clipnorm": (
        "sgd",
        {"momentum": 0.9, "clipnorm": 1.0},
        {},
        lambda: keras.optimizers.SGD(momentum=0.9, clipnorm=1.0),
    ),
    "sgd_global_clipnorm": ("sgd", {"global_clipnorm": 2.0}, {}, lambda: keras.optimizers.SGD(global_clipnorm=2.0)),
    "rmsprop_global_clipnorm": (
        "rmsprop",
        {"global_clipnorm": 2.0},
        {},
        lambda: keras.optimizers.RMSprop(global_clipnorm=2.0),
    ),
    "sgd_clipvalue": ("sgd", {"clipvalue": 0.5}, {}, lambda: keras.optimizers.SGD(clipvalue=0.5)),
    "adam_clipvalue": ("adam", {"clipvalue": 0.5}, {}, lambda: keras.optimizers.Adam(clipvalue=0.5)),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_keras_step_by_step(case):
    name, overrides, flags, make_keras = OPTIMIZER_CASES[case]
    p0, grads = _problem()
    expected = _run_keras(make_keras(), p0, grads, LRS)
    got = _run_fastlstm(name, overrides, flags, p0, grads, LRS, traced=False)
    _assert_params_close(got, expected, p0)


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizer_matches_keras_with_float32_hyperparameters(case):
    name, overrides, flags, make_keras = OPTIMIZER_CASES[case]
    p0, grads = _problem(seed=1)
    expected = _run_keras(make_keras(), p0, grads, LRS)
    got = _run_fastlstm(name, overrides, flags, p0, grads, LRS, traced=True)
    _assert_params_close(got, expected, p0)


def test_optimizer_negative_controls():
    """The tolerance above tells Keras's rules from their near neighbours."""
    p0, grads = _problem()
    # Optax's Adam (epsilon added to the bias-corrected sqrt(v_hat)) is not Keras's Adam.
    keras_adam = _run_keras(keras.optimizers.Adam(), p0, grads, LRS)
    params = [jnp.asarray(p) for p in p0]
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=LRS[0], eps=1e-7)
    state = tx.init(params)
    for g, lr in zip(grads, LRS):
        state.hyperparams["learning_rate"] = jnp.asarray(lr)
        updates, state = tx.update([jnp.asarray(x) for x in g], state, params)
        params = optax.apply_updates(params, updates)
    assert _mismatch([np.asarray(p) for p in params], keras_adam, p0)

    # SGD momentum with the learning rate outside the buffer (PyTorch / Optax style)
    # differs from Keras once the learning rate changes between steps.
    keras_sgd = _run_keras(keras.optimizers.SGD(momentum=0.9), p0, grads, LRS)
    outside = [p.astype(np.float64) for p in p0]
    buf = [np.zeros_like(p) for p in outside]
    for g, lr in zip(grads, LRS):
        buf = [0.9 * b + gi for b, gi in zip(buf, g)]
        outside = [p - lr * b for p, b in zip(outside, buf)]
    assert _mismatch([p.astype(np.float32) for p in outside], keras_sgd, p0)
    # ... but with a constant learning rate the two agree, so it is the lr change that shows.
    const = [LRS[0]] * len(LRS)
    keras_const = _run_keras(keras.optimizers.SGD(momentum=0.9), p0, grads, const)
    fl_const = _run_fastlstm("sgd", {"momentum": 0.9}, {}, p0, grads, const, traced=False)
    _assert_params_close(fl_const, keras_const, p0)

    # RMSprop with epsilon outside the sqrt is not Keras's RMSprop (tiny-gradient variable).
    keras_rms = _run_keras(keras.optimizers.RMSprop(), p0, grads, LRS)
    eps_out = [p.astype(np.float64) for p in p0]
    vel = [np.zeros_like(p) for p in eps_out]
    for g, lr in zip(grads, LRS):
        vel = [0.9 * v + 0.1 * np.square(gi) for v, gi in zip(vel, g)]
        eps_out = [p - lr * gi / (np.sqrt(v) + 1e-7) for p, gi, v in zip(eps_out, g, vel)]
    assert _mismatch([p.astype(np.float32) for p in eps_out], keras_rms, p0)


# --------------------------------------------------------------------------- schedules

STEPS = np.arange(0, 130)


@pytest.mark.parametrize("dtype", ["python", "float32"])
@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_matches_keras(staircase, dtype):
    hp = {"learning_rate": 0.1, "decay_rate": 0.5, "decay_steps": 10.0}
    if dtype == "float32":
        hp = {k: jnp.asarray(v, jnp.float32) for k, v in hp.items()}
    got = np.asarray(learning_rate_at(jnp.asarray(STEPS), 130, "exponential_decay", hp, staircase=staircase))
    sched = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    expected = np.array([float(sched(int(s))) for s in STEPS])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # The staircase flag changes the values between multiples of decay_steps.
    assert len(np.unique(np.round(got, 9))) == (13 if staircase else len(STEPS))


def test_piecewise_constant_matches_keras():
    boundaries, values = [10, 20, 55], [0.1, 0.05, 0.01, 0.001]
    got = np.asarray(
        learning_rate_at(
            jnp.asarray(STEPS),
            130,
            "piecewise_constant",
            {},
            piecewise=(tuple(float(b) for b in boundaries), tuple(values)),
        )
    )
    sched = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    expected = np.array([float(sched(int(s))) for s in STEPS])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Keras's boundary rule: step == boundary still takes the earlier value.
    assert got[10] == pytest.approx(0.1) and got[11] == pytest.approx(0.05)


@pytest.mark.parametrize(
    "hp,total",
    [
        ({"learning_rate": 0.1, "alpha": 0.0, "warmup_steps": 10.0}, 100),
        ({"learning_rate": 0.02, "alpha": 0.1, "warmup_steps": 25.0}, 120),
        ({"learning_rate": 0.02, "alpha": 0.1, "warmup_fraction": 0.2}, 60),
        ({"learning_rate": 0.05, "alpha": 0.3}, 80),
    ],
)
def test_warmup_cosine_matches_optax(hp, total):
    warmup = hp.get("warmup_steps", hp.get("warmup_fraction", 0.0) * total)
    sched = optax.warmup_cosine_decay_schedule(
        0.0, hp["learning_rate"], int(warmup), total, hp["alpha"] * hp["learning_rate"]
    )
    expected = np.array([float(sched(int(s))) for s in STEPS])
    for params in (hp, {k: jnp.asarray(v, jnp.float32) for k, v in hp.items()}):
        got = np.asarray(learning_rate_at(jnp.asarray(STEPS), total, "warmup_cosine", params))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)


# --------------------------------------------------------------------------- losses


def _probabilities(rng, n, k):
    p = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    # Saturated rows: one-hot, and rows with exact zeros.
    p[0] = np.eye(k, dtype=np.float32)[0]
    p[1] = np.eye(k, dtype=np.float32)[k - 1]
    p[2, :] = 0.0
    p[2, :2] = 0.5
    p[3] = 0.0
    p[3, :3] = [0.2, 0.2, 0.1]  # not normalised: Keras divides by the row sum first
    return p


def test_sparse_categorical_crossentropy_matches_keras():
    rng = np.random.default_rng(0)
    n, k = 12, 4
    probs = _probabilities(rng, n, k)
    labels = rng.integers(0, k, size=n)
    labels[0], labels[1], labels[2] = 0, 0, k - 1  # exact hit, exact miss (p=0), miss on a zero
    expected = np.asarray(keras.losses.SparseCategoricalCrossentropy(reduction="none")(labels, probs))
    got = np.asarray(fl_losses.sparse_categorical_crossentropy(jnp.asarray(labels), jnp.asarray(probs)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[1] == pytest.approx(-np.log(1e-7), rel=1e-4)  # clipped, not inf


def test_categorical_crossentropy_matches_keras():
    rng = np.random.default_rng(1)
    n, k = 12, 4
    probs = _probabilities(rng, n, k)
    onehot = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=n)]
    onehot[1] = np.eye(k, dtype=np.float32)[0]
    onehot[4] = np.full(k, 1.0 / k, np.float32)  # soft labels
    expected = np.asarray(keras.losses.CategoricalCrossentropy(reduction="none")(onehot, probs))
    got = np.asarray(fl_losses.categorical_crossentropy(jnp.asarray(onehot), jnp.asarray(probs)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("width", [1, 3])
def test_binary_crossentropy_matches_keras(width):
    rng = np.random.default_rng(2)
    n = 10
    probs = rng.uniform(size=(n, width)).astype(np.float32)
    probs[0], probs[1], probs[2], probs[3] = 0.0, 1.0, 0.0, 1.0
    targets = rng.integers(0, 2, size=(n, width)).astype(np.float32)
    targets[0], targets[1], targets[2], targets[3] = 0.0, 1.0, 1.0, 0.0
    targets[4] = 0.3  # soft target
    expected = np.asarray(keras.losses.BinaryCrossentropy(reduction="none")(targets, probs))
    got = np.asarray(fl_losses.binary_crossentropy(jnp.asarray(targets), jnp.asarray(probs)))
    assert got.shape == expected.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(got).all()


@pytest.mark.parametrize(
    "fl_fn,keras_cls",
    [
        (fl_losses.mean_squared_error, keras.losses.MeanSquaredError),
        (fl_losses.mean_absolute_error, keras.losses.MeanAbsoluteError),
    ],
)
@pytest.mark.parametrize("width", [1, 3])
def test_regression_losses_match_keras(fl_fn, keras_cls, width):
    rng = np.random.default_rng(3)
    targets = rng.normal(size=(9, width)).astype(np.float32)
    outputs = rng.normal(size=(9, width)).astype(np.float32)
    expected = np.asarray(keras_cls(reduction="none")(targets, outputs))
    got = np.asarray(fl_fn(jnp.asarray(targets), jnp.asarray(outputs)))
    assert got.shape == expected.shape == (9,)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_loss_registry_aliases():
    assert fl_losses.LOSSES["mse"] is fl_losses.LOSSES["mean_squared_error"] is fl_losses.mean_squared_error
    assert fl_losses.LOSSES["mae"] is fl_losses.LOSSES["mean_absolute_error"] is fl_losses.mean_absolute_error
