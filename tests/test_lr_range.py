"""The learning-rate range test: the rule on numbers worked by hand, its degenerate cases,
and one tiny batched run where a huge learning rate is unstable and a tiny one learns little."""

import math

import numpy as np
import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.analysis._lr_range import (
    PROBE_LEARNING_RATE,
    SAFETY_FACTOR,
    choose_range,
    default_learning_rates,
    median_losses,
    short_training_set,
)

TINY = dict(model=fl.ModelSpec(units=8), batch_size=16, verbose=0)
SCHEMA_KEYS = {
    "kind", "metric", "learning_rates", "seeds", "epochs", "losses", "median_loss", "initial_loss",
    "diverged", "largest_stable", "recommended", "range", "rule", "steps",
}  # fmt: skip


def test_default_grid_is_24_log_spaced_rates_from_1e5_to_1():
    rates = default_learning_rates()
    assert len(rates) == 24 and rates[0] == 1e-5 and rates[-1] == 1.0
    # 10 ** (-5 + 5k / 23), each rounded to 3 significant digits (a relative error of at most 0.5%)
    np.testing.assert_allclose(rates, np.logspace(-5, 0, 24), rtol=5e-3)
    assert all(float(f"{rate:.3g}") == rate for rate in rates)


def test_rule_on_a_hand_worked_curve():
    # initial 1.0, best 0.2 (gain 0.8): stable means median <= 0.2 + 0.08 = 0.28 with no
    # diverged seed -> 1e-2 and 1e-1 (0.25), largest 1e-1; half the gain means median <= 0.6
    # -> from 1e-3; recommended 1e-1 / 3.
    found = choose_range([1e-4, 1e-3, 1e-2, 1e-1, 1.0], [0.95, 0.6, 0.2, 0.25, math.inf], [0, 0, 0, 0, 3], 1.0)
    assert found["largest_stable"] == 0.1
    assert found["range"] == [1e-3, 0.1]
    assert found["recommended"] == pytest.approx(0.1 / SAFETY_FACTOR)
    assert "largest_stable is the largest learning rate" in found["rule"]


def test_a_learning_rate_with_a_diverged_seed_is_never_stable():
    found = choose_range([1e-3, 1e-2, 1e-1], [0.6, 0.2, 0.21], [0, 0, 1], 1.0)
    assert found["largest_stable"] == 1e-2


def test_recommended_is_not_below_the_range():
    found = choose_range([1e-3, 1e-2, 2e-2], [0.9, 0.2, 0.2], [0, 0, 0], 1.0)
    assert found["range"] == [1e-2, 2e-2] and found["recommended"] == 1e-2


def test_median_counts_a_diverged_seed_as_inf_and_ignores_one():
    losses = np.array([[0.5, 0.4, np.nan], [0.5, np.nan, np.nan], [0.3, 0.2, 0.1]])
    np.testing.assert_array_equal(median_losses(losses), [0.5, math.inf, 0.2])


@pytest.mark.parametrize(
    "medians, diverged, start",
    [
        ([math.inf, math.inf, math.inf], [3, 3, 3], "every learning rate diverged"),
        ([1.0, 0.995, 1.01], [0, 0, 0], "nothing learns"),
        ([0.9, 0.2, 0.21], [0, 1, 1], "no learning rate came near the best median loss without a seed diverging"),
    ],
)
def test_degenerate_curves_give_none_and_say_why(medians, diverged, start):
    found = choose_range([1e-3, 1e-2, 1e-1], medians, diverged, 1.0)
    assert found["largest_stable"] is None and found["recommended"] is None and found["range"] is None
    assert found["rule"].startswith(start)


def test_short_training_set_caps_rows_and_drops_validation(small_data):
    from fastlstm.data._prepare import prepare_data

    x, y = small_data
    ds = prepare_data(x, y, validation_split=0.2)
    short = short_training_set(ds, 32)
    assert len(short.train) == 32 and short.val is None
    rows = [int(np.flatnonzero((ds.train.x == row).all(axis=(1, 2)))[0]) for row in short.train.x]
    assert rows == sorted(set(rows))  # a subset of the training rows, in order
    assert len(short_training_set(ds, None).train) == len(ds.train)


@pytest.fixture(scope="module")
def tiny_range(small_data):
    x, y = small_data
    return fl.lr_range(x, y, learning_rates=[1e-5, 1e-3, 1e-2, 3e-2, 30.0], seeds=2, epochs=4, **TINY)


def test_range_flags_a_huge_rate_and_a_tiny_one(tiny_range):
    doc = tiny_range.to_dict()
    assert set(doc) == SCHEMA_KEYS and doc["kind"] == "lr_range" and doc["metric"] == "loss"
    assert doc["learning_rates"] == [1e-5, 1e-3, 1e-2, 3e-2, 30.0] and doc["seeds"] == [0, 1] and doc["epochs"] == 4
    assert np.shape(doc["losses"]) == (5, 2)
    assert abs(doc["initial_loss"] - math.log(3)) < 0.15  # three classes, small initial logits
    assert doc["diverged"][-1] > 0 or doc["median_loss"][-1] > doc["initial_loss"]  # 30 is unstable
    assert doc["largest_stable"] is not None and 1e-3 <= doc["largest_stable"] <= 3e-2
    assert doc["range"][0] > 1e-5  # the tiny rate improved less than half as much as the best
    assert doc["recommended"] == pytest.approx(max(doc["largest_stable"] / SAFETY_FACTOR, doc["range"][0]))
    assert doc["initial_loss"] - doc["median_loss"][0] < 0.1 * (doc["initial_loss"] - min(doc["median_loss"]))


def test_range_is_one_batched_run_with_the_initial_loss_probe(tiny_range):
    result = tiny_range.result
    assert result.analysis["lr_range"] is tiny_range.to_dict()
    assert len(result.groups) == 1 and len(result.members) == 6 * 2
    assert result.configs[0] == {"learning_rate": PROBE_LEARNING_RATE}
    assert result.meta["n_val"] == 0
    text = str(tiny_range)
    assert "recommended learning rate" in text and "largest stable" in text


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(learning_rates=[1e-3]), r"learning_rates must be at least 3"),
        (dict(learning_rates=[1e-3, 1e-3, 1e-2]), r"learning_rates lists a value more than once"),
        (dict(seeds=0), r"seeds must be a positive int"),
        (dict(epochs=0), r"epochs must be a positive int"),
        (dict(grid={"learning_rate": [1e-3]}), r"grid: lr_range sets it itself"),
        (dict(resume="somewhere"), r"resume: lr_range sets it itself"),
        (dict(colour="red"), r"unexpected arguments \['colour'\]"),
        (dict(units=0), r"unexpected arguments"),
    ],
)
def test_bad_arguments_are_refused_before_training(small_data, monkeypatch, kwargs, message):

    patch_train(monkeypatch, lambda *a, **k: pytest.fail("trained"))
    x, y = small_data
    with pytest.raises(ValueError, match=message):
        fl.lr_range(x, y, **kwargs)


def test_a_range_read_back_from_a_run_folder_prints(tiny_range, tmp_path):
    from fastlstm.analysis._lr_range import LRRange

    tiny_range.result.save(tmp_path / "run")
    loaded = LRRange.from_result(fl.load(tmp_path / "run"))
    assert loaded.median_loss[-1] is None  # the diverged learning rate's +inf, written as null
    assert loaded.recommended == tiny_range.recommended
    assert str(loaded).splitlines()[-2].split()[:2] == str(tiny_range).splitlines()[-2].split()[:2]


def test_only_training_rows_are_used_and_big_data_is_capped(small_data, monkeypatch):

    seen = {}

    def fake_train(spec, ds, **kwargs):
        seen.update(spec=spec, ds=ds)
        raise RuntimeError("stop here")

    patch_train(monkeypatch, fake_train)
    x, y = small_data  # 110 rows
    with pytest.raises(RuntimeError, match="stop here"):
        fl.lr_range(x, y, validation_split=0.5, max_steps_per_epoch=None, **TINY)
    assert len(seen["ds"].train) == 55 and seen["ds"].val is None
    np.testing.assert_array_equal(seen["ds"].train.x, x[:55])  # the rows a sweep trains on
    spec = seen["spec"]
    assert spec.grid["learning_rate"][0] == PROBE_LEARNING_RATE and len(spec.grid["learning_rate"]) == 25
    assert spec.epochs == 25 and spec.seeds == [0, 1, 2] and spec.callbacks == []  # 100 steps of 4 per epoch
    with pytest.raises(RuntimeError, match="stop here"):
        fl.lr_range(x, y, max_steps_per_epoch=2, **TINY)  # 2 steps of 16 rows
    assert len(seen["ds"].train) == 32
