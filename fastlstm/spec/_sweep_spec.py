"""One experiment as data: `SweepSpec`, the frozen, validated description of a sweep.

Everything that defines a sweep - model, `fit` settings, optimizer and schedule,
callbacks, grid, seeds, RNG streams, precision, chunking and (for the CLI) the data
source - lives in one pydantic model, so it can be checked before anything compiles,
written into a run folder as `config.toml`, read back, overridden key by key
(`--set grid.learning_rate=[1e-3,3e-3]`) and rerun. `fl.sweep(x, y, **kwargs)` builds
one from its keyword arguments; `fl.run(spec)` runs one whose data is a file.

Shapes and closed sets are pydantic's job (strict types, `Literal`, unknown keys are
errors); what needs knowledge of optimizers, schedules and grids is checked by
building the member plan (`fastlstm.spec._plan.make_plan`), which needs no data. Every
problem becomes one line of a `SpecError` that names the key (and, for a TOML file,
its line).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fastlstm._common.coerce import to_python
from fastlstm._common.suggest import did_you_mean
from fastlstm.data._preprocessing import check_standardize
from fastlstm.data._splits import SplitMode
from fastlstm.engine._augment import WARPS, Augmentation, augmentation_to_config, check_augment
from fastlstm.engine._callbacks import Callback, callback_from_config, callback_to_config
from fastlstm.engine._model import ModelSpec
from fastlstm.engine._optimizers import CLIP_KEYS
from fastlstm.spec._options import AS_GIVEN, PLAN_CHECKED, Bounds, Option, declared, default_of
from fastlstm.spec._plan import Plan, make_plan
from fastlstm.spec._schedulers import Hyperband, SuccessiveHalving, scheduler_from_config
from fastlstm.spec._space import Choice, Distribution, distribution_from_table, is_distribution

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Precision = Literal["float32", "bfloat16"]
RecurrentImpl = Literal["auto", "scan", "cudnn"]
Standardize = Literal["feature", "global", "min_max"]
DataFormat = Literal["npz", "npy", "csv", "parquet", "ts", "arff", "series"]
# keys that are a name or a table with a "name" ("adam" or {name = "adam", beta_1 = 0.8})
NAMED_TABLES = ("optimizer", "schedule")
HPARAM_KEYS = ("learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue")
# One value of a grid key: a number, a name, a flag, None, or a class_weight table.
GridValue = float | int | str | bool | dict[int, float] | None
# An optimizer's or a schedule's table: {name = "adam", beta_1 = 0.8}
Table = dict[str, float | int | str | bool | None]


class SpecError(ValueError):
    """A sweep description that cannot run: one line per problem, each naming its key."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _plain(value: Any) -> Any:
    """NumPy values to Python ones (once, all the way down), then sequences to lists, so
    strict types accept them."""
    return _lists(to_python(value))


def _lists(value: Any) -> Any:
    if isinstance(value, (list, range)) or (isinstance(value, tuple) and not hasattr(value, "_fields")):
        return [_lists(v) for v in value]
    if isinstance(value, Mapping) and not isinstance(value, BaseModel):
        return {k: _lists(v) for k, v in value.items()}
    return value


def _model_from(value: Any) -> ModelSpec:
    try:
        return ModelSpec.coerce(value)
    except TypeError as err:  # pydantic reports ValueErrors only
        raise ValueError(str(err)) from None


def _callbacks_from(value: Any) -> list[Callback]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"expected a list of callbacks, got {type(value).__name__}")
    return [callback_from_config(cb) for cb in value]


def _class_weight_from(value: Any) -> Any:
    """TOML keys are strings: {"0": 1.0} means class 0. Anything but a table or "balanced"
    is one clear problem here rather than one per member of the type union."""
    if isinstance(value, Mapping):
        return {int(k) if isinstance(k, str) and k.strip().lstrip("-").isdigit() else k: v for k, v in value.items()}
    if value is not None and value != "balanced":
        raise ValueError(f"class_weight must be a table {{class = weight}} or 'balanced', got {value!r}")
    return value


def _metrics_from(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _scheduler_from(value: Any) -> Any:
    try:
        return scheduler_from_config(value)
    except TypeError as err:  # pydantic reports ValueErrors only
        raise ValueError(str(err)) from None


SchedulerField = Annotated[
    SuccessiveHalving | Hyperband | None,
    BeforeValidator(_scheduler_from),
    PlainSerializer(lambda s: None if s is None else s.get_config(), return_type=Any),
]
ModelField = Annotated[
    ModelSpec, BeforeValidator(_model_from), PlainSerializer(lambda m: m.to_dict(), return_type=dict)
]
AugmentField = Annotated[
    list[Augmentation],
    BeforeValidator(lambda value: list(check_augment(value))),
    PlainSerializer(lambda augs: [augmentation_to_config(a) for a in augs], return_type=list),
]
CallbacksField = Annotated[
    list[Callback],
    BeforeValidator(_callbacks_from),
    PlainSerializer(lambda cbs: [callback_to_config(cb) for cb in cbs], return_type=list),
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        return _plain(data)


def _column_names(value: Any) -> Any:
    """One column name or several: `--set data.label_columns=target` names one."""
    return [value] if isinstance(value, str) else value


ColumnNames = Annotated[list[str] | None, BeforeValidator(_column_names)]


class DataSpec(_Strict):
    """Where the CLI reads the data: a file (see fastlstm/data/_readers.py) or the built-in task.

    `path=None` is the built-in early-cue task of `samples` sequences of `timesteps` steps.
    A relative `path` in a config file is relative to that file. `format` overrides the
    suffix; "series" says the file is one series (CSV or Parquet, by its suffix) to cut
    into `window` -> `horizon` forecasting samples, which `window` alone says as well
    (`horizon` defaults to 1 then). `id_column`, `time_column`, `label_columns`,
    `features` and `drop_columns` name the columns' roles; None finds them by name.
    """

    path: Annotated[
        str | None,
        Option(
            "data file: .npz, .npy (with labels), .csv/.tsv (long or wide), .parquet, .ts or .arff; "
            "none: the built-in early-cue task",
            flag="--data",
        ),
    ] = None
    labels: Annotated[str | None, Option("with a .npy data file: the labels' .npy file", flag=True)] = None
    validation_path: Annotated[
        str | None,
        Option(
            "a second data file as the validation set (e.g. a UCR/UEA problem's _TEST.ts); overrides the split",
            flag="--validation-data",
            metavar="FILE",
        ),
    ] = None
    validation_labels: Annotated[
        str | None,
        Option("with a .npy validation file: the validation labels' .npy", flag=True, metavar="FILE"),
    ] = None
    layout: Annotated[
        Literal["steps_first", "channels_first"] | None,
        Option(
            "axis order of an .npz/.npy x: channels_first is aeon/sktime's (samples, channels, length); "
            "steps_first takes a shape as it is (none: refuse one that looks channels first)",
            flag=True,
        ),
    ] = None
    format: Annotated[
        DataFormat | None,
        Option('the file\'s format, overriding its suffix; "series": one series cut into windows', flag=True),
    ] = None
    window: Annotated[
        int | None, Field(ge=1), Option("forecasting: steps per input window (a single-series CSV)", flag=True)
    ] = None
    horizon: Annotated[
        int | None, Field(ge=1), Option("forecasting: values to predict after each window (with window: 1)", flag=True)
    ] = None
    target: Annotated[str | None, Option("forecasting: the column to predict", flag=True)] = None
    # Which column is what (None: found by the usual names, fastlstm/data/_roles.py).
    id_column: Annotated[
        str | None, Option("table: the column naming each sequence (id, series_id ...)", flag=True, metavar="COL")
    ] = None
    time_column: Annotated[
        str | None, Option("table: the column ordering the steps (step, time, date ...)", flag=True, metavar="COL")
    ] = None
    label_columns: Annotated[
        ColumnNames,
        Option("table: the label column(s) (label, target, class ...)", flag="--label-column", metavar="COL"),
    ] = None
    features: Annotated[ColumnNames, Option("table: only these columns are features", flag=True, metavar="COL")] = None
    drop_columns: Annotated[ColumnNames, Option("table: columns to ignore", flag=True, metavar="COL")] = None
    samples: Annotated[int, Field(ge=1), Option("built-in task: number of sequences", flag=True)] = 2048
    timesteps: Annotated[int, Field(ge=1), Option("built-in task: sequence length", flag=True)] = 24

    @model_validator(mode="after")
    def _window_and_horizon_together(self) -> DataSpec:
        if self.horizon is not None and self.window is None:  # window alone: horizon 1
            raise ValueError("data.horizon (--horizon) needs data.window (--window): the steps each forecast sees")
        if self.format == "series" and self.window is None:
            raise ValueError("data.format 'series' is one series cut into forecasting windows: give data.window")
        return self

    @model_validator(mode="after")
    def _validation_labels_with_a_file(self) -> DataSpec:
        if self.validation_labels is not None and self.validation_path is None:
            raise ValueError(
                "data.validation_labels (--validation-labels) are the labels of a .npy validation file: "
                "give it as data.validation_path (--validation-data) too"
            )
        return self


class SweepSpec(_Strict):
    """Everything that defines a sweep; `fl.sweep`'s keyword arguments, as data.

    Members are configurations (the product of `grid`) x `seeds`. With distributions in
    `grid` (`fl.loguniform(1e-4, 0.1)`; in TOML `{loguniform = [1e-4, 0.1]}`) the
    configurations are `trials` draws from the search space, the same ones for the same
    `search_seed` (default 0); a list beside a distribution is a choice among its values.
    Options that need a NumPy array per sample (`sample_weight`, `validation_data`,
    `initial_params`) are not part of the spec: they come with the data.
    """

    name: Annotated[str, Option("the run's name: the CLI writes its run folder as runs/NAME-TIME", keyword=False)] = (
        "sweep"
    )
    data: Annotated[
        DataSpec | None,
        Option("where the command line reads the data: a [data] table (the data.* keys below)", keyword=False),
    ] = None
    model: Annotated[
        ModelField,
        Option("the model: a table of ModelSpec keys (units, layers, dropout ...) or a list of layers; a keras.Model"),
    ] = Field(default_factory=ModelSpec)
    seeds: Annotated[
        int | list[int] | list[dict[str, int]],
        PLAN_CHECKED,
        AS_GIVEN,
        Option(
            "number of seeds, the seeds themselves, or one table of stream seeds per member",
            flag=True,
            bounds=Bounds(1, says="a positive int", integer=True, plan=True),
        ),
    ] = 8
    grid: Annotated[
        dict[str, list[GridValue] | Distribution],
        PLAN_CHECKED,
        AS_GIVEN,
        Option("key -> values (or a distribution): members are every combination x seeds"),
    ] = Field(default_factory=dict)
    trials: Annotated[
        int | None,
        PLAN_CHECKED,
        AS_GIVEN,
        Option(
            "random search: draw this many configurations from the grid's distributions",
            flag=True,
            metavar="N",
            bounds=Bounds(1, says="a positive int", integer=True, optional=True, plan=True),
        ),
    ] = None
    search_seed: Annotated[
        int,
        PLAN_CHECKED,
        AS_GIVEN,
        Option(
            "random search: the seed of the draws (same seed, same configurations)",
            flag=True,
            metavar="S",
            bounds=Bounds(0, says="a non-negative int", integer=True, plan=True),
        ),
    ] = 0
    optimizer: Annotated[
        str | Table,
        PLAN_CHECKED,
        AS_GIVEN,
        Option(
            "the optimizer: adam, adamw, sgd or rmsprop (a table adds its settings: optimizer.momentum=0.9)", flag=True
        ),
    ] = "adam"
    learning_rate: Annotated[
        float | None, Option("the optimizer's learning rate (none: the optimizer's own, Adam's 1e-3)", flag=True)
    ] = None
    schedule: Annotated[
        str | Table | None, PLAN_CHECKED, AS_GIVEN, Option("a learning-rate schedule: a name or a table with a name")
    ] = None
    weight_decay: Annotated[float | None, Option("decoupled weight decay (AdamW's)")] = None
    clipnorm: Annotated[float | None, Option("clip each gradient to this norm")] = None
    global_clipnorm: Annotated[float | None, Option("clip all gradients together to this norm")] = None
    clipvalue: Annotated[float | None, Option("clip each gradient value to [-clipvalue, clipvalue]")] = None
    loss: Annotated[str | None, Option("the loss (none: inferred from the targets)")] = None
    metrics: Annotated[
        list[str] | None,
        BeforeValidator(_metrics_from),
        Option("metric names to log (none: accuracy, or mae for regression)"),
    ] = None
    batch_size: Annotated[
        int,
        PLAN_CHECKED,
        AS_GIVEN,
        Option("batch size, as Keras", flag=True, bounds=Bounds(1, says="a positive int", integer=True, plan=True)),
    ] = 32
    epochs: Annotated[
        int,
        PLAN_CHECKED,
        AS_GIVEN,
        Option("epochs", flag=True, bounds=Bounds(1, says="a positive int", integer=True, plan=True)),
    ] = 10
    validation_split: Annotated[
        float,
        Option(
            "fraction of the rows held out for validation; split says which",
            flag=True,
            bounds=Bounds(0.0, 1.0, says="a float in [0, 1)"),
        ),
    ] = 0.0
    split: Annotated[  # fastlstm/data/_splits.py
        SplitMode,
        Option(
            "which rows validation_split holds out: the last (as Keras), a shuffled draw, or one stratified "
            "by class (the same rows for every member, drawn from split_seed)",
            flag=True,
            omit_at_default=True,
        ),
    ] = "last"
    split_seed: Annotated[
        int,
        Option(
            'the one seed of a "shuffled" or "stratified" split, the same for every member',
            bounds=Bounds(0, says="an int >= 0", integer=True),
        ),
    ] = 0
    shuffle: Annotated[bool, Option("shuffle the training rows every epoch (the member's data-order stream)")] = True
    class_weight: Annotated[
        dict[int, float] | Literal["balanced"] | None,
        BeforeValidator(_class_weight_from),
        Option(
            '{class: weight}, or "balanced": n_samples / (n_classes * count) over the training rows',
            setting_or_grid=True,
        ),
    ] = None
    standardize: Annotated[
        Standardize | None,
        BeforeValidator(check_standardize),
        Option("scale the inputs with statistics of the training rows only", flag=True),
    ] = None
    standardize_target: Annotated[
        bool,
        Option(
            "regression/forecasting: train on the target scaled by the training rows' mean and std "
            "(predictions and errors are reported in its own units)",
            flag=True,
        ),
    ] = False
    oversample: Annotated[
        bool,
        Option(
            "draw each epoch's rows class-balanced, with replacement, instead of a permutation",
            omit_at_default=True,
            setting_or_grid=True,
        ),
    ] = False
    augment: Annotated[
        AugmentField,
        Option("augmentations of every training batch (fl.Jitter, fl.Scaling ...)", omit_at_default=True),
    ] = Field(default_factory=list)
    callbacks: Annotated[
        CallbacksField, Option("EarlyStopping, ReduceLROnPlateau ...: one [[callbacks]] table each")
    ] = Field(default_factory=list)
    fixed_streams: Annotated[
        dict[str, int],
        PLAN_CHECKED,
        AS_GIVEN,
        Option('RNG streams held at one seed for every member ("init", "order", "dropout", "augment")'),
    ] = Field(default_factory=dict)
    members_per_chunk: Annotated[
        int | None,
        PLAN_CHECKED,
        AS_GIVEN,
        Option(
            "train at most this many members at once (none: as many as fit in half the free memory)",
            flag=True,
            bounds=Bounds(1, says="a positive integer or None", integer=True, optional=True),
        ),
    ] = None
    precision: Annotated[
        Precision, Option("matmul precision; bfloat16 keeps float32 accumulation and parameters", flag=True)
    ] = "float32"
    recurrent_impl: Annotated[  # fastlstm/engine/_cudnn.py
        RecurrentImpl,
        Option(
            "the LSTM layer: cuDNN for one-member chunks on a CUDA GPU where it can run (auto), "
            "the batched scan, or cuDNN (an error where it cannot run)",
            flag=True,
            omit_at_default=True,
        ),
    ] = "auto"
    scheduler: Annotated[  # fastlstm/spec/_schedulers.py
        SchedulerField, Option("successive halving or Hyperband: stop the losing configurations early")
    ] = None

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise ValueError("expected letters, digits, '.', '_' or '-' (a folder name), at most 64 characters")
        return name

    @field_validator("grid")
    @classmethod
    def _inf_clip_is_none(cls, grid: Any) -> Any:
        """A config file writes "no clipping" as inf and "no class weights" as "none" (TOML
        has no None); in Python both are None. A distribution is a one-key table there
        (`{loguniform = [1e-4, 0.1]}`), a `fl.loguniform(...)` object here."""
        if isinstance(grid, dict):
            return {k: _grid_value(k, vs) for k, vs in grid.items()}
        return grid

    @field_validator("*")
    @classmethod
    def _within_declared_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        """A setting against its declared bounds (those make_plan does not check itself)."""
        key = info.field_name or ""
        bounds = _declared_here(cls).get(key)
        if bounds is not None:
            bounds.check(key, value)
        return value

    @model_validator(mode="after")
    def _setting_or_grid_key(self) -> SweepSpec:
        grid = self.grid if isinstance(self.grid, dict) else {}
        for key, (info, option) in declared(type(self)).items():
            if option.setting_or_grid and key in grid and getattr(self, key) != info.default:
                raise ValueError(f"{key}: give it as a setting or as a grid key (grid.{key}), not both")
        return self

    @model_validator(mode="after")
    def _augment_fits_the_model(self) -> SweepSpec:
        if self.augment and self.model.embedding is not None:
            raise ValueError(
                "augment: the input is integer token ids (an Embedding layer); noise and warps apply to real-valued series"
            )
        warps = [type(a).__name__ for a in self.augment if type(a).__name__ in WARPS]
        if warps and self.model.sequence_output:
            raise ValueError(
                f"augment: {warps[0]} moves steps in time, but the model has one target per timestep "
                "(they would no longer line up); use Jitter, Scaling or MagnitudeWarp"
            )
        return self

    @model_validator(mode="after")
    def _plan_is_valid(self) -> SweepSpec:
        check_sizes(self)  # before the plan lists the members: a trillion seeds is a MemoryError
        self.plan()  # optimizers, schedules, grid keys and values, seeds, streams
        return self

    @model_validator(mode="after")
    def _scheduler_fits_the_plan(self) -> SweepSpec:
        """A scheduler ranks two or more configurations that train the same epochs, at rungs before the end."""
        if self.scheduler is None:
            return self
        plan = self.plan()
        epochs = {g.structure["epochs"] for g in plan.groups}
        if len(epochs) > 1:
            raise ValueError("scheduler: every configuration must train the same epochs; epochs cannot be a grid key")
        if len(plan.configs) < 2:
            raise ValueError(
                "scheduler: successive halving ranks configurations against each other and the grid gives one; "
                "add a grid key with two or more values, or drop the scheduler"
            )
        try:
            self.scheduler.brackets(len(plan.configs), epochs.pop())
        except ValueError as err:
            raise ValueError(f"scheduler: {err}") from None
        return self

    def plan(self) -> Plan:
        """The members this spec trains (configurations x seeds), their groups and streams."""
        units, layers = self.model.plan_shape()
        return make_plan(
            seeds=self.seeds,
            grid=self.grid,
            units=units,
            layers=layers,
            batch_size=self.batch_size,
            epochs=self.epochs,
            optimizer=self.optimizer,
            schedule=self.schedule,
            hparams={**{k: getattr(self, k) for k in HPARAM_KEYS}, "dropout": self.model.dropout or None},
            fixed_streams=self.fixed_streams,
            layer_hparams=self.model.hparam_defaults(),
            trials=self.trials,
            search_seed=self.search_seed,
            augment=self.augment,
            oversample=self.oversample,
        )

    # --- construction and serialisation -------------------------------------------------

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str | None = None) -> SweepSpec:
        """Validate a plain dict (as `to_dict` gives); raise one `SpecError` listing every problem.

        `source` is the TOML text the dict came from: problems then name its lines.
        """
        if not isinstance(values, Mapping):
            raise SpecError([f"a sweep spec must be a table of keys, got {type(values).__name__}"])
        try:
            return cls.model_validate(dict(values))
        except ValidationError as err:
            raise SpecError(_problems(err, source)) from None
        except RecursionError:  # a value nested hundreds of lists or tables deep
            raise SpecError([TOO_DEEP]) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (TOML- and JSON-ready); keys that are None are left out."""
        values = self.model_dump(mode="python")
        values["grid"] = {k: _grid_value_in_toml(k, vs) for k, vs in self.grid.items()}
        if self.trials is None and self.search_seed == 0:  # no random search: nothing to say
            values.pop("search_seed")
        if self.split == "last":  # Keras's split, the default: no seed to record
            values.pop("split_seed", None)
        for key, (info, option) in declared(type(self)).items():  # keys added after specs were
            if option.omit_at_default and getattr(self, key) == default_of(info):  # first written
                values.pop(key, None)
        if isinstance(values.get("class_weight"), dict):  # TOML keys are strings
            values["class_weight"] = {str(k): v for k, v in values["class_weight"].items()}
        return _without_none(values)

    @classmethod
    def from_toml(cls, text: str) -> SweepSpec:
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise SpecError([f"not valid TOML: {err}"]) from None
        except RecursionError:  # tomllib parses nested arrays and tables recursively
            raise SpecError([f"not valid TOML: {TOO_DEEP}"]) from None
        return cls.from_dict(values, source=text)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        """Read a config file; a relative data path becomes relative to the file's folder."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise SpecError([f"{path}: cannot read the config file ({err.strerror or err})"]) from None
        try:
            spec = cls.from_toml(text)
        except SpecError as err:
            raise SpecError([f"{path}: {p}" for p in err.problems]) from None
        return spec.with_data_relative_to(path.parent)

    def with_data_relative_to(self, folder: Path) -> SweepSpec:
        data = self.data
        if data is None:
            return self
        changes = {}
        for key in ("path", "labels", "validation_path", "validation_labels"):
            value = getattr(data, key)
            if value is not None and not Path(value).expanduser().is_absolute():
                changes[key] = str((folder / value).resolve())
        return self.replace(data=data.model_copy(update=changes)) if changes else self

    def replace(self, **changes: Any) -> SweepSpec:
        """A copy with some keys changed, validated again."""
        return type(self).from_dict({**self.to_dict(), **_plain(_to_config(changes))})

    def with_overrides(
        self, assignments: Sequence[str], *, name: str = "--set", before: Sequence[str] = ()
    ) -> SweepSpec:
        """Apply `key=value` strings (`model.units=64`, `grid.learning_rate=[1e-3,3e-3]`).

        The value is read as a TOML value (numbers, strings, lists, booleans); a bare
        word that is not valid TOML is taken as a string (`name=lr-study`). A problem
        with an assignment names it after `name`, the command-line flag that gave it
        ("--set 'colour=1': unknown key ..."). `before` are assignments made first by
        other flags (`--epochs 3` is `epochs=3`): checked together, never named so.
        """
        values = self.to_dict()
        for label, given in ((None, before), (f"{name} ", assignments)):
            for text in given:
                _apply_assignment(values, text, label or "")
        try:
            return type(self).from_dict(values)
        except SpecError as err:
            raise SpecError([_with_assignment(p, assignments, f"{name} ") for p in err.problems]) from None


# Sizes beyond these are mistakes that would otherwise fail deep inside JAX or NumPy, or
# abort the process, after minutes of work: a seed JAX cannot hold (int64), a trillion
# members listed one by one, a history of 2**40 epochs, a weight matrix whose shape product
# overflows XLA's int64, a number that is inf once it is a float32 on the device.
MAX_SEED = 2**63 - 1
MAX_MEMBERS = 2**17  # the plan holds one Python object per member: 2**17 take seconds to list
MAX_EPOCHS = 10**6
MAX_BATCH_SIZE = 2**24
MAX_UNITS = 2**14  # one LSTM layer's width: 4 * units**2 weights per member
MAX_VOCABULARY = 2**24  # Embedding.input_dim
MAX_STACKED_LAYERS = 64
MAX_BUILTIN_SAMPLES = 2**24
MAX_BUILTIN_TIMESTEPS = 2**16
FLOAT32_MAX = 3.4028234663852886e38
TOO_DEEP = "values nested too deeply (hundreds of lists or tables inside each other)"


def check_sizes(spec: SweepSpec) -> None:
    """Refuse sizes no sweep can run (see MAX_*), naming the key; values of the wrong type
    are left to the plan's checks, which word them better."""
    _float32_ready("", spec.model_dump(mode="python", exclude={"callbacks", "model", "data"}))
    _at_most("epochs", spec.epochs, MAX_EPOCHS)
    _at_most("batch_size", spec.batch_size, MAX_BATCH_SIZE)
    for key, limit in (("epochs", MAX_EPOCHS), ("batch_size", MAX_BATCH_SIZE), ("units", MAX_UNITS)):
        for value in _grid_values(spec.grid, key):
            _at_most(f"grid['{key}']", value, limit)
    for stream, seed in spec.fixed_streams.items() if isinstance(spec.fixed_streams, dict) else ():
        _at_most(f"fixed_streams[{stream!r}]", seed, MAX_SEED)
    _check_model_sizes(spec.model)
    if spec.data is not None:
        _at_most("data.samples", spec.data.samples, MAX_BUILTIN_SAMPLES)
        _at_most("data.timesteps", spec.data.timesteps, MAX_BUILTIN_TIMESTEPS)
    _at_most("the number of members (configurations x seeds)", _member_count(spec), MAX_MEMBERS)


def _check_model_sizes(model: ModelSpec) -> None:
    if model.layer_list is None:
        _at_most("model.units", model.units, MAX_UNITS)
        _at_most("model.layers", model.layers, MAX_STACKED_LAYERS)
        return
    for i, layer in enumerate(model.layer_list):
        layer = getattr(layer, "layer", layer)  # Bidirectional(LSTM)
        for attribute, limit in (("units", MAX_UNITS), ("output_dim", MAX_UNITS), ("input_dim", MAX_VOCABULARY)):
            _at_most(f"model.layers[{i}].{attribute}", getattr(layer, attribute, None), limit)


def _member_count(spec: SweepSpec) -> int | None:
    """Configurations x seeds as far as the values tell (None when they are not countable yet)."""
    seeds = spec.seeds
    if isinstance(seeds, list):
        for i, seed in enumerate(seeds):
            for stream, value in seed.items() if isinstance(seed, dict) else ((None, seed),):
                _at_most(f"seeds[{i}]" + (f"[{stream!r}]" if stream else ""), value, MAX_SEED)
        count = len(seeds)
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        count = seeds
    else:
        return None
    for values in spec.grid.values() if isinstance(spec.grid, dict) else ():
        count *= len(values) if isinstance(values, list) else 1
    return count


def _grid_values(grid: Any, key: str) -> list[Any]:
    values = grid.get(key) if isinstance(grid, dict) else None
    return values if isinstance(values, list) else []


def _at_most(name: str, value: Any, limit: int) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > limit:
        raise ValueError(f"{name} must be at most {limit}, got {value}")


def _float32_ready(where: str, value: Any) -> None:
    """Every float in the spec trains as a float32: a finite one beyond its range would be inf."""
    if isinstance(value, float) and math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"{where}: {value!r} is beyond float32's range (|value| <= 3.4e38)")
    if isinstance(value, dict):
        for key, item in value.items():
            _float32_ready(f"{where}.{key}" if where else str(key), item)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _float32_ready(f"{where}[{i}]", item)


def _none_in_toml(key: str, value: Any) -> Any:
    """A grid value as Python has it: TOML's stand-ins for None read back as None."""
    if (key in CLIP_KEYS and value == math.inf) or (key == "class_weight" and value == "none"):
        return None
    return value


def _toml_none(key: str) -> Any:
    """What a config file writes for a grid value None ("no class weights", "no clipping")."""
    return "none" if key == "class_weight" else math.inf


def _grid_value(key: str, values: Any) -> Any:
    """A grid value as Python has it: a list (TOML's None stand-ins read back), or a
    distribution (a config file's one-key table, `{loguniform = [1e-4, 0.1]}`, made one)."""
    if isinstance(values, list):
        return [_none_in_toml(key, v) for v in values]
    if isinstance(values, dict):
        try:
            values = distribution_from_table(values)
        except ValueError as err:
            raise ValueError(f"grid[{key!r}]: {err}") from None
    if isinstance(values, Choice):
        return Choice([_none_in_toml(key, v) for v in values.values])
    return values


def _grid_value_in_toml(key: str, values: Any) -> Any:
    """A grid value as a config file writes it: a list, or a distribution's one-key table."""
    if is_distribution(values):
        table = values.to_table()
        return {name: [_toml_none(key) if v is None else v for v in args] for name, args in table.items()}
    return [_toml_none(key) if v is None else v for v in values]


def _apply_assignment(values: dict[str, Any], text: str, said: str) -> None:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
        raise SpecError([f"{said}{text!r}: expected key=value, e.g. model.units=64"])
    where = f"{said}{text!r}"
    _assign(values, key.split("."), _toml_value(raw.strip(), where), where)


def _with_assignment(problem: str, assignments: Sequence[str], said: str) -> str:
    """Prefix a problem with the assignment whose key it is about ("--set 'colour=1': ...")."""
    for text in reversed(assignments):  # the last assignment of a key is the one in force
        key = text.partition("=")[0].strip()
        head = key.split(".")[0]
        if any(problem.startswith(k) and problem[len(k) : len(k) + 1] in (":", " ", "[", ".") for k in (key, head)):
            return f"{said}{text!r}: {problem}"
    return problem


def _to_config(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Objects (ModelSpec, DataSpec, callbacks) to the plain values `from_dict` reads."""
    out = dict(changes)
    if isinstance(out.get("model"), ModelSpec):
        out["model"] = out["model"].to_dict()
    if isinstance(out.get("data"), BaseModel):
        out["data"] = out["data"].model_dump(mode="json")
    if out.get("scheduler") is not None and hasattr(out["scheduler"], "get_config"):
        out["scheduler"] = out["scheduler"].get_config()
    if out.get("callbacks"):
        out["callbacks"] = [callback_to_config(cb) if not isinstance(cb, Mapping) else cb for cb in out["callbacks"]]
    return out


def _toml_value(raw: str, where: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except RecursionError:
        raise SpecError([f"{where}: {TOO_DEEP}"]) from None
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[A-Za-z0-9_./~:-]+", raw):
            return raw
        raise SpecError([f"{where}: {raw!r} is not a TOML value (quote strings, lists as [1, 2])"]) from None


def _assign(values: dict[str, Any], path: list[str], value: Any, text: str) -> None:
    """Set values[a][b]... = value; intermediate tables are created for known sections only."""
    node = values
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None and depth == 0 and part in SweepSpec.model_fields:
            child = node[part] = {}
        if isinstance(child, str) and depth == 0 and part in NAMED_TABLES:  # optimizer.momentum=0.9
            child = node[part] = {"name": child}
        if not isinstance(child, dict):
            hint = (
                did_you_mean(part, SweepSpec.model_fields) if depth == 0 and part not in SweepSpec.model_fields else ""
            )
            raise SpecError([f"{text}: {'.'.join(path[: depth + 1])} is not a table of keys{hint}"])
        node = child
    node[path[-1]] = value


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _problems(err: ValidationError, source: str | None) -> list[str]:
    """pydantic's errors as 'key: message' lines, one per key, with a line number when known."""
    out: list[str] = []
    seen: set[str] = set()
    for e in err.errors(include_url=False):
        loc = [str(p) for p in e["loc"] if not str(p).startswith("function-")]
        key = ".".join(loc)
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            known = sorted(_known_keys(loc[:-1]))
            message = f"unknown key{did_you_mean(loc[-1], known)}; expected one of {known}"
        elif e["type"] not in ("value_error", "assertion_error") and "input" in e:
            message = f"{message[:1].lower()}{message[1:]}, got {e['input']!r}"
        named = _key_named_in(message, loc)
        line = _line_of(source, named) if source else None
        says_key = bool(key) and (message.startswith(key) or message.startswith(f"ModelSpec.{loc[-1]}"))
        text = (f"{key}: " if key and not says_key else "") + message + (f" (line {line})" if line else "")
        if key not in seen or not key:
            out.append(text)
            seen.add(key)
    return out


_NAMED_KEY = re.compile(r"(?:ModelSpec\.)?([A-Za-z_]+)(?:\[['\"]([A-Za-z_]+)['\"]\])?")


def _key_named_in(message: str, loc: list[str]) -> list[str]:
    """The key a problem is about, for finding its line: pydantic's location, made finer by
    the name a message starts with ("epochs must be ..." from the plan check has no
    location; "ModelSpec.units must be ..." is located at `model` only)."""
    match = _NAMED_KEY.match(message)
    if match is None:
        return loc
    word, item = match.groups()
    if not loc and word in SweepSpec.model_fields:
        return [word] + ([item] if item else [])
    if loc == ["model"] and message.startswith("ModelSpec.") and word in ModelSpec.__dataclass_fields__:
        return ["model", word]
    return loc


def _known_keys(section: list[str]) -> list[str]:
    if section == ["data"]:
        return list(DataSpec.model_fields)
    if not section:
        return list(SweepSpec.model_fields)
    return []


def _line_of(source: str, loc: list[str]) -> int | None:
    """The 1-based line that sets `loc` in a TOML text (`key =` under its [section], or the
    `[section]` header itself when `loc` is a table)."""
    if not loc:
        return None
    *sections, key = loc
    current: list[str] = []
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            current = [p.strip().strip('"') for p in header.group(1).split(".")]
            if current == loc:
                return number
            continue
        assigned = re.match(r'"?([A-Za-z0-9_.-]+)"?\s*=', stripped)
        if assigned:
            full = current + assigned.group(1).split(".")
            if full == [*sections, key] or (not sections and full == [key]):
                return number
    if sections:
        return _line_of(source, sections)
    return None


def _declared_here(model: type[BaseModel]) -> dict[str, Bounds]:
    """key -> the bounds `SweepSpec` checks itself (make_plan checks the others)."""
    return {
        key: option.bounds
        for key, (_, option) in declared(model).items()
        if option.bounds is not None and not option.bounds.plan
    }


def _keyword_default(info: Any) -> Any:
    """`fl.sweep`'s default for a spec keyword: the field's, None for a table or list made
    fresh per spec (model, grid, augment, callbacks, fixed_streams)."""
    return None if info.default_factory is not None else info.default


# fl.sweep's keyword arguments that are spec keys, and their defaults: every declared key
# but the run's name and the CLI's data table (`Option(keyword=False)`).
SPEC_DEFAULTS: dict[str, Any] = {
    key: _keyword_default(info) for key, (info, option) in declared(SweepSpec).items() if option.keyword
}
_KEY_DEFAULTS = {key: _keyword_default(info) for key, info in SweepSpec.model_fields.items()}  # name, data too


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


def with_keywords(spec: SweepSpec | None, keywords: Mapping[str, Any]) -> SweepSpec:
    """`fl.sweep`'s spec keyword arguments merged into `spec` - the one place that does it
    (`fl.sweep`, `fl.run`, `fl.lr_range`).

    Without a spec, the keywords build one: None means "the default" where the key has no
    value of its own (learning_rate, grid, callbacks, ...); elsewhere (precision=None,
    epochs=None) it is an error. Beside a spec, a keyword left at `fl.sweep`'s default
    (`SPEC_DEFAULTS`) keeps the spec's key; any other value overrides it.
    """
    unknown = sorted(set(keywords) - set(_KEY_DEFAULTS))
    if unknown:
        raise TypeError(f"not spec keys: {unknown}")
    if spec is None:
        given = {k: v for k, v in keywords.items() if not (v is None and _KEY_DEFAULTS[k] is None)}
        return SweepSpec.from_dict(_to_config(given))
    changed = {k: v for k, v in keywords.items() if not _is_default(v, _KEY_DEFAULTS[k])}
    return spec.replace(**changed) if changed else spec


def sweep_spec_from_kwargs(**kwargs: Any) -> SweepSpec:
    """`fl.sweep`'s spec keyword arguments -> a validated `SweepSpec` (`with_keywords(None, ...)`)."""
    return with_keywords(None, kwargs)


__all__ = ["SPEC_DEFAULTS", "DataSpec", "SpecError", "SweepSpec", "sweep_spec_from_kwargs", "with_keywords"]
