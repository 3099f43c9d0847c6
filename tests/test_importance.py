"""What moves the metric, on trained sweeps: `result.importance()`, `fl.importance`, the
`fastlstm importance` command, importance.json and the line under the CLI summary (issue 28).
The statistics alone are tested in tests/test_importance_stats.py."""

import json

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from cli_helpers import cli_error
from conftest import make_data

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.stats import result_metric_values
from fastlstm.stats._importance import hyperparameter_importance
from fastlstm.tasks import early_cue

PLANTED_GRID = {"learning_rate": [1e-3, 1e-2, 3e-2], "dropout": [0.0, 0.1], "units": [8, 16]}


@pytest.fixture(scope="module")
def planted():
    """The issue's planted factorial on the built-in task: 3 learning rates x 2 dropouts x
    2 widths x 8 seeds, 10 epochs. The learning rate moves val_accuracy by ~0.17 between its
    levels (1e-3 barely learns in 10 epochs); dropout 0 vs 0.1 by ~0.02, inside the seeds' spread."""
    x, y = early_cue(n=1024, seed=0)
    return fl.sweep(x, y, seeds=8, grid=PLANTED_GRID, epochs=10, batch_size=64, validation_split=0.25, verbose=0)


@pytest.mark.slow
def test_the_planted_factorial_ranks_the_learning_rate_first_and_dropout_as_seed_noise(planted):
    found = planted.importance()
    assert found.method == "anova" and found.metric == "val_accuracy" and found.members == 96
    effects = [t for t in found.ranked() if t.kind in ("main", "interaction", "higher_order")]
    assert effects[0].name == "learning_rate" and effects[0].distinguishable
    terms = {t.name: t for t in found.terms}
    assert terms["dropout"].distinguishable is False
    assert "dropout indistinguishable from seed noise" in found.headline()
    assert fl.importance(planted) == found  # the function and the method are one


@pytest.mark.slow
def test_the_planted_factorial_equals_anova_lm_on_the_same_table(planted):
    """Every effect's share is omega squared of statsmodels' Type II table, to 1e-10."""
    _, values = result_metric_values(planted)
    rows = [{**planted.configs[m["config"]], "y": values[i]} for i, m in enumerate(planted.members)]
    import pandas as pd

    frame = pd.DataFrame(rows)
    table = sm.stats.anova_lm(smf.ols("y ~ C(learning_rate) * C(dropout) * C(units)", frame).fit(), typ=2)
    ms_res = table.loc["Residual", "sum_sq"] / table.loc["Residual", "df"]
    total = frame["y"].var(ddof=0) * len(frame)
    terms = {t.name: t for t in planted.importance().terms}
    for row, term in (
        ("C(learning_rate)", "learning_rate"),
        ("C(dropout)", "dropout"),
        ("C(units)", "units"),
        ("C(learning_rate):C(dropout)", "dropout × learning_rate"),
        ("C(learning_rate):C(units)", "learning_rate × units"),
        ("C(dropout):C(units)", "dropout × units"),
        ("C(learning_rate):C(dropout):C(units)", "higher-order interactions"),
    ):
        ss, df = table.loc[row, "sum_sq"], table.loc[row, "df"]
        assert terms[term].share == pytest.approx((ss - df * ms_res) / (total + ms_res), abs=1e-10), term
        assert terms[term].p_value == pytest.approx(table.loc[row, "PR(>F)"], rel=1e-8, abs=1e-12), term
    assert terms["seeds"].share == pytest.approx(table.loc["Residual", "sum_sq"] / total, abs=1e-10)


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory):
    x, y = make_data(n=60)
    grid = {"learning_rate": [1e-3, 3e-2]}
    result = fl.sweep(x, y, seeds=3, grid=grid, epochs=3, validation_split=0.25, verbose=0, model=fl.ModelSpec(units=4))
    return result, result.save(tmp_path_factory.mktemp("runs") / "grid")


def test_a_saved_grid_keeps_its_importance_and_the_command_prints_it(small_grid, capsys):
    result, folder = small_grid
    saved = json.loads((folder / "importance.json").read_text())
    assert saved == result.importance().to_dict()  # the same numbers: seeded resampling
    assert "importance" not in result.analysis  # saving did not change the caller's result
    assert main(["importance", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("what moves val_accuracy (anova, 2 configurations, 6 members)")
    assert "learning_rate" in out and "seeds" in out and "Type II" in out
    assert main(["importance", str(folder), "--json", "--metric", "val_loss"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "val_loss" and {t["name"] for t in doc["terms"]} == {"learning_rate", "seeds"}


def test_the_command_refuses_what_it_cannot_read_in_one_line(small_grid, capsys, tmp_path):
    _, folder = small_grid
    assert "RUN_DIR" in cli_error(capsys, "importance", str(tmp_path / "nowhere"))
    assert "metric 'val_f1' is not in this result" in cli_error(capsys, "importance", str(folder), "--metric", "val_f1")


def test_one_seed_cannot_be_separated_from_the_settings(tmp_path, capsys):
    x, y = make_data(n=40)
    result = fl.sweep(
        x, y, seeds=1, grid={"learning_rate": [1e-3, 1e-2]}, epochs=1, verbose=0, model=fl.ModelSpec(units=4)
    )
    with pytest.raises(ValueError, match="at least 2 seeds per configuration"):
        result.importance()
    folder = result.save(tmp_path / "one")
    assert not (folder / "importance.json").exists()  # nothing to say, and the save says nothing
    assert "at least 2 seeds" in cli_error(capsys, "importance", str(folder))


@pytest.mark.slow
def test_after_successive_halving_it_is_measured_at_the_first_rung():
    """Pruned configurations stop at the rung, the others go on: only the first rung's epoch
    compares every configuration, so that is where the values come from, and the note says so."""
    x, y = make_data(n=80)
    result = fl.sweep(
        x, y, seeds=2, grid={"learning_rate": fl.loguniform(1e-3, 1e-1)}, trials=9, epochs=3,
        scheduler=fl.SuccessiveHalving(eta=3, min_epochs=1), validation_split=0.25, verbose=0, model=fl.ModelSpec(units=4),
    )  # fmt: skip
    rung = result.budget["rungs"][0]["epoch"]
    found = result.importance()
    assert f"epoch {rung}, successive halving's first rung" in found.note
    config = np.array([m["config"] for m in result.members])
    at_rung = result.history["val_accuracy"][:, rung - 1]
    expected = hyperparameter_importance(at_rung, config, result.configs, metric="val_accuracy")
    assert found.terms == expected.terms and found.method == "anova"  # one key: its draws are a one-way layout


@pytest.mark.slow
def test_the_sweep_command_prints_the_headline_and_the_ensembles_and_keeps_both(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["sweep", "--samples", "96", "--epochs", "2", "--seeds", "3", "--units", "4", "--out", str(out)]
    assert main([*args, "--learning-rate", "0.001", "0.03"]) == 0
    printed = capsys.readouterr().out
    assert "what moves val_accuracy: " in printed
    assert "ensembles of each configuration's seeds" in printed and "ensemble of 3" in printed
    assert (out / "importance.json").exists() and (out / "ensemble.json").exists()
    page = (out / "report.html").read_text()
    assert 'id="importance"' in page and 'id="ensemble"' in page
    assert (out / "plots" / "importance.png").exists() and (out / "plots" / "reliability.png").exists()
