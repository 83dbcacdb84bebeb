"""Shared strategies and helpers for the library tests."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

torch.set_num_threads(1)  # tests run side by side under pytest-xdist

TOL = {np.float64: 1e-10, np.float32: 1e-4}


@st.composite
def conv_configs(draw, nd=None, allow_groups=True, dtype=np.float64):
    """A random valid convolution call: (x, weight, bias, kwargs), any settings torch accepts."""
    nd = draw(st.sampled_from([1, 2])) if nd is None else nd
    groups = draw(st.integers(1, 3)) if allow_groups else 1
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    mode = draw(st.sampled_from(["int", "tuple", "valid", "same"]))
    if mode == "same":
        stride = (1,) * nd
        padding, pads = "same", [d * (k - 1) for k, d in zip(kernel, dilation)]
    elif mode == "valid":
        padding, pads = "valid", [0] * nd
    elif mode == "int":
        p = draw(st.integers(0, 2))
        padding, pads = p, [2 * p] * nd
    else:
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        pads = [2 * p for p in padding]
    sizes = []
    for k, d, total_pad in zip(kernel, dilation, pads):
        minimum = max(1, d * (k - 1) + 1 - total_pad)
        sizes.append(draw(st.integers(minimum, minimum + 6)))
    batch = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shape = (c_in, *sizes) if batch is None else (batch, c_in, *sizes)
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal((c_out, c_in // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    scalar = draw(st.booleans())  # pass ints where all entries are equal, as users do
    kwargs = {
        "stride": stride[0] if scalar and len(set(stride)) == 1 else stride,
        "padding": padding,
        "dilation": dilation[0] if scalar and len(set(dilation)) == 1 else dilation,
        "groups": groups,
    }
    return x, weight, bias, kwargs


def torch_forward(x, weight, bias, **kwargs):
    """torch's result on the CPU, as NumPy."""
    fn = torch.nn.functional.conv1d if weight.ndim == 3 else torch.nn.functional.conv2d
    b = None if bias is None else torch.from_numpy(bias)
    return fn(torch.from_numpy(x), torch.from_numpy(weight), b, **kwargs).numpy()


def assert_close(got, expected, tol):
    """Shape, then dtype, then values."""
    assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
    err = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)))) if got.size else 0.0
    assert err <= tol, f"max abs error {err:.3g} > {tol:g}"


# Hand-written "student" answers to three dilated exercises, independent of convbook: the self-checks must accept them.
def student_dilate_kernel(w, dilation):
    nd = w.ndim - 2
    dil = (dilation,) * nd if np.isscalar(dilation) else tuple(dilation)
    out = np.zeros(w.shape[:2] + tuple(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dil)), dtype=w.dtype)
    out[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dil)] = w
    return out


def student_causal_conv1d(x, w, dilation=1):
    k, length = w.shape[-1], x.shape[-1]
    xp = np.pad(x, ((0, 0), (0, 0), (dilation * (k - 1), 0)))  # zeros on the left only
    out = np.zeros((x.shape[0], w.shape[0], length), dtype=np.result_type(x, w))
    for j in range(k):
        out += np.einsum("ncl,oc->nol", xp[:, :, j * dilation : j * dilation + length], w[:, :, j])
    return out


def student_coverage(k, dilations):
    counts = np.ones(1, dtype=np.int64)
    for d in dilations:
        taps = np.zeros(d * (k - 1) + 1, dtype=np.int64)
        taps[::d] = 1
        counts = np.convolve(counts, taps)
    return counts
