"""The rung-synchronous driver: successive halving that stops paying for pruned members.

Under vmap a masked member still costs a full step, so pruning by masking frees
nothing. This driver trains every chunk up to the next rung epoch, keeping each
chunk's member state on the host between segments; at the rung it ranks the
configurations (fastlstm/spec/_schedulers.py), and gathers the survivors' states -
parameters, optimizer and callback states, step and epoch counters, RNG keys - and
their hyperparameters into fewer or smaller chunks. Chunk sizes come from a small
fixed set (the device count times a power of two, up to the group's first chunk
size), so each distinct shape compiles its epoch program once. A member's numbers
depend only on its own state and the data, so a survivor ends exactly as it would
have without pruning.

Nothing here changes the plain `Driver`: a sweep without a scheduler never comes here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import jax
import numpy as np

from fastlstm.engine._optimizers import float32_hparams
from fastlstm.engine._program import Data
from fastlstm.runtime._controllers import ChunkInfo, ChunkOutcome, Controller, EpochEnd, SweepInfo, Timer
from fastlstm.runtime._driver import ChunkRun, Driver, SweepHalted
from fastlstm.spec._schedulers import Bracket, rung_survivors, rung_values

if TYPE_CHECKING:
    from fastlstm.engine._program import MemberState
    from fastlstm.spec._schedulers import Hyperband, SuccessiveHalving


@dataclasses.dataclass
class Piece:
    """Members of one group that train together in the current segment.

    `state` is their `MemberState` as NumPy arrays (None before the first segment
    initialises them); `epoch` the epochs they have been through.
    """

    group: int
    members: tuple[int, ...]
    slots: int
    state: MemberState | None = None
    epoch: int = 0


@dataclasses.dataclass
class RungProgress:
    """Everything a rung checkpoint holds: where the sweep is and what was decided so far."""

    segment: int  # index of the segment being trained (into the driver's boundaries)
    pieces: list[Piece]
    finished: list[Piece]  # pruned members' final states
    history: dict[str, np.ndarray]  # metric -> (members, epochs), NaN ahead and after pruning
    pruned: dict[int, int]  # member -> the rung epoch it was pruned at
    decisions: list[dict[str, Any]]
    rungs: list[dict[str, Any]]  # the budget's per-segment rows so far
    member_epochs: int = 0
    # the segment in flight: its first epoch, member_epochs before it, seconds spent on it
    # so far (a resumed segment goes on counting from what the halted one had)
    open_segment: dict[str, Any] | None = None


def chunk_sizes(most: int, devices: int) -> list[int]:
    """The slot counts a group's chunks may have: devices x 2^k (k >= 1) up to half of `most`, and `most`.

    At least two members per device: with one, XLA drops the member axis of the batched
    matmuls and picks other kernels, whose sums differ from the chunk's in the last bit
    (measured on the CPU); two keep a survivor's numbers those of the unpruned sweep.
    A size above half of `most` is left out: it saves less than half of a chunk's step
    yet costs a compilation of its own, which on small data is more than the epochs it
    saves (ItalyPowerDemand, 9 trials: 8 survivors in 8 slots instead of the compiled 9).
    """
    sizes, s = [], 2 * max(1, devices)
    while 2 * s <= most:
        sizes.append(s)
        s *= 2
    return [*sizes, most]


def repack(group: int, members: Sequence[int], most: int, devices: int) -> list[Piece]:
    """Members of one group in as few chunks as fit (`most` each), each padded to an allowed size."""
    members = sorted(members)
    if not members:
        return []
    n_chunks = -(-len(members) // most)
    size = -(-len(members) // n_chunks)
    slots = next(s for s in chunk_sizes(most, devices) if s >= size)
    return [Piece(group, tuple(members[k : k + size]), slots) for k in range(0, len(members), size)]


def gather(pieces: Sequence[Piece], members: Sequence[int]) -> Any:
    """The host states of `members`, in that order, from the pieces that hold them."""
    rows = {m: (p, k) for p in pieces for k, m in enumerate(p.members)}
    parts = [jax.tree.map(lambda a, k=k: a[k : k + 1], p.state) for p, k in (rows[m] for m in members)]
    return jax.tree.map(lambda *a: np.concatenate(a), *parts)


def member_hparams(driver: Driver, members: Sequence[int]) -> dict[str, np.ndarray]:
    """The members' hyperparameters stacked as a chunk takes them. Not `Driver._chunk_inputs`:
    its RNG keys are not needed here, and computing them compiled a small program for every
    new member count (four per sweep on ItalyPowerDemand)."""
    per_member = [float32_hparams(driver.plan.members[i].hparams) for i in members]
    return {k: np.stack([p[k] for p in per_member]) for k in per_member[0]}


def reuse_compiled(run: ChunkRun, programs: dict) -> ChunkRun:
    """Give `run` the epoch program (and placed data) the first segment compiled ahead of
    time for the same config and chunk shape, when there is one. jit's own cache does not
    hold ahead-of-time compilations: without this a survivor chunk of the first segment's
    shape compiled the same epoch program a second time, which on small data costs more
    than the epochs pruning saves."""
    devices = tuple(run.mesh.devices.flat)
    for key, (_, epoch, data) in programs.items():
        if key[0] == run.cfg and key[1] == run.padded and key[2] == devices:
            run._epoch, run.data = epoch, data
            break
    return run


class RungDriver:
    """Runs a plan segment by segment between rung epochs, pruning whole configurations.

    `driver` supplies the plan, data, configs, first chunk layout and controllers;
    `save` (optional) is called with the `RungProgress` after every rung and on a halt.
    """

    def __init__(
        self,
        driver: Driver,
        scheduler: SuccessiveHalving | Hyperband,
        resume: RungProgress | None = None,
        save: Any = None,
    ):
        self.driver, self.scheduler, self.save = driver, scheduler, save
        plan = driver.plan
        self.epochs = plan.groups[0].structure["epochs"]
        self.config_of = np.array([m.config for m in plan.members])
        self.brackets: tuple[Bracket, ...] = scheduler.brackets(len(plan.configs), self.epochs)
        self.boundaries = sorted({r for b in self.brackets for r in b.rungs} | {self.epochs})
        self.devices = len(jax.local_devices())
        self.most = {g: driver.slots(g) for g in range(len(plan.groups))}
        self.progress = self._rebuilt(resume) if resume is not None else self._fresh()

    def _fresh(self) -> RungProgress:
        d = self.driver
        pieces = [Piece(info.group, info.members, d.slots(info.group)) for info in d.infos]
        names = d.config(0).log_names
        history = {n: np.full((len(d.plan.members), self.epochs), np.nan, np.float32) for n in names}
        return RungProgress(0, pieces, [], history, {}, [], [])

    def _rebuilt(self, progress: RungProgress) -> RungProgress:
        """A loaded checkpoint's pieces hold flat lists of leaves: give them the state's tree back."""
        d = self.driver
        for piece in [*progress.pieces, *progress.finished]:
            if isinstance(piece.state, list):
                info = ChunkInfo(piece.group, 0, 1, 1, piece.members, self.epochs)
                piece.state = jax.tree.unflatten(d.state_structure(info), piece.state)
        return progress

    def run(self) -> tuple[list[ChunkOutcome], dict[str, Any]]:
        """Train to the end; (outcomes of every member, the budget). Raises `SweepHalted`."""
        controllers = self.driver.controllers
        total = self._progress_total()
        info = SweepInfo(len(self.driver.plan.members), len(self.driver.plan.groups), total, self.driver.layout)
        started: list[Controller] = []
        try:
            for c in controllers:
                c.on_sweep_start(info)
                started.append(c)
            p = self.progress
            while p.segment < len(self.boundaries):
                self._segment(self.boundaries[p.segment])
            return self._outcomes(), self.budget()
        finally:
            for c in started:
                c.on_sweep_end()

    def _progress_total(self) -> int:
        """The progress bar's total, as it counts (each chunk adds the epoch it ends at): the
        chunks each segment will have if every configuration's seeds fill them as today's do."""
        alive = {b: len(bracket.configs) for b, bracket in enumerate(self.brackets)}
        per_config = len(self.config_of) / max(1, len(self.driver.plan.configs))
        most = min(self.most.values())
        total = 0
        for k, end in enumerate(self.boundaries):
            members = sum(alive.values()) * per_config
            total += (len(self.progress.pieces) if k == 0 else max(1, -(-int(members) // most))) * end
            for b, bracket in enumerate(self.brackets):
                if end in bracket.rungs and alive[b] > 1:
                    alive[b] = max(1, alive[b] // self.scheduler.eta)
        return total

    def _segment(self, end: int) -> None:
        """Every piece to epoch `end`, then the rung's decisions and the repacking."""
        p = self.progress
        if p.open_segment is None:
            start = min(piece.epoch for piece in p.pieces)
            p.open_segment = {"start": start, "member_epochs": p.member_epochs, "seconds": 0.0}
        opened, clock = p.open_segment, time.perf_counter()
        configs = sorted({int(self.config_of[m]) for piece in p.pieces for m in piece.members})
        members = sum(len(piece.members) for piece in p.pieces)
        slots = [piece.slots for piece in p.pieces]
        for k, piece in enumerate(p.pieces):
            if piece.epoch < end:
                self._train_piece(k, piece, end, clock)
        kept = self._decide(end)
        seconds = opened["seconds"] + time.perf_counter() - clock
        row = {"epoch": end, "configurations": len(configs), "members": members, "kept": len(kept), "chunks": slots}
        row |= {"member_epochs": p.member_epochs - opened["member_epochs"], "seconds": seconds}
        row["epoch_seconds"] = seconds / (end - opened["start"])
        p.rungs.append(row)
        p.segment += 1
        p.open_segment = None
        if self.save is not None:
            self.save(p)

    def _run_for(self, piece: Piece) -> ChunkRun:
        d = self.driver
        info = ChunkInfo(piece.group, 0, len(d.plan.groups), 1, piece.members, self.epochs)
        if piece.state is None:
            return d.chunk_run(info)  # the first segment: as the plain driver builds its chunks
        hp = member_hparams(d, piece.members)
        run = ChunkRun.from_state(
            d.config(piece.group), piece.state, hp, cast(Data, d.data), piece.epoch, piece.slots, d.settings.devices
        )
        return reuse_compiled(run, d._programs)

    def _train_piece(self, k: int, piece: Piece, end: int, clock: float) -> None:
        """Train one piece to epoch `end` with the controllers after every epoch (as `Driver`)."""
        p, controllers = self.progress, self.driver.controllers
        info = ChunkInfo(piece.group, k, len(self.driver.plan.groups), len(p.pieces), piece.members, end, piece.epoch)
        run = self._run_for(piece)
        for c in controllers:
            c.on_chunk_start(info)
        timer, rows = Timer(), list(piece.members)
        active = run.flags()[0]
        while run.epoch < end and active.any():
            logs = run.step()
            for name, values in logs.items():
                p.history[name][rows, run.epoch - 1] = values
            p.member_epochs += len(rows)
            active, diverged = run.flags()
            history = {name: values[rows] for name, values in p.history.items()}
            event = EpochEnd(info, run.epoch - 1, logs, active, diverged, timer.lap(), run.host_state, history)
            decisions = [d for c in controllers if (d := c.on_epoch_end(event)) is not None]
            active = Driver._apply(run, decisions, active)
            for c in controllers:
                c.on_epoch_applied(event)
            if any(d.halt for d in decisions):
                piece.state, piece.epoch = run.host_state(), run.epoch
                segment = cast("dict[str, Any]", p.open_segment)  # open while _segment trains the pieces
                segment["seconds"] += time.perf_counter() - clock
                for c in controllers:
                    c.on_halt(event)
                if self.save is not None:
                    self.save(p)
                raise SweepHalted(f"halted after epoch {run.epoch} of {info.label}")
        piece.state, piece.epoch = run.host_state(), end
        for c in controllers:
            c.on_chunk_end(ChunkOutcome(info, piece.state, history={}))

    def _decide(self, end: int) -> list[int]:
        """Rank the brackets with a rung at `end`; prune the losers' members; repack. Returns the kept configurations."""
        p, s = self.progress, self.scheduler
        alive = sorted({int(self.config_of[m]) for piece in p.pieces for m in piece.members})
        diverged = np.zeros(len(self.config_of), bool)
        for piece in p.pieces:
            diverged[list(piece.members)] = cast("MemberState", piece.state).diverged  # trained to `end`: it has one
        values = rung_values(p.history[s.metric], end, diverged)
        dropped: set[int] = set()
        for b, bracket in enumerate(self.brackets):
            candidates = [c for c in bracket.configs if c in alive]
            if end not in bracket.rungs or len(candidates) < 2:
                continue
            kept, scores = rung_survivors(
                values,
                self.config_of,
                candidates,
                s.eta,
                higher_is_better=s.higher_is_better(),
                lower_bound=s.lower_bound,
            )
            lost = [c for c in candidates if c not in kept]
            dropped |= set(lost)
            p.decisions.append(
                {
                    "epoch": end,
                    "bracket": b,
                    "kept": list(kept),
                    "pruned": lost,
                    "scores": {str(c): scores[c] for c in candidates},
                }
            )
        if dropped:
            self._prune(end, dropped)
        return [c for c in alive if c not in dropped]

    def _prune(self, end: int, dropped: set[int]) -> None:
        """Finish the dropped configurations' members (their final state) and regather the rest."""
        p = self.progress
        for g in sorted({piece.group for piece in p.pieces}):
            pieces = [piece for piece in p.pieces if piece.group == g]
            everyone = sorted(m for piece in pieces for m in piece.members)
            lost = [m for m in everyone if int(self.config_of[m]) in dropped]
            if not lost:
                continue
            finished = self._finish(g, gather(pieces, lost), lost, end)
            p.finished.append(finished)
            for m in lost:
                p.pruned[m] = end
            for name in p.history:
                p.history[name][lost, end:] = np.nan
            keep = [m for m in everyone if m not in set(lost)]
            fresh = repack(g, keep, self.most[g], self.devices)
            for piece in fresh:
                piece.state, piece.epoch = gather(pieces, piece.members), end
            p.pieces = [q for q in p.pieces if q.group != g] + fresh
        p.pieces.sort(key=lambda q: (q.group, q.members))

    def _finish(self, group: int, state: MemberState, members: list[int], end: int) -> Piece:
        """Callbacks' end of training (restoring best weights) for pruned members."""
        d = self.driver
        slots = next(s for s in chunk_sizes(self.most[group], self.devices) if s >= min(len(members), self.most[group]))
        hp = member_hparams(d, members)
        parts, most = [], self.most[group]
        for k in range(0, len(members), most):
            part = jax.tree.map(lambda a, k=k: a[k : k + most], state)
            rows = {n: v[k : k + most] for n, v in hp.items()}
            parts.append(
                ChunkRun.from_state(
                    d.config(group), part, rows, cast(Data, d.data), end, slots, d.settings.devices
                ).finish()
            )
        return Piece(group, tuple(members), slots, jax.tree.map(lambda *a: np.concatenate(a), *parts), end)

    def _outcomes(self) -> list[ChunkOutcome]:
        """One outcome per group in member order (as the plain driver's chunks concatenate):
        survivors finished now, pruned members as they were finished at their rung."""
        p, d = self.progress, self.driver
        finished = []
        for piece in p.pieces:
            finished.append(dataclasses.replace(piece, state=self._run_for(piece).finish()))
        out = []
        for g in sorted({piece.group for piece in [*finished, *p.finished]}):
            pieces = [q for q in [*finished, *p.finished] if q.group == g]
            members = tuple(sorted(m for q in pieces for m in q.members))
            info = ChunkInfo(g, 0, len(d.plan.groups), 1, members, self.epochs)
            history = {n: v[list(members)] for n, v in p.history.items()}
            out.append(ChunkOutcome(info, gather(pieces, members), history))
        return out

    def budget(self) -> dict[str, Any]:
        """Member-epochs executed against the full grid's, per rung: configurations, members, seconds."""
        p = self.progress
        pruned_at: dict[str, int] = {}
        for m, epoch in sorted(p.pruned.items()):
            pruned_at.setdefault(str(int(self.config_of[m])), epoch)
        return {
            "scheduler": self.scheduler.get_config(),
            "member_epochs": int(p.member_epochs),
            "full_member_epochs": int(len(self.config_of) * self.epochs),
            "rungs": [dict(r) for r in p.rungs],
            "pruned_at": pruned_at,
            "decisions": [dict(x) for x in p.decisions],
        }


__all__ = ["Piece", "RungDriver", "RungProgress", "chunk_sizes", "repack"]
