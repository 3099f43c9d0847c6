"""fastlstm.stats between configurations: the tests against scipy/statsmodels on known samples,
the seeds-needed solvers, `result.compare()` / `result.best()` on tiny sweeps, and `fastlstm compare`."""

import json
import math

import numpy as np
import pytest
from conftest import make_data
from scipy import stats as sps

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.stats import (
    compare_samples,
    describe,
    halfwidth_for_seeds,
    hedges_g,
    higher_is_better,
    holm,
    newcombe_interval,
    primary_metric,
    probability_of_beating,
    rank_configurations,
    seeds_for_halfwidth,
    seeds_for_power,
    summarize,
)

MWU_FLOOR_NOTE = "with 3 and 3 seeds Mann-Whitney cannot reach p < 0.05 whatever the numbers; use >= 4 seeds each"


# --- two samples -------------------------------------------------------------------------------


def test_welch_not_student_on_unequal_spreads():
    a = [0.80, 0.81, 0.79, 0.80, 0.82]  # tight, few seeds
    b = [0.70, 0.95, 0.60, 0.99, 0.75, 0.72, 0.91, 0.66, 0.88, 0.64, 0.93, 0.70]  # wide, many seeds
    welch = sps.ttest_ind(a, b, equal_var=False)
    student = sps.ttest_ind(a, b, equal_var=True)
    assert abs(welch.pvalue - student.pvalue) > 0.05  # the two tests disagree on these samples
    c = compare_samples(a, b)
    assert c.welch_p == pytest.approx(welch.pvalue, rel=1e-12)
    assert c.p == c.welch_p and not c.paired
    ci = welch.confidence_interval(0.95)
    assert (c.difference_ci_low, c.difference_ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert c.difference == pytest.approx(np.mean(a) - np.mean(b))


def test_probability_of_beating_counts_ties_as_half():
    a, b = np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0])
    # by hand, higher better: a=1 vs (1, 2, 2): 0.5 + 0 + 0, twice; a=2 vs (1, 2, 2): 1 + 0.5 + 0.5 -> 3/9
    assert probability_of_beating(a, b) == pytest.approx(3 / 9)
    # lower better: a=1 vs (1, 2, 2): 0.5 + 1 + 1, twice; a=2 vs (1, 2, 2): 0 + 0.5 + 0.5 -> 6/9
    assert probability_of_beating(a, b, higher_is_better=False) == pytest.approx(6 / 9)
    c = compare_samples(a, b)
    assert c.p_beats == pytest.approx(3 / 9)
    assert c.mannwhitney_u / 9 == pytest.approx(3 / 9)  # U/(n m), as scipy counts it
    assert c.mannwhitney_method == "permutation"  # ties: an exact permutation p, not the normal approximation
    assert c.p_beats_ci_low < c.p_beats < c.p_beats_ci_high


def test_holm_matches_hand_computed_values_and_keeps_nan():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04) and math.isnan(adjusted[1])


def test_mann_whitney_floor_three_vs_three_is_reported():
    c = compare_samples([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])  # as separated as samples can be
    assert c.min_p == pytest.approx(0.10)
    assert c.mannwhitney_method == "exact" and c.mannwhitney_p == pytest.approx(0.10)
    assert MWU_FLOOR_NOTE in c.notes and MWU_FLOOR_NOTE in str(c)
    four = compare_samples([1.0, 2.0, 3.0, 3.5], [4.0, 5.0, 6.0, 7.0])
    assert four.min_p == pytest.approx(2 / 70) and four.mannwhitney_p == pytest.approx(2 / 70)
    assert not any("Mann-Whitney cannot" in n for n in four.notes)


def test_paired_tests_match_scipy_and_nan_pairs_are_dropped_whole():
    a = np.array([0.71, 0.74, 0.69, 0.80, 0.77, 0.73, math.nan])
    b = np.array([0.70, 0.71, 0.69, 0.76, 0.75, 0.70, 0.72])
    c = compare_samples(a, b, paired=True)
    assert c.paired and (c.n_a, c.n_b, c.dropped_a, c.dropped_b) == (6, 6, 1, 1)
    rel, wil = sps.ttest_rel(a[:6], b[:6]), sps.wilcoxon(a[:6], b[:6])
    assert c.paired_p == pytest.approx(rel.pvalue) and c.p == c.paired_p
    assert c.wilcoxon_p == pytest.approx(wil.pvalue)
    assert c.difference_ci_method == "paired t"
    unpaired = compare_samples(a, b)
    assert (unpaired.n_a, unpaired.n_b, unpaired.dropped_a, unpaired.dropped_b) == (6, 7, 1, 0)
    with pytest.raises(ValueError, match="paired=True needs as many values"):
        compare_samples([1.0, 2.0], [1.0], paired=True)


def test_identical_samples_are_no_evidence_and_constant_gaps_cannot_be_tested():
    """Item 13: no spread is no noise to measure a difference against; p was 0 ('p = < 0.001')."""
    same = compare_samples([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], paired=True)
    assert same.p == 1.0 and same.welch_p == 1.0
    apart = compare_samples([0.9, 0.9, 0.9, 0.9], [0.5, 0.5, 0.5, 0.5])
    assert math.isnan(apart.welch_p) and apart.p_beats == 1.0 and apart.difference_ci_method == "none"
    two = compare_samples([0.5, 0.5], [0.75, 0.75])
    assert math.isnan(two.p) and "cannot be tested" in two.note and "< 0.001" not in str(two)
    assert "Welch p n/a" in str(two)
    # a constant gap in every pair, up to float rounding (1.1 - 1.0 != 2.1 - 2.0 in float64)
    shifted = compare_samples([1.0, 2.0, 3.0, 4.0], [1.1, 2.1, 3.1, 4.1], paired=True)
    assert math.isnan(shifted.p) and "every pair differs by the same -0.1" in shifted.note
    assert ranking_verdicts([0.5, 0.5, 0.75, 0.75]) == ["best", "cannot be tested"]


def ranking_verdicts(values):
    ranking = rank_configurations(values, [0] * (len(values) // 2) + [1] * (len(values) // 2), [{}, {}], metric="acc")
    return [row["verdict"].split(" (")[0] for row in ranking]


def test_hedges_g_by_hand():
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0])
    pooled = math.sqrt((3 * np.var(x, ddof=1) + 2 * np.var(y, ddof=1)) / 5)
    j = math.gamma(2.5) / (math.sqrt(2.5) * math.gamma(2.0))
    assert hedges_g(x, y) == pytest.approx((2.5 - 4.0) / pooled * j)
    assert compare_samples(x, y).hedges_g == pytest.approx(hedges_g(x, y))


def test_newcombe_interval_covers_the_true_probability():
    """Coverage over simulated 8-vs-8 samples with a true P(beats) of Φ(0.8/√2) ≈ 0.71."""
    rng = np.random.default_rng(0)
    truth = sps.norm.cdf(0.8 / math.sqrt(2))
    hits = 0
    for _ in range(800):
        x, y = rng.normal(0.8, 1, 8), rng.normal(0, 1, 8)
        low, high = newcombe_interval(probability_of_beating(x, y), 8, 8)
        hits += low <= truth <= high
    assert 0.92 <= hits / 800 <= 0.99
    low, high = newcombe_interval(1.0, 4, 4)  # complete separation: not a zero-width interval
    assert high == 1.0 and 0.5 < low < 0.9


# --- seeds needed ------------------------------------------------------------------------------


def test_power_solver_gives_design_numbers():
    assert seeds_for_power(1.0, 1.0) == 17
    assert seeds_for_power(0.5, 1.0) == 64
    assert seeds_for_power(-0.02, 0.04) == 64  # a difference in either direction, in the metric's units
    with pytest.raises(ValueError, match="std must be a positive"):
        seeds_for_power(0.1, 0.0)


@pytest.mark.parametrize("std, halfwidth", [(1.0, 0.5), (0.03, 0.01), (0.02, 0.05)])
def test_seeds_for_halfwidth_round_trip(std, halfwidth):
    n = seeds_for_halfwidth(std, halfwidth)
    assert halfwidth_for_seeds(std, n) <= halfwidth
    assert n == 2 or halfwidth_for_seeds(std, n - 1) > halfwidth
    assert seeds_for_halfwidth(1.0, 0.5) == 18  # t(17) * 1 / √18 = 0.497; t(16) / √17 = 0.514


# --- the row of one configuration, the metric to rank by ----------------------------------------


def test_describe_and_summarize_give_the_interquartile_mean():
    values = [0.1, 0.80, 0.81, 0.82, 0.83, 0.84, 0.85, 0.99]
    d = describe(values)
    assert d["iqm"] == pytest.approx(sps.trim_mean(values, 0.25)) and d["iqm"] == pytest.approx(np.mean(values[2:6]))
    assert d["ci_method"] == "t" and d["n"] == 8
    rows = summarize({"val_accuracy": np.array(values)}, np.zeros(8, int), [{}], np.ones(8, bool))
    assert rows[0]["val_accuracy_iqm"] == pytest.approx(d["iqm"])


def test_primary_metric_and_direction():
    assert primary_metric(["loss", "accuracy", "val_loss", "val_accuracy"]) == "val_accuracy"
    assert primary_metric(["loss", "accuracy", "val_loss"]) == "val_loss"
    assert primary_metric(["loss", "accuracy"]) == "accuracy"
    assert primary_metric(["loss", "mae"], "regression") == "loss"
    assert primary_metric(["mae"]) == "mae"
    assert [higher_is_better(m) for m in ("val_accuracy", "loss", "val_mae", "mse")] == [True, False, False, False]


def test_one_configuration_has_nothing_to_compare():
    ranking = rank_configurations([0.5, 0.6, 0.7], [0, 0, 0], [{}], metric="val_accuracy")
    assert len(ranking) == 1 and ranking[0]["verdict"] == "best"
    assert "nothing to compare" in str(ranking)


def test_ranking_puts_diverged_configurations_last_and_tests_against_a_chosen_reference():
    values = [0.90, 0.92, 0.91, 0.93, 0.50, 0.52, 0.51, 0.49, math.nan, math.nan, math.nan, math.nan]
    config = [0] * 4 + [1] * 4 + [2] * 4
    settings = [{"learning_rate": 1e-3}, {"learning_rate": 1e-5}, {"learning_rate": 1.0}]
    ranking = rank_configurations(values, config, settings, metric="val_accuracy")
    assert [row["config"] for row in ranking] == [0, 1, 2]
    assert ranking[1]["verdict"].startswith("worse (p_adj=") and ranking[1]["test"] == "welch"  # no seeds recorded
    assert ranking[2]["verdict"] == "all seeds diverged" and ranking[2]["diverged"] == 4
    against_slow = rank_configurations(values, config, settings, metric="val_accuracy", against=1)
    verdicts = {row["config"]: row["verdict"] for row in against_slow}
    assert verdicts[1] == "reference" and verdicts[0].startswith("better (p_adj=")
    with pytest.raises(ValueError, match=r"against must be 'best' or a configuration index 0\.\.2"):
        rank_configurations(values, config, settings, metric="val_accuracy", against=3)


def test_compare_samples_rejects_a_confidence_outside_0_1():
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        compare_samples([1.0, 2.0], [3.0, 4.0], confidence=95)


# --- result.compare() / result.best() on a sweep -----------------------------------------------


@pytest.fixture(scope="module")
def sweep_result():
    """Two learning rates far apart; two clipnorms so large they never clip (no effect)."""
    x, y = make_data(n=60)
    return fl.sweep(
        x,
        y,
        seeds=4,
        grid={"learning_rate": [1e-5, 3e-2], "clipnorm": [1e6, 1e7]},
        model=fl.ModelSpec(units=4),
        epochs=3,
        batch_size=16,
        verbose=0,
    )


@pytest.mark.slow
def test_compare_ranks_learning_rates_and_calls_the_difference_real(sweep_result):
    ranking = sweep_result.compare("loss")
    assert ranking.metric == "loss" and not ranking.higher_is_better
    assert [row["learning_rate"] for row in ranking] == [3e-2, 3e-2, 1e-5, 1e-5]
    top, twin, *slow = ranking
    assert top["verdict"] == "best" and top["comparison"] is None
    assert twin["verdict"] == "not distinguishable from the best"  # the clipnorm that changes nothing
    for row in slow:
        assert row["verdict"].startswith("worse (p_adj=") and row["p_adj"] < 0.05 and row["p_beats"] == 0.0
    assert all(row["test"] == "paired t" for row in ranking[1:])  # same seeds on every stream
    assert ranking.adjustment == "max-t step-down"  # against the observed best: a selection
    against = sweep_result.compare("loss", against=ranking[0]["config"])  # named: no selection, Holm
    assert against.adjustment == "holm"
    assert [row["p_adj"] for row in against[1:]] == pytest.approx(holm([row["p"] for row in against[1:]]))
    loss, config = sweep_result.final_metrics()["loss"], np.array([m["config"] for m in sweep_result.members])
    assert [row["mean"] for row in ranking] == pytest.approx([loss[config == row["config"]].mean() for row in ranking])
    json.dumps(ranking.to_dict(), default=float)  # JSON-ready
    assert "Configurations by mean loss" in str(ranking)


def test_best_is_the_top_mean_and_its_median_seed(sweep_result):
    best = sweep_result.best("loss")
    ranking = sweep_result.compare("loss")
    assert best.config == ranking[0]["config"] and best.settings["learning_rate"] == 3e-2
    loss = sweep_result.final_metrics()["loss"]
    members = [m["index"] for m in sweep_result.members if m["config"] == best.config]
    ordered = sorted(members, key=lambda i: (loss[i], i))
    assert best.member == ordered[1] and best.stats["mean"] == pytest.approx(loss[members].mean())
    assert sweep_result.best().metric == "accuracy"  # no validation data: primary_metric's choice
    with pytest.raises(ValueError, match="metric 'val_loss' is not in this result"):
        sweep_result.compare("val_loss")


# --- fastlstm compare ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_runs(sweep_result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    x, y = make_data(n=60)
    single = fl.sweep(
        x, y, seeds=4, learning_rate=1e-2, model=fl.ModelSpec(units=4), epochs=3, batch_size=16, verbose=0
    )
    return sweep_result.save(folder / "grid"), single.save(folder / "single")


def _strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_compare_cli_matches_settings_and_prints_both_runs(saved_runs, capsys):
    grid, _ = saved_runs
    assert main(["compare", str(grid), str(grid), "--metric", "loss"]) == 0
    out = capsys.readouterr().out
    assert "loss: run A vs run B" in out and "A - B, loss (lower is better)" in out
    tests_table = out.split("A - B, loss (lower is better)")[1].strip().split("\n\n")[0].splitlines()
    assert len(tests_table) == 1 + 4 and all(line.endswith("≈") for line in tests_table[1:])  # every config matches
    assert max(len(line) for line in out.splitlines() if not line.startswith(("A: ", "B: "))) <= 80
    assert main(["compare", str(grid), str(grid), "--metric", "loss", "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["matched_by"] == "settings" and len(doc["comparisons"]) == 4
    assert all(c["test"]["p"] == 1.0 and not c["test"]["paired"] for c in doc["comparisons"])


def test_compare_cli_falls_back_to_each_runs_best(saved_runs, capsys):
    grid, single = saved_runs
    assert main(["compare", str(grid), str(single), "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["metric"] == "accuracy" and doc["matched_by"] == "best"
    (c,) = doc["comparisons"]
    assert c["label"] == "best of each" and c["settings_a"]["learning_rate"] == 3e-2 and c["settings_b"] == {}
    assert "comparing each run's best" in " ".join(doc["notes"])


def test_compare_cli_pairs_members_when_both_runs_read_the_same_data(saved_runs, capsys, tmp_path):
    import shutil

    grid, _ = saved_runs
    copies = [shutil.copytree(grid, tmp_path / name) for name in ("a", "b")]
    for copy in copies:
        env = json.loads((copy / "environment.json").read_text())
        env["data"]["sha256"] = "0" * 64
        (copy / "environment.json").write_text(json.dumps(env))
    assert main(["compare", str(copies[0]), str(copies[1]), "--metric", "loss", "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert all(c["test"]["paired"] for c in doc["comparisons"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["{grid}", "{missing}"], "RUN_B: path"),
        (["{missing}", "{grid}"], "RUN_A: path"),
        (["{grid}", "{single}", "--metric", "mae"], "--metric 'mae' is not in both runs"),
    ],
)
def test_compare_cli_errors_are_one_line_and_exit_2(saved_runs, tmp_path, capsys, args, message):
    grid, single = saved_runs
    paths = {"grid": grid, "single": single, "missing": tmp_path / "nope"}
    assert main([a.format(**paths) for a in ["compare", *args]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_side_whose_seeds_all_agree_gives_no_precision_warning():
    """Every seed of one configuration at the same accuracy is exact data; scipy's
    'catastrophic cancellation' warning about it reached the CLI as a stray line."""
    import warnings

    from fastlstm.stats import compare_samples

    same = np.full(4, 0.9642857, np.float32).astype(np.float64)
    spread = np.array([0.93, 1.0, 0.96, 0.89])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        welch = compare_samples(spread, same)
        paired = compare_samples(spread, same, paired=True)
    assert np.isfinite(welch.welch_p) and np.isfinite(paired.paired_p)
