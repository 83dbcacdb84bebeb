"""Winograd's F(4x4, 3x3): the 1-D identity, agreement with the oracle and torch, the multiply count, the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TOL, assert_close, torch_forward
from convbook import conv2d, conv2d_im2col, conv2d_naive
from convbook._args import parse_conv_args
from convbook.conv import (
    WINOGRAD_MAX_TILE_WASTE,
    WINOGRAD_MIN_CHANNEL_PRODUCT,
    WINOGRAD_MIN_SIDE,
    _winograd_pays,
    winograd_allowed,
)
from convbook.winograd import AT, BT, G, conv2d_winograd, tile_waste, winograd_macs

WIDE = math.isqrt(WINOGRAD_MIN_CHANNEL_PRODUCT - 1) + 1  # C_in = C_out: the narrowest square layer on that path


def test_one_dimensional_identity():
    """A^T [(G g) * (B^T d)] is the 'valid' correlation of 6 samples with 3 taps: 4 outputs from 6 products."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        d, g = rng.standard_normal(6), rng.standard_normal(3)
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), np.correlate(d, g, "valid"), rtol=0, atol=1e-12)


def test_matrices_have_the_published_shapes():
    assert BT.shape == (6, 6) and G.shape == (6, 3) and AT.shape == (4, 6)


@st.composite
def winograd_calls(draw):
    c_in, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from([0, 1, 2, (1, 0), (0, 2), "same", "valid"]))
    pads = [0, 0] if padding == "valid" else [2 * d for d in dilation] if padding == "same" else None
    if pads is None:
        p = padding if isinstance(padding, tuple) else (padding, padding)
        pads = [2 * p[0], 2 * p[1]]
    sizes = [draw(st.integers(max(1, 2 * d + 1 - tp), 2 * d + 1 - tp + 13)) for d, tp in zip(dilation, pads)]
    batch = draw(st.sampled_from([None, 1, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    shape = (c_in, *sizes) if batch is None else (batch, c_in, *sizes)
    x, w = rng.standard_normal(shape), rng.standard_normal((c_out, c_in, 3, 3))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, w, bias, {"padding": padding, "dilation": dilation}


@settings(max_examples=60, deadline=None)
@given(winograd_calls())
def test_matches_the_naive_oracle_in_float64(case):
    x, w, b, kw = case
    assert_close(conv2d_winograd(x, w, b, **kw), conv2d_naive(x, w, b, **kw), TOL[np.float64])


@settings(max_examples=30, deadline=None)
@given(winograd_calls())
def test_float32_matches_torch(case):
    x, w, b, kw = case
    x, w = x.astype(np.float32), w.astype(np.float32)
    b = None if b is None else b.astype(np.float32)
    assert_close(conv2d_winograd(x, w, b, **kw), torch_forward(x, w, b, **kw), TOL[np.float32])


def test_a_layer_of_realistic_size():
    """64 channels, 56x56, dilations 1 and 4: float32 error relative to the output's scale stays small."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 64, 56, 56)).astype(np.float32)
    w = (0.1 * rng.standard_normal((64, 64, 3, 3))).astype(np.float32)
    for d in (1, 4):
        ref = conv2d(x.astype(np.float64), w.astype(np.float64), padding=d, dilation=d)  # tested against the oracle
        got = conv2d_winograd(x, w, padding=d, dilation=d)
        assert got.dtype == np.float32
        assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 1e-5


def test_float16_is_computed_in_float32():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 9, 9)).astype(np.float16), rng.standard_normal((2, 3, 3, 3)).astype(np.float16)
    got = conv2d_winograd(x, w, padding=1)
    ref = conv2d_naive(x.astype(np.float64), w.astype(np.float64), padding=1)
    assert got.dtype == np.float16 and got.shape == (2, 9, 9)
    assert np.max(np.abs(got - ref)) < 0.05


def test_macs_are_a_quarter_of_the_direct_count_when_tiles_fit():
    direct = 9 * 64 * 64 * 56 * 56 * 8
    assert winograd_macs(64, 64, 56, 56, n=8) * 4 == direct
    # dilation 4: each phase has 14 rows, tiled by 4 -> 16, so 16/14 of the rows are computed along each axis
    assert winograd_macs(64, 64, 56, 56, n=8, dilation=4) * 4 * 14 * 14 == direct * 16 * 16
    assert winograd_macs(1, 1, 5, 5) == 36 * 2 * 2


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 5, 5))), {}, ValueError, r"3x3 kernel for F\(4x4, 3x3\), got 5x5"),
        ((np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 1, 3))), {}, ValueError, r"3x3 kernel .* got 1x3"),
        ((np.zeros((1, 2, 8, 8), dtype=int), np.zeros((3, 2, 3, 3))), {}, TypeError, "floating-point dtype"),
        ((np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 3, 3))), {"dilation": 0}, ValueError, "dilation must be positive"),
        ((np.zeros((1, 4, 8, 8)), np.zeros((3, 2, 3, 3))), {}, ValueError, "input has C_in=4 channels"),
    ],
)
def test_errors_name_the_argument(args, kwargs, error, message):
    with pytest.raises(error, match=message) as exc:
        conv2d_winograd(*args, **kwargs)
    assert str(exc.value).startswith("conv2d_winograd:")


@pytest.mark.parametrize(
    "c, size, dilation, kernel, expected",
    [
        (WIDE, 56, 1, 3, True),
        (WIDE, 56, 2, 3, True),
        (WIDE, WINOGRAD_MIN_SIDE, 1, 3, True),  # the smallest map that takes it
        (WIDE, 56, 4, 3, False),  # each phase has 14 rows, tiled to 16: 31% wasted
        (WIDE // 2, 56, 1, 3, False),  # too narrow: the tile copies cost more than the saved products
        (WIDE, WINOGRAD_MIN_SIDE // 2, 1, 3, False),  # too small
        (WIDE, 56, 1, 5, False),  # F(4x4, 3x3) is for 3x3 kernels only
    ],
)
def test_conv2d_takes_winograd_where_it_measured_faster(c, size, dilation, kernel, expected):
    x, w = np.zeros((1, c, size, size), np.float32), np.zeros((c, c, kernel, kernel), np.float32)
    a = parse_conv_args(x, w, None, 1, "same", dilation, 1, nd=2, fname="conv2d")
    assert _winograd_pays(a) is expected


def test_tile_waste():
    assert tile_waste((56, 56), (1, 1)) == 1.0
    assert tile_waste((56, 56), (4, 4)) == pytest.approx((16 / 14) ** 2)
    assert tile_waste((56, 56), (2, 2)) <= WINOGRAD_MAX_TILE_WASTE < tile_waste((56, 56), (4, 4))


def test_conv2d_on_a_wide_layer_agrees_with_another_path():
    """conv2d goes through Winograd here; im2col does not."""
    rng = np.random.default_rng(0)
    side = WINOGRAD_MIN_SIDE
    x, w, b = (
        rng.standard_normal((1, WIDE, side, side + 2)),
        rng.standard_normal((WIDE, WIDE, 3, 3)),
        rng.standard_normal(WIDE),
    )
    a = parse_conv_args(x, w, b, 1, 1, 1, 1, nd=2, fname="conv2d")
    assert _winograd_pays(a)
    assert_close(conv2d(x, w, b, padding=1), conv2d_im2col(x, w, b, padding=1), TOL[np.float64])


def test_winograd_can_be_switched_off_and_the_switch_is_restored():
    x, w = np.zeros((1, WIDE, WINOGRAD_MIN_SIDE, WINOGRAD_MIN_SIDE)), np.zeros((WIDE, WIDE, 3, 3))
    a = parse_conv_args(x, w, None, 1, 1, 1, 1, nd=2, fname="conv2d")
    with winograd_allowed(False):
        assert not _winograd_pays(a)
        with winograd_allowed(True):
            assert _winograd_pays(a)
        assert not _winograd_pays(a)
    assert _winograd_pays(a)
    with pytest.raises(TypeError, match="winograd_allowed: allowed must be a bool, got int"):
        with winograd_allowed(0):
            pass
