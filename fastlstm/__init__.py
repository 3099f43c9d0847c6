"""fastlstm: many seeds and settings of one Keras-style LSTM, trained as one JAX program."""

from fastlstm.callbacks import EarlyStopping, ReduceLROnPlateau
from fastlstm.model import KerasLSTM, LSTMModel, ModelSpec
from fastlstm.result import SweepResult, load
from fastlstm.runner import sweep

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
