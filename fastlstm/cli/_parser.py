"""The command line's parser, built without importing JAX.

`fastlstm --help`, `fastlstm sweep --help` and a mistyped flag should answer at once. But the
flags of `sweep`, `lr-range` and `doctor` are made from the spec's declarations
(fastlstm/cli/_args.py), and the spec imports the engine: JAX, Flax and Optax, a second or
more. So the parser is built from a table of its arguments, fastlstm/cli/_parser_table.py,
which the commands' own `add_*_parser` functions generate (`live_parser()`):
`python -m fastlstm.cli._write_parser_table` rewrites it, and tests/test_fixed_costs.py fails when it is
stale. Parsing needs argparse alone; the command that runs is imported after it
(fastlstm/cli/_main.py).
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from fastlstm._common.suggest import did_you_mean

REGENERATE = "python -m fastlstm.cli._write_parser_table"


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit 2) instead of the whole usage,
    with a 'did you mean' for a misspelt flag or choice, and choices read in any case
    (`--optimizer Adam` is adam)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        choices = kwargs.get("choices")
        if choices is not None and "type" not in kwargs and all(isinstance(c, str) for c in choices):
            kwargs["type"] = _any_case(choices)
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}{_suggestion(self, message)} (see {self.prog} --help)\n")


def _any_case(choices: Sequence[str]) -> Callable[[str], str]:
    """A type that maps 'Adam' to the choice 'adam' (and leaves unknown text for argparse to refuse)."""
    canonical = {c.lower(): c for c in choices}
    return lambda text: canonical.get(text.lower(), text)


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """' (did you mean '--epochs'?)' for an unrecognized flag or an invalid choice."""

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        return did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
    flags = re.findall(r"(--[\w-]+)", message) if message.startswith("unrecognized arguments") else []
    known = {option for action in all_actions(parser) for option in action.option_strings}
    return "".join(did_you_mean(flag, known) for flag in flags[:1])


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """parse_args, with unknown flags reported by the subcommand that got them, so a
    'did you mean' is one of that command's flags (`fastlstm sweep: ... '--epochs'`)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every argument of `parser` and of its subcommands (unknown flags reach the top parser)."""
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                actions += all_actions(sub)
    return actions


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, from the table (no JAX): what `fastlstm` parses with."""
    from fastlstm.cli._parser_table import TABLE

    return from_table(TABLE)


def live_parser() -> argparse.ArgumentParser:
    """The parser as the commands' `add_*_parser` functions make it (imports the library: JAX)."""
    from fastlstm.cli._arg_types import finite_float, positive_float, positive_int
    from fastlstm.cli._bench import add_bench_parser
    from fastlstm.cli._compare import add_compare_parser
    from fastlstm.cli._doctor import add_doctor_parser
    from fastlstm.cli._importance import add_importance_parser
    from fastlstm.cli._lr_range import add_lr_range_parser
    from fastlstm.cli._report import add_report_parser
    from fastlstm.cli._sweep import add_sweep_parser

    parser = OneLineErrors(prog="fastlstm", description="Batched multi-seed LSTM sweeps in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    numbers = {"positive": positive_int, "finite": finite_float, "positive_float": positive_float}
    add_sweep_parser(sub, numbers)
    add_lr_range_parser(sub, numbers)
    add_doctor_parser(sub, numbers)
    add_bench_parser(sub)
    add_compare_parser(sub)
    add_report_parser(sub)
    add_importance_parser(sub)
    return parser


# --- the table: a parser as plain data, and back ---

_KINDS: dict[type[argparse.Action], str] = {
    argparse._StoreAction: "store",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._StoreConstAction: "store_const",
    argparse._AppendAction: "append",
    argparse._AppendConstAction: "append_const",
    argparse._CountAction: "count",
}
_VALUED = ("store", "append")  # kinds that take nargs, type, choices and metavar
# types imported when the parser is built (they import nothing of the library); any other
# is imported when a flag's value is first checked
_LIGHT_TYPE_MODULES = ("builtins", "pathlib", "fastlstm.cli._arg_types")


def describe(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """`parser` as plain data: its description, its arguments' add_argument settings and its
    subcommands'. ValueError for what this does not know how to write down (extend it then)."""
    if parser.usage or parser.epilog or parser.formatter_class is not argparse.HelpFormatter:
        raise ValueError(f"{parser.prog}: usage, epilog and formatter_class are not in the table")
    if len(parser._action_groups) != 2 or parser._mutually_exclusive_groups:
        raise ValueError(f"{parser.prog}: argument groups are not in the table")
    out: dict[str, Any] = {"description": parser.description, "arguments": []}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            out["commands"] = {
                "dest": action.dest,
                "required": action.required,
                "choices": [
                    {"name": name, "help": helps.get(name), **describe(sub)} for name, sub in action.choices.items()
                ],
            }
            continue
        out["arguments"].append(_describe_action(action))
    return out


def _describe_action(action: argparse.Action) -> dict[str, Any]:
    kind = _KINDS.get(type(action))
    if kind is None:
        raise ValueError(f"{action.dest}: an argparse action of type {type(action).__name__} is not in the table")
    out: dict[str, Any] = {"flags": list(action.option_strings), "dest": action.dest}
    if kind != "store":
        out["action"] = kind
    if kind in _VALUED:
        out.update(nargs=action.nargs, type=_type_ref(action.type), metavar=action.metavar)
        out["choices"] = None if action.choices is None else list(action.choices)
    if kind in ("store_const", "append_const"):
        out["const"] = action.const
    out["default"] = action.default
    if action.option_strings:
        out["required"] = action.required
    out["help"] = action.help
    return {key: value for key, value in out.items() if value is not None or key == "default"}


def _type_ref(kind: Any) -> str | None:
    """'module:name' of an argparse type; None for none and for the any-case choice types
    (OneLineErrors.add_argument makes those again from the choices)."""
    if kind is None or getattr(kind, "__qualname__", "").startswith(f"{_any_case.__name__}."):
        return None
    if isinstance(kind, _LazyType):
        return kind.ref
    module, name = getattr(kind, "__module__", None), getattr(kind, "__qualname__", "")
    if module is None or not re.fullmatch(r"[\w.]+", name) or "<" in name:
        raise ValueError(f"argparse type {kind!r} has no importable name; the table cannot name it")
    return f"{module}:{name}"


class _LazyType:
    """An argparse type named 'module:name', imported when a value is first checked, so that
    the parser itself imports nothing of the library."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.__name__ = ref.partition(":")[2]  # argparse's "invalid <name> value" messages

    def __call__(self, text: str) -> Any:
        module, _, name = self.ref.partition(":")
        return getattr(importlib.import_module(module), name)(text)

    def __repr__(self) -> str:
        return f"<type {self.ref}>"


def _type_of(ref: str) -> Callable[[str], Any]:
    module, _, name = ref.partition(":")
    if module in _LIGHT_TYPE_MODULES:
        value: Callable[[str], Any] = getattr(importlib.import_module(module), name)
        return value
    return _LazyType(ref)


def from_table(table: dict[str, Any]) -> argparse.ArgumentParser:
    parser = OneLineErrors(prog=table["prog"], description=table["description"])
    _fill(parser, table)
    return parser


def _fill(parser: argparse.ArgumentParser, table: dict[str, Any]) -> None:
    for argument in table["arguments"]:
        settings = {key: value for key, value in argument.items() if key not in ("flags", "dest")}
        if "type" in settings:
            settings["type"] = _type_of(settings["type"])
        if argument["flags"]:
            parser.add_argument(*argument["flags"], dest=argument["dest"], **settings)
        else:
            parser.add_argument(argument["dest"], **settings)
    commands = table.get("commands")
    if commands is None:
        return
    sub = parser.add_subparsers(dest=commands["dest"], required=commands["required"])
    for command in commands["choices"]:
        named = {} if command["help"] is None else {"help": command["help"]}
        _fill(sub.add_parser(command["name"], description=command["description"], **named), command)
