"""The package's layers hold: each subpackage imports only those below it (pyproject.toml's
[tool.importlinter] contracts, imports inside functions included), and nothing inside
imports the public facades (fastlstm.tasks, .controllers, .distributed, .layers)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def test_every_import_contract_in_pyproject_is_kept():
    # Its own process: import-linter writes through click/rich, which pytest's capture closes.
    run = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout
