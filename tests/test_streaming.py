"""Data bigger than memory: streamed x (memory-mapped, shards, PyDataset, generator) trains
exactly as the same data in memory, reads each batch once per epoch for all members, and
keeps the process's memory bounded by the block size, not the file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
import fastlstm.data._stream_files as stream_io
from fastlstm.data._preprocessing import fit_preprocessing
from fastlstm.data._stream_files import fit_streamed

SMALL = {"model": fl.ModelSpec(units=4), "epochs": 2, "batch_size": 16, "verbose": 0}


def saved(tmp_path, name, a):
    path = tmp_path / f"{name}.npy"
    np.save(path, a)
    return np.load(path, mmap_mode="r")


class CountingPyDataset:
    """keras.utils.PyDataset's shape; counts every batch read."""

    def __init__(self, x, y, batch_size, change_at=None):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.reads = 0
        self.epochs_ended = 0
        self.change_at = change_at  # (read number, batch index, what): a batch that changes

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.reads += 1
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        x, y = self.x[rows], self.y[rows]
        if self.change_at is not None and self.reads >= self.change_at[0] and i == self.change_at[1]:
            x = x[:, :-1] if self.change_at[2] == "shape" else x.astype(np.float64)
        return x, y

    def on_epoch_end(self):
        self.epochs_ended += 1


class BatchList(CountingPyDataset):
    """A PyDataset of the given batches."""

    def __init__(self, batches):
        self.batches, self.reads, self.epochs_ended = batches, 0, 0

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def assert_same_training(a, b):
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    for la, lb in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(la, lb)


@pytest.mark.slow
def test_memory_mapped_rows_train_bit_for_bit_as_in_memory(tmp_path):
    x, y = make_data(n=90)
    kw = {**SMALL, "seeds": 2, "grid": {"dropout": [0.0, 0.3]}, "validation_split": 0.2, "shuffle": False}
    in_memory = fl.sweep(x, y, **kw)
    streamed = fl.sweep(saved(tmp_path, "x", x), y, stream=True, **kw)
    assert_same_training(in_memory, streamed)
    assert streamed.meta["streaming"]["source"] == "rows"
    assert "not a source of variance" in streamed.meta["streaming"]["order"]
    assert "streaming" not in in_memory.meta


@pytest.mark.slow
def test_pydataset_batches_are_the_steps_and_match_in_memory():
    x, y = make_data(n=90)
    kw = {**SMALL, "seeds": 2, "shuffle": False, "validation_data": (x[:20], y[:20])}
    in_memory = fl.sweep(x, y, **kw)
    data = CountingPyDataset(x, y, 16)
    streamed = fl.sweep(data, **kw)
    assert_same_training(in_memory, streamed)
    assert data.epochs_ended == 1 + SMALL["epochs"]  # the checking pass, then each epoch


def test_a_keras_pydataset_streams():
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y = x, y

        def __len__(self):
            return 5

        def __getitem__(self, i):
            return self.x[i * 16 : (i + 1) * 16], self.y[i * 16 : (i + 1) * 16]

    x, y = make_data(n=80)
    kw = {**SMALL, "seeds": 2, "shuffle": False}
    assert_same_training(fl.sweep(x, y, **kw), fl.sweep(Batches(x, y), **kw))


@pytest.mark.slow
@pytest.mark.parametrize(("members", "standardize"), [(1, None), (4, None), (4, "feature")])
def test_each_batch_is_read_once_per_epoch_however_many_members(members, standardize):
    x, y = make_data(n=80)
    data = CountingPyDataset(x, y, 16)
    fl.sweep(data, **{**SMALL, "epochs": 3}, seeds=members, members_per_chunk=4, standardize=standardize)
    # one checking pass before training (which also fits standardize), then one read of each batch per epoch
    assert data.reads == (1 + 3) * len(data)


@pytest.mark.slow
def test_many_blocks_per_epoch_train_bit_for_bit_as_in_memory(tmp_path, monkeypatch):
    """Blocks of 2 batches (and a shorter last block, and validation in several blocks):
    the block program's calls add up to the in-memory epoch exactly."""
    x, y = make_data(n=90)
    monkeypatch.setattr(stream_io, "BLOCK_BYTES", 2 * 16 * x[0].nbytes)
    kw = {**SMALL, "seeds": 2, "validation_split": 0.2, "shuffle": False, "grid": {"dropout": [0.0, 0.3]}}
    assert_same_training(fl.sweep(x, y, **kw), fl.sweep(saved(tmp_path, "x", x), y, stream=True, **kw))


def test_block_shuffle_visits_every_row_once_in_a_new_order_each_epoch(tmp_path, monkeypatch):
    from fastlstm.api._sweep import load_data
    from fastlstm.spec._sweep_spec import sweep_spec_from_kwargs

    x, y = make_data(n=100)
    x[:, 0, 0] = np.arange(100)  # each row says which it is
    spec = sweep_spec_from_kwargs(model=fl.ModelSpec(units=4), batch_size=8)
    ds = load_data(spec, saved(tmp_path, "x", x), y, stream=True)
    orders = []
    for epoch in range(2):
        seen = [b[0][b[4]][:, 0, 0] for b in ds.train.train_blocks(8, 3, epoch, seed=5, shuffle=True)]
        assert [len(s) for s in seen].count(24) == 4  # blocks of 3 batches of 8 rows, the last 4 rows alone
        orders.append(np.concatenate(seen).astype(int))
        assert sorted(orders[-1]) == list(range(100))
    assert list(orders[0]) != list(orders[1]) != list(range(100))


def test_generator_factory_is_called_once_per_epoch():
    x, y = make_data(n=64)
    calls, batches = [], []

    def epoch_batches():
        calls.append(1)
        for i in range(0, 64, 16):
            batches.append(i)
            yield x[i : i + 16], y[i : i + 16]

    result = fl.sweep(epoch_batches, **SMALL, seeds=4)
    assert len(calls) == 1 + SMALL["epochs"]
    assert len(batches) == 4 * (1 + SMALL["epochs"])
    assert np.isfinite(result.history["loss"]).all()


@pytest.mark.slow
def test_members_of_a_chunk_share_the_streamed_order(tmp_path):
    """Two members differing only in their order seed: in memory they see different
    orders (different numbers); streamed, the chunk's one order (identical numbers)."""
    x, y = make_data(n=96)
    design = [{"init": 0, "order": 1, "dropout": 0}, {"init": 0, "order": 2, "dropout": 0}]
    kw = {**SMALL, "seeds": design, "shuffle": True}
    in_memory = fl.sweep(x, y, **kw)
    assert not np.array_equal(in_memory.history["loss"][0], in_memory.history["loss"][1])
    streamed = fl.sweep(saved(tmp_path, "x", x), y, stream=True, **kw)
    np.testing.assert_array_equal(streamed.history["loss"][0], streamed.history["loss"][1])
    assert [m["order_seed"] for m in streamed.members] == [1, 1]
    assert [m["order_shared"] for m in streamed.members] == [True, True]


@pytest.mark.slow
def test_streamed_shuffle_is_by_blocks_deterministic_and_differs_from_no_shuffle(tmp_path):
    x, y = make_data(n=96)
    mm = saved(tmp_path, "x", x)
    runs = [fl.sweep(mm, y, **SMALL, seeds=1, stream=True, shuffle=s) for s in (True, True, False)]
    np.testing.assert_array_equal(runs[0].history["loss"], runs[1].history["loss"])
    assert not np.array_equal(runs[0].history["loss"], runs[2].history["loss"])


@pytest.mark.slow
def test_shard_directory_trains_as_the_concatenated_arrays(tmp_path):
    x, y = make_data(n=90)
    for k, (lo, hi) in enumerate([(0, 40), (40, 41), (41, 90)]):  # uneven shards, one of a single row
        np.save(tmp_path / f"x_{k:03d}.npy", x[lo:hi])
        np.save(tmp_path / f"y_{k:03d}.npy", y[lo:hi])
    kw = {**SMALL, "seeds": 2, "validation_split": 0.25, "shuffle": False}
    assert_same_training(fl.sweep(x, y, **kw), fl.sweep(str(tmp_path), **kw))


def test_standardize_is_fitted_by_a_streaming_pass_on_training_rows_only(tmp_path):
    x, y = make_data(n=90)
    x = x * np.array([1.0, 10.0, 0.1], np.float32) + 3.0
    kw = {**SMALL, "seeds": 1, "validation_split": 0.2, "shuffle": False, "standardize": "feature"}
    in_memory = fl.sweep(x, y, **kw)
    streamed = fl.sweep(saved(tmp_path, "x", x), y, stream=True, **kw)
    got, want = streamed.meta["preprocessing"], in_memory.meta["preprocessing"]
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["std"], want["std"], rtol=1e-12)
    assert got["fitted_on"] == want["fitted_on"] == {"rows": 72, "steps": 72 * 8}
    np.testing.assert_allclose(streamed.history["loss"], in_memory.history["loss"], rtol=1e-5)


@pytest.mark.parametrize("method", ["feature", "global", "min_max"])
def test_streamed_statistics_equal_the_whole_array_ones(method):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(50, 6, 3)) * [1, 100, 0.01] + [5, -2, 1e3]).astype(np.float32)
    mask = rng.random((50, 6)) > 0.3
    blocks = ((x[i : i + 7], mask[i : i + 7]) for i in range(0, 50, 7))
    got, want = fit_streamed(blocks, method), fit_preprocessing(x, mask, method)
    assert got.keys() == want.keys() and got["fitted_on"] == want["fitted_on"]
    for key in set(want) - {"method", "fitted_on"}:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10)


@pytest.mark.parametrize(("change", "first_read"), [("shape", 3), ("dtype", 3), ("shape", 9)])
def test_a_pydataset_batch_that_changes_is_named(change, first_read):
    """Batch 2 changes shape or dtype: in the checking pass (read 3), or during training (read 9)."""
    x, y = make_data(n=80)
    data = CountingPyDataset(x, y, 16, change_at=(first_read, 2, change))
    with pytest.raises(ValueError, match="batch 2 "):
        fl.sweep(data, **SMALL, seeds=1)


def test_shards_with_mismatched_shapes_are_refused_before_compile(tmp_path):
    x, y = make_data(n=40)
    np.save(tmp_path / "x_000.npy", x[:20])
    np.save(tmp_path / "y_000.npy", y[:20])
    np.save(tmp_path / "x_001.npy", x[20:, :5])
    np.save(tmp_path / "y_001.npy", y[20:])
    from fastlstm.engine._program import compiled_program

    compiled_program.cache_clear()
    with pytest.raises(ValueError, match=r"shard x_001\.npy has rows of shape"):
        fl.sweep(str(tmp_path), **SMALL, seeds=1)
    assert compiled_program.cache_info().currsize == 0


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (lambda x, y: CountingPyDataset(x, y, 16), {"batch_size": 32}, "pass batch_size=16"),
        (lambda x, y: CountingPyDataset(x, y, 16), {"validation_split": 0.2}, "validation_split is not supported"),
        (lambda x, y: x, {"stream": "yes"}, "stream must be True, False or None"),
        (lambda x, y: BatchList([(x[:16], y[:16]), (x[:7], y[:7]), (x[:16], y[:16])]), {}, "batch 1 has 7 rows"),
        (lambda x, y: BatchList([(x[:16], y[:16]), (x[:32], y[:32])]), {}, "batch 1 has 32 rows, more than"),
        (lambda x, y: BatchList([(x[:16], y[:15])]), {}, "batch 0 has 16 rows of x but 15 of y"),
        (lambda x, y: BatchList([(x[:16], y[:16]), (x[:16],)]), {}, "batch 1 is not an"),
        (lambda x, y: CountingPyDataset(x, y, 16), {"grid": {"class_weight": [None, "balanced"]}}, "not supported"),
        (
            lambda x, y: BatchList([(x[:16], y[:16]), (np.full_like(x[:16], np.nan), y[:16])]),
            {},
            "batch 1 contains NaN",
        ),
        (
            lambda x, y: np.where(np.arange(48)[:, None, None] == 40, np.inf, x),
            {"stream": True},
            r"at index \(40, 0, 0\)",
        ),
    ],
)
def test_bad_streamed_input_is_a_value_error(make, kwargs, message):
    x, y = make_data(n=48)
    source = make(x, y)
    args = (source,) if hasattr(source, "on_epoch_end") else (source, y)
    with pytest.raises(ValueError, match=message):
        fl.sweep(*args, **{**SMALL, "seeds": 1, **kwargs})


RSS_CHILD = textwrap.dedent(
    """
    import os, sys
    os.environ["FASTLSTM_CPU_DEVICES"] = "1"
    os.environ["FASTLSTM_CACHE_DIR"] = "off"
    import numpy as np
    import fastlstm as fl
    x = np.load(sys.argv[1], mmap_mode="r")
    y = np.load(sys.argv[2])
    fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=1, batch_size=512,
             validation_split=0.1, stream=True, verbose=0)
    status = open("/proc/self/status").read()
    print([int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM")][0])
    """
)


def peak_rss_kib(tmp_path, rows: int) -> int:
    """A child process streams a (rows, 64, 32) float32 memory-mapped file; its VmHWM."""
    path = tmp_path / f"x{rows}.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 64, 32))
    for lo in range(0, rows, 4096):
        mm[lo : lo + 4096] = np.random.default_rng(lo).standard_normal(mm[lo : lo + 4096].shape, np.float32)
    mm.flush()
    del mm
    np.save(tmp_path / f"y{rows}.npy", np.arange(rows) % 2)
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(path), str(tmp_path / f"y{rows}.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_is_bounded_by_the_block_not_the_file(tmp_path):
    """A 128 MB memory-mapped x raises the peak RSS by far less than its size over a 16 MB one
    (materialising it, or keeping its mapped pages resident, would add ~112 MB: over twice
    the bound, so 128 MB shows it as 256 MB did, in half the writing and streaming)."""
    small = peak_rss_kib(tmp_path, 2048)  # 16 MB
    large = peak_rss_kib(tmp_path, 16384)  # 128 MB
    assert large - small < 48 * 1024, (small, large)


class HaltAfter(fl.Controller):
    """Halt the sweep after `epochs` epochs (as Ctrl-C would)."""

    def __init__(self, epochs):
        self.epochs, self.seen = epochs, 0

    def on_epoch_end(self, event):
        self.seen += 1
        return fl.Decision(halt=True) if self.seen == self.epochs else None


@pytest.mark.slow
def test_a_halted_streamed_sweep_resumes_to_the_uninterrupted_numbers(tmp_path):
    from fastlstm.runtime._driver import SweepHalted

    x, y = make_data(n=96)
    mm = saved(tmp_path, "x", x)
    kw = {**SMALL, "epochs": 3, "seeds": 2, "validation_split": 0.25, "stream": True}
    uninterrupted = fl.sweep(mm, y, **kw)
    with pytest.raises(SweepHalted):
        fl.sweep(mm, y, checkpoint=tmp_path / "ck", controllers=[HaltAfter(2)], **kw)
    assert_same_training(fl.sweep(mm, y, resume=tmp_path / "ck", **kw), uninterrupted)


def test_reading_a_copy_on_write_memmap_keeps_its_changes(tmp_path):
    """Pages are released only from read-only maps: on a copy-on-write map ("c") the
    release would throw away the user's in-memory changes."""
    from fastlstm.data._stream_files import RowSource

    x, _ = make_data(n=8)
    np.save(tmp_path / "x.npy", x)
    cow = np.load(tmp_path / "x.npy", mmap_mode="c")
    cow[0] = 123.0
    np.testing.assert_array_equal(RowSource.of_array(cow).read(0, 2)[0], 123.0)
    np.testing.assert_array_equal(cow[0], 123.0)


def test_a_shard_directory_given_where_data_must_be_in_memory_is_refused(tmp_path):
    from fastlstm.data._prepare import prepare_data

    with pytest.raises(ValueError, match=r"directory of \.npy shards, which only a sweep streams"):
        prepare_data(str(tmp_path), None)


@pytest.mark.slow
def test_augmented_streamed_rows_train_bit_for_bit_as_in_memory(tmp_path):
    """Augmentation lives in the per-batch step both paths share: the same batches, the same
    augment keys, the same numbers."""
    x, y = make_data(n=64)
    kw = {**SMALL, "seeds": 2, "augment": [fl.Jitter(0.1), fl.Scaling(0.2)], "shuffle": False}
    in_memory = fl.sweep(x, y, **kw)
    streamed = fl.sweep(saved(tmp_path, "x", x), y, stream=True, **kw)
    assert_same_training(in_memory, streamed)
    plain = fl.sweep(x, y, **{**kw, "augment": []})
    assert not np.array_equal(plain.history["loss"], in_memory.history["loss"])  # it did augment


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting, named",
    [
        ({"oversample": True}, "oversample"),
        (
            {
                "scheduler": fl.SuccessiveHalving(eta=2),
                "grid": {"learning_rate": [1e-3, 1e-2]},
                "validation_split": 0.25,
            },
            "scheduler",
        ),
    ],
)
def test_what_needs_the_rows_in_memory_is_refused_for_streamed_data(tmp_path, setting, named):
    x, y = make_data(n=64)
    with pytest.raises(ValueError, match=named):
        fl.sweep(saved(tmp_path, "x", x), y, stream=True, **{**SMALL, **setting})
