"""Self-checks for Chapter 1, "Convolution from scratch"."""

from __future__ import annotations

import numpy as np

from convbook import conv as _conv
from convbook import dilated as _dilated
from convbook import shapes as _shapes
from convbook import winograd as _winograd
from convbook.course.check import CheckResult, _reference, as_array, as_number, compare, never_raises

#: Library functions that compute a 1-D or 2-D convolution: the coding exercises of this chapter are to write one.
_CONVOLUTIONS = (
    _conv.conv1d,
    _conv.conv1d_naive,
    _conv.conv2d,
    _conv.conv2d_naive,
    _conv.conv2d_im2col,
    _dilated.dilated_conv1d_gaps,
    _dilated.dilated_conv2d_gaps,
    _winograd.conv2d_winograd,
)


def _cases_1d(rng, sizes, dtype=np.float64):
    return [
        ((rng.standard_normal(length).astype(dtype), rng.standard_normal(k).astype(dtype)), {}) for length, k in sizes
    ]


def _corr1d_diagnosis(args, kwargs, got):
    x, k = args
    array, _ = as_array(got)
    n, m = len(x), len(k)
    if array.shape == (n + m - 1,):
        return (
            "your output has L + K - 1 values: windows that hang over the ends are counted ('full' mode); "
            "this exercise has no padding, so every window lies inside x"
        )
    if array.shape == (n,):
        return "your output is as long as the input ('same' mode); without padding there are fewer windows"
    if array.shape == (n - m,):
        return "one value short: is the last window, the one that ends at the last sample, missing?"
    if array.shape == (n - m + 2,):
        return "one value too many: a window that runs past the end of x?"
    if array.shape == (n - m + 1,) and not np.allclose(k, k[::-1]):
        if np.allclose(array, _reference.corr1d(x, k[::-1]), atol=1e-6):
            return (
                "your answer is the kernel flipped (the convolution of signal processing); deep-learning "
                "'convolution' slides the kernel as it is (see the notation page, 'Cross-correlation')"
            )
    return None


@never_raises
def corr1d(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(x, k)``: single-channel 1-D cross-correlation, no padding, stride 1.

    ``x`` has shape ``(L,)``, ``k`` has shape ``(K,)``; the answer has shape ``(L - K + 1,)``.
    Cases include a one-tap kernel and a kernel as long as the input.
    """
    if seed is None:
        cases = _cases_1d(np.random.default_rng(2024), [(5, 3), (8, 1), (7, 7), (10, 4)])
    else:
        rng = np.random.default_rng(seed)
        sizes = [(int(rng.integers(6, 20)), int(rng.integers(2, 6))) for _ in range(6)] + [(9, 9), (6, 1)]
        cases = _cases_1d(rng, sizes[:5]) + _cases_1d(rng, sizes[5:], np.float32)
    return compare(
        "corr1d",
        student_fn,
        _reference.corr1d,
        cases,
        hint="slide the kernel along x without flipping it; one output per position where the whole kernel fits "
        "(Chapter 1, 'The loops')",
        diagnose=_corr1d_diagnosis,
        forbidden=_CONVOLUTIONS,
        label="" if seed is None else "(extra cases)",
    )


def _output_size_diagnosis(args, kwargs, got):
    size, k, s, p, d = args
    value, _ = as_number(got)
    eff = d * (k - 1) + 1
    if isinstance(value, float) and value != int(value):
        return (
            "a size counts whole window positions: when the stride does not divide exactly, which way "
            "must the division be rounded?"
        )
    candidates = {
        "the dilation is ignored: a dilated kernel spans more input than its number of taps": (size + 2 * p - k) // s
        + 1,
        "the padding is counted once; it is added on each side": (size + p - eff) // s + 1,
        "rounded up: leftover samples too few for another stride are never read": -(-(size + 2 * p - eff) // s) + 1,
        "one less than expected: count the window positions, the first one included": (size + 2 * p - eff) // s,
        "the dilation is read as a gap count; in this book dilation 1 is an ordinary convolution": (
            size + 2 * p - ((d + 1) * (k - 1) + 1)
        )
        // s
        + 1,
    }
    for message, wrong in candidates.items():
        if value == wrong and value != _reference.window_count(size, k, s, p, d):
            return message
    return None


@never_raises
def output_size(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(size, kernel_size, stride, padding, dilation)``: the output length along one axis.

    The expected value is counted window position by window position. Cases include strides that do not
    divide exactly, padding and dilation.
    """
    if seed is None:
        specs = [(7, 3, 1, 0, 1), (8, 3, 2, 1, 1), (10, 3, 1, 2, 3), (30, 4, 3, 1, 2)]
    else:
        rng = np.random.default_rng(seed)
        specs = []
        while len(specs) < 10:
            i, k, s, p, d = (
                int(rng.integers(5, 60)),
                int(rng.integers(1, 6)),
                int(rng.integers(1, 5)),
                int(rng.integers(0, 4)),
                int(rng.integers(1, 4)),
            )
            if i + 2 * p >= d * (k - 1) + 1:
                specs.append((i, k, s, p, d))
    return compare(
        "output_size",
        student_fn,
        _reference.window_count,
        [(spec, {}) for spec in specs],
        hint="count the positions where the dilated kernel fits in the padded input, stepping by the stride "
        "(notation page, 'Output size')",
        diagnose=_output_size_diagnosis,
        forbidden=(_shapes.conv_output_size,),
        label="" if seed is None else "(extra cases)",
    )
