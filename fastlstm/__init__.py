"""fastlstm: many seeds and settings of one Keras-style LSTM, trained as one JAX program."""

from fastlstm import (
    controllers,  # noqa: F401  (fl.controllers.EpochClock, ...)
    distributed,  # noqa: F401  (fl.distributed.initialize(...): many processes, one sweep)
    layers,  # noqa: F401  (fl.layers.LSTM, fl.layers.Bidirectional, ...)
)
from fastlstm._common.version import __version__ as __version__
from fastlstm.analysis import LRRange, VarianceSources, lr_range, variance_sources
from fastlstm.api import run, sweep
from fastlstm.data import DataFileError, TaskInferenceWarning, ZeroPaddingWarning, read_data
from fastlstm.diagnose import Finding, Findings, diagnose
from fastlstm.engine import (
    Callback,
    CallbackSignal,
    EarlyStopping,
    Jitter,
    KerasLSTM,
    LSTMModel,
    MagnitudeWarp,
    ModelSpec,
    ReduceLROnPlateau,
    Scaling,
    TimeWarp,
    WindowSlice,
)
from fastlstm.interop import KerasConverted, from_keras
from fastlstm.results import DamagedResultError, SweepResult, importance, load, scores
from fastlstm.runtime import Controller, Decision, EpochEnd, configure_host_devices
from fastlstm.spec import (
    DataSpec,
    Hyperband,
    SpecError,
    SuccessiveHalving,
    SweepSpec,
    choice,
    loguniform,
    randint,
    uniform,
)

configure_host_devices()  # before anything starts a JAX backend; see fastlstm/runtime/_devices.py


__all__ = [
    "Callback",
    "CallbackSignal",
    "Controller",
    "DamagedResultError",
    "DataFileError",
    "DataSpec",
    "Decision",
    "EarlyStopping",
    "EpochEnd",
    "Finding",
    "Findings",
    "Hyperband",
    "Jitter",
    "KerasConverted",
    "KerasLSTM",
    "LRRange",
    "LSTMModel",
    "MagnitudeWarp",
    "ModelSpec",
    "ReduceLROnPlateau",
    "Scaling",
    "SpecError",
    "SuccessiveHalving",
    "SweepResult",
    "SweepSpec",
    "TaskInferenceWarning",
    "TimeWarp",
    "VarianceSources",
    "WindowSlice",
    "ZeroPaddingWarning",
    "choice",
    "diagnose",
    "from_keras",
    "importance",
    "load",
    "loguniform",
    "lr_range",
    "randint",
    "read_data",
    "run",
    "scores",
    "sweep",
    "uniform",
    "variance_sources",
]
