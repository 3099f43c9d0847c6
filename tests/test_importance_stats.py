"""fastlstm.stats.hyperparameter_importance: the ANOVA's numbers equal statsmodels', planted
effects are found and inert keys are not, the family-wise error holds, the surrogate finds a
log-uniform learning rate in random search, and the result round-trips and prints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastlstm.stats import Importance, hyperparameter_importance
from fastlstm.stats._importance import anova_table

LR_EFFECT = {1e-3: 0.0, 1e-2: 1.5, 1e-1: -1.0}


def _grid(seeds: int = 8) -> tuple[list[dict[str, object]], np.ndarray]:
    settings: list[dict[str, object]] = [
        {"lr": lr, "layers.0.dropout": d, "units": u, "epochs": 10}  # epochs never varies: ignored
        for lr in (1e-3, 1e-2, 1e-1)
        for d in (0.0, 0.5)
        for u in (32, 64)
    ]
    return settings, np.repeat(np.arange(len(settings)), seeds)


def _planted(rng: np.random.Generator, settings: list[dict[str, object]], config: np.ndarray, scale: float = 1.0):
    effect = np.array([LR_EFFECT[settings[c]["lr"]] for c in config])  # type: ignore[index]
    return scale * effect + rng.normal(size=config.size)


def _statsmodels_anova(values, config, settings):
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    ok = np.isfinite(values)
    frame = pd.DataFrame(
        {
            "y": values[ok],
            "lr": [settings[c]["lr"] for c in config[ok]],
            "layers.0.dropout": [settings[c]["layers.0.dropout"] for c in config[ok]],
            "units": [settings[c]["units"] for c in config[ok]],
        }
    )
    fit = ols('y ~ C(lr) * C(Q("layers.0.dropout")) * C(units)', frame).fit()
    return anova_lm(fit, typ=2)


def _factors(name: str) -> frozenset[str]:
    """'C(lr):C(Q("layers.0.dropout"))' and 'layers.0.dropout × lr' both -> {lr, layers.0.dropout}."""
    if " × " in name or "C(" not in name:
        return frozenset(name.split(" × "))
    return frozenset(p[2:-1].replace('Q("', "").replace('")', "") for p in name.split(":"))


@pytest.mark.parametrize("dropped", [(), (3, 17, 40, 41, 90)], ids=["balanced", "unbalanced"])
def test_anova_equals_statsmodels_type_ii(dropped):
    rng = np.random.default_rng(11)
    settings, config = _grid()
    values = _planted(rng, settings, config) + 0.4 * np.array([settings[c]["units"] == 64 for c in config])
    values[list(dropped)] = np.nan
    ours = anova_table(values, config, settings)
    theirs = _statsmodels_anova(values, config, settings)
    assert len(ours["names"]) == len(theirs) - 1 == 7
    ss_total, ms_res = ours["ss_total"], theirs.loc["Residual", "sum_sq"] / theirs.loc["Residual", "df"]
    assert ours["ss_residual"] == pytest.approx(theirs.loc["Residual", "sum_sq"], rel=1e-10)
    assert ours["df_residual"] == theirs.loc["Residual", "df"] == config.size - len(dropped) - 12
    rows = {_factors(n): n for n in theirs.index if n != "Residual"}
    for i, name in enumerate(ours["names"]):
        factors = (
            _factors(name) if name != "higher-order interactions" else frozenset(("lr", "layers.0.dropout", "units"))
        )
        row = theirs.loc[rows[factors]]
        assert ours["df"][i] == row["df"]
        np.testing.assert_allclose(ours["sum_sq"][i], row["sum_sq"], rtol=1e-10, atol=1e-10 * ss_total)
        np.testing.assert_allclose(ours["F"][i], row["F"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours["p"][i], row["PR(>F)"], rtol=1e-9, atol=1e-12)
        omega = (row["sum_sq"] - row["df"] * ms_res) / (ss_total + ms_res)
        np.testing.assert_allclose(ours["omega_sq"][i], omega, rtol=1e-10, atol=1e-12)
    # the public result reports the same omega squared as its shares, and SS_res / SS_total for the seeds
    found = hyperparameter_importance(values, config, settings, resamples=50)
    shares = {t.name: t.share for t in found.terms}
    for i, name in enumerate(ours["names"]):
        assert shares[name] == pytest.approx(ours["omega_sq"][i], rel=1e-12, abs=1e-14)
    assert shares["seeds"] == pytest.approx(ours["ss_residual"] / ss_total, rel=1e-12)


def test_planted_learning_rate_is_found_and_inert_keys_are_not():
    rng = np.random.default_rng(3)
    settings, config = _grid()
    values = _planted(rng, settings, config)
    values[[5, 50]] = np.nan
    found = hyperparameter_importance(values, config, settings, metric="val_accuracy")
    assert found.method == "anova"
    assert (found.configurations, found.members, found.seeds_per_configuration) == (12, 94, (7, 8))
    by_name = {t.name: t for t in found.terms}
    assert found.ranked()[0].name == "lr" and by_name["lr"].distinguishable is True
    assert by_name["lr"].share > 0.3
    assert by_name["layers.0.dropout"].distinguishable is False
    assert by_name["units"].distinguishable is False
    assert "epochs" not in by_name
    assert [t.kind for t in found.terms][-1] == "seeds" and by_name["seeds"].p_value is None
    assert by_name["higher-order interactions"].kind == "higher_order"
    assert by_name["lr × units"].kind == "interaction" and by_name["lr × units"].df == 2
    for term in found.terms:
        assert term.low <= term.share <= term.high, term


def test_anova_family_wise_error_when_nothing_matters():
    # 200 tables, every key inert: Holm over the 7 effect terms keeps P(any verdict
    # "distinguishable") <= 0.05; 0.08 is two binomial standard errors (0.015) above it.
    settings, config = _grid(seeds=4)
    rng = np.random.default_rng(2024)
    hits = 0
    for _ in range(200):
        values = 0.8 + 0.01 * rng.normal(size=config.size)
        found = hyperparameter_importance(values, config, settings, resamples=2)
        hits += any(t.distinguishable for t in found.terms)
    assert hits / 200 <= 0.08


def test_bootstrap_interval_covers_true_omega_squared():
    # One-way, 4 levels x 10 seeds, effects (0, 0, 1, 1) * 0.5, noise sd 1: population omega
    # squared = var(effect) / (var(effect) + 1) = 0.059. Over 200 tables the 90% interval covered in 88%;
    # here 40 tables, >= 30 (75%) tolerates the sampling of 40 and a percentile interval's undercoverage.
    settings = [{"lr": lr, "units": 32} for lr in (1e-3, 1e-2, 1e-1, 1.0)]
    config = np.repeat(np.arange(4), 10)
    effect = 0.5 * np.array([0.0, 0.0, 1.0, 1.0])[config]
    truth = np.var(effect) / (np.var(effect) + 1.0)
    rng = np.random.default_rng(7)
    covered = 0
    for i in range(40):
        found = hyperparameter_importance(
            effect + rng.normal(size=40), config, settings, confidence=0.9, resamples=400, seed=i
        )
        lr = next(t for t in found.terms if t.name == "lr")
        covered += lr.low <= truth <= lr.high
    assert covered >= 30


def _random_search(rng: np.random.Generator, configs: int = 40, seeds: int = 4):
    settings = [
        {"learning_rate": float(10 ** rng.uniform(-4, -1)), "momentum": float(rng.uniform(0, 1))}
        for _ in range(configs)
    ]
    config = np.repeat(np.arange(configs), seeds)
    lr = np.log10([settings[c]["learning_rate"] for c in config])
    return settings, config, -((lr + 2.5) ** 2) + rng.normal(size=config.size)  # about 30% of the variance


def test_surrogate_finds_a_log_uniform_learning_rate_and_not_an_inert_key():
    rng = np.random.default_rng(5)
    right = 0
    for i in range(10):
        settings, config, values = _random_search(rng)
        found = hyperparameter_importance(values, config, settings, resamples=50, permutations=99, seed=i)
        assert found.method == "surrogate"
        by_name = {t.name: t for t in found.terms}
        right += bool(by_name["learning_rate"].distinguishable) and by_name["momentum"].distinguishable is False
    assert right >= 9
    assert {t.kind for t in found.terms} == {"main", "lack_of_fit", "seeds"}
    assert by_name["learning_rate"].df == 4  # a cubic B-spline, df = min(4, distinct - 1)
    assert found.ranked()[0].name == "learning_rate"


def test_method_follows_the_design():
    rng = np.random.default_rng(0)
    settings, config = _grid(seeds=3)
    assert hyperparameter_importance(_planted(rng, settings, config), config, settings, resamples=5).method == "anova"
    settings, config, values = _random_search(rng, configs=20, seeds=2)
    assert hyperparameter_importance(values, config, settings, resamples=5, permutations=9).method == "surrogate"
    grid, one = _grid(seeds=1)
    with pytest.raises(ValueError, match="at least 2 seeds per configuration to separate seed noise; got 1"):
        hyperparameter_importance(rng.normal(size=one.size), one, grid)
    with pytest.raises(ValueError, match="values that differ"):
        hyperparameter_importance(np.full(config.size, 0.5), config, settings)
    with pytest.raises(ValueError, match="varies"):
        hyperparameter_importance(rng.normal(size=6), np.repeat([0, 1], 3), [{"lr": 0.1}, {"lr": 0.1}])


def test_round_trip_and_text_name_the_inert_key():
    rng = np.random.default_rng(3)
    settings, config = _grid()
    found = hyperparameter_importance(
        _planted(rng, settings, config, scale=2.0), config, settings, metric="val_accuracy", resamples=100
    )
    doc = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    assert Importance.from_dict(doc) == found
    headline = found.headline()
    assert headline.startswith("what moves val_accuracy: lr ") and "\n" not in headline
    assert "units" in headline and "indistinguishable from seed noise" in headline and "seeds " in headline
    text = "\n".join(found.lines())
    assert "indistinguishable from seed noise" in text and "layers.0.dropout" in text
    assert found.lines()[-1] == found.note and "Type II" in found.note and "Holm" in found.note


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from fastlstm.stats._importance import holm_adjusted

    rng = np.random.default_rng(1)
    for p in (rng.uniform(size=7), rng.uniform(size=3) ** 4, np.array([0.01, 0.01, 0.04, 0.5]), np.array([0.3])):
        np.testing.assert_allclose(holm_adjusted(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
