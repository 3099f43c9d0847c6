"""Targets in the user's terms: class names kept through a sweep, its run folder and
Keras; a regression target scaled for training and reported back in its own units."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.data import read_data

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 6, 2)).astype(np.float32)
TINY = {"model": fl.ModelSpec(units=4), "seeds": 2, "epochs": 2, "batch_size": 16, "verbose": 0}


@pytest.mark.slow
def test_class_names_survive_the_run_folder(tmp_path):
    y = np.where(X[:, -1, 0] > 0, "up", "down")
    result = fl.sweep(X, y, **TINY)
    assert result.class_names == ("down", "up") and result.meta["task"] == "binary"
    result.save(tmp_path / "run")
    loaded = fl.load(tmp_path / "run")
    assert loaded.class_names == ("down", "up")
    np.testing.assert_array_equal(loaded.predict_labels(X), result.predict_labels(X))
    page = (tmp_path / "run" / "report.html").read_text()
    assert "0 = down, 1 = up" in page and "binary: 2 classes (down, up)" in page


@pytest.mark.slow
def test_labels_from_a_csv_and_from_strings_train_the_same_members(tmp_path):
    """UCR labels 1/2 as numbers (CSV) and as names (Parquet's strings): one task, one set of codes,
    bit-identical training."""
    import pandas as pd

    y = (X[:, -1, 0] > 0).astype(int) + 1
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(6)])
    frame.insert(0, "label", y)
    frame.to_csv(tmp_path / "numbers.csv", index=False)
    frame.assign(label=frame["label"].astype(str)).to_parquet(tmp_path / "names.parquet")
    results = [
        fl.sweep(**read_data(tmp_path / name).fit_arguments(), **TINY) for name in ("numbers.csv", "names.parquet")
    ]
    assert [r.class_names for r in results] == [("1", "2"), ("1", "2")]
    assert [r.meta["task"] for r in results] == ["binary", "binary"]
    np.testing.assert_array_equal(results[0].history["loss"], results[1].history["loss"])


def test_evaluate_codes_the_labels_as_training_did():
    """A validation set holding only class "2" must score class 2, not a re-coded class 0."""
    y = np.where(X[:, -1, 0] > 0, 2, 1)
    result = fl.sweep(X, y, **TINY)
    only_twos = y == 2
    scores = result.evaluate(X[only_twos], y[only_twos])
    expected = (result.predict_labels(X[only_twos]) == "2").mean(axis=1)
    np.testing.assert_allclose(scores["accuracy"], expected, atol=1e-6)


def _level_target(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A target in the hundreds (passengers, say) that the inputs predict."""
    x = RNG.normal(size=(n, 6, 1)).astype(np.float32)
    return x, (400.0 + 80.0 * x[:, -1, 0]).astype(np.float32)


@pytest.mark.slow
def test_standardize_target_predicts_in_the_targets_units(tmp_path):
    x, y = _level_target()
    result = fl.sweep(x, y, standardize_target=True, learning_rate=0.01, **{**TINY, "epochs": 40})
    scaling = result.target_scaling
    assert scaling["mean"] == pytest.approx(float(np.mean(y.astype(np.float64))), rel=1e-6)
    assert scaling["std"] == pytest.approx(float(np.std(y.astype(np.float64))), rel=1e-6)
    predictions = result.predict(x)[..., 0]
    assert np.all(np.abs(predictions.mean(axis=1) - y.mean()) < 20)  # in passengers, not in std units
    rmse = np.sqrt(((predictions - y) ** 2).mean(axis=1))
    assert np.all(rmse < y.std())  # better than predicting the mean
    result.save(tmp_path / "run")
    np.testing.assert_allclose(fl.load(tmp_path / "run").predict(x), result.predict(x), rtol=1e-6)
    # mae is logged and evaluated in passengers; the loss stays the scaled objective it trained on
    mae = np.abs(predictions - y).mean(axis=1)
    np.testing.assert_allclose(result.evaluate(x, y)["mae"], mae, rtol=1e-3)
    ratio = result.history["mae"][:, -1] / mae  # the last epoch's running mean, in passengers too (not / std)
    assert np.all((ratio > 0.5) & (ratio < 2.0))
    assert np.all(result.evaluate(x, y)["loss"] < 1.0)  # mse in std units: below the mean predictor's 1


def test_unscaled_large_target_is_what_standardize_target_fixes():
    """The same sweep without target scaling stays far from the target (the reason the option exists)."""
    x, y = _level_target()
    plain = fl.sweep(x, y, learning_rate=0.01, **{**TINY, "epochs": 40}).predict(x)[..., 0]
    assert np.all(np.sqrt(((plain - y) ** 2).mean(axis=1)) > y.std())


def test_standardize_target_refuses_class_labels():
    with pytest.raises(ValueError, match="standardize_target scales a regression target"):
        fl.sweep(X, (X[:, -1, 0] > 0).astype(int), standardize_target=True, **TINY)


@pytest.mark.slow
def test_keras_model_of_a_scaled_target_predicts_in_units():
    x, y = _level_target()
    result = fl.sweep(x, y, standardize_target=True, **TINY)
    keras_model = result.to_keras(member=1)
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), result.predict(x)[1], rtol=1e-4, atol=1e-3)
