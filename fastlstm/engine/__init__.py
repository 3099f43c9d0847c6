"""The pure engine: the Keras-exact LSTM, its layers, losses, optimizers and the training program.

Nothing here reads files or prints: `_program.py` builds one jit-compiled, vmapped epoch
for a chunk of members from arrays and settings. Every layer above feeds it.
"""

from fastlstm.engine._augment import Jitter, MagnitudeWarp, Scaling, TimeWarp, WindowSlice
from fastlstm.engine._callbacks import Callback, CallbackSignal, EarlyStopping, ReduceLROnPlateau
from fastlstm.engine._model import KerasLSTM, LSTMModel, ModelSpec

__all__ = [
    "Callback",
    "CallbackSignal",
    "EarlyStopping",
    "Jitter",
    "KerasLSTM",
    "LSTMModel",
    "MagnitudeWarp",
    "ModelSpec",
    "ReduceLROnPlateau",
    "Scaling",
    "TimeWarp",
    "WindowSlice",
]
