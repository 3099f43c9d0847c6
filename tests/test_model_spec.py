"""ModelSpec takes NumPy numbers as it takes Python ones, and stores Python ones."""

import json

import numpy as np
import pytest
from conftest import make_data
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlstm as fl
from fastlstm.engine import ModelSpec

INT_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]
FLOAT_TYPES = [np.float16, np.float32, np.float64]


def test_numpy_numbers_become_python_numbers():
    spec = ModelSpec(
        units=np.int64(8),
        layers=np.int32(2),
        num_classes=np.int64(3),
        output_dim=np.uint8(3),
        dropout=np.float32(0.2),
        mask_value=np.float32(0),
    )
    assert spec == ModelSpec(units=8, layers=2, num_classes=3, output_dim=3, dropout=0.2, mask_value=0.0)
    assert all(type(v) in (int, float, str) for v in spec.to_dict().values())
    json.dumps(spec.to_dict())  # plain values all the way down


@settings(max_examples=60, deadline=None)
@given(units=st.integers(1, 2**31 - 1), int_type=st.sampled_from(INT_TYPES))
def test_any_numpy_integer_is_an_int_field(units, int_type):
    if units > np.iinfo(int_type).max:
        return
    spec = ModelSpec(units=int_type(units), layers=int_type(1))
    assert spec.units == units and type(spec.units) is int


@settings(max_examples=60, deadline=None)
@given(dropout=st.floats(0.0, 0.5, width=16), float_type=st.sampled_from(FLOAT_TYPES))
def test_any_numpy_float_is_a_float_field(dropout, float_type):
    value = float_type(dropout)
    spec = ModelSpec(dropout=value, mask_value=value)
    assert type(spec.dropout) is float and np.float64(spec.dropout).astype(float_type) == value


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(units=2.5), r"ModelSpec.units must be a positive int, got 2.5"),
        (dict(units=np.float64(8.0)), r"ModelSpec.units must be a positive int, got 8.0"),
        (dict(units=True), r"ModelSpec.units must be a positive int, got True"),
        (dict(layers=np.bool_(True)), r"ModelSpec.layers must be a positive int, got True"),
        (dict(num_classes=2.5), r"ModelSpec.num_classes must be an int >= 2, got 2.5"),
        (dict(num_classes=1), r"ModelSpec.num_classes must be an int >= 2, got 1"),
        (dict(output_dim=0), r"ModelSpec.output_dim must be a positive int, got 0"),
        (dict(output_dim=1.5), r"ModelSpec.output_dim must be a positive int, got 1.5"),
        (dict(dropout=True), r"ModelSpec.dropout must be in \[0, 1\), got True"),
        (dict(dropout="0.2"), r"ModelSpec.dropout must be in \[0, 1\), got '0.2'"),
        (dict(mask_value=np.float32("nan")), r"ModelSpec.mask_value must be a finite number or None"),
        (dict(mask_value=False), r"ModelSpec.mask_value must be a finite number or None"),
        (dict(task=np.str_("regression"), units=np.int64(-1)), r"ModelSpec.units must be a positive int, got -1"),
    ],
)
def test_non_integral_and_bool_values_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelSpec(**kwargs)


@pytest.mark.slow
def test_sweep_takes_numpy_numbers_end_to_end():
    x, y = make_data(n=20, timesteps=4, classes=2)
    result = fl.sweep(
        x,
        y,
        model=ModelSpec(units=np.int64(4), dropout=np.float32(0.2), num_classes=np.int64(2)),
        validation_split=np.float32(0.2),
        class_weight={np.int64(0): np.float32(1.0), np.int64(1): np.float32(2.0)},
        seeds=1,
        epochs=1,
        batch_size=8,
        verbose=0,
    )
    assert result.meta["n_val"] == 4 and result.meta["num_classes"] == 2
    assert result.members[0]["dropout"] == pytest.approx(0.2) and result.members[0]["units"] == 4
