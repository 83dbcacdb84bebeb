"""The replicate-process protocol (convbook.lab.replicate, and the runner in convbook.lab.results).

A timing reference is at least three fresh processes; a verdict that orders or trends is judged on the range across
processes. These tests check the combination rules, the interval logic, that every experiment that times code
declares its processes and that its stored file holds them, and that a file without them does not load.
"""

from __future__ import annotations

import json

import pytest

from convbook.lab import experiments
from convbook.lab.replicate import MIN_PROCESSES, POOLED_KEYS, Across, across, combine
from convbook.lab.results import RESULTS_DIR, load, load_reference

# The experiments that time code (each must run in replicate processes); a new timing experiment joins this list.
TIMING = [
    "bench",
    "ch1_timing",
    "dilated_output_stride",
    "dilated_wall_time",
    "dilated_wavenet_generation",
    "perf_pitfalls",
    "perf_scaling",
    "pointwise_gemm",
    "separable_mobilenet_timing",
    "separable_timing",
]


def test_numbers_take_the_median_across_processes_and_samples_are_pooled():
    trees = [
        {"median_s": {"a": 1.0}, "samples_s": {"a": [1.0, 1.1]}, "n": 4, "ok": True, "q": [1.0, 2.0], "u": "cpu"},
        {"median_s": {"a": 3.0}, "samples_s": {"a": [3.0]}, "n": 4, "ok": False, "q": [3.0, 4.0], "u": "cpu"},
        {"median_s": {"a": 2.0}, "samples_s": {"a": [2.0]}, "n": 4, "ok": True, "q": [5.0, 6.0], "u": "cpu"},
    ]
    out = combine(trees)
    assert out["median_s"] == {"a": 2.0}
    assert out["samples_s"] == {"a": [1.0, 1.1, 3.0, 2.0]}
    assert out["n"] == 4 and isinstance(out["n"], int)
    assert out["ok"] is False  # a flag holds only when it holds in every process
    assert out["q"] == [3.0, 4.0]
    assert out["u"] == "cpu"


def test_samples_are_pooled_at_any_depth():
    trees = [{"samples_s": {"8": {"a": [1.0, 2.0]}}}, {"samples_s": {"8": {"a": [3.0]}}}]
    assert combine(trees) == {"samples_s": {"8": {"a": [1.0, 2.0, 3.0]}}}
    with pytest.raises(ValueError, match=r"results\.samples_s\.8 holds samples of different layouts"):
        combine([{"samples_s": {"8": {"a": [1.0]}}}, {"samples_s": {"8": {"b": [1.0]}}}])


def test_integers_that_differ_keep_an_actual_value():
    assert combine([3, 7, 5]) == 5 and combine([3, 7]) == 3


@pytest.mark.parametrize(
    "trees, match",
    [
        ([{"a": 1.0}, {"b": 1.0}], r"results has different keys"),
        ([{"a": [1.0]}, {"a": [1.0, 2.0]}], r"results\.a is a list of different lengths"),
        ([{"a": "x"}, {"a": "y"}], r"results\.a differs between processes"),
        ([{"a": True}, {"a": 1.0}], r"results\.a is a flag in one process"),
        ([{"a": 1.0}, {"a": "1"}], r"results\.a is a number in one process"),
        ([], r"trees must be a non-empty list"),
    ],
)
def test_layouts_that_disagree_are_named(trees, match):
    with pytest.raises(ValueError, match=match):
        combine(trees)


def test_an_ordering_needs_ranges_that_separate():
    fast, slow, overlapping = Across((1.0, 1.2, 1.1)), Across((1.3, 1.5, 1.4)), Across((1.15, 1.6, 1.4))
    assert fast.below(slow) and slow.above(fast) and fast.apart(slow) and slow.apart(fast)
    assert not fast.below(overlapping) and not fast.apart(overlapping)  # one process of each crosses
    assert not slow.below(fast)
    assert fast.inside(1.0, 1.2) and not fast.inside(1.05, 1.2)
    assert (fast.low, fast.median, fast.high, fast.processes) == (1.0, 1.1, 1.2, 3)
    assert str(fast) == "1.1 [1-1.2] over 3 processes"
    assert fast.format(".1f", scale=1e3) == "1100.0 [1000.0-1200.0] over 3 processes"


def test_across_reads_every_process_and_refuses_a_result_without_them():
    class Ref:
        name = "x"
        replicates = [{"t": 1.0}, {"t": 3.0}, {"t": 2.0}]

    assert across(Ref(), lambda r: r["t"]).values == (1.0, 3.0, 2.0)
    Ref.replicates = None
    with pytest.raises(ValueError, match=r"across: ref \(x\) holds no replicate processes"):
        across(Ref(), lambda r: r["t"])
    with pytest.raises(ValueError, match="Across: values must hold one number per process"):
        Across(())


def test_every_timing_experiment_runs_in_replicate_processes():
    for name in TIMING:
        assert getattr(experiments.module(name), "PROCESSES", 1) >= MIN_PROCESSES, f"{name} times code"
    for name in experiments.available():
        if name not in TIMING:
            assert getattr(experiments.module(name), "PROCESSES", 1) == 1, f"{name}: add it to TIMING if it times"


@pytest.mark.parametrize("name", TIMING)
def test_every_stored_timing_reference_holds_its_processes(name):
    paths = sorted(RESULTS_DIR.glob(f"{name}.json")) + sorted(RESULTS_DIR.glob(f"{name}.*.json"))
    assert paths, f"no reference for {name}"
    for path in paths:
        ref = load(path)
        assert ref.replicates is not None and len(ref.replicates) >= MIN_PROCESSES, path.name
        assert type(ref.replicates[0]) is type(ref.results)


def test_a_timing_file_without_its_processes_does_not_load(tmp_path):
    data = json.loads((RESULTS_DIR / "perf_pitfalls.json").read_text(encoding="utf-8"))
    data.pop("replicates")
    path = tmp_path / "perf_pitfalls.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="declares PROCESSES = 3 but its file holds no replicates"):
        load(path)
    data["replicates"] = data.get("replicates") or []
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="replicates holds 0 processes"):
        load(path)


def test_a_training_reference_needs_no_processes():
    assert load_reference("separable_accuracy").replicates is None


@pytest.mark.parametrize("name", TIMING)
def test_every_stored_combination_is_the_processes_combined_by_todays_rule(name):
    """``results`` is derived: recombining the stored processes gives it back exactly, and every pooled list holds the
    samples of all the processes (a new key of samples must be named in POOLED_KEYS)."""
    for path in [RESULTS_DIR / f"{name}.json", *sorted(RESULTS_DIR.glob(f"{name}.*.json"))]:
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        assert combine(data["replicates"]) == data["results"], path.name

        def pooled_lengths(tree, out, key=None):
            if isinstance(tree, dict):
                for k, v in tree.items():
                    pooled_lengths(v, out, k if k in POOLED_KEYS else key if key in POOLED_KEYS else k)
            elif isinstance(tree, list) and key in POOLED_KEYS and all(isinstance(v, int | float) for v in tree):
                out.append(len(tree))
            elif isinstance(tree, list):
                for v in tree:
                    pooled_lengths(v, out, key)
            return out

        per_process = [pooled_lengths(r, []) for r in data["replicates"]]
        assert pooled_lengths(data["results"], []) == [sum(n) for n in zip(*per_process)], path.name
