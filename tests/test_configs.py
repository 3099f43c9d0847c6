"""The example configs in configs/ run as shipped, and their data files never drift.

Each config runs through the CLI in-process with tiny overrides (seeds, epochs, units)
into a run folder; the folder must load, and what it holds must equal a second,
in-process `fl.sweep` of the same spec on the same data read independently of the
CLI - history bit for bit, predictions exactly - and what the run printed.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastlstm as fl
from fastlstm._common.files import MARKER
from fastlstm.cli import main
from fastlstm.cli._sweep import BUILTIN
from fastlstm.data import read_data
from fastlstm.spec import DataSpec, SweepSpec
from fastlstm.tasks import early_cue

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DATA_LIMIT_BYTES = 300 * 1024
# Per shipped config: --set overrides that keep its run to a few seconds. The grids and
# callbacks stay as shipped, so those parts of each config are exercised too.
TINY = {
    "early_cue": ["seeds=2", "epochs=2", "data.samples=64", "data.timesteps=6", "model.units=4"],
    "multiclass": ["seeds=2", "epochs=2", "grid.units=[3, 4]"],
    "binary": ["seeds=2", "epochs=2", "model.units=4"],
    "forecast": ["seeds=2", "epochs=2", "model.units=4"],
    "variable_length": ["seeds=2", "epochs=2", "model.units=4"],
}


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    """Nothing a test runs may write into the repository."""
    monkeypatch.chdir(tmp_path)


def test_every_shipped_config_is_tested():
    assert sorted(p.stem for p in CONFIGS.glob("*.toml")) == sorted(TINY)


def data_and_spec(spec: SweepSpec) -> tuple[SweepSpec, dict[str, Any]]:
    """`fl.sweep`'s data arguments for a config, read without the CLI's code path.

    A windowed series is split by time in the reader, so the spec's own split becomes
    0 and the validation windows come as validation_data (what the CLI does too)."""
    source = spec.data
    if source is None or source.path is None:
        source = source or DataSpec()
        x, y = early_cue(n=source.samples, timesteps=source.timesteps)
        return spec, {"x": x, "y": y}
    forecasting = source.window is not None
    loaded = read_data(
        source.path,
        window=source.window,
        horizon=source.horizon,
        target=source.target,
        time_column=source.time_column,
        validation_split=spec.validation_split if forecasting else 0.0,
    )
    if forecasting:
        assert loaded.validation_data is not None
        spec = spec.replace(validation_split=0.0)
    return spec, loaded.fit_arguments()


def plain_summary(rows: Any) -> list[dict[str, Any]]:
    """Summary rows as the CLI's --json prints them (non-finite numbers as null)."""
    return [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        for row in json.loads(json.dumps(list(rows), default=str, allow_nan=True))
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_config_runs_and_its_run_folder_reproduces(name, tmp_path, capsys):
    config = CONFIGS / f"{name}.toml"
    run = tmp_path / "run"
    assert (
        main(["sweep", str(config), *(f"--set={s}" for s in TINY[name]), "--out", str(run), "--quiet", "--json"]) == 0
    )
    printed = json.loads(capsys.readouterr().out)

    marker = json.loads((run / MARKER).read_text())
    assert marker["kind"] in ("result", "run")
    loaded = fl.load(run)
    spec = SweepSpec.load(config).with_overrides(TINY[name])
    assert loaded.spec == spec  # the run folder's config.toml is the resolved spec
    assert len(loaded.members) == len(spec.plan().members)
    assert plain_summary(loaded.summary()) == printed["summary"]

    spec, data = data_and_spec(spec)
    again = fl.sweep(**data, spec=spec, verbose=0)
    assert sorted(loaded.history) == sorted(again.history)
    for metric, values in again.history.items():
        np.testing.assert_array_equal(loaded.history[metric], values, err_msg=metric)
    np.testing.assert_array_equal(loaded.predict(data["x"]), again.predict(data["x"]))


def test_early_cue_config_is_the_default_task_plus_a_grid_and_early_stopping():
    """`fastlstm sweep` with no config trains what configs/early_cue.toml describes."""
    spec = SweepSpec.load(CONFIGS / "early_cue.toml")
    default = SweepSpec.from_dict(BUILTIN)
    assert spec.data == DataSpec()  # the built-in task at the CLI's default size
    assert spec.grid and [type(cb).__name__ for cb in spec.callbacks] == ["EarlyStopping"]
    assert spec.replace(data=None, grid={}, callbacks=[], seeds=default.seeds) == default


def load_make_data() -> Any:
    module_spec = importlib.util.spec_from_file_location("make_data", CONFIGS / "make_data.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_make_data_regenerates_the_committed_files_exactly(tmp_path):
    make_data = load_make_data()
    written = make_data.write_all(tmp_path / "data")
    committed = sorted(p.name for p in (CONFIGS / "data").iterdir())
    assert sorted(p.name for p in written) == committed
    for path in written:
        shipped = CONFIGS / "data" / path.name
        assert path.read_bytes() == shipped.read_bytes(), f"{shipped} differs: run python configs/make_data.py"
        assert shipped.stat().st_size < DATA_LIMIT_BYTES


def test_every_data_file_is_used_by_a_config():
    used = {Path(SweepSpec.load(p).data.path).name for p in CONFIGS.glob("*.toml") if SweepSpec.load(p).data.path}
    assert used == {p.name for p in (CONFIGS / "data").iterdir()}
