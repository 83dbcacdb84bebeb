"""Self-checks for the Performance chapter."""

from __future__ import annotations

from . import CheckResult, compare


def _roofline(intensity, peak_gflops, bandwidth_gbs):
    return min(peak_gflops, intensity * bandwidth_gbs)


def roofline(student_fn) -> CheckResult:
    """Check ``student_fn(intensity, peak_gflops, bandwidth_gbs)``: the attainable GFLOP/s of the roofline model.

    ``intensity`` is in FLOPs per byte, ``peak_gflops`` in GFLOP/s, ``bandwidth_gbs`` in GB/s.
    """
    cases = [
        ((i, p, b), {}) for i, p, b in [(2.25, 200.0, 20.0), (42.7, 200.0, 20.0), (10.0, 200.0, 20.0), (0.5, 50, 8)]
    ]
    return compare(
        "roofline",
        student_fn,
        _roofline,
        cases,
        hint="the attainable speed is the lower of the compute roof (peak) and the memory roof (intensity x bandwidth)",
        atol=1e-9,
    )
