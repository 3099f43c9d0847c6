"""Flags and options no other test passed, each checked where it lands: `sweep --layers
--optimizer --distributed`, the doctor's and lr-range's flags (a few runs passing many at
once, the doctor without --data to the end), `metrics=["mse"]`, `SweepResult.architecture`
and the progress bar of a plain sweep. Tiny settings throughout."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fastlstm as fl
from fastlstm.cli import main

TINY = ["--samples", "48", "--timesteps", "4", "--units", "3", "--quiet"]
LEGACY_RUN = Path(__file__).parent / "fixtures" / "legacy_run"  # a run folder for --overwrite to replace


def _lstm_kernels(result: fl.SweepResult) -> list[tuple[int, ...]]:
    """The shapes of member 0's LSTM input kernels (features in, 4 x units out), in layer order."""
    params = result.member_params(0)
    return [np.shape(params[name]["kernel"]) for name in sorted(params) if name.startswith("lstm_")]


@pytest.mark.slow
def test_sweep_layers_and_optimizer_reach_the_sweep(tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            ["sweep", *TINY, "--seeds", "2", "--epochs", "1", "--layers", "2", "--optimizer", "sgd", "--out", str(out)]
        )
        == 0
    )
    result = fl.load(out)
    assert [(m["layers"], m["optimizer"]) for m in result.members] == [(2, "sgd")] * 2
    assert result.meta["optimizer"] == "sgd" and "momentum" in result.members[0] and "beta_1" not in result.members[0]
    assert _lstm_kernels(result) == [(4, 12), (3, 12)]  # two stacked LSTMs of 3 units over 4 features


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sweep_distributed_joins_a_one_process_run(tmp_path):
    """--distributed with the one-process form of --coordinator/--num-processes/--process-id
    (in a fresh process: joining must come before JAX starts): JAX's distributed runtime is
    joined, and the run completes and writes its folder."""
    out = tmp_path / "run"
    code = "import sys, jax; from fastlstm.cli import main; c = main(sys.argv[1:]); "
    code += "print('joined', jax.distributed.is_initialized()); sys.exit(c)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    one = ["--coordinator", f"127.0.0.1:{_free_port()}", "--num-processes", "1", "--process-id", "0"]
    args = ["sweep", *TINY, "--seeds", "2", "--epochs", "1", "--distributed", *one, "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "joined True"
    assert len(fl.load(out).members) == 2


@pytest.mark.slow
def test_doctor_without_data_runs_to_the_end_with_every_flag_it_was_given(tmp_path, capsys):
    """The built-in task, verified (too short to learn: the fix, more epochs, trained as a
    second sweep), model and sweep flags away from their defaults, over an earlier run folder.
    (--standardize: lr-range's test; min_max here leaves 2 epochs nothing to learn.)"""
    out = tmp_path / "run"
    shutil.copytree(LEGACY_RUN, out)
    flags = [*TINY, "--layers", "2", "--batch-size", "16", "--optimizer", "rmsprop", "--validation-split", "0.25"]
    flags += ["--split", "stratified", "--precision", "float32", "--members-per-chunk", "2"]
    flags += ["--recurrent-impl", "scan", "--learning-rate", "3e-3", "--seeds", "3", "--epochs", "2"]
    flags += ["--set", "model.dropout=0.1", "--out", str(out), "--overwrite", "--json"]
    assert main(["doctor", *flags]) == 0
    found = json.loads(capsys.readouterr().out.splitlines()[-1])
    verification = found["verification"]  # ran to the end: the fix trained and compared
    assert verification["finding"] == "train.underfit" and verification["before"]["n"] == 3
    result = fl.load(out)  # the as-given seed sweep, over the earlier folder
    member = {k: result.members[0][k] for k in ("units", "layers", "batch_size", "optimizer", "learning_rate")}
    assert member == {"units": 3, "layers": 2, "batch_size": 16, "optimizer": "rmsprop", "learning_rate": 3e-3}
    assert [m["dropout"] for m in result.members] == [0.1] * 3 and [m["epochs"] for m in result.members] == [2] * 3
    assert result.meta["validation"]["split"] == "stratified" and result.meta["validation"]["fraction"] == 0.25
    assert result.meta["precision"] == "float32" and result.meta["recurrent_impl"] == ["scan"]
    assert result.spec.members_per_chunk == 2 and (out / "lr_range.json").is_file()


@pytest.mark.slow
def test_lr_range_flags_reach_its_run(tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(LEGACY_RUN, out)
    flags = [*TINY, "--layers", "2", "--batch-size", "16", "--optimizer", "sgd", "--validation-split", "0.25"]
    flags += ["--split", "shuffled", "--precision", "bfloat16", "--members-per-chunk", "8", "--recurrent-impl", "scan"]
    flags += ["--standardize", "global", "--set", "model.dropout=0.1", "--seeds", "2", "--steps", "5"]
    assert main(["lr-range", *flags, "--out", str(out), "--overwrite", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.splitlines()[-1])
    # 36 training rows in batches of 16: 3 steps an epoch, so 5 steps take 2 epochs
    assert (doc["seeds"], doc["epochs"], doc["steps"]) == ([0, 1], 2, 6)
    result = fl.load(out)
    assert json.loads((out / "lr_range.json").read_text())["largest_stable"] == doc["largest_stable"]
    member = {k: result.members[0][k] for k in ("units", "layers", "batch_size", "optimizer", "dropout")}
    assert member == {"units": 3, "layers": 2, "batch_size": 16, "optimizer": "sgd", "dropout": 0.1}
    assert result.meta["validation"] == {
        "source": "validation_split", "split": "shuffled", "fraction": 0.25, "split_seed": 0, "rows": 12,
    }  # fmt: skip
    assert result.meta["precision"] == "bfloat16" and result.meta["recurrent_impl"] == ["scan"]
    assert result.meta["preprocessing"]["method"] == "global" and result.spec.members_per_chunk == 8


@pytest.mark.slow
def test_lr_range_reads_a_table_by_the_column_flags_and_trains_whole_epochs(tmp_path, capsys):
    """A long table: one row per step, the roles named by flags, a column dropped."""
    rng = np.random.default_rng(0)
    rows = []
    for series in range(30):
        label = ["up", "down"][series % 2]
        for step in range(5):
            rows.append(dict(sid=series, t=step, a=rng.normal(), b=rng.normal(), c=rng.normal(), junk=9.0, kind=label))
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(tmp_path / "steps.txt", index=False)
    flags = ["--data", str(tmp_path / "steps.txt"), "--format", "csv", "--id-column", "sid", "--time-column", "t"]
    flags += ["--label-column", "kind", "--drop-columns", "junk", "c"]
    flags += ["--units", "2", "--seeds", "2", "--epochs", "3", "--quiet", "--json", "--out", str(tmp_path / "run")]
    assert main(["lr-range", *flags]) == 0
    doc = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert doc["epochs"] == 3
    result = fl.load(tmp_path / "run")
    assert result.meta["class_names"] == ["down", "up"] and result.meta["n_train"] == 24  # 30 less the 20% held out
    assert _lstm_kernels(result) == [(2, 8)]  # features a and b (junk and c dropped) into 2 units


@pytest.mark.slow
def test_mse_as_a_metric_is_logged_and_is_the_mse(small_data):
    x, _ = small_data
    target = x[:, 1, :2] * 2.0  # regression, two outputs
    kw = dict(model=fl.ModelSpec(units=3), seeds=2, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
    result = fl.sweep(x, target, loss="mae", metrics=["mse"], **kw)
    assert result.meta["metrics"] == ["mse"] and {"mse", "val_mse"} <= set(result.history)
    x_val, y_val = x[-28:], target[-28:]
    predicted = result.predict(x_val)
    expected = np.mean((predicted - y_val[None]) ** 2, axis=(1, 2))
    np.testing.assert_allclose(result.history["val_mse"][:, -1], expected, rtol=1e-5)


@pytest.mark.slow
def test_architecture_gives_back_the_layers_and_none_for_the_shorthand(small_data, tmp_path):
    x, y = small_data
    layers = [fl.layers.LSTM(4, return_sequences=True), fl.layers.Dropout(0.1), fl.layers.LSTM(3)]
    kw = dict(seeds=1, epochs=1, batch_size=64, verbose=0)
    listed = fl.sweep(x, y, model=fl.ModelSpec(layers=layers), **kw)
    assert listed.architecture == tuple(fl.ModelSpec(layers=layers).layers)
    listed.save(tmp_path / "run", report=False)
    assert fl.load(tmp_path / "run").architecture == listed.architecture
    assert fl.sweep(x, y, model=fl.ModelSpec(units=4), **kw).architecture is None


@pytest.mark.slow
def test_a_plain_sweep_shows_its_progress(small_data, capsys, monkeypatch):
    """Outside successive halving: one bar over every chunk's epochs, the last chunk's label,
    and the last epoch's best and mean validation accuracy of that chunk."""
    monkeypatch.setenv("COLUMNS", "200")
    x, y = small_data
    kw = dict(model=fl.ModelSpec(units=3), seeds=6, epochs=2, batch_size=64, validation_split=0.2)
    result = fl.sweep(x, y, members_per_chunk=3, verbose=1, **kw)
    text = capsys.readouterr().err
    last = result.history["val_accuracy"][3:, -1]  # the second chunk: members 3, 4 and 5
    assert "training chunk 2/2" in text and "4/4" in text  # 2 chunks x 2 epochs
    assert f"val_accuracy best {last.max():.4f} mean {last.mean():.4f}" in text
    assert math.isfinite(last.mean())
