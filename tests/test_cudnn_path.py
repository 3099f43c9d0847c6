"""The cuDNN path of issue 19 (fastlstm/engine/_cudnn.py), checked on a CPU.

cuDNN's primitives lower only for CUDA, so these tests substitute for the primitive
call (`fastlstm.engine._cudnn.LSTM_CALL`) a function with the same signature built on
`jax.experimental.rnn.lstm_ref`, which unpacks the same flat weight vector: the packing,
the layout, the gradients back to Keras's parameters, the one-member program without
vmap and the settings are all exercised. `test_gpu_cudnn_sweep_matches_scan` runs the
real primitive and is skipped without a CUDA GPU (CI never has one; bench/gpu_check.sh
runs it).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_data
from jax._src import stages
from jax.experimental import rnn

import fastlstm as fl
import fastlstm.engine._cudnn as cudnn
from fastlstm.api._sweep import settings_for
from fastlstm.cli import main
from fastlstm.data._prepare import prepare_data
from fastlstm.engine import LSTMModel
from fastlstm.engine._layer_modules import SequentialModel
from fastlstm.engine._program import compiled_program, make_train, single_member_map
from fastlstm.engine._recurrence import lstm_layer
from fastlstm.layers import LSTM, Bidirectional, Dense
from fastlstm.runtime._driver import CudnnFallbackWarning, Driver
from fastlstm.spec import SweepSpec

HAVE_CUDNN = cudnn.cudnn_available()
# The CPU's float32 dots agree to an ulp; a GPU's (even at "highest") sum in other orders,
# which a few epochs of training grow: there (bench/gpu_check.sh) the bounds are wider.
ON_CPU = jax.default_backend() == "cpu"
FORWARD_TOL = 1e-6 if ON_CPU else 1e-5
GRAD_TOL = 1e-5 if ON_CPU else 1e-4
TRAINED_TOL = 1e-6 if ON_CPU else 1e-4


@pytest.fixture(autouse=True)
def _no_tf32_on_a_gpu():
    """On a GPU, float32 matmuls (the scan's, cuDNN's, the reference's) without TF32."""
    if ON_CPU:
        yield
        return
    with jax.default_matmul_precision("highest"):
        yield


def reference_lstm(x, h_0, c_0, weights, seq_lengths, *sizes_and_options):
    """`rnn.lstm`'s signature on `rnn.lstm_ref` (pure JAX, any backend)."""
    input_size, hidden_size, num_layers, dropout, bidirectional, _precision = sizes_and_options
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers, bidirectional)
    args = (seq_lengths, input_size, hidden_size, num_layers, dropout, bidirectional)
    return rnn.lstm_ref(x, h_0, c_0, w_ih, w_hh, b_ih, b_hh, *args)


def _forget_compiled_programs():
    """`LSTM_CALL` is not part of a program's cache key: a test that swaps it starts and
    ends with no traced or compiled program that called another one."""
    compiled_program.cache_clear()
    jax.clear_caches()


@pytest.fixture
def reference_cudnn(monkeypatch):
    """The cuDNN path on a CPU: the primitive call replaced by the reference, and the
    GPU check answered yes."""
    monkeypatch.setattr(cudnn, "LSTM_CALL", reference_lstm)
    monkeypatch.setattr(cudnn, "cudnn_available", lambda: True)
    _forget_compiled_programs()
    yield
    _forget_compiled_programs()


def keras_weights(key, features: int, units: int):
    k1, k2, k3 = jax.random.split(key, 3)
    return (
        jax.random.normal(k1, (features, 4 * units)) * 0.3,
        jax.random.normal(k2, (units, 4 * units)) * 0.3,
        jax.random.normal(k3, (4 * units,)) * 0.3,
    )


# --- 1. packing --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("layers", "units"), [([3], 2), ([5, 4], 4), ([1, 7, 7], 7)])
def test_pack_is_the_inverse_of_unpack_lstm_weights(layers, units):
    """Keras's kernel (in, 4u) is cuDNN's W_ih (4u, in) transposed, its bias is b_ih and
    b_hh is zero; stacked layers follow cuDNN's order (all matrices, then all biases)."""
    sizes = [layers[0]] + [units] * (len(layers) - 1)
    params = [keras_weights(jax.random.PRNGKey(i), f, units) for i, f in enumerate(sizes)]
    flat = cudnn.pack_weights(params)
    assert flat.shape == (rnn.get_num_params_in_lstm(sizes[0], units, len(sizes), False),)
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, sizes[0], units, len(sizes), False)
    for i, (kernel, recurrent_kernel, bias) in enumerate(params):
        np.testing.assert_array_equal(w_ih[i], kernel.T)
        np.testing.assert_array_equal(w_hh[i], recurrent_kernel.T)
        np.testing.assert_array_equal(b_ih[i], bias)
        np.testing.assert_array_equal(b_hh[i], np.zeros_like(bias))


# --- 2. the layer against the scan ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_cudnn_layer_matches_the_scan_forward_and_gradients(reference_cudnn, return_sequences, go_backwards):
    x = jax.random.normal(jax.random.PRNGKey(7), (9, 5, 3))  # (time, batch, in)
    params = keras_weights(jax.random.PRNGKey(8), 3, 4)

    def scan(x, k, r, b):
        return lstm_layer(x, k, r, b, None, True, None, return_sequences, go_backwards=go_backwards)

    def through_cudnn(x, k, r, b):
        return cudnn.lstm_layer(x, k, r, b, return_sequences, go_backwards=go_backwards)

    np.testing.assert_allclose(through_cudnn(x, *params), scan(x, *params), atol=FORWARD_TOL)

    def loss(fn):
        return lambda *args: jnp.sum(jnp.sin(fn(*args)))

    want = jax.grad(loss(scan), argnums=(0, 1, 2, 3))(x, *params)
    got = jax.grad(loss(through_cudnn), argnums=(0, 1, 2, 3))(x, *params)
    for name, g, w in zip(("input", "kernel", "recurrent_kernel", "bias"), got, want):
        np.testing.assert_allclose(g, w, atol=GRAD_TOL, err_msg=name)


def _model_pair(model_cls, **fields):
    return model_cls(**fields), model_cls(**fields, recurrent_impl="cudnn")


@pytest.mark.slow
@pytest.mark.parametrize(
    "models",
    [
        pytest.param(_model_pair(LSTMModel, units=4, layers=3, out_dim=2), id="shorthand-3-layers"),
        pytest.param(
            _model_pair(
                SequentialModel,
                architecture=(
                    LSTM(5, return_sequences=True),
                    Bidirectional(LSTM(3, return_sequences=True), merge_mode="concat"),
                    LSTM(4, go_backwards=True, return_sequences=True),
                    Bidirectional(LSTM(3), merge_mode="ave"),
                    Dense(3, activation="relu"),
                ),
                out_dim=2,
            ),
            id="layer-list",
        ),
    ],
)
def test_cudnn_models_match_the_scan_forward_and_gradients(reference_cudnn, models):
    """Stacked layers, Bidirectional (two cuDNN calls), go_backwards: same outputs and
    parameter gradients as the scan, with the same parameter tree."""
    scan_model, cudnn_model = models
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 7, 3))
    params = scan_model.init(jax.random.PRNGKey(2), x)["params"]
    assert jax.tree.structure(cudnn_model.init(jax.random.PRNGKey(2), x)["params"]) == jax.tree.structure(params)

    def loss(model):
        return lambda p: jnp.sum(jnp.tanh(model.apply({"params": p}, x)))

    forward = [jax.jit(model.apply)({"params": params}, x) for model in (cudnn_model, scan_model)]
    np.testing.assert_allclose(*forward, atol=FORWARD_TOL)
    got, want = (jax.jit(jax.grad(loss(model)))(params) for model in (cudnn_model, scan_model))
    for (path, g), w in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, w, atol=GRAD_TOL, err_msg=jax.tree_util.keystr(path))


def test_cudnn_layer_refuses_a_mask(reference_cudnn):
    model = LSTMModel(units=2, layers=1, out_dim=1, recurrent_impl="cudnn")
    x = jnp.ones((2, 3, 1))
    with pytest.raises(ValueError, match="recurrent_impl='cudnn' takes no timestep mask"):
        model.init(jax.random.PRNGKey(0), x, jnp.ones((2, 3), bool))


# --- 3. a whole one-member sweep through the cuDNN plumbing ---------------------------------


def _close(a, b, atol=TRAINED_TOL):
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, err_msg=jax.tree_util.keystr(path))


SWEEP = {"seeds": 1, "epochs": 3, "batch_size": 16, "validation_split": 0.25, "verbose": 0}


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        pytest.param({"units": 4, "layers": 2, "dropout": 0.2}, id="shorthand-dropout"),
        pytest.param(
            {"layers": [{"type": "Bidirectional", "layer": {"type": "LSTM", "units": 3, "dropout": 0.1}}]},
            id="bidirectional",
        ),
    ],
)
def test_one_member_sweep_through_the_cudnn_path_matches_the_scan(reference_cudnn, model):
    """The size-1 program without vmap, the model dispatch and the driver's choice, end to
    end: history and parameters within 1e-6 of the ordinary sweep; meta says which ran."""
    x, y = make_data(n=64)
    scan = fl.sweep(x, y, model=model, recurrent_impl="scan", **SWEEP)
    through = fl.sweep(x, y, model=model, recurrent_impl="cudnn", **SWEEP)
    auto = fl.sweep(x, y, model=model, **SWEEP)  # "auto": eligible here, so cuDNN
    assert scan.meta["recurrent_impl"] == ["scan"]
    assert through.meta["recurrent_impl"] == auto.meta["recurrent_impl"] == ["cudnn"]
    assert set(through.history) == set(scan.history)
    _close(through.history, scan.history)
    _close(through.groups[0].params, scan.groups[0].params)
    _close(auto.groups[0].params, through.groups[0].params, atol=0)


@pytest.mark.slow
def test_auto_uses_the_scan_for_chunks_of_several_members(reference_cudnn):
    x, y = make_data(n=48)
    result = fl.sweep(x, y, model={"units": 3}, **{**SWEEP, "seeds": 2})
    assert result.meta["recurrent_impl"] == ["scan"]
    one_at_a_time = fl.sweep(x, y, model={"units": 3}, members_per_chunk=1, **{**SWEEP, "seeds": 2})
    assert one_at_a_time.meta["recurrent_impl"] == ["cudnn"]
    _close(one_at_a_time.history, result.history)


@pytest.mark.slow
def test_auto_falls_back_to_the_scan_when_the_cudnn_program_fails(monkeypatch):
    """ "auto" must be safe on an untested GPU stack: a failing cuDNN program becomes the
    scan's, with one warning naming recurrent_impl, and the same numbers as "scan"."""

    def broken(*args):
        raise RuntimeError("CUDNN_STATUS_NOT_SUPPORTED")

    monkeypatch.setattr(cudnn, "LSTM_CALL", broken)
    monkeypatch.setattr(cudnn, "cudnn_available", lambda: True)
    _forget_compiled_programs()
    x, y = make_data(n=48)
    with pytest.warns(CudnnFallbackWarning, match="recurrent_impl='auto'.*CUDNN_STATUS_NOT_SUPPORTED") as caught:
        result = fl.sweep(x, y, model={"units": 3}, grid={"units": [3, 4]}, **SWEEP)
    assert len([w for w in caught if w.category is CudnnFallbackWarning]) == 1
    assert result.meta["recurrent_impl"] == ["scan", "scan"]
    scan = fl.sweep(x, y, model={"units": 3}, grid={"units": [3, 4]}, recurrent_impl="scan", **SWEEP)
    _close(result.history, scan.history, atol=0)
    with pytest.raises(RuntimeError, match="CUDNN_STATUS_NOT_SUPPORTED"):  # asked for: not hidden
        fl.sweep(x, y, model={"units": 3}, recurrent_impl="cudnn", **SWEEP)
    _forget_compiled_programs()


# --- 4. the one-member program without vmap -------------------------------------------------


@pytest.mark.slow
def test_single_member_map_equals_vmap_with_the_scan():
    """init, two epochs and finish of one member: `single_member_map` gives what jax.vmap
    over a member axis of one gives: within 1e-6, not bit for bit (XLA fuses the dots of
    a size-1 batch axis differently: ~1 ulp on a CPU); integers and keys exactly."""
    x, y = make_data(n=40)
    spec = SweepSpec(seeds=1, epochs=2, batch_size=8, validation_split=0.25, model={"units": 3, "dropout": 0.1})
    ds = prepare_data(x, y, validation_split=0.25)
    driver = Driver(spec.plan(), ds, settings_for(spec))
    cfg = driver.config(0)
    info = driver.infos[0]
    keys, hp = driver._chunk_inputs(info)
    data = driver.data
    init, epoch, finish = make_train(cfg)
    init_args = (keys, None, hp, np.asarray(data.x)[:8], None)
    results = []
    for member_map in (jax.vmap, single_member_map):
        state = jax.jit(member_map(init, in_axes=(0, None, 0, None, None)))(*init_args)
        one_epoch = jax.jit(member_map(epoch, in_axes=(0, 0, None)))  # compiled once for both epochs
        logs = []
        for _ in range(2):
            state, log = one_epoch(state, hp, data)
            logs.append(log)
        results.append((jax.jit(member_map(finish))(state), logs))
    assert jax.tree.structure(results[0]) == jax.tree.structure(results[1])
    for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
        assert a.shape == b.shape and a.dtype == b.dtype
        if jnp.issubdtype(a.dtype, jnp.floating):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TRAINED_TOL, atol=TRAINED_TOL)
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_single_member_map_refuses_other_axes_and_sizes():
    with pytest.raises(ValueError, match="member axis of size 1"):
        single_member_map(lambda a: a)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="in_axes must be 0 or None"):
        single_member_map(lambda a: a, in_axes=1)(jnp.ones((1, 3)))


# --- 5. the setting: spec, errors, CLI -------------------------------------------------------


def test_cudnn_on_a_cpu_is_an_error_before_anything_compiles(monkeypatch):
    if HAVE_CUDNN:
        pytest.skip("a CUDA GPU is present")
    monkeypatch.setattr("fastlstm.runtime._driver.compiled_program", _must_not_compile)
    monkeypatch.setattr("fastlstm.runtime._chunk_run.compiled_program", _must_not_compile)
    x, y = make_data(n=32)
    with pytest.raises(ValueError, match=r"recurrent_impl='cudnn' cannot be used here: no CUDA GPU"):
        fl.sweep(x, y, seeds=1, epochs=1, recurrent_impl="cudnn", verbose=0)


def _must_not_compile(*args, **kwargs):
    raise AssertionError("compiled before the error")


@pytest.mark.parametrize(
    ("kwargs", "data", "reason"),
    [
        ({"seeds": 2}, {}, "2 members would share a chunk"),
        ({"precision": "bfloat16"}, {}, "precision='bfloat16'"),
        ({"model": {"units": 3, "mask_value": 0.0}}, {"pad": True}, "masked"),
        ({"model": {"layers": [{"type": "LSTM", "units": 3, "recurrent_dropout": 0.2}]}}, {}, "recurrent_dropout"),
        ({"grid": {"layers.0.recurrent_dropout": [0.0, 0.2]}, "members_per_chunk": 1}, {}, "recurrent_dropout"),
        (
            {
                "model": {
                    "layers": [
                        {"type": "Embedding", "input_dim": 5, "output_dim": 2, "mask_zero": True},
                        {"type": "LSTM", "units": 3},
                    ]
                }
            },
            {"tokens": True},
            "mask_zero",
        ),
    ],
)
def test_cudnn_where_it_cannot_run_names_the_reason(reference_cudnn, monkeypatch, kwargs, data, reason):
    monkeypatch.setattr("fastlstm.runtime._driver.compiled_program", _must_not_compile)
    monkeypatch.setattr("fastlstm.runtime._chunk_run.compiled_program", _must_not_compile)
    x, y = make_data(n=32)
    if data.get("pad"):
        x[:5, -2:] = 0.0
    if data.get("tokens"):
        x = np.abs(np.round(x[..., :1])).clip(0, 4)
    if "grid" in kwargs:
        kwargs = {**kwargs, "model": {"layers": [{"type": "LSTM", "units": 3}]}}
    args = {"seeds": 1, "epochs": 1, "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=rf"recurrent_impl='cudnn' cannot be used here: .*{reason}"):
        fl.sweep(x, y, recurrent_impl="cudnn", **args)


@pytest.mark.parametrize("value", ["cuda", "", 1, None])
def test_a_bad_recurrent_impl_names_the_setting(value):
    x, y = make_data(n=16)
    with pytest.raises(ValueError, match="recurrent_impl"):
        fl.sweep(x, y, seeds=1, epochs=1, recurrent_impl=value, verbose=0)


def test_recurrent_impl_round_trips_and_the_default_is_left_out():
    assert "recurrent_impl" not in SweepSpec().to_dict()  # a plain sweep's identity is unchanged
    for value in ("scan", "cudnn"):
        spec = SweepSpec(recurrent_impl=value)
        assert spec.to_dict()["recurrent_impl"] == value
        assert SweepSpec.from_dict(spec.to_dict()) == spec
        assert SweepSpec.from_toml(spec.to_toml()).recurrent_impl == value
    with pytest.raises(ValueError, match="recurrent_impl"):
        SweepSpec.from_toml('recurrent_impl = "gpu"\n')


def _cli(*args):
    try:
        return main(["sweep", *args])
    except SystemExit as exit_:
        return exit_.code


def _one_line(capsys, text):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert text in err, err


def test_cli_recurrent_impl_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _cli("--recurrent-impl", "gpu", "--quiet") == 2
    _one_line(capsys, "--recurrent-impl")
    (tmp_path / "bad.toml").write_text('recurrent_impl = "gpu"\nepochs = 1\n')
    assert _cli("bad.toml", "--quiet") == 2
    _one_line(capsys, "recurrent_impl")
    if not HAVE_CUDNN:
        args = ("--recurrent-impl", "cudnn", "--seeds", "1", "--epochs", "1", "--samples", "32", "--quiet")
        assert _cli(*args, "--out", str(tmp_path / "run")) == 2
        _one_line(capsys, "recurrent_impl='cudnn' cannot be used here")
        assert not (tmp_path / "run").exists()


# --- 6. "auto" on a CPU: the scan, and W1's program unchanged ---------------------------------


@pytest.mark.slow
def test_auto_on_a_cpu_is_the_scan_and_compiles_the_same_program(monkeypatch):
    """Without a GPU "auto" resolves to the scan before the driver exists: the programs
    "auto" compiles are the ones "scan" compiles, text for text, with no cuDNN call in them."""
    if HAVE_CUDNN:
        pytest.skip("a CUDA GPU is present")
    texts: list[str] = []
    original = stages.Lowered.compile

    def compile_and_record(self, *args, **kwargs):
        texts.append(self.as_text())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(stages.Lowered, "compile", compile_and_record)
    x, y = make_data(n=64, timesteps=16, features=8, classes=4)
    compiled = {}
    for impl in ("auto", "scan"):
        texts.clear()
        compiled_program.cache_clear()
        result = fl.sweep(x, y, model={"units": 8}, seeds=1, epochs=1, batch_size=16, recurrent_impl=impl, verbose=0)
        assert result.meta["recurrent_impl"] == ["scan"]
        compiled[impl] = list(texts)
    assert len(compiled["auto"]) == 2  # init and epoch
    assert compiled["auto"] == compiled["scan"]
    assert not any(re.search("cudnn|rnn_fwd", t) for t in compiled["auto"])


# --- the real thing, on a GPU only -----------------------------------------------------------


@pytest.mark.skipif(not HAVE_CUDNN, reason="needs a CUDA GPU with cuDNN (CI has none; bench/gpu_check.sh runs it)")
def test_gpu_cudnn_sweep_matches_scan():
    """cuDNN's own kernels against the scan, one member, a few epochs, TF32 off."""
    x, y = make_data(n=256, timesteps=24, features=4, classes=3)
    args = {"model": {"units": 32, "layers": 2}, "seeds": 1, "epochs": 4, "batch_size": 32, "verbose": 0}
    with jax.default_matmul_precision("highest"):
        scan = fl.sweep(x, y, recurrent_impl="scan", validation_split=0.25, **args)
        through = fl.sweep(x, y, recurrent_impl="cudnn", validation_split=0.25, **args)
    assert through.meta["recurrent_impl"] == ["cudnn"]
    _close(through.history, scan.history, atol=1e-4)
    _close(through.groups[0].params, scan.groups[0].params, atol=1e-4)


# --- fastlstm bench: the flag reaches the workers, the table says what ran --------------------


def test_bench_passes_recurrent_impl_and_labels_the_rows(monkeypatch):
    from rich.console import Console

    from fastlstm.benchmark import compare
    from fastlstm.benchmark.report import bench_table, summarize
    from fastlstm.benchmark.worker import fastlstm_sweep_kwargs
    from fastlstm.benchmark.workloads import WORKLOADS

    w = WORKLOADS["tiny"]
    assert "recurrent_impl" not in fastlstm_sweep_kwargs(fl, w, None)  # not given: fl.sweep's "auto"
    assert fastlstm_sweep_kwargs(fl, w, None, "cudnn")["recurrent_impl"] == "cudnn"
    commands = []

    def fake_run(cmd, env, timeout):
        commands.append(cmd)
        return {"rc": 1, "stdout": "", "stderr_tail": "", "outside_wall_s": 1.0}

    monkeypatch.setattr(compare, "run_timed", fake_run)
    monkeypatch.setattr(compare, "wait_quiet", lambda *a: 0.0)
    args = compare.argparse.Namespace(
        precision=None,
        recurrent_impl="scan",
        fastlstm_cache="off",
        timeout=10.0,
        quiet=True,
        max_busy=1.0,
        wait_quiet=0.0,
    )
    compare.run_system("fastlstm", w, 1, args, Console(quiet=True))
    compare.run_system("torch", w, 1, args, Console(quiet=True))
    assert commands[0][-2:] == ["--recurrent-impl", "scan"]
    assert "--recurrent-impl" not in commands[1]

    def record(system, impl):
        result = {"trained_members": 1, "steady_epoch_s": 0.1, "epoch_members": 1, "final_train_accuracy": [0.5]}
        if impl:
            result["recurrent_impl"] = impl
        return {"system": system, "seeds": 1, "rc": 0, "outside_wall_s": 2.0, "child_maxrss_mb": 1.0, "result": result}

    runs, ratio_rows = summarize(w, [record("torch", None), record("fastlstm", ["cudnn"])], None)
    console = Console(record=True, width=220)
    console.print(bench_table(w, runs, ratio_rows, None))
    text = console.export_text()
    assert "fastlstm (cudnn)" in text and "torch (" not in text
