"""File input and output at the package's edge: output folders that are safe to write."""

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

__all__ = [
    "MARKER",
    "DamagedResultError",
    "NotAResultFolderError",
    "OutputExistsError",
    "OutputPathError",
    "check_output_file",
    "check_output_folder",
    "write_file_atomically",
    "write_folder_atomically",
]
