"""Checkpoint and resume: the sweep's full state saved between epochs with orbax.

`Checkpointer` is a controller. After every `every` epochs, and always when the sweep
is halted (Ctrl-C, SIGTERM), it saves the chunk in flight - every member's parameters,
optimizer state, callback states, RNG keys and step counters (the whole `MemberState`)
and the history so far - and, when a chunk finishes, that chunk's final state. Orbax
writes in a background thread while the next epoch trains (a blocking save cost 17% of
W1 with 32 seeds saved every epoch; see bench/checkpoint_overhead.py). A small
`progress.json`, written atomically only once orbax has finished the arrays, says which
chunks are done and where the one in flight stopped; it is the only file resume trusts,
so a save cut short (a full disk, a kill) leaves the previous checkpoint in force.

With several processes (fastlstm/runtime/_distributed.py) every process runs the Checkpointer
- gathering a state is a collective they all take part in - but only process 0
writes; every process reads the checkpoint to resume (on several hosts it must be on
a shared filesystem). Orbax is told that each reader or writer works alone.

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
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from fastlstm._common.files import write_file_atomically
from fastlstm.runtime._controllers import ChunkOutcome, Controller, EpochEnd, SweepInfo
from fastlstm.runtime._distributed import is_primary
from fastlstm.runtime._driver import Resume
from fastlstm.runtime._rung_driver import Piece, RungProgress

if TYPE_CHECKING:
    from fastlstm.data._arrays import Dataset
    from fastlstm.engine._program import MemberState

PROGRESS_FILE = "progress.json"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: missing, damaged, or made from other data."""


def _checkpointer() -> Any:
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.PyTreeCheckpointer()
    alone = _on_this_process_only()
    return ocp.Checkpointer(ocp.PyTreeCheckpointHandler(multiprocessing_options=alone), multiprocessing_options=alone)


def _async_checkpointer() -> Any:
    import orbax.checkpoint as ocp

    if jax.process_count() == 1:
        return ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
    alone = _on_this_process_only()
    return ocp.AsyncCheckpointer(
        ocp.PyTreeCheckpointHandler(multiprocessing_options=alone), multiprocessing_options=alone
    )


def _on_this_process_only() -> Any:
    """Orbax options for a save or restore by this process alone: orbax would otherwise
    wait at barriers for processes that write nothing (the states are host arrays)."""
    import orbax.checkpoint as ocp

    me = jax.process_index()
    return ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})


def _pack(leaves: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The state's leaves as one flat array per dtype plus their layout (JSON as bytes).

    A member state has ~30 small arrays; orbax's cost is per array (measured: 30 arrays
    45 ms a save, one array 25 ms), so they travel packed. Packing copies, so training
    may go on while orbax writes.
    """
    arrays = [np.asarray(a) for a in leaves]
    layout = [[a.dtype.str, list(a.shape)] for a in arrays]
    packed = {dtype: np.concatenate([a.ravel() for a in arrays if a.dtype.str == dtype]) for dtype, _ in layout}
    named = {f"dtype_{i}": values for i, values in enumerate(packed.values())}
    order = list(packed)
    named["layout"] = np.frombuffer(json.dumps({"order": order, "leaves": layout}).encode(), np.uint8).copy()
    return named


def _unpack(named: dict[str, Any]) -> list[np.ndarray]:
    spec = json.loads(bytes(np.asarray(named["layout"], np.uint8)).decode())
    flat = {dtype: np.asarray(named[f"dtype_{i}"]) for i, dtype in enumerate(spec["order"])}
    offsets = dict.fromkeys(flat, 0)
    leaves = []
    for dtype, shape in spec["leaves"]:
        size = int(np.prod(shape))
        leaves.append(flat[dtype][offsets[dtype] : offsets[dtype] + size].reshape(shape))
        offsets[dtype] += size
    return leaves


def _save_arrays(saver: Any, path: Path, leaves: list[np.ndarray], history: dict[str, np.ndarray]) -> None:
    """Start writing (orbax writes in a background thread while the next epoch trains)."""
    import orbax.checkpoint as ocp

    tree = {"state": _pack(leaves), "history": {k: np.array(v, copy=True) for k, v in history.items()}}
    saver.save(path.resolve(), args=ocp.args.PyTreeSave(tree), force=True)


def _load_arrays(path: Path) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    tree = _checkpointer().restore(path.resolve())
    return _unpack(tree["state"]), {k: np.asarray(v) for k, v in tree["history"].items()}


class Checkpointer(Controller):
    """Save the sweep to `folder` every `every` epochs (None: only when halted) and per chunk.

    `digest` identifies the data (`fastlstm.runtime._checkpoint.dataset_digest`): resume refuses a
    checkpoint made from other data.
    """

    def __init__(
        self,
        folder: str | Path,
        every: int | None = None,
        digest: str = "",
        spec: dict[str, object] | None = None,
        resume: bool = False,
    ) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ValueError(f"checkpoint every: expected a positive integer or None, got {every!r}")
        self.folder, self.every, self.digest, self.spec = Path(folder), every, digest, spec
        self.resume = resume
        self.writes = is_primary()  # with several processes only process 0 writes
        self.progress: dict[str, Any] = {}
        self._saver: Any = None
        self._pending: tuple[list[int], dict[str, Any] | None] | None = None  # (done, current) once written
        self._import = threading.Thread(target=_checkpointer, daemon=True)  # orbax imports in ~1 s: overlap it

    def on_sweep_start(self, sweep: SweepInfo) -> None:
        self._import.start()
        if self.writes:
            self.folder.mkdir(parents=True, exist_ok=True)
        layout = [[g, list(members)] for g, members in sweep.layout]
        if self.resume:
            self.progress = _read_progress(self.folder)  # a resumed sweep goes on adding to its checkpoint
        else:
            if self.writes:
                _clear(self.folder)  # a new sweep: what an earlier one saved here must not mix with it
            self.progress = {"format": FORMAT, "digest": self.digest, "spec": self.spec, "layout": layout}
            self.progress.update(done=[], current=None)

    def on_epoch_applied(self, event: EpochEnd) -> None:
        """Every `every` epochs, after the controllers' stops were applied (they are saved too).

        Not at a chunk's last epoch: the chunk's end saves its final state right after."""
        if self.every is None or (event.epoch + 1) % self.every or event.epoch + 1 >= event.chunk.epochs:
            return
        state = event.host_state()
        if state.active.any():
            self._save_current(event, state)

    def on_halt(self, event: EpochEnd) -> None:
        self._save_current(event, event.host_state())
        self._flush()  # the process is about to stop: the checkpoint must be on disk

    def on_chunk_end(self, outcome: ChunkOutcome) -> None:
        number = self._number(outcome.info.group, outcome.info.members)
        if number in self.progress["done"]:
            return  # restored from this checkpoint
        done = [*self._latest()[0], number]
        self._save(f"chunk-{number}", jax.tree.leaves(outcome.state), outcome.history, (done, None))

    def on_sweep_end(self) -> None:
        self._flush()

    def _save_current(self, event: EpochEnd, state: MemberState) -> None:
        number = self._number(event.chunk.group, event.chunk.members)
        name = f"current-{number}-epoch-{event.epoch + 1}"
        current = {"chunk": number, "epochs_done": event.epoch + 1, "path": name}
        self._save(name, jax.tree.leaves(state), event.history, (self._latest()[0], current))

    def _latest(self) -> tuple[list[int], dict[str, Any] | None]:
        """(done, current) as they will be once the save in flight is written."""
        return self._pending if self._pending is not None else (list(self.progress["done"]), self.progress["current"])

    def _save(self, name: str, leaves: list[np.ndarray], history: dict[str, np.ndarray], then: tuple) -> None:
        """Write asynchronously (the next epoch trains meanwhile); progress.json follows once it is on disk."""
        if not self.writes:
            self.progress.update(done=then[0], current=then[1])  # what process 0 is writing
            return
        self._flush()
        if self._saver is None:
            self._import.join()
            self._saver = _async_checkpointer()
        _save_arrays(self._saver, self.folder / name, leaves, history)
        self._pending = then

    def _flush(self) -> None:
        """Wait for the save in flight, then point progress.json at it and drop what it replaced."""
        if self._pending is None:
            return
        self._saver.wait_until_finished()
        done, current = self._pending
        self._pending = None
        previous = self.progress.get("current")
        self.progress.update(done=done, current=current)
        write_file_atomically(self.folder / PROGRESS_FILE, json.dumps(self.progress, indent=1))
        if previous is not None and previous != current:
            shutil.rmtree(self.folder / previous["path"], ignore_errors=True)

    def _number(self, group: int, members: tuple[int, ...]) -> int:
        return self.progress["layout"].index([group, list(members)])


def _clear(folder: Path) -> None:
    """Remove what a Checkpointer wrote in `folder` (nothing else)."""
    (folder / PROGRESS_FILE).unlink(missing_ok=True)
    for saved in [*folder.glob("chunk-*"), *folder.glob("current-*")]:
        shutil.rmtree(saved, ignore_errors=True)


def _read_progress(folder: Path) -> dict[str, Any]:
    try:
        progress = json.loads((folder / PROGRESS_FILE).read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{folder}: no readable checkpoint ({PROGRESS_FILE}: {err})") from None
    if not isinstance(progress, dict) or progress.get("format") != FORMAT or "layout" not in progress:
        raise CheckpointError(f"{folder / PROGRESS_FILE}: not a fastlstm checkpoint")
    return progress


def _check_same_sweep(folder: Path, progress: dict[str, Any], digest: str, spec: dict[str, object] | None) -> None:
    """A checkpoint resumes only the sweep that made it: the same spec and the same data."""
    if spec is not None and progress.get("spec") != spec:
        raise CheckpointError(f"{folder}: the checkpoint was made by a different sweep (its spec differs)")
    if progress.get("digest") != digest:
        raise CheckpointError(
            f"{folder}: the checkpoint was made from other data (its SHA-256 differs); resume needs the same data"
        )


def load_resume(folder: str | Path, digest: str, spec: dict[str, object] | None = None) -> Resume:
    """The driver's `Resume` from a checkpoint folder; refuses other data or another spec."""
    folder = Path(folder)
    progress = _read_progress(folder)
    _check_same_sweep(folder, progress, digest, spec)
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


def dataset_digest(ds: Dataset) -> str:
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


# --- the rung checkpoint of a sweep with a scheduler (fastlstm/runtime/_rung_driver.py) ---
#
# The rung-synchronous driver regathers its chunks at every rung, so the per-chunk layout
# above does not describe it. It saves its whole `RungProgress` instead - at every rung
# and when halted - synchronously (a few saves per sweep): each piece's member state,
# the history table, and the decisions so far, pointed at by progress.json (same name,
# so `fastlstm sweep --resume` finds it) with its own format tag.

RUNG_FORMAT = "rungs-1"


def _piece_doc(piece: Any, path: str | None) -> dict[str, Any]:
    return {
        "group": piece.group,
        "members": list(piece.members),
        "slots": piece.slots,
        "epoch": piece.epoch,
        "path": path,
    }


class RungCheckpoint:
    """`save(progress)`: write a `RungProgress` to `folder` (called by the rung driver)."""

    def __init__(self, folder: str | Path, digest: str, spec: Any, fresh: bool = True) -> None:
        self.folder, self.digest, self.spec = Path(folder), digest, spec
        self.folder.mkdir(parents=True, exist_ok=True)
        if fresh:
            _clear(self.folder)
            for saved in self.folder.glob("rungs-*"):
                shutil.rmtree(saved, ignore_errors=True)
        previous = _read_rung_progress(self.folder) if not fresh else None
        self.count = previous["count"] + 1 if previous else 0

    def __call__(self, progress: Any) -> None:
        name = f"rungs-{self.count}"
        (self.folder / name).mkdir(parents=True, exist_ok=True)
        saver = _checkpointer()
        docs: dict[str, list[dict[str, Any]]] = {}
        for kind in ("pieces", "finished"):
            docs[kind] = []
            for j, piece in enumerate(getattr(progress, kind)):
                path = None
                if piece.state is not None:
                    path = f"{name}/{kind}-{j}"
                    _save_arrays(saver, self.folder / path, jax.tree.leaves(piece.state), {})
                docs[kind].append(_piece_doc(piece, path))
        _save_arrays(saver, self.folder / name / "history", [], progress.history)
        doc = {"format": RUNG_FORMAT, "digest": self.digest, "spec": self.spec, "count": self.count, "path": name}
        doc |= {"segment": progress.segment, "member_epochs": progress.member_epochs, **docs}
        doc |= {"pruned": {str(m): e for m, e in progress.pruned.items()}, "decisions": progress.decisions}
        doc |= {"rungs": progress.rungs, "open_segment": progress.open_segment}
        write_file_atomically(self.folder / PROGRESS_FILE, json.dumps(doc, indent=1))
        for old in self.folder.glob("rungs-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        self.count += 1


def _read_rung_progress(folder: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((folder / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == RUNG_FORMAT else None


def load_rung_resume(folder: str | Path, digest: str, spec: dict[str, object] | None = None) -> Any:
    """The rung driver's `RungProgress` from a checkpoint folder (same data and spec only)."""

    folder = Path(folder)
    doc = _read_rung_progress(folder)
    if doc is None:
        raise CheckpointError(f"{folder}: no readable checkpoint of a sweep with a scheduler ({PROGRESS_FILE})")
    _check_same_sweep(folder, doc, digest, spec)
    try:
        history = _load_arrays(folder / doc["path"] / "history")[1]
        pieces = {kind: [_load_piece(folder, p, Piece) for p in doc[kind]] for kind in ("pieces", "finished")}
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"{folder}: damaged checkpoint ({err})") from None
    pruned = {int(m): int(e) for m, e in doc["pruned"].items()}
    return RungProgress(
        doc["segment"],
        pieces["pieces"],
        pieces["finished"],
        history,
        pruned,
        doc["decisions"],
        doc["rungs"],
        doc["member_epochs"],
        doc.get("open_segment"),
    )


def _load_piece(folder: Path, doc: dict[str, Any], piece_type: Any) -> Any:
    """A piece with its state as a flat list of leaves; the driver rebuilds the tree (`unflatten_pieces`)."""
    leaves = None if doc["path"] is None else _load_arrays(folder / doc["path"])[0]
    return piece_type(
        int(doc["group"]), tuple(int(i) for i in doc["members"]), int(doc["slots"]), leaves, int(doc["epoch"])
    )
