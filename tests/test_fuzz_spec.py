"""Fuzzed sweep specs: any TOML document, dict or `--set k=v` either is a valid spec (that
reads back the same from its own TOML) or raises one `SpecError` with a message - never
pydantic's, NumPy's or the TOML parser's own exception, never a hang.

Example counts: 2 x TOML_EXAMPLES + DICT_EXAMPLES + TEXT_EXAMPLES + OVERRIDE_EXAMPLES (see fuzz_helpers).
"""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
import tomli_w
from fuzz_helpers import deadline, fuzz_settings, raised_by_fastlstm
from hypothesis import event, given
from hypothesis import strategies as st

import fastlstm as fl
from fastlstm.spec import DataSpec, SpecError, SweepSpec
from fastlstm.spec._plan import NUMERIC_KEYS, OPTIMIZER_DEFAULTS, SCHEDULE_DEFAULTS, STRUCTURAL_KEYS

TOML_EXAMPLES = 500
DICT_EXAMPLES = 250
TEXT_EXAMPLES = 200
OVERRIDE_EXAMPLES = 300
SECONDS = 20.0

TOP_KEYS = sorted(SweepSpec.model_fields)
MODEL_KEYS = ["units", "layers", "task", "dropout", "num_classes", "output_dim", "mask_value"]
GRID_KEYS = [*NUMERIC_KEYS, *STRUCTURAL_KEYS, "class_weight", "colour"]
NAMES = [*OPTIMIZER_DEFAULTS, *SCHEDULE_DEFAULTS, "adagrad", "auto", "float32", "bfloat16", "balanced", "none"]
NAMES += ["EarlyStopping", "ReduceLROnPlateau", "LSTM", "Dense", "feature", "regression", "sweep", "ünïcødé", ""]
NAMES += ["__import__('os').system('true')", "${HOME}", "'; DROP TABLE", "\u202e", "a" * 300]
HUGE = [2**31, 2**63 - 1, -(2**63), 10**30, 1e38, 1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan]


def _toml_scalars() -> st.SearchStrategy:
    """Values TOML can hold (tomli_w writes big ints too; tomllib reads them back)."""
    return st.one_of(
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from(HUGE),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0, 1, 2, 3, 8, 64, -1, 0.0, 0.5, 0.99, 1.0, 1e-3]),
        st.sampled_from(NAMES),
        st.text(max_size=12),
    )


def _toml_values(depth: int = 3) -> st.SearchStrategy:
    keys = st.sampled_from([*TOP_KEYS, *MODEL_KEYS, *GRID_KEYS, "name", "type", "path"]) | st.text(max_size=6)
    return st.recursive(
        _toml_scalars(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


@st.composite
def _documents(draw: st.DrawFn) -> dict:
    """Known top-level keys with random values, tables with known and unknown keys, unknown keys."""
    doc = {}
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), max_size=6, unique=True)):
        doc[key] = draw(_toml_values())
    if draw(st.booleans()):
        doc["model"] = draw(st.dictionaries(st.sampled_from([*MODEL_KEYS, "layers", "colour"]), _toml_values(2)))
    if draw(st.booleans()):
        doc["grid"] = draw(st.dictionaries(st.sampled_from(GRID_KEYS), st.lists(_toml_scalars(), max_size=3)))
    if draw(st.booleans()):
        doc["data"] = draw(st.dictionaries(st.sampled_from([*DataSpec.model_fields, "colour"]), _toml_values(1)))
    if draw(st.booleans()):
        doc[draw(st.text(min_size=1, max_size=8))] = draw(_toml_values(1))
    if draw(st.booleans()):  # deep nesting
        depth = draw(st.integers(1, 60))
        value = draw(_toml_scalars())
        for _ in range(depth):
            value = {"a": value} if draw(st.booleans()) else [value]
        doc[draw(st.sampled_from(TOP_KEYS))] = value
    return doc


def _valid_or_spec_error(call) -> SweepSpec | None:
    """Run `call`; a SweepSpec, or None after a SpecError with a message; anything else fails."""
    try:
        with deadline(SECONDS):
            spec = call()
    except SpecError as err:
        assert str(err).strip() and err.problems, "a SpecError without a message"
        assert raised_by_fastlstm(err)
        event("refused with a SpecError")
        return None
    event("accepted")
    return spec


def _reads_back(spec: SweepSpec) -> None:
    """An accepted spec survives its own TOML (what a run folder's config.toml relies on)."""
    assert SweepSpec.from_toml(spec.to_toml()) == spec


@pytest.mark.slow
@fuzz_settings(TOML_EXAMPLES)
@given(doc=_documents())
def test_toml_documents_are_specs_or_spec_errors(doc):
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):  # NaN keys, control characters: not a TOML document
        return
    spec = _valid_or_spec_error(lambda: SweepSpec.from_toml(text))
    if spec is not None:
        _reads_back(spec)


VALID = {
    "name": "fuzz",
    "seeds": 3,
    "epochs": 2,
    "batch_size": 16,
    "optimizer": {"name": "sgd", "momentum": 0.9},
    "learning_rate": 0.01,
    "callbacks": [{"type": "EarlyStopping", "patience": 2}],
    "model": {"units": 8, "layers": 2, "dropout": 0.1},
    "grid": {"learning_rate": [1e-3, 1e-2], "clipnorm": [1.0, math.inf]},
    "data": {"path": "/data/x.npz"},
    "fixed_streams": {"order": 0},
    "schedule": {"name": "exponential_decay", "decay_rate": 0.5, "decay_steps": 100.0},
}


@st.composite
def _mutated(draw: st.DrawFn) -> dict:
    """A valid document with one to three values replaced, deleted or nested in a table."""
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in VALID.items()}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(doc)))
        target = doc[key] if isinstance(doc[key], dict) and doc[key] and draw(st.booleans()) else doc
        inner = draw(st.sampled_from(sorted(target))) if target is not doc else key
        action = draw(st.sampled_from(["replace", "replace", "delete", "unknown"]))
        if action == "delete":
            target.pop(inner, None)
        elif action == "unknown":
            target[draw(st.text(min_size=1, max_size=6))] = draw(_toml_scalars())
        else:
            target[inner] = draw(_toml_values(2))
    return doc


@pytest.mark.slow
@fuzz_settings(TOML_EXAMPLES)
@given(doc=_mutated())
def test_mutated_valid_documents_are_specs_or_spec_errors(doc):
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return
    spec = _valid_or_spec_error(lambda: SweepSpec.from_toml(text))
    if spec is not None:
        _reads_back(spec)


ODD_VALUES = [None, (1, 2), {1, 2}, frozenset({"a"}), b"bytes", object(), np.float32(1e-3), np.int64(3)]
ODD_VALUES += [np.array([1, 2]), np.array([[1.0]]), np.array("x"), np.nan, range(3), 1j, Ellipsis, type]


@pytest.mark.slow
@fuzz_settings(DICT_EXAMPLES)
@given(doc=_documents(), key=st.sampled_from(TOP_KEYS), odd=st.sampled_from(ODD_VALUES))
def test_dicts_with_python_values_are_specs_or_spec_errors(doc, key, odd):
    """What `fl.sweep`'s keyword arguments can hold and TOML cannot: None, tuples, sets, arrays."""
    doc[key] = odd
    spec = _valid_or_spec_error(lambda: SweepSpec.from_dict(doc))
    if spec is not None:
        _reads_back(spec)


@pytest.mark.parametrize(
    "grid", [{"clipnorm": [None, 1.0]}, {"clipvalue": [None]}, {"class_weight": [None, "balanced"]}]
)
def test_a_none_grid_value_reads_back_from_its_toml(grid):
    """TOML has no null: "no clipping" is written as inf, "no class weights" by name."""
    _reads_back(SweepSpec.from_dict({"grid": grid}))


@fuzz_settings(TEXT_EXAMPLES)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(["[", "]", "{", "}", "=", '"', "'", "\n", ",", ".", "epochs", "model", "1e999"])).map(
            "".join
        ),
        st.just("a = " + "[" * 1000 + "]" * 1000),
        st.just("x = " + "{a = " * 400 + "1" + "}" * 400),
    )
)
def test_any_text_is_a_spec_or_a_spec_error(text):
    _valid_or_spec_error(lambda: SweepSpec.from_toml(text))


@fuzz_settings(OVERRIDE_EXAMPLES)
@given(
    key=st.one_of(
        st.sampled_from([*TOP_KEYS, *(f"model.{k}" for k in MODEL_KEYS), *(f"grid.{k}" for k in GRID_KEYS)]),
        st.sampled_from(["data.path", "data.samples", "optimizer.momentum", "schedule.alpha", "model.units.x"]),
        st.text(alphabet=string.ascii_letters + "._0", max_size=12),
    ),
    value=st.one_of(
        _toml_scalars().map(lambda v: tomli_w.dumps({"v": v})[4:].strip() if _dumpable(v) else str(v)),
        st.text(max_size=20),
        st.sampled_from(["[1e-3,3e-3]", "[", "{", "inf", "nan", "-0", "1e400", "99999999999999999999999", "a b"]),
    ),
)
def test_set_overrides_are_specs_or_spec_errors(key, value):
    base = SweepSpec(seeds=2, epochs=1)
    _valid_or_spec_error(lambda: base.with_overrides([f"{key}={value}"]))


def _dumpable(value: object) -> bool:
    try:
        tomli_w.dumps({"v": value})
        return True
    except (TypeError, ValueError):
        return False


# --- config files cannot run code ----------------------------------------------------------


def test_python_looking_toml_stays_a_string(tmp_path):
    """TOML is data: nothing in a config file is evaluated (no eval, no pickle, no YAML tags)."""
    marker = tmp_path / "ran"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    spec = SweepSpec.from_toml(f'name = "sweep"\n[data]\npath = "{code}"\nlabels = "!!python/object:os.system"\n')
    assert spec.data.path == code and spec.data.labels == "!!python/object:os.system"
    assert not marker.exists()
    with pytest.raises(SpecError, match=r"name: expected letters"):
        SweepSpec.from_toml(f'name = "{code}"')
    assert not marker.exists()


# --- the defects the fuzzing found, one regression test each -------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a MemoryError while listing a trillion members
        ("seeds = 1000000000000", r"the number of members \(configurations x seeds\) must be at most 131072"),
        (
            "seeds = 4096\n[grid]\nlearning_rate = [0.1, 0.2, 0.3]\nunits = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89]",
            r"number of members .* must be at most 131072",
        ),
        # OverflowError inside jax.random at the first step
        ("seeds = [99999999999999999999]", r"seeds\[0\] must be at most 9223372036854775807"),
        ("seeds = [{init = 9223372036854775808, order = 0, dropout = 0}]", r"seeds\[0\]\['init'\] must be at most"),
        ("[fixed_streams]\ninit = 99999999999999999999", r"fixed_streams\['init'\] must be at most"),
        # the process aborted in XLA ("overflow in static extent product")
        ("[model]\nunits = 100000000000", r"model.units must be at most 16384"),
        ("[grid]\nunits = [4, 100000000000]", r"grid\['units'\] must be at most 16384"),
        # JAX RESOURCE_EXHAUSTED allocating 4e18 bytes; a 4 TiB history array
        ("batch_size = 10000000000000000", r"batch_size must be at most 16777216"),
        ("epochs = 1099511627776", r"epochs must be at most 1000000"),
        ("[data]\nsamples = 99999999999999999999999", r"data.samples must be at most"),
        # finite in float64, inf once a float32: trained with an infinite learning rate
        ("learning_rate = 1e308", r"learning_rate: 1e\+308 is beyond float32's range"),
        ('optimizer = {name = "adam", beta_1 = 1e300}', r"optimizer.beta_1: 1e\+300 is beyond float32's range"),
        ("[grid]\nlearning_rate = [1e-3, 1e300]", r"grid.learning_rate\[1\]: 1e\+300 is beyond float32's range"),
    ],
)
def test_absurd_sizes_are_spec_errors_before_any_work(text, message):
    with deadline(SECONDS), pytest.raises(SpecError, match=message):
        SweepSpec.from_toml(text)


def test_limits_leave_real_sweeps_alone():
    spec = SweepSpec.from_toml("seeds = 1024\nepochs = 1000\nbatch_size = 4096\n[model]\nunits = 1024\nlayers = 4")
    assert len(spec.plan().members) == 1024
    assert fl.SweepSpec(seeds=[2**63 - 1], learning_rate=3.4e38).seeds == [2**63 - 1]


@pytest.mark.parametrize(
    "text", ["a = " + "[" * 1000 + "]" * 1000, "x = " + "{a = " * 400 + "1" + "}" * 400], ids=["arrays", "tables"]
)
def test_toml_nested_too_deeply_is_a_spec_error(text):
    """tomllib parses recursively: this was a RecursionError, from from_toml and from --set."""
    with pytest.raises(SpecError, match=r"not valid TOML: values nested too deeply"):
        SweepSpec.from_toml(text)
    with pytest.raises(SpecError, match=r"--set .*nested too deeply"):
        SweepSpec().with_overrides([text.replace(" = ", "=", 1).replace("a=", "name=", 1).replace("x=", "name=", 1)])
