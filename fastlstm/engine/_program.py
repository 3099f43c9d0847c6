"""The pure, vmapped training program (PureJaxRL's `make_train` pattern).

`make_train(config)` builds three pure per-member functions - `init`, `epoch`,
`finish` - and `compiled_program` wraps them in `jit(vmap(...))`: everything a member
owns (params, optimizer state, callback states, RNG keys) has a leading member axis,
the data has none. One epoch is one `lax.scan` over its batches. Nothing here touches
the host: the driver (fastlstm/runtime/_driver.py) calls the epoch program, moves state, and
runs the controllers between epochs.

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
from typing import Any, NamedTuple, TypedDict, cast

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec

from fastlstm.engine._augment import augment_batch
from fastlstm.engine._callbacks import Callback, CallbackSignal
from fastlstm.engine._layer_modules import SequentialModel, has_regularizers, regularization_penalty
from fastlstm.engine._layer_specs import Layer, sequence_output
from fastlstm.engine._losses import LOSSES, metric_values
from fastlstm.engine._model import LSTMModel, head_activation
from fastlstm.engine._optimizers import OPTIMIZER_FLAGS, learning_rate_at, make_optimizer

# Per-member numbers the plan (spec/_plan.py) derives from grid keys, read by the program:
# class_weight in {None, "balanced"} -> 0/1 (which sample weights), oversample -> 0/1
# (class-balanced rows instead of a permutation). Both keep one compiled program per shape.
BALANCED_HPARAM = "class_weight_balanced"
OVERSAMPLE_HPARAM = "oversample"

# The device mesh's axes (fastlstm/runtime/_devices.py, which does not import this module):
# members, and a member's batch rows when fewer members than devices leave some idle.
MEMBER_AXIS, DATA_AXIS = "members", "data"
STEPS_KEY = "_valid_steps"  # per-timestep targets: how many steps the sums are over
EVAL_BATCH = 256  # rows per evaluation chunk (bounds activation memory)


class _ImplOption(TypedDict, total=False):
    recurrent_impl: str


# The init program runs once and does little (random draws, a QR), but LLVM's optimiser
# spends ~0.6 s of every CPU sweep on its threefry kernels; unoptimised it compiles in a
# quarter of the time, on the critical path while the epoch program compiles beside it.
# XLA takes numbers as option values, though jax's stubs say str | bool
INIT_COMPILER_OPTIONS: dict[str, dict[str, Any]] = {"cpu": {"xla_backend_optimization_level": 0}}


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
    # A layer-list model (fastlstm.layers specs) instead of the units x layers shorthand,
    # and which of its `layers.<i>.<option>` numbers are non-zero for some member.
    architecture: tuple[Layer, ...] | None = dataclasses.field(default=None, kw_only=True)
    live: frozenset = dataclasses.field(default=frozenset(), kw_only=True)
    # "cudnn": the LSTMs run through cuDNN and the program is compiled for exactly one
    # member, without vmap (fastlstm/engine/_cudnn.py); "scan": the hand-written batched layer.
    recurrent_impl: str = dataclasses.field(default="scan", kw_only=True)

    @property
    def model(self) -> LSTMModel | SequentialModel:
        dtype = None if self.precision == "float32" else self.precision
        impl: _ImplOption = {"recurrent_impl": "cudnn"} if self.recurrent_impl == "cudnn" else {}
        if self.architecture is not None:
            return SequentialModel(self.architecture, self.out_dim, compute_dtype=dtype, live=self.live, **impl)
        return LSTMModel(units=self.units, layers=self.layers, out_dim=self.out_dim, compute_dtype=dtype, **impl)

    @property
    def sequence(self) -> bool:
        """Per-timestep outputs and targets (loss and metrics over the valid steps)."""
        return self.architecture is not None and sequence_output(self.architecture)

    @property
    def regularized(self) -> bool:
        return self.architecture is not None and has_regularizers(self.architecture)

    def penalty(self, params: Any, hp: Mapping[str, jax.Array]) -> jax.Array:
        """Keras's regularization losses (0 when the model declares none)."""
        if self.architecture is None or not self.regularized:
            return jnp.zeros([], jnp.float32)
        return regularization_penalty(self.architecture, params, hp)

    def dropout_inputs(self, hp: Mapping[str, jax.Array], use_dropout: bool) -> Any:
        """What the model's third argument is in training: the shorthand's dropout rate
        (None without dropout), or a layer-list model's numbers (always: None means inference)."""
        if self.architecture is not None:
            return {k: hp[k] for k in self.live}
        return hp["dropout"] if use_dropout else None


def per_step(fn: Callable, y: jax.Array, out: jax.Array, *args: Any) -> jax.Array:
    """A per-sample loss or metric applied to every timestep: (batch, time) values."""
    b, t = out.shape[:2]
    flat_y = y.reshape((b * t, *y.shape[2:]))
    return fn(flat_y, out.reshape((b * t, *out.shape[2:])), *args).reshape(b, t)


def sequence_loss(loss_fn: Callable, y: jax.Array, out: jax.Array, w: jax.Array, steps: jax.Array, rows) -> jax.Array:
    """Keras's masked "sum_over_batch_size": valid steps weigh total/valid, the sum over total
    (= sum over valid steps of loss x sample weight / number of valid steps)."""
    total = rows * out.shape[1]
    valid = jnp.sum(steps)
    mask_weight = jnp.where(valid > 0, total / jnp.where(valid > 0, valid, 1.0), 0.0)
    weighted = per_step(loss_fn, y, out) * w[:, None] * jnp.where(steps > 0, mask_weight, 0.0)
    return jnp.where(total > 0, jnp.sum(weighted) / jnp.where(total > 0, total, 1.0), 0.0)


def step_weights(mask: jax.Array | None, rows: jax.Array, timesteps: int) -> jax.Array:
    """(batch, time) 1.0 at the valid steps of the real rows."""
    steps = jnp.ones((rows.shape[0], timesteps), jnp.float32) if mask is None else mask.astype(jnp.float32)
    return steps * rows[:, None]


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
    callbacks: tuple[Callback, ...] = ()
    # (position, augmentation) of the augmentations some member of the group applies
    # (fastlstm.engine._augment); empty: the training batches are used as they are.
    augment: tuple = dataclasses.field(default=(), kw_only=True)
    # some member draws its epoch's rows class-balanced (`oversample`); False: permutations only
    oversample: bool = dataclasses.field(default=False, kw_only=True)

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
        if any(cb.logs_learning_rate for cb in self.callbacks):
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
    # the training rows' class_weight="balanced" weights when class_weight is a grid key
    w_balanced: jax.Array | None = None


class MemberState(NamedTuple):
    params: Any
    opt_state: Any
    best_params: tuple  # per callback: kept best parameters, or () when it keeps none
    step: jax.Array
    epoch: jax.Array
    order_key: jax.Array
    dropout_key: jax.Array
    lr_scale: jax.Array
    active: jax.Array  # still training: neither stopped nor diverged
    diverged: jax.Array
    stopped: jax.Array
    stopped_epoch: jax.Array  # the epoch a callback stopped it, -1 while it has not
    restored: jax.Array  # its final parameters are a callback's saved best ones
    callbacks: tuple  # one state per callback
    augment_key: Any = None  # the augment stream's key; None (no leaf) without augmentation


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
    rngs = None if dropout_rate is None or key is None else {"dropout": key}
    raw = cast(
        jax.Array, cfg.model.apply({"params": params}, x, mask, dropout_rate, rngs=rngs)
    )  # not mutable: outputs only
    return head_activation(cfg.task, raw)


def evaluate_sums(
    cfg: ModelConfig,
    params: Any,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
    mask: jax.Array | None,
    hp: Mapping[str, jax.Array] | None = None,
) -> dict[str, jax.Array]:
    """Weighted loss sum and metric sums over a dataset, in fixed-size chunks.

    Dividing by the row count gives Keras's `evaluate` numbers: the loss is the
    sample-weighted sum over the number of samples, metrics are unweighted means.
    With per-timestep targets the sums are over the valid steps and `STEPS_KEY` counts
    them (`normalized` divides); `hp` holds the regularizer strengths, if any.
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

    def body(acc, batch):
        xb, yb, wb, mb, vb = batch
        return jax.tree.map(jnp.add, acc, chunk_sums(cfg, params, xb, yb, wb, mb, vb)), None

    sums, _ = jax.lax.scan(body, zero_sums(cfg), (padded(x), padded(y), padded(w), padded(mask), padded(valid)))
    return with_penalty(cfg, sums, params, hp, n)


def zero_sums(cfg: ModelConfig) -> dict[str, jax.Array]:
    """The accumulators of a pass over data: loss, metrics, and the valid steps' count."""
    names = ("loss", *cfg.metrics, *((STEPS_KEY,) if cfg.sequence else ()))
    return {k: jnp.zeros([], jnp.float32) for k in names}


def chunk_sums(cfg: ModelConfig, params: Any, xb, yb, wb, mb, vb) -> dict[str, jax.Array]:
    """Evaluation sums of one chunk of rows (`vb` 1.0 for the real ones): shared by
    `evaluate_sums` and the streaming validation blocks (fastlstm/runtime/_streaming.py)."""
    out = forward(cfg, params, xb, mb)
    if cfg.sequence:
        return _sequence_sums(cfg, yb, out, wb, mb, vb)
    sums = {"loss": jnp.sum(LOSSES[cfg.loss](yb, out) * wb * vb)}
    for name in cfg.metrics:
        sums[name] = jnp.sum(metric_values(name, yb, out, cfg.loss) * vb)
    return sums


def with_penalty(cfg: ModelConfig, sums: dict, params: Any, hp: Mapping[str, jax.Array] | None, n: int) -> dict:
    """Keras's evaluate adds the regularization losses to every batch's loss."""
    if cfg.regularized:
        strengths = cast("Mapping[str, jax.Array]", hp)  # a regularized program always passes them
        sums["loss"] = sums["loss"] + cfg.penalty(params, strengths) * (sums[STEPS_KEY] if cfg.sequence else n)
    return sums


def _sequence_sums(cfg: ModelConfig, y, out, w, mask, rows) -> dict[str, jax.Array]:
    """Per-timestep sums of one chunk: loss x weight and metrics over the valid steps, and
    their count (the caller divides by the count, over the whole dataset)."""
    steps = step_weights(mask, rows, out.shape[1])
    sums = {"loss": jnp.sum(per_step(LOSSES[cfg.loss], y, out) * w[:, None] * steps), STEPS_KEY: jnp.sum(steps)}
    for name in cfg.metrics:
        sums[name] = jnp.sum(per_step(functools.partial(metric_values, name), y, out, cfg.loss) * steps)
    return sums


def normalized(cfg: ModelConfig, sums: Mapping[str, jax.Array], n: int) -> dict[str, jax.Array]:
    """Sums over a dataset -> Keras's numbers: per row, or per valid step for per-timestep
    targets (the penalty, added per row, stays per row)."""
    if not cfg.sequence:
        return {k: v / n for k, v in sums.items()}
    steps = sums[STEPS_KEY]
    out = {k: v / steps for k, v in sums.items() if k != STEPS_KEY}
    return out


class TrainProgram:
    """The pure per-member functions of one compile group, one method per stage.

    `init(keys, initial_params, hp, sample_x, sample_mask)` draws a member's parameters
    (or takes the given ones) and its optimizer and callback states; `epoch(state, hp,
    data)` is one `lax.scan` over the epoch's batches, then validation and callbacks;
    `finish(state)` lets callbacks restore best weights. No Python side effects: the
    driver wraps them in `jit(vmap(...))`.
    """

    def __init__(self, cfg: TrainConfig, rows: jax.sharding.Sharding | None = None):
        self.cfg = cfg
        # Data parallel inside a member (fastlstm/runtime/_devices.py `data_mesh`): every
        # batch's rows are split over this sharding's "data" axis; None: the batch stays whole.
        self.rows = rows
        self.model = cfg.model
        self.flags = {k: dict(cfg.optimizer_flags).get(k, v) for k, v in OPTIMIZER_FLAGS[cfg.optimizer].items()}
        self.loss_fn = LOSSES[cfg.loss]
        self.callbacks = cfg.callbacks

    def optimizer(self, hp: Mapping[str, jax.Array]) -> Any:
        return make_optimizer(self.cfg.optimizer, hp, self.flags)

    def init(
        self,
        keys: jax.Array,
        initial_params: Any,
        hp: Mapping[str, jax.Array],
        sample_x: jax.Array,
        sample_mask: jax.Array | None,
    ) -> MemberState:
        init_key, order_key, dropout_key = keys[0], keys[1], keys[2]  # keys[3]: the augment stream
        params = self.model.init(init_key, sample_x, sample_mask)["params"]
        if initial_params is not None:
            params = jax.tree.map(lambda drawn, given: jnp.asarray(given, drawn.dtype), params, initial_params)
        return MemberState(
            params=params,
            opt_state=self.optimizer(hp).init(params),
            best_params=tuple(params if cb.keeps_best_weights else () for cb in self.callbacks),
            step=jnp.zeros([], jnp.int32),
            epoch=jnp.zeros([], jnp.int32),
            order_key=order_key,
            dropout_key=dropout_key,
            lr_scale=jnp.ones([], jnp.float32),
            active=jnp.ones([], bool),
            diverged=jnp.zeros([], bool),
            stopped=jnp.zeros([], bool),
            stopped_epoch=jnp.full([], -1, jnp.int32),
            restored=jnp.zeros([], bool),
            callbacks=tuple(cb.init_state() for cb in self.callbacks),
            augment_key=keys[3] if self.cfg.augment else None,
        )

    def current_lr(self, state: MemberState, hp: Mapping[str, jax.Array]) -> jax.Array:
        cfg = self.cfg
        return (
            learning_rate_at(state.step, cfg.total_steps, cfg.schedule, hp, cfg.piecewise, cfg.staircase)
            * state.lr_scale
        )

    def batch_loss(self, params, xb, yb, wb, mb, count, key, hp, steps=None) -> tuple[jax.Array, jax.Array]:
        cfg = self.cfg
        out = forward(cfg, params, xb, mb, cfg.dropout_inputs(hp, cfg.use_dropout), key)
        if cfg.sequence:  # masked steps left out, Keras's reduction (see sequence_loss)
            loss = sequence_loss(self.loss_fn, yb, out, wb, steps, count)
        else:  # Keras "sum_over_batch_size": weighted sum over the real rows of this batch.
            loss = jnp.sum(self.loss_fn(yb, out) * wb) / count
        if cfg.regularized:
            loss = loss + cfg.penalty(params, hp)
        return loss, out

    def batches(self, state: MemberState, hp: Mapping[str, jax.Array], data: Data) -> tuple[jax.Array, jax.Array]:
        """(steps, batch) row indices of this epoch (shuffled per member) and which are real."""
        cfg, n = self.cfg, self.cfg.n_train
        steps, bs = cfg.steps_per_epoch, cfg.batch_size
        epoch_key = jax.random.fold_in(state.order_key, state.epoch)
        if cfg.shuffle:
            order = jax.random.permutation(epoch_key, n)
        else:
            order = jnp.arange(n)
        if cfg.oversample:  # members that oversample draw n rows class-balanced instead
            order = jnp.where(hp[OVERSAMPLE_HPARAM] > 0.5, balanced_order(epoch_key, data.y, cfg), order)
        order = jnp.concatenate([order, jnp.zeros(steps * bs - n, order.dtype)]).reshape(steps, bs)
        return order, (jnp.arange(steps * bs) < n).reshape(steps, bs)

    @staticmethod
    def member_weights(data: Data, idx: jax.Array, hp: Mapping[str, jax.Array]) -> jax.Array:
        """A grid over class_weight: this member's rows weighted "balanced" or as given."""
        w_balanced = cast(jax.Array, data.w_balanced)  # set whenever a member grids class_weight
        return jnp.where(hp[BALANCED_HPARAM] > 0.5, w_balanced[idx], data.w[idx])

    def train_step(self, carry, batch, *, hp, data: Data, tx: Any, epoch_key: jax.Array, augment_key=None):
        """One optimizer step on the batch of rows `idx` of the device-resident data."""
        idx, ok_rows, i = batch
        xb, yb = data.x[idx], data.y[idx]
        wb = data.w[idx] if data.w_balanced is None else self.member_weights(data, idx, hp)
        mb = None if data.mask is None else data.mask[idx]
        batch = (xb, yb, wb, mb, ok_rows, i)
        return self.batch_step(carry, batch, hp=hp, tx=tx, epoch_key=epoch_key, augment_key=augment_key)

    def batch_step(self, carry, batch, *, hp, tx: Any, epoch_key: jax.Array, augment_key=None):
        """One optimizer step on one batch's arrays (gathered from the device-resident data,
        or streamed: fastlstm/runtime/_streaming.py); a member whose loss or parameters turn
        non-finite is frozen."""
        st, sums = carry
        xb, yb, wb, mb, ok_rows, i = batch
        wb = wb * ok_rows
        if self.cfg.augment:  # training batches only: validation, predict and evaluate never see it
            xb = augment_batch(self.cfg.augment, xb, mb, hp, jax.random.fold_in(augment_key, i))
        count = jnp.sum(ok_rows).astype(jnp.float32)
        key = jax.random.fold_in(epoch_key, i)
        steps = step_weights(mb, ok_rows.astype(jnp.float32), xb.shape[1]) if self.cfg.sequence else None
        if self.rows is None:
            (loss, out), grads = jax.value_and_grad(self.batch_loss, has_aux=True)(
                st.params, xb, yb, wb, mb, count, key, hp, steps
            )
        else:
            (loss, out), grads = self.split_value_and_grad(st.params, xb, yb, wb, mb, count, key, hp)
        updates, opt_state = tx.update(grads, st.opt_state, st.params, learning_rate=self.current_lr(st, hp))
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
        for name in self.cfg.metrics:
            if self.cfg.sequence:  # Keras weighs metrics by the output mask
                values = per_step(functools.partial(metric_values, name), yb, out, self.cfg.loss) * cast(
                    jax.Array, steps
                )
                new_sums[name] = jnp.sum(values)
            else:
                new_sums[name] = jnp.sum(metric_values(name, yb, out, self.cfg.loss) * ok_rows)
        if self.cfg.sequence:
            new_sums[STEPS_KEY] = jnp.sum(cast(jax.Array, steps))
        sums = jax.tree.map(lambda acc, v: acc + jnp.where(training, v, 0.0), sums, new_sums)
        return (st, sums), None

    def split_value_and_grad(self, params, xb, yb, wb, mb, count, key, hp) -> tuple[tuple[jax.Array, jax.Array], Any]:
        """`value_and_grad(batch_loss)` with the batch's rows split over the "data" devices
        (`shard_map`): each device runs the forward and backward passes of its rows, and
        the loss (a sum over rows / `count`) and the gradient are summed across devices once
        per batch (an explicit `psum`: GSPMD would all-reduce the recurrence's weight
        gradient at every timestep). The rows are padded to a multiple of the devices with
        copies of the last row weighing 0. Only for programs `rows_split_exactly` admits."""
        rows = cast(jax.sharding.NamedSharding, self.rows)
        devices = rows.mesh.shape[DATA_AXIS]
        n = xb.shape[0]
        pad = -n % devices
        if pad:

            def edge(a):
                return None if a is None else jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1), mode="edge")

            xb, yb, mb, wb = edge(xb), edge(yb), edge(mb), jnp.pad(wb, (0, pad))

        def local(params, xb, yb, wb, mb, count, key, hp):
            (loss, out), grads = jax.value_and_grad(self.batch_loss, has_aux=True)(
                params, xb, yb, wb, mb, count, key, hp
            )
            loss, grads = jax.lax.psum((loss, grads), DATA_AXIS)
            return (loss, out), grads

        split, whole = PartitionSpec(DATA_AXIS), PartitionSpec()
        (loss, out), grads = jax.shard_map(
            local,
            mesh=rows.mesh,
            in_specs=(whole, split, split, split, split, whole, whole, whole),
            out_specs=((whole, split), whole),
            check_vma=False,
        )(params, xb, yb, wb, mb, count, key, hp)
        return (loss, out[:n] if pad else out), grads

    def epoch_key(self, state: MemberState) -> jax.Array:
        """This epoch's dropout key (batch `i` folds in `i`)."""
        return jax.random.fold_in(state.dropout_key, state.epoch)

    @staticmethod
    def augment_key(state: MemberState) -> jax.Array | None:
        """This epoch's augmentation key (batch `i` folds in `i`); None when nothing augments."""
        return None if state.augment_key is None else jax.random.fold_in(state.augment_key, state.epoch)

    def epoch(self, state: MemberState, hp: Mapping[str, jax.Array], data: Data) -> tuple[MemberState, dict]:
        """Train one epoch, validate, run the callbacks; logs are NaN for a member that was not training."""
        cfg = self.cfg
        was_active = state.active
        order, valid = self.batches(state, hp, data)
        step = functools.partial(
            self.train_step,
            hp=hp,
            data=data,
            tx=self.optimizer(hp),
            epoch_key=self.epoch_key(state),
            augment_key=self.augment_key(state),
        )
        (state, sums), _ = jax.lax.scan(step, (state, zero_sums(cfg)), (order, valid, jnp.arange(cfg.steps_per_epoch)))
        val = None
        if cfg.n_val:
            assert data.x_val is not None and data.y_val is not None and data.w_val is not None  # n_val > 0
            val = evaluate_sums(cfg, state.params, data.x_val, data.y_val, data.w_val, data.mask_val, hp)
        return self.end_epoch(state, hp, sums, val, was_active)

    def end_epoch(
        self, state: MemberState, hp: Mapping[str, jax.Array], sums: dict, val: dict | None, was_active: jax.Array
    ) -> tuple[MemberState, dict]:
        """The epoch's logs from its training (and validation) sums, then the callbacks: the
        part after the batches, shared by the in-memory epoch and the streaming one."""
        cfg = self.cfg
        logs = {k: v / cfg.n_train for k, v in sums.items()}
        if cfg.sequence:  # Keras: the loss is a mean over rows of batch losses, metrics over valid steps
            logs = {k: (v if k == "loss" else sums[k] / sums[STEPS_KEY]) for k, v in logs.items() if k != STEPS_KEY}
        if val is not None:
            logs.update({f"val_{k}": v for k, v in normalized(cfg, val, cfg.n_val).items()})
        lr_now = self.current_lr(state, hp)
        if "learning_rate" in cfg.log_names:
            logs["learning_rate"] = lr_now
        state = self.run_callbacks(state, {**logs, "learning_rate": lr_now}, was_active & ~state.diverged)
        logs = {k: jnp.where(was_active, v, jnp.nan) for k, v in logs.items()}
        return state._replace(epoch=state.epoch + 1), logs

    def run_callbacks(self, state: MemberState, logs: Mapping[str, jax.Array], alive: jax.Array) -> MemberState:
        """Every callback's `on_epoch_end` on a member that trained this epoch; signals combined.

        Stop if any callback says stop; learning-rate factors multiply; each callback
        that keeps best weights keeps its own copy.
        """
        stop, factor = jnp.zeros([], bool), jnp.ones([], jnp.float32)
        states, best = [], []
        for cb, cb_state, kept in zip(self.callbacks, state.callbacks, state.best_params):
            new_state, signal = cb.on_epoch_end(cb_state, logs, state.epoch)
            signal = CallbackSignal(*(jnp.asarray(v) for v in signal))
            states.append(_where(alive, new_state, cb_state))
            save = alive & signal.save_weights.astype(bool)
            best.append(_where(save, state.params, kept) if cb.keeps_best_weights else ())
            stop = stop | signal.stop.astype(bool)
            factor = factor * signal.lr_factor.astype(jnp.float32)
        stop = alive & stop
        return state._replace(
            callbacks=tuple(states),
            best_params=tuple(best),
            lr_scale=jnp.where(alive, state.lr_scale * factor, state.lr_scale),
            stopped=state.stopped | stop,
            stopped_epoch=jnp.where(stop, state.epoch, state.stopped_epoch),
            active=state.active & ~stop,
        )

    def finish(self, state: MemberState) -> MemberState:
        """Keras's `on_train_end`: a callback that kept best weights may give them back."""
        for cb, cb_state, kept in zip(self.callbacks, state.callbacks, state.best_params):
            if cb.keeps_best_weights:
                restore = cb.restore_at_end(cb_state)
                state = state._replace(params=_where(restore, kept, state.params), restored=state.restored | restore)
        return state


def class_labels(y: jax.Array, cfg: ModelConfig) -> jax.Array:
    """(n,) int class of each training row: integer labels as they are, one-hot rows by
    argmax, a binary target (n, 1) rounded."""
    if y.ndim == 1:
        return y.astype(jnp.int32)
    if y.shape[1] > 1:
        return jnp.argmax(y, axis=1).astype(jnp.int32)
    return jnp.round(y[:, 0]).astype(jnp.int32)


def balanced_order(key: jax.Array, y: jax.Array, cfg: TrainConfig) -> jax.Array:
    """n row indices drawn with replacement, each row with probability proportional to
    1 / (rows of its class): every class is drawn equally often in expectation, and the
    epoch keeps its n rows (`oversample`)."""
    labels = class_labels(y, cfg)
    counts = jnp.bincount(labels, length=max(cfg.out_dim, 2))
    p = 1.0 / counts[labels].astype(jnp.float32)
    return jax.random.choice(key, cfg.n_train, (cfg.n_train,), replace=True, p=p / jnp.sum(p))


def rows_split_exactly(cfg: TrainConfig) -> bool:
    """Whether a member's batches can be split over devices with one device's numbers:
    not when the program draws random numbers per row (dropout, augmentation: the draws
    depend on the batch's shape), with per-timestep targets (the loss divides by the
    batch's valid steps), regularizers (added once per batch), or cuDNN's program."""
    random_rows = bool(cfg.augment) or (cfg.use_dropout if cfg.architecture is None else bool(cfg.live))
    return not (random_rows or cfg.sequence or cfg.regularized or cfg.recurrent_impl == "cudnn")


def make_train(cfg: TrainConfig, rows: jax.sharding.Sharding | None = None) -> tuple[Callable, Callable, Callable]:
    """The pure per-member (init, epoch, finish) functions for one group (`rows`: see TrainProgram)."""
    program = TrainProgram(cfg, rows)
    return program.init, program.epoch, program.finish


def single_member_map(fn: Callable, in_axes: int | tuple[int | None, ...] | None = 0) -> Callable:
    """`jax.vmap(fn, in_axes)` for a member axis of size one, without vmap: the mapped
    arguments lose their leading axis, `fn` runs on one member, its outputs get the axis
    back. For cuDNN's LSTM (fastlstm/engine/_cudnn.py), whose primitives have no batching rule.
    `in_axes` as jax.vmap's, limited to 0 (mapped) and None (shared)."""

    def mapped(*args: Any) -> Any:
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        if len(axes) != len(args) or any(a not in (0, None) for a in axes):
            raise ValueError(f"single_member_map: in_axes must be 0 or None per argument, got {in_axes!r}")
        one = [arg if axis is None else jax.tree.map(_only_member, arg) for arg, axis in zip(args, axes)]
        return jax.tree.map(lambda a: jnp.expand_dims(a, 0), fn(*one))

    return mapped


def _only_member(a: jax.Array) -> jax.Array:
    if a.shape[:1] != (1,):
        raise ValueError(f"single_member_map: expected a member axis of size 1, got an array of shape {a.shape}")
    return a[0]


@functools.lru_cache(maxsize=64)
def compiled_program(
    cfg: TrainConfig, rows: jax.sharding.Sharding | None = None
) -> tuple[jax.stages.Wrapped, jax.stages.Wrapped, jax.stages.Wrapped]:
    """jit(vmap(...)) of (init, epoch, finish), cached per static config so that a
    second sweep with the same shapes reuses the compiled programs. With
    `recurrent_impl="cudnn"` the programs are for one member (`single_member_map`);
    with `rows`, each batch's rows are split over that sharding's "data" devices."""
    init, epoch, finish = make_train(cfg, rows)
    member_map = single_member_map if cfg.recurrent_impl == "cudnn" else jax.vmap
    # split rows: the member axis is the mesh's "members" axis inside the epoch's shard_map
    epoch_map = member_map if rows is None else functools.partial(jax.vmap, spmd_axis_name=MEMBER_AXIS)
    return (
        jax.jit(member_map(init, in_axes=(0, None, 0, None, None))),
        jax.jit(epoch_map(epoch, in_axes=(0, 0, None)), donate_argnums=(0,)),
        jax.jit(member_map(finish)),
    )
