"""The timing experiments: the performance chapter's (perf_scaling, perf_pitfalls), separable/05's
(separable_timing), separable/06's (separable_mobilenet_timing) and dilated/02's and 04a's (dilated_wall_time,
dilated_output_stride, dilated_wavenet_generation).

The stored references are checked by tests/test_experiments.py; these tests pin the code that makes them, the
chapters' live cells call and the notebooks read.
"""

from __future__ import annotations

import numpy as np
import pytest

from convbook.costs import conv_cost
from convbook.lab.experiments import (
    dilated_wall_time,
    dilated_wavenet_generation,
    perf_pitfalls,
    perf_scaling,
    separable_mobilenet_timing,
    separable_timing,
)
from convbook.lab.experiments.separable_timing.layers import layer_flops
from convbook.lab.onednn import Primitive
from convbook.lab.results import load_reference


def test_every_point_of_every_sweep_has_the_right_layer():
    for curve, spec in perf_scaling.CURVES.items():
        for value in spec["values"][:1]:
            x, w, kw = perf_scaling.layer(curve, value)
            assert x.dtype == w.dtype == np.float32 and x.shape[0] == spec["batch"]
            assert w.shape[1] * kw["groups"] == x.shape[1] and w.shape[2:] == (3, 3)
            assert kw["padding"] == kw["dilation"]  # 'same' for a 3x3 kernel at any dilation
    x, w, kw = perf_scaling.layer("depthwise", 64)
    assert x.shape == (4, 64, 28, 28) and w.shape == (64, 1, 3, 3) and kw["groups"] == 64
    assert perf_scaling.layer("dilation", 4)[2] == {"padding": 4, "dilation": 4, "groups": 1}


def test_flops_follow_the_cost_formula():
    assert perf_scaling.flops("size", 56) == 2 * 4 * conv_cost(32, 32, 3, 56).macs
    assert perf_scaling.flops("depthwise", 16) == 2 * 4 * 16 * 28 * 28 * 9
    assert perf_scaling.flops("dilation", 1) == perf_scaling.flops("dilation", 8)  # dilation adds no FLOPs


@pytest.mark.parametrize(
    ("args", "message"),
    [(("width", 4), "layer: curve must be one of size, channels"), (("size", 13), "layer: value 13 is not on the")],
)
def test_bad_points_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        perf_scaling.layer(*args)


def test_implementations_agree_and_a_small_sweep_runs():
    assert perf_scaling.check_agreement("size", 14)
    assert perf_scaling.check_agreement("depthwise", 16)
    out = perf_scaling.time_curve("size", [14], repeats=1, warmup=0, names=["convbook", "torch_cl"])
    assert out.values == [14] and set(out.median_ms) == {"convbook", "torch_cl"} and out.agree is None
    assert out.threads["torch"] == out.threads["convbook"] == 1
    assert out.gflop == [perf_scaling.flops("size", 14) / 1e9]


def test_summary_ratios():
    def curve(values, **medians):
        return perf_scaling.ScalingCurve(values, [], {}, {}, {}, medians, {})

    curves = {
        "size": curve([1, 2, 3], convbook=[1.0, 2.0, 8.0]),
        "channels": curve([1, 2], convbook=[1.0, 3.0]),
        "dilation": curve([1, 2, 4], convbook=[2.0, 3.0, 2.5]),
        "standard": curve([16, 64], convbook=[4.0, 40.0], torch=[2.0, 20.0], torch_cl=[2.0, 10.0]),
        "depthwise": curve([16, 64], convbook=[2.0, 4.0], torch=[1.0, 4.0], torch_cl=[0.5, 1.0]),
    }
    s = perf_scaling.summarize(curves)
    assert s.size_last_step == {"convbook": 4.0} and s.channels_last_step == {"convbook": 3.0}
    assert s.dilation_spread == {"convbook": 1.5}
    assert s.standard_over_depthwise["convbook"] == [2.0, 10.0]
    assert s.flop_ratio_standard_over_depthwise == [16, 64]
    assert s.depthwise_nchw_over_channels_last == [2.0, 4.0]
    assert s.standard_nchw_over_channels_last == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"summarize: curves must hold every sweep of CURVES; missing \['size'\]"):
        perf_scaling.summarize({k: v for k, v in curves.items() if k != "size"})


def test_first_touch_and_spinning_pools_record_every_sample():
    assert perf_pitfalls.depthwise_output_mbytes() == pytest.approx(8 * 128 * 56 * 56 * 4 / 1e6)
    touch = perf_pitfalls.first_touch(repeats=2, mbytes=1.0)
    assert len(touch.fresh_ms) == len(touch.reused_ms) == 2
    assert touch.fresh_over_reused == pytest.approx(touch.median_fresh_ms / touch.median_reused_ms)
    spin = perf_pitfalls.spinning_pools(repeats=1, threads=1, pause=0.0)
    assert len(spin.torch_in_blocks_s) == len(spin.torch_after_convbook_s) == 1
    assert spin.threads.torch == 1 and spin.after_over_blocks > 0


# ---- separable/05: the layers timed, oneDNN's split of a call


def test_layer_flops_refuses_an_unknown_kind():
    assert (
        layer_flops("separable", 16)["flops"]
        == layer_flops("depthwise", 16)["flops"] + layer_flops("pointwise", 16)["flops"]
    )
    with pytest.raises(ValueError, match="layer_flops: kind must be one of standard, depthwise"):
        layer_flops("grouped", 16)


def _prim(kind, ms, impl="jit:blk", label=None):
    return Primitive(kind, impl, "src dst", "8x128x28x28", ms, label=label)


def test_onednn_split_sums_each_calls_reorders_and_convolution():
    records = [
        _prim("reorder", 9.0, label="nchw/depthwise/128/0"),  # a warm-up call, skipped
        _prim("reorder", 1.5, label="nchw/depthwise/128/1"),
        _prim("reorder", 0.5, label="nchw/depthwise/128/1"),
        _prim("convolution", 2.0, "jit_dw:avx512_core", label="nchw/depthwise/128/1"),
        _prim("reorder", 1.0, label="nchw/depthwise/128/1"),
        _prim("convolution", 0.5, "brdgmm_dw:avx512_core", label="channels_last/depthwise/128/1"),
    ]
    timed = {"call_s": [0.02, 0.006], "logged_call_s": [0.03, 0.007]}
    split = separable_timing.onednn_split(records, "nchw/depthwise/128", calls=2, skip=1, timed=timed)
    assert split == {
        "implementation": "jit_dw:avx512_core",
        "samples": {
            "reorder_ms": [3.0],
            "convolution_ms": [2.0],
            "primitives_ms": [5.0],
            "call_ms": [6.0],
            "logged_call_ms": [7.0],
        },
        "reorder_ms_median": 3.0,
        "convolution_ms_median": 2.0,
        "primitives_ms_median": 5.0,
        "call_ms_median": 6.0,
        "logged_call_ms_median": 7.0,
    }
    cl = separable_timing.onednn_split(records, "channels_last/depthwise/128", calls=2, skip=1)
    assert cl["samples"]["reorder_ms"] == [0.0] and cl["implementation"] == "brdgmm_dw:avx512_core"  # no copy
    assert "call_ms" not in cl["samples"]  # nothing timed given


def test_layer_rows_are_what_the_chapter_reads():
    timed = separable_timing.layers.time_layers((16,), batch=1, size=8, layouts=("nchw",), repeats=1, warmup=0)
    ((key, row),) = separable_timing.layer_rows(timed, batch=1, size=8, layouts=("nchw",)).items()
    med = timed["16"]["median_s"]
    assert key == "nchw/16" and row.standard.ms == pytest.approx(1e3 * med["nchw/standard"])
    assert row.speedup == pytest.approx(med["nchw/standard"] / med["nchw/separable"])
    assert row.mac_ratio == pytest.approx(1 / (1 / 16 + 1 / 9))
    assert row.kind("depthwise").gflops == pytest.approx(
        layer_flops("depthwise", 16, 1, 8)["flops"] / med["nchw/depthwise"] / 1e9
    )


# ---- the stored references, read by attribute as the chapters read them


def test_the_timing_references_read_by_attribute():
    sep = load_reference("separable_timing").results
    row = sep.summary.steady.forward["nchw/128"]
    assert row.kind("standard").ms == row.standard.ms > 0 and sep.costs["128"].kind("depthwise").intensity > 0
    split = sep.onednn.steady["nchw/depthwise/128"]
    assert split.implementation and split.primitives_ms_median <= split.call_ms_median  # a warm call holds its parts
    assert sep.steady.tiny["16"].median_s["nchw/depthwise"] > 0 and sep.steady.caches
    mobile = load_reference("separable_mobilenet_timing").results.summary
    assert mobile.layout("nchw") is mobile.nchw and mobile.mac_ratio > 8
    with pytest.raises(ValueError, match="Summary.layout: name must be a measured layout"):
        mobile.layout("nhwc")
    scaling = load_reference("perf_scaling").results
    assert scaling.curves["dilation"].values == [1, 2, 4, 8] and scaling.summary.dilation_spread["convbook"] > 1
    wall = load_reference("dilated_wall_time").results.configs["2-D, 16 ch, 64x64"]
    assert wall.median("gaps", 1) == wall.per_dilation["1"].median_s["gaps"] and wall.spread("gaps") >= 1
    stacks = load_reference("dilated_wavenet_generation").results.stacks
    assert stacks["m10"].receptive_field == 1025 and stacks["m10"].agreement.same_samples_float32
    assert set(dilated_wall_time.NAMES) >= set(wall.median_s)
    assert set(stacks) == set(dilated_wavenet_generation.STACKS)
    assert separable_mobilenet_timing.LAYOUTS == ("nchw", "channels_last")
