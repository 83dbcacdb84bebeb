"""Bad input raises a clear error before any computation, naming the argument and the rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convbook import (
    conv1d,
    conv1d_backward,
    conv1d_naive,
    conv2d,
    conv2d_backward,
    conv2d_im2col,
    conv2d_naive,
    pointwise_conv2d,
    pointwise_conv2d_loop,
)

X = np.zeros((1, 4, 8, 8))
W = np.zeros((6, 4, 3, 3))
FORWARD_2D = [conv2d, conv2d_naive, conv2d_im2col]

CASES = [
    # (x, weight, kwargs, error type, message pattern)
    (np.zeros((8, 8)), W, {}, ValueError, r"input x must be 3-D \(unbatched\) or 4-D \(batched\), got 2-D"),
    (np.zeros((1, 1, 4, 8, 8)), W, {}, ValueError, r"input x must be 3-D .* got 5-D"),
    (X, np.zeros((6, 4, 3)), {}, ValueError, r"weight must be 4-D .* got 3-D"),
    (np.zeros((1, 5, 8, 8)), W, {}, ValueError, r"input has C_in=5 channels but weight expects"),
    (X, np.zeros((6, 2, 3, 3)), {"groups": 3}, ValueError, r"groups=3 must divide the input channels C_in=4"),
    (X, np.zeros((5, 2, 3, 3)), {"groups": 2}, ValueError, r"groups=2 must divide the output channels C_out=5"),
    (X, W, {"groups": 0}, ValueError, r"groups must be a positive int, got 0"),
    (X, W, {"groups": 1.0}, TypeError, r"groups must be an int, got float"),
    (X, W, {"stride": 0}, ValueError, r"stride must be positive, got \(0, 0\)"),
    (X, W, {"stride": (1, -1)}, ValueError, r"stride must be positive"),
    (X, W, {"stride": (1, 1, 1)}, ValueError, r"stride must have 2 element\(s\), got 3"),
    (X, W, {"stride": 1.5}, TypeError, r"stride must be an int or a tuple of 2 ints, got float"),
    (X, W, {"stride": True}, TypeError, r"stride must be an int or a tuple of 2 ints, got a bool"),
    (X, W, {"dilation": 0}, ValueError, r"dilation must be positive \(1 is an ordinary convolution\)"),
    (X, W, {"padding": -1}, ValueError, r"padding must be non-negative, got \(-1, -1\)"),
    (
        X,
        W,
        {"padding": "full"},
        ValueError,
        r"padding must be an int, a tuple, 'valid' or 'same', got the string 'full'",
    ),
    (X, W, {"padding": "same", "stride": 2}, ValueError, r"padding='same' requires stride 1"),
    (X, np.zeros((6, 4, 9, 3)), {}, ValueError, r"effective kernel size d\*\(k-1\)\+1 = 9 along H does not fit"),
    (X, W, {"dilation": 4}, ValueError, r"effective kernel size d\*\(k-1\)\+1 = 9 along H does not fit"),
    (X.astype(np.int64), W.astype(np.int64), {}, TypeError, r"input x must have a floating-point dtype, got int64"),
    (X, W.astype(np.float32), {}, TypeError, r"weight dtype float32 must match input dtype float64"),
]


@pytest.mark.parametrize("fn", FORWARD_2D)
@pytest.mark.parametrize("x, w, kw, error, pattern", CASES)
def test_forward_errors(fn, x, w, kw, error, pattern):
    with pytest.raises(error, match=pattern):
        fn(x, w, **kw)


@pytest.mark.parametrize("fn", FORWARD_2D + [conv1d, conv1d_naive])
def test_bias_length_mismatch(fn):
    x, w = (X, W) if fn in FORWARD_2D else (np.zeros((1, 4, 8)), np.zeros((6, 4, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(C_out,\) = \(6,\), got \(5,\)"):
        fn(x, w, np.zeros(5))


def test_bias_dtype_mismatch():
    with pytest.raises(TypeError, match=r"bias dtype float32 must match input dtype float64"):
        conv2d(X, W, np.zeros(6, dtype=np.float32))


def test_error_names_the_function():
    with pytest.raises(ValueError, match=r"^conv2d_naive: stride"):
        conv2d_naive(X, W, stride=0)
    with pytest.raises(ValueError, match=r"^conv1d: input x must be 2-D \(unbatched\) or 3-D \(batched\)"):
        conv1d(X, np.zeros((6, 4, 3)))


def test_1d_kernel_too_long_names_L():
    with pytest.raises(ValueError, match=r"along L does not fit the padded input of size 4\+0\+0 = 4"):
        conv1d(np.zeros((1, 1, 4)), np.zeros((1, 1, 5)))


def test_torch_tensor_input_gets_a_hint():
    with pytest.raises(TypeError, match=r"got a torch tensor; call .numpy\(\) first"):
        conv2d(torch.zeros(1, 4, 8, 8), W)


def test_backward_errors():
    g = np.zeros((1, 6, 6, 6))
    with pytest.raises(ValueError, match=r"conv2d_backward: grad_output must have the forward output's shape"):
        conv2d_backward(np.zeros((1, 6, 5, 5)), X, W)
    with pytest.raises(TypeError, match=r"grad_output dtype float32 must match input dtype float64"):
        conv2d_backward(g.astype(np.float32), X, W)
    with pytest.raises(ValueError, match=r"conv1d_backward: groups=3 must divide"):
        conv1d_backward(np.zeros((1, 6, 6)), np.zeros((1, 4, 8)), np.zeros((6, 2, 3)), groups=3)
    with pytest.raises(ValueError, match=r"conv2d_backward: padding='same' requires stride 1"):
        conv2d_backward(g, X, W, padding="same", stride=2)


def test_pointwise_goes_through_the_same_gate_as_conv2d():
    """A float64 bias with float32 data: conv2d and pointwise_conv2d both refuse it with the same TypeError.

    torch refuses the mix too: ``F.conv2d(x32, w32, b64)`` raises ``RuntimeError: Input type (float) and bias type
    (double) should be the same``; neither silently casts the bias (checked at the end).
    """
    x32, w32, b64 = np.zeros((1, 4, 5, 5), np.float32), np.zeros((6, 4, 1, 1), np.float32), np.zeros(6)
    messages = []
    for fn in (conv2d, pointwise_conv2d, pointwise_conv2d_loop):
        with pytest.raises(TypeError, match=r"bias dtype float64 must match input dtype float32") as info:
            fn(x32, w32, b64)
        name, _, message = str(info.value).partition(": ")
        assert name == fn.__name__
        messages.append(message)
    assert len(set(messages)) == 1  # one rule, one wording
    with pytest.raises(TypeError, match=r"^pointwise_conv2d: bias dtype float64"):
        pointwise_conv2d(x32, w32[:, :, 0, 0], b64)  # the 2-D weight form goes through the same gate
    with pytest.raises(RuntimeError, match="bias type"):
        torch.nn.functional.conv2d(
            torch.zeros(1, 4, 5, 5), torch.zeros(6, 4, 1, 1), torch.zeros(6, dtype=torch.float64)
        )
