"""Several processes on localhost train one sweep: the numbers of one process with as many devices.

Each process runs tests/distributed_worker.py (or the CLI) with one CPU device; JAX's
distributed runtime joins them (gloo collectives between CPU processes) and process 0
saves the result. Every subprocess has a timeout, so a process that waits forever for a
peer fails the test instead of hanging CI.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import fastlstm as fl
import fastlstm.runtime._chunk_run as chunk_run_module
import fastlstm.runtime._driver as driver_module
from fastlstm import distributed
from fastlstm.cli import EXIT_INTERRUPTED
from fastlstm.cli import main as cli_main
from fastlstm.runtime._checkpoint import load_resume
from fastlstm.runtime._devices import select_devices
from fastlstm.spec._plan import STREAMS

WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_", "SLURM_", "OMPI_"))}
    root = str(Path(__file__).resolve().parents[1])
    env.update(
        FASTLSTM_CPU_DEVICES=str(devices),
        FASTLSTM_CACHE_DIR="off",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join([root, env.get("PYTHONPATH", "")]),
    )
    return env


def _run_all(commands: list[list[str]], devices: int | list[int], cwd: Path) -> list[subprocess.CompletedProcess]:
    """Start every command at once (they wait for each other, or run side by side), wait
    for all, never hang. `devices`: every process's CPU devices, or one number per command."""
    per_command = devices if isinstance(devices, list) else [devices] * len(commands)
    procs = [
        subprocess.Popen(c, env=_env(d), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c, d in zip(commands, per_command, strict=True)
    ]
    done = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT_S)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"a process did not finish in {TIMEOUT_S} s: {commands}")
    return done


def _check(results: list[subprocess.CompletedProcess], expected: int = 0) -> None:
    for r in results:
        tail = "\n".join(line for line in r.stderr.splitlines() if not line.startswith(("I0000", "W0000")))[-3000:]
        assert r.returncode == expected, f"{r.args} exited {r.returncode}:\n{tail}"


def _worker(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), str(out), *extra]


def _processes(n: int, out: Path, *extra: str) -> list[list[str]]:
    address = f"localhost:{_free_port()}"
    return [
        _worker(out, *extra, "--coordinator", address, "--num-processes", str(n), "--process-id", str(i))
        for i in range(n)
    ]


def _numbers(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _assert_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    differ = [k for k in a if not np.array_equal(a[k], b[k], equal_nan=True)]
    assert not differ, f"not bit-identical: {differ}"


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """One process with two devices and two joined processes with one each, all three
    started at once (the two wait for each other; the one runs beside them)."""
    folder = tmp_path_factory.mktemp("reference")
    one, two = folder / "one.npz", folder / "two.npz"
    _check(_run_all([_worker(one), *_processes(2, two)], devices=[2, 1, 1], cwd=folder))
    return {"one": _numbers(one), "two": _numbers(two)}


@pytest.fixture(scope="module")
def one_process_two_devices(reference_runs) -> dict[str, np.ndarray]:
    return reference_runs["one"]


@pytest.fixture(scope="module")
def two_processes(reference_runs) -> dict[str, np.ndarray]:
    return reference_runs["two"]


@pytest.mark.slow
def test_two_processes_equal_one_process_with_two_devices(one_process_two_devices, two_processes):
    """Members 0..9 (padded to 12 over 2 devices) land on the same devices either way: the
    same programs on the same members, so the same bits - history and parameters."""
    assert int(two_processes["devices"]) == 2  # the mesh spanned both processes' devices
    assert two_processes["history/loss"].shape == (10, 3)  # the padded copies are dropped
    _assert_identical(one_process_two_devices, two_processes)


@pytest.mark.slow
def test_resume_across_processes_is_bit_identical(tmp_path, two_processes):
    """Halted mid-sweep (process 0 writes the checkpoint), resumed by two new processes
    (both read it): the numbers of the sweep that was never interrupted."""
    out, checkpoint = tmp_path / "out.npz", str(tmp_path / "checkpoint")
    _check(_run_all(_processes(2, out, "--checkpoint", checkpoint, "--halt-after", "4"), 1, tmp_path), expected=3)
    assert (tmp_path / "checkpoint" / "progress.json").is_file() and not out.exists()
    _check(_run_all(_processes(2, out, "--checkpoint", checkpoint, "--resume"), 1, tmp_path))
    _assert_identical(two_processes, _numbers(out))


@pytest.mark.slow
def test_four_host_devices_equal_one_within_1e_6(tmp_path):
    outs = {devices: tmp_path / f"{devices}.npz" for devices in (1, 4)}
    _check(_run_all([_worker(out) for out in outs.values()], devices=list(outs), cwd=tmp_path))  # side by side
    runs = {devices: _numbers(out) for devices, out in outs.items()}
    assert int(runs[4].pop("devices")) == 4 and int(runs[1].pop("devices")) == 1
    for key, value in runs[1].items():
        np.testing.assert_allclose(runs[4][key], value, rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.slow
def test_a_subset_of_devices_equals_a_process_with_that_many(tmp_path, one_process_two_devices):
    outs = {"alone": tmp_path / "alone.npz", "subset": tmp_path / "subset.npz"}
    commands = [_worker(outs["alone"]), _worker(outs["subset"], "--devices", "1")]
    _check(_run_all(commands, devices=[1, 2], cwd=tmp_path))  # side by side
    alone, subset = _numbers(outs["alone"]), _numbers(outs["subset"])
    _assert_identical(alone, subset)


@pytest.mark.slow
def test_cli_two_processes_write_one_run_folder(tmp_path):
    """`fastlstm sweep --coordinator ... --num-processes 2 --process-id I` on two processes:
    process 0 writes the run folder, process 1 nothing; the numbers are one process's."""
    flags = ["--samples", "64", "--timesteps", "6", "--units", "4", "--epochs", "2", "--seeds", "3", "--quiet"]
    address = f"localhost:{_free_port()}"
    cli = [sys.executable, "-m", "fastlstm.cli", "sweep", *flags]
    two = [
        [*cli, "--out", "two", "--coordinator", address, "--num-processes", "2", "--process-id", str(i)]
        for i in range(2)
    ]
    _check(_run_all([*two, [*cli, "--out", "one"]], devices=[1, 1, 2], cwd=tmp_path))  # the two and the one at once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # nothing else written
    a, b = fl.load(tmp_path / "one"), fl.load(tmp_path / "two")
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)


STOP_S = 30  # seconds every process has to stop after the signal (JAX's heartbeat timeout is 100)


def _wait_for(path: Path, procs: list[subprocess.Popen], timeout: float) -> None:
    """Until `path` exists; fail if a process ended first or it takes `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        ended = [p.args for p in procs if p.poll() is not None]
        if ended or time.monotonic() > deadline:
            pytest.fail(f"{path.name} never appeared (ended early: {ended})")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_signal_to_one_process_stops_every_process_with_the_checkpoint(tmp_path):
    """SIGTERM reaches process 1 alone (the one that writes nothing): both processes halt
    after the same epoch within seconds - not after JAX's heartbeat timeout - process 0
    saves a checkpoint that loads, and both say in one line how to resume."""
    flags = ["--samples", "64", "--timesteps", "6", "--units", "4", "--seeds", "2", "--quiet"]
    address = f"localhost:{_free_port()}"
    cli = [sys.executable, "-m", "fastlstm.cli", "sweep", *flags, "--epochs", "100000", "--checkpoint-every", "1"]
    join = ["--out", "run", "--coordinator", address, "--num-processes", "2"]
    env = _env(1)
    procs = [
        subprocess.Popen(
            [*cli, *join, "--process-id", str(i)], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for i in range(2)
    ]
    try:
        _wait_for(tmp_path / "run" / "checkpoint" / "progress.json", procs, TIMEOUT_S)
        procs[1].send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=STOP_S)[1] for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"a process still ran {STOP_S} s after process 1 got SIGTERM")
    finally:
        for p in procs:
            p.kill()
    for p, err in zip(procs, errors, strict=True):
        assert p.returncode == EXIT_INTERRUPTED, err[-2000:]
        assert err.splitlines()[-1] == "fastlstm sweep: interrupted; continue with: fastlstm sweep --resume run"
    folder = tmp_path / "run" / "checkpoint"
    progress = json.loads((folder / "progress.json").read_text())
    resume = load_resume(folder, progress["digest"])
    assert resume.current is not None and resume.current[1] == progress["current"]["epochs_done"] >= 1


@pytest.mark.slow
def test_processes_given_bad_flags_fail_cleanly(tmp_path):
    """Bad flags fail before a process waits for its peers: one line, exit 2, no hang."""
    address = f"localhost:{_free_port()}"
    cli = [sys.executable, "-m", "fastlstm.cli", "sweep", "--samples", "64", "--timesteps", "6", "--quiet"]
    join = ["--coordinator", address, "--num-processes", "2"]
    bad = [[*cli, "--out", "x", *join, "--process-id", "0", "--devices", "0,0"], [*cli, "--out", "x", *join]]
    results = _run_all(bad, devices=1, cwd=tmp_path)
    assert results[0].returncode == 2 and "listed twice" in results[0].stderr.splitlines()[-1]
    assert results[1].returncode == 2 and "--process-id" in results[1].stderr.splitlines()[-1]
    assert not (tmp_path / "x").exists()


def test_select_devices():
    local = jax.local_devices()
    assert select_devices() == tuple(local)
    assert select_devices(1) == (local[0],)
    assert select_devices([1]) == (local[1],)
    assert select_devices(np.array([1, 0])) == (local[1], local[0])
    assert select_devices(np.int64(1)) == (local[0],)
    for bad in (0, 3, [], [0, 0], [2], ["0"], True, "1", 1.5):
        with pytest.raises(ValueError, match="devices"):
            select_devices(bad)


def _record_meshes(monkeypatch, *modules) -> list[tuple]:
    """The devices of every member mesh `modules` build, recorded as the sweep runs."""
    meshes = []

    def spy(original):
        def build(n_members, devices=None):
            mesh = original(n_members, devices)
            meshes.append(tuple(mesh.devices.flat))
            return mesh

        return build

    for module in modules:
        monkeypatch.setattr(module, "member_mesh", spy(module.member_mesh))
    return meshes


@pytest.mark.slow
def test_sweep_devices_shards_over_the_chosen_devices(monkeypatch, small_data):
    meshes = _record_meshes(monkeypatch, chunk_run_module)
    fl.sweep(*small_data, model=fl.ModelSpec(units=4), seeds=3, epochs=1, verbose=0, devices=[1])
    assert meshes and all(m == (jax.local_devices()[1],) for m in meshes)
    with pytest.raises(ValueError, match="devices"):
        fl.sweep(*small_data, model=fl.ModelSpec(units=4), seeds=3, epochs=1, verbose=0, devices=5)


def test_streamed_sweep_devices_shards_over_the_chosen_devices(monkeypatch, small_data, tmp_path):
    import fastlstm.runtime._streaming as streaming_module

    meshes = _record_meshes(monkeypatch, chunk_run_module, streaming_module)
    x, y = small_data
    np.save(tmp_path / "x.npy", np.asarray(x, np.float32))
    x_mapped = np.load(tmp_path / "x.npy", mmap_mode="r", allow_pickle=False)
    fl.sweep(x_mapped, y, model=fl.ModelSpec(units=4), seeds=3, epochs=1, verbose=0, devices=[1], stream=True)
    assert meshes and all(m == (jax.local_devices()[1],) for m in meshes)


def test_cli_rejects_half_the_distributed_flags(capsys):
    assert cli_main(["sweep", "--coordinator", "localhost:1234", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--num-processes, --process-id" in err[0]


@pytest.mark.parametrize("text", ["0,x", "-1", "0", "a", "1,1"])
def test_cli_rejects_bad_devices(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["sweep", "--devices", text])
    assert exit_info.value.code == 2 and "--devices" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"coordinator": "localhost"}, "coordinator"),
        ({"num_processes": 0}, "num_processes"),
        ({"process_id": -1}, "process_id"),
        ({"num_processes": 2, "process_id": 2}, "process_id"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_initialize_names_a_bad_argument(kwargs, name):
    with pytest.raises(distributed.DistributedError, match=name):
        distributed.initialize(**kwargs)


def test_initialize_after_jax_started_is_a_clear_error():
    jax.devices()  # this test process has started JAX
    with pytest.raises(distributed.DistributedError, match="before anything else uses JAX"):
        distributed.initialize("localhost:1234", 2, 0)


def test_no_cluster_is_detected_here(monkeypatch):
    for name in [k for k in os.environ if k.startswith(("SLURM_", "OMPI_"))]:
        monkeypatch.delenv(name)
    assert distributed.detected_cluster() is None
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    for name, value in [("STEP_NODELIST", "n[1-2]"), ("NTASKS", "2"), ("PROCID", "1"), ("LOCALID", "0")]:
        monkeypatch.setenv(f"SLURM_{name}", value)
    assert distributed.detected_cluster() == "slurm"
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert distributed.detected_cluster() is None  # one task: nothing to join


def test_member_keys_are_one_fold_in_per_member_and_stream():
    """The vectorised keys are the per-member `fold_in(PRNGKey(seed), stream)`, bit for bit,
    for small and large seeds (PRNGKey keeps the low 32 bits without x64)."""

    class Member:
        def __init__(self, seeds):
            self.stream_seeds = seeds

    class Plan:
        augment = (object(),)  # a sweep that augments: all four streams
        members = tuple(
            Member({s: seed + k for k, s in enumerate(STREAMS)})
            for seed in (0, 1, 2**31 - 1, 2**31, 2**32 + 5, 2**40 + 3, 2**63 - 4)
        )

    expected = [
        [np.asarray(jax.random.fold_in(jax.random.PRNGKey(m.stream_seeds[s]), k)) for k, s in enumerate(STREAMS)]
        for m in Plan.members
    ]
    got = driver_module.member_keys(Plan, range(len(Plan.members)))
    np.testing.assert_array_equal(got, np.asarray(expected, np.uint32))
    assert got.dtype == np.uint32 and got.shape == (len(Plan.members), len(STREAMS), 2)
