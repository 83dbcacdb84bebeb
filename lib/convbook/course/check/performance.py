"""Self-checks for the Performance chapter."""

from __future__ import annotations

import numpy as np

from convbook.course.check import CheckResult, _reference, as_number, compare, compare_values, never_raises


def _roofline(intensity, peak_gflops, bandwidth_gbs):
    """The lower of the two roofs: the compute peak, and what the memory can feed at this intensity."""
    roofs = [peak_gflops, intensity * bandwidth_gbs]
    return float(sorted(roofs)[0])


def _roofline_diagnosis(args, kwargs, got):
    intensity, peak, bandwidth = args
    value, _ = as_number(got)
    if np.isclose(value, intensity * bandwidth) and intensity * bandwidth > peak:
        return "above the compute peak: no layer runs faster than the machine's peak"
    if np.isclose(value, peak) and intensity * bandwidth < peak:
        return "left of the ridge point the memory, not the peak, limits the speed"
    if np.isclose(value, max(peak, intensity * bandwidth)):
        return "that is the higher roof: a layer is held back by whichever of the two limits is lower"
    if np.isclose(value, intensity / bandwidth) or np.isclose(value, bandwidth / intensity):
        return "the memory roof is intensity (FLOP/byte) times bandwidth (byte/s)"
    return None


@never_raises
def roofline(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(intensity, peak_gflops, bandwidth_gbs)``: the attainable GFLOP/s of the roofline model.

    ``intensity`` is in FLOPs per byte, ``peak_gflops`` in GFLOP/s, ``bandwidth_gbs`` in GB/s. Cases lie on
    both sides of the ridge point and on it.
    """
    if seed is None:
        specs = [(2.25, 200.0, 20.0), (42.7, 200.0, 20.0), (10.0, 200.0, 20.0), (0.5, 50, 8)]
    else:
        rng = np.random.default_rng(seed)
        specs = [
            (float(rng.uniform(0.1, 100)), float(rng.uniform(10, 2000)), float(rng.uniform(5, 3000))) for _ in range(10)
        ]
    return compare(
        "roofline",
        student_fn,
        _roofline,
        [(spec, {}) for spec in specs],
        hint="the attainable speed is limited both by the compute peak and by how fast memory delivers the bytes "
        "(performance chapter, 'The roofline')",
        diagnose=_roofline_diagnosis,
        label="" if seed is None else "(extra cases)",
    )


@never_raises
def depthwise_bound(bound_gflops) -> CheckResult:
    """Exercise perf-ex-3: the roofline bound (GFLOP/s) of a 3x3 depthwise layer, 8x128x56x56 float32,
    on a machine with a 200 GFLOP/s peak and 20 GB/s of bandwidth. Within 1 %."""
    n, c, h, w = 8, 128, 56, 56
    outputs = n * c * _reference.window_count(h, 3, 1, 1) * _reference.window_count(w, 3, 1, 1)
    flops = 2 * _reference.conv_macs(n, c, c, (3, 3), (h, w), groups=c)
    traffic = 4 * (n * c * h * w + outputs + c * 9)  # bytes: input read once, output written once, weights
    expected = _roofline(flops / traffic, 200.0, 20.0)
    name = "depthwise_bound"
    if bound_gflops is None:
        return CheckResult(name, False, "not answered yet: replace None with your answer", "")
    try:
        value, _ = as_number(bound_gflops)
    except Exception as exc:
        return CheckResult(name, False, str(exc), "")
    if abs(value - expected) <= 0.01 * expected:
        return CheckResult(name, True, "the bound is right")
    if abs(value - 200.0) < 1:
        return CheckResult(name, False, "wrong", "is this layer left or right of the ridge point?")
    if abs(value - flops / traffic) <= 0.01 * flops / traffic:
        return CheckResult(name, False, "wrong", "that is the intensity (FLOP/byte); the bound is a speed (GFLOP/s)")
    return CheckResult(name, False, "wrong", "count the FLOPs per output and the bytes per output value first")


__all__ = ["compare_values", "depthwise_bound", "roofline"]
