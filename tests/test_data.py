"""The Keras-style data interface: what `fit` accepts, converted as Keras would."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_data

from fastlstm.data._prepare import prepare_data


class TinyPyDataset:
    """The shape of keras.utils.PyDataset: __len__, __getitem__ -> (x, y), on_epoch_end."""

    def __init__(self, x, y, batch):
        self.x, self.y, self.batch = x, y, batch

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        s = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        pass


def test_pydataset_is_concatenated_in_order():
    x, y = make_data(n=23)
    ds = prepare_data(TinyPyDataset(x, y, 5), None)
    np.testing.assert_array_equal(ds.train.x, x)
    np.testing.assert_array_equal(ds.train.y, y)


def test_two_dimensional_x_is_one_feature_and_lists_work():
    x = np.arange(12, dtype=float).reshape(4, 3).tolist()
    ds = prepare_data(x, [0, 1, 0, 1])
    assert ds.train.x.shape == (4, 3, 1) and ds.task == "binary" and ds.loss == "binary_crossentropy"


def test_task_inference():
    x, y = make_data(n=12, classes=3)
    assert prepare_data(x, y).loss == "sparse_categorical_crossentropy"
    onehot = np.eye(3)[y]
    d = prepare_data(x, onehot)
    assert d.loss == "categorical_crossentropy" and d.out_dim == 3
    assert prepare_data(x, y.astype(float) + 0.25).task == "regression"
    assert prepare_data(x, y, loss="mae").task == "regression"


def test_validation_split_and_sample_weight_split_together():
    x, y = make_data(n=10)
    w = np.arange(10, dtype=np.float32)
    ds = prepare_data(x, y, validation_split=0.3, sample_weight=w)
    np.testing.assert_array_equal(ds.val.x, x[7:])
    np.testing.assert_array_equal(ds.train.weight, w[:7])
    np.testing.assert_array_equal(ds.val.weight, w[7:])


def test_ragged_sequences_pad_after_and_mask():
    ds = prepare_data([np.ones((2, 3)), np.ones((4, 3))], [0, 1])
    assert ds.train.x.shape == (2, 4, 3)
    np.testing.assert_array_equal(ds.train.mask, [[True, True, False, False], [True] * 4])
    np.testing.assert_array_equal(ds.train.x[0, 2:], 0)


def test_mask_value_masks_like_keras_masking():
    x = np.ones((2, 4, 2), np.float32)
    x[0, 3] = 0.0
    x[1, 1] = [0.0, 1.0]  # only one feature equals the mask value: kept, as in Keras
    ds = prepare_data(x, [0, 1], mask_value=0.0)
    np.testing.assert_array_equal(ds.train.mask, [[True, True, True, False], [True] * 4])


def test_class_weight_rejects_regression():
    x, _ = make_data(n=6)
    with pytest.raises(ValueError, match="class_weight only applies"):
        prepare_data(x, np.linspace(0, 1, 6) + 0.1, class_weight={0: 1.0})


def _ragged(lengths, features=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, features)).astype(np.float32) for t in lengths]


def _object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


@pytest.mark.parametrize(
    "wrap",
    [
        _object_array,
        lambda s: pd.Series(list(s)),
        lambda s: pd.DataFrame({"series": list(s)}),
        tuple,
    ],
    ids=["numpy object array", "pandas Series of arrays", "one-column DataFrame of arrays", "tuple"],
)
def test_ragged_collections_are_read_like_a_list(wrap):
    """What aeon and pandas hand over (object arrays of sequences) pads as list(x) does."""
    seqs = _ragged([3, 5, 2])
    expected = prepare_data(seqs, [0, 1, 0])
    ds = prepare_data(wrap(seqs), [0, 1, 0])
    np.testing.assert_array_equal(ds.train.x, expected.train.x)
    np.testing.assert_array_equal(ds.train.mask, expected.train.mask)


def test_equal_length_object_array_needs_no_mask():
    ds = prepare_data(_object_array(_ragged([4, 4])), [0, 1])
    assert ds.train.x.shape == (2, 4, 2) and ds.train.mask is None


def test_validation_sequences_may_be_longer_or_shorter_than_training():
    """Validation is evaluated by its own program: it keeps its own length and mask."""
    x, y = _ragged([3, 5, 2, 4]), [0, 1, 0, 1]
    longer = prepare_data(x, y, validation_data=(_ragged([7, 2], seed=1), [1, 0]))
    assert longer.timesteps == 5 and longer.val.x.shape == (2, 7, 2)
    np.testing.assert_array_equal(longer.val.mask.sum(axis=1), [7, 2])
    shorter = prepare_data(x, y, validation_data=(np.ones((2, 3, 2)), [1, 0]))
    assert shorter.val.x.shape == (2, 3, 2) and shorter.val.mask is None


def test_metrics_may_be_one_name():
    x, y = make_data(n=6)
    assert prepare_data(x, y, metrics="accuracy").metrics == ("accuracy",)
    with pytest.raises(ValueError, match=r"metrics must be a metric name or a list of names"):
        prepare_data(x, y, metrics=3)


def test_numpy_numbers_are_accepted_for_every_setting():
    x, y = make_data(n=10, classes=2)
    ds = prepare_data(
        x,
        y,
        num_classes=np.int64(2),
        output_dim=np.int32(2),
        mask_value=np.float32(0),
        validation_split=np.float32(0.2),
        class_weight={np.int64(0): np.float32(1.0), np.int64(1): np.float64(3.0)},
    )
    assert (len(ds.train), len(ds.val), ds.num_classes) == (8, 2, 2)
    np.testing.assert_array_equal(ds.train.weight, np.where(y[:8] == 1, 3.0, 1.0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(validation_split=True), r"validation_split must be a float in \[0, 1\), got True"),
        (dict(mask_value="0"), r"mask_value must be a number or None"),
        (dict(class_weight={0.5: 1.0, 1: 1.0}), r"class_weight keys must be int class indices, got 0.5"),
        (dict(class_weight={0: -1.0, 1: 1.0}), r"class_weight values must be finite and >= 0"),
        (dict(class_weight=[1.0, 1.0]), r"class_weight must be a dict"),
    ],
)
def test_bad_settings_name_the_argument(kwargs, match):
    x, y = make_data(n=10, classes=2)
    with pytest.raises(ValueError, match=match):
        prepare_data(x, y, **kwargs)


@pytest.mark.slow
def test_sweep_with_longer_ragged_validation_data_matches_evaluate():
    """val_loss of the last epoch is evaluate() of the final weights on the same data."""
    import fastlstm as fl

    rng = np.random.default_rng(3)
    x = _ragged(rng.integers(2, 7, size=16), seed=4)
    y = rng.integers(0, 2, size=16)
    x_val, y_val = _ragged([9, 3, 8, 5], seed=5), np.array([0, 1, 1, 0])
    result = fl.sweep(
        _object_array(x),
        y,
        validation_data=(_object_array(x_val), y_val),
        model=fl.ModelSpec(units=4),
        seeds=2,
        epochs=2,
        batch_size=8,
        verbose=0,
    )
    assert [m["final_epoch"] for m in result.members] == [1, 1]
    evaluated = result.evaluate(x_val, y_val)
    np.testing.assert_allclose(result.history["val_loss"][:, -1], evaluated["loss"], rtol=1e-5)
    np.testing.assert_allclose(result.history["val_accuracy"][:, -1], evaluated["accuracy"], rtol=1e-6)
