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
