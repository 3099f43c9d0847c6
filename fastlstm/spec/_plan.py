"""Members = seeds x grid, their hyperparameters, RNG streams and compile groups.

A *member* is one seed at one grid point. The grid points (configurations) are the
Cartesian product of the grid's lists, or - with a distribution among its values and
`trials=N` - N configurations drawn from the search space (fastlstm/spec/_space.py),
a list beside a distribution then being a choice among its values. Numeric hyperparameters become per-member
arrays (traced, vmapped); structural ones (units, layers, batch size, epochs,
optimizer) change shapes or state, so members that share them form a *group* that is
compiled once. Every member has four independent RNG streams - init, data order,
dropout, augment - each from its own seed, so one can vary while the others are held fixed:
`fixed_streams` holds some streams at one seed for every member, and a *stream
design* (`seeds=[{"init": 3, "order": 0, "dropout": 0}, ...]`) gives each member its
own seed per stream, which is how `fl.variance_sources` varies one source at a time.
A member's numbers depend on its own stream seeds only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard, cast

from fastlstm.engine._optimizers import CLIP_KEYS, OPTIMIZER_DEFAULTS, OPTIMIZER_FLAGS, SCHEDULE_DEFAULTS, WARMUP_KEYS
from fastlstm.engine._program import BALANCED_HPARAM, OVERSAMPLE_HPARAM
from fastlstm.spec._space import (
    Choice,
    Distribution,
    LogUniform,
    RandInt,
    Uniform,
    draw_configurations,
    is_distribution,
)

STRUCTURAL_KEYS = ("units", "layers", "batch_size", "epochs", "optimizer")
NUMERIC_KEYS = (
    "learning_rate",
    "weight_decay",
    "dropout",
    "momentum",
    "beta_1",
    "beta_2",
    "epsilon",
    "rho",
    *CLIP_KEYS,
    *WARMUP_KEYS,
    "alpha",
    "decay_rate",
    "decay_steps",
)
# "augment" is last so that the other streams' keys (folded with the stream's position)
# are what they were before it existed.
STREAMS = ("init", "order", "dropout", "augment")
# A stream design may leave these out: they are then held at this seed for every member.
OPTIONAL_STREAMS = ("augment",)
OPTIONAL_STREAM_SEED = 0
# Grid keys that pick per-member sample weights: class_weight in {None, "balanced"}
# becomes the numeric hyperparameter BALANCED_HPARAM (0 or 1), so both share one compiled program.
WEIGHTING_KEYS = ("class_weight",)
CLASS_WEIGHT_VALUES = (None, "balanced")
# oversample in {False, True} (a setting or a grid key) becomes OVERSAMPLE_HPARAM, a 0/1 per-member number:
# members that oversample draw their epoch's rows class-balanced instead of a permutation.
SAMPLING_KEYS = ("oversample",)
SHORTHAND_KEYS = ("units", "layers", "dropout")  # ModelSpec(units=, layers=<int>, dropout=) only
RATE_SUFFIXES = (".dropout", ".recurrent_dropout", ".rate")  # layers.<i>.<option> that are in [0, 1)


@dataclasses.dataclass(frozen=True)
class Member:
    index: int
    seed: int  # the seed; in a stream design, the member's position in the design
    config: int  # index of the grid point
    structure: dict[str, Any]  # units, layers, batch_size, epochs, optimizer
    hparams: dict[str, float]
    stream_seeds: dict[str, int]  # init / order / dropout / augment -> seed


@dataclasses.dataclass(frozen=True)
class Group:
    """Members that share one compiled program."""

    structure: dict[str, Any]
    members: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Plan:
    members: tuple[Member, ...]
    groups: tuple[Group, ...]
    grid_keys: tuple[str, ...]
    configs: tuple[dict[str, Any], ...]  # the grid points, in member order
    schedule: str
    schedule_static: dict[str, Any]  # boundaries / values / staircase
    optimizer_flags: dict[str, bool]
    augment: tuple = ()  # the sweep's augmentations (fastlstm.engine._augment), in `augment.<i>` order


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def resolve_seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return list(range(_positive_int("seeds", seeds)))
    if isinstance(seeds, Sequence) and not isinstance(seeds, str) and len(seeds) > 0:
        out = []
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be a positive int or a list of non-negative ints, got {seeds!r}")
            out.append(int(s))
        _reject_repeats("seeds", out)
        return out
    raise ValueError(
        f"seeds must be a positive int or a non-empty list of ints "
        f"(or of {{'init', 'order', 'dropout'}} seed tables, a stream design), got {seeds!r}"
    )


def is_stream_design(seeds: object) -> TypeGuard[Sequence[object]]:
    """True when `seeds` lists per-stream seeds ({"init": .., "order": .., "dropout": ..} each)."""
    return isinstance(seeds, Sequence) and not isinstance(seeds, str) and any(isinstance(s, Mapping) for s in seeds)


def resolve_stream_design(seeds: Sequence[object]) -> list[dict[str, int]]:
    """Check a stream design: one table per member naming a non-negative int seed for
    each of `STREAMS` (those in `OPTIONAL_STREAMS` may be left out: they are held at
    `OPTIONAL_STREAM_SEED`), no member twice (it would train the same numbers twice)."""
    design, labels = [], []
    required = [s for s in STREAMS if s not in OPTIONAL_STREAMS]
    for i, entry in enumerate(seeds):
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"seeds[{i}] must be a table of stream seeds like {{'init': 0, 'order': 0, 'dropout': 0}} "
                f"(a stream design lists one per member), got {entry!r}"
            )
        if not set(required) <= set(entry) <= set(STREAMS):
            raise ValueError(
                f"seeds[{i}] must give exactly the streams {required} (and optionally {list(OPTIONAL_STREAMS)}), "
                f"got keys {sorted(map(str, entry))}"
            )
        full = {s: entry.get(s, OPTIONAL_STREAM_SEED) for s in STREAMS}
        for stream in STREAMS:
            seed = full[stream]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"seeds[{i}][{stream!r}] must be a non-negative int seed, got {seed!r}")
        design.append({s: int(full[s]) for s in STREAMS})
        labels.append(", ".join(f"{s}={full[s]}" for s in STREAMS if s in required or full[s] != OPTIONAL_STREAM_SEED))
    _reject_repeats("seeds (a stream design)", labels)
    return design


def checked_seeds(seeds: Any) -> list[int] | list[dict[str, int]]:
    """Plain seeds (a count or a list of ints) or a stream design, checked."""
    return resolve_stream_design(seeds) if is_stream_design(seeds) else resolve_seeds(seeds)


def member_streams(
    seeds: list[int] | list[dict[str, int]], fixed_streams: Mapping[str, int]
) -> list[tuple[int, dict[str, int]]]:
    """(seed, stream seeds) of each member of one configuration, from `checked_seeds`.

    Plain seeds give every stream the member's seed, except those `fixed_streams`
    holds; a stream design gives each member its own, and `seed` is its position.
    """
    if seeds and isinstance(seeds[0], Mapping):
        if fixed_streams:
            raise ValueError(
                "fixed_streams cannot be combined with a stream design in seeds: "
                "set each stream's seed in the design instead"
            )
        return [(i, dict(streams)) for i, streams in enumerate(seeds)]
    plain = cast("list[int]", seeds)  # not a stream design: one int per member
    return [(seed, {s: int(fixed_streams.get(s, seed)) for s in STREAMS}) for seed in plain]


def _reject_repeats(where: str, values: Sequence[object]) -> None:
    """A repeated seed or grid value would train the same member twice; name the repeat.

    Values are already checked (numbers, names or None), so they hash; 1 and 1.0 are
    the same value, as they are to the optimizer.
    """
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{where} lists {v!r} more than once; give each value once")
        seen.add(v)


def _check_grid(
    grid: Mapping[str, Sequence[Any] | Distribution] | None,
    layer_hparams: Mapping[str, float] | None = None,
    augment_hparams: Mapping[str, float] | None = None,
) -> dict[str, list[Any] | Distribution]:
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a dict of name -> list of values, got {type(grid).__name__}")
    out: dict[str, list[Any] | Distribution] = {}
    option_keys = set(layer_hparams or ()) | set(augment_hparams or ())
    known = STRUCTURAL_KEYS + NUMERIC_KEYS + WEIGHTING_KEYS + SAMPLING_KEYS
    for key, values in grid.items():
        if layer_hparams is not None and key in SHORTHAND_KEYS:
            raise ValueError(
                f"grid: {key!r} applies to ModelSpec's shorthand (layers=<int>); with a layer list use "
                f"per-layer keys, some of {sorted(layer_hparams)}"
            )
        if key not in known and key not in option_keys:
            raise ValueError(f"grid: unknown key {key!r}; expected some of {sorted(known) + sorted(option_keys)}")
        if is_distribution(values):
            _check_distribution(key, values)
            out[key] = values
            continue
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(
                f"grid[{key!r}] must be a list of values or a distribution (fl.loguniform, fl.uniform, "
                f"fl.randint, fl.choice), got {values!r}"
            )
        if len(values) == 0:
            raise ValueError(f"grid[{key!r}] is empty: give at least one value")
        for v in values:
            _check_value(f"grid[{key!r}]", key, v)
        _reject_repeats(f"grid[{key!r}]", values)
        out[key] = list(values)
    return out


def _check_distribution(key: str, dist: Distribution) -> None:
    """A distribution fits its key when every value it can draw is a valid value: names
    (optimizer, class_weight) only by `choice`, integers (units, batch size...) by
    `randint` or `choice`, and both ends of a range checked as grid values are."""
    where = f"grid[{key!r}] = {dist!r}"
    if isinstance(dist, Choice):
        for v in dist.values:
            _check_value(where, key, v)
        return
    if key == "optimizer" or key in WEIGHTING_KEYS:
        raise ValueError(f"{where}: {key} takes names; draw them with fl.choice([...])")
    if key in STRUCTURAL_KEYS and not isinstance(dist, RandInt):
        raise ValueError(f"{where}: {key} takes integers; draw them with fl.randint(lo, hi) or fl.choice([...])")
    bounded = cast("RandInt | Uniform | LogUniform", dist)  # every distribution but Choice has lo and hi
    lo, hi = (bounded.lo, bounded.hi - 1) if isinstance(bounded, RandInt) else (bounded.lo, bounded.hi)
    for end in (lo, hi):
        _check_value(where, key, end)


def _configurations(
    grid: Mapping[str, list[Any] | Distribution], trials: object, search_seed: object
) -> list[dict[str, Any]]:
    """The grid points: the product of the lists, or `trials` draws from a search space."""
    if isinstance(search_seed, bool) or not isinstance(search_seed, int) or search_seed < 0:
        raise ValueError(f"search_seed must be a non-negative int, got {search_seed!r}")
    drawn = [key for key, values in grid.items() if is_distribution(values)]
    if trials is None:
        if drawn:
            raise ValueError(
                f"grid[{drawn[0]!r}] is a distribution ({grid[drawn[0]]!r}): give trials=N, "
                "the number of configurations to draw"
            )
        lists = cast("Mapping[str, list[Any]]", grid)  # no distribution in it
        return [dict(zip(lists, values)) for values in itertools.product(*lists.values())] or [{}]
    trials = _positive_int("trials", trials)
    if not drawn:
        raise ValueError(
            f"trials={trials} draws configurations from distributions in grid, but grid has none: give one "
            "(fl.loguniform, fl.uniform, fl.randint, fl.choice) or drop trials to run the lists as a full grid"
        )
    space = {key: values if isinstance(values, Distribution) else Choice(values) for key, values in grid.items()}
    return draw_configurations(space, trials, search_seed)


def _check_value(where: str, key: str, v: Any) -> None:
    if key == "optimizer":
        if v not in OPTIMIZER_DEFAULTS:
            raise ValueError(f"{where}: unknown optimizer {v!r}; expected one of {sorted(OPTIMIZER_DEFAULTS)}")
    elif key in STRUCTURAL_KEYS:
        _positive_int(where, v)
    elif key in WEIGHTING_KEYS:
        if v not in CLASS_WEIGHT_VALUES:
            raise ValueError(f"{where}: class_weight values must be None (\"none\" in TOML) or 'balanced', got {v!r}")
    elif key in SAMPLING_KEYS:
        if not isinstance(v, bool):
            raise ValueError(f"{where}: oversample values must be True or False, got {v!r}")
    elif key in CLIP_KEYS and (v is None or v == math.inf):
        return  # no clipping (TOML has no None: a config file writes inf)
    elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{where}: {key} must be a finite number, got {v!r}")
    elif key.startswith("augment.") and key.endswith(".ratio") and not 0.0 < v <= 1.0:
        raise ValueError(f"{where}: {key} (WindowSlice's ratio) must be in (0, 1], got {v!r}")
    elif (key == "dropout" or key.endswith(RATE_SUFFIXES)) and not 0.0 <= v < 1.0:
        raise ValueError(f"{where}: {key} must be in [0, 1), got {v!r}")
    elif key in ("learning_rate", "decay_steps") and v <= 0:
        raise ValueError(f"{where}: {key} must be > 0, got {v!r}")
    elif key in CLIP_KEYS and v <= 0:
        raise ValueError(f"{where}: {key} must be > 0 (or None for no clipping), got {v!r}")
    elif v < 0:
        raise ValueError(f"{where}: {key} must be >= 0, got {v!r}")


def _name_and_options(what: str, value: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """'name' or {'name': ..., **options} -> (name, options)."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return value["name"], {k: v for k, v in value.items() if k != "name"}
    raise ValueError(f"{what} must be a name or a dict with a 'name', got {value!r}")


def _flag(where: str, key: str, value: object) -> bool:
    """An on/off option (nesterov, centered, staircase): a bool, since bool("no") is True."""
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key!r} must be True or False, got {value!r}")
    return value


def _finite_numbers(where: str, values: object) -> tuple[float, ...]:
    """A list of finite numbers (piecewise boundaries or values) as floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{where} must be a list of finite numbers, got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{where} must be a list of finite numbers, got {values!r}")
    return tuple(float(v) for v in values)


def _resolve_optimizer(optimizer: str | Mapping[str, Any]) -> tuple[str, dict[str, float], dict[str, bool]]:
    """'adam' or {'name': 'sgd', 'momentum': 0.9, 'nesterov': True} -> name, numbers, flags."""
    name, options = _name_and_options("optimizer", optimizer)
    name = name.lower()
    if name not in OPTIMIZER_DEFAULTS:
        raise ValueError(f"optimizer: unknown {name!r}; expected one of {sorted(OPTIMIZER_DEFAULTS)}")
    numbers, flags = {}, dict(OPTIMIZER_FLAGS[name])
    for key, value in options.items():
        if key in flags:
            flags[key] = _flag("optimizer", key, value)
        elif key in OPTIMIZER_DEFAULTS[name] or key in CLIP_KEYS:
            _check_value("optimizer", key, value)
            numbers[key] = value
        else:
            raise ValueError(
                f"optimizer: {name!r} has no option {key!r}; expected some of {sorted(OPTIMIZER_DEFAULTS[name]) + sorted(flags) + list(CLIP_KEYS)}"
            )
    return name, numbers, flags


def _resolve_schedule(schedule: str | Mapping[str, Any] | None) -> tuple[str, dict[str, float], dict[str, Any]]:
    """None / name / {'name': ..., params} -> name, numeric params, static params."""
    if schedule is None:
        return "constant", {}, {}
    name, options = _name_and_options("schedule", schedule)
    if name not in SCHEDULE_DEFAULTS:
        raise ValueError(f"schedule: unknown {name!r}; expected one of {sorted(SCHEDULE_DEFAULTS)}")
    numbers = dict(SCHEDULE_DEFAULTS[name])
    static: dict[str, Any] = {}
    for key, value in options.items():
        if name == "piecewise_constant" and key in ("boundaries", "values"):
            static[key] = _finite_numbers(f"schedule: piecewise_constant {key!r}", value)
        elif name == "exponential_decay" and key == "staircase":
            static[key] = _flag("schedule", key, value)
        elif key in numbers or key in WARMUP_KEYS:
            _check_value("schedule", key, value)
            numbers[key] = float(value)
        else:
            raise ValueError(f"schedule: {name!r} has no parameter {key!r}")
    if name == "piecewise_constant":
        b, v = static.get("boundaries"), static.get("values")
        if not b or v is None or len(v) != len(b) + 1:
            raise ValueError(
                "schedule: piecewise_constant needs 'boundaries' and 'values' with len(values) == len(boundaries) + 1"
            )
    return name, numbers, static


def _check_fixed_streams(fixed_streams: Mapping[str, int] | None) -> dict[str, int]:
    if fixed_streams is None:
        return {}
    if not isinstance(fixed_streams, Mapping):
        raise ValueError(f"fixed_streams must be a dict of stream -> seed, e.g. {{'order': 0}}, got {fixed_streams!r}")
    for stream, seed in fixed_streams.items():
        if stream not in STREAMS:
            raise ValueError(f"fixed_streams: unknown stream {stream!r}; expected some of {STREAMS}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"fixed_streams[{stream!r}] must be a non-negative int seed, got {seed!r}")
    return dict(fixed_streams)


def _numbers_of(
    name: str,
    point: Mapping[str, object],
    given: Mapping[str, object],
    grid: Mapping[str, object],
    optimizer: tuple[str, Mapping[str, Any]],
    schedule: tuple[str, Mapping[str, float]],
    layer_hparams: Mapping[str, float] | None = None,
    sampling: tuple[Mapping[str, float], bool] = ({}, False),
) -> dict[str, float]:
    """One configuration's numeric hyperparameters: the optimizer's defaults, the schedule's,
    then the arguments, then the grid point; a key that does not apply is an error.

    `sampling` is (the augmentations' strengths, `augment.<i>.<name>` -> value; whether
    the sweep oversamples): per-member numbers the grid may vary too."""
    augment_hparams, oversample = sampling
    layer_hparams = {**(layer_hparams or {}), **augment_hparams} if augment_hparams else layer_hparams
    opt_name, opt_numbers = optimizer
    sched_name, sched_numbers = schedule
    allowed = set(OPTIMIZER_DEFAULTS[name]) | set(CLIP_KEYS) | set(sched_numbers) | set(WARMUP_KEYS) | {"dropout"}
    numbers: dict[str, Any] = {**OPTIMIZER_DEFAULTS[name], "dropout": 0.0, **sched_numbers}
    if layer_hparams is not None:
        allowed |= set(layer_hparams)
        numbers.update(layer_hparams)
    if name == opt_name:
        numbers.update(opt_numbers)
    numeric_point = {k: v for k, v in point.items() if k in NUMERIC_KEYS or k in (layer_hparams or ())}
    for source, where in ((given, "argument"), (numeric_point, "grid key")):
        for key, value in source.items():
            if key not in allowed:
                raise ValueError(f"{where} {key!r} does not apply to optimizer {name!r} with schedule {sched_name!r}")
            numbers[key] = value
    clips = [k for k in CLIP_KEYS if k in numbers or k in grid]
    if len(clips) > 1:
        raise ValueError(f"use only one of {CLIP_KEYS} (as Keras), got {clips}")
    for k in clips:
        numbers[k] = math.inf if numbers.get(k) is None else numbers[k]
    if "class_weight" in grid:
        numbers[BALANCED_HPARAM] = 1.0 if point["class_weight"] == "balanced" else 0.0
    if "oversample" in grid or oversample:
        numbers[OVERSAMPLE_HPARAM] = 1.0 if point.get("oversample", oversample) else 0.0
    return {k: float(v) for k, v in numbers.items()}


def make_plan(
    *,
    seeds: int | Sequence[int] | Sequence[Mapping[str, int]],  # plain seeds or a stream design
    grid: Mapping[str, Sequence[Any] | Distribution] | None,
    units: int,
    layers: int,
    batch_size: int,
    epochs: int,
    optimizer: str | Mapping[str, Any],
    schedule: str | Mapping[str, Any] | None,
    hparams: Mapping[str, object],
    fixed_streams: Mapping[str, int] | None = None,
    layer_hparams: Mapping[str, float] | None = None,
    trials: int | None = None,
    search_seed: int = 0,
    augment: Sequence[object] = (),
    oversample: bool = False,
) -> Plan:
    """Resolve every member's settings; raise on anything unknown before compiling.

    `hparams` are the numeric settings the caller gave directly (learning_rate,
    dropout, weight_decay, clip...), None meaning "the optimizer's default".
    `fixed_streams` holds RNG streams fixed across members, e.g. {"order": 0};
    `seeds` may instead be a stream design, a list of {"init", "order", "dropout"}
    seed tables, one per member of each configuration. `layer_hparams` are a layer-list
    model's numeric options (`layers.<i>.<option>` -> value, see fastlstm/engine/_layer_specs.py):
    per-member numbers that the grid may vary. `trials` draws that many configurations
    from a grid holding distributions, from the search stream `search_seed`. `augment` are the augmentations
    (fastlstm.engine._augment), whose strengths `augment.<i>.<name>` are such numbers too;
    `oversample=True` (or a grid over "oversample") gives every member the 0/1 number
    `OVERSAMPLE_HPARAM`.
    """
    seed_list = checked_seeds(seeds)
    augment = tuple(augment)
    augment_hparams = augment_strengths(augment)
    grid = _check_grid(grid, layer_hparams, augment_hparams)
    base_structure = {
        "units": _positive_int("units", units),
        "layers": _positive_int("layers", layers),
        "batch_size": _positive_int("batch_size", batch_size),
        "epochs": _positive_int("epochs", epochs),
    }
    opt_name, opt_numbers, flags = _resolve_optimizer(optimizer)
    sched_name, sched_numbers, sched_static = _resolve_schedule(schedule)
    given = _given_hparams(hparams, grid, sched_name)
    streams_of_members = member_streams(seed_list, _check_fixed_streams(fixed_streams))

    keys = list(grid)
    configs = _configurations(grid, trials, search_seed)
    optimizer_settings = (opt_name, opt_numbers)
    schedule_settings = (sched_name, sched_numbers)
    members: list[Member] = []
    for c, point in enumerate(configs):
        structure = {**base_structure, "optimizer": opt_name}
        structure.update({k: v for k, v in point.items() if k in STRUCTURAL_KEYS})
        numbers = _numbers_of(
            cast(str, structure["optimizer"]),
            point,
            given,
            grid,
            optimizer_settings,
            schedule_settings,
            layer_hparams,
            (augment_hparams, bool(oversample)),
        )
        for seed, streams in streams_of_members:
            members.append(Member(len(members), seed, c, structure, numbers, dict(streams)))

    plan_groups = _compile_groups(members)
    return Plan(tuple(members), plan_groups, tuple(keys), tuple(configs), sched_name, sched_static, flags, augment)


def _given_hparams(hparams: Mapping[str, object], grid: Mapping[str, object], schedule: str) -> dict[str, Any]:
    """The numeric settings given directly (None dropped), each checked."""
    if schedule == "piecewise_constant" and ("learning_rate" in grid or hparams.get("learning_rate") is not None):
        raise ValueError(
            "learning_rate: piecewise_constant takes its learning rates from schedule 'values'; do not also set learning_rate"
        )
    given = {k: v for k, v in hparams.items() if v is not None}
    for key, value in given.items():
        if key not in NUMERIC_KEYS:
            raise ValueError(f"unknown hyperparameter {key!r}")
        _check_value(key, key, value)
    return given


def _compile_groups(members: Sequence[Member]) -> tuple[Group, ...]:
    """Members that share a structure (units, batch size, ...) share one compiled program."""
    groups: dict[tuple, list[int]] = {}
    for m in members:
        groups.setdefault(tuple(sorted(m.structure.items())), []).append(m.index)
    return tuple(Group(dict(k), tuple(v)) for k, v in groups.items())


def augment_strengths(augment: Sequence[Any]) -> dict[str, float]:
    """`augment.<i>.<strength name>` -> the strength each augmentation was given."""
    return {f"augment.{i}.{a.strength_name}": float(a.strength) for i, a in enumerate(augment)}


def live_augmentations(plan: Plan, group: Group) -> tuple[tuple[int, Any], ...]:
    """(position, augmentation) of those that change the data of some member of the group:
    only they are in its compiled program (a strength that is the identity everywhere,
    0 or a WindowSlice ratio of 1, costs nothing)."""
    live = []
    for i, aug in enumerate(plan.augment):
        key = f"augment.{i}.{aug.strength_name}"
        if any(plan.members[m].hparams[key] != aug.identity for m in group.members):
            live.append((i, aug))
    return tuple(live)


def oversampling(plan: Plan, group: Group) -> bool:
    """Whether some member of the group draws class-balanced batches."""
    return any(plan.members[m].hparams.get(OVERSAMPLE_HPARAM, 0.0) > 0 for m in group.members)
