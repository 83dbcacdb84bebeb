"""The NumPy analyses (convbook.analysis, convbook.analysis_channels): frequency responses, the de-gridding model,
edge filters, PCA over channels as a 1x1 layer, and the ReLU embedding argument of MobileNetV2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convbook import conv1d, conv2d
from convbook.analysis import (
    edge_filter_angles,
    frequency_response,
    gaussian_kernel,
    gridding_ratio,
    oriented_edge_filters,
    stack_impulse_response,
)
from convbook.analysis_channels import PointwisePCA, pca_pointwise_weights, pca_reconstruct, relu_embedding_error
from convbook.dilated import coverage_map
from convbook.pointwise import pointwise_conv2d


def _err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# --------------------------------------------------------------------------- frequency response


@pytest.mark.parametrize("d", [1, 2, 3, 4, 8])
def test_frequency_response_of_a_difference_is_2_sin_d_omega(d):
    omega, h = frequency_response([-1.0, 0.0, 1.0], dilation=d, n=256)
    assert omega.shape == h.shape == (129,)
    assert omega[0] == 0 and omega[-1] == pytest.approx(np.pi)
    assert np.allclose(np.abs(h), 2 * np.abs(np.sin(d * omega)), atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_frequency_response_is_the_undilated_one_at_d_omega(d):
    w = np.array([1.0, -4.0, 1.0]) + np.array([0.0, 2.0, 0.0])  # any real kernel
    omega, h = frequency_response(w, dilation=d, n=512)
    expected = sum(w[u] * np.exp(1j * d * omega * u) for u in range(w.size))  # H(d omega), the definition
    assert np.allclose(h, expected, atol=1e-12)


def test_frequency_response_predicts_the_response_to_a_cosine():
    # cross-correlating a cosine of frequency omega with the dilated kernel scales it by |H(d omega)|
    rng = np.random.default_rng(0)
    w = rng.normal(size=3)
    for d in (1, 3):
        n = 64
        omega, h = frequency_response(w, dilation=d, n=n)
        m = 5  # omega = 2 pi m / n: a whole number of periods in n samples, so circular = exact
        x = np.cos(omega[m] * np.arange(3 * n))
        y = conv1d(x[None, None], w[None, None], dilation=d)[0, 0]  # valid: no border effects
        assert np.isclose(np.abs(y).max(), np.abs(h[m]), rtol=1e-3)


def test_frequency_response_rejects_bad_input():
    with pytest.raises(ValueError, match="frequency_response: kernel must be a non-empty 1-D array"):
        frequency_response(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"frequency_response: n must be at least the dilated kernel's span .* = 9"):
        frequency_response([1.0, 2.0, 3.0], dilation=4, n=8)
    with pytest.raises(ValueError, match="frequency_response: dilation must be a positive int"):
        frequency_response([1.0, 2.0], dilation=0)
    with pytest.raises(TypeError, match="frequency_response: kernel must hold real numbers"):
        frequency_response(np.array([1j, 2j]))
    assert np.allclose(frequency_response([-1, 0, 1])[1], frequency_response([-1.0, 0.0, 1.0])[1])


def test_gaussian_kernel():
    g = gaussian_kernel(1.0)
    assert g.shape == (7,) and np.isclose(g.sum(), 1.0) and np.allclose(g, g[::-1])
    assert np.argmax(g) == 3
    assert gaussian_kernel(0.5, radius=1).shape == (3,)
    with pytest.raises(ValueError, match="gaussian_kernel: sigma must be positive"):
        gaussian_kernel(0.0)
    with pytest.raises(TypeError, match="gaussian_kernel: sigma must be a real number"):
        gaussian_kernel("1")
    with pytest.raises(ValueError, match="gaussian_kernel: radius must be a non-negative int"):
        gaussian_kernel(1.0, radius=-1)


# --------------------------------------------------------------------------- de-gridding model


@pytest.mark.parametrize("dils", [[1, 1], [2, 2, 2], [1, 2, 5], [4]])
@pytest.mark.parametrize("ndim", [1, 2])
def test_plain_stack_response_is_the_coverage_map_over_the_path_count(dils, ndim):
    r = stack_impulse_response([(dils, False)], ndim=ndim)
    paths = coverage_map(3, dils, ndim=ndim)
    assert r.shape == paths.shape
    assert np.allclose(r * 3 ** (ndim * len(dils)), paths, atol=1e-9)


def _torch_stack(blocks, size, s):
    """The same linear network in torch: averaging 3x3 kernels, residual adds, one active pixel."""
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    x[0, 0, size // 2, size // 2] = 1.0
    avg = torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64)
    for dils, residual in blocks:
        b = x
        for d in dils:
            b = F.conv2d(b, avg, padding=d, dilation=d)
        x = x + s * b if residual else b
    return x[0, 0].numpy()


@pytest.mark.parametrize("s", [0.5, 1.0, 3.0])
def test_stack_response_matches_torch_with_residual_blocks(s):
    blocks = [([2, 2], True), ([4, 4], True), ([2, 2], False), ([1, 1], True)]
    ours = stack_impulse_response(blocks, branch_scale=s)
    theirs = _torch_stack(blocks, ours.shape[0], s)
    assert np.allclose(ours, theirs, atol=1e-12)
    assert np.isclose(ours.sum(), (1 + s) ** 3)  # each of the 3 residual blocks multiplies the total by 1 + s


def test_branch_scale_zero_leaves_the_impulse():
    r = stack_impulse_response([([2, 2], True)], branch_scale=0.0)
    assert r.sum() == 1.0 and r[r.shape[0] // 2, r.shape[1] // 2] == 1.0


def test_stack_impulse_response_rejects_bad_input():
    with pytest.raises(TypeError, match=r"stack_impulse_response: blocks\[0\] must be a \(dilations, residual\) pair"):
        stack_impulse_response([[2, 2, 2]])
    with pytest.raises(TypeError, match=r"stack_impulse_response: blocks\[0\] dilations must be a sequence of ints"):
        stack_impulse_response([(2, True)])
    with pytest.raises(ValueError, match="stack_impulse_response: blocks must name at least one block"):
        stack_impulse_response([])
    with pytest.raises(ValueError, match=r"stack_impulse_response: blocks\[0\] must hold at least one convolution"):
        stack_impulse_response([([], True)])
    with pytest.raises(TypeError, match=r"blocks\[0\] residual must be True or False"):
        stack_impulse_response([([1], 1)])
    with pytest.raises(ValueError, match=r"blocks\[0\] dilation must be a positive int"):
        stack_impulse_response([([0], True)])
    with pytest.raises(TypeError, match="stack_impulse_response: branch_scale must be a real number, got bool"):
        stack_impulse_response([([1], True)], branch_scale=True)
    with pytest.raises(ValueError, match="stack_impulse_response: branch_scale must be non-negative"):
        stack_impulse_response([([1], True)], branch_scale=-1.0)
    with pytest.raises(ValueError, match="stack_impulse_response: ndim must be 1 or 2"):
        stack_impulse_response([([1], True)], ndim=3)


def test_gridding_ratio():
    assert gridding_ratio(coverage_map(3, [2, 2, 2])) == pytest.approx(1.0)  # every odd offset a hole
    assert gridding_ratio(coverage_map(3, [4, 4]), period=4) == pytest.approx(1.0)
    assert gridding_ratio(np.ones((6, 6))) == pytest.approx(0.0)  # every coset the same weight
    r = np.array([1.0, 2.0, 3.0, 2.0, 1.0])  # even offsets 0, 2, 4 sum to 5, odd to 4
    assert gridding_ratio(r) == pytest.approx(1 / 9)
    # one averaging layer at d = 1 scales the period-2 component by 1/3 per axis
    assert gridding_ratio(stack_impulse_response([([2, 2], False), ([1], False)])) == pytest.approx(1 / 3)
    # dilation-2 layers pass it untouched, whatever comes before
    assert gridding_ratio(stack_impulse_response([([1], False), ([2, 2], False)])) == pytest.approx(1 / 3)


def test_gridding_ratio_rejects_bad_input():
    with pytest.raises(ValueError, match="gridding_ratio: response must be non-negative and not all zero"):
        gridding_ratio(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="gridding_ratio: response must be non-negative and not all zero"):
        gridding_ratio(np.zeros(3))
    with pytest.raises(ValueError, match="gridding_ratio: response must be a non-empty 1-D or 2-D array"):
        gridding_ratio(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="gridding_ratio: period must be an int >= 2"):
        gridding_ratio(np.ones(4), period=1)
    with pytest.raises(TypeError, match="gridding_ratio: response must be a real array"):
        gridding_ratio(np.array(["a"]))


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
        (dict(sigma="1"), TypeError, "oriented_edge_filters: sigma must be a real number, got str"),
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


# --------------------------------------------------------------------------- the ReLU in few and many dimensions


def test_relu_embedding_loses_information_in_few_dimensions_only():
    t = np.linspace(0.5, 4 * np.pi, 300)
    spiral = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)  # (300, 2)
    narrow = [relu_embedding_error(spiral, 2, seed) for seed in range(5)]
    wide = [relu_embedding_error(spiral, 30, seed) for seed in range(5)]
    assert min(narrow) > 0.3
    assert max(wide) < 1e-10
    # without the ReLU nothing would be lost: a point with all coordinates positive comes back exactly
    assert relu_embedding_error(np.array([[1.0, 1.0]]), 2, seed=0) >= 0.0
