"""Successive halving and Hyperband: which configurations train on, decided at rung epochs.

Li et al. (2017, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
Optimization", JMLR 18) run successive halving (Jamieson & Talwalkar 2016) in
brackets: a bracket starts n configurations at r epochs and, at each rung, keeps the
best floor(n / eta) (at least one) for eta times the epochs. Here a *configuration*
is one grid point with all its seeds: it is ranked by the mean of its seeds' metric at
the rung (optionally a pessimistic confidence bound) and pruned whole, never one seed
of it. Ranking one noisy run per configuration is what the seeds are here to avoid.

This module is pure: schedulers say where the rungs are and which configurations each
bracket holds; `rung_survivors` decides from the history table. The driver part that
stops paying for pruned members lives in fastlstm/runtime/_rung_driver.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fastlstm._common.coerce import object_from_config, to_python
from fastlstm.engine._losses import higher_is_better

MODES = ("auto", "min", "max")


@dataclasses.dataclass(frozen=True)
class Bracket:
    """Configurations that are ranked against each other, and the epochs they are ranked at.

    `rungs` are epoch counts (a rung at 3 decides after each member trained 3 epochs);
    the bracket's survivors of the last rung train on to the sweep's `epochs`.
    """

    configs: tuple[int, ...]
    rungs: tuple[int, ...]


def _int_at_least(name: str, value: object, low: int) -> int:
    value = to_python(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _rungs_from(min_epochs: int, eta: int, last: int) -> tuple[int, ...]:
    """min_epochs * eta^k for every k with that below `last` (the end is no decision)."""
    out, r = [], min_epochs
    while r < last:
        out.append(r)
        r *= eta
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class _Scheduler:
    """The two schedulers' shared fields, checks and serialisation."""

    eta: int = 3
    min_epochs: int = 1
    max_epochs: int | None = None
    metric: str = "val_loss"
    mode: str = "auto"
    lower_bound: bool = False
    kind: ClassVar[str] = ""

    def _check(self) -> None:
        name = type(self).__name__
        _int_at_least(f"{name} eta", self.eta, 2)
        _int_at_least(f"{name} min_epochs", self.min_epochs, 1)
        if self.max_epochs is not None:
            _int_at_least(f"{name} max_epochs", self.max_epochs, 1)
            if self.max_epochs <= self.min_epochs:
                raise ValueError(
                    f"{name} max_epochs must be above min_epochs={self.min_epochs}, got {self.max_epochs!r}"
                )
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"{name} metric must be a metric name such as 'val_loss', got {self.metric!r}")
        if self.mode not in MODES:
            raise ValueError(f"{name} mode must be one of {list(MODES)}, got {self.mode!r}")

    def higher_is_better(self) -> bool:
        if self.mode != "auto":
            return self.mode == "max"
        return higher_is_better(self.metric)

    def last_epoch(self, epochs: int) -> int:
        """The epoch count the rungs lead up to; checks it against the sweep's `epochs`."""
        name = type(self).__name__
        last = epochs if self.max_epochs is None else self.max_epochs
        if last > epochs:
            raise ValueError(f"{name} max_epochs={last} is beyond epochs={epochs}: a rung cannot come after the end")
        if self.min_epochs >= last:
            raise ValueError(
                f"{name} min_epochs={self.min_epochs} leaves no rung before epoch {last} "
                f"(the first rung must come before the end; lower min_epochs or raise epochs)"
            )
        return last

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> _Scheduler:
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        """Plain values, `{"type": ..., field: value}` (the spec's `[scheduler]` table)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"type": self.kind, **{k: v for k, v in values.items() if v is not None}}


@dataclasses.dataclass(frozen=True)
class SuccessiveHalving(_Scheduler):
    """Rank configurations at epochs min_epochs * eta^k; keep the best floor(n / eta) each time.

    `metric` is a logged metric (say "val_loss" only with validation data); `mode` "auto"
    reads the direction from its name (losses and errors lower, accuracies higher).
    `lower_bound=True` ranks by a pessimistic 95% t-bound of the mean over seeds instead
    of the mean, so a configuration whose seeds disagree is not kept on one lucky seed.
    With eta=3, min_epochs=1 and epochs=9: rungs at 1 and 3, the survivors train to 9.
    """

    kind: ClassVar[str] = "successive_halving"

    def __post_init__(self) -> None:
        self._check()
        if not isinstance(self.lower_bound, bool):
            raise ValueError(f"SuccessiveHalving lower_bound must be True or False, got {self.lower_bound!r}")

    def brackets(self, n_configs: int, epochs: int) -> tuple[Bracket, ...]:
        """One bracket: every configuration, rungs up to the last epoch."""
        rungs = _rungs_from(self.min_epochs, self.eta, self.last_epoch(epochs))
        return (Bracket(tuple(range(n_configs)), rungs),)


@dataclasses.dataclass(frozen=True)
class Hyperband(_Scheduler):
    """Brackets of successive halving that start at different epochs (Li et al. 2017).

    With R = max_epochs // min_epochs and s_max = floor(log_eta R), bracket s (s_max down
    to 0) ranks its share of the configurations after max_epochs / eta^(s - i) epochs
    (whole epochs, at least min_epochs) for i = 0..s-1: the most aggressive bracket
    prunes after about min_epochs, the last trains all its configurations to the end. The configurations are split over the brackets in Li et
    al.'s proportions n_s = ceil((s_max + 1) / (s + 1) * eta^s), after a permutation
    drawn from `seed` (so no grid axis lands in one bracket).
    """

    seed: int = 0
    kind: ClassVar[str] = "hyperband"

    def __post_init__(self) -> None:
        self._check()
        _int_at_least("Hyperband seed", self.seed, 0)

    def brackets(self, n_configs: int, epochs: int) -> tuple[Bracket, ...]:
        last = self.last_epoch(epochs)
        s_max = len(_rungs_from(1, self.eta, last // self.min_epochs + 1)) - 1
        shares = [math.ceil((s_max + 1) / (s + 1) * self.eta**s) for s in range(s_max, -1, -1)]
        counts = _split(n_configs, shares)
        order = np.random.default_rng(self.seed).permutation(n_configs).tolist()
        out, start = [], 0
        for s, count in zip(range(s_max, -1, -1), counts):
            # Li et al.'s r_i = R * eta^(i - s), counted down from the end (whole epochs)
            rungs = sorted({max(self.min_epochs, last // self.eta ** (s - i)) for i in range(s)})
            if count:
                configs = tuple(sorted(order[start : start + count]))
                out.append(Bracket(configs, tuple(r for r in rungs if r < last)))
            start += count
        return tuple(out)


def _split(n: int, shares: Sequence[int]) -> list[int]:
    """n items in proportion to `shares` (largest remainder; ties to the earlier share)."""
    total = sum(shares)
    exact = [n * s / total for s in shares]
    counts = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


SCHEDULERS = {"successive_halving": SuccessiveHalving, "hyperband": Hyperband}


def scheduler_from_config(config: object) -> SuccessiveHalving | Hyperband | None:
    """A scheduler from itself, None, or its `get_config()` table (`type` names the kind)."""
    if config is None:
        return None
    return object_from_config(config, SCHEDULERS, "scheduler", "fl.SuccessiveHalving(...) or fl.Hyperband(...)")


def rung_values(history: np.ndarray, epoch: int, diverged: np.ndarray) -> np.ndarray:
    """Each member's metric at a rung: its last finite value up to `epoch` epochs trained.

    A member an EarlyStopping callback stopped earlier counts with its last value; one
    that diverged counts as missing (NaN), never with the value it had before.
    """
    seen = np.asarray(history, np.float64)[:, :epoch]
    finite = np.isfinite(seen)
    last = np.where(finite.any(axis=1), epoch - 1 - np.argmax(finite[:, ::-1], axis=1), -1)
    values = np.where(last >= 0, seen[np.arange(len(seen)), np.maximum(last, 0)], np.nan)
    return np.where(np.asarray(diverged, bool), np.nan, values)


def configuration_scores(
    values: np.ndarray, config_of_member: np.ndarray, configs: Sequence[int], *, lower_bound: bool, higher: bool
) -> dict[int, float]:
    """Per configuration the mean over its seeds' finite values (NaN when none), or, with
    `lower_bound`, the pessimistic end of the 95% t-interval (the mean with one seed)."""
    from scipy import stats

    scores = {}
    for c in configs:
        v = values[(config_of_member == c) & np.isfinite(values)]
        if v.size == 0:
            scores[c] = math.nan
            continue
        score = float(np.mean(v))
        if lower_bound and v.size > 1:
            half = float(stats.t.ppf(0.975, v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))
            score = score - half if higher else score + half
        scores[c] = score
    return scores


def rung_survivors(
    values: np.ndarray,
    config_of_member: Sequence[int] | np.ndarray,
    candidates: Sequence[int],
    eta: int,
    *,
    higher_is_better: bool,
    lower_bound: bool = False,
) -> tuple[tuple[int, ...], dict[int, float]]:
    """(configurations kept, every candidate's score): the best floor(n / eta), at least one.

    `values` is one number per member at the rung (see `rung_values`). Configurations
    with no finite value rank last; ties go to the lower configuration index, so the
    same history always gives the same decision.
    """
    scores = configuration_scores(
        np.asarray(values, np.float64),
        np.asarray(config_of_member),
        candidates,
        lower_bound=lower_bound,
        higher=higher_is_better,
    )
    sign = -1.0 if higher_is_better else 1.0

    def key(c: int) -> tuple[int, float, int]:
        s = scores[c]
        return (1, 0.0, c) if math.isnan(s) else (0, sign * s, c)

    keep = max(1, len(candidates) // eta)
    kept = sorted(sorted(candidates, key=key)[:keep])
    return tuple(kept), scores


def budget_headline(budget: Mapping[str, Any]) -> str:
    """`successive_halving (eta 3): 189 of 729 member-epochs (26%), 540 saved`."""
    spent, full = budget["member_epochs"], budget["full_member_epochs"]
    kind, eta = budget["scheduler"]["type"], budget["scheduler"]["eta"]
    share = spent / full if full else math.nan
    return f"{kind} (eta {eta}): {spent} of {full} member-epochs ({share:.0%}), {full - spent} saved"


def rung_table(budget: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): per segment its last epoch, configurations and members trained, kept, seconds."""
    headers = ["epoch", "configurations", "members", "kept", "member-epochs", "seconds", "s/epoch"]
    keys = ("epoch", "configurations", "members", "kept", "member_epochs")
    rows = [[*(str(r[k]) for k in keys), f"{r['seconds']:.2f}", f"{r['epoch_seconds']:.2f}"] for r in budget["rungs"]]
    return headers, rows


def pruned_lines(budget: Mapping[str, Any], configs: Sequence[Mapping[str, object]]) -> list[str]:
    """`pruned at epoch 1: 18 configurations (0, 1, 2, ...)`, one line per rung, and who trained to the end."""
    by_rung: dict[int, list[int]] = {}
    for c, epoch in budget.get("pruned_at", {}).items():
        by_rung.setdefault(int(epoch), []).append(int(c))
    lines = []
    for epoch in sorted(by_rung):
        ids = sorted(by_rung[epoch])
        shown = ", ".join(map(str, ids[:12])) + (", ..." if len(ids) > 12 else "")
        lines.append(f"pruned at epoch {epoch}: {len(ids)} configuration{'s' * (len(ids) != 1)} ({shown})")
    pruned = {int(c) for c in budget.get("pruned_at", {})}
    finals = [c for c in range(len(configs)) if c not in pruned]
    labels = [f"{c} (" + ", ".join(f"{k}={v}" for k, v in configs[c].items()) + ")" for c in finals[:6]]
    more = ", ..." if len(finals) > 6 else ""
    lines.append(
        f"trained to the end: {len(finals)} configuration{'s' * (len(finals) != 1)}: {'; '.join(labels)}{more}"
    )
    return lines


__all__ = [
    "Bracket",
    "Hyperband",
    "SuccessiveHalving",
    "budget_headline",
    "configuration_scores",
    "pruned_lines",
    "rung_survivors",
    "rung_table",
    "rung_values",
    "scheduler_from_config",
]
