"""Column roles from names, time order by meaning, calendar columns in a series, DataFrames.

Issue 25 items 4, 5, 6 and 10: files written as a pandas user writes them (aeon's
GunPoint, statsmodels' sunspots and macrodata, long tables with the usual column names)
must read as the problem they hold, or fail in one line naming the flag that fixes it.
Each test failed on the reader that wanted exactly `id`, `step` and `label`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from cli_helpers import cli_error  # noqa: E402

from fastlstm.cli import build_parser, main  # noqa: E402
from fastlstm.cli._sweep import spec_from_args  # noqa: E402
from fastlstm.data import DataFileError, read_data  # noqa: E402
from fastlstm.spec import DataSpec  # noqa: E402


def long_frame(n: int = 6, steps: int = 5, seed: int = 0) -> pd.DataFrame:
    """sequence_id,time,f0,f1,f2,label with the rows of each sequence shuffled."""
    rng = np.random.default_rng(seed)
    rows = [
        {"sequence_id": f"s{s}", "time": t, "f0": s + t / 10, "f1": rng.normal(), "f2": -t, "label": s % 2}
        for s in range(n)
        for t in rng.permutation(steps)
    ]
    return pd.DataFrame(rows)


def gunpoint() -> tuple[np.ndarray, np.ndarray]:
    from aeon.datasets import load_gunpoint

    x, y = load_gunpoint(split="train")
    return x[:, 0, :], y


def sunspots() -> pd.DataFrame:
    sm = pytest.importorskip("statsmodels.api")
    return sm.datasets.sunspots.load_pandas().data


def macrodata() -> pd.DataFrame:
    sm = pytest.importorskip("statsmodels.api")
    return sm.datasets.macrodata.load_pandas().data


# --- long tables: roles from the usual names ------------------------------------------------


def test_long_csv_with_sequence_id_and_time_reads_long_in_time_order(tmp_path: Path) -> None:
    frame = long_frame()
    frame.to_csv(tmp_path / "long.csv", index=False)
    data = read_data(tmp_path / "long.csv")
    assert data.x.shape == (6, 5, 3)
    np.testing.assert_allclose(data.x[2, :, 0], [2.0, 2.1, 2.2, 2.3, 2.4], rtol=1e-6)  # sorted by time
    np.testing.assert_array_equal(data.y, [0, 1, 0, 1, 0, 1])
    assert "roles: id=sequence_id, time=time (numbers), label=label, features f0, f1, f2" in data.description


def test_series_id_timestamp_value_target_needs_no_flags(tmp_path: Path) -> None:
    frame = long_frame().rename(columns={"sequence_id": "series_id", "f0": "value", "label": "target"})
    frame["timestamp"] = pd.Timestamp("2024-01-30") + pd.to_timedelta(frame.pop("time"), unit="D")
    frame[["series_id", "timestamp", "value", "target"]].to_csv(tmp_path / "s.csv", index=False)
    data = read_data(tmp_path / "s.csv")
    assert data.x.shape == (6, 5, 1)
    np.testing.assert_allclose(data.x[1, :, 0], [1.0, 1.1, 1.2, 1.3, 1.4], rtol=1e-6)
    assert "id=series_id, time=timestamp (dates), label=target, features value" in data.description


def test_names_match_without_case_or_separators(tmp_path: Path) -> None:
    frame = long_frame().rename(columns={"sequence_id": "Case ID", "time": "Time-Step", "label": "CLASS"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv")
    assert data.x.shape == (6, 5, 3) and "id=Case ID, time=Time-Step (numbers), label=CLASS" in data.description


def test_explicit_roles_win_over_the_names(tmp_path: Path) -> None:
    frame = long_frame().rename(columns={"sequence_id": "patient", "time": "visit"})
    frame["label"] = frame["label"] + 10  # a column named label that is not the label
    frame["outcome"] = frame["patient"].str[1:].astype(int) % 3
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(
        tmp_path / "t.csv", id_column="patient", time_column="visit", label_columns="outcome", drop_columns=["label"]
    )
    np.testing.assert_array_equal(data.y, [0, 1, 2, 0, 1, 2])
    assert data.x.shape == (6, 5, 3) and "ignored" not in data.description
    only = read_data(tmp_path / "t.csv", id_column="patient", time_column="visit", features=["f2"])
    assert only.x.shape == (6, 5, 1) and "features f2, ignored f0, f1" in only.description


def test_two_candidates_for_one_role_name_the_flag(tmp_path: Path) -> None:
    frame = long_frame()
    frame["date"] = frame["time"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        DataFileError, match=r"columns 'time', 'date' could each be the time column; pass --time-column"
    ):
        read_data(tmp_path / "t.csv")
    assert read_data(tmp_path / "t.csv", time_column="date", drop_columns=["time"]).x.shape == (6, 5, 3)


def test_a_coordinate_named_y_or_t_does_not_compete_with_label_and_time(tmp_path: Path) -> None:
    frame = long_frame()
    frame["y"], frame["t"] = frame["f1"], frame["f2"]  # a trajectory's y and a temperature t
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv")
    assert (
        data.x.shape == (6, 5, 5) and "time=time (numbers), label=label, features f0, f1, f2, y, t" in data.description
    )
    frame.drop(columns=["time", "label"]).rename(columns={"f0": "class"}).to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(DataFileError, match="label changes within sequence"):  # class, not y, is the label
        read_data(tmp_path / "u.csv")


def test_explicit_column_that_is_not_there_names_the_flag(tmp_path: Path) -> None:
    long_frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataFileError, match=r"--id-column 'patient' is not a column; the columns are sequence_id"):
        read_data(tmp_path / "t.csv", id_column="patient")


def test_ids_without_a_time_column_keep_the_file_order_and_say_so(tmp_path: Path) -> None:
    frame = long_frame().sort_values(["sequence_id", "time"]).drop(columns="time")
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv")
    assert data.x.shape == (6, 5, 3)
    np.testing.assert_allclose(data.x[3, :, 0], [3.0, 3.1, 3.2, 3.3, 3.4], rtol=1e-6)
    assert "id=sequence_id, time=file order, label=label" in data.description


# --- time order by meaning ------------------------------------------------------------------


def test_step_column_of_t0_to_t99_sorts_naturally(tmp_path: Path) -> None:
    frame = long_frame(n=2, steps=12)
    frame["time"] = "t" + frame["time"].astype(str)  # t0 .. t11: as text, t10 < t2
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv")
    np.testing.assert_allclose(data.x[0, :, 2], -np.arange(12))
    assert "time=time (natural order)" in data.description


def test_step_10_style_names_sort_naturally(tmp_path: Path) -> None:
    frame = long_frame(n=2, steps=12)
    frame["time"] = "step_" + frame["time"].astype(str)
    frame.to_csv(tmp_path / "t.csv", index=False)
    np.testing.assert_allclose(read_data(tmp_path / "t.csv").x[1, :, 2], -np.arange(12))


@pytest.mark.parametrize(
    ("written", "sequence", "read_as"),
    [("%d/%m/%Y", 0, "time=time (dates, day first)"), ("%m/%d/%Y", 1, "(dates, month first)")],
    ids=["day first", "month first"],
)
def test_slashed_dates_sort_as_dates(tmp_path: Path, written: str, sequence: int, read_as: str) -> None:
    frame = long_frame(n=2, steps=40)  # 40 days from 25 Dec: days above 12, months and years change
    days = pd.Timestamp("2023-12-25") + pd.to_timedelta(frame["time"], unit="D")
    frame["time"] = days.dt.strftime(written)
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = read_data(tmp_path / "t.csv")
    np.testing.assert_allclose(data.x[sequence, :, 2], -np.arange(40))
    assert read_as in data.description


def test_dates_that_read_both_ways_in_different_orders_are_an_error(tmp_path: Path) -> None:
    frame = long_frame(n=2, steps=3)
    frame["time"] = frame["time"].map({0: "01/02/2024", 1: "02/01/2024", 2: "03/03/2024"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataFileError, match=r"day first and month first give different orders.*yyyy-mm-dd"):
        read_data(tmp_path / "t.csv")


def test_a_time_column_that_cannot_be_ordered_is_an_error_not_text_order(tmp_path: Path, capsys) -> None:
    frame = long_frame(n=2, steps=3)
    frame["time"] = frame["time"].map({0: "morning", 1: "noon", 2: "evening"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    err = cli_error(capsys, "sweep", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run"))
    assert "t.csv: time column 'time'" in err and "--time-column" in err and "--drop-columns time" in err


# --- wide tables: an id first is not a time step -------------------------------------------


def test_wide_gunpoint_with_sample_id_has_150_steps(tmp_path: Path) -> None:
    x, y = gunpoint()
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(x.shape[1])])
    frame.insert(0, "sample_id", range(len(frame)))
    frame["label"] = y
    frame.to_csv(tmp_path / "GunPoint.csv", index=False)
    data = read_data(tmp_path / "GunPoint.csv")
    assert data.x.shape == (50, 150, 1)
    np.testing.assert_allclose(data.x[:, :, 0], x, rtol=1e-6)
    assert "id=sample_id (dropped)" in data.description


def test_wide_gunpoint_saved_with_a_named_index_drops_the_index(tmp_path: Path) -> None:
    x, y = gunpoint()
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(x.shape[1])])
    frame["class"] = y
    frame.index.name = "case"
    frame.to_csv(tmp_path / "GunPoint.csv")  # pandas' default: the index is the first column
    data = read_data(tmp_path / "GunPoint.csv")
    assert data.x.shape == (50, 150, 1) and "id=case (dropped), label=class" in data.description
    np.testing.assert_allclose(data.x[:, :, 0], x, rtol=1e-6)


def test_wide_table_reset_index_first_column_is_row_numbers(tmp_path: Path) -> None:
    x, y = gunpoint()
    frame = pd.DataFrame(x[:, :20], columns=[str(i) for i in range(20)])
    frame["label"] = y
    frame.reset_index().to_csv(tmp_path / "g.csv", index=False)  # a column named index, 0..n-1
    assert read_data(tmp_path / "g.csv").x.shape == (50, 20, 1)


# --- one series: calendar columns are the time ----------------------------------------------


def test_sunspots_window_trains_on_sunactivity_alone(tmp_path: Path) -> None:
    frame = sunspots()
    frame.to_csv(tmp_path / "sunspots.csv", index=False)
    data = read_data(tmp_path / "sunspots.csv", window=12)
    assert data.x.shape == (len(frame) - 12, 12, 1)
    np.testing.assert_allclose(data.x[0, :, 0], frame["SUNACTIVITY"].to_numpy()[:12], rtol=1e-6)
    assert "target 'SUNACTIVITY'" in data.description
    assert "time=YEAR (numbers), features SUNACTIVITY" in data.description


def test_macrodata_uses_year_and_quarter_as_time_and_needs_a_target(tmp_path: Path, capsys) -> None:
    frame = macrodata()
    frame.to_csv(tmp_path / "macro.csv", index=False)
    err = cli_error(
        capsys, "sweep", "--data", str(tmp_path / "macro.csv"), "--window", "8", "--out", str(tmp_path / "r")
    )
    assert "macro.csv: has several columns (realgdp" in err and "pass --target NAME" in err
    data = read_data(tmp_path / "macro.csv", window=8, target="realgdp")
    assert data.x.shape == (len(frame) - 8, 8, 12)  # 14 columns less year and quarter
    assert "time=year, quarter (numbers)" in data.description and "target 'realgdp'" in data.description
    np.testing.assert_allclose(data.y[:, 0], frame["realgdp"].to_numpy()[8:], rtol=1e-6)


def test_series_rows_out_of_year_quarter_order_are_an_error(tmp_path: Path) -> None:
    frame = macrodata().iloc[:12]
    frame = frame.iloc[[0, 1, 3, 2, *range(4, 12)]]
    frame.to_csv(tmp_path / "macro.csv", index=False)
    with pytest.raises(DataFileError, match=r"'year', 'quarter' does not increase at data row 4"):
        read_data(tmp_path / "macro.csv", window=4, target="realgdp")


# --- the CLI: flags, window alone, the header line -----------------------------------------


def test_cli_role_flags_reach_the_spec() -> None:
    args = build_parser().parse_args(
        [
            "sweep",
            "--data",
            "t.csv",
            "--id-column",
            "patient",
            "--time-column",
            "visit",
            "--label-column",
            "a",
            "b",
            "--features",
            "f0",
            "f1",
            "--drop-columns",
            "note",
        ]
    )
    data = spec_from_args(args).data
    assert (data.id_column, data.time_column, data.label_columns) == ("patient", "visit", ["a", "b"])
    assert (data.features, data.drop_columns) == (["f0", "f1"], ["note"])


def test_label_columns_takes_one_name_as_text() -> None:
    args = build_parser().parse_args(["sweep", "--data", "t.csv", "--set", "data.label_columns=target"])
    assert spec_from_args(args).data.label_columns == ["target"]


def test_window_alone_means_horizon_1_and_horizon_alone_is_an_error() -> None:
    assert DataSpec(path="s.csv", window=12).horizon is None  # the reader takes horizon 1
    with pytest.raises(ValueError, match=r"data.horizon \(--horizon\) needs data.window \(--window\)"):
        DataSpec(path="s.csv", horizon=2)


def test_cli_window_alone_reads_the_series(tmp_path: Path) -> None:
    sunspots().to_csv(tmp_path / "sunspots.csv", index=False)
    args = build_parser().parse_args(["sweep", "--data", str(tmp_path / "sunspots.csv"), "--window", "12"])
    from fastlstm.api._sweep import read_spec_data

    fit, _, description = read_spec_data(spec_from_args(args))
    assert fit["x"].shape[1:] == (12, 1) and fit["y"].shape[1] == 1 and "horizon 1" in description


@pytest.mark.slow
def test_cli_header_line_says_the_roles(tmp_path: Path, capsys) -> None:
    long_frame(n=8).to_csv(tmp_path / "long.csv", index=False)
    code = main(
        [
            "sweep",
            "--data",
            str(tmp_path / "long.csv"),
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / "run"),
            "--drop-columns",
            "f1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "roles: id=sequence_id, time=time (numbers), label=label, features f0, f2" in out.splitlines()[0]


# --- a DataFrame reads as the CSV it is saved as ----------------------------------------------


def test_dataframe_and_its_long_csv_give_identical_arrays(tmp_path: Path) -> None:
    frame = long_frame()
    frame.to_csv(tmp_path / "long.csv", index=False)
    from_file, from_frame = read_data(tmp_path / "long.csv"), read_data(frame)
    np.testing.assert_array_equal(from_frame.x, from_file.x)
    np.testing.assert_array_equal(from_frame.y, from_file.y)
    assert from_frame.description.replace("DataFrame", "long.csv") == from_file.description
    with pytest.raises(ValueError, match="a DataFrame is read as a table; name its label column with label_columns="):
        read_data(frame, labels="y.npy")


def test_dataframe_with_a_named_index_and_explicit_roles_equals_its_csv(tmp_path: Path) -> None:
    frame = long_frame().rename(columns={"sequence_id": "patient", "time": "visit"}).set_index("patient")
    frame.to_csv(tmp_path / "long.csv")
    options = {"id_column": "patient", "time_column": "visit", "label_columns": ["label"]}
    from_file, from_frame = read_data(tmp_path / "long.csv", **options), read_data(frame, **options)
    np.testing.assert_array_equal(from_frame.x, from_file.x)
    np.testing.assert_array_equal(from_frame.y, from_file.y)


def test_dataframe_wide_gunpoint_equals_its_csv(tmp_path: Path) -> None:
    x, y = gunpoint()
    frame = pd.DataFrame(x)  # integer column names 0..149, as pd.DataFrame(array) gives
    frame["label"] = y.astype(int)  # as the CSV reads them back (string labels: issue 25 item 2)
    frame.index.name = "case"
    frame.to_csv(tmp_path / "g.csv")
    from_file, from_frame = read_data(tmp_path / "g.csv"), read_data(frame)
    assert from_frame.x.shape == (50, 150, 1)
    np.testing.assert_array_equal(from_frame.x, from_file.x)
    assert from_frame.class_names == from_file.class_names and np.array_equal(from_frame.y, from_file.y)


def test_dataframe_series_window_equals_its_csv(tmp_path: Path) -> None:
    frame = macrodata()
    frame.to_csv(tmp_path / "macro.csv", index=False)
    from_file = read_data(tmp_path / "macro.csv", window=8, target="realgdp", validation_split=0.2)
    from_frame = read_data(frame, window=8, target="realgdp", validation_split=0.2)
    np.testing.assert_array_equal(from_frame.x, from_file.x)
    np.testing.assert_array_equal(from_frame.validation_data[1], from_file.validation_data[1])


def test_a_long_table_with_unknown_role_names_asks_for_them(tmp_path: Path, capsys) -> None:
    """day,hour,demand,class: read as wide it failed with "'hour' is not numeric"; the fix is naming the roles."""
    frame = long_frame(n=4, steps=6).rename(columns={"sequence_id": "day", "time": "hour"})
    frame["hour"] = "h" + frame["hour"].astype(str)
    frame.to_csv(tmp_path / "t.csv", index=False)
    err = cli_error(capsys, "sweep", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "run"))
    assert "looks like a long table" in err and "--id-column COL --time-column COL" in err
    data = read_data(tmp_path / "t.csv", id_column="day", time_column="hour")
    assert data.x.shape[:2] == (4, 6)


def test_a_column_to_keep_and_to_drop_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--features f0 --drop-columns f0 kept f0 without a word; now it is a contradiction named."""
    long_frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataFileError, match=r"--features 'f0' is also in --drop-columns"):
        read_data(tmp_path / "t.csv", features=["f0", "f1"], drop_columns=["f0"])
    series = tmp_path / "s.csv"
    pd.DataFrame({"date": pd.date_range("2020", periods=40, freq="D"), "load": np.arange(40.0)}).to_csv(
        series, index=False
    )
    err = cli_error(
        capsys, "sweep", "--data", str(series), "--format", "series", "--window", "5",
        "--features", "load", "--drop-columns", "load",
    )  # fmt: skip
    assert "--features 'load' is also in --drop-columns" in err
