"""The public entry points: `sweep` (Keras-like keywords) and `run` (a spec)."""

from fastlstm.api._sweep import run, sweep

__all__ = ["run", "sweep"]
