from fastlstm.search.halving import Hyperband, SuccessiveHalving  # noqa: F401
from fastlstm.search.space import Choice, LogUniform, RandInt, Uniform, choice, loguniform, randint, uniform  # noqa: F401
