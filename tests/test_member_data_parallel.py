"""Fewer members than devices: a member's batch rows are split over the spare devices
(fastlstm/runtime/_devices.py `data_mesh`, fastlstm/engine/_program.py `split_value_and_grad`)
with one device's numbers, within float32 reassociation."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.runtime._chunk_run import ChunkRun

TOL = 1e-6
COMMON = dict(model=fl.ModelSpec(units=8), epochs=3, verbose=0, validation_split=0.2)


def _diff(a, b) -> float:
    """The largest difference of two results' histories (NaN where neither trained) and parameters."""
    for k in a.history:
        np.testing.assert_array_equal(np.isnan(a.history[k]), np.isnan(b.history[k]))
    history = max(float(np.nanmax(np.abs(np.asarray(a.history[k]) - np.asarray(b.history[k])))) for k in a.history)
    params = max(float(np.max(np.abs(p - q))) for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)))
    return max(history, params)


@pytest.fixture
def meshes(monkeypatch):
    """The meshes every ChunkRun of the test used, as {axis: size} dicts."""
    seen = []
    init = ChunkRun.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(dict(self.mesh.shape))

    monkeypatch.setattr(ChunkRun, "__init__", recording)
    return seen


def test_two_devices(meshes):
    assert len(jax.devices()) == 2  # tests/conftest.py: FASTLSTM_CPU_DEVICES=2


@pytest.mark.parametrize(
    "extra",
    [
        dict(batch_size=13),  # odd: 7 + 6 rows, the last partial batch 1 row (66 training rows)
        dict(batch_size=16, sample_weight="uniform"),
        dict(batch_size=10, pad=True),  # ragged sequences: a mask
        dict(batch_size=13, callbacks="early_stopping"),
    ],
    ids=["odd-batch", "sample-weight", "mask", "early-stopping"],
)
@pytest.mark.slow
def test_one_member_on_two_devices_equals_one_device(extra, meshes):
    x, y = make_data(n=83)
    kwargs = {**COMMON, **extra, "seeds": 1}
    if kwargs.pop("sample_weight", None):
        kwargs["sample_weight"] = np.random.default_rng(1).uniform(0.5, 2.0, len(y)).astype(np.float32)
    if kwargs.pop("pad", None):
        lengths = np.random.default_rng(2).integers(3, 9, len(y))
        x = [row[:n] for row, n in zip(x, lengths)]
    if kwargs.pop("callbacks", None):
        kwargs["callbacks"] = [
            fl.EarlyStopping(monitor="val_loss", patience=0, min_delta=1.0, restore_best_weights=True)
        ]
    split = fl.sweep(x, y, **kwargs)
    one = fl.sweep(x, y, devices=1, **kwargs)
    assert meshes == [{"members": 1, "data": 2}, {"members": 1}]  # the split path was taken, then one device
    assert _diff(split, one) <= TOL
    if "callbacks" in kwargs:
        assert np.isnan(split.history["loss"][0, -1])  # it stopped early, as on one device


@pytest.mark.slow
def test_layer_list_model_split_equals_one_device(meshes):
    """A layer-list model (bidirectional LSTM under a stacked one, a dense head) splits too."""
    x, y = make_data(n=70)
    layers = [fl.layers.Bidirectional(fl.layers.LSTM(5, return_sequences=True)), fl.layers.LSTM(4)]
    kwargs = {**COMMON, "model": fl.ModelSpec(layers=layers), "seeds": 1, "batch_size": 9}
    split = fl.sweep(x, y, **kwargs)
    one = fl.sweep(x, y, devices=1, **kwargs)
    assert meshes == [{"members": 1, "data": 2}, {"members": 1}]
    assert _diff(split, one) <= TOL


@pytest.mark.slow
def test_dropout_falls_back_to_one_device_per_member(meshes):
    """Dropout masks depend on the batch's shape: such a program is not split (same numbers)."""
    x, y = make_data(n=83)
    kwargs = {**COMMON, "seeds": 1, "batch_size": 13, "grid": {"dropout": [0.3]}}
    split = fl.sweep(x, y, **kwargs)
    one = fl.sweep(x, y, devices=1, **kwargs)
    assert meshes == [{"members": 1}, {"members": 1}]
    assert _diff(split, one) == 0.0
    layered = {**kwargs, "grid": None, "model": fl.ModelSpec(layers=[fl.layers.LSTM(4, recurrent_dropout=0.2)])}
    fl.sweep(x, y, **layered)
    assert meshes[-1] == {"members": 1}


def test_off_switch(meshes, monkeypatch):
    monkeypatch.setenv("FASTLSTM_DATA_PARALLEL", "off")
    x, y = make_data(n=40)
    fl.sweep(x, y, **{**COMMON, "seeds": 1, "batch_size": 8, "epochs": 1})
    assert meshes == [{"members": 1}]


@pytest.mark.slow
def test_compiled_epoch_sums_the_gradient_once_per_batch():
    """The split program's HLO: the gradient's all-reduce is outside the recurrence's
    timestep loops (one per optimizer step), and the members' program has none."""
    from fastlstm.benchmark.epoch import capture_epoch
    from fastlstm.benchmark.workloads import WORKLOADS

    run = capture_epoch(WORKLOADS["tiny"], members=1).run
    assert dict(run.mesh.shape) == {"members": 1, "data": 2}
    text = run._epoch.as_text()
    reduces = [line for line in text.splitlines() if " all-reduce(" in line]
    assert reduces, "no all-reduce: the rows were not split"
    assert not [line for line in reduces if "lstm" in line]  # none per timestep
    grads = [line for line in reduces if line.split("=")[1].strip().startswith("(")]
    assert len(grads) == 1  # the loss and every parameter's gradient in one tuple all-reduce

    two = capture_epoch(WORKLOADS["tiny"], members=2).run
    assert dict(two.mesh.shape) == {"members": 2}
    assert " all-reduce(" not in two._epoch.as_text()


_FOUR_DEVICES = r"""
import json, sys
import jax, numpy as np
sys.path.insert(0, {tests!r})
from conftest import make_data
import fastlstm as fl
x, y = make_data(n=61)
kw = dict(model=fl.ModelSpec(units=6), epochs=2, verbose=0, seeds=2, batch_size=11, validation_split=0.2)
split = fl.sweep(x, y, **kw)
one = fl.sweep(x, y, devices=1, **kw)
hist = max(float(np.max(np.abs(split.history[k] - one.history[k]))) for k in split.history)
par = max(float(np.max(np.abs(p - q))) for p, q in zip(jax.tree.leaves(split.params), jax.tree.leaves(one.params)))
print(json.dumps({{"devices": len(jax.devices()), "diff": max(hist, par)}}))
"""


@pytest.mark.slow
def test_two_members_on_four_devices_equal_one_device():
    """A (members=2, data=2) mesh: each member on its own pair of devices."""
    env = {**os.environ, "FASTLSTM_CPU_DEVICES": "4"}
    code = _FOUR_DEVICES.format(tests=os.path.dirname(__file__))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["devices"] == 4
    assert got["diff"] <= TOL
