"""SweepResult: save/load without pickle, safe overwrite, summary statistics."""

import json

import jax
import numpy as np
import pytest
from conftest import make_data
from scipy import stats

import fastlstm as fl
from fastlstm.stats import describe


@pytest.fixture(scope="module")
def result():
    x, y = make_data(n=60)
    return fl.sweep(
        x,
        y,
        seeds=3,
        grid={"learning_rate": [1e-3, 1e-2]},
        model=fl.ModelSpec(units=4),
        epochs=2,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
    )


def test_save_load_roundtrip(result, tmp_path):
    path = result.save(tmp_path / "run")
    loaded = fl.load(path)
    for name in result.history:
        np.testing.assert_array_equal(loaded.history[name], result.history[name])
    assert loaded.members == json.loads(json.dumps(result.members))
    jax.tree.map(np.testing.assert_array_equal, loaded.params, result.params)
    x, _ = make_data(n=5)
    np.testing.assert_allclose(loaded.predict(x), result.predict(x), rtol=1e-6)
    assert str(loaded.summary()) == str(result.summary())


def test_save_never_clobbers_without_overwrite(result, tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / "mine.txt").write_text("keep me")
    for overwrite in (False, True):  # not a fastlstm folder: never replaced (tests/test_persistence.py)
        with pytest.raises(ValueError, match="not a fastlstm result folder"):
            result.save(path, overwrite=overwrite)
    assert (path / "mine.txt").read_text() == "keep me"
    saved = result.save(tmp_path / "saved")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        result.save(saved)
    result.save(saved, overwrite=True)
    assert fl.load(saved).history.keys() == result.history.keys()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "saved"]  # no temporary folders left behind


def test_load_rejects_a_folder_that_is_not_a_result(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved fastlstm result"):
        fl.load(tmp_path)


def test_summary_matches_scipy_t_interval(result):
    rows = result.summary()
    assert [r["learning_rate"] for r in rows] == [1e-3, 1e-2]
    final = result.history["val_accuracy"][:3, -1]
    row = rows[0]
    assert row["seeds"] == 3 and row["val_accuracy_mean"] == pytest.approx(final.mean())
    low, high = stats.t.interval(0.95, 2, loc=final.mean(), scale=stats.sem(final))
    assert row["val_accuracy_ci_low"] == pytest.approx(max(low, 0.0), rel=1e-5)  # clipped to accuracy's range
    assert row["val_accuracy_ci_high"] == pytest.approx(min(high, 1.0), rel=1e-5)
    assert row["val_accuracy_std"] == pytest.approx(final.std(ddof=1))


def test_describe_ignores_nan_and_handles_one_value():
    d = describe([1.0, np.nan, 3.0])
    assert d["n"] == 2 and d["mean"] == 2.0 and d["min"] == 1.0 and d["max"] == 3.0
    single = describe([0.5])
    assert single["mean"] == 0.5 and np.isnan(single["std"]) and np.isnan(single["ci_low"])


def test_predict_batch_size_none_and_numpy_ints_give_the_default_result(result):
    x, _ = make_data(n=7)
    expected = result.predict(x)
    assert np.abs(expected).sum() > 0
    for batch_size in (None, np.int64(3), np.uint8(1), 256):
        np.testing.assert_allclose(result.predict(x, batch_size=batch_size), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, 4.0, True, "8", np.float32(8)])
def test_predict_rejects_a_batch_size_that_is_not_a_positive_int(result, batch_size):
    """-1 used to return all zeros, 0 a bare range() error."""
    x, _ = make_data(n=5)
    with pytest.raises(ValueError, match=r"batch_size must be a positive int or None, got"):
        result.predict(x, batch_size=batch_size)


def test_predict_and_evaluate_name_a_wrong_feature_count(result):
    x, y = make_data(n=6)
    message = r"x has 2 features per timestep, but the model was trained on 3"
    with pytest.raises(ValueError, match=message):
        result.predict(x[:, :, :2])
    with pytest.raises(ValueError, match=message):
        result.evaluate(x[:, :, :2], y)


def test_an_unbatched_sample_gets_a_hint(result):
    """x[0] (timesteps, features) reads as 8 univariate samples of 3 steps; say so."""
    x, y = make_data(n=8)  # x[0] has 8 timesteps: 8 "samples" for evaluate's 8 labels
    message = r"x has 1 feature per timestep, but the model was trained on 3.*pass a batch: x\[None\]"
    with pytest.raises(ValueError, match=message):
        result.predict(x[0])
    with pytest.raises(ValueError, match=message):
        result.evaluate(x[0], y)
    assert result.predict(x[0][None]).shape == (6, 1, 3)


def test_a_loaded_result_knows_its_feature_count(result, tmp_path):
    loaded = fl.load(result.save(tmp_path / "run"))
    x, _ = make_data(n=4)
    with pytest.raises(ValueError, match=r"x has 4 features per timestep, but the model was trained on 3"):
        loaded.predict(np.concatenate([x, x[:, :, :1]], axis=2))


@pytest.mark.slow
def test_a_univariate_model_takes_two_dimensional_x():
    """(samples, timesteps) is a valid input when the model was trained on one feature."""
    x, y = make_data(n=24, features=1)
    univariate = fl.sweep(x[:, :, 0], y, seeds=1, epochs=1, batch_size=8, model=fl.ModelSpec(units=2), verbose=0)
    assert univariate.predict(x[:5, :, 0]).shape == (1, 5, 3)
    assert set(univariate.evaluate(x[:5, :, 0], y[:5])) == {"loss", "accuracy"}
