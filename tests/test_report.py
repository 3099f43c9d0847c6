"""report.html: self-contained, holds the run's numbers, a section per analysis document,
rebuilt identically by `fastlstm report` without touching the other files."""

import base64
import dataclasses
import math
import re
import warnings

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm._common.files import MARKER, marker_text
from fastlstm.cli import main
from fastlstm.report import _html as report_html
from fastlstm.report import _plots as plots
from fastlstm.results import SweepResult
from fastlstm.results._run_folder import IN_PROGRESS_KIND, strict_json

TINY = ["--seeds", "2", "--epochs", "1", "--samples", "24", "--timesteps", "4", "--units", "2", "--quiet"]
SECTION_IDS = {"lr_range": "lr-range", "variance_sources": "variance-sources", "findings": "findings"}
SECTION_PLOTS = {"lr_range": "lr_range.png", "variance_sources": "variance_sources.png", "findings": "verification.png"}


@pytest.fixture(scope="module")
def result():
    x, y = make_data(n=40)
    return fl.sweep(
        x,
        y,
        seeds=3,  # 2 seeds give no interval worth printing
        grid={"learning_rate": [1e-3, 1e-2]},
        model=fl.ModelSpec(units=4),
        epochs=2,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
    )


@pytest.fixture(scope="module")
def run(result, tmp_path_factory):
    return result.save(tmp_path_factory.mktemp("runs") / "run")


def lr_range_document():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    losses = [[1.0, 1.02], [0.8, 0.82], [0.5, 0.55], [0.9, math.nan], [math.nan, math.nan]]
    return {
        "kind": "lr_range",
        "metric": "loss",
        "learning_rates": lrs,
        "seeds": [0, 1],
        "epochs": 2,
        "losses": losses,
        "median_loss": [1.01, 0.81, 0.525, 0.9, math.nan],
        "initial_loss": 1.1,
        "diverged": [0, 0, 0, 1, 2],
        "largest_stable": 1e-2,
        "recommended": 1e-3,
        "range": [1e-4, 3e-3],
        "rule": "the largest lr whose median loss is below the initial one with no seed diverged; a tenth of it",
    }


def variance_document():
    source = {"n": 4, "mean": 0.8, "std": 0.02, "values": [0.78, 0.8, 0.81, 0.81]}
    return {
        "kind": "variance_sources",
        "metric": "val_accuracy",
        "seeds": 4,
        "sources": {"init": source, "order": {**source, "std": 0.01}, "dropout": {**source, "std": 0.0}, "all": source},
        "crossed": {
            "levels": 2,
            "values": [[0.8, 0.81], [0.79, 0.8]],
            "variance": {"init": 1e-4, "order": 5e-5, "interaction": 5e-5},
            "share": {"init": 0.5, "order": 0.25, "interaction": 0.25},
        },
        "additivity": {"sum_of_single_variances": 5e-4, "all_variance": 4e-4, "ratio": 1.25},
        "grid": None,
        "notes": ["the sources do not add up: their variances sum to 1.25 times the variance with all varied"],
    }


def stats_row(mean, std):
    return {"n": 4, "mean": mean, "std": std, "median": mean, "min": mean - 2 * std, "max": mean + 2 * std,
            "ci_low": mean - std, "ci_high": mean + std, "ci_method": "t", "ci_clipped": False, "note": ""}  # fmt: skip


def findings_document():
    return {
        "findings": [
            {
                "id": "data.unscaled",
                "severity": "warning",
                "title": "feature 0 is far from standardised",
                "evidence": {"feature": 0, "std": 12345.678, "offsets": list(range(30))},
                "recommendation": "standardise the inputs on the training rows",
                "change": {"standardize": True},
            }
        ],
        "verification": {
            "finding": "data.unscaled",
            "change": {"standardize": True},
            "metric": "val_accuracy",
            "before": stats_row(0.52, 0.02),
            "after": stats_row(0.81, 0.03),
            "test": {"p_value": 1e-5, "prob_superior": 1.0},
            "text": "val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03, 4 seeds each, p < 0.001",
        },
    }


DOCUMENTS = {"lr_range": lr_range_document, "variance_sources": variance_document, "findings": findings_document}


def fake_result(configs, seeds, epochs=5, rate=None, quality=None, diverged=()):
    """A result built by hand (no training): val_accuracy of config c ends at quality[c]."""
    rng = np.random.default_rng(0)
    quality = quality or [0.5 + 0.4 * c / max(len(configs) - 1, 1) for c in range(len(configs))]
    members, curves = [], {name: [] for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
    for c, point in enumerate(configs):
        for s in range(seeds):
            ramp = np.linspace(0.3, 1.0, epochs)
            accuracy = quality[c] * ramp + rng.normal(0, 0.005, epochs)
            loss = 1.2 - ramp * quality[c] + rng.normal(0, 0.005, epochs)
            status = "diverged" if len(members) in diverged else "ok"
            if status == "diverged":
                loss[1:], accuracy[1:], loss[1] = np.nan, np.nan, np.inf
            curves["loss"].append(loss)
            curves["val_loss"].append(loss + 0.05)
            curves["accuracy"].append(accuracy)
            curves["val_accuracy"].append(accuracy)
            members.append({"index": len(members), "seed": s, "config": c, **point, "status": status,
                            "final_epoch": 0 if status == "diverged" else epochs - 1})  # fmt: skip
    history = {k: np.array(v, np.float32) for k, v in curves.items()}
    meta = {"task": "classification", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
            "out_dim": 3, "num_classes": 3, "mask_value": None, "majority_class_rate": rate}  # fmt: skip
    return SweepResult(history, members, [], list(configs), meta)


def _attributes(text, name):
    return re.findall(rf'\b{name}="([^"]*)"', text)


def test_save_writes_a_self_contained_report_with_its_pngs(run):
    text = (run / "report.html").read_text()
    sources = _attributes(text, "src")
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in _attributes(text, "href"))  # in-page links only
    assert not re.search(r"https?://|<script|<link|@import|url\(", text)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    saved = {p.read_bytes() for p in (run / "plots").iterdir()}
    assert embedded == saved and {p.name for p in (run / "plots").iterdir()} == {
        "learning_curves.png",
        "final_metrics.png",
        "importance.png",  # a grid with seeds: what moves the metric
    }
    assert all(png.startswith(b"\x89PNG") for png in saved)


def test_the_report_holds_the_summary_numbers_and_configuration(result, run):
    text = (run / "report.html").read_text()
    for row in result.summary():
        assert f"{row['val_accuracy_mean']:.3f} ± {row['val_accuracy_std']:.3f}" in text
        assert f"[{row['val_loss_ci_low']:.3f}, {row['val_loss_ci_high']:.3f}]" in text
    assert "learning_rate = [" in text  # config.toml, as saved
    assert "in-memory arrays" in text and "Could not" not in text and "could not" not in text


@pytest.mark.slow
@pytest.mark.parametrize(
    "keys", [(), ("lr_range",), ("variance_sources",), ("findings",), ("lr_range", "variance_sources", "findings")]
)
def test_each_analysis_section_appears_exactly_when_its_document_is_there(result, keys):
    annotated = dataclasses.replace(result, analysis={k: DOCUMENTS[k]() for k in keys})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a figure that fails to draw warns
        report = report_html.build_report(annotated)
    for key, anchor in SECTION_IDS.items():
        assert (f'<section id="{anchor}">' in report.html) == (key in keys)
        assert (SECTION_PLOTS[key] in report.images) == (key in keys)
    assert "could not be" not in report.html


def test_sections_show_their_documents_content(result):
    annotated = dataclasses.replace(result, analysis={k: make() for k, make in DOCUMENTS.items()})
    text = report_html.build_report(annotated).html
    assert "the largest lr whose median loss" in text and "3 members diverged" in text
    assert "init 50%, order 25%, interaction 25%" in text and "sum to 1.25 times" in text
    assert "<span class='badge'>warning</span> <code>data.unscaled</code>" in text
    assert "1.235e+04" in text and "(30 items)" in text  # evidence: 4 digits, a long list cut
    assert "val_accuracy 0.52 ± 0.02 → 0.81 ± 0.03, 4 seeds each, p &lt; 0.001" in text
    assert "standardize = true" in text


def test_a_document_the_page_cannot_read_is_shown_and_the_save_still_works(result, tmp_path):
    odd = dataclasses.replace(result, analysis={"lr_range": {"lrs": [1e-3, 1e-2]}, "findings": {"oops": 1}})
    text = (odd.save(tmp_path / "run") / "report.html").read_text()
    assert text.count("This document could not be read") == 2
    assert "&quot;lrs&quot;" in text  # the document itself, escaped


@pytest.mark.slow
def test_fastlstm_report_rebuilds_the_same_files_and_touches_nothing_else(result, tmp_path, capsys):
    analysis = {k: make() for k, make in DOCUMENTS.items()}  # NaN in memory, null in the files
    run = dataclasses.replace(result, analysis=analysis).save(tmp_path / "run")
    page = (run / "report.html").read_text()
    figures = {p.name: p.read_bytes() for p in (run / "plots").iterdir()}
    others = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()}
    del others["report.html"]
    (run / "report.html").unlink()
    for p in (run / "plots").iterdir():
        p.unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").read_text() == page  # the page holds no clock time of its own
    assert {p.name: p.read_bytes() for p in (run / "plots").iterdir()} == figures
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir() if p.is_file()} == {
        **others,
        "report.html": ((run / "report.html").read_bytes(), (run / "report.html").stat().st_mtime_ns),
    }
    assert not [p for p in run.rglob("*.tmp")]
    assert "report.html" in capsys.readouterr().out


def test_fastlstm_report_draws_the_analysis_saved_later_and_drops_stale_figures(result, tmp_path):
    folder = dataclasses.replace(result, analysis={"lr_range": lr_range_document()}).save(tmp_path / "a")
    assert (folder / "plots" / "lr_range.png").exists()
    (folder / "lr_range.json").unlink()
    (folder / "findings.json").write_text(strict_json(findings_document()))
    assert main(["report", str(folder)]) == 0
    text = (folder / "report.html").read_text()
    assert 'id="findings"' in text and 'id="lr-range"' not in text
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "final_metrics.png",
        "importance.png",  # a grid with seeds: drawn from the folder even without importance.json
        "learning_curves.png",
        "verification.png",
    ]


def test_save_without_report_writes_none_and_the_command_adds_it(result, tmp_path):
    folder = result.save(tmp_path / "run", report=False)
    assert not (folder / "report.html").exists() and not (folder / "plots").exists()
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.html").exists()


def _in_progress(path):
    path.mkdir()
    (path / "config.toml").write_text("seeds = 1\n")
    (path / MARKER).write_text(marker_text(IN_PROGRESS_KIND))


def _damaged(path, run):
    import shutil

    shutil.copytree(run, path)
    (path / "history.npz").unlink()
    (path / "report.html").unlink()


@pytest.mark.parametrize("case", ["missing", "file", "plain folder", "in progress", "damaged"])
def test_fastlstm_report_refuses_what_is_not_a_finished_run(case, run, tmp_path, capsys):
    path = tmp_path / "x"
    if case == "file":
        path.write_text("hello")
    elif case == "plain folder":
        path.mkdir()
        (path / "notes.txt").write_text("mine")
    elif case == "in progress":
        _in_progress(path)
    elif case == "damaged":
        _damaged(path, run)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastlstm report: error:") and err.count("\n") == 1 and str(path) in err
    assert not (path / "report.html").exists() if path.is_dir() else True
    if case == "in progress":
        assert "--resume" in err


@pytest.mark.slow
def test_fastlstm_sweep_writes_the_report_in_its_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["sweep", "--out", str(out), *TINY]) == 0
    text = (out / "report.html").read_text()
    assert "fastlstm report: early-cue" in text and '<section id="curves">' in text
    assert (out / "plots" / "learning_curves.png").exists()
    assert str(out / "report.html") in capsys.readouterr().out


def test_a_diverged_member_is_listed_and_left_out_of_the_plots(monkeypatch):
    drawn = {}

    def spy(name, function):
        def wrapped(*args):
            drawn[name] = args
            return function(*args)

        monkeypatch.setattr(plots, name, wrapped)

    spy("learning_curves", plots.learning_curves)
    spy("final_distributions", plots.final_distributions)
    result = fake_result([{"learning_rate": 1e-3}, {"learning_rate": 1e-2}], seeds=3, diverged=(4,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NaN means, no figure that failed
        report = report_html.build_report(result)
    assert "Diverged members (1 of 6)" in report.html and "<td>4</td>" in report.html
    groups = drawn["learning_curves"][1]
    assert [list(members) for _, members in groups] == [[0, 1, 2], [3, 5]]
    panels = drawn["final_distributions"][0]
    assert all(
        np.isfinite(values).all() and len(values) == n for _, rows in panels for (_, values), n in zip(rows, (3, 2))
    )
    assert {"learning_curves.png", "final_metrics.png"} <= set(report.images)


def test_a_run_whose_every_member_diverged_still_gets_a_page():
    result = fake_result([{"learning_rate": 1e-3}, {"learning_rate": 1e-2}], seeds=2, diverged=(0, 1, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = report_html.build_report(result)
    assert report.images == {} and "Diverged members (4 of 4)" in report.html
    assert "Nothing to draw: every member diverged" in report.html


def test_a_large_sweep_shows_the_best_configurations_by_mean_and_thins_seed_lines(monkeypatch):
    drawn = {}
    original = plots.learning_curves

    def spy(*args):
        drawn["args"] = args
        return original(*args)

    monkeypatch.setattr(plots, "learning_curves", spy)
    configs = [{"learning_rate": 10.0**-k} for k in range(12)]
    quality = [0.5 + 0.03 * ((5 * c) % 12) for c in range(12)]  # best: config 7 (5*7 % 12 = 11)
    result = fake_result(configs, seeds=12, epochs=3, quality=quality, rate=0.5)
    report = report_html.build_report(result)
    _, groups, _, _, seed_lines = drawn["args"]
    assert len(groups) == report_html.MAX_CURVE_CONFIGS and seed_lines == report_html.MAX_SEED_LINES
    assert groups[0][0] == "learning_rate 1e-7"  # config 7, the best mean val_accuracy
    assert "Showing the 6 with the best mean val_accuracy of 12 configurations" in report.html
    assert "Best mean val_accuracy: learning_rate 1e-7," in report.html
    assert report.html.count("<tr>") >= 12  # the table keeps every configuration
    assert len(plots.thinned(12, 8)) == 8 and len(plots.thinned(3, 8)) == 3


def test_an_accuracy_at_the_majority_class_rate_is_shaded():
    configs = [{"learning_rate": 1e-3}, {"learning_rate": 1e-2}]
    result = fake_result(configs, seeds=3, quality=[0.6, 0.9], rate=0.6)
    text = report_html.build_report(result).html
    shaded = re.findall(r'<td class="at-majority">([^<]*)</td>', text)
    row = result.summary()[0]
    assert f"{row['val_accuracy_mean']:.3f} ± {row['val_accuracy_std']:.3f}" in shaded
    assert len(shaded) == 3  # one row's three val_accuracy cells; the other row is well above
    assert "Shaded cells" in text


def test_the_verification_test_reads_as_a_few_lines():
    from fastlstm.report._html import comparison_rows
    from fastlstm.stats import compare_samples

    doc = compare_samples([0.8, 0.83, 0.81], [0.5, 0.52, 0.51], paired=True).to_dict()  # differences that vary
    rows = dict(comparison_rows(doc))
    assert rows["seeds"] == "3 before, 3 after, paired by seed"
    assert rows["paired t-test"] == "p &lt; 0.001" and "effect size (Hedges' g)" in rows
    assert list(comparison_rows({"z": 1})) == [("z", "1")]  # another shape: key by key
