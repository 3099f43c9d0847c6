from fastlstm.search.space import Choice, LogUniform, RandInt, Uniform, choice, loguniform, randint, uniform  # noqa: F401
