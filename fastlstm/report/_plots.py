"""The report's figures: matplotlib drawings returned as PNG bytes.

matplotlib is imported inside the functions, never at module level: `import fastlstm`
must not pay for it. Every figure is a `matplotlib.figure.Figure` on its own
`FigureCanvasAgg` - the Agg backend chosen explicitly, per figure, without
`matplotlib.use` or pyplot - so a notebook's backend and pyplot's global list of
figures are left alone, and no display is ever needed. The PNGs carry no metadata (no
version, no date), so the same run always draws the same bytes and `fastlstm report`
rebuilds a report identically.

The functions take plain arrays and the analysis documents (see /work/prompts/schemas.md
shapes in fastlstm.report._html); choosing what to show (which configurations, which
members) is the page's job, drawing it is this module's.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI = 100
WIDTH_IN = 11.0  # about the page's content width at 100 dpi
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"
POINT_COLOR, BOX_COLOR = "#1f77b4", "#555555"
REFERENCE_COLOR = "#b22222"
SOURCE_COLORS = {"init": "#1f77b4", "order": "#2ca02c", "dropout": "#9467bd", "all": "#7f7f7f"}


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **subplot_kw: Any) -> tuple[Any, Any]:
    """A constrained-layout figure on its own Agg canvas, and its axes as a 2-D array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **subplot_kw)
    return fig, axes


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _quiet_mean_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and std over members, NaN (no line) where no member trained that epoch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs after every member stopped
        return np.nanmean(values, axis=0), np.nanstd(values, axis=0)


def thinned(rows: int, limit: int) -> np.ndarray:
    """At most `limit` row indices spread evenly over `rows` (every row when there are few)."""
    if rows <= limit:
        return np.arange(rows)
    return np.unique(np.linspace(0, rows - 1, limit).round().astype(int))


def _robust_limits(values: np.ndarray, bounds: tuple[float, float]) -> tuple[float, float] | None:
    """y limits that hold the bulk of the curves: one seed's spike must not flatten the rest."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [0.5, 99.5])
    pad = 0.05 * (high - low) or 0.05 * max(abs(high), 1e-3)
    return max(low - pad, bounds[0]), min(high + pad, bounds[1])


def _draw_curve(ax: Axes, values: np.ndarray, color: str, label: str, dashed: bool, seed_lines: int) -> None:
    """Faint per-seed lines (thinned), then the mean over seeds with a ±1 std band."""
    epochs = np.arange(values.shape[1])
    style = "--" if dashed else "-"
    for row in values[thinned(values.shape[0], seed_lines)]:
        ax.plot(epochs, row, style, color=color, alpha=0.25, linewidth=0.6)
    mean, std = _quiet_mean_std(values)
    ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)
    ax.plot(epochs, mean, style, color=color, linewidth=1.8, label=label)


def learning_curves(
    history: Mapping[str, np.ndarray],
    groups: Sequence[tuple[str, np.ndarray]],
    panels: Sequence[str],
    bounds: Mapping[str, tuple[float, float]],
    seed_lines: int = 8,
) -> bytes:
    """A row per configuration (label, member indices), a column per metric in `panels`:
    training (solid) and validation (dashed, `val_<metric>`) curves over epochs.

    The panels of one column share their y axis, so configurations compare by eye.
    """
    fig, axes = _figure(WIDTH_IN, 0.6 + 2.3 * len(groups), len(groups), len(panels), sharex=True, sharey="col")
    for col, metric in enumerate(panels):
        shown = [history[n][members] for n in (metric, f"val_{metric}") if n in history for _, members in groups]
        limits = _robust_limits(np.concatenate([v.ravel() for v in shown]), bounds[metric])
        for row, (label, members) in enumerate(groups):
            ax = axes[row, col]
            _draw_curve(ax, history[metric][members], TRAIN_COLOR, "training", False, seed_lines)
            if f"val_{metric}" in history:
                _draw_curve(ax, history[f"val_{metric}"][members], VAL_COLOR, "validation", True, seed_lines)
            ax.set_title(f"{metric} · {label}" if label else metric, fontsize=9, loc="left")
            ax.grid(alpha=0.3)
            if limits is not None and limits[0] < limits[1]:
                ax.set_ylim(*limits)
        axes[-1, col].set_xlabel("epoch")
        axes[-1, col].xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=2, fontsize=8, frameon=False)
    return _png(fig)


def final_distributions(
    panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    references: Mapping[str, tuple[str, float]],
) -> bytes:
    """One panel per metric: a horizontal box per configuration with its seeds as points.

    `panels` is [(metric, [(config label, finite values), ...])]; `references` maps a
    metric to a (label, value) vertical line (the majority-class rate for accuracies).
    """
    n_configs = len(panels[0][1])
    fig, axes = _figure(WIDTH_IN, 1.0 + 0.42 * max(n_configs, 2), 1, len(panels), sharey=True)
    rng = np.random.default_rng(0)  # the same jitter every time: the report rebuilds identically
    for ax, (metric, rows) in zip(axes[0], panels):
        positions = np.arange(len(rows))[::-1]  # the first configuration on top
        filled = [(p, v) for p, (_, v) in zip(positions, rows) if len(v)]
        if filled:
            ax.boxplot(
                [v for _, v in filled],
                positions=[p for p, _ in filled],
                **_horizontal(),
                widths=0.55,
                showfliers=False,
                medianprops={"color": BOX_COLOR},
                boxprops={"color": BOX_COLOR},
                whiskerprops={"color": BOX_COLOR},
                capprops={"color": BOX_COLOR},
            )
        for p, (_, values) in zip(positions, rows):
            if len(values) == 0:
                ax.text(
                    0.02,
                    p,
                    "no finite values",
                    va="center",
                    fontsize=8,
                    color=REFERENCE_COLOR,
                    transform=ax.get_yaxis_transform(),
                )
                continue
            jitter = rng.uniform(-0.17, 0.17, len(values))
            ax.scatter(values, p + jitter, s=22, color=POINT_COLOR, alpha=0.75, zorder=3, linewidths=0)
        if metric in references:
            label, value = references[metric]
            ax.axvline(value, color=REFERENCE_COLOR, linestyle=":", linewidth=1.2, label=label)
            ax.legend(fontsize=8, loc="best")
        ax.set_title(metric, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.xaxis.get_major_locator().set_params(nbins=6)  # narrow panels: fewer, readable ticks
    axes[0, 0].set_yticks(np.arange(n_configs)[::-1], [label for label, _ in panels[0][1]], fontsize=8)
    return _png(fig)


def _horizontal() -> dict[str, Any]:
    """boxplot's keyword for horizontal boxes: `orientation` from matplotlib 3.10, `vert` before."""
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _finite(values: Sequence[Any]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], float)


def lr_range_curve(doc: Mapping[str, Any]) -> bytes:
    """Final training loss against learning rate (log x): each seed a point, the median a
    line, diverged members as crosses along the top, the recommended range shaded."""
    lrs = _finite(doc["learning_rates"])
    losses = np.array([_finite(row) for row in doc["losses"]], float).reshape(len(lrs), -1)
    median = _finite(doc["median_loss"])
    fig, axes = _figure(WIDTH_IN * 0.72, 3.6)
    ax = axes[0, 0]
    ax.set_xscale("log")
    seeds = np.repeat(lrs[:, None], losses.shape[1], axis=1)
    ax.scatter(seeds.ravel(), losses.ravel(), s=20, color=POINT_COLOR, alpha=0.6, linewidths=0, label="one seed")
    ax.plot(lrs, median, "-o", color="black", markersize=3, linewidth=1.6, label="median over seeds")
    initial = doc.get("initial_loss")
    limits = _robust_limits(np.concatenate([losses.ravel(), median, _finite([initial])]), (0.0, math.inf))
    if limits is not None and limits[0] < limits[1]:
        ax.set_ylim(limits[0], limits[1] * 1.08)
    if initial is not None:
        ax.axhline(float(initial), color="gray", linestyle=":", linewidth=1.2, label=f"initial loss {initial:.3g}")
    broken = ~np.isfinite(losses).all(axis=1)
    if broken.any():
        top = ax.get_ylim()[1]
        ax.scatter(
            lrs[broken],
            np.full(broken.sum(), top),
            marker="x",
            color=REFERENCE_COLOR,
            clip_on=False,
            zorder=4,
            label="diverged seeds",
        )
    _mark_recommendation(ax, doc)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final {doc.get('metric', 'loss')}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _mark_recommendation(ax: Axes, doc: Mapping[str, Any]) -> None:
    span = doc.get("range")
    if span and None not in span:
        ax.axvspan(float(span[0]), float(span[1]), color="#2ca02c", alpha=0.15, label="recommended range")
    if doc.get("largest_stable") is not None:
        ax.axvline(
            float(doc["largest_stable"]),
            color=REFERENCE_COLOR,
            linestyle="--",
            linewidth=1.0,
            label=f"largest stable {doc['largest_stable']:.3g}",
        )
    if doc.get("recommended") is not None:
        ax.axvline(
            float(doc["recommended"]), color="#2ca02c", linewidth=1.6, label=f"recommended {doc['recommended']:.3g}"
        )


def variance_bars(doc: Mapping[str, Any]) -> bytes:
    """Left: each source's std across seeds (its seeds as points); right: the crossed
    init x order block's shares of variance, interaction included."""
    sources = doc["sources"]
    crossed = doc.get("crossed") or {}
    shares = crossed.get("share") or {}
    fig, axes = _figure(WIDTH_IN * (0.9 if shares else 0.5), 2.8, 1, 2 if shares else 1)
    ax = axes[0, 0]
    names = list(sources)
    stds = _finite([sources[n].get("std") for n in names])
    colors = [SOURCE_COLORS.get(n, "#7f7f7f") for n in names]
    ax.bar(names, np.nan_to_num(stds), color=colors, alpha=0.8)
    for i, s in enumerate(stds):
        ax.annotate(
            f"{s:.3g}" if math.isfinite(s) else "n/a",
            (i, np.nan_to_num(s)),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_ylabel(f"std of {doc.get('metric', 'the metric')}")
    ax.set_title("spread when only this source varies", fontsize=9, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)
    if shares:
        ax = axes[0, 1]
        parts = list(shares)
        values = 100 * np.nan_to_num(_finite([shares[p] for p in parts]))
        bounds = crossed.get("share_interval") or {}
        xerr = None
        if all(p in bounds for p in parts):  # the 95% interval of each share (issue 26 item 14)
            low, high = (100 * np.nan_to_num(_finite([bounds[p][i] for p in parts[::-1]])) for i in (0, 1))
            xerr = np.clip([values[::-1] - low, high - values[::-1]], 0, None)
        ax.barh(
            parts[::-1],
            values[::-1],
            xerr=xerr,
            capsize=3,
            color=[SOURCE_COLORS.get(p, "#d62728") for p in parts[::-1]],
            alpha=0.8,
        )
        for i, v in enumerate(values[::-1]):
            ax.annotate(f"{v:.0f}%", (v, i), va="center", fontsize=8, xytext=(3, 0), textcoords="offset points")
        ax.set_xlim(0, 110)
        ax.set_xlabel("share of variance (%)")
        ax.set_title(f"crossed init × order ({crossed.get('levels', '?')} levels each)", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def before_after(before: Mapping[str, object], after: Mapping[str, object], metric: str) -> bytes:
    """The verification's two stats rows: min..max (thin), the 95% CI of the mean (thick), the mean (dot)."""
    fig, axes = _figure(6.5, 1.7)
    ax = axes[0, 0]
    for y, (name, row) in zip((1, 0), (("before", before), ("after", after))):
        color = "#7f7f7f" if name == "before" else "#2ca02c"
        low, high = _finite([row.get("min"), row.get("max")])
        ax.plot([low, high], [y, y], color=color, linewidth=1.2)
        ci = _finite([row.get("ci_low"), row.get("ci_high")])
        if np.isfinite(ci).all():
            ax.plot(ci, [y, y], color=color, linewidth=5, alpha=0.6, solid_capstyle="butt")
        mean = _finite([row.get("mean")])[0]
        ax.plot([mean], [y], "o", color=color, markersize=7)
        ax.annotate(
            f"{mean:.3g} (n={row.get('n', '?')})",
            (mean, y),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.set_yticks([1, 0], ["before", "after"])
    ax.set_ylim(-0.6, 1.7)
    ax.set_xlabel(f"{metric}: mean, 95% CI (thick), min … max (thin)", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
