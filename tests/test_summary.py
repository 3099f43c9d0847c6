"""The spread across seeds as a newcomer reads it: intervals inside the metric's range,
tables that fit 80 columns in a log file, and a note when accuracy is the majority-class rate."""

import io
import math

import numpy as np
import pytest
from rich.console import Console
from scipy import stats as sps

import fastlstm as fl
from fastlstm.report import short_number, summary_table
from fastlstm.stats import describe, majority_class_rate, metric_bounds, summarize


def make_summary(per_config, grid, majority=None, diverged=()):
    """A Summary of val_loss and val_accuracy from accuracies per configuration (no training)."""
    accuracy = np.array([v for values in per_config for v in values], np.float64)
    config = np.array([c for c, values in enumerate(per_config) for _ in values])
    ok = np.ones(len(accuracy), bool)
    ok[list(diverged)] = False
    final = {"val_loss": 2.0 * (1.0 - accuracy) + 0.05, "val_accuracy": accuracy}
    return summarize(final, config, grid, ok, majority_class_rate=majority)


def rich_text(renderable, width=80):
    out = io.StringIO()
    Console(width=width, file=out, force_terminal=False).print(renderable)
    return out.getvalue()


def assert_readable(text, words):
    """No line over 80 columns, nothing cut short ("learning…"), every word whole somewhere."""
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "…" not in text.replace(" … ", ""), text  # " … " is min … max; a cut word ends in "…"
    for word in words:
        assert any(word in line.split() for line in lines), word


# --- a. intervals ---------------------------------------------------------------------------


def test_two_seed_accuracy_interval_stays_in_unit_range_and_says_it_is_uninformative():
    row = make_summary([[0.2, 0.9]], [{}])[0]
    assert 0.0 <= row["val_accuracy_ci_low"] <= row["val_accuracy_ci_high"] <= 1.0
    assert row["val_accuracy_ci_clipped"] and row["val_accuracy_ci_method"] == "t"
    assert "2 seeds: uninformative" in row["val_accuracy_note"]
    assert row["val_accuracy_median"] == pytest.approx(0.55)


def test_loss_interval_is_not_negative():
    d = describe([0.01, 2.0, 0.02], bounds=metric_bounds("val_loss"))
    low, high = sps.t.interval(0.95, 2, loc=np.mean([0.01, 2.0, 0.02]), scale=sps.sem([0.01, 2.0, 0.02]))
    assert low < 0 and d["ci_low"] == 0.0 and d["ci_high"] == pytest.approx(high)
    assert d["ci_clipped"] and "clipped to >= 0" in d["note"]


def test_one_seed_has_no_interval():
    d = describe([0.7], bounds=(0.0, 1.0))
    assert d["n"] == 1 and d["ci_method"] == "none" and math.isnan(d["ci_low"]) and math.isnan(d["ci_high"])
    assert d["note"] == "1 seed: no interval" and not d["ci_clipped"]


def test_the_t_interval_at_every_seed_count():
    """The rule bench/stats_coverage.py's table supports (issue 26, item 12): BCa from 10 seeds
    under-covered (0.91 at 10-15 seeds on normal data); a studentized bootstrap is blown up
    by one failed seed (this one: [-0.25, 1.02] against t's [0.75, 0.97])."""
    for values in (
        [0.61, 0.64, 0.58, 0.70, 0.66],
        [0.9, 0.91, 0.92, 0.9, 0.93, 0.91, 0.92, 0.9, 0.91, 0.3, 0.92, 0.93],
    ):
        d = describe(values, bounds=(0.0, 1.0))
        low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
        assert d["ci_method"] == "t" and (d["ci_low"], d["ci_high"]) == pytest.approx((low, high))


def test_equal_values_give_a_zero_width_interval_from_ten_seeds():
    d = describe([0.25] * 12, bounds=(0.0, 1.0))
    assert d["ci_low"] == d["ci_high"] == pytest.approx(0.25) and not d["ci_clipped"]


# --- b. tables that fit 80 columns --------------------------------------------------------------


def test_drawn_values_print_at_four_significant_digits():
    """A random search draws floats like 2.8859822597932514e-4: labels keep four digits."""
    assert [short_number(v) for v in (2.8859822597932514e-4, 0.01823231078504894, 0.30000000000000004)] == [
        "2.886e-4",
        "0.01823",
        "0.3",
    ]


def test_grid_values_are_short():
    assert [short_number(v) for v in (1e-3, 3e-3, 0.5, 0.01, 2.5e-4, 32, "adam")] == [
        "1e-3",
        "3e-3",
        "0.5",
        "0.01",
        "2.5e-4",
        "32",
        "adam",
    ]


def test_plain_and_rich_tables_fit_80_columns_with_whole_headers_and_grid_values():
    summary = make_summary([[0.25, 0.27], [0.4, 0.5]], [{"learning_rate": 1e-3}, {"learning_rate": 3e-3}])
    words = ["learning_rate", "seeds", "val_loss", "val_accuracy", "1e-3", "3e-3"]
    for text in (str(summary), rich_text(summary_table(summary))):
        assert_readable(text, words)
        assert "mean ± std" in text and "95% CI of mean" in text and "min … max" in text
        assert "uninformative (2 seeds)" in text and "0.260 ± 0.014" in text


def test_many_settings_switch_to_one_table_per_configuration():
    grid = [
        {"learning_rate": 1e-3, "units": 32, "dropout": 0.1},
        {"learning_rate": 0.5, "units": 64, "dropout": 0.25},
    ]
    summary = make_summary([[0.5, 0.6, 0.7], [0.1, 0.9, 0.95]], grid, diverged=[0])
    for text in (str(summary), rich_text(summary_table(summary))):
        assert_readable(text, ["val_loss", "val_accuracy", "seeds", "metric"])
        assert "learning_rate 1e-3, units 32, dropout 0.1" in text
        assert "learning_rate 0.5, units 64, dropout 0.25" in text
        assert "2/3" in text and "diverged" in text  # 2 of 3 seeds used


def test_clipped_interval_is_marked_in_the_table():
    text = str(make_summary([[0.0, 0.05, 0.9]], [{}]))
    assert "[0.000, " in text and "]*" in text and "* clipped to the metric's range (val_accuracy [0, 1])" in text


def test_one_seed_table_shows_no_interval():
    text = str(make_summary([[0.7]], [{}]))
    assert "none (1 seed)" in text and "nan" not in text


# --- c. the majority-class rate ------------------------------------------------------------------


def test_majority_class_rate_of_labels_one_hot_and_binary_targets():
    labels = np.array([0, 1, 1, 2, 1, 1])
    assert majority_class_rate(labels, "classification") == pytest.approx(4 / 6)
    assert majority_class_rate(np.eye(3, dtype=np.float32)[labels], "classification") == pytest.approx(4 / 6)
    binary = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], np.float32)
    assert majority_class_rate(binary, "binary") == pytest.approx((0.75 + 0.75) / 2)
    assert majority_class_rate(np.zeros((4, 1), np.float32), "regression") is None


def test_accuracy_at_the_majority_rate_gets_a_note_and_others_do_not():
    grid = [{"learning_rate": 1e-3}, {"learning_rate": 3e-3}]
    summary = make_summary([[0.25, 0.25, 0.26], [0.6, 0.62, 0.61]], grid, majority=0.25)
    assert [row["val_accuracy_at_majority_rate"] for row in summary] == [True, False]
    for text in (str(summary), rich_text(summary_table(summary))):
        flat = " ".join(text.split())
        assert (
            "learning_rate 1e-3: mean val_accuracy 0.253 equals the majority-class rate 0.250; "
            "the model may be predicting the most frequent class" in flat
        )
        assert "3e-3: mean" not in flat
        assert max(len(line) for line in text.splitlines()) <= 80


def test_accuracy_far_from_the_rate_with_a_wide_spread_is_not_called_equal():
    summary = make_summary([[0.2, 0.9]], [{}], majority=0.25)
    assert not summary[0]["val_accuracy_at_majority_rate"] and "majority" not in str(summary)


def test_accuracy_below_the_majority_rate_gets_a_note():
    summary = make_summary([[0.20, 0.21, 0.19]], [{}], majority=0.31)
    assert summary[0]["val_accuracy_below_majority_rate"]
    assert "is below the majority-class rate 0.310" in " ".join(str(summary).split())


@pytest.mark.slow
def test_sweep_that_learns_nothing_is_flagged_against_the_validation_majority_rate():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.array([0] * 52 + [1] * 8 + [2] * 4))
    x = np.zeros((64, 4, 2), np.float32)  # nothing to learn from: the output is one class for every row
    result = fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=4),
        seeds=2,
        epochs=3,
        learning_rate=0.05,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
    )
    val_labels = y[48:]
    assert result.meta["majority_class_rate"] == pytest.approx(np.bincount(val_labels).max() / len(val_labels))
    text = " ".join(str(result.summary()).split())
    assert "equals the majority-class rate" in text and "most frequent class" in text


@pytest.mark.slow
def test_sweep_without_validation_scores_the_training_labels_binary():
    y = np.array([1.0] * 30 + [0.0] * 10, np.float32)
    x = np.random.default_rng(1).normal(size=(40, 3, 2)).astype(np.float32)
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4, task="binary"), seeds=1, epochs=1, verbose=0)
    assert result.meta["majority_class_rate"] == pytest.approx(0.75)
