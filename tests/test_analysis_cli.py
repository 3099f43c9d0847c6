"""`fastlstm lr-range` and `fastlstm sweep --sources`: output, run folder, and one-line errors."""

import json

import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.cli import main

TINY_TASK = ["--samples", "64", "--timesteps", "5", "--units", "4", "--batch-size", "16", "--quiet"]


@pytest.mark.slow
def test_lr_range_prints_the_curve_and_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "range"
    assert main(["lr-range", *TINY_TASK, "--seeds", "2", "--epochs", "1", "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["kind"] == "lr_range" and len(doc["learning_rates"]) == 24 and doc["seeds"] == [0, 1]
    assert "Learning-rate range test" in captured.err and "run folder:" in captured.err
    loaded = fl.load(out)
    assert loaded.analysis["lr_range"]["learning_rates"] == doc["learning_rates"]
    assert (out / "lr_range.json").is_file()


@pytest.mark.slow
def test_lr_range_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["lr-range", *TINY_TASK, "--seeds", "2", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "median loss" in printed and ("recommended learning rate" in printed or "no recommendation" in printed)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sweep_sources_prints_the_sources_and_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "sources"
    args = [
        "sweep",
        "--sources",
        *TINY_TASK,
        "--seeds",
        "2",
        "--levels",
        "3",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--json",
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert (
        doc["kind"] == "variance_sources"
        and doc["seeds"] == 2
        and set(doc["sources"])
        == {
            "init",
            "order",
            "dropout",
            "all",
        }
    )
    assert "Variance sources of" in captured.err
    assert fl.load(out).analysis["variance_sources"]["crossed"]["levels"] == 3  # --levels reached the design


@pytest.mark.parametrize(
    "argv, message",
    [
        (["lr-range", "--data", "missing.npz"], "missing.npz"),
        (["lr-range", "--out", "notrun"], "--out"),
        (["lr-range", "--set", "colour=1"], "colour"),
        (["lr-range", "--seeds", "0"], "--seeds: expected a positive integer"),
        (["sweep", "--sources", "--seeds", "1"], "seeds must be an int >= 2"),
        (["sweep", "--levels", "3"], "--levels sizes the crossed block of --sources"),
        (["sweep", "--sources", "--resume", "somewhere"], "--sources runs one short batched experiment"),
        (["sweep", "--sources", "--out", "notrun"], "--out"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notrun").mkdir()
    (tmp_path / "notrun" / "notes.txt").write_text("mine")
    patch_train(monkeypatch, lambda *a, **k: pytest.fail("trained"))
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (tmp_path / "notrun" / "notes.txt").read_text() == "mine"
