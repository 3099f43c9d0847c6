"""The cells of the summary tables, and their plain-text rendering.

Two layouts of the same cells. By metric (the usual one, to compare settings):
a table per metric, a row per configuration with the settings that vary, seeds,
mean ± std, the 95% interval of the mean (or why there is none), min … max. By
configuration, when that is wider than the page (many settings in the grid): a
table per configuration, a row per metric. Numbers get about four significant
digits of the metric's largest value, grid values their shortest form (1e-3,
0.5), so that the usual sweep fits in 80 columns, in a terminal or a log file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.engine._losses import higher_is_better
from fastlstm.stats._bounds import format_bounds, metric_bounds
from fastlstm.stats._compare import format_p

if TYPE_CHECKING:
    from fastlstm.stats._ranking import Ranking
    from fastlstm.stats._summary import Summary

WIDTH = 80  # rich's width when stdout is not a terminal; also the plain text's
GAP = 2  # spaces between columns
CLIPPED_MARK = "*"
STAT_HEADERS = ["mean ± std", "95% CI of mean", "min … max"]


@dataclasses.dataclass
class Block:
    """One table: title, column headers, how many leading columns are text (left-aligned), rows, footnotes."""

    title: str
    headers: list[str]
    text_columns: int
    rows: list[list[str]]
    footnotes: list[str]
    min_widths: list[int] = dataclasses.field(default_factory=list)  # to line up with the blocks around it

    def widths(self) -> list[int]:
        own = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.headers)]
        return [max([w, *self.min_widths[i : i + 1]]) for i, w in enumerate(own)]

    def width(self) -> int:
        return sum(self.widths()) + GAP * (len(self.headers) - 1)


def short_number(value: object) -> str:
    """A grid value as short as it reads: 1e-3, 3e-4, 0.5, 32, 'adam'; at most four
    significant digits, so a drawn learning rate reads 2.886e-4, not 2.8859822597932514e-4."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, np.floating)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    plain = np.format_float_positional(value, precision=4, fractional=False, trim="-")
    scientific = np.format_float_scientific(value, precision=3, trim="-", exp_digits=1).replace("e+", "e")
    return scientific if len(scientific) < len(plain) else plain


def decimals_for(values: Sequence[float]) -> int:
    """Decimals that give the largest value about four significant digits (3 for accuracies and losses near 1)."""
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    if largest == 0:
        return 3
    exponent = math.floor(math.log10(largest))
    return min(8, max(0, 3 - exponent if exponent >= 0 else 2 - exponent))


def _seeds_cell(row: dict[str, Any]) -> str:
    """Seeds trained, or used/trained where some diverged (they are left out of the numbers)."""
    if row["diverged"]:
        return f"{row['seeds'] - row['diverged']}/{row['seeds']}"
    return str(row["seeds"])


def _stat_cells(row: dict[str, Any], m: str, places: int) -> list[str]:
    """mean ± std, the interval (or why there is none), min … max of metric `m` in one row."""
    n = row[f"{m}_n"]
    if n == 0:
        return ["all diverged" if row["diverged"] == row["seeds"] else "no values", "", ""]

    def num(stat: str) -> str:
        return f"{row[f'{m}_{stat}']:.{places}f}"

    spread = f"{num('mean')} ± {num('std')}" if n > 1 else num("mean")
    if n == 1:
        interval = "none (1 seed)"
    elif n == 2:
        interval = "uninformative (2 seeds)"
    else:
        interval = f"[{num('ci_low')}, {num('ci_high')}]" + (CLIPPED_MARK if row[f"{m}_ci_clipped"] else "")
    return [spread, interval, f"{num('min')} … {num('max')}"]


def _decimals(summary: Summary) -> dict[str, int]:
    return {
        m: decimals_for([row[f"{m}_{s}"] for row in summary for s in ("mean", "min", "max")]) for m in summary.metrics
    }


def _footnotes(rows: list[list[str]], metrics: Sequence[str]) -> list[str]:
    if not any(r[-2].endswith(CLIPPED_MARK) for r in rows):
        return []
    ranges = ", ".join(f"{m} {format_bounds(metric_bounds(m))}" for m in metrics)
    return [f"{CLIPPED_MARK} clipped to the metric's range ({ranges})"]


def metric_blocks(summary: Summary) -> list[Block]:
    """A block per metric, a row per configuration: for comparing settings."""
    places = _decimals(summary)
    blocks = []
    for m in summary.metrics:
        rows = [
            [
                *(short_number(row.get(k, "")) for k in summary.grid_keys),
                _seeds_cell(row),
                *_stat_cells(row, m, places[m]),
            ]
            for row in summary
        ]
        headers = [*summary.grid_keys, "seeds", *STAT_HEADERS]
        blocks.append(Block(f"Spread across seeds: {m}", headers, 0, rows, _footnotes(rows, [m])))
    return blocks


def config_blocks(summary: Summary) -> list[Block]:
    """A block per configuration, a row per metric: the narrow layout, whatever the number of settings."""
    places = _decimals(summary)
    blocks = []
    for row in summary:
        settings = ", ".join(f"{k} {short_number(row[k])}" for k in summary.grid_keys if k in row)
        rows = [[m, _seeds_cell(row), *_stat_cells(row, m, places[m])] for m in summary.metrics]
        title = "Spread across seeds" + (f": {settings}" if settings else "")
        blocks.append(Block(title, ["metric", "seeds", *STAT_HEADERS], 1, rows, []))
    all_rows = [r for b in blocks for r in b.rows]
    blocks[-1].footnotes = _footnotes(all_rows, summary.metrics)
    common = [max(widths) for widths in zip(*(b.widths() for b in blocks))]
    for b in blocks:
        b.min_widths = common
    return blocks


def blocks_for_width(summary: Summary, width: int = WIDTH) -> list[Block]:
    """By metric where that fits in `width` columns, else by configuration."""
    blocks = metric_blocks(summary)
    if summary.grid_keys and max(b.width() for b in blocks) > width:
        return config_blocks(summary)
    return blocks


def interval_legend(summary: Summary) -> str:
    """What the numbers are and how the intervals were made, for under the tables."""
    text = "Each member's metric at the epoch its weights come from (its last, or its best if restored). "
    methods = {row[f"{m}_ci_method"] for row in summary for m in summary.metrics} - {"none"}
    if not methods:
        return text + "95% CI of the mean: none with one seed"
    if methods == {"t"}:
        text += "95% CI of the mean: t-interval over seeds"
    else:  # results saved before the t-interval was chosen by coverage (issue 26, item 12) may hold BCa
        text += f"95% CI of the mean: {' or '.join(sorted(methods))} over seeds"
    if any(row[f"{m}_n"] == 2 for row in summary for m in summary.metrics):
        text += "; from 2 seeds it spans ±12.7 standard errors, too wide to tell anything: train more seeds"
    return text


def summary_notes(summary: Summary) -> list[str]:
    """What the reader must know to read the numbers: seeds left out, an accuracy no better than guessing."""
    notes = []
    diverged = [row for row in summary if row["diverged"]]
    if diverged:
        example = max(diverged, key=lambda row: row["seeds"] - row["diverged"])
        used, trained = example["seeds"] - example["diverged"], example["seeds"]
        notes.append(
            f"seeds {used}/{trained}: {used} of {trained} used; members that diverged (loss NaN or inf) are left out"
        )
    rate = summary.majority_class_rate
    if rate is None:
        return notes
    for m in summary.metrics:
        for row in summary:
            where = ", ".join(f"{k} {short_number(row[k])}" for k in summary.grid_keys if k in row)
            said = f"note: {where + ': ' if where else ''}mean {m} {row[f'{m}_mean']:.3f}"
            if row.get(f"{m}_at_majority_rate"):
                notes.append(
                    f"{said} equals the majority-class rate {rate:.3f}; "
                    "the model may be predicting the most frequent class"
                )
            elif row.get(f"{m}_below_majority_rate"):
                notes.append(
                    f"{said} is below the majority-class rate {rate:.3f}; "
                    "always answering the most frequent class would score more"
                )
    return notes


def _plain_table(block: Block) -> list[str]:
    widths = block.widths()

    def line(cells: list[str]) -> str:
        aligned = [c.ljust(w) if i < block.text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return (" " * GAP).join(aligned).rstrip()

    return [block.title, line(block.headers), *(line(r) for r in block.rows)]


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)


def summary_text(summary: Summary, width: int = WIDTH) -> str:
    """The summary as plain text: tables, then the legend and notes wrapped to `width`."""
    if not summary:
        return "(no configurations)"
    lines: list[str] = []
    for block in blocks_for_width(summary, width):
        lines += [*_plain_table(block), *(s for f in block.footnotes for s in wrap(f, width)), ""]
    for text in [interval_legend(summary), *summary_notes(summary)]:
        lines += wrap(text, width)
    return "\n".join(lines)


# --- rankings (`result.compare()`) and two runs side by side (`fastlstm compare`) ---------------
VERDICT_WORDS = {"best": "best", "reference": "ref"}
RANKING_HEADERS = ["seeds", "mean ± std", "95% CI of mean", "p (adj.)", "P(beats)", "verdict"]


def short_verdict(verdict: str) -> str:
    """The table's one-word form of a verdict ('≈ best' for 'not distinguishable from the best')."""
    if verdict.startswith("not distinguishable"):
        return "≈ best" if verdict.endswith("best") else "≈ ref"
    if verdict.startswith(("worse", "better")):
        return verdict.split(" ")[0]
    if verdict.startswith("all seeds diverged"):
        return "diverged"
    if verdict.startswith("cannot be tested"):
        return "untestable"
    return VERDICT_WORDS.get(verdict, "n/a")


def _mean_cells(row: dict[str, Any], places: int) -> list[str]:
    """mean ± std and the interval of a ranking row (whose keys are the describe() names)."""
    n = row["n"]
    if n == 0:
        return ["all diverged", ""]
    spread = f"{row['mean']:.{places}f}" + (f" ± {row['std']:.{places}f}" if n > 1 else "")
    interval = f"[{row['ci_low']:.{places}f}, {row['ci_high']:.{places}f}]"
    if n < 3:
        interval = "none (1 seed)" if n == 1 else "uninformative (2 seeds)"
    return [spread, interval]


def _p_cell(p: float) -> str:
    return "" if not math.isfinite(p) else format_p(p)


def ranking_block(ranking: Ranking, width: int = WIDTH) -> tuple[Block, list[str]]:
    """The ranking table, and the lines that name each configuration when its settings do not fit."""
    places = decimals_for([row[s] for row in ranking for s in ("mean", "ci_low", "ci_high")])
    settings = list(ranking.grid_keys)

    def cells(row: dict[str, Any], keys: list[str]) -> list[str]:
        seeds = f"{row['n']}/{row['seeds']}" if row["diverged"] else str(row["seeds"])
        beats = "" if not math.isfinite(row["p_beats"]) else f"{row['p_beats']:.2f}"
        tail = [seeds, *_mean_cells(row, places), _p_cell(row["p_adj"]), beats, short_verdict(row["verdict"])]
        return [*(short_number(row.get(k, "")) for k in keys), *tail]

    direction = "higher" if ranking.higher_is_better else "lower"
    title = f"Configurations by mean {ranking.metric} over seeds ({direction} is better)"
    block = Block(title, [*settings, *RANKING_HEADERS], 0, [cells(r, settings) for r in ranking], [])
    if block.width() <= width or not settings:
        return block, []
    block = Block(title, ["config", *RANKING_HEADERS], 0, [cells(r, ["config"]) for r in ranking], [])
    names = [
        f"config {r['config']}: " + ", ".join(f"{k} {short_number(r[k])}" for k in settings if k in r) for r in ranking
    ]
    return block, names


def ranking_legend(ranking: Ranking) -> list[str]:
    """What p (adj.), P(beats) and the verdicts mean, then the comparisons' notes."""
    if len(ranking) < 2:
        return list(ranking.notes)
    names = {"welch": "Welch's t-test", "paired t": "paired t-test (same seeds)"}
    tests = " or ".join(names[t] for t in sorted({row["test"] for row in ranking if row["test"]})) or "no test"
    target = "the best" if ranking.reference is not None and ranking[0]["config"] == ranking.reference else "ref"
    short = "≈ best" if target == "the best" else "≈ ref"
    adjustment = getattr(ranking, "adjustment", "holm")
    if adjustment == "max-t step-down":
        tests = "Welch's t-test"  # the adjusted p is Welch's whatever test the row's p is
    adjusted = {
        "max-t step-down": "adjusted for having chosen the best (max-t step-down over all pairs)",
        "holm": f"Holm-adjusted over the {len(ranking) - 1} pairs",
    }.get(adjustment, "one comparison, nothing to adjust")
    text = (
        f"p (adj.): {tests} of each configuration against {target}, {adjusted}; "
        f"P(beats): chance that one of its seeds beats one of {target}'s "
        f"(0.5: no tendency); {short}: not distinguishable from {target} at α = {1 - ranking.confidence:g}. "
        "Ranked by the mean over seeds, never by the best seed."
    )
    return [text, *ranking.notes]


def ranking_text(ranking: Ranking, width: int = WIDTH) -> str:
    """A ranking as plain text: the table, which configuration is which, and the legend."""
    if not ranking:
        return "(no configurations)"
    block, names = ranking_block(ranking, width)
    lines = [*_plain_table(block), *names, ""]
    for text in ranking_legend(ranking):
        lines += wrap(text, width)
    return "\n".join(lines)


def _side_by_side(doc: dict[str, Any], places: int) -> Block:
    """Every configuration of both runs, A's row above B's where their settings match."""
    side = Block(
        f"{doc['metric']}: run A vs run B", ["configuration", "run", "seeds", "mean ± std", "95% CI of mean"], 2, [], []
    )
    by_label: dict[str, dict[str, Any]] = {}
    for run in ("a", "b"):
        for row in doc["runs"][run]["configurations"]:
            by_label.setdefault(row["label"], {})[run] = row
    for label, rows in by_label.items():
        for k, (run, row) in enumerate(sorted(rows.items())):
            side.rows.append([label if k == 0 else "", run.upper(), str(row["n"]), *_mean_cells(row, places)])
    return side


def _tests_block(doc: dict[str, Any], places: int) -> Block:
    direction = "higher" if doc["higher_is_better"] else "lower"
    tests = Block(
        f"A - B, {doc['metric']} ({direction} is better)",
        ["configuration", "A - B", "95% CI", "p", "p (Holm)", "P(A>B)", "verdict"],
        1,
        [],
        [],
    )
    for c in doc["comparisons"]:
        t = c["test"]
        low, high = t["difference_ci_low"], t["difference_ci_high"]
        interval = f"[{low:+.{places}f}, {high:+.{places}f}]" if math.isfinite(low) and math.isfinite(high) else ""
        beats = "" if not math.isfinite(t["p_beats"]) else f"{t['p_beats']:.2f}"
        difference = f"{t['difference']:+.{places}f}" if math.isfinite(t["difference"]) else ""
        verdict = "≈" if c["verdict"] == "not distinguishable" else c["verdict"].split(" (")[0]
        tests.rows.append([c["label"], difference, interval, _p_cell(t["p"]), _p_cell(c["p_holm"]), beats, verdict])
    return tests


def _shorten_labels(side: Block, tests: Block) -> list[str]:
    """Settings too long for the page become #1, #2, ... in both tables; returns the lines naming them."""
    ids: dict[str, str] = {}
    for row in side.rows:
        if row[0]:
            ids[row[0]] = f"#{len(ids) + 1}"
            row[0] = ids[row[0]]
    for row in tests.rows:
        row[0] = ids.get(row[0], row[0])
    return [f"{short}: {label}" for label, short in ids.items()]


def run_comparison_text(doc: dict[str, Any], width: int = WIDTH) -> str:
    """`fastlstm compare`'s document as plain text: both runs' numbers row by row, then the tests."""
    rows = [r for run in ("a", "b") for r in doc["runs"][run]["configurations"]]
    places = decimals_for([r[k] for r in rows for k in ("mean", "ci_low", "ci_high")])
    side, tests = _side_by_side(doc, places), _tests_block(doc, places)
    names = _shorten_labels(side, tests) if max(side.width(), tests.width()) > width else []
    lines = [f"A: {doc['runs']['a']['path']}", f"B: {doc['runs']['b']['path']}", ""]
    lines += [*_plain_table(side), *names, "", *_plain_table(tests), ""]
    test_names = {"welch": "Welch's t-test", "paired t": "paired t-test (same seeds, same data)"}
    used = " or ".join(
        test_names[k] for k in sorted({("paired t" if c["test"]["paired"] else "welch") for c in doc["comparisons"]})
    )
    count = len(doc["comparisons"])
    holm_text = f"adjusted over the {count} comparisons" if count > 1 else "the same as p with one comparison"
    legend = (
        f"A - B and its 95% CI: difference of the mean {doc['metric']}; p: {used}; p (Holm): {holm_text}; "
        "P(A>B): chance that a seed of A beats a seed of B (0.5: no tendency); ≈: not distinguishable at "
        f"α = {1 - doc['confidence']:g} (which is not the same as equal); CI of the mean: t-interval."
    )
    for text in [legend, *doc["notes"]]:
        lines += wrap(text, width)
    return "\n".join(lines + differences_lines(doc, width))


def differences_lines(doc: dict[str, Any], width: int = WIDTH) -> list[str]:
    """What differs between A and B: the settings (key: A -> B) and, when they differ, the data."""
    differences = doc.get("differences") or []
    lines = [""]
    if doc.get("data_warning"):
        lines += wrap(f"warning: {doc['data_warning']}", width)
    if not differences:
        return [*lines, "settings: the same in A and B"]
    lines.append(f"settings that differ ({len(differences)}), A -> B:")
    for d in differences:
        lines += wrap(f"  {d['key']}: {_setting_text(d['a'])} -> {_setting_text(d['b'])}", width)
    return lines


def _setting_text(value: object) -> str:
    """A setting as the config file writes it; '(not set)' for a key one run lacks."""

    if value is None:
        return "(not set)"
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))


def config_label(point: Mapping[str, object]) -> str:
    """'learning_rate 1e-3, units 32', as the terminal tables write settings."""
    return ", ".join(f"{k} {short_number(v)}" for k, v in point.items())


def headline_metric(summary: Summary) -> str | None:
    """The metric configurations are ranked by: an accuracy if there is one (validation first)."""
    metrics = [m for m in summary.metrics if m != "learning_rate"]
    for m in metrics:
        if m.removeprefix("val_") == "accuracy":
            return m
    return metrics[0] if metrics else None


def ranked_configs(summary: Summary, metric: str | None) -> list[int]:
    """Configurations best first by mean `metric` over seeds (never by their best seed);
    configurations without a value last, in their order."""
    if metric is None:
        return [row["config"] for row in summary]
    sign = -1.0 if higher_is_better(metric) else 1.0

    def key(row: Mapping[str, Any]) -> tuple[bool, float, int]:
        mean = row.get(f"{metric}_mean", math.nan)
        missing = mean is None or not math.isfinite(mean)
        return (missing, 0.0 if missing else sign * mean, row["config"])

    return [row["config"] for row in sorted(summary, key=key)]


def share_phrase(crossed: Mapping[str, Any], term: str) -> str:
    """'12% [0%, 41%], p = 0.31: indistinguishable from zero' for one crossed term."""
    low, high = crossed["share_interval"][term]
    text = f"{percent(crossed['share'][term])} [{percent(low)}, {percent(high)}]"
    p = crossed.get("p", {}).get(term)
    if p is not None and math.isfinite(p):
        text += f", p = {p:.2g}"
    elif term == "interaction":
        text += ", no test (one member per cell: it is the residual)"
    if crossed.get("indistinguishable_from_zero", {}).get(term):
        text += ": indistinguishable from zero"
    return text


def percent(share: Any) -> str:
    return "-" if share is None or not math.isfinite(share) else f"{100 * share:.0f}%"
