"""Engine invariants: member equivalence, determinism, Keras fit semantics, isolation."""

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl

COMMON = dict(model=fl.ModelSpec(units=8), batch_size=16, epochs=3, validation_split=0.2, verbose=0)
SEEDS = [0, 1, 2, 3, 4, 5, 6, 7]
LRS = [1e-3, 3e-3]


@pytest.fixture(scope="module")
def grid_run(small_data):
    x, y = small_data
    return fl.sweep(x, y, seeds=SEEDS, grid={"learning_rate": LRS}, **COMMON)


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("member", [0, 13])
def test_member_equals_same_member_trained_alone(grid_run, small_data, member):
    x, y = small_data
    row = grid_run.members[member]
    assert row["seed"] == SEEDS[member % len(SEEDS)]
    alone = fl.sweep(x, y, seeds=[row["seed"]], learning_rate=row["learning_rate"], **COMMON)
    for name, values in grid_run.history.items():
        _close(values[member], alone.history[name][0])
    jax.tree.map(lambda a, b: _close(a[member], b[0]), grid_run.params, alone.params)


def test_same_call_twice_gives_identical_numbers(grid_run, small_data):
    x, y = small_data
    again = fl.sweep(x, y, seeds=SEEDS, grid={"learning_rate": LRS}, **COMMON)
    for name in grid_run.history:
        np.testing.assert_array_equal(grid_run.history[name], again.history[name])
    jax.tree.map(np.testing.assert_array_equal, grid_run.params, again.params)


def test_members_differ_and_grid_order_is_config_major(grid_run):
    lrs = [m["learning_rate"] for m in grid_run.members]
    assert lrs == pytest.approx([LRS[0]] * 8 + [LRS[1]] * 8)
    assert [m["seed"] for m in grid_run.members] == SEEDS * 2
    losses = grid_run.history["loss"][:, -1]
    assert len(np.unique(losses)) == len(losses)  # seeds really differ


def test_validation_split_takes_the_last_rows(grid_run, small_data):
    x, y = small_data
    n_train = int(np.floor(len(x) * 0.8))
    assert grid_run.meta["n_train"] == n_train
    ev = grid_run.evaluate(x[n_train:], y[n_train:])
    _close(ev["loss"], grid_run.history["val_loss"][:, -1], rtol=1e-5)
    _close(ev["accuracy"], grid_run.history["val_accuracy"][:, -1])


@pytest.mark.slow
def test_partial_last_batch_is_trained_on():
    x, y = make_data(n=33)
    kw = dict(model=fl.ModelSpec(units=4), seeds=[0], batch_size=32, epochs=1, shuffle=False, verbose=0)
    w = np.ones(33, np.float32)
    with_last = fl.sweep(x, y, sample_weight=w, **kw)
    w[-1] = 0.0
    without_last = fl.sweep(x, y, sample_weight=w, **kw)
    kernel = lambda r: np.asarray(r.params["lstm_0"]["kernel"])  # noqa: E731
    assert not np.allclose(kernel(with_last), kernel(without_last), rtol=0, atol=1e-9)


def test_epoch_loss_is_keras_batch_weighted_mean_with_class_weight():
    """Keras: each batch loss is sum(w*l)/batch_rows; the epoch loss weights batches by rows."""
    x, y = make_data(n=37, classes=3)
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    kw = dict(model=fl.ModelSpec(units=4), seeds=[3], batch_size=16, epochs=1, shuffle=False, verbose=0)
    # A learning rate so small the parameters do not move: the epoch loss is then the
    # loss of the initial model, and the partial batch (5 rows) must be in it.
    r = fl.sweep(x, y, optimizer="sgd", learning_rate=1e-30, class_weight=cw, **kw)
    probs = r.predict(x)[0]
    per_sample = -np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1 - 1e-7))
    weights = np.array([cw[int(c)] for c in y])
    expected = np.sum(weights * per_sample) / len(y)
    assert r.history["loss"][0, 0] == pytest.approx(expected, rel=1e-5)
    assert r.history["loss"][0, 0] != pytest.approx(np.mean(per_sample), rel=1e-3)


@pytest.mark.slow
def test_divergent_member_is_frozen_and_others_bit_identical(small_data):
    x, y = small_data
    kw = dict(COMMON, seeds=[0, 1])
    bad = fl.sweep(x, y, grid={"learning_rate": [1e-3, 1e38]}, **kw)
    sane = fl.sweep(x, y, grid={"learning_rate": [1e-3, 1e-2]}, **kw)
    assert [m["status"] for m in bad.members] == ["ok", "ok", "diverged", "diverged"]
    assert [m["status"] for m in sane.members] == ["ok"] * 4
    for name in bad.history:
        np.testing.assert_array_equal(bad.history[name][:2], sane.history[name][:2])
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a[:2], b[:2]), bad.params, sane.params)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(bad.params))
    assert np.isnan(bad.history["loss"][2:, -1]).all()
    summary = bad.summary()
    assert [row["diverged"] for row in summary] == [0, 2]


@pytest.mark.slow
def test_early_stopping_stops_restores_best_and_ends_sweep(small_data):
    x, y = small_data
    es = fl.EarlyStopping(monitor="val_loss", min_delta=100.0, patience=0, restore_best_weights=True)
    r = fl.sweep(x, y, seeds=[0, 1], callbacks=[es], **dict(COMMON, epochs=6))
    for m in r.members:
        assert m["status"] == "stopped" and m["stopped_epoch"] == 1 and m["best_epoch"] == 0
        assert m["epochs_trained"] == 2
    assert np.isfinite(r.history["loss"][:, :2]).all()
    assert np.isnan(r.history["loss"][:, 2:]).all()
    n_train = r.meta["n_train"]
    ev = r.evaluate(x[n_train:], y[n_train:])
    _close(ev["loss"], r.history["val_loss"][:, 0])  # the best epoch's weights came back


@pytest.mark.slow
def test_reduce_lr_on_plateau_logs_and_reduces_learning_rate(small_data):
    x, y = small_data
    rlr = fl.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)
    r = fl.sweep(x, y, seeds=[0], learning_rate=1e-2, callbacks=[rlr], **dict(COMMON, epochs=4))
    _close(r.history["learning_rate"][0], [1e-2, 1e-2, 5e-3, 2.5e-3])


def test_fixed_streams_hold_randomness_fixed(small_data):
    x, y = small_data
    kw = dict(COMMON, seeds=[0, 1, 2])
    same = fl.sweep(x, y, fixed_streams={"init": 0, "order": 0}, **kw)
    assert np.all(same.history["loss"] == same.history["loss"][0])
    only_init = fl.sweep(x, y, fixed_streams={"init": 0}, **kw)
    assert len(np.unique(only_init.history["loss"][:, -1])) == 3
    assert [m["init_seed"] for m in only_init.members] == [0, 0, 0]
    assert [m["order_seed"] for m in only_init.members] == [0, 1, 2]


@pytest.mark.slow
def test_dropout_uses_its_own_stream(small_data):
    x, y = small_data
    kw = dict(COMMON, seeds=[0, 1], model=fl.ModelSpec(units=8, dropout=0.3))
    r = fl.sweep(x, y, fixed_streams={"init": 0, "order": 0}, **kw)
    assert r.history["loss"][0, -1] != r.history["loss"][1, -1]  # only dropout differs
    r2 = fl.sweep(x, y, fixed_streams={"init": 0, "order": 0, "dropout": 0}, **kw)
    np.testing.assert_array_equal(r2.history["loss"][0], r2.history["loss"][1])


@pytest.mark.slow
def test_structural_grid_forms_groups_and_keeps_member_order(small_data):
    x, y = small_data
    r = fl.sweep(x, y, seeds=[0, 1], grid={"units": [4, 6], "epochs": [2, 3]}, **dict(COMMON, epochs=1))
    assert len(r.groups) == 4
    assert r.history["loss"].shape == (8, 3)
    assert np.isnan(r.history["loss"][:2, 2]).all() and np.isfinite(r.history["loss"][2:4]).all()
    assert r.member_params(7)["lstm_0"]["recurrent_kernel"].shape == (6, 24)
    assert r.predict(x[:5]).shape == (8, 5, 3)


@pytest.mark.slow
def test_variable_length_sequences_are_masked(small_data):
    x, y = small_data
    lengths = np.random.default_rng(1).integers(3, 9, size=len(x))
    seqs = [x[i, : lengths[i]] for i in range(len(x))]
    r = fl.sweep(seqs, y, seeds=[0], **COMMON)
    batch = r.predict(seqs[:6])[0]
    for i in range(6):
        alone = r.predict(x[i : i + 1, : lengths[i]])[0, 0]
        np.testing.assert_allclose(batch[i], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("optimizer", "schedule"),
    [
        ("sgd", None),
        ({"name": "sgd", "momentum": 0.9, "nesterov": True}, "warmup_cosine"),
        ("rmsprop", {"name": "exponential_decay", "decay_rate": 0.5, "decay_steps": 5}),
        ("adamw", {"name": "piecewise_constant", "boundaries": [3], "values": [1e-2, 1e-3]}),
    ],
)
def test_optimizers_and_schedules_train(small_data, optimizer, schedule):
    x, y = small_data
    r = fl.sweep(x, y, seeds=[0, 1], optimizer=optimizer, schedule=schedule, grid={"clipnorm": [None, 1.0]}, **COMMON)
    assert np.isfinite(r.history["loss"]).all()
    assert all(m["status"] == "ok" for m in r.members)


@pytest.mark.slow
def test_a_sweep_follows_its_learning_rate_schedule(small_data):
    """Exponential decay at rate 0 is 1e-2 for the first step and 0 after it: nothing moves
    from then on, so every epoch's validation loss is the first's; at rate 1 (a constant 1e-2)
    it keeps moving. Both in one sweep, as a grid over the decay rate."""
    x, y = small_data
    schedule = {"name": "exponential_decay", "decay_steps": 1}
    grid = {"learning_rate": [1e-2], "decay_rate": [0.0, 1.0]}
    r = fl.sweep(x, y, seeds=[0, 1], optimizer="adam", schedule=schedule, grid=grid, **{**COMMON, "epochs": 2})
    rate = np.array([r.configs[m["config"]]["decay_rate"] for m in r.members])
    val = r.history["val_loss"]
    np.testing.assert_array_equal(val[rate == 0.0, 1], val[rate == 0.0, 0])
    assert (np.abs(val[rate == 1.0, 1] - val[rate == 1.0, 0]) > 1e-4).all()


@pytest.mark.slow
def test_regression_and_binary_tasks():
    x, y = make_data(n=64)
    target = x[:, 1, :2].copy()
    reg = fl.sweep(x, target, seeds=[0], **COMMON)
    assert reg.meta["task"] == "regression" and reg.meta["loss"] == "mse" and "val_mae" in reg.history
    assert reg.predict(x[:4]).shape == (1, 4, 2)
    binary = fl.sweep(x, (y > 0).astype(int), seeds=[0], **COMMON)
    assert binary.meta["task"] == "binary" and "accuracy" in binary.history
    assert binary.predict(x[:4]).shape == (1, 4, 1)
