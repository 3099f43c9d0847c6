"""Input and output at the edges: data readers, and output folders that are safe to write."""

from fastlstm.io.folders import (
    MARKER,
    DamagedResultError,
    NotAResultFolderError,
    OutputExistsError,
    OutputPathError,
    check_output_file,
    check_output_folder,
    write_file_atomically,
    write_folder_atomically,
)
from fastlstm.io.loaded import DataFileError, LoadedData
from fastlstm.io.readers import read_data

__all__ = [
    "MARKER",
    "DamagedResultError",
    "DataFileError",
    "LoadedData",
    "NotAResultFolderError",
    "OutputExistsError",
    "OutputPathError",
    "check_output_file",
    "check_output_folder",
    "read_data",
    "write_file_atomically",
    "write_folder_atomically",
]
