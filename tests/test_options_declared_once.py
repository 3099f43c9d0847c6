"""Each option is declared once: its `SweepSpec` field (issue 27, item 3).

The field's annotation and default are the key's type and default, its `Option` the help,
bounds and flag; `fl.sweep`'s defaults, the CLI's flags, the `--set` keys and the README's
option table are read from there, and these tests fail when a copy drifts.
"""

import argparse
import inspect
import typing
from pathlib import Path

import pytest

import fastlstm as fl
from fastlstm.api._sweep import DATA_KEYWORDS, RUN_KEYWORDS, SPEC_DEFAULTS
from fastlstm.cli import build_parser
from fastlstm.cli._args import BUILTIN, add_spec_arguments, spec_flags
from fastlstm.cli._option_table import REGENERATE, option_table, readme_table
from fastlstm.cli._sweep import FLAG_KEYS
from fastlstm.spec._options import declared
from fastlstm.spec._sweep_spec import DataSpec, SpecError, SweepSpec, with_keywords

README = Path(__file__).resolve().parents[1] / "README.md"

ROOT = Path(__file__).resolve().parents[1]


def test_sweep_keywords_are_the_spec_keys_and_the_run_only_keys():
    params = inspect.signature(fl.sweep).parameters
    keywords = [name for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    spec_keys = [key for key, (_, option) in declared(SweepSpec).items() if option.keyword]
    declared_keys = ["spec", *spec_keys, *DATA_KEYWORDS, *RUN_KEYWORDS]
    assert len(set(declared_keys)) == len(declared_keys)  # each declared in one place
    assert sorted(keywords) == sorted(declared_keys)
    assert {key: params[key].default for key in SPEC_DEFAULTS} == SPEC_DEFAULTS


def test_sweep_defaults_are_the_fields_defaults():
    default = SweepSpec()
    for key, value in SPEC_DEFAULTS.items():
        assert value is None or value == getattr(default, key), key
    assert with_keywords(None, SPEC_DEFAULTS) == SweepSpec()


def test_every_key_is_declared_with_a_real_type():
    for model in (SweepSpec, DataSpec):
        for key, (info, option) in declared(model).items():  # declared() raises for a field without an Option
            assert info.annotation is not typing.Any, key
            assert option.help, key


def test_keywords_merge_into_a_spec_in_one_place():
    sources = [p for p in (ROOT / "fastlstm").rglob("*.py") if "def _is_default" in p.read_text()]
    assert [p.relative_to(ROOT).as_posix() for p in sources] == ["fastlstm/spec/_sweep_spec.py"]
    spec = SweepSpec.from_dict({"epochs": 3, "seeds": 2})
    assert with_keywords(spec, {"epochs": 10, "seeds": 4}) == spec.replace(seeds=4)  # epochs=10 is the default
    with pytest.raises(TypeError, match="colour"):
        with_keywords(spec, {"colour": 1})


def test_every_flag_sets_its_declared_key():
    parser = build_parser()
    sweep = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("sweep"))
    dests = {action.dest for action in sweep._actions}
    for dest, (flag, key, _, _) in spec_flags().items():
        assert dest in dests, flag
        if key != "learning_rate":
            assert FLAG_KEYS[dest] == key
    for key in FLAG_KEYS.values():
        model, _, name = key.rpartition(".")
        fields = {"": SweepSpec, "data": DataSpec}.get(model)
        assert name in (fields.model_fields if fields else fl.ModelSpec.__dataclass_fields__), key


def test_flag_help_says_the_defaults_a_config_file_and_the_built_in_task_get():
    parser = argparse.ArgumentParser()
    add_spec_arguments(parser, {"positive": int, "finite": float, "positive_float": float})
    helps = {a.option_strings[0]: a.help for a in parser._actions if a.option_strings}
    assert "(default 0; the built-in task 0.2)" in helps["--validation-split"]
    assert f"(default {fl.ModelSpec().units}; the built-in task {BUILTIN['model']['units']})" in helps["--units"]
    assert "(default 32)" in helps["--batch-size"]


def test_a_declared_bound_is_checked_with_its_message():
    with pytest.raises(SpecError, match=r"^members_per_chunk must be a positive integer or None, got 0$"):
        SweepSpec.from_dict({"members_per_chunk": 0})
    with pytest.raises(SpecError, match=r"^split_seed must be an int >= 0, got -1$"):
        SweepSpec.from_dict({"split_seed": -1})


def test_keys_added_later_are_left_out_at_their_default():
    assert not {"split", "split_seed", "oversample", "augment", "recurrent_impl"} & set(SweepSpec().to_dict())
    assert SweepSpec(oversample=True).to_dict()["oversample"] is True


def test_the_readme_option_table_is_generated_from_the_declarations():
    table = readme_table(README.read_text())  # the checkout's README (fastlstm may be installed elsewhere)
    assert table is not None, f"README.md has no option table; add its markers and run `{REGENERATE}`"
    assert table == option_table(), f"README.md's option table is stale: run `{REGENERATE}`"
