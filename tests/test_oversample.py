"""Class-balanced sampling (`oversample`, issue 18): each epoch draws n rows with
replacement, a row's chance 1 / the count of its class, from the member's data-order
stream; a grid over it trains each member as its own sweep would; regression and
multi-label targets are refused before anything compiles."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_data
from guards import patch_train

import fastlstm as fl
from fastlstm.engine._program import TrainConfig, TrainProgram, class_labels
from fastlstm.spec import SpecError, SweepSpec
from fastlstm.spec._plan import OVERSAMPLE_HPARAM

TINY = dict(model=fl.ModelSpec(units=4), seeds=2, epochs=2, batch_size=16, verbose=0)


def _config(n: int, out_dim: int = 2, oversample: bool = True, shuffle: bool = True, **kw) -> TrainConfig:
    return TrainConfig(
        units=4,
        layers=1,
        out_dim=out_dim,
        task="classification",
        loss="sparse_categorical_crossentropy",
        metrics=(),
        optimizer="adam",
        optimizer_flags=(),
        schedule="constant",
        piecewise=None,
        staircase=False,
        batch_size=32,
        epochs=1,
        n_train=n,
        n_val=0,
        shuffle=shuffle,
        use_dropout=False,
        oversample=oversample,
        **kw,
    )


def _epoch_rows(cfg: TrainConfig, y: np.ndarray, epoch: int, oversample: float = 1.0, seed: int = 0):
    """The rows the program's `batches` draws for one member and epoch (real rows only)."""
    state = types.SimpleNamespace(order_key=jax.random.PRNGKey(seed), epoch=jnp.asarray(epoch))
    data = types.SimpleNamespace(y=jnp.asarray(y))
    hp = {OVERSAMPLE_HPARAM: jnp.asarray(oversample, jnp.float32)}
    order, valid = TrainProgram(cfg).batches(state, hp, data)
    return np.asarray(order)[np.asarray(valid)]


# 90/10 labels; 1000 rows per epoch: the minority share of a balanced draw is 0.5 +- 0.016 (1 sd)
LABELS = np.array([0] * 900 + [1] * 100, np.int32)


@pytest.mark.slow
def test_each_epoch_draws_n_rows_with_the_classes_near_even():
    cfg = _config(len(LABELS))
    shares = []
    for epoch in range(5):
        rows = _epoch_rows(cfg, LABELS, epoch)
        assert rows.shape == (len(LABELS),)  # the epoch still has n rows
        shares.append(np.mean(LABELS[rows] == 1))
    # 5 sd of one epoch's share (p = 0.5, n = 1000) is 0.079; unbalanced draws give 0.1
    assert all(abs(s - 0.5) < 0.079 for s in shares), shares
    assert abs(np.mean(shares) - 0.5) < 0.036  # 5 sd of the mean over 5 epochs
    assert len(set(map(tuple, (np.sort(_epoch_rows(cfg, LABELS, e)) for e in (0, 1))))) == 2  # fresh each epoch


def test_minority_rows_are_drawn_with_replacement_and_all_rows_can_appear():
    rows = _epoch_rows(_config(len(LABELS)), LABELS, 0)
    minority = rows[LABELS[rows] == 1]
    assert len(minority) > len(np.unique(minority))  # repeated: 100 rows drawn ~500 times
    assert len(np.unique(minority)) > 90  # and nearly every one of them


def test_a_member_that_does_not_oversample_gets_the_plain_permutation():
    with_flag = _epoch_rows(_config(len(LABELS)), LABELS, 3, oversample=0.0)
    without = _epoch_rows(_config(len(LABELS), oversample=False), LABELS, 3)
    np.testing.assert_array_equal(with_flag, without)
    np.testing.assert_array_equal(np.sort(without), np.arange(len(LABELS)))


def test_multiclass_and_one_hot_labels_balance_every_class():
    labels = np.array([0] * 600 + [1] * 300 + [2] * 100, np.int32)
    cfg = _config(len(labels), out_dim=3)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    np.testing.assert_array_equal(np.asarray(class_labels(jnp.asarray(one_hot), cfg)), labels)
    for y in (labels, one_hot):
        rows = _epoch_rows(cfg, y, 0)
        shares = np.bincount(labels[rows], minlength=3) / len(rows)
        assert np.all(np.abs(shares - 1 / 3) < 0.075), shares  # 5 sd of a share at p = 1/3, n = 1000


def test_binary_targets_are_read_as_classes():
    y = (LABELS[:, None]).astype(np.float32)  # (n, 1) 0/1 floats, a sigmoid head's targets
    np.testing.assert_array_equal(np.asarray(class_labels(jnp.asarray(y), _config(len(y)))), LABELS)


@pytest.mark.slow
def test_oversample_in_a_grid_equals_each_member_alone():
    x, y = make_data(n=60, timesteps=4, features=2, classes=3)
    y[:40] = 0  # imbalanced
    both = fl.sweep(x, y, grid={"oversample": [False, True]}, validation_split=0.25, **TINY)
    plain = fl.sweep(x, y, validation_split=0.25, **TINY)
    alone = fl.sweep(x, y, oversample=True, validation_split=0.25, **TINY)
    assert [c["oversample"] for c in both.configs] == [False, True]
    assert [m[OVERSAMPLE_HPARAM] for m in both.members] == [0.0, 0.0, 1.0, 1.0]
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(both.history[name][:2], plain.history[name], rtol=1e-6)
        np.testing.assert_allclose(both.history[name][2:], alone.history[name], rtol=1e-6)
    assert not np.allclose(both.history["loss"][:2], both.history["loss"][2:])  # it changes training


def test_oversample_is_refused_for_regression_and_multi_label_before_compiling(monkeypatch):

    patch_train(monkeypatch, lambda *a, **k: pytest.fail("reached training"))
    x = np.zeros((8, 3, 1), np.float32)
    with pytest.raises(ValueError, match=r"oversample: .*not regression"):
        fl.sweep(x, np.linspace(0.1, 2.0, 8), oversample=True, **TINY)
    with pytest.raises(ValueError, match=r"oversample: .*not regression"):
        fl.sweep(x, np.linspace(0.1, 2.0, 8), grid={"oversample": [False, True]}, **TINY)
    with pytest.raises(ValueError, match=r"oversample: .*multi-label"):
        fl.sweep(x, np.array([[1, 0], [1, 1], [0, 1], [0, 0]] * 2), oversample=True, **TINY)


def test_oversample_round_trips_through_toml_and_refuses_bad_values():
    for values in ({"oversample": True}, {"grid": {"oversample": [False, True]}}):
        spec = SweepSpec.from_dict(values)
        assert SweepSpec.from_toml(spec.to_toml()) == spec
    assert SweepSpec.from_toml("oversample = true").plan().members[0].hparams[OVERSAMPLE_HPARAM] == 1.0
    assert OVERSAMPLE_HPARAM not in SweepSpec().plan().members[0].hparams  # off: nothing per member
    with pytest.raises(SpecError, match=r"grid\['oversample'\]: oversample values must be True or False"):
        SweepSpec.from_dict({"grid": {"oversample": [0, 1]}})
    with pytest.raises(SpecError, match=r"oversample: give it as a setting or as a grid key"):
        SweepSpec.from_dict({"grid": {"oversample": [False, True]}, "oversample": True})
    with pytest.raises(SpecError, match=r"oversample"):
        SweepSpec.from_dict({"oversample": "yes"})


@pytest.mark.slow
def test_a_binary_sweep_oversamples_end_to_end():
    x, y = make_data(n=48, timesteps=4, features=2, classes=2)
    y[:36] = 0  # 3:1 or more
    plain = fl.sweep(x, y, **TINY)
    result = fl.sweep(x, y, oversample=True, **TINY)
    assert result.meta["task"] == "binary"
    assert np.all(np.isfinite(result.history["loss"]))
    assert not np.allclose(result.history["loss"], plain.history["loss"])
