"""`fastlstm bench`: argument checks, the report on synthetic runs, skipping, and one real tiny run."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from fastlstm.benchmark import compare, systems
from fastlstm.benchmark.report import bench_table, summarize, write_json_atomic
from fastlstm.benchmark.workloads import WORKLOADS, Workload, model_flops
from fastlstm.cli import main

W = Workload("T", timesteps=10, units=4, layers=1, batch_size=16, n=100, features=2, epochs=2)


@pytest.fixture
def no_runs(monkeypatch):
    """Fail the test if anything would be run."""

    def refuse(*a, **k):
        raise AssertionError("a benchmark ran although the arguments were invalid")

    monkeypatch.setattr(compare, "run_bench", refuse)
    monkeypatch.setattr(compare, "run_system", refuse)


@pytest.mark.parametrize(
    ("argv", "named", "expected"),
    [
        (["--workload", "W9"], "--workload", "expected one of W1, W2, W3, got 'W9'"),
        (["--members", "0"], "--members", "expected a positive integer, got 0"),
        (["--members", "8", "-2"], "--members", "expected a positive integer, got -2"),
        (["--members", "two"], "--members", "expected a positive integer, got 'two'"),
        (["--max-busy", "1.5"], "--max-busy", "expected a fraction between 0 and 1, got 1.5"),
        (["--timeout", "0"], "--timeout", "expected a positive number, got 0"),
        (["--systems", "tensorflow"], "--systems", "invalid choice: 'tensorflow'"),
    ],
)
def test_bad_arguments_exit_before_running_anything(no_runs, capsys, argv, named, expected):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {named}: {expected}" in err


def _run(system, seeds, wall, *, trained=None, steady=None, epoch_members=1, accs=(0.5,), rss=100.0, device=None):
    trained = trained or seeds
    return {
        "system": system,
        "seeds": seeds,
        "rc": 0,
        "outside_wall_s": wall,
        "child_maxrss_mb": rss,
        "others_cpu_fraction": 0.0,
        "result": {
            "trained_members": trained,
            "steady_epoch_s": steady,
            "epoch_members": epoch_members,
            "final_train_accuracy": list(accs),
            "wall_s": wall - 0.1,
            "import_s": 0.5,
            "peak_rss_mb": rss,
            "device_peak_bytes": device,
            "data_digest": "abc",
        },
    }


def test_report_computes_rates_ratios_and_percent_of_peak(tmp_path):
    peak = 10.0  # GFLOP/s
    runs = [
        _run("torch", 2, 8.0, steady=0.5, rss=300.0),
        _run("keras", 2, 10.0, steady=1.0),
        {**_run("fastlstm_sequential", 2, 4.0), "rc": 1, "result": None},  # failed: no ratio to it
        _run("fastlstm", 2, 2.0, steady=0.25, epoch_members=2, accs=(0.4, 0.6), rss=150.0),
        _run("fastlstm", 4, 3.0, steady=0.5, epoch_members=4, device=8 * 1024 * 1024),
    ]
    runs, ratios = summarize(W, runs, peak)

    fast = runs[3]["metrics"]
    flops = model_flops(W, 2)
    assert fast["gflops_wall"] == pytest.approx(flops / 2.0 / 1e9)
    assert fast["pct_peak_wall"] == pytest.approx(100 * flops / 2.0 / 1e9 / peak)
    assert fast["steady_epoch_per_member_s"] == pytest.approx(0.125)
    assert fast["samples_per_s"] == pytest.approx(W.n * 2 / 0.25)
    assert fast["gflops_steady"] == pytest.approx(flops / W.epochs / 0.25 / 1e9)
    assert fast["pct_peak_steady"] == pytest.approx(100 * fast["gflops_steady"] / peak)
    assert fast["accuracy_mean"] == pytest.approx(0.5)
    assert (fast["peak_mem_mb"], fast["mem_source"], fast["mem_per_member_mb"]) == (150.0, "rss", 75.0)
    on_gpu = runs[4]["metrics"]  # device memory wins over RSS when the worker reports it
    assert (on_gpu["peak_mem_mb"], on_gpu["mem_source"], on_gpu["mem_per_member_mb"]) == (8.0, "device", 2.0)
    assert runs[1]["metrics"]["pct_peak_steady"] == pytest.approx(100 * flops / 2 / W.epochs / 1.0 / 1e9 / peak)

    assert [r["members"] for r in ratios] == [2, 4]
    s2 = ratios[0]
    assert s2["fastlstm/torch"]["wall"] == pytest.approx(0.25)
    assert s2["fastlstm/keras"]["wall"] == pytest.approx(0.2)
    assert s2["fastlstm/torch"]["steady_epoch_per_member"] == pytest.approx(0.125 / 0.5)
    assert s2["fastlstm/torch"]["peak_mem"] == pytest.approx(0.5)
    assert "fastlstm/fastlstm_sequential" not in s2
    assert set(ratios[1]) == {"members"}  # S=4: nothing to compare with

    console = Console(record=True, width=220)
    console.print(bench_table(W, runs, ratios, {"gflops": peak}))
    text = console.export_text()
    fast_row = next(line for line in text.splitlines() if "│ fastlstm " in line and "│ 2 " in line)
    assert "0.25" in fast_row and "0.20" in fast_row
    assert "failed (rc=1)" in text and "10 GFLOP/s" in text

    out = tmp_path / "sub" / "bench.json"
    write_json_atomic(out, {"runs": runs, "ratios": ratios})
    assert json.loads(out.read_text())["ratios"][0]["fastlstm/keras"]["wall"] == pytest.approx(0.2)
    with pytest.raises(TypeError):
        write_json_atomic(out, {"not json": object()})
    assert json.loads(out.read_text())["ratios"]  # the old file survives a failed write
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]  # and no temporary file is left


def test_missing_library_is_reported_and_skipped(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(systems, "library_available", lambda name: name != "torch")
    ran = []

    def fake_run(system, w, seeds, args, console):
        ran.append(system)
        return _run(system, seeds, 1.0, accs=(0.3,))

    monkeypatch.setattr(compare, "run_system", fake_run)
    out = tmp_path / "b.json"
    argv = ["bench", "--workload", "tiny", "--members", "1", "--no-peak", "--wait-quiet", "0", "--json", str(out)]
    assert main([*argv, "--systems", "torch", "fastlstm", "--quiet"]) == 0
    assert ran == ["fastlstm"]
    assert "torch not installed: pip install 'fastlstm[bench]'" in capsys.readouterr().out
    assert json.loads(out.read_text())["skipped"] == {"torch": "torch not installed: pip install 'fastlstm[bench]'"}

    assert main([*argv, "--systems", "torch", "--quiet"]) == 2  # nothing left to run
    assert "none of the requested systems can run here" in capsys.readouterr().out
    assert ran == ["fastlstm"]
    assert systems.missing_library("fastlstm") is None
    with pytest.raises(ValueError, match="system: expected one of"):
        systems.missing_library("tensorflow")


@pytest.mark.slow
def test_bench_end_to_end_on_the_tiny_workload(tmp_path, capsys):
    """The real thing: two worker processes, timed from outside, results checked and written."""
    out = tmp_path / "tiny.json"
    code = main(
        [
            "bench",
            "--workload",
            "tiny",
            "--systems",
            "fastlstm",
            "fastlstm_sequential",
            "--members",
            "1",
            "--no-peak",
            "--max-busy",
            "1",
            "--wait-quiet",
            "0",
            "--json",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "fastlstm_sequential" in text and f"results written to {out}" in text
    d = json.loads(out.read_text())
    assert {"workload", "systems", "members", "machine", "peak", "runs", "ratios", "warnings"} <= set(d)
    assert d["complete"] and d["workload"]["name"] == "tiny" and d["members"] == [1] and d["peak"] is None
    assert {"cpu", "cores", "jax", "device_kind", "git"} <= set(d["machine"])
    assert d["machine"]["jax"] and d["machine"]["device_kind"]
    assert [r["system"] for r in d["runs"]] == ["fastlstm", "fastlstm_sequential"]
    for r in d["runs"]:
        assert r["rc"] == 0 and r["result"] is not None, r["stderr_tail"]
        assert r["outside_wall_s"] > 0 and r["result"]["wall_s"] > 0
        assert r["outside_wall_s"] >= r["result"]["wall_s"]  # outside includes interpreter start
        assert r["metrics"]["peak_mem_mb"] > 0 and r["metrics"]["samples_per_s_wall"] > 0
        assert r["result"]["final_train_accuracy"] and r["result"]["data_digest"]
    assert d["runs"][0]["result"]["data_digest"] == d["runs"][1]["result"]["data_digest"]
    assert d["ratios"][0]["fastlstm/fastlstm_sequential"]["wall"] > 0
    assert not [w for w in d["warnings"] if "differ" in w or "did not finish" in w]
    assert WORKLOADS["tiny"].hidden
