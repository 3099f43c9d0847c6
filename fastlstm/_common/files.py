"""Output folders that never destroy what they did not write.

A folder fastlstm writes (a saved result today, a run folder tomorrow) carries a small
marker file, `.fastlstm`, written last. Only a folder with that marker (or a result saved
before markers existed: `result.json` with format_version 1), or an empty one, may be
replaced, and only when the caller asked for it: a typo in `--out` must not delete a
project. The current folder and its ancestors are never replaced.

`check_output_folder` runs every check, including a probe file in the parent, so the
command line can refuse a bad path before it trains for an hour. `write_folder_atomically`
yields a temporary folder next to the target and swaps it into place only when everything
in it was written; on any error the temporary folder is removed and the old folder stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MARKER = ".fastlstm"
MARKER_FORMAT = 1
LEGACY_RESULT_FILE = "result.json"  # saved results from before the marker: format_version 1


class OutputPathError(ValueError):
    """An output path that must not or cannot be written; raised before any work is done."""


class OutputExistsError(OutputPathError, FileExistsError):
    """The output folder holds an earlier fastlstm result and overwriting was not asked for."""


class NotAResultFolderError(ValueError, FileNotFoundError):
    """The path given to a reader holds no fastlstm output at all."""


class DamagedResultError(ValueError):
    """A fastlstm folder whose files are missing, truncated or not what fastlstm wrote."""


def _describe(name: str, path: Path) -> str:
    return f"{name} {str(path)!r}"


def marker_kind(path: str | os.PathLike) -> str | None:
    """What wrote the folder, from its marker ("run", "run-in-progress", ...); None without one."""
    marker = _read_json_or_none(Path(path) / MARKER)
    kind = marker.get("kind") if isinstance(marker, dict) else None
    return kind if isinstance(kind, str) else None


def is_fastlstm_folder(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder fastlstm wrote: its marker, or a result saved before markers."""
    path = Path(path)
    if marker_kind(path) is not None:
        return True
    legacy = _read_json_or_none(path / LEGACY_RESULT_FILE)
    return isinstance(legacy, dict) and legacy.get("format_version") == 1


def _read_json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_cwd_or_ancestor(path: Path) -> bool:
    resolved, cwd = path.resolve(), Path.cwd().resolve()
    return resolved == cwd or resolved in cwd.parents


def check_output_folder(
    path: str | os.PathLike, overwrite: bool, *, name: str = "path", overwrite_hint: str = "pass overwrite=True"
) -> None:
    """Raise `OutputPathError` unless `path` can be written as a new or replaced output folder.

    Refused: an existing file; the current folder or one that contains it; an existing folder
    that fastlstm did not write (unless empty); an existing fastlstm folder without
    `overwrite` (`OutputExistsError`); a parent that cannot be created or written (probed).
    `name` and `overwrite_hint` word the message for the caller ("--out", "pass --overwrite").
    """
    path = Path(path)
    where = _describe(name, path)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputPathError(f"{where}: exists and is not a folder; choose another path")
        if _is_cwd_or_ancestor(path):
            raise OutputPathError(f"{where}: is the current folder or contains it; choose another folder")
        empty = not any(path.iterdir())
        if not empty and not is_fastlstm_folder(path):
            raise OutputPathError(
                f"{where}: exists and is not a fastlstm result folder (no {MARKER} marker); choose another folder"
            )
        if not overwrite:
            raise OutputExistsError(f"{where}: exists; {overwrite_hint} to replace it")
    check_parent_writable(path, name=name)


def check_output_file(path: str | os.PathLike, *, name: str = "path") -> None:
    """Raise `OutputPathError` unless a file can be written at `path` (not a folder; parent writable)."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{_describe(name, path)}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"{_describe(name, path)}: exists and is not a regular file")
    check_parent_writable(path, name=name)


def check_parent_writable(path: str | os.PathLike, *, name: str = "path") -> None:
    """Create and remove a probe file in the nearest existing folder above `path`."""
    path = Path(path)
    anchor = path.absolute().parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        raise OutputPathError(f"{_describe(name, path)}: {str(anchor)!r} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{MARKER}-probe.", dir=anchor)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputPathError(f"{_describe(name, path)}: cannot write in {str(anchor)!r} ({reason})") from None


def _fresh_name(parent: Path, prefix: str, suffix: str = "") -> Path:
    """A name in `parent` that does not exist now (the caller creates it exclusively)."""
    while True:
        candidate = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        if not candidate.exists() and not candidate.is_symlink():
            return candidate


def _make_temp_folder(parent: Path, prefix: str) -> Path:
    """Like `tempfile.mkdtemp`, but with the mode `mkdir` would give (umask), not 0o700."""
    while True:
        candidate = _fresh_name(parent, prefix)
        try:
            candidate.mkdir(mode=0o777)
            return candidate
        except FileExistsError:
            continue


def write_file_atomically(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` to a temporary name next to `path`, then rename it over `path`.

    A reader sees the old file or the new one, never half of one; the file's mode follows
    the umask, like `open(path, "w")`; on error the temporary file is removed.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    while True:
        tmp = _fresh_name(path.parent, f".{path.name}.", ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def marker_text(kind: str, folder: Path | None = None, unsealed: Sequence[str] = ()) -> str:
    """The marker's content: what wrote the folder and in which layout, and (given the
    folder) the SHA-256 of each file in it but `unsealed`, so a reader can tell an edited file."""
    marker: dict[str, Any] = {"kind": kind, "format_version": MARKER_FORMAT}
    if folder is not None:
        marker["sha256"] = {f.name: _sha256(f) for f in sorted(_sealed_files(folder, unsealed))}
    return json.dumps(marker, indent=1) + "\n"


def _sealed_files(folder: Path, unsealed: Sequence[str]) -> list[Path]:
    """The folder's own files: top level, regular, not the marker, not the `unsealed` ones."""
    return [f for f in folder.iterdir() if f.is_file() and not f.is_symlink() and f.name not in (MARKER, *unsealed)]


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_seal(folder: Path) -> None:
    """`DamagedResultError` naming the first file whose bytes are not those the marker
    recorded (edited, truncated, replaced) or that is gone; folders written before markers
    held digests pass. Files added later (notes beside the run) are not looked at."""
    marker = _read_json_or_none(folder / MARKER)
    sealed = marker.get("sha256") if isinstance(marker, dict) else None
    if sealed is None:
        return
    if not isinstance(sealed, dict):
        raise DamagedResultError(f"{str(folder)!r}: {MARKER} is damaged (its 'sha256' is not a table)")
    for name, digest in sealed.items():
        file = folder / str(name)
        if not file.is_file():
            raise DamagedResultError(f"{str(folder)!r}: {name} is missing")
        if _sha256(file) != digest:
            raise DamagedResultError(
                f"{str(folder)!r}: {name} was changed after fastlstm wrote it (its SHA-256 is not the one "
                f"recorded in {MARKER}); fastlstm reads only the files as it wrote them"
            )


@contextlib.contextmanager
def write_folder_atomically(
    path: str | os.PathLike,
    overwrite: bool = False,
    *,
    kind: str,
    name: str = "path",
    overwrite_hint: str = "pass overwrite=True",
    unsealed: Sequence[str] = (),
) -> Iterator[Path]:
    """Yield a temporary folder next to `path`; on success mark it and swap it into place.

    The marker is written last, with the SHA-256 of every top-level file but `unsealed`
    (files that may be rewritten in place later, as `fastlstm report` rewrites report.html),
    then the folder is renamed to `path`; an older fastlstm
    folder there is moved aside first and removed only once the new one is in place.
    On any exception the temporary folder is removed and `path` is left as it was.
    """
    path = Path(path)
    check_output_folder(path, overwrite, name=name, overwrite_hint=overwrite_hint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp_folder(path.parent, f".{path.name}.")
    try:
        yield tmp
        write_file_atomically(tmp / MARKER, marker_text(kind, tmp, unsealed))
        check_output_folder(path, overwrite, name=name, overwrite_hint=overwrite_hint)  # still ours to replace?
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename `tmp` to `path`; an existing `path` is moved aside first and restored on failure."""
    if not path.exists() and not path.is_symlink():
        os.rename(tmp, path)
        return
    aside = _fresh_name(path.parent, f".{path.name}.old.")
    os.rename(path, aside)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(aside, path)
        raise
    if aside.is_symlink():  # `path` was a link: drop the link, never the folder it points to
        aside.unlink()
    else:
        shutil.rmtree(aside, ignore_errors=True)


def read_json_file(folder: Path, file: str) -> Any:
    """Parse `folder/file`; `DamagedResultError` naming both when it is missing or not JSON."""
    try:
        return json.loads((folder / file).read_text())
    except FileNotFoundError:
        raise DamagedResultError(f"{str(folder)!r}: {file} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DamagedResultError(f"{str(folder)!r}: {file} is damaged ({_short_reason(err)})") from None


def read_npz_file(folder: Path, file: str) -> dict[str, np.ndarray]:
    """Every array of `folder/file` (never unpickled); `DamagedResultError` naming both otherwise."""
    try:
        archive = np.load(folder / file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DamagedResultError(f"{str(folder)!r}: {file} is missing") from None
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DamagedResultError(f"{str(folder)!r}: {file} is damaged ({_short_reason(err)})") from None


def _short_reason(err: BaseException) -> str:
    """One short line for a message; never NumPy's advice to load pickled data."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "pickle" in text.lower():
        return "it holds pickled data, which fastlstm never writes or reads"
    return text if len(text) <= 120 else text[:117] + "..."
