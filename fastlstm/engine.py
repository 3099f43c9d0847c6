"""The pure, vmapped training program (PureJaxRL's `make_train` pattern).

`make_train(config)` builds three pure per-member functions - `init`, `epoch`,
`finish` - that the runner wraps in `jit(vmap(...))`: everything a member owns
(params, optimizer state, callback state, RNG keys) has a leading member axis,
the data has none. One epoch is one `lax.scan` over its batches; a Python loop over
epochs only drives the progress bar and stops when every member has stopped.

A stopped or diverged member keeps computing (vmap cannot skip it) but its updates
are masked with `jnp.where`, so it stays exactly as it was; a member whose loss or
parameters become NaN/inf is frozen at its last finite state and flagged, and no
value of it ever flows into another member.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fastlstm.callbacks import EarlyStopping, EarlyStoppingState, ReduceLROnPlateau, ReduceLROnPlateauState
from fastlstm.devices import by_member, member_mesh, padded_count, replicated
from fastlstm.losses import LOSSES, metric_values
from fastlstm.model import LSTMModel, head_activation
from fastlstm.optimizers import OPTIMIZER_FLAGS, learning_rate_at, make_optimizer

EVAL_BATCH = 256  # rows per evaluation chunk (bounds activation memory)
# The init program runs once and does little (random draws, a QR), but LLVM's optimiser
# spends ~0.6 s of every CPU sweep on its threefry kernels; unoptimised it compiles in a
# quarter of the time, on the critical path while the epoch program compiles beside it.
INIT_COMPILER_OPTIONS = {"cpu": {"xla_backend_optimization_level": 0}}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What forward passes and evaluation need: the network, its task, loss, metrics."""

    units: int
    layers: int
    out_dim: int
    task: str
    loss: str
    metrics: tuple[str, ...]
    precision: str = dataclasses.field(default="float32", kw_only=True)

    @property
    def model(self) -> LSTMModel:
        dtype = None if self.precision == "float32" else self.precision
        return LSTMModel(units=self.units, layers=self.layers, out_dim=self.out_dim, compute_dtype=dtype)


@dataclasses.dataclass(frozen=True)
class TrainConfig(ModelConfig):
    """Everything static about one compile group (hashable)."""

    optimizer: str
    optimizer_flags: tuple[tuple[str, bool], ...]
    schedule: str
    piecewise: tuple[tuple[float, ...], tuple[float, ...]] | None
    staircase: bool
    batch_size: int
    epochs: int
    n_train: int
    n_val: int
    shuffle: bool
    use_dropout: bool
    early_stopping: EarlyStopping | None
    reduce_lr: ReduceLROnPlateau | None

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def log_names(self) -> tuple[str, ...]:
        names = ("loss", *self.metrics)
        if self.n_val:
            names = names + tuple(f"val_{n}" for n in names)
        if self.reduce_lr is not None:
            names = (*names, "learning_rate")
        return names


class Data(NamedTuple):
    """Device arrays shared by every member (no member axis)."""

    x: jax.Array
    y: jax.Array
    w: jax.Array
    mask: jax.Array | None
    x_val: jax.Array | None
    y_val: jax.Array | None
    w_val: jax.Array | None
    mask_val: jax.Array | None


class MemberState(NamedTuple):
    params: Any
    opt_state: Any
    best_params: Any  # only used with restore_best_weights (else an empty tuple)
    step: jax.Array
    epoch: jax.Array
    order_key: jax.Array
    dropout_key: jax.Array
    lr_scale: jax.Array
    active: jax.Array  # still training: neither stopped nor diverged
    diverged: jax.Array
    stopped: jax.Array
    es: EarlyStoppingState | tuple
    rlr: ReduceLROnPlateauState | tuple


def _where(pred: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves))


def forward(
    cfg: ModelConfig,
    params: Any,
    x: jax.Array,
    mask: jax.Array | None,
    dropout_rate: Any = None,
    key: jax.Array | None = None,
) -> jax.Array:
    """Model outputs after the head activation (what Keras's `predict` returns)."""
    rngs = None if dropout_rate is None else {"dropout": key}
    raw = cfg.model.apply({"params": params}, x, mask, dropout_rate, rngs=rngs)
    return head_activation(cfg.task, raw)


def evaluate_sums(
    cfg: ModelConfig, params: Any, x: jax.Array, y: jax.Array, w: jax.Array, mask: jax.Array | None
) -> dict[str, jax.Array]:
    """Weighted loss sum and metric sums over a dataset, in fixed-size chunks.

    Dividing by the row count gives Keras's `evaluate` numbers: the loss is the
    sample-weighted sum over the number of samples, metrics are unweighted means.
    """
    n = x.shape[0]
    chunk = min(EVAL_BATCH, n)
    n_chunks = math.ceil(n / chunk)
    pad = n_chunks * chunk - n
    valid = jnp.ones(n, jnp.float32)

    def padded(a):
        return (
            None
            if a is None
            else jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1)).reshape((n_chunks, chunk, *a.shape[1:]))
        )

    loss_fn = LOSSES[cfg.loss]

    def body(acc, batch):
        xb, yb, wb, mb, vb = batch
        out = forward(cfg, params, xb, mb)
        sums = {"loss": jnp.sum(loss_fn(yb, out) * wb * vb)}
        for name in cfg.metrics:
            sums[name] = jnp.sum(metric_values(name, yb, out, cfg.loss) * vb)
        return jax.tree.map(jnp.add, acc, sums), None

    zero = {k: jnp.zeros([], jnp.float32) for k in ("loss", *cfg.metrics)}
    sums, _ = jax.lax.scan(body, zero, (padded(x), padded(y), padded(w), padded(mask), padded(valid)))
    return sums


def make_train(cfg: TrainConfig) -> tuple[Callable, Callable, Callable]:
    """Build the pure per-member (init, epoch, finish) functions for one group."""
    model = cfg.model
    flags = {k: dict(cfg.optimizer_flags).get(k, v) for k, v in OPTIMIZER_FLAGS[cfg.optimizer].items()}
    loss_fn = LOSSES[cfg.loss]
    es, rlr = cfg.early_stopping, cfg.reduce_lr
    restore = es is not None and es.restore_best_weights
    bs, steps = cfg.batch_size, cfg.steps_per_epoch

    def optimizer(hp):
        return make_optimizer(cfg.optimizer, hp, flags)

    def init(
        keys: jax.Array,
        initial_params: Any,
        hp: Mapping[str, jax.Array],
        sample_x: jax.Array,
        sample_mask: jax.Array | None,
    ) -> MemberState:
        init_key, order_key, dropout_key = keys
        params = model.init(init_key, sample_x, sample_mask)["params"]
        if initial_params is not None:
            params = jax.tree.map(lambda drawn, given: jnp.asarray(given, drawn.dtype), params, initial_params)
        return MemberState(
            params=params,
            opt_state=optimizer(hp).init(params),
            best_params=params if restore else (),
            step=jnp.zeros([], jnp.int32),
            epoch=jnp.zeros([], jnp.int32),
            order_key=order_key,
            dropout_key=dropout_key,
            lr_scale=jnp.ones([], jnp.float32),
            active=jnp.ones([], bool),
            diverged=jnp.zeros([], bool),
            stopped=jnp.zeros([], bool),
            es=es.init() if es else (),
            rlr=rlr.init() if rlr else (),
        )

    def current_lr(state: MemberState, hp) -> jax.Array:
        base = learning_rate_at(state.step, cfg.total_steps, cfg.schedule, hp, cfg.piecewise, cfg.staircase)
        return base * state.lr_scale

    def batch_loss(params, xb, yb, wb, mb, count, key, hp):
        dropout = hp["dropout"] if cfg.use_dropout else None
        out = forward(cfg, params, xb, mb, dropout, key)
        # Keras "sum_over_batch_size": weighted sum over the real rows of this batch.
        return jnp.sum(loss_fn(yb, out) * wb) / count, out

    def epoch(state: MemberState, hp: Mapping[str, jax.Array], data: Data) -> tuple[MemberState, dict[str, jax.Array]]:
        was_active = state.active
        n = cfg.n_train
        if cfg.shuffle:
            order = jax.random.permutation(jax.random.fold_in(state.order_key, state.epoch), n)
        else:
            order = jnp.arange(n)
        pad = steps * bs - n
        order = jnp.concatenate([order, jnp.zeros(pad, order.dtype)]).reshape(steps, bs)
        valid = (jnp.arange(steps * bs) < n).reshape(steps, bs)
        tx = optimizer(hp)
        epoch_key = jax.random.fold_in(state.dropout_key, state.epoch)

        def train_step(carry, batch):
            st, sums = carry
            idx, ok_rows, i = batch
            xb, yb = data.x[idx], data.y[idx]
            wb = data.w[idx] * ok_rows
            mb = None if data.mask is None else data.mask[idx]
            count = jnp.sum(ok_rows).astype(jnp.float32)
            key = jax.random.fold_in(epoch_key, i)
            (loss, out), grads = jax.value_and_grad(batch_loss, has_aux=True)(st.params, xb, yb, wb, mb, count, key, hp)
            lr = current_lr(st, hp)
            updates, opt_state = tx.update(grads, st.opt_state, st.params, learning_rate=lr)
            params = jax.tree.map(jnp.add, st.params, updates)
            training = st.active
            finite = jnp.isfinite(loss) & _all_finite(params)
            take = training & finite
            st = st._replace(
                params=_where(take, params, st.params),
                opt_state=_where(take, opt_state, st.opt_state),
                step=st.step + take.astype(jnp.int32),
                diverged=st.diverged | (training & ~finite),
                active=st.active & finite,
            )
            new_sums = {"loss": loss * count}
            for name in cfg.metrics:
                new_sums[name] = jnp.sum(metric_values(name, yb, out, cfg.loss) * ok_rows)
            sums = jax.tree.map(lambda acc, v: acc + jnp.where(training, v, 0.0), sums, new_sums)
            return (st, sums), None

        zero = {k: jnp.zeros([], jnp.float32) for k in ("loss", *cfg.metrics)}
        (state, sums), _ = jax.lax.scan(train_step, (state, zero), (order, valid, jnp.arange(steps)))
        logs = {k: v / n for k, v in sums.items()}
        if cfg.n_val:
            val = evaluate_sums(cfg, state.params, data.x_val, data.y_val, data.w_val, data.mask_val)
            logs.update({f"val_{k}": v / cfg.n_val for k, v in val.items()})
        lr_now = current_lr(state, hp)
        if rlr is not None:
            logs["learning_rate"] = lr_now

        alive = was_active & ~state.diverged
        stop = jnp.zeros([], bool)
        if es is not None:
            new_es, stop, save = es.update(state.es, logs[es.monitor], state.epoch)
            state = state._replace(
                es=_where(alive, new_es, state.es),
                best_params=_where(alive & save, state.params, state.best_params) if restore else (),
            )
            stop = alive & stop
        if rlr is not None:
            new_rlr, new_lr = rlr.update(state.rlr, logs[rlr.monitor], lr_now)
            scale = jnp.where(lr_now > 0, state.lr_scale * new_lr / jnp.where(lr_now > 0, lr_now, 1.0), state.lr_scale)
            state = state._replace(
                rlr=_where(alive, new_rlr, state.rlr), lr_scale=jnp.where(alive, scale, state.lr_scale)
            )
        logs = {k: jnp.where(was_active, v, jnp.nan) for k, v in logs.items()}
        state = state._replace(
            epoch=state.epoch + 1,
            stopped=state.stopped | stop,
            active=state.active & ~stop,
        )
        return state, logs

    def finish(state: MemberState) -> MemberState:
        """Keras's `on_train_end`: restore the best weights where they were kept."""
        if not restore:
            return state
        return state._replace(params=_where(state.es.has_best_weights, state.best_params, state.params))

    return init, epoch, finish


@functools.lru_cache(maxsize=64)
def compiled_train(cfg: TrainConfig) -> tuple[Callable, Callable, Callable]:
    """jit(vmap(...)) of (init, epoch, finish), cached per static config so that a
    second sweep with the same shapes reuses the compiled programs."""
    init, epoch, finish = make_train(cfg)
    return (
        jax.jit(jax.vmap(init, in_axes=(0, None, 0, None, None))),
        jax.jit(jax.vmap(epoch, in_axes=(0, 0, None)), donate_argnums=(0,)),
        jax.jit(jax.vmap(finish)),
    )


def _abstract_epoch_args(init_fn: Callable, init_args: tuple, hp: Any, data: Data, mesh: Any) -> tuple:
    """Shapes, dtypes and shardings of `epoch`'s (state, hp, data), without running init."""
    state = jax.eval_shape(init_fn, *init_args)

    def spec(a: Any, sharding: Any) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding, weak_type=getattr(a, "weak_type", False))

    return (
        jax.tree.map(lambda a: spec(a, by_member(mesh)), state),
        jax.tree.map(lambda a: spec(a, by_member(mesh)), hp),
        jax.tree.map(lambda a: spec(a, replicated(mesh)), data),
    )


def run_group(
    cfg: TrainConfig,
    keys: jax.Array,
    hparams: Mapping[str, np.ndarray],
    data: Data,
    on_epoch: Callable[[int, dict[str, np.ndarray], int], None] | None = None,
    initial_params: Any = None,
) -> tuple[MemberState, dict[str, np.ndarray]]:
    """Train one group of members: keys (members, 3, 2), hparams name -> (members,).

    The member axis is sharded over the local devices (padded with copies of the
    last member up to a multiple of the device count; the copies are dropped).
    Returns the final member states (host NumPy arrays) and the history
    (name -> (members, epochs)),
    NaN after a member stopped or diverged and for epochs never run because every
    member had stopped.
    """
    init_fn, step_epoch, finish_fn = compiled_train(cfg)
    n_members = keys.shape[0]
    mesh = member_mesh(n_members)
    padded = padded_count(n_members, mesh)

    def members(a: Any) -> np.ndarray:
        a = np.asarray(a)
        return np.concatenate([a, np.repeat(a[-1:], padded - n_members, axis=0)]) if padded > n_members else a

    keys = members(keys)
    hp = {k: members(v) for k, v in hparams.items()}
    sample_x = np.asarray(data.x)[: min(cfg.batch_size, cfg.n_train)]
    sample_mask = None if data.mask is None else np.asarray(data.mask)[: sample_x.shape[0]]
    # The epoch program compiles in a second thread while init compiles and runs.
    init_args = (keys, initial_params, hp, sample_x, sample_mask)
    abstract = _abstract_epoch_args(init_fn, init_args, hp, data, mesh)
    with ThreadPoolExecutor(1) as pool:
        epoch_compiled = pool.submit(lambda: step_epoch.lower(*abstract).compile())
        # Initialise on one device, then spread: the orthogonal initialiser's batched QR
        # (LAPACK) deadlocks when several host devices run it at once on the shared pool.
        state = init_fn.lower(*init_args).compile(INIT_COMPILER_OPTIONS.get(jax.default_backend()))(*init_args)
        # Through the host: resharding device arrays would compile a slicing program per shape.
        state = jax.device_put(jax.device_get(state), by_member(mesh))
        hp = jax.device_put(hp, by_member(mesh))
        data = jax.device_put(jax.device_get(data), replicated(mesh))
        epoch_compiled.result()  # fills jit's cache; the calls below reuse it
    history = {name: np.full((n_members, cfg.epochs), np.nan, np.float32) for name in cfg.log_names}
    for e in range(cfg.epochs):
        state, logs = step_epoch(state, hp, data)
        logs = {k: v[:n_members] for k, v in jax.device_get(logs).items()}
        for name, values in logs.items():
            history[name][:, e] = values
        n_active = int(np.sum(jax.device_get(state.active)[:n_members]))
        if on_epoch is not None:
            on_epoch(e, logs, n_active)
        if n_active == 0:
            break
    state = jax.device_get(finish_fn(state))  # host arrays: slicing them compiles nothing
    if padded > n_members:
        state = jax.tree.map(lambda a: a[:n_members], state)
    return state, history
