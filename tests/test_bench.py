"""The benchmark, run as the experiment ``bench``: its stored layout, its table, its command line, its references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convbook.lab import bench
from convbook.lab.experiments import __main__ as cli
from convbook.lab.experiments import bench as bench_exp
from convbook.lab.results import RESULTS_DIR, load, load_reference, save
from convbook.lab.timing import time_calls

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "convbook.lab.experiments", "bench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One small case, two rounds, through the real command line."""
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    proc = _cli(
        "--quick", "--only", "depthwise", "--repeats", "2", "--warmup", "1", "--threads", "1", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    return load(out), proc.stdout


@pytest.mark.slow
def test_stored_layout(tiny):
    ref, _ = tiny
    assert ref.name == "bench" and ref.quick and ref.variant == "cpu-1thread-custom"
    assert ref.settings.cases == ["depthwise"] and ref.settings.repeats == 2 and ref.settings.torch_threads == 1
    impls = {(r.direction, r.impl, r.size == "full") for r in ref.results.rows}
    for direction in ("forward", "backward"):
        assert (direction, "convbook", True) in impls and (direction, "torch-cpu", True) in impls
    assert ("forward", "naive", False) not in impls  # quick: the naive loops only on std3x3 and dil2
    for row in ref.results.rows:
        assert len(row.samples_s) == 2 and row.iqr_s >= 0 and row.gflops > 0
    assert all(r.ratio_to_torch_cpu == 1.0 for r in ref.results.rows if r.impl == "torch-cpu")
    assert ref.results.summary.targets["depthwise"].target == 1.5
    ceilings = ref.provenance.ceilings
    assert ceilings.matmul_gflops > 0 and ceilings.bandwidth_gbs > 0
    assert len(ref.provenance.load_average.before) == 3
    assert ref.provenance.machine.cpu_model
    assert ref.settings.allocator.startswith(("steady", "default"))
    assert ref.provenance.command.startswith("python -m convbook.lab.experiments bench --quick --threads 1 --only")


@pytest.mark.slow
def test_the_other_path_is_timed_on_3x3_cases_only(tmp_path):
    """std3x3 (64 channels) goes direct, so Winograd is the other path; the 128-channel twin the reverse."""
    out = tmp_path / "w.json"
    proc = _cli("--only", "std3x3,sep_twin,pointwise", "--quick", "--no-naive", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = load(out).results.rows
    other = {(r.case, r.direction, r.impl) for r in rows if r.impl.startswith("convbook-")}
    assert other == {("std3x3", "forward", "convbook-winograd"), ("sep_twin", "forward", "convbook-direct")}
    assert "convbook-winograd" in proc.stdout


@pytest.mark.slow
def test_table_printed(tiny):
    _, stdout = tiny
    assert "median ms" in stdout and "GFLOP/s" in stdout and "/torch" in stdout
    assert "depthwise" in stdout and f"target <= {bench_exp.TARGETS['depthwise']:.1f}" in stdout


@pytest.mark.slow
def test_times_by_case(tiny):
    ref, _ = tiny
    fwd = ref.results.forward_ms("convbook")
    assert set(fwd) == {"depthwise"} and fwd["depthwise"] > 0
    assert ref.results.times_ms("torch-cpu", "backward")["depthwise"] > 0
    assert ref.results.forward_ms("torch-cuda") == {}  # not timed: no entry
    with pytest.raises(ValueError, match="bench.Results: direction must be 'forward' or 'backward', got 'up'"):
        ref.results.times_ms("convbook", "up")


def test_flops_of_the_suite():
    std = bench.CASES["std3x3"]
    assert std.flops() == 2 * 8 * 64 * 64 * 9 * 56 * 56
    assert bench.CASES["depthwise"].flops() == 2 * 8 * 128 * 9 * 56 * 56
    sep, twin = bench.CASES["separable"], bench.CASES["sep_twin"]
    assert twin.flops() / sep.flops() == pytest.approx(1 / (1 / 128 + 1 / 9))


@pytest.mark.slow
def test_a_broken_result_is_not_saved(tiny, tmp_path):
    ref, _ = tiny
    data = json.loads(save(ref, tmp_path / "ok.json").read_text(encoding="utf-8"))
    data["results"]["rows"][0]["samples_s"] = []
    with pytest.raises(ValueError, match="bench.Row: depthwise/.* needs positive samples"):
        save(data, tmp_path / "bad.json")
    data["results"]["rows"][0]["samples_s"] = [1.0]
    data["results"]["rows"][0]["impl"] = "numpy"
    with pytest.raises(ValueError, match="bench.Row: impl must be one of"):
        save(data, tmp_path / "bad.json")
    del data["settings"]["repeats"]
    with pytest.raises(ValueError, match=r"bench.settings lacks the key 'repeats'"):
        save(data, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "nosuchcase"], "unknown case"),
        (["--only", ""], "unknown case"),
        (["--repeats", "0"], "must be a positive integer"),
        (["--repeats", "-3"], "must be a positive integer"),
        (["--repeats", "many"], "must be a positive integer"),
        (["--threads", "0"], "must be a positive integer"),
        (["--bogus"], "unrecognized arguments"),
        (["--allocator", "jemalloc"], "invalid choice"),
    ],
)
def test_cli_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", *args])
    assert exc.value.code != 0
    assert message in capsys.readouterr().err


def test_options_belong_to_one_experiment(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "ch1_timing", "--threads", "1"])
    assert "unrecognized arguments: --threads 1" in capsys.readouterr().err


def test_run_suite_rejects_bad_arguments():
    with pytest.raises(ValueError, match="run_suite: allocator must be 'steady' or 'default'"):
        bench.run_suite(["pointwise"], allocator="tcmalloc")
    with pytest.raises(ValueError, match=r"run_suite: names must be cases of the suite .*\['conv9'\]"):
        bench.run_suite(["conv9"])


def test_variants_name_the_threads_and_the_options():
    assert bench_exp.variant(threads=1) == "cpu-1thread"
    assert bench_exp.variant(threads=4) == "cpu-4core"
    assert bench_exp.variant(threads=2, only="pointwise") == "cpu-2core-custom"
    assert bench_exp.variant(threads=2, precision="ieee", allocator="steady") == "cpu-2core"


def test_first_touch_cost_measures_both_buffers():
    from convbook.lab import machine

    cost = machine.first_touch_cost(mbytes=1, repeats=2)
    assert cost["mbytes"] == 1 and cost["reused_ms"] > 0 and cost["fresh_ms"] > 0


@pytest.mark.parametrize("variant", ["cpu-2core", "cpu-1thread"])
def test_stored_references(variant):
    ref = load_reference("bench", variant)
    assert (RESULTS_DIR / f"bench.{variant}.json").is_file() and ref.variant == variant
    assert not ref.settings.quick and set(ref.settings.cases) == set(bench.CASES), "the full suite"
    assert ref.settings.allocator.startswith("steady"), "timed in the steady state"
    threads = 1 if variant == "cpu-1thread" else 2
    # the run's own thread counts are in its settings (provenance.threads: the process that launched the replicates)
    assert ref.settings.torch_threads == threads
    assert ref.provenance.command == f"python -m convbook.lab.experiments bench --threads {threads}"
    assert ref.provenance.ceilings is not None
    assert bench_exp.describe(ref).startswith(ref.provenance.machine.cpu_model)


def test_time_calls_alternates_blocks():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    samples = time_calls(fns, repeats=7, warmup=1, pause=0, per_block=3)
    assert [len(v) for v in samples.values()] == [7, 7]
    # blocks of 1 warm-up + 3, 3, 1 timed calls: a b, then b a, then a b
    assert "".join(calls) == "aaaa" + "bbbb" + "bbbb" + "aaaa" + "aa" + "bb"
