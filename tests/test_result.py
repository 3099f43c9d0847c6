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
    assert row["val_accuracy_ci_low"] == pytest.approx(low, rel=1e-5)
    assert row["val_accuracy_ci_high"] == pytest.approx(high, rel=1e-5)
    assert row["val_accuracy_std"] == pytest.approx(final.std(ddof=1))


def test_describe_ignores_nan_and_handles_one_value():
    d = describe([1.0, np.nan, 3.0])
    assert d["n"] == 2 and d["mean"] == 2.0 and d["min"] == 1.0 and d["max"] == 3.0
    single = describe([0.5])
    assert single["mean"] == 0.5 and np.isnan(single["std"]) and np.isnan(single["ci_low"])
