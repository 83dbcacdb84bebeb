"""Self-checks for the coding exercises of the 1x1 (pointwise) chapter.

Each function takes the student's function, runs it on a few cases, compares
with the library's answer and returns a :class:`convbook.check.CheckResult`
(prints PASS or FAIL with a hint; never raises on a wrong answer).
"""

from __future__ import annotations

import numpy as np

from ..pointwise import pointwise_conv2d
from . import CheckResult, compare


def _cases_matmul():
    rng = np.random.default_rng(5)
    cases = []
    for n, c_in, c_out, h, w in [(1, 3, 2, 4, 5), (2, 8, 4, 3, 3), (3, 1, 6, 2, 7)]:
        x = rng.normal(size=(n, c_in, h, w))
        weight = rng.normal(size=(c_out, c_in))
        cases.append(((x, weight), {}))
    return cases


def pointwise_matmul(student_fn) -> CheckResult:
    """Check ``student_fn(x, weight)``: a 1x1 convolution by one matrix product.

    ``x`` has shape ``(N, C_in, H, W)``, ``weight`` ``(C_out, C_in)``; the
    answer has shape ``(N, C_out, H, W)``.
    """
    return compare(
        "pointwise_matmul",
        student_fn,
        lambda x, weight: pointwise_conv2d(x, weight),
        _cases_matmul(),
        hint="move channels last with x.transpose(0, 2, 3, 1), reshape to (N*H*W, C_in), "
        "multiply by weight.T, then undo the reshape and the transpose",
    )


def _compose_reference(w1, b1, w2, b2):
    return w2 @ w1, w2 @ b1 + b2


def compose_pointwise(student_fn) -> CheckResult:
    """Check ``student_fn(w1, b1, w2, b2) -> (w, b)``: two 1x1 layers in a row as one.

    ``w1`` (C_mid, C_in), ``b1`` (C_mid,), ``w2`` (C_out, C_mid), ``b2``
    (C_out,). The answer must satisfy ``pointwise(pointwise(x, w1, b1), w2, b2)
    == pointwise(x, w, b)`` for every ``x``: ``w`` (C_out, C_in), ``b`` (C_out,).
    """
    name = "compose_pointwise"
    hint = "apply the second layer to the first: y = w2 (w1 x + b1) + b2; expand the brackets"
    if not callable(student_fn):
        return CheckResult(name, False, f"expected a function, got {type(student_fn).__name__}", hint)
    rng = np.random.default_rng(6)
    for number, (c_in, c_mid, c_out) in enumerate([(3, 2, 4), (5, 8, 1), (4, 4, 4)], start=1):
        w1, b1 = rng.normal(size=(c_mid, c_in)), rng.normal(size=c_mid)
        w2, b2 = rng.normal(size=(c_out, c_mid)), rng.normal(size=c_out)
        x = rng.normal(size=(2, c_in, 3, 3))
        try:
            w, b = student_fn(w1, b1, w2, b2)
            w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
        except Exception as exc:  # a student's bug is reported, not raised
            return CheckResult(name, False, f"case {number} raised {type(exc).__name__}: {exc}", hint)
        if w.shape != (c_out, c_in) or b.shape != (c_out,):
            return CheckResult(
                name, False, f"case {number}: shapes {w.shape}, {b.shape}, expected {(c_out, c_in)}, {(c_out,)}", hint
            )
        two = pointwise_conv2d(pointwise_conv2d(x, w1, b1), w2, b2)
        one = pointwise_conv2d(x, w, b)
        if not np.allclose(one, two, atol=1e-8, rtol=0):
            return CheckResult(name, False, f"case {number}: the single layer gives different outputs", hint)
    return CheckResult(name, True, "all 3 cases match")


def pointwise_macs(student_fn) -> CheckResult:
    """Check ``student_fn(c_in, c_out, h, w) -> int``: multiply-adds of one 1x1 layer on one image."""
    cases = [((256, 64, 56, 56), {}), ((192, 16, 28, 28), {}), ((3, 5, 7, 11), {})]
    return compare(
        "pointwise_macs",
        student_fn,
        lambda c_in, c_out, h, w: c_in * c_out * h * w,
        cases,
        hint="every one of the h*w pixels computes c_out dot products of length c_in",
    )
