"""Data checks of fl.diagnose: each planted fault found under its id, a clean control quiet.

No training here: the checks read arrays, so these tests are fast.
"""

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.data import LoadedData
from fastlstm.diagnose import check_data
from fastlstm.diagnose._data_checks import SCALE_RATIO
from fastlstm.diagnose._leakage import leakage_counts


def clean(n=400, t=12, f=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.normal(size=(n, t, f)).astype(np.float32)
    x[:, 1, 0] += 1.5 * (y - (classes - 1) / 2)
    return x, y


def warnings_of(findings):
    return findings.at_least("warning").ids()


def test_clean_control_raises_nothing_at_warning_level():
    x, y = clean()
    assert warnings_of(check_data(x, y, validation_split=0.25)) == []
    rng = np.random.default_rng(3)
    order = rng.permutation(len(x))
    xv, yv = clean(n=200, seed=9)
    assert warnings_of(fl.diagnose(x[order], y[order], validation_data=(xv, yv))) == []


def test_one_feature_times_ten_thousand_is_unscaled_with_its_mean_and_std():
    x, y = clean()
    x[:, :, 2] *= 1e4
    findings = fl.diagnose(x, y, validation_split=0.25)
    f = findings.by_id("data.unscaled")
    assert f is not None and f.severity == "warning"
    assert [row["feature"] for row in f.evidence["features"]] == [2]
    assert f.evidence["features"][0]["std"] > 5e3
    assert f.change == {"standardize": "feature"}
    assert findings.at_least("warning").ids() == ["data.unscaled"]


def test_unscaled_is_measured_against_the_median_feature_not_a_fixed_range():
    """A feature 9x the others' scale is left alone, 11x is flagged; N(0, 1) features that
    leave [-1, 1] (UMLAUT's rule) are not 'unscaled'."""
    x, y = clean(f=5)
    assert check_data(x, y).by_id("data.unscaled") is None  # |x| > 1 often: still standardised
    near = x.copy()
    near[:, :, 4] *= 0.9 * SCALE_RATIO
    assert check_data(near, y).by_id("data.unscaled") is None
    far = x.copy()
    far[:, :, 4] *= 1.1 * SCALE_RATIO
    assert check_data(far, y).by_id("data.unscaled").evidence["features"][0]["feature"] == 4


def test_all_features_on_a_large_scale_or_offset_are_unscaled():
    x, y = clean()
    kelvin = x * 5 + 290.0  # every feature alike: the median does not see it, unit scale does
    f = check_data(kelvin, y).by_id("data.unscaled")
    assert f is not None and len(f.evidence["features"]) == 4
    assert "std from 0" in f.evidence["features"][0]["reason"]


def test_indicator_features_are_not_unscaled():
    x, y = clean()
    x[:, :, 3] = (np.random.default_rng(1).random(x.shape[:2]) < 0.01).astype(np.float32)  # rare 0/1 flag
    assert check_data(x, y).by_id("data.unscaled") is None


def test_constant_feature():
    x, y = clean()
    x[:, :, 1] = 7.0
    f = check_data(x, y).by_id("data.constant_feature")
    assert f is not None and f.evidence["features"] == [1] and f.evidence["values"] == {"1": 7.0}
    assert f.severity == "warning" and f.change is None
    assert check_data(x, y).by_id("data.unscaled") is None  # the constant one is not also "unscaled"


def test_nan_in_twenty_sequences_is_an_error_naming_the_features():
    x, y = clean()
    rows = np.random.default_rng(2).choice(len(x), 20, replace=False)
    x[rows, 5, 3] = np.nan
    x[rows[:4], 2, 1] = np.inf
    f = fl.diagnose(x, y, validation_split=0.25).by_id("data.nan")
    assert f.severity == "error" and f.change is None
    assert f.evidence["sequences"] == 20
    assert f.evidence["train_sequences"] + f.evidence["validation_sequences"] == 20
    assert f.evidence["sequences_per_feature"] == {"1": 4, "3": 20}


def test_nan_targets_are_counted_and_named_in_the_title():
    x, y = clean(n=100)
    y = y.astype(float)
    y[:3] = np.nan
    f = check_data(x, y).by_id("data.nan")
    assert f.evidence["target_rows"] == 3 and f.evidence["sequences"] == 0
    assert f.title == "3 target rows are NaN or inf"


def test_three_percent_positives_is_imbalanced_with_the_majority_baseline():
    x, _ = clean(n=1000)
    y = np.zeros(1000, int)
    y[np.random.default_rng(0).choice(1000, 30, replace=False)] = 1
    f = fl.diagnose(x, y).by_id("data.imbalance")
    assert f.severity == "warning"
    assert f.evidence["counts"] == [970, 30]
    assert f.evidence["majority_class_rate"] == pytest.approx(0.97)
    assert f.evidence["ratio"] == pytest.approx(970 / 30)
    assert f.change == {"class_weight": "balanced"}


def test_imbalance_multiclass_and_multilabel():
    x, _ = clean(n=600)
    y = np.repeat([0, 1, 2], [500, 60, 40])
    f = check_data(x, y).by_id("data.imbalance")
    assert f.evidence["ratio"] == pytest.approx(12.5) and f.severity == "warning"
    labels = np.zeros((600, 3))
    labels[:300, 0] = 1
    labels[:20, 1] = 1  # output 1: 20 positives of 600
    labels[::2, 2] = 1
    f = check_data(x, labels).by_id("data.imbalance")
    assert f.evidence["output"] == 1 and f.evidence["counts"] == [580, 20] and f.change is None
    mild = np.repeat([0, 1], [450, 150])  # 3:1 is worth knowing, not a warning
    assert check_data(x, mild).by_id("data.imbalance").severity == "info"


def windows(series, length, stride=1):
    return np.stack([series[i : i + length] for i in range(0, len(series) - length + 1, stride)])


def test_stride_one_windows_split_at_random_leak():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(2000, 3)), axis=0).astype(np.float32)
    w = windows(series, 24)
    y = (w[:, -1, 0] > w[:, 0, 0]).astype(int)
    order = rng.permutation(len(w))
    train, val = order[:1500], order[1500:]
    f = fl.diagnose(w[train], y[train], validation_data=(w[val], y[val])).by_id("data.leakage")
    assert f.severity == "error" and f.change is None
    assert f.evidence["fraction"] > 0.9
    assert f.evidence["chance_fraction"] == 0.0


def test_windows_split_by_time_with_a_gap_do_not_leak():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(2000, 3)), axis=0).astype(np.float32)
    w = windows(series, 24)
    y = (w[:, -1, 0] > w[:, 0, 0]).astype(int)
    train, val = slice(0, 1500), slice(1500 + 24, None)
    findings = fl.diagnose(w[train], y[train], validation_data=(w[val], y[val]))
    assert findings.by_id("data.leakage") is None


def test_exact_duplicates_are_counted_and_discrete_data_is_not_leakage():
    x, y = clean(n=500)
    xv, yv = clean(n=200, seed=4)
    xv[:10] = x[:10]
    f = check_data(x, y, validation_data=(xv, yv)).by_id("data.leakage")
    assert f.evidence["equal_to_training"] == 10 and f.evidence["fraction"] == pytest.approx(0.05)
    assert f.severity == "warning"
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(600, 12, 1)).astype(np.float32)  # runs of 0/1 repeat by chance
    labels = rng.integers(0, 2, size=600)
    assert check_data(bits, labels, validation_split=0.3).by_id("data.leakage") is None


def test_leakage_scales_to_ten_thousand_sequences():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 100, 10)).astype(np.float32)
    xv = rng.normal(size=(1_000, 100, 10)).astype(np.float32)
    xv[:50, :60] = x[100:150, 30:90]  # 60 steps copied from training sequences, at another offset
    counts = leakage_counts(x, np.ones(x.shape[:2], bool), xv, np.ones(xv.shape[:2], bool))
    assert counts["overlapping"] == 50 and counts["equal_to_training"] == 0


def test_label_shift_validation_ninety_percent_positive_against_fifty():
    rng = np.random.default_rng(0)
    x, _ = clean(n=600)
    y = rng.permutation(np.repeat([0, 1], 300))
    xv, _ = clean(n=200, seed=7)
    yv = np.repeat([1, 0], [180, 20])
    f = fl.diagnose(x, y, validation_data=(xv, yv)).by_id("data.label_shift")
    assert f.severity == "warning"
    assert f.evidence["tvd"] == pytest.approx(0.4)
    assert f.evidence["train"] == [0.5, 0.5] and f.evidence["validation"] == [0.1, 0.9]
    assert f.evidence["p"] < 1e-10


def test_label_shift_from_sorted_rows_names_validation_split():
    x, _ = clean(n=400)
    y = np.sort(np.random.default_rng(0).integers(0, 3, 400))
    f = check_data(x, y, validation_split=0.25).by_id("data.label_shift")
    assert f.evidence["split"] == "validation_split" and "last rows" in f.recommendation


def test_regression_target_shift():
    x, _ = clean(n=400)
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    y[300:] += 2.0
    f = check_data(x, y, validation_split=0.25).by_id("data.label_shift")
    assert f is not None and f.evidence["ks"] > 0.5
    assert check_data(x, rng.normal(size=400), validation_split=0.25).by_id("data.label_shift") is None


def test_short_and_ragged_sequences():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(1, 3, 30), rng.integers(5, 200, 70)])
    x = [rng.normal(size=(n, 2)).astype(np.float32) for n in lengths]
    y = rng.integers(0, 2, size=100)
    f = fl.diagnose(x, y).by_id("data.short_or_ragged")
    assert f.severity == "warning"
    assert f.evidence["short_share"] == pytest.approx(0.3)
    assert f.evidence["min"] >= 1 and f.evidence["max"] == lengths.max()
    fixed = [rng.normal(size=(20, 2)) for _ in range(100)]
    assert fl.diagnose(fixed, y).by_id("data.short_or_ragged") is None


def test_data_shapes_diagnose_accepts():
    x, y = clean(n=200)
    x[:, :, 0] *= 1e4
    loaded = LoadedData(x, y, None, None, "d.npz", "npz", "0" * 64, "test")
    for data in ((x, y), {"x": x, "y": y}, loaded):
        assert fl.diagnose(data).ids() == ["data.unscaled"]


def test_bad_arguments_are_value_errors_naming_them():
    x, y = clean(n=50)
    with pytest.raises(ValueError, match="colour"):
        fl.diagnose(x, y, colour=1)
    with pytest.raises(ValueError, match="expected a SweepResult"):
        fl.diagnose("data.csv")
    with pytest.raises(ValueError, match="validation_split"):
        fl.diagnose(x, y, validation_split=1.5)
    with pytest.raises(ValueError, match="y must be"):
        fl.diagnose(x, y[:10])
    with pytest.raises(ValueError, match="attach"):
        fl.diagnose(x, y, attach=True)
