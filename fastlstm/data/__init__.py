"""Data as users hold it -> arrays the engine trains on.

Readers (CSV, Parquet, .npz, .ts, .arff, DataFrames), column roles, class-label coding,
targets, splits, preprocessing, streamed files and the built-in tasks. `prepare_data`
(in-memory and per-timestep) and `prepare_stream_data` are the entry points the run uses.
"""

from fastlstm.data._input_checks import ZeroPaddingWarning
from fastlstm.data._loaded import DataFileError, LoadedData
from fastlstm.data._prepare import TaskInferenceWarning
from fastlstm.data._readers import read_data, with_validation_file

__all__ = [
    "DataFileError",
    "LoadedData",
    "TaskInferenceWarning",
    "ZeroPaddingWarning",
    "read_data",
    "with_validation_file",
]
