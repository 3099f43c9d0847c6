"""Checkpoint and resume: a resumed sweep ends bit-identical to one never interrupted."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.controllers import Controller, Decision
from fastlstm.runtime import SweepHalted
from fastlstm.runtime._checkpoint import CheckpointError

X, Y = make_data(n=96)
COMMON = dict(
    seeds=3,
    epochs=5,
    batch_size=16,
    model=fl.ModelSpec(units=8, dropout=0.1),  # dropout: the dropout stream must resume too
    validation_split=0.25,
    members_per_chunk=2,  # two chunks: one finished, one in flight
    callbacks=[fl.EarlyStopping(patience=1, restore_best_weights=True), fl.ReduceLROnPlateau(patience=0)],
    verbose=0,
)


class HaltAfter(Controller):
    """Halt the sweep after `epochs` epochs, counted over all chunks (as Ctrl-C would)."""

    def __init__(self, epochs):
        self.epochs, self.seen = epochs, 0

    def on_epoch_end(self, event):
        self.seen += 1
        return Decision(halt=True) if self.seen == self.epochs else None


def assert_identical(a, b):
    assert a.members == b.members
    assert sorted(a.history) == sorted(b.history)
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def uninterrupted():
    return fl.sweep(X, Y, **COMMON)


@pytest.mark.slow
@pytest.mark.parametrize("halt_after", [2, 7])  # in the first chunk; in the second, after the first finished
def test_halted_then_resumed_equals_uninterrupted(tmp_path, uninterrupted, halt_after):
    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(halt_after)], **COMMON)
    resumed = fl.sweep(X, Y, resume=tmp_path / "ck", **COMMON)
    assert_identical(resumed, uninterrupted)


@pytest.mark.slow
def test_checkpointing_every_epoch_changes_nothing(tmp_path, uninterrupted):
    assert_identical(fl.sweep(X, Y, checkpoint=tmp_path / "ck", checkpoint_every=1, **COMMON), uninterrupted)


@pytest.mark.slow
def test_resume_refuses_other_data_or_another_sweep(tmp_path):
    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(1)], **COMMON)
    changed = X.copy()
    changed[0, 0, 0] += 1.0
    with pytest.raises(CheckpointError, match="other data"):
        fl.sweep(changed, Y, resume=tmp_path / "ck", **COMMON)
    with pytest.raises(CheckpointError, match="different sweep"):
        fl.sweep(X, Y, resume=tmp_path / "ck", **{**COMMON, "epochs": 6})
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        fl.sweep(X, Y, resume=tmp_path / "nothing", **COMMON)


@pytest.mark.slow
def test_a_save_cut_short_leaves_the_previous_checkpoint_in_force(tmp_path, uninterrupted, monkeypatch):
    """progress.json names a state only after orbax committed it: a failed save changes nothing."""
    import fastlstm.runtime._checkpoint as checkpoint

    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(2)], **COMMON)
    before = (tmp_path / "ck" / "progress.json").read_text()

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "_save_arrays", disk_full)
    with pytest.raises(OSError, match="No space left"):
        fl.sweep(X, Y, resume=tmp_path / "ck", checkpoint_every=1, **COMMON)
    assert (tmp_path / "ck" / "progress.json").read_text() == before
    monkeypatch.undo()
    assert_identical(fl.sweep(X, Y, resume=tmp_path / "ck", **COMMON), uninterrupted)


# --------------------------------------------------------------------------- the CLI, killed hard


def _cli(*args, **popen):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "FASTLSTM_CACHE_DIR": "off"}
    return subprocess.Popen([sys.executable, "-m", "fastlstm.cli", "sweep", *args], env=env, **popen)


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_bit_identical(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.tile(X, (8, 1, 1)), y=np.tile(Y, 8))
    config = tmp_path / "study.toml"
    config.write_text(
        'name = "study"\nseeds = 2\nepochs = 40\nvalidation_split = 0.25\n[data]\npath = "data.npz"\n[model]\nunits = 8\n'
    )
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The uninterrupted run and the one to kill start together (they share nothing but the
    # config); the whole run is waited for after the kill.
    whole = _cli(str(config), "--out", str(tmp_path / "whole"), "--quiet", **quiet)
    killed = _cli(str(config), "--out", str(tmp_path / "killed"), "--quiet", "--checkpoint-every", "1", **quiet)
    progress = tmp_path / "killed" / "checkpoint" / "progress.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and killed.poll() is None:
        if progress.exists() and (json.loads(progress.read_text()).get("current") or {}).get("epochs_done", 0) >= 3:
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the run ended before it could be killed: make it longer"
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    assert whole.wait(timeout=600) == 0, whole.stderr.read()

    resumed = _cli("--resume", str(tmp_path / "killed"), "--quiet", **quiet)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert_identical(fl.load(tmp_path / "killed"), fl.load(tmp_path / "whole"))
    assert not (tmp_path / "killed" / "checkpoint").exists()  # a finished run keeps no checkpoint
    shutil.rmtree(tmp_path / "killed")


@pytest.mark.slow
def test_a_new_sweep_replaces_an_old_checkpoint_instead_of_mixing_with_it(tmp_path):
    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(6)], **COMMON)  # chunk 0 saved
    other = {**COMMON, "learning_rate": 0.05}
    fresh = fl.sweep(X, Y, checkpoint=tmp_path / "ck", **other)
    assert_identical(fresh, fl.sweep(X, Y, **other))
    assert_identical(fl.sweep(X, Y, resume=tmp_path / "ck", **other), fresh)  # every chunk of the new sweep


class StopMember(Controller):
    """Stop member 0 of the first chunk after epoch 0 (a host-side decision)."""

    def on_epoch_end(self, event):
        if event.epoch == 0 and event.chunk.chunk == 0:
            return Decision(stop=np.arange(len(event.active)) == 0)
        return None


class CrashAt(Controller):
    """Fail after the given epoch of the first chunk, as a killed process would stop."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, event):
        if event.epoch == self.epoch and event.chunk.chunk == 0:
            raise RuntimeError("crash")


@pytest.mark.slow
def test_a_periodic_checkpoint_holds_the_controllers_stops(tmp_path):
    common = {**COMMON, "callbacks": []}
    reference = fl.sweep(X, Y, controllers=[StopMember()], **common)
    assert reference.members[0]["status"] == "stopped"
    with pytest.raises(RuntimeError, match="crash"):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", checkpoint_every=1, controllers=[StopMember(), CrashAt(1)], **common)
    resumed = fl.sweep(X, Y, resume=tmp_path / "ck", controllers=[StopMember()], **common)
    assert_identical(resumed, reference)


class FailsToStart(Controller):
    def on_sweep_start(self, sweep):
        raise OSError(28, "No space left on device")


def test_a_controller_that_fails_to_start_leaves_no_signal_handler_behind():
    from fastlstm.controllers import StopOnSignal

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(OSError, match="No space left"):
        fl.sweep(X, Y, controllers=[StopOnSignal(), FailsToStart()], **COMMON)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.slow
def test_a_resumed_sweep_lists_its_metrics_in_the_order_of_a_fresh_one(tmp_path, uninterrupted):
    """Issue 26 item 19: the checkpoint gave the history back sorted (accuracy before loss), so
    the tables and summary.json of a resumed run came out in another order than a fresh run's."""
    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(7)], **COMMON)
    resumed = fl.sweep(X, Y, resume=tmp_path / "ck", **COMMON)
    assert list(resumed.history) == list(uninterrupted.history)
    assert list(uninterrupted.history)[:2] == ["loss", "accuracy"]
    docs = [
        json.loads((r.save(tmp_path / name) / "summary.json").read_text())
        for r, name in ((uninterrupted, "a"), (resumed, "b"))
    ]
    assert _key_order(docs[0]) == _key_order(docs[1])


def _key_order(doc):
    """Every mapping's keys in their order, nested as the document is."""
    if isinstance(doc, dict):
        return [(k, _key_order(v)) for k, v in doc.items()]
    return [_key_order(v) for v in doc] if isinstance(doc, list) else None
