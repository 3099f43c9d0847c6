"""One process of tests/test_distributed.py: a tiny sweep, its numbers saved by process 0.

    python tests/distributed_worker.py OUT.npz [--coordinator H:P --num-processes N --process-id I]
        [--devices 1] [--checkpoint DIR [--halt-after K] [--resume]]

Run by path (never collected by pytest). FASTLSTM_CPU_DEVICES in the environment sets
this process's CPU devices. The saved .npz holds every history column and every
parameter leaf (member axis first) and the number of devices the members spanned.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import fastlstm as fl  # before anything starts JAX: configures the host devices

SWEEP = dict(
    model=fl.ModelSpec(units=8),
    seeds=[0, 1, 2, 3, 4],  # odd: two devices need a padded copy, dropped from the results
    grid={"learning_rate": [1e-3, 1e-2]},
    batch_size=16,
    epochs=3,
    validation_split=0.2,
    members_per_chunk=4,  # 10 members: chunks of 4 + 3 + 3, so a resume crosses chunks
    verbose=0,
)


class HaltAfter(fl.Controller):
    """Halt the sweep after `epochs` epochs in all (as Ctrl-C would, with a checkpoint)."""

    def __init__(self, epochs: int) -> None:
        self.left = epochs

    def on_epoch_end(self, event: fl.EpochEnd) -> fl.Decision | None:
        self.left -= 1
        return fl.Decision(halt=True) if self.left == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--coordinator")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--devices", type=int)
    parser.add_argument("--checkpoint")
    parser.add_argument("--halt-after", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.coordinator:
        fl.distributed.initialize(args.coordinator, args.num_processes, args.process_id, timeout_s=60)
    import jax
    from conftest import make_data

    x, y = make_data(n=90)
    extra = {"controllers": [HaltAfter(args.halt_after)]} if args.halt_after else {}
    if args.checkpoint:
        extra.update({"resume": args.checkpoint} if args.resume else {"checkpoint": args.checkpoint})
        extra["checkpoint_every"] = 1
    try:
        result = fl.sweep(x, y, devices=args.devices, **SWEEP, **extra)
    except fl.runtime.SweepHalted:
        print("halted", file=sys.stderr)
        return 3
    if fl.distributed.is_primary():
        arrays = {f"history/{k}": v for k, v in result.history.items()}
        for path, leaf in jax.tree_util.tree_flatten_with_path(result.params)[0]:
            arrays[f"params/{jax.tree_util.keystr(path)}"] = np.asarray(leaf)
        arrays["devices"] = np.asarray(len(jax.devices()) if args.devices is None else args.devices)
        np.savez(args.out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
