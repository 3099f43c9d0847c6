"""Many processes, one sweep: `fl.distributed.initialize(...)` before the first sweep.

Each process trains its share of the members; rank 0 writes the run folder.
"""

from fastlstm.runtime._distributed import (
    DistributedError,
    agree_on_min,
    any_process,
    barrier,
    check_same_everywhere,
    detected_cluster,
    initialize,
    is_primary,
)

__all__ = [
    "DistributedError",
    "agree_on_min",
    "any_process",
    "barrier",
    "check_same_everywhere",
    "detected_cluster",
    "initialize",
    "is_primary",
]
