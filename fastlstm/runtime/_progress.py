"""The terminal progress bar, as a controller: epochs, members training / stopped /
diverged, the best and mean validation metric, and the time left."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from fastlstm.engine._losses import DIRECTION
from fastlstm.runtime._controllers import ChunkInfo, ChunkOutcome, Controller, EpochEnd, SweepInfo

SHOWN = ("val_accuracy", "val_loss", "accuracy", "loss")


def epoch_line(event: EpochEnd) -> str:
    """`12/16 training, 3 stopped, 1 diverged  val_accuracy best 0.91 mean 0.84`."""
    n = len(event.active)
    diverged = int(np.sum(event.diverged))
    stopped = n - event.n_active - diverged
    parts = [f"{event.n_active}/{n} training"]
    if stopped:
        parts.append(f"{stopped} stopped")
    if diverged:
        parts.append(f"{diverged} diverged")
    key = next((k for k in SHOWN if k in event.logs), None)
    text = ", ".join(parts)
    values = np.asarray(event.logs[key], np.float64) if key else np.array([])
    if key and np.isfinite(values).any():
        best = np.nanmax(values) if DIRECTION.get(key.removeprefix("val_")) == "max" else np.nanmin(values)
        text += f"  {key} best {best:.4f} mean {float(np.nanmean(values)):.4f}"
    return text


class ProgressBar(Controller):
    """A rich bar on stderr over all epochs of all chunks."""

    def __init__(self, console: Console | None = None, title: str | None = None) -> None:
        self.console = console or Console(file=sys.stderr)
        self.title = title  # what this run is, when a command runs several ("range test", "with the fix")
        self.progress: Progress | None = None
        self.offset = 0  # epochs of the chunks already finished
        self.chunk_epochs = 0

    def on_sweep_start(self, sweep: SweepInfo) -> None:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("epochs  {task.fields[info]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.progress = Progress(*columns, console=self.console, transient=False)
        self.task = self.progress.add_task(self.title or "training", total=sweep.total_epochs, info="")
        self.progress.start()

    def on_chunk_start(self, chunk: ChunkInfo) -> None:
        self.chunk_epochs = chunk.epochs
        label = chunk.label if self.title is None else f"{self.title} {chunk.label.removeprefix('training')}".strip()
        self._update(completed=self.offset + chunk.first_epoch, description=label)

    def on_epoch_end(self, event: EpochEnd) -> None:
        done = self.offset + (event.epoch + 1 if event.n_active else self.chunk_epochs)
        self._update(completed=done, info=epoch_line(event))

    def on_chunk_end(self, outcome: ChunkOutcome) -> None:
        self.offset += outcome.info.epochs
        self._update(completed=self.offset)

    def on_sweep_end(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _update(self, **fields: Any) -> None:  # rich's task fields
        if self.progress is not None:
            self.progress.update(self.task, **fields)
