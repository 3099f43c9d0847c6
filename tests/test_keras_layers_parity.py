"""Layer-list models against Keras 3 (JAX backend): forward with random weights, one epoch
of training from the same weights, dropout-mask rules, initialisation statistics, and
the round trips from_keras -> to_keras and save_keras -> keras.saving.load_model."""

import itertools
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import fastlstm as fl
from fastlstm.engine._layer_modules import dropout_masks
from fastlstm.layers import LSTM, SequentialModel

FWD_ATOL = 1e-5
L = keras.layers


def randomize(model, seed=0):
    """Random weights well away from the initialisers' (so a swapped matrix would show)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def float_input(n=6, t=7, f=3, seed=1):
    return np.random.default_rng(seed).normal(size=(n, t, f)).astype(np.float32)


def padded(x, lengths, pre):
    out = x.copy()
    for i, n in enumerate(lengths):
        if pre:
            out[i, : x.shape[1] - n] = 0.0
        else:
            out[i, n:] = 0.0
    return out


def tokens(n=6, t=7, vocab=11, seed=2):
    ids = np.random.default_rng(seed).integers(1, vocab, (n, t))
    ids[1, 5:] = 0
    ids[3, 2:] = 0
    return ids


def seq(*layers, input_shape=(7, 3), dtype="float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])


def forward_cases():
    x = float_input()
    post = padded(x, [7, 3, 5, 1, 6, 7], pre=False)
    pre = padded(x, [7, 3, 5, 1, 6, 7], pre=True)
    ids = tokens()
    cases = {
        "one-layer": (seq(L.LSTM(5), L.Dense(3, activation="softmax")), x),
        "two-layers-different-widths": (
            seq(L.LSTM(6, return_sequences=True), L.LSTM(4), L.Dense(1, activation="sigmoid")),
            x,
        ),
        "return-sequences-head": (seq(L.LSTM(5, return_sequences=True), L.Dense(2)), x),
        "masking-post-padding": (seq(L.Masking(0.0), L.LSTM(5), L.Dense(2)), post),
        "masking-pre-padding": (seq(L.Masking(0.0), L.LSTM(5), L.Dense(2)), pre),
        "masking-sequences": (seq(L.Masking(0.0), L.LSTM(5, return_sequences=True), L.Dense(2)), post),
        "embedding-mask-zero": (
            seq(
                L.Embedding(11, 4, mask_zero=True),
                L.LSTM(5),
                L.Dense(3, activation="softmax"),
                input_shape=(7,),
                dtype="int32",
            ),
            ids,
        ),
        "go-backwards": (seq(L.LSTM(5, go_backwards=True), L.Dense(2)), x),
        "go-backwards-masked": (seq(L.Masking(0.0), L.LSTM(5, go_backwards=True), L.Dense(2)), post),
        "hidden-dense-dropout": (
            seq(L.LSTM(5), L.Dropout(0.5), L.Dense(4, activation="relu"), L.Dense(3, activation="tanh"), L.Dense(2)),
            x,
        ),
        "dense-before-lstm": (seq(L.Dense(4, activation="tanh"), L.LSTM(5), L.Dense(1, activation="sigmoid")), x),
    }
    inputs = {"": x, "-post": post, "-pre": pre}
    for mode, masked, rs in BIDIRECTIONAL_CASES:
        layers = [L.Masking(0.0)] if masked else []
        bi = L.Bidirectional(L.LSTM(4, return_sequences=rs), merge_mode=mode)
        name = f"bidirectional-{mode}{masked}{'-sequences' if rs else ''}"
        cases[name] = (seq(*layers, bi, L.Dense(2)), inputs[masked])
    return cases


# Bidirectional models: every padding (none, post, pre) x return_sequences pair twice and
# every merge mode with each padding and both return_sequences values, 12 models. The
# merge is applied to the two directions' outputs after the recurrence, so it does not
# multiply the masking paths; test_keras_layer_parity.py checks the full merge mode x
# masked x return_sequences product against the Keras layer (its mask pads rows at the end
# and at the start). The full 4 x 3 x 2 product here (24 models) built and compiled each
# padding and return_sequences pair four times.
BIDIRECTIONAL_CASES = [
    # (merge_mode, padding, return_sequences)
    ("concat", "", False),
    ("concat", "-post", True),
    ("concat", "-pre", False),
    ("sum", "", True),
    ("sum", "-post", False),
    ("sum", "-pre", True),
    ("mul", "", False),
    ("mul", "-post", True),
    ("mul", "-pre", True),
    ("ave", "", True),
    ("ave", "-post", False),
    ("ave", "-pre", False),
]


CASES = forward_cases()


def test_the_bidirectional_cases_cover_every_padding_and_merge_mode():
    pairs = [(padding, rs) for _, padding, rs in BIDIRECTIONAL_CASES]
    assert all(pairs.count(pair) == 2 for pair in itertools.product(("", "-post", "-pre"), (False, True)))
    for mode in ("concat", "sum", "mul", "ave"):
        kept = [(padding, rs) for m, padding, rs in BIDIRECTIONAL_CASES if m == mode]
        assert {p for p, _ in kept} == {"", "-post", "-pre"} and {rs for _, rs in kept} == {False, True}, mode


def keras_forward(model, x):
    """The model's inference outputs: a call with training=False, as `predict` computes
    them without its per-model predict function and data adapter (a compile per case)."""
    return np.asarray(model(x, training=False))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matches_keras(name):
    model, x = CASES[name]
    randomize(model)
    converted = fl.from_keras(model)
    expected = keras_forward(model, x)
    got = converted.predict(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=FWD_ATOL, rtol=0)


def test_forward_parity_detects_a_wrong_weight():
    """Negative control: the same comparison fails when one weight is off by 1e-3."""
    model, x = CASES["bidirectional-concat-post-sequences"]
    randomize(model)
    converted = fl.from_keras(model)
    converted.params["bidirectional_1"]["backward"]["bias"] = (
        converted.params["bidirectional_1"]["backward"]["bias"] + 1e-3
    )
    assert np.abs(converted.predict(x) - keras_forward(model, x)).max() > FWD_ATOL


@pytest.mark.slow
def test_round_trip_and_save_keras(tmp_path):
    model, x = CASES["embedding-mask-zero"]
    randomize(model, 3)
    back = fl.from_keras(model).to_keras()
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)

    y = np.random.default_rng(0).integers(0, 3, len(x))
    result = fl.sweep(x, y, model=model, init="keras_weights", seeds=2, epochs=1, batch_size=4, verbose=0)
    path = result.save_keras(tmp_path / "m.keras", member=1)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), result.predict(x)[1], atol=FWD_ATOL)
    np.testing.assert_allclose(result.to_keras(member=0).predict(x, verbose=0), result.predict(x)[0], atol=FWD_ATOL)


@pytest.mark.slow
def test_shorthand_result_to_keras():
    x = float_input(8)
    y = (x[:, -1, 0] > 0).astype(int)
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4, layers=2), seeds=1, epochs=1, verbose=0)
    np.testing.assert_allclose(result.to_keras().predict(x, verbose=0), result.predict(x)[0], atol=FWD_ATOL)


# --------------------------------------------------------------------------- training


def fit_both(model, x, y, loss, batch_size=8, lr=0.01):
    """One epoch of Keras fit (shuffle=False) and of a fastlstm member from the same weights."""
    randomize(model, 5)
    for w in model.weights:  # keep the weights small: the comparison is about the update rules
        w.assign(np.asarray(w) * 0.3)
    start = fl.from_keras(model)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
    history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    result = fl.sweep(
        x,
        y,
        model=start.spec,
        initial_params=start.params,
        seeds=1,
        epochs=1,
        batch_size=batch_size,
        shuffle=False,
        learning_rate=lr,
        loss=loss,
        verbose=0,
    )
    trained = fl.from_keras(model).params
    got = result.member_params(0)
    diffs = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max()), trained, got)
    return history.history["loss"][0], float(result.history["loss"][0, 0]), max(jax.tree.leaves(diffs))


@pytest.mark.slow
def test_fit_parity_embedding_bidirectional():
    ids = tokens(n=20, t=6, seed=4)
    y = np.random.default_rng(1).integers(0, 3, len(ids))
    model = seq(
        L.Embedding(11, 4, mask_zero=True),
        L.Bidirectional(L.LSTM(3)),
        L.Dense(3, activation="softmax"),
        input_shape=(6,),
        dtype="int32",
    )
    keras_loss, fl_loss, weight_diff = fit_both(model, ids, y, "sparse_categorical_crossentropy")
    assert abs(keras_loss - fl_loss) < 1e-4
    assert weight_diff < 1e-4


@pytest.mark.slow
def test_fit_parity_per_timestep_targets_with_masks():
    x = padded(float_input(20, 6, 2, seed=6), [6, 2, 4, 6, 3] * 4, pre=False)
    y = np.random.default_rng(2).integers(0, 2, (20, 6))
    model = seq(L.Masking(0.0), L.LSTM(4, return_sequences=True), L.Dense(2, activation="softmax"), input_shape=(6, 2))
    keras_loss, fl_loss, weight_diff = fit_both(model, x, y, "sparse_categorical_crossentropy", batch_size=6)
    assert abs(keras_loss - fl_loss) < 1e-4
    assert weight_diff < 1e-4


@pytest.mark.slow
def test_fit_parity_l2_regularizers():
    x = float_input(16, 5, 3, seed=7)
    y = np.random.default_rng(3).normal(size=(16, 1)).astype(np.float32)
    reg = keras.regularizers.L2(0.05)
    model = seq(
        L.LSTM(4, kernel_regularizer=reg, recurrent_regularizer=keras.regularizers.L1(0.02), bias_regularizer=reg),
        L.Dense(3, activation="relu", kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02)),
        L.Dense(1),
        input_shape=(5, 3),
    )
    keras_loss, fl_loss, weight_diff = fit_both(model, x, y, "mse")
    assert abs(keras_loss - fl_loss) < 1e-4
    assert weight_diff < 1e-4


# --------------------------------------------------------------------------- dropout and init


@pytest.mark.slow
def test_dropout_masks_follow_keras_rules():
    """Shared input mask without recurrent_dropout; four independent per-gate masks for the
    inputs and four for h with it; values 0 or 1/(1-rate) at the keep rate."""
    spec = LSTM(8, dropout=0.3, recurrent_dropout=0.2)
    hp = {"layers.0.dropout": jnp.float32(0.3), "layers.0.recurrent_dropout": jnp.float32(0.2)}
    key = jax.random.PRNGKey(0)
    live = frozenset({"layers.0.dropout", "layers.0.recurrent_dropout"})
    in_mask, rec_mask = dropout_masks(key, spec, hp, "layers.0.", live, 2000, 8)
    assert in_mask.shape == (4, 2000, 8) and rec_mask.shape == (4, 2000, 8)
    for mask, rate in ((in_mask, 0.3), (rec_mask, 0.2)):
        values = np.unique(np.asarray(mask))
        np.testing.assert_allclose(values, [0.0, 1 / (1 - rate)], rtol=1e-6)
        kept = float(np.mean(np.asarray(mask) > 0))
        assert abs(kept - (1 - rate)) < 0.01
        gates = np.asarray(mask > 0).reshape(4, -1).astype(float)
        assert np.abs(np.corrcoef(gates) - np.eye(4)).max() < 0.03  # independent per gate
    shared, _ = dropout_masks(
        key, spec, {**hp, "layers.0.recurrent_dropout": jnp.float32(0.0)}, "layers.0.", live, 50, 8
    )
    assert np.array_equal(np.asarray(shared[0]), np.asarray(shared[3]))  # one mask shared by the gates
    alone, rec = dropout_masks(key, spec, hp, "layers.0.", frozenset({"layers.0.dropout"}), 50, 8)
    assert alone.shape == (50, 8) and rec is None


@pytest.mark.slow
def test_dropout_mask_is_reused_over_time():
    """A unit dropped at one step is dropped at every step: with input dropout on an
    LSTM whose input is one feature, the output does not depend on that feature at all."""
    arch = (fl.layers.LSTM(3, return_sequences=True, dropout=0.5),)
    model = SequentialModel(arch, 1, live=frozenset({"layers.0.dropout"}))
    x = jnp.asarray(float_input(256, 6, 1))
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    hp = {"layers.0.dropout": jnp.float32(0.5)}
    rngs = {"dropout": jax.random.PRNGKey(3)}
    out = model.apply({"params": params}, x, None, hp, rngs=rngs)
    moved = model.apply({"params": params}, x + 1.0, None, hp, rngs=rngs)
    changed = np.asarray(jnp.any(jnp.abs(out - moved) > 1e-6, axis=(1, 2)))
    assert 0.35 < changed.mean() < 0.65  # about half the rows keep the feature...
    zero_input = model.apply({"params": params}, jnp.zeros_like(x), None)
    dropped = ~changed
    np.testing.assert_allclose(np.asarray(out)[dropped], np.asarray(zero_input)[dropped], atol=1e-6)  # ...at every step


@pytest.mark.slow
def test_init_statistics_as_keras():
    arch = (
        fl.layers.Embedding(50, 8),
        fl.layers.LSTM(8, return_sequences=True),
        fl.layers.Bidirectional(fl.layers.LSTM(6)),
    )
    model = SequentialModel(arch, 2)
    params = model.init(jax.random.PRNGKey(0), jnp.ones((2, 4, 1)))["params"]
    table = np.asarray(params["embedding_0"]["embeddings"])
    assert table.min() >= -0.05 and table.max() <= 0.05 and table.std() > 0.025
    lstm = params["lstm_1"]
    limit = np.sqrt(6 / (8 + 32))
    assert np.abs(np.asarray(lstm["kernel"])).max() <= limit
    r = np.asarray(lstm["recurrent_kernel"])
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-5)  # orthogonal (u, 4u): orthonormal rows
    np.testing.assert_array_equal(np.asarray(lstm["bias"]), np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    fwd, bwd = params["bidirectional_2"]["forward"], params["bidirectional_2"]["backward"]
    assert not np.allclose(np.asarray(fwd["kernel"]), np.asarray(bwd["kernel"]))  # two independent draws


@pytest.mark.slow
def test_to_keras_carries_the_members_own_options():
    x = float_input(8)
    y = (x[:, -1, 0] > 0).astype(int)
    model = fl.ModelSpec(layers=[fl.layers.LSTM(4, dropout=0.1, kernel_regularizer="l2"), fl.layers.Dropout(0.2)])
    grid = {"layers.0.dropout": [0.1, 0.3], "layers.0.kernel_regularizer.l2": [0.0, 1e-3]}
    result = fl.sweep(x, y, model=model, grid=grid, seeds=1, epochs=1, verbose=0)
    last = result.to_keras(member=3)
    lstm = next(layer for layer in last.layers if type(layer).__name__ == "LSTM")
    assert lstm.dropout == 0.3 and float(lstm.kernel_regularizer.l2) == pytest.approx(1e-3)
    assert [layer.rate for layer in last.layers if type(layer).__name__ == "Dropout"] == [0.2]


def test_functional_chain_converts():
    inputs = keras.Input((7, 3))
    h = L.Masking(0.0)(inputs)
    h = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="ave")(h)
    outputs = L.Dense(2, activation="softmax")(L.LSTM(3)(h))
    model = randomize(keras.Model(inputs, outputs))
    x = padded(float_input(), [7, 3, 5, 1, 6, 7], pre=False)
    np.testing.assert_allclose(fl.from_keras(model).predict(x), keras_forward(model, x), atol=FWD_ATOL)


@pytest.mark.slow
@pytest.mark.parametrize(
    "layer, message",
    [
        (L.GRU(3), "type GRU is not supported"),
        (L.LSTM(3, unroll=True), "option unroll=True is not supported"),
        (L.LSTM(3, activation="relu"), "option activation='relu' is not supported"),
        (L.LSTM(3, kernel_constraint=keras.constraints.MaxNorm(2)), "option kernel_constraint="),
        (L.LSTM(3, activity_regularizer="l2"), "option activity_regularizer="),
    ],
)
def test_unsupported_keras_layers_and_options_are_named(layer, message):
    model = seq(layer, L.Dense(2))
    with pytest.raises(ValueError) as err:
        fl.from_keras(model)
    assert message in str(err.value) and layer.name in str(err.value)
