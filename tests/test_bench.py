"""The benchmark tool: its JSON schema, its table, its command-line errors, the stored references."""

from __future__ import annotations

import copy
import glob
import json
import os
import subprocess
import sys

import pytest

from convbook import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "convbook.bench", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
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
    ],
)
def test_cli_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(args)
    assert exc.value.code != 0
    assert message in capsys.readouterr().err


def test_stored_references_are_valid():
    files = glob.glob(os.path.join(ROOT, "benchmarks", "*.json"))
    assert files, "benchmarks/ should hold at least one reference result"
    for path in files:
        results = bench.load_results(path)
        assert not results["settings"]["quick"], f"{path} must come from the full suite"
        assert set(results["settings"]["cases"]) == set(bench.CASES)
