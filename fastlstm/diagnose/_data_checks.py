"""Checks on the data before training: what makes every later number meaningless or slow.

Each check takes a `DataView` and returns a list with at most one `Finding`. Thresholds
are chosen so that standard-normal features, balanced labels and a random split (the
clean control in tests/test_diagnose_data.py) raise nothing at warning level; each
constant says why it has its value.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from fastlstm.diagnose._data_view import DataView, Part, data_view, label_columns
from fastlstm.diagnose._findings import Finding, Findings, Severity
from fastlstm.diagnose._leakage import label_features, leakage_counts

# data.unscaled: an LSTM's gates are sigmoids/tanh of x @ W with Glorot W, so inputs far
# from unit scale saturate them (too large) or barely move them (too small); a feature 10x
# the others' scale also dominates the first updates. Measured against the data (the median
# feature's std), and against unit scale: not UMLAUT's fixed [-1, 1], which flags N(0, 1).
SCALE_RATIO = 10.0  # std more than this times (or less than 1/this of) the median feature's
ABSOLUTE_SCALE = 10.0  # std above this or below 1/this: far from standardised
OFFSET_STDS, OFFSET_MIN = 3.0, 3.0  # |mean| above 3 std and above 3: inputs never near 0
UNIT_STD = (0.5, 2.0)  # a std in this range, with |mean| <= OFFSET_MIN, is standardised already
# data.imbalance: majority/minority counts; at 10:1 an unweighted model can score ~91% by
# answering the majority, the usual point where class weights become necessary.
IMBALANCE_WARNING, IMBALANCE_INFO = 10.0, 3.0
# data.label_shift: both an effect (total variation distance) and a significance level, so
# neither a large random split (tiny p, tiny TVD) nor a tiny one (large TVD by chance) fires.
SHIFT_WARNING = (0.10, 1e-3)
SHIFT_INFO = (0.05, 1e-2)
# data.leakage: share of validation sequences equal to or overlapping training ones, above
# the chance rate; 10% copied rows can move an accuracy by several points.
LEAK_ERROR, LEAK_WARNING = 0.10, 0.01
# data.short_or_ragged: below 3 steps an LSTM is little more than a dense layer; padding above
# 3/4 of the steps means 4x the compute of the real data.
MIN_STEPS, SHORT_SHARE = 3, 0.10
PADDING_WARNING, PADDING_INFO, RAGGED_RATIO = 0.75, 0.50, 4.0


def check_data(x: object, y: object = None, **kwargs: Any) -> Findings:
    """Every data check on `fl.sweep`'s data arguments (x, y, validation_split, split,
    split_seed, validation_data, mask_value, task, loss, num_classes)."""
    return run_data_checks(data_view(x, y, **kwargs))


def run_data_checks(view: DataView) -> Findings:
    found: list[Finding] = []
    for check in DATA_CHECKS:
        found.extend(check(view))
    return Findings(found)


def _parts(view: DataView) -> list[tuple[str, Part]]:
    return [("train", view.train)] + ([("validation", view.val)] if view.val is not None else [])


def check_nan(view: DataView) -> list[Finding]:
    """data.nan (error): sequences with NaN/inf in real steps, or targets that are; fl.sweep refuses them."""
    counts: dict[str, int] = {}
    features: dict[str, int] = {}
    first: list[str] = []
    target_rows = 0
    for name, part in _parts(view):
        bad = ~np.isfinite(part.x) & part.real[:, :, None]
        seqs = np.flatnonzero(bad.any(axis=(1, 2)))
        counts[f"{name}_sequences"] = int(seqs.size)
        for j, c in enumerate(bad.any(axis=1).sum(axis=0)):
            if c:
                features[str(j)] = features.get(str(j), 0) + int(c)
        first += [f"{name}[{i}]" for i in seqs[: max(0, 5 - len(first))]]  # a few, to look at
        if part.y is not None:
            target_rows += int((~np.isfinite(part.y)).any(axis=1).sum())
    total = sum(counts.values())
    if total == 0 and target_rows == 0:
        return []
    n = sum(p.x.shape[0] for _, p in _parts(view))
    where = f"features {', '.join(features)}" if features else "the targets"
    evidence = {"sequences": total, **counts, "fraction": total / n, "sequences_per_feature": features}
    evidence.update({"first": first, "target_rows": target_rows})
    return [
        Finding(
            "data.nan",
            "error",
            _nan_title(total, n, where, target_rows),
            evidence,
            "Drop those sequences or impute the values (forward-fill along time, or the feature's training "
            "mean) before training; fl.sweep refuses non-finite inputs.",
        )
    ]


def _nan_title(total: int, n: int, where: str, target_rows: int) -> str:
    targets = f"{target_rows} target rows are NaN or inf"
    if total == 0:
        return targets
    return f"{total} of {n} sequences contain NaN or inf, in {where}" + (f"; {targets}" if target_rows else "")


def check_constant(view: DataView) -> list[Finding]:
    """data.constant_feature (warning): a feature with one value over every real training step
    carries no information, and a per-feature standardisation would divide by zero."""
    mean, _, low, high = view.train.feature_stats
    constant = np.flatnonzero(np.isfinite(low) & (low == high))
    if constant.size == 0:
        return []
    values = {str(j): float(mean[j]) for j in constant}
    return [
        Finding(
            "data.constant_feature",
            "warning",
            f"feature{'s' if constant.size > 1 else ''} {', '.join(values)} never change{'s' if constant.size == 1 else ''} "
            f"({constant.size} of {mean.size})",
            {"features": [int(j) for j in constant], "values": values, "of_features": int(mean.size)},
            "Remove the constant feature(s): they cannot help the model, and standardising them divides by zero.",
        )
    ]


def _scale_problem(mean: float, std: float, median_std: float) -> str | None:
    """Why a feature is far from standardised, or None. A feature that looks standardised
    already (std within 2x of 1, mean near 0) is never the problem, however far the median
    is pulled by a huge feature (with two features the median is their midpoint)."""
    if UNIT_STD[0] <= std <= UNIT_STD[1] and abs(mean) <= OFFSET_MIN:
        return None
    if std > SCALE_RATIO * median_std or std < median_std / SCALE_RATIO:
        return f"std {std:.3g} is {std / median_std:.3g}x the median feature's ({median_std:.3g})"
    if std > ABSOLUTE_SCALE or std < 1.0 / ABSOLUTE_SCALE:
        return f"std {std:.3g} is far from 1 (standardised)"
    if abs(mean) > OFFSET_STDS * std and abs(mean) > OFFSET_MIN:
        return f"mean {mean:.3g} is {abs(mean) / std:.3g} std from 0"
    return None


def check_unscaled(view: DataView) -> list[Finding]:
    """data.unscaled (warning): features whose scale or offset is far from the others' or
    from standardised (0/1 indicator and constant features left out), and a regression
    target far from unit scale (a loss in raw units, 1e5 for airline passengers, makes
    every learning rate look wrong and every change look "better"). The change scales
    what is unscaled: standardize='feature' for features, standardize_target=True for the
    target; what the spec scales already is not flagged."""
    features = [] if view.standardize else _unscaled_features(view)
    target = [] if view.standardize_target or view.task != "regression" else _unscaled_targets(view)
    if not features and not target:
        return []
    of = int(view.train.x.shape[2])
    evidence: dict[str, Any] = {"features": features, "of_features": of}
    change: dict[str, Any] = {}
    said = []
    if target:
        evidence["target"] = target
        change["standardize_target"] = True
        said.append(f"the regression target: {target[0]['reason']}")
    if features:
        worst = max(features, key=lambda f: f["extremity"])
        evidence["median_std"] = worst.pop("median_std")
        for f in features:
            f.pop("median_std", None)
        change["standardize"] = "feature"
        said.append(
            f"{len(features)} of {of} features, worst {_feature_name(view, worst['feature'])}: {worst['reason']}"
        )
    advice = []
    if features:
        advice.append("Standardise each feature with the training rows' mean and std (standardize='feature').")
    if target:
        advice.append(
            "Scale the target with the training rows' mean and std (standardize_target=True, --standardize-target): "
            "predictions and mae/mse stay in the target's units, the loss is of the scaled target."
        )
    severity: Severity = "warning" if target or any(not _only_small(f) for f in features) else "info"
    title = "far from standardised: " + "; ".join(said)
    return [Finding("data.unscaled", severity, title, evidence, " ".join(advice), change)]


def _only_small(feature: dict[str, Any]) -> bool:
    """A feature flagged only for a std a little under 1/ABSOLUTE_SCALE, in line with the
    other features (JapaneseVowels' cepstra: std 0.098 beside a median of 0.19): small inputs
    move the gates little but saturate nothing - worth knowing (info), not a fault."""
    return feature["std"] < 1.0 and "far from 1" in feature["reason"]


def _feature_name(view: DataView, j: int) -> str:
    """A feature as the user named it ('column Passengers'), else 'feature j'."""
    names = view.feature_names
    return f"column {names[j]!r}" if names and j < len(names) else f"feature {j}"


def _extremity(mean: float, std: float, median_std: float) -> float:
    """How far from standardised, in decades: the std's distance from 1 and from the median
    feature's, and the offset's size - the feature to name is the most extreme one."""
    offset = abs(mean) / std if std > 0 else 0.0
    return max(abs(np.log10(std)), abs(np.log10(std / median_std)), np.log10(max(1.0, offset)))


def _unscaled_features(view: DataView) -> list[dict[str, Any]]:
    mean, std, _, _ = view.train.feature_stats
    rows = view.train.x[view.train.real]
    indicator = np.array(
        [bool(np.all((rows[:, j] == 0) | (rows[:, j] == 1) | ~np.isfinite(rows[:, j]))) for j in range(mean.size)]
    )
    usable = np.isfinite(std) & (std > 0) & ~indicator
    if not usable.any():
        return []
    median_std = float(np.median(std[usable]))
    flagged = []
    for j in np.flatnonzero(usable):
        m, sd = float(mean[j]), float(std[j])
        reason = _scale_problem(m, sd, median_std)
        if reason:
            row = {"feature": int(j), "mean": m, "std": sd, "reason": reason, "median_std": median_std}
            if view.feature_names and j < len(view.feature_names):
                row["name"] = view.feature_names[j]
            flagged.append({**row, "extremity": float(_extremity(m, sd, median_std))})
    return flagged


def _unscaled_targets(view: DataView) -> list[dict[str, Any]]:
    """Regression target columns whose training values are far from unit scale or from 0."""
    y = view.train.y
    if y is None:
        return []
    flagged = []
    for j in range(y.shape[1]):
        values = y[:, j][np.isfinite(y[:, j])]
        if values.size < 2 or float(values.std()) == 0:
            continue
        m, sd = float(values.mean()), float(values.std())
        if _scale_problem(m, sd, 1.0):  # measured against unit scale: a target has no other columns to match
            flagged.append({"output": j, "mean": m, "std": sd, "reason": f"mean {m:.4g}, std {sd:.4g}, not 0 and 1"})
    return flagged


def _distribution(counts: np.ndarray) -> list[float]:
    return [float(c) for c in counts / max(1, counts.sum())]


def check_imbalance(view: DataView) -> list[Finding]:
    """data.imbalance: the worst majority/minority ratio over the training labels (per output
    for multi-label), with the accuracy of always answering the majority (the baseline a
    model must beat). Warning from 10:1, info from 3:1."""
    if view.train.y is None:
        return []
    columns = label_columns(view.train.y, view.task, view.num_classes)
    if not columns:
        return []
    if len(columns) == 1 and columns[0].min() == 0:
        empty = _empty_classes(view, columns[0])
        return [] if empty is None else [empty]
    ratios = [float(c.max() / c.min()) if c.min() > 0 else float("inf") for c in columns]
    worst = int(np.argmax(ratios))
    ratio, counts = ratios[worst], columns[worst]
    if ratio < IMBALANCE_INFO:
        return []
    baseline = float(np.mean([c.max() / c.sum() for c in columns]))
    severity: Severity = "warning" if ratio >= IMBALANCE_WARNING else "info"
    multi_label = len(columns) > 1
    evidence: dict[str, Any] = {"counts": [int(c) for c in counts], "ratio": ratio, "majority_class_rate": baseline}
    evidence.update({"minority_share": float(counts.min() / counts.sum()), "task": view.task})
    if multi_label:
        evidence["output"] = worst
    what = f"output {worst}: " if multi_label else ""
    return [
        Finding(
            "data.imbalance",
            severity,
            f"{what}classes are {ratio:.3g}:1 imbalanced; always answering the majority scores {baseline:.3f}",
            evidence,
            "Weight the classes by inverse frequency (class_weight='balanced') and judge accuracy against "
            f"the majority baseline {baseline:.3f}, not against 0.",
            None if multi_label else {"class_weight": "balanced"},
        )
    ]


def _empty_classes(view: DataView, counts: np.ndarray) -> Finding | None:
    """data.imbalance when classes have no training rows at all: a ratio of inf:1 says
    nothing; the cause is either labels that skip codes (1..k instead of 0..k-1) or a file
    sorted by class whose last rows became the validation split."""
    empty = [int(k) for k in np.flatnonzero(counts == 0)]
    val = (
        label_columns(cast(np.ndarray, view.val.y), view.task, view.num_classes)  # a validation set has labels
        if view.val is not None
        else None
    )
    in_val = [k for k in empty if val and k < len(val[0]) and val[0][k] > 0]
    evidence: dict[str, object] = {
        "counts": [int(c) for c in counts],
        "empty_classes": empty,
        "in_validation_only": in_val,
    }
    evidence.update({"majority_class_rate": float(counts.max() / counts.sum()), "task": view.task})
    if in_val:
        title = f"classes {in_val} have validation rows but no training rows (training counts {evidence['counts']})"
        if view.val_source == "validation_split" and view.split != "stratified":
            return None  # the split's doing, not the data's: data.label_shift says so and changes the split
        advice = f"The {view.val_source} holds classes the training rows lack: validate on classes the model trains on."
        return Finding("data.imbalance", "error", title, evidence, advice)
    title = f"classes {empty} have no rows at all (counts {evidence['counts']}): the labels skip those codes"
    advice = (
        "Encode the labels as 0..k-1 (np.unique(y, return_inverse=True)[1]); an unused class still gets an "
        "output unit and is scored as a possible answer."
    )
    return Finding("data.imbalance", "warning", title, evidence, advice)


def _shift_test(train: np.ndarray, val: np.ndarray) -> tuple[float, float, float]:
    """(total variation distance, chi-square, p) between two count vectors."""
    from scipy.stats import chi2_contingency

    table = np.stack([train, val])
    table = table[:, table.sum(axis=0) > 0]
    tvd = 0.5 * float(np.abs(train / train.sum() - val / val.sum()).sum())
    if table.shape[1] < 2:
        return tvd, 0.0, 1.0
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    return tvd, float(chi2), float(p)


def check_label_shift(view: DataView) -> list[Finding]:
    """data.label_shift: training vs validation label distribution (TVD and a chi-square
    test of homogeneity; per output for multi-label, a KS test per column for regression)."""
    if view.val is None or view.train.y is None or view.val.y is None:
        return []
    train_cols = label_columns(view.train.y, view.task, view.num_classes)
    val_cols = label_columns(view.val.y, view.task, view.num_classes)
    if train_cols is None or val_cols is None:
        return _regression_shift(view)
    tests = [_shift_test(t, v) for t, v in zip(train_cols, val_cols)]
    worst = int(np.argmax([t[0] for t in tests]))
    tvd, chi2, p = tests[worst]
    severity = _shift_severity(tvd, p * len(tests))  # Bonferroni over outputs
    if severity is None:
        return []
    evidence: dict[str, object] = {
        "train": _distribution(train_cols[worst]),
        "validation": _distribution(val_cols[worst]),
    }
    evidence.update({"tvd": tvd, "chi2": chi2, "p": p, "outputs_tested": len(tests), "split": view.val_source})
    evidence["split_mode"] = view.split
    title = f"label distribution differs (TVD {tvd:.2f}, p = {p:.2g})"
    lost = _lost_classes(view, train_cols[worst], val_cols[worst]) if len(tests) == 1 else None
    if lost:
        evidence.update(lost[1])
        title, severity = f"{lost[0]} (TVD {tvd:.2f}, p = {p:.2g})", "error"
    return [_class_shift_finding(severity, title, evidence, view, one_label=len(tests) == 1)]


def _lost_classes(view: DataView, train: np.ndarray, val: np.ndarray) -> tuple[str, dict[str, Any]] | None:
    """The plain words when the split lost whole classes: validation rows of one class only
    (every validation score is that class's), or classes with no training rows (a file
    sorted by class, its last rows held out). None when every class is on both sides."""
    names = view.class_names

    def name(k: int) -> str:
        return repr(names[k]) if names and k < len(names) else str(k)

    held = [int(k) for k in np.flatnonzero(val > 0)]
    untrained = [k for k in held if train[k] == 0]
    if len(held) == 1 and int((train > 0).sum()) > 1:
        said = f"all {int(val.sum())} validation rows are class {name(held[0])}"
        said += ", which has no training rows" if untrained else ""
    elif untrained:
        said = f"classes {', '.join(name(k) for k in untrained)} have validation rows but no training rows"
    else:
        return None
    return said, {"validation_classes": held, "without_training_rows": untrained, "training_counts": train.tolist()}


def _shift_severity(effect: float, p: float) -> Severity | None:
    if effect >= SHIFT_WARNING[0] and p < SHIFT_WARNING[1]:
        return "warning"
    if effect >= SHIFT_INFO[0] and p < SHIFT_INFO[1]:
        return "info"
    return None


def _regression_shift(view: DataView) -> list[Finding]:
    from scipy.stats import ks_2samp

    assert view.val is not None and view.train.y is not None and view.val.y is not None
    results = []
    for j in range(view.train.y.shape[1]):
        a, b = view.train.y[:, j], view.val.y[:, j]
        res = ks_2samp(a[np.isfinite(a)], b[np.isfinite(b)])
        results.append((float(res.statistic), float(res.pvalue), j))
    ks, p, j = max(results)
    severity = _shift_severity(ks, p * len(results))
    if severity is None:
        return []
    evidence = {"ks": ks, "p": p, "output": j, "split": view.val_source, "split_mode": view.split}
    evidence.update(
        {"train_mean": float(np.nanmean(view.train.y[:, j])), "validation_mean": float(np.nanmean(view.val.y[:, j]))}
    )
    title = f"train vs validation: target distribution differs (KS {ks:.2f}, p = {p:.2g})"
    return [Finding("data.label_shift", severity, title, evidence, _target_shift_advice(view))]


def _class_shift_finding(
    severity: Severity, title: str, evidence: dict[str, Any], view: DataView, one_label: bool
) -> Finding:
    """data.label_shift for class labels. Where validation_split chose the rows, the change
    is a split that keeps each class's share in both parts (split="stratified"; several
    sigmoid outputs have no one class to stratify by, so "shuffled"), which doctor trains
    as its verification sweep; a given validation set has no split to change."""
    title = f"train vs validation: {title}"
    if view.val_source != "validation_split":
        advice = (
            "The validation set is given (validation_data): draw it from the same pool as the training "
            "rows, with the same class shares, or its scores weigh the classes differently."
        )
        return Finding("data.label_shift", severity, title, evidence, advice)
    if view.split == "stratified" or (view.split == "shuffled" and not one_label):
        advice = (
            f"The {view.split} split drew validation rows with other class shares by chance (few rows?): "
            "hold out more rows (validation_split) or try another split_seed."
        )
        return Finding("data.label_shift", severity, title, evidence, advice)
    if view.split == "last":
        how = "validation_split holds out the last rows, before any shuffling (is the file sorted by class?)"
    else:
        how = "the shuffled split drew validation rows with other class shares (few rows?)"
    if one_label:
        change = {"split": "stratified"}
        fix = "split='stratified' (--split stratified) keeps each class's share in both parts"
    else:
        change = {"split": "shuffled"}
        fix = "split='shuffled' (--split shuffled) draws them at random (multi-label rows have no one class)"
    advice = f"{how}: {fix}, the same rows for every member."
    return Finding("data.label_shift", severity, title, evidence, advice, change)


def _target_shift_advice(view: DataView) -> str:
    """Words only, no change: a regression target is never stratified, and a shuffled split
    of windows cut from one series would leak overlapping windows into validation."""
    if view.val_source != "validation_split" or view.split != "last":
        return (
            "The validation targets lie in another range than the training targets: a series split by time "
            "does this when it trends, and a time split rightly measures it; scale the target "
            "(standardize_target) so the model is not asked for values it never saw in raw units."
        )
    return (
        "validation_split holds out the last rows: if the rows are in time order this is the series' drift, "
        "which a time split rightly measures (scale the target: standardize_target); if they are independent "
        "sequences in a file sorted by target, split='shuffled' draws the validation rows at random."
    )


def check_leakage(view: DataView) -> list[Finding]:
    """data.leakage: validation sequences equal to, or sharing a long run of steps with, a
    training sequence (see fastlstm/diagnose/_leakage.py); error from 10% of the validation
    rows above chance, warning from 1%, info for a few."""
    if view.val is None:
        return []
    counts = leakage_counts(view.train.x, view.train.real, view.val.x, view.val.real)
    excess = counts["fraction"] - counts["chance_fraction"]
    if counts["affected"] == 0 or excess <= 0:
        return []
    severity: Severity = "error" if excess >= LEAK_ERROR else "warning" if excess >= LEAK_WARNING else "info"
    return [
        Finding(
            "data.leakage",
            severity,
            f"{counts['fraction']:.1%} of validation sequences repeat training data "
            f"({counts['equal_to_training']} equal, {counts['overlapping']} share >= {counts['run_length']} steps)",
            {**counts, "split": view.val_source},
            "Split by time (or by series) before cutting windows, with a gap of at least one window "
            "between training and validation; drop duplicated sequences. Validation scores on copied "
            "rows measure memory, not generalisation.",
        )
    ]


def check_label_in_features(view: DataView) -> list[Finding]:
    """data.leakage (error): a feature that gives the class away (its value at the last step
    has one class per value in the training rows): a copy of the label, or a code made
    from it. The model scores perfectly there and learns nothing usable without it."""
    y = view.train.y
    if y is None or view.task not in ("classification", "binary") or (y.shape[1] > 1 and view.task == "binary"):
        return []
    finite = np.isfinite(y).all(axis=1)
    labels = np.where(finite, np.argmax(y, axis=1) if y.shape[1] > 1 else np.rint(np.nan_to_num(y[:, 0])), -1)
    features = label_features(view.train.x[finite], view.train.real[finite], labels[finite].astype(np.int64))
    if not features:
        return []
    names = ", ".join(str(f["feature"]) for f in features)
    return [
        Finding(
            "data.leakage",
            "error",
            f"feature {names} gives the label away: each of its values belongs to one class only",
            {"features": features, "sequences": int(finite.sum())},
            "Drop the feature(s) from x: they copy or encode the label (a label column left among "
            "the features, an id sorted by class), so the scores measure the copy, not the model.",
        )
    ]


def check_lengths(view: DataView) -> list[Finding]:
    """data.short_or_ragged: very short sequences (fewer than MIN_STEPS real steps) and very
    ragged lengths (most of the padded array is padding, which costs compute)."""
    lengths = np.concatenate([p.lengths for _, p in _parts(view)])
    padding = float(1.0 - view.train.real.mean())
    short = float(np.mean(lengths < MIN_STEPS))
    median = float(np.median(lengths))
    ratio = float(lengths.max() / max(1, lengths.min()))
    severity: Severity | None = None
    if short >= SHORT_SHARE or padding >= PADDING_WARNING:
        severity = "warning"
    elif short > 0 or padding >= PADDING_INFO or ratio >= RAGGED_RATIO:
        severity = "info"
    if severity is None:
        return []
    evidence = {
        "min": int(lengths.min()),
        "median": median,
        "max": int(lengths.max()),
        "p95": float(np.percentile(lengths, 95)),
    }
    evidence.update({"short_share": short, "min_steps": MIN_STEPS, "padding_share": padding})
    said, advice = [], []
    if short > 0:
        said.append(f"{short:.0%} shorter than {MIN_STEPS} steps")
        advice.append(
            f"Drop or merge the sequences shorter than {MIN_STEPS} steps (an LSTM over 1-2 steps is a dense layer)."
        )
    if padding >= PADDING_INFO or ratio >= RAGGED_RATIO:
        said.append(f"{padding:.0%} of the training array is padding")
        advice.append(
            f"Truncate long sequences to about the 95th percentile ({evidence['p95']:.0f} steps), or train "
            "length buckets separately, so padding stops dominating the compute."
        )
    title = f"sequence lengths {evidence['min']}-{evidence['max']} (median {median:g}): {', '.join(said)}"
    return [Finding("data.short_or_ragged", severity, title, evidence, " ".join(advice))]


DATA_CHECKS: list[Any] = [
    check_nan,
    check_constant,
    check_unscaled,
    check_imbalance,
    check_leakage,
    check_label_in_features,
    check_label_shift,
    check_lengths,
]
