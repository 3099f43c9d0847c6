"""The result of a sweep, and the run folder it is saved to and loaded from."""

from fastlstm._common.files import DamagedResultError
from fastlstm.results._result import SweepResult, load
from fastlstm.results._scores import scores

__all__ = ["DamagedResultError", "SweepResult", "load", "scores"]
