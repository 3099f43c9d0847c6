"""One member larger than memory (issue 30 item 5): refused before anything compiles, in
one line that says how large and what to lower, instead of an allocation error from XLA.
The machine's memory is monkeypatched; nothing large is allocated."""

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm.api._sweep as runner
import fastlstm.runtime._memory as memory
from fastlstm.cli import main

MESSAGE = r"one member needs ~[\d.e+-]+ GB, this machine has 0\.0001 GB; lower batch_size/units/timesteps or stream"


@pytest.fixture
def small_machine(monkeypatch):
    """100 kB of free memory, and a driver that fails the test if anything would compile."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 100_000)

    def no_driver(*args, **kwargs):
        raise AssertionError("the driver started: the refusal came too late")

    monkeypatch.setattr(runner, "Driver", no_driver)


def test_a_member_larger_than_memory_is_refused_before_compiling(small_machine):
    x, y = make_data(n=40, timesteps=8, features=3, classes=2)
    with pytest.raises(ValueError, match=MESSAGE):
        fl.sweep(x, y, model=fl.ModelSpec(units=64), seeds=1, epochs=1, verbose=0)


def test_the_cli_refuses_it_in_one_line_with_exit_2(small_machine, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--seeds", "1", "--epochs", "1", "--samples", "40", "--timesteps", "8", "--units", "64"]
    assert main([*args, "--quiet", "--out", "run"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "fastlstm sweep: error: one member needs ~" in lines[0]
    assert not (tmp_path / "run").exists()


def test_the_estimate_grows_with_batch_size_units_and_timesteps():
    base = {"timesteps": 10, "features": 3, "units": 16, "layers": 1, "batch_size": 32, "n_params": 1000}
    size = memory.activation_bytes_per_member(**base)
    for key in ("timesteps", "units", "batch_size"):
        assert memory.activation_bytes_per_member(**{**base, key: base[key] * 4}) > 2 * size - 6 * 4 * 1000


@pytest.mark.slow
def test_a_member_that_fits_trains(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10**9)
    x, y = make_data(n=40, timesteps=8, features=3, classes=2)
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=1, verbose=0)
    assert np.isfinite(result.history["loss"]).all()
