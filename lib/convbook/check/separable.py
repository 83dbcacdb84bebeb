"""Self-checks for the exercises of the depthwise-separable chapter.

Each function takes the student's function, runs it on a few fixed cases next
to the library's answer, and returns a :class:`~convbook.check.CheckResult`
(it prints ``PASS`` or ``FAIL`` with a hint; it never raises).
"""

from __future__ import annotations

import numpy as np

from ..costs import conv_cost, separable_cost
from ..separable import depthwise_conv2d as _depthwise_conv2d
from ..separable import separable_to_standard as _separable_to_standard
from . import CheckResult, compare


def _rng(seed: int = 0):
    return np.random.default_rng(seed)


def depthwise_conv2d(student_fn) -> CheckResult:
    """Check ``student_fn(x, weight, stride=1, padding=0)``, a depthwise convolution with weight ``(C*K, 1, k, k)``."""
    rng = _rng(1)
    cases = []
    for N, C, K, H, W, k, stride, padding in [
        (1, 1, 1, 5, 5, 3, 1, 0),
        (2, 3, 1, 6, 7, 3, 1, 1),
        (1, 2, 2, 7, 6, 3, 2, 1),
        (2, 4, 1, 5, 5, 1, 1, 0),
    ]:
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((C * K, 1, k, k))
        cases.append(((x, w), {"stride": stride, "padding": padding}))

    def reference(x, w, stride=1, padding=0):
        return _depthwise_conv2d(x, w, stride=stride, padding=padding)

    return compare(
        "depthwise_conv2d",
        student_fn,
        reference,
        cases,
        hint="output channel c*K + m filters input channel c with weight[c*K + m, 0]; "
        "pad first, then slide with the stride; the output has C*K channels",
    )


def separable_to_standard(student_fn) -> CheckResult:
    """Check ``student_fn(dw, pw)``: the standard kernel (C_out, C, k, k) of a depthwise + pointwise pair, K = 1."""
    rng = _rng(2)
    cases = []
    for C, C_out, k in [(1, 1, 3), (3, 4, 3), (5, 2, 1), (4, 6, 5)]:
        dw = rng.standard_normal((C, 1, k, k))
        pw = rng.standard_normal((C_out, C, 1, 1))
        cases.append(((dw, pw), {}))
    return compare(
        "separable_to_standard",
        student_fn,
        _separable_to_standard,
        cases,
        hint="W[o, c, u, v] = pw[o, c, 0, 0] * dw[c, 0, u, v]; np.einsum('oc,cuv->ocuv', ...) does it in one line",
    )


def fold_depthwise_bias(student_fn) -> CheckResult:
    """Check ``student_fn(depthwise_bias, pw, pointwise_bias)``: the single output bias that replaces both."""
    rng = _rng(3)
    cases = []
    for C, C_out in [(1, 1), (3, 4), (6, 2)]:
        b_d = rng.standard_normal(C)
        pw = rng.standard_normal((C_out, C, 1, 1))
        b_p = rng.standard_normal(C_out)
        cases.append(((b_d, pw, b_p), {}))

    def reference(b_d, pw, b_p):
        return pw[:, :, 0, 0] @ b_d + b_p  # (C_out,)

    return compare(
        "fold_depthwise_bias",
        student_fn,
        reference,
        cases,
        hint="a constant b_d[c] added to depthwise channel c reaches output o multiplied by pw[o, c]",
    )


def separable_ratio(student_fn) -> CheckResult:
    """Check ``student_fn(c_in, c_out, k, depth_multiplier)``: separable weights / standard weights, biases excluded."""
    cases = [
        ((c_in, c_out, k, K), {}) for c_in, c_out, k, K in [(8, 32, 3, 1), (32, 64, 3, 1), (16, 16, 5, 2), (3, 7, 3, 4)]
    ]

    def reference(c_in, c_out, k, K):
        dw, pw = separable_cost(c_in, c_out, k, 1, depth_multiplier=K)
        return (dw.params + pw.params) / conv_cost(c_in, c_out, k, 1).params

    def rounded(fn):
        def wrapped(*args):
            value = fn(*args)
            return round(float(value), 9) if isinstance(value, (int, float, np.floating)) else value

        return wrapped

    return compare(
        "separable_ratio",
        rounded(student_fn),
        rounded(reference),
        cases,
        hint="depthwise: c_in*K*k*k weights; pointwise: c_in*K*c_out; standard: c_in*c_out*k*k",
    )
