"""Many members, many chunks: nothing per chunk or per member that a group could do once."""

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm.runtime._chunk_run as chunk_run
import fastlstm.runtime._driver as driver

COMMON = dict(model=fl.ModelSpec(units=5), batch_size=16, epochs=2, verbose=0)


@pytest.fixture(scope="module")
def data():
    return make_data(n=48)


def test_a_groups_chunks_trace_and_place_once(data, monkeypatch):
    """6 chunks of one group: the epoch program is traced and lowered, and the data placed
    on the devices, for the first chunk only (each was once per chunk: more than a small
    chunk's epoch), and the numbers are those of one batch."""
    traced, placed = [], []
    abstract, place = chunk_run.ChunkRun._abstract_epoch_args, chunk_run.place

    def count_traces(self, *args):
        traced.append(1)
        return abstract(self, *args)

    def count_placements(tree, sharding):
        placed.append(len(jax.tree.leaves(tree)))
        return place(tree, sharding)

    monkeypatch.setattr(chunk_run.ChunkRun, "_abstract_epoch_args", count_traces)
    monkeypatch.setattr(chunk_run, "place", count_placements)
    clock = fl.controllers.EpochClock()
    chunked = fl.sweep(*data, seeds=12, members_per_chunk=2, controllers=[clock], **COMMON)
    assert [c["members"] for c in clock.chunks] == [2] * 6
    assert len(traced) == 1
    assert len(placed) == 6 * 2 + 1  # state and hyperparameters per chunk, the data once
    monkeypatch.undo()
    alone = fl.sweep(*data, seeds=12, **COMMON)
    for name in alone.history:
        np.testing.assert_allclose(chunked.history[name], alone.history[name], rtol=1e-5, atol=1e-6)


def test_member_keys_are_one_dispatch_not_one_per_member(monkeypatch):
    """1000 members' keys: fold_in is traced once in a vectorised program (it was called
    3 times per member, each a dispatch)."""
    calls = []
    fold_in = jax.random.fold_in

    def counting(*args):
        calls.append(1)
        return fold_in(*args)

    monkeypatch.setattr(jax.random, "fold_in", counting)
    plan = fl.SweepSpec.from_dict({"seeds": 1000}).plan()
    keys = driver.member_keys(plan, range(1000))
    assert keys.shape == (1000, 3, 2)
    assert len(calls) <= 1
    assert len({k.tobytes() for k in keys.reshape(3000, 2)}) == 3000  # every stream its own key
