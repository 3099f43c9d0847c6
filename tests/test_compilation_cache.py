"""The persistent compilation cache, on by default for users, is on in the suite too: its
folder is the session's own (tests/conftest.py), and a sweep's programs land there."""

import logging
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.engine._program import compiled_program
from fastlstm.runtime._cache import enable_compilation_cache


@pytest.mark.slow
def test_a_sweep_compiles_into_the_folder_fastlstm_cache_dir_names_and_reads_it_back(caplog):
    folder = Path(os.environ["FASTLSTM_CACHE_DIR"])
    x, y = make_data(n=40, timesteps=3, features=2)
    kw = dict(model=fl.ModelSpec(units=5), seeds=2, epochs=1, batch_size=8, validation_split=0.25, verbose=0)
    assert enable_compilation_cache() == folder  # what every sweep calls first
    assert Path(jax.config.jax_compilation_cache_dir) == folder
    # every program persists, not only those slower to compile than fastlstm's 0.2 s
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    try:
        before = set(folder.rglob("*"))
        first = fl.sweep(x, y, **kw)
        written = set(folder.rglob("*")) - before
        jax.clear_caches()  # forget the programs held in memory: the next sweep reads them back
        compiled_program.cache_clear()
        with caplog.at_level(logging.DEBUG, logger="jax"):
            again = fl.sweep(x, y, **kw)
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    assert written, f"nothing written to {folder}"
    assert any("Persistent compilation cache hit" in r.getMessage() for r in caplog.records)
    for key, values in first.history.items():
        np.testing.assert_array_equal(again.history[key], values, err_msg=key)
