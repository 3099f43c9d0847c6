"""seeds.instability: whether one run's number means anything.

Two symptoms. Some seeds fail while others succeed in the same configuration (a split:
the mean describes no member; warning). Or the spread across seeds is as large as the
differences between configurations (a one-way ANOVA cannot tell them apart, and the
best configuration by one seed is a coin toss - Reimers & Gurevych 2017; info, since
that is a fact about the sweep's resolution rather than a fault).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastlstm.diagnose._curves import Curves, last_finite
from fastlstm.diagnose._findings import Finding
from fastlstm.diagnose._training_checks import blown_up, final_accuracy, still_blown_up

SUCCESS_MARGINS = 2.0  # a seed "succeeds" above majority + 2 noise margins, "fails" within 1
SPREAD_P = 0.05  # ANOVA p above this: configurations indistinguishable from seed noise
SPREAD_OVER_GAIN = 0.5  # one configuration: seed std above half its gain over chance
HALF_WIDTH = 0.01  # the CI half-width the seeds-needed estimate aims at (1 accuracy point)


def _split_rows(c: Curves) -> list[dict[str, Any]]:
    """Configurations where at least one seed failed (at chance, or blew up) and one succeeded."""
    if c.final_accuracy is None or c.majority_rate is None:
        return []
    margin, bad = c.chance_margin(), still_blown_up(c)  # a seed that spiked and learnt again did not fail
    rows = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        acc = c.final_accuracy[idx]
        failed = bad[idx] | ~np.isfinite(acc) | (acc <= c.majority_rate + margin)
        succeeded = ~bad[idx] & (acc >= c.majority_rate + SUCCESS_MARGINS * margin)
        if failed.any() and succeeded.any():
            row: dict[str, object] = {"config": k, "learning_rate": c.lr_of_config(k), "failed": int(failed.sum())}
            row.update({"succeeded": int(succeeded.sum()), "seeds": int(idx.size)})
            row["accuracies"] = [float(v) for v in acc]
            rows.append(row)
    return rows


def _final_metric(c: Curves) -> tuple[str, list[np.ndarray]]:
    if c.final_accuracy is not None:
        return "accuracy", [final_accuracy(c, k) for k in range(len(c.configs))]
    values = last_finite(c.val_loss if c.val_loss is not None else c.loss)
    ok = ~blown_up(c) & np.isfinite(values)
    return "loss", [values[c.members_of(k)][ok[c.members_of(k)]] for k in range(len(c.configs))]


def _spread(c: Curves) -> dict[str, Any] | None:
    """Seed spread against configuration differences; None when it is small enough."""
    metric, groups = _final_metric(c)
    groups = [g for g in groups if g.size >= 2]
    if not groups:
        return None
    pooled = math.sqrt(float(np.mean([np.var(g, ddof=1) for g in groups])))
    if pooled == 0:
        return None  # every seed alike: nothing to say about the spread
    out: dict[str, Any] = {"metric": metric, "pooled_seed_std": pooled}
    out["seeds_for_half_width"] = {str(HALF_WIDTH): math.ceil((1.96 * pooled / HALF_WIDTH) ** 2)}
    if len(groups) >= 2:
        from scipy.stats import f_oneway

        p = float(f_oneway(*groups).pvalue)
        out.update({"between_config_std": float(np.std([g.mean() for g in groups], ddof=1)), "anova_p": p})
        return out if math.isfinite(p) and p > SPREAD_P else None
    gain = float(groups[0].mean()) - (c.majority_rate or 0.0) if metric == "accuracy" else math.nan
    out["gain_over_chance"] = gain
    learnt = math.isfinite(gain) and gain > c.chance_margin()  # at chance, a spread means nothing
    return out if learnt and pooled > SPREAD_OVER_GAIN * gain else None


def check_instability(c: Curves) -> list[Finding]:
    split = _split_rows(c)
    spread = _spread(c)
    if not split and spread is None:
        return []
    evidence: dict[str, Any] = {"split_configs": split, **(spread or {})}
    if split:
        worst = max(split, key=lambda r: min(r["failed"], r["succeeded"]))
        title = (
            f"seeds disagree: in {len(split)} configuration(s) some seeds fail while others learn "
            f"(config {worst['config']}: {worst['failed']} failed, {worst['succeeded']} learnt of {worst['seeds']})"
        )
        advice = (
            "Report the mean and spread over seeds, never one seed; make training less fragile (lower learning "
            "rate, gradient clipping, a forget-gate bias) and compare configurations with more seeds."
        )
    else:
        assert spread is not None
        title = f"the spread across seeds ({spread['pooled_seed_std']:.3g} std) is " + (
            "as large as the differences between configurations"
            if "anova_p" in spread
            else f"more than half the gain over chance ({spread['gain_over_chance']:.3g})"
        )
        advice = (
            "Do not pick a configuration by its best seed; run more seeds "
            f"(about {spread['seeds_for_half_width'][str(HALF_WIDTH)]} for a +/-{HALF_WIDTH} interval) before ranking them."
        )
    return [Finding("seeds.instability", "warning" if split else "info", title, evidence, advice)]
