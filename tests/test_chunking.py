"""Members sharded over devices and trained in chunks give the numbers of one batch."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm.runtime._devices as devices_module
import fastlstm.runtime._driver as driver
import fastlstm.runtime._memory as memory

COMMON = dict(model=fl.ModelSpec(units=8), batch_size=16, epochs=3, validation_split=0.2, verbose=0)
SEEDS = [0, 1, 2, 3, 4]  # odd, so two devices need a padded copy


@pytest.fixture(scope="module")
def data():
    return make_data(n=90)


@pytest.fixture(scope="module")
def one_batch(data):
    return fl.sweep(*data, seeds=SEEDS, grid={"learning_rate": [1e-3, 1e-2]}, **COMMON)


def _same(a: fl.SweepResult, b: fl.SweepResult) -> None:
    for name in a.history:
        np.testing.assert_allclose(a.history[name], b.history[name], rtol=1e-5, atol=1e-6, err_msg=name)
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), a.params, b.params)
    assert [m["seed"] for m in a.members] == [m["seed"] for m in b.members]


def test_the_test_session_has_two_host_devices():
    assert len(jax.local_devices()) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("size", [1, 3, 4])
def test_chunked_equals_unchunked(data, one_batch, size):
    chunked = fl.sweep(*data, seeds=SEEDS, grid={"learning_rate": [1e-3, 1e-2]}, members_per_chunk=size, **COMMON)
    _same(one_batch, chunked)


@pytest.mark.slow
def test_one_device_equals_sharded(data, one_batch, monkeypatch):
    def single(n_members, devices=None):
        return jax.sharding.Mesh(np.array(jax.local_devices()[:1]), (devices_module.MEMBER_AXIS,))

    monkeypatch.setattr("fastlstm.runtime._chunk_run.member_mesh", single)
    _same(one_batch, fl.sweep(*data, seeds=SEEDS, grid={"learning_rate": [1e-3, 1e-2]}, **COMMON))


def test_small_memory_budget_chunks_automatically(data, one_batch, monkeypatch):
    clock = fl.controllers.EpochClock()
    monkeypatch.setattr(driver, "activation_bytes_per_member", lambda **sizes: 1000)
    monkeypatch.setattr(memory, "available_bytes", lambda: int(4.5 * 1000 / memory.BUDGET_FRACTION))
    _same(one_batch, fl.sweep(*data, seeds=SEEDS, grid={"learning_rate": [1e-3, 1e-2]}, controllers=[clock], **COMMON))
    assert [c["members"] for c in clock.chunks] == [4, 4, 2]  # 4.5 fit, rounded down to a multiple of the 2 devices


def test_activation_estimate_is_linear_in_its_sizes():
    base = dict(timesteps=64, features=8, units=64, layers=1, batch_size=64, n_params=0)
    one = memory.activation_bytes_per_member(**base)
    assert memory.activation_bytes_per_member(**{**base, "timesteps": 128}) == pytest.approx(2 * one, rel=0.01)
    assert memory.activation_bytes_per_member(**{**base, "batch_size": 32}) == pytest.approx(one / 2, rel=0.01)
    assert one > 64 * 64 * 7 * 64 * 4  # at least the saved gates and states


@pytest.mark.parametrize("size", [0, -1, 2.5, True, "4"])
def test_bad_members_per_chunk(data, size):
    with pytest.raises(ValueError, match="members_per_chunk"):
        fl.sweep(*data, seeds=2, members_per_chunk=size, **COMMON)


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "expected"), [("off", 1)])  # "3": tests/test_fresh_process.py
def test_cpu_device_count_follows_the_environment(setting, expected):
    code = "import fastlstm, jax; print(len(jax.devices()))"
    env = {"FASTLSTM_CPU_DEVICES": setting, "JAX_PLATFORMS": "cpu", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == expected


@pytest.mark.slow
def test_a_device_count_the_user_chose_is_kept():
    code = "import jax; jax.config.update('jax_num_cpu_devices', 1); import fastlstm; print(len(jax.devices()))"
    env = {"FASTLSTM_CPU_DEVICES": "4", "JAX_PLATFORMS": "cpu", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_cpu_chunks_keep_the_step_working_set_in_half_the_l2_cache():
    w1 = memory.step_bytes_per_member(features=8, units=64, layers=1, batch_size=64)
    assert memory.cache_friendly_members_per_device(w1, cache_bytes=2 << 20) == 2
    assert memory.cache_friendly_members_per_device(w1, cache_bytes=1 << 20) == 1
    assert memory.cache_friendly_members_per_device(10 * w1, cache_bytes=1 << 20) == 1  # never zero
    assert memory.step_bytes_per_member(features=8, units=64, layers=2, batch_size=64) > 1.9 * w1


@pytest.mark.slow
def test_a_smaller_last_chunk_reuses_its_groups_compiled_epoch(data, one_batch, caplog):
    """10 members at most 4 at a time: chunks 4 + 3 + 3 (not 4 + 4 + 2), all padded to 4 slots,
    so one epoch program is compiled, and the members' numbers are those of one batch."""
    model = fl.ModelSpec(units=7)  # a shape no other test compiled
    jax.config.update("jax_log_compiles", True)  # global: the epoch program compiles in a worker thread
    try:
        with caplog.at_level("WARNING"):
            chunked = fl.sweep(
                *data,
                seeds=SEEDS,
                grid={"learning_rate": [1e-3, 1e-2]},
                members_per_chunk=4,
                **{**COMMON, "model": model},
            )
    finally:
        jax.config.update("jax_log_compiles", False)
    epoch_compiles = [r for r in caplog.records if "Compiling jit(epoch)" in r.getMessage()]
    assert len(epoch_compiles) == 1
    alone = fl.sweep(*data, seeds=SEEDS, grid={"learning_rate": [1e-3, 1e-2]}, **{**COMMON, "model": model})
    _same(alone, chunked)
