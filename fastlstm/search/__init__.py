"""Search: distributions for a sweep's grid (random search), drawn by the plan."""

from fastlstm.search.space import (
    Choice,
    Distribution,
    LogUniform,
    RandInt,
    Uniform,
    choice,
    distribution_from_table,
    is_distribution,
    loguniform,
    randint,
    uniform,
)

__all__ = [
    "Choice",
    "Distribution",
    "LogUniform",
    "RandInt",
    "Uniform",
    "choice",
    "distribution_from_table",
    "is_distribution",
    "loguniform",
    "randint",
    "uniform",
]
