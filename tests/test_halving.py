"""Successive halving and Hyperband: the decisions, the compaction, the budget, resume, bad input."""

import logging
import math

import jax
import numpy as np
import pytest
from conftest import make_data

import fastlstm as fl
from fastlstm.controllers import Controller, Decision
from fastlstm.runtime import SweepHalted
from fastlstm.runtime._rung_driver import chunk_sizes, repack
from fastlstm.spec._schedulers import Hyperband, SuccessiveHalving, rung_survivors, rung_values
from fastlstm.stats import best_configuration

X, Y = make_data(n=60, timesteps=5)
GRID = {"learning_rate": [1e-3, 1e-2, 3e-2], "dropout": [0.0, 0.2, 0.4]}  # 9 configurations
COMMON = dict(
    model=fl.ModelSpec(units=5), seeds=2, grid=GRID, epochs=4, batch_size=32, validation_split=0.25, verbose=0
)
HALVING = fl.SuccessiveHalving(eta=3, min_epochs=1)  # rungs at 1 and 3; the end at 4


# --- the decision, a pure function over a history table ----------------------------------


def test_keeps_exactly_the_top_configurations_by_mean_over_seeds():
    # 6 configurations x 2 seeds; configuration 4 has the single best seed (0.10) but a mean
    # of 0.5; 1 (0.25) and 3 (0.30) have the best means. eta 3 keeps 6 // 3 = 2 of them.
    config_of_member = np.repeat(np.arange(6), 2)
    values = np.array([0.5, 0.5, 0.2, 0.3, 0.6, 0.6, 0.3, 0.3, 0.1, 0.9, 0.7, 0.8])
    kept, scores = rung_survivors(values, config_of_member, range(6), 3, higher_is_better=False)
    assert kept == (1, 3)
    assert scores[4] == pytest.approx(0.5)
    kept_high, _ = rung_survivors(values, config_of_member, range(6), 3, higher_is_better=True)
    assert kept_high == (2, 5)  # higher is better: means 0.75 (5) and 0.6 (2); not 4 (its best seed 0.9)
    # floor(n / eta), at least one
    assert len(rung_survivors(values, config_of_member, [0, 1], 3, higher_is_better=False)[0]) == 1


def test_lower_bound_prefers_the_configuration_whose_seeds_agree():
    config_of_member = np.repeat(np.arange(3), 3)
    #                 steady 0.30          spread, mean 0.29          bad
    values = np.array([0.30, 0.31, 0.29, 0.05, 0.30, 0.52, 0.9, 0.9, 0.9])
    assert rung_survivors(values, config_of_member, range(3), 3, higher_is_better=False)[0] == (1,)
    assert rung_survivors(values, config_of_member, range(3), 3, higher_is_better=False, lower_bound=True)[0] == (0,)


def test_rung_values_use_the_last_finite_value_and_drop_diverged_members():
    history = np.array([[1.0, 0.8, 0.6], [1.0, 0.7, np.nan], [1.0, np.nan, np.nan]])
    values = rung_values(history, 3, diverged=np.array([False, False, True]))
    np.testing.assert_array_equal(values[:2], [0.6, 0.7])  # member 1 was stopped after epoch 2
    assert math.isnan(values[2])


def test_a_configuration_with_no_finite_value_ranks_last():
    config_of_member = np.repeat(np.arange(3), 2)
    values = np.array([np.nan, np.nan, 5.0, 5.0, 9.0, 9.0])
    assert rung_survivors(values, config_of_member, range(3), 2, higher_is_better=False)[0] == (1,)


def test_rungs_and_hyperband_brackets():
    assert SuccessiveHalving(eta=3, min_epochs=1).brackets(27, 9)[0].rungs == (1, 3)
    assert SuccessiveHalving(eta=2, min_epochs=2).brackets(4, 16)[0].rungs == (2, 4, 8)
    brackets = Hyperband(eta=3).brackets(27, 9)
    assert [b.rungs for b in brackets] == [(1, 3), (3,), ()]
    every = sorted(c for b in brackets for c in b.configs)
    assert every == list(range(27))  # each configuration in exactly one bracket
    assert [len(b.configs) for b in brackets] == [14, 8, 5]  # 27 in Li et al.'s 9 : 5 : 3
    assert Hyperband(eta=3).brackets(27, 9) == brackets  # deterministic
    assert [b.rungs for b in Hyperband(eta=3).brackets(9, 4)] == [(1,), ()]  # R = 4: s_max 1, 4 // 3 = 1


def test_chunk_sizes_come_from_a_small_fixed_set():
    assert chunk_sizes(18, 2) == [4, 8, 18]  # 16 would save too little of 18 to pay for its compilation
    assert chunk_sizes(9, 2) == [4, 9]
    assert [p.slots for p in repack(0, range(6), 18, 2)] == [8]
    pieces = repack(0, range(40), 18, 2)
    assert [len(p.members) for p in pieces] == [14, 14, 12] and {p.slots for p in pieces} == {18}


@pytest.mark.slow
def test_survivors_compile_no_program_the_full_grid_has_not_but_one_per_smaller_shape():
    """Issue 26 item 17: 9 trials in chunks of 9 (as ItalyPowerDemand's auto chunk): the 6
    survivors ran in a new 8-slot shape and every repacked chunk compiled its RNG keys'
    program again; now they reuse the 9 slots, and only the 4-slot last rung compiles."""
    counts, common = {}, {**COMMON, "model": fl.ModelSpec(units=4)}  # shapes of this test's own
    for name, scheduler in (("full", None), ("halving", HALVING)):  # halving then compiles only what is new
        handler = _ProgramCompiles()
        logging.getLogger("jax").addHandler(handler)
        jax.config.update("jax_log_compiles", True)
        try:
            result = fl.sweep(X, Y, scheduler=scheduler, members_per_chunk=9, **common)
        finally:
            jax.config.update("jax_log_compiles", False)
            logging.getLogger("jax").removeHandler(handler)
        counts[name] = handler.counts
    assert [r["chunks"] for r in result.budget["rungs"]] == [[9, 9], [9], [4]]
    assert counts["full"]["epoch"] == 1
    assert counts["halving"] == {"epoch": 1, "finish": 1}  # the last rung's 4 slots, nothing else


class _ProgramCompiles(logging.Handler):
    """Counts `Compiling jit(NAME)` log records by NAME."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts: dict[str, int] = {}

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Compiling jit("):
            name = message[len("Compiling jit(") :].split(")")[0]
            self.counts[name] = self.counts.get(name, 0) + 1


def test_best_says_whether_the_best_beats_the_runner_up():
    configs = [{"c": 0}, {"c": 1}, {"c": 2}]
    config_of_member = np.repeat(np.arange(3), 6)
    clear = np.concatenate(
        [np.full(6, 0.9) + np.arange(6) * 1e-3, np.full(6, 0.5) + np.arange(6) * 1e-3, np.arange(6) * 1e-2]
    )
    best = best_configuration(clear, config_of_member, configs, metric="accuracy")
    assert (best.config, best.runner_up, best.significant) == (0, 1, True)
    close = np.concatenate([[0.80, 0.70, 0.90, 0.75, 0.85, 0.8], [0.79, 0.71, 0.88, 0.76, 0.84, 0.8], np.full(6, 0.1)])
    best = best_configuration(close, config_of_member, configs, metric="accuracy")
    assert best.significant is False and "not distinguishable" in best.verdict
    only_late = best_configuration(clear, config_of_member, configs, metric="accuracy", eligible=[False, True, True])
    assert only_late.config == 1 and only_late.runner_up == 2


# --- the driver: a pruned sweep against the same sweep without pruning ---------------------


class _EpochCompiles(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        if "Compiling jit(epoch)" in record.getMessage():
            self.count += 1


@pytest.fixture(scope="module")
def runs():
    """(pruned result, compiles of the epoch program by it and the sweep after it, the same
    sweep without a scheduler)."""
    handler = _EpochCompiles()
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    jax.config.update("jax_log_compiles", True)
    try:
        pruned = fl.sweep(X, Y, scheduler=HALVING, **COMMON)
        full = fl.sweep(X, Y, **COMMON)  # its one chunk has the first rung's shape
    finally:
        jax.config.update("jax_log_compiles", False)
        logger.removeHandler(handler)
        logger.setLevel(level)
    return pruned, handler.count, full


@pytest.mark.slow
def test_budget_of_a_small_case(runs):
    pruned = runs[0]
    b = pruned.budget
    # 9 configurations x 2 seeds: 18 members x 1 epoch, 6 x 2 (epochs 2-3), 2 x 1 (epoch 4)
    assert (b["member_epochs"], b["full_member_epochs"]) == (18 + 12 + 2, 72)
    assert [(r["epoch"], r["configurations"], r["members"], r["kept"]) for r in b["rungs"]] == [
        (1, 9, 18, 3),
        (3, 3, 6, 1),
        (4, 1, 2, 1),
    ]
    assert all(r["seconds"] > 0 for r in b["rungs"])
    assert sorted(b["pruned_at"].values()) == [1] * 6 + [3] * 2


def test_a_configuration_is_pruned_whole_with_its_rung(runs):
    pruned = runs[0]
    for c in range(len(pruned.configs)):
        rows = [m for m in pruned.members if m["config"] == c]
        assert len({m["status"] for m in rows}) == 1
        assert len({m["pruned_epoch"] for m in rows}) == 1
    statuses = [m["status"] for m in pruned.members]
    assert statuses.count("pruned") == 16 and statuses.count("ok") == 2


def test_survivors_equal_the_same_members_without_pruning(runs):
    pruned, _, full = runs
    survivors = [m["index"] for m in pruned.members if m["status"] != "pruned"]
    for name in pruned.history:
        np.testing.assert_array_equal(pruned.history[name][survivors], full.history[name][survivors])
    for i in survivors:
        for a, b in zip(jax.tree.leaves(pruned.member_params(i)), jax.tree.leaves(full.member_params(i))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # result.params keeps member order, as without a scheduler
    first = jax.tree.leaves(pruned.params)[0]
    np.testing.assert_array_equal(
        np.asarray(first[survivors[0]]), np.asarray(jax.tree.leaves(full.params)[0][survivors[0]])
    )


def test_pruned_members_history_ends_at_their_rung(runs):
    pruned, _, full = runs
    for m in pruned.members:
        if m["status"] != "pruned":
            continue
        i, rung = m["index"], m["pruned_epoch"]
        np.testing.assert_array_equal(pruned.history["loss"][i, :rung], full.history["loss"][i, :rung])
        assert np.isnan(pruned.history["loss"][i, rung:]).all()
        assert m["epochs_trained"] == rung


def test_each_chunk_shape_compiles_its_epoch_program_once(runs):
    pruned, compiles, _ = runs
    shapes = {slots for r in pruned.budget["rungs"] for slots in r["chunks"]}
    assert [r["chunks"] for r in pruned.budget["rungs"]] == [[18], [8], [4]]  # 18 members, 6 in 8 slots, 2 in 4
    # four chunks (the sweep without a scheduler ran one more of 18 slots) of three shapes no
    # earlier test of this module compiled: three compiles, where one per chunk would be four
    assert compiles == len(shapes) == 3


def test_best_ranks_only_configurations_that_reached_the_end(runs):
    pruned = runs[0]
    best = pruned.best()
    assert pruned.members[best.member]["status"] == "ok"
    assert best.runner_up is None  # one configuration reached the end


def test_budget_saved_and_loaded(runs, tmp_path):
    pruned = runs[0]
    loaded = fl.load(pruned.save(tmp_path / "run", report=False))
    assert loaded.budget["member_epochs"] == pruned.budget["member_epochs"]
    assert loaded.budget["rungs"] == pruned.budget["rungs"]
    assert loaded.budget["pruned_at"] == pruned.budget["pruned_at"]
    header = (tmp_path / "run" / "members.csv").read_text().splitlines()[0].split(",")
    assert header.index("pruned_epoch") == header.index("stopped_epoch") + 1
    assert [m["status"] for m in loaded.members] == [m["status"] for m in pruned.members]


class _HaltAfter(Controller):
    def __init__(self, epochs):
        self.epochs, self.seen = epochs, 0

    def on_epoch_end(self, event):
        self.seen += 1
        return Decision(halt=True) if self.seen == self.epochs else None


@pytest.mark.slow
@pytest.mark.parametrize("halt_after", [1, 2])  # in the first segment (before the rung); just after the rung
def test_resume_across_a_rung_gives_the_same_decisions_and_numbers(runs, tmp_path, halt_after):
    pruned = runs[0]
    folder = tmp_path / "ck"
    with pytest.raises(SweepHalted):
        fl.sweep(X, Y, scheduler=HALVING, checkpoint=folder, controllers=[_HaltAfter(halt_after)], **COMMON)
    resumed = fl.sweep(X, Y, scheduler=HALVING, resume=folder, **COMMON)
    assert resumed.budget["decisions"] == pruned.budget["decisions"]
    assert resumed.budget["member_epochs"] == pruned.budget["member_epochs"]
    counted = ("epoch", "configurations", "members", "kept", "member_epochs", "chunks")
    assert [[r[k] for k in counted] for r in resumed.budget["rungs"]] == [
        [r[k] for k in counted] for r in pruned.budget["rungs"]
    ]
    assert [m["status"] for m in resumed.members] == [m["status"] for m in pruned.members]
    for name in pruned.history:
        np.testing.assert_array_equal(resumed.history[name], pruned.history[name])
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(pruned.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_checkpoint_every_with_a_scheduler_is_a_warning_not_silence(tmp_path):
    ignored = pytest.warns(UserWarning, match=r"checkpoint_every=2 is ignored with a scheduler")
    with ignored, pytest.raises(SweepHalted):
        fl.sweep(
            X, Y, scheduler=HALVING, checkpoint=tmp_path / "ck", checkpoint_every=2,
            controllers=[_HaltAfter(1)], **COMMON,
        )  # fmt: skip
    assert (tmp_path / "ck").is_dir()  # the rung checkpoint was still written on the halt


def test_the_scheduler_round_trips_through_toml():
    spec = fl.SweepSpec.from_dict({"grid": GRID, "epochs": 9, "scheduler": {"type": "hyperband", "eta": 3}})
    again = fl.SweepSpec.from_toml(spec.to_toml())
    assert again.scheduler == fl.Hyperband(eta=3)
    assert "[scheduler]" in spec.to_toml() and 'type = "hyperband"' in spec.to_toml()
    assert fl.SweepSpec.from_dict({"grid": GRID, "scheduler": HALVING}).scheduler == HALVING


# --- bad input: clear errors before anything compiles -------------------------------------


@pytest.fixture
def no_compile(monkeypatch):
    import fastlstm.runtime._chunk_run as chunk_run
    import fastlstm.runtime._driver as driver

    def boom(*args, **kwargs):
        raise AssertionError("bad input reached the engine")

    monkeypatch.setattr(driver, "compiled_program", boom)
    monkeypatch.setattr(chunk_run, "compiled_program", boom)


@pytest.mark.parametrize(
    "scheduler, extra, words",
    [
        (lambda: fl.SuccessiveHalving(eta=1), {}, "eta must be an integer >= 2"),
        (lambda: fl.SuccessiveHalving(min_epochs=0), {}, "min_epochs must be an integer >= 1"),
        (lambda: fl.Hyperband(eta=2.5), {}, "eta must be an integer >= 2"),
        (lambda: fl.SuccessiveHalving(min_epochs=4), {}, "min_epochs=4 leaves no rung before epoch 4"),
        (lambda: fl.SuccessiveHalving(max_epochs=10), {}, "max_epochs=10 is beyond epochs=4"),
        (lambda: HALVING, {"validation_split": 0.0}, "scheduler metric='val_loss' is not logged; logged metrics:"),
        (lambda: HALVING, {"grid": {"learning_rate": [1e-3]}}, "scheduler: successive halving ranks configurations"),
        (lambda: HALVING, {"grid": {**GRID, "epochs": [3, 4]}}, "epochs cannot be a grid key"),
        (lambda: {"type": "median"}, {}, "scheduler: unknown type 'median'; expected one of"),
        (lambda: fl.SuccessiveHalving(mode="up"), {}, "mode must be one of"),
        (lambda: {"type": "hyperband", "rate": 3}, {}, "scheduler: hyperband takes no ['rate']; expected some of"),
        (lambda: {"type": []}, {}, "scheduler: unknown type []; expected one of"),
        (lambda: "hyperband", {}, "scheduler: expected fl.SuccessiveHalving(...) or fl.Hyperband(...) or a table"),
    ],
)
def test_bad_scheduler_input(no_compile, scheduler, extra, words):
    with pytest.raises(ValueError) as err:
        fl.sweep(X, Y, **{**COMMON, "scheduler": scheduler(), **extra})
    assert words in str(err.value)


def test_hyperband_prunes_within_each_bracket_only(runs):
    """Brackets rank their own configurations: a bracket with no rung loses none."""
    result = fl.sweep(X, Y, scheduler=fl.Hyperband(eta=3), **COMMON)
    brackets = fl.Hyperband(eta=3).brackets(9, 4)
    pruned_at = {int(c): e for c, e in result.budget["pruned_at"].items()}
    assert not set(pruned_at) & set(brackets[-1].configs)  # the last bracket trains to the end
    assert len(pruned_at) == len(brackets[0].configs) - max(1, len(brackets[0].configs) // 3)
    assert set(pruned_at.values()) == {1}
    assert [d["bracket"] for d in result.budget["decisions"]] == [0]


@pytest.mark.slow
def test_chunks_of_one_shape_compile_the_epoch_program_once(caplog):
    """18 members 4 at a time: five chunks, then two chunks of 3 and one of 2 survivors, all
    padded to 4 slots: one shape, so one compile of the epoch program over three segments."""
    jax.config.update("jax_log_compiles", True)  # global: the first epoch program compiles in a worker thread
    try:
        with caplog.at_level(logging.DEBUG, logger="jax"):
            result = fl.sweep(
                X, Y, scheduler=HALVING, members_per_chunk=4, **{**COMMON, "model": fl.ModelSpec(units=6)}
            )
    finally:
        jax.config.update("jax_log_compiles", False)
    assert [r["chunks"] for r in result.budget["rungs"]] == [[4] * 5, [4, 4], [4]]
    assert len([r for r in caplog.records if "Compiling jit(epoch)" in r.getMessage()]) == 1


@pytest.mark.slow
def test_cli_prints_the_budget_and_the_report_shows_it(tmp_path, capsys):
    from fastlstm.cli import main

    config = tmp_path / "halving.toml"
    config.write_text(
        "epochs = 3\nseeds = 2\nbatch_size = 32\nvalidation_split = 0.25\n[data]\nsamples = 48\ntimesteps = 4\n"
        "[model]\nunits = 3\n[grid]\nlearning_rate = [1e-3, 1e-2, 3e-2, 1e-1]\n"
        '[scheduler]\ntype = "successive_halving"\neta = 2\nmetric = "val_loss"\n'
    )
    out = tmp_path / "run"
    assert main(["sweep", str(config), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    # 4 configurations x 2 seeds: rungs at 1 and 2 keep 2, then 1: 8 + 4 + 2 member-epochs of 24
    assert "successive_halving (eta 2): 14 of 24 member-epochs (58%), 10 saved" in text
    assert "pruned at epoch 1: 2 configurations" in text and "pruned at epoch 2: 1 configuration" in text
    assert "trained to the end: 1 configuration: " in text and "(learning_rate=" in text
    assert "best: configuration" in text and "val_loss mean" in text
    html = (out / "report.html").read_text()
    assert 'id="budget"' in html and "14 of 24 member-epochs" in html
    loaded = fl.load(out)
    assert loaded.budget["member_epochs"] == 14
    assert loaded.spec.scheduler == fl.SuccessiveHalving(eta=2, metric="val_loss")


def test_the_progress_bar_ends_full():
    import io

    from rich.console import Console

    from fastlstm.runtime._progress import ProgressBar

    bar = ProgressBar(Console(file=io.StringIO()))
    fl.sweep(X, Y, scheduler=HALVING, controllers=[bar], members_per_chunk=4, **COMMON)
    task = bar.progress.tasks[0]
    assert task.completed == task.total  # 5 chunks x 1 epoch + 2 x 3 + 1 x 4
    assert task.total == 5 * 1 + 2 * 3 + 1 * 4


@pytest.mark.slow
def test_callbacks_and_schedules_go_on_after_compaction():
    """Epoch and step counters travel with the members: a warmup-cosine schedule and
    EarlyStopping / ReduceLROnPlateau give the survivors the numbers of the unpruned sweep."""
    callbacks = [
        fl.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True),
        fl.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5),
    ]
    kw = {**COMMON, "model": fl.ModelSpec(units=4), "schedule": "warmup_cosine", "callbacks": callbacks}
    pruned = fl.sweep(X, Y, scheduler=HALVING, members_per_chunk=8, **kw)
    full = fl.sweep(X, Y, members_per_chunk=8, **kw)
    survivors = [m["index"] for m in pruned.members if m["status"] != "pruned"]
    assert survivors
    for name in pruned.history:
        np.testing.assert_array_equal(pruned.history[name][survivors], full.history[name][survivors])
    for i in survivors:
        for key in ("status", "best_epoch", "final_epoch", "stopped_epoch"):
            assert pruned.members[i][key] == full.members[i][key]
        for a, b in zip(jax.tree.leaves(pruned.member_params(i)), jax.tree.leaves(full.member_params(i))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
