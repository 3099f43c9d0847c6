"""Augmentation per member inside the compiled program (issue 18).

Jitter, Scaling, MagnitudeWarp, TimeWarp and WindowSlice change training batches only,
from the member's fourth RNG stream ("augment"); a strength that means "unchanged" (0, or
ratio 1) trains bit for bit as without augmentation; strengths are grid numbers; masks are
respected (padding untouched, warps within each sequence's real steps); bad settings are
refused before anything compiles, naming the argument.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_data
from guards import patch_train

import fastlstm as fl
from fastlstm.engine._augment import AUGMENTATIONS, augment_batch, resample
from fastlstm.engine._program import ModelConfig, forward
from fastlstm.runtime._driver import member_keys
from fastlstm.spec import SpecError, SweepSpec
from fastlstm.spec._plan import make_plan

TINY = dict(model=fl.ModelSpec(units=4), epochs=2, batch_size=16, validation_split=0.25, verbose=0)
# each augmentation at a clear strength, its strength's grid key, and the identity strength
STRONG = {
    "Jitter": (fl.Jitter(0.3), "augment.0.sigma", 0.0),
    "Scaling": (fl.Scaling(0.3), "augment.0.sigma", 0.0),
    "MagnitudeWarp": (fl.MagnitudeWarp(0.3, knots=3), "augment.0.sigma", 0.0),
    "TimeWarp": (fl.TimeWarp(0.3, knots=3), "augment.0.sigma", 0.0),
    "WindowSlice": (fl.WindowSlice(0.6), "augment.0.ratio", 1.0),
}


@pytest.fixture(scope="module")
def data():
    return make_data(n=48, timesteps=6, features=2, classes=2)


@pytest.fixture(scope="module")
def baseline(data):
    """Four members (seeds 0-3) without augmentation: members 0 and 1 are what the
    identity-strength members of a 2-seed x 2-strength grid must reproduce."""
    return fl.sweep(*data, seeds=4, **TINY)


# --- strength 0 is no augmentation, bit for bit; > 0 changes training only ------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STRONG))
def test_identity_strength_trains_bit_for_bit_as_no_augmentation(kind, data, baseline):
    aug, key, identity = STRONG[kind]
    result = fl.sweep(*data, seeds=2, augment=[aug], grid={key: [identity, aug.strength]}, **TINY)
    assert [m[key] for m in result.members] == [identity, identity, aug.strength, aug.strength]
    for name, values in baseline.history.items():
        np.testing.assert_array_equal(result.history[name][:2], values[:2], err_msg=name)
    for member in (0, 1):
        jax.tree.map(np.testing.assert_array_equal, result.member_params(member), baseline.member_params(member))
    assert not np.array_equal(result.history["loss"][2:], baseline.history["loss"][:2])  # it does augment


@pytest.mark.slow
def test_augmentation_changes_training_but_not_validation_predict_or_evaluate(data):
    x, y = data
    result = fl.sweep(x, y, seeds=2, augment=[fl.Jitter(0.5), fl.TimeWarp(0.3)], **TINY)
    split = int(len(x) * 0.75)
    evaluated = result.evaluate(x[split:], y[split:])
    # the epoch program's validation numbers are the plain evaluation of the final parameters
    np.testing.assert_allclose(result.history["val_loss"][:, -1], evaluated["loss"], rtol=1e-5)
    np.testing.assert_allclose(result.history["val_accuracy"][:, -1], evaluated["accuracy"], rtol=1e-6)
    # predict is the model on the raw inputs (no augmentation code path), and deterministic
    cfg = ModelConfig(4, 1, result.meta["out_dim"], result.meta["task"], result.meta["loss"], ())
    for member in (0, 1):
        plain = np.asarray(forward(cfg, result.member_params(member), jnp.asarray(x), None))
        np.testing.assert_allclose(result.predict(x)[member], plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.predict(x), result.predict(x))


# --- the grid and the augment stream --------------------------------------------------------


@pytest.mark.slow
def test_a_grid_over_the_strength_equals_each_member_alone(data):
    grid = fl.sweep(*data, seeds=2, augment=[fl.Jitter(0.05)], grid={"augment.0.sigma": [0.05, 0.4]}, **TINY)
    alone = fl.sweep(*data, seeds=2, augment=[fl.Jitter(0.4)], **TINY)
    for name, values in alone.history.items():
        np.testing.assert_allclose(grid.history[name][2:], values, rtol=1e-6, err_msg=name)


@pytest.mark.slow
def test_the_augment_stream_varies_between_seeds_and_can_be_fixed(data):
    held = {"init": 0, "order": 0, "dropout": 0}
    varied = fl.sweep(*data, seeds=2, augment=[fl.Jitter(0.4)], fixed_streams=held, **TINY)
    assert [m["augment_seed"] for m in varied.members] == [0, 1]
    assert not np.array_equal(varied.history["loss"][0], varied.history["loss"][1])  # augment alone differs
    fixed = fl.sweep(*data, seeds=2, augment=[fl.Jitter(0.4)], fixed_streams={**held, "augment": 0}, **TINY)
    np.testing.assert_array_equal(fixed.history["loss"][0], fixed.history["loss"][1])
    designed = fl.sweep(*data, seeds=[{**held, "augment": 1}], augment=[fl.Jitter(0.4)], **TINY)
    np.testing.assert_allclose(designed.history["loss"][0], varied.history["loss"][1], rtol=1e-6)


def test_the_other_streams_keys_are_unchanged_by_the_fourth():
    args = dict(seeds=[3, 8], grid=None, units=4, layers=1, batch_size=8, epochs=1, optimizer="adam", schedule=None)
    plain = member_keys(make_plan(**args, hparams={}), [0, 1])
    augmented = member_keys(make_plan(**args, hparams={}, augment=[fl.Jitter(0.1)]), [0, 1])
    assert plain.shape == (2, 3, 2) and augmented.shape == (2, 4, 2)  # W1's init program as before
    for row, seed in zip(augmented, (3, 8)):
        for k in range(4):  # init, order, dropout as before; augment folded with 3
            np.testing.assert_array_equal(row[k], np.asarray(jax.random.fold_in(jax.random.PRNGKey(seed), k)))
    np.testing.assert_array_equal(augmented[:, :3], plain)


@pytest.mark.slow
def test_variance_sources_gives_augment_a_block_only_when_augmenting(data):
    from fastlstm.analysis._sources import source_design

    assert "augment" not in source_design(2).blocks
    design = source_design(2, augment=True)
    block = [design.streams[i] for i in design.positions("augment")]
    assert [s["augment"] for s in block] == [1, 2] and all(s["init"] == s["order"] == s["dropout"] == 0 for s in block)
    result = fl.variance_sources(*data, seeds=2, levels=2, augment=[fl.Jitter(0.4)], **{**TINY, "epochs": 1})
    doc = result.analysis["variance_sources"]
    assert list(doc["sources"]) == ["init", "order", "dropout", "augment", "all"]
    val_loss = result.history["val_loss"][:, -1]
    assert val_loss[design.positions("augment")].std() > 0  # the augment stream alone changes training
    assert val_loss[design.positions("dropout")].std() == 0  # no dropout: that stream does nothing


# --- masks ----------------------------------------------------------------------------------


def _padded_batch():
    """Three sequences of 8 steps: post-padded (5 real), pre-padded (6 real), full; real
    steps hold a rising ramp in [0, 1], padding holds 100."""
    mask = np.zeros((3, 8), bool)
    mask[0, :5], mask[1, 2:], mask[2] = True, True, True
    x = np.full((3, 8, 2), 100.0, np.float32)
    for b in range(3):
        real = np.flatnonzero(mask[b])
        x[b, real, 0] = np.linspace(0.0, 1.0, len(real))
        x[b, real, 1] = np.linspace(1.0, 0.0, len(real))
    return jnp.asarray(x), jnp.asarray(mask)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STRONG))
def test_augmentations_leave_padding_untouched_and_warps_stay_within_the_real_steps(kind):
    x, mask = _padded_batch()
    aug = AUGMENTATIONS[kind](**{STRONG[kind][1].rsplit(".", 1)[1]: 0.9 if kind == "WindowSlice" else 0.5})
    key = STRONG[kind][1]
    out = np.asarray(augment_batch([(0, aug)], x, mask, {key: jnp.asarray(aug.strength)}, jax.random.PRNGKey(1)))
    m = np.asarray(mask)
    np.testing.assert_array_equal(out[~m], np.asarray(x)[~m])  # padding exactly as it was
    assert not np.allclose(out[m], np.asarray(x)[m])  # real steps changed
    if kind in ("TimeWarp", "WindowSlice"):  # values interpolated between real steps only
        real = out[m]
        assert real.min() >= 0.0 and real.max() <= 1.0  # never reaches the padding's 100
        for b in range(3):
            ramp = out[b, m[b], 0]
            assert np.all(np.diff(ramp) >= -1e-6)  # the warp is monotone
        if kind == "TimeWarp":  # the first and last real steps stay in place
            for b in range(3):
                ramp = out[b, m[b], 0]
                assert ramp[0] == pytest.approx(0.0, abs=1e-6) and ramp[-1] == pytest.approx(1.0, abs=1e-5)


def test_resample_at_whole_positions_reads_the_real_steps_in_order():
    x, mask = _padded_batch()
    source = jnp.broadcast_to(jnp.arange(8.0)[::-1], (3, 8))  # read real steps backwards (clipped)
    out = np.asarray(resample(x, mask, source))
    m = np.asarray(mask)
    # the pre-padded sequence (6 real): rank r reads rank clip(7 - r, 0, 5)
    expected = np.asarray(x)[1, m[1], 0][np.clip(7 - np.arange(6), 0, 5)]
    np.testing.assert_allclose(out[1, m[1], 0], expected)


@pytest.mark.slow
def test_ragged_data_trains_with_every_augmentation():
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(int(n), 2)).astype(np.float32) for n in rng.integers(3, 7, size=32)]
    y = rng.integers(0, 2, size=32)
    augs = [STRONG[k][0] for k in sorted(STRONG)]
    held = {"init": 0, "order": 0, "dropout": 0}  # the two members differ in their augment stream only
    result = fl.sweep(x, y, seeds=2, augment=augs, fixed_streams=held, **{**TINY, "epochs": 1})
    assert np.all(np.isfinite(result.history["loss"]))
    assert result.history["loss"][0, 0] != result.history["loss"][1, 0]  # so the augmentations acted
    # and validated on the raw sequences: the epoch's numbers are the plain evaluation of its parameters
    evaluated = result.evaluate(x[24:], y[24:])
    np.testing.assert_allclose(result.history["val_loss"][:, -1], evaluated["loss"], rtol=1e-5)


# --- serialisation and bad input ------------------------------------------------------------


def test_augmentations_round_trip_through_config_and_toml():
    for aug, _, _ in STRONG.values():
        assert type(aug).from_config(aug.get_config()) == aug
    spec = SweepSpec.from_toml('[[augment]]\ntype = "Jitter"\nsigma = 0.03\n\n[[augment]]\ntype = "WindowSlice"\n')
    assert spec.augment == [fl.Jitter(0.03), fl.WindowSlice(0.9)]
    assert SweepSpec.from_toml(spec.to_toml()) == spec
    grid = SweepSpec.from_dict({"augment": [{"type": "TimeWarp"}], "grid": {"augment.0.sigma": [0.0, 0.1]}})
    assert SweepSpec.from_toml(grid.to_toml()) == grid
    assert len(grid.plan().members) == 16


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: fl.Jitter(-0.1), r"augment: Jitter.sigma must be a finite number >= 0"),
        (lambda: fl.MagnitudeWarp(0.2, knots=0), r"augment: MagnitudeWarp.knots must be an int >= 1"),
        (lambda: fl.TimeWarp(0.2, knots=1.5), r"augment: TimeWarp.knots must be an int >= 1"),
        (lambda: fl.WindowSlice(0.0), r"augment: WindowSlice.ratio must be in \(0, 1\]"),
        (lambda: fl.WindowSlice(1.5), r"augment: WindowSlice.ratio must be in \(0, 1\]"),
    ],
)
def test_bad_strengths_are_refused_when_made(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"augment": [{"type": "Cutout"}]}, r"augment: unknown type 'Cutout'"),
        ({"augment": [{"type": "Jitter", "sigma": -1}]}, r"Jitter.sigma must be a finite number >= 0"),
        ({"augment": [{"type": "Jitter", "width": 2}]}, r"augment: Jitter takes no \['width'\]; expected some of"),
        ({"augment": [{"type": "Jitter"}], "grid": {"augment.0.sigma": [0.1, -0.1]}}, r"augment.0.sigma must be >= 0"),
        ({"augment": [{"type": "WindowSlice"}], "grid": {"augment.0.ratio": [0.5, 0.0]}}, r"must be in \(0, 1\]"),
        ({"augment": [{"type": "Jitter"}], "grid": {"augment.1.sigma": [0.1]}}, r"grid: unknown key 'augment.1.sigma'"),
        (
            {
                "augment": [{"type": "Jitter"}],
                "model": {
                    "layers": [{"type": "Embedding", "input_dim": 9, "output_dim": 2}, {"type": "LSTM", "units": 3}]
                },
            },
            r"augment: the input is integer token ids",
        ),
        (
            {
                "augment": [{"type": "TimeWarp"}],
                "model": {"layers": [{"type": "LSTM", "units": 3, "return_sequences": True}]},
            },
            r"augment: TimeWarp moves steps in time",
        ),
    ],
)
def test_bad_augment_settings_are_spec_errors_naming_augment(values, message):
    with pytest.raises(SpecError, match=message):
        SweepSpec.from_dict(values)


def test_bad_augment_in_sweep_is_refused_before_compiling(monkeypatch, data):

    patch_train(monkeypatch, lambda *a, **k: pytest.fail("reached training"))
    with pytest.raises(ValueError, match=r"augment"):
        fl.sweep(*data, augment=["Jitter"], **TINY)
    with pytest.raises(ValueError, match=r"augment.0.sigma must be >= 0"):
        fl.sweep(*data, augment=[fl.Jitter(0.1)], grid={"augment.0.sigma": [-0.2]}, **TINY)


@pytest.mark.slow
def test_an_augmented_oversampled_sweep_resumes_bit_identical(tmp_path, data):
    from fastlstm.controllers import Controller, Decision
    from fastlstm.runtime._driver import SweepHalted

    class HaltAfterTwo(Controller):
        seen = 0

        def on_epoch_end(self, event):
            self.seen += 1
            return Decision(halt=True) if self.seen == 2 else None

    kwargs = dict(seeds=2, augment=[fl.Jitter(0.3), fl.WindowSlice(0.8)], oversample=True, **{**TINY, "epochs": 3})
    whole = fl.sweep(*data, **kwargs)
    with pytest.raises(SweepHalted):
        fl.sweep(*data, checkpoint=tmp_path / "ck", controllers=[HaltAfterTwo()], **kwargs)
    resumed = fl.sweep(*data, resume=tmp_path / "ck", **kwargs)
    for name, values in whole.history.items():
        np.testing.assert_array_equal(resumed.history[name], values, err_msg=name)
