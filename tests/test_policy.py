"""The device and precision policy (convbook.nets.torch_bridge), pinned without a GPU.

* A simulated Apple GPU (MPS reported available, CUDA not): float64 never goes
  to MPS in any bridge function, and the results say where they ran. On this
  machine there is no MPS backend at all, so any attempt to move a tensor there
  raises: a function that tried would fail these tests.
* The float32 precision context under torch's new ``fp32_precision`` API and,
  in a separate process (the two APIs must not be mixed in one), the legacy
  ``allow_tf32`` flags.
* Deterministic training, the benchmark where ``os.getloadavg`` does not exist
  (Windows), and the timing protocol.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

import convbook
from convbook.lab import machine, timing
from convbook.lab.fresh import run_fresh
from convbook.nets import torch_bridge
from convbook.nets.torch_bridge import (
    compare_with_torch,
    current_float32_precision,
    device_for,
    exact_mode,
    fallback_note,
    float32_precision,
    pick_device,
    precision_label,
    to_torch,
    torch_conv,
    torch_conv_grads,
)


@pytest.fixture
def fake_mps(monkeypatch):
    """A machine whose best device is Apple's MPS (availability patched; no MPS backend exists here)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch_bridge, "_warned", set())
    assert pick_device().type == "mps"


def test_float64_never_goes_to_mps(fake_mps):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3))
    assert device_for(np.float64).type == "cpu" and device_for(torch.float64, "mps").type == "cpu"
    assert device_for(np.float32).type == "mps"  # float32 is left on the GPU
    assert fallback_note(np.float64) == "float64 runs on cpu: mps has no float64"
    assert fallback_note(np.float32) is None
    with pytest.warns(UserWarning, match="to_torch: float64 runs on cpu: mps has no float64"):
        t = to_torch(x)
    assert t.device.type == "cpu" and t.dtype == torch.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning is given once
        assert to_torch(x, "mps").device.type == "cpu"
    out = torch_conv(x, w, padding=1, dilation=2)
    np.testing.assert_allclose(out, convbook.conv2d(x, w, padding=1, dilation=2), atol=1e-12)
    g = np.ones_like(out)
    gx, gw, gb = torch_conv_grads(g, x, w, padding=1, dilation=2)
    ours = convbook.conv2d_backward(g, x, w, padding=1, dilation=2)
    for a, b in zip((gx, gw, gb), ours):
        np.testing.assert_allclose(a, b, atol=1e-10)
    report = compare_with_torch("conv2d", x, w, padding=1)
    assert report.ok and report.device == "cpu" and report.requested == "mps"
    assert report.where == "cpu (asked for mps, which has no float64)"
    assert "mps" not in str(report) and "cpu" not in str(report)  # str() stays the same on every machine


def test_agreement_names_the_device_it_used():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3))
    report = compare_with_torch("conv2d", x, w, device="cpu")
    assert report.where == "cpu" and report.requested == "cpu"


def test_precision_context_with_the_new_api():
    assert torch_bridge._new_precision_api(), "torch 2.13 has the fp32_precision API"
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    with float32_precision("tf32"):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
        assert torch.backends.cudnn.conv.fp32_precision == "tf32"
        with exact_mode():
            assert current_float32_precision() == {"conv": "ieee", "matmul": "ieee"}
        assert current_float32_precision() == {"conv": "tf32", "matmul": "tf32"}
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == before
    with pytest.raises(ValueError, match="float32_precision: mode must be 'ieee' or 'tf32', got 'fp16'"):
        with float32_precision("fp16"):
            pass


def _checks_after_the_new_api() -> str:
    """A reader's program: sets TF32 with the new API, then runs an exactness check (in a fresh process)."""
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    rng = np.random.default_rng(0)
    r = compare_with_torch("conv2d", rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((2, 2, 3, 3)))
    assert r.ok
    assert torch.backends.cuda.matmul.fp32_precision == "tf32"  # restored
    return "ok " + precision_label("cpu")


@pytest.mark.slow
def test_checks_work_after_a_program_used_the_new_api():
    """The reported failure: a program sets TF32 with the new API, then an exactness check ran into
    'mix of the legacy and new APIs'. Run in a fresh process, as a reader's program would."""
    assert run_fresh(_checks_after_the_new_api, timeout=120) == "ok float32"


def _legacy_flags() -> str:
    """Older torch (< 2.9) has only allow_tf32: simulated by hiding the new API (in a fresh process)."""
    torch_bridge._new_precision_api = lambda: False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch_bridge.float32_precision("tf32"):
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        assert torch_bridge.current_float32_precision() == {"conv": "tf32", "matmul": "tf32"}
    with torch_bridge.exact_mode():
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert torch_bridge.current_float32_precision() == {"conv": "tf32", "matmul": "ieee"}
    return "ok"


@pytest.mark.slow
def test_precision_context_with_the_legacy_flags():
    """The two precision APIs must not be mixed in one process: this one runs in its own."""
    assert run_fresh(_legacy_flags, timeout=120) == "ok"


def test_precision_label(monkeypatch):
    assert precision_label("cpu") == "float32"
    assert precision_label("mps") == "float32"
    with exact_mode():
        assert precision_label("cuda") == "float32 (IEEE)"
    with float32_precision("tf32"):
        assert precision_label("cuda") == "TF32"
        with float32_precision("tf32"):
            torch.backends.cuda.matmul.fp32_precision = "ieee"
            assert precision_label("cuda") == "float32 (conv TF32, matmul IEEE)"


def test_deterministic_training_context_restores_state():
    from convbook.nets.training import deterministic

    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic)
    with deterministic(seed=3):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        a = torch.rand(3)
    with deterministic(seed=3):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic) == before


def test_training_is_repeatable_on_the_cpu():
    from convbook.lab.datasets import make_shapes
    from convbook.nets.small_cnn import small_cnn
    from convbook.nets.training import deterministic, train_classifier

    train, test = make_shapes(128, size=16, seed=0), make_shapes(64, size=16, seed=1)
    runs = []
    for _ in range(2):
        with deterministic(seed=0):
            model = small_cnn(False, channels=(4, 8))
        runs.append(train_classifier(model, train, test, epochs=2, seed=0, device="cpu", eval_every=1))
    assert runs[0].losses == runs[1].losses
    assert runs[0].history == runs[1].history
    assert [h["epoch"] for h in runs[0].history] == [1, 2]
    assert {"train_accuracy", "test_accuracy", "train_loss"} <= runs[0].history[0].keys()


def test_train_classifier_rejects_bad_settings():
    from convbook.nets.training import train_classifier

    data = (np.zeros((4, 1, 16, 16), np.float32), np.zeros(4, np.int64))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
    with pytest.raises(ValueError, match="train_classifier: epochs must be a positive int, got 0"):
        train_classifier(model, data, data, epochs=0)
    with pytest.raises(ValueError, match="train_classifier: schedule must be 'constant' or 'cosine'"):
        train_classifier(model, data, data, schedule="step")


def test_load_average_without_getloadavg(monkeypatch):
    """Windows has no os.getloadavg: the benchmark records None and still prints its table."""
    monkeypatch.delattr(os, "getloadavg")
    assert machine.load_average() is None
    from convbook.lab.experiments import bench
    from convbook.lab.results import run_experiment

    ref = run_experiment("bench", quick=True, threads=1, only="pointwise", repeats=1, no_naive=True)
    assert ref.provenance.load_average.before is None and ref.provenance.load_average.after is None
    assert "load average not available on this system" in bench.format_table(ref)


def test_timing_protocol_fixes_threads_and_restores_them():
    from threadpoolctl import threadpool_info

    before = (torch.get_num_threads(), timing.thread_settings()["blas"])
    with timing.fixed_threads(1) as used:
        assert used["torch"] == 1 and used["convbook"] == 1
        assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == [1]
    assert (torch.get_num_threads(), timing.thread_settings()["blas"]) == before
    with pytest.raises(ValueError, match="fixed_threads: n must be a positive int, got 0"):
        with timing.fixed_threads(0):
            pass


def test_time_interleaved_synchronises_each_sample():
    calls = []
    t = timing.time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=4, warmup=1, threads=1, pause=0
    )
    assert [len(v) for v in t.samples.values()] == [4, 4]
    assert t.settings["threads"]["torch"] == 1 and t.median("a") > 0 and t.ratio("a", "b") > 0
    assert "median" in t.table() and set(t.to_dict()["median_s"]) == {"a", "b"}
    synced = []
    timing.time_calls({"gpu": lambda: synced.append("call")}, 2, 0, pause=0, sync={"gpu": lambda: synced.append("s")})
    assert synced == ["s", "call", "s", "call", "s"]  # once before the clock starts, then after every call
    with pytest.raises(ValueError, match="time_calls: repeats must be a positive int"):
        timing.time_calls({"a": lambda: None}, 0, 1)


def test_verdict_never_fails_and_explains_a_gap():
    same = timing.verdict("the block is faster by", 5.8, 6.1, "the reference machine")
    assert same == "On this machine the block is faster by 5.8×; the reference machine measured 6.1×."
    far = timing.verdict("the block is faster by", 1.2, 6.1, "the reference machine")
    assert "thread count" in far and "reference data is what the text relies on" in far
