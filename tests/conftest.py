import os
import shutil
import tempfile

import numpy as np
import pytest

# Two host devices whatever the machine, so the sharded member path is always tested
# (set before anything imports JAX's backend; fastlstm reads it at import).
os.environ.setdefault("FASTLSTM_CPU_DEVICES", "2")
# The persistent compilation cache is on for users, so it is on here too, in a folder of this
# session's own (removed at its end; CLI subprocesses inherit it): fastlstm/runtime/_cache.py
# runs, and no test reads programs another session compiled. Compile-counting tests count
# JAX's "Compiling ..." log lines, written when a program is lowered, cache hit or not.
_SESSION_CACHE = None
if "FASTLSTM_CACHE_DIR" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="fastlstm-test-cache-")
    os.environ["FASTLSTM_CACHE_DIR"] = _SESSION_CACHE

import fastlstm  # noqa: E402, F401  (after the settings above: configures the host devices)


def make_data(n: int = 110, timesteps: int = 8, features: int = 3, classes: int = 3, seed: int = 0):
    """Small classification data whose label is readable from the first steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.normal(size=(n, timesteps, features)).astype(np.float32)
    x[:, 1, 0] += 1.5 * (y - (classes - 1) / 2)
    return x, y


@pytest.fixture(scope="session")
def small_data():
    return make_data()


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop every compiled program after each test module.

    Each XLA CPU executable holds memory mappings of its own; the whole suite in one
    process compiles thousands of programs and reached Linux's vm.max_map_count (65530
    mappings), where a compile aborts the process. Clearing after each module keeps the
    count at what one module needs (fixtures that hold results keep only their arrays).
    """
    yield
    import jax

    from fastlstm.engine._program import compiled_program

    compiled_program.cache_clear()
    jax.clear_caches()


def pytest_unconfigure(config):
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)
