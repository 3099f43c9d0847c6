"""The same data in any format gives the same problem and bit-identical members.

ItalyPowerDemand (UCR, labels "1"/"2") as aeon ships it (.ts), and as a pandas user
exports it: a wide CSV of numbers, a Parquet file of string labels, an `.npz` of aeon's
(n, 1, 24) array with a layout, a long CSV with its own column names, and the DataFrame
itself. Each must train a binary problem of classes ("1", "2"), with the same codes,
and give the same loss curve to the bit."""

from pathlib import Path

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.data import read_data

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("aeon.datasets")
TS_FILE = Path(datasets.__file__).parent / "data" / "ItalyPowerDemand" / "ItalyPowerDemand_TRAIN.ts"
SWEEP = {"model": fl.ModelSpec(units=4), "seeds": 2, "epochs": 2, "batch_size": 16, "verbose": 0}


def _exports(folder: Path) -> dict[str, dict]:
    """{source: read_data keyword arguments}, one per way of holding the same 67 series."""
    x, y = datasets.load_italy_power_demand(split="train")  # (67, 1, 24), labels '1'/'2'
    wide = pd.DataFrame(x[:, 0, :], columns=[f"hour_{h}" for h in range(24)])
    wide.insert(0, "class", y.astype(int))
    wide.to_csv(folder / "italy.csv", index=False)
    wide.assign(**{"class": wide["class"].astype(str)}).to_parquet(folder / "italy.parquet")
    np.savez(folder / "italy.npz", X_train=x, y_train=y.astype(int))
    long = wide.melt(id_vars="class", var_name="hour", value_name="demand", ignore_index=False)
    long = long.rename_axis("day").reset_index()[["day", "hour", "demand", "class"]]
    shuffled = long.sample(frac=1.0, random_state=0).sort_values("day", kind="stable")  # steps in any order
    shuffled.to_csv(folder / "italy_long.csv", index=False)
    return {
        "ts": {"path": TS_FILE},
        "csv": {"path": folder / "italy.csv"},
        "parquet": {"path": folder / "italy.parquet"},
        "npz": {"path": folder / "italy.npz", "layout": "channels_first"},
        "long csv": {"path": folder / "italy_long.csv", "id_column": "day", "time_column": "hour"},
        "dataframe": {"path": wide},
    }


@pytest.mark.slow
def test_every_format_trains_the_same_members(tmp_path):
    runs = {}
    for source, options in _exports(tmp_path).items():
        data = read_data(options.pop("path"), **options)
        runs[source] = fl.sweep(**data.fit_arguments(), **SWEEP)
    reference = runs["ts"]
    assert reference.meta["task"] == "binary" and reference.class_names == ("1", "2")
    for source, result in runs.items():
        assert (result.meta["task"], result.class_names) == ("binary", ("1", "2")), source
        np.testing.assert_array_equal(result.history["loss"], reference.history["loss"], err_msg=source)


def test_sweep_takes_the_dataframe_itself(tmp_path):
    """fl.sweep(df) reads a table as read_data(df) does; y may name an unusual label column."""
    wide = pd.read_csv(_exports(tmp_path)["csv"]["path"])
    direct = fl.sweep(wide, **SWEEP)
    named = fl.sweep(wide.rename(columns={"class": "outcome"}), "outcome", **SWEEP)
    through_reader = fl.sweep(**read_data(wide).fit_arguments(), **SWEEP)
    assert direct.class_names == named.class_names == ("1", "2")
    np.testing.assert_array_equal(direct.history["loss"], through_reader.history["loss"])
    np.testing.assert_array_equal(named.history["loss"], through_reader.history["loss"])
