"""The 1x1 (pointwise) convolution: a per-pixel linear map across channels.

``y[n, o, i, j] = sum_c w[o, c] * x[n, c, i, j] + b[o]``: the same ``C_out x C_in``
matrix applied to every pixel's channel vector. With channels last it is one
matrix product of shape ``(N*H*W, C_in) @ (C_in, C_out)``.

Besides the convolution itself (a loop oracle and the fast version), this module
has the NumPy helpers of the 1x1 chapter: a bank of oriented edge filters, a
1x1 weight computed by PCA over channels, the inverse map, and a diagram of
what a 1x1 kernel does. NumPy only; matplotlib is imported inside the drawing
function, never on import.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._args import check_float_array, positive_int


def _check_pointwise(x, weight, bias, fname: str):
    """Validate a 1x1 call; return ``(x (N, C_in, H, W), weight (C_out, C_in), bias, unbatched)``."""
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    if x.ndim not in (3, 4):
        raise ValueError(f"{fname}: input x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim == 4:
        if weight.shape[2:] != (1, 1):
            raise ValueError(f"{fname}: a 4-D weight must have a 1x1 kernel, got shape {weight.shape}")
        weight = weight[:, :, 0, 0]  # (C_out, C_in)
    elif weight.ndim != 2:
        raise ValueError(f"{fname}: weight must be (C_out, C_in) or (C_out, C_in, 1, 1), got shape {weight.shape}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{fname}: weight dtype {weight.dtype} must match input dtype {x.dtype}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]  # (1, C_in, H, W)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{fname}: weight expects C_in={weight.shape[1]} channels, input has {x.shape[1]}")
    if bias is not None:
        bias = check_float_array(bias, "bias", fname)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{fname}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return x, weight, bias, unbatched


def pointwise_conv2d(x, weight, bias=None) -> np.ndarray:
    """A 1x1 convolution as one matrix product over channels.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in, 1, 1) or (C_out, C_in)
    bias : ndarray, shape (C_out,), optional

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        Equal to ``conv2d(x, weight.reshape(C_out, C_in, 1, 1), bias)``.
    """
    x, weight, bias, unbatched = _check_pointwise(x, weight, bias, "pointwise_conv2d")
    y = np.einsum("oc,nchw->nohw", weight, x, optimize=True)  # (N, C_out, H, W)
    if bias is not None:
        y = y + bias[None, :, None, None]
    y = y.astype(x.dtype, copy=False)
    return y[0] if unbatched else y


def pointwise_conv2d_loop(x, weight, bias=None) -> np.ndarray:
    """A 1x1 convolution by a loop over pixels: the oracle for :func:`pointwise_conv2d`.

    Each pixel's channel vector ``x[n, :, i, j]`` (length ``C_in``) is multiplied
    by the matrix ``weight`` (``C_out x C_in``); no pixel looks at a neighbour.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in, 1, 1) or (C_out, C_in)
    bias : ndarray, shape (C_out,), optional

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        The spatial size is unchanged: ``H_out = H``, ``W_out = W``.
    """
    x, weight, bias, unbatched = _check_pointwise(x, weight, bias, "pointwise_conv2d_loop")
    N, _, H, W = x.shape
    y = np.zeros((N, weight.shape[0], H, W), dtype=x.dtype)  # (N, C_out, H, W)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                y[n, :, i, j] = weight @ x[n, :, i, j]  # (C_out, C_in) @ (C_in,) -> (C_out,)
                if bias is not None:
                    y[n, :, i, j] += bias
    return y[0] if unbatched else y


# --------------------------------------------------------------------------- edge filters


def edge_filter_angles(n: int) -> np.ndarray:
    """The ``n`` directions of :func:`oriented_edge_filters`, in degrees: ``360 * k / n``."""
    positive_int(n, "n", "edge_filter_angles")
    return 360.0 * np.arange(n) / n


def oriented_edge_filters(n: int = 16, size: int = 7, sigma: float | None = None) -> np.ndarray:
    """A bank of ``n`` oriented edge detectors: derivatives of a Gaussian along ``n`` directions.

    Filter ``k`` is the derivative of a Gaussian (standard deviation ``sigma``)
    along the direction at angle ``360 k / n`` degrees, counter-clockwise from
    the +column axis with rows pointing *up* (so 90 degrees responds to an
    intensity that grows towards the top of the image). Directions cover the
    full circle, so a dark-to-light edge and a light-to-dark edge of the same
    orientation excite different filters. Each filter sums to zero and has unit
    Euclidean norm.

    Parameters
    ----------
    n : int
        Number of directions (filters).
    size : int
        Odd kernel size.
    sigma : float, optional
        Default ``size / 5``.

    Returns
    -------
    ndarray, shape (n, 1, size, size), float64
        A conv2d weight: ``conv2d(gray (N, 1, H, W), filters, padding=size // 2)``
        gives ``(N, n, H, W)`` edge maps.
    """
    fname = "oriented_edge_filters"
    n = positive_int(n, "n", fname)
    size = positive_int(size, "size", fname)
    if size % 2 == 0 or size < 3:
        raise ValueError(f"{fname}: size must be an odd int >= 3, got {size}")
    sigma = size / 5 if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"{fname}: sigma must be positive, got {sigma}")
    r = size // 2
    rows, cols = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)  # (size, size) each
    up, right = -rows, cols  # image rows grow downwards
    gauss = np.exp(-(up**2 + right**2) / (2 * sigma**2))
    theta = np.deg2rad(edge_filter_angles(n))  # (n,)
    along = np.cos(theta)[:, None, None] * right + np.sin(theta)[:, None, None] * up  # (n, size, size)
    filters = along * gauss  # d/ds of the Gaussian, up to a constant
    filters -= filters.mean(axis=(1, 2), keepdims=True)
    filters /= np.linalg.norm(filters, axis=(1, 2), keepdims=True)
    return filters[:, None]  # (n, 1, size, size)


# --------------------------------------------------------------------------- PCA as a 1x1 conv


class PointwisePCA(NamedTuple):
    """A 1x1 convolution that projects ``C`` channels onto their top ``k`` principal components.

    ``weight`` (k, C) and ``bias`` (k,) are a :func:`pointwise_conv2d` layer:
    ``y = weight @ (x - mean)``, so ``bias = -weight @ mean``. ``mean`` (C,) is
    the per-channel mean. ``explained_variance_ratio`` (C,) lists every
    component's share of the total variance, largest first; the first ``k``
    are kept.
    """

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def kept(self) -> float:
        """Fraction of the total variance kept by the ``k`` components."""
        return float(self.explained_variance_ratio[: self.weight.shape[0]].sum())


def pca_pointwise_weights(features, k: int) -> PointwisePCA:
    """PCA over channels, packaged as the weight and bias of a 1x1 convolution.

    Every pixel of every map is one sample, its ``C`` channel values the
    features. The weight's rows are the unit eigenvectors of the channel
    covariance with the ``k`` largest eigenvalues, each signed so that its
    largest-magnitude entry is positive (a deterministic choice).

    Parameters
    ----------
    features : ndarray, shape (N, C, H, W) or (C, H, W), floating point
    k : int, 1 <= k <= C

    Returns
    -------
    PointwisePCA
        ``weight`` (k, C), ``bias`` (k,), ``mean`` (C,),
        ``explained_variance_ratio`` (C,). ``pointwise_conv2d(features,
        weight, bias)`` gives the ``k`` merged maps, ``(N, k, H, W)``.
    """
    fname = "pca_pointwise_weights"
    f = check_float_array(features, "features", fname)
    if f.ndim not in (3, 4):
        raise ValueError(f"{fname}: features must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {f.shape}")
    if f.ndim == 3:
        f = f[None]  # (1, C, H, W)
    C = f.shape[1]
    k = positive_int(k, "k", fname)
    if k > C:
        raise ValueError(f"{fname}: k must be at most the number of channels C={C}, got k={k}")
    samples = f.transpose(0, 2, 3, 1).reshape(-1, C).astype(np.float64)  # (N*H*W, C)
    if samples.shape[0] < 2:
        raise ValueError(f"{fname}: need at least 2 pixels to estimate a covariance, got {samples.shape[0]}")
    mean = samples.mean(axis=0)  # (C,)
    centred = samples - mean  # (N*H*W, C)
    cov = centred.T @ centred / (samples.shape[0] - 1)  # (C, C)
    evals, evecs = np.linalg.eigh(cov)  # ascending; evecs[:, i] is a unit eigenvector
    order = np.argsort(evals)[::-1]
    evals = np.clip(evals[order], 0.0, None)  # (C,), largest first
    evecs = evecs[:, order]  # (C, C)
    total = evals.sum()
    if total <= 0:
        raise ValueError(f"{fname}: features have zero variance in every channel; PCA is undefined")
    weight = evecs[:, :k].T.copy()  # (k, C)
    flip = np.sign(weight[np.arange(k), np.argmax(np.abs(weight), axis=1)])  # (k,)
    weight *= flip[:, None]
    dtype = f.dtype
    return PointwisePCA(
        weight.astype(dtype), (-weight @ mean).astype(dtype), mean.astype(dtype), (evals / total).astype(dtype)
    )


def pca_reconstruct(merged, pca: PointwisePCA) -> np.ndarray:
    """Map ``k`` merged maps back to ``C`` channels: ``x_hat = weight.T @ y + mean``.

    This is itself a 1x1 convolution, with weight ``pca.weight.T`` (C, k) and
    bias ``pca.mean`` (C,).

    Parameters
    ----------
    merged : ndarray, shape (N, k, H, W) or (k, H, W)
    pca : PointwisePCA

    Returns
    -------
    ndarray, shape (N, C, H, W) (unbatched if ``merged`` was)
    """
    if not isinstance(pca, PointwisePCA):
        raise TypeError(f"pca_reconstruct: pca must be a PointwisePCA, got {type(pca).__name__}")
    merged = check_float_array(merged, "merged", "pca_reconstruct")
    return pointwise_conv2d(merged, pca.weight.T.astype(merged.dtype), pca.mean.astype(merged.dtype))


# --------------------------------------------------------------------------- a picture


def show_pointwise(ax, c_in: int = 4, c_out: int = 3, size: int = 5, pixel=(2, 1), weight=None):
    """Draw what a 1x1 convolution does at one pixel: a channel vector in, a channel vector out.

    From left to right: ``c_in`` input planes of ``size x size`` pixels drawn
    as a stack, with the pixel at ``pixel`` (row, column) highlighted in every
    plane (drawn on top, so the whole column of ``c_in`` values shows); that
    pixel's channel vector ``x`` (length ``c_in``); the ``c_out x c_in`` weight
    matrix ``W`` (random if not given); the output vector ``y = W x`` (length
    ``c_out``); and the ``c_out`` output planes with the same pixel
    highlighted. No neighbouring pixel is read.

    Returns
    -------
    dict
        ``{'in': [Rectangle], 'out': [Rectangle], 'weight': AxesImage}``: the
        highlighted cells (one per channel) and the drawn matrix.
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from .plotting import OUT_COLOR, TAP_COLOR

    c_in = positive_int(c_in, "c_in", "show_pointwise")
    c_out = positive_int(c_out, "c_out", "show_pointwise")
    if weight is None:
        weight = np.random.default_rng(0).normal(size=(c_out, c_in))
    weight = np.asarray(weight, dtype=float)
    if weight.shape != (c_out, c_in):
        raise ValueError(f"show_pointwise: weight must have shape ({c_out}, {c_in}), got {weight.shape}")
    pi, pj = pixel
    shift = 0.8  # offset between stacked planes
    mid_y = size / 2

    def stack(x0, channels, color, label):
        cells = []
        for c in reversed(range(channels)):  # back planes first
            ox, oy = x0 + c * shift, c * shift
            for i in range(size):
                for j in range(size):
                    ax.add_patch(Rectangle((ox + j, oy + size - 1 - i), 1, 1, fc="white", ec="0.6", lw=0.8))
        for c in range(channels):  # the pixel's column, on top of every plane
            r = Rectangle((x0 + c * shift + pj, c * shift + size - 1 - pi), 1, 1, fc=color, ec="black", lw=0.8)
            r.set_zorder(3)
            ax.add_patch(r)
            cells.append(r)
        ax.text(x0 + (size + channels * shift) / 2, -0.8, label, ha="center", va="top", fontsize=9)
        return cells

    def vector(x0, n, color, name):
        top = mid_y + n / 2
        for c in range(n):
            ax.add_patch(Rectangle((x0, top - c - 1), 1, 1, fc=color, ec="black", lw=0.8))
            ax.text(x0 + 0.5, top - c - 0.5, f"{name}{c}", ha="center", va="center", fontsize=8, color="white")
        ax.text(x0 + 0.5, -0.8, f"{name}\n{n} values", ha="center", va="top", fontsize=8)
        return x0 + 1

    def arrow(x0, x1):
        ax.add_patch(FancyArrowPatch((x0 + 0.2, mid_y), (x1 - 0.2, mid_y), arrowstyle="-|>", mutation_scale=14))

    left = stack(0.0, c_in, TAP_COLOR, f"input: {c_in} channels of {size}x{size}")
    x = size + c_in * shift + 1.5
    arrow(x - 1.5, x)
    end = vector(x, c_in, TAP_COLOR, "x")
    x = end + 1.5
    arrow(end, x)
    vmax = float(np.abs(weight).max()) or 1.0
    extent = (x, x + c_in, mid_y - c_out / 2, mid_y + c_out / 2)
    im = ax.imshow(weight, cmap="RdBu_r", vmin=-vmax, vmax=vmax, extent=extent, origin="upper")
    ax.text(x + c_in / 2, -0.8, f"W: {c_out} x {c_in}\n(every pixel)", ha="center", va="top", fontsize=8)
    end = x + c_in
    x = end + 1.5
    arrow(end, x)
    end = vector(x, c_out, OUT_COLOR, "y")
    x = end + 1.5
    arrow(end, x)
    right = stack(x, c_out, OUT_COLOR, f"output: {c_out} channels of {size}x{size}")
    ax.set_xlim(-0.5, x + size + c_out * shift + 0.5)
    ax.set_ylim(-2.6, size + max(c_in, c_out) * shift + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return {"in": left, "out": right, "weight": im}
