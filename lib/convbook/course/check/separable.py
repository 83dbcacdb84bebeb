"""Self-checks for the exercises of the depthwise-separable chapter.

Functions (``depthwise_conv2d``, ``separable_to_standard``,
``fold_depthwise_bias``, ``separable_ratio``) take the student's function;
``mobilenet_layer`` takes the numbers of the by-hand exercise. All return a
:class:`~convbook.course.check.CheckResult` (``PASS`` or ``FAIL`` with feedback) and
never raise. The checks of the exercises on cost and time (sections 5 to 6a) live in
:mod:`convbook.course.check.separable_costs` and are re-exported here, so that the
exercises' notebook reaches every check as ``check.NAME``.
"""

from __future__ import annotations

import numpy as np

from convbook import conv as _conv
from convbook import costs as _costs
from convbook import dilated as _dilated
from convbook import separable as _sep
from convbook import winograd as _winograd
from convbook.course.check import CheckResult, _reference, as_array, as_number, compare, compare_values, never_raises
from convbook.course.check.separable_costs import (  # noqa: F401 (re-exported for the exercises' notebook)
    depthwise_roofline,
    inverted_residual_macs,
    layout_reorders,
    mobilenet_multipliers,
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _label(seed):
    return "" if seed is None else "(extra cases)"


# --------------------------------------------------------------------------- depthwise


def _depthwise_diagnosis(args, kwargs, got):
    x, w = args
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    array, _ = as_array(got)
    n, c, h, wd = x.shape
    ck, _, k, _ = w.shape
    expected = _reference.depthwise(x, w, stride, padding)
    if array.shape[:2] != expected.shape[:2]:
        if array.shape[1:2] == (c,) and ck != c:
            return f"the output needs C_in*m = {ck} channels: m filters for each input channel"
        return "the output has shape (N, C_in*m, H_out, W_out)"
    if array.shape != expected.shape:
        ho, wo = expected.shape[2:]
        if array.shape[2:] == (_reference.window_count(h, k, 1, padding), _reference.window_count(wd, k, 1, padding)):
            return "the output has one value per pixel: is the stride applied?"
        if array.shape[2:] == (_reference.window_count(h, k, stride, 0), _reference.window_count(wd, k, stride, 0)):
            return "the padding is not applied"
        if array.shape[2:] == (ho + 1, wo + 1) or array.shape[2:] == (ho - 1, wo - 1):
            return (
                "off by one in the output size: count where the last window can start when the stride does "
                "not divide the padded size exactly"
            )
        if array.shape[2:] == (wo, ho):
            return "height and width are swapped"
        return None
    if ck != c:  # depth multiplier > 1: are the output channels in the right order?
        # the other layout: output channel m*C + c reads input channel c
        other = _reference.conv2d(x[:, [o % c for o in range(ck)]], w, stride=stride, padding=padding, groups=ck)
        if np.allclose(array, other, atol=1e-5):
            return "the output channels are in the wrong order: channel c*m + f (f < m) filters input channel c"
    flipped = w[:, :, ::-1, ::-1]
    if not np.allclose(flipped, w) and np.allclose(array, _reference.depthwise(x, flipped, stride, padding), atol=1e-5):
        return "the kernel is flipped: a convolution layer computes a cross-correlation"
    return None


def _depthwise_cases(seed):
    if seed is None:
        rng = _rng(1)
        specs = [
            (1, 1, 1, 5, 5, 3, 1, 0),
            (2, 3, 1, 6, 7, 3, 1, 1),
            (1, 2, 2, 8, 7, 3, 2, 1),  # stride 2 that does not divide (7 + 2 - 3) exactly, depth multiplier 2
            (2, 4, 1, 6, 5, 1, 2, 2),  # 1x1 kernel, padding 2
        ]
    else:
        rng = _rng(seed)
        specs = [
            (
                int(rng.integers(1, 3)),
                int(rng.integers(1, 4)),
                int(rng.integers(1, 3)),
                int(rng.integers(4, 9)),
                int(rng.integers(4, 9)),
                int(rng.choice([1, 3, 5])),
                int(rng.integers(1, 4)),
                int(rng.integers(0, 3)),
            )
            for _ in range(6)
        ]
    cases = []
    for number, (n, c, K, h, wd, k, stride, padding) in enumerate(specs):
        if h + 2 * padding < k or wd + 2 * padding < k:
            h, wd = h + k, wd + k
        x = rng.standard_normal((n, c, h, wd))
        w = rng.standard_normal((c * K, 1, k, k))
        if seed is not None and number >= 4:
            x, w = x.astype(np.float32), w.astype(np.float32)
        cases.append(((x, w), {"stride": stride, "padding": padding}))
    return cases


@never_raises
def depthwise_conv2d(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(x, weight, stride=1, padding=0)``, a depthwise convolution with weight ``(C_in*m, 1, k, k)``.

    Cases: depth multipliers 1 and 2, padding 0 to 2, strides 1 and 2 (one that does not divide exactly),
    height different from width. The answer must not call a convbook convolution.
    """
    return compare(
        "depthwise_conv2d",
        student_fn,
        lambda x, w, stride=1, padding=0: _reference.depthwise(x, w, stride, padding),
        _depthwise_cases(seed),
        hint="every output channel reads one input channel; pad first, then take one strided slice per tap "
        "(separable chapter, section 1)",
        diagnose=_depthwise_diagnosis,
        forbidden=(
            _sep.depthwise_conv2d,
            _sep.depthwise_conv2d_loop,
            _sep.separable_conv2d,
            _conv.conv2d,
            _conv.conv2d_naive,
            _conv.conv2d_im2col,
            _dilated.dilated_conv2d_gaps,
            _winograd.conv2d_winograd,
        ),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- merged kernel


def _merged_kernel(dw, pw):
    """``W[o, c, u, v] = pw[o, c, 0, 0] dw[c, 0, u, v]``, by loops."""
    c_out, c = pw.shape[:2]
    k = dw.shape[2:]
    out = np.zeros((c_out, c, *k))
    for o in range(c_out):
        for cc in range(c):
            out[o, cc] = pw[o, cc, 0, 0] * dw[cc, 0]
    return out


def _merged_diagnosis(args, kwargs, got):
    dw, pw = args
    array, _ = as_array(got)
    c_out, c = pw.shape[:2]
    k = dw.shape[2:]
    if array.shape == (c, c_out, *k) and c != c_out:
        return "the first axis is the output channel: (C_out, C, k, k)"
    if array.shape != (c_out, c, *k):
        return f"a standard kernel from {c} to {c_out} channels has shape (C_out, C, k, k)"
    x = np.random.default_rng(0).standard_normal((1, c, k[0] + 2, k[1] + 2))
    if not np.allclose(_reference.conv2d(x, array), _reference.separable_pair(x, dw, pw), atol=1e-5):
        return "a convolution with your kernel gives different outputs from the depthwise-then-pointwise pair"
    return None


@never_raises
def separable_to_standard(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(dw, pw)``: the standard kernel (C_out, C, k, k) of a depthwise + pointwise pair, m = 1."""
    rng = _rng(2 if seed is None else seed)
    if seed is None:
        specs = [(1, 1, 3), (3, 4, 3), (5, 2, 1), (4, 6, 5)]
    else:
        specs = [(int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.choice([1, 3, 5]))) for _ in range(6)]
    cases = []
    for number, (c, c_out, k) in enumerate(specs):
        dw, pw = rng.standard_normal((c, 1, k, k)), rng.standard_normal((c_out, c, 1, 1))
        if seed is not None and number >= 4:
            dw, pw = dw.astype(np.float32), pw.astype(np.float32)
        cases.append(((dw, pw), {}))
    return compare(
        "separable_to_standard",
        student_fn,
        _merged_kernel,
        cases,
        hint="write output o of the pair as a sum over input channels, then read off which kernel multiplies "
        "channel c (separable chapter, section 3)",
        diagnose=_merged_diagnosis,
        forbidden=(_sep.separable_to_standard,),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- bias


def _bias_diagnosis(args, kwargs, got):
    b_d, pw, b_p = args
    array, _ = as_array(got)
    if array.shape != b_p.shape:
        return f"one bias per output channel: shape ({b_p.shape[0]},)"
    if np.allclose(array, b_p):
        return "the depthwise bias is missing: a constant added before the pointwise step still reaches the output"
    if np.allclose(array, b_p + b_d.sum()):
        return "each depthwise channel's bias reaches output o multiplied by a pointwise weight"
    if np.allclose(array, pw[:, :, 0, 0] @ b_d):
        return "the pointwise bias is missing"
    return None


@never_raises
def fold_depthwise_bias(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(depthwise_bias, pw, pointwise_bias)``: the single output bias that replaces both."""
    rng = _rng(3 if seed is None else seed)
    specs = (
        [(1, 1), (3, 4), (6, 2)] if seed is None else [tuple(int(v) for v in rng.integers(1, 8, 2)) for _ in range(6)]
    )
    cases = []
    for number, (c, c_out) in enumerate(specs):
        b_d, pw, b_p = rng.standard_normal(c), rng.standard_normal((c_out, c, 1, 1)), rng.standard_normal(c_out)
        if seed is not None and number >= 4:
            b_d, pw, b_p = b_d.astype(np.float32), pw.astype(np.float32), b_p.astype(np.float32)
        cases.append(((b_d, pw, b_p), {}))

    def reference(b_d, pw, b_p):
        """The bias that makes the one-bias pair equal the two-bias pair, read from the pair's output on zeros."""
        x = np.zeros((1, len(b_d), 1, 1))
        mid = _reference.depthwise(x, np.ones((len(b_d), 1, 1, 1))) + b_d[None, :, None, None]
        return _reference.pointwise(mid, pw[:, :, 0, 0], b_p)[0, :, 0, 0]

    return compare(
        "fold_depthwise_bias",
        student_fn,
        reference,
        cases,
        hint="write the pair's output with both biases and collect everything that does not depend on the input",
        diagnose=_bias_diagnosis,
        label=_label(seed),
    )


# --------------------------------------------------------------------------- ratio


def _count_ratio(c_in, c_out, k, K):
    """Separable weights / standard weights, from the weight shapes (biases excluded)."""
    depthwise = int(np.prod((c_in * K, 1, k, k)))
    pointwise = int(np.prod((c_out, c_in * K, 1, 1)))
    standard = int(np.prod((c_out, c_in, k, k)))
    return (depthwise + pointwise) / standard


def _ratio_diagnosis(args, kwargs, got):
    c_in, c_out, k, K = args
    value, _ = as_number(got)
    right = _count_ratio(c_in, c_out, k, K)
    if K > 1 and np.isclose(value, _count_ratio(c_in, c_out, k, 1)):
        return "the depth multiplier m is ignored"
    if np.isclose(value, 1 / right):
        return "upside down: the ratio is separable weights over standard weights"
    return None


@never_raises
def separable_ratio(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(c_in, c_out, k, depth_multiplier)``: separable weights / standard weights, biases excluded."""
    if seed is None:
        specs = [(8, 32, 3, 1), (32, 64, 3, 1), (16, 16, 5, 2), (3, 7, 3, 4)]
    else:
        rng = _rng(seed)
        specs = [
            tuple(
                int(v)
                for v in (rng.integers(1, 65), rng.integers(1, 129), rng.choice([1, 3, 5, 7]), rng.integers(1, 5))
            )
            for _ in range(8)
        ]
    return compare(
        "separable_ratio",
        student_fn,
        _count_ratio,
        [(spec, {}) for spec in specs],
        hint="count the weights of each layer from its weight shape (separable chapter, section 2)",
        diagnose=_ratio_diagnosis,
        forbidden=(_costs.separable_cost, _costs.conv_cost),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- by hand


@never_raises
def mobilenet_layer(standard_weights, standard_macs, separable_weights, separable_macs) -> CheckResult:
    """Exercise sep-ex-2: 14x14x512 -> 14x14x512, 3x3, stride 1, padding 1; biases excluded."""
    side = _reference.window_count(14, 3, 1, 1, 1)
    expected = {
        "standard_weights": 512 * 512 * 3 * 3,
        "standard_macs": _reference.conv_macs(1, 512, 512, (3, 3), (side, side)),
        "separable_weights": 512 * 3 * 3 + 512 * 512,
        "separable_macs": _reference.conv_macs(1, 512, 512, (3, 3), (side, side), groups=512)
        + _reference.conv_macs(1, 512, 512, (1, 1), (side, side)),
    }
    given = {
        "standard_weights": standard_weights,
        "standard_macs": standard_macs,
        "separable_weights": separable_weights,
        "separable_macs": separable_macs,
    }

    def diagnose(name, value):
        if name.endswith("macs") and value == 2 * expected[name]:
            return "twice the count: that is FLOPs, not multiply-adds"
        if name == "separable_weights" and value == 512 * 3 * 3:
            return "the pointwise step has weights too"
        return None

    return compare_values(
        "mobilenet_layer", given, expected, diagnose, hint="notation page, 'Counting weights, multiply-adds and FLOPs'"
    )
