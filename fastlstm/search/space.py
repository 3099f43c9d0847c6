"""Search spaces: the distributions a `grid` key may draw its values from.

`fl.loguniform(lo, hi)`, `fl.uniform(lo, hi)`, `fl.randint(lo, hi)` and `fl.choice([...])`
are small frozen objects: they compare equal by value, serialise Keras-style
(`get_config()` / `from_config()`) and as one-key TOML tables (`{loguniform = [1e-4, 0.1]}`),
and draw from a NumPy `Generator` (`sample(rng, n)` -> a list of plain Python values).
They know nothing of hyperparameters: which key may take which distribution, and in
what range, is the plan's business (fastlstm/plan.py), as it is for a grid's lists.

Conventions (stated once, here and in the README):
- `uniform(lo, hi)` and `loguniform(lo, hi)` draw floats between `lo` and `hi`; both ends
  must be valid values of the key (an end is drawn with probability zero, but rounding
  may reach it). `loguniform` is uniform in log(value), scipy.stats.loguniform(lo, hi).
- `randint(lo, hi)` draws integers `lo <= k < hi`: `hi` is excluded, as in NumPy's
  `Generator.integers`, scipy.stats.randint and Ray Tune's `tune.randint`
  (`randint(16, 65)` draws 16..64).
- `choice(values)` draws each value with equal probability, returning the value itself.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fastlstm.coerce import to_python


class Distribution:
    """What every distribution has: a TOML/config name, its config and a sampler."""

    name: ClassVar[str]
    discrete: ClassVar[bool] = False

    def get_config(self) -> dict[str, Any]:
        return {f.name: _config_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Distribution:
        return cls(**config)

    def to_table(self) -> dict[str, list[Any]]:
        """The one-key table a config file writes: {"loguniform": [lo, hi]}, {"choice": [32, 64]}."""
        return {self.name: self.table_value()}

    def table_value(self) -> list[Any]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        raise NotImplementedError

    def size(self) -> float:
        """How many distinct values it can draw (inf for a continuous one)."""
        return math.inf

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(repr(a) for a in self.table_value())})"


def _config_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _number(where: str, what: str, value: Any) -> float:
    value = to_python(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: {what} must be a finite number, got {value!r}")
    return float(value)


def _ordered(where: str, lo: Any, hi: Any) -> None:
    if not lo < hi:
        raise ValueError(f"{where}: lo must be < hi, got lo={lo!r}, hi={hi!r}")


@dataclasses.dataclass(frozen=True, repr=False)
class Uniform(Distribution):
    """Floats uniform between `lo` and `hi`."""

    lo: float
    hi: float
    name: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        where = f"uniform(lo={self.lo!r}, hi={self.hi!r})"
        object.__setattr__(self, "lo", _number(where, "lo", self.lo))
        object.__setattr__(self, "hi", _number(where, "hi", self.hi))
        _ordered(where, self.lo, self.hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        return np.clip(rng.uniform(self.lo, self.hi, size=n), self.lo, self.hi).tolist()


@dataclasses.dataclass(frozen=True, repr=False)
class LogUniform(Distribution):
    """Floats whose logarithm is uniform between log(`lo`) and log(`hi`); both ends > 0."""

    lo: float
    hi: float
    name: ClassVar[str] = "loguniform"

    def __post_init__(self) -> None:
        where = f"loguniform(lo={self.lo!r}, hi={self.hi!r})"
        object.__setattr__(self, "lo", _number(where, "lo", self.lo))
        object.__setattr__(self, "hi", _number(where, "hi", self.hi))
        if self.lo <= 0 or self.hi <= 0:
            bound = "lo" if self.lo <= 0 else "hi"
            raise ValueError(f"{where}: {bound} must be > 0 (a log scale has no zero or negative values)")
        _ordered(where, self.lo, self.hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        logs = rng.uniform(math.log(self.lo), math.log(self.hi), size=n)
        return np.clip(np.exp(logs), self.lo, self.hi).tolist()


@dataclasses.dataclass(frozen=True, repr=False)
class RandInt(Distribution):
    """Integers `lo <= k < hi`, each equally likely (`hi` excluded, as NumPy and scipy)."""

    lo: int
    hi: int
    name: ClassVar[str] = "randint"
    discrete: ClassVar[bool] = True

    def __post_init__(self) -> None:
        where = f"randint(lo={self.lo!r}, hi={self.hi!r})"
        for bound in ("lo", "hi"):
            value = to_python(getattr(self, bound))
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: {bound} must be an int, got {value!r}")
            object.__setattr__(self, bound, value)
        _ordered(where, self.lo, self.hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        return rng.integers(self.lo, self.hi, size=n).tolist()

    def size(self) -> float:
        return self.hi - self.lo


@dataclasses.dataclass(frozen=True, repr=False)
class Choice(Distribution):
    """One of `values`, each equally likely (numbers, names or None)."""

    values: tuple[Any, ...]
    name: ClassVar[str] = "choice"
    discrete: ClassVar[bool] = True

    def __post_init__(self) -> None:
        values = to_python(self.values)
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Sequence, tuple)):
            raise ValueError(f"choice(values={values!r}): values must be a list, e.g. choice([32, 64])")
        if len(values) == 0:
            raise ValueError("choice(values=[]): values is empty; give at least one value")
        seen: list[Any] = []
        for v in values:
            if isinstance(v, (list, tuple, Mapping)) or v in seen:
                problem = "a list or table" if isinstance(v, (list, tuple, Mapping)) else "repeated"
                raise ValueError(f"choice(values={list(values)!r}): {v!r} is {problem}; give each value once")
            seen.append(v)
        object.__setattr__(self, "values", tuple(values))

    def table_value(self) -> list[Any]:
        return list(self.values)

    def __repr__(self) -> str:
        return f"choice({list(self.values)!r})"

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [self.values[i] for i in rng.integers(len(self.values), size=n).tolist()]

    def size(self) -> float:
        return len(self.values)


DISTRIBUTIONS: dict[str, type[Distribution]] = {d.name: d for d in (Uniform, LogUniform, RandInt, Choice)}


def uniform(lo: float, hi: float) -> Uniform:
    """Floats uniform between `lo` and `hi` (`grid={"dropout": fl.uniform(0, 0.4)}`)."""
    return Uniform(lo, hi)


def loguniform(lo: float, hi: float) -> LogUniform:
    """Floats uniform on a log scale between `lo` > 0 and `hi` (learning rates, weight decay)."""
    return LogUniform(lo, hi)


def randint(lo: int, hi: int) -> RandInt:
    """Integers `lo <= k < hi` (`hi` excluded: `fl.randint(1, 4)` draws 1, 2 or 3)."""
    return RandInt(lo, hi)


def choice(values: Sequence[Any]) -> Choice:
    """One of `values`, each equally likely (`fl.choice([32, 64])`, `fl.choice(["adam", "sgd"])`)."""
    return Choice(values)


def distribution_from_table(table: Mapping[str, Any]) -> Distribution:
    """A config file's one-key table -> its distribution: {"loguniform": [1e-4, 0.1]},
    {"randint": [1, 4]}, {"choice": [32, 64]}."""
    if len(table) != 1 or next(iter(table)) not in DISTRIBUTIONS:
        raise ValueError(
            f"a distribution is a table with one key, one of {sorted(DISTRIBUTIONS)} "
            f"(e.g. {{loguniform = [1e-4, 0.1]}}), got {dict(table)!r}"
        )
    name, arguments = next(iter(table.items()))
    if name == "choice":
        return Choice(arguments)
    if isinstance(arguments, (str, bytes, Mapping)) or not isinstance(arguments, Sequence) or len(arguments) != 2:
        raise ValueError(f"{name} takes [lo, hi], got {arguments!r}")
    return DISTRIBUTIONS[name](*arguments)


def is_distribution(value: Any) -> bool:
    return isinstance(value, Distribution)


def key_stream(search_seed: int, key: str) -> np.random.Generator:
    """The draws of one key come from their own stream, seeded by (search_seed, the key's
    name): the order of the keys does not matter, and adding a key to a space leaves the
    other keys' draws as they were."""
    return np.random.default_rng([search_seed, zlib.crc32(key.encode())])


def draw_configurations(space: Mapping[str, Distribution], trials: int, search_seed: int) -> list[dict[str, Any]]:
    """`trials` distinct configurations drawn from `space` (key -> distribution), the same
    ones for the same `search_seed`.

    A configuration drawn twice would train the same members twice (same seeds, same
    numbers), so a repeat is drawn again (as KerasTuner's random search does); a space
    of fewer distinct configurations than `trials` is an error.
    """
    size = math.prod(d.size() for d in space.values())
    if size < trials:
        sizes = " x ".join(f"{int(d.size())} {key}" for key, d in space.items())
        raise ValueError(
            f"trials={trials} but the search space holds only {int(size)} distinct configurations ({sizes}): "
            "lower trials, or give lists without trials for the full grid"
        )
    streams = {key: key_stream(search_seed, key) for key in space}
    configs: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for _ in range(100 * trials + 1000):
        point = {key: d.sample(streams[key], 1)[0] for key, d in space.items()}
        if tuple(point.values()) not in seen:
            seen.add(tuple(point.values()))
            configs.append(point)
            if len(configs) == trials:
                return configs
    raise ValueError(f"trials={trials}: drew only {len(configs)} distinct configurations; lower trials")


__all__ = [
    "DISTRIBUTIONS",
    "Choice",
    "Distribution",
    "LogUniform",
    "RandInt",
    "Uniform",
    "choice",
    "distribution_from_table",
    "draw_configurations",
    "is_distribution",
    "key_stream",
    "loguniform",
    "randint",
    "uniform",
]
