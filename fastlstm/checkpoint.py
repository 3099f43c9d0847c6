"""Checkpoint and resume: the sweep's full state saved between epochs with orbax.

`Checkpointer` is a controller. After every `every` epochs, and always when the sweep
is halted (Ctrl-C, SIGTERM), it saves the chunk in flight - every member's parameters,
optimizer state, callback states, RNG keys and step counters (the whole `MemberState`)
and the history so far - and, when a chunk finishes, that chunk's final state. A small
`progress.json`, written atomically after orbax has committed the arrays, says which
chunks are done and where the one in flight stopped; it is the only file resume trusts,
so a save cut short (a full disk, a kill) leaves the previous checkpoint in force.

`load_resume(folder, digest)` turns a checkpoint folder back into the driver's `Resume`.
The epoch program is a pure function of the member state (the data order and dropout
masks are drawn from keys folded with the epoch number), so a resumed sweep ends
bit-identical to an uninterrupted one on the same machine.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import jax
import numpy as np

from fastlstm.controllers import ChunkOutcome, Controller, EpochEnd, SweepInfo
from fastlstm.driver import Resume
from fastlstm.io.folders import write_file_atomically

PROGRESS_FILE = "progress.json"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: missing, damaged, or made from other data."""


def _checkpointer() -> Any:
    import orbax.checkpoint as ocp

    return ocp.PyTreeCheckpointer()


def _save_arrays(path: Path, leaves: list[np.ndarray], history: dict[str, np.ndarray]) -> None:
    tree = {"leaves": {str(i): np.asarray(a) for i, a in enumerate(leaves)}, "history": dict(history)}
    _checkpointer().save(path.resolve(), tree, force=True)


def _load_arrays(path: Path) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    tree = _checkpointer().restore(path.resolve())
    leaves = tree["leaves"]
    return [np.asarray(leaves[str(i)]) for i in range(len(leaves))], {
        k: np.asarray(v) for k, v in tree["history"].items()
    }


class Checkpointer(Controller):
    """Save the sweep to `folder` every `every` epochs (None: only when halted) and per chunk.

    `digest` identifies the data (`fastlstm.checkpoint.dataset_digest`): resume refuses a
    checkpoint made from other data.
    """

    def __init__(self, folder: str | Path, every: int | None = None, digest: str = "", spec: Any = None) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"checkpoint every: expected a positive integer or None, got {every!r}")
        self.folder, self.every, self.digest, self.spec = Path(folder), every, digest, spec
        self.progress: dict[str, Any] = {}
        self._import = threading.Thread(target=_checkpointer, daemon=True)  # orbax imports in ~1 s: overlap it

    def on_sweep_start(self, sweep: SweepInfo) -> None:
        self._import.start()
        self.folder.mkdir(parents=True, exist_ok=True)
        saved = _read_progress(self.folder) if (self.folder / PROGRESS_FILE).exists() else None
        layout = [[g, list(members)] for g, members in sweep.layout]
        if saved is not None and saved.get("layout") == layout:
            self.progress = saved  # a resumed sweep goes on adding to its checkpoint
        else:
            self.progress = {"format": FORMAT, "digest": self.digest, "spec": self.spec, "layout": layout}
            self.progress.update(done=[], current=None)

    def on_epoch_end(self, event: EpochEnd) -> None:
        last = event.epoch + 1 >= event.chunk.epochs or event.n_active == 0
        if self.every is not None and (event.epoch + 1) % self.every == 0 and not last:
            self._save_current(event)

    def on_halt(self, event: EpochEnd) -> None:
        self._save_current(event)

    def on_chunk_end(self, outcome: ChunkOutcome) -> None:
        number = self._number(outcome.info.group, outcome.info.members)
        if number in self.progress["done"]:
            return  # restored from this checkpoint
        self._import.join()
        _save_arrays(self.folder / f"chunk-{number}", jax.tree.leaves(outcome.state), outcome.history)
        self.progress["done"].append(number)
        self._commit(current=None)

    def _save_current(self, event: EpochEnd) -> None:
        self._import.join()
        number = self._number(event.chunk.group, event.chunk.members)
        name = f"current-{number}-epoch-{event.epoch + 1}"
        _save_arrays(self.folder / name, jax.tree.leaves(event.host_state()), event.history)
        self._commit(current={"chunk": number, "epochs_done": event.epoch + 1, "path": name})

    def _number(self, group: int, members: tuple[int, ...]) -> int:
        return self.progress["layout"].index([group, list(members)])

    def _commit(self, current: dict[str, Any] | None) -> None:
        """Point progress.json at the new state, then remove what it no longer names."""
        previous = self.progress.get("current")
        self.progress["current"] = current
        write_file_atomically(self.folder / PROGRESS_FILE, json.dumps(self.progress, indent=1))
        if previous is not None and previous != current:
            shutil.rmtree(self.folder / previous["path"], ignore_errors=True)


def _read_progress(folder: Path) -> dict[str, Any]:
    try:
        progress = json.loads((folder / PROGRESS_FILE).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{folder}: no readable checkpoint ({PROGRESS_FILE}: {err})") from None
    if not isinstance(progress, dict) or progress.get("format") != FORMAT or "layout" not in progress:
        raise CheckpointError(f"{folder / PROGRESS_FILE}: not a fastlstm checkpoint")
    return progress


def load_resume(folder: str | Path, digest: str, spec: Any = None) -> Resume:
    """The driver's `Resume` from a checkpoint folder; refuses other data or another spec."""
    folder = Path(folder)
    progress = _read_progress(folder)
    if spec is not None and progress.get("spec") != spec:
        raise CheckpointError(f"{folder}: the checkpoint was made by a different sweep (its spec differs)")
    if progress.get("digest") != digest:
        raise CheckpointError(
            f"{folder}: the checkpoint was made from other data (its SHA-256 differs); resume needs the same data"
        )
    try:
        done = {k: _load_arrays(folder / f"chunk-{k}") for k in progress["done"]}
        current = progress["current"]
        if current is not None:
            leaves, history = _load_arrays(folder / current["path"])
            current = (current["chunk"], current["epochs_done"], leaves, history)
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{folder}: damaged checkpoint ({err})") from None
    layout = tuple((int(g), tuple(int(i) for i in members)) for g, members in progress["layout"])
    return Resume(layout, done, current)


def dataset_digest(ds: Any) -> str:
    """SHA-256 of the arrays a sweep trains and validates on (what resume must see again)."""
    import hashlib

    digest = hashlib.sha256()
    for split in (ds.train, ds.val):
        if split is None:
            continue
        for a in (split.x, split.y, split.weight, split.mask):
            if a is not None:
                digest.update(str((a.shape, a.dtype)).encode())
                digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()
