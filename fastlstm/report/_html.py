"""report.html: one run on one page a person can open anywhere, offline.

The page is self-contained: inline CSS, every figure a base64 PNG data URI, no script,
nothing fetched. The same figures are saved as PNG files in the run folder's `plots/`
(for slides and papers). It shows the configuration, the summary table with its
intervals, learning curves, the spread of the final metrics, and, when the analysis
ran (`result.analysis`), the learning-rate range test, the variance sources and the
findings with their verification.

Large sweeps stay readable: at most MAX_CURVE_CONFIGS rows of learning curves and
MAX_BOX_CONFIGS configurations in the distribution plot - the best by mean of the
headline metric, never by the best seed - and at most MAX_SEED_LINES faint seed lines
per curve; the page says what was left out. Diverged members are listed, never drawn.

The page holds no clock time of its own (the environment's `written_at` is the folder's),
so `fastlstm report RUN_DIR` rebuilds the same bytes from the folder alone.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from fastlstm._common.html import esc, key_values, section, table
from fastlstm.report import _plots as plots
from fastlstm.report._ensemble import ensemble_body
from fastlstm.report._importance import importance_body
from fastlstm.report._scores import scores_body
from fastlstm.report._style import CSS
from fastlstm.spec._config_file import config_toml
from fastlstm.spec._schedulers import budget_headline, rung_table
from fastlstm.stats import format_p, metric_bounds
from fastlstm.stats._text import (
    config_label,
    decimals_for,
    headline_metric,
    interval_legend,
    metric_blocks,
    ranked_configs,
    share_phrase,
    short_number,
    summary_notes,
)

if TYPE_CHECKING:
    from fastlstm.results._result import SweepResult
    from fastlstm.stats import Summary

REPORT_FILE = "report.html"
PLOTS_FOLDER = "plots"
# every figure the page can hold, as plots/<name>; a rebuild removes the ones it no longer draws
PLOT_FILES = (
    "learning_curves.png",
    "final_metrics.png",
    "lr_range.png",
    "variance_sources.png",
    "verification.png",
    "importance.png",
    "reliability.png",
)
MAX_CURVE_CONFIGS = 6  # rows of learning curves
MAX_BOX_CONFIGS = 16  # configurations in the distribution plot
MAX_SEED_LINES = 8  # faint per-seed lines per curve
MAX_PANELS = 4  # metrics side by side
OPEN_CONFIG_LINES = 30  # config.toml longer than this starts collapsed
MAX_LIST_ITEMS = 12  # items of a list shown in an evidence table
MAX_MAJORITY_NOTES = 3  # more notes of accuracies at the majority-class rate become one line
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclasses.dataclass
class Report:
    """The page's text and its figures (file name under plots/ -> PNG bytes)."""

    html: str
    images: dict[str, bytes]


def number(value: object, digits: int = 4) -> str:
    """A number for people: about `digits` significant digits; None/NaN as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.{digits}g}"


class Page:
    """Collects the figures while the sections are written."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}

    def figure(self, name: str, alt: str, draw: Callable[..., bytes], *args: Any) -> str:
        """<img> of `draw(*args)` as a data URI, kept as plots/<name>; a figure that cannot be
        drawn becomes a visible note (and a warning), never a failed save of the whole run."""
        try:
            png = draw(*args)
        except Exception as err:  # a broken figure must not lose the run folder
            warnings.warn(f"report: {name} could not be drawn ({type(err).__name__}: {err})", stacklevel=2)
            return problem(f"This figure could not be drawn ({type(err).__name__}: {err}).")
        self.images[name] = png
        data = base64.b64encode(png).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def problem(text: str) -> str:
    return f'<p class="problem">{esc(text)}</p>'


# --- what to show ------------------------------------------------------------------------


def shown_configs(summary: Summary, metric: str | None, limit: int) -> tuple[list[int], str]:
    """All configurations in their order when they fit, else the best `limit` and a note saying so."""
    if len(summary) <= limit:
        return [row["config"] for row in summary], ""
    top = ranked_configs(summary, metric)[:limit]
    how = f"the {limit} with the best mean {metric}" if metric else f"the first {limit}"
    return top, f"Showing {how} of {len(summary)} configurations, best first; the table above has them all."


def usable_members(result: SweepResult, config: int) -> np.ndarray:
    """Members of `config` that did not diverge (diverged ones are listed, not drawn)."""
    return np.array(
        [m["index"] for m in result.members if m["config"] == config and m["status"] != "diverged"], dtype=int
    )


def curve_metrics(history: Mapping[str, np.ndarray]) -> list[str]:
    """Training metrics that have curves (their validation twins share the panel)."""
    return [n for n in history if not n.startswith("val_") and n != "learning_rate"][:MAX_PANELS]


# --- the sections ------------------------------------------------------------------------


def header(result: SweepResult, summary: Summary) -> str:
    """The run's name, its size in members, configurations and seeds, the leader, the contents."""
    spec = result.spec
    name = getattr(spec, "name", None) or "sweep"
    seeds = len(result.meta.get("seeds") or []) or round(len(result.members) / max(len(result.configs), 1))
    epochs = result.history["loss"].shape[1] if "loss" in result.history else 0
    meta = result.meta
    line = (
        f"{len(result.members)} members: {len(result.configs)} configuration{'s' * (len(result.configs) != 1)} × "
        f"{seeds} seed{'s' * (seeds != 1)}, up to {epochs} epochs; task {meta.get('task')}, loss {meta.get('loss')}"
    )
    lines = "".join(f"<p>{esc(text)}</p>" for text in (line, leader(summary)) if text)
    return f"<header><h1>fastlstm report: {esc(name)}</h1>{lines}{contents(result)}</header>"


def leader(summary: Summary) -> str:
    """Which configuration has the best mean headline metric, with its spread ("" for one configuration)."""
    metric = headline_metric(summary)
    if metric is None or len(summary) < 2:
        return ""
    row = next(r for r in summary if r["config"] == ranked_configs(summary, metric)[0])
    mean, std, n = row.get(f"{metric}_mean"), row.get(f"{metric}_std"), row.get(f"{metric}_n", 0)
    if mean is None or not math.isfinite(mean):
        return ""
    places = decimals_for([r.get(f"{metric}_mean", math.nan) for r in summary])  # as the table writes it
    spread = f" ± {std:.{places}f}" if std is not None and math.isfinite(std) else ""
    label = config_label({k: row[k] for k in summary.grid_keys if k in row})
    return (
        f"Best mean {metric}: {label}, {mean:.{places}f}{spread} over {n} seed{'s' * (n != 1)}; "
        "compare the intervals in the summary before calling it better."
    )


def contents(result: SweepResult) -> str:
    """Links to the sections this page has."""
    entries = [
        ("configuration", "Configuration"),
        ("summary", "Summary"),
        ("curves", "Learning curves"),
        ("final", "Final metrics"),
    ]
    if result.budget is not None:
        entries.insert(2, ("budget", "Successive halving"))
    titles = {
        "importance": "What moves the metric",
        "ensemble": "Seeds as an ensemble",
        "scores": "Validation scores",
        "lr_range": "Learning-rate range test",
        "variance_sources": "Variance sources",
        "findings": "Findings",
    }
    entries += [(key.replace("_", "-"), title) for key, title in titles.items() if key in result.analysis]
    return "<nav>" + " · ".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in entries) + "</nav>"


def configuration_section(result: SweepResult, environment: Mapping[str, object] | None) -> str:
    text, missing = config_toml(result)
    if text is None:
        config = f"<p class='note'>No config.toml: {esc(missing)}.</p>"
    else:
        lines = text.count("\n") + 1
        opened = " open" if lines <= OPEN_CONFIG_LINES else ""
        config = f"<details{opened}><summary>config.toml ({lines} lines)</summary><pre>{esc(text)}</pre></details>"
    return section("configuration", "Configuration", key_values(run_facts(result, environment or {})) + config)


def run_facts(result: SweepResult, environment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The data, what the task was inferred as, and what it ran on (environment.json)."""
    meta = result.meta
    facts = [("data", data_fact(environment.get("data")))]
    if meta.get("n_train") is not None:
        facts.append(("rows", esc(f"{meta['n_train']} training, {meta.get('n_val', 0)} validation")))
    reason = (meta.get("inferred") or {}).get("reason")
    facts.append(("task", esc(reason or f"{meta.get('task')}, loss {meta.get('loss')}")))
    if result.class_names is not None:
        names = ", ".join(f"{code} = {name}" for code, name in enumerate(result.class_names))
        facts.append(("classes", esc(f"{names} (code = your label)")))
    if result.target_scaling is not None:
        scaling = result.target_scaling
        facts.append(
            (
                "target scaling",
                esc(f"mean {scaling['mean']:.6g}, std {scaling['std']:.6g} (training rows; mae/mse in units)"),
            )
        )
    if meta.get("majority_class_rate") is not None:
        facts.append(
            (
                "majority-class rate",
                esc(f"{meta['majority_class_rate']:.3f} (always answering the most frequent class)"),
            )
        )
    if not environment:
        return [*facts, ("environment", "not recorded")]
    versions = environment.get("versions") or {}
    devices = environment.get("devices") or {}
    facts += [
        ("versions", esc(", ".join(f"{k} {v}" for k, v in versions.items() if v is not None))),
        ("platform", esc(environment.get("platform", "?"))),
        ("devices", esc(f"{devices.get('count', '?')} × {devices.get('kind', '?')} ({devices.get('platform', '?')})")),
        ("precision", esc(environment.get("precision", "?"))),
        ("fastlstm's git commit", esc(environment.get("git_commit") or "none (installed as a package)")),
        ("your project's git commit", esc(_project_commit(environment.get("working_directory")))),
        ("written", esc(environment.get("written_at", "?"))),
    ]
    return facts


def _project_commit(record: Mapping[str, object] | None) -> str:
    """The HEAD of the repository the run was started in, with the folder; older runs lack it."""
    if not record:
        return "not recorded"
    commit = record.get("git_commit") or "not a git repository"
    return f"{commit} (started in {record.get('path', '?')})"


def data_fact(data: Mapping[str, Any] | None) -> str:
    if not data:
        return "not recorded"
    if data.get("source") != "file":
        return esc(data.get("source", "in-memory arrays"))
    parts = [f"<code>{esc(data.get('name'))}</code> ({esc(data.get('format'))})"]
    if data.get("description"):
        parts.append(esc(data["description"]))
    if data.get("sha256"):
        parts.append(f"SHA-256 <code>{esc(data['sha256'][:16])}…</code>")
    return "; ".join(parts)


def summary_section(result: SweepResult, summary: Summary, shown: Sequence[int]) -> str:
    """The per-configuration table (every configuration), its legend and notes, the diverged members."""
    if not summary:
        return section("summary", "Summary", "<p>No configurations.</p>")
    blocks = metric_blocks(summary)
    n_grid = len(summary.grid_keys)
    headers = [esc(k) for k in summary.grid_keys] + ["seeds"]
    for block in blocks:
        metric = block.title.split(": ", 1)[1]
        headers += [f"{esc(metric)}<br><small>{esc(h)}</small>" for h in block.headers[n_grid + 1 :]]
    rows = []
    for r, row in enumerate(summary):
        cells: list[Any] = [esc(c) for c in blocks[0].rows[r][: n_grid + 1]]
        for block, metric in zip(blocks, summary.metrics):
            css = majority_class(row, metric)
            cells += [(esc(c), css) for c in block.rows[r][n_grid + 1 :]]
        rows.append(cells)
    notes = [interval_legend(summary), *readable_notes(summary), *(f for b in blocks for f in b.footnotes)]
    if len(summary) > len(shown):
        notes.append(f"The plots below show {len(shown)} of these {len(summary)} configurations.")
    body = f"<div class='wide'>{table(headers, rows, 'summary')}</div>" + "".join(
        f"<p class='note'>{esc(n)}</p>" for n in dict.fromkeys(notes)
    )
    return section("summary", "Summary", body + diverged_list(result))


def budget_section(result: SweepResult) -> str:
    """What a scheduler spent and saved, per rung, where each configuration was pruned, and
    whether the best of those that trained to the end beats the runner-up."""

    budget = cast("dict[str, Any]", result.budget)  # a scheduled sweep's: the caller checked
    headers, rows = rung_table(budget)
    body = f"<p>{esc(budget_headline(budget))}</p>" + table(
        [esc(h) for h in headers], [[esc(c) for c in r] for r in rows]
    )
    pruned_at = budget.get("pruned_at", {})
    keys = list(dict.fromkeys(k for point in result.configs for k in point))
    config_rows = [
        [esc(c), *(esc(short_number(point.get(k))) for k in keys), esc(pruned_at.get(str(c), "trained to the end"))]
        for c, point in enumerate(result.configs)
    ]
    body += table(["configuration", *map(esc, keys), "pruned at epoch"], config_rows)
    try:
        best = result.best()
        body += f"<p>Best of those trained to the end: configuration {best.config}, {esc(best.verdict)}.</p>"
    except ValueError as err:
        body += problem(str(err))
    body += "<p>The summary shows pruned configurations at the epoch they were pruned.</p>"
    return section("budget", "Successive halving", body)


def readable_notes(summary: Summary) -> list[str]:
    """The terminal's notes, but one line for the majority-class ones when there are many
    (64 configurations would give 64 lines); the table's shading shows which."""
    notes = summary_notes(summary)
    rate = summary.majority_class_rate
    majority = [n for n in notes if n.startswith("note:") and "majority-class rate" in n]
    shaded = [(row, m) for row in summary for m in summary.metrics if majority_class(row, m)]
    if not shaded:
        return notes
    key = "Shaded cells: a mean accuracy at (yellow) or below (red) the majority-class rate"
    if len(majority) <= MAX_MAJORITY_NOTES:
        return [*notes, f"{key}."]
    configs = len({row["config"] for row, _ in shaded})
    line = (
        f"{configs} of {len(summary)} configurations have a mean accuracy at or below the majority-class rate "
        f"{rate:.3f}: they may be predicting the most frequent class. {key}."
    )
    return [n for n in notes if n not in majority] + [line]


def majority_class(row: Mapping[str, object], metric: str) -> str:
    """The cells' class when an accuracy is no better than answering the most frequent class."""
    if row.get(f"{metric}_at_majority_rate"):
        return "at-majority"
    if row.get(f"{metric}_below_majority_rate"):
        return "below-majority"
    return ""


def diverged_list(result: SweepResult) -> str:
    """The members that diverged, by configuration and seed; they are in no plot or statistic."""
    diverged = [m for m in result.members if m["status"] == "diverged"]
    if not diverged:
        return ""
    rows = [
        [
            esc(m["index"]),
            esc(config_label(result.configs[m["config"]]) or "-"),
            esc(m.get("seed", "?")),
            esc(m.get("epochs_trained", "?")),
        ]
        for m in diverged
    ]
    title = f"<h3>Diverged members ({len(diverged)} of {len(result.members)})</h3>"
    note = "<p class='note'>Their loss became NaN or infinite; they are left out of the statistics and the plots.</p>"
    return title + note + table(["member", "configuration", "seed", "epochs trained"], rows)


def curves_section(page: Page, result: SweepResult, shown: Sequence[int], note: str) -> str:
    panels = curve_metrics(result.history)
    groups = [(config_label(result.configs[c]), usable_members(result, c)) for c in shown]
    groups = [(label, members) for label, members in groups if members.size]
    if not panels or not groups:
        return section("curves", "Learning curves", "<p>Nothing to draw: every member diverged.</p>")
    bounds = {m: metric_bounds(m) for m in panels}
    seeds = max(len(members) for _, members in groups)
    img = page.figure(
        "learning_curves.png",
        "learning curves",
        plots.learning_curves,
        result.history,
        groups,
        panels,
        bounds,
        MAX_SEED_LINES,
    )
    legend = "Solid: training; dashed: validation. Thick line: mean over seeds, band: ±1 std, faint lines: seeds"
    if seeds > MAX_SEED_LINES:
        legend += f" ({MAX_SEED_LINES} of up to {seeds}, evenly picked)"
    parts = [img, f"<p class='note'>{esc(legend + '.')}</p>"] + ([f"<p class='note'>{esc(note)}</p>"] if note else [])
    return section("curves", "Learning curves", "".join(parts))


def final_section(page: Page, result: SweepResult, summary: Summary, shown: Sequence[int], note: str) -> str:
    final = result.final_metrics()
    metrics = [m for m in summary.metrics if m in final and m != "learning_rate"][:MAX_PANELS]
    if not metrics:
        return section("final", "Final metrics", "<p>No final metrics.</p>")
    panels = [
        (
            m,
            [
                (config_label(result.configs[c]) or "all seeds", _finite(final[m][usable_members(result, c)]))
                for c in shown
            ],
        )
        for m in metrics
    ]
    if not any(len(values) for _, rows in panels for _, values in rows):
        return section("final", "Final metrics", "<p>Nothing to draw: no member has a finite final metric.</p>")
    rate = summary.majority_class_rate
    references = {m: ("majority-class rate", rate) for m in metrics if rate is not None and "accuracy" in m}
    img = page.figure(
        "final_metrics.png", "final metrics per configuration", plots.final_distributions, panels, references
    )
    text = (
        "Each point is one seed's metric at the epoch its weights come from; boxes span the quartiles, "
        "whiskers 1.5 IQR."
    )
    parts = [img, f"<p class='note'>{esc(text)}</p>"] + ([f"<p class='note'>{esc(note)}</p>"] if note else [])
    return section("final", "Final metrics", "".join(parts))


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, float)
    return values[np.isfinite(values)]


def guarded(anchor: str, title: str, doc: object, build: Callable[[Page, Any], str], page: Page) -> str:
    """An analysis section; a document this page cannot read (another version, made by hand)
    is shown as its JSON with the reason, so saving the run never fails on it."""
    try:
        body = build(page, doc)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        text = json.dumps(doc, indent=1, default=str)
        body = problem(f"This document could not be read ({type(err).__name__}: {err}); here it is as saved.")
        body += f"<details><summary>{esc(anchor)}.json</summary><pre>{esc(text)}</pre></details>"
    return section(anchor, title, body)


def lr_range_body(page: Page, doc: Mapping[str, Any]) -> str:
    if not isinstance(doc.get("learning_rates"), list) or not isinstance(doc.get("losses"), list):
        raise KeyError("learning_rates/losses")
    img = page.figure("lr_range.png", "learning-rate range test", plots.lr_range_curve, doc)
    span = doc.get("range")
    diverged = doc.get("diverged") or []
    facts = [
        ("recommended", esc(number(doc.get("recommended"), 3))),
        ("range", esc(f"{number(span[0], 3)} … {number(span[1], 3)}" if span else "none")),
        ("largest stable", esc(number(doc.get("largest_stable"), 3))),
        ("initial loss", esc(number(doc.get("initial_loss")))),
        (
            "tried",
            esc(
                f"{len(doc['learning_rates'])} learning rates × {len(doc.get('seeds') or [])} seeds, "
                f"{doc.get('epochs', '?')} epochs; {sum(diverged)} members diverged"
            ),
        ),
        ("rule", esc(doc.get("rule", ""))),
    ]
    return img + key_values(facts)


def variance_body(page: Page, doc: Mapping[str, Any]) -> str:
    sources = doc["sources"]
    img = page.figure("variance_sources.png", "variance sources", plots.variance_bars, doc)
    rows = [
        [esc(name), esc(s.get("n", "?")), esc(number(s.get("mean"))), esc(number(s.get("std")))]
        for name, s in sources.items()
    ]
    body = img + table(["varied", "seeds", f"mean {esc(doc.get('metric', ''))}", "std"], rows)
    facts = []
    crossed = doc.get("crossed") or {}
    if crossed.get("share_interval"):  # issue 26 item 14: each share with its interval and test
        shares = "; ".join(f"{t} {share_phrase(crossed, t)}" for t in crossed["share_interval"])
        facts.append(
            ("crossed init × order", esc(f"{crossed.get('levels', '?')} levels each; share [95% interval]: {shares}"))
        )
    elif crossed.get("share"):
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in crossed["share"].items() if v is not None)
        facts.append(("crossed init × order", esc(f"{crossed.get('levels', '?')} levels each; shares: {shares}")))
    additivity = doc.get("additivity") or {}
    if additivity.get("ratio") is not None:
        facts.append(
            (
                "additivity",
                esc(
                    f"sum of single-source variances / variance with all varied = {number(additivity['ratio'], 3)} "
                    "(1 if the sources added up)"
                ),
            )
        )
    grid = doc.get("grid")
    if grid:
        facts.append(
            (
                "seeds vs grid",
                esc(
                    f"seed variance {number(grid.get('seed_variance'))}, hyperparameter variance "
                    f"{number(grid.get('hyperparameter_variance'))} ({100 * grid.get('hyperparameter_share', math.nan):.0f}% "
                    "of the total)"
                ),
            )
        )
    notes = "".join(f"<p class='note'>{esc(n)}</p>" for n in doc.get("notes") or [])
    return body + (key_values(facts) if facts else "") + notes


def findings_body(page: Page, doc: Mapping[str, Any]) -> str:
    findings = sorted(doc["findings"], key=lambda f: SEVERITY_ORDER.get(f.get("severity"), 3))
    cards = [finding_card(f) for f in findings]
    if not cards:
        cards = ["<p>No findings: none of the checks saw anything wrong.</p>"]
    verification = doc.get("verification")
    return "".join(cards) + (verification_block(page, verification) if verification else "")


def finding_card(finding: Mapping[str, Any]) -> str:
    severity = str(finding.get("severity", "info"))
    evidence = finding.get("evidence") or {}
    rows = [[esc(k), esc(evidence_value(v))] for k, v in evidence.items()]
    change = finding.get("change")
    parts = [
        f"<div class='finding sev-{esc(severity)}'>",
        f"<p class='finding-head'><span class='badge'>{esc(severity)}</span> <code>{esc(finding['id'])}</code> "
        f"{esc(finding.get('title', ''))}</p>",
        table(["evidence", "value"], rows, "evidence") if rows else "",
        f"<p><b>Recommendation:</b> {esc(finding.get('recommendation', ''))}</p>",
        f"<p class='note'>Change to verify it: <code>{esc(change_text(change))}</code></p>" if change else "",
        "</div>",
    ]
    return "".join(parts)


def evidence_value(value: object) -> str:
    """A number with 4 significant digits, a long list cut to its first items."""
    if isinstance(value, list):
        shown = ", ".join(evidence_value(v) for v in value[:MAX_LIST_ITEMS])
        return f"[{shown}{', …' if len(value) > MAX_LIST_ITEMS else ''}]" + (
            f" ({len(value)} items)" if len(value) > MAX_LIST_ITEMS else ""
        )
    if isinstance(value, dict):
        return ", ".join(f"{k}: {evidence_value(v)}" for k, v in value.items())
    return number(value)


def change_text(change: Mapping[str, object]) -> str:
    return ", ".join(f"{k} = {json.dumps(v)}" for k, v in change.items())


def verification_block(page: Page, verification: Mapping[str, Any]) -> str:
    """doctor's before/after run of the top recommendation: its sentence, a small plot, the test."""
    parts = [f"<h3>Verification of <code>{esc(verification.get('finding', '?'))}</code></h3>"]
    if verification.get("change"):
        parts.append(f"<p class='note'>Ran again with <code>{esc(change_text(verification['change']))}</code></p>")
    parts.append(f"<p class='verdict'>{esc(verification.get('text', ''))}</p>")
    before, after = verification.get("before"), verification.get("after")
    if isinstance(before, Mapping) and isinstance(after, Mapping) and "mean" in before and "mean" in after:
        metric = str(verification.get("metric", "metric"))
        parts.append(page.figure("verification.png", "before and after", plots.before_after, before, after, metric))
    test = verification.get("test")
    if isinstance(test, Mapping) and test:
        parts.append(key_values(comparison_rows(test)))
    return "".join(parts)


def p_value(p: Any) -> str:

    text = format_p(p if isinstance(p, (int, float)) else None)
    if text == "n/a":
        return text
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def comparison_rows(test: Mapping[str, object]) -> list[tuple[str, str]]:
    """The comparison (fastlstm.stats.Comparison.to_dict(), after = A, before = B) as the few
    lines a reader needs; a document of another shape is shown key by key."""
    if not {"difference", "p", "p_beats", "hedges_g"} <= set(test):
        return [(str(k), esc(evidence_value(v))) for k, v in test.items()]
    low, high = test.get("difference_ci_low"), test.get("difference_ci_high")
    method = "paired t-test" if test.get("paired") else "Welch's t-test"
    rows = [
        (
            "seeds",
            f"{test.get('n_b', '?')} before, {test.get('n_a', '?')} after"
            + (", paired by seed" if test.get("paired") else ""),
        ),
        ("after - before", f"{number(test['difference'])} (95% CI {number(low)} to {number(high)})"),
        (method, p_value(test["p"])),
        ("Mann-Whitney", p_value(test.get("mannwhitney_p"))),
        (
            "P(a seed after beats a seed before)",
            f"{number(test['p_beats'], 2)} ({number(test.get('p_beats_ci_low'), 2)} to {number(test.get('p_beats_ci_high'), 2)})",
        ),
        ("effect size (Hedges' g)", number(test["hedges_g"], 2)),
    ]
    if test.get("note"):
        rows.append(("note", str(test["note"])))
    return [(k, esc(v)) for k, v in rows]


# --- the page and its files --------------------------------------------------------------


def build_report(
    result: SweepResult, environment: Mapping[str, object] | None = None, *, summary: Summary | None = None
) -> Report:
    """The page and its figures for `result`; `environment` is environment.json's record
    (None: not shown); `summary` is `result.summary()` when the caller has it already."""
    page = Page()
    summary = result.summary() if summary is None else summary
    metric = headline_metric(summary)
    curve_rows, curve_note = shown_configs(summary, metric, MAX_CURVE_CONFIGS)
    box_rows, box_note = shown_configs(summary, metric, MAX_BOX_CONFIGS)
    sections = [
        configuration_section(result, environment),
        summary_section(result, summary, curve_rows),
        curves_section(page, result, curve_rows, curve_note),
        final_section(page, result, summary, box_rows, box_note),
    ]
    if result.budget is not None:
        sections.insert(2, budget_section(result))
    analysis = result.analysis
    if "importance" in analysis:
        sections.append(guarded("importance", "What moves the metric", analysis["importance"], importance_body, page))
    if "ensemble" in analysis:
        sections.append(guarded("ensemble", "Seeds as an ensemble", analysis["ensemble"], ensemble_body, page))
    if "scores" in analysis:
        sections.append(guarded("scores", "Validation scores", analysis["scores"], scores_body, page))
    if "lr_range" in analysis:
        sections.append(guarded("lr-range", "Learning-rate range test", analysis["lr_range"], lr_range_body, page))
    if "variance_sources" in analysis:
        sections.append(
            guarded("variance-sources", "Variance sources", analysis["variance_sources"], variance_body, page)
        )
    if "findings" in analysis:
        sections.append(guarded("findings", "Findings", analysis["findings"], findings_body, page))
    title = esc(f"fastlstm report: {getattr(result.spec, 'name', None) or 'sweep'}")
    text = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body>{header(result, summary)}{''.join(sections)}"
        "<footer>Written by fastlstm; rebuild with <code>fastlstm report RUN_DIR</code>.</footer></body></html>\n"
    )
    return Report(text, page.images)


def write_report_files(folder: Path, report: Report) -> None:
    """Write report.html and plots/*.png into `folder`, a run folder's temporary folder
    (`write_run_folder` renames the whole folder into place, so plain writes suffice)."""
    (folder / PLOTS_FOLDER).mkdir(exist_ok=True)
    for name, png in report.images.items():
        (folder / PLOTS_FOLDER / name).write_bytes(png)
    (folder / REPORT_FILE).write_text(report.html, encoding="utf-8")
