"""The CLI default run end to end (small settings)."""

import pytest

import fastlstm as fl
from fastlstm.cli import main


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


def test_cli_learning_rate_grid_and_refuses_existing_out(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    assert main(["sweep", "--out", str(out), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().out
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
    assert "2 learning rates" in capsys.readouterr().out


def test_cli_reports_bad_arguments(capsys):
    assert main(["sweep", "--validation-split", "1.5", "--quiet", "--samples", "32", "--timesteps", "4"]) == 2
    assert "validation_split" in capsys.readouterr().out


def test_cli_precision_and_chunks_reach_the_sweep(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["sweep", "--seeds", "3", "--epochs", "1", "--samples", "48", "--timesteps", "5", "--units", "4"]
    code = main([*args, "--precision", "bfloat16", "--members-per-chunk", "2", "--out", str(out), "--quiet"])
    assert code == 0
    assert "bfloat16" in capsys.readouterr().out
    result = fl.load(out)
    assert result.meta["precision"] == "bfloat16"
    assert len(result.members) == 3
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
