"""A whole W1-shaped sweep of Bidirectional(LSTM(64)) against LSTM(64), per member.

    python bench/bidirectional_sweep.py [--seeds 8] [--rows 2048] [--epochs 4]

Steady epoch = the epochs after each chunk's first (which holds compilation), timed by
the driver's `EpochClock` controller and summed over the chunks: the wall time of one
epoch of every member, however the driver chunked them.
"""

from __future__ import annotations

import argparse

import numpy as np

import fastlstm as fl

MODELS = {
    "LSTM(64)": [{"type": "LSTM", "units": 64}],
    "Bidirectional(LSTM(64))": [{"type": "Bidirectional", "layer": {"type": "LSTM", "units": 64}}],
}


def steady_epoch(x, y, layers, seeds: int, epochs: int) -> float:
    """Seconds of one steady epoch of all members (every chunk's epochs after its first)."""
    clock = fl.controllers.EpochClock()
    model = fl.ModelSpec(layers=layers)
    fl.sweep(x, y, model=model, seeds=seeds, epochs=epochs, batch_size=64, verbose=0, controllers=[clock])
    return sum(float(np.mean(chunk["epoch_s"][1:])) for chunk in clock.chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, 64, 8)).astype(np.float32)
    y = rng.integers(0, 4, args.rows)
    steady = {}
    for name, layers in MODELS.items():
        steady[name] = steady_epoch(x, y, layers, args.seeds, args.epochs)
        print(f"{name}: steady epoch {steady[name]:.3f} s for {args.seeds} members", flush=True)
    print(f"ratio {steady['Bidirectional(LSTM(64))'] / steady['LSTM(64)']:.2f}")


if __name__ == "__main__":
    main()
