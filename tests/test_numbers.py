"""NumPy numbers are numbers: every numeric argument takes a NumPy scalar or 1-D array.

Users compute settings with NumPy (`np.logspace`, `np.arange`, `np.float32(0.01)`).
`fl.sweep` converts them once at its boundary, so the plan it builds from NumPy
values is the plan it builds from the same Python values, with plain Python types
inside. The plan-level tests stop `sweep` right after planning (no compile); one
tiny real sweep checks the whole way through.
"""

import dataclasses

import numpy as np
import pytest
from conftest import make_data
from guards import patch_train
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastlstm as fl

X, Y = make_data(n=40)
BASE = dict(seeds=2, epochs=1, batch_size=8, verbose=0, model=fl.ModelSpec(units=4))


@pytest.fixture
def plan_of(monkeypatch):
    """plan_of(**kwargs): the Plan `fl.sweep(X, Y, **kwargs)` trains (its spec's plan), without
    training: `fl.sweep` runs as it is up to `train`, which returns the plan instead."""
    patch_train(monkeypatch, lambda spec, ds, **kwargs: spec.plan())

    def plan_of(**overrides):
        return fl.sweep(X, Y, **{**BASE, **overrides})

    return plan_of


def _assert_plain(value, where="plan"):
    """Every leaf is a plain Python value (np.float64 is a float subclass: check the exact type)."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        for k, v in value.items():
            _assert_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _assert_plain(v, f"{where}[{i}]")
    else:
        assert type(value) in (int, float, str, bool, type(None)), f"{where} is {type(value).__name__}: {value!r}"


# (NumPy-valued arguments, the same arguments as Python values)
CASES = {
    "learning_rate float32": (dict(learning_rate=np.float32(0.0078125)), dict(learning_rate=0.0078125)),
    "learning_rate float64": (dict(learning_rate=np.float64(0.01)), dict(learning_rate=0.01)),
    "weight_decay": (dict(weight_decay=np.float16(0.125)), dict(weight_decay=0.125)),
    "clipnorm": (dict(clipnorm=np.float32(0.5)), dict(clipnorm=0.5)),
    "global_clipnorm": (dict(global_clipnorm=np.int64(1)), dict(global_clipnorm=1)),
    "clipvalue": (dict(clipvalue=np.array(0.25)), dict(clipvalue=0.25)),
    "seeds arange": (dict(seeds=np.arange(4)), dict(seeds=[0, 1, 2, 3])),
    "seeds count": (dict(seeds=np.int32(3)), dict(seeds=3)),
    "seeds list of numpy ints": (dict(seeds=[np.int64(5), np.uint8(7)]), dict(seeds=[5, 7])),
    "epochs": (dict(epochs=np.int64(2)), dict(epochs=2)),
    "batch_size": (dict(batch_size=np.int64(16)), dict(batch_size=16)),
    "grid logspace": (
        dict(grid={"learning_rate": np.logspace(-4, -2, 3)}),
        dict(grid={"learning_rate": [1e-4, 1e-3, 1e-2]}),
    ),
    "grid units array": (dict(grid={"units": np.array([8, 16])}), dict(grid={"units": [8, 16]})),
    "grid list of numpy scalars": (
        dict(grid={"dropout": [np.float32(0.25), np.float64(0.5)], "epochs": [np.int8(1), np.int16(2)]}),
        dict(grid={"dropout": [0.25, 0.5], "epochs": [1, 2]}),
    ),
    "fixed_streams": (dict(fixed_streams={"order": np.int64(0)}), dict(fixed_streams={"order": 0})),
    "optimizer options": (
        dict(optimizer={"name": "sgd", "momentum": np.float32(0.5), "nesterov": np.bool_(True)}),
        dict(optimizer={"name": "sgd", "momentum": 0.5, "nesterov": True}),
    ),
    "schedule options": (
        dict(schedule={"name": "exponential_decay", "decay_steps": np.int64(10), "decay_rate": np.float32(0.5)}),
        dict(schedule={"name": "exponential_decay", "decay_steps": 10, "decay_rate": 0.5}),
    ),
    "schedule warmup": (
        dict(schedule={"name": "warmup_cosine", "warmup_steps": np.int32(3), "alpha": np.float64(0.1)}),
        dict(schedule={"name": "warmup_cosine", "warmup_steps": 3, "alpha": 0.1}),
    ),
    "piecewise arrays": (
        dict(schedule={"name": "piecewise_constant", "boundaries": np.array([3]), "values": np.array([0.5, 0.25])}),
        dict(schedule={"name": "piecewise_constant", "boundaries": [3], "values": [0.5, 0.25]}),
    ),
}


@pytest.mark.parametrize(("numpy_kwargs", "python_kwargs"), CASES.values(), ids=CASES.keys())
def test_numpy_arguments_give_the_python_plan(plan_of, numpy_kwargs, python_kwargs):
    plan = plan_of(**numpy_kwargs)
    assert plan == plan_of(**python_kwargs)
    _assert_plain(plan)


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]
# Dyadic fractions k/128 are exact in every float dtype, so NumPy and Python values are equal.
EXACT_FRACTION = st.integers(1, 63).map(lambda k: k / 128)
FLOAT_ARGUMENTS = ["learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue"]
FLOAT_GRID_KEYS = ["learning_rate", "weight_decay", "dropout", "beta_1", "beta_2", "epsilon"]
INT_ARGUMENTS = ["epochs", "batch_size", "seeds"]
INT_GRID_KEYS = ["units", "layers", "batch_size", "epochs"]
NUMBERS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@NUMBERS
@given(
    name=st.sampled_from(FLOAT_ARGUMENTS),
    value=EXACT_FRACTION,
    dtype=st.sampled_from(FLOAT_DTYPES),
    in_grid=st.sampled_from(FLOAT_GRID_KEYS),
    grid_values=st.lists(EXACT_FRACTION, min_size=1, max_size=3, unique=True),
)
def test_any_float_dtype_gives_the_python_plan(plan_of, name, value, dtype, in_grid, grid_values):
    as_numpy = dict({name: dtype(value)}, grid={in_grid: np.asarray(grid_values, dtype)})
    as_python = dict({name: value}, grid={in_grid: grid_values})
    if name in ("clipnorm", "global_clipnorm", "clipvalue"):  # one clip at a time (as Keras)
        as_numpy["clipnorm"] = as_numpy.pop(name)
        as_python["clipnorm"] = as_python.pop(name)
    plan = plan_of(**as_numpy)
    assert plan == plan_of(**as_python)
    _assert_plain(plan)


@NUMBERS
@given(
    name=st.sampled_from(INT_ARGUMENTS),
    value=st.integers(1, 4),
    dtype=st.sampled_from(INT_DTYPES),
    in_grid=st.sampled_from(INT_GRID_KEYS),
    grid_values=st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True),
    stream_seed=st.integers(0, 100),
)
def test_any_int_dtype_gives_the_python_plan(plan_of, name, value, dtype, in_grid, grid_values, stream_seed):
    as_numpy = {
        name: dtype(value),
        "grid": {in_grid: np.asarray(grid_values, dtype)},
        "fixed_streams": {"init": dtype(stream_seed)},
        "members_per_chunk": dtype(value),
    }
    as_python = {
        name: value,
        "grid": {in_grid: grid_values},
        "fixed_streams": {"init": stream_seed},
        "members_per_chunk": value,
    }
    plan = plan_of(**as_numpy)
    assert plan == plan_of(**as_python)
    _assert_plain(plan)


def test_seeds_as_an_array_of_any_int_dtype(plan_of):
    for dtype in INT_DTYPES:
        plan = plan_of(seeds=np.arange(3, dtype=dtype))
        assert [m.seed for m in plan.members] == [0, 1, 2]
        _assert_plain(plan)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(epochs=3.0), r"epochs must be a positive int, got 3.0"),
        (dict(epochs=np.float64(3.0)), r"epochs must be a positive int, got 3.0"),
        (dict(batch_size=np.float32(16)), r"batch_size must be a positive int, got 16.0"),
        (dict(seeds=np.array([0.0, 1.0])), r"seeds must be a positive int or a list of non-negative ints"),
        (dict(grid={"units": np.array([4.0, 8.0])}), r"grid\['units'\] must be a positive int, got 4.0"),
        (dict(members_per_chunk=np.float64(2.0)), r"members_per_chunk must be a positive integer or None, got 2.0"),
        (dict(fixed_streams={"order": 1.0}), r"fixed_streams\['order'\] must be a non-negative int seed, got 1.0"),
        (dict(grid={"learning_rate": np.ones((2, 2))}), r"grid\['learning_rate'\] must be a list of values"),
    ],
)
def test_integral_floats_are_not_ints(plan_of, overrides, message):
    """Keras's `fit(epochs=3.0)` fails too; an int argument takes ints (any NumPy int dtype), not floats."""
    with pytest.raises(ValueError, match=message):
        plan_of(**overrides)


@pytest.mark.slow
def test_a_real_sweep_with_numpy_numbers_matches_python_numbers():
    def run(np_values: bool):
        v = (lambda a: a) if np_values else (lambda a: a.item() if isinstance(a, np.generic) else a.tolist())
        return fl.sweep(
            X,
            Y,
            seeds=v(np.arange(2)),
            grid={"units": v(np.array([4, 8]))},
            learning_rate=v(np.float32(0.0078125)),  # exact in float32: both runs see the same number
            epochs=v(np.int64(2)),
            batch_size=v(np.int64(16)),
            members_per_chunk=v(np.int64(2)),
            fixed_streams={"order": v(np.int64(0))},
            validation_split=v(np.float32(0.25)),
            callbacks=[fl.EarlyStopping(patience=v(np.int64(3)), min_delta=v(np.float32(0.015625)))],
            verbose=0,
        )

    got, expected = run(True), run(False)
    assert got.members == expected.members and got.configs == expected.configs
    _assert_plain(got.members)
    _assert_plain(got.configs)
    for name in expected.history:
        np.testing.assert_array_equal(got.history[name], expected.history[name])


def test_callbacks_take_numpy_numbers():
    es = fl.EarlyStopping(patience=np.int64(3), min_delta=np.float32(0.5), baseline=np.float64(1.5))
    assert (es.patience, es.min_delta, es.baseline) == (3, 0.5, 1.5)
    assert type(es.patience) is int and type(es.min_delta) is float and type(es.baseline) is float
    rlr = fl.ReduceLROnPlateau(factor=np.float32(0.5), patience=np.int16(2), cooldown=np.uint8(1), min_lr=np.float64(0))
    assert (rlr.factor, rlr.patience, rlr.cooldown, rlr.min_lr) == (0.5, 2, 1, 0.0)
    _assert_plain([es.patience, es.min_delta, es.baseline, rlr.factor, rlr.patience, rlr.cooldown, rlr.min_lr])
