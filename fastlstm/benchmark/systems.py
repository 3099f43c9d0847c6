"""The systems `fastlstm bench` compares, and whether this machine can run them.

torch and keras are optional (`pip install 'fastlstm[bench]'`): a missing one is
reported and skipped, found without importing it (find_spec), since importing torch
costs the orchestrator a second and memory it does not need.
"""

from __future__ import annotations

import importlib.util

SYSTEMS = ("torch", "keras", "fastlstm_sequential", "fastlstm")
FASTLSTM_SYSTEMS = ("fastlstm_sequential", "fastlstm")
BASELINES = ("torch", "keras", "fastlstm_sequential")  # what the batched fastlstm is compared with
LIBRARY = {"torch": "torch", "keras": "keras"}  # system -> the optional library it needs
INSTALL_HINT = "pip install 'fastlstm[bench]'"


def library_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_library(system: str) -> str | None:
    """Why `system` cannot run here (a message with the install command), or None when it can."""
    if system not in SYSTEMS:
        raise ValueError(f"system: expected one of {', '.join(SYSTEMS)}, got {system!r}")
    lib = LIBRARY.get(system)
    if lib is None or library_available(lib):
        return None
    return f"{lib} not installed: {INSTALL_HINT}"


def script(system: str) -> str:
    """The worker script (module name in fastlstm/benchmark) that runs `system`."""
    return f"run_{system}"
