"""`fastlstm.sweep` (the function): spec -> data -> plan -> driver -> result.

`sweep(x, y, **kwargs)` builds a `SweepSpec` from Keras-style `fit` arguments (or
takes one: `spec=`), validates the data against it, plans the members, lets the
driver train them, and collects a `SweepResult`. Every check happens before anything
is compiled.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from fastlstm.data._prepare import Dataset, metrics_in_target_units, prepare_data
from fastlstm.data._readers import TableRoles, is_dataframe, read_data, with_validation_file
from fastlstm.data._splits import SplitMode
from fastlstm.data._stream_data import fingerprint, prepare_stream_data
from fastlstm.data._stream_files import wants_stream
from fastlstm.data._tasks import early_cue
from fastlstm.engine._cudnn import eligibility_problems
from fastlstm.engine._layer_modules import SequentialModel
from fastlstm.engine._model import LSTMModel, ModelSpec, check_input_shape, check_token_ids
from fastlstm.interop._keras import (
    check_fresh_init,
    compile_settings,
    from_keras,
    is_keras_model,
    normalization_preprocessing,
)
from fastlstm.results._result import GroupParams, SweepResult
from fastlstm.runtime._cache import enable_compilation_cache
from fastlstm.runtime._checkpoint import Checkpointer, RungCheckpoint, dataset_digest, load_resume, load_rung_resume
from fastlstm.runtime._controllers import ChunkOutcome, Controller
from fastlstm.runtime._devices import select_devices
from fastlstm.runtime._distributed import check_same_everywhere
from fastlstm.runtime._driver import Driver, Settings, check_members_fit
from fastlstm.runtime._progress import ProgressBar
from fastlstm.runtime._rung_driver import RungDriver
from fastlstm.runtime._streaming import check_stream_plan
from fastlstm.spec._plan import Plan
from fastlstm.spec._space import Distribution
from fastlstm.spec._sweep_spec import SPEC_DEFAULTS, DataSpec, SweepSpec, with_keywords
from fastlstm.stats import majority_class_rate

if TYPE_CHECKING:
    from fastlstm.data._loaded import DataFormat
    from fastlstm.data._stream_data import StreamSplit
    from fastlstm.spec._schedulers import Hyperband, SuccessiveHalving

# fl.sweep's keyword arguments that are not spec keys, declared here once (the spec keys and
# their defaults are SweepSpec's fields: SPEC_DEFAULTS). DATA_KEYWORDS come with the data -
# arrays per sample, weights, or how to read x - and RUN_KEYWORDS say how this run runs;
# neither is written into config.toml. tests/test_options_declared_once.py checks that
# `sweep`'s signature is x, y, spec= and exactly these and the spec's keywords.
DATA_KEYWORDS = ("validation_data", "sample_weight", "initial_params", "init", "stream", "layout")
RUN_KEYWORDS = ("controllers", "checkpoint", "checkpoint_every", "resume", "verbose", "devices")


def _check_initial_params(params: Any, structure: Mapping[str, Any], ds: Dataset, spec: ModelSpec) -> None:
    """Shapes of user-given weights must match the model (checked by abstract init)."""
    model: SequentialModel | LSTMModel
    if spec.layer_list is not None:
        model = SequentialModel(spec.layer_list, ds.out_dim)
    else:
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
    for name, leaf in want.items():
        if tuple(np.shape(got[name])) != tuple(leaf.shape):
            raise ValueError(f"initial_params[{name!r}] has shape {np.shape(got[name])}, expected {leaf.shape}")


class _LayoutOption(TypedDict, total=False):
    layout: str | None  # x's axis order (prepare_data checks it); absent for streamed data


def load_data(
    spec: SweepSpec,
    x: Any,
    y: Any,
    validation_data: Any = None,
    sample_weight: Any = None,
    stream: bool | None = None,
    layout: str | None = None,
) -> Dataset:
    """Validate the data against the spec and split it (Keras's rules); raise before compiling.

    A streamed `x` (see `fastlstm.data._stream_files.wants_stream`) gives a `Dataset` whose splits
    read x from disk by blocks (fastlstm/data/_stream_data.py). `layout` is x's axis order
    (`fastlstm.data._input_checks`); see `data_layout` for the spec's `data.layout`."""
    model = spec.model
    prepare = prepare_data
    layout_option: _LayoutOption = {"layout": data_layout(spec, layout)}
    if wants_stream(x, stream):
        prepare = prepare_stream_data
        if model.embedding is not None:
            raise ValueError("x: streamed data does not support an Embedding model (token ids) yet")
        if layout_option.pop("layout") == "channels_first":
            raise ValueError("layout: streamed data is read as (samples, timesteps, features); transpose the files")
        if spec.split != "last" and validation_data is None:
            raise ValueError(
                f"split={spec.split!r}: streamed data holds out a range of the file (the last rows); "
                "use split='last' or pass validation_data"
            )
    ds = prepare(
        x,
        y,
        task=_task_of(spec),
        loss=spec.loss,
        metrics=spec.metrics,
        num_classes=model.num_classes,
        output_dim=model.output_dim,
        mask_value=model.mask_value,
        validation_split=spec.validation_split,
        validation_data=validation_data,
        **_split_options(spec, in_memory=prepare is prepare_data),
        sample_weight=sample_weight,
        class_weight=spec.class_weight,
        standardize=input_scaling(spec, streamed=prepare is not prepare_data),
        standardize_target=spec.standardize_target,
        class_weight_grid="class_weight" in spec.grid,
        **model.data_options(),
        **layout_option,
    )
    ds.validation = validation_record(spec, ds, validation_data)
    for split, name in ((ds.train, "x"), (ds.val, "validation_data x")):
        if split is not None:
            check_input_shape(model, (len(split), *split.row_shape), name)
        if split is not None and not ds.streaming:
            check_token_ids(model, split.x, split.mask, name)
    if spec.oversample or "oversample" in spec.grid:
        check_oversample(ds, model.sequence_output)
    logged = ["loss", *ds.metrics] + ([f"val_{n}" for n in ("loss", *ds.metrics)] if ds.val else [])
    for cb in spec.callbacks:
        for monitor in cb.monitors:
            if monitor not in logged:
                raise ValueError(f"{type(cb).__name__}.monitor={monitor!r} is not logged; available: {logged}")
    if spec.scheduler is not None and spec.scheduler.metric not in logged:
        raise ValueError(
            f"scheduler metric={spec.scheduler.metric!r} is not logged; logged metrics: {logged}"
            + (" (val_ metrics need validation_split or validation_data)" if not ds.val else "")
        )
    return ds


def input_scaling(spec: SweepSpec, streamed: bool = False) -> str | dict[str, Any] | None:
    """What scales the inputs: `standardize` (fitted on the training rows), or the model's
    own fixed `normalization` (a Keras Normalization layer), applied as its numbers say.
    Both at once would scale twice (Keras's model would not refit its layer), so that is
    refused, as are the cases the fixed numbers do not reach yet."""

    model = spec.model
    fixed = normalization_preprocessing(model)
    if fixed is None:
        return spec.standardize
    if spec.standardize is not None:
        raise ValueError(
            f"standardize={spec.standardize!r}: the model scales its inputs itself (model.normalization, "
            "a Keras Normalization layer, fixed numbers); leave standardize unset"
        )
    if streamed or model.sequence_output or model.embedding is not None:
        raise ValueError(
            "model.normalization (a Keras Normalization layer): not supported with streamed data, "
            "per-timestep targets or an Embedding yet; remove the layer and pass standardize= instead"
        )
    features = len(cast("Mapping[str, Any]", model.normalization)["mean"])  # set: `fixed` is not None
    if model.input_features is not None and features not in (1, model.input_features):
        raise ValueError(f"model.normalization: {features} means for {model.input_features} input features")
    return fixed


def _task_of(spec: SweepSpec) -> str:
    """The model's task; forecasting windows (`data.window`, `--window`) mean regression
    whatever the values look like (a series of small counts is still a quantity)."""
    forecasting = spec.data is not None and spec.data.window is not None
    return "regression" if spec.model.task == "auto" and forecasting else spec.model.task


def _split_options(spec: SweepSpec, *, in_memory: bool) -> dict[str, Any]:
    """`split`/`split_seed` for prepare_data (streamed data takes the last rows only, checked above)."""
    return {"split": spec.split, "split_seed": spec.split_seed} if in_memory else {}


def validation_record(spec: SweepSpec, ds: Dataset, validation_data: Any) -> dict[str, Any] | None:
    """How the validation rows were chosen, for the result's meta and the header line: a
    given validation set, or `validation_split`'s rows by `split` (fastlstm/data/_splits.py)."""
    if ds.val is None:
        return None
    if validation_data is not None:
        return {"source": "validation_data", "rows": len(ds.val)}
    record = {"source": "validation_split", "split": spec.split, "fraction": spec.validation_split}
    if spec.split != "last":
        record["split_seed"] = spec.split_seed
    return {**record, "rows": len(ds.val)}


def data_layout(spec: SweepSpec, layout: str | None) -> str | None:
    """The layout to read x in: `layout` when given; else "steps_first" when the spec's data
    file names one (`data.layout`: its reader has already put x steps first, and the user's
    word overrides the likely-transposed check); else None (that check applies)."""
    if layout is not None:
        return layout
    given = spec.data.layout if spec.data is not None else None
    return "steps_first" if given is not None else None


def check_oversample(ds: Dataset, per_timestep: bool) -> None:
    """`oversample` draws rows by class: it needs one class label per training row."""
    y = ds.train.y
    if ds.task == "regression":
        raise ValueError("oversample: class-balanced sampling needs classification or binary targets, not regression")
    if per_timestep:
        raise ValueError("oversample: class-balanced sampling needs one target per sequence, not one per timestep")
    if ds.task == "binary" and y.ndim == 2 and y.shape[1] > 1:
        raise ValueError(
            f"oversample: class-balanced sampling needs one class per sample, but y is multi-label ({y.shape[1]} outputs)"
        )


def _member_rows(
    plan: Plan, outcome: ChunkOutcome, callbacks: Sequence[Any], pruned: Mapping[int, int] | None = None
) -> list[dict[str, Any]]:
    """The member table's rows for one finished chunk; `pruned` maps a member a scheduler
    pruned to the rung epoch (its status is then "pruned", unless it diverged)."""
    state, hist = outcome.state, outcome.history
    structure = plan.groups[outcome.info.group].structure
    rows = []
    for k, i in enumerate(outcome.info.members):
        m = plan.members[i]
        facts: dict[str, Any] = {}
        for j, cb in enumerate(callbacks):
            for key, value in cb.describe(jax.tree.map(lambda a, k=k: a[k], state.callbacks[j])).items():
                facts.setdefault(key, value)
        best_epoch = facts.pop("best_epoch", None)
        trained = int(np.sum(np.isfinite(hist["loss"][k])))
        status = "diverged" if bool(state.diverged[k]) else ("stopped" if bool(state.stopped[k]) else "ok")
        if pruned is not None:
            facts["pruned_epoch"] = pruned.get(i)
            status = "pruned" if i in pruned and status != "diverged" else status
        rows.append(
            {
                "index": i,
                "seed": m.seed,
                "config": m.config,
                **{f"{st}_seed": v for st, v in m.stream_seeds.items()},
                **structure,
                **m.hparams,
                "status": status,
                "epochs_trained": trained,
                "stopped_epoch": int(state.stopped_epoch[k])
                if bool(state.stopped[k]) and status != "diverged"
                else None,
                "best_epoch": None if status == "diverged" else best_epoch,
                "final_epoch": best_epoch if bool(state.restored[k]) and best_epoch is not None else trained - 1,
                **facts,
            }
        )
    return rows


def collect_result(
    spec: SweepSpec,
    plan: Plan,
    ds: Dataset,
    outcomes: Sequence[ChunkOutcome],
    budget: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Chunks' states and histories -> one `SweepResult` in member order.

    `budget` is a scheduler's account (fastlstm/runtime/_rung_driver.py): kept in `meta`
    (so saved and loaded with the result) and its pruned members marked in the table.
    """
    pruned = _pruned_members(plan, budget)
    n_members = len(plan.members)
    max_epochs = max(g.structure["epochs"] for g in plan.groups)
    history: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = [{} for _ in plan.members]
    groups: list[GroupParams] = []
    for g, group in enumerate(plan.groups):
        parts = [o for o in outcomes if o.info.group == g]
        idx = [i for o in parts for i in o.info.members]
        params = jax.tree.map(lambda *p: np.concatenate(p), *[o.state.params for o in parts])
        for o in parts:
            for name, values in o.history.items():
                full = history.setdefault(name, np.full((n_members, max_epochs), np.nan, np.float32))
                full[list(o.info.members), : values.shape[1]] = values
            for row in _member_rows(plan, o, spec.callbacks, pruned):
                rows[row["index"]] = row
        groups.append(GroupParams(tuple(idx), group.structure["units"], group.structure["layers"], params))
    meta = {
        "task": ds.task,
        "loss": ds.loss,
        "metrics": list(ds.metrics),
        "out_dim": ds.out_dim,
        "num_classes": ds.num_classes,
        "mask_value": spec.model.mask_value,
        **spec.model.result_meta(),
        "grid_keys": list(plan.grid_keys),
        "seeds": sorted({m.seed for m in plan.members}),
        "optimizer": plan.members[0].structure["optimizer"],
        "schedule": plan.schedule,
        "n_train": len(ds.train),
        "n_val": len(ds.val) if ds.val else 0,
        "validation": ds.validation,  # how the validation rows were chosen (split mode and seed)
        "precision": spec.precision,
        "inferred": ds.inference,
        "majority_class_rate": majority_class_rate((ds.val or ds.train).y, ds.task),  # of the labels scored
        "preprocessing": ds.preprocessing,  # predict/evaluate scale their inputs with it
        "class_weight": ds.class_weight,  # the per-class weights training used (numbers, also for "balanced")
        "class_names": None if ds.class_names is None else list(ds.class_names),  # names[code]
        "target_scaling": ds.target_scaling,  # predict scales back with it
    }
    if budget is not None:
        meta["budget"] = dict(budget)
    if ds.streaming:
        meta["streaming"] = stream_meta(ds, spec)
        shared_order_rows(rows, plan, outcomes)
    history = metrics_in_target_units(in_log_order(history, ds.metrics), ds.target_scaling)
    return SweepResult(history, rows, groups, [dict(c) for c in plan.configs], meta, spec=spec)


def in_log_order(history: dict[str, np.ndarray], metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """The metrics in the order training logs them (loss, metrics, their val_*, learning_rate).
    A chunk resumed from its checkpoint brings its history back in another (sorted) order,
    and the tables and summary.json follow this dict's: one order, resumed or not."""
    names = ("loss", *metrics)
    order = [*names, *(f"val_{n}" for n in names), "learning_rate"]
    rank = {n: k for k, n in enumerate(order)}
    return {n: history[n] for n in sorted(history, key=lambda n: (rank.get(n, len(order)), n))}


def _pruned_members(plan: Plan, budget: Mapping[str, Any] | None) -> dict[int, int] | None:
    """member -> rung epoch for the members of every configuration the budget says was pruned."""
    if budget is None:
        return None
    at = {int(c): int(e) for c, e in budget.get("pruned_at", {}).items()}
    return {m.index: at[m.config] for m in plan.members if m.config in at}


def stream_digest(ds: Dataset) -> str:
    """What resume checks of streamed data: the files (names, sizes, modification times),
    shapes, labels and weights; not x's bytes, which would cost a read of everything."""

    return fingerprint(ds)


def stream_meta(ds: Dataset, spec: SweepSpec) -> dict[str, Any]:
    """What `result.meta["streaming"]` says about a streamed sweep."""
    batches = cast("StreamSplit", ds.train).batches is not None  # a streamed dataset's
    return {
        "source": "batches" if batches else "rows",
        "order": "shared by the members of a chunk: the order stream is not a source of variance",
        "shuffle": "the source's own order" if batches else ("by blocks of rows" if spec.shuffle else "none"),
    }


def shared_order_rows(rows: list[dict[str, Any]], plan: Plan, outcomes: Sequence[ChunkOutcome]) -> None:
    """Streamed data: every member of a chunk saw the order of the chunk's first member's
    order seed; the member table says which seed, and that it was shared."""
    for o in outcomes:
        seed = plan.members[o.info.members[0]].stream_seeds["order"]
        for i in o.info.members:
            rows[i]["order_seed"] = seed
            rows[i]["order_shared"] = True


def settings_for(
    spec: SweepSpec,
    initial_params: Any = None,
    devices: int | Sequence[int] | None = None,
    recurrent_impl: str = "scan",
) -> Settings:
    """What the driver needs from the spec beside the plan (`devices`: see `fl.sweep`;
    `recurrent_impl`: what `resolve_recurrent_impl` made of the spec's)."""
    return Settings(
        spec.shuffle,
        tuple(spec.callbacks),
        spec.precision,
        spec.members_per_chunk,
        initial_params,
        architecture=spec.model.layer_list,
        devices=None if devices is None else select_devices(devices),
        recurrent_impl=recurrent_impl,
    )


def resolve_recurrent_impl(spec: SweepSpec, ds: Dataset, plan: Plan) -> str:
    """The driver's recurrent_impl for this sweep, checked before anything compiles.

    "scan" stays "scan"; "auto" becomes "scan" wherever cuDNN cannot run (a CPU, masks,
    recurrent dropout, bfloat16, streamed data, a scheduler), else stays "auto" (cuDNN for
    one-member chunks); "cudnn" there is a ValueError naming recurrent_impl and every reason,
    as is "cudnn" with chunks of several members."""
    requested = spec.recurrent_impl
    if requested == "scan":
        return "scan"
    has_mask = ds.train.mask is not None or (ds.val is not None and ds.val.mask is not None)
    problems = eligibility_problems(
        precision=spec.precision,
        architecture=spec.model.layer_list,
        layer_hparams=[m.hparams for m in plan.members],
        has_mask=has_mask,
        streaming=ds.streaming,
        scheduler=spec.scheduler is not None,
    )
    if requested == "auto":
        return "scan" if problems else "auto"
    if len(plan.members) > 1 and spec.members_per_chunk != 1:
        problems.append(
            f"{len(plan.members)} members would share a chunk (cuDNN trains one member at a time: "
            "set members_per_chunk=1, or use 'auto' for the batched layer)"
        )
    if jax.process_count() > 1:
        problems.append("several processes share every chunk")
    if problems:
        raise ValueError(f"recurrent_impl='cudnn' cannot be used here: {'; '.join(problems)}; use 'auto' or 'scan'")
    return "cudnn"


def train(
    spec: SweepSpec,
    ds: Dataset,
    *,
    initial_params: Any = None,
    controllers: Sequence[Controller] = (),
    verbose: int | str = "auto",
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    devices: int | Sequence[int] | None = None,
) -> SweepResult:
    """Plan the members of `spec`, let the driver train them on `ds`, collect the result.

    With `checkpoint` (a folder) the sweep is saved there every `checkpoint_every`
    epochs, per finished chunk, and whenever a controller halts it; `resume=True`
    continues from what that folder holds.
    """
    plan = spec.plan()
    if ds.streaming:
        check_stream_plan(ds, plan)
    impl = resolve_recurrent_impl(spec, ds, plan)
    settings = settings_for(spec, initial_params, devices, impl)  # checks `devices` before anything compiles
    check_members_fit(plan, ds, settings)
    digest = stream_digest(ds) if ds.streaming else dataset_digest(ds)
    if jax.process_count() > 1:  # every process plans its own copy: they must be the same
        same = hashlib.sha256((digest + json.dumps(spec.to_dict(), sort_keys=True)).encode())
        check_same_everywhere(same.hexdigest(), "specs or data")
    if initial_params is not None:
        for group in plan.groups:
            _check_initial_params(initial_params, group.structure, ds, spec.model)
    show = sys.stderr.isatty() if verbose == "auto" else bool(verbose)
    controllers = [*([ProgressBar()] if show else []), *controllers]
    if spec.scheduler is not None:
        if ds.streaming:
            raise ValueError(
                "scheduler: successive halving regathers members between rungs from data in memory; "
                "it does not run on streamed data (pass stream=False, or the arrays themselves)"
            )
        if checkpoint is not None and checkpoint_every is not None:
            warnings.warn(
                f"checkpoint_every={checkpoint_every} is ignored with a scheduler: its checkpoint is written "
                "at every rung and whenever the sweep is halted",
                stacklevel=3,
            )
        return _train_with_scheduler(spec, ds, plan, settings, controllers, checkpoint, resume)
    resumed = None
    if checkpoint is not None:
        identity = spec.to_dict()
        resumed = load_resume(checkpoint, digest, identity) if resume else None
        controllers.append(Checkpointer(checkpoint, checkpoint_every, digest, identity, resume=resume))
    elif resume:
        raise ValueError("resume: give the checkpoint folder to resume from")
    enable_compilation_cache()
    driver = Driver(plan, ds, settings, controllers, resume=resumed)
    result = collect_result(spec, plan, ds, driver.run())
    result.meta["recurrent_impl"] = driver.recurrent_impls()
    return result


def _train_with_scheduler(
    spec: SweepSpec,
    ds: Dataset,
    plan: Plan,
    settings: Settings,
    controllers: Sequence[Controller],
    checkpoint: str | Path | None,
    resume: bool,
) -> SweepResult:
    """The rung-synchronous driver (fastlstm/runtime/_rung_driver.py); its checkpoint is
    written at every rung and on a halt (checkpoint_every does not apply)."""

    resumed, save = None, None
    if checkpoint is not None:
        digest, identity = dataset_digest(ds), spec.to_dict()
        resumed = load_rung_resume(checkpoint, digest, identity) if resume else None
        save = RungCheckpoint(checkpoint, digest, identity, fresh=not resume)
    elif resume:
        raise ValueError("resume: give the checkpoint folder to resume from")
    enable_compilation_cache()
    driver = Driver(plan, ds, settings, controllers)
    scheduler = cast("SuccessiveHalving | Hyperband", spec.scheduler)  # this path runs a scheduler
    outcomes, budget = RungDriver(driver, scheduler, resume=resumed, save=save).run()
    result = collect_result(spec, plan, ds, outcomes, budget)
    result.meta["recurrent_impl"] = ["scan"] * len(plan.groups)  # its chunks are regathered, vmapped
    return result


def read_spec_data(spec: SweepSpec) -> tuple[dict[str, Any], Any, str]:
    """(fit arguments, LoadedData or None, one-line description) for the spec's `data` table.

    A windowed series is split by time in the reader (overlapping windows split by rows
    would leak) and comes back as `validation_data`, which overrides `validation_split`
    as in Keras.
    """

    source = spec.data or DataSpec()
    if source.path is None:
        x, y = early_cue(n=source.samples, timesteps=source.timesteps)
        text = f"built-in early-cue task, {x.shape[0]} sequences x {x.shape[1]} steps x {x.shape[2]} features"
        return {"x": x, "y": y}, None, f"{text}, {len(np.unique(y))} classes"
    if any(Path(source.path).glob("x_*.npy")):  # a directory of .npy shards, streamed (fastlstm/data/_stream_files.py)
        return {"x": str(source.path), "y": None}, None, f"the .npy shards in {source.path} (streamed)"
    forecasting = source.window is not None
    if forecasting and spec.split != "last":
        raise ValueError(
            f"split={spec.split!r} (--split): a windowed series (--window) is split by time; a {spec.split} split "
            "puts overlapping windows on both sides, leaking validation values into training"
        )
    table: TableRoles = {
        "time_column": source.time_column,
        "features": source.features,
        "drop_columns": source.drop_columns,
    }
    if not forecasting:  # one series has no sequence id or label column
        table["id_column"], table["label_columns"] = source.id_column, source.label_columns
    loaded = read_data(
        source.path,
        format=None if source.format == "series" else source.format,  # one series: the suffix says csv or parquet
        labels=source.labels,
        window=source.window,
        horizon=source.horizon,
        target=source.target,
        validation_split=spec.validation_split if forecasting else 0.0,
        layout=source.layout,
        **table,
    )
    if source.validation_path is not None:
        if forecasting:
            raise ValueError("data.validation_path: a windowed series is split by time (validation_split), not by file")
        loaded = with_validation_file(
            loaded,
            source.validation_path,
            format=cast("DataFormat | None", source.format),  # not "series": that needs a window (DataSpec)
            validation_labels=source.validation_labels,
            layout=source.layout,
            **table,
        )
    return loaded.fit_arguments(), loaded, loaded.description


def run(spec: SweepSpec | str | Path, **kwargs: Any) -> SweepResult:
    """Run a spec whose data is a file (or the built-in task): `fl.run("configs/binary.toml")`.

    `spec` is a `SweepSpec` or a config file's path; keyword arguments are `fl.sweep`'s
    (they override the spec's keys, or pass controllers, checkpoint, verbose...).
    """
    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.load(spec)
    fit, _, _ = read_spec_data(spec)
    return sweep(**fit, spec=spec, **kwargs)


def sweep(
    x: Any,
    y: Any = None,
    *,
    spec: SweepSpec | None = None,
    model: ModelSpec | Mapping[str, Any] | None = None,
    seeds: int | Sequence[int] | Sequence[Mapping[str, int]] = 8,
    grid: Mapping[str, Sequence[Any] | Distribution] | None = None,
    trials: int | None = None,
    search_seed: int = 0,
    optimizer: str | Mapping[str, Any] = "adam",
    learning_rate: float | None = None,
    schedule: str | Mapping[str, Any] | None = None,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    clipvalue: float | None = None,
    loss: str | None = None,
    metrics: Sequence[str] | str | None = None,
    batch_size: int = 32,
    epochs: int = 10,
    validation_split: float = 0.0,
    validation_data: Any = None,
    split: SplitMode = "last",
    split_seed: int = 0,
    shuffle: bool = True,
    class_weight: Mapping[int, float] | str | None = None,
    sample_weight: Any = None,
    standardize: str | None = None,
    standardize_target: bool = False,
    oversample: bool = False,
    augment: Sequence[Any] | None = None,
    callbacks: Sequence[Any] | None = None,
    fixed_streams: Mapping[str, int] | None = None,
    initial_params: Any = None,
    members_per_chunk: int | None = None,
    precision: str = "float32",
    recurrent_impl: str = "auto",
    scheduler: Any = None,
    controllers: Sequence[Controller] = (),
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: str | Path | None = None,
    verbose: int | str = "auto",
    init: str | None = None,
    stream: bool | None = None,
    devices: int | Sequence[int] | None = None,
    layout: str | None = None,
) -> SweepResult:
    """Train seeds x grid members of one LSTM model, batched; Keras `fit` semantics.

    Members are `[(config, seed) for config in product(grid) for seed in seeds]`,
    so member `i` has seed `seeds[i % len(seeds)]`. `fixed_streams` holds RNG
    streams ("init", "order", "dropout", "augment") at a given seed for every member. `seeds`
    may instead be a stream design, one table of stream seeds per member
    (`[{"init": 3, "order": 0, "dropout": 0}, ...]`): each member then draws its
    initial weights, data order and dropout masks from its own three seeds, and its
    `seed` in the member table is its position in the design.
    Random search: a `grid` value may be a distribution (`fl.loguniform(1e-4, 1e-1)`,
    `fl.uniform`, `fl.randint` (high end excluded), `fl.choice`); `trials=N` then draws N
    configurations from the search stream `search_seed` (same seed, same configurations),
    a list beside a distribution being a choice among its values; members are
    configurations x seeds, grouped by structure (units, batch size...) as a grid's are.
    `initial_params` (a params tree of `LSTMModel`, no member axis) starts every
    member from the same weights, e.g. a Keras model's, instead of drawing them.
    `members_per_chunk` trains at most that many members at once (default: as many
    as fit in half the free memory, from an activation-memory estimate); chunks
    give the same numbers as one batch, only later. `precision="bfloat16"` runs the
    LSTM matmuls in bfloat16 with float32 accumulation, parameters and optimizer state
    (faster on CPUs with AMX/AVX512-BF16 and on GPU tensor cores; not Keras's numbers).
    `recurrent_impl` picks the LSTM layer: "scan" (the batched hand-written layer),
    "cudnn" (cuDNN through `jax.experimental.rnn`, one member per chunk, CUDA GPU, no
    masks, recurrent dropout or bfloat16; else a ValueError before anything compiles) or
    "auto" (default: cuDNN for one-member chunks where it can run, the scan otherwise,
    and the scan again with a warning if the cuDNN program fails to build).
    `result.meta["recurrent_impl"]` lists what each group ran.

    `split` chooses the rows `validation_split` holds out: "last" (Keras's, the default),
    "shuffled", or "stratified" (each class's share kept in both parts; class labels only),
    drawn once from `split_seed` so every member sees the same rows (fastlstm/data/_splits.py).
    `standardize="feature" | "global" | "min_max"` scales the inputs with statistics
    fitted on the training rows only (after `validation_split`, over real steps); the
    numbers are kept in `result.preprocessing` and `predict`/`evaluate` apply them.
    `standardize_target=True` trains a regression target scaled by the training rows'
    mean and standard deviation (a forecast of passenger counts in the hundreds cannot be
    learnt in its own units); `predict` scales back, `result.target_scaling` keeps them.
    `class_weight="balanced"` weighs each class n_samples / (n_classes * count) over
    the training rows, as scikit-learn's `compute_class_weight("balanced")`.
    `oversample=True` draws each epoch's n rows with replacement, class-balanced (a row's
    chance is 1 / the count of its class), from the member's data-order stream; both may
    be grid keys (`grid={"oversample": [False, True]}`). `augment=[fl.Jitter(0.03), ...]`
    augments every training batch inside the compiled program from the member's fourth
    RNG stream, "augment" (never validation, predict or evaluate); their strengths are
    per-member numbers `augment.<i>.sigma` (`.ratio` for WindowSlice) a grid may vary.

    `spec=` runs a `fl.SweepSpec` instead; keyword arguments given beside it (other
    than their defaults) override its keys. `controllers` are host-side hooks called
    after every epoch (fastlstm/runtime/_controllers.py). `checkpoint="DIR"` saves the sweep's
    full state there every `checkpoint_every` epochs (and per finished chunk);
    `resume="DIR"` continues such a sweep (same spec, same data) and ends bit-identical
    to a run that was never interrupted.

    `scheduler=fl.SuccessiveHalving(eta=3, metric="val_loss")` (or `fl.Hyperband(...)`)
    ranks the configurations by their mean over seeds at rung epochs and stops every seed
    of the worse ones; the survivors are regathered into smaller chunks, so pruned
    members cost nothing after their rung. `result.budget` says what was spent.

    `x` may also be read from disk while training (README, "Data bigger than memory"):
    a memory-mapped array (`np.load(path, mmap_mode="r", allow_pickle=False)`), a directory of `.npy`
    shards, a Keras `PyDataset` or a generator factory. `stream=None` streams those
    (a memory-mapped array from 1 GiB on), `True` streams any array, `False` never.
    Streamed, each block of batches is read once per epoch for all the members of a
    chunk, which share the data order.

    `model` may be a `keras.Model` (see `fl.from_keras`): its architecture is used, every
    member starting from a fresh init of its seed, or from the model's own weights with
    `init="keras_weights"`.

    `layout="channels_first"` reads `x` (and validation x) as aeon/sktime hold series,
    (samples, channels, length); with no layout a shape that is likely that one (one step of
    many features, or far more features than steps) is refused with the fix, and
    "steps_first" takes the shape as it is. Zero padding nothing marks (no lengths, list or
    `mask_value`) is trained on as data and raises a `fl.ZeroPaddingWarning`.

    `devices` shards the members over a subset of the local devices: a count (the first
    N) or a list of device ids (positions in `jax.local_devices()`); default all. After
    `fl.distributed.initialize(...)` the members are sharded over every process's
    devices, every process gets the whole result, and only process 0 writes checkpoints.
    """
    x, y, validation_data = _tables_read(x, y, validation_data)
    model, keras_params = _keras_model(model, init)
    if keras_params is not None:
        if initial_params is not None:
            raise ValueError("init='keras_weights' and initial_params both set the starting weights; give one")
        initial_params = keras_params
    spec = with_keywords(spec, {k: v for k, v in locals().items() if k in SPEC_DEFAULTS})
    if initial_params is None and resume is None:  # the same judgement whichever way the model came
        check_fresh_init(spec.model)
    ds = load_data(spec, x, y, validation_data, sample_weight, stream, layout)
    return train(
        spec,
        ds,
        initial_params=initial_params,
        controllers=controllers,
        verbose=verbose,
        checkpoint=resume if resume is not None else checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume is not None,
        devices=devices,
    )


def _tables_read(x: Any, y: Any, validation_data: Any) -> tuple[Any, Any, Any]:
    """`fl.sweep(df)` or `fl.sweep(df, "label")`: a pandas DataFrame in long or wide layout is
    read as its CSV would be (`fl.read_data(df)`: roles from the usual column names, steps in
    order, labels coded), `y` naming the label column when it is not a usual name."""

    if not is_dataframe(x):
        return x, y, validation_data
    if y is not None and not isinstance(y, str):
        raise ValueError("y: with a DataFrame x, y is the label column's name (or None to find it by name)")
    data = read_data(x, label_columns=y)
    if validation_data is not None and is_dataframe(validation_data):
        validation_data = read_data(validation_data, label_columns=y).fit_arguments()
        validation_data = (validation_data["x"], validation_data["y"])
    fit = data.fit_arguments()
    return fit["x"], fit["y"], validation_data


def _keras_model(model: Any, init: str | None) -> tuple[Any, Any]:
    """`model=keras_model`: (its ModelSpec, its weights when init="keras_weights", else None).

    By default every member draws a fresh init from its seed (Keras's initialisers), as
    `fit` on a freshly built model would; "keras_weights" starts every member from the
    model's current weights.
    """
    if init not in (None, "seed", "keras_weights"):
        raise ValueError(f"init must be None (a fresh init per seed) or 'keras_weights', got {init!r}")

    if not is_keras_model(model):
        if init == "keras_weights":
            raise ValueError("init='keras_weights' needs model=<a keras.Model>")
        return model, None

    converted = from_keras(model)
    _warn_compile_not_read(model)
    return converted.spec, (converted.params if init == "keras_weights" else None)


def _warn_compile_not_read(model: Any) -> None:
    """A compiled Keras model's optimizer, loss and metrics are not what the sweep trains
    with (those are `fl.sweep`'s own arguments): say so rather than leave it silent."""

    settings = compile_settings(model)
    if settings is not None:
        warnings.warn(
            f"model=keras_model: fastlstm takes the model's layers (and weights), not its compile() settings "
            f"({settings}); the sweep trains with its own optimizer=, learning_rate= and loss= arguments",
            UserWarning,
            stacklevel=3,
        )
