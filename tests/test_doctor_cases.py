"""The doctor on the classic failures, planted in real data (issue 26, items 1-7): each test
fails on the doctor before the change it names. Real data from aeon's bundled UCR/UEA
files and series; tiny models and few seeds, so the whole file takes well under a minute."""

import importlib.util
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from guards import patch_train
from rich.console import Console

import fastlstm as fl
from fastlstm.analysis._doctor import before_after, doctor
from fastlstm.diagnose import check_data, check_training, diagnose

HAVE_AEON = importlib.util.find_spec("aeon") is not None
needs_aeon = pytest.mark.skipif(not HAVE_AEON, reason="needs aeon (fastlstm[data])")
TINY = {"model": {"units": 8}, "batch_size": 16}


def aeon_file(name: str, part: str = "TRAIN") -> str:
    folder = Path(importlib.util.find_spec("aeon").origin).parent / "datasets" / "data" / name
    return str(folder / (f"{name}.csv" if part == "series" else f"{name}_{part}.ts"))


def read(spec: fl.SweepSpec) -> dict:
    from fastlstm.api._sweep import read_spec_data

    return read_spec_data(spec)[0]


def italy_spec(**overrides) -> fl.SweepSpec:
    data = {"path": aeon_file("ItalyPowerDemand"), "validation_path": aeon_file("ItalyPowerDemand", "TEST")}
    return fl.SweepSpec.from_dict({"name": "italy", **TINY, "epochs": 20, "data": data, **overrides})


def first_warning(found) -> str | None:
    return next((f.id for f in found.findings if f.severity != "info"), None)


@pytest.mark.slow
@needs_aeon
def test_shuffled_labels_are_no_signal_first_and_no_learning_rate_advice():
    """Item 1: ItalyPowerDemand with its training labels permuted."""
    spec = italy_spec()
    fit = read(spec)
    fit["y"] = np.random.default_rng(1).permutation(np.asarray(fit["y"]))
    found = doctor(spec, **fit, seeds=2, verify=False)
    assert first_warning(found) == "train.no_signal", str(found.findings)
    warned = found.findings.at_least("warning")
    assert not [f for f in warned if f.id.startswith("lr.") or f.id == "train.plateau"], str(warned)
    assert all("learning_rate" not in (f.change or {}) for f in warned)


@pytest.mark.slow
@needs_aeon
def test_too_few_epochs_is_underfit_with_more_epochs_verified():
    """Item 2: ItalyPowerDemand at 2 epochs (10 optimizer steps), the loss still falling."""
    spec = italy_spec(epochs=2)
    found = doctor(spec, **read(spec), seeds=4)
    assert first_warning(found) == "train.underfit", str(found.findings)
    top = found.top()
    assert top.id == "train.underfit" and set(top.change) == {"epochs"} and top.change["epochs"] > 2
    assert "seeds.instability" not in found.findings.at_least("warning").ids()  # a short run's split seeds
    v = found.verification
    assert v["finding"] == "train.underfit" and v["helped"], v["text"]


@pytest.mark.slow
@needs_aeon
@pytest.mark.parametrize("name, window", [("Airline", 12), ("ShampooSales", 6)])
def test_an_unscaled_regression_target_is_named_and_scaling_it_verified(name, window):
    """Item 3: a series in raw units (passengers, sales) forecast from its windows."""
    from fastlstm.api._sweep import read_spec_data

    data = {"path": aeon_file(name, "series"), "window": window}
    spec = fl.SweepSpec.from_dict({"name": "series", **TINY, "epochs": 15, "validation_split": 0.2, "data": data})
    fit, loaded, _ = read_spec_data(spec)
    found = doctor(spec, **fit, seeds=3, feature_names=loaded.feature_names)
    top = found.top()
    assert top.id == "data.unscaled" and top.change.get("standardize_target") is True, str(found.findings)
    assert "target" in top.evidence and "regression target" in top.title
    assert f"column {loaded.feature_names[0]!r}" in top.title  # the column's name, not "feature 0"
    v = found.verification
    assert v["metric"] in ("val_mae", "mae") and v["helped"], v["text"]  # in the target's units, both sides
    words = json.dumps(found.to_dict()).lower()
    assert "uniform guess" not in words and "stratified" not in words


@pytest.mark.slow
@needs_aeon
def test_a_class_sorted_file_split_by_its_last_rows_is_label_shift_changed_to_stratified():
    """Item 4: BasicMotions_TRAIN.ts is sorted by class; its last 25% (Keras's split) are all
    'badminton': the check says so plainly, and the change is a stratified split."""
    from fastlstm.data._readers import read_data

    loaded = read_data(aeon_file("BasicMotions")).fit_arguments()
    found = check_data(loaded["x"], loaded["y"], validation_split=0.25)
    assert found.ids()[0] == "data.label_shift" and "data.imbalance" not in found.ids(), str(found)
    shift = found.by_id("data.label_shift")
    assert shift.severity == "error" and shift.change == {"split": "stratified"}
    assert "all 10 validation rows are class 'badminton', which has no training rows" in shift.title
    spec = fl.SweepSpec.from_dict({"name": "bm", **TINY, "epochs": 8, "validation_split": 0.25})
    result = doctor(spec, loaded["x"], loaded["y"], seeds=2)
    assert result.verification["change"] == {"split": "stratified"}
    assert result.verification["after"]["mean"] > result.verification["before"]["mean"]


def test_the_range_test_budget_is_optimizer_steps_not_epochs(monkeypatch):
    """Item 5: on GunPoint's 50 rows 2 epochs are 4 steps at batch 32; the budget is 100
    steps whatever the size (50 epochs there), 2 epochs of 50 steps on big data."""
    from fastlstm.analysis._lr_range import RANGE_STEPS, step_budget

    seen = {}

    def fake_train(spec, ds, **kwargs):
        seen.update(spec=spec, rows=len(ds.train))
        raise RuntimeError("stop here")

    patch_train(monkeypatch, fake_train)
    rng = np.random.default_rng(0)
    for rows, epochs, trained in ((50, 50, 50), (5000, 2, 1600)):
        x, y = rng.normal(size=(rows, 6, 1)).astype(np.float32), np.arange(rows) % 2
        with pytest.raises(RuntimeError, match="stop here"):
            fl.lr_range(x, y, verbose=0)
        assert (seen["spec"].epochs, seen["rows"]) == (epochs, trained)
        assert seen["spec"].epochs * math.ceil(seen["rows"] / 32) >= RANGE_STEPS
    assert step_budget(50, 32, 100) == (50, None) and step_budget(5000, 32, 100) == (2, 50)


# --- item 6: the small wrongs ----------------------------------------------------------


def fake_result(loss, *, val_loss=None, val_accuracy=None, lrs=None, status=None, meta=None):
    loss = np.asarray(loss, float)
    m, e = loss.shape
    history = {"loss": loss}
    if val_loss is not None:
        history["val_loss"] = np.asarray(val_loss, float)
    if val_accuracy is not None:
        history["val_accuracy"] = np.asarray(val_accuracy, float)
    lrs = lrs or [1e-3] * m
    configs = sorted(set(lrs))
    members = [
        {"index": i, "config": configs.index(lrs[i]), "learning_rate": lrs[i], "seed": i, "final_epoch": e - 1}
        for i in range(m)
    ]
    for i, member in enumerate(members):
        member["status"] = "ok" if status is None else status[i]
    base = {"task": "binary", "num_classes": None, "out_dim": 1, "majority_class_rate": 0.5, "n_val": 300}
    base.update({"n_train": 600, "optimizer": "adam"})
    return SimpleNamespace(
        history=history,
        members=members,
        meta={**base, **(meta or {})},
        configs=[{"learning_rate": lr} for lr in configs],
        analysis={},
        spec=None,
    )


def test_a_divergence_warning_has_its_configurations_and_a_change():
    loss = np.tile(np.linspace(0.69, 0.3, 10), (8, 1))
    loss[1, 5:] = 1.2  # one member of the 1e-2 configuration blew up and stayed there
    found = check_training(fake_result(loss, lrs=[1e-2] * 4 + [1e-3] * 4)).by_id("train.divergence")
    assert found.severity == "warning" and found.evidence["configs"], found.evidence
    assert found.change == {"learning_rate": 1e-3}


def test_a_seed_that_spiked_and_learnt_again_is_no_failed_seed():
    """Clean GunPoint: one of 4 seeds' loss spiked above 1.25 x ln 2 mid-run (Adam) and came
    back; its accuracy is as good as the others'. Worth an info, not seeds that disagree."""
    loss = np.tile(np.linspace(0.69, 0.2, 12), (4, 1))
    loss[2, 5] = 1.0
    acc = np.tile(np.linspace(0.5, 0.9, 12), (4, 1))
    acc[2, 5] = 0.5
    found = check_training(fake_result(loss, val_loss=loss, val_accuracy=acc))
    assert found.by_id("train.divergence").severity == "info"
    assert found.at_least("warning").ids() == [], str(found)


def test_overfit_counts_epochs_from_one_in_title_evidence_and_change():
    e = 12
    val = np.tile(np.r_[np.linspace(1.0, 0.5, 4), np.linspace(0.55, 0.9, e - 4)], (4, 1))
    loss = np.tile(np.linspace(0.69, 0.1, e), (4, 1))
    found = check_training(fake_result(loss, val_loss=val)).by_id("train.overfit")
    assert found.evidence["best_epoch"] == 4 and found.change == {"epochs": 4}
    assert "after epoch 4 of 12" in found.title


def test_unscaled_names_the_column_and_the_worst_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8, 3)).astype(np.float32)
    x[:, :, 0] = x[:, :, 0] * 0.02 + 5  # offset, mildly off
    x[:, :, 2] = x[:, :, 2] * 3e4  # raw units: the worst
    found = check_data(x, np.arange(60) % 2, feature_names=["volts", "temp", "watts"]).by_id("data.unscaled")
    assert "column 'watts'" in found.title, found.title


def test_lr_too_low_is_left_out_where_the_sweep_learnt_at_that_rate():
    doc = {"kind": "lr_range", "learning_rates": [1e-4, 1e-3, 1e-2, 1e-1], "median_loss": [0.69, 0.6, 0.2, 0.3]}
    doc.update({"diverged": [0, 0, 0, 0], "seeds": [0, 1, 2], "initial_loss": 0.69, "steps": 100})
    doc.update({"largest_stable": 1e-2, "recommended": 1e-2, "range": [1e-2, 1e-2], "rule": "..."})
    learnt = fake_result(np.tile(np.linspace(0.69, 0.2, 20), (4, 1)), val_accuracy=np.full((4, 20), 0.9))
    assert "lr.too_low" not in diagnose(learnt, lr_range=doc).ids()


def test_doctor_labels_its_three_progress_bars(tmp_path):
    from fastlstm.runtime._progress import ProgressBar

    with (tmp_path / "bar.txt").open("w") as handle:
        bar = ProgressBar(console=Console(file=handle), title="range test")
        bar.on_sweep_start(SimpleNamespace(total_epochs=3))
        bar.on_chunk_start(SimpleNamespace(epochs=3, first_epoch=0, label="training"))
        assert bar.progress.tasks[0].description == "range test"
        bar.on_sweep_end()


def test_no_verify_names_the_change_and_the_as_given_score_is_printed(tmp_path):
    from fastlstm.analysis._doctor import Diagnosis
    from fastlstm.cli._doctor import print_diagnosis
    from fastlstm.diagnose import Finding, Findings

    finding = Finding("train.underfit", "warning", "too short", {}, "train longer", {"epochs": 40})
    before = fake_result(np.tile(np.linspace(0.69, 0.5, 5), (3, 1)), val_accuracy=np.full((3, 5), 0.7))
    before.final_metrics = lambda: {"val_accuracy": np.array([0.6, 0.7, 0.8]), "loss": np.full(3, 0.5)}
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        print_diagnosis(Diagnosis(Findings([finding]), None, None, before), Console(file=handle), verified=False)
    text = out.read_text()
    assert "not verified (--no-verify): train.underfit's change would be epochs=40" in text
    assert "nothing to verify" not in text and "as given: val_accuracy 0.7 ± 0.1 over 3 seeds" in text


# --- item 7: a verification cannot hide lost seeds -------------------------------------


def _run(values, seeds, diverged=()):
    values = np.asarray(values, float)
    members = [
        {"config": 0, "seed": s, "status": "diverged" if s in diverged else "ok", "final_epoch": 0} for s in seeds
    ]
    return SimpleNamespace(
        members=members,
        configs=[{}],
        meta={"task": "binary"},
        history={"val_accuracy": values[:, None], "loss": np.ones((len(values), 1))},
        final_metrics=lambda: {"val_accuracy": values, "loss": np.ones(len(values))},
    )


def test_seeds_the_fix_lost_count_against_it_and_both_sides_use_the_same_seeds():
    seeds = list(range(8))
    before = _run([0.70, 0.72, 0.69, 0.71, 0.70, 0.68, 0.72, 0.71], seeds)
    after = _run([0.74, 0.75, 0.73, 0.74, 0.5, 0.5, 0.5, 0.5], seeds, diverged=(4, 5, 6, 7))
    doc = before_after(SimpleNamespace(id="lr.too_low", change={"learning_rate": 0.1}), before, after)
    assert doc["before"]["n"] == doc["after"]["n"] == 4  # the same seeds on both sides
    assert doc["before"]["mean"] == pytest.approx(np.mean([0.70, 0.72, 0.69, 0.71]))
    assert doc["seeds"]["lost"] == [4, 5, 6, 7] and not doc["helped"]
    assert "4 of 8 seeds diverged or are missing" in doc["text"] and "(better)" not in doc["text"]
