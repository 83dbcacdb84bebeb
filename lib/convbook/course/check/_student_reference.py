"""The checks' references in the student build of the library (installed there as ``check/_reference.py``).

The book's own references (:mod:`convbook.course.check._reference`) are independent loop implementations of what the
coding exercises ask for; the student build leaves them out and uses this module in their place: the sizes and counts
of :mod:`convbook.course.check._counts`, and for the arrays the library functions that the book's lessons use anyway
(``tests/test_course_student_build.py`` checks that both give the same results). A graded exercise never asks for
one of these: its answers are sealed (:mod:`convbook.course.check.sealed`).
"""

from __future__ import annotations

import numpy as np

from convbook import conv1d as _conv1d
from convbook import conv2d as _conv2d
from convbook.course.check._counts import (  # noqa: F401 (the checks read every reference from this module)
    MOBILENET_V1_TABLE,
    _tuple,
    conv_macs,
    depthwise_flops_bytes,
    inverted_residual_macs,
    mobilenet_v1_counts,
    reachable_offsets,
    roofline,
    span,
    stack_field,
    window_count,
)
from convbook.dilated import causal_conv1d as _causal_conv1d
from convbook.dilated import coverage_map as _coverage_map
from convbook.dilated import dilate_kernel as _dilate_kernel


def _f64(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def path_counts(kernel_size: int, dilations) -> np.ndarray:
    """Number of paths from each input offset to one output (``convbook.dilated.coverage_map`` in 1-D)."""
    return _coverage_map(kernel_size, list(dilations), ndim=1).astype(np.int64)


def corr1d(x, k) -> np.ndarray:
    """Single-channel cross-correlation, no padding, stride 1."""
    return _conv1d(_f64(x)[None, None], _f64(k)[None, None])[0, 0]  # (L - K + 1,)


def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in // groups, kH, kW)."""
    return _conv2d(_f64(x), _f64(weight), stride=stride, padding=padding, dilation=dilation, groups=groups)


def depthwise(x, weight, stride=1, padding=0) -> np.ndarray:
    """Depthwise convolution: one group per input channel."""
    return conv2d(x, weight, stride=stride, padding=padding, groups=np.asarray(x).shape[1])


def pointwise(x, weight, bias=None) -> np.ndarray:
    """1x1 convolution of ``x`` (N, C_in, H, W) with a matrix ``weight`` (C_out, C_in)."""
    weight = _f64(weight)[:, :, None, None]  # (C_out, C_in, 1, 1)
    return _conv2d(_f64(x), weight, None if bias is None else np.broadcast_to(_f64(bias), weight.shape[:1]).copy())


def dilate_kernel(weight, dilation) -> np.ndarray:
    """The kernel with ``d - 1`` zeros between neighbouring taps along each spatial axis."""
    return _dilate_kernel(_f64(weight), dilation)


def causal_conv1d(x, weight, dilation=1) -> np.ndarray:
    """Causal dilated 1-D convolution, ``x`` zero before time 0."""
    return _causal_conv1d(_f64(x), _f64(weight), None, dilation=dilation)


def separable_pair(x, dw, pw) -> np.ndarray:
    """Depthwise ``dw`` (C, 1, k, k), then pointwise ``pw`` (C_out, C, 1, 1), no padding."""
    return pointwise(depthwise(x, dw), np.asarray(pw)[:, :, 0, 0])
