"""Bad input to `fastlstm sweep`: one line on stderr naming the problem, exit 2, no
traceback, nothing written and nothing existing touched (issue 14).

Every case runs `main([...])` in-process in a fresh folder holding the same small files
(a good .npz, broken data files, broken configs, a folder that is not a run); the whole
tree is compared before and after. Cases that must fail before training replace
`fastlstm.api._sweep.train` with a function that fails the test if it is reached.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from guards import patch_train

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.controllers import Controller, Decision
from fastlstm.spec import SweepSpec

HAVE_AEON = importlib.util.find_spec("aeon") is not None
RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 4, 2)).astype(np.float32)
Y = np.arange(24) % 3  # classes 0, 1, 2
TINY_CONFIG = 'name = "tiny"\nseeds = 2\nepochs = 3\nbatch_size = 8\n[model]\nunits = 2\n[data]\npath = "data.npz"\n'
RUN_CONFIG = TINY_CONFIG.replace('"data.npz"', '"../data.npz"')  # in a run folder beside the data
IN_PROGRESS_MARKER = '{"kind": "run-in-progress", "format_version": 1}'


def _npz(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


FILES = {
    "data.npz": _npz(x=X, y=Y),
    "badkeys.npz": _npz(arr_0=X, y=Y),  # a positional np.savez: no name says what it holds
    "garbage.npz": b"this is not a zip archive",
    "x.npy": b"",  # written below with np.save
    "ragged.csv": b"id,step,a,label\n0,0,1.0,1\n0,1,2.0,1,9\n",
    "words.csv": b"id,step,a,label\n0,0,abc,1\n0,1,2.0,1\n",
    "latin1.csv": b"id,step,a,label\n0,0,\xff\xfe,1\n",
    "good.csv": b"id,step,a,label\n0,0,1.0,1\n0,1,2.0,1\n1,0,0.5,0\n1,1,0.1,0\n",
    "bad.ts": b"@problemName bad\n@classLabel banana\n@data\n1,2,3:a\n",  # classLabel: true or false
    "unknown.toml": b"seeds = 2\ncolour = 'red'\n",
    "wrongtype.toml": b"seeds = 2\nepochs = 'ten'\n",
    "range.toml": b"seeds = 2\n\nvalidation_split = 1.5\n",
    "units.toml": b"seeds = 2\n[model]\nlayers = 1\nunits = 0\n",
    "broken.toml": b"seeds = [\n",
    "notrun/notes.txt": b"mine",
    "finished/.fastlstm": b'{"kind": "run", "format_version": 1}',
    "finished/config.toml": RUN_CONFIG.encode(),
    "started/.fastlstm": IN_PROGRESS_MARKER.encode(),
    "started/config.toml": RUN_CONFIG.encode(),
    "damaged/.fastlstm": IN_PROGRESS_MARKER.encode(),
    "damaged/config.toml": RUN_CONFIG.encode(),
    "damaged/checkpoint/progress.json": b"{not json",
}


def _no_training(*args, **kwargs):
    raise AssertionError("training started although the command should have stopped before it")


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under `root`: what must not change."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, content in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "x.npy", X)
    return tmp_path


def run_cli(*args: str) -> int:
    """`fastlstm sweep ...` in-process; argparse's own refusals exit through SystemExit."""
    try:
        return main(["sweep", *args])
    except SystemExit as exit_:
        return exit_.code


def one_error_line(capsys, *expected: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    return err


def _reads_the_checkpoint(monkeypatch):
    """train() reads the checkpoint first: this case may reach train(), not the driver."""


def _without(module: str):
    """Make `import module` fail, as it does when an optional dependency is not installed."""
    return lambda monkeypatch: monkeypatch.setitem(sys.modules, module, None)


# (id, arguments, words the one line must hold, setup)
CASES = [
    # --- data files
    ("missing data file", ["--data", "nope.npz"], ["nope.npz", "no such file"], None),
    ("data path is a folder", ["--data", "notrun"], ["notrun", "is not a file"], None),
    ("npz of garbage", ["--data", "garbage.npz"], ["garbage.npz", "is not a NumPy file"], None),
    ("npz with wrong keys", ["--data", "badkeys.npz"], ["badkeys.npz", "cannot tell what key 'arr_0' holds"], None),
    ("npy without labels", ["--data", "x.npy"], ["labels", ".npy"], None),
    ("labels file missing", ["--data", "x.npy", "--labels", "y.npy"], ["y.npy", "no such file"], None),
    ("ragged csv row", ["--data", "ragged.csv"], ["ragged.csv", "Expected 4 fields in line 3, saw 5"], None),
    ("non-numeric csv column", ["--data", "words.csv"], ["words.csv", "column 'a' is not numeric"], None),
    ("csv not utf-8", ["--data", "latin1.csv"], ["latin1.csv", "UnicodeDecodeError"], None),
    ("unknown suffix", ["--data", "notrun/notes.txt"], ["notes.txt", "cannot tell the format"], None),
    (
        "ts with a bad header",
        ["--data", "bad.ts"],
        ["bad.ts", "not a valid .ts file"] if HAVE_AEON else ["aeon", "pip install 'fastlstm[data]'"],
        None,
    ),
    ("csv without pandas", ["--data", "good.csv"], ["'pandas'", "pip install 'fastlstm[data]'"], _without("pandas")),
    ("series format without a window", ["--data", "good.csv", "--format", "series"], ["data.format 'series'"], None),
    (
        "horizon without window",
        ["--data", "good.csv", "--horizon", "2"],
        ["data.horizon (--horizon) needs data.window (--window)"],
        None,
    ),
    (
        "labels beyond num_classes",
        ["--data", "data.npz", "--set", "model.num_classes=2"],
        ["label 2 is >= num_classes=2"],
        None,
    ),
    # --- config files
    ("config file missing", ["nothere.toml"], ["nothere.toml", "cannot read the config file"], None),
    ("config is not TOML", ["broken.toml"], ["broken.toml", "not valid TOML"], None),
    ("config unknown key", ["unknown.toml"], ["unknown.toml", "colour: unknown key", "(line 2)"], None),
    ("config wrong type", ["wrongtype.toml"], ["wrongtype.toml", "epochs must be a positive int", "(line 2)"], None),
    (
        "config out of range",
        ["range.toml"],
        ["range.toml", "validation_split must be a float in [0, 1)", "(line 3)"],
        None,
    ),
    (
        "config model value out of range",
        ["units.toml"],
        ["units.toml", "units must be a positive int", "(line 4)"],
        None,
    ),
    # --- --set and flags
    ("--set unknown key", ["--set", "colour=red"], ["--set 'colour=red'", "unknown key"], None),
    ("--set unknown nested key", ["--set", "model.cells=3"], ["--set 'model.cells=3'", "'cells'"], None),
    ("--set unknown grid key", ["--set", "grid.lr=[0.1]"], ["--set 'grid.lr=[0.1]'", "unknown key 'lr'"], None),
    ("--set without a value", ["--set", "epochs"], ["--set 'epochs'", "expected key=value"], None),
    ("--set into a number", ["--set", "epochs.size=3"], ["--set 'epochs.size=3'", "epochs is not a table"], None),
    ("--set out of range", ["--set", "seeds=0"], ["--set 'seeds=0'", "seeds must be a positive int"], None),
    ("--set not TOML", ["--set", "seeds=[1"], ["--set 'seeds=[1'", "is not a TOML value"], None),
    ("--set unknown optimizer option", ["--set", "optimizer.beta=3"], ["--set 'optimizer.beta=3'", "'beta'"], None),
    (
        "callback monitors what is not logged",
        ["--set", 'callbacks=[{type = "EarlyStopping", monitor = "val_loss"}]', "--set", "validation_split=0"],
        ["monitor='val_loss' is not logged"],
        None,
    ),
    ("flag out of range", ["--epochs", "0"], ["argument --epochs", "expected a positive integer"], None),
    ("unknown format", ["--format", "xls"], ["argument --format", "invalid choice"], None),
    # --- output folders
    (
        "--out cannot be written",
        ["--out", "/proc/fastlstm-test-run"],
        ["--out '/proc/fastlstm-test-run'", "cannot write"],
        None,
    ),
    ("--out is not ours", ["--out", "notrun", "--overwrite"], ["--out 'notrun'", "not a fastlstm result folder"], None),
    ("--out is a file", ["--out", "data.npz"], ["--out 'data.npz'", "not a folder"], None),
    ("--out exists", ["--out", "finished"], ["--out 'finished'", "exists; pass --overwrite"], None),
    # --- --resume
    ("--resume a missing folder", ["--resume", "nowhere"], ["--resume 'nowhere'", "no such folder"], None),
    ("--resume a folder that is not a run", ["--resume", "notrun"], ["--resume 'notrun'", "not a fastlstm run"], None),
    ("--resume a finished run", ["--resume", "finished"], ["--resume 'finished'", "finished; nothing to resume"], None),
    ("--resume before a checkpoint", ["--resume", "started"], ["--resume 'started'", "--overwrite"], None),
    ("--resume with other settings", ["--resume", "started", "--epochs", "2"], ["drop --epochs"], None),
    ("--resume a damaged checkpoint", ["--resume", "damaged"], ["progress.json", "checkpoint"], _reads_the_checkpoint),
]


@pytest.mark.parametrize(("args", "expected", "setup"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workdir, monkeypatch, capsys, args, expected, setup):
    if setup is _reads_the_checkpoint:
        monkeypatch.setattr("fastlstm.api._sweep.Driver", _no_training)
    else:
        patch_train(monkeypatch, _no_training)
        if setup is not None:
            setup(monkeypatch)
    before = snapshot(workdir)
    assert run_cli(*args, "--quiet") == 2
    one_error_line(capsys, *expected)
    assert snapshot(workdir) == before
    assert not (workdir / "runs").exists()


# --------------------------------------------------------------------------- real runs


class HaltAfterFirstEpoch(Controller):
    """Stands in for StopOnSignal: as if Ctrl-C came during the first epoch."""

    def on_epoch_end(self, event):
        return Decision(halt=True)


def interrupted_run(monkeypatch, capsys, *extra: str) -> Path:
    """`fastlstm sweep tiny.toml --out run --checkpoint-every 1`, halted after one epoch."""
    Path("tiny.toml").write_text(TINY_CONFIG)
    with monkeypatch.context() as patch:
        patch.setattr("fastlstm.cli._sweep.StopOnSignal", HaltAfterFirstEpoch)
        assert run_cli("tiny.toml", "--out", "run", "--checkpoint-every", "1", "--quiet", *extra) == 130
    assert "continue with: fastlstm sweep --resume run" in capsys.readouterr().err
    assert (Path("run") / "checkpoint" / "progress.json").is_file()
    return Path("run")


@pytest.mark.slow
def test_resume_refuses_a_changed_data_file_and_writes_nothing(workdir, monkeypatch, capsys):
    run = interrupted_run(monkeypatch, capsys)
    original = (workdir / "data.npz").read_bytes()
    (workdir / "data.npz").write_bytes(_npz(x=X + 1.0, y=Y))
    before = snapshot(workdir)
    assert run_cli("--resume", str(run), "--quiet") == 2
    one_error_line(capsys, "other data", "SHA-256 differs")
    assert snapshot(workdir) == before
    (workdir / "data.npz").write_bytes(original)  # the same data again: the run was resumable
    assert run_cli("--resume", str(run), "--quiet") == 0
    assert len(fl.load(run).members) == 2 and not (run / "checkpoint").exists()


def test_a_full_disk_at_the_final_save_keeps_the_checkpoint_and_resumes(workdir, monkeypatch, capsys):
    Path("tiny.toml").write_text(TINY_CONFIG)

    def disk_full(self, path, overwrite=False, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(fl.SweepResult, "save", disk_full)
        assert run_cli("tiny.toml", "--out", "run", "--quiet") == 2
    one_error_line(capsys, "--out 'run'", "could not save (No space left on device)", "fastlstm sweep --resume run")
    run = workdir / "run"
    assert json.loads((run / ".fastlstm").read_text())["kind"] == "run-in-progress"
    assert (run / "checkpoint" / "progress.json").is_file() and SweepSpec.load(run / "config.toml").name == "tiny"
    assert run_cli("--resume", "run", "--quiet") == 0  # every chunk was done: resume only writes the results
    assert len(fl.load(run).members) == 2 and not (run / "checkpoint").exists()


def test_a_full_disk_while_checkpointing_is_one_line(workdir, monkeypatch, capsys):
    import fastlstm.runtime._checkpoint as checkpoint

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    Path("tiny.toml").write_text(TINY_CONFIG)
    monkeypatch.setattr(checkpoint, "_save_arrays", disk_full)
    assert run_cli("tiny.toml", "--out", "run", "--checkpoint-every", "1", "--quiet") == 2
    one_error_line(capsys, "--out 'run'", "could not write the checkpoint (No space left on device)")
    assert not (workdir / "run").exists()  # nothing worth keeping was written


def test_an_interrupted_overwrite_never_mixes_the_old_results_with_the_new_run(workdir, monkeypatch, capsys):
    """--overwrite replaces the old folder whole when the new run starts: its config.toml
    and checkpoint never sit beside the old run's results."""
    old = workdir / "run"
    old.mkdir()
    (old / ".fastlstm").write_text('{"kind": "run", "format_version": 1}')
    (old / "result.json").write_text('{"old": true}')
    (old / "config.toml").write_text("# the old run\n")
    run = interrupted_run(monkeypatch, capsys, "--overwrite")
    assert sorted(p.name for p in run.iterdir()) == [".fastlstm", "checkpoint", "config.toml"]
    assert SweepSpec.load(run / "config.toml").name == "tiny"


def test_format_series_reads_one_series_by_its_suffix(tmp_path):
    """`--format series` (data.format = "series") is a CSV or Parquet of one series, cut into windows."""
    from fastlstm.api._sweep import read_spec_data

    rows = "\n".join(f"{i},{i * 0.5}" for i in range(10))
    (tmp_path / "load.csv").write_text(f"load,temperature\n{rows}\n")
    data = {"path": str(tmp_path / "load.csv"), "format": "series", "window": 3, "horizon": 1, "target": "load"}
    fit, loaded, _ = read_spec_data(SweepSpec.from_dict({"data": data}))
    assert fit["x"].shape == (7, 3, 2) and loaded.format == "csv"
    np.testing.assert_array_equal(fit["y"][:, 0], np.arange(3, 10))
