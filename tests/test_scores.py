"""Scores a scikit-learn user reports, and the forecast baselines: sklearn.metrics is the oracle."""

import json
import math
import warnings

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.report._scores import score_lines
from fastlstm.results._scores import score_document
from fastlstm.stats._forecast import baseline_forecasts, forecast_baselines, seasonal_period
from fastlstm.stats._scores import (
    binary_auc,
    classification_scores,
    confusion_matrix,
    predicted_codes,
    regression_scores,
)

metrics = pytest.importorskip("sklearn.metrics")


def _probs(rng, n, k):
    return rng.dirichlet(np.ones(k), size=n)


def _sklearn_scores(y, probs, k):
    """The oracle: sklearn's definitions of every classification score."""
    pred = predicted_codes(probs)
    score = probs[:, -1] if probs.shape[1] <= 2 else probs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "accuracy": metrics.accuracy_score(y, pred),
            "balanced_accuracy": metrics.balanced_accuracy_score(y, pred),
            "macro_f1": metrics.f1_score(y, pred, average="macro"),
            "roc_auc": metrics.roc_auc_score(y, score, multi_class="ovr", average="macro"),
            "confusion_matrix": metrics.confusion_matrix(y, pred, labels=list(range(k))).tolist(),
            "per_class_recall": metrics.recall_score(y, pred, labels=list(range(k)), average=None).tolist(),
        }


@pytest.mark.parametrize("k,columns", [(2, 1), (2, 2), (3, 3), (5, 5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_scores_match_sklearn_on_random_data(k, columns, seed):
    rng = np.random.default_rng(seed)
    n = 57
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)  # every class present
    probs = _probs(rng, n, k)
    probs = probs[:, 1:] if columns == 1 else probs  # a sigmoid's one column: P(class 1)
    ours = classification_scores(y, probs, k)
    oracle = _sklearn_scores(y, probs, k)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "per_class_recall"):
        np.testing.assert_allclose(ours[key], oracle[key], rtol=1e-12, err_msg=key)
    assert ours["confusion_matrix"] == oracle["confusion_matrix"]


def test_auc_with_tied_scores_matches_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=200)
    score = rng.integers(0, 4, size=200) / 4.0  # four distinct values: many ties
    assert binary_auc(y == 1, score) == pytest.approx(metrics.roc_auc_score(y, score), abs=1e-12)


def test_a_class_never_predicted_counts_with_f1_zero_as_in_sklearn():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 20)
    probs = _probs(rng, 60, 3)
    probs[:, 2] = 0.0  # class 2 is never the argmax
    probs /= probs.sum(1, keepdims=True)
    ours = classification_scores(y, probs, 3)
    oracle = _sklearn_scores(y, probs, 3)
    assert ours["per_class_recall"][2] == 0.0
    for key in ("balanced_accuracy", "macro_f1", "roc_auc"):
        assert ours[key] == pytest.approx(oracle[key], abs=1e-12), key


def test_a_class_absent_from_the_truth_is_left_out_where_sklearn_warns_or_raises():
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1], 30)  # class 2 has no rows
    probs = _probs(rng, 60, 3)
    ours = classification_scores(y, probs, 3)
    pred = predicted_codes(probs)
    assert (pred == 2).any()  # predicted, though absent: an F1 of 0 for it, as sklearn's default labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(y, pred), abs=1e-12)
        assert ours["macro_f1"] == pytest.approx(metrics.f1_score(y, pred, average="macro"), abs=1e-12)
    with warnings.catch_warnings():  # sklearn: AUC undefined for class 2 (NaN, or an error before 1.6)
        warnings.simplefilter("ignore")
        try:
            theirs = metrics.roc_auc_score(y, probs, multi_class="ovr", labels=[0, 1, 2])
        except ValueError:
            theirs = math.nan
    assert math.isnan(theirs)  # ours averages the classes it is defined for instead
    present = [metrics.roc_auc_score(y == c, probs[:, c]) for c in (0, 1)]
    assert ours["roc_auc"] == pytest.approx(np.mean(present), abs=1e-12)
    assert math.isnan(ours["per_class_recall"][2])  # sklearn says 0.0 with a warning: no rows to recall
    assert ours["confusion_matrix"] == metrics.confusion_matrix(y, pred, labels=[0, 1, 2]).tolist()


def test_a_class_in_neither_truth_nor_predictions_is_not_averaged_as_sklearn_default_labels():
    y = np.array([0, 0, 1, 1, 1, 0])
    probs = np.array([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.3, 0.7, 0], [0.6, 0.4, 0], [0.1, 0.9, 0], [0.8, 0.2, 0]])
    ours = classification_scores(y, probs, 3)
    pred = predicted_codes(probs)
    assert ours["macro_f1"] == pytest.approx(metrics.f1_score(y, pred, average="macro"), abs=1e-12)
    assert ours["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(y, pred), abs=1e-12)


def test_one_class_only_and_non_finite_predictions_give_nan_not_an_error():
    y = np.zeros(10, int)
    assert math.isnan(classification_scores(y, np.full((10, 1), 0.3), 2)["roc_auc"])
    bad = classification_scores(np.array([0, 1]), np.array([[np.nan], [0.5]]), 2)
    assert math.isnan(bad["balanced_accuracy"]) and bad["confusion_matrix"] is None
    assert math.isnan(regression_scores(np.ones(3), np.array([1.0, np.inf, 2.0]))["rmse"])


def test_confusion_matrix_rows_are_the_truth():
    assert confusion_matrix(np.array([0, 0, 1]), np.array([1, 0, 1]), 2).tolist() == [[1, 1], [0, 1]]


@pytest.mark.parametrize("outputs", [1, 3])
def test_regression_scores_match_sklearn(outputs):
    rng = np.random.default_rng(6)
    y = rng.normal(300, 50, size=(40, outputs))
    p = y + rng.normal(0, 20, size=y.shape)
    ours = regression_scores(y, p)
    assert ours["mae"] == pytest.approx(metrics.mean_absolute_error(y, p), rel=1e-12)
    assert ours["rmse"] == pytest.approx(math.sqrt(metrics.mean_squared_error(y, p)), rel=1e-12)


# --- forecast baselines ----------------------------------------------------------------


def _airline():
    datasets = pytest.importorskip("aeon.datasets")
    return np.asarray(datasets.load_airline(), np.float64).ravel()


def test_airline_has_period_12_and_a_random_walk_has_none():
    series = _airline()
    split_at = math.floor(len(series) * 0.8)
    assert seasonal_period(series[:split_at], 12) == 12
    assert seasonal_period(series[:split_at], 11) is None  # the season is longer than the window
    walk = np.random.default_rng(0).normal(size=300).cumsum()
    assert seasonal_period(walk, 12) is None


def test_baselines_are_the_last_value_and_the_value_one_season_earlier():
    series = np.arange(30, dtype=float) ** 1.5
    split_at, window, horizon, period = 10, 4, 3, 2
    parts = baseline_forecasts(series, split_at, window, horizon, period)
    for i in range(len(parts["target"])):
        origin = split_at + i + window - 1  # the last value the window ends with
        for h in range(1, horizon + 1):
            assert parts["target"][i, h - 1] == series[origin + h]
            assert parts["naive"][i, h - 1] == series[origin]
            same_season = origin + h - period * math.ceil(h / period)
            assert origin - window < same_season <= origin  # seen inside the window
            assert parts["seasonal_naive"][i, h - 1] == series[same_season]
    assert len(parts["target"]) == len(series) - split_at - window - horizon + 1


def test_airline_baselines_in_passengers():
    series = _airline()
    doc = forecast_baselines({"series": series, "split_at": 115, "window": 12, "horizon": 1, "target": "Passengers"})
    assert doc["period"] == 12 and doc["windows"] == 17
    target = series[127:]
    assert doc["naive"]["rmse"] == pytest.approx(math.sqrt(np.mean((series[126:-1] - target) ** 2)))
    assert doc["seasonal_naive"]["rmse"] == pytest.approx(math.sqrt(np.mean((series[115:-12] - target) ** 2)))


def test_no_season_means_no_seasonal_baseline():
    walk = np.random.default_rng(1).normal(size=120).cumsum()
    doc = forecast_baselines({"series": walk, "split_at": 90, "window": 8, "horizon": 2, "target": "v"})
    assert doc["period"] is None and doc["seasonal_naive"] is None and "no clear season" in doc["season"]
    line = score_lines({"scored": True, **_regression_doc(doc)})[-1]
    assert "no seasonal baseline" in line


def _regression_doc(baselines):
    config = {"config": 0, "seeds": 2, "n": {"rmse": 2, "mae": 2}, "mean": {"rmse": 5.0, "mae": 4.0}}
    config["std"] = {"rmse": 1.0, "mae": 0.5}
    return {"data": "validation", "scores": ["mae", "rmse"], "headline": "rmse", "units": "v", "configs": [config],
            "best": {"config": 0, "by": "rmse"}, "baselines": baselines, "notes": []}  # fmt: skip


# --- the document, the library call, the CLI ---------------------------------------------


@pytest.fixture(scope="module")
def named_sweep():
    from conftest import make_data

    x, codes = make_data(n=60, timesteps=5, features=2, classes=3)
    y = np.array(["cat", "dog", "emu"])[codes]
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=2, epochs=2, validation_split=0.25, verbose=0)
    return result, x, y, codes


def test_fl_scores_matches_sklearn_on_each_member_and_names_the_classes(named_sweep):
    result, x, y, codes = named_sweep
    doc = fl.scores(result, x, y)
    assert doc == result.scores(x, y)
    assert doc["class_names"] == ["cat", "dog", "emu"] and doc["rows"] == 60
    probs = result.predict(x)
    for row, p in zip(doc["members"], probs):
        oracle = _sklearn_scores(codes, p.astype(np.float64), 3)
        assert row["balanced_accuracy"] == pytest.approx(oracle["balanced_accuracy"], abs=1e-12)
        assert row["roc_auc"] == pytest.approx(oracle["roc_auc"], abs=1e-9)
    best = doc["best"]
    summed = sum(np.array(_sklearn_scores(codes, p.astype(np.float64), 3)["confusion_matrix"]) for p in probs)
    assert best["confusion_matrix"] == summed.tolist() and best["labels"] == ["cat", "dog", "emu"]
    values = [m["macro_f1"] for m in doc["members"]]
    assert doc["configs"][0]["mean"]["macro_f1"] == pytest.approx(np.mean(values))
    assert doc["configs"][0]["std"]["macro_f1"] == pytest.approx(np.std(values, ddof=1))


def test_a_diverged_member_is_left_out_of_the_mean(named_sweep):
    result, x, _, codes = named_sweep
    probs = result.predict(x)
    members = [dict(m) for m in result.members]
    members[1]["status"] = "diverged"
    shadow = type(result)(result.history, members, result.groups, result.configs, result.meta)
    doc = score_document(shadow, codes, probs)
    assert doc["members"][1]["balanced_accuracy"] is None
    assert doc["configs"][0]["n"]["balanced_accuracy"] == 1
    assert doc["configs"][0]["mean"]["balanced_accuracy"] == doc["members"][0]["balanced_accuracy"]


@pytest.mark.slow
def test_cli_sweep_prints_scores_and_saves_scores_json(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n, steps = 40, 4
    rows = [
        {"id": i, "step": t, "value": float(rng.normal() + (i % 2)), "label": ["no", "yes"][i % 2]}
        for i in range(n)
        for t in range(steps)
    ]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "run"
    args = ["sweep", "--data", str(path), "--seeds", "2", "--epochs", "1", "--units", "4", "--quiet"]
    assert main([*args, "--validation-split", "0.25", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "validation (mean ± std over 2 seeds): balanced accuracy" in text and "ROC AUC" in text
    assert "per-class recall (2 seeds summed): no " in text and "confusion matrix" in text
    saved = json.loads((out / "scores.json").read_text())
    assert saved["class_names"] == ["no", "yes"] and saved["rows"] == 10
    assert fl.load(out).analysis["scores"] == saved
    assert 'id="scores"' in (out / "report.html").read_text()


@pytest.mark.slow
def test_cli_forecast_prints_the_error_in_units_beside_the_baselines(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    t = np.arange(96)
    load = 100 + t + 20 * np.sin(2 * np.pi * t / 6) + np.random.default_rng(2).normal(0, 2, size=96)
    path = tmp_path / "load.csv"
    pd.DataFrame({"step": t, "load": load}).to_csv(path, index=False)
    out = tmp_path / "run"
    args = ["sweep", "--data", str(path), "--window", "8", "--horizon", "1", "--standardize-target"]
    args += ["--validation-split", "0.25", "--seeds", "2", "--epochs", "1", "--units", "4", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "validation (mean ± std over 2 seeds): RMSE " in text and " load, MAE " in text
    assert "naive RMSE" in text and "seasonal naive (period 6) RMSE" in text
    saved = json.loads((out / "scores.json").read_text())
    assert saved["baselines"]["period"] == 6 and saved["units"] == "load"
    assert "seasonal naive (period 6)" in (out / "report.html").read_text()
