"""Ctrl-C (SIGINT) and SIGTERM sent to a real `fastlstm sweep` process: it stops after the
epoch in flight, saves the checkpoint, says in one line how to continue and exits 130; the
resumed run is the uninterrupted one, bit for bit."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import fastlstm as fl
from fastlstm.cli import main

# 200 epochs of a tiny task; the interrupted run saves every epoch, which slows it enough
# for the signal to land mid-run (it is sent as soon as the first checkpoint exists)
ARGS = ["--seeds", "2", "--epochs", "200", "--samples", "48", "--timesteps", "4", "--units", "2", "--quiet"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    assert main(["sweep", *ARGS, "--out", str(out)]) == 0
    return fl.load(out)


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "fastlstm.cli", "sweep", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_cli_sweep_resumably_and_the_resumed_run_is_the_whole_one(tmp_path, uninterrupted, name):
    out = tmp_path / "run"
    proc = _cli(*ARGS, "--out", str(out), "--checkpoint-every", "1")
    progress = out / "checkpoint" / "progress.json"
    deadline = time.monotonic() + 120
    while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(getattr(signal, name))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"exit {proc.returncode} (0: it finished before the signal): {err}"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"fastlstm sweep: interrupted; continue with: fastlstm sweep --resume {out}"
    assert progress.is_file() and not (out / "result.json").exists()  # a checkpoint, not a finished run

    assert main(["sweep", "--resume", str(out), "--quiet"]) == 0
    resumed = fl.load(out)
    assert resumed.members == uninterrupted.members
    for key, values in uninterrupted.history.items():
        np.testing.assert_array_equal(resumed.history[key], values, err_msg=key)
    for member in range(len(uninterrupted.members)):
        jax.tree.map(np.testing.assert_array_equal, resumed.member_params(member), uninterrupted.member_params(member))
