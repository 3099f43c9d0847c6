"""fastlstm: many seeds and settings of one Keras-style LSTM, trained as one JAX program."""

from fastlstm import (
    controllers,  # noqa: F401  (fl.controllers.EpochClock, ...)
    distributed,  # noqa: F401  (fl.distributed.initialize(...): many processes, one sweep)
    layers,  # noqa: F401  (fl.layers.LSTM, fl.layers.Bidirectional, ...)
)
from fastlstm.analysis import LRRange, VarianceSources, lr_range, variance_sources
from fastlstm.analysis.scores import scores
from fastlstm.augment import Jitter, MagnitudeWarp, Scaling, TimeWarp, WindowSlice
from fastlstm.callbacks import Callback, CallbackSignal, EarlyStopping, ReduceLROnPlateau
from fastlstm.controllers import Controller, Decision, EpochEnd
from fastlstm.data import TaskInferenceWarning
from fastlstm.devices import configure_host_devices
from fastlstm.diagnose import Finding, Findings, diagnose
from fastlstm.input_checks import ZeroPaddingWarning
from fastlstm.io import DamagedResultError, DataFileError, read_data
from fastlstm.keras_interop import KerasConverted, from_keras
from fastlstm.model import KerasLSTM, LSTMModel, ModelSpec
from fastlstm.result import SweepResult, load
from fastlstm.runner import run, sweep
from fastlstm.search.halving import Hyperband, SuccessiveHalving
from fastlstm.search.space import choice, loguniform, randint, uniform
from fastlstm.spec import DataSpec, SpecError, SweepSpec

configure_host_devices()  # before anything starts a JAX backend; see fastlstm/devices.py

__version__ = "0.1.0"

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
