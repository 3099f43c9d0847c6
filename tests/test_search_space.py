"""Search spaces (issue 17): grids enumerate their product; distributions + trials draw
configurations from a seeded stream; the spec, TOML, run folder and CLI carry them."""

import csv
import itertools

import numpy as np
import pytest
import scipy.stats
from conftest import make_data
from guards import patch_train
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlstm as fl
from fastlstm.cli import main
from fastlstm.spec._space import Choice, LogUniform, RandInt, Uniform, distribution_from_table, draw_configurations
from fastlstm.spec._sweep_spec import SpecError, SweepSpec, sweep_spec_from_kwargs

SPACE = {
    "learning_rate": fl.loguniform(1e-4, 1e-1),
    "dropout": fl.uniform(0.0, 0.4),
    "units": fl.randint(4, 17),
    "optimizer": fl.choice(["adam", "rmsprop"]),
}


def _configs(**kwargs):
    return sweep_spec_from_kwargs(**kwargs).plan().configs


# --- grids and random search -------------------------------------------------------------


def test_grid_enumerates_exactly_the_cartesian_product():
    grid = {"learning_rate": [1e-3, 1e-2, 0.1], "units": [4, 8], "optimizer": ["adam", "sgd"]}
    plan = sweep_spec_from_kwargs(grid=grid, seeds=3).plan()
    expected = set(itertools.product(*grid.values()))
    assert len(plan.configs) == 12
    assert {tuple(c[k] for k in grid) for c in plan.configs} == expected
    assert len(plan.members) == 12 * 3
    assert sorted((m.config, m.seed) for m in plan.members) == [(c, s) for c in range(12) for s in range(3)]


def test_seeded_random_search_repeats_exactly():
    first = _configs(grid=SPACE, trials=8, search_seed=3)
    assert _configs(grid=SPACE, trials=8, search_seed=3) == first
    assert _configs(grid=dict(reversed(SPACE.items())), trials=8, search_seed=3) == first  # key order is no matter
    other = _configs(grid=SPACE, trials=8, search_seed=4)
    assert {c["learning_rate"] for c in other}.isdisjoint(c["learning_rate"] for c in first)
    assert len({tuple(sorted(c.items())) for c in first}) == 8  # distinct configurations


def test_a_list_beside_distributions_is_a_choice_among_its_values():
    configs = _configs(grid={"learning_rate": fl.loguniform(1e-3, 0.1), "batch_size": [8, 16]}, trials=6)
    assert len(configs) == 6  # configurations = trials, not trials x the list
    assert {c["batch_size"] for c in configs} == {8, 16}


def test_integer_hyperparameters_come_out_as_python_ints():
    plan = sweep_spec_from_kwargs(grid={"units": fl.randint(2, 9), "batch_size": fl.choice([8, 16])}, trials=5).plan()
    for config in plan.configs:
        assert type(config["units"]) is int and type(config["batch_size"]) is int
    for group in plan.groups:
        assert type(group.structure["units"]) is int


def test_structural_draws_fall_into_compile_groups():
    plan = sweep_spec_from_kwargs(grid={"units": fl.choice([4, 8]), "dropout": fl.uniform(0, 0.3)}, trials=6).plan()
    by_units = {}
    for m in plan.members:
        by_units.setdefault(m.structure["units"], set()).add(m.index)
    assert {frozenset(g.members) for g in plan.groups} == {frozenset(v) for v in by_units.values()}


def test_a_discrete_space_smaller_than_trials_is_refused():
    with pytest.raises(SpecError, match=r"trials=5 but the search space holds only 4 distinct configurations"):
        sweep_spec_from_kwargs(grid={"units": fl.choice([4, 8]), "batch_size": fl.randint(8, 10)}, trials=5)
    configs = _configs(grid={"units": fl.choice([4, 8]), "batch_size": fl.randint(8, 10)}, trials=4)
    assert sorted((c["units"], c["batch_size"]) for c in configs) == [(4, 8), (4, 9), (8, 8), (8, 9)]  # no repeats


def test_trials_spread_evenly_over_the_space():
    """A scrambled Sobol sequence: 32 configurations put exactly one value in each 1/32 of
    each key's range, and one in each cell of a 4 x 8 (or 8 x 4) split of the two keys.
    Independent draws would leave about 12 of the 32 slices empty."""
    space = {"dropout": fl.uniform(0.0, 0.4), "learning_rate": fl.loguniform(1e-4, 1e-1)}
    configs = _configs(grid=space, trials=32, search_seed=5)
    u_dropout = np.array([c["dropout"] for c in configs]) / 0.4
    u_lr = np.log(np.array([c["learning_rate"] for c in configs]) / 1e-4) / np.log(1e3)
    for u in (u_dropout, u_lr):
        assert np.bincount((u * 32).astype(int), minlength=32).tolist() == [1] * 32
    for rows, cols in ((4, 8), (8, 4)):
        cells = (u_dropout * rows).astype(int) * cols + (u_lr * cols).astype(int)
        assert np.bincount(cells, minlength=32).tolist() == [1] * 32


def test_trial_draws_follow_their_distributions():
    """4096 configurations: each key's values pass a KS test against its distribution."""
    space = {"learning_rate": fl.loguniform(1e-4, 1e-1), "dropout": fl.uniform(0.1, 0.5)}
    configs = draw_configurations(space, 4096, search_seed=0)
    lr, dropout = ([c[k] for c in configs] for k in ("learning_rate", "dropout"))
    assert scipy.stats.kstest(lr, scipy.stats.loguniform(1e-4, 1e-1).cdf).pvalue > 0.01
    assert scipy.stats.kstest(dropout, scipy.stats.uniform(0.1, 0.4).cdf).pvalue > 0.01
    assert scipy.stats.kstest(lr, scipy.stats.uniform(1e-4, 1e-1 - 1e-4).cdf).pvalue < 0.01


def test_a_repeat_heavy_space_still_draws_every_configuration():
    space = {"units": fl.choice([4, 8, 16]), "batch_size": fl.randint(8, 11), "layers": fl.choice([1, 2])}
    configs = draw_configurations(space, 18, search_seed=2)
    assert len({tuple(c.values()) for c in configs}) == 18  # the whole space, no repeats


# --- the distributions themselves --------------------------------------------------------


def test_loguniform_and_uniform_draws_pass_a_ks_test():
    """Fixed seeds: at p > 0.01 a correct sampler fails 1 seed in 100 (checked over 300 seeds)."""
    log_draws = fl.loguniform(1e-4, 1e-1).sample(np.random.default_rng(0), 10_000)
    flat_draws = fl.uniform(0.1, 0.5).sample(np.random.default_rng(1), 10_000)
    assert scipy.stats.kstest(log_draws, scipy.stats.loguniform(1e-4, 1e-1).cdf).pvalue > 0.01
    assert scipy.stats.kstest(flat_draws, scipy.stats.uniform(0.1, 0.4).cdf).pvalue > 0.01
    # the test can tell them apart: log-uniform draws are not uniform on the same range
    assert scipy.stats.kstest(log_draws, scipy.stats.uniform(1e-4, 1e-1 - 1e-4).cdf).pvalue < 0.01


def test_randint_excludes_its_high_end_and_choice_covers_its_values():
    rng = np.random.default_rng(1)
    ints = fl.randint(1, 4).sample(rng, 3000)
    assert set(ints) == {1, 2, 3} and all(type(v) is int for v in ints)
    assert scipy.stats.chisquare(np.bincount(ints)[1:]).pvalue > 0.01
    picks = fl.choice(["adam", "sgd", None]).sample(rng, 3000)
    assert {p: picks.count(p) > 800 for p in ("adam", "sgd", None)} == {"adam": True, "sgd": True, None: True}


@pytest.mark.parametrize(
    "dist", [fl.loguniform(1e-4, 0.1), fl.uniform(0, 0.4), fl.randint(1, 4), fl.choice([32, 64])], ids=repr
)
def test_distributions_serialise_keras_style_and_as_tables(dist):
    assert type(dist).from_config(dist.get_config()) == dist
    assert distribution_from_table(dist.to_table()) == dist
    assert hash(type(dist).from_config(dist.get_config())) == hash(dist)


def test_toml_round_trip_keeps_distributions_and_draws_the_same_configurations():
    grid = {
        **SPACE,
        "clipnorm": fl.choice([None, 1.0]),
        "class_weight": fl.choice([None, "balanced"]),
        "batch_size": [8, 16],
    }
    spec = sweep_spec_from_kwargs(grid=grid, trials=6, search_seed=7, seeds=2)
    text = spec.to_toml()
    assert "loguniform = [" in text and "search_seed = 7" in text and "trials = 6" in text
    again = SweepSpec.from_toml(text)
    assert again == spec and again.to_dict() == spec.to_dict()
    assert again.plan().configs == spec.plan().configs
    assert isinstance(again.grid["learning_rate"], LogUniform) and isinstance(again.grid["dropout"], Uniform)
    assert isinstance(again.grid["units"], RandInt) and again.grid["clipnorm"] == Choice([None, 1.0])


@st.composite
def spaces(draw):
    """Random search spaces over numeric, structural and named keys, with a list beside."""
    lo = draw(st.floats(1e-6, 1e-2))
    grid = {"learning_rate": fl.loguniform(lo, lo * draw(st.floats(1.5, 1e4)))}
    if draw(st.booleans()):
        low = draw(st.floats(0.0, 0.5))
        grid["dropout"] = fl.uniform(low, draw(st.floats(low + 0.01, 0.9)))
    if draw(st.booleans()):
        low = draw(st.integers(1, 64))
        grid["units"] = fl.randint(low, draw(st.integers(low + 1, 128)))
    if draw(st.booleans()):
        grid["optimizer"] = fl.choice(
            draw(st.lists(st.sampled_from(["adam", "rmsprop", "adamw"]), min_size=1, unique=True))
        )
    if draw(st.booleans()):
        grid["batch_size"] = draw(st.lists(st.integers(1, 256), min_size=1, max_size=3, unique=True))
    return grid


@settings(max_examples=40, deadline=None)
@given(spaces(), st.integers(1, 6), st.integers(0, 2**31))
def test_any_space_round_trips_through_toml_and_draws_the_same(grid, trials, search_seed):
    spec = sweep_spec_from_kwargs(grid=grid, trials=trials, search_seed=search_seed, seeds=2)
    again = SweepSpec.from_toml(spec.to_toml())
    assert again == spec and again.plan().configs == spec.plan().configs
    assert len(spec.plan().configs) == trials


def test_a_config_file_writes_a_distribution_as_an_inline_table():
    spec = SweepSpec.from_toml(
        "trials = 4\n[grid]\nlearning_rate = {loguniform = [1e-4, 1e-1]}\nunits = {choice = [32, 64]}\n"
    )
    assert spec.grid == {"learning_rate": fl.loguniform(1e-4, 0.1), "units": fl.choice([32, 64])}
    assert len(spec.plan().configs) == 4


def test_no_search_writes_no_search_keys():
    assert "search_seed" not in sweep_spec_from_kwargs(grid={"units": [4, 8]}).to_dict()


def test_set_overrides_a_grid_key_with_a_distribution():
    spec = SweepSpec.from_dict({"epochs": 1}).with_overrides(
        ["grid.learning_rate={loguniform=[1e-4,1e-1]}", "trials=3"]
    )
    assert spec.grid == {"learning_rate": fl.loguniform(1e-4, 0.1)} and spec.trials == 3


# --- a real sweep, the run folder and the CLI --------------------------------------------


@pytest.mark.slow
def test_a_random_search_sweep_trains_its_draws_in_compile_groups(tmp_path):
    x, y = make_data(n=40)
    grid = {"learning_rate": fl.loguniform(1e-3, 1e-1), "units": fl.choice([4, 8])}
    result = fl.sweep(x, y, grid=grid, trials=3, seeds=2, epochs=1, batch_size=16, verbose=0)
    assert len(result.members) == 6 and len(result.configs) == 3
    assert {c["units"] for c in result.configs} == {4, 8}  # search_seed 0 draws both
    assert len(result.groups) == 2
    for row in result.members:
        drawn = result.configs[row["config"]]
        assert row["learning_rate"] == pytest.approx(drawn["learning_rate"]) and row["units"] == drawn["units"]
    assert all(1e-3 <= c["learning_rate"] <= 1e-1 for c in result.configs)
    result.save(tmp_path / "run")
    assert "loguniform" in (tmp_path / "run" / "config.toml").read_text()
    with open(tmp_path / "run" / "members.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([m["learning_rate"] for m in result.members])
    loaded = fl.load(tmp_path / "run")
    assert loaded.spec == result.spec and loaded.configs == result.configs


def test_cli_trials_and_set_make_a_random_search():
    from fastlstm.cli import build_parser
    from fastlstm.cli._sweep import spec_from_args

    args = build_parser().parse_args(
        ["sweep", "--trials", "5", "--search-seed", "2", "--set", "grid.learning_rate={loguniform=[1e-4,1e-1]}"]
    )
    spec = spec_from_args(args)
    assert spec.trials == 5 and spec.search_seed == 2
    assert spec.grid == {"learning_rate": fl.loguniform(1e-4, 0.1)} and len(spec.plan().configs) == 5


@pytest.mark.slow
def test_cli_random_search_writes_the_space_and_the_draws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = make_data(n=24, timesteps=4)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    code = main(
        [
            *["sweep", "--data", "data.npz", "--trials", "2", "--set", "grid.learning_rate={loguniform=[1e-3,1e-1]}"],
            *["--seeds", "1", "--epochs", "1", "--units", "2", "--batch-size", "8", "--out", "run", "--quiet"],
        ]
    )
    assert code == 0
    spec = SweepSpec.load(tmp_path / "run" / "config.toml")
    assert spec.grid == {"learning_rate": fl.loguniform(1e-3, 0.1)} and spec.trials == 2
    with open(tmp_path / "run" / "members.csv") as f:
        drawn = [float(r["learning_rate"]) for r in csv.DictReader(f)]
    assert drawn == pytest.approx([c["learning_rate"] for c in spec.plan().configs]) and len(set(drawn)) == 2


def _no_training(*args, **kwargs):
    raise AssertionError("training started although the command should have stopped before it")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--trials", "3"], ["trials=3 draws configurations from distributions in grid, but grid has none"]),
        (["--set", "grid.dropout={uniform=[0,0.4]}"], ["grid['dropout'] is a distribution", "give trials=N"]),
        (["--trials", "2", "--set", "grid.learning_rate={loguniform=[0,1]}"], ["lo must be > 0"]),
        (["--trials", "2", "--set", "grid.units={randint=[1.5,4]}"], ["grid['units']", "lo must be an int"]),
        (["--trials", "2", "--set", "grid.units={normal=[1,4]}"], ["grid['units']", "one key, one of"]),
        (["--trials", "0"], ["argument --trials", "expected a positive integer"]),
        (["--search-seed", "-1"], ["search_seed must be a non-negative int, got -1"]),
    ],
    ids=[
        "trials without a distribution",
        "distribution without trials",
        "loguniform at 0",
        "randint floats",
        "unknown distribution",
        "trials 0",
        "negative search seed",
    ],
)
def test_cli_bad_search_input_is_one_line_exit_2(tmp_path, monkeypatch, capsys, args, expected):
    monkeypatch.chdir(tmp_path)
    patch_train(monkeypatch, _no_training)
    try:
        code = main(["sweep", "--quiet", *args])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert list(tmp_path.iterdir()) == []


# --- bad input ---------------------------------------------------------------------------

CONSTRUCTOR_CASES = [
    (lambda: fl.loguniform(0, 0.1), r"loguniform\(lo=0, hi=0.1\): lo must be > 0"),
    (lambda: fl.loguniform(-1e-3, 0.1), r"loguniform\(lo=-0.001, hi=0.1\): lo must be > 0"),
    (lambda: fl.loguniform(0.1, 1e-3), r"loguniform\(lo=0.1, hi=0.001\): lo must be < hi"),
    (lambda: fl.uniform(0.4, 0.4), r"uniform\(lo=0.4, hi=0.4\): lo must be < hi"),
    (lambda: fl.uniform(0, float("nan")), r"uniform\(lo=0, hi=nan\): hi must be a finite number"),
    (lambda: fl.uniform("0", 1), r"uniform\(lo='0', hi=1\): lo must be a finite number"),
    (lambda: fl.randint(1.0, 4), r"randint\(lo=1.0, hi=4\): lo must be an int"),
    (lambda: fl.randint(1, 4.5), r"randint\(lo=1, hi=4.5\): hi must be an int"),
    (lambda: fl.randint(4, 4), r"randint\(lo=4, hi=4\): lo must be < hi"),
    (lambda: fl.choice([]), r"choice\(values=\[\]\): values is empty"),
    (lambda: fl.choice("adam"), r"choice\(values='adam'\): values must be a list"),
    (lambda: fl.choice([32, 32]), r"choice\(values=\[32, 32\]\): 32 is repeated"),
]


@pytest.mark.parametrize(("make", "message"), CONSTRUCTOR_CASES, ids=[m for _, m in CONSTRUCTOR_CASES])
def test_a_bad_distribution_is_refused_when_made(make, message):
    with pytest.raises(ValueError, match=message):
        make()


SPEC_CASES = [
    (dict(grid={"learning_rate": fl.loguniform(1e-4, 0.1)}), r"grid\['learning_rate'\] is a distribution .*trials=N"),
    (dict(grid={"learning_rate": [1e-3, 1e-2]}, trials=4), r"trials=4 draws configurations .* grid has none"),
    (dict(trials=4), r"trials=4 draws configurations .* grid has none"),
    (dict(grid={"dropout": fl.uniform(0, 0.4)}, trials=0), r"trials must be a positive int, got 0"),
    (dict(grid={"dropout": fl.uniform(0, 0.4)}, trials=2.0), r"trials must be a positive int, got 2.0"),
    (dict(grid={"dropout": fl.uniform(0, 0.4)}, trials=2, search_seed=-1), r"search_seed must be a non-negative"),
    (dict(grid={"dropout": fl.uniform(0, 1.0)}, trials=2), r"grid\['dropout'\] = uniform\(0.0, 1.0\): .*\[0, 1\)"),
    (dict(grid={"units": fl.uniform(4, 64)}, trials=2), r"grid\['units'\] = uniform.*takes integers.*fl.randint"),
    (
        dict(grid={"units": fl.randint(0, 8)}, trials=2),
        r"grid\['units'\] = randint\(0, 8\) must be a positive int, got 0",
    ),
    (dict(grid={"optimizer": fl.randint(0, 2)}, trials=2), r"grid\['optimizer'\] = .*takes names.*fl.choice"),
    (dict(grid={"optimizer": fl.choice(["adam", "adagrad"])}, trials=2), r"unknown optimizer 'adagrad'"),
    (dict(grid={"class_weight": fl.uniform(0, 1)}, trials=2), r"grid\['class_weight'\] = .*takes names"),
    (dict(grid={"lr": fl.uniform(0.1, 1)}, trials=2), r"grid: unknown key 'lr'"),
    (dict(grid={"momentum": fl.uniform(0.1, 0.9)}, trials=2), r"grid key 'momentum' does not apply"),
    (dict(grid={"learning_rate": fl.uniform(0, 0.1)}, trials=2), r"learning_rate must be > 0, got 0.0"),
]


@pytest.mark.parametrize(("kwargs", "message"), SPEC_CASES, ids=[m for _, m in SPEC_CASES])
def test_bad_search_settings_are_a_spec_error_naming_the_argument(kwargs, message):
    with pytest.raises(SpecError, match=message):
        sweep_spec_from_kwargs(**kwargs)


TOML_CASES = [
    ("trials = 2\n[grid]\nlearning_rate = {loguniform = [0, 0.1]}", r"grid\['learning_rate'\]: .*lo must be > 0"),
    ("trials = 2\n[grid]\nlearning_rate = {loguniform = [0.1]}", r"loguniform takes \[lo, hi\]"),
    ("trials = 2\n[grid]\nunits = {gauss = [1, 4]}", r"grid\['units'\]: a distribution is a table with one key"),
    ("trials = 2\n[grid]\nunits = {choice = []}", r"grid\['units'\]: choice\(values=\[\]\): values is empty"),
    ("seeds = 2\ntrials = 2\n[grid]\nunits = [4, 8]", r"trials=2 draws .* grid has none.* \(line 2\)"),
]


@pytest.mark.parametrize(("text", "message"), TOML_CASES, ids=[m for _, m in TOML_CASES])
def test_bad_search_space_in_a_config_file_names_the_key(text, message):
    with pytest.raises(SpecError, match=message):
        SweepSpec.from_toml(text)


def test_lr_range_and_doctor_drop_trials_with_the_grid():
    """lr_range runs without the spec's grid, doctor drops the grid keys a fix sets: a
    random search's trials go with its last distribution (else: trials with no distribution)."""
    from fastlstm.analysis._doctor import changed_spec
    from fastlstm.analysis._lr_range import _base_spec

    spec = sweep_spec_from_kwargs(grid={"learning_rate": fl.loguniform(1e-4, 0.1), "units": [4, 8]}, trials=3)
    assert _base_spec(spec, {}).trials is None
    fixed = changed_spec(spec, {"learning_rate": 1e-3})
    assert fixed.trials is None and fixed.grid == {"units": [4, 8]}
