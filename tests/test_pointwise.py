"""The 1x1 chapter's library: pointwise convolution, its figure, torch blocks, self-checks (edge filters and PCA
weights: test_analysis.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convbook import conv2d
from convbook.course.check import pointwise as check
from convbook.pointwise import pointwise_conv2d, pointwise_conv2d_loop

TOL64 = 1e-10


def _err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a - b))) if a.size else 0.0


@st.composite
def pointwise_cases(draw):
    n = draw(st.sampled_from([None, 1, 3]))
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((c_in, h, w) if n is None else (n, c_in, h, w))
    weight = rng.standard_normal((c_out, c_in, 1, 1))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, weight, bias


# --------------------------------------------------------------------------- the oracle against torch


@settings(max_examples=40, deadline=None)
@given(pointwise_cases())
def test_loop_matches_torch_conv2d(case):
    x, weight, bias = case
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias)
    ).numpy()
    got = pointwise_conv2d_loop(x, weight, bias)
    assert got.dtype == np.float64
    assert _err(got, expected) <= TOL64


@settings(max_examples=60, deadline=None)
@given(pointwise_cases())
def test_fast_matches_loop_and_conv2d(case):
    x, weight, bias = case
    oracle = pointwise_conv2d_loop(x, weight, bias)
    assert _err(pointwise_conv2d(x, weight, bias), oracle) <= TOL64
    assert _err(pointwise_conv2d(x, weight[:, :, 0, 0], bias), oracle) <= TOL64  # 2-D weight form
    assert _err(conv2d(x, weight, bias), oracle) <= TOL64


def test_linear_on_channels_last_matches():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4, 3))  # (N, C_in, H, W)
    weight, bias = rng.standard_normal((7, 5)), rng.standard_normal(7)
    linear = torch.nn.Linear(5, 7).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
        y = linear(torch.from_numpy(x).permute(0, 2, 3, 1))  # (N, H, W, C_out)
    got = y.permute(0, 3, 1, 2).numpy()  # (N, C_out, H, W)
    assert _err(got, pointwise_conv2d_loop(x, weight, bias)) <= TOL64


def test_float32_kept():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 3, 2, 2)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    assert pointwise_conv2d_loop(x, w).dtype == np.float32
    assert pointwise_conv2d(x, w).dtype == np.float32
    assert _err(pointwise_conv2d(x, w), pointwise_conv2d_loop(x, w)) <= 1e-5


@pytest.mark.parametrize("fn", [pointwise_conv2d, pointwise_conv2d_loop])
@pytest.mark.parametrize(
    "x, weight, bias, error, match",
    [
        (np.zeros((2, 3)), np.zeros((1, 2)), None, ValueError, "input x must be 3-D"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3, 3, 3)), None, ValueError, "must have a 1x1 kernel"),
        (np.zeros((1, 3, 2, 2)), np.zeros(3), None, ValueError, "weight must be"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 4)), None, ValueError, r"input has C_in=3 channels but weight expects"),
        (
            np.zeros((1, 3, 2, 2)),
            np.zeros((2, 3)),
            np.zeros(3),
            ValueError,
            r"bias must have shape \(C_out,\) = \(2,\)",
        ),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3)), np.zeros((2, 1)), ValueError, r"bias must have shape"),
        (np.zeros((1, 3, 2, 2), dtype=int), np.zeros((2, 3)), None, TypeError, "floating-point"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3), dtype=np.float32), None, TypeError, "must match input dtype"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3)), np.zeros(2, dtype=np.float32), TypeError, "bias dtype float32"),
        (np.zeros((1, 3, 0, 2)), np.zeros((2, 3)), None, ValueError, "must have no zero-size dimension"),
    ],
)
def test_bad_input(fn, x, weight, bias, error, match):
    with pytest.raises(error, match=match):
        fn(x, weight, bias)


def test_torch_tensor_rejected():
    with pytest.raises(TypeError, match="got a torch tensor"):
        pointwise_conv2d_loop(torch.zeros(1, 2, 2, 2), np.zeros((1, 2)))


def test_show_pointwise_highlights_one_pixel_per_channel():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convbook.plotting.pointwise_figure import show_pointwise

    fig, ax = plt.subplots()
    drawn = show_pointwise(ax, c_in=4, c_out=3, size=4, pixel=(1, 2))
    assert len(drawn["in"]) == 4 and len(drawn["out"]) == 3
    # the highlighted cell is column 2 of each input grid (drawn from x = 0), one grid per channel, stacked
    assert [c.get_x() for c in drawn["in"]] == [2.0] * 4
    ys = sorted(c.get_y() for c in drawn["in"])
    assert np.allclose(np.diff(ys), 4 + 0.7)  # the grid's side plus the gap between grids
    assert drawn["weight"].get_array().shape == (3, 4)
    with pytest.raises(ValueError, match=r"show_pointwise: pixel must lie in the 4x4 grid"):
        show_pointwise(ax, pixel=(4, 0))
    with pytest.raises(TypeError, match=r"show_pointwise: c_in must be an int"):
        show_pointwise(ax, c_in=2.0)
    plt.close(fig)


# --------------------------------------------------------------------------- torch blocks


def _conv_weights(model) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_block_parameter_counts():
    from convbook.nets.blocks import BasicBlock, Bottleneck, inception_3a

    assert _conv_weights(Bottleneck(256, 64)) == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    assert _conv_weights(BasicBlock(256)) == 2 * 256 * 256 * 9 == 1_179_648
    assert _conv_weights(BasicBlock(64)) == 2 * 64 * 64 * 9 == 73_728
    with_reduce = 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32
    assert _conv_weights(inception_3a()) == with_reduce == 163_328
    assert _conv_weights(inception_3a(reduce=False)) == 192 * 64 + 192 * 128 * 9 + 192 * 32 * 25 + 192 * 32
    assert _conv_weights(inception_3a(reduce=False, pool_proj=False)) == 192 * 64 + 192 * 128 * 9 + 192 * 32 * 25


def test_blocks_shapes_and_profile():
    from convbook.nets.blocks import Bottleneck, inception_3a
    from convbook.nets.profiler import profile

    torch.manual_seed(0)
    x = torch.randn(1, 192, 28, 28)
    assert inception_3a()(x).shape == (1, 256, 28, 28)
    assert inception_3a(reduce=False)(x).shape == (1, 256, 28, 28)
    assert inception_3a(reduce=False, pool_proj=False)(x).shape == (1, 416, 28, 28)
    prof = profile(inception_3a(bias=False), (1, 192, 28, 28))
    assert prof.total_params == 163_328 and prof.total_macs == 163_328 * 28 * 28
    assert profile(inception_3a(), (1, 192, 28, 28)).total_params == 163_328 + 64 + 96 + 128 + 16 + 32 + 32
    assert profile(Bottleneck(), (1, 256, 56, 56)).total_macs == 69_632 * 56 * 56
    assert Bottleneck()(torch.randn(2, 256, 8, 8)).shape == (2, 256, 8, 8)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda B: B.Bottleneck(256, 0), ValueError, "Bottleneck: mid must be a positive int"),
        (lambda B: B.BasicBlock(2.0), TypeError, "BasicBlock: channels must be an int"),
        (lambda B: B.Inception(c3=0), ValueError, "Inception: c3 must be a positive int"),
    ],
)
def test_blocks_bad_input(build, error, match):
    import convbook.nets.blocks as B

    with pytest.raises(error, match=match):
        build(B)


# --------------------------------------------------------------------------- self-checks


def _matmul_solution(x, weight):
    n, c, h, w = x.shape
    y = x.transpose(0, 2, 3, 1).reshape(-1, c) @ weight.T  # (N*H*W, C_out)
    return y.reshape(n, h, w, -1).transpose(0, 3, 1, 2)  # (N, C_out, H, W)


def test_checks_pass_and_fail():
    assert check.pointwise_matmul(_matmul_solution)
    wrong = check.pointwise_matmul(lambda x, weight: _matmul_solution(x, weight).transpose(0, 1, 3, 2))
    assert not wrong and "FAIL" in str(wrong)
    assert check.compose_pointwise(lambda w1, b1, w2, b2: (w2 @ w1, w2 @ b1 + b2))
    assert not check.compose_pointwise(lambda w1, b1, w2, b2: (w2 @ w1, b2))
    assert not check.compose_pointwise(lambda w1, b1, w2, b2: 1 / 0)
    assert check.pointwise_macs(lambda c_in, c_out, h, w: c_in * c_out * h * w)
    assert not check.pointwise_macs(lambda c_in, c_out, h, w: c_in * c_out * h * w * 2)
