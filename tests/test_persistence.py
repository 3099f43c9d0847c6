"""Saving and loading never destroys what fastlstm did not write, never leaves temporary
folders, writes strict JSON, and turns every damaged saved folder into one clear error."""

import json
import math
import os
import stat

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm.results._result as result_module
from fastlstm._common import files as folders
from fastlstm._common.files import (
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

UNWRITABLE = "/proc/fastlstm-test-out"  # /proc refuses new entries, even for root


@pytest.fixture(scope="module")
def result():
    """A grid over clipnorm with None ("no clipping"): the sweep stores that as inf."""
    x, y = make_data(n=24, timesteps=4)
    return fl.sweep(
        x,
        y,
        seeds=1,
        grid={"clipnorm": [None, 1.0]},
        model=fl.ModelSpec(units=2),
        epochs=1,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
    )


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# 1. data loss


def test_overwrite_refuses_a_folder_fastlstm_did_not_write(result, tmp_path):
    project = tmp_path / "proj"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("x\n")
    for overwrite in (False, True):
        with pytest.raises(OutputPathError, match=r"proj'.*not a fastlstm result folder \(no \.fastlstm marker\)"):
            result.save(project, overwrite=overwrite)
    assert (project / "data" / "train.csv").read_text() == "x\n"
    assert _leftovers(tmp_path) == []


def test_an_existing_file_is_never_replaced_by_a_folder(result, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(OutputPathError, match="exists and is not a folder"):
        result.save(target, overwrite=True)
    assert target.read_text() == "mine"


def test_the_current_folder_and_its_ancestors_are_never_replaced(result, tmp_path, monkeypatch):
    run = result.save(tmp_path / "run")
    (run / "sub").mkdir()
    monkeypatch.chdir(run)
    with pytest.raises(OutputPathError, match="current folder"):
        result.save(".", overwrite=True)
    monkeypatch.chdir(run / "sub")
    with pytest.raises(OutputPathError, match="current folder or contains it"):
        result.save(run, overwrite=True)
    assert (run / "sub").is_dir() and fl.load(run).history.keys() == result.history.keys()
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_an_earlier_result_and_marks_it(result, tmp_path):
    path = result.save(tmp_path / "run")
    marker = json.loads((path / MARKER).read_text())
    assert marker["kind"] == "run" and marker["format_version"] == 1
    assert {"result.json", "history.npz", "params_0.npz", "members.csv"} <= set(
        marker["sha256"]
    )  # tests/test_tamper.py
    with pytest.raises(OutputExistsError, match="pass overwrite=True") as err:
        result.save(path)
    assert isinstance(err.value, ValueError) and isinstance(err.value, FileExistsError)
    (path / "stale.txt").write_text("from an older run")
    result.save(path, overwrite=True)
    assert not (path / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_result_saved_before_markers_can_be_overwritten(result, tmp_path):
    legacy = tmp_path / "old"
    legacy.mkdir()
    (legacy / "result.json").write_text(json.dumps({"format_version": 1}))
    result.save(legacy, overwrite=True)
    assert (legacy / MARKER).is_file()


def test_an_empty_folder_can_be_filled_with_overwrite(result, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OutputExistsError):
        result.save(empty)
    result.save(empty, overwrite=True)
    assert fl.load(empty).history.keys() == result.history.keys()


# 2. failures leave the previous result and no temporary folders


def test_a_write_that_fails_midway_keeps_the_previous_result(result, tmp_path, monkeypatch):
    path = result.save(tmp_path / "run")
    before = sorted(p.name for p in path.iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result_module.np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        result.save(path, overwrite=True)
    with pytest.raises(OSError, match="No space left"):
        result.save(tmp_path / "new")
    monkeypatch.undo()
    assert sorted(p.name for p in path.iterdir()) == before
    assert fl.load(path).history.keys() == result.history.keys()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_interrupt_while_writing_leaves_no_temporary_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt), write_folder_atomically(tmp_path / "run", kind="result") as tmp:
        (tmp / "half.json").write_text("{")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_folder_created_while_writing_is_not_replaced(tmp_path):
    target = tmp_path / "run"
    refused = pytest.raises(OutputPathError, match="not a fastlstm result folder")
    with refused, write_folder_atomically(target, overwrite=True, kind="result") as tmp:
        (tmp / "result.json").write_text("{}")
        target.mkdir()
        (target / "theirs.txt").write_text("written meanwhile")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]


def test_overwriting_a_link_replaces_the_link_not_the_folder_it_points_to(tmp_path):
    real = tmp_path / "real"
    with write_folder_atomically(real, kind="result") as tmp:
        (tmp / "a.txt").write_text("first")
    link = tmp_path / "link"
    link.symlink_to(real)
    with write_folder_atomically(link, overwrite=True, kind="result") as tmp:
        (tmp / "a.txt").write_text("second")
    assert (real / "a.txt").read_text() == "first" and (link / "a.txt").read_text() == "second"
    assert not link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_unwritable_output_paths_are_refused_before_any_work(tmp_path):
    with pytest.raises(OutputPathError, match=r"--out '/proc/fastlstm-test-out': cannot write in '/proc'"):
        check_output_folder(UNWRITABLE, False, name="--out")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="is not a folder"):
        check_output_folder(tmp_path / "file" / "run", False)
    with pytest.raises(OutputPathError, match="cannot write"):
        check_output_file(UNWRITABLE + ".json", name="--json")
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path, name="--json")
    check_output_file(tmp_path / "new" / "bench.json")
    check_output_folder(tmp_path / "new" / "run", False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the probes are gone, nothing created


def test_write_file_atomically_replaces_whole_files_only(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    write_file_atomically(target, "old")

    def failing_replace(*args):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(folders.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_file_atomically(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    write_file_atomically(target, b"new")
    assert target.read_text() == "new"


# 10. modes follow the umask


def test_saved_folders_and_files_follow_the_umask(result, tmp_path):
    previous = os.umask(0o022)
    try:
        path = result.save(tmp_path / "run")
        single = write_file_atomically(tmp_path / "one.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in path.rglob("*") if p.is_file()} == {0o644}
    assert {stat.S_IMODE(p.stat().st_mode) for p in path.rglob("*") if p.is_dir()} == {0o755}  # plots/
    assert stat.S_IMODE(single.stat().st_mode) == 0o644


# 6. strict JSON, and damaged folders


def _reject_constant(name):
    raise AssertionError(f"result.json holds {name}, which is not JSON")


def test_saved_json_is_strict_and_infinite_clipnorm_comes_back(result, tmp_path):
    clipnorms = [m["clipnorm"] for m in result.members]
    assert math.inf in clipnorms  # the sweep's own "no clipping"
    path = result.save(tmp_path / "run")
    doc = json.loads((path / "result.json").read_text(), parse_constant=_reject_constant)
    assert None in [m["clipnorm"] for m in doc["members"]]
    loaded = fl.load(path)
    assert [m["clipnorm"] for m in loaded.members] == clipnorms
    assert loaded.members == result.members and loaded.configs == result.configs


def test_json_never_falls_back_to_infinity(result, tmp_path):
    odd = fl.SweepResult(
        result.history,
        [{**m, "extra": np.array([[np.nan, -np.inf]])} for m in result.members],
        result.groups,
        result.configs,
        {**result.meta, "mask_value": np.float32(np.inf)},
    )
    path = odd.save(tmp_path / "run")
    json.loads((path / "result.json").read_text(), parse_constant=_reject_constant)
    loaded = fl.load(path)
    assert loaded.meta["mask_value"] == math.inf
    np.testing.assert_array_equal(loaded.members[0]["extra"], [[np.nan, -np.inf]])


def _edit_json(edit):
    def damage(folder):
        doc = json.loads((folder / "result.json").read_text())
        (folder / "result.json").write_text(json.dumps(edit(doc)))

    return damage


def _truncate(name):
    def damage(folder):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])

    return damage


def _replace(name, data):
    return lambda folder: (folder / name).write_bytes(data)


def _pickled_npz(folder):
    np.savez(folder / "params_0.npz", w=np.array([{"a": 1}], dtype=object))


DAMAGE = {
    "truncated json": ("result.json", _truncate("result.json")),
    "json is a list": ("result.json", _replace("result.json", b"[1, 2]")),
    "json lacks groups": ("result.json", _edit_json(lambda d: {k: v for k, v in d.items() if k != "groups"})),
    "meta lacks loss": ("result.json", _edit_json(lambda d: {**d, "meta": {"task": "x"}})),
    "member lacks config": ("result.json", _edit_json(lambda d: {**d, "members": [{"index": 0}, *d["members"][1:]]})),
    "groups miss a member": (
        "result.json",
        _edit_json(lambda d: {**d, "groups": [{**d["groups"][0], "members": d["groups"][0]["members"][1:]}]}),
    ),
    "group members not ints": (
        "result.json",
        _edit_json(lambda d: {**d, "groups": [{**d["groups"][0], "members": "0"}]}),
    ),
    "json lacks format_version": (
        "result.json",
        _edit_json(lambda d: {k: v for k, v in d.items() if k != "format_version"}),
    ),
    "bad non_finite entry": ("result.json", _edit_json(lambda d: {**d, "non_finite": [["nowhere", "inf"]]})),
    "missing json": ("result.json", lambda folder: (folder / "result.json").unlink()),
    "truncated history": ("history.npz", _truncate("history.npz")),
    "garbage history": ("history.npz", _replace("history.npz", b"\x80\x04garbage that looks like a pickle")),
    "history of wrong shape": ("history.npz", lambda folder: np.savez(folder / "history.npz", loss=np.zeros(3))),
    "truncated params": ("params_0.npz", _truncate("params_0.npz")),
    "pickled params": ("params_0.npz", _pickled_npz),
    "params of wrong shape": ("params_0.npz", lambda folder: np.savez(folder / "params_0.npz", w=np.zeros((7, 2)))),
    "missing params": ("params_0.npz", lambda folder: (folder / "params_0.npz").unlink()),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_folder_raises_one_clear_error(result, tmp_path, case):
    file, damage = DAMAGE[case]
    path = result.save(tmp_path / "run")
    damage(path)
    with pytest.raises(DamagedResultError) as err:
        fl.load(path)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert str(path) in message and file in message
    assert "allow_pickle" not in message and "\n" not in message


def test_a_newer_format_is_named_not_called_damaged(result, tmp_path):
    path = result.save(tmp_path / "run")
    _edit_json(lambda d: {**d, "format_version": 99})(path)
    with pytest.raises(ValueError, match="unsupported format_version 99"):
        fl.load(path)


def test_load_of_a_path_without_a_result(tmp_path):
    for path in (tmp_path, tmp_path / "missing", UNWRITABLE):
        with pytest.raises(NotAResultFolderError, match="not a saved fastlstm result"):
            fl.load(path)
