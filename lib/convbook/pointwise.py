"""The 1x1 (pointwise) convolution: a per-pixel linear map across channels.

``y[n, o, i, j] = sum_c w[o, c] * x[n, c, i, j] + b[o]``: the same ``C_out x C_in``
matrix applied to every pixel's channel vector. With channels last it is one
matrix product of shape ``(N*H*W, C_in) @ (C_in, C_out)``.

Besides the convolution itself (a loop oracle and the fast version, both with
torch's ``groups``), this module has the NumPy helpers of the 1x1 chapter:
ShuffleNet's channel shuffle and the channel connectivity of grouped layers,
a bank of oriented edge filters, a 1x1 weight computed by PCA over channels,
the inverse map, and a diagram of what a 1x1 kernel does. NumPy only;
matplotlib is imported inside the drawing function, never on import.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from convbook._args import check_float_array, positive_int


def _check_pointwise(x, weight, bias, fname: str, groups: int = 1):
    """Validate a 1x1 call; return ``(x (N, C_in, H, W), weight (C_out, C_in // groups), bias, unbatched, groups)``."""
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    groups = positive_int(groups, "groups", fname)
    if x.ndim not in (3, 4):
        raise ValueError(f"{fname}: input x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim == 4:
        if weight.shape[2:] != (1, 1):
            raise ValueError(f"{fname}: a 4-D weight must have a 1x1 kernel, got shape {weight.shape}")
        weight = weight[:, :, 0, 0]  # (C_out, C_in // groups)
    elif weight.ndim != 2:
        raise ValueError(f"{fname}: weight must be (C_out, C_in) or (C_out, C_in, 1, 1), got shape {weight.shape}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{fname}: weight dtype {weight.dtype} must match input dtype {x.dtype}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]  # (1, C_in, H, W)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fname}: groups={groups} must divide C_in={c_in} and C_out={c_out}")
    if weight.shape[1] * groups != c_in:
        what = f"C_in={weight.shape[1]}" if groups == 1 else f"C_in / groups = {weight.shape[1]}"
        raise ValueError(f"{fname}: weight expects {what} channels, input has {c_in}")
    if bias is not None:
        bias = check_float_array(bias, "bias", fname)
        if bias.shape != (c_out,):
            raise ValueError(f"{fname}: bias must have shape ({c_out},), got {bias.shape}")
    return x, weight, bias, unbatched, groups


def pointwise_conv2d(x, weight, bias=None, groups: int = 1) -> np.ndarray:
    """A 1x1 convolution as one matrix product over channels (one per group).

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, 1, 1) or (C_out, C_in // groups)
    bias : ndarray, shape (C_out,), optional
    groups : int
        Split the channels into ``groups`` groups: output channels
        ``[k C_out/g, (k+1) C_out/g)`` read only input channels
        ``[k C_in/g, (k+1) C_in/g)`` (torch's ``groups``; ShuffleNet's grouped 1x1).

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        Equal to ``conv2d(x, weight.reshape(C_out, C_in // groups, 1, 1), bias, groups=groups)``.
    """
    x, weight, bias, unbatched, g = _check_pointwise(x, weight, bias, "pointwise_conv2d", groups)
    N, C_in, H, W = x.shape
    C_out = weight.shape[0]
    xg = x.reshape(N, g, C_in // g, H, W)  # (N, g, C_in/g, H, W)
    wg = weight.reshape(g, C_out // g, C_in // g)  # (g, C_out/g, C_in/g)
    y = np.einsum("goc,ngchw->ngohw", wg, xg, optimize=True).reshape(N, C_out, H, W)  # (N, C_out, H, W)
    if bias is not None:
        y = y + bias[None, :, None, None]
    y = y.astype(x.dtype, copy=False)
    return y[0] if unbatched else y


def pointwise_conv2d_loop(x, weight, bias=None, groups: int = 1) -> np.ndarray:
    """A 1x1 convolution by a loop over pixels: the oracle for :func:`pointwise_conv2d`.

    Each pixel's channel vector ``x[n, :, i, j]`` (length ``C_in``) is multiplied
    by the matrix ``weight`` (``C_out x C_in``); no pixel looks at a neighbour.
    With ``groups = g`` the matrix is block-diagonal: group ``k`` of the output
    reads only group ``k`` of the input, through its own
    ``(C_out/g) x (C_in/g)`` block ``weight[k C_out/g : (k+1) C_out/g]``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, 1, 1) or (C_out, C_in // groups)
    bias : ndarray, shape (C_out,), optional
    groups : int

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        The spatial size is unchanged: ``H_out = H``, ``W_out = W``.
    """
    x, weight, bias, unbatched, g = _check_pointwise(x, weight, bias, "pointwise_conv2d_loop", groups)
    N, C_in, H, W = x.shape
    C_out = weight.shape[0]
    ci, co = C_in // g, C_out // g
    y = np.zeros((N, C_out, H, W), dtype=x.dtype)  # (N, C_out, H, W)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                for k in range(g):
                    block = weight[k * co : (k + 1) * co]  # (C_out/g, C_in/g)
                    y[n, k * co : (k + 1) * co, i, j] = block @ x[n, k * ci : (k + 1) * ci, i, j]
                if bias is not None:
                    y[n, :, i, j] += bias
    return y[0] if unbatched else y


# --------------------------------------------------------------------------- groups and channel shuffle


def _check_groups(channels: int, groups: int, fname: str, name: str = "channels") -> tuple[int, int]:
    channels = positive_int(channels, name, fname)
    groups = positive_int(groups, "groups", fname)
    if channels % groups:
        raise ValueError(f"{fname}: groups={groups} must divide {name}={channels}")
    return channels, groups


def shuffle_permutation(channels: int, groups: int) -> np.ndarray:
    """The channel order after ShuffleNet's channel shuffle (Zhang et al. 2018).

    Think of the ``channels`` channels as a ``groups x (channels / groups)``
    matrix, one row per group; the shuffle transposes it and reads it out row
    by row. Output channel ``i`` is input channel ``perm[i]``, so consecutive
    output channels come from different groups.

    Returns
    -------
    ndarray, shape (channels,), int
        ``perm``: ``channel_shuffle(x, groups)[:, i] == x[:, perm[i]]``.
    """
    c, g = _check_groups(channels, groups, "shuffle_permutation")
    return np.arange(c).reshape(g, c // g).T.ravel()  # (C,)


def channel_shuffle(x, groups: int) -> np.ndarray:
    """ShuffleNet's channel shuffle: reshape channels to ``(groups, C / groups)``, transpose, flatten.

    Equal to ``torch.nn.ChannelShuffle(groups)``. It moves no values within a
    channel and costs no multiply-adds; it only reorders channels so that a
    following grouped layer's group ``k`` reads one channel from every group of
    the layer before.

    Parameters
    ----------
    x : ndarray, shape (N, C, ...)
        Any number of trailing (spatial) axes, at least one.
    groups : int, dividing C

    Returns
    -------
    ndarray, shape (N, C, ...)
        ``out[:, i] = x[:, perm[i]]`` with ``perm = shuffle_permutation(C, groups)``.
    """
    if not isinstance(x, np.ndarray):
        if hasattr(x, "detach") and hasattr(x, "numpy"):
            raise TypeError("channel_shuffle: x must be a NumPy array, got a torch tensor; call .numpy() first")
        x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(
            f"channel_shuffle: x must have shape (N, C, ...) with at least one spatial axis, got {x.shape}"
        )
    n, c = x.shape[:2]
    c, g = _check_groups(c, groups, "channel_shuffle", "the channel count C")
    y = x.reshape(n, g, c // g, *x.shape[2:])  # (N, g, C/g, ...)
    return np.ascontiguousarray(y.swapaxes(1, 2)).reshape(x.shape)  # (N, C/g, g, ...) -> (N, C, ...)


def group_connectivity(c_in: int, c_out: int, groups: int = 1) -> np.ndarray:
    """Which input channels each output channel of a grouped 1x1 (or k x k) convolution reads.

    Returns
    -------
    ndarray, shape (c_out, c_in), bool
        ``M[o, c]`` is True when output channel ``o`` reads input channel ``c``:
        block-diagonal with ``groups`` blocks of ``(c_out/g) x (c_in/g)``.
    """
    fname = "group_connectivity"
    c_in, g = _check_groups(c_in, groups, fname, "c_in")
    c_out, _ = _check_groups(c_out, g, fname, "c_out")
    return (np.arange(c_out)[:, None] // (c_out // g)) == (np.arange(c_in)[None, :] // (c_in // g))


def shuffle_connectivity(channels: int, groups: int) -> np.ndarray:
    """The channel shuffle as a connectivity matrix, shape (channels, channels), bool: ``M[i, perm[i]]``."""
    perm = shuffle_permutation(channels, groups)
    m = np.zeros((perm.size, perm.size), dtype=bool)
    m[np.arange(perm.size), perm] = True
    return m


def compose_connectivity(*layers) -> np.ndarray:
    """Which inputs of the first layer reach each output of the last, through a chain of layers.

    Parameters
    ----------
    *layers : ndarray, shape (c_out_i, c_in_i), bool
        Connectivity matrices in the order the layers are applied
        (``c_in_{i+1} == c_out_i``).

    Returns
    -------
    ndarray, shape (c_out_last, c_in_first), bool
        The boolean product ``L_k ... L_2 L_1``.
    """
    if not layers:
        raise ValueError("compose_connectivity: give at least one connectivity matrix")
    mats = [np.asarray(m) for m in layers]
    for i, m in enumerate(mats):
        if m.ndim != 2:
            raise ValueError(f"compose_connectivity: layer {i} must be a 2-D matrix, got shape {m.shape}")
    reach = mats[0].astype(bool)
    for i, m in enumerate(mats[1:], start=1):
        if m.shape[1] != reach.shape[0]:
            raise ValueError(
                f"compose_connectivity: layer {i} reads {m.shape[1]} channels but layer {i - 1} writes {reach.shape[0]}"
            )
        reach = (m.astype(np.int64) @ reach.astype(np.int64)) > 0  # (c_out_i, c_in_first)
    return reach


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


def show_pointwise(ax, c_in: int = 4, c_out: int = 3, size: int = 4, pixel=(1, 2), weight=None):
    """Draw what a 1x1 convolution does at one pixel: a channel vector in, a channel vector out.

    From left to right: the ``c_in`` input channels, drawn as separate
    ``size x size`` grids one above the other (channel 0 on top), with the pixel
    at ``pixel`` (row, column) highlighted in each; a line from each highlighted
    cell to its entry of the channel vector ``x`` (length ``c_in``); the
    ``c_out x c_in`` weight matrix ``w`` (random if not given), its rows labelled
    by output channel and its columns by input channel, each entry printed; the
    output vector ``y = w x`` (length ``c_out``); and the ``c_out`` output
    channels with the same pixel highlighted, each joined to its entry of ``y``.
    No neighbouring pixel is read.

    Returns
    -------
    dict
        ``{'in': [Rectangle], 'out': [Rectangle], 'weight': AxesImage}``: the
        highlighted cells (one per channel, top to bottom) and the drawn matrix.
    """
    from matplotlib.patches import FancyArrowPatch, Rectangle

    from convbook.plotting import OUT_COLOR, TAP_COLOR

    fname = "show_pointwise"
    c_in = positive_int(c_in, "c_in", fname)
    c_out = positive_int(c_out, "c_out", fname)
    size = positive_int(size, "size", fname)
    pi, pj = (int(v) for v in pixel)
    if not (0 <= pi < size and 0 <= pj < size):
        raise ValueError(f"{fname}: pixel must lie in the {size}x{size} grid, got {tuple(pixel)}")
    if weight is None:
        weight = np.random.default_rng(0).normal(size=(c_out, c_in))
    weight = np.asarray(weight, dtype=float)
    if weight.shape != (c_out, c_in):
        raise ValueError(f"{fname}: weight must have shape ({c_out}, {c_in}), got {weight.shape}")
    gap = 0.7  # between stacked channel grids
    height = max(c_in, c_out) * (size + gap) - gap
    mid = height / 2

    def grids(x0, channels, color, name, label_right=False):
        """``channels`` grids one above the other, centred on ``mid``; returns the highlighted cells."""
        top = mid + (channels * (size + gap) - gap) / 2
        cells = []
        for c in range(channels):
            y0 = top - size - c * (size + gap)  # bottom edge of channel c's grid
            for i in range(size):
                for j in range(size):
                    hit = (i, j) == (pi, pj)
                    r = Rectangle((x0 + j, y0 + size - 1 - i), 1, 1, fc=color if hit else "white", ec="0.6", lw=0.8)
                    ax.add_patch(r)
                    if hit:
                        r.set_edgecolor("black")
                        cells.append(r)
            lx, ha = (x0 + size + 0.3, "left") if label_right else (x0 - 0.3, "right")
            ax.text(lx, y0 + size / 2, f"{name} {c}", ha=ha, va="center", fontsize=8, rotation=90)
        return cells

    def vector(x0, n, color, name):
        top = mid + n / 2
        centres = []
        for c in range(n):
            ax.add_patch(Rectangle((x0, top - c - 1), 1, 1, fc=color, ec="black", lw=0.8))
            ax.text(x0 + 0.5, top - c - 0.5, f"{name}{c}", ha="center", va="center", fontsize=8, color="white")
            centres.append((x0 + 0.5, top - c - 0.5))
        return centres

    def link(a, b):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.35", lw=0.8, ls="--", zorder=1)

    def arrow(x0, x1):
        ax.add_patch(FancyArrowPatch((x0 + 0.2, mid), (x1 - 0.2, mid), arrowstyle="-|>", mutation_scale=14))

    below = -0.6  # labels under the drawing
    left = grids(0.0, c_in, TAP_COLOR, "in")
    ax.text(size / 2, below, f"input: {c_in} channels\nof {size}x{size} pixels", ha="center", va="top", fontsize=8)
    x = size + 2.5
    xs = vector(x, c_in, TAP_COLOR, "x")
    for cell, centre in zip(left, xs):
        link((cell.get_x() + 1, cell.get_y() + 0.5), (centre[0] - 0.5, centre[1]))
    ax.text(x + 0.5, below, f"x: {c_in} values\n(one pixel)", ha="center", va="top", fontsize=8)
    x += 1 + 3.0  # an arrow, then room for the row labels
    vmax = float(np.abs(weight).max()) or 1.0
    extent = (x, x + c_in, mid - c_out / 2, mid + c_out / 2)
    im = ax.imshow(weight, cmap="RdBu_r", vmin=-vmax, vmax=vmax, extent=extent, origin="upper")
    for o in range(c_out):
        yc = mid + c_out / 2 - o - 0.5
        ax.text(x - 0.15, yc, f"out {o}", ha="right", va="center", fontsize=7)
        for c in range(c_in):
            v = weight[o, c]
            ax.text(
                x + c + 0.5,
                yc,
                f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if abs(v) > 0.6 * vmax else "black",
            )
    for c in range(c_in):
        ax.text(x + c + 0.5, mid + c_out / 2 + 0.15, f"in {c}", ha="center", va="bottom", fontsize=7, rotation=90)
    arrow(x - 3.0, x - 1.5)
    ax.text(x + c_in / 2, below, f"w: {c_out} x {c_in}\n(the same at\nevery pixel)", ha="center", va="top", fontsize=8)
    x += c_in + 1.5
    arrow(x - 1.5, x)
    ys = vector(x, c_out, OUT_COLOR, "y")
    ax.text(x + 0.5, below, f"y = w x\n{c_out} values", ha="center", va="top", fontsize=8)
    x += 1 + 2.5
    right = grids(x, c_out, OUT_COLOR, "out", label_right=True)
    for cell, centre in zip(right, ys):
        link((centre[0] + 0.5, centre[1]), (cell.get_x(), cell.get_y() + 0.5))
    ax.text(
        x + size / 2, below, f"output: {c_out} channels\nof {size}x{size} pixels", ha="center", va="top", fontsize=8
    )
    ax.set_xlim(-1.5, x + size + 1.5)
    ax.set_ylim(below - 2.2, height + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return {"in": left, "out": right, "weight": im}
