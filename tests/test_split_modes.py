"""`split`: which rows `validation_split` holds out - Keras's last rows, a shuffled draw, or
a draw stratified by class (scikit-learn's StratifiedShuffleSplit as the oracle) - on the
UCR/UEA problems aeon ships, some of which (BasicMotions) are sorted by class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.analysis._doctor import doctor
from fastlstm.cli import main
from fastlstm.data._prepare import prepare_data
from fastlstm.data._splits import split_rows
from fastlstm.diagnose import check_data

aeon_datasets = pytest.importorskip("aeon.datasets")
DATA = Path(aeon_datasets.__file__).parent / "data"
BASIC_MOTIONS = DATA / "BasicMotions" / "BasicMotions_TRAIN.ts"


def ucr(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x as (n, steps, channels) float32, labels coded 0..k-1 in file order, the class names)."""
    x, y = aeon_datasets.load_from_ts_file(str(DATA / name / f"{name}_TRAIN.ts"))
    names, codes = np.unique(y, return_inverse=True)
    return np.transpose(x, (0, 2, 1)).astype(np.float32), codes, names


def sklearn_counts(y: np.ndarray, held: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (training, validation) counts of StratifiedShuffleSplit with `held` test rows."""
    model_selection = pytest.importorskip("sklearn.model_selection")
    splitter = model_selection.StratifiedShuffleSplit(n_splits=1, test_size=held, random_state=0)
    train, test = next(splitter.split(np.zeros((len(y), 1)), y))
    k = int(y.max()) + 1
    return np.bincount(y[train], minlength=k), np.bincount(y[test], minlength=k)


# --- the rows each mode chooses -------------------------------------------------------


@pytest.mark.parametrize("name", ["BasicMotions", "GunPoint", "ItalyPowerDemand"])
def test_stratified_counts_per_class_equal_scikit_learns(name):
    _, y, _ = ucr(name)
    train, val = split_rows(len(y), 0.2, "stratified", 0, y)
    want_train, want_val = sklearn_counts(y, len(val))
    k = int(y.max()) + 1
    assert np.bincount(y[train], minlength=k).tolist() == want_train.tolist()
    assert np.bincount(y[val], minlength=k).tolist() == want_val.tolist()


def test_stratified_counts_within_one_row_of_scikit_learns_on_random_labels():
    rng = np.random.default_rng(1)
    for _ in range(200):
        counts = rng.integers(2, 60, int(rng.integers(2, 7)))  # StratifiedShuffleSplit needs 2 rows a class
        y = rng.permutation(np.repeat(np.arange(counts.size), counts))
        fraction = float(rng.uniform(0.1, 0.5))
        train, val = split_rows(len(y), fraction, "stratified", int(rng.integers(0, 100)), y)
        if min(len(train), len(val)) < counts.size:
            continue  # the oracle refuses a part smaller than the class count
        want_train, want_val = sklearn_counts(y, len(val))
        got_train, got_val = np.bincount(y[train], minlength=y.max() + 1), np.bincount(y[val], minlength=y.max() + 1)
        assert np.abs(got_train - want_train).max() <= 1 and np.abs(got_val - want_val).max() <= 1
        assert len(train) + len(val) == len(y) and not set(train) & set(val)


@pytest.mark.parametrize("mode", ["last", "shuffled", "stratified"])
def test_every_mode_holds_out_keras_count_and_covers_every_row_once(mode):
    _, y, _ = ucr("ItalyPowerDemand")  # 67 rows: 67 - floor(67 * 0.8) = 14 held out
    train, val = split_rows(len(y), 0.2, mode, 0, y)
    assert len(val) == 14 and len(train) == 53
    assert sorted([*train, *val]) == list(range(67))
    assert list(train) == sorted(train) and list(val) == sorted(val)  # each part in file order


def test_last_is_keras_last_rows():
    train, val = split_rows(10, 0.25, "last")
    assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9]  # floor(10 * 0.75) = 7


@pytest.mark.parametrize("mode", ["shuffled", "stratified"])
def test_the_same_split_seed_gives_the_same_rows_and_another_seed_others(mode):
    _, y, _ = ucr("GunPoint")
    first = split_rows(len(y), 0.2, mode, 0, y)
    again = split_rows(len(y), 0.2, mode, 0, y)
    other = split_rows(len(y), 0.2, mode, 1, y)
    assert first[1].tolist() == again[1].tolist()
    assert first[1].tolist() != other[1].tolist()


def test_stratified_gives_every_class_with_two_rows_a_training_row():
    # 100 rows of class 0, 2 of class 1, 80% held out: StratifiedShuffleSplit's allocation
    # gives class 1 no training row (20 * 2 / 102 = 0.39 loses to 19.6's remainder)
    y = np.repeat([0, 1], [100, 2])
    want_train, _ = sklearn_counts(y, 102 - 20)
    assert want_train[1] == 0  # the oracle's shortfall this guards against
    train, val = split_rows(len(y), 0.8, "stratified", 0, y)
    assert np.bincount(y[train], minlength=2).tolist() == [19, 1] and len(val) == 82


def test_stratified_by_one_hot_rows_and_by_class_names():
    _, codes, names = ucr("BasicMotions")
    onehot = np.eye(4, dtype=np.float32)[codes]
    by_code = split_rows(len(codes), 0.2, "stratified", 0, codes)
    assert split_rows(len(codes), 0.2, "stratified", 0, onehot)[1].tolist() == by_code[1].tolist()
    assert split_rows(len(codes), 0.2, "stratified", 0, names[codes])[1].tolist() == by_code[1].tolist()


# --- prepare_data and fl.sweep -------------------------------------------------------


def test_class_sorted_basic_motions_last_rows_are_one_class_and_stratified_keeps_every_class():
    x, y, _ = ucr("BasicMotions")
    last = prepare_data(x, y, validation_split=0.2)
    assert np.unique(last.val.y).tolist() == [0]  # the 8 last rows: all badminton
    ds = prepare_data(x, y, validation_split=0.2, split="stratified")
    assert np.bincount(ds.train.y).tolist() == [8, 8, 8, 8]
    assert np.bincount(ds.val.y).tolist() == [2, 2, 2, 2]
    train, val = split_rows(len(y), 0.2, "stratified", 0, y)
    np.testing.assert_array_equal(ds.val.x, x[val])
    np.testing.assert_array_equal(ds.train.x, x[train])


@pytest.mark.slow
def test_every_member_is_validated_on_the_same_stratified_rows():
    x, y, _ = ucr("GunPoint")
    result = fl.sweep(
        x, y, model=fl.ModelSpec(units=4), seeds=3, epochs=2, validation_split=0.2, split="stratified", verbose=0
    )
    _, val = split_rows(len(y), 0.2, "stratified", 0, y)
    scored = result.evaluate(x[val], y[val])
    np.testing.assert_allclose(scored["accuracy"], result.history["val_accuracy"][:, -1], atol=1e-6)
    np.testing.assert_allclose(scored["loss"], result.history["val_loss"][:, -1], rtol=1e-4)
    assert result.meta["validation"] == {
        "source": "validation_split",
        "split": "stratified",
        "fraction": 0.2,
        "split_seed": 0,
        "rows": 10,
    }
    assert result.spec.split == "stratified" and result.spec.split_seed == 0


def test_shuffled_split_seed_changes_the_rows_not_the_members_seeds():
    x, y, _ = ucr("ItalyPowerDemand")
    spec = fl.SweepSpec.from_dict({"validation_split": 0.2, "split": "shuffled", "split_seed": 3, "seeds": 2})
    from fastlstm.api._sweep import load_data

    one, other = load_data(spec, x, y), load_data(spec.replace(seeds=[5, 6, 7]), x, y)
    np.testing.assert_array_equal(one.val.x, other.val.x)
    _, val = split_rows(len(y), 0.2, "shuffled", 3, y)
    np.testing.assert_array_equal(one.val.x, x[val])


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"split": "stratified", "validation_split": 0.2, "model": fl.ModelSpec(task="regression")}, "regression"),
        ({"split": "stratified"}, "validation_split is 0"),
        ({"split": "random", "validation_split": 0.2}, "split"),
        ({"split": "shuffled", "split_seed": -1, "validation_split": 0.2}, "split_seed"),
    ],
)
def test_split_errors_name_the_argument_before_anything_compiles(kwargs, words):
    x, y, _ = ucr("ItalyPowerDemand")
    with pytest.raises(ValueError, match="split") as err:
        fl.sweep(x, y, seeds=2, epochs=1, verbose=0, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_stratified_refuses_a_float_target_and_multi_label_rows():
    x, y, _ = ucr("GunPoint")
    target = x[:, -1, 0].astype(np.float64)  # a quantity: the last value of each series
    with pytest.raises(ValueError, match=r"split='stratified' needs class labels.*regression"):
        prepare_data(x, target, validation_split=0.2, split="stratified")
    multi = np.random.default_rng(0).integers(0, 2, (len(y), 3))
    with pytest.raises(ValueError, match=r"split='stratified'.*multi-label"):
        prepare_data(x, multi, validation_split=0.2, split="stratified")
    assert len(prepare_data(x, multi, validation_split=0.2, split="shuffled").val) == 10


# --- the spec, the CLI, the doctor ----------------------------------------------------


def test_spec_records_the_split_and_its_seed_and_leaves_keras_default_out():
    spec = fl.SweepSpec().with_overrides(["split=stratified", "split_seed=4"])
    again = fl.SweepSpec.from_toml(spec.to_toml())
    assert (again.split, again.split_seed) == ("stratified", 4)
    assert "split" not in fl.SweepSpec().to_dict()  # resumed runs of older specs keep their identity
    with pytest.raises(Exception, match="split"):
        fl.SweepSpec().with_overrides(["split=stratify"])


@pytest.mark.slow
def test_cli_sweep_warns_when_the_last_rows_hold_one_class(tmp_path, capsys):
    args = ["sweep", "--data", str(BASIC_MOTIONS), "--seeds", "2", "--epochs", "1", "--units", "4", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    text = capsys.readouterr().out
    assert "validation: last 20% of rows (8)" in text
    (line,) = [t for t in text.splitlines() if "validation rows are class" in t]
    assert "all 8 validation rows are class 'badminton'" in line and "--split stratified" in line
    assert main([*args, "--split", "stratified", "--out", str(tmp_path / "b")]) == 0
    text = capsys.readouterr().out
    assert "validation: stratified 20% of rows (8), split seed 0" in text
    assert "validation rows are class" not in text
    result = fl.load(tmp_path / "b")
    assert result.meta["validation"]["split"] == "stratified" and result.spec.split == "stratified"
    assert 'split = "stratified"' in (tmp_path / "b" / "config.toml").read_text()


def test_cli_refuses_a_shuffled_split_of_a_windowed_series(tmp_path, capsys):
    path = tmp_path / "airline.csv"
    values = 100 + np.arange(60) * 2.0 + 10 * np.sin(np.arange(60))
    path.write_text("Month,Passengers\n" + "".join(f"{i},{v:.1f}\n" for i, v in enumerate(values)))
    args = ["sweep", "--data", str(path), "--window", "12", "--horizon", "1", "--target", "Passengers"]
    assert main([*args, "--split", "shuffled", "--seeds", "2", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--split" in err and "--window" in err and "leak" in err


def test_label_shift_on_class_sorted_rows_changes_the_split_to_stratified():
    x, y, _ = ucr("BasicMotions")
    found = check_data(x, y, validation_split=0.2)
    shift = found.by_id("data.label_shift")
    assert shift.severity == "error" and shift.change == {"split": "stratified"}  # one class validates
    assert "split='stratified'" in shift.recommendation
    assert check_data(x, y, validation_split=0.2, split="stratified").by_id("data.label_shift") is None


def test_label_shift_of_a_regression_target_never_advises_stratifying():
    x, _, _ = ucr("GunPoint")
    target = np.sort(x[:, -1, 0].astype(np.float64))  # a quantity, rows sorted by it
    shift = check_data(x, target, validation_split=0.2).by_id("data.label_shift")
    assert shift is not None and shift.change is None
    assert "stratif" not in shift.recommendation.lower() and "stratif" not in shift.title.lower()


def test_classes_only_in_validation_get_the_stratified_split_as_their_change():
    x, y, _ = ucr("BasicMotions")
    found = check_data(x, y, validation_split=0.3)  # the last 12 rows: 2 walking, 10 badminton
    shift = found.by_id("data.label_shift")  # badminton has no training rows: the split's doing
    assert shift.severity == "error" and shift.change == {"split": "stratified"}


@pytest.mark.slow
def test_doctor_verifies_the_stratified_split_on_basic_motions():
    x, y, _ = ucr("BasicMotions")
    spec = fl.SweepSpec.from_dict({"model": {"units": 4}, "epochs": 2, "validation_split": 0.2, "learning_rate": 1e-2})
    found = doctor(spec, x, y, seeds=2)
    verification = found.verification
    assert verification["finding"] == "data.label_shift" and verification["change"] == {"split": "stratified"}
    assert "different" in verification["note"]
    assert found.after.spec.split == "stratified"
    assert found.after.meta["validation"]["split"] == "stratified"


def test_the_data_checks_read_class_names_as_fl_sweep_codes_them():
    x, y, names = ucr("BasicMotions")  # a .ts file's labels are names: "standing", "badminton"
    shift = check_data(x, names[y], validation_split=0.2).by_id("data.label_shift")
    assert shift.change == {"split": "stratified"}
    assert shift.evidence["validation"] == [1.0, 0.0, 0.0, 0.0]  # badminton, coded 0 as fl.sweep codes it
