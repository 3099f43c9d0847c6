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

from fastlstm.diagnose.curves import Curves, curves_of, last_finite
from fastlstm.diagnose.findings import Finding, Findings
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


def check_training(result: Any) -> Findings:
    """Every training check on a `SweepResult` (fl.load'ed ones too)."""
    curves = curves_of(result)
    found: list[Finding] = []
    for check in TRAINING_CHECKS:
        found.extend(check(curves))
    from fastlstm.diagnose.lr_checks import sweep_lr_findings  # they build on this module's checks
    from fastlstm.diagnose.seed_checks import check_instability

    found.extend(check_instability(curves))
    found.extend(sweep_lr_findings(curves))
    return Findings(found)


def blown_up(c: Curves) -> np.ndarray:
    """(members,) diverged (non-finite loss) or a training loss above BLOWUP x the reference."""
    with np.errstate(invalid="ignore"):
        high = np.nanmax(np.where(np.isfinite(c.loss), c.loss, -np.inf), axis=1) > BLOWUP * c.reference_loss
    return c.diverged | high


def unstable_configs(c: Curves) -> list[dict[str, Any]]:
    """Per configuration where most members blew up: its lr, counts and worst loss."""
    bad = blown_up(c)
    rows = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        if idx.size and bad[idx].sum() * 2 > idx.size:
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


def stable_lr_below(c: Curves, lr: float) -> float:
    """The largest learning rate under `lr` at which no member blew up; lr / 10 if none."""
    bad = blown_up(c)
    ok = [c.lr_of_config(k) for k in range(len(c.configs)) if not bad[c.members_of(k)].any()]
    ok = [v for v in ok if math.isfinite(v) and v < lr]
    return max(ok) if ok else lr / 10


def check_divergence(c: Curves) -> list[Finding]:
    """train.divergence: members whose loss went non-finite (error) or above BLOWUP x the
    reference loss (error when most members of a configuration did, else warning)."""
    bad = blown_up(c)
    if not bad.any():
        return []
    configs = unstable_configs(c)
    severity = "error" if c.diverged.any() or configs else "warning"
    lrs = [row["learning_rate"] for row in configs if math.isfinite(row["learning_rate"])]
    change = {"learning_rate": stable_lr_below(c, min(lrs))} if lrs else None
    evidence = {"members": int(bad.sum()), "of_members": int(bad.size), "diverged": int(c.diverged.sum())}
    evidence.update({"reference_loss": c.reference_loss, "blowup_factor": BLOWUP, "configs": configs})
    return [
        Finding(
            "train.divergence",
            severity,
            f"{int(bad.sum())} of {bad.size} members diverged ({int(c.diverged.sum())} to NaN/inf) or blew up "
            f"(training loss above {BLOWUP}x the {c.reference_loss:.3g} of a uniform guess)",
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


def chance_rows(c: Curves) -> list[dict[str, Any]]:
    """Per configuration that trained (neither blew up nor stood still): mean/std/max of the
    final accuracy and whether it is at chance (stats.at_majority_rate on the mean, or every
    member within the noise margin)."""
    if c.final_accuracy is None or c.majority_rate is None:
        return []
    excluded = {r["config"] for r in unstable_configs(c)} | {r["config"] for r in plateau_configs(c)}
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
        rows.append({"config": k, "learning_rate": c.lr_of_config(k), "mean": d["mean"], "std": d["std"]})
        rows[-1].update({"max": d["max"], "at_majority_rate": at_rate, "all_within_noise": within})
    return rows


def check_no_signal(c: Curves) -> list[Finding]:
    """train.no_signal (error): every member of every configuration at chance, while the
    training loss did move somewhere (so a too-small learning rate is not the reason) and
    the labels are not so imbalanced that answering the majority is what "chance" means."""
    rows = chance_rows(c)
    if not rows or not all(r["all_within_noise"] or r["at_majority_rate"] for r in rows) or imbalanced(c):
        return []
    best = max(r["max"] for r in rows)
    evidence = {"majority_class_rate": c.majority_rate, "best_member": best, "noise_margin": c.chance_margin()}
    evidence.update({"evaluated_rows": c.eval_rows, "configs": rows})
    return [
        Finding(
            "train.no_signal",
            "error",
            f"every member is at chance: the best scores {best:.3f} against a majority rate of "
            f"{c.majority_rate:.3f} (noise +/- {c.chance_margin():.3f})",
            evidence,
            "Check that the labels belong to the inputs (row order after a join or shuffle, the label "
            "column, the target shift of a forecast); a model that fits no configuration usually has "
            "nothing to find.",
        )
    ]


def check_underfit(c: Curves) -> list[Finding]:
    """train.underfit (warning): configurations whose mean accuracy equals the majority rate
    (stats.at_majority_rate) - the model answers the most frequent class. Left to
    train.no_signal when every configuration is there and the labels are balanced."""
    rows = chance_rows(c)
    under = [r for r in rows if r["at_majority_rate"]]
    if not under or check_no_signal(c):
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
    rows = []
    for k in range(len(c.configs)):
        idx = c.members_of(k)
        best = [overfit_member(c.loss[i], c.val_loss[i]) for i in idx]
        hits = [b for b in best if b is not None]
        if len(hits) * 2 > idx.size:
            restored = bool(c.restored[idx].all())
            rows.append(
                {"config": k, "members": len(hits), "of_members": int(idx.size), "best_epoch": int(np.median(hits))}
            )
            rows[-1].update({"val_loss_min": float(np.nanmedian(np.nanmin(c.val_loss[idx], axis=1)))})
            rows[-1].update({"val_loss_final": float(np.nanmedian(last_finite(c.val_loss[idx]))), "restored": restored})
    if not rows:
        return []
    best_epoch = int(np.median([r["best_epoch"] for r in rows]))
    severity = "info" if all(r["restored"] for r in rows) else "warning"
    return [
        Finding(
            "train.overfit",
            severity,
            f"validation loss is lowest after epoch {best_epoch + 1} of {c.epochs} and rises after it while "
            f"the training loss falls ({len(rows)} of {len(c.configs)} configurations)",
            {"best_epoch": best_epoch, "epochs": c.epochs, "configs": rows},
            f"Stop at the best epoch: epochs={best_epoch + 1}, or EarlyStopping(monitor='val_loss', patience=2, "
            "restore_best_weights=True); more data, dropout or a smaller model reduce the gap.",
            {"epochs": best_epoch + 1},
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
    evidence["epoch_of_lowest"] = [int(np.nanargmin(c.loss[i])) for i in members]
    return [
        Finding(
            "train.collapse",
            "warning",
            f"{members.size} member(s) learnt and then fell back to chance (loss {lowest[members[0]]:.3g} -> "
            f"{final[members[0]]:.3g}, a uniform guess scores {c.reference_loss:.3g})",
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
