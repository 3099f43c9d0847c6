"""Controllers: host-side objects that watch a sweep between epochs and may stop it.

Unlike callbacks (traced into the program, one decision per member), a controller runs in
Python after each epoch of a chunk and decides for the whole sweep: a wall-clock budget,
a stop file, Ctrl-C. Subclass `Controller` and pass `controllers=[...]` to `fl.sweep`.
"""

from fastlstm.runtime._controllers import (
    ChunkInfo,
    ChunkOutcome,
    Controller,
    Decision,
    EpochClock,
    EpochEnd,
    StopOnSignal,
    SweepInfo,
    Timer,
)

__all__ = [
    "ChunkInfo",
    "ChunkOutcome",
    "Controller",
    "Decision",
    "EpochClock",
    "EpochEnd",
    "StopOnSignal",
    "SweepInfo",
    "Timer",
]
