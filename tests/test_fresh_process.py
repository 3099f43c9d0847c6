"""What `import fastlstm` does in a fresh Python process: one child process answers every
question that only a fresh process can (each was its own child before: a JAX start-up
apiece). The device-count cases that need another environment each keep their own
process in test_chunking.py."""

import json
import subprocess
import sys

import pytest

CHILD = """
import json, sys
import fastlstm
answers = {"scipy.stats": "scipy.stats" in sys.modules}
import fastlstm.cli
answers["matplotlib"] = "matplotlib" in sys.modules
import jax
answers["devices"] = len(jax.devices())
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def fresh():
    """A child with FASTLSTM_CPU_DEVICES=3 and nothing else of this process's environment."""
    env = {"FASTLSTM_CPU_DEVICES": "3", "JAX_PLATFORMS": "cpu", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_fastlstm_still_leaves_scipy_stats_out(fresh):
    assert fresh["scipy.stats"] is False


def test_importing_fastlstm_does_not_import_matplotlib(fresh):
    """Neither `import fastlstm` nor `import fastlstm.cli` loads matplotlib."""
    assert fresh["matplotlib"] is False


def test_cpu_device_count_follows_the_environment(fresh):
    assert fresh["devices"] == 3
