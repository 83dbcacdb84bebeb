"""The 1x1 chapter's library: pointwise convolution, PCA weights, edge filters, torch blocks, self-checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convbook import conv2d
from convbook.course.check import pointwise as check
from convbook.pointwise import (
    PointwisePCA,
    edge_filter_angles,
    oriented_edge_filters,
    pca_pointwise_weights,
    pca_reconstruct,
    pointwise_conv2d,
    pointwise_conv2d_loop,
)

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
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 4)), None, ValueError, "weight expects C_in=4"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3)), np.zeros(3), ValueError, r"bias must have shape \(2,\)"),
        (np.zeros((1, 3, 2, 2), dtype=int), np.zeros((2, 3)), None, TypeError, "floating-point"),
        (np.zeros((1, 3, 2, 2)), np.zeros((2, 3), dtype=np.float32), None, TypeError, "must match input dtype"),
    ],
)
def test_bad_input(fn, x, weight, bias, error, match):
    with pytest.raises(error, match=match):
        fn(x, weight, bias)


def test_torch_tensor_rejected():
    with pytest.raises(TypeError, match="got a torch tensor"):
        pointwise_conv2d_loop(torch.zeros(1, 2, 2, 2), np.zeros((1, 2)))


# --------------------------------------------------------------------------- edge filters


def test_edge_filters_properties():
    f = oriented_edge_filters(16, 7)
    assert f.shape == (16, 1, 7, 7)
    assert np.allclose(f.sum(axis=(1, 2, 3)), 0, atol=1e-12)
    assert np.allclose(np.linalg.norm(f.reshape(16, -1), axis=1), 1)
    assert np.allclose(f[8], -f[0])  # opposite directions are negatives of each other
    assert np.array_equal(edge_filter_angles(4), [0.0, 90.0, 180.0, 270.0])
    # 0 degrees responds positively to intensity growing to the right; 90 degrees to intensity growing upwards
    ramp = np.tile(np.arange(9.0), (9, 1))[None, None]  # (1, 1, 9, 9), grows with the column
    resp = conv2d(ramp, f[[0, 4, 8]])[0, :, 0, 0]  # 0, 90, 180 degrees
    assert resp[0] > 0 and abs(resp[1]) < 1e-9 and resp[2] < 0
    up = np.flipud(np.tile(np.arange(9.0)[:, None], (1, 9))).copy()[None, None]  # grows towards the top
    assert conv2d(up, f[[4]])[0, 0, 0, 0] > 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n=0), ValueError, "n must be a positive int"),
        (dict(n=2.0), TypeError, "n must be an int"),
        (dict(size=4), ValueError, "size must be an odd int"),
        (dict(sigma=-1.0), ValueError, "sigma must be positive"),
    ],
)
def test_edge_filters_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        oriented_edge_filters(**kwargs)


# --------------------------------------------------------------------------- PCA as a 1x1 conv


def _correlated_features(seed=0, c=6, n=2, h=9, w=8):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 2, h, w))  # two true factors
    mix = rng.standard_normal((c, 2))
    x = np.einsum("cl,nlhw->nchw", mix, latent) + 0.05 * rng.standard_normal((n, c, h, w))
    return x + rng.standard_normal(c)[None, :, None, None]  # a channel offset, removed by the mean


def test_pca_properties():
    x = _correlated_features()
    pca = pca_pointwise_weights(x, 3)
    assert isinstance(pca, PointwisePCA)
    assert pca.weight.shape == (3, 6) and pca.bias.shape == (3,) and pca.mean.shape == (6,)
    assert np.allclose(pca.weight @ pca.weight.T, np.eye(3))  # orthonormal rows
    r = pca.explained_variance_ratio
    assert r.shape == (6,) and np.all(np.diff(r) <= 1e-12) and abs(r.sum() - 1) < 1e-12
    assert pca.kept > 0.99  # two latent factors: three components keep nearly everything
    assert np.allclose(pca.bias, -pca.weight @ pca.mean)
    y = pointwise_conv2d(x, pca.weight, pca.bias)  # (N, 3, H, W)
    assert np.allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)  # merged maps are centred
    var = y.transpose(1, 0, 2, 3).reshape(3, -1).var(axis=1, ddof=1)
    total = x.transpose(1, 0, 2, 3).reshape(6, -1).var(axis=1, ddof=1).sum()
    assert np.allclose(var / total, r[:3])
    # reconstruction error equals the variance left out
    x_hat = pca_reconstruct(y, pca)
    resid = ((x - x_hat) ** 2).sum() / ((x - pca.mean[None, :, None, None]) ** 2).sum()
    assert abs(resid - (1 - pca.kept)) < 1e-10
    # largest-magnitude entry of each row is positive (deterministic signs)
    assert np.all(pca.weight[np.arange(3), np.argmax(np.abs(pca.weight), axis=1)] > 0)


def test_pca_all_components_reconstruct_exactly():
    x = _correlated_features(seed=3)[0]  # unbatched (C, H, W)
    pca = pca_pointwise_weights(x, 6)
    assert abs(pca.kept - 1) < 1e-12
    assert _err(pca_reconstruct(pointwise_conv2d(x, pca.weight, pca.bias), pca), x) <= 1e-10


def test_pca_matches_svd():
    x = _correlated_features(seed=4)
    samples = x.transpose(0, 2, 3, 1).reshape(-1, 6)
    s = np.linalg.svd(samples - samples.mean(0), compute_uv=False)
    pca = pca_pointwise_weights(x, 2)
    assert np.allclose(pca.explained_variance_ratio, s**2 / (s**2).sum())


@pytest.mark.parametrize(
    "features, k, error, match",
    [
        (np.zeros((3, 4)), 1, ValueError, "features must be 3-D"),
        (np.ones((3, 4, 4)), 4, ValueError, "k must be at most the number of channels C=3"),
        (np.ones((3, 4, 4)), 0, ValueError, "k must be a positive int"),
        (np.ones((3, 4, 4)), 1.5, TypeError, "k must be an int"),
        (np.ones((3, 4, 4)), 1, ValueError, "zero variance"),
        (np.ones((3, 1, 1)), 1, ValueError, "at least 2 pixels"),
        (np.ones((3, 4, 4), dtype=int), 1, TypeError, "floating-point"),
    ],
)
def test_pca_bad_input(features, k, error, match):
    with pytest.raises(error, match=match):
        pca_pointwise_weights(features, k)


def test_reconstruct_bad_input():
    with pytest.raises(TypeError, match="pca must be a PointwisePCA"):
        pca_reconstruct(np.zeros((1, 2, 2)), (1, 2))


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
    from convbook import profile
    from convbook.nets.blocks import Bottleneck, inception_3a

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
