"""A whole W1-shaped sweep of Bidirectional(LSTM(64)) against LSTM(64), per member.

    python bench/bidirectional_sweep.py [--seeds 8] [--rows 2048]

Steady epoch = (time of 4 epochs - time of 1 epoch) / 3, each a fresh `fl.sweep` in this
process (the second compiles nothing new). Also the reproduction of a known defect: with
3, 5 or 8 seeds the Bidirectional sweep's init sometimes hangs (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastlstm as fl

MODELS = {
    "LSTM(64)": [{"type": "LSTM", "units": 64}],
    "Bidirectional(LSTM(64))": [{"type": "Bidirectional", "layer": {"type": "LSTM", "units": 64}}],
}


def timed_sweep(x, y, layers, seeds: int, epochs: int) -> float:
    start = time.perf_counter()
    fl.sweep(x, y, model=fl.ModelSpec(layers=layers), seeds=seeds, epochs=epochs, batch_size=64, verbose=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--rows", type=int, default=2048)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, 64, 8)).astype(np.float32)
    y = rng.integers(0, 4, args.rows)
    steady = {}
    for name, layers in MODELS.items():
        one, four = timed_sweep(x, y, layers, args.seeds, 1), timed_sweep(x, y, layers, args.seeds, 4)
        steady[name] = (four - one) / 3
        print(f"{name}: steady epoch {steady[name]:.3f} s for {args.seeds} members", flush=True)
    print(f"ratio {steady['Bidirectional(LSTM(64))'] / steady['LSTM(64)']:.2f}")


if __name__ == "__main__":
    main()
