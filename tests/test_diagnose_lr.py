"""lr.too_high / lr.too_low from an lr_range document (prompts/schemas.md), hand-made here."""

import math

import numpy as np
import pytest

from fastlstm.diagnose import lr_findings


def lr_range_doc(largest_stable=3e-2, recommended=3e-3, span=(1e-3, 1e-2)):
    """A range test as fastlstm/analysis/_lr_range.py writes it: 13 rates from 1e-6 to 1, 2 seeds;
    the loss moves from 1e-4 on and diverges above `largest_stable`."""
    rates = [float(v) for v in np.logspace(-6, 0, 13)]
    median = [1.10 if lr < 1e-4 else (0.4 if lr <= (largest_stable or 0) else math.nan) for lr in rates]
    diverged = [0 if lr <= (largest_stable or 0) else 2 for lr in rates]
    return {
        "kind": "lr_range",
        "metric": "loss",
        "learning_rates": rates,
        "seeds": [0, 1],
        "epochs": 2,
        "losses": [[v, v] for v in median],
        "median_loss": median,
        "initial_loss": 1.1,
        "diverged": diverged,
        "largest_stable": largest_stable,
        "recommended": recommended,
        "range": None if span is None else list(span),
        "rule": "largest_stable: the largest rate with no seed diverged; recommended: a third of it",
    }


def test_inside_the_range_nothing():
    assert lr_findings(lr_range_doc(), 3e-3) == []
    assert lr_findings(lr_range_doc(), None) == []  # adam's default 1e-3 is the range's low end


def test_below_the_range_is_too_low_with_the_recommended_rate():
    findings = lr_findings(lr_range_doc(), 1e-6)
    assert findings.ids() == ["lr.too_low"]
    f = findings[0]
    assert f.severity == "warning" and f.change == {"learning_rate": 3e-3}
    assert f.evidence["median_loss_here"] == pytest.approx(1.10) and f.evidence["initial_loss"] == 1.1


def test_a_little_below_the_range_is_only_info():
    """A 2-epoch range test favours large rates: a rate within 3x of its low end is only slower."""
    f = lr_findings(lr_range_doc(), 5e-4)[0]
    assert (f.id, f.severity) == ("lr.too_low", "info") and "a little below" in f.title
    assert lr_findings(lr_range_doc(), 3e-4)[0].severity == "warning"


def test_above_the_largest_stable_rate_is_too_high():
    f = lr_findings(lr_range_doc(), 1.0)[0]
    assert f.id == "lr.too_high" and f.severity == "warning"
    assert f.evidence["diverged_here"] == 2 and f.change == {"learning_rate": 3e-3}


def test_stable_but_above_the_recommended_range_is_info():
    f = lr_findings(lr_range_doc(), 2e-2)[0]
    assert (f.id, f.severity) == ("lr.too_high", "info")


def test_no_range_uses_a_tenth_of_the_recommended_rate_as_the_low_end():
    doc = lr_range_doc(span=None)
    assert lr_findings(doc, 5e-4) == []
    assert lr_findings(doc, 2e-4).ids() == ["lr.too_low"]


def test_nothing_stable_is_an_error():
    doc = lr_range_doc(largest_stable=None, recommended=None, span=None)
    f = lr_findings(doc, 1e-3)[0]
    assert (f.id, f.severity) == ("lr.too_high", "error") and f.change == {"learning_rate": pytest.approx(1e-7)}


def test_nothing_learnt_at_any_rate_says_nothing_of_the_rate():
    """Shuffled labels: the loss moves at no rate and no seed diverges; not 'too high'."""
    doc = lr_range_doc(largest_stable=None, recommended=None, span=None)
    doc.update(median_loss=[1.1] * 13, diverged=[0] * 13, losses=[[1.1, 1.1]] * 13)
    assert lr_findings(doc, 1e-3) == []


def test_bad_documents_and_rates_are_value_errors():
    with pytest.raises(ValueError, match="lr_range_doc"):
        lr_findings({"kind": "variance_sources"}, 1e-3)
    with pytest.raises(ValueError, match="learning_rate"):
        lr_findings(lr_range_doc(), -1.0)
