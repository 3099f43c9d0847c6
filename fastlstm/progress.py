"""A rich progress bar over epochs: members still training, mean validation metric, ETA."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """Receives `on_epoch(epoch, logs, n_active)` from the engine and shows it."""

    def __init__(self, progress: Progress | None, total_epochs: int):
        self.progress = progress
        self.task = progress.add_task("training", total=total_epochs, info="") if progress else None
        self.group_offset = 0
        self.group_epochs = 0

    def start_group(self, epochs: int, n_members: int, label: str) -> None:
        if self.progress is not None and self.group_epochs:
            self.group_offset += self.group_epochs
            self.progress.update(self.task, completed=self.group_offset)
        self.group_epochs = epochs
        self.group_members = n_members
        if self.progress is not None:
            self.progress.update(self.task, description=label)

    def on_epoch(self, epoch: int, logs: dict[str, np.ndarray], n_active: int) -> None:
        if self.progress is None:
            return
        key = next((k for k in ("val_accuracy", "val_loss", "accuracy", "loss") if k in logs), None)
        shown = ""
        if key is not None:
            values = np.asarray(logs[key], np.float64)
            mean = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
            shown = f"mean {key} {mean:.4f}"
        info = f"{n_active}/{self.group_members} training  {shown}"
        done = self.group_offset + (epoch + 1 if n_active else self.group_epochs)
        self.progress.update(self.task, completed=done, info=info)


@contextmanager
def epoch_progress(total_epochs: int, enabled: bool, console: Console | None = None) -> Iterator[EpochProgress]:
    if not enabled:
        yield EpochProgress(None, total_epochs)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("epochs  {task.fields[info]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console or Console(file=sys.stderr), transient=False) as progress:
        yield EpochProgress(progress, total_epochs)
