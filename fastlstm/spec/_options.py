"""How a spec key is declared: one pydantic field whose annotation carries an `Option`.

A key of `SweepSpec` (or of its `[data]` table) is declared once, as its field:

    validation_split: Annotated[float, Option("...", flag=True, bounds=Bounds(0, 1, ...))] = 0.0

the annotation is its type, the assignment its default, and the `Option` its help, its
bounds and the command-line flag that sets it. Everything else is read from there:
`fl.sweep`'s defaults (`SPEC_DEFAULTS`), the CLI flags and their help
(fastlstm/cli/_args.py), the `--set` keys, `to_dict`'s keys left out at their default,
and the README's option table (fastlstm/spec/_option_table.py).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, PlainSerializer, SkipValidation
from pydantic.fields import FieldInfo

# A key whose values make_plan checks (seeds, grid, epochs ...: its messages name the key
# and the grid value): pydantic leaves the value as given (SkipValidation) and writes it
# back as it is; the annotation is still the key's type, for readers and type checkers.
PLAN_CHECKED = SkipValidation()
AS_GIVEN = PlainSerializer(lambda value: value, return_type=Any)


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The numbers a key takes: `low <= value` and `value < high` (`value <= high` when
    `high_open` is False); `says` is how a message words it ("a float in [0, 1)").
    `plan=True`: make_plan checks it (the grid's values too) and words the message itself;
    else `SweepSpec` checks the setting against these bounds."""

    low: float | None = None
    high: float | None = None
    says: str = ""
    high_open: bool = True
    integer: bool = False
    optional: bool = False  # None is a value too (members_per_chunk)
    plan: bool = False

    def holds(self, value: object) -> bool:
        if value is None:
            return self.optional
        kinds = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        if self.low is not None and value < self.low:
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, key: str, value: object) -> None:
        if not self.holds(value):
            raise ValueError(f"{key} must be {self.says}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Option:
    """What a spec key does, beside its type and default (see the module docstring).

    `flag`: True for the flag named after the key (`validation_split` -> --validation-split),
    a string for another name (`data.path` -> --data), None for none (`--set key=value`
    reaches every key). `keyword=False`: not one of `fl.sweep`'s keyword arguments (the
    run's name and the CLI's data file; `fl.sweep` is given its data). `omit_at_default`:
    `to_dict` leaves the key out at its default, so a spec written before the key existed
    (and the checkpoint identity it resumes by) reads as it did. `setting_or_grid`: a
    setting or a grid key, not both.
    """

    help: str
    flag: bool | str | None = None
    bounds: Bounds | None = None
    metavar: str | None = None
    keyword: bool = True
    omit_at_default: bool = False
    setting_or_grid: bool = False


def declared(model: type[BaseModel]) -> dict[str, tuple[FieldInfo, Option]]:
    """key -> (its pydantic field, its Option), in declaration order."""
    out = {}
    for key, info in model.model_fields.items():
        options = [m for m in info.metadata if isinstance(m, Option)]
        if len(options) != 1:
            raise TypeError(f"{model.__name__}.{key}: declare it with one Option(...) in its annotation")
        out[key] = (info, options[0])
    return out


def default_of(info: FieldInfo) -> Any:
    """The field's default (a fresh one for a factory: grid {}, callbacks [], ModelSpec())."""
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def bounds_of(info: FieldInfo, option: Option) -> Bounds | None:
    """The declared bounds: the Option's, or pydantic's own `Field(ge=...)`."""
    if option.bounds is not None:
        return option.bounds
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            return Bounds(low=m.ge, says=f"an int >= {m.ge}", integer=True, optional=True)  # type: ignore[arg-type]
    return None


def flag_of(key: str, option: Option) -> str | None:
    """The option's command-line flag (`--validation-split`), or None."""
    if option.flag is None or option.flag is False:
        return None
    return option.flag if isinstance(option.flag, str) else "--" + key.replace("_", "-")


def choices_of(annotation: Any) -> list[Any] | None:
    """A closed set's values (a Literal, or an optional one), else None."""
    args = [a for a in _union_args(annotation) if a is not type(None)]
    if args and all(typing.get_origin(a) is Literal for a in args):
        return [v for a in args for v in typing.get_args(a)]
    return None


def has_type(annotation: Any, kind: type) -> bool:
    """Whether `kind` (int, float, bool, str, list) is one of the annotation's alternatives."""
    return any(a is kind or typing.get_origin(a) is kind for a in _union_args(annotation))


def type_text(annotation: Any) -> str:
    """A type as a reader writes it: `int | list[int]`, `"float32" | "bfloat16"`, `dict[str, int]`."""
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_text(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in typing.get_args(annotation))
    if origin is Literal:
        return " | ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_text(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for arg in typing.get_args(annotation) for a in _union_args(arg))
    return (annotation,)


__all__ = [
    "AS_GIVEN",
    "PLAN_CHECKED",
    "Bounds",
    "Option",
    "bounds_of",
    "choices_of",
    "declared",
    "default_of",
    "flag_of",
    "has_type",
    "type_text",
]
