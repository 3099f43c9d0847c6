from fastlstm.search.halving import Hyperband, SuccessiveHalving  # noqa: F401
