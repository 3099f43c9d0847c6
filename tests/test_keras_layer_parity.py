"""Forward parity of fastlstm.engine._recurrence with real Keras 3 layers (JAX backend), same weights
(`set_weights`/`get_weights`) and masks: LSTM with every option and Bidirectional(LSTM) in
every merge mode, and the dropout masks applied exactly where Keras's cell applies them."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax.numpy as jnp
import keras
import numpy as np
import pytest

from fastlstm.engine._recurrence import bidirectional_layer, lstm_layer

ATOL = 1e-5
BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 5


def _x(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES)).astype(np.float32)


# (batch, time): post-padding, pre-padding, full, one step only
PADDED = np.array(
    [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]],
    dtype=bool,
)


def _randomise(layer, seed):
    """Random weights (not initialiser-shaped) so every gate slice matters."""
    rng = np.random.default_rng(seed)
    layer.set_weights([(0.5 * rng.normal(size=w.shape)).astype(np.float32) for w in layer.get_weights()])
    return layer.get_weights()


def _time_major(a):
    return jnp.swapaxes(jnp.asarray(a), 0, 1)


def _from_time_major(out, sequences):
    return np.asarray(jnp.swapaxes(out, 0, 1) if sequences else out)


def test_keras_own_test_vector():
    """keras/src/layers/rnn/lstm_test.py: constant weights (unit_forget_bias puts 1 on the f slice)."""
    layer = keras.layers.LSTM(
        2,
        kernel_initializer=keras.initializers.Constant(0.01),
        recurrent_initializer=keras.initializers.Constant(0.02),
        bias_initializer=keras.initializers.Constant(0.03),
    )
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    want = np.asarray(layer(x, mask=mask))
    got = lstm_layer(_time_major(x), *layer.get_weights(), _time_major(mask), return_sequences=False)
    np.testing.assert_allclose(got, want, atol=ATOL)
    np.testing.assert_allclose(got, [[0.11755939, 0.11755939], [0.28556206, 0.28556206]], atol=ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("sequences", [True, False])
def test_lstm_forward_matches_keras(sequences, go_backwards, masked, zero_output):
    layer = keras.layers.LSTM(
        UNITS, return_sequences=sequences, go_backwards=go_backwards, zero_output_for_mask=zero_output
    )
    x, mask = _x(), PADDED if masked else None
    layer.build(x.shape)
    weights = _randomise(layer, 1)
    want = np.asarray(layer(x, mask=mask))
    got = lstm_layer(
        _time_major(x),
        *weights,
        None if mask is None else _time_major(mask),
        return_sequences=sequences,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output,
    )
    np.testing.assert_allclose(_from_time_major(got, sequences), want, atol=ATOL)


@pytest.mark.slow
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_forward_matches_keras(merge_mode, sequences, masked):
    layer = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=sequences), merge_mode=merge_mode)
    x, mask = _x(2), PADDED if masked else None
    layer.build(x.shape)
    weights = _randomise(layer, 3)  # forward [K, R, b] then backward [K, R, b]
    want = np.asarray(layer(x, mask=mask))
    got = bidirectional_layer(
        _time_major(x),
        tuple(weights[:3]),
        tuple(weights[3:]),
        None if mask is None else _time_major(mask),
        merge_mode=merge_mode,
        return_sequences=sequences,
    )
    np.testing.assert_allclose(_from_time_major(got, sequences), want, atol=ATOL)


def _dropout_masks(rng, shape, rate):
    return ((rng.random(shape) >= rate) / (1.0 - rate)).astype(np.float32)


def _use_masks(cell, input_mask, recurrent_mask):
    """Make Keras's cell use the given masks instead of drawing its own."""
    cell.get_dropout_mask = lambda step_input: input_mask
    cell.get_recurrent_dropout_mask = lambda step_input: recurrent_mask


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.3])
def test_dropout_masks_are_applied_where_keras_applies_them(recurrent_dropout):
    """dropout only: one input mask shared by the gates (Keras's implementation 2); with
    recurrent_dropout: four input masks and four h masks, one per gate (implementation 1)."""
    layer = keras.layers.LSTM(UNITS, dropout=0.4, recurrent_dropout=recurrent_dropout, return_sequences=True)
    x, rng = _x(4), np.random.default_rng(5)
    layer.build(x.shape)
    weights = _randomise(layer, 6)
    gates = (4,) if recurrent_dropout else ()
    input_mask = _dropout_masks(rng, (*gates, BATCH, FEATURES), 0.4)
    recurrent_mask = _dropout_masks(rng, (4, BATCH, UNITS), 0.3) if recurrent_dropout else None
    _use_masks(layer.cell, input_mask, recurrent_mask)
    want = np.asarray(layer(x, mask=PADDED, training=True))
    got = lstm_layer(
        _time_major(x),
        *weights,
        _time_major(PADDED),
        input_dropout_mask=jnp.asarray(input_mask),
        recurrent_dropout_mask=None if recurrent_mask is None else jnp.asarray(recurrent_mask),
    )
    np.testing.assert_allclose(_from_time_major(got, True), want, atol=ATOL)
    assert np.abs(np.asarray(lstm_layer(_time_major(x), *weights, _time_major(PADDED))) - got).max() > 1e-2


def test_bidirectional_dropout_masks_per_direction_match_keras():
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(UNITS, dropout=0.4, recurrent_dropout=0.3, return_sequences=True), merge_mode="concat"
    )
    x, rng = _x(7), np.random.default_rng(8)
    layer.build(x.shape)
    weights = _randomise(layer, 9)
    masks = [
        (_dropout_masks(rng, (4, BATCH, FEATURES), 0.4), _dropout_masks(rng, (4, BATCH, UNITS), 0.3)) for _ in "fb"
    ]
    _use_masks(layer.forward_layer.cell, *masks[0])
    _use_masks(layer.backward_layer.cell, *masks[1])
    want = np.asarray(layer(x, mask=PADDED, training=True))
    got = bidirectional_layer(
        _time_major(x),
        tuple(weights[:3]),
        tuple(weights[3:]),
        _time_major(PADDED),
        return_sequences=True,
        input_dropout_masks=(jnp.asarray(masks[0][0]), jnp.asarray(masks[1][0])),
        recurrent_dropout_masks=(jnp.asarray(masks[0][1]), jnp.asarray(masks[1][1])),
    )
    np.testing.assert_allclose(_from_time_major(got, True), want, atol=ATOL)
