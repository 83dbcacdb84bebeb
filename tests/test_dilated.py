"""Tests of convbook.dilated: against torch, against the naive oracle, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import (
    assert_close,
    conv_configs,
    student_causal_conv1d,
    student_coverage,
    student_dilate_kernel,
    torch_forward,
)
from convbook import conv1d_naive, conv2d, conv2d_naive, receptive_field
from convbook.course.check import dilated as check
from convbook.dilated import (
    causal_conv1d,
    coverage_map,
    dilate_kernel,
    dilated_conv1d_gaps,
    dilated_conv2d_gaps,
    dilated_conv2d_zeros,
)

TOL = 1e-10


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# --------------------------------------------------------------------------- against torch


@pytest.mark.parametrize("fn", [dilated_conv2d_gaps, dilated_conv2d_zeros])
@pytest.mark.parametrize(
    "stride, padding, dilation, groups",
    [(1, 0, 1, 1), (1, 2, 2, 1), (2, 1, 3, 1), (1, "same", (2, 3), 2), ((2, 1), (1, 3), (1, 4), 4), (1, "valid", 2, 1)],
)
def test_conv2d_matches_torch(fn, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 15, 13))
    w = rng.normal(size=(8, 4 // groups, 3, 3))
    b = rng.normal(size=8)
    ours = fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    theirs = F.conv2d(_t(x), _t(w), _t(b), stride=stride, padding=padding, dilation=dilation, groups=groups).numpy()
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) < TOL


@pytest.mark.parametrize("dilation", [1, 2, 5])
def test_conv1d_gaps_and_causal_match_torch(dilation):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2, 30))
    w = rng.normal(size=(5, 2, 3))
    b = rng.normal(size=5)
    theirs = F.conv1d(_t(x), _t(w), _t(b), padding=dilation, dilation=dilation).numpy()
    assert np.max(np.abs(dilated_conv1d_gaps(x, w, b, padding=dilation, dilation=dilation) - theirs)) < TOL
    left = dilation * 2
    causal = F.conv1d(F.pad(_t(x), (left, 0)), _t(w), _t(b), dilation=dilation).numpy()
    ours = causal_conv1d(x, w, b, dilation=dilation)
    assert ours.shape == x.shape[:1] + (5, 30)
    assert np.max(np.abs(ours - causal)) < TOL


def test_dilate_kernel_conv_equals_torch_dilated_conv():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 20, 20))
    w = rng.normal(size=(2, 3, 3, 3))
    wd = dilate_kernel(w, 3)
    assert wd.shape == (2, 3, 7, 7)
    ref = F.conv2d(_t(x), _t(w), dilation=3).numpy()
    assert np.max(np.abs(F.conv2d(_t(x), _t(wd)).numpy() - ref)) < TOL


@settings(max_examples=60, deadline=None)
@given(conv_configs())
def test_any_torch_call_matches_torch(config):
    x, weight, bias, kwargs = config
    expected = torch_forward(x, weight, bias, **kwargs)
    if weight.ndim == 4:
        assert_close(dilated_conv2d_gaps(x, weight, bias, **kwargs), expected, TOL)
        assert_close(dilated_conv2d_zeros(x, weight, bias, **kwargs), expected, TOL)
    else:
        assert_close(dilated_conv1d_gaps(x, weight, bias, **kwargs), expected, TOL)


# --------------------------------------------------------------------------- against the oracle


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    c_per=st.integers(1, 2),
    c_out_per=st.integers(1, 2),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    d=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    s=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    seed=st.integers(0, 1000),
)
def test_gaps_and_zeros_match_naive(n, groups, c_per, c_out_per, k, d, s, p, seed):
    rng = np.random.default_rng(seed)
    H = W = 8
    x = rng.normal(size=(n, groups * c_per, H, W))
    w = rng.normal(size=(groups * c_out_per, c_per, *k))
    if any(H + 2 * pi < di * (ki - 1) + 1 for pi, di, ki in zip(p, d, k)):
        return
    ref = conv2d_naive(x, w, None, s, p, d, groups)
    for fn in (dilated_conv2d_gaps, dilated_conv2d_zeros):
        out = fn(x, w, None, s, p, d, groups)
        assert out.shape == ref.shape
        assert np.max(np.abs(out - ref)) < TOL


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), d=st.integers(1, 4), L=st.integers(1, 12), seed=st.integers(0, 1000))
def test_causal_matches_naive_with_left_padding(k, d, L, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, L))
    w = rng.normal(size=(3, 2, k))
    left = d * (k - 1)
    ref = conv1d_naive(np.pad(x, ((0, 0), (left, 0))), w, dilation=d)
    out = causal_conv1d(x, w, dilation=d)
    assert out.shape == (3, L)
    assert np.max(np.abs(out - ref)) < TOL


def test_unbatched_input_gives_unbatched_output():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 9, 9)), rng.normal(size=(3, 2, 3, 3))
    out = dilated_conv2d_gaps(x, w, dilation=2)
    assert out.shape == (3, 5, 5)
    assert np.max(np.abs(out - conv2d(x, w, dilation=2))) < TOL


# --------------------------------------------------------------------------- causality


@settings(max_examples=20, deadline=None)
@given(k=st.integers(1, 3), d=st.integers(1, 8), t=st.integers(0, 39), seed=st.integers(0, 1000))
def test_causal_output_ignores_the_future(k, d, t, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 2, 40))
    w = rng.normal(size=(3, 2, k))
    y = causal_conv1d(x, w, dilation=d)
    x2 = x.copy()
    x2[..., t:] += rng.normal(size=40 - t)  # change the present and the future
    y2 = causal_conv1d(x2, w, dilation=d)
    assert np.array_equal(y[..., :t], y2[..., :t])


# --------------------------------------------------------------------------- kernel, coverage


def test_dilate_kernel_layout():
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    wd = dilate_kernel(w, 2)
    assert wd.shape == (1, 1, 5, 5)
    assert np.array_equal(wd[0, 0, ::2, ::2], w[0, 0])
    assert np.count_nonzero(wd) == 9
    assert dilate_kernel(w, (1, 3)).shape == (1, 1, 3, 7)
    assert dilate_kernel(np.ones((2, 1, 4)), 3).shape == (2, 1, 10)
    assert np.array_equal(dilate_kernel(w, 1), w)


def test_coverage_map_known_values():
    assert coverage_map(3, [1, 1], ndim=1).tolist() == [1, 2, 3, 2, 1]
    assert coverage_map(3, [2], ndim=1).tolist() == [1, 0, 1, 0, 1]
    m = coverage_map(3, [2, 2, 2])
    assert m.shape == (13, 13) and m.dtype == np.int64
    assert np.count_nonzero(m) == 7 * 7  # only even offsets: a lattice with 3 holes out of 4
    assert np.all(coverage_map(3, [1, 2, 5]) > 0)
    assert coverage_map(3, [1, 2, 5]).shape == (17, 17)
    assert coverage_map(2, [2**i for i in range(10)], ndim=1).tolist() == [1] * 1024
    for k, dils in [(3, [1, 2, 4]), (2, [1, 1, 3]), (5, [3, 3])]:
        m = coverage_map(k, dils)
        assert m.sum() == k ** (2 * len(dils))
        assert m.shape[0] == receptive_field([(k, 1, d) for d in dils])


def test_coverage_map_equals_gradient_through_all_ones_torch_stack():
    dils = [1, 2, 2]
    R = 1 + 2 * sum(dils)
    x = torch.zeros(1, 1, R, R, dtype=torch.float64, requires_grad=True)
    h = x
    for d in dils:
        h = F.conv2d(h, torch.ones(1, 1, 3, 3, dtype=torch.float64), dilation=d)
    assert h.shape[-2:] == (1, 1)
    h.sum().backward()
    assert np.array_equal(x.grad[0, 0].numpy().astype(np.int64), coverage_map(3, dils))


# --------------------------------------------------------------------------- self-checks


def test_self_checks_pass_a_right_answer_and_fail_a_wrong_one():
    # the reference answers agree with the library
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 3, 3, 2))
    assert np.array_equal(student_dilate_kernel(w, (2, 3)), dilate_kernel(w, (2, 3)))
    x, w1 = rng.normal(size=(2, 3, 20)), rng.normal(size=(4, 3, 3))
    assert np.allclose(student_causal_conv1d(x, w1, 2), causal_conv1d(x, w1, dilation=2), atol=1e-12)
    assert np.array_equal(student_coverage(3, [1, 2, 4]), coverage_map(3, [1, 2, 4], ndim=1))
    assert check.dilate_kernel(student_dilate_kernel)
    assert check.causal_conv1d(student_causal_conv1d)
    assert check.coverage_map(student_coverage)
    assert check.effective_kernel_size(lambda k, d: k + (k - 1) * (d - 1))
    assert check.wavenet_receptive_field(lambda k, dils: 1 + (k - 1) * sum(dils))
    assert not check.effective_kernel_size(lambda k, d: k * d)
    wrong = check.causal_conv1d(lambda x, w, dilation: x)
    assert not wrong and "FAIL" in str(wrong)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: dilate_kernel(np.ones((1, 1, 3, 3)), 0), ValueError, r"dilate_kernel: dilation must be positive"),
        (lambda: dilate_kernel(np.ones((3, 3)), 2), ValueError, r"dilate_kernel: weight must be 3-D .* or 4-D"),
        (lambda: dilate_kernel(np.ones((1, 1, 3, 3), dtype=int), 2), TypeError, r"dilate_kernel: weight must have"),
        (lambda: dilate_kernel(np.ones((1, 1, 3, 3)), 2.0), TypeError, r"dilate_kernel: dilation must be an int"),
        (lambda: dilate_kernel(np.ones((1, 1, 3, 3)), (1, 2, 3)), ValueError, r"dilate_kernel: dilation must have 2"),
        (
            lambda: dilated_conv2d_gaps(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), dilation=2),
            ValueError,
            r"dilated_conv2d_gaps: the effective kernel size d\*\(k-1\)\+1 = 5",
        ),
        (
            lambda: dilated_conv2d_gaps(np.ones((1, 2, 8, 8)), np.ones((1, 1, 3, 3))),
            ValueError,
            r"dilated_conv2d_gaps: input has C_in=2",
        ),
        (
            lambda: dilated_conv2d_zeros(np.ones((1, 1, 8, 8)), np.ones((1, 1, 3, 3)), dilation=-1),
            ValueError,
            r"dilated_conv2d_zeros: dilation must be positive",
        ),
        (
            lambda: dilated_conv1d_gaps(np.ones((1, 1, 8)), np.ones((1, 1, 3, 3))),
            ValueError,
            r"dilated_conv1d_gaps: weight must be 3-D",
        ),
        (
            lambda: causal_conv1d(np.ones((1, 1, 1, 8)), np.ones((1, 1, 2))),
            ValueError,
            r"causal_conv1d: input x must be 2-D",
        ),
        (
            lambda: causal_conv1d(np.ones((1, 8)), np.ones((1, 1, 2)), dilation=0),
            ValueError,
            r"causal_conv1d: dilation must be positive",
        ),
        (
            lambda: causal_conv1d(np.ones((1, 8)), np.ones((1, 2))),
            ValueError,
            r"causal_conv1d: weight must be 3-D",
        ),
        (
            lambda: causal_conv1d(np.ones((1, 8), dtype=np.int64), np.ones((1, 1, 2))),
            TypeError,
            r"causal_conv1d: input x must have a floating-point dtype",
        ),
        (
            lambda: causal_conv1d(np.ones((1, 8)), np.ones((1, 1, 2)), bias=np.ones(3)),
            ValueError,
            r"causal_conv1d: bias must have shape",
        ),
        (lambda: coverage_map(0, [1]), ValueError, r"coverage_map: kernel_size must be a positive int"),
        (lambda: coverage_map(3.0, [1]), TypeError, r"coverage_map: kernel_size must be an int"),
        (lambda: coverage_map(3, []), ValueError, r"coverage_map: dilations must name at least one layer"),
        (lambda: coverage_map(3, [1, 0]), ValueError, r"coverage_map: dilations\[1\] must be a positive int"),
        (lambda: coverage_map(3, [1, 2.5]), TypeError, r"coverage_map: dilations\[1\] must be an int"),
        (lambda: coverage_map(3, 2), TypeError, r"coverage_map: dilations must be a sequence"),
        (lambda: coverage_map(3, [1], ndim=3), ValueError, r"coverage_map: ndim must be 1 or 2"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
