"""Depthwise-separable convolution: the loop oracle against torch, the vectorised version against
the oracle, the kernel algebra (merge and least-squares fit), the exercise checks and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TOL, assert_close, torch_forward
from convbook import conv2d, conv2d_naive
from convbook.course.check import separable as check
from convbook.pointwise import pointwise_conv2d
from convbook.separable import (
    depthwise_conv2d,
    depthwise_conv2d_loop,
    fit_separable,
    relative_fit_error,
    separable_conv2d,
    separable_to_standard,
)


@st.composite
def depthwise_configs(draw, dtype=np.float64):
    """A random valid depthwise call: (x, weight, bias, kwargs) with weight (C*K, 1, kH, kW)."""
    C, K = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["int", "tuple", "same"]))
    if mode == "same":
        stride, padding, pads = (1, 1), "same", [d * (k - 1) for k, d in zip(kernel, dilation)]
    elif mode == "int":
        p = draw(st.integers(0, 2))
        padding, pads = p, [2 * p] * 2
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        pads = [2 * p for p in padding]
    sizes = [
        draw(st.integers(lo, lo + 5)) for lo in (max(1, d * (k - 1) + 1 - p) for k, d, p in zip(kernel, dilation, pads))
    ]
    batch = draw(st.sampled_from([None, 1, 2]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((C, *sizes) if batch is None else (batch, C, *sizes)).astype(dtype)
    w = rng.standard_normal((C * K, 1, *kernel)).astype(dtype)
    b = rng.standard_normal(C * K).astype(dtype) if draw(st.booleans()) else None
    return x, w, b, {"stride": stride, "padding": padding, "dilation": dilation}


def _groups(x):
    return x.shape[-3]


@settings(max_examples=60, deadline=None)
@given(depthwise_configs())
def test_loop_matches_torch(case):
    x, w, b, kw = case
    assert_close(depthwise_conv2d_loop(x, w, b, **kw), torch_forward(x, w, b, groups=_groups(x), **kw), TOL[np.float64])


@settings(max_examples=100, deadline=None)
@given(depthwise_configs())
def test_vectorized_matches_loop_and_grouped_conv(case):
    x, w, b, kw = case
    expected = depthwise_conv2d_loop(x, w, b, **kw)
    assert_close(depthwise_conv2d(x, w, b, **kw), expected, TOL[np.float64])
    assert_close(conv2d(x, w, b, groups=_groups(x), **kw), expected, TOL[np.float64])


def test_loop_matches_naive_oracle():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6)
    kw = {"stride": 2, "padding": 1, "dilation": (1, 2)}
    assert_close(depthwise_conv2d_loop(x, w, b, **kw), conv2d_naive(x, w, b, groups=3, **kw), TOL[np.float64])


def test_float32_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    w = rng.standard_normal((8, 1, 3, 3)).astype(np.float32)
    assert_close(depthwise_conv2d(x, w, padding=1), torch_forward(x, w, None, padding=1, groups=4), TOL[np.float32])


@settings(max_examples=60, deadline=None)
@given(depthwise_configs(), st.integers(1, 5), st.booleans())
def test_separable_matches_torch_modules(case, c_out, four_d):
    """Our separable conv equals torch's Conv2d(groups=C) followed by a 1x1 Conv2d."""
    x, w, _, kw = case
    C, CK = x.shape[-3], w.shape[0]
    rng = np.random.default_rng(c_out)
    pw = rng.standard_normal((c_out, CK, 1, 1))
    b = rng.standard_normal(c_out)
    depthwise = torch.nn.Conv2d(C, CK, w.shape[2:], groups=C, bias=False, dtype=torch.float64, **kw)
    pointwise = torch.nn.Conv2d(CK, c_out, 1, dtype=torch.float64)
    with torch.no_grad():
        depthwise.weight.copy_(torch.from_numpy(w))
        pointwise.weight.copy_(torch.from_numpy(pw))
        pointwise.bias.copy_(torch.from_numpy(b))
        expected = pointwise(depthwise(torch.from_numpy(x))).numpy()
    got = separable_conv2d(x, w, pw[:, :, 0, 0] if four_d else pw, b, **kw)
    assert_close(got, expected, TOL[np.float64])


@settings(max_examples=60, deadline=None)
@given(depthwise_configs(), st.integers(1, 4))
def test_separable_is_a_standard_conv_with_merged_kernel(case, c_out):
    x, w, _, kw = case
    K = w.shape[0] // x.shape[-3]
    pw = np.random.default_rng(c_out).standard_normal((c_out, w.shape[0], 1, 1))
    merged = separable_to_standard(w, pw, depth_multiplier=K)
    assert merged.shape == (c_out, x.shape[-3], *w.shape[2:])
    assert_close(separable_conv2d(x, w, pw, **kw), conv2d(x, merged, **kw), TOL[np.float64])
    mid = depthwise_conv2d(x, w, **kw)
    assert_close(separable_conv2d(x, w, pw, **kw), pointwise_conv2d(mid, pw), TOL[np.float64])


def test_fit_recovers_a_separable_kernel_exactly():
    rng = np.random.default_rng(2)
    for K in (1, 2):
        dw, pw = rng.standard_normal((5 * K, 1, 3, 3)), rng.standard_normal((7, 5 * K, 1, 1))
        w = separable_to_standard(dw, pw, K)
        fdw, fpw = fit_separable(w, K)
        assert fdw.shape == dw.shape and fpw.shape == pw.shape
        assert_close(separable_to_standard(fdw, fpw, K), w, TOL[np.float64])
        assert relative_fit_error(w, K) < 1e-12


def test_fit_is_the_truncated_svd_and_beats_perturbations():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 3, 3, 3))
    err = relative_fit_error(w)
    expected = 0.0
    for c in range(3):
        s = np.linalg.svd(w[:, c].reshape(6, 9), compute_uv=False)
        expected += float(np.sum(s[1:] ** 2))
    assert abs(err - np.sqrt(expected) / np.linalg.norm(w)) < 1e-12
    dw, pw = fit_separable(w)
    for _ in range(5):  # a nearby separable kernel is never closer
        noisy = separable_to_standard(dw + 1e-3 * rng.standard_normal(dw.shape), pw)
        assert np.linalg.norm(w - noisy) >= np.linalg.norm(w - separable_to_standard(dw, pw)) - 1e-12
    assert relative_fit_error(w, depth_multiplier=9) < 1e-12  # K = k*k: any kernel is reachable
    assert 0 < err < 1


def test_fit_is_deterministic_and_sign_normalised():
    w = np.random.default_rng(4).standard_normal((8, 4, 3, 3))
    dw1, pw1 = fit_separable(w)
    dw2, pw2 = fit_separable(w.copy())
    assert np.array_equal(dw1, dw2) and np.array_equal(pw1, pw2)
    flat = dw1.reshape(4, 9)
    assert np.all(flat[np.arange(4), np.abs(flat).argmax(axis=1)] > 0)


@pytest.mark.parametrize(
    "fn, args, error, match",
    [
        (depthwise_conv2d, ((2, 3, 5, 5), (4, 1, 3, 3)), ValueError, r"depthwise_conv2d: weight.shape\[0\] = 4 must"),
        (depthwise_conv2d, ((2, 3, 5, 5), (3, 3, 3, 3)), ValueError, r"depthwise_conv2d: a depthwise weight has one"),
        (depthwise_conv2d_loop, ((3, 5, 5), (6, 1, 3)), ValueError, r"depthwise_conv2d_loop: weight must be 4-D"),
        (depthwise_conv2d, ((5, 5), (1, 1, 3, 3)), ValueError, r"depthwise_conv2d: input x must be 3-D"),
        (depthwise_conv2d, ((1, 3, 2, 2), (3, 1, 3, 3)), ValueError, r"depthwise_conv2d: the effective kernel"),
        (
            separable_conv2d,
            ((1, 3, 5, 5), (3, 1, 3, 3), (4, 2)),
            ValueError,
            r"separable_conv2d: pointwise_weight.shape",
        ),
        (
            separable_conv2d,
            ((1, 3, 5, 5), (3, 1, 3, 3), (4, 3, 3, 3)),
            ValueError,
            r"separable_conv2d: a 4-D pointwise",
        ),
        (separable_to_standard, ((3, 2, 3, 3), (4, 3)), ValueError, r"separable_to_standard: depthwise_weight must"),
        (fit_separable, ((4, 3, 3),), ValueError, r"fit_separable: weight must be 4-D"),
    ],
)
def test_bad_shapes(fn, args, error, match):
    arrays = [np.zeros(shape) for shape in args]
    with pytest.raises(error, match=match):
        fn(*arrays)


def test_bad_types_and_settings():
    x, w = np.zeros((1, 2, 5, 5)), np.zeros((2, 1, 3, 3))
    with pytest.raises(TypeError, match=r"depthwise_conv2d: input x must have a floating-point dtype"):
        depthwise_conv2d(x.astype(int), w)
    with pytest.raises(TypeError, match=r"depthwise_conv2d: weight dtype float32 must match"):
        depthwise_conv2d(x, w.astype(np.float32))
    with pytest.raises(TypeError, match=r"depthwise_conv2d: input x must be a NumPy array, got a torch tensor"):
        depthwise_conv2d(torch.zeros(1, 2, 5, 5), w)
    with pytest.raises(ValueError, match=r"depthwise_conv2d: stride must be positive"):
        depthwise_conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"depthwise_conv2d: bias must have shape \(C_out,\) = \(2,\)"):
        depthwise_conv2d(x, w, bias=np.zeros(3))
    with pytest.raises(ValueError, match=r"separable_conv2d: bias must have shape \(C_out,\) = \(4,\)"):
        separable_conv2d(x, w, np.zeros((4, 2)), bias=np.zeros(2))
    with pytest.raises(TypeError, match=r"separable_conv2d: bias dtype float32 must match input dtype float64"):
        separable_conv2d(x, w, np.zeros((4, 2)), bias=np.zeros(4, dtype=np.float32))
    with pytest.raises(TypeError, match=r"separable_conv2d: pointwise_weight dtype float32 must match"):
        separable_conv2d(x, w, np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"separable_to_standard: depth_multiplier=2 must divide"):
        separable_to_standard(np.zeros((3, 1, 3, 3)), np.zeros((4, 3)), depth_multiplier=2)
    with pytest.raises(ValueError, match=r"fit_separable: depth_multiplier must be a positive int"):
        fit_separable(np.zeros((4, 3, 3, 3)), depth_multiplier=0)
    with pytest.raises(TypeError, match=r"fit_separable: depth_multiplier must be an int"):
        fit_separable(np.zeros((4, 3, 3, 3)), depth_multiplier=1.5)


def _my_depthwise(x, w, stride=1, padding=0):
    """An answer written without convbook (the self-checks reject answers that call the library)."""
    C, k = x.shape[1], w.shape[2]
    K = w.shape[0] // C
    xp = np.repeat(np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))), K, axis=1)
    h_out, w_out = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - w.shape[3]) // stride + 1
    out = np.zeros((x.shape[0], C * K, h_out, w_out))
    for u in range(k):
        for v in range(w.shape[3]):
            tap = xp[:, :, u : u + stride * (h_out - 1) + 1 : stride, v : v + stride * (w_out - 1) + 1 : stride]
            out += tap * w[:, 0, u, v][None, :, None, None]
    return out


def test_checks_pass_a_right_answer_and_fail_a_wrong_one():
    assert check.depthwise_conv2d(_my_depthwise)
    assert check.separable_to_standard(lambda dw, pw: np.einsum("oc,cuv->ocuv", pw[:, :, 0, 0], dw[:, 0]))
    assert check.fold_depthwise_bias(lambda b_d, pw, b_p: pw[:, :, 0, 0] @ b_d + b_p)
    assert check.separable_ratio(lambda c_in, c_out, k, K: K / c_out + K / k**2)
    wrong = check.depthwise_conv2d(lambda x, w, stride=1, padding=0: conv2d(x, w, stride=stride, padding=padding))
    assert not wrong and "hint" in str(wrong)
    assert not check.separable_to_standard(lambda dw, pw: np.zeros(1))
    assert not check.fold_depthwise_bias(lambda b_d, pw, b_p: b_p)
    assert not check.separable_ratio(lambda c_in, c_out, k, K: 1 / c_out + 1 / k**2)
