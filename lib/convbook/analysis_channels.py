"""Analysis across channels (NumPy): what a 1x1 layer can keep, and what a ReLU in few channels loses.

* :class:`PointwisePCA`, :func:`pca_pointwise_weights` and
  :func:`pca_reconstruct`: principal component analysis over channels,
  packaged as the weight and bias of a 1x1 convolution (and its inverse map).
* :func:`relu_embedding_error`: MobileNetV2's argument for linear
  bottlenecks (Sandler et al. 2018, Fig. 1): a ReLU in a narrow layer destroys
  information, in a wide one it need not.

The filter-side analyses are in :mod:`convbook.analysis`. NumPy only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from convbook._args import check_float_array, positive_int
from convbook.pointwise import pointwise_conv2d

__all__ = ["PointwisePCA", "pca_pointwise_weights", "pca_reconstruct", "relu_embedding_error"]

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


# --------------------------------------------------------------------------- the ReLU and the width of a layer


def relu_embedding_error(points, dims: int, seed: int = 0) -> float:
    """How much of a low-dimensional point set a ReLU destroys in ``dims`` dimensions (Sandler et al. 2018, Fig. 1).

    Each point ``x`` is mapped into ``dims`` dimensions by a random Gaussian
    matrix ``T`` and passed through a ReLU: ``y = relu(T x)``. Where ``y`` is
    positive the ReLU was the identity, so ``x`` is recovered from those
    coordinates alone by least squares, ``x_hat = lstsq(T[S], y[S])`` with
    ``S = {i : y_i > 0}``. When ``S`` holds at least ``D`` independent rows the
    recovery is exact: the ReLU lost nothing. With few dimensions that often
    fails and the point is lost (its minimum-norm reconstruction is wrong); with
    many, nearly every point keeps enough positive coordinates. This is
    MobileNetV2's argument for *linear* bottlenecks: a ReLU in a narrow layer
    destroys information, in a wide one it need not.

    Parameters
    ----------
    points : ndarray, shape (M, D)
        ``M`` points in ``D`` dimensions (e.g. a 2-D spiral).
    dims : int
        Dimension of the embedding, at least ``D``.
    seed : int
        Seed of the random embedding.

    Returns
    -------
    float
        ``||X_hat - X||_F / ||X||_F`` over all points (0: nothing lost).
    """
    fname = "relu_embedding_error"
    p = check_float_array(points, "points", fname).astype(np.float64)
    if p.ndim != 2 or 0 in p.shape:
        raise ValueError(f"{fname}: points must be 2-D (M, D) with M, D >= 1, got shape {p.shape}")
    dims = positive_int(dims, "dims", fname)
    if dims < p.shape[1]:
        raise ValueError(f"{fname}: dims must be at least the points' dimension D = {p.shape[1]}, got {dims}")
    T = np.random.default_rng(seed).standard_normal((dims, p.shape[1]))  # (dims, D)
    y = np.maximum(p @ T.T, 0.0)  # (M, dims)
    back = np.zeros_like(p)  # (M, D)
    for i in range(len(p)):
        keep = y[i] > 0  # the coordinates on which the ReLU was the identity
        if keep.any():
            back[i] = np.linalg.lstsq(T[keep], y[i, keep], rcond=None)[0]
    norm = float(np.linalg.norm(p))
    return float(np.linalg.norm(back - p)) / norm if norm > 0 else 0.0
