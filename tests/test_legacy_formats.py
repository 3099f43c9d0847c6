"""Runs and checkpoints written by older releases still load, resave byte-for-byte and resume.

The fixtures in tests/fixtures were written by main before the package was split into
layers (tests/fixtures/make_legacy.py says how); they pin the run-folder format,
config.toml and the checkpoint identity (`spec.to_dict()`).
"""

import shutil
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import fastlstm as fl

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

from legacy_setup import COMMON, legacy_data  # noqa: E402

RESAVED_BYTE_FOR_BYTE = ("config.toml", "result.json", "history.csv", "members.csv", "summary.json")


def test_an_old_run_folder_loads_with_its_members_history_and_classes():
    result = fl.load(FIXTURES / "legacy_run")
    assert len(result.members) == 4
    assert [c["learning_rate"] for c in result.configs] == [0.001, 0.01]
    assert np.asarray(result.history["val_loss"]).shape[:2] == (4, 2)
    assert tuple(result.class_names) == ("0", "1")
    x, _ = legacy_data()
    assert np.asarray(result.predict(x[:5])).shape[:2] == (4, 5)


def test_an_old_run_folder_resaves_byte_for_byte(tmp_path):
    fl.load(FIXTURES / "legacy_run").save(tmp_path / "again")
    for name in RESAVED_BYTE_FOR_BYTE:
        old, new = (FIXTURES / "legacy_run" / name).read_bytes(), (tmp_path / "again" / name).read_bytes()
        assert new == old, name


@pytest.mark.slow
def test_an_old_checkpoint_resumes_to_the_uninterrupted_sweep(tmp_path):
    x, y = legacy_data()
    shutil.copytree(FIXTURES / "legacy_checkpoint", tmp_path / "ck")
    resumed = fl.sweep(x, y, resume=tmp_path / "ck", **COMMON)
    whole = fl.sweep(x, y, **COMMON)
    assert resumed.members == whole.members
    for name in whole.history:
        # Written on another machine: XLA's CPU kernels may round differently there.
        np.testing.assert_allclose(resumed.history[name], whole.history[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(whole.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_an_old_checkpoint_refuses_a_different_sweep(tmp_path):
    x, y = legacy_data()
    shutil.copytree(FIXTURES / "legacy_checkpoint", tmp_path / "ck")
    with pytest.raises(Exception, match="checkpoint"):
        fl.sweep(x, y, resume=tmp_path / "ck", **{**COMMON, "epochs": 5})
