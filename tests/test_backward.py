"""Backward pass: against torch.autograd and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from conftest import TOL, assert_close, conv_configs
from convbook import conv1d, conv1d_backward, conv2d, conv2d_backward
from convbook.nets.torch_bridge import torch_conv_grads


def _fns(weight):
    return (conv1d, conv1d_backward) if weight.ndim == 3 else (conv2d, conv2d_backward)


@settings(max_examples=120, deadline=None)
@given(conv_configs())
def test_backward_matches_autograd(case):
    x, w, _, kw = case
    forward, backward = _fns(w)
    g = np.random.default_rng(0).standard_normal(forward(x, w, **kw).shape)
    ours = backward(g, x, w, **kw)
    theirs = torch_conv_grads(g, x, w, device="cpu", **kw)
    for got, expected in zip(ours, theirs):
        assert_close(got, expected, TOL[np.float64])


@settings(max_examples=40, deadline=None)
@given(conv_configs(dtype=np.float32))
def test_backward_float32_matches_autograd(case):
    x, w, _, kw = case
    forward, backward = _fns(w)
    g = np.random.default_rng(0).standard_normal(forward(x, w, **kw).shape).astype(np.float32)
    for got, expected in zip(backward(g, x, w, **kw), torch_conv_grads(g, x, w, device="cpu", **kw)):
        assert_close(got, expected, 1e-3)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(stride=2, padding=1),
        dict(dilation=2, padding="same"),
        dict(groups=2, stride=(1, 2), dilation=(2, 1)),
    ],
)
def test_backward_matches_finite_differences(kw):
    """Central differences of the scalar L = sum(g * conv(x, w) + g * b) on a small float64 case."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 6, 5))
    w = rng.standard_normal((2, 2 // kw.get("groups", 1), 3, 2))
    b = rng.standard_normal(2)
    g = rng.standard_normal(conv2d(x, w, **kw).shape)

    def loss(x_, w_, b_):
        return float(np.sum(g * conv2d(x_, w_, b_, **kw)))

    gx, gw, gb = conv2d_backward(g, x, w, **kw)
    eps = 1e-6
    for array, grad in ((x, gx), (w, gw), (b, gb)):
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            old = array[idx]
            array[idx] = old + eps
            up = loss(x, w, b)
            array[idx] = old - eps
            down = loss(x, w, b)
            array[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        assert np.max(np.abs(numeric - grad)) < 1e-6


def test_untouched_input_positions_get_zero_gradient():
    """With stride 2 over 6 samples and k=3, the last sample is never read."""
    x = np.ones((1, 1, 6))
    w = np.ones((1, 1, 3))
    g = np.ones((1, 1, 2))
    gx, _, _ = conv1d_backward(g, x, w, stride=2)
    np.testing.assert_array_equal(gx[0, 0], [1, 1, 2, 1, 1, 0])


def test_unbatched_backward_shapes():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((3, 8)), rng.standard_normal((4, 3, 3))
    g = rng.standard_normal((4, 6))
    gx, gw, gb = conv1d_backward(g, x, w)
    assert (gx.shape, gw.shape, gb.shape) == ((3, 8), (4, 3, 3), (4,))
