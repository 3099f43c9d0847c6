"""Preprocessing fitted on training rows only, and class_weight="balanced" (issue 18).

The statistics of `standardize` must come from the training part alone (after
`validation_split`; never `validation_data`), over real steps only; masked steps must
keep their raw values; predict/evaluate/a loaded result must apply the same numbers.
`class_weight="balanced"` must be scikit-learn's n_samples / (n_classes * count) on the
training rows.
"""

import dataclasses

import jax
import numpy as np
import pytest
from conftest import make_data
from guards import patch_train

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.data._prepare import balanced_class_weights, prepare_data
from fastlstm.data._preprocessing import apply_preprocessing, fit_preprocessing
from fastlstm.engine._program import forward
from fastlstm.spec import SpecError, SweepSpec

TINY = dict(model=fl.ModelSpec(units=4), seeds=2, epochs=2, batch_size=16, verbose=0)


def _scaled_data(n=40, seed=0):
    """Features far from zero mean / unit scale, so scaling changes the numbers."""
    x, y = make_data(n=n, timesteps=5, features=3, seed=seed)
    return (x * np.array([5.0, 0.5, 20.0], np.float32) + np.array([3.0, -1.0, 50.0], np.float32)), y


# --- the statistics ------------------------------------------------------------------------


@pytest.mark.slow
def test_validation_rows_never_influence_the_statistics_or_the_training():
    x, y = _scaled_data()
    changed = x.copy()
    split_at = int(len(x) * 0.75)  # validation_split=0.25 takes the last 10 rows
    changed[split_at:] = changed[split_at:] * 7.0 + 100.0
    a = fl.sweep(x, y, validation_split=0.25, standardize="feature", **TINY)
    b = fl.sweep(changed, y, validation_split=0.25, standardize="feature", **TINY)
    assert a.preprocessing == b.preprocessing
    assert a.preprocessing["fitted_on"] == {"rows": split_at, "steps": split_at * 5}
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    np.testing.assert_array_equal(a.history["accuracy"], b.history["accuracy"])
    assert not np.array_equal(a.history["val_loss"], b.history["val_loss"])  # the change did reach validation


def test_validation_data_never_influences_the_statistics():
    x, y = _scaled_data()
    xv, yv = _scaled_data(seed=1)
    plain = prepare_data(x, y, validation_data=(xv, yv), standardize="global")
    shifted = prepare_data(x, y, validation_data=(xv + 1000.0, yv), standardize="global")
    assert plain.preprocessing == shifted.preprocessing
    real = x.astype(np.float64)
    assert plain.preprocessing["mean"] == pytest.approx(real.mean(), rel=1e-12)
    assert plain.preprocessing["std"] == pytest.approx(real.std(), rel=1e-12)


def test_training_sees_the_scaled_inputs():
    """A sweep with standardize on raw x trains exactly as a plain sweep on x scaled by hand."""
    x, y = _scaled_data()
    result = fl.sweep(x, y, validation_split=0.25, standardize="feature", **TINY)
    numbers = result.preprocessing
    by_hand = ((x.astype(np.float64) - numbers["mean"]) / numbers["std"]).astype(np.float32)
    plain = fl.sweep(by_hand, y, validation_split=0.25, **TINY)
    for name in ("loss", "val_loss"):
        np.testing.assert_array_equal(result.history[name], plain.history[name])


@pytest.mark.parametrize("method", ["feature", "global", "min_max"])
def test_each_method_fits_its_numbers_and_maps_as_documented(method):
    x, _ = _scaled_data()
    fitted = fit_preprocessing(x, None, method)
    out = apply_preprocessing(x, None, fitted).astype(np.float64).reshape(-1, 3)
    if method == "feature":
        np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
        np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-5)
    elif method == "global":
        assert isinstance(fitted["mean"], float) and isinstance(fitted["std"], float)
        assert abs(out.mean()) < 1e-5 and abs(out.std() - 1.0) < 1e-5
    else:
        np.testing.assert_allclose(out.min(axis=0), 0.0, atol=1e-6)
        np.testing.assert_allclose(out.max(axis=0), 1.0, atol=1e-6)


@pytest.mark.parametrize("method, key", [("feature", "std"), ("min_max", "range"), ("global", "std")])
def test_a_constant_feature_gets_scale_one_not_a_division_by_zero(method, key):
    x = np.ones((6, 4, 2), np.float32)
    x[..., 0] = 3.25  # constant
    x[..., 1] = np.arange(24, dtype=np.float32).reshape(6, 4) if method != "global" else 3.25
    fitted = fit_preprocessing(x, None, method)
    scale = np.atleast_1d(fitted[key])
    assert scale[0] == 1.0
    out = apply_preprocessing(x, None, fitted)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[..., 0], 0.0)


# --- masks ---------------------------------------------------------------------------------


def test_mask_value_steps_are_left_out_of_the_statistics_and_kept_exactly():
    x, y = _scaled_data()
    x[:, 3:] = -1.0  # the last two steps of every row are padding
    x[::3, 2:] = -1.0
    ds = prepare_data(x, y, mask_value=-1.0, standardize="feature")
    real = x[np.any(x != -1.0, axis=-1)].astype(np.float64)
    np.testing.assert_allclose(ds.preprocessing["mean"], real.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds.preprocessing["std"], real.std(axis=0), rtol=1e-12)
    assert ds.preprocessing["fitted_on"]["steps"] == real.shape[0]
    padded = ~ds.train.mask
    np.testing.assert_array_equal(ds.train.mask, np.any(x != -1.0, axis=-1))  # from the raw input
    assert np.all(ds.train.x[padded] == -1.0)
    assert not np.any(np.all(ds.train.x[~padded] == -1.0, axis=-1))


def test_ragged_padding_is_left_out_of_the_statistics_and_untouched():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(loc=10.0, size=(k, 2)).astype(np.float32) for k in (3, 5, 2, 4, 5, 1)]
    ds = prepare_data(seqs, np.array([0, 1, 0, 1, 0, 1]), standardize="min_max")
    real = np.concatenate(seqs).astype(np.float64)
    np.testing.assert_allclose(ds.preprocessing["min"], real.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ds.preprocessing["range"], real.max(axis=0) - real.min(axis=0), rtol=1e-12)
    assert np.all(ds.train.x[~ds.train.mask] == 0.0)  # the zeros of the padding stay zeros
    assert ds.train.x[ds.train.mask].min() == pytest.approx(0.0, abs=1e-6)


# --- predict, evaluate, save and load ------------------------------------------------------


@pytest.mark.slow
def test_predict_and_evaluate_apply_the_stored_transform_and_a_loaded_result_too(tmp_path):
    x, y = _scaled_data()
    x[:4, 4] = -1.0  # some padding: predict must mask it and leave it unscaled
    result = fl.sweep(
        x, y, validation_split=0.25, standardize="feature", **{**TINY, "model": fl.ModelSpec(units=4, mask_value=-1.0)}
    )
    scaled = apply_preprocessing(x, np.any(x != -1.0, axis=-1), result.preprocessing)
    mask = np.any(x != -1.0, axis=-1)
    group = result.groups[0]
    config = result._model_config(group)
    by_hand = jax.vmap(lambda p: forward(config, p, scaled, mask))(group.params)
    predicted = result.predict(x)
    np.testing.assert_allclose(predicted, np.asarray(by_hand), rtol=1e-6, atol=1e-7)

    unscaled = dataclasses.replace(result, meta={**result.meta, "preprocessing": None})
    np.testing.assert_allclose(unscaled.predict(scaled), predicted, rtol=1e-6, atol=1e-7)
    assert not np.allclose(unscaled.predict(x), predicted, atol=1e-4)  # the transform matters
    for name, values in result.evaluate(x, y).items():
        np.testing.assert_allclose(values, unscaled.evaluate(scaled, y)[name], rtol=1e-6)

    loaded = fl.load(result.save(tmp_path / "run"))
    assert loaded.preprocessing == result.preprocessing
    np.testing.assert_array_equal(loaded.predict(x), predicted)


# --- class_weight="balanced" ----------------------------------------------------------------


def _expected_balanced(labels):
    try:
        from sklearn.utils.class_weight import compute_class_weight
    except ImportError:  # scikit-learn is optional: the formula by hand
        classes, counts = np.unique(labels, return_counts=True)
        return dict(zip(classes.tolist(), (len(labels) / (len(classes) * counts)).tolist()))
    classes = np.unique(labels)
    return dict(zip(classes.tolist(), compute_class_weight("balanced", classes=classes, y=labels).tolist()))


def test_balanced_class_weights_equal_scikit_learns_on_known_labels():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 0, 1, 0])
    assert balanced_class_weights(labels) == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})
    assert balanced_class_weights(labels) == pytest.approx(_expected_balanced(labels))
    binary = np.array([1, 0, 0, 0])
    assert balanced_class_weights(binary) == pytest.approx({0: 4 / 6, 1: 2.0})


def test_balanced_class_weights_are_computed_on_the_training_rows_only():
    x = np.zeros((10, 3, 1), np.float32)
    y = np.array([0, 0, 0, 1, 1, 0, 0, 2, 1, 1])  # validation_split=0.3 holds out [2, 1, 1]
    ds = prepare_data(x, y, validation_split=0.3, class_weight="balanced")
    expected = _expected_balanced(y[:7])  # classes 0 and 1 only
    assert ds.class_weight == pytest.approx(expected)
    np.testing.assert_allclose(ds.train.weight, [expected[c] for c in y[:7]], rtol=1e-6)
    np.testing.assert_array_equal(ds.val.weight, np.ones(3, np.float32))  # validation is not reweighted
    one_hot = prepare_data(x, np.eye(3)[y], class_weight="balanced")
    assert one_hot.class_weight == pytest.approx(_expected_balanced(y))


@pytest.mark.slow
def test_balanced_class_weight_trains_as_the_same_weights_given_by_hand():
    x, y = make_data(n=40, timesteps=4, features=2, classes=3)
    y[:24] = 0  # imbalanced
    balanced = fl.sweep(x, y, class_weight="balanced", **TINY)
    by_hand = fl.sweep(x, y, class_weight=_expected_balanced(y), **TINY)
    np.testing.assert_array_equal(balanced.history["loss"], by_hand.history["loss"])
    assert balanced.meta["class_weight"] == pytest.approx(_expected_balanced(y))
    assert balanced.spec.class_weight == "balanced"


@pytest.mark.parametrize(
    "y, message",
    [
        (np.linspace(0.1, 2.0, 8), "class_weight only applies to classification or binary targets"),
        (np.array([[1, 0], [1, 1], [0, 1], [0, 0]] * 2), "class_weight='balanced' needs one class per sample"),
    ],
)
def test_balanced_class_weight_refuses_regression_and_multi_label(y, message):
    with pytest.raises(ValueError, match=message):
        fl.sweep(np.zeros((8, 3, 1), np.float32), y, class_weight="balanced", **TINY)


# --- the spec and the command line ----------------------------------------------------------


def test_the_new_spec_fields_survive_a_toml_round_trip():
    spec = SweepSpec.from_dict({"standardize": "min_max", "class_weight": "balanced", "validation_split": 0.2})
    again = SweepSpec.from_toml(spec.to_toml())
    assert again == spec and again.standardize == "min_max" and again.class_weight == "balanced"
    assert SweepSpec.from_toml(SweepSpec().to_toml()).standardize is None


@pytest.mark.parametrize("value", ["zscore", 1, True])
def test_an_unknown_standardize_is_a_value_error_naming_it_before_compiling(value, monkeypatch):

    patch_train(monkeypatch, lambda *a, **k: pytest.fail("reached training"))
    x, y = _scaled_data()
    with pytest.raises(ValueError, match=r"standardize: unknown .*'feature', 'global', 'min_max' or None"):
        fl.sweep(x, y, standardize=value, **TINY)
    with pytest.raises(ValueError, match=r"standardize: unknown"):
        prepare_data(x, y, standardize=value)
    with pytest.raises(SpecError, match=r"standardize"):
        SweepSpec.from_dict({"standardize": value})


def test_an_unknown_class_weight_string_names_the_argument():
    with pytest.raises(SpecError, match=r"class_weight must be a table \{class = weight\} or 'balanced', got 'even'"):
        SweepSpec.from_dict({"class_weight": "even"})
    x, y = _scaled_data()
    with pytest.raises(ValueError, match=r"class_weight must be a dict \{class: weight\} or 'balanced'"):
        prepare_data(x, y, class_weight="even")


CLI_TINY = ["--seeds", "2", "--epochs", "1", "--samples", "24", "--timesteps", "4", "--units", "2", "--quiet"]


def test_cli_standardize_and_balanced_reach_the_saved_result(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["sweep", *CLI_TINY, "--standardize", "global", "--set", "class_weight=balanced", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    loaded = fl.load(out)
    assert loaded.preprocessing["method"] == "global"
    assert loaded.spec.standardize == "global" and loaded.spec.class_weight == "balanced"
    assert set(loaded.meta["class_weight"]) == {"0", "1", "2", "3"}  # the task's 4 classes; JSON keys


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--standardize", "zscore"], "argument --standardize: invalid choice: 'zscore'"),
        (["--set", "standardize=zscore"], "standardize: unknown 'zscore'"),
        (["--set", "class_weight=even"], "class_weight must be a table"),
    ],
)
def test_cli_bad_standardize_or_class_weight_is_one_line_exit_2(tmp_path, capsys, args, expected):
    out = tmp_path / "run"
    try:
        code = main(["sweep", *CLI_TINY, *args, "--out", str(out)])
    except SystemExit as exit_:  # argparse's own refusals exit through SystemExit
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


# --- "does balancing help?" as one run: class_weight in the grid ------------------------------


@pytest.mark.slow
def test_a_grid_over_class_weight_trains_each_member_as_its_own_sweep_would():
    x, y = make_data(n=40, timesteps=4, features=2, classes=3)
    y[:24] = 0  # imbalanced
    both = fl.sweep(x, y, grid={"class_weight": [None, "balanced"]}, validation_split=0.25, **TINY)
    plain = fl.sweep(x, y, validation_split=0.25, **TINY)
    balanced = fl.sweep(x, y, class_weight="balanced", validation_split=0.25, **TINY)
    assert [c["class_weight"] for c in both.configs] == [None, "balanced"]
    assert [m["class_weight_balanced"] for m in both.members] == [0.0, 0.0, 1.0, 1.0]
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(both.history[name][:2], plain.history[name], rtol=1e-6)
        np.testing.assert_allclose(both.history[name][2:], balanced.history[name], rtol=1e-6)
    assert not np.allclose(both.history["loss"][:2], both.history["loss"][2:])
    assert both.meta["class_weight"] == pytest.approx(_expected_balanced(y[:30]))


def test_a_class_weight_grid_round_trips_through_toml_and_refuses_bad_values():
    spec = SweepSpec.from_dict({"grid": {"class_weight": [None, "balanced"]}})
    text = spec.to_toml()
    assert 'class_weight = [\n    "none",\n    "balanced",\n]' in text or 'class_weight = ["none", "balanced"]' in text
    assert SweepSpec.from_toml(text) == spec
    with pytest.raises(SpecError, match=r"grid\['class_weight'\]: class_weight values must be None"):
        SweepSpec.from_dict({"grid": {"class_weight": [None, {0: 1.0, 1: 2.0}]}})
    with pytest.raises(SpecError, match=r"class_weight: give it as a setting or as a grid key"):
        SweepSpec.from_dict({"grid": {"class_weight": [None, "balanced"]}, "class_weight": "balanced"})
    x, y = _scaled_data()
    with pytest.raises(
        ValueError, match=r"grid\['class_weight'\] cannot be combined with class_weight or sample_weight"
    ):
        fl.sweep(x, y, grid={"class_weight": [None, "balanced"]}, sample_weight=np.ones(len(y)), **TINY)
