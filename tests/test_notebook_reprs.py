"""In a notebook (issue 26 item 18): a result, its summary, compare(), findings and a
leaderboard show a one-line repr and the report's tables as HTML, never every array."""

import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.diagnose import Finding, Findings


@pytest.fixture(scope="module")
def result():
    x, y = make_data(n=48, timesteps=4, classes=2)
    grid = {"learning_rate": [1e-2, 3e-2]}
    return fl.sweep(x, y, model=fl.ModelSpec(units=3), seeds=2, epochs=2, grid=grid, validation_split=0.25, verbose=0)


def _short(text: str) -> bool:
    return "\n" not in text and len(text) < 300 and "array(" not in text and "{" not in text


def test_result_repr_is_one_line_and_its_html_holds_the_tables_and_curves(result):
    text = repr(result)
    assert _short(text) and text.startswith("<SweepResult: 4 members = 2 configurations x 2 seeds, binary, 2 epochs")
    page = result._repr_html_()
    assert "Spread across seeds" in page and "val_loss" in page and "<img" in page and "<html" not in page


def test_summary_and_compare_reprs_name_their_headline(result):
    summary, ranking = result.summary(), result.compare()
    assert _short(repr(summary)) and repr(summary).startswith("<Summary: 2 configurations x 2 seeds; best mean val_")
    assert "<table" in summary._repr_html_() and "learning_rate" in summary._repr_html_()
    assert _short(repr(ranking)) and repr(ranking).startswith("<Ranking by val_")
    html = ranking._repr_html_()
    assert "<table" in html and "verdict" in html and "best" in html
    assert str(summary).count("\n") > 3  # print() still gives the full tables


def test_findings_and_leaderboard_reprs(result):
    finding = Finding(
        id="train.overfit", severity="warning", title="t", evidence={"gap": 0.2}, recommendation="r", change=None
    )
    assert repr(Findings([finding])) == "<Findings: 1 (1 warning): train.overfit>"
    assert "train.overfit" in Findings([finding])._repr_html_()
    assert repr(Findings()) == "<Findings: none>"
    board = result.leaderboard()
    assert _short(repr(board)) and repr(board).startswith("<Leaderboard val_")
    assert "<table>" in board._repr_html_() and "--set learning_rate=" in board._repr_html_()
