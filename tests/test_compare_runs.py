"""`fastlstm compare` as users read it (issue 26 item 15): runs of different problems refused,
different data files warned about, and the settings that differ between A and B named."""

import json
import shutil

import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.cli import main

TINY = dict(model=fl.ModelSpec(units=3), seeds=2, epochs=1, batch_size=32, verbose=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Folders: binary at two learning rates, 3 classes, and binary with 4 features instead of 3."""
    folder = tmp_path_factory.mktemp("runs")
    binary = make_data(n=40, classes=2)
    three = make_data(n=40, classes=3)
    wide = make_data(n=40, classes=2, features=4)
    return {
        "slow": fl.sweep(*binary, learning_rate=1e-2, **TINY).save(folder / "slow"),
        "fast": fl.sweep(*binary, learning_rate=3e-2, **TINY).save(folder / "fast"),
        "three": fl.sweep(*three, learning_rate=1e-2, **TINY).save(folder / "three"),
        "wide": fl.sweep(*wide, learning_rate=1e-2, **TINY).save(folder / "wide"),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "other, words",
    [
        (
            "three",
            "RUN_A is a binary task (2 classes, 3 features), RUN_B a classification task (3 classes, 3 features)",
        ),
        ("wide", "RUN_A is a binary task (2 classes, 3 features), RUN_B a binary task (2 classes, 4 features)"),
    ],
)
def test_runs_of_different_problems_are_refused_in_one_line(runs, capsys, other, words):
    assert main(["compare", str(runs["slow"]), str(runs[other])]) == 2
    err = capsys.readouterr().err
    assert words in err and "cannot be compared" in err and err.count("\n") == 1


@pytest.mark.slow
def test_a_loss_of_different_loss_functions_is_refused(runs):
    from fastlstm.cli._compare import compare_runs

    a, b = fl.load(runs["slow"]), fl.load(runs["fast"])
    b.meta["loss"] = "focal"  # as a run that minimised another loss
    with pytest.raises(ValueError, match="RUN_A minimised binary_crossentropy and RUN_B focal"):
        compare_runs(a, b, metric="loss")
    assert compare_runs(a, b, metric="accuracy")["metric"] == "accuracy"  # another metric still compares


@pytest.mark.slow
def test_the_settings_that_differ_are_named(runs, capsys):
    assert main(["compare", str(runs["slow"]), str(runs["fast"])]) == 0
    out = capsys.readouterr().out
    assert "settings that differ (1), A -> B:" in out and "learning_rate: 0.01 -> 0.03" in out
    assert main(["compare", str(runs["slow"]), str(runs["fast"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["differences"] == [{"key": "learning_rate", "a": 0.01, "b": 0.03}]
    assert doc["data_warning"] is None
    assert main(["compare", str(runs["slow"]), str(runs["slow"])]) == 0
    assert "settings: the same in A and B" in capsys.readouterr().out


@pytest.mark.slow
def test_different_data_files_are_warned_about(runs, tmp_path, capsys):
    copies = [shutil.copytree(runs[name], tmp_path / name) for name in ("slow", "fast")]
    for copy, digest, name in zip(copies, "ab", ("TRAIN.ts", "OTHER.ts")):
        env = json.loads((copy / "environment.json").read_text())
        env["data"] = {"source": "file", "name": name, "sha256": digest * 64}
        (copy / "environment.json").write_text(json.dumps(env))
    assert main(["compare", str(copies[0]), str(copies[1]), "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: the runs read different data files (A: TRAIN.ts, B: OTHER.ts)" in captured.err
    assert "different data files" in json.loads(captured.out)["data_warning"]
