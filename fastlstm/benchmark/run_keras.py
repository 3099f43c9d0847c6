"""Keras 3 on the JAX backend: the members trained one after another with `Model.fit`.

    python -m fastlstm.benchmark.run_keras --workload W1 --members S [--json OUT]

Trains seeds 0..S-1 (for W3: each learning rate x each seed) in this process, a fresh
model per member after `keras.utils.set_random_seed(seed)`:
`Sequential([Input((T, F)), LSTM(u, return_sequences=...) x layers, Dense(classes,
softmax)])`, `Adam(lr, epsilon=1e-7)`, `sparse_categorical_crossentropy`,
`fit(batch_size, epochs, shuffle=True, verbose=0)`, float32, Keras's defaults
otherwise (XLA-compiled train step, JAX's persistent compilation cache untouched, so
off unless the user configured it). Each member's `fit` compiles its own train step,
as it does for a user who loops over seeds. Prints one JSON object (see
`worker.report`); epochs are timed with a small Callback, final train accuracy is
`history["accuracy"][-1]`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

T0 = time.perf_counter()
os.environ["KERAS_BACKEND"] = "jax"

import keras  # noqa: E402

if TYPE_CHECKING or __package__:  # python -m fastlstm.benchmark.run_keras
    from fastlstm.benchmark.worker import jax_device, parse_args, report
    from fastlstm.benchmark.workloads import data_digest, make_data
else:  # started by path, as `fastlstm bench` does
    from worker import jax_device, parse_args, report
    from workloads import data_digest, make_data

IMPORT_S = time.perf_counter() - T0


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        float((logs or {}).get("loss", 0.0))  # the epoch's results are on the host: its work is done
        self.seconds.append(time.perf_counter() - self._start)


def build(w, lr: float) -> keras.Model:
    layers = [keras.Input((w.timesteps, w.features))]
    for i in range(w.layers):
        layers.append(keras.layers.LSTM(w.units, return_sequences=i < w.layers - 1))
    layers.append(keras.layers.Dense(w.classes, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main() -> None:
    args, w = parse_args(__doc__.splitlines()[0])
    x, y = make_data(w)
    members = w.members(args.members)
    accuracies, first_epochs = [], None
    for lr, seed in members:
        keras.utils.clear_session()
        keras.utils.set_random_seed(seed)
        model = build(w, lr)
        timer = EpochTimer()
        hist = model.fit(x, y, batch_size=w.batch_size, epochs=w.epochs, shuffle=True, verbose=0, callbacks=[timer])
        accuracies.append(hist.history["accuracy"][-1])
        first_epochs = first_epochs or timer.seconds
    report(
        "keras",
        args,
        w,
        t0=T0,
        import_s=IMPORT_S,
        members=members,
        final_train_accuracy=accuracies,
        epoch_seconds=first_epochs,
        epoch_members=1,
        data_digest=data_digest(x, y),
        keras_backend=keras.backend.backend(),
        floatx=keras.backend.floatx(),
        **jax_device(),
    )


if __name__ == "__main__":
    main()
