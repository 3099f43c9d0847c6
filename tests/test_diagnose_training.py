"""Training checks of fl.diagnose on synthetic histories: each rule's threshold, both sides.

Fast (no training): a `SimpleNamespace` with a result's history, members and meta is all
the checks read. The planted faults trained for real are in test_diagnose_sweeps.py.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.diagnose import check_training
from fastlstm.diagnose._training_checks import BLOWUP, OVERFIT_RISE, PLATEAU_MOVE

LN3 = math.log(3)


def fake_result(loss, *, val_loss=None, val_accuracy=None, lrs=None, config=None, status=None, meta=None, final=None):
    """A result-like object: (members, epochs) histories, one member row each."""
    loss = np.asarray(loss, float)
    m, e = loss.shape
    config = np.zeros(m, int) if config is None else np.asarray(config)
    history = {"loss": loss}
    if val_loss is not None:
        history["val_loss"] = np.asarray(val_loss, float)
    if val_accuracy is not None:
        history["val_accuracy"] = np.asarray(val_accuracy, float)
    members = [
        {
            "index": i,
            "config": int(config[i]),
            "learning_rate": 1e-3 if lrs is None else lrs[i],
            "status": "ok" if status is None else status[i],
            "final_epoch": e - 1 if final is None else final[i],
        }
        for i in range(m)
    ]
    base = {"task": "classification", "num_classes": 3, "out_dim": 3, "majority_class_rate": 0.34, "n_val": 300}
    base.update({"n_train": 900, "optimizer": "adam"})
    configs = [{"learning_rate": lr} for lr in sorted(set(members_lr(members)))] if lrs is not None else [{}]
    return SimpleNamespace(
        history=history, members=members, meta={**base, **(meta or {})}, configs=configs, analysis={}, spec=None
    )


def members_lr(members):
    return [m["learning_rate"] for m in members]


def learning(m=4, e=10, start=LN3, end=0.3):
    return np.tile(np.linspace(start, end, e), (m, 1))


def healthy(m=4, e=10):
    loss = learning(m, e)
    return dict(loss=loss, val_loss=loss + 0.05, val_accuracy=np.full((m, e), 0.9))


def ids(result):
    return check_training(result).ids()


def test_healthy_histories_raise_nothing():
    assert ids(fake_result(**healthy())) == []


def test_nan_loss_is_divergence_and_lr_too_high_with_a_stable_rate_from_the_sweep():
    h = healthy(m=8)
    h["loss"][4:, 3:] = np.nan
    status = ["ok"] * 4 + ["diverged"] * 4
    lrs = [1e-3] * 4 + [1.0] * 4
    result = fake_result(**h, lrs=lrs, config=[0] * 4 + [1] * 4, status=status)
    findings = check_training(result)
    f = findings.by_id("train.divergence")
    assert f.severity == "error" and f.evidence["diverged"] == 4
    assert f.change == {"learning_rate": 1e-3}  # the largest rate below at which nothing blew up
    assert findings.by_id("lr.too_high").change == {"learning_rate": 1e-3}
    assert findings.by_id("train.no_signal") is None  # the blown-up config is not "at chance"


@pytest.mark.parametrize("factor, found", [(BLOWUP * 0.96, False), (BLOWUP * 1.04, True)])
def test_blow_up_threshold(factor, found):
    h = healthy()
    h["loss"][:, 2] = factor * LN3
    assert ("train.divergence" in ids(fake_result(**h))) is found


def test_flat_loss_is_a_plateau_and_lr_too_low_when_a_larger_rate_learnt():
    flat = np.full((4, 8), LN3 + 0.01)
    moving = learning(4, 8)
    loss = np.concatenate([flat, moving])
    acc = np.concatenate([np.full((4, 8), 0.34), np.full((4, 8), 0.9)])
    lrs = [1e-6] * 4 + [3e-3] * 4
    result = fake_result(loss, val_loss=loss, val_accuracy=acc, lrs=lrs, config=[0] * 4 + [1] * 4)
    findings = check_training(result)
    assert findings.by_id("train.plateau").change == {"learning_rate": 3e-3}
    assert findings.by_id("train.plateau").evidence["configs"][0]["learning_rate"] == 1e-6
    assert findings.by_id("lr.too_low").change == {"learning_rate": 3e-3}
    assert findings.by_id("train.underfit") is None  # the stuck config is the plateau's


@pytest.mark.parametrize("move, found", [(PLATEAU_MOVE * 0.5, True), (PLATEAU_MOVE * 2, False)])
def test_plateau_threshold(move, found):
    loss = np.tile(np.linspace(LN3, LN3 * (1 - move), 8), (4, 1))
    assert ("train.plateau" in ids(fake_result(loss))) is found


def test_a_flat_loss_near_zero_is_not_a_plateau():
    assert ids(fake_result(np.full((4, 8), 0.05))) == []


def test_every_member_at_chance_with_a_moving_loss_is_no_signal():
    loss = learning(8, 10, end=0.8)  # the training loss falls: it memorises
    acc = np.full((8, 10), 0.35)
    acc[:, -1] = np.linspace(0.30, 0.38, 8)
    result = fake_result(
        loss, val_loss=loss + 0.3, val_accuracy=acc, lrs=[1e-3] * 4 + [1e-2] * 4, config=[0] * 4 + [1] * 4
    )
    findings = check_training(result)
    f = findings.by_id("train.no_signal")
    assert f.severity == "error" and f.change is None
    assert f.evidence["best_member"] == pytest.approx(0.38)
    assert findings.by_id("train.underfit") is None


def test_one_learning_member_beyond_the_noise_means_signal():
    loss = learning(8, 10, end=0.8)
    acc = np.full((8, 10), 0.35)
    acc[0, -1] = 0.6  # 0.34 + more than 3 standard errors of 300 rows
    assert "train.no_signal" not in ids(fake_result(loss, val_loss=loss, val_accuracy=acc))


def test_majority_rate_with_imbalanced_labels_is_underfit_with_class_weights():
    loss = learning(4, 10, start=math.log(2), end=0.12)
    acc = np.full((4, 10), 0.97)
    meta = {"task": "binary", "num_classes": None, "out_dim": 1, "majority_class_rate": 0.97}
    findings = check_training(fake_result(loss, val_loss=loss, val_accuracy=acc, meta=meta))
    assert findings.ids() == ["train.underfit"]
    assert findings[0].change == {"class_weight": "balanced"}


def test_one_config_at_the_majority_rate_among_learning_ones_is_underfit():
    loss = learning(8, 10, end=0.5)
    acc = np.concatenate([np.full((4, 10), 0.34), np.full((4, 10), 0.8)])
    result = fake_result(loss, val_loss=loss, val_accuracy=acc, lrs=[1e-4] * 4 + [1e-2] * 4, config=[0] * 4 + [1] * 4)
    f = check_training(result).by_id("train.underfit")
    assert [row["config"] for row in f.evidence["configs"]] == [0]
    assert f.change == {"epochs": 30}


def u_shaped(m=4, e=20, best=6, rise=0.5):
    epochs = np.arange(e)
    val = 1.0 - 0.05 * np.minimum(epochs, best) + rise * np.maximum(epochs - best, 0) / (e - best)
    return np.tile(val, (m, 1))


def test_validation_loss_rising_after_its_minimum_is_overfit_naming_the_best_epoch():
    loss = learning(4, 20, end=0.05)
    f = check_training(fake_result(loss, val_loss=u_shaped(), val_accuracy=np.full((4, 20), 0.8))).by_id(
        "train.overfit"
    )
    assert f.severity == "warning"
    assert f.evidence["best_epoch"] == 7 and f.change == {"epochs": 7}  # counted from 1, as the title
    assert "epoch 7 of 20" in f.title


@pytest.mark.parametrize("rise, found", [(OVERFIT_RISE * 0.5, False), (OVERFIT_RISE * 1.5 + 0.3, True)])
def test_overfit_rise_threshold(rise, found):
    loss = learning(4, 20, end=0.05)
    val = u_shaped(best=6, rise=0.0)
    val[:, -1] = val[:, 6] * (1 + rise)
    result = fake_result(loss, val_loss=val, val_accuracy=np.full((4, 20), 0.8))
    assert ("train.overfit" in ids(result)) is found


def test_overfit_already_handled_by_restored_best_weights_is_info():
    loss = learning(4, 20, end=0.05)
    result = fake_result(loss, val_loss=u_shaped(), val_accuracy=np.full((4, 20), 0.8), final=[6] * 4)
    assert check_training(result).by_id("train.overfit").severity == "info"


def test_a_member_that_learnt_and_fell_back_to_chance_collapsed():
    loss = learning(4, 12, start=math.log(2), end=0.2)
    loss[1, 8:] = [0.6, 0.66, 0.68, 0.68]
    meta = {"task": "binary", "num_classes": None, "out_dim": 1, "majority_class_rate": 0.5}
    acc = np.full((4, 12), 0.9)
    acc[1, -1] = 0.5
    findings = check_training(fake_result(loss, val_loss=loss, val_accuracy=acc, lrs=[3e-2] * 4, meta=meta))
    f = findings.by_id("train.collapse")
    assert f.evidence["members"] == [1] and f.evidence["epoch_of_lowest"] == [8]  # counted from 1
    assert f.change == {"learning_rate": pytest.approx(1e-2)}
    assert findings.by_id("train.divergence") is None


def test_seeds_that_split_into_failures_and_successes_are_unstable():
    loss = learning(8, 10, end=0.5)
    acc = np.full((8, 10), 0.9)
    acc[:3, -1] = 0.34
    f = check_training(fake_result(loss, val_loss=loss, val_accuracy=acc)).by_id("seeds.instability")
    assert f.severity == "warning"
    assert f.evidence["split_configs"][0]["failed"] == 3 and f.evidence["split_configs"][0]["succeeded"] == 5


def test_configurations_closer_than_the_seed_spread_are_info_only():
    spread = 0.8 + 0.03 * np.random.default_rng(0).normal(size=8)
    loss = learning(16, 10, end=0.5)
    acc = np.full((16, 10), 0.8)
    acc[:, -1] = np.concatenate([spread, spread[::-1] + 0.005])  # 0.005 apart, seeds 0.03
    result = fake_result(loss, val_loss=loss, val_accuracy=acc, lrs=[1e-3] * 8 + [2e-3] * 8, config=[0] * 8 + [1] * 8)
    f = check_training(result).by_id("seeds.instability")
    assert f.severity == "info" and f.evidence["anova_p"] > 0.05
    assert check_training(result).at_least("warning").ids() == []


def test_findings_order_document_and_round_trip():
    h = healthy(m=8)
    h["loss"][4:, 3:] = np.nan
    result = fake_result(
        **h, lrs=[1e-3] * 4 + [1.0] * 4, config=[0] * 4 + [1] * 4, status=["ok"] * 4 + ["diverged"] * 4
    )
    findings = check_training(result)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    doc = findings.to_dict()
    assert doc["verification"] is None and doc["findings"][0]["id"] == "train.divergence"
    assert set(doc["findings"][0]) == {"id", "severity", "title", "evidence", "recommendation", "change"}
    assert fl.Findings.from_dict(doc) == findings
    assert findings.actionable()[0].id == "train.divergence" and all(f.change for f in findings.actionable())
    text = str(findings)
    assert "ERROR   train.divergence" in text and "change: learning_rate=0.001" in text


def test_finding_rejects_unknown_ids_and_severities():
    with pytest.raises(ValueError, match=r"Finding\.id"):
        fl.Finding("data.colour", "info", "t", {}, "r")
    with pytest.raises(ValueError, match="severity"):
        fl.Finding("data.nan", "fatal", "t", {}, "r")
    f = fl.Finding("data.nan", "error", "t", {"n": np.int64(3), "v": np.float32(0.5)}, "r")
    assert f.evidence == {"n": 3, "v": 0.5} and type(f.evidence["n"]) is int


def test_regression_and_single_epoch_and_all_diverged_sweeps_do_not_break():
    regression = {"task": "regression", "num_classes": None, "out_dim": 1, "majority_class_rate": None}
    loss = learning(4, 6, start=5.0, end=1.0)
    assert ids(fake_result(loss, val_loss=loss, meta=regression)) == []
    spiking = loss.copy()
    spiking[0, 3:] = 20.0  # 4x the first epoch's median: blown up
    assert "train.divergence" in ids(fake_result(spiking, val_loss=spiking, meta=regression))
    assert ids(fake_result(learning(4, 1), val_accuracy=np.full((4, 1), 0.9))) == []
    dead = np.full((4, 5), np.nan)
    findings = check_training(fake_result(dead, val_accuracy=dead, status=["diverged"] * 4, final=[-1] * 4))
    assert findings.by_id("train.divergence").severity == "error"
    assert findings.by_id("train.divergence").evidence["diverged"] == 4


def test_a_training_symptom_the_data_explains_comes_after_the_data_finding():
    from fastlstm.diagnose import Finding, Findings, _explained_by_the_data

    no_signal = Finding("train.no_signal", "error", "every member is at chance", {}, "check the labels", None)
    unscaled = Finding("data.unscaled", "warning", "1 of 4 features", {}, "standardise", {"standardize": "feature"})
    explained = _explained_by_the_data(Findings([no_signal, unscaled]))
    assert explained.ids() == ["data.unscaled", "train.no_signal"]
    assert explained[1].severity == "warning" and "may come from data.unscaled" in explained[1].title
    assert _explained_by_the_data(Findings([no_signal])) == [no_signal]  # alone it stays an error
