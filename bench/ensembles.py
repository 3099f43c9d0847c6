"""The seeds as an ensemble: accuracy and calibration of the averaged members against the
mean member, on held-out data.

    python bench/ensembles.py [--seeds 8] [--problems builtin GunPoint JapaneseVowels] [--epochs-factor 1]
                              [--temperature]

Each problem is swept once (one configuration, `seeds` seeds, Keras's defaults otherwise),
then scored on its held-out test rows: the built-in `early_cue` (2048 training rows, a test
set drawn apart with seed 1), and aeon's GunPoint and JapaneseVowels (their own train/test
splits; JapaneseVowels' sequences have 7-29 steps, padded and masked). Printed per problem:
accuracy, negative log-likelihood and expected calibration error (15 bins) of the ensemble
(`result.predict(x, ensemble=True)`) and of the mean member (each member's own number,
averaged), with the member range. `--temperature` holds out a stratified 20% of the training rows
(passed as validation_data) and adds NLL and ECE with a temperature per member and per ensemble
fitted on them (`fastlstm.stats.fit_temperature`): calibrating after averaging.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastlstm as fl
from fastlstm.stats import expected_calibration_error, fit_temperature, negative_log_likelihood, with_temperature
from fastlstm.tasks import early_cue


def builtin() -> tuple:
    x, y = early_cue(n=2048, seed=0)
    x_test, y_test = early_cue(n=1024, seed=1)
    return x, y, x_test, y_test, {"epochs": 15, "model": fl.ModelSpec(units=32)}


def gunpoint() -> tuple:
    from aeon.datasets import load_gunpoint

    (x, y), (x_test, y_test) = (load_gunpoint(split=s) for s in ("train", "test"))
    steps_first = (np.transpose(a, (0, 2, 1)).astype(np.float32) for a in (x, x_test))
    x, x_test = steps_first
    return x, y, x_test, y_test, {"epochs": 60, "standardize": "feature"}


def japanese_vowels() -> tuple:
    from aeon.datasets import load_japanese_vowels

    (x, y), (x_test, y_test) = (load_japanese_vowels(split=s) for s in ("train", "test"))
    steps = max(a.shape[1] for a in [*x, *x_test])

    def padded(rows: list) -> np.ndarray:  # (n, steps, 12), zeros after the end, masked
        out = np.zeros((len(rows), steps, rows[0].shape[0]), np.float32)
        for i, a in enumerate(rows):
            out[i, : a.shape[1]] = a.T
        return out

    options = {"epochs": 40, "standardize": "feature", "model": fl.ModelSpec(units=32, mask_value=0.0)}
    return padded(x), y, padded(x_test), y_test, options


PROBLEMS = {"builtin": builtin, "GunPoint": gunpoint, "JapaneseVowels": japanese_vowels}


def _predicted(probs: np.ndarray) -> np.ndarray:
    """The class codes: a sigmoid's one column at 0.5, else the most probable column."""
    return (probs[..., 0] >= 0.5).astype(int) if probs.shape[-1] == 1 else probs.argmax(-1)


def held_out_rows(y: np.ndarray, share: float = 0.2, seed: int = 0) -> np.ndarray:
    """A stratified `share` of the training rows (at least one per class) to fit temperatures on:
    aeon's files list the rows by class, so the last rows would hold one class only."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        held[rng.choice(rows, max(1, round(share * len(rows))), replace=False)] = True
    return held


def _codes(result: fl.SweepResult, y: np.ndarray) -> np.ndarray:
    names = list(result.class_names)
    return np.array([names.index(str(v)) for v in y])


def calibrated(result: fl.SweepResult, x_val: np.ndarray, y_val: np.ndarray, x_test: np.ndarray) -> tuple:
    """(members, ensemble) test probabilities, each with its own temperature fitted on the
    validation rows the sweep held out (never on the test rows)."""
    labels = _codes(result, y_val)
    val_members, val_ensemble = result.predict(x_val), result.predict(x_val, ensemble=True)[0]
    members = np.stack(
        [with_temperature(p, fit_temperature(v, labels)) for p, v in zip(result.predict(x_test), val_members)]
    )
    ensemble = with_temperature(result.predict(x_test, ensemble=True)[0], fit_temperature(val_ensemble, labels))
    return members, ensemble


def scores(result: fl.SweepResult, x_test: np.ndarray, y_test: np.ndarray, outputs: tuple | None = None) -> dict:
    """(ensemble, mean member, member min, member max) of accuracy, NLL and ECE."""
    labels = _codes(result, y_test)
    members, ensemble = outputs or (result.predict(x_test), result.predict(x_test, ensemble=True)[0])
    out = {}
    for name, fn in (
        ("accuracy", lambda p: float(np.mean(_predicted(p) == labels))),
        ("nll", lambda p: negative_log_likelihood(p, labels)),
        ("ece", lambda p: expected_calibration_error(p, labels)),
    ):
        each = np.array([fn(p) for p in members])
        out[name] = (fn(ensemble), each.mean(), each.min(), each.max())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--epochs-factor", type=float, default=1.0, help="train each problem this many times longer")
    parser.add_argument(
        "--temperature",
        action="store_true",
        help="hold out a stratified 20%% of the training rows and score, beside the raw probabilities, each member and "
        "each ensemble with its own temperature fitted on them",
    )
    args = parser.parse_args()
    print("| problem | test rows | metric | ensemble | mean member | member range | ensemble better |")
    print("|---|---|---|---|---|---|---|")
    for problem in args.problems:
        x, y, x_test, y_test, options = PROBLEMS[problem]()
        options["epochs"] = round(options["epochs"] * args.epochs_factor)
        start = time.perf_counter()
        held = held_out_rows(y) if args.temperature else np.zeros(len(y), bool)
        fit, cal = ~held, held
        extra = {"validation_data": (x[cal], y[cal])} if args.temperature else {}
        result = fl.sweep(x[fit], y[fit], seeds=args.seeds, batch_size=32, verbose=0, **extra, **options)
        seconds = time.perf_counter() - start
        table = {k: v for k, v in scores(result, x_test, y_test).items()}
        if args.temperature:
            fitted = calibrated(result, x[cal], y[cal], x_test)
            table |= {
                f"{k} (temperature)": v for k, v in scores(result, x_test, y_test, fitted).items() if k != "accuracy"
            }
        for metric, (ens, mean, low, high) in table.items():
            better = ens >= mean if metric.startswith("accuracy") else ens <= mean
            print(
                f"| {problem} | {len(y_test)} | {metric} | {ens:.4f} | {mean:.4f} | {low:.4f} … {high:.4f} | "
                f"{'yes' if better else 'NO'} |",
                flush=True,
            )
        print(
            f"<!-- {problem}: {args.seeds} seeds x {options['epochs']} epochs trained in {seconds:.0f} s -->",
            flush=True,
        )


if __name__ == "__main__":
    main()
