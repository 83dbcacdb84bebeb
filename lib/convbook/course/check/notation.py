"""Self-checks for the "Check yourself" questions of the notation page (``notation_exercises.ipynb``).

Each takes the student's numbers and returns a :class:`convbook.course.check.CheckResult`;
the expected values are counted by :mod:`convbook.course.check._reference`, never typed in.
"""

from __future__ import annotations

from convbook.course.check import CheckResult, _reference, compare_values, never_raises


@never_raises
def gap_count(dilation, span) -> CheckResult:
    """notation-ex-1: "a 3x3 convolution with dilation 1, which skips one pixel between taps"."""
    expected = {"dilation": 1 + 1, "span": _reference.span(3, 1 + 1)}

    def diagnose(name, value):
        if name == "dilation" and value == 1:
            return "the source counts gaps; in this book's convention an ordinary kernel has dilation 1"
        if name == "span" and value == 3:
            return "that is the span of an ordinary 3-tap kernel; this one skips pixels"
        return None

    return compare_values(
        "gap_count",
        {"dilation": dilation, "span": span},
        expected,
        diagnose,
        hint="the notation page's table of the two conventions",
    )


@never_raises
def output_length(length) -> CheckResult:
    """notation-ex-2: the output length T_out of a 1-D input of length T = 100, with k = 5, s = 3, p = 2, d = 2."""
    expected = _reference.window_count(100, 5, 3, 2, 2)

    def diagnose(name, value):
        if isinstance(value, float) and value != int(value):
            return "the division does not come out even: which way is it rounded?"
        if value == _reference.window_count(100, 5, 3, 2, 1):
            return "the dilation is ignored"
        return None

    return compare_values(
        "output_length",
        {"length": length},
        {"length": expected},
        diagnose,
        hint="equation for the output size on the notation page",
    )


@never_raises
def layer_costs(macs, flops, weights_d1, weights_d3) -> CheckResult:
    """notation-ex-3: 3x3, 16 -> 32 channels, 10x10 output, biases excluded; weights at dilation 1 and 3."""
    m = _reference.conv_macs(1, 16, 32, (3, 3), (10, 10))
    weights = 32 * 16 * 3 * 3
    expected = {"macs": m, "flops": 2 * m, "weights_d1": weights, "weights_d3": weights}
    given = {"macs": macs, "flops": flops, "weights_d1": weights_d1, "weights_d3": weights_d3}

    def diagnose(name, value):
        if name == "weights_d3" and value != weights:
            return "does dilation add weights, or spread the ones there are?"
        if name == "flops" and value == m:
            return "a multiply-add is two floating-point operations"
        return None

    return compare_values(
        "layer_costs", given, expected, diagnose, hint="notation page, 'Counting weights, multiply-adds and FLOPs'"
    )
