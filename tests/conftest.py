import os

# Two host devices whatever the machine, so the sharded member path is always tested
# (set before anything imports JAX's backend; fastlstm reads it at import).
os.environ.setdefault("FASTLSTM_CPU_DEVICES", "2")
os.environ.setdefault("FASTLSTM_CACHE_DIR", "off")

import numpy as np
import pytest

import fastlstm  # noqa: F401  (configures the host devices first)


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
