"""The run folder (DESIGN.md section 3): every file there, each readable by its own
rules (CSV, strict JSON, TOML), `fl.load` giving back the same result, and a write that
fails keeping the previous folder."""

import csv
import dataclasses
import hashlib
import importlib.metadata
import io
import json
import math
import subprocess

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm._common.files import MARKER, DamagedResultError, OutputPathError
from fastlstm.data import read_data
from fastlstm.results import _run_folder as run_folder_module
from fastlstm.results._run_folder import git_commit, write_run_folder

RUN_FILES = {
    MARKER,
    "config.toml",
    "environment.json",
    "history.csv",
    "history.npz",
    "members.csv",
    "importance.json",  # the fixture is a grid of 2 learning rates x 2 seeds: what moves the metric
    "params_0.npz",
    "plots",
    "report.html",
    "result.json",
    "summary.json",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    x, y = make_data(n=40)
    path = tmp_path_factory.mktemp("data") / "train.npz"
    np.savez(path, x=x, y=y)
    return read_data(path)


@pytest.fixture(scope="module")
def result(data):
    """Two seeds x two learning rates; an EarlyStopping that stops every member after its
    second epoch, so the history has untrained (NaN) epochs and the members a 'stopped' status."""
    return fl.sweep(
        **data.fit_arguments(),
        seeds=2,
        grid={"learning_rate": [1e-3, 1e-2]},
        model=fl.ModelSpec(units=4),
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        callbacks=[fl.EarlyStopping(monitor="loss", min_delta=100.0, patience=0)],
        verbose=0,
    )


@pytest.fixture(scope="module")
def run(result, data, tmp_path_factory):
    return result.save(tmp_path_factory.mktemp("runs") / "run", data=data)


def _reject_constant(name):
    raise AssertionError(f"the file holds {name}, which is not JSON")


def _strict_load(path):
    return json.loads(path.read_text(), parse_constant=_reject_constant)


def _csv_rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_a_saved_result_is_a_run_folder_with_every_file(run):
    assert {p.name for p in run.iterdir()} == RUN_FILES
    assert json.loads((run / MARKER).read_text())["kind"] == "run"


def test_members_csv_has_one_row_per_member_with_its_outcome(result, run):
    rows = _csv_rows(run / "members.csv")
    assert [int(r["index"]) for r in rows] == list(range(len(result.members))) == [0, 1, 2, 3]
    assert {r["status"] for r in rows} == {"stopped"}
    for row, member in zip(rows, result.members):
        assert row["status"] == member["status"]
        assert int(row["seed"]) == member["seed"] and int(row["config"]) == member["config"]
        assert int(row["init_seed"]) == member["init_seed"]
        assert float(row["learning_rate"]) == member["learning_rate"]
        assert int(row["epochs_trained"]) == member["epochs_trained"] == 2
        assert int(row["stopped_epoch"]) == member["stopped_epoch"]
        assert int(row["final_epoch"]) == member["final_epoch"]
    assert list(rows[0])[-5:] == ["status", "epochs_trained", "stopped_epoch", "best_epoch", "final_epoch"]


def test_members_csv_leaves_none_empty_and_keeps_infinity():
    text = run_folder_module.members_csv([{"index": 0, "clipnorm": math.inf, "best_epoch": None, "status": "ok"}])
    assert text.splitlines() == ["index,clipnorm,status,best_epoch", "0,inf,ok,"]


def test_history_csv_is_tidy_and_holds_the_trained_epochs_exactly(result, run):
    rows = _csv_rows(run / "history.csv")
    assert list(rows[0]) == ["member", "epoch", "metric", "value"]
    written = {(int(r["member"]), int(r["epoch"]), r["metric"]): np.float32(r["value"]) for r in rows}
    expected = {
        (m, e, name): values[m, e]
        for name, values in result.history.items()
        for m, e in zip(*np.nonzero(np.isfinite(values)))
    }
    assert len(written) == len(rows)  # no entry twice
    assert written == expected
    assert np.isnan(result.history["loss"]).any()  # the untrained third epoch is left out
    assert {e for _, e, _ in written} == {0, 1}


def test_summary_json_is_strict_json_of_the_summary_rows(result, tmp_path):
    history = {name: values.copy() for name, values in result.history.items()}
    for values in history.values():
        values[2:] = np.nan  # configuration 1 has no finite values: NaN statistics
    odd = dataclasses.replace(result, history=history)
    doc = _strict_load(odd.save(tmp_path / "run") / "summary.json")
    rows = odd.summary()
    assert math.isnan(rows[1]["val_loss_mean"]) and doc["rows"][1]["val_loss_mean"] is None
    assert doc["metrics"] == list(rows.metrics) and doc["grid_keys"] == ["learning_rate"]
    assert len(doc["rows"]) == 2
    for key, value in rows[0].items():
        assert doc["rows"][0][key] == (None if isinstance(value, float) and math.isnan(value) else value), key


def test_environment_json_has_versions_devices_and_the_data_file(result, data, run):
    env = _strict_load(run / "environment.json")
    for package in ("jax", "jaxlib", "flax", "optax", "numpy"):
        assert env["versions"][package] == importlib.metadata.version(package)
    assert env["versions"]["fastlstm"] == fl.__version__ and env["versions"]["python"]
    assert env["devices"]["count"] == len(jax.devices())
    assert env["devices"]["platform"] == jax.devices()[0].platform
    assert env["precision"] == result.meta["precision"] == "float32"
    source = data.path
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert env["data"]["sha256"] == digest and env["data"]["name"] == "train.npz"
    assert env["data"]["format"] == "npz" and env["data"]["path"].endswith("train.npz")
    assert env["written_at"].endswith("+00:00")
    assert "git_commit" in env and "not_written" not in env


def test_environment_without_a_data_file_says_in_memory_and_takes_extra_keys(result, tmp_path):
    path = write_run_folder(result, tmp_path / "run", extra_environment={"command": "fastlstm sweep"})
    env = _strict_load(path / "environment.json")
    assert env["data"] == {"source": "in-memory arrays", "sha256": None}
    assert env["command"] == "fastlstm sweep"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"versions": {}}, "key 'versions' must be a string other than"),
        ({"command": object()}, r"extra_environment\['command'\] is not JSON-ready"),
        ([("command", "x")], "extra_environment must be a dict"),
    ],
)
def test_bad_extra_environment_is_refused_before_writing(result, tmp_path, extra, match):
    with pytest.raises(ValueError, match=match):
        write_run_folder(result, tmp_path / "run", extra_environment=extra)
    assert list(tmp_path.iterdir()) == []


def test_data_that_is_not_loaded_data_is_refused(result, tmp_path):
    with pytest.raises(ValueError, match=r"data must be a fastlstm\.data\.LoadedData"):
        result.save(tmp_path / "run", data="train.npz")
    assert list(tmp_path.iterdir()) == []


def test_config_toml_parses_back_to_the_spec(result, run):
    text = (run / "config.toml").read_text()
    assert fl.SweepSpec.from_toml(text) == result.spec
    assert fl.SweepSpec.from_toml(text).to_dict() == result.spec.to_dict()


def test_load_gives_back_the_same_result(result, run):
    loaded = fl.load(run)
    assert loaded.history.keys() == result.history.keys()
    for name in result.history:
        np.testing.assert_array_equal(loaded.history[name], result.history[name])
    jax.tree.map(np.testing.assert_array_equal, loaded.params, result.params)
    assert loaded.members == result.members and loaded.configs == result.configs
    assert loaded.meta == result.meta
    assert loaded.spec == result.spec
    x, _ = make_data(n=7, seed=3)
    np.testing.assert_array_equal(loaded.predict(x), result.predict(x))


def test_a_write_that_fails_midway_keeps_the_earlier_run_folder(result, tmp_path, monkeypatch):
    path = result.save(tmp_path / "run")
    before = {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_folder_module, "summary_json", disk_full)
    with pytest.raises(OSError, match="No space left"):
        result.save(path, overwrite=True)
    monkeypatch.undo()
    assert {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_an_existing_folder_fastlstm_did_not_write_is_refused(result, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputPathError, match="not a fastlstm result folder"):
            write_run_folder(result, project, overwrite=overwrite)
    assert [p.name for p in project.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


def test_refusals_can_be_worded_for_the_command_line(result, tmp_path):
    path = write_run_folder(result, tmp_path / "run")
    with pytest.raises(OutputPathError, match=r"^--out '.*run': exists; pass --overwrite to replace it$"):
        write_run_folder(result, path, name="--out", overwrite_hint="pass --overwrite")


def test_a_damaged_config_toml_is_named(result, tmp_path):
    path = result.save(tmp_path / "run")
    (path / "config.toml").write_text("seeds = [\n")
    with pytest.raises(DamagedResultError, match=r"'.*run': config.toml is damaged \(not valid TOML"):
        fl.load(path)
    (path / "config.toml").write_text("seeds = 0\nunknown_key = 1\n")
    with pytest.raises(DamagedResultError, match=r"config\.toml is damaged") as err:
        fl.load(path)
    assert "\n" not in str(err.value)


def test_a_folder_without_config_toml_loads_without_a_spec(result, tmp_path):
    path = result.save(tmp_path / "run")
    for name in ("config.toml", "members.csv", "history.csv", "summary.json", "environment.json", MARKER):
        (path / name).unlink()  # what SweepResult.save wrote before run folders
    loaded = fl.load(path)
    assert loaded.spec is None and loaded.members == result.members


@pytest.mark.slow
def test_no_clipping_in_a_grid_is_written_as_inf_and_read_back_as_none(tmp_path):
    x, y = make_data(n=24, timesteps=4)
    result = fl.sweep(x, y, seeds=1, grid={"clipnorm": [None, 1.0]}, model=fl.ModelSpec(units=2), epochs=1, verbose=0)
    path = result.save(tmp_path / "run")
    assert "inf" in (path / "config.toml").read_text()
    assert fl.load(path).spec == result.spec and result.spec.grid == {"clipnorm": [None, 1.0]}


def test_git_commit_is_none_without_git_or_outside_fastlstm_checkout(tmp_path, monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory: 'git'")

    def hung_git(*args, **kwargs):
        raise subprocess.TimeoutExpired("git", kwargs["timeout"])

    for failure in (no_git, hung_git):
        with monkeypatch.context() as patch:
            patch.setattr(run_folder_module.subprocess, "run", failure)
            assert git_commit() is None
    assert git_commit(tmp_path) is None  # not a checkout at all
    other = tmp_path / "project"
    (other / "venv" / "fastlstm").mkdir(parents=True)
    if subprocess.run(["git", "init", "-q", str(other)], check=False).returncode != 0:
        pytest.skip("git is not usable here")
    _empty_commit(other)
    assert git_commit(other / "venv" / "fastlstm") is None  # someone else's repository


def _empty_commit(repo) -> None:
    """One commit in a fresh repository (a HEAD to record), by a throwaway author."""
    author = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "-C", str(repo), *author, "commit", "-q", "--allow-empty", "-m", "x"], check=True)


def test_git_commit_names_head_of_a_fastlstm_checkout(tmp_path):
    package = tmp_path / "repo" / "fastlstm"
    package.mkdir(parents=True)
    repo = package.parent
    if subprocess.run(["git", "init", "-q", str(repo)], check=False).returncode != 0:
        pytest.skip("git is not usable here")
    (package / "__init__.py").write_text("")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"], check=True
    )
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert git_commit(package) == head.stdout.strip()


def test_analysis_documents_are_saved_as_their_files_and_loaded_back(result, tmp_path):
    analysis = {"findings": {"findings": [{"id": "data.nan", "value": math.nan}]}, "lr_range": {"lrs": [1e-3, 1e-2]}}
    annotated = dataclasses.replace(result, analysis=analysis)
    folder = annotated.save(tmp_path / "run")
    assert _strict_load(folder / "findings.json") == {"findings": [{"id": "data.nan", "value": None}]}
    assert not (folder / "variance_sources.json").exists()
    saved_findings = {"findings": [{"id": "data.nan", "value": None}]}
    loaded = fl.load(folder).analysis
    assert loaded.pop("importance")["method"] == "anova"  # added by save: a grid with seeds
    assert loaded == {"findings": saved_findings, "lr_range": {"lrs": [1e-3, 1e-2]}}
    assert set(annotated.analysis) == {"findings", "lr_range"}  # the caller's result is left as it was


def test_unknown_or_unserialisable_analysis_is_refused_before_writing(result, tmp_path):
    for analysis, words in (({"notes": {}}, "unknown keys ['notes']"), ({"lr_range": {"x": object()}}, "lr_range")):
        with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
            dataclasses.replace(result, analysis=analysis).save(tmp_path / "run")
        assert not (tmp_path / "run").exists()


def test_the_users_project_commit_is_recorded_beside_fastlstms_own(result, tmp_path, monkeypatch):
    """Issue 26 item 19: "git commit" was fastlstm's checkout, never the user's project."""
    project = tmp_path / "project"
    project.mkdir()
    if subprocess.run(["git", "init", "-q", str(project)], check=False).returncode != 0:
        pytest.skip("git is not usable here")
    _empty_commit(project)
    head = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(project)
    path = write_run_folder(result, tmp_path / "run")
    env = _strict_load(path / "environment.json")
    assert env["working_directory"] == {"path": str(project), "git_commit": head}
    html = (path / "report.html").read_text()
    assert "fastlstm&#x27;s git commit" in html or "fastlstm's git commit" in html
    assert f"{head} (started in {project})" in html
