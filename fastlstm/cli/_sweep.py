"""`fastlstm sweep`: a config file and flags -> a spec -> the library -> a run folder.

The spec starts from CONFIG.toml (or the built-in early-cue task's defaults); the
familiar flags (`--seeds`, `--epochs`, `--learning-rate 1e-3 3e-3`, ...) override its
keys when given; `--set key=value` overrides any key last. The data comes from the
spec's `[data]` table or `--data FILE`. Every check - flags, config keys, the data
file, the output folder - runs before anything compiles.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from fastlstm._common.files import (
    MARKER,
    OutputPathError,
    check_output_folder,
    marker_kind,
    write_file_atomically,
    write_folder_atomically,
)
from fastlstm._common.version import __version__
from fastlstm.analysis._sources import VarianceSources, source_design, variance_sources
from fastlstm.api._sweep import load_data, read_spec_data, train
from fastlstm.cli._args import (
    BUILTIN,
    add_device_arguments,
    add_output_arguments,
    add_spec_arguments,
    add_spec_flag,
    flag_keys,
    learning_rate_argument,
    search_arguments,
)
from fastlstm.data._splits import describe_split, one_class_validation
from fastlstm.interop._keras import check_fresh_init, from_keras, require_keras
from fastlstm.report import summary_table
from fastlstm.report._html import REPORT_FILE
from fastlstm.report._scores import score_lines
from fastlstm.results._ensemble import ensemble_lines, validation_ensemble
from fastlstm.results._importance import importance_document
from fastlstm.results._run_folder import IN_PROGRESS_KIND, strict_json
from fastlstm.results._scores import validation_scores
from fastlstm.runtime import _distributed as distributed
from fastlstm.runtime._controllers import StopOnSignal
from fastlstm.runtime._distributed import barrier, is_primary
from fastlstm.runtime._driver import SweepHalted
from fastlstm.spec._schedulers import budget_headline, pruned_lines, rung_table
from fastlstm.spec._sweep_spec import SweepSpec
from fastlstm.stats import Importance

OUT_OVERWRITE_HINT = "pass --overwrite"
RUN_CONFIG = "config.toml"
RUNS_FOLDER = "runs"
# flag -> spec key, for the flags that set one key each (None: not given, the spec decides),
# from the keys' declarations (fastlstm/cli/_args.py)
FLAG_KEYS = flag_keys()


def add_sweep_parser(sub: argparse._SubParsersAction, number_types: dict[str, Any]) -> None:
    """The `sweep` subcommand's arguments (number parsers shared with the rest of the CLI)."""
    positive = number_types["positive"]
    sw = sub.add_parser(
        "sweep",
        help="train seeds x settings of one LSTM on your data or the built-in task",
        description="Train every member (configurations x seeds) of one LSTM in one batched program, "
        "print the spread across seeds and write a run folder. With no arguments: the built-in task. "
        "A flag left out keeps the config file's value; the defaults shown are a spec's (a config file "
        "that leaves the key out) and the built-in task's where it differs.",
    )
    add_spec_arguments(sw, number_types)
    sw.add_argument(
        "--keras-weights", action="store_true", help="with --keras-model: every member starts from its weights"
    )
    learning_rate_argument(sw, number_types)
    search_arguments(sw, number_types)
    add_spec_flag(sw, "seeds", number_types, help="number of seeds")
    add_spec_flag(sw, "epochs", number_types)
    add_output_arguments(sw, f"run folder (default {RUNS_FOLDER}/<name>-<YYYYmmdd-HHMMSS>)")
    sw.add_argument(
        "--checkpoint-every", type=positive, metavar="K", help="save the sweep every K epochs (always on Ctrl-C)"
    )
    sw.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run where it stopped")
    sw.add_argument(
        "--sources",
        action="store_true",
        help="instead of a plain sweep, measure where the spread comes from: init, data order, dropout "
        "(--seeds per source, one batched run)",
    )
    sw.add_argument(
        "--levels",
        type=positive,
        metavar="K",
        help="with --sources: the crossed init x order block is K x K (default 15, which tells a 10%% source "
        "from zero in 80%% of runs; fewer levels cost less and detect less)",
    )
    add_device_arguments(sw, number_types)


def spec_from_args(args: argparse.Namespace) -> Any:
    """The resolved spec: config file (or the built-in task), then flags, then --set."""

    spec = SweepSpec.load(args.config) if args.config is not None else SweepSpec.from_dict(_builtin_for(args.data))
    for flag in ("data", "labels", "validation_data", "validation_labels"):  # relative to where the command runs
        if getattr(args, flag) is not None:
            setattr(args, flag, str(Path(getattr(args, flag)).expanduser().resolve()))
    assignments = [
        f"{key}={json.dumps(value)}" for flag, key in FLAG_KEYS.items() if (value := getattr(args, flag)) is not None
    ]
    if args.learning_rate:
        many = len(args.learning_rate) > 1
        assignments.append(
            f"grid.learning_rate={json.dumps(args.learning_rate)}"
            if many
            else f"learning_rate={json.dumps(args.learning_rate[0])}"
        )
    spec = spec.with_overrides(args.set, before=assignments)
    if args.keras_model is not None:
        spec = spec.replace(model=keras_file(args).spec)
    elif args.keras_weights:
        raise ValueError("--keras-weights needs --keras-model FILE")
    if not args.keras_weights:  # a model from --keras-model or a config file, judged alike
        check_fresh_init(spec.model)
    return spec


def _builtin_for(data: str | None) -> dict[str, Any]:
    """The built-in spec, named after --data's file when one is given: a sweep of
    sensors.csv writes runs/sensors-<time>, not runs/early-cue-<time>."""
    if data is None:
        return BUILTIN
    stem = Path(data).name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).lstrip("._-")[:64]
    return {**BUILTIN, "name": name or "sweep"}


def keras_file(args: argparse.Namespace) -> Any:
    """The --keras-model file read by Keras and converted (`fl.from_keras`), read once."""
    cached = getattr(args, "_keras_converted", None)
    if cached is not None:
        return cached

    keras = require_keras()
    path = Path(args.keras_model).expanduser()
    if not path.is_file():
        raise ValueError(f"--keras-model: no file {str(path)!r}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many kinds for an unreadable file
        raise ValueError(
            f"--keras-model {str(path)!r}: Keras could not load it ({type(err).__name__}: {err})"
        ) from None
    converted = from_keras(model)
    args._keras_converted = converted
    return converted


def spec_without(args: argparse.Namespace, own: tuple[str, ...]) -> Any:
    """The spec as `fastlstm sweep` resolves it from a command's arguments, leaving out the
    flags that are that command's own (lr-range's --seeds and --epochs are the test's, not
    the spec's)."""
    values = {flag: getattr(args, flag, None) for flag in (*FLAG_KEYS, "learning_rate", "keras_model")}
    values["keras_weights"] = False  # only `sweep` starts members from a model's weights
    values.update({flag: None for flag in own}, config=args.config, set=args.set)
    return spec_from_args(argparse.Namespace(**values))


def default_out(spec: Any) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(RUNS_FOLDER) / f"{spec.name}-{stamp}"


def run_sweep(args: argparse.Namespace, console: Console) -> int:
    """Resolve the spec, read the data, claim the run folder, train, report, write (report.html included)."""

    if args.levels is not None and not args.sources:
        raise ValueError("--levels sizes the crossed block of --sources; pass --sources too, or drop --levels")
    primary = join_processes(args)
    if args.sources:
        return run_sources(args, console)
    spec, out = _resumed_spec(args) if args.resume is not None else (spec_from_args(args), None)
    out = out or (args.out if args.out is not None else default_out(spec))
    if args.resume is None and primary:
        check_output_folder(out, args.overwrite, name="--out", overwrite_hint=OUT_OVERWRITE_HINT)
    fit, loaded, description = read_spec_data(spec)
    try:
        ds = load_data(spec, fit["x"], fit["y"], fit.get("validation_data"), fit.get("sample_weight"))
    except ValueError as err:
        raise naming_the_file(err, spec, loaded) from None
    log = Console(file=sys.stderr) if args.json else console
    log.quiet = not is_primary()  # several processes: process 0 speaks and writes for all
    _header(log, spec, ds, description)
    _one_class_warning(log, ds)
    _test_file_warning(log, spec)
    if args.resume is None and primary:
        start_run_folder(out, spec, args.overwrite)
    barrier("run folder started")  # the others train only once process 0 has claimed it
    start = time.perf_counter()
    result = _train(spec, ds, out, args, log)
    if not is_primary():
        return 0
    _report(result, time.perf_counter() - start, log, args.json)
    _leaderboard(result, spec, log)
    _scores(result, ds, loaded, log)
    _ensemble(result, ds, log)
    _importance(result, log)
    _save(result, out, loaded)
    log.print(f"run folder: {out} (open {out / REPORT_FILE} in a browser)", highlight=False, soft_wrap=True)
    return 0


def naming_the_file(err: ValueError, spec: Any, loaded: Any) -> ValueError:
    """A data error ("x contains NaN ...") with the file it came from in front: the user
    gave a file, not an array called x. Missing values get the way out as well."""
    if loaded is None:
        return err
    text = str(err)
    validation_file = getattr(spec.data, "validation_path", None)
    path = validation_file if text.startswith("validation_data") and validation_file else loaded.path
    if "NaN" in text and " x " in f" {text}":
        text += "; missing values ('?' in a .ts file, empty cells) must be filled in or dropped before training"
    return ValueError(f"{path}: {text}")


def join_processes(args: argparse.Namespace) -> bool:
    """Join a multi-process sweep when asked (--coordinator, --num-processes, --process-id,
    --distributed, JAX_COORDINATOR_ADDRESS) or launched by srun, mpirun or on a TPU pod,
    before anything runs on JAX; True on the process that writes (process 0, or alone)."""

    flags = {"--coordinator": args.coordinator, "--num-processes": args.num_processes, "--process-id": args.process_id}
    given = [flag for flag, value in flags.items() if value is not None]
    cluster = distributed.detected_cluster()
    asked = bool(given) or args.distributed or bool(os.environ.get("JAX_COORDINATOR_ADDRESS"))
    if not (asked or cluster):
        return True
    if given and cluster is None and not args.distributed and len(given) < len(flags):
        missing = ", ".join(flag for flag in flags if flag not in given)
        raise ValueError(f"{', '.join(given)}: several processes need {missing} as well (or --distributed)")
    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    return distributed.is_primary()


def run_sources(args: argparse.Namespace, console: Console) -> int:
    """`fastlstm sweep --sources`: the variance-sources experiment on the sweep's data and
    configuration (`--seeds` members per source), a table of sources, the run folder."""
    from rich.text import Text

    given = [flag for flag in ("resume", "checkpoint_every") if getattr(args, flag) is not None]
    if given:
        flags = ", ".join(f"--{flag.replace('_', '-')}" for flag in given)
        raise ValueError(f"--sources runs one short batched experiment without checkpoints; drop {flags}")
    seeds, args.seeds = args.seeds, None  # --seeds counts members per source, not the spec's seeds
    spec = spec_from_args(args)
    if seeds is None:
        seeds = spec.seeds if isinstance(spec.seeds, int) else len(spec.seeds)
    source_design(seeds, args.levels)  # checks the counts before any data is read
    out = args.out if args.out is not None else default_out(spec)
    check_output_folder(out, args.overwrite, name="--out", overwrite_hint=OUT_OVERWRITE_HINT)
    fit, loaded, description = read_spec_data(spec)
    log = Console(file=sys.stderr) if args.json else console
    log.print(f"variance sources on {description}: {seeds} seeds per source", highlight=False, soft_wrap=True)
    start = time.perf_counter()
    result = variance_sources(**fit, seeds=seeds, levels=args.levels, spec=spec, verbose=0 if args.quiet else 1)
    if not is_primary():
        return 0  # several processes: process 0 reports and writes
    doc = result.analysis["variance_sources"]
    log.print(Text(str(VarianceSources(doc))), soft_wrap=True)
    log.print(f"{len(result.members)} members trained in {time.perf_counter() - start:.1f} s (compilation included)")
    if args.json:
        sys.stdout.write(strict_json(doc, indent=None) + "\n")
    save_run_folder(result, out, args.overwrite, loaded, log)
    return 0


def save_run_folder(result: Any, out: Path, overwrite: bool, loaded: Any, log: Console) -> None:
    """Write a finished result to --out (a full disk is one line naming --out) and say where."""
    try:
        result.save(out, overwrite=overwrite, data=loaded)
    except OSError as err:
        raise OutputPathError(f"--out {str(out)!r}: could not save ({_reason(err)})") from None
    log.print(f"run folder: {out}", highlight=False, soft_wrap=True)


def _resumed_spec(args: argparse.Namespace) -> tuple[Any, Path]:
    """--resume RUN_DIR: the run's own config.toml; other settings would make another sweep."""

    given = [
        f"--{flag.replace('_', '-')}"
        for flag in (*FLAG_KEYS, "learning_rate", "out", "keras_model")
        if getattr(args, flag)
    ]
    given += ["a config file"] * (args.config is not None) + ["--set"] * bool(args.set)
    if given:
        raise OutputPathError(f"--resume continues the run as it was configured; drop {', '.join(given)}")
    run = args.resume
    problem = _not_resumable(run)
    if problem:
        raise OutputPathError(f"--resume {str(run)!r}: {problem}")
    return SweepSpec.load(run / RUN_CONFIG), run


def _not_resumable(run: Path) -> str | None:
    """Why `run` cannot be resumed, in the user's terms, or None when it can."""

    if not run.is_dir():
        return "no such folder" if not run.exists() else "is not a folder"
    kind = marker_kind(run)
    if kind is None:
        return f"not a fastlstm run folder (no {MARKER} marker)"
    if (run / "checkpoint" / "progress.json").is_file() and (run / RUN_CONFIG).is_file():
        return None
    if kind == IN_PROGRESS_KIND:
        return (
            f"the run stopped before its first checkpoint; start it again: "
            f"fastlstm sweep {run / RUN_CONFIG} --out {run} --overwrite"
        )
    return "the run is finished; nothing to resume (its results are in the folder)"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _header(log: Console, spec: Any, ds: Any, description: str) -> None:
    import jax

    plan = spec.plan()
    configs, seeds = len(plan.configs), len(plan.members) // len(plan.configs)
    log.print(
        f"fastlstm {__version__} on {jax.default_backend()} ({jax.device_count()} devices, {spec.precision}): "
        f"{description}; {ds.inference['reason']}; validation: {describe_split(ds.validation)}; "
        f"{_count(len(plan.members), 'member')} "
        f"({_count(configs, 'configuration')} x {_count(seeds, 'seed')})",
        highlight=False,
        soft_wrap=True,
    )
    clipped = _clipped_batch_sizes(plan, len(ds.train))
    if clipped:
        log.print(clipped, highlight=False, markup=False, soft_wrap=True)


def _clipped_batch_sizes(plan: Any, n_train: int) -> str | None:
    """A batch_size above the training rows trains one batch of all rows per epoch (Keras's
    `fit` clips it the same way): said in the header, since the flag then changes nothing."""
    sizes = sorted({g.structure["batch_size"] for g in plan.groups if g.structure["batch_size"] > n_train})
    if not sizes:
        return None
    given = ", ".join(str(size) for size in sizes)
    return f"batch_size {given} > the {n_train} training rows: one batch of {n_train} per epoch, as Keras's fit"


def _one_class_warning(log: Console, ds: Any) -> None:
    """Say plainly when the validation rows are one class (fastlstm/data/_splits.py), the fix named."""

    line = one_class_validation(ds)
    if line is not None:
        log.print(line, highlight=False, markup=False, soft_wrap=True, style="yellow")


def test_file_selection(spec: Any) -> str | None:
    """A warning when something selects on a `--validation-data` file named as a test set
    (ItalyPowerDemand_TEST.ts): early stopping or a learning-rate plateau picks epochs by it,
    a scheduler prunes by it, a grid or search picks its best by it. The scores on that file
    are then optimistic: it is no longer a test set. None when nothing selects on it."""
    path = getattr(spec.data, "validation_path", None) if spec.data is not None else None
    if not path or not re.search(r"(^|[^a-z])test([^a-z]|$)", Path(str(path)).name.lower()):
        return None
    selectors = [
        f"{type(cb).__name__}(monitor={m!r})"
        for cb in spec.callbacks
        for m in getattr(cb, "monitors", ())
        if m.startswith("val_")
    ]
    scheduler = getattr(spec, "scheduler", None)
    if scheduler is not None and str(scheduler.metric).startswith("val_"):
        selectors.append(f"the scheduler ({scheduler.metric})")
    if len(spec.plan().configs) > 1:
        selectors.append("choosing the best configuration")
    if not selectors:
        return None
    return (
        f"warning: --validation-data {Path(str(path)).name} is named as a test set, and "
        f"{', '.join(selectors)} select{'s' * (len(selectors) == 1)} on it: its scores will be optimistic; "
        "select on a split of the training data (--validation-split 0.2) and keep the test file for the end"
    )


def _test_file_warning(log: Console, spec: Any) -> None:
    line = test_file_selection(spec)
    if line is not None:
        log.print(line, highlight=False, markup=False, soft_wrap=True, style="yellow")


def start_run_folder(out: Path, spec: Any, overwrite: bool = False) -> None:
    """Claim the run folder before training: its config (what --resume reads) and an
    in-progress marker, swapped into place whole (fastlstm/_common/files.py), so an earlier
    run that --overwrite replaces never holds this run's config beside its own results;
    the finished run replaces this folder whole in turn."""

    with write_folder_atomically(
        out, overwrite, kind=IN_PROGRESS_KIND, name="--out", overwrite_hint=OUT_OVERWRITE_HINT
    ) as tmp:
        write_file_atomically(tmp / RUN_CONFIG, spec.to_toml())


def _train(spec: Any, ds: Any, out: Path, args: argparse.Namespace, log: Console) -> Any:
    """Train with a checkpoint in the run folder; Ctrl-C saves it and says how to resume."""

    checkpoint = out / "checkpoint"
    try:
        return train(
            spec,
            ds,
            controllers=[StopOnSignal()],
            verbose=0 if args.quiet or not is_primary() else 1,
            checkpoint=checkpoint,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume is not None,
            initial_params=keras_file(args).params if getattr(args, "keras_weights", False) else None,
            devices=args.devices,
        )
    except SweepHalted:
        raise SweepHalted(f"interrupted; continue with: fastlstm sweep --resume {out}") from None
    except BaseException as err:
        kept = (checkpoint / "progress.json").exists()
        if args.resume is None and not kept and is_primary():
            shutil.rmtree(out, ignore_errors=True)  # ours, with nothing worth keeping
        if isinstance(err, OSError):  # a checkpoint could not be written (a full disk, say)
            raise OutputPathError(
                f"--out {str(out)!r}: could not write the checkpoint ({_reason(err)}){_resume_hint(out, kept)}"
            ) from None
        raise


def _report(result: Any, elapsed: float, console: Console, as_json: bool) -> None:

    summary = result.summary()  # once: from 10 seeds on its intervals are bootstrapped
    console.print(summary_table(summary))
    if result.budget is not None:
        _budget(result, console)
    console.print(f"{len(result.members)} members trained in {elapsed:.1f} s (compilation included)")
    if as_json:
        sys.stdout.write(strict_json({"summary": list(summary), "meta": result.meta}, indent=None) + "\n")


def _leaderboard(result: Any, spec: Any, console: Console) -> None:
    """After a search (--trials, a scheduler): the configurations ranked, where each was
    pruned, and the best as `--set` assignments - the one table a search's user reads."""
    if result.budget is None and spec.trials is None:
        return
    board = result.leaderboard()
    for line in board.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if board.set_line():
        console.print(
            "(rerun: the same command without --trials, the grid and the scheduler, with those --set)", style="dim"
        )
    if result.budget is None:  # a scheduler's account already said it
        try:
            best = result.best()
        except ValueError:
            return
        console.print(f"best: configuration {best.config}, {best.verdict}", highlight=False, markup=False)


def _scores(result: Any, ds: Any, loaded: Any, console: Console) -> None:
    """Score the validation rows as a scikit-learn user would (fastlstm/results/_scores.py),
    keep the document in result.analysis (scores.json) and print its few lines."""

    doc = validation_scores(result, ds, getattr(loaded, "forecast", None))
    if doc is None:
        return
    result.analysis["scores"] = doc
    for line in score_lines(doc):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _ensemble(result: Any, ds: Any, console: Console) -> None:
    """Each configuration's seeds averaged into one model, scored on the validation rows
    beside the mean member (fastlstm/results/_ensemble.py): ensemble.json and a few lines."""

    doc = validation_ensemble(result, ds)
    if doc is None:
        return
    result.analysis["ensemble"] = doc
    for line in ensemble_lines(doc, result.configs):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _importance(result: Any, console: Console) -> None:
    """One line under the summary: which hyperparameter moves the metric, beside the seeds
    (importance.json; `fastlstm importance RUN_DIR` prints the whole table)."""

    doc = importance_document(result)
    if doc is None:
        return
    result.analysis["importance"] = doc
    console.print(Importance.from_dict(doc).headline(), highlight=False, markup=False, soft_wrap=True)


def _budget(result: Any, console: Console) -> None:
    """A scheduler's account: member-epochs spent and saved, the rungs, who was pruned where,
    and whether the best configuration beats the runner-up."""
    from rich.table import Table

    budget = result.budget
    console.print(budget_headline(budget), highlight=False, markup=False)
    headers, rows = rung_table(budget)
    table = Table(*headers, box=None, pad_edge=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in pruned_lines(budget, result.configs):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print("(the summary shows pruned configurations at the epoch they were pruned)", style="dim")
    try:
        best = result.best()
    except ValueError:
        return
    mean = best.stats["mean"]
    line = f"best: configuration {best.config} ({best.metric} mean {mean:.4g}), {best.verdict}"
    console.print(line, highlight=False, markup=False)


def _save(result: Any, out: Path, loaded: Any) -> None:
    """Write the finished run folder over the in-progress one. A failed write (a full disk)
    leaves the in-progress folder as it was - its checkpoint holds every finished chunk -
    and the one-line error says how to write the results once there is room."""
    try:
        result.save(out, overwrite=True, data=loaded)
    except OSError as err:
        kept = (out / "checkpoint" / "progress.json").exists()
        raise OutputPathError(f"--out {str(out)!r}: could not save ({_reason(err)}){_resume_hint(out, kept)}") from None


def _reason(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def _resume_hint(out: Path, kept: bool) -> str:
    return f"; the checkpoint is kept: make room, then fastlstm sweep --resume {out}" if kept else ""
