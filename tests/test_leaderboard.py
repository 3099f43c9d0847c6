"""After a search, the configurations ranked as users read them (issue 26 item 16): a
leaderboard with mean ± CI over seeds and where each was pruned, the best as `--set`
assignments, and a warning when something selects on a validation file named as a test set."""

import contextlib
import io

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.cli._sweep import test_file_selection as selection_warning
from fastlstm.spec import SweepSpec


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A CLI search: 4 configurations x 2 seeds, successive halving (eta 2), validation on a *_TEST.npz."""
    folder = tmp_path_factory.mktemp("search")
    x, y = make_data(n=48, timesteps=4, classes=2)
    np.savez(folder / "train.npz", x=x[:36], y=y[:36])
    np.savez(folder / "Power_TEST.npz", x=x[36:], y=y[36:])
    args = ["sweep", "--data", str(folder / "train.npz"), "--validation-data", str(folder / "Power_TEST.npz")]
    args += [
        "--epochs",
        "3",
        "--seeds",
        "2",
        "--units",
        "3",
        "--batch-size",
        "32",
        "--quiet",
        "--out",
        str(folder / "run"),
    ]
    args += ["--set", "grid.learning_rate=[1e-3, 1e-2, 3e-2, 1e-1]"]
    args += ["--set", 'scheduler={type = "successive_halving", eta = 2}']
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(args)
    return code, folder / "run", out.getvalue()


@pytest.mark.slow
def test_a_search_prints_a_ranked_leaderboard_and_the_best_as_a_set_line(searched):
    code, run, text = searched
    assert code == 0
    board = text[text.index("leaderboard: all 4 configurations by mean val_loss over seeds (lower is better)") :]
    rows = board.splitlines()[2:6]
    assert [r.split()[0] for r in rows] == ["1", "2", "3", "4"]
    assert "end (3 epochs)" in rows[0] and "pruned at epoch 2" in rows[1]
    assert all("pruned at epoch 1" in r for r in rows[2:]) and "±" in rows[0]
    result = fl.load(run)
    best = result.leaderboard().rows[0]
    assert best["config"] == result.best().config
    line = f"--set learning_rate={best['settings']['learning_rate']}"
    assert f"to rerun it alone: {line}" in board


def test_the_set_line_reruns_the_best_configuration_alone(searched):
    _, run, _ = searched
    result = fl.load(run)
    board = result.leaderboard()
    assignments = [a.removeprefix("--set ") for a in board.set_line().split(" --set ")]
    spec = SweepSpec.from_dict({k: v for k, v in result.spec.to_dict().items() if k not in ("grid", "scheduler")})
    rerun = spec.with_overrides(assignments)
    assert list(rerun.plan().configs) == [{}] and rerun.learning_rate == board.rows[0]["settings"]["learning_rate"]


def test_a_test_file_that_selects_is_warned_about(searched):
    code, _, out = searched
    assert code == 0
    assert "warning: --validation-data Power_TEST.npz is named as a test set, and the scheduler (val_loss), " in out
    assert "choosing the best configuration select on it" in out


@pytest.mark.parametrize(
    "validation, callbacks, grid, words",
    [
        ("ItalyPowerDemand_TEST.ts", [fl.EarlyStopping(monitor="val_loss")], {}, "EarlyStopping(monitor='val_loss')"),
        ("test.csv", [fl.ReduceLROnPlateau(monitor="val_accuracy")], {}, "ReduceLROnPlateau"),
        ("ItalyPowerDemand_TEST.ts", [fl.EarlyStopping(monitor="loss")], {}, None),  # selects on training loss
        ("contest.csv", [fl.EarlyStopping()], {}, None),  # "test" inside a word is no test set
        ("valid.csv", [fl.EarlyStopping()], {"learning_rate": [1e-3, 1e-2]}, None),
        ("x_test.npz", [], {"learning_rate": [1e-3, 1e-2]}, "choosing the best configuration selects on it"),
        ("x_test.npz", [], {}, None),  # one configuration, nothing selects
    ],
)
def test_which_selections_on_a_test_file_are_warned_about(validation, callbacks, grid, words):
    spec = SweepSpec.from_dict(
        {"data": {"path": "train.csv", "validation_path": validation}, "grid": grid, "epochs": 3}
    ).replace(callbacks=callbacks)
    line = selection_warning(spec)
    assert (line is None) if words is None else (words in line)
