"""A batch_size above the training rows (issue 30 item 3): Keras's `fit` trains one batch of
all n rows per epoch, so fastlstm clips it too instead of padding the batch up - the same
numbers as batch_size=n, batched members equal to members alone, and the CLI says so."""

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.cli import main

N = 40


def _history(**kwargs):
    x, y = make_data(n=N, timesteps=5, features=3, classes=2)
    result = fl.sweep(x, y, model=fl.ModelSpec(units=4, dropout=0.3), seeds=2, epochs=2, verbose=0, **kwargs)
    return result.history


@pytest.mark.slow
def test_a_batch_size_above_the_rows_trains_as_one_batch_of_all_rows():
    """With dropout the batch's shape decides the masks drawn: a padded batch of 47 rows
    draws other masks than Keras's one batch of 40, so the losses would differ."""
    clipped, exact = _history(batch_size=N + 7), _history(batch_size=N)
    for name in exact:
        np.testing.assert_array_equal(clipped[name], exact[name], err_msg=name)


def test_a_grid_of_batch_sizes_above_the_rows_gives_every_member_the_numbers_of_n():
    grid = _history(grid={"batch_size": [N, 3 * N]})
    np.testing.assert_array_equal(grid["loss"][:2], grid["loss"][2:])


@pytest.mark.slow
def test_the_cli_header_says_the_batch_is_clipped(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--seeds", "1", "--epochs", "1", "--samples", "30", "--timesteps", "4", "--units", "2"]
    assert main([*args, "--validation-split", "0", "--batch-size", "64", "--out", "run"]) == 0
    out = capsys.readouterr().out
    assert "batch_size 64 > the 30 training rows: one batch of 30 per epoch, as Keras's fit" in " ".join(out.split())


@pytest.mark.parametrize("batch_size", [N, N - 1])
def test_a_batch_size_within_the_rows_is_not_mentioned(batch_size, tmp_path):
    from fastlstm.cli._sweep import _clipped_batch_sizes

    plan = fl.SweepSpec(batch_size=batch_size, seeds=1).plan()
    assert _clipped_batch_sizes(plan, N) is None
