"""The CLI default run end to end (small settings)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.benchmark import compare
from fastlstm.cli import main
from fastlstm.tasks import early_cue

TINY = ["--seeds", "2", "--epochs", "1", "--samples", "24", "--timesteps", "4", "--units", "2", "--quiet"]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    """Sweeps without --out write runs/<name>-<time>/ in the working folder: keep it in tmp."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.slow
def test_cli_sweep_runs_end_to_end_and_saves(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "sweep",
            "--seeds",
            "2",
            "--epochs",
            "2",
            "--samples",
            "64",
            "--timesteps",
            "6",
            "--units",
            "4",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Spread across seeds" in text and "val_accuracy" in text and "2 members trained" in text
    loaded = fl.load(out)
    assert loaded.history["loss"].shape == (2, 2)


@pytest.mark.slow
def test_cli_learning_rate_grid_and_refuses_existing_out(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    assert main(["sweep", "--out", str(out), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    code = main(
        [
            "sweep",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--samples",
            "48",
            "--timesteps",
            "5",
            "--units",
            "4",
            "--learning-rate",
            "1e-3",
            "1e-2",
            "--quiet",
        ]
    )
    assert code == 0
    assert "2 configurations x 2 seeds" in capsys.readouterr().out
    (run,) = (tmp_path / "runs").iterdir()  # the default run folder
    assert run.name.startswith("early-cue-") and fl.load(run).configs == [
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2},
    ]


def test_cli_reports_bad_arguments(capsys):
    assert main(["sweep", "--validation-split", "1.5", "--quiet", "--samples", "32", "--timesteps", "4"]) == 2
    assert "validation_split" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_precision_and_chunks_reach_the_sweep(tmp_path, capsys, monkeypatch):
    chunks = []  # the members of each chunk the sweep starts, seen by the CLI's own controller
    start = fl.controllers.StopOnSignal.on_chunk_start

    def record(self, chunk):
        chunks.append(chunk.members)
        start(self, chunk)

    monkeypatch.setattr(fl.controllers.StopOnSignal, "on_chunk_start", record)
    out = tmp_path / "run"
    args = ["sweep", "--seeds", "3", "--epochs", "1", "--samples", "48", "--timesteps", "5", "--units", "4"]
    code = main([*args, "--precision", "bfloat16", "--members-per-chunk", "2", "--out", str(out), "--quiet"])
    assert code == 0
    assert "bfloat16" in capsys.readouterr().out
    result = fl.load(out)
    assert result.meta["precision"] == "bfloat16"
    assert len(result.members) == 3
    assert chunks == [(0, 1), (2,)]  # the sweep trained them two at a time
    with pytest.raises(SystemExit):
        main([*args, "--precision", "float16"])


def test_cli_sweep_summary_reads_whole_in_a_log_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # what rich uses when stdout is a pipe or a file
    args = ["sweep", "--seeds", "2", "--epochs", "1", "--samples", "48", "--timesteps", "5", "--units", "4"]
    assert main([*args, "--learning-rate", "1e-3", "3e-3", "--quiet"]) == 0
    text = capsys.readouterr().out
    table = text[text.index("Spread across seeds") : text.index("members trained")]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "…" not in table.replace(" … ", "")  # no header or value cut to "learning…"
    for word in ("learning_rate", "1e-3", "3e-3", "val_accuracy", "val_loss", "mean ± std", "95% CI of mean"):
        assert word in table, word
    assert "uninformative (2 seeds)" in table and "[-" not in table  # no interval below 0


def _no_training(*args, **kwargs):
    raise AssertionError("fl.sweep ran although the command should have stopped before training")


def _one_error_line(capsys, *expected):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


def test_cli_overwrite_never_deletes_a_folder_it_did_not_write(tmp_path, monkeypatch, capsys):
    project = tmp_path / "proj"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("x\n")
    patch_train(monkeypatch, _no_training)
    assert main(["sweep", "--out", str(project), "--overwrite", *TINY]) == 2
    _one_error_line(capsys, "--out", "not a fastlstm result folder")
    assert (project / "data" / "train.csv").read_text() == "x\n"
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert main(["sweep", "--out", str(notes), "--overwrite", *TINY]) == 2
    _one_error_line(capsys, "--out", "not a folder")
    assert notes.read_text() == "mine"


def test_cli_out_dot_is_refused_and_kept(tmp_path, monkeypatch, capsys):
    (tmp_path / ".fastlstm").write_text('{"kind": "result", "format_version": 1}')
    (tmp_path / "keep.txt").write_text("keep")
    monkeypatch.chdir(tmp_path)
    patch_train(monkeypatch, _no_training)
    assert main(["sweep", "--out", ".", "--overwrite", *TINY]) == 2
    _one_error_line(capsys, "current folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fastlstm", "keep.txt"]


def test_cli_unwritable_out_is_refused_before_training(monkeypatch, capsys):
    patch_train(monkeypatch, _no_training)
    assert main(["sweep", "--out", "/proc/fastlstm-test-out", *TINY]) == 2
    _one_error_line(capsys, "--out '/proc/fastlstm-test-out'", "cannot write")


def test_bench_unwritable_json_is_refused_before_running(monkeypatch, capsys):
    monkeypatch.setattr(compare, "run_system", _no_training)
    monkeypatch.setattr(compare, "measure_peak", _no_training)
    args = ["bench", "--json", "/proc/fastlstm-test.json", "--members", "1", "--wait-quiet", "0", "--quiet"]
    assert main(args) == 2
    _one_error_line(capsys, "--json '/proc/fastlstm-test.json'", "cannot write")


@pytest.mark.slow
def test_cli_save_failure_after_training_is_one_line(tmp_path, monkeypatch, capsys):
    def disk_full(self, path, overwrite=False, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fl.SweepResult, "save", disk_full)
    assert main(["sweep", "--out", str(tmp_path / "run"), *TINY]) == 2
    _one_error_line(capsys, "--out", "could not save (No space left on device)")


@pytest.mark.parametrize(
    "flag", [["--learning-rate", "inf"], ["--learning-rate", "1e-3", "nan"], ["--validation-split", "nan"]]
)
def test_cli_rejects_non_finite_numbers(flag, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", *flag])
    assert exit_.value.code == 2
    _one_error_line(capsys, f"argument {flag[0]}", "which is not finite")


def test_cli_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    patch_train(monkeypatch, interrupted)
    assert main(["sweep", *TINY[:-1], "--samples", "3"]) == 130
    captured = capsys.readouterr()
    *warned, last = captured.err.splitlines()  # 3 samples lack some classes: a one-line warning says so
    assert last == "fastlstm sweep: interrupted" and all(w.startswith("warning: ") for w in warned), captured.err
    present = len(np.unique(early_cue(n=3, timesteps=4)[1]))
    assert present < 4 and f"{present} classes" in captured.out


@pytest.mark.slow
def test_cli_sigint_in_a_real_process_prints_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # the session's cache folder
    cmd = [sys.executable, "-m", "fastlstm.cli", "sweep", "--seeds", "2", "--epochs", "100000"]
    proc = subprocess.Popen(
        [*cmd, "--samples", "64", "--timesteps", "4", "--units", "2", "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "early-cue" not in (proc.stdout.readline() or "early-cue"):
        pass
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("fastlstm sweep: interrupted; continue with: fastlstm sweep --resume runs/early-cue-")
    assert "Traceback" not in err
    run = Path(last.rsplit(" ", 1)[1])
    assert (tmp_path / run / "checkpoint" / "progress.json").is_file()  # Ctrl-C saved the sweep
