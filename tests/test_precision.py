"""precision="bfloat16": bfloat16 matmuls, float32 everything else, float32's accuracy.

Stated tolerance: on the built-in task with the CLI's defaults, the mean final
validation accuracy over 8 seeds is within 0.02 of float32's, and every member's
first-epoch loss within 0.1%.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fastlstm as fl
from fastlstm.engine._recurrence import lstm_layer, lstm_layer_reference
from fastlstm.tasks import early_cue

DEFAULTS = dict(model=fl.ModelSpec(units=32), seeds=8, epochs=15, batch_size=32, validation_split=0.2, verbose=0)


@pytest.fixture(scope="module")
def both():
    x, y = early_cue()
    return {p: fl.sweep(x, y, precision=p, **DEFAULTS) for p in ("float32", "bfloat16")}


@pytest.mark.slow
def test_bfloat16_trains_the_builtin_task_like_float32(both):
    f32, bf16 = both["float32"], both["bfloat16"]
    acc32 = f32.history["val_accuracy"][:, -1].mean()
    acc16 = bf16.history["val_accuracy"][:, -1].mean()
    assert acc32 > 0.6  # the task was learned, so the comparison means something
    assert abs(acc16 - acc32) <= 0.02
    np.testing.assert_allclose(bf16.history["loss"][:, 0], f32.history["loss"][:, 0], rtol=1e-3)


@pytest.mark.slow
def test_bfloat16_really_changes_the_arithmetic(both):
    assert not np.array_equal(both["bfloat16"].history["loss"], both["float32"].history["loss"])
    assert both["bfloat16"].meta["precision"] == "bfloat16"
    leaves = jax.tree.leaves(both["bfloat16"].params)
    assert all(leaf.dtype == np.float32 for leaf in leaves)  # parameters stay float32


@pytest.mark.slow
def test_bfloat16_layer_gradients_are_close_to_float32():
    k = jax.random.split(jax.random.key(3), 5)
    x = jax.random.normal(k[0], (12, 6, 5))
    w, r = 0.3 * jax.random.normal(k[1], (5, 32)), 0.3 * jax.random.normal(k[2], (8, 32))
    b = 0.1 * jax.random.normal(k[3], (32,))
    ct = jax.random.normal(k[4], (12, 6, 8))

    def loss(layer, **kw):
        return jax.grad(lambda *a: jnp.sum(layer(*a, **kw) * ct), argnums=(0, 1, 2, 3))(x, w, r, b)

    exact = loss(lstm_layer_reference)
    approx = loss(lstm_layer, compute_dtype="bfloat16")
    for g16, g32 in zip(approx, exact):
        assert g16.dtype == jnp.float32
        scale = float(jnp.max(jnp.abs(g32)))
        assert float(jnp.max(jnp.abs(g16 - g32))) <= 0.03 * scale
        assert float(jnp.max(jnp.abs(g16 - g32))) > 0.0


@pytest.mark.parametrize("bad", ["float16", "bf16", None, 16])
def test_bad_precision(bad):
    x, y = early_cue(n=64, timesteps=4)
    with pytest.raises(ValueError, match="precision"):
        fl.sweep(x, y, precision=bad, epochs=1, verbose=0)
