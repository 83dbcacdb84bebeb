"""The 1x1 chapter's reference experiments: their models, statistics and timed functions (the runs themselves are
smoke-tested in tests/test_experiments.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from convbook.lab.experiments import pointwise_cheap_depth as cheap
from convbook.lab.experiments import pointwise_gemm as gemm
from convbook.lab.experiments.separable_accuracy import data, majority_baseline
from convbook.lab.stats import welch


def test_the_matched_control_matches():
    c = cheap.costs()
    assert abs(c["wide"].params / c["nin"].params - 1) < 0.01, "wide matches NiN's parameters"
    assert c["nin_linear"] == c["nin"], "dropping the ReLUs changes no parameter"
    assert c["plain"].params == 23_668 and c["linear"].params == 16 * 16 * 4 + 4


def test_data_is_the_separable_chapters_task():
    (xtr, ytr), (xte, yte) = data("hard", 20, 10)
    assert xtr.shape == (20, 1, 16, 16) and xte.shape == (10, 1, 16, 16)
    from convbook.lab.datasets import make_shapes

    assert np.array_equal(xtr, make_shapes(20, size=16, seed=1, noise=0.5)[0])


def test_welch_interval():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, 4.0]
    w = welch(a, b)
    assert w.diff == pytest.approx(1.0) and w.df == pytest.approx(8.0)
    half = 2.306 * math.sqrt(2.5 / 5 + 2.5 / 5)  # t(0.975, 8) * standard error
    assert w.ci95 == pytest.approx((1 - half, 1 + half))
    assert welch([1.0, 1.0], [0.0, 0.0]).ci95 == (1.0, 1.0) and welch([1.0, 1.0], [0.0, 0.0]).df is None


def test_majority_baseline():
    m = majority_baseline("easy", 200, 100)
    (_, ytr), (_, yte) = data("easy", 200, 100)
    assert m.train_accuracy == pytest.approx(np.bincount(ytr).max() / 200)
    assert 0 < m.test_accuracy < 0.5


def test_timed_functions_compute_the_same_layer():
    fns, flops = gemm.pointwise_fns(2, 8, 5)
    outs = {k: f() for k, f in fns.items()}
    ref = outs["conv2d, NCHW"]
    assert flops == 2 * 2 * 25 * 64
    assert torch.allclose(outs["conv2d, NHWC"], ref, atol=1e-5)
    assert torch.allclose(outs["matmul, channels first"].reshape(ref.shape), ref, atol=1e-5)
    assert torch.allclose(outs["matmul, channels last"].reshape(2, 5, 5, 8).permute(0, 3, 1, 2), ref, atol=1e-5)
    gfns, gflops, mac = gemm.grouped_fns(2, 8, 5, 4)
    a, b = gfns["NCHW"](), gfns["NHWC"]()
    assert torch.allclose(a, b, atol=1e-5) and a.shape == (2, 8, 5, 5)
    assert gflops == 2 * 2 * 25 * 8 * 8 // 4 and mac == 2 * 25 * 16 + 8 * 8 // 4


def test_grouped_settings_hold_the_flops_fixed():
    flops = {2 * c * c // g for g, c in gemm.GROUPED}
    assert len(flops) == 1
    assert all(c % g == 0 for g, c in gemm.GROUPED)


@pytest.mark.slow
@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch has no oneDNN")
def test_onednn_trace_keeps_the_last_call_of_each_layout():
    trace = gemm.onednn_trace(16, 64, 56, calls=2)  # at this size torch's 1x1 convolution runs in oneDNN
    assert trace.calls == 2 and set(trace.primitives) == {"NCHW", "NHWC"}
    nchw = trace.primitives["NCHW"]
    assert {p.label for p in nchw} == {"call 1"} and "convolution" in {p.kind for p in nchw}
    assert [p.problem for p in nchw if p.kind == "reorder"].count("16x64x56x56") == 2  # input and output converted


def test_the_reference_reads_by_attribute():
    from convbook.lab.results import load_reference

    ref = load_reference("pointwise_gemm")
    assert ref.settings.sweep.hw == 28 and ref.settings.cases[0] == (16, 56, 64)
    default = ref.results.default
    assert default.peak.peak_gflops == max(r.gflops for r in default.peak.sizes.values())
    assert set(default.sweep["64"].rates) == set(gemm.METHODS)
    trace = ref.results.onednn_trace["16,56,64"]
    assert trace.primitives["NCHW"][0].kind == "reorder" and trace.primitives["NCHW"][0].propagation is None
