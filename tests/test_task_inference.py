"""The task, loss and head guessed from `y`: every rule of fastlstm.data._targets' table,
explicit settings winning, the recorded reason, and the warnings on doubtful guesses."""

import warnings

import numpy as np
import pytest

import fastlstm as fl
from fastlstm.data._prepare import TaskInferenceWarning, prepare_data

N = 12
X = np.random.default_rng(0).normal(size=(N, 5, 2)).astype(np.float32)
INTS_01 = np.arange(N) % 2
INTS_012 = np.arange(N) % 3
ONEHOT = np.eye(3)[INTS_012]
MULTI_LABEL = np.stack([INTS_01, 1 - INTS_01, np.arange(N) % 4 == 0], axis=1).astype(int)  # rows of 0, 1 or 2 ones
SOFT = np.linspace(0.05, 0.95, N)
FLOAT_ROWS = np.random.default_rng(1).normal(size=(N, 2))

SCC, CCE, BCE = "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"

# (id, y, explicit settings, expected (task, loss, out_dim, num_classes))
RULES = [
    ("ints 0/1", INTS_01, {}, ("binary", BCE, 1, None)),
    ("bool", INTS_01.astype(bool), {}, ("binary", BCE, 1, None)),
    ("floats 0.0/1.0", INTS_01.astype(float), {}, ("binary", BCE, 1, None)),
    ("ints 0..2", INTS_012, {}, ("classification", SCC, 3, 3)),
    ("whole floats 0.0..2.0", INTS_012.astype(np.float32), {}, ("classification", SCC, 3, 3)),
    ("non-whole floats", INTS_012 + 0.5, {}, ("regression", "mse", 1, None)),
    ("(n,1) ints 0..2", INTS_012[:, None], {}, ("classification", SCC, 3, 3)),
    ("(n,1) 0/1", INTS_01[:, None], {}, ("binary", BCE, 1, None)),
    ("(n,1) non-whole floats", SOFT[:, None] * 7, {}, ("regression", "mse", 1, None)),
    ("one-hot rows", ONEHOT, {}, ("classification", CCE, 3, 3)),
    ("multi-label 0/1 rows", MULTI_LABEL, {}, ("binary", BCE, 3, None)),
    ("multi-label bool rows", MULTI_LABEL.astype(bool), {}, ("binary", BCE, 3, None)),
    ("multi-output float rows", FLOAT_ROWS, {}, ("regression", "mse", 2, None)),
    ("task=regression on ints", INTS_012, {"task": "regression"}, ("regression", "mse", 1, None)),
    ("task=classification on 0/1", INTS_01, {"task": "classification"}, ("classification", SCC, 2, 2)),
    ("task=classification on one-hot", ONEHOT, {"task": "classification"}, ("classification", CCE, 3, 3)),
    ("task=binary on soft targets", SOFT, {"task": "binary"}, ("binary", BCE, 1, None)),
    ("task=regression on one-hot", ONEHOT, {"task": "regression"}, ("regression", "mse", 3, None)),
    ("num_classes=2 on 0/1", INTS_01, {"num_classes": 2}, ("classification", SCC, 2, 2)),
    ("num_classes=5 on 0..2", INTS_012, {"num_classes": 5}, ("classification", SCC, 5, 5)),
    ("num_classes=3 on one-hot", ONEHOT, {"num_classes": 3}, ("classification", CCE, 3, 3)),
    ("output_dim=2 on 0/1", INTS_01, {"output_dim": 2}, ("classification", SCC, 2, 2)),
    ("output_dim=1 on 0/1", INTS_01, {"output_dim": 1}, ("binary", BCE, 1, None)),
    ("output_dim=2 on float rows", FLOAT_ROWS, {"output_dim": 2}, ("regression", "mse", 2, None)),
    ("output_dim=3 on multi-label", MULTI_LABEL, {"output_dim": 3}, ("binary", BCE, 3, None)),
    ("loss=mae on ints", INTS_012, {"loss": "mae"}, ("regression", "mae", 1, None)),
    ("loss=mean_squared_error", INTS_01, {"loss": "mean_squared_error"}, ("regression", "mse", 1, None)),
    ("loss=bce on multi-label", MULTI_LABEL, {"loss": BCE}, ("binary", BCE, 3, None)),
    ("loss=bce on soft targets", SOFT, {"loss": BCE}, ("binary", BCE, 1, None)),
    ("loss=scc on 0/1", INTS_01, {"loss": SCC}, ("classification", SCC, 2, 2)),
    ("loss=cce on one-hot", ONEHOT, {"loss": CCE}, ("classification", CCE, 3, 3)),
    ("loss and matching task", INTS_012, {"loss": "mae", "task": "regression"}, ("regression", "mae", 1, None)),
    ("numpy num_classes", INTS_01, {"num_classes": np.int64(3)}, ("classification", SCC, 3, 3)),
]


@pytest.mark.parametrize("y, settings, expected", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_rule_table(y, settings, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskInferenceWarning)  # none of these guesses is doubtful
        ds = prepare_data(X, y, **settings)
    assert (ds.task, ds.loss, ds.out_dim, ds.num_classes) == expected
    inferred = ds.inference
    assert (inferred["task"], inferred["loss"], inferred["out_dim"], inferred["num_classes"]) == expected
    assert inferred["reason"].startswith(f"{expected[0]}: ") and expected[1] in inferred["reason"]
    assert inferred["warnings"] == []
    # The encoded targets fit the head: labels for the sparse loss, dense columns otherwise.
    if expected[1] == SCC:
        assert ds.train.y.shape == (N,) and ds.train.y.dtype == np.int32
    else:
        assert ds.train.y.shape == (N, expected[2]) and ds.train.y.dtype == np.float32


def test_reason_reads_as_one_line():
    assert prepare_data(X, INTS_012).inference["reason"] == (
        "classification: 3 classes (0, 1, 2) -> softmax over 3, sparse_categorical_crossentropy"
    )
    assert prepare_data(X, INTS_01, num_classes=2).inference["reason"].endswith("(from num_classes=2)")


def test_validation_labels_count_in_the_guess():
    """A class seen only in the validation rows still gets an output."""
    y_val = np.array([0, 1, 2])
    ds = prepare_data(X, INTS_01, validation_data=(X[:3], y_val))
    assert (ds.task, ds.num_classes) == ("classification", 3)


ERRORS = [
    ("negative ints as classes", INTS_012 - 1, {"num_classes": 3}, r"class labels must be >= 0, got -1; encode them"),
    ("class names for regression", np.array(list("abc") * 4), {"task": "regression"}, r"regression needs numbers"),
    ("label above num_classes", INTS_012, {"num_classes": 2}, r"label 2 is >= num_classes=2"),
    ("num_classes with task=regression", INTS_012, {"num_classes": 3, "task": "regression"}, r"num_classes=3 is for"),
    ("num_classes with task=binary", INTS_01, {"num_classes": 2, "task": "binary"}, r"num_classes=2 is for"),
    ("num_classes with loss=mse", INTS_012, {"num_classes": 3, "loss": "mse"}, r"num_classes=3 is for"),
    ("num_classes=2.5", INTS_01, {"num_classes": 2.5}, r"num_classes must be an int >= 2, got 2.5"),
    ("num_classes=True", INTS_01, {"num_classes": True}, r"num_classes must be an int >= 2"),
    ("num_classes vs one-hot width", ONEHOT, {"num_classes": 4}, r"num_classes=4 but the one-hot rows .* width 3"),
    ("loss contradicts task", INTS_01, {"loss": "mse", "task": "binary"}, r"loss='mse' is a regression loss"),
    ("output_dim vs float column", SOFT * 3, {"output_dim": 3}, r"output_dim=3 but regression"),
    ("output_dim vs classes", INTS_012, {"output_dim": 1}, r"output_dim=1 but classification"),
    ("output_dim=0", INTS_01, {"output_dim": 0}, r"output_dim must be a positive int"),
    ("binary out of range", INTS_012, {"task": "binary"}, r"binary targets must be in \[0, 1\]"),
    ("classification of fractions", SOFT, {"task": "classification"}, r"class labels must be integers"),
    ("cce on a label column", INTS_012, {"loss": CCE}, r"categorical_crossentropy expects one-hot rows"),
    ("scc on rows", ONEHOT, {"loss": SCC}, r"class labels must be 1-D"),
    ("unknown task", INTS_01, {"task": "ranking"}, r"task must be one of auto, classification"),
]


@pytest.mark.parametrize("y, settings, match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_contradictions_are_errors(y, settings, match):
    with pytest.raises(ValueError, match=match):
        prepare_data(X, y, **settings)


def test_validation_targets_must_have_the_training_columns():
    with pytest.raises(ValueError, match=r"validation_data y has 2 columns but y has 3"):
        prepare_data(X, ONEHOT, validation_data=(X[:2], np.eye(2)))


DOUBTFUL = [
    ("150 classes", np.arange(1000) % 150, r"150 distinct whole-number values .* task='regression'"),
]


@pytest.mark.parametrize("y, match", [d[1:] for d in DOUBTFUL], ids=[d[0] for d in DOUBTFUL])
def test_doubtful_guesses_warn_at_the_callers_line(y, match):
    x = np.zeros((len(y), 3, 1), np.float32)
    with pytest.warns(TaskInferenceWarning, match=match) as caught:
        ds = prepare_data(x, y)
    assert ds.task == "classification" and any(m for m in ds.inference["warnings"])
    assert {w.filename for w in caught if w.category is TaskInferenceWarning} == {__file__}


# (id, y, expected task, classes, class names): labels that are not 0..k-1 are coded, not padded
# with empty classes; the same names give the same codes whatever type held them.
CODED = [
    ("labels 1/2 (UCR)", np.arange(30) % 2 + 1, "binary", 1, ("1", "2")),
    ("labels 1..3", np.arange(30) % 3 + 1, "classification", 3, ("1", "2", "3")),
    ("labels -1/1", np.where(np.arange(30) % 2, 1, -1), "binary", 1, ("-1", "1")),
    ("labels 3/7 as floats", np.where(np.arange(30) % 2, 7.0, 3.0), "binary", 1, ("3", "7")),
    ("labels 0,5,9", np.array([0, 5, 9] * 10), "classification", 3, ("0", "5", "9")),
    ("names", np.array(["walk", "run", "idle"] * 10), "classification", 3, ("idle", "run", "walk")),
    ("numeric names", np.array(["10", "2", "1"] * 10), "classification", 3, ("1", "2", "10")),
]


@pytest.mark.parametrize("y, task, out_dim, names", [c[1:] for c in CODED], ids=[c[0] for c in CODED])
def test_class_labels_are_coded_and_named(y, task, out_dim, names):
    x = np.zeros((len(y), 3, 1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskInferenceWarning)
        ds = prepare_data(x, y)
    assert (ds.task, ds.out_dim, ds.class_names) == (task, out_dim, names)
    decoded = np.asarray(names)[ds.train.y.reshape(-1).astype(int)]
    assert decoded.tolist() == [str(int(v)) if not isinstance(v, str) else v for v in y.tolist()]


def test_same_labels_from_numbers_and_strings_give_the_same_codes():
    ints = np.array([2, 1, 1, 2, 1, 2])
    x = np.zeros((6, 3, 1), np.float32)
    a, b = prepare_data(x, ints), prepare_data(x, ints.astype(str))
    assert a.class_names == b.class_names == ("1", "2")
    np.testing.assert_array_equal(a.train.y, b.train.y)


@pytest.mark.parametrize(
    "y",
    [np.arange(150), np.arange(30) % 20, np.arange(120) * 3.0 + 100],
    ids=["150 distinct of 150", "20 distinct of 30", "a float quantity (passenger counts)"],
)
def test_whole_numbers_that_are_a_quantity_are_regression(y):
    x = np.zeros((len(y), 3, 1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskInferenceWarning)
        ds = prepare_data(x, y)
    assert ds.task == "regression" and ds.class_names is None
    assert "a quantity rather than class labels" in ds.inference["reason"]


# (id, y, settings, task, output width, the reason's "from ..."): what each setting decides.
# The first two would warn unset (DOUBTFUL); the rest infer another task or width unset.
EXPLICIT = [
    ("doubt, task=regression", np.arange(1000) % 150, {"task": "regression"}, "regression", 1, "task='regression'"),
    ("doubt, num_classes", np.arange(1000) % 150, {"num_classes": 150}, "classification", 150, "num_classes=150"),
    ("task=regression", np.arange(150), {"task": "regression"}, "regression", 1, "task='regression'"),
    ("num_classes given", np.arange(150), {"num_classes": 150}, "classification", 150, "num_classes=150"),
    ("gaps with num_classes", np.array([0, 5, 9] * 10), {"num_classes": 10}, "classification", 10, "num_classes=10"),
    ("gaps with output_dim", np.array([1, 2, 3] * 10), {"output_dim": 4}, "classification", 4, "output_dim=4"),
]


@pytest.mark.parametrize("y, settings, task, out_dim, source", [e[1:] for e in EXPLICIT], ids=[e[0] for e in EXPLICIT])
def test_explicit_settings_silence_the_doubt_and_decide_the_task(y, settings, task, out_dim, source):
    x = np.zeros((len(y), 3, 1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskInferenceWarning)
        ds = prepare_data(x, y, **settings)
    assert (ds.task, ds.out_dim, ds.inference["warnings"]) == (task, out_dim, [])
    assert f"(from {source}" in ds.inference["reason"]
    if task == "classification":  # the user's own codes, not recoded to 0..k-1
        assert ds.class_names is None
        np.testing.assert_array_equal(ds.train.y.reshape(-1), y[: len(ds.train.y)])


@pytest.mark.slow
def test_sweep_warns_at_the_users_line_and_records_the_inference():
    """Through fl.sweep: the warning points at this file, and meta says what was decided."""
    y = np.arange(400) % 150
    x = np.zeros((400, 3, 1), np.float32)
    with pytest.warns(TaskInferenceWarning, match="150 distinct") as caught:
        result = fl.sweep(x, y, model=fl.ModelSpec(units=4), seeds=1, epochs=1, batch_size=200, verbose=0)
    assert {w.filename for w in caught if w.category is TaskInferenceWarning} == {__file__}
    inferred = result.meta["inferred"]
    assert inferred["num_classes"] == 150 and inferred["task"] == result.meta["task"] == "classification"
    assert "150 distinct" in inferred["warnings"][0]


@pytest.mark.slow
def test_sweep_keeps_the_class_names_and_predicts_them():
    """Labels 1..3 train a 3-way softmax (not 4 with an empty class 0), and the names come back."""
    y = np.array([1, 2, 3] * 4)
    result = fl.sweep(X, y, model=fl.ModelSpec(units=4), seeds=2, epochs=1, batch_size=6, verbose=0)
    assert result.meta["class_names"] == ["1", "2", "3"] and result.meta["out_dim"] == 3
    labels = result.predict_labels(X)
    assert labels.shape == (2, N) and set(labels.ravel().tolist()) <= {"1", "2", "3"}
    np.testing.assert_array_equal(labels, np.asarray(["1", "2", "3"])[result.predict(X).argmax(-1)])
    scores = result.evaluate(X, y)  # evaluated in the user's labels, coded as in training
    manual = (labels == y.astype(str)).mean(axis=1)
    np.testing.assert_allclose(scores["accuracy"], manual, atol=1e-6)


@pytest.mark.slow
def test_num_classes_two_builds_a_two_way_softmax():
    """ModelSpec(num_classes=2) with 0/1 labels was silently a sigmoid head."""
    result = fl.sweep(
        X, INTS_01, model=fl.ModelSpec(units=4, num_classes=2), seeds=1, epochs=1, batch_size=6, verbose=0
    )
    assert result.meta["loss"] == SCC and result.meta["out_dim"] == 2
    probs = result.predict(X)
    assert probs.shape == (1, N, 2)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_multi_label_accuracy_is_per_output():
    """k sigmoid outputs; Keras's binary accuracy averages the k per-output hits."""
    result = fl.sweep(X, MULTI_LABEL, model=fl.ModelSpec(units=4), seeds=2, epochs=1, batch_size=6, verbose=0)
    assert result.meta["inferred"]["loss"] == BCE and result.meta["out_dim"] == 3
    probs = result.predict(X)
    expected = np.mean((probs > 0.5) == (MULTI_LABEL[None] > 0.5), axis=(1, 2))
    np.testing.assert_allclose(result.evaluate(X, MULTI_LABEL)["accuracy"], expected, rtol=1e-6)
