"""The seeds of a configuration as one model (deep ensembles, Lakshminarayanan et al. 2017):
`predict`/`evaluate`/`predict_labels` with `ensemble=True`, the calibration measures, the
validation document (ensemble.json) and the Keras export of an ensemble."""

import dataclasses
import json
import math
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.data._prepare import prepare_data
from fastlstm.results._ensemble import ensemble_lines, member_penalties, validation_ensemble
from fastlstm.stats import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    with_temperature,
)

SWEEP = dict(seeds=3, grid={"learning_rate": [1e-3, 1e-2]}, epochs=1, batch_size=16, validation_split=0.25, verbose=0)


@pytest.fixture(scope="module")
def clf():
    """2 configurations x 3 seeds of a 3-class model: (x, y, result)."""
    x, y = make_data(n=40, timesteps=5)
    return x, y, fl.sweep(x, y, model=fl.ModelSpec(units=3), **SWEEP)


@pytest.fixture(scope="module")
def reg():
    """The same grid on a regression target far from 0 / 1, trained standardized."""
    x, _ = make_data(n=40, timesteps=5)
    y = (x[:, -1, 0] * 30.0 + 500.0).astype(np.float32)
    return x, y, fl.sweep(x, y, model=fl.ModelSpec(units=3), standardize_target=True, **SWEEP)


def _by_hand(result, predictions):
    """Each configuration's members' predictions averaged with a plain loop (and their std)."""
    config = np.array([m["config"] for m in result.members])
    means = np.stack([predictions[config == c].mean(axis=0) for c in range(len(result.configs))])
    stds = np.stack([predictions[config == c].std(axis=0) for c in range(len(result.configs))])
    return means, stds


def _with_members(result, change):
    """A copy of `result` whose member table `change(members)` edits (the original is shared)."""
    members = [dict(m) for m in result.members]
    change(members)
    return dataclasses.replace(result, members=members)


def _config_diverged(result, config):
    """A copy of `result` in which every member of configuration `config` diverged."""

    def diverge(rows):
        for row in rows:
            if row["config"] == config:
                row["status"] = "diverged"

    return _with_members(result, diverge)


def _with_nan_params(result, member):
    """A copy of `result` in which `member`'s parameters are all NaN."""
    groups = []
    for g in result.groups:
        params = jax.tree.map(np.array, g.params)
        if member in g.members:
            row = g.members.index(member)
            jax.tree.map(lambda a, row=row: a.__setitem__(row, np.nan), params)
        groups.append(dataclasses.replace(g, params=params))
    return dataclasses.replace(result, groups=groups)


def test_the_ensemble_is_the_mean_of_each_configurations_members(clf):
    x, _, result = clf
    members = result.predict(x)
    mean, std = result.predict(x, ensemble=True, return_std=True)
    assert mean.shape == std.shape == (2, len(x), 3)
    expected_mean, expected_std = _by_hand(result, members)
    np.testing.assert_allclose(mean, expected_mean, atol=1e-6)
    np.testing.assert_allclose(std, expected_std, atol=1e-6)
    np.testing.assert_allclose(result.predict(x, ensemble=True), mean)
    np.testing.assert_allclose(mean.sum(-1), 1.0, atol=1e-5)  # a mean of probabilities is one
    labels = result.predict_labels(x, ensemble=True)
    assert labels.shape == (2, len(x))
    np.testing.assert_array_equal(labels, np.asarray(result.class_names)[expected_mean.argmax(-1)])


@pytest.mark.slow
def test_a_regression_ensemble_averages_in_the_targets_units(reg):
    x, y, result = reg
    members = result.predict(x)
    assert abs(float(members.mean()) - 500.0) < 200.0  # the user's units, not standardized ones
    mean, std = result.predict(x, ensemble=True, return_std=True)
    expected_mean, expected_std = _by_hand(result, members)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-5)
    np.testing.assert_allclose(std, expected_std, rtol=1e-4, atol=1e-4)
    doc = validation_ensemble(result, prepare_data(x, y, validation_split=0.25, standardize_target=True))
    assert not doc["calibration"] and doc["averaged"] == "predictions" and doc["headline"] == "mae"
    direct = result.evaluate(x[30:], y[30:], ensemble=True)
    for name in ("loss", "mae"):  # the loss in the standardized units it trained on, mae in the target's
        got = [row["ensemble"][name] for row in doc["configs"]]
        assert got == pytest.approx(direct[name].tolist(), rel=1e-5)
    assert "reliability" not in doc["configs"][0] and "val_mae" in ensemble_lines(doc, result.configs)[1]


def test_return_std_needs_ensemble(clf):
    x, _, result = clf
    with pytest.raises(ValueError, match="return_std"):
        result.predict(x, return_std=True)


def test_a_diverged_or_non_finite_member_is_left_out(clf):
    x, _, result = clf
    members = result.predict(x)
    first = [m["index"] for m in result.members if m["config"] == 0]
    second = [m["index"] for m in result.members if m["config"] == 1]

    def diverge(rows):
        rows[first[0]]["status"] = "diverged"

    diverged = _with_members(result, diverge)
    np.testing.assert_allclose(diverged.predict(x, ensemble=True)[0], members[first[1:]].mean(0), atol=1e-6)
    nan = _with_nan_params(result, second[2])
    np.testing.assert_allclose(nan.predict(x, ensemble=True)[1], members[second[:2]].mean(0), atol=1e-6)
    np.testing.assert_allclose(nan.predict(x, ensemble=True)[0], members[first].mean(0), atol=1e-6)


def test_a_configuration_without_a_usable_member_gives_nan_rows(clf):
    x, y, result = clf

    dead = _config_diverged(result, 1)
    mean, std = dead.predict(x, ensemble=True, return_std=True)
    assert np.isnan(mean[1]).all() and np.isnan(std[1]).all() and np.isfinite(mean[0]).all()
    assert (dead.predict_labels(x, ensemble=True)[1] == "").all()
    scores = dead.evaluate(x, y, ensemble=True)
    assert all(math.isnan(v[1]) and math.isfinite(v[0]) for v in scores.values())


def _keep_one_per_config(result):
    """A copy in which only the last member of each configuration is usable, and those members."""
    kept = {}
    for m in result.members:
        kept[m["config"]] = m["index"]

    def diverge_others(rows):
        for row in rows:
            if row["index"] not in kept.values():
                row["status"] = "diverged"

    return _with_members(result, diverge_others), [kept[c] for c in range(len(result.configs))]


def test_a_one_member_ensemble_evaluates_as_its_member(clf):
    x, y, result = clf
    weights = np.linspace(0.5, 2.0, len(x))
    one, kept = _keep_one_per_config(result)
    members = result.evaluate(x, y, sample_weight=weights)
    ensemble = one.evaluate(x, y, sample_weight=weights, ensemble=True)
    assert set(ensemble) == {"loss", "accuracy"}
    for name, values in ensemble.items():
        np.testing.assert_allclose(values, members[name][kept], rtol=1e-6, atol=1e-6)


def test_the_ensembles_loss_and_accuracy_are_those_of_its_mean_probabilities(clf):
    x, y, result = clf
    mean = result.predict(x, ensemble=True)
    scores = result.evaluate(x, y, ensemble=True)
    p = mean / mean.sum(-1, keepdims=True)
    truth = np.clip(p[:, np.arange(len(y)), y], 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(scores["loss"], -np.log(truth).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(scores["accuracy"], (mean.argmax(-1) == y).mean(axis=1), atol=1e-6)


@pytest.mark.slow
def test_a_one_member_regression_ensemble_evaluates_as_its_member_in_target_units(reg):
    x, y, result = reg
    one, kept = _keep_one_per_config(result)
    members = result.evaluate(x, y)
    ensemble = one.evaluate(x, y, ensemble=True)
    for name, values in ensemble.items():
        np.testing.assert_allclose(values, members[name][kept], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_per_timestep_targets_with_masks_and_a_regularizer():
    """Token tagging (mask_zero), an L2 penalty: a one-member ensemble is its member."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 12, (24, 5))
    ids[::3, 3:] = 0
    lstm = {"type": "LSTM", "units": 3, "return_sequences": True, "kernel_regularizer": {"type": "L2", "l2": 0.01}}
    layers = [{"type": "Embedding", "input_dim": 12, "output_dim": 4, "mask_zero": True}, lstm]
    model = fl.ModelSpec(layers=layers)
    result = fl.sweep(ids, ids % 3, model=model, seeds=2, grid={"learning_rate": [1e-3, 1e-2]}, epochs=1, verbose=0)
    assert result.meta["sequence_output"] and (member_penalties(result) > 0).all()
    mean = result.predict(ids, ensemble=True)
    assert mean.shape == (2, 24, 5, 3)
    one, kept = _keep_one_per_config(result)
    members = result.evaluate(ids, ids % 3)
    for name, values in one.evaluate(ids, ids % 3, ensemble=True).items():
        np.testing.assert_allclose(values, members[name][kept], rtol=1e-6, atol=1e-6)


# calibration, against hand computations


PROBS = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
LABELS = np.array([0, 1, 1, 1])  # confidences 0.9, 0.6, 0.7, 0.55; right, wrong, right, right


def test_ece_by_hand():
    # 15 bins of width 1/15: 0.55 and 0.6 fall in bin 8 (0.5333, 0.6], 0.7 in bin 10, 0.9 in bin 13
    expected = 2 / 4 * abs(0.5 - (0.55 + 0.6) / 2) + 1 / 4 * abs(1 - 0.7) + 1 / 4 * abs(1 - 0.9)
    assert expected_calibration_error(PROBS, LABELS) == pytest.approx(expected)
    # two bins: all four in (0.5, 1]: |3/4 - mean confidence|
    assert expected_calibration_error(PROBS, LABELS, bins=2) == pytest.approx(abs(0.75 - 2.75 / 4))
    assert expected_calibration_error(np.eye(3), [0, 1, 2]) == 0.0  # certain and right


def test_a_sigmoid_column_is_binary():
    p = np.array([[0.9], [0.2], [0.6], [0.4]])  # confidences 0.9, 0.8, 0.6, 0.6; predicted 1, 0, 1, 0
    y = np.array([1, 0, 0, 0])  # right, right, wrong, right
    two_columns = np.concatenate([1 - p, p], axis=1)
    assert expected_calibration_error(p, y) == pytest.approx(expected_calibration_error(two_columns, y))
    expected = 0.25 * 0.1 + 0.25 * 0.2 + 0.5 * abs(0.5 - 0.6)
    assert expected_calibration_error(p, y, bins=10) == pytest.approx(expected)
    nll = -(np.log(0.9) + np.log(0.8) + np.log(0.4) + np.log(0.6)) / 4
    assert negative_log_likelihood(p, y) == pytest.approx(nll)
    assert negative_log_likelihood(p[:, 0], y.astype(float)) == pytest.approx(nll)


def test_nll_by_hand_and_clipped_like_keras():
    expected = -(np.log(0.9) + np.log(0.4) + np.log(0.7) + np.log(0.55)) / 4
    assert negative_log_likelihood(PROBS, LABELS) == pytest.approx(expected)
    assert negative_log_likelihood(PROBS, np.eye(2)[LABELS]) == pytest.approx(expected)  # one-hot labels
    assert negative_log_likelihood(np.array([[1.0, 0.0]]), [1]) == pytest.approx(-np.log(1e-7))


def test_reliability_bins_by_hand():
    table = reliability_bins(PROBS, LABELS, bins=5)  # (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]
    assert table["count"].tolist() == [0, 0, 2, 1, 1]
    np.testing.assert_allclose(table["confidence"][2:], [0.575, 0.7, 0.9])
    np.testing.assert_allclose(table["accuracy"][2:], [0.5, 1.0, 1.0])
    assert np.isnan(table["confidence"][:2]).all() and np.isnan(table["accuracy"][:2]).all()
    np.testing.assert_allclose(table["edges"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_calibration_refuses_what_it_cannot_score():
    with pytest.raises(ValueError, match="non-finite"):
        expected_calibration_error(np.array([[np.nan, 1.0]]), [0])
    with pytest.raises(ValueError, match="rows"):
        negative_log_likelihood(PROBS, LABELS[:3])
    with pytest.raises(ValueError, match="class codes"):
        negative_log_likelihood(PROBS, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="bins"):
        reliability_bins(PROBS, LABELS, bins=0)


# the validation document


def _validation(x, y):
    """The rows a sweep with SWEEP's validation_split held out, prepared as the CLI has them."""
    return prepare_data(x, y, validation_split=SWEEP["validation_split"])


def test_the_validation_document(clf):
    x, y, result = clf
    ds = _validation(x, y)
    doc = validation_ensemble(result, ds)
    json.dumps(doc, allow_nan=False)
    assert doc["rows"] == 10 and doc["calibration"] and doc["headline"] == "accuracy"
    assert doc["names"] == ["loss", "accuracy"] and len(doc["edges"]) == 16
    assert [row["used"] for row in doc["configs"]] == [[0, 1, 2], [3, 4, 5]]
    direct = result.evaluate(x[30:], y[30:], ensemble=True)
    members = result.evaluate(x[30:], y[30:])
    for row in doc["configs"]:
        c = row["config"]
        assert set(row) >= {"ensemble", "mean_member", "nll", "ece", "reliability", "settings", "members"}
        assert row["ensemble"]["accuracy"] == pytest.approx(float(direct["accuracy"][c]), abs=1e-6)
        assert row["mean_member"]["loss"] == pytest.approx(float(members["loss"][row["used"]].mean()), rel=1e-5)
        assert row["nll"]["ensemble"] == pytest.approx(row["ensemble"]["loss"], rel=1e-5)  # unweighted crossentropy
        assert sum(row["reliability"]["ensemble"]["count"]) == 10
        assert sum(row["reliability"]["members_pooled"]["count"]) == 30
    lines = ensemble_lines(doc, result.configs)
    assert lines[0].startswith("ensembles") and len(lines) == 3
    assert "ensemble of 3: val_accuracy" in lines[1] and "NLL" in lines[1] and "ECE" in lines[1]


def test_the_document_is_strict_json_when_a_configuration_has_no_usable_member(clf):
    x, y, result = clf

    doc = validation_ensemble(_config_diverged(result, 0), _validation(x, y))
    json.dumps(doc, allow_nan=False)
    dead = doc["configs"][0]
    assert dead["used"] == [] and dead["ensemble"]["loss"] is None and dead["nll"]["ensemble"] is None
    lines = ensemble_lines(doc, result.configs)
    assert "no usable member" in lines[-1]  # ranked last
    assert validation_ensemble(result, prepare_data(x, y)) is None  # no validation rows


def test_the_terminal_lines_show_the_top_five():
    rows = [
        {
            "config": c,
            "settings": {"units": c},
            "used": [0],
            "ensemble": {"mae": 10.0 - c},
            "mean_member": {"mae": 11.0},
        }
        for c in range(8)
    ]
    doc = {"configs": rows, "headline": "mae", "higher_is_better": False, "rows": 5, "calibration": False}
    lines = ensemble_lines(doc, [{"units": c} for c in range(8)])
    assert len(lines) == 7 and lines[1].startswith("  config 7 (units 7)") and lines[-1] == "  (3 more in report.html)"


# the Keras export


@pytest.mark.slow
def test_an_ensemble_round_trips_through_keras(clf, tmp_path):
    import keras

    x, _, result = clf
    expected = result.predict(x, ensemble=True)[1]
    model = result.to_keras(ensemble=True, config=1)
    assert {layer.name for layer in model.layers} >= {"member_3", "member_4", "member_5"}
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5)
    path = result.save_keras(tmp_path / "ensemble.keras", ensemble=True, config=1)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
    with pytest.raises(ValueError, match="config"):
        result.to_keras(ensemble=True)
    with pytest.raises(ValueError, match="config"):
        result.to_keras(config=1)

    def diverge(rows):
        rows[3]["status"] = "diverged"

    fewer = _with_members(result, diverge).to_keras(ensemble=True, config=1)
    assert "member_3" not in {layer.name for layer in fewer.layers}
    np.testing.assert_allclose(fewer.predict(x, verbose=0), result.predict(x)[[4, 5]].mean(0), atol=1e-5)


def test_an_underconfident_ensemble_is_explained_only_when_it_is_one():
    """ECE above the members' while the ensemble's confidence is below its accuracy: the note
    says why (averaging flattens) and what corrects it; an overconfident one, or a better ECE, is not noted."""
    from fastlstm.results._ensemble import underconfidence_note

    def row(config, ece, member_ece, gap):
        return {
            "config": config,
            "ece": {"ensemble": ece, "mean_member": member_ece},
            "overconfidence": {"ensemble": gap},
        }

    note = underconfidence_note([row(0, 0.08, 0.05, -0.07), row(1, 0.03, 0.05, -0.02), row(2, 0.09, 0.05, 0.04)])
    assert note is not None and note.startswith("configuration 0: the ensemble is less confident than accurate")
    assert "temperature" in note
    assert underconfidence_note([row(1, 0.03, 0.05, -0.02), row(2, 0.09, 0.05, 0.04)]) is None
    assert underconfidence_note([{"config": 0}]) is None  # regression: no calibration numbers


def test_predicting_again_reuses_the_compiled_forward_pass(caplog):
    """A sweep's summary predicts twice (scores, then ensembles) and users predict more: one
    compile per input shape, not one per call (a fresh jax.jit each call traced it again)."""
    import jax

    x, y = make_data(n=24, timesteps=5, features=2)
    result = fl.sweep(x, y, seeds=2, epochs=1, verbose=0, model=fl.ModelSpec(units=5))  # a shape of its own
    jax.config.update("jax_log_compiles", True)
    try:
        with caplog.at_level("WARNING"):
            result.predict(x)
            result.predict(x, ensemble=True)
            result.predict_labels(x)
    finally:
        jax.config.update("jax_log_compiles", False)
    forward_compiles = [r for r in caplog.records if "Compiling jit(forward)" in r.getMessage()]
    assert len(forward_compiles) == 1


def test_a_temperature_fitted_on_held_out_rows_undoes_a_known_softening():
    """Probabilities drawn from a calibrated model, then softened by T = 2.5: the fitted
    temperature finds 1/2.5 back (the NLL's minimum), keeps every top class, lowers the ECE;
    on a sigmoid the same; a calibrated model keeps T near 1."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.0, (4000, 3))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in true])
    soft = with_temperature(true, 2.5)
    t = fit_temperature(soft, labels)
    assert t == pytest.approx(1 / 2.5, rel=0.1)
    sharpened = with_temperature(soft, t)
    assert (sharpened.argmax(1) == soft.argmax(1)).all()
    assert expected_calibration_error(sharpened, labels) < expected_calibration_error(soft, labels) / 2
    assert fit_temperature(true, labels) == pytest.approx(1.0, rel=0.1)
    p = 1 / (1 + np.exp(-rng.normal(0, 2.0, 4000)))
    y = (rng.random(4000) < p).astype(int)
    assert fit_temperature(with_temperature(p[:, None], 3.0), y) == pytest.approx(1 / 3.0, rel=0.1)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        with_temperature(p, 0.0)
