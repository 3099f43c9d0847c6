"""Fuzzed data: whatever `x`, `y` and their companions are, fastlstm prepares them or says
which argument is wrong - never an exception from NumPy or JAX, never a hang.

The bulk runs `fastlstm.api._sweep.load_data` (what `fl.sweep` calls before compiling) and
`prepare_inputs` (what `predict` calls); a handful of examples run a real one-epoch sweep.
Example counts: DATA_EXAMPLES + PREDICT_EXAMPLES + SWEEP_EXAMPLES (see fuzz_helpers).
"""

from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from fuzz_helpers import check_clean_error, fuzz_settings, outcome
from hypothesis import event, given
from hypothesis import strategies as st

import fastlstm as fl
from fastlstm.api._sweep import load_data
from fastlstm.data._prepare import prepare_data, prepare_inputs

DATA_EXAMPLES = 400
PREDICT_EXAMPLES = 150
SWEEP_EXAMPLES = 6
DATA_NAMES = ("x", "y", "validation_data", "validation_split", "sample_weight", "class_weight", "num_classes")
DATA_NAMES += ("output_dim", "mask_value", "loss", "task", "metrics", "labels", "targets", "standardize")

DTYPES = [bool, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
DTYPES += [np.float16, np.float32, np.float64, np.complex64, np.complex128, "U3", "S3"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e38, -1e38, 3.5e38, 1e300, 0.0, -0.0, 65504.0, 1e-45]
WRONG_TYPES = [None, {}, {"a": 1}, "abc", "", b"xy", {1, 2}, frozenset(), 3, 2.5, True, object(), [], [[]], ()]


def _arrays(max_dims: int = 4) -> st.SearchStrategy:
    """Arrays of any listed dtype and 0..max_dims dimensions, some of them empty."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5)
    return st.sampled_from(DTYPES).flatmap(lambda d: hnp.arrays(np.dtype(d), shapes))


def _objects() -> st.SearchStrategy:
    """Object arrays holding numbers, text, None and arrays."""
    items = st.one_of(st.none(), st.floats(), st.integers(-(2**70), 2**70), st.text(max_size=3), _arrays(2))
    return st.lists(items, max_size=5).map(lambda v: np.array([*v, None], dtype=object)[:-1])


def _ragged() -> st.SearchStrategy:
    """Lists of (timesteps_i, features_i) sequences, timesteps 0..5, widths 1..3 (mixed or not)."""
    widths = st.integers(1, 3)
    seq = st.tuples(st.integers(0, 5), widths).flatmap(
        lambda s: hnp.arrays(np.float64, s, elements=st.floats(-10, 10) | st.sampled_from(SPECIAL))
    )
    return st.lists(seq, max_size=6) | st.lists(st.lists(st.floats(-5, 5), max_size=4), max_size=6)


@st.composite
def _good_x(draw: st.DrawFn) -> np.ndarray:
    """A well-formed (n, t, f) float array, with one special value placed somewhere, or not."""
    n, t, f = draw(st.integers(1, 12)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, bool]))
    x = np.random.default_rng(draw(st.integers(0, 9))).normal(size=(n, t, f)).astype(dtype)
    if draw(st.booleans()) and x.dtype.kind == "f":
        x = x.astype(np.float64)
        x[draw(st.integers(0, n - 1)), draw(st.integers(0, t - 1)), draw(st.integers(0, f - 1))] = draw(
            st.sampled_from(SPECIAL)
        )
    return x


def _xs() -> st.SearchStrategy:
    return st.one_of(_good_x(), _good_x(), _arrays(), _objects(), _ragged(), st.sampled_from(WRONG_TYPES))


def _labels(n: int) -> st.SearchStrategy:
    """Targets for n rows: labels, one-hot, floats with specials, bool; or the wrong count."""
    rows = st.sampled_from([n, n, n, n, 0, max(n - 1, 0), n + 1])
    return st.one_of(
        rows.flatmap(lambda r: hnp.arrays(np.int64, r, elements=st.integers(-1, 4))),
        rows.flatmap(lambda r: hnp.arrays(np.float64, (r, 2), elements=st.sampled_from([0.0, 1.0, 0.5, *SPECIAL]))),
        rows.flatmap(lambda r: hnp.arrays(np.dtype(np.uint64), r, elements=st.integers(0, 2**64 - 1))),
        rows.flatmap(lambda r: hnp.arrays(np.float64, r, elements=st.floats(allow_nan=True, allow_infinity=True))),
        st.integers(0, 3).flatmap(lambda k: hnp.arrays(bool, (n, k))),
        _arrays(3),
        _objects(),
        st.sampled_from(WRONG_TYPES),
        st.lists(st.lists(st.integers(0, 2), max_size=2), min_size=n, max_size=n),
    )


def _weights(n: int) -> st.SearchStrategy:
    good = hnp.arrays(np.float64, n, elements=st.floats(0, 10))
    odd = hnp.arrays(np.float64, st.sampled_from([n, n - 1 if n else 0, (n, 1)]), elements=st.sampled_from(SPECIAL))
    return st.one_of(st.none(), st.none(), good, odd, _arrays(2), st.sampled_from(WRONG_TYPES))


def _options(n: int) -> st.SearchStrategy:
    """The companions of x and y in `fl.sweep` that `load_data` reads."""
    return st.fixed_dictionaries(
        {},
        optional={
            "sample_weight": _weights(n),
            "validation_split": st.sampled_from([0.0, 0.2, 0.5, 0.99, -0.1, 1.0, float("nan"), "0.2", None]),
            "validation_data": st.one_of(
                st.tuples(_xs(), st.integers(0, 12).flatmap(_labels)),
                st.tuples(_good_x(), st.integers(0, 3).flatmap(_labels), _weights(3)),
                st.sampled_from(WRONG_TYPES),
            ),
            "class_weight": st.sampled_from([None, "balanced", {0: 1.0, 1: 2.0}, {0: np.inf}, {"a": 1}, [1, 2], "x"]),
            "mask_value": st.sampled_from([None, 0.0, -1.0, np.nan, 1e300, "0", True]),
            "num_classes": st.sampled_from([None, 2, 5, 2**40, 0, 2.5, "3"]),
            "loss": st.sampled_from([None, "mse", "binary_crossentropy", "categorical_crossentropy", "hinge", 3]),
        },
    )


def _spec(options: dict) -> fl.SweepSpec | None:
    """The spec `fl.sweep` would build from the options that are spec keys (None if refused)."""
    keys = {k: options.pop(k) for k in ("validation_split", "class_weight", "loss") if k in options}
    model = {k: options.pop(k) for k in ("mask_value", "num_classes") if k in options}
    try:
        return fl.SweepSpec.from_dict({**keys, "seeds": 1, "epochs": 1, "model": {"units": 2, **model}})
    except ValueError as err:
        check_clean_error(err, (*DATA_NAMES, "model"))
        return None


def _check_dataset(ds: fl.data.Dataset) -> None:
    """What a prepared dataset promises the engine."""
    for split in (ds.train, ds.val):
        if split is None:
            continue
        n = len(split)
        assert split.x.dtype == np.float32 and split.x.ndim == 3 and n >= 1
        assert split.x.shape[1] >= 1 and split.x.shape[2] == ds.features >= 1
        assert np.isfinite(split.x).all()
        assert split.y.shape[0] == n and np.isfinite(split.y).all()
        assert split.weight.shape == (n,) and split.weight.dtype == np.float32
        assert np.isfinite(split.weight).all() and (split.weight >= 0).all()
        assert split.mask is None or (split.mask.shape == split.x.shape[:2] and split.mask.dtype == bool)
    assert ds.task in ("classification", "binary", "regression") and ds.out_dim >= 1
    if ds.loss == "sparse_categorical_crossentropy":
        assert ds.train.y.dtype == np.int32 and ds.train.y.min() >= 0 and ds.train.y.max() < ds.out_dim


def _rows(x: object) -> int:
    """How many rows a matching y has (3 for an x without any)."""
    try:
        return len(x) if not isinstance(x, (str, bytes)) else 3
    except TypeError:  # a 0-d array, a number
        return 3


@pytest.mark.slow
@fuzz_settings(DATA_EXAMPLES)
@given(data=st.data())
def test_load_data_prepares_or_names_the_argument(data):
    x = data.draw(_xs(), label="x")
    n = _rows(x)
    y = data.draw(_labels(n), label="y")
    options = data.draw(_options(n), label="options")
    spec = _spec(options)
    if spec is None:  # its refusal was checked; the data still go through load_data, with the defaults
        spec = _spec({})
        event("spec options refused: the default spec")
    ds = outcome(lambda: load_data(spec, x, y, **options), DATA_NAMES)
    if ds is not None:
        _check_dataset(ds)


@fuzz_settings(PREDICT_EXAMPLES)
@given(x=_xs(), mask_value=st.sampled_from([None, 0.0]))
def test_prepare_inputs_prepares_or_names_x(x, mask_value):
    got = outcome(lambda: prepare_inputs(x, mask_value), ("x",))
    if got is not None:
        arr, mask = got
        assert arr.dtype == np.float32 and arr.ndim == 3 and min(arr.shape) >= 1 and np.isfinite(arr).all()
        assert mask is None or mask.shape == arr.shape[:2]


@pytest.mark.slow
@fuzz_settings(SWEEP_EXAMPLES)
@given(x=_good_x(), data=st.data())
def test_a_real_sweep_trains_or_names_the_argument(x, data):
    """A real (one seed, one epoch, two units) sweep over fuzzed, mostly valid data."""
    y = data.draw(st.one_of(hnp.arrays(np.int64, len(x), elements=st.integers(0, 2)), _labels(len(x))), label="y")
    run = lambda: fl.sweep(x, y, seeds=1, epochs=1, batch_size=4, model={"units": 2}, verbose=0)  # noqa: E731
    result = outcome(run, DATA_NAMES, seconds=120.0)
    if result is not None:
        assert result.history["loss"].shape == (1, 1)


# --- the defects the fuzzing found, one regression test each -----------------------------


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.full((4, 3), "1.5"), r"x must hold real numbers, got dtype <U3 \(text\)"),  # was parsed as floats
        (np.ones((4, 3), complex), r"x must hold real numbers, got dtype complex128"),  # was cut to the real part
        ([np.ones(3, complex), np.ones(2)], r"x\[0\] is not a numeric array: it holds complex128"),
        ({1.0, 2.0}, r"x must be an array .* or a list of sequences"),  # a set has no order
        (None, r"x is required"),  # was "got shape ()"
    ],
)
def test_x_that_is_not_real_numbers_is_refused(x, message):
    with pytest.raises(ValueError, match=message):
        prepare_data(x, np.array([0, 1, 0, 1]))


def test_x_beyond_float32_says_so_and_gives_a_plain_index():
    """1e39 became inf silently in the float32 cast; the message said only "NaN or inf", and
    the index printed as (np.int64(0), ...)."""
    x = np.zeros((4, 3, 1))
    x[2, 1, 0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the cast's overflow warning leaked too
        with pytest.raises(ValueError, match=r"beyond float32's range .* \(first at index \(2, 1, 0\)\)"):
            prepare_data(x, np.array([0, 1, 0, 1]))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones(4, complex), r"y must be numeric, got dtype complex128"),  # was accepted, imaginary part dropped
        (np.zeros((4, 0)), r"y has shape \(4, 0\): expected at least one output column"),  # was a 0-output head
        (np.array([0, 1, 2**40, 1]), r"y: label 1099511627776 is too large"),  # was a MemoryError (8 TiB)
        (np.full(4, 2**62), r"y: label 4611686018427387904 is too large"),  # was NumPy's "array is too big"
        (np.array([0.0, 1.0, 1e300, 2.0]), r"y contains NaN or inf values, or numbers beyond float32's range"),
    ],
)
def test_y_that_cannot_train_is_refused(y, message):
    with pytest.raises(ValueError, match=message):
        prepare_data(np.zeros((4, 3, 1)), y, num_classes=3 if "too large" in message else None)


@pytest.mark.parametrize(
    ("y", "names"),
    [
        (np.array([0, 1, 2**40, 1]), ("0", "1", "1099511627776")),  # was a MemoryError (8 TiB softmax)
        (np.array([1e38, 0.0, 1e38, 0.0]), ("0", "1e+38")),  # was 2 classes, labels garbage
        (np.array([-(2**62), 3, 3, -(2**62)]), ("-4611686018427387904", "3")),
    ],
)
def test_huge_whole_labels_are_class_names(y, names):
    """Labels are names coded 0..k-1 (fastlstm/data/_labels.py): a huge value costs one output, not 2**40."""
    ds = prepare_data(np.random.default_rng(0).normal(size=(4, 3, 1)), y)
    assert ds.class_names == names and ds.out_dim == (1 if len(names) == 2 else len(names))


@pytest.mark.parametrize(
    "sample_weight",
    ["abc", {"a": 1}, {1, 2}, np.array([object()] * 4), [[1], [1, 2]], np.ones(4, complex), [None] * 4],
)
def test_sample_weight_that_is_not_numbers_names_sample_weight(sample_weight):
    """These escaped as NumPy's TypeError/ValueError ("float() argument must be ...") or,
    for complex weights, were accepted with the imaginary part dropped."""
    with pytest.raises(ValueError, match=r"^sample_weight must"):
        prepare_data(np.zeros((4, 3, 1)), np.array([0, 1, 0, 1]), sample_weight=sample_weight)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(num_classes=10**30), r"num_classes must be at most 1048576"),  # was accepted: a 1e30-way softmax
        (dict(output_dim=2**40), r"output_dim must be at most 1048576"),
        (dict(class_weight={0: 1e300, 1: 1.0}), r"class_weight values must be finite"),  # inf in float32
        (dict(mask_value=1e300), r"mask_value must be a number or None \(finite"),  # inf in float32
        (dict(mask_value=float("nan")), r"mask_value must be a number or None"),
    ],
)
def test_settings_beyond_float32_or_absurd_sizes_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        prepare_data(np.zeros((4, 3, 1)), np.array([0, 1, 0, 1]), **options)
