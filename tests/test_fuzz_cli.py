"""Fuzzed command lines: `fastlstm sweep` with random flag values either gets as far as
training or exits 2 with one line on stderr - never a traceback, never a hang.

In-process through `fastlstm.cli.main(argv)`; training itself is replaced by a sentinel
(whatever reaches it passed every check), and a few fixed command lines train for real.
Example counts: FLAG_EXAMPLES + DATA_EXAMPLES (see fuzz_helpers).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from conftest import make_data
from fuzz_helpers import deadline, fuzz_settings
from hypothesis import event, given
from hypothesis import strategies as st

import fastlstm.cli._sweep
from fastlstm.cli import main

FLAG_EXAMPLES = 300
DATA_EXAMPLES = 60
SECONDS = 60.0

NUMBERS = ["1", "2", "0", "-1", "3.5", "1e3", "1e999", "-0", "nan", "inf", "-inf", "", " ", "abc", "0x10", "٣"]
NUMBERS += ["99999999999999999999999", "9223372036854775808", "1_000", "+2", "2 ", "１", "\x00", "--epochs", "1e-400"]
SETS = ["epochs=1", "model.units=4", "grid.learning_rate=[1e-3,3e-3]", "seeds=[1,2]", "colour=1", "=", "epochs"]
SETS += ["model=3", "grid.units=[]", "optimizer.momentum=0.9", "learning_rate=1e308", "name=a/b", "data.path=/nope"]
SETS += ["a" * 200 + "=1", "grid.learning_rate=[" * 300, 'epochs="1"', 'callbacks=[{type="Nope"}]', "ü=1"]


class ReachedTraining(Exception):
    """Raised in place of training: the command line passed every check."""


@pytest.fixture(scope="module")
def files():
    """Data files good and bad, in a folder of their own (module scope: hypothesis reruns the test)."""
    folder = Path(tempfile.mkdtemp(prefix="fastlstm-fuzz-cli-"))
    x, y = make_data(n=24, timesteps=4, features=2, classes=2)
    np.savez(folder / "good.npz", x=x, y=y)
    np.savez(folder / "pickled.npz", x=np.array([np.zeros((4, 2)), np.zeros((3, 2))], dtype=object), y=y[:2])
    (folder / "truncated.npz").write_bytes((folder / "good.npz").read_bytes()[:200])
    (folder / "garbage.csv").write_text('a,b\n1,"x\n\x00\x01,,,\n')
    (folder / "empty.npz").write_bytes(b"")
    (folder / "text.npy").write_text("not numpy")
    (folder / "data.xyz").write_text("1,2")
    (folder / "a folder.npz").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """main(argv) in this process: (exit code, stderr); training replaced by ReachedTraining."""
    err = io.StringIO()

    def reached(*args, **kwargs):
        raise ReachedTraining

    with (
        deadline(SECONDS),
        mock.patch.object(fastlstm.cli._sweep, "_train", reached),
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        except ReachedTraining:
            code = "trained"
    return code, err.getvalue()


def check_exit(code: object, stderr: str) -> None:
    """Exit 0, the sentinel, or 2 with one error line (warnings may come first); no traceback."""
    assert "Traceback" not in stderr, stderr
    if code in (0, "trained"):
        event("accepted")
        return
    assert code == 2, f"exit {code!r}: {stderr}"
    lines = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("fastlstm"), f"not one line: {stderr!r}"
    event("refused with one line, exit 2")


@pytest.mark.slow
@fuzz_settings(FLAG_EXAMPLES)
@given(
    flags=st.lists(
        st.tuples(
            st.sampled_from(["--epochs", "--seeds", "--batch-size", "--units", "--validation-split", "--samples"]),
            st.sampled_from(NUMBERS) | st.integers(-5, 10**6).map(str) | st.text(max_size=6),
        ),
        max_size=4,
    ),
    rates=st.lists(st.sampled_from(["1e-3", "3e-3", "0", "-1", "nan", "1e308", "abc", "1e-45"]), max_size=3),
    sets=st.lists(st.sampled_from(SETS) | st.text(max_size=10), max_size=3),
)
def test_sweep_flags_reach_training_or_exit_2_in_one_line(files, flags, rates, sets):
    argv = ["sweep", "--data", str(files / "good.npz"), "--out", str(files / "runs" / "r"), "--overwrite", "--quiet"]
    for flag, value in flags:
        argv += [flag, value]
    if rates:
        argv += ["--learning-rate", *rates]
    for assignment in sets:
        argv += ["--set", assignment]
    check_exit(*run_cli(argv))


@fuzz_settings(DATA_EXAMPLES)
@given(
    data=st.sampled_from(
        [
            "good.npz",
            "pickled.npz",
            "truncated.npz",
            "garbage.csv",
            "empty.npz",
            "text.npy",
            "data.xyz",
            "a folder.npz",
            "missing.npz",
            "",
            "\x00",
            "good.npz/x",
        ]
    ),
    extra=st.lists(
        st.sampled_from(
            [["--labels", "text.npy"], ["--format", "csv"], ["--window", "3"], ["--horizon", "0"], ["--target", "b"]]
        ),
        max_size=2,
    ),
)
def test_data_flags_reach_training_or_exit_2_in_one_line(files, data, extra):
    argv = ["sweep", "--data", str(files / data) if data else data, "--epochs", "1", "--seeds", "1"]
    argv += ["--out", str(files / "runs" / "d"), "--overwrite", "--quiet"]
    for pair in extra:
        argv += [pair[0], str(files / pair[1]) if pair[1].endswith(".npy") else pair[1]]
    check_exit(*run_cli(argv))


@pytest.mark.slow
def test_a_real_cli_sweep_from_fuzzed_flags_trains(files):
    """Accepted flags really train: no sentinel, exit 0, a run folder `fl.load` reads."""
    import fastlstm as fl

    out = files / "runs" / "real"
    argv = ["sweep", "--data", str(files / "good.npz"), "--epochs", "1", "--seeds", "2", "--batch-size", "8"]
    argv += ["--units", "2", "--out", str(out), "--overwrite", "--quiet", "--set", "learning_rate=3e-3"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    assert fl.load(out).history["loss"].shape == (2, 1)
