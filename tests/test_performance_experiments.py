"""The performance chapter's reference experiments (convbook.lab.experiments.perf_scaling and perf_pitfalls).

The stored references are checked by tests/test_experiments.py; these tests pin the code that makes them and that
the chapter's live cells call.
"""

from __future__ import annotations

import numpy as np
import pytest

from convbook.costs import conv_cost
from convbook.lab.experiments import perf_pitfalls, perf_scaling

torch = pytest.importorskip("torch")


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
    assert out["values"] == [14] and set(out["median_ms"]) == {"convbook", "torch_cl"}
    assert out["threads"]["torch"] == out["threads"]["convbook"] == 1
    assert out["gflop"] == [perf_scaling.flops("size", 14) / 1e9]


def test_summary_ratios():
    def curve(values, **medians):
        return {"values": values, "median_ms": medians}

    curves = {
        "size": curve([1, 2, 3], convbook=[1.0, 2.0, 8.0]),
        "channels": curve([1, 2], convbook=[1.0, 3.0]),
        "dilation": curve([1, 2, 4], convbook=[2.0, 3.0, 2.5]),
        "standard": curve([16, 64], convbook=[4.0, 40.0], torch=[2.0, 20.0], torch_cl=[2.0, 10.0]),
        "depthwise": curve([16, 64], convbook=[2.0, 4.0], torch=[1.0, 4.0], torch_cl=[0.5, 1.0]),
    }
    s = perf_scaling.summarize(curves)
    assert s["size_last_step"] == {"convbook": 4.0} and s["channels_last_step"] == {"convbook": 3.0}
    assert s["dilation_spread"] == {"convbook": 1.5}
    assert s["standard_over_depthwise"]["convbook"] == [2.0, 10.0]
    assert s["flop_ratio_standard_over_depthwise"] == [16, 64]
    assert s["depthwise_nchw_over_channels_last"] == [2.0, 4.0]
    assert s["standard_nchw_over_channels_last"] == [1.0, 2.0]


def test_first_touch_and_spinning_pools_record_every_sample():
    assert perf_pitfalls.depthwise_output_mbytes() == pytest.approx(8 * 128 * 56 * 56 * 4 / 1e6)
    touch = perf_pitfalls.first_touch(repeats=2, mbytes=1.0)
    assert len(touch["fresh_ms"]) == len(touch["reused_ms"]) == 2
    assert touch["fresh_over_reused"] == pytest.approx(touch["median_fresh_ms"] / touch["median_reused_ms"])
    spin = perf_pitfalls.spinning_pools(repeats=1, threads=1, pause=0.0)
    assert len(spin["torch_in_blocks_s"]) == len(spin["torch_after_convbook_s"]) == 1
    assert spin["threads"]["torch"] == 1 and spin["after_over_blocks"] > 0
