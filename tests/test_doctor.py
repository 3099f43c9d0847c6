"""`fastlstm doctor`: findings from the data, the range test and a seed sweep, and the top
recommendation verified by a second sweep with the same seeds."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.analysis._doctor import before_after, changed_spec, doctor, verification_text
from fastlstm.cli import main
from fastlstm.tasks import early_cue

SMALL = {"name": "doctor-test", "model": {"units": 8}, "epochs": 10, "learning_rate": 1e-2, "validation_split": 0.25}


def unscaled_task(n: int = 512):
    """The early-cue task with one noise feature multiplied by 10^4: its inputs saturate
    every gate, so the cue in the first two features is not learnt (val_accuracy ~0.28
    against ~0.85 clean, 4 seeds) until standardised."""
    x, y = early_cue(n=n, timesteps=8, seed=3, cue_strength=3.0)
    x[:, :, 3] *= 1e4
    return x, y


@pytest.fixture(scope="module")
def unscaled_diagnosis():
    x, y = unscaled_task()
    spec = fl.SweepSpec.from_dict(SMALL)
    return doctor(spec, x, y, seeds=4)


@pytest.mark.slow
def test_doctor_finds_the_unscaled_feature_and_verifies_standardising(unscaled_diagnosis):
    found = unscaled_diagnosis
    ids = [f.id for f in found.findings]
    assert "data.unscaled" in ids
    top = next(f for f in found.findings if f.change)
    assert top.id == found.verification["finding"] == "data.unscaled"
    assert found.verification["change"] == {"standardize": "feature"}
    assert found.verification["helped"], found.verification["text"]
    assert found.verification["before"]["n"] == found.verification["after"]["n"] == 4
    assert found.verification["test"]["paired"]
    assert found.lr_range is not None and found.before.analysis["lr_range"] == found.lr_range.to_dict()
    saved = found.before.analysis["findings"]
    assert [f["id"] for f in saved["findings"]] == ids and saved["verification"] == found.verification


@pytest.mark.slow
def test_the_diagnosis_document_is_the_json_schema(unscaled_diagnosis):
    doc = unscaled_diagnosis.to_dict()
    assert set(doc) == {"findings", "verification"}
    for finding in doc["findings"]:
        assert {"id", "severity", "evidence", "recommendation"} <= set(finding)
        assert finding["severity"] in ("info", "warning", "error")


def test_nan_in_the_data_stops_after_the_data_checks():
    x, y = early_cue(n=64, timesteps=6, seed=0)
    x[:20, 2, 1] = np.nan
    found = doctor(fl.SweepSpec.from_dict(SMALL), x, y, seeds=2)
    assert [f.id for f in found.findings][:1] == ["data.nan"]
    assert found.before is None and found.after is None
    assert found.verification["skipped"] and found.verification["change"] is None


def test_a_change_to_a_grid_key_replaces_the_grid_values():
    spec = fl.SweepSpec.from_dict({**SMALL, "grid": {"learning_rate": [1e-4, 1e-3], "batch_size": [16, 32]}})
    changed = changed_spec(spec, {"learning_rate": 3e-3})
    assert changed.learning_rate == 3e-3 and changed.grid == {"batch_size": [16, 32]}


class _Finding:
    id, change = "lr.too_low", {"learning_rate": 1e-2}


def _result_with(values, seeds, metric="val_accuracy"):
    """A minimal stand-in with what before_after reads: one configuration, final values per seed."""
    values = np.asarray(values, float)
    return SimpleNamespace(
        members=[{"config": 0, "seed": s, "status": "ok", "final_epoch": 0} for s in seeds],
        configs=[{}],
        meta={"task": "classification"},
        history={metric: values[:, None], "loss": np.ones((len(values), 1))},
        final_metrics=lambda: {metric: values, "loss": np.ones(len(values))},
    )


def test_before_after_pairs_by_seed_and_says_what_changed():
    before = _result_with([0.50, 0.52, 0.51, 0.49], seeds=[0, 1, 2, 3])
    after = _result_with([0.83, 0.79, 0.80, 0.81], seeds=[3, 2, 1, 0])  # other member order, same seeds
    doc = before_after(_Finding(), before, after)
    assert doc["test"]["paired"] and doc["helped"]
    assert doc["before"]["mean"] == pytest.approx(0.505) and doc["after"]["mean"] == pytest.approx(0.8075)
    assert doc["text"].startswith("val_accuracy 0.505 ± 0.013 → 0.808 ± 0.017, 4 seeds each, paired by seed, p ")
    assert doc["text"].endswith("(better)")


def test_no_improvement_is_said_plainly():
    before = _result_with([0.50, 0.60, 0.55], seeds=[0, 1, 2])
    after = _result_with([0.52, 0.58, 0.54], seeds=[4, 5, 6])
    doc = before_after(_Finding(), before, after)
    assert not doc["test"]["paired"] and not doc["helped"]
    assert "no clear difference" in doc["text"] and "3 seeds each" in doc["text"]


def test_a_change_that_hurts_is_called_worse():
    before = _result_with([0.96, 0.97, 0.96, 0.965], seeds=[0, 1, 2, 3])
    after = _result_with([0.90, 0.91, 0.89, 0.90], seeds=[0, 1, 2, 3])
    doc = before_after(_Finding(), before, after)
    assert not doc["helped"] and doc["text"].endswith("(worse)")


@pytest.mark.parametrize(
    ("after", "before", "expected"),
    [
        ([0.8, 0.82, 0.81], [0.5, 0.52, 0.51, 0.5], "0.508 ± 0.0096 → 0.81 ± 0.01, 4 and 3 seeds, p < 0.001 (better)"),
        (
            [0.8, 0.7, 0.9],
            [0.72, 0.7, 0.78, 0.74],
            "0.735 ± 0.034 → 0.8 ± 0.1, 4 and 3 seeds, p = 0.38 (no clear difference)",
        ),
    ],
    ids=["clear", "unclear"],
)
def test_verification_text_with_unequal_counts(after, before, expected):
    from scipy import stats as sps

    from fastlstm.stats import compare_samples, describe

    text = verification_text("val_accuracy", describe(before), describe(after), compare_samples(after, before))
    assert text == f"val_accuracy {expected}"
    welch = sps.ttest_ind(after, before, equal_var=False).pvalue  # the p the text states: Welch's, not paired
    assert (welch < 0.001) == ("p < 0.001" in text) and ("p < 0.001" in text or f"p = {welch:.2g} " in text)


@pytest.mark.slow
def test_cli_doctor_json_prints_findings_and_verification(tmp_path, capsys):
    x, y = unscaled_task(n=256)
    data = tmp_path / "unscaled.npz"
    np.savez(data, x=x, y=y)
    flags = ["--seeds", "2", "--epochs", "2", "--units", "4", "--quiet", "--json", "--out", str(tmp_path / "run")]
    code = main(["doctor", "--data", str(data), *flags])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"findings", "verification"} and "data.unscaled" in [f["id"] for f in doc["findings"]]
    saved = fl.load(tmp_path / "run")
    assert saved.analysis["findings"]["verification"] == doc["verification"]
    assert "lr_range" in saved.analysis


def test_cli_doctor_errors_are_one_line(tmp_path, capsys):
    assert main(["doctor", "--data", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.npz" in err
    assert main(["doctor", "--seeds", "1"]) == 2
    assert "--seeds must be at least 2" in capsys.readouterr().err


def test_balanced_accuracy_is_the_mean_recall_over_classes():
    from fastlstm.analysis._doctor import _balanced_accuracy

    truth = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    always_zero = np.eye(3)[np.zeros(8, int)]
    perfect = np.eye(3)[truth]
    half_of_ones = np.eye(3)[np.array([0, 0, 0, 1, 1, 0, 2, 2])]  # recalls 3/4, 1/2, 1
    scores = _balanced_accuracy(np.stack([always_zero, perfect, half_of_ones]), truth)
    np.testing.assert_allclose(scores, [1 / 3, 1.0, (0.75 + 0.5 + 1.0) / 3])
    binary = _balanced_accuracy(np.array([[[0.9], [0.2], [0.4], [0.1]]]), np.array([1, 0, 1, 0]))
    np.testing.assert_allclose(binary, [0.75])  # recall of class 0: 1, of class 1: 1/2


@pytest.mark.slow
def test_imbalance_is_verified_by_balanced_accuracy_not_accuracy():
    """At 9:1 answering the majority scores 0.9 accuracy: weighting the classes is judged by
    the mean recall over classes, on the validation rows, per member as `predict` gives it."""
    from fastlstm.analysis._doctor import verify_change

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(np.int64)
    x = rng.normal(size=(400, 6, 2)).astype(np.float32)
    x[:, 1, 0] += 1.0 * (2 * y - 1)
    spec = fl.SweepSpec.from_dict({**SMALL, "epochs": 3, "seeds": 2})
    before = fl.sweep(x, y, spec=spec, verbose=0)
    finding = SimpleNamespace(id="data.imbalance", change={"class_weight": "balanced"})
    after, doc = verify_change(finding, spec, before, x, y)
    assert doc["metric"] == "val_balanced_accuracy" and doc["change"] == {"class_weight": "balanced"}
    x_val, y_val = x[300:], y[300:]
    for result, side in ((before, "before"), (after, "after")):
        guessed = result.predict(x_val)[..., 0] > 0.5
        expected = [np.mean([(g[y_val == c] == c).mean() for c in (0, 1)]) for g in guessed]
        assert doc[side]["mean"] == pytest.approx(np.mean(expected))
