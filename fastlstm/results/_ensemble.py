"""The seeds of a configuration as one model: a deep ensemble (Lakshminarayanan et al. 2017).

A sweep trains every configuration with several seeds to measure how much the seed
matters; the same members, averaged, are a better model than any one of them - more
accurate, and better calibrated (lower NLL and ECE) - at no extra training cost. Here:
which members an ensemble may use (not diverged, finite outputs), the mean and spread of
their outputs per configuration (one segment mean over the already-batched predictions,
no loop over members), the ensemble's loss and metrics with the engine's own loss and
metric functions, and the validation document `fastlstm sweep` saves as ensemble.json
(`validation_ensemble`) with its few terminal lines (`ensemble_lines`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from fastlstm.data._prepare import Split, metrics_in_target_units
from fastlstm.engine._losses import LOSSES, metric_values
from fastlstm.engine._program import STEPS_KEY, normalized, per_step, step_weights
from fastlstm.results._run_folder import strict_json
from fastlstm.stats import higher_is_better
from fastlstm.stats._calibration import (
    DEFAULT_BINS,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from fastlstm.stats._text import config_label

if TYPE_CHECKING:
    from fastlstm.data._prepare import Dataset
    from fastlstm.results._result import SweepResult

FORMAT_VERSION = 1
SHOWN_CONFIGS = 5  # configurations `ensemble_lines` prints; the rest are in the document and report


def member_configs(result: SweepResult) -> np.ndarray:
    """Each member's configuration index, (members,)."""
    return np.array([m["config"] for m in result.members], np.int64)


def usable_members(result: SweepResult, outputs: np.ndarray) -> np.ndarray:
    """(members,) bool: not diverged and every output finite. A diverged member's frozen
    parameters can still give finite numbers, but they are not a trained model."""
    ok = np.array([m.get("status") != "diverged" for m in result.members], bool)
    finite = np.isfinite(np.asarray(outputs).reshape(len(ok), -1)).all(axis=1)
    return ok & finite


def config_mean(
    values: np.ndarray, config: np.ndarray, usable: np.ndarray, n_configs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per configuration, the mean and the std (ddof=0: the ensemble's own spread, 0 for one
    member) of `values` (members, ...) over its usable members, and how many there were.

    One matrix product over a (configurations, members) indicator: the predictions were made
    in one batched pass, and a loop over members would undo that. A configuration without a
    usable member gets NaN."""
    values = np.asarray(values)
    flat = values.reshape(len(values), -1).astype(np.float64)
    weights = np.zeros((n_configs, len(values)))
    weights[config[usable], np.flatnonzero(usable)] = 1.0
    counts = weights.sum(axis=1)
    kept = np.where(usable[:, None], flat, 0.0)  # 0 x NaN would be NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (weights @ kept) / counts[:, None]
        deviation = np.where(usable[:, None], kept - mean[config], 0.0)
        std = np.sqrt((weights @ deviation**2) / counts[:, None])
    shape = (n_configs, *values.shape[1:])
    return mean.reshape(shape).astype(np.float32), std.reshape(shape).astype(np.float32), counts.astype(np.int64)


def output_values(result: SweepResult, outputs: np.ndarray, y: Any, w: Any, mask: Any | None) -> dict[str, np.ndarray]:
    """Loss (without a regularization penalty) and metrics of each of `outputs` (K, n, ...):
    name -> (K,), in the units the members trained on. The engine's per-sample functions
    (`LOSSES`, `metric_values`) and reductions (`per_step`, `step_weights`, `normalized`)
    that `SweepResult.evaluate` runs, applied to given outputs instead of a forward pass."""
    cfg = result._model_config(result.groups[0])  # loss, metrics and the output kind: the same in every group
    y_dev, w_dev = jnp.asarray(y), jnp.asarray(w, jnp.float32)
    mask_dev = None if mask is None else jnp.asarray(mask)
    rows = jnp.ones(y_dev.shape[0], jnp.float32)
    loss_fn = LOSSES[cfg.loss]

    def sums(out: jax.Array) -> dict[str, jax.Array]:
        if not cfg.sequence:
            got = {"loss": jnp.sum(loss_fn(y_dev, out) * w_dev)}
            for name in cfg.metrics:
                got[name] = jnp.sum(metric_values(name, y_dev, out, cfg.loss))
            return got
        steps = step_weights(mask_dev, rows, out.shape[1])
        got = {"loss": jnp.sum(per_step(loss_fn, y_dev, out) * w_dev[:, None] * steps), STEPS_KEY: jnp.sum(steps)}
        for name in cfg.metrics:
            per_sample = per_step(lambda t, o, name=name: metric_values(name, t, o, cfg.loss), y_dev, out)
            got[name] = jnp.sum(per_sample * steps)
        return got

    n = int(y_dev.shape[0])
    values = jax.jit(jax.vmap(lambda out: normalized(cfg, sums(out), n)))(jnp.asarray(outputs, jnp.float32))
    return {name: np.asarray(v, np.float32) for name, v in values.items()}


def member_penalties(result: SweepResult) -> np.ndarray:
    """Each member's regularization penalty (0 without regularizers): Keras's evaluate adds it
    to the loss, so an ensemble's loss adds its members' mean penalty - and a one-member
    ensemble's loss is that member's."""
    out = np.zeros(len(result.members), np.float32)
    for g in result.groups:
        cfg = result._model_config(g)
        if cfg.regularized:
            hp = cast("Mapping[str, jax.Array]", result._layer_hparams(g))  # a regularized model has them
            out[list(g.members)] = np.asarray(jax.vmap(cfg.penalty)(g.params, hp))
    return out


def ensemble_values(
    result: SweepResult, outputs: np.ndarray, y: Any, w: Any, mask: Any | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Loss and metrics of each configuration's ensemble from the members' `outputs` (in the
    units they trained on): name -> (configurations,), in the trained units (the caller moves
    mae/mse to the target's), and how many members each ensemble used."""
    usable = usable_members(result, outputs)
    config = member_configs(result)
    mean, _, counts = config_mean(outputs, config, usable, len(result.configs))
    values = output_values(result, mean, y, w, mask)
    penalty, _, _ = config_mean(member_penalties(result), config, usable, len(result.configs))
    values["loss"] = values["loss"] + penalty
    # NaN outputs give a NaN loss but a number from argmax: no member, no score at all
    return {k: np.where(counts > 0, v, np.nan).astype(np.float32) for k, v in values.items()}, counts


def _calibrated(result: SweepResult) -> bool:
    """Class probabilities with one true class per row: softmax, or a single sigmoid."""
    task = result.meta["task"]
    return task == "classification" or (task == "binary" and result.meta["out_dim"] == 1)


def _calibration_rows(outputs: np.ndarray, y: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(K, rows, k) probabilities and (rows,) labels, one row per sample - or per valid
    step of per-timestep targets (the steps the loss counts)."""
    outputs = np.asarray(outputs)
    y = np.asarray(y)
    if outputs.ndim == 4:  # (K, n, steps, k)
        valid = np.ones(outputs.shape[1:3], bool) if mask is None else np.asarray(mask, bool)
        outputs, y = outputs[:, valid], y[valid]
    y = y.argmax(axis=-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)  # one-hot rows -> codes
    return outputs, y


def _calibration(probs: np.ndarray, members: np.ndarray, labels: np.ndarray, bins: int) -> dict[str, Any]:
    """NLL, ECE and reliability bins of one ensemble's probabilities (rows, k), and of its
    members (m, rows, k): their mean NLL and ECE, and their bins with the members' rows pooled."""

    def table(p: np.ndarray, t: np.ndarray) -> dict[str, Any]:
        got = reliability_bins(p, t, bins)
        return {k: got[k].tolist() for k in ("count", "confidence", "accuracy")}

    if len(members) == 0:
        return {"nll": {"ensemble": None, "mean_member": None}, "ece": {"ensemble": None, "mean_member": None}}
    nll = [negative_log_likelihood(p, labels) for p in members]
    ece = [expected_calibration_error(p, labels, bins) for p in members]
    gap = [_overconfidence(p, labels, bins) for p in members]
    pooled = members.reshape(-1, members.shape[-1])
    return {
        "nll": {"ensemble": negative_log_likelihood(probs, labels), "mean_member": float(np.mean(nll))},
        "ece": {"ensemble": expected_calibration_error(probs, labels, bins), "mean_member": float(np.mean(ece))},
        "overconfidence": {"ensemble": _overconfidence(probs, labels, bins), "mean_member": float(np.mean(gap))},
        "reliability": {
            "ensemble": table(probs, labels),
            "members_pooled": table(pooled, np.tile(labels, len(members))),
        },
    }


def _overconfidence(probs: np.ndarray, labels: np.ndarray, bins: int) -> float:
    """Mean top-class confidence minus accuracy: > 0 overconfident, < 0 underconfident."""
    table = reliability_bins(probs, labels, bins)
    count = np.asarray(table["count"], np.float64)
    if count.sum() == 0:
        return float("nan")
    confidence = np.nan_to_num(np.asarray(table["confidence"], np.float64))
    accuracy = np.nan_to_num(np.asarray(table["accuracy"], np.float64))
    return float(np.sum(count * (confidence - accuracy)) / count.sum())


def underconfidence_note(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Why an ensemble's ECE can exceed its members' while its accuracy and NLL are better: the
    mean of members that disagree is less confident than it is accurate (the members were
    calibrated, their average is not). Said when it happens, with the way out."""
    under = [
        r["config"]
        for r in rows
        if r.get("ece", {}).get("ensemble") is not None
        and r["ece"]["mean_member"] is not None
        and r["ece"]["ensemble"] > r["ece"]["mean_member"]
        and (r.get("overconfidence", {}).get("ensemble") or 0.0) < 0
    ]
    if not under:
        return None
    which = ", ".join(str(c) for c in under[:8]) + (" ..." if len(under) > 8 else "")
    return (
        f"configuration{'s' if len(under) > 1 else ''} {which}: the ensemble is less confident than accurate "
        "(its mean top-class confidence is below its accuracy), so its ECE exceeds its members' even where its "
        "accuracy and NLL are better - averaging members that disagree flattens the probabilities, most when "
        "the members are short of training or one seed failed. A temperature fitted on held-out rows after "
        "averaging corrects it (Rahaman & Thiery 2021; Wu & Gales 2021)."
    )


def _headline(result: SweepResult) -> str:
    """The number a line leads with: accuracy where there is one, else the first metric
    (an error in the target's units), else the loss."""
    metrics = list(result.metrics)
    if "accuracy" in metrics:
        return "accuracy"
    return metrics[0] if metrics else "loss"


def _member_and_ensemble_values(
    result: SweepResult, val: Split, outputs: np.ndarray, usable: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per configuration, name -> (configurations,): its ensemble's loss and metrics, and its
    mean member's (each usable member's, penalty included, averaged) - in the target's units."""
    config, n_configs, scaling = member_configs(result), len(result.configs), result.target_scaling
    members = output_values(result, outputs, val.y, val.weight, val.mask)
    members["loss"] = members["loss"] + member_penalties(result)
    members = metrics_in_target_units({k: np.where(usable, v, np.nan) for k, v in members.items()}, scaling)
    mean_member = {k: config_mean(v, config, usable, n_configs)[0] for k, v in members.items()}
    ensemble, _ = ensemble_values(result, outputs, val.y, val.weight, val.mask)
    return metrics_in_target_units(ensemble, scaling), mean_member


def _calibration_note(result: SweepResult, val: Split) -> str | None:
    """Why there are no calibration numbers, or None when there are (one true class per row)."""
    if result.meta["task"] == "regression":
        return None
    if not _calibrated(result):
        return "multi-label targets (one sigmoid per label): no NLL, ECE or reliability bins"
    y = np.asarray(val.y)
    if y.dtype.kind == "f" and not np.isin(y, (0.0, 1.0)).all():
        return "soft targets (not 0/1): no NLL, ECE or reliability bins"
    return None


def validation_ensemble(result: SweepResult, ds: Dataset, bins: int = DEFAULT_BINS) -> dict[str, Any] | None:
    """Each configuration's ensemble on the sweep's own validation rows (already prepared in
    `ds`), beside its mean member: the document saved as ensemble.json. None when there are
    no validation rows, or they are streamed from disk (not held in memory here)."""
    val = ds.val
    if val is None or not isinstance(val, Split) or len(val) == 0:
        return None
    outputs = result.predict_prepared(val.x, val.mask)
    usable, config, n_configs = usable_members(result, outputs), member_configs(result), len(result.configs)
    ensemble, mean_member = _member_and_ensemble_values(result, val, outputs, usable)
    note = _calibration_note(result, val)
    calibrated = _calibrated(result) and note is None
    if calibrated:  # the ensembles' probabilities first, then the members'
        mean, _, _ = config_mean(outputs, config, usable, n_configs)
        probs, labels = _calibration_rows(np.concatenate([mean, outputs]), val.y, val.mask)
    rows = []
    for c in range(n_configs):
        mine = np.flatnonzero(config == c)
        used = mine[usable[mine]]
        row: dict[str, Any] = {
            "config": c,
            "settings": result.configs[c],
            "members": mine.tolist(),
            "used": used.tolist(),
            "ensemble": {k: v[c] for k, v in ensemble.items()},
            "mean_member": {k: v[c] for k, v in mean_member.items()},
        }
        if calibrated:
            row.update(_calibration(probs[c], probs[n_configs + used], labels, bins))
        rows.append(row)
    headline = _headline(result)
    doc = {
        "format_version": FORMAT_VERSION,
        "data": "validation",
        "rows": len(val),
        "task": result.meta["task"],
        "averaged": "predictions" if result.meta["task"] == "regression" else "probabilities",
        "names": ["loss", *result.metrics],
        "headline": headline,
        "higher_is_better": higher_is_better(headline),
        "calibration": calibrated,
        "bins": bins if calibrated else None,
        "edges": np.linspace(0.0, 1.0, bins + 1).tolist() if calibrated else None,
        "configs": rows,
        "notes": [n for n in (note, underconfidence_note(rows)) if n is not None],
    }
    return json.loads(strict_json(doc))


def _number(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.3g}"  # type: ignore[arg-type]


def _settings(settings: Mapping[str, object]) -> str:
    """'learning_rate 0.01206, dropout 0.04464', as the other terminal tables write settings."""
    text = config_label(settings)
    return text if len(text) <= 60 else text[:57] + "..."


def _config_line(row: Mapping[str, Any], name: str, calibrated: bool, show_settings: bool) -> str:
    """One configuration: its ensemble's headline number and the mean member's beside it."""
    label = f"config {row['config']}" + (
        f" ({_settings(row['settings'])})" if show_settings and row["settings"] else ""
    )
    used = len(row["used"])
    if used == 0:
        return f"  {label}: no usable member (all diverged or non-finite)"
    parts = [f"val_{name} {_number(row['ensemble'][name])} (mean member {_number(row['mean_member'][name])})"]
    if calibrated:
        for key in ("nll", "ece"):
            parts.append(f"{key.upper()} {_number(row[key]['ensemble'])} ({_number(row[key]['mean_member'])})")
    return f"  {label}: ensemble of {used}: " + ", ".join(parts)


def ensemble_lines(doc: Mapping[str, Any] | None, configs: Sequence[Mapping[str, object]]) -> list[str]:
    """A few terminal lines from `validation_ensemble`'s document: each configuration's
    ensemble against its mean member, best first by the headline number, at most
    SHOWN_CONFIGS of them (the rest are in ensemble.json and report.html)."""
    if not doc or not doc.get("configs"):
        return []
    name, sign = doc["headline"], -1.0 if doc["higher_is_better"] else 1.0

    def key(row: Mapping[str, Any]) -> tuple[float, int]:
        value = row["ensemble"].get(name)
        return (sign * value if value is not None and row["used"] else math.inf, row["config"])

    ranked = sorted(doc["configs"], key=key)
    averaged = doc.get("averaged", "outputs")
    lines = [
        f"ensembles of each configuration's seeds (mean {averaged}; {doc['rows']} validation rows; the mean member's in parentheses):"
    ]
    show_settings = len(configs) > 1
    lines += [_config_line(row, name, doc["calibration"], show_settings) for row in ranked[:SHOWN_CONFIGS]]
    if len(ranked) > SHOWN_CONFIGS:
        lines.append(f"  ({len(ranked) - SHOWN_CONFIGS} more in report.html)")
    return lines + [f"  note: {n}" for n in doc.get("notes") or []]


__all__ = [
    "FORMAT_VERSION",
    "config_mean",
    "ensemble_lines",
    "ensemble_values",
    "member_configs",
    "usable_members",
    "validation_ensemble",
]
