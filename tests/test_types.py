"""fastlstm/ type-checks clean: mypy at the strictness pyproject.toml's [tool.mypy] states
(mypy's defaults plus check_untyped_defs, warn_unused_ignores and warn_redundant_casts),
with zero errors.

The cache lives in the repository's .mypy_cache (git-ignored): a second run takes under 2 s;
a first run, as on CI, reads the jax/numpy stubs: about 15 s on an idle 2-core machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors_in_the_package():
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(ROOT / ".mypy_cache"), "fastlstm"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert run.returncode == 0 and not errors, (
        f"mypy found {len(errors)} error(s) in fastlstm/:\n" + "\n".join(errors) + "\n" + run.stderr[-2000:]
    )
