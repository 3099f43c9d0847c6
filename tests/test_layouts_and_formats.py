"""Data as aeon and other libraries hand it over (issue 25, items 7, 9 and 10's file formats).

Each case is one that trained the wrong problem, or failed to read, on the code before:
aeon's channels-first arrays, zero padding with no lengths, the `.npz` key names people
use, a `.npy` pair as validation data, `.arff` files, and a CSV passed as `.npy` labels.
The data is aeon's own (GunPoint, BasicMotions, JapaneseVowels ship with it).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.data._input_checks import ZeroPaddingWarning, likely_transposed, zero_padding
from fastlstm.data._prepare import prepare_data
from fastlstm.data._readers import DataFileError, read_data, with_validation_file

datasets = pytest.importorskip("aeon.datasets")
AEON_DATA = Path(datasets.__file__).parent / "data"


@pytest.fixture(scope="module")
def gunpoint():
    """GunPoint TRAIN as aeon gives it: x (50, 1, 150) channels first, labels 0/1."""
    x, y = datasets.load_gunpoint(split="train")
    return x.astype(np.float32), y.astype(int) - 1


@pytest.fixture(scope="module")
def basic_motions():
    """BasicMotions TRAIN: x (40, 6, 100) channels first, four activities coded 0..3."""
    x, y = datasets.load_basic_motions(split="train")
    return x.astype(np.float32), np.unique(y, return_inverse=True)[1]


@pytest.fixture(scope="module")
def vowels():
    """JapaneseVowels TRAIN: a list of (12, length_i) arrays (7..26 steps), labels 0..8."""
    x, y = datasets.load_japanese_vowels(split="train")
    return x, y.astype(int) - 1


def padded(sequences):
    """The ragged (12, t_i) sequences zero-padded at the end to one (n, t_max, 12) array."""
    t_max = max(s.shape[1] for s in sequences)
    out = np.zeros((len(sequences), t_max, 12), np.float32)
    for i, s in enumerate(sequences):
        out[i, : s.shape[1]] = s.T
    return out


def never_trained(monkeypatch):
    """Make any training a test failure: refusals must come before anything compiles."""

    def fail(*args, **kwargs):
        raise AssertionError("training started; the data should have been refused first")

    patch_train(monkeypatch, fail)


# --------------------------------------------------------------------------- item 7: layouts


def test_gunpoint_channels_first_is_refused_before_any_compile(gunpoint, monkeypatch):
    never_trained(monkeypatch)
    x, y = gunpoint
    with pytest.raises(ValueError) as info:
        fl.sweep(x, y, seeds=2, epochs=1, verbose=0)
    text = str(info.value)
    assert "\n" not in text and text.startswith("x has shape (50, 1, 150)")
    assert "x.transpose(0, 2, 1)" in text and "--set data.layout=channels_first" in text


def test_channels_first_layout_reads_gunpoint_as_150_steps(gunpoint):
    x, y = gunpoint
    ds = prepare_data(x, y, layout="channels_first", validation_data=(x[:10], y[:10]))
    assert (ds.timesteps, ds.features) == (150, 1) and ds.val.x.shape == (10, 150, 1)
    np.testing.assert_array_equal(ds.train.x, x.transpose(0, 2, 1))


@pytest.mark.slow
def test_sweep_trains_channels_first_data_with_the_layout(gunpoint):
    x, y = gunpoint
    result = fl.sweep(x[:16, :, :20], y[:16], layout="channels_first", seeds=1, epochs=1, batch_size=8, verbose=0)
    assert result.history["loss"].shape == (1, 1) and np.isfinite(result.history["loss"]).all()


def test_basic_motions_is_refused_raw_and_trains_transposed(basic_motions):
    x, y = basic_motions
    assert x.shape == (40, 6, 100) and likely_transposed(x.shape)
    with pytest.raises(ValueError, match=r"x has shape \(40, 6, 100\)"):
        prepare_data(x, y)
    ds = prepare_data(x.transpose(0, 2, 1), y)  # the real multivariate layout: 100 steps x 6 features
    assert (ds.timesteps, ds.features) == (100, 6)
    assert (prepare_data(x, y, layout="channels_first").train.x == ds.train.x).all()


def test_a_short_sequence_of_many_features_trains_when_said_so():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4, 64)).astype(np.float32), rng.integers(0, 2, 20)
    with pytest.raises(ValueError, match="layout='steps_first'"):
        prepare_data(x, y)
    ds = prepare_data(x, y, layout="steps_first")
    assert (ds.timesteps, ds.features) == (4, 64)


@pytest.mark.slow
def test_a_model_trained_steps_first_predicts_on_the_same_shape():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 2, 40)).astype(np.float32), rng.integers(0, 2, 16)
    result = fl.sweep(x, y, layout="steps_first", seeds=1, epochs=1, batch_size=8, verbose=0)
    assert result.predict(x).shape == (1, 16, 1)  # predict checks x against the model, not the heuristic


def test_aeon_ragged_channels_first_sequences_pad_with_the_layout(vowels):
    x, y = vowels
    with pytest.raises(ValueError, match="layout='channels_first'"):
        prepare_data(x, y)  # each (12, t_i) read as t_i features: "different feature counts"
    ds = prepare_data(x, y, layout="channels_first")
    longest = max(s.shape[1] for s in x)
    assert (ds.timesteps, ds.features) == (longest, 12) and ds.train.mask is not None
    assert ds.train.mask.sum(axis=1).tolist() == [s.shape[1] for s in x]


def test_layout_option_is_checked():
    with pytest.raises(ValueError, match=r"layout must be one of \['steps_first', 'channels_first'\]"):
        prepare_data(np.zeros((4, 3, 2)), np.zeros(4), layout="NCL")


@pytest.mark.slow
def test_cli_refuses_a_channels_first_npz_and_trains_it_with_layout(gunpoint, tmp_path, capsys):
    x, y = gunpoint
    path = tmp_path / "gunpoint.npz"
    np.savez(path, x=x[:24, :, :30], y=y[:24])
    out = tmp_path / "run"
    args = ["sweep", "--data", str(path), "--seeds", "2", "--epochs", "1", "--quiet", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gunpoint.npz" in err and "--layout channels_first" in err, err
    assert main([*args, "--layout", "channels_first"]) == 0
    assert "24 sequences x 30 steps x 1 feature" in capsys.readouterr().out
    assert 'layout = "channels_first"' in (out / "config.toml").read_text()


# --------------------------------------------------------------------------- item 9: zero padding


def test_zero_padded_vowels_warn_once_and_point_at_lengths(vowels):
    x, y = vowels
    with pytest.warns(ZeroPaddingWarning, match=r"trailing all-zero steps.*lengths.*mask_value=0\.0") as caught:
        prepare_data(padded(x), y)
    assert len([w for w in caught if issubclass(w.category, ZeroPaddingWarning)]) == 1


@pytest.mark.parametrize("how", ["list", "mask_value", "lengths"])
def test_zero_padding_that_is_marked_does_not_warn(vowels, how, tmp_path):
    x, y = vowels
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZeroPaddingWarning)
        if how == "list":
            prepare_data([s.T for s in x], y)
        elif how == "mask_value":
            prepare_data(padded(x), y, mask_value=0.0)
        else:
            path = tmp_path / "vowels.npz"
            np.savez(path, x=padded(x), y=y, lengths=np.array([s.shape[1] for s in x]))
            prepare_data(**read_data(path).fit_arguments())


def test_real_data_and_sparse_data_do_not_look_padded(gunpoint, basic_motions):
    rng = np.random.default_rng(3)
    sparse = rng.normal(size=(200, 30, 2)).astype(np.float32)
    sparse[rng.random((200, 30)) < 0.3] = 0.0  # all-zero steps anywhere, not only at the end
    assert zero_padding(sparse) is None
    assert zero_padding(gunpoint[0].transpose(0, 2, 1)) is None
    assert zero_padding(basic_motions[0].transpose(0, 2, 1)) is None
    pre = np.flip(padded(datasets.load_japanese_vowels(split="train")[0]), axis=1)  # pad_sequences' default
    assert zero_padding(pre) == "leading"


@pytest.mark.slow
def test_cli_prints_the_zero_padding_warning(vowels, tmp_path):
    x, y = vowels
    path = tmp_path / "vowels.npz"
    np.savez(path, x=padded(x[:60]), y=y[:60])
    args = ["sweep", "--data", str(path), "--seeds", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")]
    done = subprocess.run(  # a fresh process: pytest would record the warning instead of printing it
        [sys.executable, "-m", "fastlstm.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "ZeroPadding" in line or "all-zero" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: x: 47 of 48 sequences have trailing all-zero"), warned
    assert "--set model.mask_value=0.0" in warned[0]


# --------------------------------------------------------------------------- item 10: file formats


@pytest.mark.parametrize(
    "names",
    [
        ("X_train", "y_train", "X_test", "y_test"),
        ("x_train", "y_train", "x_test", "y_test"),
        ("X", "y", None, None),
        ("data", "labels", None, None),
    ],
)
def test_npz_keys_people_use_are_read_without_asking(gunpoint, tmp_path, names):
    x, y = gunpoint
    x = x.transpose(0, 2, 1)
    arrays = {names[0]: x[:40], names[1]: y[:40]}
    if names[2] is not None:
        arrays.update({names[2]: x[40:], names[3]: y[40:]})
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    loaded = read_data(path)
    np.testing.assert_array_equal(loaded.x, x[:40])
    if names[2] is None:
        assert loaded.validation_data is None
    else:
        np.testing.assert_array_equal(loaded.validation_data[0], x[40:])
        assert f"{names[2]} -> x_val" in loaded.description


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"arr_0": 1, "arr_1": 2}, r"cannot tell what key 'arr_0' holds \(keys found: \['arr_0', 'arr_1'\]\)"),
        ({"X": 1, "x": 2, "y": 3}, r"keys 'X' and 'x' both read as x"),
    ],
)
def test_npz_keys_it_cannot_tell_are_listed(tmp_path, arrays, match):
    path = tmp_path / "d.npz"
    np.savez(path, **{k: np.zeros((3, 4)) + v for k, v in arrays.items()})
    with pytest.raises(DataFileError, match=match) as info:
        read_data(path)
    assert "\n" not in str(info.value)


def test_npz_channels_first_with_lengths_cuts_the_steps(vowels, tmp_path):
    x, y = vowels
    channels_first = padded(x).transpose(0, 2, 1)  # (n, 12, 29)
    path = tmp_path / "d.npz"
    np.savez(path, x=channels_first, y=y, lengths=np.array([s.shape[1] for s in x]))
    loaded = read_data(path, layout="channels_first")
    assert [s.shape for s in loaded.x[:3]] == [s.T.shape for s in x[:3]]
    np.testing.assert_array_equal(loaded.x[5], x[5].T.astype(np.float32))


def test_npy_pair_as_validation_data(gunpoint, tmp_path):
    x, y = gunpoint
    x = x.transpose(0, 2, 1)
    for name, array in {"x": x[:40], "y": y[:40], "x_test": x[40:], "y_test": y[40:]}.items():
        np.save(tmp_path / f"{name}.npy", array)
    train = read_data(tmp_path / "x.npy", labels=tmp_path / "y.npy")
    both = with_validation_file(train, tmp_path / "x_test.npy", validation_labels=tmp_path / "y_test.npy")
    np.testing.assert_array_equal(both.validation_data[0], x[40:])
    np.testing.assert_array_equal(both.validation_data[1], y[40:])
    with pytest.raises(ValueError, match=r"--validation-labels.*none was given"):
        with_validation_file(train, tmp_path / "x_test.npy")


@pytest.mark.slow
def test_cli_npy_pair_as_validation_data(gunpoint, tmp_path, capsys):
    x, y = gunpoint
    x = x.transpose(0, 2, 1)[:, :30]
    for name, array in {"x": x[:30], "y": y[:30], "x_test": x[30:], "y_test": y[30:]}.items():
        np.save(tmp_path / f"{name}.npy", array)
    args = ["sweep", "--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    args += ["--validation-data", str(tmp_path / "x_test.npy"), "--validation-labels", str(tmp_path / "y_test.npy")]
    args += ["--seeds", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    assert "validation x_test.npy + y_test.npy: 20 sequences" in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["GunPoint", "BasicMotions"])
def test_arff_reads_as_its_ts_twin(problem):
    arff = read_data(AEON_DATA / problem / f"{problem}_TRAIN.arff")
    ts = read_data(AEON_DATA / problem / f"{problem}_TRAIN.ts")
    assert arff.format == "arff" and arff.x.dtype == np.float32
    np.testing.assert_array_equal(arff.x, ts.x)
    np.testing.assert_array_equal(arff.y, ts.y)
    assert arff.class_names == ts.class_names


@pytest.mark.slow
def test_arff_train_with_a_ts_test_file_in_the_cli(tmp_path, capsys):
    folder = AEON_DATA / "GunPoint"
    args = ["sweep", "--data", str(folder / "GunPoint_TRAIN.arff"), "--validation-data"]
    args += [str(folder / "GunPoint_TEST.ts"), "--seeds", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    assert "GunPoint_TRAIN.arff: 50 sequences x 150 steps x 1 feature" in capsys.readouterr().out


def test_csv_labels_for_a_npy_x_say_a_npy_is_expected(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 5, 1), np.float32))
    (tmp_path / "y.csv").write_text("label\n0\n1\n0\n1\n")
    with pytest.raises(DataFileError, match=r"y\.csv: labels \(--labels\) must be a \.npy file") as info:
        read_data(tmp_path / "x.npy", labels=tmp_path / "y.csv")
    assert "unpickling" not in str(info.value) and "a .csv file" in str(info.value)


def test_channels_first_layout_is_refused_for_a_file_that_has_its_own(tmp_path):
    with pytest.raises(ValueError, match=r"layout 'channels_first' \(--layout\) applies to \.npz/\.npy"):
        read_data(AEON_DATA / "GunPoint" / "GunPoint_TRAIN.ts", layout="channels_first")
