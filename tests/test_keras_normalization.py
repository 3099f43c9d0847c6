"""`to_keras` of a sweep with `standardize` (issue 18): the exported model takes raw inputs
and scales them with a Keras `Normalization` layer holding the fitted numbers, so it
predicts what `result.predict` does; a leading Masking still sees the raw mask value."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl

FWD_ATOL = 1e-5


def _raw_data():
    """Features far from zero mean / unit scale: an export without the scaling is far off."""
    x, y = make_data(n=40, timesteps=5, features=3, classes=2)
    return x * np.array([5.0, 0.5, 20.0], np.float32) + np.array([3.0, -1.0, 50.0], np.float32), y


def _normalization(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["feature", "global", "min_max"])
def test_standardize_is_exported_as_a_normalization_layer_with_the_same_numbers(method):
    x, y = _raw_data()
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=1, standardize=method, verbose=0)
    exported = result.to_keras()
    (norm,) = _normalization(exported)
    doc = result.preprocessing
    shift, scale = (doc["min"], doc["range"]) if method == "min_max" else (doc["mean"], doc["std"])
    np.testing.assert_allclose(np.ravel(norm.mean), np.broadcast_to(shift, 3), rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.ravel(norm.variance)), np.broadcast_to(scale, 3), rtol=1e-6)
    np.testing.assert_allclose(exported.predict(x, verbose=0), result.predict(x)[0], atol=FWD_ATOL)


def test_without_standardize_there_is_no_normalization_layer():
    x, y = _raw_data()
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=1, verbose=0)
    assert _normalization(result.to_keras()) == []


@pytest.mark.slow
def test_masking_comes_before_the_normalization_and_sees_raw_padding():
    x, y = _raw_data()
    x[:10, 3:] = 0.0  # padded steps
    result = fl.sweep(
        x, y, model=fl.ModelSpec(units=4, mask_value=0.0), seeds=1, epochs=1, standardize="feature", verbose=0
    )
    exported = result.to_keras()
    kinds = [type(layer).__name__ for layer in exported.layers[1:3]]
    assert kinds == ["Masking", "Normalization"]
    np.testing.assert_allclose(exported.predict(x, verbose=0), result.predict(x)[0], atol=FWD_ATOL)
