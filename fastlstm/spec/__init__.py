"""What to train: the sweep spec, search spaces, schedulers and the plan of members."""

from fastlstm.spec._schedulers import Hyperband, SuccessiveHalving
from fastlstm.spec._space import Choice, LogUniform, RandInt, Uniform, choice, loguniform, randint, uniform
from fastlstm.spec._sweep_spec import DataSpec, SpecError, SweepSpec

__all__ = [
    "Choice",
    "DataSpec",
    "Hyperband",
    "LogUniform",
    "RandInt",
    "SpecError",
    "SuccessiveHalving",
    "SweepSpec",
    "Uniform",
    "choice",
    "loguniform",
    "randint",
    "uniform",
]
