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
from typing import TYPE_CHECKING, Any

from rich.console import Console

from fastlstm._common.coerce import to_python
from fastlstm.report._html import config_label
from fastlstm.results._result import load
from fastlstm.results._run_folder import ENVIRONMENT_FILE, strict_json
from fastlstm.stats import (
    best_configuration,
    compare_groups,
    describe,
    higher_is_better,
    holm,
    member_pair_keys,
    metric_bounds,
    primary_metric,
    result_metric_values,
)
from fastlstm.stats._text import run_comparison_text

if TYPE_CHECKING:
    import numpy as np

    from fastlstm.results._result import SweepResult


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

    runs = [_load(name, path) for name, path in (("RUN_A", args.run_a), ("RUN_B", args.run_b))]
    doc = compare_runs(*runs, metric=args.metric, paths=(str(args.run_a), str(args.run_b)))
    if doc["data_warning"]:  # on stderr too, so --json's reader sees it without parsing notes
        Console(stderr=True).print(f"warning: {doc['data_warning']}", style="yellow", markup=False, soft_wrap=True)
    if args.json:
        sys.stdout.write(strict_json(doc, indent=None) + "\n")
    else:
        console.print(run_comparison_text(doc, console.width), markup=False, highlight=False, soft_wrap=True)
    return 0


def _load(name: str, path: Path) -> SweepResult:

    try:
        return load(path)
    except (ValueError, OSError) as err:
        raise ValueError(f"{name}: {err}") from None


def compare_runs(
    a: SweepResult, b: SweepResult, *, metric: str | None = None, paths: tuple[str, str] = ("A", "B")
) -> dict[str, Any]:
    """The comparison document of two `SweepResult`s (what `--json` prints)."""

    check_comparable(a, b)
    name = _common_metric(a, b, metric)
    check_same_loss(a, b, name)
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
        "differences": setting_differences(a, b),
        "data_warning": different_data(paths),
        "notes": _notes(a, b, comparisons, matched_by, keyed),
    }


def _problem(run: SweepResult) -> dict[str, Any]:
    """What a run's numbers are numbers of: its task, outputs, classes and input features."""
    meta = run.meta
    classes = meta.get("class_names")
    return {
        "task": meta.get("task"),
        "outputs": meta.get("out_dim"),
        "classes": len(classes) if classes else meta.get("num_classes"),
        "features": run._trained_features(),
    }


def _describe_problem(problem: dict[str, Any]) -> str:
    """'a binary task (2 classes, 1 feature)', the words the refusal uses."""
    parts = [f"{problem['classes']} classes"] if problem["classes"] else [f"{problem['outputs']} outputs"]
    if problem["features"] is not None:
        parts.append(f"{problem['features']} feature{'s' * (problem['features'] != 1)}")
    return f"a {problem['task']} task ({', '.join(parts)})"


def check_comparable(a: SweepResult, b: SweepResult) -> None:
    """Refuse two runs of different problems (task, classes or outputs, input features):
    their metrics measure different things, so any p-value between them is meaningless
    (a 9-class JapaneseVowels run against a binary ItalyPowerDemand one was "B better")."""
    pa, pb = _problem(a), _problem(b)
    differ = [k for k in pa if pa[k] is not None and pb[k] is not None and pa[k] != pb[k]]
    if differ:
        raise ValueError(
            f"RUN_A is {_describe_problem(pa)}, RUN_B {_describe_problem(pb)}: runs of different problems "
            f"({', '.join(differ)} differ) cannot be compared"
        )


def check_same_loss(a: SweepResult, b: SweepResult, metric: str) -> None:
    """A loss metric of runs that minimised different losses (mse against mae) is not one measure."""
    if metric not in ("loss", "val_loss") or a.meta.get("loss") == b.meta.get("loss"):
        return
    raise ValueError(
        f"--metric {metric}: RUN_A minimised {a.meta.get('loss')} and RUN_B {b.meta.get('loss')}, so their "
        f"{metric} are different measures; compare another metric (--metric val_mae, say)"
    )


def setting_differences(a: SweepResult, b: SweepResult) -> list[dict[str, Any]]:
    """Every spec key whose value differs between the runs ({"key", "a", "b"}; a missing key is
    None): what changed between A and B, so a difference in the numbers can be read against it."""

    flat = [_flatten(run.spec.to_dict()) if run.spec is not None else {} for run in (a, b)]
    flat = [{k: v for k, v in f.items() if k != "name"} for f in flat]  # the run's name is not a setting
    keys = sorted(set(flat[0]) | set(flat[1]))
    return [
        {"key": k, "a": to_python(flat[0].get(k)), "b": to_python(flat[1].get(k))}
        for k in keys
        if flat[0].get(k) != flat[1].get(k)
    ]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"units": 32}} -> {"model.units": 32}; lists and grid values stay whole."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, dict) and k == "grid":  # a grid axis's values are one setting
            out |= {f"grid.{axis}": axis_values for axis, axis_values in v.items()}
        elif isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def different_data(paths: tuple[str, str]) -> str | None:
    """A warning when both runs recorded reading a data file and the files differ (SHA-256):
    then A and B differ in their data as well as in their settings."""
    import json

    records = []
    for path in paths:
        try:
            records.append(json.loads((Path(path) / ENVIRONMENT_FILE).read_text()).get("data") or {})
        except (OSError, ValueError, AttributeError):
            return None
    digests = [r.get("sha256") for r in records]
    if None in digests or digests[0] == digests[1]:
        return None
    names = [r.get("name") or r.get("path") or "?" for r in records]
    return (
        f"the runs read different data files (A: {names[0]}, B: {names[1]}): a difference below may come "
        "from the data, not from the settings"
    )


def _common_metric(a: SweepResult, b: SweepResult, metric: str | None) -> str:
    """`metric` if both runs have it, else the primary metric of those both report."""

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

    return config_label(settings) or "(one configuration)"


def _matching_configs(
    a: SweepResult, b: SweepResult, values: list[Any], metric: str
) -> tuple[list[tuple[int, int]], str]:
    """Pairs (config of A, config of B) with equal settings, else each run's best: ([...], "settings"|"best")."""

    settings_b = [to_python(dict(s)) for s in b.configs]
    pairs = [
        (ca, settings_b.index(to_python(dict(s)))) for ca, s in enumerate(a.configs) if to_python(dict(s)) in settings_b
    ]
    if pairs:
        return pairs, "settings"
    return [(_best_config(a, values[0], metric), _best_config(b, values[1], metric))], "best"


def _best_config(run: SweepResult, values: np.ndarray, metric: str) -> int:
    import numpy as np

    config = np.array([m["config"] for m in run.members])
    try:
        return best_configuration(values, config, run.configs, metric=metric).config
    except ValueError:  # every member diverged: nothing is best, compare the first (its row says so)
        return 0


def _members_of(run: SweepResult, c: int) -> list[int]:
    return [i for i, m in enumerate(run.members) if m["config"] == c]


def _compare_pair(
    a: SweepResult, b: SweepResult, values: list[Any], metric: str, ca: int, cb: int, keyed: bool
) -> dict[str, Any]:

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


def _run_doc(run: SweepResult, values: np.ndarray, metric: str, path: str) -> dict[str, Any]:
    """One run's configurations with the metric's statistics (the side-by-side table's rows)."""

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


def _notes(
    a: SweepResult, b: SweepResult, comparisons: list[dict[str, Any]], matched_by: str, keyed: bool
) -> list[str]:
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
