"""The result of a sweep, and the run folder it is saved to and loaded from."""

from fastlstm._common.files import DamagedResultError
from fastlstm.results._importance import importance
from fastlstm.results._result import SweepResult, load, rebuild_report
from fastlstm.results._run_folder import write_report
from fastlstm.results._scores import scores

__all__ = ["DamagedResultError", "SweepResult", "importance", "load", "rebuild_report", "scores", "write_report"]
