"""Random search + successive halving in one fastlstm run against Optuna at the same budget.

    python bench/search_vs_optuna.py [--repeats 3] [--trials 27] [--seeds 3] [--epochs 9]

Task: the built-in `early_cue` (2048 training rows, the last quarter for validation), a
held-out test set drawn apart (`early_cue(seed=1)`). Search space: learning_rate
log-uniform in [1e-4, 1e-1], dropout uniform in [0, 0.5].

- fastlstm: `trials` configurations x `seeds` seeds, `fl.SuccessiveHalving(eta=3)` on
  val_loss ranked by the mean over seeds, all in one `fl.sweep`.
- Optuna: TPE sampler with its SuccessiveHalvingPruner (min_resource 1, reduction
  factor 3), one trial = one member (one seed) trained by the same fastlstm program
  (the settings are traced numbers, so every trial reuses one compiled program); each
  epoch's val_loss is reported to the trial and a pruned trial stops there. Trials run
  until they have spent the member-epochs fastlstm spent.
- Both winners are retrained on 8 fresh seeds for the full epochs; we report their
  held-out accuracy, mean with its 95% CI, wall time of each search and member-epochs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastlstm as fl
from fastlstm.controllers import Controller, Decision
from fastlstm.stats import describe
from fastlstm.tasks import early_cue

SPACE = {"learning_rate": (1e-4, 1e-1), "dropout": (0.0, 0.5)}
COMMON = {"batch_size": 64, "validation_split": 0.25, "verbose": 0}


def task() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = early_cue(n=2048, seed=0)
    x_test, y_test = early_cue(n=1024, seed=1)
    return x, y, x_test, y_test


def fastlstm_search(x, y, trials: int, seeds: int, epochs: int, repeat: int) -> tuple[dict, int, float]:
    start = time.perf_counter()
    result = fl.sweep(
        x,
        y,
        grid={"learning_rate": fl.loguniform(*SPACE["learning_rate"]), "dropout": fl.uniform(*SPACE["dropout"])},
        trials=trials,
        search_seed=repeat,
        seeds=[1000 * repeat + s for s in range(seeds)],
        scheduler=fl.SuccessiveHalving(eta=3, min_epochs=1, metric="val_loss"),
        epochs=epochs,
        **COMMON,
    )
    seconds = time.perf_counter() - start
    best = result.best(metric="val_loss")
    settings = {k: best.settings[k] for k in SPACE}
    return settings, int(result.budget["member_epochs"]), seconds


class ReportToTrial(Controller):
    """Reports each epoch's val_loss to an Optuna trial; stops the member when it is pruned."""

    def __init__(self, trial) -> None:
        self.trial, self.epochs, self.pruned = trial, 0, False

    def on_epoch_end(self, event) -> Decision | None:
        self.epochs = event.epoch + 1
        self.trial.report(float(event.logs["val_loss"][0]), event.epoch)
        if self.trial.should_prune():
            self.pruned = True
            return Decision(stop=np.ones_like(event.active))
        return None


def optuna_search(x, y, budget: int, epochs: int, repeat: int) -> tuple[dict, int, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=repeat),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    )
    spent = 0
    start = time.perf_counter()
    while spent < budget:
        trial = study.ask()
        lr = trial.suggest_float("learning_rate", *SPACE["learning_rate"], log=True)
        dropout = trial.suggest_float("dropout", *SPACE["dropout"])
        reporter = ReportToTrial(trial)
        result = fl.sweep(
            x, y, seeds=[1000 * repeat + trial.number], grid={"learning_rate": [lr], "dropout": [dropout]},
            epochs=epochs, controllers=[reporter], **COMMON,
        )  # fmt: skip
        spent += reporter.epochs
        if reporter.pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, float(result.history["val_loss"][0][-1]))
    seconds = time.perf_counter() - start
    return dict(study.best_params), spent, seconds


def held_out(x, y, x_test, y_test, settings: dict, epochs: int) -> dict:
    """The winner retrained on 8 fresh seeds: held-out accuracy, mean and 95% CI."""
    grid = {k: [v] for k, v in settings.items()}
    result = fl.sweep(x, y, seeds=list(range(5000, 5008)), grid=grid, epochs=epochs, **COMMON)
    return describe(np.asarray(result.evaluate(x_test, y_test)["accuracy"]), bounds=(0.0, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=27)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=9)
    args = parser.parse_args()
    x, y, x_test, y_test = task()
    print("| repeat | search | wall s | member-epochs | winner lr | winner dropout | held-out acc (8 seeds) |")
    print("|---|---|---|---|---|---|---|")
    for repeat in range(args.repeats):
        ours = fastlstm_search(x, y, args.trials, args.seeds, args.epochs, repeat)
        theirs = optuna_search(x, y, ours[1], args.epochs, repeat)
        for name, (settings, spent, seconds) in (("fastlstm", ours), ("optuna", theirs)):
            s = held_out(x, y, x_test, y_test, settings, args.epochs)
            acc = f"{s['mean']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]"
            row = [
                repeat,
                name,
                f"{seconds:.1f}",
                spent,
                f"{settings['learning_rate']:.2e}",
                f"{settings['dropout']:.2f}",
                acc,
            ]
            print("| " + " | ".join(map(str, row)) + " |", flush=True)


if __name__ == "__main__":
    main()
