"""Keras models of shapes the other Keras tests do not use: each is either converted and
trained with Keras's numbers, or refused by a `ValueError` that names the Keras layer
(its name and class) and what fastlstm takes instead - before anything compiles."""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.cli import main

L = keras.layers
T, F, N = 5, 3, 16


def seq(*layers, shape=(T, F), dtype="float32", name=None):
    return keras.Sequential([keras.Input(shape, dtype=dtype), *layers], name=name)


def under_policy(policy, build):
    keras.mixed_precision.set_global_policy(policy)
    try:
        return build()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def tokens(n=N):
    ids = np.random.default_rng(2).integers(1, 9, (n, T))
    ids[2, 3:] = 0
    return ids


# name -> (builder, texts the message must hold)
REFUSED = {
    "unbuilt-sequential": (
        lambda: keras.Sequential([L.LSTM(4), L.Dense(3, activation="softmax")], name="unbuilt"),
        ("'unbuilt'", "not built", "keras.Input"),
    ),
    "unbuilt-embedding-first": (
        lambda: keras.Sequential([L.Embedding(9, 3, mask_zero=True), L.LSTM(4), L.Dense(1)], name="unbuilt"),
        ("'unbuilt'", "not built", "model.build"),
    ),
    "bidirectional-backward-layer-other-units": (
        lambda: seq(L.Bidirectional(L.LSTM(4), backward_layer=L.LSTM(3, go_backwards=True), name="bi"), L.Dense(1)),
        ("'bi' (Bidirectional)", "backward_layer.units=3", "units=4"),
    ),
    "bidirectional-backward-layer-other-dropout": (
        lambda: seq(
            L.Bidirectional(L.LSTM(4), backward_layer=L.LSTM(4, go_backwards=True, dropout=0.3), name="bi"),
            L.Dense(1),
        ),
        ("'bi' (Bidirectional)", "backward_layer.dropout=0.3"),
    ),
    "bidirectional-backward-layer-relu": (
        lambda: seq(
            L.Bidirectional(L.LSTM(4), backward_layer=L.LSTM(4, go_backwards=True, activation="relu", name="back")),
            L.Dense(1),
        ),
        ("'back' (LSTM)", "activation='relu'"),
    ),
    "mixed-float16-policy": (
        lambda: under_policy("mixed_float16", lambda: seq(L.LSTM(4, name="half"), L.Dense(3, activation="softmax"))),
        ("'half' (LSTM)", "dtype='mixed_float16'", "float32"),
    ),
    "mixed-bfloat16-policy": (
        lambda: under_policy("mixed_bfloat16", lambda: seq(L.LSTM(4, name="half"), L.Dense(1))),
        ("'half' (LSTM)", "dtype='mixed_bfloat16'"),
    ),
    "float16-input": (
        lambda: seq(L.LSTM(4), L.Dense(1), dtype="float16", name="halfin"),
        ("'halfin'", "float16 Input", "float32"),
    ),
    "int-input-without-embedding": (
        lambda: seq(L.LSTM(4, name="rnn"), L.Dense(1), dtype="int32", name="ints"),
        ("'ints'", "Input dtype int32", "'rnn' (LSTM)", "Embedding"),
    ),
    "masking-after-embedding": (
        lambda: seq(L.Embedding(9, 3), L.Masking(0.0, name="late"), L.LSTM(4), L.Dense(1), shape=(T,), dtype="int32"),
        ("'late' (Masking)", "must be the first layer"),
    ),
    "dense-custom-function-activation": (
        lambda: seq(L.LSTM(4), L.Dense(3, activation=lambda t: 2 * t, name="custom"), L.Dense(1)),
        ("'custom' (Dense)", "custom function", "relu"),
    ),
    "dense-leaky-relu": (
        lambda: seq(L.LSTM(4), L.Dense(3, activation="leaky_relu", name="leaky"), L.Dense(1)),
        ("'leaky' (Dense)", "leaky_relu", "relu"),
    ),
    "head-regularizer-named-by-class": (
        lambda: seq(L.LSTM(4), L.Dense(1, kernel_regularizer="l2", name="head")),
        ("'head' (Dense)", "kernel_regularizer (of the head)='L2'"),
    ),
    "activation-layer-after-head": (
        lambda: seq(L.LSTM(4), L.Dense(3), L.Activation("softmax", name="act")),
        ("'act' (Activation)", "activation='softmax'"),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_by_name(name):
    build, expected = REFUSED[name]
    model = build()
    with pytest.raises(ValueError) as info:
        fl.from_keras(model)
    message = str(info.value)
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    assert "object at 0x" not in message and len(message) < 400, message


# name -> (builder, the initializer named in the refusal)
CUSTOM_INIT = {
    "lstm-he-normal": (lambda: seq(L.LSTM(4, kernel_initializer="he_normal", name="rnn"), L.Dense(1)), "HeNormal"),
    "lstm-orthogonal-gain": (
        lambda: seq(L.LSTM(4, recurrent_initializer=keras.initializers.Orthogonal(gain=3.0), name="rnn"), L.Dense(1)),
        "'gain': 3.0",
    ),
    "lstm-ones-bias": (lambda: seq(L.LSTM(4, bias_initializer="ones", name="rnn"), L.Dense(1)), "Ones"),
    "dense-zeros": (lambda: seq(L.LSTM(4), L.Dense(1, kernel_initializer="zeros", name="rnn")), "Zeros"),
    "embedding-normal": (
        lambda: seq(
            L.Embedding(9, 3, embeddings_initializer="random_normal", name="rnn"),
            L.LSTM(4),
            L.Dense(1),
            shape=(T,),
            dtype="int32",
        ),
        "RandomNormal",
    ),
    "bidirectional-glorot-recurrent": (
        lambda: seq(L.Bidirectional(L.LSTM(4, recurrent_initializer="glorot_uniform"), name="rnn"), L.Dense(1)),
        "GlorotUniform",
    ),
}


@pytest.mark.parametrize("name", sorted(CUSTOM_INIT))
def test_custom_initializers_need_keras_weights(name):
    """Initializers other than Keras's defaults: converted (the weights are what they made),
    but a fresh init per seed - which draws the defaults - is refused by name."""
    build, shown = CUSTOM_INIT[name]
    model = build()
    converted = fl.from_keras(model)
    assert converted.custom_initializers
    x = tokens() if converted.spec.embedding is not None else np.zeros((N, T, F), np.float32)
    with pytest.raises(ValueError, match="init='keras_weights'") as info:
        fl.sweep(x, np.zeros(N, np.float32), model=model, seeds=1, epochs=1, verbose=0)
    assert "'rnn" in str(info.value) and shown in str(info.value)


def test_default_initializers_with_seeds_are_not_custom():
    model = seq(
        L.LSTM(4, kernel_initializer=keras.initializers.GlorotUniform(seed=3), return_sequences=True),
        L.Bidirectional(L.LSTM(3)),
        L.Dense(2, activation="tanh"),
        L.Dense(1),
    )
    assert fl.from_keras(model).custom_initializers == ()


# --------------------------------------------------------------------------- training parity


def randomize(model, seed=5):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.15, w.shape).astype(np.float32) for w in model.get_weights()])


def functional_chain():
    inputs = keras.Input((None, F))
    h = L.LSTM(4, return_sequences=True)(inputs)
    h = L.LSTM(3)(h)
    return keras.Model(inputs, L.Dense(3, activation="softmax")(h))


PARITY = {
    # refused before: any non-default LSTM initializer, even when starting from the weights
    "lstm-he-normal-from-weights": (
        lambda: seq(
            L.LSTM(4, kernel_initializer="he_normal", unit_forget_bias=False), L.Dense(3, activation="softmax")
        ),
        "sparse_categorical_crossentropy",
    ),
    "bidirectional-same-backward-layer": (
        lambda: seq(
            L.Bidirectional(L.LSTM(4), backward_layer=L.LSTM(4, go_backwards=True), merge_mode="ave"),
            L.Dense(1),
        ),
        "mse",
    ),
    "functional-stacked-variable-length": (functional_chain, "sparse_categorical_crossentropy"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARITY))
def test_one_epoch_matches_keras_fit(name):
    build, loss = PARITY[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    y = rng.integers(0, 3, N) if loss.startswith("sparse") else rng.normal(size=(N, 1)).astype(np.float32)
    model = build()
    randomize(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    with pytest.warns(UserWarning, match=r"not its compile\(\) settings \(optimizer Adam \(learning_rate 0.01\)"):
        result = fl.sweep(
            x,
            y,
            model=model,
            init="keras_weights",
            seeds=2,
            epochs=1,
            batch_size=8,
            shuffle=False,
            learning_rate=1e-2,
            loss=loss,
            verbose=0,
        )
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(result.history["loss"][:, 0], history.history["loss"][0], atol=1e-5)
    trained = result.to_keras(member=1)
    np.testing.assert_allclose(trained.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


# --------------------------------------------------------------------------- command line


@pytest.mark.slow
def test_cli_custom_initializers_need_keras_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = seq(L.LSTM(4, kernel_initializer="he_normal", name="rnn"), L.Dense(1, activation="sigmoid"))
    model.save("m.keras")
    rng = np.random.default_rng(1)
    np.savez("d.npz", x=rng.normal(size=(N, T, F)).astype(np.float32), y=rng.integers(0, 2, N))
    args = ["sweep", "--keras-model", "m.keras", "--data", "d.npz", "--seeds", "1", "--epochs", "1", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'rnn' (LSTM)" in err and "--keras-weights" in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    # a fresh process with no KERAS_BACKEND and Keras's default keras.json (TensorFlow, not installed)
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text('{"backend": "tensorflow"}')
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(KERAS_HOME=str(keras_home), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run(
        [sys.executable, "-m", "fastlstm.cli", *args, "--keras-weights", "--out", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "config.toml").is_file()


# --------------------------------------------------------------------------- the Input's shape (issue 25 item 8)


def test_the_input_shape_is_kept_and_checked_before_anything_compiles(monkeypatch):

    any_length = seq(L.LSTM(4), L.Dense(1, activation="sigmoid"), shape=(None, 6))
    fixed = seq(L.LSTM(4), L.Dense(1, activation="sigmoid"), shape=(T, 6))
    assert (fl.from_keras(any_length).spec.input_timesteps, fl.from_keras(any_length).spec.input_features) == (None, 6)
    spec = fl.SweepSpec(model=fl.from_keras(fixed).spec)
    assert fl.SweepSpec.from_toml(spec.to_toml()).model.input_features == 6  # kept in config.toml (resume)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, N)
    patch_train(monkeypatch, lambda *a, **k: pytest.fail("trained on data the model does not take"))
    cases = [
        (
            any_length,
            (N, T, 12),
            r"x has shape \(samples, 5, 12\) but the model's Input shape is \(None, None, 6\): 12 ",
        ),
        (fixed, (N, T, 12), r"Input shape is \(None, 5, 6\): 12 features per step where the model takes 6"),
        (fixed, (N, T + 2, 6), r"Input shape is \(None, 5, 6\): 7 timesteps where the model takes 5"),
    ]
    for model, shape, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            fl.sweep(rng.normal(size=shape).astype(np.float32), y, model=model, seeds=1, epochs=1, verbose=0)
        assert "\n" not in str(info.value) and "keras.Input(shape=" in str(info.value)


def test_cli_keras_model_refuses_data_of_another_width(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    seq(L.LSTM(4), L.Dense(1, activation="sigmoid"), shape=(T, 6)).save("m.keras")
    rng = np.random.default_rng(1)
    np.savez("d.npz", x=rng.normal(size=(N, T, 12)).astype(np.float32), y=rng.integers(0, 2, N))
    args = ["sweep", "--keras-model", "m.keras", "--data", "d.npz", "--seeds", "1", "--epochs", "1", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "d.npz: x has shape (samples, 5, 12)" in err and "(None, 5, 6)" in err, err
