"""lstm_layer's Keras options and bidirectional_layer: the hand-written backward pass
agrees with autodiff of the plain scan, and the dropout masks act per gate and are
reused at every step."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fastlstm.engine._recurrence as recurrence
from fastlstm.engine._recurrence import bidirectional_layer, lstm_layer, lstm_layer_reference

TIME, BATCH, FEATURES, UNITS = 7, 5, 3, 4
GRAD_ARGS = (0, 1, 2, 3)


def _params(key, features=FEATURES, units=UNITS):
    k = jax.random.split(key, 3)
    return (
        0.5 * jax.random.normal(k[0], (features, 4 * units)),
        0.5 * jax.random.normal(k[1], (units, 4 * units)),
        0.1 * jax.random.normal(k[2], (4 * units,)),
    )


def _x(seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), (TIME, BATCH, FEATURES))


def _padded_mask():
    """(time, batch): post-padding, pre-padding, full, a hole, and a sequence of one step."""
    lengths_post = np.arange(TIME) < 4
    pre = np.arange(TIME) >= 3
    holes = np.array([True, False, True, True, False, True, False])
    last_only = np.arange(TIME) == TIME - 1
    return jnp.asarray(np.stack([lengths_post, pre, np.ones(TIME, bool), holes, last_only], axis=1))


def _dropout(key, shape, rate=0.4):
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return keep.astype(jnp.float32) / (1.0 - rate)


OPTIONS = {
    "go_backwards": lambda: {"go_backwards": True},
    "zero_output": lambda: {"zero_output_for_mask": True},
    "shared_input_mask": lambda: {"input_dropout_mask": _dropout(jax.random.PRNGKey(5), (BATCH, FEATURES))},
    "per_gate_input_mask": lambda: {"input_dropout_mask": _dropout(jax.random.PRNGKey(6), (4, BATCH, FEATURES))},
    "recurrent_mask_only": lambda: {"recurrent_dropout_mask": _dropout(jax.random.PRNGKey(7), (4, BATCH, UNITS))},
    "both_masks_backwards_zero_output": lambda: {
        "input_dropout_mask": _dropout(jax.random.PRNGKey(8), (4, BATCH, FEATURES)),
        "recurrent_dropout_mask": _dropout(jax.random.PRNGKey(9), (4, BATCH, UNITS)),
        "go_backwards": True,
        "zero_output_for_mask": True,
    },
}


def _assert_close(got, want, rtol=1e-5):
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * max(float(jnp.abs(e).max()), 1e-3))


def _values_and_gradients(f, cot):
    """One jitted program (as the engine runs the layer): f's values and the gradients of
    sum(f * cot) with respect to every argument (GRAD_ARGS is all of them)."""

    def run(*args):
        out, pullback = jax.vjp(f, *args)
        return out, pullback(cot)

    return jax.jit(run)


def _check_against_reference(fn, reference, args, cotangent_shape):
    """Values and gradients (argnums GRAD_ARGS) of fn vs reference under a random cotangent."""
    assert len(args) == len(GRAD_ARGS)
    cot = jax.random.normal(jax.random.PRNGKey(99), cotangent_shape)
    (got, got_grads), (want, want_grads) = (_values_and_gradients(f, cot)(*args) for f in (fn, reference))
    assert got.shape == want.shape == cotangent_shape
    _assert_close(got, want)
    _assert_close(got_grads, want_grads)


# The hand-written pass has one code path per (per-gate masks or not) x (timestep mask:
# none, held, held with zero_output_for_mask) x (return_sequences or not): 12 paths, and
# each (option, masked) below with both values of `sequences` reaches a different one of
# them. go_backwards and the shared input mask are wrappers (a flip, a multiply outside
# the scan) around the dense paths; zero_output_for_mask is a no-op without a timestep
# mask (lstm_layer drops it), so its unmasked cases were the dense unmasked path again,
# and the per-gate paths do not depend on which of the two masks was given (a missing one
# is ones). The full 6 x 2 x 2 product ran every path twice.
OPTION_CASES = [
    ("shared_input_mask", False),  # dense, no timestep mask (input scaled outside the scan)
    ("go_backwards", True),  # dense, held mask (flipped with the input)
    ("zero_output", True),  # dense, zeroed outputs (and Keras's last-output rule without sequences)
    ("per_gate_input_mask", False),  # per gate, no timestep mask (recurrent mask of ones)
    ("recurrent_mask_only", True),  # per gate, held mask (input mask of ones)
    ("both_masks_backwards_zero_output", True),  # per gate, zeroed outputs, flipped
]
PER_GATE = {"per_gate_input_mask", "recurrent_mask_only", "both_masks_backwards_zero_output"}
ZEROED = {"zero_output", "both_masks_backwards_zero_output"}


@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize(("option", "masked"), OPTION_CASES)
def test_option_values_and_gradients_match_autodiff(option, masked, sequences):
    x_t, params, mask_t, kwargs = (
        _x(),
        _params(jax.random.PRNGKey(1)),
        _padded_mask() if masked else None,
        OPTIONS[option](),
    )

    def run(layer):
        return lambda x, w, r, b: layer(x, w, r, b, mask_t, return_sequences=sequences, **kwargs)

    shape = (TIME, BATCH, UNITS) if sequences else (BATCH, UNITS)
    _check_against_reference(run(lstm_layer), run(lstm_layer_reference), (x_t, *params), shape)


@pytest.mark.slow
def test_per_gate_masks_in_bfloat16_follow_the_reference():
    x_t, params, mask_t, kwargs = (
        _x(),
        _params(jax.random.PRNGKey(1)),
        _padded_mask(),
        OPTIONS["both_masks_backwards_zero_output"](),
    )
    got = lstm_layer(x_t, *params, mask_t, compute_dtype="bfloat16", **kwargs)
    want = lstm_layer_reference(x_t, *params, mask_t, compute_dtype="bfloat16", **kwargs)
    np.testing.assert_allclose(got, want, atol=2e-2)
    grads = [
        jax.grad(lambda w, f=f: jnp.sum(f(x_t, w, *params[1:], mask_t, compute_dtype="bfloat16", **kwargs)))(params[0])
        for f in (lstm_layer, lstm_layer_reference)
    ]
    np.testing.assert_allclose(grads[0], grads[1], rtol=5e-2, atol=5e-2 * float(jnp.abs(grads[1]).max()))


def test_per_gate_masks_without_input_gradient_keep_the_weight_gradients():
    x_t, params, kwargs = _x(), _params(jax.random.PRNGKey(1)), OPTIONS["both_masks_backwards_zero_output"]()

    def grads(need):
        loss = lambda *p: jnp.sum(lstm_layer(x_t, *p, _padded_mask(), need_input_grad=need, **kwargs) ** 2)  # noqa: E731
        return jax.grad(loss, argnums=(0, 1, 2))(*params)

    _assert_close(grads(False), grads(True))


def _zero_gate_block(p, gate):
    return p.at[..., gate * UNITS : (gate + 1) * UNITS].set(0.0)


@pytest.mark.parametrize("gate", [0, 1, 2, 3])
def test_a_zero_input_mask_on_one_gate_equals_zeroing_that_gates_kernel(gate):
    x_t, (w, r, b) = _x(), _params(jax.random.PRNGKey(1))
    mask = jnp.ones((4, BATCH, FEATURES)).at[gate].set(0.0)
    np.testing.assert_allclose(
        lstm_layer(x_t, w, r, b, input_dropout_mask=mask), lstm_layer(x_t, _zero_gate_block(w, gate), r, b), atol=1e-6
    )


@pytest.mark.parametrize("gate", [0, 1, 2, 3])
def test_a_zero_recurrent_mask_on_one_gate_equals_zeroing_that_gates_recurrent_kernel(gate):
    x_t, (w, r, b) = _x(), _params(jax.random.PRNGKey(1))
    mask = jnp.ones((4, BATCH, UNITS)).at[gate].set(0.0)
    np.testing.assert_allclose(
        lstm_layer(x_t, w, r, b, recurrent_dropout_mask=mask),
        lstm_layer(x_t, w, _zero_gate_block(r, gate), b),
        atol=1e-6,
    )


def test_input_masks_are_per_sequence_and_feature_and_reused_at_every_step():
    """A mask zeroing feature 1 of sequence 2 on every gate equals that input zeroed at all steps;
    scaling by 1/(1 - rate) equals scaling the input."""
    x_t, params = _x(), _params(jax.random.PRNGKey(1))
    mask = jnp.full((BATCH, FEATURES), 2.5).at[2, 1].set(0.0)
    want = lstm_layer(x_t * mask, *params)
    np.testing.assert_allclose(lstm_layer(x_t, *params, input_dropout_mask=mask), want, atol=1e-6)
    np.testing.assert_allclose(lstm_layer(x_t, *params, input_dropout_mask=jnp.stack([mask] * 4)), want, atol=1e-5)


def test_recurrent_mask_scales_h_per_sequence_at_every_step():
    """A recurrent mask of one value c on every gate equals the recurrent kernel times c."""
    x_t, (w, r, b) = _x(), _params(jax.random.PRNGKey(1))
    got = lstm_layer(x_t, w, r, b, recurrent_dropout_mask=jnp.full((4, BATCH, UNITS), 1.25))
    np.testing.assert_allclose(got, lstm_layer(x_t, w, 1.25 * r, b), atol=1e-5)


def test_go_backwards_outputs_in_processing_order():
    x_t, params, mask_t = _x(), _params(jax.random.PRNGKey(1)), _padded_mask()
    got = lstm_layer(x_t, *params, mask_t, go_backwards=True)
    np.testing.assert_array_equal(got, lstm_layer(x_t[::-1], *params, mask_t[::-1]))


def test_zero_output_for_mask_zeroes_masked_steps_and_keeps_the_state():
    x_t, params, mask_t = _x(), _params(jax.random.PRNGKey(1)), _padded_mask()
    held = lstm_layer(x_t, *params, mask_t)
    zeroed = lstm_layer(x_t, *params, mask_t, zero_output_for_mask=True)
    np.testing.assert_array_equal(zeroed, jnp.where(mask_t[..., None], held, 0.0))
    assert np.any(np.asarray(zeroed) == 0.0) and np.any(np.asarray(held)[~np.asarray(mask_t)] != 0.0)
    last = lstm_layer(x_t, *params, mask_t, return_sequences=False, zero_output_for_mask=True)
    np.testing.assert_array_equal(last, zeroed[-1])  # Keras: the last processed step's output


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_dropout_mask": jnp.ones((BATCH, UNITS))}, "input_dropout_mask"),
        ({"input_dropout_mask": jnp.ones((3, BATCH, FEATURES))}, "input_dropout_mask"),
        ({"recurrent_dropout_mask": jnp.ones((BATCH, UNITS))}, "recurrent_dropout_mask"),
    ],
)
def test_misshapen_dropout_masks_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lstm_layer(_x(), *_params(jax.random.PRNGKey(1)), **kwargs)


def test_unknown_merge_mode_is_named():
    p = _params(jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match="merge_mode"):
        bidirectional_layer(_x(), p, p, merge_mode="max")


def _bidirectional_reference(x_t, fwd, bwd, mask_t, merge_mode, sequences, masks=((None, None), (None, None))):
    """Keras's Bidirectional.call written out: a forward layer, a go_backwards layer, both with
    zero_output_for_mask = return_sequences, the backward outputs flipped, then merged."""
    outs = [
        lstm_layer_reference(
            x_t,
            *params,
            mask_t,
            return_sequences=sequences,
            go_backwards=backwards,
            zero_output_for_mask=sequences,
            input_dropout_mask=masks[0][d],
            recurrent_dropout_mask=masks[1][d],
        )
        for d, (params, backwards) in enumerate(((fwd, False), (bwd, True)))
    ]
    y, y_rev = outs[0], outs[1][::-1] if sequences else outs[1]
    return {"concat": jnp.concatenate([y, y_rev], -1), "sum": y + y_rev, "mul": y * y_rev, "ave": (y + y_rev) / 2}[
        merge_mode
    ]


def _bidirectional_case(merge_mode, masked, sequences, masks=((None, None), (None, None))):
    mask_t = _padded_mask() if masked else None
    fwd, bwd = _params(jax.random.PRNGKey(1)), _params(jax.random.PRNGKey(2))

    def fast(x, fwd_kernel, bwd_kernel, recurrent_kernels):
        return bidirectional_layer(
            x,
            (fwd_kernel, recurrent_kernels[0], fwd[2]),
            (bwd_kernel, recurrent_kernels[1], bwd[2]),
            mask_t,
            merge_mode=merge_mode,
            return_sequences=sequences,
            input_dropout_masks=masks[0],
            recurrent_dropout_masks=masks[1],
        )

    def reference(x, fwd_kernel, bwd_kernel, recurrent_kernels):
        fwd_p, bwd_p = (fwd_kernel, recurrent_kernels[0], fwd[2]), (bwd_kernel, recurrent_kernels[1], bwd[2])
        return _bidirectional_reference(x, fwd_p, bwd_p, mask_t, merge_mode, sequences, masks)

    width = 2 * UNITS if merge_mode == "concat" else UNITS
    shape = (TIME, BATCH, width) if sequences else (BATCH, width)
    return fast, reference, (_x(), fwd[0], bwd[0], (fwd[1], bwd[1])), shape


# The directions' paths are (one scan or two) x (masked or not) x (sequences or not), 8 in
# all; the merge is a plain jnp function of the two outputs applied after them (autodiff,
# no hand-written pass), so it does not multiply the paths: each merge mode is checked on
# two of the 8, once with each scan, once masked and once not, once with sequences and
# once without (the full 4 x 8 product checked each path four times).
BIDIRECTIONAL_CASES = [
    # (one_scan, masked, sequences, merge_mode)
    (True, False, False, "concat"),
    (True, False, True, "sum"),
    (True, True, False, "mul"),
    (True, True, True, "ave"),
    (False, False, False, "ave"),
    (False, False, True, "mul"),
    (False, True, False, "sum"),
    (False, True, True, "concat"),
]


def test_the_kept_cases_cover_every_option_path_and_merge_mode():
    assert {option for option, _ in OPTION_CASES} == set(OPTIONS)
    paths = {(o in PER_GATE, m, m and o in ZEROED) for o, m in OPTION_CASES}  # zeroing needs a mask
    assert len(paths) == len(OPTION_CASES) == 6
    assert {case[:3] for case in BIDIRECTIONAL_CASES} == set(itertools.product([True, False], repeat=3))
    for mode in ("concat", "sum", "mul", "ave"):
        ways = [case[:3] for case in BIDIRECTIONAL_CASES if case[3] == mode]
        assert len(ways) == 2 and all(len({w[i] for w in ways}) == 2 for i in range(3)), mode


@pytest.mark.parametrize(("one_scan", "masked", "sequences", "merge_mode"), BIDIRECTIONAL_CASES)
def test_bidirectional_values_and_gradients_match_autodiff(monkeypatch, merge_mode, masked, sequences, one_scan):
    monkeypatch.setattr(recurrence, "BIDIRECTIONAL_ONE_SCAN", one_scan)
    _check_against_reference(*_bidirectional_case(merge_mode, masked, sequences))


@pytest.mark.slow
@pytest.mark.parametrize("one_scan", [True, False])
def test_bidirectional_with_dropout_masks_matches_autodiff(monkeypatch, one_scan):
    """Per-gate masks on one direction, a shared input mask and none on the other."""
    monkeypatch.setattr(recurrence, "BIDIRECTIONAL_ONE_SCAN", one_scan)
    k = jax.random.split(jax.random.PRNGKey(3), 3)
    masks = (
        (_dropout(k[0], (4, BATCH, FEATURES)), _dropout(k[1], (BATCH, FEATURES))),
        (_dropout(k[2], (4, BATCH, UNITS)), None),
    )
    _check_against_reference(*_bidirectional_case("concat", True, True, masks))


@pytest.mark.slow
def test_bidirectional_backward_direction_reverses_over_the_valid_steps():
    """With post-padding the backward direction's final state is that of the valid steps read
    backwards; with pre-padding too (the padding is skipped either way)."""
    x_t, params = _x(), _params(jax.random.PRNGKey(2))
    lengths = np.array([4, 7, 2, 5, 1])
    post = jnp.asarray(np.arange(TIME)[:, None] < lengths)
    pre = jnp.asarray(np.arange(TIME)[:, None] >= TIME - lengths)
    zero = (jnp.zeros_like(params[0]), jnp.zeros_like(params[1]), jnp.full_like(params[2], -30.0))  # forward outputs ~0
    for mask_t in (post, pre):
        got = bidirectional_layer(x_t, zero, params, mask_t, merge_mode="sum")
        for seq in range(BATCH):
            valid = np.asarray(x_t[:, seq])[np.asarray(mask_t[:, seq])]
            want = lstm_layer(jnp.asarray(valid[::-1, None, :]), *params, return_sequences=False)[0]
            np.testing.assert_allclose(got[seq], want, atol=1e-6)


@pytest.mark.slow
def test_bidirectional_gradients_under_vmap_over_members_match_autodiff():
    """As the engine runs it: jit(vmap over members) of the gradient, with a mask and dropout."""
    mask_t, members = _padded_mask(), 3
    keys = jax.random.split(jax.random.PRNGKey(4), 2 * members)
    fwd = jax.vmap(_params)(keys[:members])
    bwd = jax.vmap(_params)(keys[members:])
    in_masks = _dropout(jax.random.PRNGKey(5), (members, 2, 4, BATCH, FEATURES))
    rec_masks = _dropout(jax.random.PRNGKey(6), (members, 2, 4, BATCH, UNITS))

    def loss(layer):
        def member_loss(fwd, bwd, in_m, rec_m):
            masks = ((in_m[0], in_m[1]), (rec_m[0], rec_m[1]))
            return jnp.sum(jnp.tanh(layer(_x(), fwd, bwd, mask_t, "ave", True, masks)))

        return jax.jit(jax.vmap(jax.grad(member_loss, argnums=(0, 1))))

    def fast(x, fwd, bwd, mask_t, merge_mode, sequences, masks):
        return bidirectional_layer(
            x,
            fwd,
            bwd,
            mask_t,
            merge_mode=merge_mode,
            return_sequences=sequences,
            input_dropout_masks=masks[0],
            recurrent_dropout_masks=masks[1],
        )

    args = (fwd, bwd, in_masks, rec_masks)
    _assert_close(loss(fast)(*args), loss(_bidirectional_reference)(*args))


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_option_runs_through_the_hand_written_backward_pass(option):
    """No fall-back to autodiff of a plain scan: the layer is the custom_vjp `_layer`."""
    x_t, params, kwargs = _x(), _params(jax.random.PRNGKey(1)), OPTIONS[option]()

    def jaxpr(layer):
        return str(jax.make_jaxpr(lambda x: layer(x, *params, _padded_mask(), **kwargs))(x_t))

    assert "custom_vjp_call" in jaxpr(lstm_layer) and "name=_layer" in jaxpr(lstm_layer)
    assert "custom_vjp_call" not in jaxpr(lstm_layer_reference)


@pytest.mark.parametrize("one_scan", [True, False])
def test_bidirectional_runs_through_the_hand_written_backward_pass(monkeypatch, one_scan):
    monkeypatch.setattr(recurrence, "BIDIRECTIONAL_ONE_SCAN", one_scan)
    p = _params(jax.random.PRNGKey(1))
    jaxpr = str(jax.make_jaxpr(lambda x: bidirectional_layer(x, p, p, _padded_mask(), return_sequences=True))(_x()))
    assert jaxpr.count("name=_layer") == (1 if one_scan else 2)
