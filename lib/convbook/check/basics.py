"""Self-checks for Chapter 1, "Convolution from scratch"."""

from __future__ import annotations

import numpy as np

from .. import conv1d_naive, conv_output_size
from . import CheckResult, compare


def _cases_1d():
    rng = np.random.default_rng(2024)
    cases = []
    for length, k in [(5, 3), (8, 1), (7, 7), (10, 4)]:
        cases.append(((rng.standard_normal(length), rng.standard_normal(k)), {}))
    return cases


def corr1d(student_fn) -> CheckResult:
    """Check ``student_fn(x, k)``: single-channel 1-D cross-correlation, no padding, stride 1.

    ``x`` has shape ``(L,)``, ``k`` has shape ``(K,)``; the answer has shape ``(L - K + 1,)``.
    """

    def reference(x, k):
        return conv1d_naive(x[None], k[None, None])[0]

    return compare(
        "corr1d",
        student_fn,
        reference,
        _cases_1d(),
        hint="y[i] = sum_u x[i + u] * k[u] for i in range(L - K + 1); do not flip the kernel",
    )


def output_size(student_fn) -> CheckResult:
    """Check ``student_fn(size, kernel_size, stride, padding, dilation)`` against the library's formula."""
    cases = [
        ((i, k, s, p, d), {}) for i, k, s, p, d in [(7, 3, 1, 0, 1), (7, 3, 2, 1, 1), (10, 3, 1, 0, 3), (5, 2, 2, 0, 2)]
    ]
    return compare(
        "output_size",
        student_fn,
        conv_output_size,
        cases,
        hint="floor((i + 2p - d(k - 1) - 1) / s) + 1: use integer division //",
    )
