"""SweepSpec: one validated, serialisable description of a sweep."""

import dataclasses

import numpy as np
import pytest
from conftest import make_data
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlstm as fl
from fastlstm.spec._sweep_spec import SpecError, SweepSpec, sweep_spec_from_kwargs

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
rates = st.sampled_from([1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.1])


@st.composite
def specs(draw):
    """Valid specs over every kind of key: scalars, tables, lists, callbacks, data."""
    grid = {}
    if draw(st.booleans()):
        grid["learning_rate"] = draw(st.lists(rates, min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        grid["units"] = draw(st.lists(st.integers(1, 64), min_size=1, max_size=2, unique=True))
    callbacks = []
    if draw(st.booleans()):
        callbacks.append(fl.EarlyStopping(patience=draw(st.integers(0, 5)), restore_best_weights=draw(st.booleans())))
    if draw(st.booleans()):
        callbacks.append(
            fl.ReduceLROnPlateau(factor=draw(st.sampled_from([0.1, 0.5])), patience=draw(st.integers(0, 3)))
        )
    data = draw(
        st.one_of(
            st.none(),
            st.builds(dict, path=st.sampled_from(["/data/a.npz", "/data/b.csv"])),
            st.builds(dict, path=st.just("/data/s.csv"), window=st.integers(1, 9), horizon=st.integers(1, 3)),
        )
    )
    seeds = draw(st.one_of(st.integers(1, 16), st.lists(st.integers(0, 99), min_size=1, max_size=4, unique=True)))
    return sweep_spec_from_kwargs(
        name=draw(names),
        data=data,
        model=fl.ModelSpec(units=draw(st.integers(1, 64)), layers=draw(st.integers(1, 3))),
        seeds=seeds,
        grid=grid or None,
        optimizer=draw(st.sampled_from(["adam", "sgd", {"name": "sgd", "momentum": 0.9}, "rmsprop"])),
        learning_rate=None if "learning_rate" in grid else draw(st.one_of(st.none(), rates)),
        batch_size=draw(st.integers(1, 256)),
        epochs=draw(st.integers(1, 100)),
        validation_split=draw(st.sampled_from([0.0, 0.1, 0.25])),
        shuffle=draw(st.booleans()),
        class_weight=draw(st.one_of(st.none(), st.just({0: 1.0, 1: 2.5}))),
        callbacks=callbacks,
        fixed_streams=draw(st.one_of(st.none(), st.just({"order": 0}))),
        members_per_chunk=draw(st.one_of(st.none(), st.integers(1, 64))),
        precision=draw(st.sampled_from(["float32", "bfloat16"])),
    )


@settings(max_examples=60, deadline=None)
@given(specs())
def test_dict_and_toml_round_trip_exactly(spec):
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert SweepSpec.from_toml(spec.to_toml()) == spec
    assert SweepSpec.from_toml(spec.to_toml()).to_dict() == spec.to_dict()


@pytest.mark.slow
def test_sweep_keeps_the_spec_it_was_made_from(small_data):
    x, y = small_data
    es = fl.EarlyStopping(monitor="loss", patience=1)
    result = fl.sweep(x, y, seeds=2, epochs=2, model=fl.ModelSpec(units=4), callbacks=[es], verbose=0)
    assert result.spec == sweep_spec_from_kwargs(seeds=2, epochs=2, model=fl.ModelSpec(units=4), callbacks=[es])
    again = fl.sweep(x, y, spec=result.spec, verbose=0)
    np.testing.assert_array_equal(again.history["loss"], result.history["loss"])


@pytest.mark.slow
def test_keyword_arguments_beside_a_spec_override_its_keys(small_data):
    x, y = small_data
    spec = SweepSpec.from_dict({"seeds": 3, "epochs": 1, "model": {"units": 4}})
    result = fl.sweep(x, y, spec=spec, seeds=2, verbose=0)
    assert len(result.members) == 2 and result.spec.epochs == 1


CONFIG_ERRORS = [
    ("colour = 1", r"colour: unknown key; expected one of \[.*'seeds'.*\] \(line 1\)"),
    ('seeds = 8\nepochs = "ten"', r"epochs must be a positive int, got 'ten'"),
    ("seeds = 8\nprecision = 'half'", r"precision: input should be 'float32' or 'bfloat16', got 'half' \(line 2\)"),
    ("validation_split = 1.5", r"validation_split must be a float in \[0, 1\), got 1.5"),
    ("[model]\nunits = 0", r"model: ModelSpec.units must be a positive int, got 0"),
    ("[grid]\nlr = [0.1]", r"grid: unknown key 'lr'"),
    ("[data]\npath = 'a.csv'\nhorizon = 2", r"data.horizon \(--horizon\) needs data.window \(--window\)"),
    ("[data]\nfile = 'a.csv'", r"data.file: unknown key; expected one of \[.*'path'.*\] \(line 2\)"),
    ("[[callbacks]]\ntype = 'Stopper'", r"callbacks: unknown type 'Stopper'"),
    ("[[callbacks]]\ntype = 'EarlyStopping'\npatience = -1", r"EarlyStopping.patience"),
    ("seeds = [", r"not valid TOML"),
    ("shuffle = 1", r"shuffle: input should be a valid boolean, got 1"),
]


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS, ids=[m for _, m in CONFIG_ERRORS])
def test_config_errors_name_the_key(text, message):
    with pytest.raises(SpecError, match=message):
        SweepSpec.from_toml(text)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as err:
        SweepSpec.from_toml("colour = 1\nprecision = 'half'\nshuffle = 2")
    assert len(err.value.problems) == 3


def test_overrides_set_any_key_and_reject_unknown_ones():
    spec = SweepSpec.from_dict({"epochs": 3})
    changed = spec.with_overrides(["grid.learning_rate=[1e-3, 3e-3]", "model.units=16", "name=lr-study", "seeds=4"])
    assert changed.grid == {"learning_rate": [1e-3, 3e-3]}
    assert changed.model.units == 16 and changed.name == "lr-study" and changed.seeds == 4 and changed.epochs == 3
    with pytest.raises(SpecError, match=r"model.cells: unknown|ModelSpec fields \['cells'\]"):
        spec.with_overrides(["model.cells=3"])
    with pytest.raises(SpecError, match=r"expected key=value"):
        spec.with_overrides(["units"])
    with pytest.raises(SpecError, match=r"epochs.size.*is not a table"):
        spec.with_overrides(["epochs.size=3"])


def test_relative_data_paths_in_a_config_file_are_relative_to_it(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "a.toml").write_text("[data]\npath = 'data/x.npz'\n")
    spec = SweepSpec.load(tmp_path / "cfg" / "a.toml")
    assert spec.data.path == str((tmp_path / "cfg" / "data" / "x.npz").resolve())


def test_numpy_values_in_a_spec_become_python_values():
    spec = sweep_spec_from_kwargs(
        seeds=np.arange(3), grid={"learning_rate": np.array([1e-3, 1e-2])}, epochs=np.int64(2)
    )
    assert spec.to_dict()["seeds"] == [0, 1, 2] and type(spec.epochs) is int


@dataclasses.dataclass(frozen=True)
class StopAtTarget(fl.Callback):
    """The README's example: stop a member when a logged metric reaches a target."""

    monitor: str = "accuracy"
    target: float = 0.5

    def on_epoch_end(self, state, logs, epoch):
        return state, fl.CallbackSignal(stop=logs[self.monitor] >= self.target)


def test_a_user_callback_serialises_by_its_class_name():
    spec = sweep_spec_from_kwargs(callbacks=[StopAtTarget(target=0.7)])
    assert spec.to_dict()["callbacks"] == [{"type": "StopAtTarget", "monitor": "accuracy", "target": 0.7}]
    assert SweepSpec.from_toml(spec.to_toml()).callbacks == [StopAtTarget(target=0.7)]


@pytest.mark.slow
def test_a_user_callback_stops_members_under_vmap():
    """Members that reach the target stop there; the others train on exactly as without it."""
    x, y = make_data(n=96)
    common = dict(seeds=4, epochs=6, batch_size=16, model=fl.ModelSpec(units=8), verbose=0)
    free = fl.sweep(x, y, **common).history["accuracy"]
    target = float(np.median(free.max(axis=1)))
    result = fl.sweep(x, y, callbacks=[StopAtTarget(target=target)], **common)
    acc = result.history["accuracy"]
    for i, m in enumerate(result.members):
        reached = np.flatnonzero(free[i] >= target)
        if reached.size:  # stopped at the first epoch at the target, NaN after it
            assert m["status"] == "stopped" and m["stopped_epoch"] == reached[0]
            np.testing.assert_array_equal(acc[i, : reached[0] + 1], free[i, : reached[0] + 1])
            assert np.all(np.isnan(acc[i, reached[0] + 1 :]))
        else:
            assert m["status"] == "ok"
            np.testing.assert_array_equal(acc[i], free[i])
    assert {m["status"] for m in result.members} == {"ok", "stopped"} or target == free.max()


@pytest.mark.slow
def test_two_callbacks_combine_stop_and_learning_rate():
    x, y = make_data(n=96)
    common = dict(seeds=2, epochs=6, batch_size=16, model=fl.ModelSpec(units=8), validation_split=0.25, verbose=0)
    rlr = fl.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0)
    alone = fl.sweep(x, y, callbacks=[rlr], **common)
    both = fl.sweep(x, y, callbacks=[rlr, StopAtTarget(monitor="val_accuracy", target=2.0)], **common)
    np.testing.assert_array_equal(both.history["learning_rate"], alone.history["learning_rate"])
    np.testing.assert_array_equal(both.history["loss"], alone.history["loss"])
    stopper = fl.sweep(x, y, callbacks=[rlr, StopAtTarget(monitor="loss", target=0.0)], **common)
    assert all(m["stopped_epoch"] == 0 for m in stopper.members)  # loss >= 0 always: stop after epoch 0


def test_plan_and_model_errors_in_a_config_name_their_line():
    """Checks made by the member plan or ModelSpec have no pydantic location: the key their
    message starts with finds the line."""
    with pytest.raises(SpecError, match=r"^epochs must be a positive int, got 'ten' \(line 2\)$"):
        SweepSpec.from_toml("seeds = 2\nepochs = 'ten'")
    with pytest.raises(SpecError, match=r"^grid\['units'\] must be a positive int, got 0 \(line 3\)$"):
        SweepSpec.from_toml("seeds = 2\n[grid]\nunits = [4, 0]")
    with pytest.raises(SpecError, match=r"^model: ModelSpec.units must be a positive int, got 0 \(line 4\)$"):
        SweepSpec.from_toml("seeds = 2\n[model]\nlayers = 1\nunits = 0")
    with pytest.raises(SpecError, match=r"^model: unknown ModelSpec fields \['cells'\].* \(line 1\)$"):
        SweepSpec.from_toml("[model]\ncells = 3")


def test_overrides_name_the_assignment_and_reach_into_a_named_optimizer():
    spec = SweepSpec.from_dict({"epochs": 3})
    assert spec.with_overrides(["optimizer=sgd", "optimizer.momentum=0.9"]).optimizer == {
        "name": "sgd",
        "momentum": 0.9,
    }
    with pytest.raises(SpecError, match=r"^--set 'colour=1': colour: unknown key"):
        spec.with_overrides(["colour=1"])
    with pytest.raises(SpecError, match=r"^validation_split must be"):  # from another flag: not called --set
        spec.with_overrides([], before=["validation_split=1.5"])
    assert spec.with_overrides(["data.horizon=2"], before=['data.path="a.csv"', "data.window=3"]).data.horizon == 2


def test_spec_data_and_checkpoint_errors_are_value_errors():
    from fastlstm.runtime._checkpoint import CheckpointError

    assert all(issubclass(e, ValueError) for e in (SpecError, fl.DataFileError, CheckpointError))


@pytest.mark.slow
def test_run_reads_the_data_a_config_file_names(tmp_path):
    x, y = make_data(n=48)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    (tmp_path / "study.toml").write_text("seeds = 2\nepochs = 2\n[model]\nunits = 4\n[data]\npath = 'train.npz'\n")
    ran = fl.run(tmp_path / "study.toml", verbose=0)
    direct = fl.sweep(x, y, spec=SweepSpec.load(tmp_path / "study.toml"), verbose=0)
    np.testing.assert_array_equal(ran.history["loss"], direct.history["loss"])
    assert ran.spec.data.path == str(tmp_path / "train.npz")


def test_any_sequence_of_seeds_is_written_as_a_list():
    spec = sweep_spec_from_kwargs(seeds=range(3), grid={"learning_rate": (1e-3, 1e-2)})
    assert spec.to_dict()["seeds"] == [0, 1, 2]
    assert SweepSpec.from_toml(spec.to_toml()) == spec


def test_settings_that_are_off_are_left_out_of_the_spec_dict():
    """A plain sweep's spec reads as it did before augmentation and oversampling existed:
    its config.toml, and the identity an older checkpoint is resumed by, are unchanged."""
    plain = SweepSpec.from_dict({"epochs": 2}).to_dict()
    assert "augment" not in plain and "oversample" not in plain and "search_seed" not in plain
    on = SweepSpec.from_dict({"epochs": 2, "oversample": True, "augment": [{"type": "Jitter", "sigma": 0.1}]})
    again = SweepSpec.from_dict(on.to_dict())
    assert again.oversample is True and again.augment == on.augment
