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


def test_each_seed_draws_its_own_data():
    (xtr, ytr), (xte, _) = cheap.data("hard", 3, 20, 10)
    (_, _), (xva, _) = cheap.data("hard", 3, 20, 10, held_out="validation")
    (xtr4, _), _ = cheap.data("hard", 4, 20, 10)
    from convbook.lab.datasets import make_shapes

    assert np.array_equal(xtr, make_shapes(20, size=16, seed=cheap.TRAIN_SEED + 3, noise=0.5)[0])
    assert not np.array_equal(xtr, xtr4), "another seed, another training set"
    assert not np.array_equal(xte, xva) and not np.array_equal(xtr[:10], xte), "test, validation, training differ"
    assert set(cheap.SELECTION_SEEDS).isdisjoint(cheap.SEEDS), "the learning rate is chosen on seeds of its own"
    with pytest.raises(ValueError, match="held_out"):
        cheap.data("hard", 0, held_out="train")


def test_learning_rate_selection_rule():
    grid = [
        {"model": "m", "lr": lr, "seed": s, "test_accuracy": acc, "train_loss": loss}
        for lr, acc, loss in ((0.1, 0.80, 0.3), (0.2, 0.90, 0.2), (0.3, 0.90, 0.1))
        for s in (0, 1)
    ]
    chosen = cheap.select(grid, ["m"], (0.1, 0.2, 0.3))
    assert chosen["chosen"]["m"] == 0.3, "best validation accuracy; a tie goes to the lower training loss"
    assert chosen["validation_accuracy"]["m"]["0.1"] == pytest.approx(0.8)


def test_the_stored_runs_follow_the_protocol():
    from convbook.lab.results import load_reference

    ref = load_reference("pointwise_cheap_depth")
    res, limit = ref.results, ref.settings.converged_loss
    assert all(r.lr == res.selection.chosen[r.model] and r.epochs == cheap.EPOCHS[r.model] for r in res.runs)
    for task, models in res.summary.items():
        for m, s in models.items():
            losses = [r.train_loss for r in res.runs if r.task == task and r.model == m]
            assert s.converged == sum(v < limit for v in losses) and s.train_loss.n == len(cheap.SEEDS)


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
    assert default.peak.peak_gflops == max(r.gflops for r in default.peak.products.values())
    assert default.peak.products["square 1024"].gflops > 0 and "matmul, channels last @ 512" in default.peak.products
    assert len(ref.replicates) == gemm.PROCESSES and ref.replicates[0].steady.peak.peak_gflops > 0
    assert set(default.sweep["64"].rates) >= set(gemm.METHODS)
    trace = ref.results.onednn_trace["16,56,64"]
    assert trace.primitives["NCHW"][0].kind == "reorder" and trace.primitives["NCHW"][0].propagation == "undef"


def test_the_peak_is_the_best_matrix_product_of_the_sweep():
    def point(times, flops=2 * 16 * 16 * 784):
        t = gemm.TimingRecord(settings={}, samples_s=times, median_s={}, quartiles_s={})
        rates = {k: gemm._rate(v, flops) for k, v in times.items() if not k.startswith("square")}
        return gemm.Point(rates=rates, flops=flops, timings=t)

    slow = {m: [1.0] * 3 for m in gemm.METHODS}
    sweep = {"16": point({**slow, "square 64": [1e-3, 2e-3, 3e-3]}), "32": point({**slow, "square 64": [4e-3] * 3})}
    peak = gemm.peak_of(sweep)
    assert peak.products["square 64"].gflops == pytest.approx(2 * 64**3 / 3.5e-3 / 1e9)  # median of all 6, pooled
    assert peak.name == "square 64"
    sweep["32"] = point({**slow, "matmul, channels last": [1e-6] * 3, "square 64": [4e-3] * 3})  # a faster product
    assert gemm.peak_of(sweep).name == "matmul, channels last @ 32"  # ... is the peak: nothing measured exceeds it
