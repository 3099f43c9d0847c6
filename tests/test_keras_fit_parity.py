"""Training parity with `keras.Model.fit`: same weights, same data, same numbers.

Each case starts a fastlstm member from a Keras model's initial weights and trains
both with shuffle=False, so Keras's batching (partial last batch included), loss
reduction, class/sample weights, optimizer update and validation split are checked
together, epoch by epoch and weight by weight.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl


def keras_model(timesteps, features, units, layers, out_dim, activation, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((timesteps, features))
    h = inputs
    for i in range(layers):
        h = keras.layers.LSTM(units, return_sequences=i < layers - 1)(h)
    outputs = keras.layers.Dense(out_dim, activation=activation)(h)
    return keras.Model(inputs, outputs)


def params_of(model, layers):
    weights = [np.asarray(w) for w in model.get_weights()]
    params = {}
    for i in range(layers):
        k, r, b = weights[3 * i : 3 * i + 3]
        params[f"lstm_{i}"] = {"kernel": k, "recurrent_kernel": r, "bias": b}
    params["head"] = {"kernel": weights[-2], "bias": weights[-1]}
    return params


CASES = {
    "adam-classweight-partial-batch": dict(
        kind="classification",
        layers=1,
        units=6,
        optimizer=("adam", {"learning_rate": 1e-2}),
        fit=dict(class_weight={0: 0.5, 1: 2.0, 2: 1.0}),
        batch_size=16,
    ),
    "sgd-nesterov-clipnorm-valsplit-2layers": dict(
        kind="classification",
        layers=2,
        units=5,
        optimizer=("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "clipnorm": 0.5}),
        fit=dict(validation_split=0.25),
        batch_size=8,
    ),
    "rmsprop-binary": dict(
        kind="binary", layers=1, units=4, optimizer=("rmsprop", {"learning_rate": 3e-3}), fit={}, batch_size=10
    ),
    "adamw-regression-sample-weight": dict(
        kind="regression",
        layers=1,
        units=4,
        optimizer=("adamw", {"learning_rate": 5e-3, "weight_decay": 0.05}),
        fit=dict(sample_weight="random"),
        batch_size=12,
    ),
}

KERAS_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}
LOSS = {"classification": "sparse_categorical_crossentropy", "binary": "binary_crossentropy", "regression": "mse"}
ACTIVATION = {"classification": "softmax", "binary": "sigmoid", "regression": "linear"}
METRIC = {"classification": "accuracy", "binary": "accuracy", "regression": "mae"}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fit_matches_keras(case):
    c = CASES[case]
    x, labels = make_data(n=45, timesteps=7, features=3, classes=3, seed=4)
    if c["kind"] == "classification":
        y, out_dim = labels, 3
    elif c["kind"] == "binary":
        y, out_dim = (labels > 0).astype(np.int64), 1
    else:
        y, out_dim = np.stack([x[:, 1, 0], x[:, -1, 2]], axis=1), 2
    fit = dict(c["fit"])
    if fit.get("sample_weight") == "random":
        fit["sample_weight"] = np.random.default_rng(0).uniform(0.2, 2.0, size=len(x)).astype(np.float32)

    km = keras_model(7, 3, c["units"], c["layers"], out_dim, ACTIVATION[c["kind"]], seed=1)
    params0 = params_of(km, c["layers"])
    name, opt_kwargs = c["optimizer"]
    km.compile(optimizer=KERAS_OPTIMIZERS[name](**opt_kwargs), loss=LOSS[c["kind"]], metrics=[METRIC[c["kind"]]])
    k_hist = km.fit(x, y, batch_size=c["batch_size"], epochs=3, shuffle=False, verbose=0, **fit).history

    opt = {"name": name, **{k: v for k, v in opt_kwargs.items() if k in ("momentum", "nesterov")}}
    top = {k: v for k, v in opt_kwargs.items() if k in ("learning_rate", "weight_decay", "clipnorm")}
    r = fl.sweep(
        x,
        y,
        model=fl.ModelSpec(units=c["units"], layers=c["layers"], task=c["kind"]),
        seeds=[0],
        optimizer=opt,
        batch_size=c["batch_size"],
        epochs=3,
        shuffle=False,
        initial_params=params0,
        verbose=0,
        **top,
        **fit,
    )
    assert set(k_hist) == set(r.history)
    for key, values in k_hist.items():
        np.testing.assert_allclose(r.history[key][0], values, rtol=2e-4, atol=1e-5, err_msg=key)
    trained = params_of(km, c["layers"])
    got = r.member_params(0)
    for layer, leaves in trained.items():
        for leaf, value in leaves.items():
            np.testing.assert_allclose(got[layer][leaf], value, rtol=1e-3, atol=2e-5, err_msg=f"{layer}/{leaf}")
