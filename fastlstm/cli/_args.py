"""The command-line arguments that describe one configuration and its data.

`fastlstm sweep`, `lr-range` and `doctor` read a configuration the same way - a TOML
file (or the built-in task), `--data FILE` and its reading options, the model and fit
flags, `--set key=value` - so they share these definitions; `sweep_command.spec_from_args`
turns them into a spec. Each command adds its own flags (seeds, epochs, output) beside.

A flag that sets one spec key is made from that key's declaration (its `SweepSpec` or
`DataSpec` field, fastlstm/spec/_options.py): the flag's name, its choices or number
type, and its help with the default - the spec's, which is what a config file that leaves
the key out gets, and the built-in task's where that differs (`BUILTIN`).

`fastlstm` parses with a table of what these make (fastlstm/cli/_parser.py: `--help` and a
bad flag then need no JAX): after changing a flag or a declaration, run
`python -m fastlstm.cli._write_parser_table` (tests/test_fixed_costs.py fails until then).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from fastlstm.cli._arg_types import device_selection, non_negative
from fastlstm.engine._model import ModelSpec
from fastlstm.engine._optimizers import OPTIMIZER_DEFAULTS
from fastlstm.spec._options import Option, bounds_of, choices_of, declared, default_of, flag_of, has_type
from fastlstm.spec._sweep_spec import DataSpec, SweepSpec

# The built-in task's spec: `fastlstm sweep` with no arguments trains this.
BUILTIN = {"name": "early-cue", "model": {"units": 32}, "epochs": 15, "validation_split": 0.2, "seeds": 8}
# Spec keys whose flag each command adds itself, or not at all (doctor's and lr-range's
# --seeds and --epochs are their own; --learning-rate takes several values for a grid).
COMMAND_KEYS = ("seeds", "trials", "search_seed", "learning_rate", "epochs")
# The model's flags (ModelSpec's keys; its defaults are ModelSpec's).
MODEL_FLAGS = {"units": "LSTM units", "layers": "stacked LSTM layers"}


def spec_flags() -> dict[str, tuple[str, str, FieldInfo, Option]]:
    """dest -> (flag, spec key, field, Option) for every declared key with a flag, data.* included."""
    out = {}
    for prefix, model in (("", SweepSpec), ("data.", DataSpec)):
        for key, (info, option) in declared(model).items():
            flag = flag_of(key, option)
            if flag is not None:
                out[flag[2:].replace("-", "_")] = (flag, prefix + key, info, option)
    return out


def flag_keys() -> dict[str, str]:
    """argparse dest -> the spec key its flag sets, for the flags that set one key each
    (learning_rate is `spec_from_args`'s: several values make a grid)."""
    keys = {dest: key for dest, (_, key, _, _) in spec_flags().items() if key != "learning_rate"}
    return {**keys, **{name: f"model.{name}" for name in MODEL_FLAGS}}


def default_text(key: str, default: Any) -> str:
    """ "default X" for a flag's help: the spec's default (a config file that leaves the key
    out), and the built-in task's where it differs. "" for a default that is no value."""
    if default is None or isinstance(default, bool) or default == [] or default == {}:
        return ""
    text = f"default {_shown(default)}"
    builtin: Any = BUILTIN
    for part in key.split("."):
        builtin = builtin.get(part) if isinstance(builtin, dict) else None
    if builtin is not None and builtin != default:
        text += f"; the built-in task {_shown(builtin)}"
    return text


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_spec_flag(
    parser: argparse.ArgumentParser, dest: str, number_types: dict[str, Any], **overrides: Any
) -> argparse.Action:
    """The flag of one declared spec key (`spec_flags()[dest]`); `overrides` replace argparse
    settings (nargs, type; `help` replaces the declared help, the default still said after it)."""
    flag, key, info, option = spec_flags()[dest]
    annotation = info.annotation
    settings: dict[str, Any] = {"dest": dest}
    choices = choices_of(annotation)
    bounds = bounds_of(info, option)
    if key == "optimizer":
        choices = list(OPTIMIZER_DEFAULTS)
    if choices is not None:
        settings["choices"] = choices
    elif has_type(annotation, bool):
        settings.update(action="store_true", default=None)
    elif has_type(annotation, int):
        settings["type"] = number_types["positive"] if bounds is not None and bounds.low == 1 else int
    elif has_type(annotation, float):
        settings["type"] = number_types["finite"]
    if has_type(annotation, list) and choices is None and not has_type(annotation, int):
        settings["nargs"] = "+"
    if option.metavar is not None:
        settings["metavar"] = option.metavar
    said = default_text(key, default_of(info))
    settings["help"] = overrides.pop("help", option.help) + (f" ({said})" if said else "")
    settings.update(overrides)
    return parser.add_argument(flag, **settings)


def add_spec_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """CONFIG, the data options, the model and fit flags and --set (not seeds, epochs or output)."""
    parser.add_argument("config", nargs="?", type=Path, help="a TOML config file (see configs/)")
    flags = spec_flags()
    for dest, (_, key, _, _) in flags.items():
        if key.startswith("data."):
            add_spec_flag(parser, dest, number_types)
    unflagged = [key for key, (_, option) in declared(SweepSpec).items() if flag_of(key, option) is None]
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. model.units=64 (a flag left out keeps the config file's value); "
        f"keys without a flag of their own: {', '.join(unflagged)}",
    )
    parser.add_argument(
        "--keras-model", type=Path, metavar="FILE", help="a .keras model: its architecture (needs fastlstm[keras])"
    )
    model = ModelSpec()
    for name, text in MODEL_FLAGS.items():
        said = default_text(f"model.{name}", getattr(model, name))
        parser.add_argument(f"--{name}", type=number_types["positive"], help=f"{text} ({said})")
    for dest, (_, key, _, _) in flags.items():
        if not key.startswith("data.") and key not in COMMAND_KEYS:
            add_spec_flag(parser, dest, number_types)


def add_output_arguments(parser: argparse.ArgumentParser, out_help: str) -> None:
    """--out, --overwrite, --quiet and --json (JSON alone on stdout)."""
    parser.add_argument("--out", type=Path, help=out_help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout and nothing else there")


def learning_rate_argument(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    add_spec_flag(
        parser,
        "learning_rate",
        number_types,
        type=number_types["positive_float"],
        nargs="+",
        help=spec_flags()["learning_rate"][3].help + "; several values make a grid",
    )


def search_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """--trials and --search-seed: random search over the distributions in the grid."""
    add_spec_flag(
        parser,
        "trials",
        number_types,
        help=spec_flags()["trials"][3].help + " (--set grid.learning_rate={loguniform=[1e-4,1e-1]})",
    )
    add_spec_flag(parser, "search_seed", number_types)  # type int: the spec says what a seed must be


def add_device_arguments(parser: argparse.ArgumentParser, number_types: dict[str, Any]) -> None:
    """--devices, and the flags that join several processes into one sweep (`jax.distributed`)."""
    parser.add_argument(
        "--devices",
        type=device_selection,
        metavar="N|ID,ID",
        help="shard members over these local devices: a count (the first N) or ids, e.g. 0,1 (default all)",
    )
    parser.add_argument(
        "--coordinator", metavar="HOST:PORT", help="several processes: process 0's address (it listens there)"
    )
    parser.add_argument("--num-processes", type=number_types["positive"], metavar="N", help="several processes: N")
    parser.add_argument(
        "--process-id", type=non_negative, metavar="I", help="several processes: this one's rank, 0 .. N-1"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="join the processes JAX finds in the environment (SLURM, Open MPI, Kubernetes, a TPU pod); "
        "automatic under srun, mpirun and on a TPU pod",
    )
