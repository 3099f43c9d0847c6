"""The model fastlstm gives comes back in (issue 30 items 1 and 2).

A sweep with `standardize` exports a leading Keras `Normalization`; `fl.from_keras` and
`fastlstm sweep --keras-model` read it as the model's fixed input scaling
(`ModelSpec.normalization`), so save_keras -> --keras-model -> to_keras predicts the same.
And a model is judged the same whichever door it comes through: a keras.Model, its
converted spec, or a config file holding that spec.
"""

import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.cli import main

L = keras.layers
FWD_ATOL = 1e-5


def _raw_data(n=40, classes=2):
    """Features far from zero mean / unit scale: without the scaling predictions are far off."""
    x, y = make_data(n=n, timesteps=5, features=3, classes=classes)
    return x * np.array([5.0, 0.5, 20.0], np.float32) + np.array([3.0, -1.0, 50.0], np.float32), y


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """saved(method): a sweep with standardize=method, its save_keras file and that file
    loaded, made once for the module (the CLI round trip reuses the "feature" one)."""
    made = {}

    def make(method):
        if method not in made:
            x, y = _raw_data()
            result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=2, standardize=method, verbose=0)
            path = result.save_keras(tmp_path_factory.mktemp(method) / "m.keras")
            made[method] = (x, y, result, path, keras.saving.load_model(path, compile=False))
        return made[method]

    return make


@pytest.mark.slow
@pytest.mark.parametrize("method", ["feature", "global", "min_max"])
def test_a_saved_standardized_model_converts_with_its_normalization(saved, method):
    x, _, result, _, loaded = saved(method)
    converted = fl.from_keras(loaded)
    assert not any(type(layer).__name__ == "Normalization" for layer in converted.spec.layer_list)
    shift, scale = ("min", "range") if method == "min_max" else ("mean", "std")
    doc = result.preprocessing
    np.testing.assert_allclose(converted.spec.normalization["mean"], np.broadcast_to(doc[shift], 3), rtol=1e-6)
    np.testing.assert_allclose(converted.spec.normalization["std"], np.broadcast_to(doc[scale], 3), rtol=1e-6)
    expected = result.predict(x)[0]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=FWD_ATOL)
    np.testing.assert_allclose(converted.predict(x), expected, atol=FWD_ATOL)
    np.testing.assert_allclose(converted.to_keras().predict(x, verbose=0), expected, atol=FWD_ATOL)


@pytest.mark.slow
def test_a_target_scaled_regression_round_trips_too(tmp_path):
    """standardize_target is folded into the head by to_keras: it comes back as plain weights."""
    x, _ = _raw_data()
    y = (x[:, -1, 2] * 40.0 + 900.0).astype(np.float32)
    result = fl.sweep(
        x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=2, standardize="feature", standardize_target=True, verbose=0
    )
    loaded = keras.saving.load_model(result.save_keras(tmp_path / "r.keras"), compile=False)
    converted = fl.from_keras(loaded)
    np.testing.assert_allclose(converted.predict(x), result.predict(x)[0], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(converted.to_keras().predict(x, verbose=0), result.predict(x)[0], rtol=1e-5, atol=1e-3)


@pytest.mark.slow
def test_cli_keras_model_round_trip_gives_the_same_predictions(saved, tmp_path, monkeypatch):
    """save_keras -> --keras-model --keras-weights (learning rate 1e-30: the weights stay) ->
    to_keras: the model's own scaling is applied as it is, not refitted on this data."""
    monkeypatch.chdir(tmp_path)
    x, y, result, path, _ = saved("feature")
    shutil.copy(path, "m.keras")
    other = x[:30] * 2.0  # refitting on other rows would give other numbers
    np.savez("d.npz", x=other, y=y[:30])
    args = ["sweep", "--keras-model", "m.keras", "--keras-weights", "--data", "d.npz", "--seeds", "1"]
    assert main([*args, "--epochs", "1", "--learning-rate", "1e-30", "--quiet", "--out", "run"]) == 0
    back = fl.load(tmp_path / "run")
    assert back.preprocessing["mean"] == pytest.approx(result.preprocessing["mean"], rel=1e-6)
    assert sum(isinstance(layer, L.Normalization) for layer in back.to_keras().layers) == 1
    np.testing.assert_allclose(back.to_keras().predict(x, verbose=0), result.predict(x)[0], atol=FWD_ATOL)
    np.testing.assert_allclose(back.predict(x)[0], result.predict(x)[0], atol=FWD_ATOL)


@pytest.mark.slow
def test_a_masked_model_keeps_masking_before_its_normalization(tmp_path):
    x, y = _raw_data()
    x[:10, 3:] = 0.0
    result = fl.sweep(
        x, y, model=fl.ModelSpec(units=4, mask_value=0.0), seeds=1, epochs=1, standardize="feature", verbose=0
    )
    converted = fl.from_keras(result.to_keras())
    assert converted.spec.mask_value == 0.0 and converted.spec.normalization is not None
    np.testing.assert_allclose(converted.predict(x), result.predict(x)[0], atol=FWD_ATOL)
    rebuilt = converted.to_keras()
    assert [type(layer).__name__ for layer in rebuilt.layers[1:3]] == ["Masking", "Normalization"]


def test_the_models_normalization_and_standardize_together_are_refused():
    x, y = _raw_data()
    model = keras.Sequential([keras.Input((5, 3)), L.Normalization(mean=1.0, variance=4.0), L.LSTM(4), L.Dense(1)])
    with pytest.raises(ValueError, match=r"^standardize='feature': the model scales its inputs itself"):
        fl.sweep(x, y.astype(np.float32), model=model, seeds=1, epochs=1, standardize="feature", verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "layers, words",
    [
        (lambda: [L.LSTM(4, return_sequences=True), L.Normalization(mean=0.0, variance=1.0), L.LSTM(2)], "first"),
        (lambda: [L.Normalization(mean=0.0, variance=1.0), L.Masking(0.0), L.LSTM(2)], "first"),
        (lambda: [L.Normalization(mean=0.0, variance=1.0, invert=True), L.LSTM(2)], "invert"),
        (lambda: [L.Normalization(axis=1, mean=[0.0] * 5, variance=[1.0] * 5), L.LSTM(2)], "axis"),
    ],
)
def test_a_normalization_fastlstm_cannot_apply_is_refused_by_name(layers, words):
    model = keras.Sequential([keras.Input((5, 3)), *layers(), L.Dense(1)])
    with pytest.raises(ValueError, match=f"Normalization.*{words}"):
        fl.from_keras(model)


def test_an_adapted_normalization_is_read_from_its_weights():
    x, _ = _raw_data()
    norm = L.Normalization()
    norm.adapt(x.reshape(-1, 3))
    model = keras.Sequential([keras.Input((5, 3)), norm, L.LSTM(4), L.Dense(1, activation="sigmoid")])
    converted = fl.from_keras(model)
    np.testing.assert_allclose(converted.spec.normalization["mean"], x.reshape(-1, 3).mean(0), rtol=1e-4)
    np.testing.assert_allclose(converted.predict(x), model.predict(x, verbose=0), atol=FWD_ATOL)


# --------------------------------------------------------------------------- one judgement, every door


def _custom_init_model():
    return keras.Sequential(
        [keras.Input((5, 3)), L.LSTM(4, kernel_initializer="he_normal", name="rnn"), L.Dense(1, activation="sigmoid")]
    )


def test_the_converted_spec_is_refused_as_the_keras_model_is():
    x, y = _raw_data()
    model = _custom_init_model()
    errors = []
    for door in (model, fl.from_keras(model).spec):
        with pytest.raises(ValueError, match="init='keras_weights'") as info:
            fl.sweep(x, y, model=door, seeds=1, epochs=1, verbose=0)
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "'rnn' (LSTM): kernel_initializer=HeNormal" in errors[0]


def test_the_converted_spec_trains_from_its_weights_and_survives_a_config_file(tmp_path):
    x, y = _raw_data()
    converted = fl.from_keras(_custom_init_model())
    result = fl.sweep(x, y, model=converted.spec, initial_params=converted.params, seeds=1, epochs=1, verbose=0)
    assert np.isfinite(result.history["loss"]).all()
    spec = fl.SweepSpec(model=converted.spec, seeds=1, epochs=1)
    path = tmp_path / "config.toml"
    path.write_text(spec.to_toml())
    again = fl.SweepSpec.load(path)
    assert again.model.custom_initializers == converted.custom_initializers
    with pytest.raises(ValueError, match="init='keras_weights'"):
        fl.sweep(x, y, spec=again, verbose=0)


def test_cli_a_config_file_with_custom_initializers_needs_keras_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    x, y = _raw_data()
    np.savez("d.npz", x=x, y=y)
    (tmp_path / "c.toml").write_text(fl.SweepSpec(model=fl.from_keras(_custom_init_model()).spec).to_toml())
    assert main(["sweep", "c.toml", "--data", "d.npz", "--seeds", "1", "--epochs", "1", "--quiet"]) == 2
    assert "kernel_initializer=HeNormal" in capsys.readouterr().err
