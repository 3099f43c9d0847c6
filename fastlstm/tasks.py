"""Built-in tasks: small synthetic problems to try a sweep on (`fastlstm sweep` with no data)."""

from fastlstm.data._tasks import early_cue, step_cue

__all__ = ["early_cue", "step_cue"]
