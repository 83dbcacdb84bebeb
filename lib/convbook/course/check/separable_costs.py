"""Self-checks for the separable chapter's exercises on cost and time (sections 5, 6 and 6a).

``depthwise_roofline`` (sep-ex-8), ``mobilenet_multipliers`` (sep-ex-10) and ``inverted_residual_macs``
(sep-ex-11) take the student's function and accept ``seed=`` for extra cases; ``layout_reorders`` (sep-ex-9) takes
the numbers of a by-hand exercise. :mod:`convbook.course.check.separable` re-exports them, so that the exercises'
notebook calls them as ``check.NAME``. Every reference is :mod:`convbook.course.check._reference`'s, never the
library's counter; like every check, they return a :class:`~convbook.course.check.CheckResult` and never raise.
"""

from __future__ import annotations

import re

import numpy as np

from convbook import costs as _costs
from convbook.course.check import (
    CheckResult,
    Unusable,
    _reference,
    answer_difference,
    as_array,
    as_number,
    compare,
    describe_case,
    never_raises,
    not_answered,
)
from convbook.nets import architectures as _architectures


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _label(seed):
    return "" if seed is None else "(extra cases)"


def _close(value, target) -> bool:
    return bool(np.isclose(value, target, rtol=1e-6, atol=0))


_WITHHELD = (
    "not the right value (the expected value is not shown for the cases the exercise itself asks about, so that the "
    "feedback does not give the answer away)"
)


def _reveals(detail: str) -> bool:
    """Whether a difference's text shows the expected value, or an error from which it follows."""
    return "largest error" in detail or re.search(r"expected -?\d", detail) is not None


def _compare_withholding(name, student_fn, reference_fn, specs, own, **options) -> CheckResult:
    """:func:`compare`, case by case, except that a wrong value on a case for which ``own(spec)`` holds (one the
    exercise asks about, or one whose answer gives the exercise's away) is reported without the expected value or
    the size of the error; the diagnosis of a typical mistake and the hint are kept."""
    label = options.pop("label", "")
    for number, spec in enumerate(specs, start=1):
        result = compare(name, student_fn, reference_fn, [(spec, {})], **options)
        if result.passed:
            continue
        prefix = f"case 1 {describe_case(spec, {})}: "
        if not result.message.startswith(prefix):  # not implemented, or not a function: no case to name
            return result
        detail = result.message[len(prefix) :]
        if own(spec) and _reveals(detail):
            detail = _WITHHELD
        return CheckResult(name, False, f"case {number} {describe_case(spec, {})}: {detail}", result.hint)
    return CheckResult(name, True, f"all {len(specs)} cases match" + (f" {label}" if label else ""))


# --------------------------------------------------------------------------- sep-ex-8: the roofline bound


def _bound(channels, batch, size, k, peak, bandwidth):
    flops, nbytes = _reference.depthwise_flops_bytes(channels, batch, size, k)
    return _reference.roofline(flops / nbytes, peak, bandwidth)


def _bound_diagnosis(args, kwargs, got):
    channels, batch, size, k, peak, bandwidth = args
    value, _ = as_number(got)
    flops, nbytes = _reference.depthwise_flops_bytes(channels, batch, size, k)
    outputs = batch * channels * size * size
    memory_roof = flops / nbytes * bandwidth
    if _close(value, memory_roof) and memory_roof > peak:
        return "above the compute peak: no layer runs faster than the machine's peak, however much memory can feed"
    if _close(value, peak) and memory_roof < peak:
        return "left of the ridge point the memory, not the peak, limits the speed"
    if _close(value, flops / nbytes):
        return "that is the arithmetic intensity (FLOP/byte); the bound is a speed (GFLOP/s)"
    if _close(value, _reference.roofline(flops / 2 / nbytes, peak, bandwidth)):
        return "a multiply-add is two floating-point operations"
    if _close(value, _reference.roofline(flops * 4 / nbytes, peak, bandwidth)):
        return "a float32 value takes 4 bytes: count bytes, not elements"
    if _close(value, _reference.roofline(flops / (nbytes - 4 * outputs), peak, bandwidth)):
        return "the output is written to memory too: it belongs to the minimum traffic"
    if _close(value, _reference.roofline(flops / (nbytes - 4 * channels * k * k), peak, bandwidth)):
        return "the weights are read from memory too"
    if _close(value, _reference.roofline(flops * channels / nbytes, peak, bandwidth)):
        return "a depthwise output reads one input channel, not all of them"
    return None


@never_raises
def depthwise_roofline(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(channels, batch, size, k, peak_gflops, bandwidth_gbs)``: the roofline bound in GFLOP/s of a
    k x k depthwise layer (stride 1, padding k // 2, float32, every input, weight and output moved once)."""
    if seed is None:
        specs = [
            (16, 1, 10, 3, 5000.0, 20.0),
            (64, 8, 56, 3, 200.0, 20.0),
            (32, 2, 14, 5, 20.0, 100.0),
            (3, 4, 7, 7, 1e3, 50.0),
        ]
    else:
        rng = _rng(seed)
        specs = [
            (
                int(rng.integers(1, 257)),
                int(rng.integers(1, 17)),
                int(rng.integers(4, 65)),
                int(rng.choice([1, 3, 5, 7])),
                float(rng.uniform(5, 2000)),
                float(rng.uniform(5, 3000)),
            )
            for _ in range(8)
        ]
    return compare(
        "depthwise_roofline",
        student_fn,
        _bound,
        [(spec, {}) for spec in specs],
        hint="count the layer's FLOPs and the bytes it must move, then ask which roof is lower at that intensity "
        "(separable chapter, section 5, 'Two quantities')",
        diagnose=_bound_diagnosis,
        forbidden=(_costs.conv_intensity, _costs.conv_cost, _costs.depthwise_cost),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- sep-ex-9: the reorders of NCHW, by hand


def _typed(name: str, given: dict, expected: dict, diagnose, hint: str) -> CheckResult:
    """Answers typed by hand: whole numbers exactly, fractions within 1 %; feedback never shows the expected value."""
    unanswered = not_answered(name, given)
    if unanswered is not None:
        return unanswered
    wrong, notes = [], []
    for key, value in given.items():
        try:
            as_number(value)
        except Unusable as exc:
            wrong.append(key)
            notes.append(f"{key}: {str(exc).replace('returned', 'is')}")
            continue
        if answer_difference(value, expected[key]) is not None:
            wrong.append(key)
            note = diagnose(key, as_number(value)[0])
            if note:
                notes.append(f"{key}: {note}")
    if wrong:
        return CheckResult(
            name, False, f"{len(wrong)} of {len(given)} wrong: {', '.join(wrong)}", "; ".join(notes) or hint
        )
    return CheckResult(name, True, f"all {len(given)} answers are right")


@never_raises
def layout_reorders(reorder_bytes, intensity_with_reorders) -> CheckResult:
    """Exercise sep-ex-9: section 5's NCHW depthwise call, 3x3, batch 8, 128 channels of 28x28, float32. Each of
    the two reorders (input into the blocked layout, output back) reads one tensor and writes a copy of it."""
    n, c, side, k = 8, 128, 28, 3
    flops, minimum = _reference.depthwise_flops_bytes(c, n, side, k)
    tensor = 4 * n * c * side * side  # bytes of the input, and of the output (the same size)
    copies = 2 * (tensor + tensor)  # each reorder reads its tensor and writes a copy of it
    expected = {"reorder_bytes": copies, "intensity_with_reorders": flops / (minimum + copies)}

    def diagnose(key, value):
        if key == "reorder_bytes":
            if value in (tensor, 2 * tensor):
                return "two tensors are copied, and each copy reads its tensor and writes a new one"
            if value in (tensor // 4, copies // 4):
                return "count bytes, 4 per float32 value"
            if value == copies + minimum:
                return "only the copies' bytes here; the minimum traffic comes in the second answer"
            return None
        if np.isclose(value, flops / minimum, rtol=0.01):
            return "that is the intensity at minimum traffic: add the copies' bytes to it"
        if np.isclose(value, flops / 2 / (minimum + copies), rtol=0.01):
            return "a multiply-add is two floating-point operations"
        if np.isclose(value, flops / copies, rtol=0.01):
            return "the convolution still moves its minimum traffic: the copies come on top of it"
        return None

    return _typed(
        "layout_reorders",
        {"reorder_bytes": reorder_bytes, "intensity_with_reorders": intensity_with_reorders},
        expected,
        diagnose,
        hint="section 5, 'The kernel and the call': what each reorder reads and writes",
    )


# --------------------------------------------------------------------------- sep-ex-10: width and resolution


def _ratios(alpha, resolution, counter=_reference.mobilenet_v1_counts):
    weights, macs = counter(alpha, resolution)
    base_weights, base_macs = counter(1.0, 224)
    return np.array([weights / base_weights, macs / base_macs])


def _variant(alpha, resolution, *, scaled_stem=False, bias=True, rounding=int):
    """A MobileNet v1 count with one typical mistake: the stem's input scaled, the biases left out, widths rounded."""
    width = lambda c: max(1, rounding(c * alpha))  # noqa: E731
    stem_in = width(3) if scaled_stem else 3
    channels, side = width(32), _reference.window_count(resolution, 3, 2, 1)
    weights, macs = channels * stem_in * 9, channels * stem_in * 9 * side * side
    for c_out, stride in _reference.MOBILENET_V1_TABLE:
        c_out, side = width(c_out), _reference.window_count(side, 3, stride, 1)
        weights += channels * 9 + c_out * channels
        macs += (channels * 9 + c_out * channels) * side * side
        channels = c_out
    return weights + 1000 * channels + (1000 if bias else 0), macs + 1000 * channels


_MULTIPLIER_MISTAKES = (
    (
        {"scaled_stem": True},
        "the image keeps its 3 colour channels: the width multiplier leaves the stem's input alone",
    ),
    ({"bias": False}, "the classifier's biases are weights too"),
    ({"rounding": round}, "a width is rounded down, to a whole number of channels"),
)


def _multiplier_diagnosis(args, kwargs, got):
    alpha, resolution = args
    array = as_array(got)[0].astype(np.float64).reshape(-1)
    if array.shape != (2,):
        return "return two numbers: (weights ratio, multiply-adds ratio)"
    right = _ratios(alpha, resolution)
    rho = resolution / 224
    if np.allclose(array, right[::-1], rtol=1e-6) and not np.allclose(right, right[::-1], rtol=1e-6):
        return "the two ratios are swapped: weights first, then multiply-adds"
    if np.allclose(array, [alpha**2, alpha**2 * rho**2], rtol=1e-6):
        return "those are the approximate rules; the exercise asks for the exact counts, layer by layer"
    if rho != 1 and np.isclose(array[0], right[0] * rho**2, rtol=1e-6):
        return "the input size changes the multiply-adds, not the weights"
    for options, mistake in _MULTIPLIER_MISTAKES:
        wrong = _ratios(alpha, resolution, lambda a, r, kw=options: _variant(a, r, **kw))
        if np.allclose(array, wrong, rtol=1e-9) and not np.allclose(wrong, right, rtol=1e-9):
            return mistake
    return None


def _exercise_multiplier(spec) -> bool:
    """The exercise asks for alpha = 0.75, 0.5, 0.25 and input sides 192, 160, 128; the weights ratio does not
    depend on the side, so any case with one of those widths gives an answer away, as does one with those sides."""
    alpha, resolution = spec
    return alpha in (0.75, 0.5, 0.25) or resolution in (192, 160, 128)


@never_raises
def mobilenet_multipliers(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(alpha, resolution)``: MobileNet v1's (weights, multiply-adds) at width multiplier
    ``alpha`` and input side ``resolution``, each divided by its value at ``alpha = 1``, 224x224."""
    if seed is None:
        specs = [(0.35, 97), (0.5, 224), (1.0, 160), (0.75, 192), (0.25, 128)]  # a case of its own first
    else:
        rng = _rng(seed)
        specs = [
            (float(rng.choice([0.25, 0.35, 0.5, 0.6, 0.75, 0.9, 1.3, 1.4])), int(rng.integers(32, 321)))
            for _ in range(6)
        ]
    return _compare_withholding(
        "mobilenet_multipliers",
        student_fn,
        _ratios,
        specs,
        _exercise_multiplier,
        hint="walk through the architecture table layer by layer, with the feature-map side after each stride "
        "(separable chapter, section 6)",
        diagnose=_multiplier_diagnosis,
        forbidden=(
            _architectures.mobilenet_v1_costs,
            _costs.conv_cost,
            _costs.depthwise_cost,
            _costs.pointwise_cost,
            _costs.separable_cost,
            _costs.linear_cost,
        ),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- sep-ex-11: the inverted residual


def _residual_diagnosis(args, kwargs, got):
    c_in, c_out, size, t, stride = args
    value, _ = as_number(got)
    right = _reference.inverted_residual_macs(c_in, c_out, size, t, stride)
    out = _reference.window_count(size, 3, stride, 1)
    mid = t * c_in
    if value == 2 * right:
        return "twice the count: that is FLOPs, not multiply-adds"
    if t == 1 and value == right + c_in * mid * size * size:
        return "with t = 1 the block has no expansion layer"
    if stride > 1 and value == (right - c_in * mid * size * size * (t > 1)) + c_in * mid * out * out * (t > 1):
        return "the expansion runs before the stride: it works on the full input size"
    if stride > 1 and value == right - mid * c_out * out * out + mid * c_out * size * size:
        return "the projection runs after the stride: it works on the output size"
    if value == right - 9 * mid * out * out + 9 * c_in * out * out:
        return "the depthwise layer filters the expanded tensor"
    if value == right - 9 * mid * out * out + mid * out * out:
        return "each depthwise output uses 3x3 taps"
    return None


def _exercise_block(spec) -> bool:
    """The exercise's setting: as many channels out as in, stride 1, an expansion (its example: 24, 24, 56, 6, 1).
    The count of such a block gives the depthwise share and the ratio to MobileNet v1's block away."""
    c_in, c_out, _, t, stride = spec
    return c_in == c_out and stride == 1 and t > 1


@never_raises
def inverted_residual_macs(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(c_in, c_out, size, t, stride)``: the multiply-adds per image of MobileNetV2's block
    (1x1 expansion to ``t c_in`` channels, absent when ``t == 1``; 3x3 depthwise with the stride and padding 1;
    linear 1x1 projection to ``c_out``)."""
    if seed is None:
        specs = [(7, 9, 13, 3, 2), (16, 24, 112, 6, 2), (32, 16, 14, 1, 1), (24, 24, 56, 6, 1)]  # the example last
    else:
        rng = _rng(seed)
        specs = [
            (
                int(rng.integers(1, 161)),
                int(rng.integers(1, 161)),
                int(rng.integers(3, 113)),
                int(rng.integers(1, 7)),
                int(rng.integers(1, 3)),
            )
            for _ in range(8)
        ]
    return _compare_withholding(
        "inverted_residual_macs",
        student_fn,
        _reference.inverted_residual_macs,
        specs,
        _exercise_block,
        hint="count each of the three layers on the feature map it works on, then add them "
        "(separable chapter, section 6a)",
        diagnose=_residual_diagnosis,
        forbidden=(_costs.inverted_residual_cost, _costs.conv_cost, _costs.depthwise_cost, _costs.pointwise_cost),
        label=_label(seed),
    )


__all__ = ["depthwise_roofline", "inverted_residual_macs", "layout_reorders", "mobilenet_multipliers"]
