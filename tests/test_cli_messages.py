"""The CLI speaks CLI: a misspelt flag, key or choice gets a 'did you mean', and choices
are read in any case (`--optimizer Adam`), all before anything is read or compiled."""

import pytest
from cli_helpers import cli_error

from fastlstm.cli import build_parser


def _error_line(capsys, argv):
    return cli_error(capsys, *argv)


@pytest.mark.parametrize(
    "argv, hint",
    [
        (
            ["sweep", "--optimiser", "adam"],
            "fastlstm sweep: error: unrecognized arguments: --optimiser (did you mean '--optimizer'",
        ),
        (["sweep", "--optimizer", "adma"], "did you mean 'adam'"),
        (["sweep", "--set", "epoch=3"], "did you mean 'epochs'?"),
        (["sweep", "--set", "modle.units=3"], "did you mean 'model'?"),
        (["sweep", "--set", "model.unit=3"], "did you mean 'units'?"),
        (["doctor", "--standardise", "feature"], "did you mean '--standardize"),
    ],
    ids=["flag", "choice", "key", "table", "model field", "doctor flag"],
)
def test_misspellings_get_a_did_you_mean(capsys, argv, hint):
    assert hint in _error_line(capsys, argv)


def test_unrelated_words_get_no_guess(capsys):
    assert "did you mean" not in _error_line(capsys, ["sweep", "--set", "zzzzzz=3"])


@pytest.mark.parametrize(
    "flag, given, read",
    [("--optimizer", "Adam", "adam"), ("--format", "CSV", "csv"), ("--standardize", "Feature", "feature")],
)
def test_choices_are_read_in_any_case(flag, given, read):
    args = build_parser().parse_args(["sweep", flag, given])
    assert getattr(args, flag.lstrip("-")) == read
