"""Signal and filter analysis of the book's kernels (NumPy): what a kernel passes, and what a stack of them sees.

* :func:`frequency_response` (with :func:`gaussian_kernel` for the smoothing
  control): a kernel dilated by ``d`` has the frequency response ``H(d omega)``,
  periodic with period ``2 pi / d``; its zeros are the patterns it cannot see.
* :func:`stack_impulse_response` and :func:`gridding_ratio`: a linear model of
  a stack of dilated blocks, with or without residual connections, and how much
  of its response sits on a lattice (the de-gridding of Dilated Residual
  Networks, Yu, Koltun and Funkhouser 2017).
* :func:`oriented_edge_filters` and :func:`edge_filter_angles`: a bank of
  derivative-of-Gaussian edge detectors, the input of the 1x1 chapter's feature merging.

The channel-side analyses (PCA over channels as a 1x1 layer, the ReLU
embedding argument of MobileNetV2) are in :mod:`convbook.analysis_channels`.
NumPy only.
"""

from __future__ import annotations

import numpy as np

from convbook._args import positive_int, real_number

__all__ = [
    "edge_filter_angles",
    "frequency_response",
    "gaussian_kernel",
    "gridding_ratio",
    "oriented_edge_filters",
    "stack_impulse_response",
]

# --------------------------------------------------------------------------- frequency response (edges)


def frequency_response(kernel, dilation: int = 1, n: int = 512):
    """Frequency response of a 1-D kernel at dilation ``d``: ``w_hat(d omega)``, computed with the FFT.

    A kernel ``w`` of ``k`` taps used as a cross-correlation, ``y[t] = sum_u w[u] x[t + d u]``,
    turns the input ``x[t] = exp(j omega t)`` (``j`` the imaginary unit) into ``w_hat(d omega) x[t]`` with

        ``w_hat(omega) = sum_u w[u] exp(j omega u)``,

    so dilating a kernel by ``d`` replaces ``w_hat(omega)`` by ``w_hat(d omega)``: the
    same curve compressed ``d`` times and repeated with period ``2 pi / d``.
    Every zero of ``w_hat`` at ``omega_0`` reappears at ``(omega_0 + 2 pi q) / d`` for every integer ``q``.

    Parameters
    ----------
    kernel : array_like, shape (k,)
        Real taps (integers are converted to float64).
    dilation : int, positive
    n : int, positive, at least ``d (k - 1) + 1``
        FFT length: the response is sampled at ``omega = 2 pi q / n``, ``q = 0 .. n // 2``.

    Returns
    -------
    omega : ndarray, shape (n // 2 + 1,)
        Angular frequencies from 0 to pi (radians per sample).
    response : ndarray of complex, shape (n // 2 + 1,)
        ``w_hat(d omega)`` at those frequencies (its magnitude does not depend on
        where the kernel is centred).

    Examples
    --------
    >>> omega, h = frequency_response([-1.0, 0.0, 1.0], dilation=2, n=8)
    >>> np.round(np.abs(h), 6).tolist()  # 2 |sin(2 omega)| at omega = 0, pi/4, pi/2, 3 pi/4, pi
    [0.0, 2.0, 0.0, 2.0, 0.0]
    """
    fname = "frequency_response"
    w = np.asarray(kernel)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"{fname}: kernel must hold real numbers, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"{fname}: kernel must be a non-empty 1-D array of taps, got shape {w.shape}")
    d = positive_int(dilation, "dilation", fname)
    span = d * (w.size - 1) + 1
    n = positive_int(n, "n", fname)
    if n < span:
        raise ValueError(f"{fname}: n must be at least the dilated kernel's span d (k - 1) + 1 = {span}, got {n}")
    wd = np.zeros(span, dtype=np.float64)
    wd[::d] = w  # the zero-inserted kernel: the same filter
    # numpy's FFT uses exp(-i omega m); the cross-correlation above uses exp(+i omega m): the conjugate
    response = np.conj(np.fft.rfft(wd, n))  # (n // 2 + 1,)
    omega = 2 * np.pi * np.arange(n // 2 + 1) / n
    return omega, response


def gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    """A sampled 1-D Gaussian, normalised to sum 1 (for smoothing before differentiating).

    Parameters
    ----------
    sigma : float, positive
        Standard deviation in samples.
    radius : int, non-negative, optional
        Taps from ``-radius`` to ``radius``; default ``ceil(3 sigma)``.

    Returns
    -------
    ndarray, shape (2 radius + 1,), float64
        ``exp(-t^2 / (2 sigma^2))`` for ``t = -radius..radius``, divided by its sum.
        The 2-D Gaussian is the outer product of this kernel with itself.
    """
    fname = "gaussian_kernel"
    sigma = real_number(sigma, "sigma", fname)
    if not sigma > 0:
        raise ValueError(f"{fname}: sigma must be positive, got {sigma}")
    radius = int(np.ceil(3 * sigma)) if radius is None else positive_int(radius, "radius", fname, minimum=0)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return g / g.sum()


# --------------------------------------------------------------------------- de-gridding (DRN)


def _parse_blocks(blocks, fname: str) -> list[tuple[list[int], bool]]:
    if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
        raise TypeError(f"{fname}: blocks must be a sequence of (dilations, residual) pairs, got {blocks!r}")
    parsed = []
    for i, block in enumerate(blocks):
        if not isinstance(block, (tuple, list)) or len(block) != 2:
            raise TypeError(f"{fname}: blocks[{i}] must be a (dilations, residual) pair, got {block!r}")
        dils, residual = block
        if isinstance(dils, (str, bytes)) or not hasattr(dils, "__iter__"):
            raise TypeError(f"{fname}: blocks[{i}] dilations must be a sequence of ints, got {dils!r}")
        dils = [positive_int(d, f"blocks[{i}] dilation", fname) for d in dils]
        if not dils:
            raise ValueError(f"{fname}: blocks[{i}] must hold at least one convolution")
        if not isinstance(residual, (bool, np.bool_)):
            raise TypeError(f"{fname}: blocks[{i}] residual must be True or False, got {residual!r}")
        parsed.append((dils, bool(residual)))
    if not parsed:
        raise ValueError(f"{fname}: blocks must name at least one block, got an empty sequence")
    return parsed


def stack_impulse_response(blocks, kernel_size: int = 3, ndim: int = 2, branch_scale: float = 1.0) -> np.ndarray:
    """Response of a linear stack of dilated averaging convolutions, with or without residual connections,
    to one active input pixel.

    Every convolution is the ``k x k`` (or ``k``-tap) averaging kernel, all taps
    ``1 / k^ndim``, at its dilation, so each passes a constant input unchanged;
    a block is a chain of such convolutions, and a residual block adds its
    input: ``x + beta B(x)`` with ``beta = branch_scale``. There is no
    nonlinearity, so the response to a single active pixel (an impulse) is the
    whole network's effective kernel; without residual blocks it is
    :func:`coverage_map` divided by the number of paths, ``k^(ndim L)``.

    This is the model behind the de-gridding of Dilated Residual Networks
    (Yu, Koltun and Funkhouser 2017): a single active pixel entering layers
    whose dilations share a factor comes out as a lattice (gridding), and the
    question is which layers added at the end remove it.

    Parameters
    ----------
    blocks : sequence of (dilations, residual)
        From input to output; ``dilations`` is a sequence of positive ints (one
        per convolution of the block) and ``residual`` a bool.
    kernel_size : int, positive
    ndim : 1 or 2
    branch_scale : float, non-negative
        Gain ``beta`` of the convolution branch of a residual block relative to
        its identity (skip) connection. Ignored by blocks without a residual connection.

    Returns
    -------
    ndarray of float64, shape (R,) or (R, R)
        ``R = 1 + (k - 1) sum(all dilations)``; the impulse sits at the centre,
        offset ``(R - 1) / 2``. Sums to ``prod over residual blocks of (1 + s)``.
    """
    fname = "stack_impulse_response"
    parsed = _parse_blocks(blocks, fname)
    k = positive_int(kernel_size, "kernel_size", fname)
    if ndim not in (1, 2) or isinstance(ndim, bool):
        raise ValueError(f"{fname}: ndim must be 1 or 2, got {ndim!r}")
    branch_scale = real_number(branch_scale, "branch_scale", fname)
    if branch_scale < 0:
        raise ValueError(f"{fname}: branch_scale must be non-negative, got {branch_scale}")
    R = 1 + (k - 1) * sum(sum(d) for d, _ in parsed)
    shape = (R,) * ndim
    response = np.zeros(shape)
    response[((R - 1) // 2,) * ndim] = 1.0  # the one active pixel
    for dils, residual in parsed:
        branch = response
        for d in dils:
            branch = _average_dilated(branch, k, d)
        response = response + branch_scale * branch if residual else branch
    return response


def _average_dilated(a: np.ndarray, k: int, d: int) -> np.ndarray:
    """``a`` filtered by the averaging ``k``-tap kernel at dilation ``d`` along every axis (zero outside, same size)."""
    half = d * (k - 1) // 2
    lo = -half
    for axis in range(a.ndim):
        out = np.zeros_like(a)
        n = a.shape[axis]
        for j in range(k):
            shift = lo + j * d  # tap j reads a sample `shift` away
            src = [slice(None)] * a.ndim
            dst = [slice(None)] * a.ndim
            if shift >= 0:
                src[axis], dst[axis] = slice(shift, n), slice(0, n - shift)
            else:
                src[axis], dst[axis] = slice(0, n + shift), slice(-shift, n)
            out[tuple(dst)] += a[tuple(src)] / k
        a = out
    return a


def gridding_ratio(response, period: int = 2) -> float:
    """How much of a non-negative response sits on a lattice of spacing ``period``: 1 all of it, 0 none.

    The response's Fourier sum ``F(omega) = sum_x h[x] exp(-j omega . x)`` (``h`` the response, ``x``
    an offset, ``j`` the imaginary unit) at the lattice frequencies ``omega = 2 pi nu / period`` (``nu``
    a nonzero integer vector modulo ``period``), relative to ``F(0)``; the largest of these
    ratios is returned. In 1-D with ``period = 2`` it is
    ``|sum of h at even offsets - sum at odd offsets| / sum of h``. A response
    that lives on one coset of the lattice (every other offset a hole, as
    after layers whose dilations are all even) scores 1; one that gives every
    coset the same weight scores 0.

    Parameters
    ----------
    response : array_like, shape (R,) or (R1, R2)
        Non-negative, not all zero (e.g. :func:`stack_impulse_response` or :func:`coverage_map`).
    period : int, at least 2

    Returns
    -------
    float in [0, 1]
    """
    fname = "gridding_ratio"
    r = np.asarray(response)
    if r.dtype.kind not in "iuf" or r.dtype == np.bool_:
        raise TypeError(f"{fname}: response must be a real array, got dtype {r.dtype}")
    if r.ndim not in (1, 2) or r.size == 0:
        raise ValueError(f"{fname}: response must be a non-empty 1-D or 2-D array, got shape {r.shape}")
    r = r.astype(np.float64)
    if (r < 0).any() or r.sum() <= 0:
        raise ValueError(f"{fname}: response must be non-negative and not all zero")
    p = positive_int(period, "period", fname, minimum=2)
    # fold the response onto the period x period cosets, then take the DFT of the folded array
    folded = np.zeros((p,) * r.ndim)
    idx = np.indices(r.shape)  # (ndim, *shape)
    np.add.at(folded, tuple(i.ravel() % p for i in idx), r.ravel())
    spectrum = np.abs(np.fft.fftn(folded))  # (p,) or (p, p); entry 0 is the total
    spectrum.flat[0] = 0.0
    return float(spectrum.max() / r.sum())


# --------------------------------------------------------------------------- oriented edge filters


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
    sigma = size / 5 if sigma is None else real_number(sigma, "sigma", fname)
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
