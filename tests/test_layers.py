"""ModelSpec as a list of layers: config round trips (dict and TOML), per-layer grid keys,
per-timestep targets, token-id and shape errors, and the shorthand left unchanged."""

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.layers import layer_from_config

L = fl.layers

TAGGER = [
    {"type": "Embedding", "input_dim": 12, "output_dim": 4, "mask_zero": True},
    {"type": "Bidirectional", "layer": {"type": "LSTM", "units": 3, "return_sequences": True}, "merge_mode": "sum"},
    {"type": "Dropout", "rate": 0.1},
    {"type": "Dense", "units": 4, "activation": "relu"},
]


def token_data(n=24, t=5, vocab=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, (n, t))
    ids[::3, 3:] = 0
    return ids, ids % 3


def test_layer_configs_round_trip_through_dict_and_toml():
    spec = fl.SweepSpec(
        model=fl.ModelSpec(
            layers=[
                L.Masking(-1.0),
                L.LSTM(5, return_sequences=True, recurrent_dropout=0.2, kernel_regularizer="l2"),
                L.Bidirectional(L.LSTM(3, bias_regularizer={"type": "L1L2", "l1": 0.1})),
                L.Dense(2, activation="tanh"),
            ]
        ),
        grid={"layers.1.recurrent_dropout": [0.0, 0.3], "layers.1.kernel_regularizer.l2": [0.0, 1e-3]},
        seeds=1,
    )
    again = fl.SweepSpec.from_toml(spec.to_toml())
    assert again == spec
    assert again.model.mask_value == -1.0  # the Masking layer sets it
    assert "[[model.layers]]" in spec.to_toml()
    layer = again.model.layers[2]
    assert layer_from_config(layer.get_config()) == layer


def test_toml_layer_tables():
    text = """
    seeds = 2
    [model]
    [[model.layers]]
    type = "LSTM"
    units = 6
    return_sequences = true
    [[model.layers]]
    type = "LSTM"
    units = 3
    dropout = 0.1
    [grid]
    "layers.1.dropout" = [0.0, 0.2]
    """
    spec = fl.SweepSpec.from_toml(text)
    plan = spec.plan()
    assert [m.hparams["layers.1.dropout"] for m in plan.members] == [0.0, 0.0, 0.2, 0.2]
    assert spec.model.plan_shape() == (6, 2)


@pytest.mark.parametrize(
    "layers, message",
    [
        ([{"type": "LSTM", "units": 3, "stateful": True}], "layers[0] LSTM: option 'stateful' is not supported"),
        ([{"type": "LSTM", "units": 3, "return_state": True}], "option 'return_state'"),
        ([{"type": "LSTM", "units": 3, "unroll": True}], "option 'unroll'"),
        ([{"type": "LSTM", "units": 3, "kernel_constraint": "max_norm"}], "option 'kernel_constraint'"),
        ([{"type": "LSTM", "units": 3, "activity_regularizer": "l2"}], "option 'activity_regularizer'"),
        ([{"type": "GRU", "units": 3}], "layers[0] GRU: layer type 'GRU' is not supported"),
        ([{"type": "Dense", "units": 3}], "at least one LSTM"),
        ([{"type": "LSTM", "units": 3}, {"type": "LSTM", "units": 3}], "set return_sequences=True on layers[0]"),
        ([{"type": "LSTM", "units": 3}, {"type": "Masking"}], "layers[1] Masking: must be the first layer"),
        ([{"type": "LSTM", "units": 3, "dropout": 1.0}], "layers[0] LSTM: dropout must be a number in [0.0, 1.0)"),
    ],
)
def test_unsupported_options_and_bad_stacks_are_named(layers, message):
    with pytest.raises(ValueError) as err:
        fl.ModelSpec(layers=layers)
    assert message in str(err.value)


def test_grid_keys_for_layers_are_checked():
    model = fl.ModelSpec(layers=[L.LSTM(3, dropout=0.1)])
    with pytest.raises(ValueError, match=r"layers\.0\.rate"):
        fl.SweepSpec(model=model, grid={"layers.0.rate": [0.1]})
    with pytest.raises(ValueError, match="shorthand"):
        fl.SweepSpec(model=model, grid={"units": [4, 8]})
    with pytest.raises(ValueError, match=r"layers.0.dropout must be in \[0, 1\)"):
        fl.SweepSpec(model=model, grid={"layers.0.dropout": [0.5, 1.5]})


@pytest.mark.slow
def test_sequence_tagger_sweeps_with_vmapped_layer_options():
    x, y = token_data()
    result = fl.sweep(
        x,
        y,
        model=fl.ModelSpec(layers=TAGGER),
        seeds=2,
        grid={"layers.2.rate": [0.0, 0.4]},
        epochs=2,
        batch_size=8,
        validation_split=0.25,
        verbose=0,
    )
    assert result.meta["sequence_output"] and result.meta["inferred"]["per_timestep"]
    assert [m["layers.2.rate"] for m in result.members] == [0.0, 0.0, 0.4, 0.4]
    assert np.all(np.isfinite(result.history["val_loss"]))
    predictions = result.predict(x[:4])
    assert predictions.shape == (4, 4, 5, 3)
    np.testing.assert_allclose(predictions.sum(-1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_masked_steps_do_not_count():
    """Changing the targets at masked steps changes nothing; at a valid step it does."""
    x, y = token_data()
    kwargs = dict(model=fl.ModelSpec(layers=TAGGER[:2]), seeds=1, epochs=1, verbose=0, shuffle=False)
    base = fl.sweep(x, y, **kwargs).history["loss"]
    y_masked = y.copy()
    y_masked[x == 0] = 2
    np.testing.assert_array_equal(fl.sweep(x, y_masked, **kwargs).history["loss"], base)
    y_valid = y.copy()
    y_valid[0, 0] = (y[0, 0] + 1) % 3
    assert not np.array_equal(fl.sweep(x, y_valid, **kwargs).history["loss"], base)


@pytest.mark.slow
def test_regularizer_adds_to_the_loss():
    x = np.random.default_rng(0).normal(size=(16, 4, 2)).astype(np.float32)
    y = x[:, -1, :1]
    kwargs = dict(seeds=1, epochs=1, verbose=0, learning_rate=1e-12)
    plain = fl.sweep(x, y, model=fl.ModelSpec(layers=[L.LSTM(3)]), **kwargs)
    penalized = fl.sweep(x, y, model=fl.ModelSpec(layers=[L.LSTM(3, recurrent_regularizer="l2")]), **kwargs)
    r = np.asarray(plain.member_params(0)["lstm_0"]["recurrent_kernel"])
    expected = plain.history["loss"][0, 0] + 0.01 * np.sum(r**2)
    np.testing.assert_allclose(penalized.history["loss"][0, 0], expected, rtol=1e-5)


@pytest.mark.slow
def test_shorthand_is_bit_identical_to_its_layer_list():
    x = np.random.default_rng(1).normal(size=(20, 5, 2)).astype(np.float32)
    y = (x[:, -1, 0] > 0).astype(int)
    kwargs = dict(seeds=2, epochs=2, verbose=0, batch_size=8)
    short = fl.sweep(x, y, model=fl.ModelSpec(units=4, layers=2), **kwargs)
    listed = fl.sweep(x, y, model=fl.ModelSpec(layers=[L.LSTM(4, return_sequences=True), L.LSTM(4)]), **kwargs)
    np.testing.assert_allclose(short.history["loss"], listed.history["loss"], rtol=1e-6)
    assert short.meta.get("architecture") is None


def test_per_timestep_targets_errors():
    x, y = token_data()
    model = fl.ModelSpec(layers=TAGGER[:2])
    with pytest.raises(ValueError, match=r"y has shape \(24,\).*per-timestep targets \(24, 5\)"):
        fl.sweep(x, y[:, 0], model=model, verbose=0)
    ragged_x = [np.arange(1, n + 1) for n in (3, 5, 2)]
    ragged_y = [np.zeros(3), np.zeros(4), np.zeros(2)]
    with pytest.raises(ValueError, match=r"y\[1\] has 4 timesteps but x\[1\] has 5"):
        fl.sweep(ragged_x, ragged_y, model=model, verbose=0)


@pytest.mark.slow
def test_ragged_tokens_with_ragged_step_targets_train():
    """Token i's target is its parity: learnt to every step, and the loss is the mean over
    the 14 real steps only (padding to 5 would add 6 more)."""
    model = fl.ModelSpec(layers=TAGGER[:2])
    lengths = (3, 5, 2, 4)
    ragged_x = [np.arange(1, n + 1) for n in lengths]
    ragged_y = [np.arange(n) % 2 for n in lengths]
    kw = dict(model=model, seeds=1, epochs=12, grid={"learning_rate": [0.05]}, verbose=0)
    result = fl.sweep(ragged_x, ragged_y, validation_data=(ragged_x, ragged_y), **kw)
    history = {k: v[0] for k, v in result.history.items()}
    assert history["loss"][-1] < history["loss"][0] / 2 and history["val_accuracy"][-1] == 1.0
    p = result.predict(ragged_x)[0, :, :, 0]
    real = np.concatenate([p[i, :n] for i, n in enumerate(lengths)])
    y = np.concatenate(ragged_y)
    bce = -np.mean(y * np.log(real) + (1 - y) * np.log(1 - real))
    np.testing.assert_allclose(history["val_loss"][-1], bce, rtol=1e-5)


@pytest.mark.parametrize("bad, where", [(12, "(0, 1)"), (-1, "(0, 1)"), (2.5, "(0, 1)")])
def test_token_ids_out_of_range_fail_before_compile(bad, where):
    x, y = token_data()
    x = x.astype(float)
    x[0, 1] = bad
    with pytest.raises(ValueError, match=r"token id .* at \(0, 1\) is not a whole number in \[0, 12\)"):
        fl.sweep(x, y, model=fl.ModelSpec(layers=TAGGER), verbose=0)


def test_keras_missing_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_keras(name, *args, **kwargs):
        if name == "keras" or name.startswith("keras."):
            raise ImportError("No module named 'keras'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_keras)
    with pytest.raises(ImportError, match=r"pip install 'fastlstm\[keras\]'"):
        fl.from_keras(object())


@pytest.mark.slow
def test_cli_sweep_keras_model(tmp_path):
    import os
    import subprocess
    import sys

    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(12, 4, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(3)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(tmp_path / "m.keras")
    x, _ = token_data(n=16)
    np.savez(tmp_path / "d.npz", x=x, y=x[:, 0] % 3)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": os.getcwd()}
    args = ["--keras-model", "m.keras", "--keras-weights", "--data", "d.npz", "--seeds", "1", "--epochs", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "fastlstm.cli", "sweep", *args, "--quiet", "--out", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = fl.load(tmp_path / "run")
    np.testing.assert_allclose(
        result.to_keras(0).predict(x, verbose=0), result.predict(x)[0], atol=1e-5
    )  # the run folder keeps the architecture
    missing = subprocess.run(
        [sys.executable, "-m", "fastlstm.cli", "sweep", "--keras-model", "nope.keras", "--data", "d.npz"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "--keras-model: no file 'nope.keras'" in missing.stderr
