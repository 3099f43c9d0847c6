"""Fixed costs (issue 29, item 2): `import fastlstm`, `fastlstm --help` and a bad argument
do not import JAX, Flax or Optax; the parser they use (built from fastlstm/cli/_parser_table.py)
is the one the commands' `add_*_parser` functions make; the lazy package still gives every
public name and still sets JAX's CPU device count before a backend starts.

These check what is imported, not how long it takes (timings are the benchmarks' business)."""

import argparse
import json
import subprocess
import sys

import pytest

import fastlstm
from fastlstm.cli._parser import REGENERATE, build_parser, describe, live_parser
from fastlstm.cli._parser_table import TABLE

HEAVY = ("jax", "flax", "optax", "fastlstm.engine", "fastlstm.spec")

CLI_CHILD = """
import json, sys
import fastlstm
after_import = sorted(m for m in {heavy} if m in sys.modules)
from fastlstm.cli import main
exits = []
for argv in {argvs}:
    try:
        exits.append(main(argv))
    except SystemExit as stop:
        exits.append(stop.code)
print(json.dumps({{"after_import": after_import, "exits": exits,
                  "loaded": sorted(m for m in {heavy} if m in sys.modules)}}))
"""
ARGVS = [
    ["--help"],
    ["sweep", "--help"],
    ["doctor", "--help"],
    ["sweep", "--epochs", "-1"],
    ["sweep", "--epoch-count", "3"],
    ["lr-range", "--optimizer", "adamx"],
    ["bench", "--workload", "W9"],
    ["sweep", "--devices", "0,0"],
    [],
]


def _child(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {"JAX_PLATFORMS": "cpu", "PATH": "", "FASTLSTM_CACHE_DIR": "off", **env}
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False)


def test_help_and_argument_errors_do_not_import_jax():
    run = _child(CLI_CHILD.format(heavy=HEAVY, argvs=ARGVS))
    assert run.returncode == 0, run.stderr
    answers = json.loads(run.stdout.strip().splitlines()[-1])
    assert answers["after_import"] == []  # `import fastlstm` alone
    assert answers["exits"] == [0, 0, 0, 2, 2, 2, 2, 2, 2]
    assert answers["loaded"] == []
    errors = run.stderr.splitlines()
    assert "fastlstm sweep: error: argument --epochs: expected a positive integer, got -1" in errors[0]
    assert "did you mean" in errors[1]
    assert "the following arguments are required: command" in errors[-1]


@pytest.mark.slow
def test_a_command_that_runs_imports_the_library_after_parsing():
    run = _child(
        "import sys; from fastlstm.cli import main; main(['report', '/nonexistent']); print('jax' in sys.modules)"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True"]
    assert "fastlstm report: error: RUN_DIR '/nonexistent': no such folder" in run.stderr


def test_the_parser_table_is_the_commands_own():
    live = live_parser()
    assert {"prog": "fastlstm", **describe(live)} == TABLE, (
        f"fastlstm/cli/_parser_table.py is stale: run `{REGENERATE}`"
    )
    table = build_parser()
    assert describe(table) == describe(live)
    assert table.format_help() == live.format_help()
    commands = next(a for a in live._actions if isinstance(a, argparse._SubParsersAction)).choices
    built = next(a for a in table._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert list(built) == list(commands)
    for name, parser in commands.items():
        assert built[name].format_help() == parser.format_help(), name
        assert built[name].prog == parser.prog


def test_the_table_parses_as_the_live_parser():
    argv = [
        "sweep",
        "--optimizer",
        "Adam",
        "--learning-rate",
        "1e-3",
        "3e-3",
        "--set",
        "model.units=8",
        "--devices",
        "0,1",
    ]
    argv += ["--seeds", "3", "--split", "Stratified", "--quiet"]
    assert vars(build_parser().parse_args(argv)) == vars(live_parser().parse_args(argv))
    bench = ["bench", "--workload", "W2", "--systems", "Torch", "fastlstm"]
    assert vars(build_parser().parse_args(bench)) == vars(live_parser().parse_args(bench))


def test_every_public_name_resolves_and_is_listed():
    names = dir(fastlstm)
    for name in fastlstm.__all__:
        assert name in names
        assert getattr(fastlstm, name) is not None
    for module in ("controllers", "distributed", "layers", "tasks", "stats"):
        assert getattr(fastlstm, module).__name__ == f"fastlstm.{module}"
        assert module in names
    from fastlstm import SweepSpec, sweep  # noqa: F401
    from fastlstm.engine import ModelSpec

    assert fastlstm.ModelSpec is ModelSpec
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        fastlstm.nonsense  # noqa: B018


DEVICES_CHILD = """
import json, sys
import fastlstm
first = "{first}"
if first:
    __import__(first)  # JAX imported by someone else: inside Flax's or Optax's own import
import jax
print(json.dumps({{"devices": len(jax.devices())}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("first", ["", "flax.linen", "optax"])
def test_jax_gets_a_device_per_core_however_it_is_first_imported(first):
    run = _child(DEVICES_CHILD.format(first=first), FASTLSTM_CPU_DEVICES="3")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["devices"] == 3


def test_a_bad_device_setting_is_an_error_where_fastlstm_is_used():
    code = "import fastlstm as fl\ntry:\n    fl.SweepSpec\nexcept ValueError as err:\n    print(err)"
    run = _child(code, FASTLSTM_CPU_DEVICES="many")
    assert "FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got 'many'" in run.stdout, run.stderr
    run = _child("from fastlstm.cli import main; raise SystemExit(main(['sweep']))", FASTLSTM_CPU_DEVICES="many")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "fastlstm sweep: error: FASTLSTM_CPU_DEVICES must be a positive integer or 'off', got 'many'"
    ]


@pytest.mark.slow
def test_fl_diagnose_stays_the_function_once_its_subpackage_is_imported() -> None:
    """`fl.diagnose` is a function and `fastlstm.diagnose` a subpackage; importing the
    subpackage (every sweep's summary does) bound the module over the lazily-imported function,
    and `fl.diagnose(x, y)` failed with "'module' object is not callable"."""
    code = (
        "import types, fastlstm as fl, fastlstm.diagnose\n"
        "before = fl.diagnose\n"
        "import fastlstm.diagnose._findings\n"
        "print(isinstance(before, types.FunctionType), isinstance(fl.diagnose, types.FunctionType))\n"
    )
    done = _child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
