"""Self-checks for the coding exercises of the dilated-convolution chapter.

Each function takes the student's function, runs it on a few cases next to the
library's answer and returns a :class:`convbook.check.CheckResult` (prints PASS
or FAIL with a hint; never raises on a wrong answer).
"""

from __future__ import annotations

import numpy as np

from .. import dilated as _dil
from ..shapes import effective_kernel_size as _eff
from ..shapes import receptive_field as _rf
from . import CheckResult, compare


def _rng():
    return np.random.default_rng(2016)


def dilate_kernel(student_fn) -> CheckResult:
    """Check ``student_fn(weight, dilation)`` against :func:`convbook.dilated.dilate_kernel`.

    Cases: 2-D kernels with an int and a tuple dilation, a 1-D kernel, and ``d = 1``.
    """
    rng = _rng()
    cases = [
        ((rng.normal(size=(2, 3, 3, 3)), 2), {}),
        ((rng.normal(size=(1, 1, 3, 3)), 1), {}),
        ((rng.normal(size=(4, 2, 2, 3)), (3, 2)), {}),
        ((rng.normal(size=(2, 1, 5)), 4), {}),
    ]
    return compare(
        "dilate_kernel",
        student_fn,
        _dil.dilate_kernel,
        cases,
        hint="the result has d*(k-1)+1 taps per dimension; put weight[..., u, v] at [..., u*dH, v*dW], zeros elsewhere",
    )


def causal_conv1d(student_fn) -> CheckResult:
    """Check ``student_fn(x, weight, dilation=d)`` against :func:`convbook.dilated.causal_conv1d`.

    ``x`` has shape (N, C_in, L); the output must have the same length L.
    """
    rng = _rng()
    cases = [
        ((rng.normal(size=(1, 1, 12)), rng.normal(size=(1, 1, 2))), {"dilation": 1}),
        ((rng.normal(size=(2, 3, 20)), rng.normal(size=(4, 3, 2))), {"dilation": 4}),
        ((rng.normal(size=(1, 2, 16)), rng.normal(size=(2, 2, 3))), {"dilation": 3}),
    ]
    return compare(
        "causal_conv1d",
        student_fn,
        _dil.causal_conv1d,
        cases,
        hint="pad d*(k-1) zeros on the LEFT only, then run an ordinary dilated conv1d with padding 0",
    )


def coverage_map(student_fn) -> CheckResult:
    """Check a 1-D ``student_fn(kernel_size, dilations)`` against ``coverage_map(..., ndim=1)``."""
    cases = [
        ((3, [1]), {}),
        ((3, [1, 1]), {}),
        ((3, [2, 2, 2]), {}),
        ((3, [1, 2, 5]), {}),
        ((2, [1, 2, 4, 8]), {}),
    ]
    return compare(
        "coverage_map",
        student_fn,
        lambda k, dils: _dil.coverage_map(k, dils, ndim=1),
        cases,
        hint="start from [1]; for each layer convolve (np.convolve) with a length d*(k-1)+1 vector holding 1 every d",
    )


def effective_kernel_size(student_fn) -> CheckResult:
    """Check ``student_fn(kernel_size, dilation)`` against :func:`convbook.effective_kernel_size`."""
    cases = [((k, d), {}) for k, d in [(3, 1), (3, 2), (5, 3), (2, 512), (7, 4)]]
    return compare("effective_kernel_size", student_fn, _eff, cases, hint="k + (k - 1)(d - 1)")


def wavenet_receptive_field(student_fn) -> CheckResult:
    """Check ``student_fn(kernel_size, dilations)``: receptive field of a stride-1 stack."""
    cases = [((2, [1, 2, 4, 8]), {}), ((2, [2**i for i in range(10)]), {}), ((3, [1, 1, 2, 4, 8, 16, 1]), {})]
    return compare(
        "wavenet_receptive_field",
        student_fn,
        lambda k, dils: _rf([(k, 1, d) for d in dils]),
        cases,
        hint="each layer adds (k - 1) * d samples to a field that starts at 1",
    )
