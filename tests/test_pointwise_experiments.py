"""The 1x1 chapter's reference experiments: their models, statistics and timed functions (the runs themselves are
smoke-tested in tests/test_experiments.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from convbook.lab.experiments import pointwise_cheap_depth as cheap
from convbook.lab.experiments import pointwise_gemm as gemm


def test_the_matched_control_matches():
    c = cheap.costs()
    assert abs(c["wide"]["params"] / c["nin"]["params"] - 1) < 0.01, "wide matches NiN's parameters"
    assert c["nin_linear"] == c["nin"], "dropping the ReLUs changes no parameter"
    assert c["plain"]["params"] == 23_668 and c["linear"]["params"] == 16 * 16 * 4 + 4


def test_data_is_the_separable_chapters_task():
    (xtr, ytr), (xte, yte) = cheap.data("hard", 20, 10)
    assert xtr.shape == (20, 1, 16, 16) and xte.shape == (10, 1, 16, 16)
    from convbook.lab.datasets import make_shapes

    assert np.array_equal(xtr, make_shapes(20, size=16, seed=1, noise=0.5)[0])


def test_welch_interval():
    a, b = [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, 4.0]
    w = cheap.welch(a, b)
    assert w["diff"] == pytest.approx(1.0) and w["df"] == pytest.approx(8.0)
    half = 2.306 * math.sqrt(2.5 / 5 + 2.5 / 5)  # t(0.975, 8) * standard error
    assert w["ci95"] == pytest.approx([1 - half, 1 + half])
    assert cheap.welch([1.0, 1.0], [0.0, 0.0]) == {"diff": 1.0, "ci95": [1.0, 1.0], "df": None}


def test_majority_baseline():
    m = cheap.majority_baseline("easy", 200, 100)
    (_, ytr), (_, yte) = cheap.data("easy", 200, 100)
    assert m["train_accuracy"] == pytest.approx(np.bincount(ytr).max() / 200)
    assert 0 < m["test_accuracy"] < 0.5


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
