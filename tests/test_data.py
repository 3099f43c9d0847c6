"""The Keras-style data interface: what `fit` accepts, converted as Keras would."""

import numpy as np
import pytest
from conftest import make_data

from fastlstm.data import prepare_data


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
