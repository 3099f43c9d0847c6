"""Every bad input gets a clear error naming the argument, before anything compiles."""

import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl

X, Y = make_data(n=40)


def _sweep(**overrides):
    kw = dict(x=X, y=Y, seeds=2, epochs=1, batch_size=8, verbose=0, model=fl.ModelSpec(units=4))
    kw.update(overrides)
    return fl.sweep(kw.pop("x"), kw.pop("y"), **kw)


@pytest.fixture(autouse=True)
def no_compile(monkeypatch):
    """Fail the test if validation lets bad input reach the engine."""
    import fastlstm.runtime._chunk_run as chunk_run
    import fastlstm.runtime._driver as driver

    def boom(*args, **kwargs):
        raise AssertionError("bad input reached the engine")

    monkeypatch.setattr(driver, "compiled_program", boom)
    monkeypatch.setattr(chunk_run, "compiled_program", boom)


def _nan_x():
    x = X.copy()
    x[3, 2, 1] = np.nan
    return x


def _inf_y():
    y = Y.astype(float)
    y[0] = np.inf
    return y


CASES = [
    (dict(y=Y[:-1]), r"y has 39 rows but x has 40"),
    (dict(x=X[:, :, 0, None, None]), r"x must be 2-D .* or 3-D"),
    (dict(x=np.zeros(5)), r"x must be 2-D .* or 3-D"),
    (dict(x=_nan_x()), r"x contains NaN or inf"),
    (dict(y=_inf_y()), r"y contains NaN or inf"),
    (dict(y=np.where(Y == 0, -1, Y), model=fl.ModelSpec(units=4, num_classes=3)), r"class labels must be >= 0"),
    (dict(y=Y + 0.5, loss="sparse_categorical_crossentropy"), r"class labels must be integers"),
    (dict(model=fl.ModelSpec(units=4, num_classes=2)), r"label 2 is >= num_classes=2"),
    (dict(x=np.zeros((0, 5, 2)), y=np.zeros(0)), r"x is empty"),
    (dict(validation_split=1.0), r"validation_split must be a float in \[0, 1\)"),
    (dict(validation_split=-0.1), r"validation_split must be a float in \[0, 1\)"),
    (dict(validation_split=0.99), r"validation_split=0.99 leaves an empty"),
    (dict(batch_size=0), r"batch_size must be a positive int"),
    (dict(epochs=-1), r"epochs must be a positive int"),
    (dict(seeds=0), r"seeds must be a positive int"),
    (dict(seeds=[]), r"seeds must be a positive int or a non-empty list"),
    (dict(optimizer="adagrad"), r"optimizer: unknown 'adagrad'"),
    (dict(schedule="cyclic"), r"schedule: unknown 'cyclic'"),
    (dict(loss="hinge"), r"loss: unknown 'hinge'"),
    (dict(metrics=["auc"]), r"metrics: unknown metric 'auc'"),
    (dict(grid={"lr": [1e-3]}), r"grid: unknown key 'lr'"),
    (dict(grid={"learning_rate": []}), r"grid\['learning_rate'\] is empty"),
    (dict(grid={"units": [4, 0]}), r"grid\['units'\] must be a positive int"),
    (dict(grid={"momentum": [0.9]}), r"grid key 'momentum' does not apply to optimizer 'adam'"),
    (
        dict(class_weight={0: 1.0, 1: 1.0, 2: 1.0}, sample_weight=np.ones(40)),
        r"class_weight and sample_weight cannot be used together",
    ),
    (dict(class_weight={0: 1.0}), r"class_weight has no weight for classes \[1, 2\]"),
    (dict(sample_weight=np.ones(3)), r"sample_weight must be a 1-D array with one weight per sample"),
    (dict(callbacks=[fl.EarlyStopping(monitor="val_loss")]), r"monitor='val_loss' is not logged"),
    (dict(clipnorm=1.0, clipvalue=0.5), r"use only one of"),
    (dict(learning_rate=-1.0), r"learning_rate must be > 0"),
    (dict(x=[[1.0, 2.0], "ab"]), r"x\[1\] is not a numeric array"),
    (dict(validation_data=(X[:5, :, :2], Y[:5])), r"validation_data x has 2 features but x has 3"),
    (dict(validation_data=(X[:5],)), r"validation_data must be a tuple"),
    (dict(seeds=[1, 2, 1]), r"seeds lists 1 more than once"),
    (dict(grid={"learning_rate": [1e-3, 1e-2, 1e-3]}), r"grid\['learning_rate'\] lists 0.001 more than once"),
    (dict(grid={"units": np.array([4, 8, 4])}), r"grid\['units'\] lists 4 more than once"),
    (dict(grid={"dropout": [0.5, 0.50]}), r"grid\['dropout'\] lists 0.5 more than once"),
    (dict(epochs=3.0), r"epochs must be a positive int, got 3.0"),
    (dict(optimizer={"name": "sgd", "nesterov": "no"}), r"optimizer: 'nesterov' must be True or False, got 'no'"),
    (
        dict(schedule={"name": "exponential_decay", "staircase": 1}),
        r"schedule: 'staircase' must be True or False, got 1",
    ),
    (
        dict(schedule={"name": "piecewise_constant", "boundaries": ["a"], "values": [0.1, 0.01]}),
        r"schedule: piecewise_constant 'boundaries' must be a list of finite numbers, got \['a'\]",
    ),
    (
        dict(schedule={"name": "piecewise_constant", "boundaries": [3], "values": 0.1}),
        r"schedule: piecewise_constant 'values' must be a list of finite numbers, got 0.1",
    ),
    (dict(fixed_streams=[("order", 0)]), r"fixed_streams must be a dict of stream -> seed"),
    (dict(trials=3), r"trials=3 draws configurations from distributions in grid, but grid has none"),
    (dict(grid={"learning_rate": fl.loguniform(1e-4, 0.1)}), r"grid\['learning_rate'\] is a distribution"),
    (dict(grid={"dropout": fl.uniform(0, 0.4)}, trials=0), r"trials must be a positive int, got 0"),
    (dict(grid={"units": fl.uniform(2, 8)}, trials=2), r"grid\['units'\] = uniform\(2.0, 8.0\): units takes integers"),
]


@pytest.mark.parametrize(("overrides", "message"), CASES, ids=[m for _, m in CASES])
def test_bad_input_raises_named_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        _sweep(**overrides)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(units=0), r"ModelSpec.units must be a positive int"),
        (dict(layers=0), r"ModelSpec.layers must be a positive int"),
        (dict(task="ranking"), r"ModelSpec.task must be one of"),
        (dict(dropout=1.0), r"ModelSpec.dropout must be in \[0, 1\)"),
    ],
)
def test_bad_model_spec(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fl.ModelSpec(**kwargs)


def test_model_dict_with_unknown_field():
    with pytest.raises(ValueError, match=r"model: unknown ModelSpec fields \['cells'\]"):
        _sweep(model={"units": 4, "cells": 3})


CALLBACK_CASES = [
    (fl.EarlyStopping, dict(patience="3"), r"EarlyStopping.patience must be an int >= 0, got '3'"),
    (fl.EarlyStopping, dict(patience=2.5), r"EarlyStopping.patience must be an int >= 0, got 2.5"),
    (fl.EarlyStopping, dict(patience=True), r"EarlyStopping.patience must be an int >= 0, got True"),
    (fl.EarlyStopping, dict(patience=-1), r"EarlyStopping.patience must be an int >= 0, got -1"),
    (fl.EarlyStopping, dict(start_from_epoch=1.0), r"EarlyStopping.start_from_epoch must be an int >= 0"),
    (fl.EarlyStopping, dict(verbose="1"), r"EarlyStopping.verbose must be an int >= 0"),
    (fl.EarlyStopping, dict(min_delta="0.1"), r"EarlyStopping.min_delta must be a finite number, got '0.1'"),
    (fl.EarlyStopping, dict(min_delta=float("nan")), r"EarlyStopping.min_delta must be a finite number, got nan"),
    (fl.EarlyStopping, dict(baseline=float("inf")), r"EarlyStopping.baseline must be a finite number or None"),
    (fl.EarlyStopping, dict(baseline="0.5"), r"EarlyStopping.baseline must be a finite number or None"),
    (fl.EarlyStopping, dict(restore_best_weights=1), r"EarlyStopping.restore_best_weights must be True or False"),
    (fl.EarlyStopping, dict(restore_best_weights="no"), r"EarlyStopping.restore_best_weights must be True or False"),
    (fl.EarlyStopping, dict(monitor=3), r"EarlyStopping.monitor must be a metric name \(a str\), .*got 3"),
    (fl.EarlyStopping, dict(mode=None), r"EarlyStopping.mode must be one of"),
    (fl.ReduceLROnPlateau, dict(patience="3"), r"ReduceLROnPlateau.patience must be an int >= 0, got '3'"),
    (fl.ReduceLROnPlateau, dict(cooldown=0.5), r"ReduceLROnPlateau.cooldown must be an int >= 0, got 0.5"),
    (fl.ReduceLROnPlateau, dict(cooldown=-2), r"ReduceLROnPlateau.cooldown must be an int >= 0, got -2"),
    (fl.ReduceLROnPlateau, dict(factor="0.5"), r"ReduceLROnPlateau.factor must be a finite number, got '0.5'"),
    (fl.ReduceLROnPlateau, dict(factor=float("nan")), r"ReduceLROnPlateau.factor must be a finite number"),
    (fl.ReduceLROnPlateau, dict(factor=1.0), r"ReduceLROnPlateau.factor must be in \(0, 1\), got 1.0"),
    (fl.ReduceLROnPlateau, dict(min_delta=None), r"ReduceLROnPlateau.min_delta must be a finite number, got None"),
    (fl.ReduceLROnPlateau, dict(min_lr=-1e-3), r"ReduceLROnPlateau.min_lr must be >= 0, got -0.001"),
    (fl.ReduceLROnPlateau, dict(min_lr=float("inf")), r"ReduceLROnPlateau.min_lr must be a finite number"),
    (fl.ReduceLROnPlateau, dict(verbose=-1), r"ReduceLROnPlateau.verbose must be an int >= 0"),
    (fl.ReduceLROnPlateau, dict(monitor=None), r"ReduceLROnPlateau.monitor must be a metric name"),
]


@pytest.mark.parametrize(
    ("callback", "kwargs", "message"), CALLBACK_CASES, ids=[m.replace("\\", "") for *_, m in CALLBACK_CASES]
)
def test_bad_callback_argument(callback, kwargs, message):
    """Every field of the callbacks is checked when the callback is made, as a ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        callback(**kwargs)
