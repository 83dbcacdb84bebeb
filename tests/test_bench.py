"""The benchmark tool: its JSON schema, its table, its command-line errors, the stored references."""

from __future__ import annotations

import copy
import glob
import json
import os
import subprocess
import sys

import pytest

from convbook.lab import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "convbook.lab.bench", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One small case, two rounds, through the real command line."""
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    proc = _cli("--only", "depthwise", "--repeats", "2", "--warmup", "1", "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with open(out, encoding="utf-8") as f:
        return json.load(f), proc.stdout


def test_json_schema(tiny):
    results, _ = tiny
    bench.validate_results(results)
    assert results["settings"]["cases"] == ["depthwise"]
    assert results["settings"]["repeats"] == 2
    impls = {(r["direction"], r["impl"], r["size"] == "full") for r in results["results"]}
    for direction in ("forward", "backward"):
        assert (direction, "convbook", True) in impls and (direction, "torch-cpu", True) in impls
    assert ("forward", "naive", False) in impls  # naive only on the reduced size
    for row in results["results"]:
        assert len(row["samples_s"]) == 2
        assert row["iqr_s"] >= 0 and row["gflops"] > 0
    torch_rows = [r for r in results["results"] if r["impl"] == "torch-cpu"]
    assert all(r["ratio_to_torch_cpu"] == 1.0 for r in torch_rows)
    assert results["ceilings"]["matmul_gflops"] > 0 and results["ceilings"]["bandwidth_gbs"] > 0
    assert len(results["load_average"]["before"]) == 3
    assert results["machine"]["cpu_model"]
    assert results["settings"]["allocator"].startswith(("steady", "default"))
    assert results["command"].startswith("python -m convbook.lab.bench --only depthwise --repeats 2")


def test_the_other_path_is_timed_on_3x3_cases_only(tmp_path):
    """std3x3 (64 channels) goes direct, so Winograd is the other path; the 128-channel twin the reverse."""
    out = tmp_path / "w.json"
    proc = _cli("--only", "std3x3,sep_twin,pointwise", "--quick", "--no-naive", "--no-progress", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = bench.load_results(out)["results"]
    other = {(r["case"], r["direction"], r["impl"]) for r in rows if r["impl"].startswith("convbook-")}
    assert other == {("std3x3", "forward", "convbook-winograd"), ("sep_twin", "forward", "convbook-direct")}
    assert "convbook-winograd" in proc.stdout


def test_table_printed(tiny):
    _, stdout = tiny
    assert "median ms" in stdout and "GFLOP/s" in stdout and "/torch" in stdout
    assert "depthwise" in stdout and "target <= 1.5" in stdout


def test_flops_of_the_suite():
    std = bench.CASES["std3x3"]
    assert std.flops() == 2 * 8 * 64 * 64 * 9 * 56 * 56
    assert bench.CASES["depthwise"].flops() == 2 * 8 * 128 * 9 * 56 * 56
    sep, twin = bench.CASES["separable"], bench.CASES["sep_twin"]
    assert twin.flops() / sep.flops() == pytest.approx(1 / (1 / 128 + 1 / 9))


def test_validate_rejects_broken_files(tiny):
    results, _ = tiny
    bad = copy.deepcopy(results)
    del bad["machine"]
    with pytest.raises(ValueError, match="missing top-level key 'machine'"):
        bench.validate_results(bad)
    bad = copy.deepcopy(results)
    bad["results"][0]["samples_s"] = []
    with pytest.raises(ValueError, match="positive samples"):
        bench.validate_results(bad)
    with pytest.raises(ValueError, match="not a convbook-bench/1 file"):
        bench.validate_results({"schema": "other"})


@pytest.mark.parametrize(
    "args, message",
    [
        (["--only", "nosuchcase"], "unknown case"),
        (["--only", ""], "unknown case"),
        (["--repeats", "0"], "must be a positive integer"),
        (["--repeats", "-3"], "must be a positive integer"),
        (["--repeats", "many"], "must be a positive integer"),
        (["--threads", "0"], "must be a positive integer"),
        (["--out", "/no/such/dir/x.json"], "does not exist"),
        (["--bogus"], "unrecognized arguments"),
        (["--allocator", "jemalloc"], "invalid choice"),
    ],
)
def test_cli_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(args)
    assert exc.value.code != 0
    assert message in capsys.readouterr().err


def test_run_suite_rejects_unknown_allocator():
    with pytest.raises(ValueError, match="run_suite: allocator must be 'steady' or 'default'"):
        bench.run_suite(["pointwise"], allocator="tcmalloc")


def test_first_touch_cost_measures_both_buffers():
    from convbook.lab import machine

    cost = machine.first_touch_cost(mbytes=1, repeats=2)
    assert cost["mbytes"] == 1 and cost["reused_ms"] > 0 and cost["fresh_ms"] > 0


def test_stored_references_are_valid():
    from convbook.lab.experiments import BENCHMARKS_DIR

    files = glob.glob(os.path.join(BENCHMARKS_DIR, "*.json"))
    assert files, "convbook/reference/benchmarks/ should hold at least one reference result"
    for path in files:
        results = bench.load_results(path)
        assert not results["settings"]["quick"], f"{path} must come from the full suite"
        assert set(results["settings"]["cases"]) == set(bench.CASES)
        assert results["settings"]["allocator"].startswith("steady"), f"{path}: time in the steady state"
        assert results["command"].startswith("python -m convbook.lab.bench"), f"{path}: names its command"


def test_time_calls_alternates_blocks():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    samples = bench.time_calls(fns, repeats=7, warmup=1, pause=0, per_block=3)
    assert [len(v) for v in samples.values()] == [7, 7]
    # blocks of 1 warm-up + 3, 3, 1 timed calls: a b, then b a, then a b
    assert "".join(calls) == "aaaa" + "bbbb" + "bbbb" + "aaaa" + "aa" + "bb"
