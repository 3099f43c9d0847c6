"""fastlstm's array-state EarlyStopping and ReduceLROnPlateau against Keras 3's rules.

The tables below were worked out by hand from keras/src/callbacks/early_stopping.py,
reduce_lr_on_plateau.py and monitor_callback.py (Keras 3.15), epoch by epoch; the
hypothesis tests then drive the real Keras callbacks (through a minimal fake model)
and fastlstm's side by side on generated sequences.

Monitored values are multiples of 0.25 (and min_delta is 0, 1e-4 or a multiple of
0.25) so that float32 (fastlstm) and float64 (Keras) comparisons cannot disagree on
a tie.
"""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastlstm.engine import EarlyStopping, ReduceLROnPlateau

NAN = math.nan


# --------------------------------------------------------------------------- drivers


def run_early_stopping(cb, values):
    """Drive fastlstm's EarlyStopping as the engine does, stopping at the first stop.

    Returns (stop_epoch or None, best_epoch, epoch whose weights were last saved or None).
    """
    state = cb.init()
    stop_epoch, saved = None, None
    for epoch, value in enumerate(values):
        state, stop, save = cb.update(state, jnp.float32(value), jnp.int32(epoch))
        if bool(save):
            saved = epoch
        if bool(stop):
            stop_epoch = epoch
            break
    assert int(state.stopped_epoch) == (-1 if stop_epoch is None else stop_epoch)
    return stop_epoch, int(state.best_epoch), saved


def run_reduce_lr(cb, values, lr0=1.0):
    """Drive fastlstm's ReduceLROnPlateau; returns the learning rate after each epoch."""
    state = cb.init()
    lr = jnp.float32(lr0)
    lrs = []
    for value in values:
        state, lr = cb.update(state, jnp.float32(value), lr)
        lrs.append(float(lr))
    return lrs


class FakeModel:
    """What Keras's EarlyStopping / ReduceLROnPlateau touch on `self.model`."""

    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.metrics = []
        self.optimizer = keras.optimizers.SGD(learning_rate=learning_rate)  # float32 lr variable, as in fit
        self.epoch = None

    def get_weights(self):
        return [np.array(self.epoch)]  # tags the weights with the epoch they were taken at

    def set_weights(self, weights):
        self.restored = int(weights[0])


def run_keras_early_stopping(values, **kwargs):
    cb = keras.callbacks.EarlyStopping(**kwargs)
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    stop_epoch = None
    for epoch, value in enumerate(values):
        model.epoch = epoch
        cb.on_epoch_end(epoch, {kwargs.get("monitor", "val_loss"): value})
        if model.stop_training:
            stop_epoch = epoch
            break
    saved = None if cb.best_weights is None else int(cb.best_weights[0])
    return stop_epoch, int(cb.best_epoch), saved


def run_keras_reduce_lr(values, lr0=1.0, **kwargs):
    cb = keras.callbacks.ReduceLROnPlateau(**kwargs)
    model = FakeModel(lr0)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, value in enumerate(values):
        cb.on_epoch_end(epoch, {kwargs.get("monitor", "val_loss"): value})
        lrs.append(float(np.asarray(model.optimizer.learning_rate)))
    return lrs


# --------------------------------------------------------------------------- hand-worked tables

# (kwargs, monitored values, expected stop epoch or None, expected best_epoch,
#  expected epoch of the last weights saved for restore_best_weights or None)
EARLY_STOPPING_TABLE = [
    # patience 0: the first non-improvement stops.
    ({"patience": 0}, [1.0, 0.9, 0.95, 0.8], 2, 1, None),
    # patience 2: wait counts 1, 2 after the best at epoch 1.
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.92, 0.91, 0.5], 3, 1, None),
    # an improvement at epoch 3 resets the wait.
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.85, 0.9, 0.95, 0.99], 5, 3, None),
    # min_delta: 1.8 is not 0.25 better than 2.0.
    ({"patience": 1, "min_delta": 0.25}, [2.0, 1.8, 1.5, 1.25, 1.0], 1, 0, None),
    ({"patience": 1}, [2.0, 1.8, 1.5, 1.25, 1.0], None, 4, None),
    # min_delta strictness: 0.75 + 0.25 == 1.0 is not an improvement on 1.0.
    ({"patience": 2, "min_delta": 0.25}, [1.0, 0.75, 0.25, 0.125, 0.0625], 4, 2, None),
    # a negative min_delta means its absolute value.
    ({"patience": 2, "min_delta": -0.25}, [1.0, 0.75, 0.25, 0.125, 0.0625], 4, 2, None),
    # mode auto: accuracy is maximised, with or without the val_ prefix; mae minimised.
    ({"patience": 1, "monitor": "val_accuracy"}, [0.5, 0.6, 0.6, 0.55, 0.7], 2, 1, None),
    ({"patience": 1, "monitor": "accuracy"}, [0.5, 0.6, 0.6, 0.55, 0.7], 2, 1, None),
    ({"patience": 1, "monitor": "val_mae"}, [0.5, 0.6, 0.6, 0.55, 0.7], 1, 0, None),
    # explicit mode wins over the name.
    ({"patience": 1, "monitor": "val_accuracy", "mode": "min"}, [0.5, 0.6, 0.6, 0.55, 0.7], 1, 0, None),
    ({"patience": 1, "monitor": "val_loss", "mode": "max"}, [0.5, 0.6, 0.6, 0.55, 0.7], 2, 1, None),
    # baseline: improving but not beating the baseline does not reset the wait,
    ({"patience": 2, "baseline": 0.5}, [1.0, 0.9, 0.9, 0.8], 2, 1, None),
    ({"patience": 2}, [1.0, 0.9, 0.9, 0.8], None, 3, None),
    # ... yet an improvement never stops; beating the baseline (0.4) resets it.
    ({"patience": 3, "baseline": 0.5}, [1.0, 0.9, 0.8, 0.7, 0.4, 0.45, 0.45, 0.45], 7, 4, None),
    ({"patience": 1, "monitor": "val_accuracy", "baseline": 0.8}, [0.5, 0.6, 0.6], 2, 1, None),
    # baseline and min_delta together: 0.5 + 0.25 < 1.0 beats the baseline.
    ({"patience": 0, "baseline": 1.0, "min_delta": 0.25}, [0.8, 0.5, 0.6], 2, 1, None),
    # start_from_epoch: epochs before it are ignored; the first one after it is the best.
    ({"patience": 1, "start_from_epoch": 2}, [0.1, 0.05, 1.0, 1.1, 1.2], 3, 2, None),
    ({"patience": 0, "start_from_epoch": 3}, [1.0, 2.0, 3.0, 4.0, 5.0], 4, 3, None),
    # restore_best_weights: weights saved at the first counted epoch and at each improvement.
    ({"patience": 1, "start_from_epoch": 2, "restore_best_weights": True}, [0.1, 0.05, 1.0, 1.1, 1.2], 3, 2, 2),
    (
        {"patience": 3, "start_from_epoch": 2, "restore_best_weights": True},
        [5.0, 5.0, 1.0, 0.5, 0.75, 0.25],
        None,
        5,
        5,
    ),
    ({"patience": 0, "start_from_epoch": 5, "restore_best_weights": True}, [3.0, 2.0, 1.0], None, 0, None),
    ({"patience": 2, "restore_best_weights": True}, [1.0, 0.5, 0.7, 0.8], 3, 1, 1),
    ({"patience": 5, "restore_best_weights": True}, [1.0, 0.5, 0.7, 0.4, 0.6], None, 3, 3),
    ({"patience": 1, "baseline": 0.1, "restore_best_weights": True}, [1.0, 0.9, 0.95], 2, 1, 1),
    # NaN: a first NaN becomes the best and nothing compares better than it; a later
    # NaN is simply not an improvement.
    ({"patience": 1}, [NAN, 1.0, 0.5], 1, 0, None),
    ({"patience": 1}, [1.0, NAN, 0.5], 1, 0, None),
]


@pytest.mark.slow
@pytest.mark.parametrize("kwargs,values,stop,best,saved", EARLY_STOPPING_TABLE)
def test_early_stopping_table(kwargs, values, stop, best, saved):
    assert run_early_stopping(EarlyStopping(**kwargs), values) == (stop, best, saved)


# (kwargs, monitored values, learning rate after each epoch), starting from lr = 1.0
REDUCE_LR_TABLE = [
    ({"factor": 0.5, "patience": 1, "min_delta": 0.0}, [1.0, 1.0, 1.0, 0.5, 0.5], [1.0, 0.5, 0.25, 0.25, 0.125]),
    # patience 0 still needs a non-improvement.
    ({"factor": 0.5, "patience": 0}, [1.0, 1.0, 0.5, 0.5], [1.0, 0.5, 0.5, 0.25]),
    # cooldown 1: the epoch after a reduction resets wait, then counts again.
    ({"factor": 0.5, "patience": 2, "cooldown": 1}, [1.0] * 7, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]),
    # cooldown 2: one epoch not counted at all.
    ({"factor": 0.5, "patience": 2, "cooldown": 2}, [1.0] * 8, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]),
    # an improvement during the cooldown still updates the best.
    ({"factor": 0.5, "patience": 1, "cooldown": 2}, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5], [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]),
    # min_lr: clamped, then no further reduction.
    ({"factor": 0.5, "patience": 1, "min_lr": 0.3}, [1.0] * 5, [1.0, 0.5, 0.3, 0.3, 0.3]),
    # default min_delta 1e-4 in max mode (accuracy).
    ({"factor": 0.5, "patience": 1, "monitor": "val_accuracy"}, [0.5, 0.5, 0.75, 0.75], [1.0, 0.5, 0.5, 0.25]),
    ({"factor": 0.5, "patience": 1, "monitor": "val_accuracy", "mode": "min"}, [0.5, 0.75, 0.25], [1.0, 0.5, 0.5]),
    # min_delta 0.5: 0.5 + 0.5 == 1.0 does not improve on 1.0, 0.25 + 0.5 does.
    ({"factor": 0.5, "patience": 2, "min_delta": 0.5}, [1.0, 0.75, 0.5, 0.25, 0.0], [1.0, 1.0, 0.5, 0.5, 0.5]),
    # factor 0.1 (not exact in binary) down to a min_lr.
    ({"factor": 0.1, "patience": 1, "min_lr": 0.005}, [1.0] * 5, [1.0, 0.1, 0.01, 0.005, 0.005]),
]


@pytest.mark.parametrize("kwargs,values,expected", REDUCE_LR_TABLE)
def test_reduce_lr_table(kwargs, values, expected):
    np.testing.assert_allclose(run_reduce_lr(ReduceLROnPlateau(**kwargs), values), expected, rtol=1e-6)


# The tables are Keras's behaviour: the real callbacks reproduce them too.
@pytest.mark.parametrize("kwargs,values,stop,best,saved", EARLY_STOPPING_TABLE)
def test_early_stopping_table_is_keras(kwargs, values, stop, best, saved):
    kwargs = dict(kwargs)
    if kwargs.get("mode", "auto") == "auto" and "accuracy" in kwargs.get("monitor", ""):
        kwargs["mode"] = "max"  # Keras infers this from the compiled metrics, which the fake lacks
    if kwargs.get("mode", "auto") == "auto" and "mae" in kwargs.get("monitor", ""):
        kwargs["mode"] = "min"
    assert run_keras_early_stopping(values, **kwargs) == (stop, best, saved)


@pytest.mark.parametrize("kwargs,values,expected", REDUCE_LR_TABLE)
def test_reduce_lr_table_is_keras(kwargs, values, expected):
    kwargs = dict(kwargs)
    if kwargs.get("mode", "auto") == "auto" and "accuracy" in kwargs.get("monitor", ""):
        kwargs["mode"] = "max"
    np.testing.assert_allclose(run_keras_reduce_lr(values, **kwargs), expected, rtol=1e-6)


# --------------------------------------------------------------------------- against Keras

VALUES = st.lists(st.sampled_from([0.25 * k for k in range(9)] + [NAN]), min_size=1, max_size=12)
HYPOTHESIS = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@HYPOTHESIS
@given(
    values=VALUES,
    patience=st.integers(0, 4),
    min_delta=st.sampled_from([0.0, 0.25, 0.5]),
    mode=st.sampled_from(["min", "max"]),
    baseline=st.sampled_from([None, 0.5, 1.0, 1.75]),
    start_from_epoch=st.integers(0, 3),
    restore_best_weights=st.booleans(),
)
def test_early_stopping_matches_keras(values, **kwargs):
    expected = run_keras_early_stopping(values, **kwargs)
    assert run_early_stopping(EarlyStopping(**kwargs), values) == expected


@pytest.mark.slow
@HYPOTHESIS
@given(
    values=VALUES,
    lr0=st.sampled_from([1.0, 0.1, 0.02]),
    patience=st.integers(0, 3),
    factor=st.sampled_from([0.5, 0.25, 0.1]),
    cooldown=st.integers(0, 2),
    min_lr=st.sampled_from([0.0, 0.001, 0.01, 0.05, 0.3]),
    min_delta=st.sampled_from([0.0, 1e-4, 0.25]),
    mode=st.sampled_from(["min", "max"]),
)
def test_reduce_lr_matches_keras(values, lr0, **kwargs):
    expected = run_keras_reduce_lr(values, lr0, **kwargs)
    np.testing.assert_allclose(run_reduce_lr(ReduceLROnPlateau(**kwargs), values, lr0), expected, rtol=1e-6)


# --------------------------------------------------------------------------- under jit / vmap


def test_callbacks_vmapped_over_members_match_eager():
    """The engine vmaps `update` over members: the batched result equals each member alone."""
    rows = [
        [1.0, 0.75, 0.75, 0.5, 0.75, 0.75, 0.75, 0.75],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [2.0, 1.5, 1.0, 0.5, 0.25, 0.0, 0.0, 0.0],
        [0.5, NAN, 0.25, 0.5, 0.5, 0.25, 0.5, 0.5],
    ]
    values = jnp.asarray(rows, jnp.float32)
    es = EarlyStopping(patience=2, min_delta=0.25, restore_best_weights=True, start_from_epoch=1)
    rlr = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.1)

    @jax.jit
    def batched(values):
        def member(vals):
            def body(carry, inp):
                es_state, rlr_state, lr, stopped = carry
                value, epoch = inp
                es_state, stop, _ = es.update(es_state, value, epoch)
                rlr_state, lr = rlr.update(rlr_state, value, lr)
                return (es_state, rlr_state, lr, stopped | stop), (stopped | stop, lr)

            init = (es.init(), rlr.init(), jnp.float32(1.0), jnp.zeros([], bool))
            (es_state, *_), (stopped, lrs) = jax.lax.scan(body, init, (vals, jnp.arange(vals.shape[0])))
            return stopped, lrs, es_state.best_epoch

        return jax.vmap(member)(values)

    stopped, lrs, best_epoch = batched(values)
    for i, row in enumerate(rows):
        stop_epoch, best, _ = run_early_stopping(es, row)
        first = np.flatnonzero(np.asarray(stopped[i]))
        assert (None if first.size == 0 else int(first[0])) == stop_epoch
        if stop_epoch is None:
            assert int(best_epoch[i]) == best
        np.testing.assert_allclose(np.asarray(lrs[i]), run_reduce_lr(rlr, row), rtol=1e-6)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ReduceLROnPlateau(factor=1.0), "factor"),
        (lambda: ReduceLROnPlateau(factor=1.5), "factor"),
        (lambda: ReduceLROnPlateau(patience=-1), "patience"),
        (lambda: ReduceLROnPlateau(cooldown=-1), "cooldown"),
        (lambda: ReduceLROnPlateau(mode="minimum"), "mode"),
        (lambda: ReduceLROnPlateau(monitor="val_f1"), "monitor='val_f1'"),
        (lambda: EarlyStopping(patience=-1), "patience"),
        (lambda: EarlyStopping(start_from_epoch=-1), "start_from_epoch"),
        (lambda: EarlyStopping(mode="bogus"), "mode"),
        (lambda: EarlyStopping(monitor="val_f1"), "monitor='val_f1'"),
        (lambda: EarlyStopping(monitor="custom_score", mode="auto"), "monitor='custom_score'"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_monitor_is_fine_with_explicit_mode():
    assert EarlyStopping(monitor="val_f1", mode="max").direction == "max"
    assert ReduceLROnPlateau(monitor="custom_score", mode="min").direction == "min"
    assert EarlyStopping(monitor="loss").direction == "min"
    assert EarlyStopping(monitor="val_accuracy").direction == "max"
