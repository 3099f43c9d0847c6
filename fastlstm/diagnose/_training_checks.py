"""Checks on a finished sweep: the four walls (chance accuracy, a loss that does not move,
seeds that disagree, overfitting) read from every member's history at once.

Each check takes the sweep's `Curves` and returns at most one `Finding` per id, with
the configurations it concerns in its evidence. A healthy sweep (a learnable task at
sane learning rates, tests/test_diagnose_training.py's control) raises nothing at
warning level; each threshold says why it has its value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastlstm.diagnose._curves import Curves, last_finite
from fastlstm.diagnose._findings import Finding, Severity
from fastlstm.stats import at_majority_rate, describe

# A trained model is never worse on its own training data than a uniform guess; 25% above
# that loss is a blow-up, not noise (healthy first epochs sit within a few % of it).
BLOWUP = 1.25
# train.plateau: the loss moved less than 1% of its first value over the whole run, and is
# still above half the reference loss (a model that solved the task in epoch 1 is not stuck).
PLATEAU_MOVE, PLATEAU_LEVEL, PLATEAU_MIN_EPOCHS = 0.01, 0.5, 3
# train.overfit: validation loss 10% above its minimum at the end, the minimum at least
# 2 epochs (and 20% of the run) before the end, the training loss lower than at the minimum.
OVERFIT_RISE, OVERFIT_GAP, OVERFIT_GAP_SHARE, OVERFIT_MIN_EPOCHS = 0.10, 2, 0.2, 4
# train.collapse: the loss fell below 70% of the reference loss, then ended above 90% of it.
LEARNED_LEVEL, COLLAPSED_LEVEL = 0.7, 0.9
# data.imbalance's info threshold, read from the majority rate when the labels are not at hand
IMBALANCED_RATIO = 3.0
# train.no_signal: a mean accuracy within this share of the possible gain over the majority
# rate (or within the noise margin) is "at chance": permuted labels still agree with the true
# ones on about half the rows, so a few points above chance on many rows is no signal either
# (ItalyPowerDemand, permuted labels: 0.54 +/- 0.01 against 0.50 on 1029 rows; clean: 0.95).
NEAR_CHANCE = 0.10
# train.underfit from the range test: at the sweep's learning rate the range test, with more
# optimizer steps than the sweep took, got the training loss lower, and the sweep got less
# than this share of the way there (ItalyPowerDemand at 2 epochs: 0.69 -> 0.69 in 10 steps,
# the range test's 100 steps at the same rate 0.21).
UNDERFIT_SHARE = 0.5
# The range test's loss at the rate must be this share below its initial loss (the loss is
# moving there; ItalyPowerDemand at Adam's 1e-3 and 8 units: 3% in 100 steps, where 200
# steps reach 0.9 accuracy), and some rate must learn much (curves.WEAK_GAIN).
RANGE_LEARNT = 0.02


def blown_up(c: Curves) -> np.ndarray:
    """(members,) diverged (non-finite loss) or a training loss above BLOWUP x the reference."""
    with np.errstate(invalid="ignore"):
        high = np.nanmax(np.where(np.isfinite(c.loss), c.loss, -np.inf), axis=1) > BLOWUP * c.reference_loss
    return c.diverged | high


def still_blown_up(c: Curves) -> np.ndarray:
    """(members,) blown up and not recovered: diverged, or a final loss above the reference
    (a member that spiked and learnt again, Adam's way, is not a failed seed)."""
    return blown_up(c) & (c.diverged | ~(last_finite(c.loss) <= c.reference_loss))


def unstable_configs(c: Curves, any_member: bool = False) -> list[dict[str, Any]]:
    """Per configuration where most members blew up (or, with `any_member`, any did): its
    lr, counts and worst loss."""
    bad = blown_up(c)
    rows = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        hit = bad[idx].sum() > 0 if any_member else bad[idx].sum() * 2 > idx.size
        if idx.size and hit:
            finite = c.loss[idx][np.isfinite(c.loss[idx])]
            rows.append(
                {
                    "config": k,
                    "learning_rate": c.lr_of_config(k),
                    "members": int(idx.size),
                    "diverged": int(c.diverged[idx].sum()),
                    "blown_up": int((bad[idx] & ~c.diverged[idx]).sum()),
                    "max_loss": float(finite.max()) if finite.size else math.nan,
                }
            )
    return rows


def reference_words(c: Curves) -> str:
    """What the reference loss is, in the task's words: a uniform guess for classes, the
    first epoch's median loss for regression (no "guess" of a number)."""
    return "of a uniform guess" if c.meta.get("task") in ("classification", "binary") else "of the first epoch (median)"


def stable_lr_below(c: Curves, lr: float) -> float:
    """The largest learning rate under `lr` at which no member blew up; lr / 10 if none."""
    bad = blown_up(c)
    ok = [c.lr_of_config(k) for k in range(len(c.configs)) if not bad[c.members_of(k)].any()]
    ok = [v for v in ok if math.isfinite(v) and v < lr]
    return max(ok) if ok else lr / 10


def check_divergence(c: Curves) -> list[Finding]:
    """train.divergence: members whose loss went non-finite (error) or above BLOWUP x the
    reference loss (error when most members of a configuration did, else warning). The
    evidence lists every configuration with such a member, and the change lowers the
    learning rate of the lowest such configuration (clips gradients when the rate is unknown)."""
    bad = blown_up(c)
    if not bad.any():
        return []
    severity: Severity = "error" if c.diverged.any() or unstable_configs(c) else "warning"
    recovered = bad & ~still_blown_up(c)
    if severity == "warning" and recovered[bad].all():
        severity = "info"  # a few members spiked and learnt again (Adam's spikes): worth knowing, not a fault
    configs = unstable_configs(c, any_member=True)
    lrs = [row["learning_rate"] for row in configs if math.isfinite(row["learning_rate"])]
    change = {"learning_rate": stable_lr_below(c, min(lrs))} if lrs else {"global_clipnorm": 1.0}
    evidence: dict[str, object] = {
        "members": int(bad.sum()),
        "of_members": int(bad.size),
        "diverged": int(c.diverged.sum()),
    }
    evidence.update({"reference_loss": c.reference_loss, "blowup_factor": BLOWUP, "configs": configs})
    evidence["recovered"] = int(recovered.sum())
    return [
        Finding(
            "train.divergence",
            severity,
            f"{int(bad.sum())} of {bad.size} members diverged ({int(c.diverged.sum())} to NaN/inf) or blew up "
            f"(training loss above {BLOWUP}x the {c.reference_loss:.3g} {reference_words(c)})",
            evidence,
            "Lower the learning rate (about 10x, or to the largest stable one a range test finds) and clip "
            "gradients (global_clipnorm=1.0).",
            change,
        )
    ]


def plateau_configs(c: Curves) -> list[dict[str, Any]]:
    """Configurations whose median member's loss barely moved (see PLATEAU_*)."""
    if c.epochs < PLATEAU_MIN_EPOCHS:
        return []
    bad = blown_up(c)
    rows = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        idx = idx[~bad[idx]]
        if idx.size == 0:
            continue
        first = c.loss[idx, 0]
        lowest = np.nanmin(c.loss[idx], axis=1)
        move = float(np.median((first - lowest) / np.maximum(np.abs(first), 1e-12)))
        level = float(np.median(lowest))
        stuck = not math.isfinite(c.reference_loss) or level > PLATEAU_LEVEL * c.reference_loss
        if move < PLATEAU_MOVE and stuck:
            row = {"config": k, "learning_rate": c.lr_of_config(k), "first_loss": float(np.median(first))}
            rows.append({**row, "lowest_loss": level, "relative_change": move})
    return rows


def raised_lr(c: Curves, lr: float) -> float:
    """The learning rate to try instead of one too low to move the loss: the best learning
    configuration's in this sweep if one learnt, else the optimizer's default (or 10x)."""
    stuck = {row["config"] for row in plateau_configs(c)}
    learnt = [k for k in range(len(c.configs)) if k not in stuck and not blown_up(c)[c.members_of(k)].any()]
    if learnt:
        best = min(learnt, key=lambda k: float(np.nanmedian(last_finite(c.loss[c.members_of(k)]))))
        if math.isfinite(c.lr_of_config(best)) and c.lr_of_config(best) > lr:
            return c.lr_of_config(best)
    return c.default_lr() if lr < c.default_lr() / 10 else lr * 10


def check_plateau(c: Curves) -> list[Finding]:
    """train.plateau (warning): the training loss barely moves from its first epoch."""
    rows = plateau_configs(c)
    if not rows:
        return []
    if c.nothing_learns() and no_signal_rows(c):
        return []  # no rate moves the loss (range test) and the model is at chance: train.no_signal says why
    lrs = [row["learning_rate"] for row in rows if math.isfinite(row["learning_rate"])]
    change = {"learning_rate": raised_lr(c, min(lrs))} if lrs else None
    worst = min(rows, key=lambda r: r["relative_change"])
    return [
        Finding(
            "train.plateau",
            "warning",
            f"the training loss barely moves: {worst['first_loss']:.4g} -> {worst['lowest_loss']:.4g} "
            f"({worst['relative_change']:.2%}) in {len(rows)} of {len(c.configs)} configurations",
            {"configs": rows, "epochs": c.epochs, "threshold": PLATEAU_MOVE, "reference_loss": c.reference_loss},
            "Raise the learning rate (a range test finds the largest stable one), or train longer; check that "
            "the inputs are scaled.",
            change,
        )
    ]


def final_accuracy(c: Curves, k: int) -> np.ndarray:
    """Configuration k's final accuracies, members that diverged left out."""
    assert c.final_accuracy is not None
    idx = c.members_of(k)
    values = c.final_accuracy[idx[~c.diverged[idx]]]
    return values[np.isfinite(values)]


def imbalanced(c: Curves) -> bool:
    """Whether the majority rate says one class is IMBALANCED_RATIO x each other's share,
    and the sweep did not weight the classes already."""
    classes = int(c.meta.get("num_classes") or 2)
    if c.majority_rate is None or getattr(c.spec, "class_weight", None) is not None:
        return False
    return c.majority_rate >= IMBALANCED_RATIO / (IMBALANCED_RATIO + classes - 1)


def chance_rows(c: Curves, with_stuck: bool = False) -> list[dict[str, Any]]:
    """Per configuration that trained (neither blew up nor stood still, unless `with_stuck`):
    mean/std/max of the final accuracy and whether it is at chance (stats.at_majority_rate
    on the mean, or every member within the noise margin)."""
    if c.final_accuracy is None or c.majority_rate is None:
        return []
    excluded = {r["config"] for r in unstable_configs(c)}
    if not with_stuck:
        excluded |= {r["config"] for r in plateau_configs(c)}
    rows = []
    for k in range(len(c.configs)):
        values = final_accuracy(c, k)
        if k in excluded:  # blew up or never moved: train.divergence / train.plateau say why
            continue
        if values.size == 0:
            continue
        d = describe(values.tolist())
        std = d["std"] if math.isfinite(d["std"]) else 0.0
        at_rate = at_majority_rate(d["mean"], std, c.majority_rate)
        within = bool(values.max() <= c.majority_rate + c.chance_margin())
        near_mean = d["mean"] <= c.majority_rate + max(c.chance_margin(), NEAR_CHANCE * (1 - c.majority_rate))
        near = near_mean and d["max"] < c.majority_rate + 2 * c.chance_margin()  # and no seed learnt (seed_checks)
        rows.append({"config": k, "learning_rate": c.lr_of_config(k), "mean": d["mean"], "std": d["std"]})
        rows[-1].update({"max": d["max"], "at_majority_rate": at_rate, "all_within_noise": within, "near_chance": near})
    return rows


def no_signal_rows(c: Curves) -> list[dict[str, Any]]:
    """The chance rows when every configuration is at chance and nothing else explains it:
    not imbalance (answering the majority is then "chance"), not a run too short to learn
    (underfit_rows), and not a rate too low to move the loss, unless the range test found
    no rate that moves it. Empty otherwise."""
    rows = chance_rows(c, with_stuck=c.nothing_learns())
    at_chance = all(r["all_within_noise"] or r["at_majority_rate"] or r["near_chance"] for r in rows)
    if not rows or not at_chance or imbalanced(c) or underfit_rows(c):
        return []
    return rows


def check_no_signal(c: Curves) -> list[Finding]:
    """train.no_signal (error): every configuration at chance (NEAR_CHANCE) while neither
    imbalance, a run too short, nor a rate too small explains it (`no_signal_rows`): the
    labels do not follow from the inputs. No learning-rate advice: none is the fix."""
    rows = no_signal_rows(c)
    if not rows:
        return []
    best = max(r["mean"] for r in rows)
    evidence = {"majority_class_rate": c.majority_rate, "best_config_mean": best, "noise_margin": c.chance_margin()}
    evidence.update({"best_member": max(r["max"] for r in rows), "evaluated_rows": c.eval_rows, "configs": rows})
    if c.range_doc is not None:
        evidence["range_test"] = (
            "no learning rate moved the loss" if c.nothing_learns() else "some rates moved the loss"
        )
    return [
        Finding(
            "train.no_signal",
            "error",
            f"no configuration learnt beyond chance: the best mean accuracy is {best:.3f} against a majority "
            f"rate of {c.majority_rate:.3f} (noise +/- {c.chance_margin():.3f})"
            + ("; the range test found no learning rate that moves the loss" if c.nothing_learns() else ""),
            evidence,
            "Check that the labels belong to the inputs (row order after a join or shuffle, the label "
            "column, the target shift of a forecast); a model that fits no configuration usually has "
            "nothing to find. No learning rate fixes labels that do not follow from the inputs.",
        )
    ]


def underfit_rows(c: Curves) -> list[dict[str, Any]]:
    """Configurations cut short: some rate of the range test learns much (not
    `nothing_learns`), at their learning rate it brought the training loss down
    (RANGE_LEARNT) with more optimizer steps than the sweep took, and the sweep got less
    than UNDERFIT_SHARE of the way there. Each row says how many epochs
    give the range test's steps."""
    doc, bad = c.range_doc, blown_up(c)
    if not doc or not isinstance(doc.get("steps"), int) or not _finite(doc.get("initial_loss")) or c.nothing_learns():
        return []
    initial, rows = float(doc["initial_loss"]), []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        idx, lr, per_epoch = idx[~bad[idx]], c.lr_of_config(k), c.steps_per_epoch(k)
        if idx.size == 0 or not math.isfinite(lr) or per_epoch is None:
            continue
        reached = _range_loss_at(doc, lr)
        epochs = int(np.median(np.isfinite(c.loss[idx]).sum(axis=1)))
        final = float(np.nanmedian(last_finite(c.loss[idx])))
        if reached is None or epochs * per_epoch >= doc["steps"] or initial - reached < RANGE_LEARNT * initial:
            continue
        if final - reached >= UNDERFIT_SHARE * (initial - reached):
            row = {"config": k, "learning_rate": lr, "epochs": epochs, "steps": epochs * per_epoch}
            row.update({"final_loss": final, "range_test_steps": doc["steps"], "range_test_loss": reached})
            rows.append({**row, "epochs_needed": math.ceil(doc["steps"] / per_epoch)})
    return rows


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _range_loss_at(doc: Any, lr: float) -> float | None:
    """The range test's median final loss at the tested rate nearest `lr` (log scale, within
    a factor of 2), or None (diverged, or no rate near it)."""
    rates = np.asarray(doc.get("learning_rates") or [], np.float64)
    if rates.size == 0:
        return None
    i = int(np.argmin(np.abs(np.log(rates) - math.log(lr))))
    value = (doc.get("median_loss") or [None] * rates.size)[i]
    near = abs(math.log(rates[i] / lr)) <= math.log(2.0)
    return float(value) if near and _finite(value) else None


def check_underfit(c: Curves) -> list[Finding]:
    """train.underfit (warning): a run too short to learn (`underfit_rows`: the change is the
    epochs that give the range test's steps), or, without that evidence, configurations whose
    mean accuracy equals the majority rate (stats.at_majority_rate) - the model answers the
    most frequent class. Left to train.no_signal when that explains it."""
    short = underfit_rows(c)
    if short:
        return [_short_run_finding(c, short)]
    rows = chance_rows(c)
    under = [r for r in rows if r["at_majority_rate"]]
    if not under or no_signal_rows(c):
        return []
    if imbalanced(c):
        change: dict[str, Any] = {"class_weight": "balanced"}
        advice = "Weight the classes (class_weight='balanced') so the minority classes count in the loss."
    else:
        change = {"epochs": 3 * c.epochs}
        advice = "Train longer (3x the epochs) or with a larger model; check the learning rate."
    return [
        Finding(
            "train.underfit",
            "warning",
            f"{len(under)} of {len(c.configs)} configurations score the majority rate {c.majority_rate:.3f}: "
            "the model answers the most frequent class",
            {"majority_class_rate": c.majority_rate, "configs": under},
            advice,
            change,
        )
    ]


def _short_run_finding(c: Curves, rows: list[dict[str, Any]]) -> Finding:
    """train.underfit for a run cut short, with the epochs the range test's steps take."""
    worst = max(rows, key=lambda r: r["final_loss"] - r["range_test_loss"])
    # twice the range test's steps: there the loss had just started to move (it learns on after)
    epochs = max(2 * c.epochs, 2 * max(r["epochs_needed"] for r in rows))
    title = (
        f"the run is too short to learn: after {worst['steps']} optimizer steps ({worst['epochs']} epochs) the "
        f"training loss is {worst['final_loss']:.4g}, where the range test's {worst['range_test_steps']} steps at "
        f"the same learning rate reach {worst['range_test_loss']:.4g}"
    )
    evidence = {"configs": rows, "epochs": c.epochs, "share": UNDERFIT_SHARE}
    advice = (
        f"Train longer: epochs={epochs} (about {epochs * worst['steps'] // max(1, worst['epochs'])} optimizer steps)."
    )
    return Finding("train.underfit", "warning", title, evidence, advice, {"epochs": epochs})


def overfit_member(loss: np.ndarray, val_loss: np.ndarray) -> int | None:
    """The best epoch (0-based) of a member that overfits (see OVERFIT_*), else None."""
    trained = int(np.isfinite(val_loss).sum())
    if trained < OVERFIT_MIN_EPOCHS or not np.isfinite(val_loss[:trained]).all():
        return None
    best = int(np.argmin(val_loss[:trained]))
    gap = max(OVERFIT_GAP, math.ceil(OVERFIT_GAP_SHARE * trained))
    rose = val_loss[trained - 1] > (1 + OVERFIT_RISE) * val_loss[best]
    still_falling = loss[trained - 1] < loss[best]
    return best if best <= trained - 1 - gap and rose and still_falling else None


def check_overfit(c: Curves) -> list[Finding]:
    """train.overfit: in most members of a configuration the validation loss bottoms out well
    before the end while the training loss keeps falling. Warning; info when EarlyStopping
    already restored the best weights."""
    if c.val_loss is None:
        return []
    rows: list[dict[str, object]] = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        best = [overfit_member(c.loss[i], c.val_loss[i]) for i in idx]
        hits = [b for b in best if b is not None]
        if len(hits) * 2 > idx.size:
            restored = bool(c.restored[idx].all())
            best_epoch = int(np.median(hits)) + 1  # counted from 1, as the title and Keras's log count
            rows.append({"config": k, "members": len(hits), "of_members": int(idx.size), "best_epoch": best_epoch})
            rows[-1].update({"val_loss_min": float(np.nanmedian(np.nanmin(c.val_loss[idx], axis=1)))})
            rows[-1].update({"val_loss_final": float(np.nanmedian(last_finite(c.val_loss[idx]))), "restored": restored})
    if not rows:
        return []
    best_epoch = int(np.median([r["best_epoch"] for r in rows]))  # 1-based, as everywhere in the finding
    severity: Severity = "info" if all(r["restored"] for r in rows) else "warning"
    return [
        Finding(
            "train.overfit",
            severity,
            f"validation loss is lowest after epoch {best_epoch} of {c.epochs} and rises after it while "
            f"the training loss falls ({len(rows)} of {len(c.configs)} configurations)",
            {"best_epoch": best_epoch, "epochs": c.epochs, "configs": rows},
            f"Stop at the best epoch: epochs={best_epoch}, or EarlyStopping(monitor='val_loss', patience=2, "
            "restore_best_weights=True); more data, dropout or a smaller model reduce the gap.",
            {"epochs": best_epoch},
        )
    ]


def check_collapse(c: Curves) -> list[Finding]:
    """train.collapse (warning): a member that had learnt (loss below LEARNED_LEVEL x the
    reference) ends back near chance (above COLLAPSED_LEVEL x it) - a late loss spike, typical
    of Adam at a high learning rate. Members that blew up are train.divergence's."""
    if not math.isfinite(c.reference_loss):
        return []
    lowest = np.nanmin(np.where(np.isfinite(c.loss), c.loss, np.inf), axis=1)
    final = last_finite(c.loss)
    hit = (lowest < LEARNED_LEVEL * c.reference_loss) & (final > COLLAPSED_LEVEL * c.reference_loss) & ~blown_up(c)
    if not hit.any():
        return []
    members = np.flatnonzero(hit)
    lrs = c.learning_rate[members]
    lr = float(np.nanmax(lrs)) if np.isfinite(lrs).any() else math.nan
    evidence = {"members": [int(i) for i in members], "of_members": int(hit.size), "reference_loss": c.reference_loss}
    evidence.update(
        {"lowest_loss": [float(v) for v in lowest[members]], "final_loss": [float(v) for v in final[members]]}
    )
    evidence["epoch_of_lowest"] = [int(np.nanargmin(c.loss[i])) + 1 for i in members]  # counted from 1
    return [
        Finding(
            "train.collapse",
            "warning",
            f"{members.size} member(s) learnt and then fell back to chance (loss {lowest[members[0]]:.3g} -> "
            f"{final[members[0]]:.3g}; the loss {reference_words(c)} is {c.reference_loss:.3g})",
            evidence,
            "Lower the learning rate (3x) or clip gradients (global_clipnorm=1.0); keep the best weights "
            "with EarlyStopping(restore_best_weights=True).",
            {"learning_rate": lr / 3} if math.isfinite(lr) else {"global_clipnorm": 1.0},
        )
    ]


TRAINING_CHECKS: list[Any] = [
    check_divergence,
    check_plateau,
    check_no_signal,
    check_underfit,
    check_overfit,
    check_collapse,
]
