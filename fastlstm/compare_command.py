"""`fastlstm compare RUN_A RUN_B`: two run folders side by side, and whether they differ.

Configurations with the same settings are compared with each other (the usual case:
the same sweep before and after a change to the data or the model); when no settings
match, each run's best configuration (by mean over seeds) with the other's. The tests
are `fastlstm.stats.compare_samples`'s, Holm-adjusted over the pairs. Members are
tested as pairs only when both runs read the same data file (same SHA-256 in
environment.json) and ran the same seeds on every RNG stream.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from fastlstm.io.run_folder import ENVIRONMENT_FILE


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    cp = sub.add_parser(
        "compare",
        help="two run folders side by side, with the tests that say whether they differ",
        description="Load two run folders, show each configuration's spread across seeds side by side, and test "
        "the configurations with the same settings against each other (Welch's t, Mann-Whitney, P(a seed of A "
        "beats a seed of B), Hedges' g; Holm-adjusted), or each run's best configuration when none match.",
    )
    cp.add_argument("run_a", type=Path, metavar="RUN_A", help="a run folder (fastlstm sweep --out)")
    cp.add_argument("run_b", type=Path, metavar="RUN_B", help="another run folder")
    cp.add_argument("--metric", help="metric to compare (default: val_accuracy, val_loss, accuracy or loss)")
    cp.add_argument("--json", action="store_true", help="print the comparison as strict JSON and nothing else")


def run_compare(args: argparse.Namespace, console: Console) -> int:
    """Load both runs, compare them, print text or JSON. Errors are ValueErrors (exit 2 in cli.main)."""
    from fastlstm.io.run_folder import strict_json
    from fastlstm.report.layout import run_comparison_text

    runs = [_load(name, path) for name, path in (("RUN_A", args.run_a), ("RUN_B", args.run_b))]
    doc = compare_runs(*runs, metric=args.metric, paths=(str(args.run_a), str(args.run_b)))
    if args.json:
        sys.stdout.write(strict_json(doc, indent=None) + "\n")
    else:
        console.print(run_comparison_text(doc, console.width), markup=False, highlight=False, soft_wrap=True)
    return 0


def _load(name: str, path: Path) -> Any:
    from fastlstm.result import load

    try:
        return load(path)
    except (ValueError, OSError) as err:
        raise ValueError(f"{name}: {err}") from None


def compare_runs(a: Any, b: Any, *, metric: str | None = None, paths: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
    """The comparison document of two `SweepResult`s (what `--json` prints)."""
    from fastlstm.stats import higher_is_better, holm, result_metric_values

    name = _common_metric(a, b, metric)
    values = [result_metric_values(run, name)[1] for run in (a, b)]
    pairs, matched_by = _matching_configs(a, b, values, name)
    keyed = _same_data(paths)
    comparisons = [_compare_pair(a, b, values, name, ca, cb, keyed) for ca, cb in pairs]
    for c, p in zip(comparisons, holm([c["test"]["p"] for c in comparisons])):
        c["p_holm"] = p
        c["verdict"] = _verdict(c["test"], p)
    return {
        "kind": "run_comparison",
        "metric": name,
        "higher_is_better": higher_is_better(name),
        "confidence": 0.95,
        "matched_by": matched_by,
        "runs": {key: _run_doc(run, v, name, path) for key, run, v, path in zip("ab", (a, b), values, paths)},
        "comparisons": comparisons,
        "notes": _notes(a, b, comparisons, matched_by, keyed),
    }


def _common_metric(a: Any, b: Any, metric: str | None) -> str:
    """`metric` if both runs have it, else the primary metric of those both report."""
    from fastlstm.stats import primary_metric

    if metric is not None:
        both = [m for m in a.history if m in b.history and m != "learning_rate"]
        if metric not in both:
            raise ValueError(f"--metric {metric!r} is not in both runs; expected one of {', '.join(both) or 'none'}")
        return metric
    common = [m for m in a.final_metrics() if m in b.final_metrics()]
    if not common:
        raise ValueError(
            "the two runs report no metric in common (one has validation data, the other not?): pass --metric"
        )
    return primary_metric(common, a.meta.get("task"))


def _settings_label(settings: dict[str, Any]) -> str:
    from fastlstm.report.html import config_label

    return config_label(settings) or "(one configuration)"


def _matching_configs(a: Any, b: Any, values: list[Any], metric: str) -> tuple[list[tuple[int, int]], str]:
    """Pairs (config of A, config of B) with equal settings, else each run's best: ([...], "settings"|"best")."""
    from fastlstm.coerce import to_python

    settings_b = [to_python(dict(s)) for s in b.configs]
    pairs = [
        (ca, settings_b.index(to_python(dict(s)))) for ca, s in enumerate(a.configs) if to_python(dict(s)) in settings_b
    ]
    if pairs:
        return pairs, "settings"
    return [(_best_config(a, values[0], metric), _best_config(b, values[1], metric))], "best"


def _best_config(run: Any, values: Any, metric: str) -> int:
    import numpy as np

    from fastlstm.stats import best_configuration

    config = np.array([m["config"] for m in run.members])
    try:
        return best_configuration(values, config, run.configs, metric=metric).config
    except ValueError:  # every member diverged: nothing is best, compare the first (its row says so)
        return 0


def _members_of(run: Any, c: int) -> list[int]:
    return [i for i, m in enumerate(run.members) if m["config"] == c]


def _compare_pair(a: Any, b: Any, values: list[Any], metric: str, ca: int, cb: int, keyed: bool) -> dict[str, Any]:
    from fastlstm.stats import compare_groups, describe, higher_is_better, member_pair_keys, metric_bounds

    ia, ib = _members_of(a, ca), _members_of(b, cb)
    keys_a = [member_pair_keys(a.members)[i] for i in ia] if keyed else None
    keys_b = [member_pair_keys(b.members)[i] for i in ib] if keyed else None
    test = compare_groups(values[0][ia], values[1][ib], keys_a, keys_b, higher_is_better=higher_is_better(metric))
    label = _settings_label(a.configs[ca])
    if a.configs[ca] != b.configs[cb]:
        label = "best of each"
    return {
        "label": label,
        "config_a": ca,
        "config_b": cb,
        "settings_a": dict(a.configs[ca]),
        "settings_b": dict(b.configs[cb]),
        "a": describe(values[0][ia], bounds=metric_bounds(metric)),
        "b": describe(values[1][ib], bounds=metric_bounds(metric)),
        "test": test.to_dict(),
    }


def _verdict(test: dict[str, Any], p_holm: float) -> str:
    import math

    if not math.isfinite(p_holm):
        return "not testable (needs >= 2 seeds on each side)"
    if p_holm >= 1 - test["confidence"]:
        return "not distinguishable"
    a_better = (test["difference"] > 0) == test["higher_is_better"]
    return f"{'A' if a_better else 'B'} better (p_holm={p_holm:.2g})"


def _run_doc(run: Any, values: Any, metric: str, path: str) -> dict[str, Any]:
    """One run's configurations with the metric's statistics (the side-by-side table's rows)."""
    from fastlstm.stats import describe, metric_bounds

    rows = []
    for c, settings in enumerate(run.configs):
        stats = describe(values[_members_of(run, c)], bounds=metric_bounds(metric))
        rows.append({"config": c, "settings": dict(settings), "label": _settings_label(settings), **stats})
    return {"path": path, "seeds": len(run.members), "configurations": rows}


def _same_data(paths: tuple[str, str]) -> bool:
    """Whether both run folders record reading the same data file (same non-null SHA-256)."""
    import json

    digests = []
    for path in paths:
        try:
            record = json.loads((Path(path) / ENVIRONMENT_FILE).read_text())
            digests.append(record.get("data", {}).get("sha256"))
        except (OSError, ValueError, AttributeError):
            return False
    return digests[0] is not None and digests[0] == digests[1]


def _notes(a: Any, b: Any, comparisons: list[dict[str, Any]], matched_by: str, keyed: bool) -> list[str]:
    notes = []
    if matched_by == "best":
        c = comparisons[0]
        notes.append(
            "no configuration of A has the settings of one of B: comparing each run's best by mean "
            f"(A: {_settings_label(c['settings_a'])}; B: {_settings_label(c['settings_b'])})"
        )
    if not keyed:
        notes.append("members tested as independent samples (the runs did not record reading the same data file)")
    for c in comparisons:
        for note in c["test"]["notes"]:
            if note not in notes:
                notes.append(note)
    return notes
