"""An 8-seed sweep of a Keras-built Embedding + Bidirectional model against `fit` run 8 times.

    python bench/keras_model_sweep.py fastlstm [--seeds 8] [--epochs 3]
    python bench/keras_model_sweep.py keras    [--seeds 8] [--epochs 3]

The same `keras.Model` (token ids, Embedding(mask_zero=True), Bidirectional(LSTM(64)),
a softmax head) and the same padded data: `fl.sweep(x, y, model=keras_model, seeds=S)`
against S fresh clones of it, each compiled with Adam and fitted, one after another, as a
Keras user measures seeds. Each side prints its wall time from before the model is built
to the last epoch; run each in its own process (KERAS_BACKEND=jax is set here).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np

ROWS, TIMESTEPS, VOCAB, CLASSES = 2048, 64, 1000, 4


def token_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Post-padded token ids (0 = padding) of lengths 16..64, and a label that depends on them."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(16, TIMESTEPS + 1, ROWS)
    x = rng.integers(1, VOCAB, (ROWS, TIMESTEPS))
    x[np.arange(TIMESTEPS)[None, :] >= lengths[:, None]] = 0
    y = (x[:, :8].sum(axis=1) % CLASSES).astype(np.int64)
    return x.astype(np.int32), y


def keras_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((TIMESTEPS,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 32, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(64)),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )


def run_fastlstm(x: np.ndarray, y: np.ndarray, seeds: int, epochs: int) -> None:
    import fastlstm as fl

    fl.sweep(x, y, model=keras_model(), seeds=seeds, epochs=epochs, batch_size=64, verbose=0)


def run_keras(x: np.ndarray, y: np.ndarray, seeds: int, epochs: int) -> None:
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        model = keras_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=["fastlstm", "keras"])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    x, y = token_data()
    start = time.perf_counter()
    (run_fastlstm if args.side == "fastlstm" else run_keras)(x, y, args.seeds, args.epochs)
    print(f"{args.side}: {time.perf_counter() - start:.1f} s for {args.seeds} seeds x {args.epochs} epochs")


if __name__ == "__main__":
    main()
