"""Reference workloads for the fastlstm / Keras / PyTorch comparison, and their shared data.

Every system trains the same members on the same data: `make_data(w)` is the one
generator (`fastlstm.data._tasks.early_cue`, seed 0), `w.members(seeds)` the one member
list, `model_flops` the one FLOP count. Importing this module imports numpy only:
when a worker runs by path, `early_cue` is loaded from its file so that the PyTorch
worker is not charged with importing jax (the `fastlstm` package's `__init__` does).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    timesteps: int
    units: int
    layers: int
    batch_size: int
    n: int = 2048
    features: int = 8
    classes: int = 4
    epochs: int = 3
    learning_rates: tuple[float, ...] = (1e-3,)  # Adam (Keras epsilon 1e-7); a grid multiplies the members
    accuracy_checked: bool = True  # False: too small to learn anything, the accuracy floor is not applied
    hidden: bool = False  # not offered on the command line's help (test workloads)

    def members(self, seeds: int) -> list[tuple[float, int]]:
        """(learning_rate, seed) per member, in fastlstm's order: setting-major, then seed 0..S-1."""
        return [(lr, s) for lr in self.learning_rates for s in range(seeds)]

    def describe(self) -> str:
        lrs = "/".join(f"{lr:g}" for lr in self.learning_rates)
        return (
            f"{self.name}: n={self.n} T={self.timesteps} F={self.features} units={self.units} "
            f"layers={self.layers} classes={self.classes} batch={self.batch_size} epochs={self.epochs} Adam lr={lrs}"
        )


WORKLOADS: dict[str, Workload] = {
    "W1": Workload("W1", timesteps=64, units=64, layers=1, batch_size=64),
    "W2": Workload("W2", timesteps=256, units=128, layers=2, batch_size=32),
    "W3": Workload("W3", timesteps=64, units=64, layers=1, batch_size=64, learning_rates=(1e-3, 3e-3)),
    # a few seconds end to end: for the tests of `fastlstm bench`, not for timing
    "tiny": Workload(
        "tiny",
        timesteps=8,
        units=8,
        layers=1,
        batch_size=32,
        n=128,
        features=4,
        epochs=1,
        accuracy_checked=False,
        hidden=True,
    ),
}

PUBLIC_WORKLOADS = tuple(name for name, w in WORKLOADS.items() if not w.hidden)


def _early_cue():
    if __package__:  # imported as fastlstm.benchmark.workloads: the package is loaded already
        from fastlstm.data._tasks import early_cue

        return early_cue
    path = Path(__file__).resolve().parent.parent / "tasks.py"  # numpy only
    spec = importlib.util.spec_from_file_location("_fastlstm_tasks", path)
    assert spec is not None and spec.loader is not None  # a .py path always has a source loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.early_cue


def make_data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """x float32 (n, T, F), y int64 labels 0..classes-1; identical in every system."""
    x, y = _early_cue()(w.n, w.timesteps, w.features, classes=w.classes, seed=0)
    return np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64)


def data_digest(x: np.ndarray, y: np.ndarray) -> str:
    """Short hash of the training data, so the comparison can check every system saw the same."""
    return hashlib.sha1(x.tobytes() + y.tobytes()).hexdigest()[:12]


def majority_rate(w: Workload) -> float:
    """Accuracy of always answering the most frequent class: what a model that learnt nothing gets."""
    _, y = make_data(w)
    return float(np.bincount(y, minlength=w.classes).max() / len(y))


def model_flops(w: Workload, members: int) -> float:
    """Model FLOPs of the whole run for `members` trained members (not seeds: W3 has 2 per seed).

    Forward per sample per timestep per layer: 2*4*u*(features_in + u); training counts
    as 3x forward; every sample is seen once per epoch (the partial last batch is
    trained on). The dense head is left out (it is < 0.1% here).
    """
    per_step = 0
    f_in = w.features
    for _ in range(w.layers):
        per_step += 2 * 4 * w.units * (f_in + w.units)
        f_in = w.units
    return 3.0 * per_step * w.timesteps * w.n * w.epochs * members


def epoch_flops(w: Workload, members: int) -> float:
    """Model FLOPs of one training epoch of `members` members."""
    return model_flops(w, members) / w.epochs
