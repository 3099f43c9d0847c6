"""fastlstm: many seeds and settings of one Keras-style LSTM, trained as one JAX program."""

from fastlstm.callbacks import EarlyStopping, ReduceLROnPlateau
from fastlstm.devices import configure_host_devices
from fastlstm.model import KerasLSTM, LSTMModel, ModelSpec
from fastlstm.result import SweepResult, load
from fastlstm.runner import sweep

configure_host_devices()  # before anything starts a JAX backend; see fastlstm/devices.py

__version__ = "0.1.0"

__all__ = [
    "EarlyStopping",
    "KerasLSTM",
    "LSTMModel",
    "ModelSpec",
    "ReduceLROnPlateau",
    "SweepResult",
    "load",
    "sweep",
]
