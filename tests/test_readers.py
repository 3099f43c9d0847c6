"""fastlstm.data._readers: every format round-trips, and every bad file is one clear line."""

import hashlib
import sys

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.data import DataFileError, LoadedData, read_data


def one_line_error(path, match, named=None, **kwargs):
    """read_data fails with a DataFileError whose one line names the file (or `named`) and matches."""
    with pytest.raises(DataFileError, match=match) as info:
        read_data(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{named or path}: ")
    return message


@pytest.fixture
def pd():
    return pytest.importorskip("pandas")


def long_frame(pd, sequences, labels, features=("f0", "f1")):
    """A long-format table: one row per (sequence, step), steps written in reverse."""
    rows = []
    for seq_id, (seq, label) in enumerate(zip(sequences, labels)):
        for step in reversed(range(len(seq))):  # the reader must sort by step
            rows.append({"id": f"s{seq_id}", "step": step, **dict(zip(features, seq[step])), "label": label})
    return pd.DataFrame(rows)


# --- .npz and .npy ----------------------------------------------------------------


def test_npz_round_trip_with_validation_and_weights(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4, 3)).astype(np.float32), np.arange(6) % 2
    x_val, y_val, w = rng.normal(size=(2, 4, 3)).astype(np.float32), np.array([1, 0]), np.linspace(0.5, 1, 6)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y, x_val=x_val, y_val=y_val, sample_weight=w)
    data = read_data(path)
    assert isinstance(data, LoadedData) and data.format == "npz" and data.path == str(path)
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.validation_data[0], x_val)
    np.testing.assert_array_equal(data.validation_data[1], y_val)
    np.testing.assert_array_equal(data.sample_weight, w)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (
        data.description
        == "data.npz: 6 sequences x 4 steps x 3 features; validation 2 sequences x 4 steps x 3 features"
    )
    assert data.class_names is None
    assert set(data.fit_arguments()) == {"x", "y", "validation_data", "sample_weight"}


def test_npz_two_dimensional_x_is_one_feature(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.arange(12.0).reshape(3, 4), y=np.zeros(3))
    data = read_data(path)
    assert data.x.shape == (3, 4, 1) and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x[:, :, 0], np.arange(12.0).reshape(3, 4))


def test_npz_lengths_give_the_unpadded_sequences(tmp_path):
    padded = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    path = tmp_path / "ragged.npz"
    np.savez(path, x=padded, y=np.array([0, 1, 0]), lengths=np.array([4, 2, 3]))
    data = read_data(path)
    assert isinstance(data.x, list) and [s.shape for s in data.x] == [(4, 2), (2, 2), (3, 2)]
    for seq, n, full in zip(data.x, [4, 2, 3], padded):
        np.testing.assert_array_equal(seq, full[:n])
    assert "3 sequences of 2-4 steps x 2 features" in data.description

    np.savez(path, x=padded, y=np.array([0, 1, 0]), lengths=np.array([4, 4, 4]))
    assert isinstance(read_data(path).x, np.ndarray)  # all full length: one array


def test_npz_string_labels_become_codes_by_sorted_name(tmp_path):
    path = tmp_path / "d.npz"
    x = np.zeros((4, 2, 1))
    np.savez(path, x=x, y=np.array(["dog", "cat", "emu", "cat"]), x_val=x[:2], y_val=np.array(["emu", "dog"]))
    data = read_data(path)
    assert data.class_names == ("cat", "dog", "emu")
    np.testing.assert_array_equal(data.y, [1, 0, 2, 0])
    np.testing.assert_array_equal(data.validation_data[1], [2, 1])
    assert "3 classes (cat, dog, emu)" in data.description


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        (
            {"x": np.zeros((2, 3)), "y": np.zeros(2), "X_train": np.zeros(2)},
            r"keys 'X_train' and 'x' both read as x \(keys found: \['X_train', 'x', 'y'\]\)",
        ),
        ({"x": np.zeros((2, 3))}, r"missing keys \['y'\]; found \['x'\]"),
        ({"x": np.zeros((2, 3)), "y": np.zeros(2), "x_val": np.zeros((1, 3))}, "x_val and y_val come together"),
        ({"x": np.zeros((2, 3)), "y": np.zeros(2), "lengths": np.array([1, 4])}, r"lengths\[1\] = 4 is outside 1..3"),
        ({"x": np.zeros((2, 3)), "y": np.zeros(2), "lengths": np.array([1.0, 2.0])}, "lengths must be 2 integers"),
        ({"x": np.array(["a", "b"]), "y": np.zeros(2)}, "x must be numeric"),
        ({"x": np.zeros((2, 3, 1, 1)), "y": np.zeros(2)}, r"x must be \(samples, timesteps\[, features\]\)"),
    ],
)
def test_npz_malformed_archives_are_named(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    one_line_error(path, match)


def test_npz_object_array_says_save_ragged_as_lengths(tmp_path):
    path = tmp_path / "ragged.npz"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((2, 1)), np.zeros((3, 1))
    np.savez(path, x=ragged, y=np.zeros(2))
    one_line_error(path, "key 'x' holds an object array; save ragged data as x .* plus lengths")


def test_npz_that_is_not_an_archive(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("id,step\n1,2\n")
    one_line_error(path, "not a NumPy file")
    path = tmp_path / "cut.npz"
    np.savez(tmp_path / "whole.npz", x=np.zeros((2, 3)), y=np.zeros(2))
    path.write_bytes((tmp_path / "whole.npz").read_bytes()[:60])
    one_line_error(path, "not a readable NumPy file")


def test_npy_pair_round_trip_hashes_both_files_in_order(tmp_path):
    x, y = np.arange(24, dtype=np.float32).reshape(2, 4, 3), np.array([0.5, 1.5])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    data = read_data(tmp_path / "x.npy", labels=tmp_path / "y.npy")
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(data.y, y)
    both = (tmp_path / "x.npy").read_bytes() + (tmp_path / "y.npy").read_bytes()
    assert data.format == "npy" and data.sha256 == hashlib.sha256(both).hexdigest()
    assert data.description.startswith("x.npy + y.npy: 2 sequences x 4 steps x 3 features")


def test_npy_needs_labels_and_only_npy_takes_them(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"labels: a \.npy file holds x only"):
        read_data(tmp_path / "x.npy")
    one_line_error(tmp_path / "x.npy", "no such file", named=tmp_path / "y.npy", labels=tmp_path / "y.npy")
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3)), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"labels: only a \.npy x file"):
        read_data(tmp_path / "d.npz", labels=tmp_path / "x.npy")


# --- paths and formats --------------------------------------------------------------


def test_missing_file_and_unknown_suffix_and_format(tmp_path):
    one_line_error(tmp_path / "nope.npz", "no such file")
    one_line_error(tmp_path, "is not a file")
    odd = tmp_path / "data.txt"
    odd.write_text("x")
    one_line_error(odd, r"cannot tell the format from the suffix; expected one of \['.npz'")
    with pytest.raises(ValueError, match=r"format: unknown 'xlsx'; expected one of \['npz'"):
        read_data(odd, format="xlsx")


def test_format_overrides_the_suffix(tmp_path):
    path = tmp_path / "arrays.bin"
    with open(path, "wb") as handle:
        np.savez(handle, x=np.ones((2, 3, 1)), y=np.zeros(2))
    assert read_data(path, format="npz").x.shape == (2, 3, 1)


def test_validation_split_is_only_for_a_windowed_series(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 3)), y=np.zeros(4))
    with pytest.raises(ValueError, match="validation_split: read_data splits only a windowed series"):
        read_data(tmp_path / "d.npz", validation_split=0.25)


# --- long-format CSV / Parquet --------------------------------------------------------


def test_long_csv_round_trip_equal_lengths(tmp_path, pd):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    path = tmp_path / "long.csv"
    long_frame(pd, x, [2, 0, 1]).to_csv(path, index=False)
    data = read_data(path)
    assert data.format == "csv" and isinstance(data.x, np.ndarray)
    np.testing.assert_allclose(data.x, x, rtol=1e-6)  # sorted by step, ids in file order
    np.testing.assert_array_equal(data.y, [2, 0, 1])
    assert data.class_names is None
    assert data.description == (
        "long.csv: 3 sequences x 5 steps x 2 features; roles: id=id, time=step (numbers), label=label, features f0, f1"
    )


def test_long_parquet_round_trip_variable_lengths_and_string_labels(tmp_path, pd):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(2)
    x = [rng.normal(size=(n, 2)).astype(np.float32) for n in (4, 2, 5)]
    path = tmp_path / "long.parquet"
    long_frame(pd, x, ["walk", "run", "walk"]).to_parquet(path)
    data = read_data(path)
    assert data.format == "parquet" and isinstance(data.x, list)
    for got, want in zip(data.x, x):
        np.testing.assert_array_equal(got, want)
    assert data.class_names == ("run", "walk")
    np.testing.assert_array_equal(data.y, [1, 0, 1])


def test_long_csv_custom_columns_and_several_labels(tmp_path, pd):
    frame = pd.DataFrame(
        {"t": [0, 1, 0, 1], "patient": [7, 7, 3, 3], "hr": [60, 61, 80, 82], "a": [1, 1, 0, 0], "b": [0.5, 0.5, 2, 2]}
    )
    path = tmp_path / "custom.csv"
    frame.to_csv(path, index=False)
    data = read_data(path, id_column="patient", time_column="t", label_columns=("a", "b"))
    np.testing.assert_array_equal(data.x[:, :, 0], [[60, 61], [80, 82]])
    np.testing.assert_array_equal(data.y, [[1, 0.5], [0, 2]])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "id,time,date,f,label\na,0,0,1,0\n",
            r"columns 'time', 'date' could each be the time column; pass --time-column",
        ),
        ("id,step,f,label\na,0,1,0\na,1,2\n", "column 'label' has an empty or missing value in data row 2"),
        ("id,step,f,label\na,0,,0\n", "column 'f' has an empty or missing value in data row 1"),
        ("id,step,f,label\na,0,1,0,9\na,1,2,0\n", "not a readable csv file"),
        ("id,step,f,colour,label\na,0,1,red,0\n", "feature column 'colour' is not numeric"),
        ("id,step,f,label\na,0,1,0\nb,0,1,1\nb,0,2,1\n", "sequence id='b' has step=0 twice"),
        ("id,step,f,label\na,0,1,x\nb,0,1,y\nb,1,2,z\nc,0,1,w\nc,1,2,v\n", "the label changes within sequence id='b'"),
        ("id,step,label\na,0,1\n", "no feature columns besides 'id', 'step' and the labels"),
    ],
)
def test_long_csv_malformed_files_are_named(tmp_path, pd, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    one_line_error(path, match)


def test_missing_pandas_says_which_extra_installs_it(tmp_path, monkeypatch):
    path = tmp_path / "long.csv"
    path.write_text("id,step,f,label\na,0,1,0\n")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match=r"needs 'pandas'.*pip install 'fastlstm\[data\]'"):
        read_data(path)


# --- one series -> forecasting windows -----------------------------------------------


def test_series_windows_and_targets_are_exact(tmp_path, pd):
    rows = 12
    path = tmp_path / "series.csv"
    pd.DataFrame({"load": np.arange(rows, dtype=float), "temp": 100 + np.arange(rows)}).to_csv(path, index=False)
    data = read_data(path, window=3, horizon=2, target="load")
    n = rows - 3 - 2 + 1
    assert data.x.shape == (n, 3, 2) and data.y.shape == (n, 2) and data.validation_data is None
    for i in range(n):
        np.testing.assert_array_equal(data.x[i, :, 0], [i, i + 1, i + 2])  # rows i..i+W-1, every column
        np.testing.assert_array_equal(data.x[i, :, 1], [100 + i, 101 + i, 102 + i])
        np.testing.assert_array_equal(data.y[i], [i + 3, i + 4])  # the next H target values
    assert data.description == (
        "series.csv: 1 series of 12 steps x 2 features -> 8 windows of 3 steps, horizon 2, target 'load'; "
        "roles: time=file order, features load, temp"
    )


def test_series_validation_split_is_by_time_and_never_overlaps(tmp_path, pd):
    rows, window, horizon = 50, 4, 3
    path = tmp_path / "series.csv"
    pd.DataFrame({"v": np.arange(rows, dtype=float)}).to_csv(path, index=False)
    data = read_data(path, window=window, horizon=horizon, validation_split=0.2)
    split_at = 40  # floor(50 * 0.8): the last 10 rows are validation, as Keras takes the last rows
    x_val, y_val = data.validation_data
    assert data.x.max() < split_at and data.y.max() < split_at  # no training window sees a validation row
    assert x_val.min() >= split_at and y_val.min() >= split_at  # no validation target in a training window
    assert len(data.x) == split_at - window - horizon + 1 and len(x_val) == rows - split_at - window - horizon + 1
    np.testing.assert_array_equal(x_val[0, :, 0], [40, 41, 42, 43])
    np.testing.assert_array_equal(y_val[-1], [47, 48, 49])
    np.testing.assert_array_equal(data.y[-1], [37, 38, 39])
    assert "validation: last 10 steps -> 4 windows" in data.description


def test_series_time_column_is_dropped_and_its_order_checked(tmp_path, pd):
    path = tmp_path / "dated.csv"
    dates = pd.date_range("2024-01-01", periods=6, freq="D").strftime("%Y-%m-%d")
    pd.DataFrame({"date": dates, "v": np.arange(6.0)}).to_csv(path, index=False)
    data = read_data(path, window=2, time_column="date")
    assert data.x.shape == (4, 2, 1)  # the date is not a feature; horizon defaults to 1
    np.testing.assert_array_equal(data.y, [[2], [3], [4], [5]])
    np.testing.assert_array_equal(read_data(path, window=2).x, data.x)  # unnamed, a date is the time too

    pd.DataFrame({"date": dates[::-1], "v": np.arange(6.0)}).to_csv(path, index=False)
    one_line_error(path, "'date' does not increase at data row 2", window=2, time_column="date")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 8, "horizon": 3, "target": "v"}, r"window=8 \+ horizon=3 is longer than the series \(10 rows\)"),
        (
            {"window": 3, "horizon": 1, "target": "v", "validation_split": 0.2},
            r"longer than the validation part \(last 2 rows\)",
        ),
        ({"window": 2}, r"has several columns \(v, w\); pass --target NAME"),
        ({"window": 2, "target": "zz"}, r"--target 'zz' is not a column; the columns are v, w"),
    ],
)
def test_series_that_cannot_be_windowed(tmp_path, pd, kwargs, match):
    path = tmp_path / "s.csv"
    pd.DataFrame({"v": np.arange(10.0), "w": np.arange(10.0)}).to_csv(path, index=False)
    one_line_error(path, match, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 0}, "window must be an integer >= 1, got 0"),
        ({"window": 3, "horizon": 0}, "horizon must be an integer >= 1, got 0"),
        ({"window": 2.5}, "window must be an integer >= 1"),
        ({"horizon": 2}, r"horizon \(--horizon\): only forecasting samples .* pass window= as well \(--window N\)"),
        ({"target": "v"}, r"target \(--target\): only forecasting samples .* pass window= as well \(--window N\)"),
        ({"window": 3, "validation_split": 1.0}, r"validation_split must be a float in \[0, 1\)"),
    ],
)
def test_series_arguments_are_checked_before_reading(tmp_path, kwargs, match):
    path = tmp_path / "s.csv"
    path.write_text("v\n1\n2\n")
    with pytest.raises(ValueError, match=match):
        read_data(path, **kwargs)


def test_window_is_only_for_csv_or_parquet(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3)), y=np.zeros(2))
    with pytest.raises(
        ValueError, match=r"window \(--window\): forecasting windows are cut from a single-series CSV or Parquet"
    ):
        read_data(tmp_path / "d.npz", window=2)


# --- UEA/UCR .ts ------------------------------------------------------------------------


def write_ts(path, header, rows):
    path.write_text("\n".join([*header, "@data", *rows]) + "\n")
    return path


@pytest.fixture
def aeon():
    return pytest.importorskip("aeon")


def test_ts_equal_length_univariate_round_trip(tmp_path, aeon):
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 4
    labels = ["b", "a", "b", "c"]
    rows = [",".join(f"{v:.2f}" for v in series) + f":{label}" for series, label in zip(x, labels)]
    header = ["@problemName toy", "@timeStamps false", "@univariate true", "@classLabel true a b c"]
    data = read_data(write_ts(tmp_path / "toy_TRAIN.ts", header, rows))
    assert data.format == "ts" and data.x.shape == (4, 3, 1) and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x[:, :, 0], x)
    np.testing.assert_array_equal(data.y, [1, 0, 1, 2])
    assert data.class_names == ("a", "b", "c")
    assert data.description == "toy_TRAIN.ts: 4 sequences x 3 steps x 1 feature, 3 classes (a, b, c)"


def test_ts_multivariate_is_length_by_channels_and_classes_sort_as_numbers(tmp_path, aeon):
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=(3, 4, 2)), 3)  # (cases, length, channels)
    labels = ["10", "2", "1"]
    rows = [":".join(",".join(str(v) for v in x[i, :, c]) for c in range(2)) + f":{labels[i]}" for i in range(3)]
    header = ["@problemName mv", "@timeStamps false", "@univariate false", "@equalLength true"]
    data = read_data(write_ts(tmp_path / "mv.ts", [*header, "@classLabel true 1 2 10 20"], rows))
    np.testing.assert_allclose(data.x, x, rtol=1e-6)
    assert data.class_names == ("1", "2", "10", "20")  # the header's classes, "2" before "10"
    np.testing.assert_array_equal(data.y, [2, 1, 0])


def test_ts_unequal_lengths_give_a_list(tmp_path, aeon):
    rows = ["1.0,2.0,3.0:4.0,5.0,6.0:a", "1.5,2.5:3.5,4.5:b"]
    header = ["@problemName ragged", "@univariate false", "@equalLength false", "@classLabel true a b"]
    data = read_data(write_ts(tmp_path / "ragged.ts", header, rows))
    assert isinstance(data.x, list)
    np.testing.assert_array_equal(data.x[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(data.x[1], [[1.5, 3.5], [2.5, 4.5]])
    np.testing.assert_array_equal(data.y, [0, 1])


def test_ts_regression_targets_are_floats(tmp_path, aeon):
    header = ["@problemName reg", "@univariate true", "@classLabel false", "@targetLabel true"]
    data = read_data(write_ts(tmp_path / "reg.ts", header, ["1.0,2.0:0.25", "3.0,4.0:1.5"]))
    np.testing.assert_array_equal(data.y, np.array([0.25, 1.5], np.float32))
    assert data.class_names is None


def test_long_parquet_nullable_integer_labels_are_numbers(tmp_path, pd):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"id": [1, 1, 2], "step": [0, 1, 0], "f": [0.5, 1.5, 2.5], "b": [0.5, 0.5, 2.0]})
    frame["a"] = pd.array([3, 3, 1], dtype="Int64")  # Int64 beside float64 converts to objects in pandas
    frame.to_parquet(tmp_path / "n.parquet")
    data = read_data(tmp_path / "n.parquet", label_columns=("a", "b"))
    assert data.y.dtype == np.float64
    np.testing.assert_array_equal(data.y, [[3, 0.5], [1, 2.0]])


@pytest.mark.parametrize(
    ("header", "rows", "match"),
    [
        (["@problemName bad", "@classLabel maybe"], ["1.0,2.0:a"], "not a valid .ts file"),
        (["@problemName bad", "@univariate"], ["1.0,2.0:a"], "not a valid .ts file"),
        (["@problemName bad", "@classLabel true a"], ["1.0,2.0:b"], r"labels \['b'\] are not among the declared"),
        (["@problemName bad", "@classLabel false"], ["1.0,2.0"], "has no labels"),
        (["@problemName empty", "@classLabel true a"], [], "has no series"),
    ],
)
def test_ts_bad_files_are_one_line_naming_the_file(tmp_path, aeon, header, rows, match):
    one_line_error(write_ts(tmp_path / "bad.ts", header, rows), match)


# --- end to end -------------------------------------------------------------------------


@pytest.mark.slow
def test_sweep_trains_on_what_a_reader_returns(tmp_path, pd):
    path = tmp_path / "series.csv"
    t = np.arange(80, dtype=float)
    pd.DataFrame({"time": t, "v": np.sin(t / 5), "u": np.cos(t / 7)}).to_csv(path, index=False)
    data = read_data(path, window=6, horizon=2, target="v", time_column="time", validation_split=0.25)
    result = fl.sweep(**data.fit_arguments(), model=fl.ModelSpec(units=4), seeds=1, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(result.history["val_loss"]).all()
    # the reader's split: the first 60 steps make 53 windows (6 in, 2 ahead), the last 20 make 13
    x_val, y_val = data.validation_data
    assert (result.meta["n_train"], result.meta["n_val"], result.meta["validation"]["source"]) == (
        53,
        13,
        "validation_data",
    )
    predicted = result.predict(x_val)[0]
    assert predicted.shape == (13, 2)
    # the sweep's validation loss is the mse of its predictions on the reader's held-out windows
    np.testing.assert_allclose(result.history["val_loss"][0, -1], np.mean((predicted - y_val) ** 2), rtol=1e-5)
