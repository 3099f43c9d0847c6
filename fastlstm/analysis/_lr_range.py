"""The learning-rate range test: which learning rates learn, and which are safe.

`lr_range` trains one configuration at many learning rates (24 log-spaced from 1e-5
to 1 by default) x a few seeds as members of one batched run, for a budget counted in
optimizer steps (`RANGE_STEPS`, 100, by default), not in epochs: on 50 rows (GunPoint at
batch 32) 2 epochs are 4 steps, where nothing learns at any rate, while on big data 2
epochs would be thousands. Small data trains as many epochs as the steps take; big data
2 epochs of `steps / 2` steps each, on a random subset of the training rows, so big data
costs no more than small. The curve is the median
over seeds of each member's final training loss (its last epoch's mean); a member that diverged (NaN or inf,
or a final loss above `BLOWUP_FACTOR` x the initial loss) counts as +inf in the
median and as NaN in `losses`.

Unlike fastai's "valley" rule, which reads one run whose learning rate grows during
training - so one early spike in that single run bends the whole curve and moves the
suggestion - every learning rate here is its own members from the same start, and
the median over seeds ignores one seed's spike (with 3 seeds, one diverged seed leaves
the median finite); a learning rate where any seed diverged is never called stable.

The rule (also written into the document's "rule"):
- `largest_stable`: the largest learning rate none of whose seeds diverged and whose
  median loss is within `STABLE_TOLERANCE` of the best improvement of the best median:
  median <= best + 0.1 x (initial - best). A 2-epoch test cannot see late trouble
  (Adam's loss spikes at a high learning rate come later), so:
- `recommended`: largest_stable / `SAFETY_FACTOR` (3, about two grid steps of the
  default grid below the edge, where a 2-epoch test still learns nearly as fast;
  10x would give up most of the speed), but not below the range's low end.
- `range`: [the smallest learning rate whose median improved at least half as much as
  the best one, largest_stable].
- Nothing learns (the best median is within `MIN_IMPROVEMENT` of the initial loss) or
  every learning rate diverged: all three are None, and the rule says which.

The initial loss is measured in the same run: members at `PROBE_LEARNING_RATE`
(1e-12, configuration 0 of the result), whose parameters do not move, so their
epoch's mean training loss is the initial parameters' loss on the same batches (with
the same dropout and weights) as every other member's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.api._sweep import SPEC_DEFAULTS, load_data, train
from fastlstm.data._prepare import Split
from fastlstm.spec._plan import resolve_seeds
from fastlstm.spec._sweep_spec import with_keywords

if TYPE_CHECKING:
    import numpy.typing as npt

    from fastlstm.data._prepare import Dataset
    from fastlstm.results._result import SweepResult
    from fastlstm.spec._sweep_spec import SweepSpec

DEFAULT_LOW, DEFAULT_HIGH, DEFAULT_COUNT = 1e-5, 1.0, 24
PROBE_LEARNING_RATE = 1e-12  # moves no parameter: its members' loss is the initial loss
RANGE_STEPS = 100  # optimizer steps per member: GunPoint's 50 rows learn in them at 64 units, 4 steps do not
MIN_EPOCHS = 2  # the final loss is an epoch's mean: the first epoch's mixes in the untrained start
MAX_STEPS_PER_EPOCH = 100  # with `epochs` given: each epoch's cap (rows = this x batch size)
STABLE_TOLERANCE = 0.1  # within this share of the best improvement counts as "as good as the best"
SAFETY_FACTOR = 3.0  # recommended = largest_stable / this
HALF = 0.5  # the range starts where the median improved half as much as the best
BLOWUP_FACTOR = 2.0  # a final loss above this x the initial loss counts as diverged
MIN_IMPROVEMENT = 0.02  # the best median must be this share below the initial loss to say anything
# Arguments lr_range sets itself (passing them would be silently overridden).
OWN_KEYS = ("grid", "trials", "learning_rate", "schedule", "callbacks")
NOT_HERE = ("resume", "checkpoint", "checkpoint_every")
RUN_KEYS = ("initial_params", "controllers", "verbose")  # passed to the run, not part of the spec
RULE = (
    "largest_stable is the largest learning rate none of whose seeds diverged (NaN/inf, or a final loss above "
    f"{BLOWUP_FACTOR:g}x the initial) whose median final training loss is within {STABLE_TOLERANCE:g} of the best "
    f"improvement of the best median (median <= best + {STABLE_TOLERANCE:g} x (initial - best)); recommended is "
    f"largest_stable / {SAFETY_FACTOR:g} (not below the range's low end); range runs from the smallest learning rate "
    f"whose median improved at least {HALF:g} as much as the best to largest_stable"
)


def default_learning_rates(
    count: int = DEFAULT_COUNT, low: float = DEFAULT_LOW, high: float = DEFAULT_HIGH
) -> list[float]:
    """`count` log-spaced learning rates from `low` to `high`, rounded to 3 significant digits."""
    return [float(f"{v:.3g}") for v in np.logspace(math.log10(low), math.log10(high), count)]


def _checked_rates(learning_rates: Sequence[float] | None) -> list[float]:
    if learning_rates is None:
        return default_learning_rates()
    if isinstance(learning_rates, (str, bytes)) or not isinstance(learning_rates, Sequence | np.ndarray):
        raise ValueError(f"learning_rates must be a list of positive numbers, got {learning_rates!r}")
    rates = [float(v) for v in np.asarray(learning_rates, np.float64).ravel()]
    if len(rates) < 3 or any(not (math.isfinite(v) and v > PROBE_LEARNING_RATE) for v in rates):
        raise ValueError(
            f"learning_rates must be at least 3 positive finite numbers above 1e-12, got {learning_rates!r}"
        )
    if len(set(rates)) != len(rates):
        raise ValueError(f"learning_rates lists a value more than once: {learning_rates!r}")
    return sorted(rates)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


# --- the rule (plain numbers in, plain numbers out) -------------------------------------


def median_losses(losses: np.ndarray) -> np.ndarray:
    """Median over seeds per learning rate, a diverged member (NaN) counted as +inf."""
    return np.median(np.where(np.isnan(losses), np.inf, losses), axis=1)


def choose_range(
    learning_rates: npt.ArrayLike, median_loss: npt.ArrayLike, diverged: npt.ArrayLike, initial_loss: float
) -> dict[str, Any]:
    """largest_stable, recommended, range and the rule, from the curve (see the module's docstring)."""
    rates = np.asarray(learning_rates, np.float64)
    med = np.asarray(median_loss, np.float64)
    div = np.asarray(diverged)
    finite = np.isfinite(med)
    if not finite.any():
        return _none("every learning rate diverged (no finite median loss): lower the learning rates tried")
    best = float(med[finite].min())
    gain = initial_loss - best
    if not (math.isfinite(initial_loss) and gain > MIN_IMPROVEMENT * abs(initial_loss)):
        return _none(
            f"nothing learns: the best median loss {best:.4g} is not {MIN_IMPROVEMENT:.0%} below the initial "
            f"loss {initial_loss:.4g}, so no learning rate can be called good (check the data and the model)"
        )
    stable = finite & (div == 0) & (med <= best + STABLE_TOLERANCE * gain)
    if not stable.any():
        return _none("no learning rate came near the best median loss without a seed diverging")
    largest = float(rates[np.flatnonzero(stable).max()])
    low = float(rates[np.flatnonzero(finite & (med <= initial_loss - HALF * gain)).min()])
    return {
        "largest_stable": largest,
        "recommended": max(largest / SAFETY_FACTOR, low),
        "range": [low, largest],
        "rule": RULE,
    }


def _none(why: str) -> dict[str, Any]:
    return {"largest_stable": None, "recommended": None, "range": None, "rule": f"{why}; {RULE}"}


def range_document(result: SweepResult, rates: Sequence[float], seeds: Sequence[int], epochs: int) -> dict[str, Any]:
    """The `lr_range` document of a finished range-test run (configuration 0 is the probe)."""
    table = np.full((len(rates) + 1, len(seeds)), np.nan)
    column = {s: j for j, s in enumerate(seeds)}
    last = result.history["loss"][:, epochs - 1]
    for m in result.members:
        if m["status"] != "diverged":
            table[m["config"], column[m["seed"]]] = last[m["index"]]
    probe = table[0][np.isfinite(table[0])]
    initial = float(np.median(probe)) if probe.size else math.nan
    losses = table[1:]
    blown = ~np.isfinite(losses) | (losses > BLOWUP_FACTOR * initial)
    losses = np.where(blown, np.nan, losses)
    medians = median_losses(losses)
    diverged = blown.sum(axis=1).astype(int)
    return {
        "kind": "lr_range",
        "metric": "loss",
        "learning_rates": [float(r) for r in rates],
        "seeds": [int(s) for s in seeds],
        "epochs": int(epochs),
        "losses": losses.tolist(),
        "median_loss": [float(v) for v in medians],
        "initial_loss": initial,
        "diverged": [int(d) for d in diverged],
        **choose_range(rates, medians, diverged, initial),
    }


# --- the experiment ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LRRange:
    """A range test's outcome: the document (`to_dict()`), its choices, and the run it came from."""

    document: dict[str, Any]
    result: SweepResult

    @property
    def recommended(self) -> float | None:
        return self.document["recommended"]

    @property
    def largest_stable(self) -> float | None:
        return self.document["largest_stable"]

    @property
    def range(self) -> list[float] | None:
        return self.document["range"]

    @property
    def learning_rates(self) -> list[float]:
        return self.document["learning_rates"]

    @property
    def median_loss(self) -> list[float]:
        return self.document["median_loss"]

    @classmethod
    def from_result(cls, result: SweepResult) -> LRRange:
        """The range test a result holds (one `lr_range` returned, or one `fl.load` read back)."""
        doc = result.analysis.get("lr_range")
        if doc is None:
            raise ValueError("this result has no lr_range document: run fl.lr_range(...)")
        return cls(doc, result)

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def __str__(self) -> str:
        return range_text(self.document)


def lr_range(
    x: Any,
    y: Any = None,
    *,
    learning_rates: Sequence[float] | None = None,
    seeds: int | Sequence[int] = 3,
    epochs: int | None = None,
    steps: int = RANGE_STEPS,
    spec: SweepSpec | None = None,
    max_steps_per_epoch: int | None = None,
    **sweep_kwargs: Any,
) -> LRRange:
    """Train `learning_rates` x `seeds` members for `steps` optimizer steps in one batched
    run and pick a range.

    Default: 24 log-spaced learning rates from 1e-5 to 1, 3 seeds, `RANGE_STEPS` optimizer
    steps (at least 2 epochs; an epoch of big data is cut to a random subset of the
    training rows). `epochs` instead trains that many epochs, each of at most
    `max_steps_per_epoch` steps (default `MAX_STEPS_PER_EPOCH`; with `steps`, it caps the
    epochs the steps make). Only the training rows are used (the spec's validation
    split is held out as a sweep would, then not evaluated: the curve is the training
    loss). Other keyword arguments are `fl.sweep`'s (model, optimizer, batch_size,
    class_weight, precision, verbose...); the spec's grid, schedule and callbacks are
    left out: the range test runs its base configuration at a constant learning rate.
    The rule is in this module's docstring and in `to_dict()["rule"]`.
    """

    rates, seed_list = _checked_rates(learning_rates), resolve_seeds(seeds)
    epochs = None if epochs is None else _positive("epochs", epochs)
    steps = _positive("steps", steps)
    cap = None if max_steps_per_epoch is None else _positive("max_steps_per_epoch", max_steps_per_epoch)
    for key in (*OWN_KEYS, *NOT_HERE):
        if sweep_kwargs.get(key) is not None:
            raise ValueError(f"{key}: lr_range sets it itself (or it does not apply to a range test); drop it")
    unknown = sorted(set(sweep_kwargs) - set(SPEC_DEFAULTS) - {"validation_data", "sample_weight", *RUN_KEYS})
    if unknown:
        raise ValueError(f"lr_range got unexpected arguments {unknown}; expected fl.sweep's keyword arguments")
    base = _base_spec(spec, {k: v for k, v in sweep_kwargs.items() if k in SPEC_DEFAULTS})
    ds = load_data(base, x, y, sweep_kwargs.get("validation_data"), sweep_kwargs.get("sample_weight"))
    batch = _batch_rows(base, len(ds.train))
    if epochs is None:
        epochs, cap = step_budget(len(ds.train), batch, steps, cap)
    elif cap is None:
        cap = MAX_STEPS_PER_EPOCH
    short = short_training_set(ds, None if cap is None else cap * batch)
    range_spec = base.replace(
        grid={"learning_rate": [PROBE_LEARNING_RATE, *rates]},
        learning_rate=None,
        schedule=None,
        callbacks=[],
        validation_split=0.0,
        seeds=seed_list,
        epochs=epochs,
    )
    result = train(range_spec, short, **{k: v for k, v in sweep_kwargs.items() if k in RUN_KEYS})
    doc = range_document(result, rates, seed_list, epochs)
    doc["steps"] = epochs * math.ceil(len(short.train) / batch)  # optimizer steps each member took
    result.analysis["lr_range"] = doc
    return LRRange(doc, result)


def _batch_rows(spec: SweepSpec, rows: int) -> int:
    """The spec's batch size in rows (a batch size larger than the data is one batch)."""
    size = spec.batch_size
    return min(int(size), rows) if isinstance(size, (int, np.integer)) and size > 0 else max(1, rows)


def step_budget(rows: int, batch: int, steps: int, cap: int | None = None) -> tuple[int, int | None]:
    """(epochs, steps per epoch cap) that train about `steps` optimizer steps on `rows` rows.

    Why steps: an optimizer learns per step, so a budget in epochs is 4 steps on 50 rows
    and thousands on big data. At least MIN_EPOCHS epochs (the final loss is an epoch's
    mean); when MIN_EPOCHS epochs of all rows are more than `steps`, each epoch is cut to
    `steps / MIN_EPOCHS` steps (`short_training_set` draws that many batches of rows).
    `cap` (max_steps_per_epoch) lowers the per-epoch cap further.
    """
    per_epoch = math.ceil(rows / batch)
    limit = max(1, math.ceil(steps / MIN_EPOCHS))
    if cap is not None:
        limit = min(limit, cap)
    if per_epoch > limit:
        return MIN_EPOCHS, limit
    return max(MIN_EPOCHS, math.ceil(steps / per_epoch)), None


def _base_spec(spec: SweepSpec | None, given: dict[str, Any]) -> SweepSpec:
    """The configuration to test: `spec` (or fl.sweep's defaults) with the arguments given
    (merged as `fl.sweep` merges them), without its grid."""
    spec = with_keywords(spec, given)
    if spec.grid:  # a grid's structural keys (units, batch_size) would make several runs
        spec = spec.replace(grid={}, trials=None)  # a random search's trials go with its grid
    return spec


def short_training_set(ds: Dataset, max_rows: int | None) -> Dataset:
    """The training rows only (no validation pass), at most `max_rows` of them: a random
    subset (fixed seed, kept in order), so a big data set costs no more than a short run."""

    train = ds.train
    if max_rows is not None and len(train) > max_rows:
        rows = np.sort(np.random.default_rng(0).choice(len(train), size=max_rows, replace=False))
        mask = None if train.mask is None else train.mask[rows]
        train = Split(train.x[rows], train.y[rows], train.weight[rows], mask)
    return dataclasses.replace(ds, train=train, val=None)


# --- printing ---------------------------------------------------------------------------

BAR_WIDTH = 20


def range_text(doc: dict[str, Any]) -> str:
    """The curve as a compact table with an improvement bar per learning rate, then the choice.

    A document read back from a run folder has null where it had inf or NaN: a median
    of null is a diverged one (+inf).
    """
    initial = math.nan if doc["initial_loss"] is None else doc["initial_loss"]
    medians = [math.inf if v is None else v for v in doc["median_loss"]]
    finite = [v for v in medians if math.isfinite(v)]
    best = min(finite) if finite else math.nan
    gain = initial - best
    lines = [
        f"Learning-rate range test: final training loss after {doc['epochs']} epochs{_steps(doc)}, median of "
        f"{len(doc['seeds'])} seeds (initial loss {initial:.4g})",
        f"{'learning rate':>13}  {'median loss':>11}  {'diverged':>8}  improvement",
    ]
    low, high = doc["range"] or (None, None)
    for lr, med, div in zip(doc["learning_rates"], medians, doc["diverged"]):
        bar = ""
        if math.isfinite(med) and gain > 0:
            bar = "#" * round(BAR_WIDTH * min(max((initial - med) / gain, 0.0), 1.0))
        tag = "  largest stable" if lr == doc["largest_stable"] else ("  in range" if low and low <= lr <= high else "")
        lines.append(f"{lr:>13.3g}  {med:>11.4g}  {div:>8}  {bar:<{BAR_WIDTH}}{tag}")
    if doc["recommended"] is None:
        lines.append(f"no recommendation: {doc['rule'].split(';')[0]}")
    else:
        lines.append(
            f"recommended learning rate {doc['recommended']:.3g} (largest stable {doc['largest_stable']:.3g}); "
            f"range {low:.3g} to {high:.3g}"
        )
    return "\n".join(lines)


def _steps(doc: dict[str, Any]) -> str:
    """' (100 optimizer steps)' when the document says (one written before it counted them does not)."""
    return f" ({doc['steps']} optimizer steps)" if isinstance(doc.get("steps"), int) else ""


__all__ = [
    "LRRange",
    "choose_range",
    "default_learning_rates",
    "lr_range",
    "median_losses",
    "range_document",
    "step_budget",
]
