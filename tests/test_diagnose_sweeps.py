"""Planted training faults, trained for real (small): each found under its id, and a clean
control (8 seeds x 3 learning rates of a learnable task) with nothing at warning level."""

import numpy as np
import pytest
from test_diagnose_lr import lr_range_doc

import fastlstm as fl
from fastlstm.diagnose import apply_change, attach_findings
from fastlstm.tasks import step_cue

MODEL = fl.ModelSpec(units=8)


def sweep(x, y, **kwargs):
    options = {"model": MODEL, "seeds": 4, "epochs": 6, "validation_split": 0.25, "verbose": 0, **kwargs}
    return fl.sweep(x, y, **options)


@pytest.fixture(scope="module")
def clean_result():
    x, y = step_cue()
    return x, y, sweep(x, y, seeds=8, grid={"learning_rate": [3e-3, 1e-2, 3e-2]}, epochs=8)


def test_clean_control_has_no_warning(clean_result, tmp_path):
    x, y, result = clean_result
    findings = fl.diagnose(result, x=x, y=y)
    assert findings.at_least("warning") == [], str(findings)
    means = [row["val_accuracy_mean"] for row in result.summary()]
    assert min(means) > result.meta["majority_class_rate"] + 0.15 and max(means) > 0.8  # a real control: it learnt


def test_findings_attach_to_the_result_and_survive_save_and_load(clean_result, tmp_path):
    _, _, result = clean_result
    findings = fl.diagnose(result)
    attach_findings(result, findings)
    try:
        folder = result.save(tmp_path / "run")
        assert (folder / "findings.json").exists()
        assert fl.load(folder).analysis["findings"] == findings.to_dict()
    finally:
        result.analysis.pop("findings", None)


def test_a_change_applies_to_the_spec(clean_result):
    _, _, result = clean_result
    spec = apply_change(result.spec, {"learning_rate": 1e-3, "model.dropout": 0.2, "grid": {}})
    assert spec.learning_rate == 1e-3 and spec.model.dropout == 0.2 and spec.model.units == 8


@pytest.mark.slow
def test_shuffled_labels_have_no_signal():
    x, y = step_cue()
    y = np.random.default_rng(1).permutation(y)
    findings = fl.diagnose(sweep(x, y, grid={"learning_rate": [1e-2, 3e-2]}, epochs=8))
    assert findings.by_id("train.no_signal").severity == "error"


@pytest.mark.slow
def test_learning_rate_one_diverges_and_is_too_high():
    x, y = step_cue()
    findings = fl.diagnose(sweep(x, y, learning_rate=1.0))
    assert findings.by_id("train.divergence").severity == "error"
    too_high = findings.by_id("lr.too_high")
    assert too_high.change["learning_rate"] == pytest.approx(0.1)
    assert findings.by_id("train.no_signal") is None  # blown up is not "no signal"


def test_learning_rate_one_in_a_million_plateaus_and_is_too_low():
    x, y = step_cue()
    result = sweep(x, y, learning_rate=1e-6, epochs=5)
    findings = fl.diagnose(result)
    assert findings.by_id("train.plateau").change == {"learning_rate": 1e-3}
    assert findings.by_id("lr.too_low").evidence["source"] == "sweep"
    assert findings.by_id("train.no_signal") is None  # a loss that never moved says nothing of the labels
    result.analysis["lr_range"] = lr_range_doc()  # what fl.lr_range stores: diagnose reads it from there
    try:
        from_range = fl.diagnose(result).by_id("lr.too_low")
    finally:
        result.analysis.pop("lr_range")
    assert from_range.change == {"learning_rate": 3e-3} and from_range.evidence["largest_stable"] == 3e-2


@pytest.mark.slow
def test_tiny_training_set_with_a_large_model_overfits_and_names_the_best_epoch():
    x, y = step_cue(n=48, strength=1.5)
    xv, yv = step_cue(n=300, strength=1.5, seed=5)
    result = sweep(
        x, y, model=fl.ModelSpec(units=16), learning_rate=1e-2, epochs=40, batch_size=16, validation_data=(xv, yv)
    )
    f = fl.diagnose(result).by_id("train.overfit")
    assert f.severity == "warning"
    best = f.evidence["best_epoch"]
    assert 2 <= best <= 21 and f.change == {"epochs": best}  # epochs counted from 1 in evidence and change
    val_loss = np.nanmedian(result.history["val_loss"], axis=0)
    assert val_loss[best - 1] < val_loss[-1] * 0.8  # the named epoch really is far better than the end


@pytest.mark.slow
def test_a_tiny_hard_task_where_seeds_disagree_is_unstable():
    """The label is a cue at the first of 30 steps: with 4 units some seeds carry it, most do not."""

    def far_cue(n, seed):
        r = np.random.default_rng(seed)
        y = r.integers(0, 2, size=n)
        x = r.normal(size=(n, 30, 2)).astype(np.float32)
        x[:, 0, 0] += 2.0 * (2 * y - 1)
        return x, y

    x, y = far_cue(256, 0)
    result = sweep(
        x, y, model=fl.ModelSpec(units=4), seeds=8, grid={"learning_rate": [1e-2, 3e-2]}, epochs=10,
        validation_split=0.0, validation_data=far_cue(256, 1),
    )  # fmt: skip
    f = fl.diagnose(result).by_id("seeds.instability")
    assert f.severity == "warning"
    split = f.evidence["split_configs"]
    assert split and all(row["failed"] >= 1 and row["succeeded"] >= 1 for row in split)


def test_a_range_tests_too_low_is_left_out_where_the_sweep_learnt(clean_result):
    """A short test favours large rates: a grid rate below its range that the full sweep
    learnt at is slow at most, and "the loss barely moves" beside a sweep that learnt would
    contradict itself, so there is no lr.too_low at all (issue 26 item 6; it was an info)."""
    _, _, result = clean_result
    doc = lr_range_doc(largest_stable=1.0, recommended=0.3, span=(0.1, 1.0))  # every grid rate "far below"
    assert fl.diagnose(result, lr_range=doc).by_id("lr.too_low") is None
