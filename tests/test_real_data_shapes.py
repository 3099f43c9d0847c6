"""Files shaped as people export real data: wide CSVs, European CSVs, header-less CSVs,
UCR/UEA TRAIN/TEST pairs, and the doctor on planted faults.

Each case fails on the code before its fix; the data are tiny.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import cli_error

from fastlstm.cli import main
from fastlstm.data._readers import DataFileError, read_data, with_validation_file
from fastlstm.diagnose import check_data

HAVE_PANDAS = importlib.util.find_spec("pandas") is not None
HAVE_AEON = importlib.util.find_spec("aeon") is not None
needs_pandas = pytest.mark.skipif(not HAVE_PANDAS, reason="needs pandas (fastlstm[data])")
needs_aeon = pytest.mark.skipif(not HAVE_AEON, reason="needs aeon (fastlstm[data])")

LONG_CSV = (
    "id,step,a,b,label\ns1,0,0.5,1.5,normal\ns1,1,0.25,2.0,normal\ns2,0,1.0,3.0,abnormal\ns2,1,2.0,4.5,abnormal\n"
)


@needs_pandas
def test_wide_csv_label_last_reads_one_row_per_sequence(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("t0,t1,t2,label\n0.1,0.2,0.3,normal\n1.0,2.0,3.0,abnormal\n0.5,0.5,0.5,normal\n")
    data = read_data(path)
    assert data.x.shape == (3, 3, 1)
    np.testing.assert_allclose(data.x[1, :, 0], [1.0, 2.0, 3.0])
    assert data.class_names == ("abnormal", "normal")
    assert data.y.tolist() == [1, 0, 1]


@needs_pandas
def test_wide_csv_label_first_with_short_rows_is_ragged(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("label,t0,t1,t2\n1,0.1,0.2,0.3\n2,1.0,2.0,\n")
    data = read_data(path)
    assert [len(s) for s in data.x] == [3, 2]
    assert data.y.tolist() == [1, 2]


@needs_pandas
def test_wide_csv_with_a_gap_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("t0,t1,t2,label\n0.1,,0.3,1\n")
    with pytest.raises(DataFileError, match="data row 1 has an empty cell before its last value"):
        read_data(path)


@needs_pandas
def test_table_without_the_columns_says_both_layouts(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("t0,t1,kind\n0.1,0.2,1\n")
    with pytest.raises(DataFileError, match=r"--label-column NAME .* Expected long format .* or wide format"):
        read_data(path)


@needs_pandas
def test_headerless_csv_says_the_first_row_is_data(tmp_path: Path, capsys) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("1,0.5,0.25,0.125\n2,1.5,1.25,1.125\n")
    err = cli_error(capsys, "sweep", "--data", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert "looks like data, not column names" in err and "noheader.csv" in err
    assert not (tmp_path / "run").exists()


@needs_pandas
def test_semicolon_csv_with_decimal_commas_reads_as_the_comma_one(tmp_path: Path) -> None:
    (tmp_path / "comma.csv").write_text(LONG_CSV)
    (tmp_path / "semi.csv").write_text(LONG_CSV.replace(",", ";").replace(".", ","))
    plain, european = read_data(tmp_path / "comma.csv"), read_data(tmp_path / "semi.csv")
    np.testing.assert_array_equal(plain.x, european.x)
    assert plain.y.tolist() == european.y.tolist()


UNI_TS = """@problemName Uni
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true normal abnormal
@data
"""


def write_ts_pair(folder: Path) -> tuple[Path, Path]:
    train, test = folder / "Uni_TRAIN.ts", folder / "Uni_TEST.ts"
    rows = ["1,2,3,4:normal", "4,3,2,1:abnormal", "1,2,3,5:normal", "5,3,2,1:abnormal"]
    train.write_text(UNI_TS + "\n".join(rows) + "\n")
    test.write_text(UNI_TS + "4,3,2,0:abnormal\n4,4,2,1:abnormal\n")  # one class only
    return train, test


@needs_pandas
def test_validation_file_codes_labels_by_the_training_classes(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(LONG_CSV + "s3,0,1.0,1.0,zebra\ns3,1,1.0,1.0,zebra\n")
    (tmp_path / "val.csv").write_text("id,step,a,b,label\nv1,0,0.5,1.5,zebra\nv1,1,0.5,1.5,zebra\n")
    data = with_validation_file(read_data(tmp_path / "train.csv"), tmp_path / "val.csv")
    assert data.class_names == ("abnormal", "normal", "zebra")
    assert data.validation_data[1].tolist() == [2]  # alone, val.csv would code zebra as 0
    (tmp_path / "new.csv").write_text("id,step,a,b,label\nv1,0,0.5,1.5,yak\nv1,1,0.5,1.5,yak\n")
    with pytest.raises(DataFileError, match=r"new.csv: labels \['yak'\] are not among"):
        with_validation_file(read_data(tmp_path / "train.csv"), tmp_path / "new.csv")


@pytest.mark.slow
@needs_aeon
def test_cli_trains_a_ucr_train_file_against_its_test_file(tmp_path: Path, capsys) -> None:
    train, test = write_ts_pair(tmp_path)
    out = tmp_path / "run"
    args = ["sweep", "--data", str(train), "--validation-data", str(test), "--epochs", "1", "--seeds", "1"]
    assert main([*args, "--units", "2", "--quiet", "--out", str(out)]) == 0
    assert "validation Uni_TEST.ts: 2 sequences" in capsys.readouterr().out.replace("\n", " ")
    assert 'validation_path = "' in (out / "config.toml").read_text()
    err = cli_error(capsys, "sweep", "--data", str(train), "--validation-data", str(tmp_path / "nope.ts"))
    assert "nope.ts: no such file" in err


def test_a_feature_equal_to_the_label_is_data_leakage() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5, 3)).astype(np.float32)
    y = np.arange(60) % 3
    x[:, :, 2] = rng.integers(0, 2, size=(60, 1))  # a few values, unrelated to y: no finding
    assert "data.leakage" not in check_data(x, y).ids()
    x[:, :, 1] = y[:, None]  # the label column left among the features
    found = check_data(x, np.eye(3)[y]).by_id("data.leakage")  # one-hot y as well
    assert found is not None and found.severity == "error"
    assert [f["feature"] for f in found.evidence["features"]] == [1]


@pytest.mark.slow
@needs_pandas
def test_doctor_names_the_label_column_left_in_a_wide_csv(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, 4)).round(3)
    clean = check_data(x[:, :, None], y, validation_split=0.25)
    assert clean.by_id("data.leakage") is None  # the same rows without the copy
    x[:, 3] = y  # the last "time step" is the label again
    rows = [",".join(map(str, [*row, label])) for row, label in zip(x, y)]
    (tmp_path / "wide.csv").write_text("t0,t1,t2,t3,label\n" + "\n".join(rows) + "\n")
    args = ["doctor", "--data", str(tmp_path / "wide.csv"), "--no-verify", "--json", "--quiet"]
    assert main([*args, "--seeds", "2", "--epochs", "1", "--units", "2", "--validation-split", "0.25"]) == 0
    findings = json.loads(capsys.readouterr().out.splitlines()[-1])["findings"]
    (found,) = [f for f in findings if f["id"] == "data.leakage"]
    # the one feature of this univariate series, whose last step takes the label's two values
    assert found["severity"] == "error" and found["evidence"]["features"] == [{"feature": 0, "distinct_values": 2}]
    assert found["title"].startswith("feature 0 gives the label away")


def test_a_file_sorted_by_class_says_which_classes_missed_training() -> None:
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 10)  # sorted by class: the last 25% are all class 3
    x = rng.normal(size=(40, 4, 2)).astype(np.float32)
    found = check_data(x, y, validation_split=0.25)
    assert found.by_id("data.imbalance") is None  # the split's doing, not the data's (issue 26 item 4)
    shift = found.by_id("data.label_shift")
    assert shift is not None and shift.severity == "error" and "inf" not in shift.title
    assert shift.evidence["without_training_rows"] == [3] and "all 10 validation rows are class '3'" in shift.title
    assert shift.change == {"split": "stratified"}  # class weights cannot bring back a class with no rows


def test_labels_one_to_k_are_three_classes_not_an_empty_class_zero() -> None:
    """UCR's 1..k are coded as fl.sweep codes them: no class 0 to call empty."""
    rng = np.random.default_rng(3)
    assert check_data(rng.normal(size=(30, 4, 2)), 1 + np.arange(30) % 3).by_id("data.imbalance") is None
    found = check_data(rng.normal(size=(30, 4, 2)), 1 + np.arange(30) % 3, num_classes=4).by_id("data.imbalance")
    assert found is not None and found.evidence["empty_classes"] == [0]  # the user's own codes: 0 is empty


@needs_aeon
def test_ts_file_with_missing_values_names_the_file_and_the_way_out(tmp_path: Path, capsys) -> None:
    path = tmp_path / "Miss_TRAIN.ts"
    text = UNI_TS.replace("@missing false", "@missing true")
    path.write_text(text + "1,?,3,4:normal\n4,3,2,1:abnormal\n")
    err = cli_error(capsys, "sweep", "--data", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert f"{path}: x contains NaN" in err and "filled in or dropped" in err


@pytest.mark.slow
def test_default_run_folder_is_named_after_the_data_file(tmp_path: Path, monkeypatch, capsys) -> None:
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "my sensors.v2.npz", x=rng.normal(size=(16, 3, 1)), y=np.arange(16) % 2)
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--data", "my sensors.v2.npz", "--epochs", "1", "--seeds", "2", "--units", "2", "--quiet"]
    assert main(args) == 0
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("my-sensors-"), run.name  # not "early-cue-", the built-in task's name


def test_unscaled_names_the_huge_column_not_the_standardised_one() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 5, 2)).astype(np.float32)
    x[:, :, 1] = x[:, :, 1] * 1e6 + 5e6  # a column in raw units (a CSV export)
    found = check_data(x, np.arange(40) % 2).by_id("data.unscaled")
    assert found is not None and [f["feature"] for f in found.evidence["features"]] == [1]
    assert "feature 1" in found.title


@needs_pandas
def test_csv_with_a_header_and_no_rows_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("id,step,a,label\n")
    with pytest.raises(DataFileError, match="no data rows"):
        read_data(path)


def test_npz_string_labels_of_shape_n_by_1_are_class_names(tmp_path: Path) -> None:
    labels = np.array([["cat"], ["dog"], ["cat"]])  # df[["label"]].to_numpy().astype(str)
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2, 1)), y=labels)
    data = read_data(tmp_path / "d.npz")
    assert data.y.tolist() == [0, 1, 0] and data.class_names == ("cat", "dog")


@needs_pandas
def test_wide_csv_with_an_id_column_drops_it_and_a_long_one_with_its_step_named_time_is_long(tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("id,t0,t1,label\npatient-1,0.5,0.25,1\npatient-2,1.5,1.25,0\n")
    data = read_data(tmp_path / "wide.csv")
    assert data.x.shape == (2, 2, 1) and data.x[1, 0, 0] == 1.5
    (tmp_path / "long.csv").write_text("id,time,a,label\ns1,1,0.7,1\ns1,0,0.5,1\n")  # step named time
    data = read_data(tmp_path / "long.csv")
    assert data.x[:, :, 0].tolist() == [[0.5, pytest.approx(0.7)]] and "time=time (numbers)" in data.description


@pytest.mark.slow
def test_sweep_codes_string_labels_and_keeps_their_names() -> None:
    import fastlstm as fl

    x = np.random.default_rng(0).normal(size=(4, 3, 1))
    result = fl.sweep(x, ["normal", "abnormal", "normal", "abnormal"], seeds=2, epochs=1, verbose=0)
    assert result.class_names == ("abnormal", "normal") and result.meta["task"] == "binary"
    assert result.predict_labels(x).shape == (2, 4)


def test_ts_without_aeon_is_one_line_naming_the_package_and_the_extra(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(__import__("sys").modules, "aeon", None)  # as if not installed
    monkeypatch.setitem(__import__("sys").modules, "aeon.datasets", None)
    train, _ = write_ts_pair(tmp_path)
    err = cli_error(capsys, "sweep", "--data", str(train), "--out", str(tmp_path / "run"))
    assert "needs 'aeon', which is not installed: pip install 'fastlstm[data]'" in err


def test_ctrl_c_while_a_resume_reads_its_data_still_says_how_to_resume(tmp_path: Path, monkeypatch, capsys) -> None:
    import fastlstm.cli._sweep

    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "progress.json").write_text("{}")
    (run / ".fastlstm").write_text('{"kind": "run-in-progress", "format_version": 1}')
    (run / "config.toml").write_text('name = "tiny"\nseeds = 2\nepochs = 3\n')

    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastlstm.cli._sweep, "read_spec_data", interrupted)  # the sweep command reads it
    assert main(["sweep", "--resume", str(run)]) == 130
    assert capsys.readouterr().err == f"fastlstm sweep: interrupted; continue with: fastlstm sweep --resume {run}\n"


def test_npy_without_labels_on_the_cli_names_the_flag(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.zeros((4, 3, 1)))
    err = cli_error(capsys, "sweep", "--data", str(tmp_path / "x.npy"))
    assert "--labels FILE" in err


@needs_pandas
def test_ucr_tsv_is_label_first_without_a_header(tmp_path: Path) -> None:
    (tmp_path / "Ford_TRAIN.tsv").write_text("-1\t0.5\t0.25\t0.125\n1\t1.5\t1.25\tNaN\n-1\t0.1\t0.2\t0.3\n")
    (tmp_path / "Ford_TEST.tsv").write_text("1\t0.5\t0.25\t0.125\n")
    data = with_validation_file(read_data(tmp_path / "Ford_TRAIN.tsv"), tmp_path / "Ford_TEST.tsv")
    assert data.class_names == ("-1", "1") and data.y.tolist() == [0, 1, 0]
    assert [len(s) for s in data.x] == [3, 2, 3]  # NaN-padded rows are shorter sequences
    assert data.validation_data[1].tolist() == [1]


@needs_pandas
def test_csv_saved_with_its_pandas_index_does_not_gain_a_feature(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(__import__("io").StringIO(LONG_CSV)).sample(frac=1.0, random_state=0)
    frame.to_csv(tmp_path / "with_index.csv")  # index=True: pandas' default
    data = read_data(tmp_path / "with_index.csv")
    assert data.x.shape == (2, 2, 2)  # a and b; not the saved row numbers
