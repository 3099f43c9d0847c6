"""The validation scores document (fastlstm/results/_scores.py) for people: a few plain
lines under the summary table, and the report's "Validation scores" section.

The summary table shows what the model trained on (loss, accuracy); these lines say what a
user reports - balanced accuracy, macro F1, ROC AUC; RMSE in the target's units beside the
naive forecasts - for the best configuration by that score, with the spread over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastlstm._common.html import esc, key_values, table

if TYPE_CHECKING:
    from collections.abc import Callable

LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1",
    "roc_auc": "ROC AUC",
    "mae": "MAE",
    "rmse": "RMSE",
}
# the order scores are printed in: the headline first
PRINT_ORDER = ("balanced_accuracy", "macro_f1", "roc_auc", "accuracy", "rmse", "mae")
MAX_PRINTED_CLASSES = 8  # a larger confusion matrix is in scores.json and the report, not the terminal


def _decimals(value: float, digits: int = 3) -> int:
    """Decimals that show `value` to `digits` significant figures (scores below 1: two)."""
    if not math.isfinite(value) or abs(value) < 1:
        return digits - 1
    return max(0, digits - 1 - math.floor(math.log10(abs(value))))


def fmt(value: object, decimals: int | None = None) -> str:
    """A score for people (three significant figures unless `decimals`), "n/a" when missing."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "n/a"
    return f"{value:.{_decimals(value) if decimals is None else decimals}f}"


def mean_std(config: Mapping[str, Any], key: str) -> str:
    """ "0.81 ± 0.03", "43.2 ± 5.1": the std to the mean's decimals, shown from two seeds on."""
    mean, std = config["mean"].get(key), config["std"].get(key)
    if not isinstance(mean, (int, float)):
        return "n/a"
    decimals = _decimals(mean)
    return fmt(mean, decimals) + (f" ± {fmt(std, decimals)}" if isinstance(std, (int, float)) else "")


def _best_config(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    best = doc.get("best")
    return None if best is None else doc["configs"][best["config"]]


def score_lines(doc: Mapping[str, Any]) -> list[str]:
    """The lines `fastlstm sweep` prints under the summary table (none when nothing was scored)."""
    config = _best_config(doc) if doc.get("scored") else None
    if config is None:
        return [str(n) for n in doc.get("notes") or []]
    keys = [k for k in PRINT_ORDER if k in doc["scores"]]
    seeds = config["n"][doc["headline"]]
    which = f"configuration {config['config']}, best by {LABELS[doc['headline']]}; " if len(doc["configs"]) > 1 else ""
    units = f" {doc['units']}" if doc.get("units") else ""
    values = ", ".join(f"{LABELS[k]} {mean_std(config, k)}{units if k in ('mae', 'rmse') else ''}" for k in keys)
    lines = [f"{doc['data']} ({which}mean ± std over {seeds} seed{'s' * (seeds != 1)}): {values}"]
    lines += _class_lines(doc["best"])
    if doc.get("baselines"):
        lines.append(baseline_line(doc["baselines"], units))
    return lines + [str(n) for n in doc.get("notes") or []]


def _class_lines(best: Mapping[str, Any]) -> list[str]:
    """Per-class recall and, for a few classes, the confusion matrix summed over the seeds."""
    names = best.get("labels")
    if not names:
        return []
    recall = ", ".join(f"{name} {fmt(best['per_class_recall'].get(name))}" for name in names)
    lines = [f"per-class recall ({best['seeds_summed']} seeds summed): {recall}"]
    if len(names) <= MAX_PRINTED_CLASSES:
        cells = zip(names, best["confusion_matrix"])
        rows = "; ".join(f"{name} -> {' '.join(str(v) for v in row)}" for name, row in cells)
        lines.append(f"confusion matrix (row: true class -> counts predicted as {', '.join(names)}): {rows}")
    return lines


def baseline_line(baselines: Mapping[str, Any], units: str = "") -> str:
    """ "baselines on the same 17 windows: naive RMSE 54.4, seasonal naive (period 12) RMSE 52.5"."""
    naive = baselines["naive"]
    text = f"baselines on the same {baselines['windows']} windows: naive RMSE {fmt(naive['rmse'])}{units}, MAE {fmt(naive['mae'])}"
    seasonal = baselines.get("seasonal_naive")
    if seasonal is None:
        return text + f"; {baselines['season']} (no seasonal baseline)"
    period = baselines["period"]
    return text + f"; seasonal naive (period {period}) RMSE {fmt(seasonal['rmse'])}{units}, MAE {fmt(seasonal['mae'])}"


def scores_body(page: Any, doc: Mapping[str, Any]) -> str:
    """The report section: the configurations' mean ± std table, the baselines, and the
    best configuration's per-class recall and confusion matrix."""

    if not doc.get("scored"):
        return "".join(f"<p class='note'>{esc(n)}</p>" for n in doc.get("notes") or [])
    keys = [k for k in PRINT_ORDER if k in doc["scores"]]
    headers = ["configuration", "seeds", *(esc(f"{LABELS[k]} (mean ± std)") for k in keys)]
    rows = [[esc(c["config"]), esc(c["seeds"]), *(esc(mean_std(c, k)) for k in keys)] for c in doc["configs"]]
    lead = f"<p>Scored on {esc(doc['rows'])} {esc(doc['data'])} rows"
    lead += f"; target units: {esc(doc['units'])}.</p>" if doc.get("units") else ".</p>"
    rows += _baseline_rows(doc.get("baselines"), keys, esc)
    body = lead + table(headers, rows)
    if doc.get("baselines"):
        body += key_values([("season", esc(doc["baselines"]["season"]))])
    best = doc.get("best")
    if best and best.get("labels"):
        body += _confusion_html(best, esc, table)
    return body + "".join(f"<p class='note'>{esc(n)}</p>" for n in doc.get("notes") or [])


def _baseline_rows(
    baselines: Mapping[str, Any] | None, keys: Sequence[str], esc: Callable[[object], str]
) -> list[list[str]]:
    """The naive forecasts as rows beside the configurations: the errors a model must beat."""
    if not baselines:
        return []
    named = [("naive (last value)", baselines["naive"])]
    if baselines.get("seasonal_naive") is not None:
        named.append((f"seasonal naive (period {baselines['period']})", baselines["seasonal_naive"]))
    return [[esc(name), "-", *(esc(fmt(errors.get(k))) for k in keys)] for name, errors in named]


def _confusion_html(best: Mapping[str, Any], esc: Callable[[object], str], table: Any) -> str:
    """The best configuration's confusion matrix (rows true) with each class's recall."""
    names: Sequence[str] = best["labels"]
    headers = ["true \\ predicted", *(esc(n) for n in names), "recall"]
    rows = [
        [esc(name), *(esc(v) for v in row), esc(fmt(best["per_class_recall"].get(name)))]
        for name, row in zip(names, best["confusion_matrix"])
    ]
    title = (
        f"<h3>Configuration {esc(best['config'])} (best by {esc(LABELS[best['by']])}): "
        f"confusion matrix summed over {esc(best['seeds_summed'])} seeds</h3>"
    )
    return title + table(headers, rows)


__all__ = ["LABELS", "baseline_line", "score_lines", "scores_body"]
