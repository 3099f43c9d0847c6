"""A run folder that was edited, truncated or half-written is refused by `fl.load` with one
clear `DamagedResultError`; nothing ever unpickles or evaluates; a failed write (disk full,
no permission) leaves the earlier folder byte for byte.

fastlstm/_common/files.py seals a folder: the marker holds the SHA-256 of every file but the
analysis documents and report.html. `fl.load` first checks what it can explain (result.json,
the .npz files, members.csv cell by cell, config.toml's member count), then the seal.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm._common.files as folders
import fastlstm.results._run_folder as run_folder
from fastlstm._common.files import MARKER, DamagedResultError, OutputPathError
from fastlstm.cli import main

PACKAGE = Path(fl.__file__).resolve().parent


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    x, y = make_data(n=24, timesteps=4, features=2, classes=2)
    path = tmp_path_factory.mktemp("data") / "train.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def result(data_file):
    """Two seeds x two learning rates, one epoch: four members in one params file."""
    with np.load(data_file) as archive:
        x, y = archive["x"], archive["y"]
    return fl.sweep(
        x, y, seeds=2, grid={"learning_rate": [1e-3, 1e-2]}, model={"units": 2}, epochs=1, batch_size=8, verbose=0
    )


@pytest.fixture(scope="module")
def pristine(result, tmp_path_factory):
    return result.save(tmp_path_factory.mktemp("pristine") / "run", report=False)


@pytest.fixture
def run(pristine, tmp_path):
    """A fresh copy of the saved run folder for each test to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "run"))


def _refused(run: Path, file: str, reason: str = "") -> str:
    with pytest.raises(DamagedResultError) as err:
        fl.load(run)
    message = str(err.value)
    assert str(run) in message and file in message and "\n" not in message, message
    assert re.search(reason, message), message
    return message


def _edit_csv(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def _unseal(run: Path) -> None:
    """A marker without digests (as written before seals): only the explaining checks remain."""
    (run / MARKER).write_text(json.dumps({"kind": "run", "format_version": 1}))


def test_an_untouched_folder_loads(run, result):
    loaded = fl.load(run)
    np.testing.assert_array_equal(loaded.history["loss"], result.history["loss"])
    assert set(json.loads((run / MARKER).read_text())["sha256"]) >= {"result.json", "members.csv", "history.csv"}


# --- truncated and rewritten core files ----------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, -10, 0])
def test_a_truncated_params_npz_is_refused(run, keep):
    data = (run / "params_0.npz").read_bytes()
    (run / "params_0.npz").write_bytes(data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep])
    _refused(run, "params_0.npz", r"params_0.npz is damaged")


def test_params_with_other_values_of_the_same_shape_are_refused(run):
    with np.load(run / "params_0.npz") as archive:
        arrays = {k: archive[k] + 1.0 for k in archive.files}
    np.savez(run / "params_0.npz", **arrays)
    _refused(run, "params_0.npz", r"was changed after fastlstm wrote it")


def test_params_holding_an_object_array_are_refused_without_unpickling(run):
    np.savez(run / "params_0.npz", w=np.array([{"a": 1}, None], dtype=object))
    message = _refused(run, "params_0.npz", r"pickled data, which fastlstm never writes or reads")
    assert "allow_pickle" not in message


def test_a_truncated_history_npz_is_refused(run):
    (run / "history.npz").write_bytes((run / "history.npz").read_bytes()[:100])
    _refused(run, "history.npz", r"history.npz is damaged")


# --- members.csv ---------------------------------------------------------------------------

MEMBER_EDITS = {
    "a row removed": (lambda lines: lines[:-1], r"3 rows for 4 members"),
    "a column renamed": (lambda lines: [lines[0].replace("seed", "sead"), *lines[1:]], r"its columns"),
    "a column dropped": (lambda lines: [",".join(row.split(",")[1:]) for row in lines], r"its columns"),
    "an index out of range": (lambda lines: [lines[0], "9" + lines[1][1:], *lines[2:]], r"member 0: index is '9'"),
    "a non-numeric seed": (
        lambda lines: [lines[0], lines[1], lines[2].replace(",1,", ",one,", 1), *lines[3:]],
        r"member 1: seed is 'one'",
    ),
    "rows swapped": (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], r"member 0: index is '1'"),
    "a cell added": (lambda lines: [lines[0], lines[1] + ",x", *lines[2:]], r"member 0 has \d+ cells"),
}


@pytest.mark.parametrize("case", list(MEMBER_EDITS))
@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
def test_an_edited_members_csv_is_refused(run, case, sealed):
    """Refused with the reason, whether or not the marker holds digests."""
    edit, reason = MEMBER_EDITS[case]
    if not sealed:
        _unseal(run)
    _edit_csv(run / "members.csv", edit)
    _refused(run, "members.csv", reason)


def test_a_removed_members_csv_is_refused_when_sealed(run):
    (run / "members.csv").unlink()
    _refused(run, "members.csv", r"members.csv is missing")


# --- history.csv, config.toml, the marker ----------------------------------------------------


def test_history_csv_naming_a_member_not_in_members_csv_is_refused(run):
    with open(run / "history.csv", "a") as f:
        f.write("99,0,loss,0.5\n")
    _refused(run, "history.csv", r"was changed after fastlstm wrote it")


def test_config_toml_edited_to_another_member_count_is_refused(run):
    text = (run / "config.toml").read_text()
    assert "seeds = 2" in text
    (run / "config.toml").write_text(text.replace("seeds = 2", "seeds = 3"))
    _refused(run, "config.toml", r"it describes 6 members, but the results hold 4")


def test_a_marker_whose_digests_are_not_a_table_is_refused(run):
    (run / MARKER).write_text(json.dumps({"kind": "run", "format_version": 1, "sha256": [1, 2]}))
    _refused(run, MARKER, r"its 'sha256' is not a table")


def test_files_added_beside_the_run_and_a_redrawn_report_do_not_matter(run):
    (run / "notes.txt").write_text("my notes on this run")
    (run / "report.html").write_text("<html>drawn again</html>")
    (run / "findings.json").write_text(json.dumps({"format_version": 1, "findings": []}))
    assert len(fl.load(run).members) == 4


# --- nothing is unpickled or evaluated -------------------------------------------------------


def test_every_np_load_refuses_pickles_and_nothing_evaluates():
    """A static check of the package: np.load always with allow_pickle=False; no pickle,
    eval, exec or YAML anywhere (config files are TOML, read by tomllib)."""
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        for call in re.finditer(r"np\.load\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
            assert "allow_pickle=False" in call.group(1), f"{source}: {call.group(0)}"
        assert not re.search(r"^\s*(import|from) (pickle|cloudpickle|dill|yaml)\b", text, re.M), source
        assert not re.search(r"(?<![\w.])(eval|exec)\(", text), source
        assert "numpy.load(" not in text and "jnp.load(" not in text, source


def test_data_npz_with_an_object_array_is_one_line_exit_2(tmp_path, capsys):
    ragged = np.array([np.zeros((4, 2)), np.zeros((3, 2))], dtype=object)
    np.savez(tmp_path / "ragged.npz", x=ragged, y=np.array([0, 1]))
    code = main(["sweep", "--data", str(tmp_path / "ragged.npz"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "holds an object array" in err and "allow_pickle" not in err
    assert not (tmp_path / "out").exists()


# --- disk full and no permission while writing -----------------------------------------------


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its SHA-256 (the byte-for-byte state of a folder)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _disk_full_at(monkeypatch, module, name: str, after: int) -> None:
    """Make `module.name` raise ENOSPC on its call number `after` + 1 (earlier calls work)."""
    real, calls = getattr(module, name), []

    def full(*args, **kwargs):
        calls.append(args)
        if len(calls) > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, full)


@pytest.mark.parametrize(
    ("module", "name", "after"),
    [
        (run_folder, "_write_text", 0),  # config.toml
        (run_folder, "_write_text", 2),  # history.csv, midway through the views
        (np, "savez", 1),  # params_0.npz, after history.npz
        (folders, "write_file_atomically", 0),  # the marker, the very last file
    ],
    ids=["first view", "midway", "params", "marker"],
)
def test_disk_full_while_saving_leaves_the_earlier_folder_byte_for_byte(result, run, monkeypatch, module, name, after):
    before = _tree(run)
    _disk_full_at(monkeypatch, module, name, after)
    with pytest.raises(OSError, match="No space left on device"):
        result.save(run, overwrite=True, report=False)
    assert _tree(run) == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run"]  # no temporary folder left behind
    monkeypatch.undo()
    assert len(fl.load(run).members) == 4


def test_no_permission_to_write_is_refused_before_anything_is_written(result, run, monkeypatch):
    """As root chmod does not stop a write, so the probe's failure is simulated."""
    before = _tree(run)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(folders.tempfile, "mkstemp", denied)
    with pytest.raises(OutputPathError, match=r"cannot write in .* \(Permission denied\)"):
        result.save(run, overwrite=True, report=False)
    assert _tree(run) == before


def _read_only(monkeypatch, folder: Path, code: int) -> None:
    """`folder` as the kernel treats a read-only folder for a user (EACCES) or on a read-only
    mount (EROFS), root included: every call that would create, write, rename or remove an
    entry under it fails. (chmod alone does not stop root, which CI runs as.)"""
    folder = folder.resolve()

    def inside(path) -> bool:
        return isinstance(path, (str, os.PathLike)) and Path(os.path.abspath(path)).is_relative_to(folder)

    def refuse(path):
        raise OSError(code, os.strerror(code), str(path))

    def guard(call, *where, writing=lambda *a, **k: True):
        def guarded(*args, **kwargs):
            for i in where:
                if i < len(args) and inside(args[i]) and writing(*args, **kwargs):
                    refuse(args[i])
            return call(*args, **kwargs)

        return guarded

    flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    mode = lambda file, mode="r", *a, **k: any(c in mode for c in "wax+")  # noqa: E731
    monkeypatch.setattr("builtins.open", guard(open, 0, writing=mode))
    monkeypatch.setattr(os, "open", guard(os.open, 0, writing=lambda path, f, *a, **k: bool(f & flags)))
    for name in ("mkdir", "rmdir", "unlink", "remove"):
        monkeypatch.setattr(os, name, guard(getattr(os, name), 0))
    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, guard(getattr(os, name), 0, 1))


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS], ids=["read-only folder", "read-only mount"])
def test_a_read_only_parent_is_refused_and_the_folder_kept(result, run, monkeypatch, code):
    before = _tree(run)
    _read_only(monkeypatch, run.parent, code)
    with pytest.raises(OutputPathError, match=rf"cannot write in .* \({os.strerror(code)}\)"):
        result.save(run, overwrite=True, report=False)
    monkeypatch.undo()
    assert _tree(run) == before


def test_the_cli_says_disk_full_in_one_line_and_keeps_the_earlier_run(data_file, pristine, tmp_path, monkeypatch):
    """Disk full while claiming --out (before training): exit 2, one line, the old run intact."""
    out = Path(shutil.copytree(pristine, tmp_path / "out"))
    before = _tree(out)
    _disk_full_at(monkeypatch, folders, "write_file_atomically", 0)
    argv = ["sweep", "--data", str(data_file), "--epochs", "1", "--seeds", "1", "--units", "2"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*argv, "--out", str(out), "--overwrite", "--quiet"])
    assert code == 2 and err.getvalue().count("\n") == 1, err.getvalue()
    assert "No space left on device" in err.getvalue() and "Traceback" not in err.getvalue()
    assert _tree(out) == before
