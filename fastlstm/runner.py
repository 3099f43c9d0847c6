"""`fastlstm.sweep` (the function): Keras `fit` arguments in, every member trained in one program.

The flow is one way: validate the data, plan the members, run each compile group
through the engine, collect a `SweepResult`. All checks happen before anything is
compiled.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from fastlstm.cache import enable_compilation_cache
from fastlstm.callbacks import EarlyStopping, ReduceLROnPlateau
from fastlstm.data import Dataset, prepare_data
from fastlstm.engine import EVAL_BATCH, Data, TrainConfig, run_group
from fastlstm.memory import (
    activation_bytes_per_member,
    auto_members_per_chunk,
    cache_friendly_members_per_device,
    lstm_param_count,
    step_bytes_per_member,
)
from fastlstm.model import LSTMModel, ModelSpec
from fastlstm.optimizers import float32_hparams
from fastlstm.plan import STREAMS, Group, Plan, make_plan
from fastlstm.progress import epoch_progress
from fastlstm.result import GroupParams, SweepResult
from fastlstm.stats import majority_class_rate

PRECISIONS = ("float32", "bfloat16")


def _check_callbacks(callbacks: Sequence[Any] | None) -> tuple[EarlyStopping | None, ReduceLROnPlateau | None]:
    es = rlr = None
    for cb in callbacks or ():
        if isinstance(cb, EarlyStopping):
            if es is not None:
                raise ValueError("callbacks: at most one EarlyStopping per sweep")
            es = cb
        elif isinstance(cb, ReduceLROnPlateau):
            if rlr is not None:
                raise ValueError("callbacks: at most one ReduceLROnPlateau per sweep")
            rlr = cb
        else:
            raise ValueError(
                f"callbacks: expected fastlstm.EarlyStopping or fastlstm.ReduceLROnPlateau, got {type(cb).__name__}"
            )
    return es, rlr


def _check_monitor(cb: Any, available: Sequence[str]) -> None:
    if cb is not None and cb.monitor not in available:
        raise ValueError(f"{type(cb).__name__}.monitor={cb.monitor!r} is not logged; available: {list(available)}")


def _check_initial_params(params: Any, structure: Mapping[str, Any], ds: Dataset) -> None:
    """Shapes of user-given weights must match the model (checked by abstract init)."""
    model = LSTMModel(units=structure["units"], layers=structure["layers"], out_dim=ds.out_dim)
    sample = jax.ShapeDtypeStruct((1, ds.timesteps, ds.features), jnp.float32)
    expected = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x)["params"], sample)
    want = traverse_util.flatten_dict(expected, sep="/")
    try:
        got = traverse_util.flatten_dict(params, sep="/")
    except Exception:
        raise ValueError("initial_params must be a nested dict of arrays like result.params of one member") from None
    if set(got) != set(want):
        raise ValueError(f"initial_params has entries {sorted(got)}, expected {sorted(want)}")
    for name, spec in want.items():
        if tuple(np.shape(got[name])) != tuple(spec.shape):
            raise ValueError(f"initial_params[{name!r}] has shape {np.shape(got[name])}, expected {spec.shape}")


def _train_config(
    group: Group,
    plan: Plan,
    ds: Dataset,
    shuffle: bool,
    es: EarlyStopping | None,
    rlr: ReduceLROnPlateau | None,
    precision: str,
) -> TrainConfig:
    """The static description of one compile group."""
    s = group.structure
    return TrainConfig(
        units=s["units"],
        layers=s["layers"],
        out_dim=ds.out_dim,
        task=ds.task,
        loss=ds.loss,
        metrics=ds.metrics,
        optimizer=s["optimizer"],
        optimizer_flags=tuple(sorted(plan.optimizer_flags.items())),
        schedule=plan.schedule,
        piecewise=(plan.schedule_static["boundaries"], plan.schedule_static["values"])
        if plan.schedule == "piecewise_constant"
        else None,
        staircase=plan.schedule_static.get("staircase", False),
        batch_size=s["batch_size"],
        epochs=s["epochs"],
        n_train=len(ds.train),
        n_val=len(ds.val) if ds.val else 0,
        shuffle=shuffle,
        use_dropout=any(plan.members[i].hparams["dropout"] > 0 for i in group.members),
        early_stopping=es,
        reduce_lr=rlr,
        precision=precision,
    )


def _auto_chunk(cfg: TrainConfig, ds: Dataset, n_members: int) -> int:
    """Members per chunk: what fits in memory and, on a CPU, in cache (see fastlstm/memory.py)."""
    per_member = activation_bytes_per_member(
        timesteps=ds.timesteps,
        features=ds.features,
        units=cfg.units,
        layers=cfg.layers,
        batch_size=max(cfg.batch_size, min(EVAL_BATCH, cfg.n_val)),
        n_params=lstm_param_count(ds.features, cfg.units, cfg.layers, cfg.out_dim),
    )
    devices = jax.local_devices()
    size = auto_members_per_chunk(n_members, per_member, len(devices))
    if devices[0].platform == "cpu":
        step = step_bytes_per_member(
            features=ds.features, units=cfg.units, layers=cfg.layers, batch_size=cfg.batch_size
        )
        size = min(size, len(devices) * cache_friendly_members_per_device(step))
    return size


def _member_keys(plan: Plan, indices: Sequence[int]) -> jax.Array:
    """(members, 3, 2) raw keys: one independent stream per purpose, from its seed."""
    rows = []
    for i in indices:
        seeds = plan.members[i].stream_seeds
        rows.append([np.asarray(jax.random.fold_in(jax.random.PRNGKey(seeds[s]), k)) for k, s in enumerate(STREAMS)])
    return jnp.asarray(np.asarray(rows, np.uint32))


def _device_data(ds: Dataset) -> Data:
    def dev(a):
        return None if a is None else jnp.asarray(a)

    val = ds.val
    return Data(
        dev(ds.train.x),
        dev(ds.train.y),
        dev(ds.train.weight),
        dev(ds.train.mask),
        dev(val.x) if val else None,
        dev(val.y) if val else None,
        dev(val.weight) if val else None,
        dev(val.mask) if val else None,
    )


def _status(state: Any, k: int) -> tuple[str, int | None, int | None]:
    if bool(state.diverged[k]):
        return "diverged", None, None
    es = state.es
    stopped = bool(state.stopped[k])
    stopped_epoch = int(es.stopped_epoch[k]) if stopped else None
    best_epoch = int(es.best_epoch[k]) if es != () and bool(es.has_best[k]) else None
    return ("stopped" if stopped else "ok"), stopped_epoch, best_epoch


def sweep(
    x: Any,
    y: Any = None,
    *,
    model: ModelSpec | Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] = 8,
    grid: Mapping[str, Sequence[Any]] | None = None,
    optimizer: str | Mapping[str, Any] = "adam",
    learning_rate: float | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    clipvalue: float | None = None,
    loss: str | None = None,
    metrics: Sequence[str] | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    validation_split: float = 0.0,
    validation_data: Any = None,
    shuffle: bool = True,
    class_weight: Mapping[int, float] | None = None,
    sample_weight: Any = None,
    callbacks: Sequence[Any] | None = None,
    fixed_streams: Mapping[str, int] | None = None,
    initial_params: Any = None,
    members_per_chunk: int | None = None,
    precision: str = "float32",
    verbose: int | str = "auto",
) -> SweepResult:
    """Train seeds x grid members of one LSTM model, batched; Keras `fit` semantics.

    Members are `[(config, seed) for config in product(grid) for seed in seeds]`,
    so member `i` has seed `seeds[i % len(seeds)]`. `fixed_streams` holds RNG
    streams ("init", "order", "dropout") at a given seed for every member.
    `initial_params` (a params tree of `LSTMModel`, no member axis) starts every
    member from the same weights, e.g. a Keras model's, instead of drawing them.
    `members_per_chunk` trains at most that many members at once (default: as many
    as fit in half the free memory, from an activation-memory estimate); chunks
    give the same numbers as one batch, only later. `precision="bfloat16"` runs the
    LSTM matmuls in bfloat16 with float32 accumulation, parameters and optimizer state
    (faster on CPUs with AMX/AVX512-BF16 and on GPU tensor cores; not Keras's numbers).
    """
    spec = ModelSpec.coerce(model)
    es, rlr = _check_callbacks(callbacks)
    if members_per_chunk is not None and (
        isinstance(members_per_chunk, bool) or not isinstance(members_per_chunk, int) or members_per_chunk < 1
    ):
        raise ValueError(f"members_per_chunk must be a positive integer or None, got {members_per_chunk!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if not isinstance(shuffle, bool):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
    plan = make_plan(
        seeds=seeds,
        grid=grid,
        units=spec.units,
        layers=spec.layers,
        batch_size=batch_size,
        epochs=epochs,
        optimizer=optimizer,
        schedule=schedule,
        hparams={
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "clipnorm": clipnorm,
            "global_clipnorm": global_clipnorm,
            "clipvalue": clipvalue,
            "dropout": spec.dropout or None,
        },
        fixed_streams=fixed_streams,
    )
    ds = prepare_data(
        x,
        y,
        task=spec.task,
        loss=loss,
        metrics=metrics,
        num_classes=spec.num_classes,
        output_dim=spec.output_dim,
        mask_value=spec.mask_value,
        validation_split=validation_split,
        validation_data=validation_data,
        sample_weight=sample_weight,
        class_weight=class_weight,
    )
    names = ["loss", *ds.metrics] + ([f"val_{n}" for n in ("loss", *ds.metrics)] if ds.val else [])
    _check_monitor(es, names)
    _check_monitor(rlr, names)

    if initial_params is not None:
        for group in plan.groups:
            _check_initial_params(initial_params, group.structure, ds)
    enable_compilation_cache()
    data = _device_data(ds)
    show = sys.stderr.isatty() if verbose == "auto" else bool(verbose)
    n_members = len(plan.members)
    history: dict[str, np.ndarray] = {}
    max_epochs = max(g.structure["epochs"] for g in plan.groups)
    rows: list[dict[str, Any]] = [{} for _ in plan.members]
    groups: list[GroupParams] = []
    work = []
    for group in plan.groups:
        cfg = _train_config(group, plan, ds, shuffle, es, rlr, precision)
        idx = list(group.members)
        size = members_per_chunk or _auto_chunk(cfg, ds, len(idx))
        work.append((cfg, [idx[i : i + size] for i in range(0, len(idx), size)]))
    total = sum(cfg.epochs * len(chunks) for cfg, chunks in work)
    with epoch_progress(total, show) as bar:
        for gi, (cfg, chunks) in enumerate(work):
            s = plan.groups[gi].structure
            states, hists = [], []
            for ci, chunk in enumerate(chunks):
                per_member = [float32_hparams(plan.members[i].hparams) for i in chunk]
                hp = {k: np.stack([p[k] for p in per_member]) for k in per_member[0]}
                label = "training" if len(plan.groups) == 1 else f"group {gi + 1}/{len(plan.groups)}"
                if len(chunks) > 1:
                    label += f" chunk {ci + 1}/{len(chunks)}"
                bar.start_group(cfg.epochs, len(chunk), label)
                state, hist = run_group(cfg, _member_keys(plan, chunk), hp, data, bar.on_epoch, initial_params)
                states.append(jax.device_get(state))
                hists.append(hist)
            idx = [i for chunk in chunks for i in chunk]
            state = jax.tree.map(lambda *parts: np.concatenate(parts), *states)
            hist = {name: np.concatenate([h[name] for h in hists]) for name in hists[0]}
            for name, values in hist.items():
                full = history.setdefault(name, np.full((n_members, max_epochs), np.nan, np.float32))
                full[idx, : values.shape[1]] = values
            for k, i in enumerate(idx):
                m = plan.members[i]
                status, stopped_epoch, best_epoch = _status(state, k)
                trained = int(np.sum(np.isfinite(hist["loss"][k])))
                restored = es is not None and es.restore_best_weights and best_epoch is not None
                rows[i] = {
                    "index": i,
                    "seed": m.seed,
                    "config": m.config,
                    **{f"{st}_seed": v for st, v in m.stream_seeds.items()},
                    **s,
                    **m.hparams,
                    "status": status,
                    "epochs_trained": trained,
                    "stopped_epoch": stopped_epoch,
                    "best_epoch": best_epoch,
                    "final_epoch": best_epoch if restored else trained - 1,
                }
            groups.append(GroupParams(tuple(idx), s["units"], s["layers"], state.params))
    meta = {
        "task": ds.task,
        "loss": ds.loss,
        "metrics": list(ds.metrics),
        "out_dim": ds.out_dim,
        "num_classes": ds.num_classes,
        "mask_value": spec.mask_value,
        "grid_keys": list(plan.grid_keys),
        "seeds": sorted({m.seed for m in plan.members}),
        "optimizer": plan.members[0].structure["optimizer"],
        "schedule": plan.schedule,
        "n_train": len(ds.train),
        "n_val": len(ds.val) if ds.val else 0,
        "precision": precision,
        "majority_class_rate": majority_class_rate((ds.val or ds.train).y, ds.task),  # of the labels scored
    }
    return SweepResult(history, rows, groups, [dict(c) for c in plan.configs], meta)
