"""Controllers: host-side hooks the driver calls between epochs, over all members.

Callbacks (fastlstm/engine/_callbacks.py) run inside the compiled program, per member, as
array state. Controllers run on the host after every epoch and see every member of
the chunk at once: the progress bar, the benchmark's epoch clock, the checkpointer.
A controller may return a `Decision` to stop some members or halt the sweep; it never
reaches into the driver otherwise. Successive halving needs more than a stop - it
regathers the survivors into smaller chunks between rungs - so it is a driver of its
own (fastlstm/runtime/_rung_driver.py), which calls the same controller hooks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlstm.runtime._distributed import any_process

if TYPE_CHECKING:
    from fastlstm.engine._program import MemberState


@dataclasses.dataclass(frozen=True)
class SweepInfo:
    """What the whole sweep will run: its members and the epochs over all chunks."""

    n_members: int
    n_groups: int
    total_epochs: int  # epochs summed over every chunk of every group (the progress total)
    layout: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (group, members) of every chunk, in order


@dataclasses.dataclass(frozen=True)
class ChunkInfo:
    """One chunk of one compile group: the members that train together."""

    group: int
    chunk: int
    n_groups: int
    n_chunks: int
    members: tuple[int, ...]  # sweep-wide member indices
    epochs: int
    first_epoch: int = 0  # > 0 when a resumed chunk continues

    @property
    def label(self) -> str:
        label = "training" if self.n_groups == 1 else f"group {self.group + 1}/{self.n_groups}"
        return label + (f" chunk {self.chunk + 1}/{self.n_chunks}" if self.n_chunks > 1 else "")


@dataclasses.dataclass(frozen=True)
class EpochEnd:
    """An epoch that every member of a chunk has finished; arrays are per chunk member."""

    chunk: ChunkInfo
    epoch: int
    logs: dict[str, np.ndarray]  # NaN for members that did not train this epoch
    active: np.ndarray  # still training after this epoch
    diverged: np.ndarray  # frozen at their last finite state (loss or parameters went NaN/inf)
    seconds: float  # wall time since the previous epoch ended (the first includes compilation)
    host_state: Callable[[], Any]  # the chunk's member state as NumPy, fetched on demand
    history: dict[str, np.ndarray]  # the chunk's history so far, (members, epochs), NaN ahead

    @property
    def n_active(self) -> int:
        return int(np.sum(self.active))


@dataclasses.dataclass
class ChunkOutcome:
    """A finished chunk: its members' final states (NumPy) and history (members, epochs)."""

    info: ChunkInfo
    state: MemberState  # of NumPy arrays
    history: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Decision:
    """A controller's answer: stop these chunk members (bool per member), or halt the sweep."""

    stop: np.ndarray | None = None
    halt: bool = False


class Controller:
    """Base class: override the hooks you need; every hook is optional."""

    def on_sweep_start(self, sweep: SweepInfo) -> None:
        pass

    def on_chunk_start(self, chunk: ChunkInfo) -> None:
        pass

    def on_epoch_end(self, event: EpochEnd) -> Decision | None:
        return None

    def on_epoch_applied(self, event: EpochEnd) -> None:
        """After every controller's decision for this epoch was applied (what a checkpoint saves)."""

    def on_halt(self, event: EpochEnd) -> None:
        """The sweep stops after this epoch (a controller halted it): save what must survive."""

    def on_chunk_end(self, outcome: ChunkOutcome) -> None:
        pass

    def on_sweep_end(self) -> None:
        """Called once, also when the sweep fails or is interrupted (release resources here)."""


class EpochClock(Controller):
    """Wall time of every epoch of every chunk: what `fastlstm bench` reports.

    The driver measures after the epoch's logs reached the host, so each interval is
    a finished epoch; the first of a chunk also holds initialisation and compilation.
    `chunks` gets `{"members": n, "epoch_s": [...]}` per chunk.
    """

    def __init__(self) -> None:
        self.chunks: list[dict[str, Any]] = []

    def on_chunk_start(self, chunk: ChunkInfo) -> None:
        self.chunks.append({"members": len(chunk.members), "epoch_s": []})

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.chunks[-1]["epoch_s"].append(event.seconds)


class Timer:
    """Seconds between calls of `lap()` (the driver's epoch clock)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds


class StopOnSignal(Controller):
    """Ctrl-C (SIGINT) or SIGTERM ends the sweep cleanly at the next epoch boundary.

    JAX may be inside a compiled call or a garbage-collection hook when the signal comes,
    where a KeyboardInterrupt is lost or prints a traceback through JAX. So the first
    signal only sets a flag; after the epoch, this controller halts the sweep (the driver
    raises `SweepHalted`), which is also where a checkpoint can be written. A second
    signal interrupts at once. Handlers are installed only from the main thread and put
    back when the sweep ends. With several processes, a signal that reached one of them
    halts them all after the same epoch.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def on_sweep_start(self, sweep: SweepInfo) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.SIGNALS:
            number = getattr(signal, name)
            self._previous[number] = signal.signal(number, self._handle)

    def _handle(self, number: int, frame: Any) -> None:
        import signal

        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(number).name

    def on_epoch_end(self, event: EpochEnd) -> Decision | None:
        """Halt when this process or any other got a signal: every process of a multi-process
        sweep halts after the same epoch (`fastlstm.runtime._distributed.any_process`)."""

        return Decision(halt=True) if any_process(self.received is not None) else None

    def on_sweep_end(self) -> None:
        import signal

        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
