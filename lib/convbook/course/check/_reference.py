"""Independent references for the self-checks: plain loops and brute-force counting.

Nothing here imports the rest of convbook. Each function computes what an
exercise asks for in the most literal way (a loop over every output and every
tap, a count of window positions, an enumeration of paths), so that the checks
do not compare a student's answer with the library function the exercise asks
the student to write. ``tests/test_check.py`` compares every reference here
with PyTorch and with the library. The checks refuse answers that call these
functions.

Sizes are small on purpose: the loops are slow, and clear. The sizes and counts are in
:mod:`convbook.course.check._counts` (re-exported here); this module holds the array references, which answer the
book's coding exercises: the student build of the library replaces it by
:mod:`convbook.course.check._student_reference`.
"""

from __future__ import annotations

import itertools

import numpy as np

from convbook.course.check._counts import (  # noqa: F401 (re-exported: the checks read every reference from here)
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

# --------------------------------------------------------------------------- paths


def path_counts(kernel_size: int, dilations) -> np.ndarray:
    """Number of paths from each input offset to one output: every choice of one tap per layer, enumerated."""
    total = sum(d * (kernel_size - 1) for d in dilations)
    counts = np.zeros(total + 1, dtype=np.int64)
    for taps in itertools.product(range(kernel_size), repeat=len(dilations)):
        counts[sum(d * j for d, j in zip(dilations, taps))] += 1
    return counts


# --------------------------------------------------------------------------- arrays


def corr1d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Single-channel cross-correlation, no padding, stride 1: ``y[i] = sum_u x[i + u] k[u]``."""
    out = np.zeros(len(x) - len(k) + 1)
    for i in range(len(out)):
        for u in range(len(k)):
            out[i] += x[i + u] * k[u]
    return out


def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in // groups, kH, kW), by loops."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    sh, sw = _tuple(stride, 2)
    ph, pw = _tuple(padding, 2)
    dh, dw = _tuple(dilation, 2)
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    out_per_group = c_out // groups
    xp = np.zeros((n, c_in, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + w] = x
    ho = window_count(h, kh, sh, ph, dh)
    wo = window_count(w, kw, sw, pw, dw)
    y = np.zeros((n, c_out, ho, wo))
    for b in range(n):
        for o in range(c_out):
            first_channel = (o // out_per_group) * c_per_group
            for i in range(ho):
                for j in range(wo):
                    total = 0.0
                    for c in range(c_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                total += weight[o, c, u, v] * xp[b, first_channel + c, i * sh + u * dh, j * sw + v * dw]
                    y[b, o, i, j] = total
    return y


def depthwise(x, weight, stride=1, padding=0) -> np.ndarray:
    """Depthwise convolution: output channel ``c*K + m`` filters input channel ``c`` with ``weight[c*K + m, 0]``."""
    return conv2d(x, weight, stride=stride, padding=padding, groups=np.asarray(x).shape[1])


def pointwise(x, weight, bias=None) -> np.ndarray:
    """1x1 convolution of ``x`` (N, C_in, H, W) with a matrix ``weight`` (C_out, C_in), pixel by pixel."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n, _, h, w = x.shape
    y = np.zeros((n, weight.shape[0], h, w))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y[b, :, i, j] = weight @ x[b, :, i, j] + (0.0 if bias is None else bias)
    return y


def dilate_kernel(weight, dilation) -> np.ndarray:
    """The kernel with ``d - 1`` zeros between neighbouring taps along each spatial axis, tap by tap."""
    weight = np.asarray(weight)
    nd = weight.ndim - 2
    dil = _tuple(dilation, nd)
    spans = tuple(span(k, d) for k, d in zip(weight.shape[2:], dil))
    out = np.zeros(weight.shape[:2] + spans, dtype=np.float64)
    for taps in itertools.product(*(range(k) for k in weight.shape[2:])):
        target = tuple(d * t for d, t in zip(dil, taps))
        out[(slice(None), slice(None)) + target] = weight[(slice(None), slice(None)) + taps]
    return out


def causal_conv1d(x, weight, dilation=1) -> np.ndarray:
    """``y[n, o, t] = sum_{c, j} w[o, c, j] x[n, c, t - d (k - 1 - j)]``, with ``x`` zero before time 0."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n, _, length = x.shape
    c_out, c_in, k = weight.shape
    y = np.zeros((n, c_out, length))
    for b in range(n):
        for o in range(c_out):
            for t in range(length):
                for c in range(c_in):
                    for j in range(k):
                        source = t - dilation * (k - 1 - j)
                        if source >= 0:
                            y[b, o, t] += weight[o, c, j] * x[b, c, source]
    return y


def separable_pair(x, dw, pw) -> np.ndarray:
    """Depthwise ``dw`` (C, 1, k, k), then pointwise ``pw`` (C_out, C, 1, 1), no padding, by loops."""
    return pointwise(depthwise(x, dw), np.asarray(pw)[:, :, 0, 0])
