"""Members with chosen stream seeds (a stream design in `seeds`): checked before anything
compiles, serialisable in the spec, and a member's numbers depend on its own streams only."""

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.spec import SweepSpec
from fastlstm.spec._plan import make_plan

COMMON = dict(model=fl.ModelSpec(units=6, dropout=0.2), batch_size=16, epochs=2, validation_split=0.2, verbose=0)
DESIGN = [
    {"init": 3, "order": 1, "dropout": 2},
    {"init": 0, "order": 5, "dropout": 0},
    {"init": 7, "order": 7, "dropout": 1},
]


def _plan(seeds, **kw):
    args = dict(grid=None, units=4, layers=1, batch_size=8, epochs=1, optimizer="adam", schedule=None, hparams={})
    return make_plan(seeds=seeds, **{**args, **kw})


@pytest.mark.slow
def test_designed_member_equals_the_same_streams_trained_alone(small_data):
    x, y = small_data
    batched = fl.sweep(x, y, seeds=DESIGN, **COMMON)
    alone = fl.sweep(x, y, seeds=[DESIGN[2]], **COMMON)
    for name, values in batched.history.items():
        np.testing.assert_allclose(values[2], alone.history[name][0], rtol=1e-5, atol=1e-6)
    assert [(m["seed"], m["init_seed"], m["order_seed"], m["dropout_seed"]) for m in batched.members] == [
        (i, d["init"], d["order"], d["dropout"]) for i, d in enumerate(DESIGN)
    ]


@pytest.mark.slow
def test_a_design_with_one_seed_everywhere_is_that_plain_seed(small_data):
    x, y = small_data
    designed = fl.sweep(x, y, seeds=[{"init": 4, "order": 4, "dropout": 4}], **COMMON)
    plain = fl.sweep(x, y, seeds=[4], **COMMON)
    np.testing.assert_array_equal(designed.history["loss"], plain.history["loss"])


def test_design_is_repeated_for_every_configuration():
    plan = _plan(DESIGN, grid={"learning_rate": [1e-3, 1e-2]})
    # the augment stream, left out of a design, is held at seed 0
    assert [m.stream_seeds for m in plan.members] == [{**d, "augment": 0} for d in DESIGN] * 2
    assert [m.seed for m in plan.members] == [0, 1, 2] * 2


def test_design_round_trips_through_dict_and_toml():
    spec = SweepSpec.from_dict({"seeds": DESIGN, "epochs": 1})
    assert SweepSpec.from_toml(spec.to_toml()) == spec
    assert spec.to_dict()["seeds"] == DESIGN


@pytest.mark.parametrize(
    "seeds, fixed, message",
    [
        ([{"init": 0, "order": 0}], None, r"seeds\[0\] must give exactly the streams \['init', 'order', 'dropout'\]"),
        ([{"init": 0, "order": 0, "dropout": 0, "noise": 1}], None, r"seeds\[0\] must give exactly the streams"),
        ([{"init": -1, "order": 0, "dropout": 0}], None, r"seeds\[0\]\['init'\] must be a non-negative int seed"),
        ([{"init": True, "order": 0, "dropout": 0}], None, r"seeds\[0\]\['init'\] must be a non-negative int"),
        ([{"init": 0.5, "order": 0, "dropout": 0}], None, r"seeds\[0\]\['init'\] must be a non-negative int"),
        ([{"init": 1, "order": 2, "dropout": 3}] * 2, None, r"lists 'init=1, order=2, dropout=3' more than once"),
        ([{"init": 1, "order": 2, "dropout": 3}, 4], None, r"seeds\[1\] must be a table of stream seeds"),
        ([{"init": 1, "order": 2, "dropout": 3}], {"order": 0}, r"fixed_streams cannot be combined with a stream"),
    ],
)
def test_bad_designs_are_refused_before_compiling(seeds, fixed, message):
    with pytest.raises(ValueError, match=message):
        _plan(seeds, fixed_streams=fixed)
    with pytest.raises(ValueError, match=message):  # the spec runs the same check (a SpecError)
        SweepSpec.from_dict({"seeds": seeds, **({"fixed_streams": fixed} if fixed else {})})
