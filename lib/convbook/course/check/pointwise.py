"""Self-checks for the coding exercises of the 1x1 (pointwise) chapter.

Each function takes the student's function, runs it on a few cases, compares
with an independent reference (a loop over pixels) and returns a
:class:`convbook.course.check.CheckResult` (``PASS`` or ``FAIL`` with feedback; it
never raises).
"""

from __future__ import annotations

import numpy as np

from convbook import conv as _conv
from convbook import costs as _costs
from convbook import dilated as _dilated
from convbook import pointwise as _pw
from convbook.course.check import (
    CheckResult,
    _reference,
    as_array,
    as_number,
    call_student,
    compare,
    compare_values,
    describe_case,
    least_precise,
    never_raises,
)
from convbook.course.check import array_difference as _array_difference


def _label(seed):
    return "" if seed is None else "(extra cases)"


def _cases_matmul(seed):
    rng = np.random.default_rng(5 if seed is None else seed)
    if seed is None:
        specs = [(1, 3, 2, 4, 5), (2, 8, 4, 3, 3), (3, 1, 6, 2, 7)]
    else:
        specs = [tuple(int(v) for v in rng.integers(1, [4, 9, 9, 7, 7])) for _ in range(6)]
    cases = []
    for number, (n, c_in, c_out, h, w) in enumerate(specs):
        x, weight = rng.normal(size=(n, c_in, h, w)), rng.normal(size=(c_out, c_in))
        if seed is not None and number >= 4:
            x, weight = x.astype(np.float32), weight.astype(np.float32)
        cases.append(((x, weight), {}))
    return cases


def _matmul_diagnosis(args, kwargs, got):
    x, weight = args
    array, _ = as_array(got)
    n, c_in, h, w = x.shape
    c_out = weight.shape[0]
    if array.shape == (n, h, w, c_out) and (h, w, c_out) != (c_out, h, w):
        return "channels last: move the channel axis back to position 1, (N, C_out, H, W)"
    if array.shape == (n, c_out, w, h) and h != w:
        return "height and width are swapped when the rows are turned back into an image"
    if array.shape == (n, c_out, h, w):
        scrambled = (x.reshape(-1, c_in) @ weight.T).reshape(n, c_out, h, w)
        if np.allclose(array, scrambled, atol=1e-5):
            return "x.reshape(-1, C_in) does not give one row per pixel in NCHW: the channels are not the last axis"
    return None


@never_raises
def pointwise_matmul(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(x, weight)``: a 1x1 convolution by one matrix product.

    ``x`` has shape ``(N, C_in, H, W)``, ``weight`` ``(C_out, C_in)``; the
    answer has shape ``(N, C_out, H, W)``. Cases have height different from width.
    """
    return compare(
        "pointwise_matmul",
        student_fn,
        lambda x, weight: _reference.pointwise(x, weight),
        _cases_matmul(seed),
        hint="make a matrix with one row per pixel and one column per channel, multiply, and turn the rows back "
        "into an image (1x1 chapter, section 1)",
        diagnose=_matmul_diagnosis,
        forbidden=(
            _pw.pointwise_conv2d,
            _pw.pointwise_conv2d_loop,
            _conv.conv2d,
            _conv.conv2d_naive,
            _conv.conv2d_im2col,
            _dilated.dilated_conv2d_gaps,
        ),
        label=_label(seed),
    )


def _compose_feedback(w, b, w1, b1, w2, b2) -> str | None:
    """What a wrong (w, b) looks like, or None."""
    right_w, right_b = w2 @ w1, w2 @ b1 + b2
    try:
        if w.shape == right_w.T.shape and np.allclose(w, right_w.T, atol=1e-5):
            return "the weight is transposed: it maps C_in inputs to C_out outputs, shape (C_out, C_in)"
        if w1.shape[1] == w2.shape[0] and w.shape == (w1 @ w2).shape and np.allclose(w, w1 @ w2, atol=1e-5):
            return "the layers are multiplied in the wrong order: the first layer acts first on x"
        if w.shape == right_w.shape and np.allclose(w, right_w, atol=1e-5):
            if b.shape == right_b.shape and not np.allclose(b, right_b, atol=1e-5):
                return "the weight is right, the bias is not: the first layer's bias passes through the second layer"
            if b.shape != right_b.shape:
                return "the weight is right; the bias has one entry per output channel"
    except Exception:
        return None
    return None


@never_raises
def compose_pointwise(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(w1, b1, w2, b2) -> (w, b)``: two 1x1 layers in a row as one.

    ``w1`` (C_mid, C_in), ``b1`` (C_mid,), ``w2`` (C_out, C_mid), ``b2``
    (C_out,). The answer must satisfy ``pointwise(pointwise(x, w1, b1), w2, b2)
    == pointwise(x, w, b)`` for every ``x``: ``w`` (C_out, C_in), ``b`` (C_out,).
    Tested on random inputs ``x``, by the outputs (any equivalent answer passes).
    """
    name = "compose_pointwise"
    hint = "write the second layer applied to the first layer's output and expand (1x1 chapter, section 4)"
    if not callable(student_fn):
        return CheckResult(name, False, f"expected a function, got {type(student_fn).__name__}", hint)
    rng = np.random.default_rng(6 if seed is None else seed)
    specs = (
        [(3, 2, 4), (5, 8, 1), (4, 4, 4)]
        if seed is None
        else [tuple(int(v) for v in rng.integers(1, 9, size=3)) for _ in range(6)]
    )
    for number, (c_in, c_mid, c_out) in enumerate(specs, start=1):
        w1, b1 = rng.normal(size=(c_mid, c_in)), rng.normal(size=c_mid)
        w2, b2 = rng.normal(size=(c_out, c_mid)), rng.normal(size=c_out)
        dtype = "float64"
        if seed is not None and number > 4:
            w1, b1, w2, b2 = (a.astype(np.float32) for a in (w1, b1, w2, b2))
        x = rng.normal(size=(2, c_in, 3, 2))
        prefix = f"case {number} {describe_case((w1, b1, w2, b2), {})}"
        got, problem = call_student(student_fn, (w1, b1, w2, b2), {})
        if problem:
            message, why = problem
            if why and message.startswith("not implemented"):
                return CheckResult(name, False, message, why)
            return CheckResult(name, False, f"{prefix}: {message}", why or hint)
        try:
            if not isinstance(got, (tuple, list)) or len(got) != 2:
                raise TypeError
            (w, dtype_w), (b, dtype_b) = as_array(got[0]), as_array(got[1])
        except TypeError:
            return CheckResult(name, False, f"{prefix}: expected a pair (w, b), got {type(got).__name__}", hint)
        except Exception as exc:
            return CheckResult(name, False, f"{prefix}: {exc}", hint)
        dtype = least_precise(dtype_w, dtype_b, str(w1.dtype))
        if w.shape != (c_out, c_in) or b.shape != (c_out,):
            return CheckResult(
                name,
                False,
                f"{prefix}: shapes {w.shape}, {b.shape}, expected {(c_out, c_in)}, {(c_out,)}",
                _compose_feedback(w, b, w1, b1, w2, b2) or hint,
            )
        two = _reference.pointwise(_reference.pointwise(x, w1, b1), w2, b2)
        one = _reference.pointwise(x, w.astype(np.float64), b.astype(np.float64))
        difference = _array_difference(one, two, dtype)
        if difference is not None:
            return CheckResult(
                name,
                False,
                f"{prefix}: the single layer gives different outputs ({difference})",
                _compose_feedback(w, b, w1, b1, w2, b2) or hint,
            )
    return CheckResult(name, True, f"all {len(specs)} cases match" + (f" {_label(seed)}" if seed is not None else ""))


def _macs_diagnosis(args, kwargs, got):
    c_in, c_out, h, w = args
    value, _ = as_number(got)
    if value == 2 * c_in * c_out * h * w:
        return "twice the count: that is FLOPs (a multiply-add is two operations); count multiply-adds"
    if value == c_in * c_out:
        return "that is the number of weights; each weight is used at every pixel"
    if value in (c_in * h * w, c_out * h * w):
        return "every pixel computes one dot product per output channel, each as long as the number of inputs"
    return None


@never_raises
def pointwise_macs(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(c_in, c_out, h, w) -> int``: multiply-adds of one 1x1 layer on one image."""
    if seed is None:
        specs = [(256, 64, 56, 56), (192, 16, 28, 28), (3, 5, 7, 11)]
    else:
        rng = np.random.default_rng(seed)
        specs = [tuple(int(v) for v in rng.integers(1, [513, 513, 65, 65])) for _ in range(8)]
    return compare(
        "pointwise_macs",
        student_fn,
        lambda c_in, c_out, h, w: _reference.conv_macs(1, c_in, c_out, (1, 1), (h, w)),
        [(spec, {}) for spec in specs],
        hint="how many dot products does one pixel compute, and how long is each? (notation page, 'Counting')",
        diagnose=_macs_diagnosis,
        forbidden=(_costs.conv_cost, _costs.conv_macs),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- the chapter's exercise page (06)


@never_raises
def layer_costs(params, macs) -> CheckResult:
    """Exercise pw-ex-14: a 1x1 layer with bias, 256 -> 64 channels on a 56x56 map, one image; ``params`` counts the
    weights and the biases (the notation page's weights exclude biases)."""
    expected = {"params": 64 * 256 + 64, "macs": _reference.conv_macs(1, 256, 64, (1, 1), (56, 56))}

    def diagnose(name, value):
        if name == "params" and value == 64 * 256:
            return "the biases are parameters too, one per output channel"
        if name == "macs" and value == 2 * expected["macs"]:
            return "twice the count: that is FLOPs; count multiply-adds"
        return None

    return compare_values(
        "layer_costs", {"params": params, "macs": macs}, expected, diagnose, hint="1x1 chapter, section 1"
    )


@never_raises
def bottleneck_ratio(bottleneck_macs_per_pixel, plain_macs_per_pixel, ratio) -> CheckResult:
    """Exercise pw-ex-15: 256 -> 64 (1x1) -> 64 (3x3) -> 256 (1x1) against one 3x3 layer 256 -> 256, per pixel."""
    per_pixel = lambda c_in, c_out, k: _reference.conv_macs(1, c_in, c_out, (k, k), (1, 1))  # noqa: E731
    bottleneck = per_pixel(256, 64, 1) + per_pixel(64, 64, 3) + per_pixel(64, 256, 1)
    plain = per_pixel(256, 256, 3)
    expected = {"bottleneck_macs_per_pixel": bottleneck, "plain_macs_per_pixel": plain, "ratio": plain / bottleneck}

    def diagnose(name, value):
        if name == "bottleneck_macs_per_pixel" and value == per_pixel(256, 64, 1) + per_pixel(64, 256, 1):
            return "the 3x3 layer in the middle counts too"
        return None

    given = {"bottleneck_macs_per_pixel": bottleneck_macs_per_pixel, "plain_macs_per_pixel": plain_macs_per_pixel}
    given["ratio"] = ratio
    # The ratio may be rounded (8.47, 8.5): 1 %, the autograder's tolerance (nbgrader_source._value_test).
    return compare_values(
        "bottleneck_ratio", given, expected, diagnose, hint="1x1 chapter, section 2", rel_tol={"ratio": 0.01}
    )


def _nhwc_reference(x, weight, bias):
    nchw = np.transpose(np.asarray(x, dtype=np.float64), (0, 3, 1, 2))  # (N, C_in, H, W)
    out = _reference.pointwise(nchw, np.asarray(weight, dtype=np.float64).T, np.asarray(bias, dtype=np.float64))
    return np.transpose(out, (0, 2, 3, 1))  # (N, H, W, C_out)


@never_raises
def pointwise_nhwc(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(x, weight, bias)``: a 1x1 convolution on channels-last ``x`` (N, H, W, C_in) with a
    weight (C_in, C_out) and a bias (C_out,), returning (N, H, W, C_out)."""
    rng = np.random.default_rng(2017 if seed is None else seed)
    shapes = [(1, 2, 3, 4, 5), (2, 3, 3, 1, 2), (1, 4, 2, 6, 3)]
    if seed is not None:
        shapes += [tuple(int(v) for v in rng.integers(1, [3, 6, 6, 9, 9])) for _ in range(5)]
    cases = []
    for n, h, w, c_in, c_out in shapes:
        args = (rng.normal(size=(n, h, w, c_in)), rng.normal(size=(c_in, c_out)), rng.normal(size=c_out))
        cases.append((args, {}))
    return compare(
        "pointwise_nhwc",
        student_fn,
        _nhwc_reference,
        cases,
        hint="every pixel's channel vector times the weight: one row per pixel (1x1 chapter, section 1)",
        forbidden=(_pw.pointwise_conv2d, _pw.pointwise_conv2d_loop, _conv.conv2d),
        label=_label(seed),
    )
