"""Dilated (atrous) convolution: two implementations, causal 1-D, coverage maps.

Convention (PyTorch's, and the book's): ``dilation = d`` leaves ``d - 1`` gaps
between neighbouring kernel taps, so ``d = 1`` is an ordinary convolution and a
``k``-tap kernel spans ``k + (k - 1)(d - 1) = d (k - 1) + 1`` input samples.
Sources that count *gaps* instead (the CS231n notes) use ``g = d - 1``.

Two ways to compute a dilated convolution, both equal to
``convbook.conv2d(..., dilation=d)`` and to ``torch.nn.functional.conv2d``:

* :func:`dilated_conv2d_zeros` inserts ``d - 1`` zeros between the taps of the
  kernel (:func:`dilate_kernel`) and runs an ordinary convolution. It multiplies
  by every inserted zero: ``(d (k - 1) + 1)^2`` multiply-adds per output and
  input channel instead of ``k^2``.
* :func:`dilated_conv2d_gaps` reads the input with gaps: for each of the ``k^2``
  taps it takes a strided slice of the input and accumulates one product over
  the channels. It never multiplies by a kernel zero.

:func:`conv_macs` counts the multiply-adds of either. :func:`causal_conv1d`
pads on the left only, so output ``t`` depends on inputs ``<= t`` (WaveNet).
:func:`coverage_map` counts the paths from the input to one output of a stack
of dilated layers, which exposes the gridding artifact (Wang et al. 2018).
:func:`make_segmentation_task` generates the dense-prediction data set of the
chapter (labels that need a wide receptive field), :func:`make_waveform` the
signal of the WaveNet-style experiment.

NumPy only: this module never imports torch.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ._args import ConvArgs, as_tuple, check_float_array, pad_input, parse_conv_args

__all__ = [
    "causal_conv1d",
    "conv_macs",
    "coverage_map",
    "dilate_kernel",
    "dilated_conv1d_gaps",
    "dilated_conv2d_gaps",
    "dilated_conv2d_zeros",
    "make_segmentation_task",
    "make_waveform",
]


# --------------------------------------------------------------------------- zero insertion


def dilate_kernel(weight, dilation) -> np.ndarray:
    """Insert ``d - 1`` zeros between neighbouring taps of a kernel.

    Parameters
    ----------
    weight : ndarray, shape (C_out, C_in // groups, kH, kW) or (C_out, C_in // groups, k)
        Floating point.
    dilation : int or tuple of ints, positive
        One entry per spatial dimension (an int applies to all of them).

    Returns
    -------
    ndarray, shape (C_out, C_in // groups, dH (kH - 1) + 1, dW (kW - 1) + 1) (or the 1-D analogue)
        Same dtype as ``weight``. Tap ``(u, v)`` of ``weight`` sits at
        ``(u dH, v dW)``; every other entry is zero. An ordinary convolution
        with this kernel equals the dilated convolution with ``weight``.

    Raises
    ------
    TypeError
        If ``weight`` is not a floating-point array or ``dilation`` not an int/tuple of ints.
    ValueError
        If ``weight`` is not 3-D or 4-D, or a dilation is not positive.
    """
    fname = "dilate_kernel"
    weight = check_float_array(weight, "weight", fname)
    if weight.ndim not in (3, 4):
        raise ValueError(
            f"{fname}: weight must be 3-D (C_out, C_in/groups, k) or 4-D (C_out, C_in/groups, kH, kW), "
            f"got {weight.ndim}-D with shape {weight.shape}"
        )
    nd = weight.ndim - 2
    dil = as_tuple(dilation, nd, "dilation", fname)
    if any(d < 1 for d in dil):
        raise ValueError(f"{fname}: dilation must be positive (1 is an ordinary convolution), got {dil}")
    spans = tuple(d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dil))
    out = np.zeros(weight.shape[:2] + spans, dtype=weight.dtype)  # (C_out, C_in/g, *spans)
    index = (slice(None), slice(None)) + tuple(slice(None, None, d) for d in dil)
    out[index] = weight  # every d-th position holds a tap
    return out


def dilated_conv2d_zeros(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Dilated 2-D convolution by zero insertion: ``conv2d(x, dilate_kernel(weight, d))``.

    Same signature, shapes and result as :func:`convbook.conv2d`. The ordinary
    convolution that follows multiplies by all ``(dH (kH-1)+1)(dW (kW-1)+1)``
    entries of the dilated kernel, zeros included.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H + p_top + p_bottom - dH (kH - 1) - 1) // sH + 1``, likewise ``W_out``.
    """
    from .conv import _forward

    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=2, fname="dilated_conv2d_zeros")
    wd = dilate_kernel(a.weight, a.dilation)  # (C_out, C_in/g, dH(kH-1)+1, dW(kW-1)+1)
    b = ConvArgs(a.x, wd, a.bias, a.stride, a.pad, (1, 1), a.groups, a.unbatched, a.nd)
    return b.restore(_forward(b))


# --------------------------------------------------------------------------- gap sampling


def _gaps(a: ConvArgs) -> np.ndarray:
    """Accumulate one channel contraction per kernel tap over a strided input slice."""
    xp = pad_input(a.x, a.pad)  # (N, C_in, Hp, Wp)
    N = xp.shape[0]
    C_out, c_in_g, kH, kW = a.weight.shape
    G = a.groups
    (sH, sW), (dH, dW) = a.stride, a.dilation
    Ho, Wo = a.out_size
    xg = xp.reshape(N, G, c_in_g, *xp.shape[2:])  # (N, G, C_in/G, Hp, Wp)
    wg = a.weight.reshape(G, C_out // G, c_in_g, kH, kW)  # (G, C_out/G, C_in/G, kH, kW)
    out = np.zeros((N, G, C_out // G, Ho, Wo), dtype=xp.dtype)
    for u in range(kH):
        for v in range(kW):
            # the input samples tap (u, v) meets: every sH-th row from u*dH, every sW-th column from v*dW
            tap = xg[:, :, :, u * dH : u * dH + sH * (Ho - 1) + 1 : sH, v * dW : v * dW + sW * (Wo - 1) + 1 : sW]
            # tap: (N, G, C_in/G, Ho, Wo); contract the channels with the weights of this tap
            out += np.einsum("ngchw,goc->ngohw", tap, wg[:, :, :, u, v], optimize=True)  # (N, G, C_out/G, Ho, Wo)
    out = out.reshape(N, C_out, Ho, Wo)
    if a.bias is not None:
        out += a.bias[None, :, None, None]
    return out


def dilated_conv2d_gaps(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Dilated 2-D convolution that samples the input with gaps (no multiplication by zero).

    For each kernel tap ``(u, v)`` the input is read at rows
    ``i sH + u dH`` and columns ``j sW + v dW`` (a strided slice), and the slice
    is contracted with ``weight[:, :, u, v]`` over the input channels. Exactly
    ``C_out (C_in / groups) kH kW`` multiply-adds per output position, whatever
    the dilation.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, kH, kW)
    bias : ndarray, shape (C_out,), optional
    stride : int or (int, int), positive
    padding : int, (int, int), 'valid' or 'same'
    dilation : int or (int, int), positive; 1 is ordinary
    groups : int, divides C_in and C_out

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) (unbatched if ``x`` was)
        ``H_out = (H + p_top + p_bottom - dH (kH - 1) - 1) // sH + 1``, likewise ``W_out``.

    Raises
    ------
    TypeError, ValueError
        On bad input, before any computation (see :func:`convbook.conv2d`).
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=2, fname="dilated_conv2d_gaps")
    return a.restore(_gaps(a))


def dilated_conv1d_gaps(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-D version of :func:`dilated_conv2d_gaps`.

    ``x`` has shape ``(N, C_in, L)`` or ``(C_in, L)``, ``weight`` has shape
    ``(C_out, C_in // groups, k)``; the result has shape ``(N, C_out, L_out)``
    with ``L_out = (L + 2 p - d (k - 1) - 1) // s + 1``.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=1, fname="dilated_conv1d_gaps")
    return a.restore(_gaps(a))


# --------------------------------------------------------------------------- causal 1-D


def causal_conv1d(x, weight, bias=None, dilation=1) -> np.ndarray:
    """Causal dilated 1-D convolution: pad ``d (k - 1)`` zeros on the left only.

    Output ``t`` depends on inputs ``t - d (k - 1), ..., t - d, t`` and on
    nothing later, and the output is as long as the input (WaveNet's building
    block, van den Oord et al. 2016).

    Parameters
    ----------
    x : ndarray, shape (N, C_in, L) or (C_in, L)
    weight : ndarray, shape (C_out, C_in, k)
    bias : ndarray, shape (C_out,), optional
    dilation : int or (int,), positive

    Returns
    -------
    ndarray, shape (N, C_out, L) (unbatched if ``x`` was)
        ``y[n, o, t] = b[o] + sum_{c, j} w[o, c, j] x[n, c, t - d (k - 1 - j)]``,
        with ``x`` taken as zero before ``t = 0``.

    Raises
    ------
    TypeError, ValueError
        On bad input, before any computation.
    """
    fname = "causal_conv1d"
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{fname}: input x must be 2-D (C_in, L) or 3-D (N, C_in, L), got {x.ndim}-D with shape {x.shape}"
        )
    if weight.ndim != 3:
        raise ValueError(f"{fname}: weight must be 3-D (C_out, C_in, k), got {weight.ndim}-D with shape {weight.shape}")
    (d,) = as_tuple(dilation, 1, "dilation", fname)
    if d < 1:
        raise ValueError(f"{fname}: dilation must be positive (1 is an ordinary convolution), got {d}")
    left = d * (weight.shape[2] - 1)
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(left, 0)])  # (..., C_in, left + L)
    a = parse_conv_args(xp, weight, bias, 1, 0, d, 1, nd=1, fname=fname)
    return a.restore(_gaps(a))


# --------------------------------------------------------------------------- costs


def conv_macs(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, zero_inserted: bool = False) -> int:
    """Multiply-adds of one 2-D (or 1-D) convolution call, counted from the shapes.

    Parameters
    ----------
    x_shape : tuple, (N, C_in, H, W) or (N, C_in, L)
    weight_shape : tuple, (C_out, C_in // groups, kH, kW) or (C_out, C_in // groups, k)
    stride, padding, dilation, groups : as for :func:`convbook.conv2d` (padding may be 'same'/'valid')
    zero_inserted : bool
        Count the multiplications of the zero-insertion implementation, which
        multiplies by every entry of the ``d (k - 1) + 1`` wide kernel.

    Returns
    -------
    int
        ``N C_out H_out W_out (C_in / groups) K`` with ``K = kH kW`` for gap
        sampling and ``K = (dH (kH - 1) + 1)(dW (kW - 1) + 1)`` for zero insertion.
    """
    fname = "conv_macs"
    for name, shape in (("x_shape", x_shape), ("weight_shape", weight_shape)):
        if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, Integral) and not isinstance(s, bool) for s in shape
        ):
            raise TypeError(f"{fname}: {name} must be a tuple of ints, got {shape!r}")
    nd = len(weight_shape) - 2
    if nd not in (1, 2) or len(x_shape) != nd + 2:
        raise ValueError(
            f"{fname}: need x_shape of length 3 or 4 and weight_shape of the same length, "
            f"got {tuple(x_shape)} and {tuple(weight_shape)}"
        )
    # validate the call on zero-size stand-ins (strides of 0 bytes: no memory)
    x = np.broadcast_to(np.zeros((), dtype=np.float64), tuple(x_shape))
    w = np.broadcast_to(np.zeros((), dtype=np.float64), tuple(weight_shape))
    a = parse_conv_args(x, w, None, stride, padding, dilation, groups, nd=nd, fname=fname)
    N, C_out, c_in_g = x_shape[0], weight_shape[0], weight_shape[1]
    Ho, Wo = a.out_size
    kH, kW = a.weight.shape[2:]
    dH, dW = a.dilation
    taps = (dH * (kH - 1) + 1) * (dW * (kW - 1) + 1) if zero_inserted else kH * kW
    return int(N * C_out * Ho * Wo * c_in_g * taps)


# --------------------------------------------------------------------------- coverage (gridding)


def coverage_map(kernel_size, dilations, ndim: int = 2) -> np.ndarray:
    """How many paths lead from each input offset to one output of a dilated stack.

    A stack of stride-1 convolutions with ``k``-tap kernels (``k x k`` in 2-D)
    and dilations ``d_1, ..., d_L`` connects one output to the input offsets
    ``sum_l d_l j_l`` with ``j_l`` in ``0..k-1``. The count of ways to reach an
    offset is the number of paths through the network; it equals the gradient
    of the output with respect to the input when every weight is 1. Zeros
    inside the receptive field are the holes of the gridding artifact.

    Parameters
    ----------
    kernel_size : int, positive
    dilations : sequence of int, positive, one per layer (input to output)
    ndim : 1 or 2
        In 2-D the map is the outer product of the 1-D map with itself.

    Returns
    -------
    ndarray of int64, shape (R,) or (R, R)
        ``R = 1 + (k - 1) sum_l d_l``, the receptive field. The entries sum to
        ``k^L`` (1-D) or ``k^(2L)`` (2-D).

    Examples
    --------
    >>> coverage_map(3, [1, 1], ndim=1)
    array([1, 2, 3, 2, 1])
    >>> coverage_map(3, [2], ndim=1)
    array([1, 0, 1, 0, 1])
    """
    fname = "coverage_map"
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, Integral):
        raise TypeError(f"{fname}: kernel_size must be an int, got {type(kernel_size).__name__}")
    if kernel_size < 1:
        raise ValueError(f"{fname}: kernel_size must be positive, got {kernel_size}")
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__iter__"):
        raise TypeError(f"{fname}: dilations must be a sequence of ints, got {type(dilations).__name__}")
    dilations = list(dilations)
    if not dilations:
        raise ValueError(f"{fname}: dilations must name at least one layer, got an empty sequence")
    for i, d in enumerate(dilations):
        if isinstance(d, bool) or not isinstance(d, Integral):
            raise TypeError(f"{fname}: dilations[{i}] must be an int, got {d!r}")
        if d < 1:
            raise ValueError(f"{fname}: dilations[{i}] must be positive (1 is ordinary), got {d}")
    if ndim not in (1, 2) or isinstance(ndim, bool):
        raise ValueError(f"{fname}: ndim must be 1 or 2, got {ndim!r}")
    counts = np.ones(1, dtype=np.int64)
    for d in dilations:
        taps = np.zeros(d * (kernel_size - 1) + 1, dtype=np.int64)
        taps[::d] = 1  # the dilated all-ones kernel
        counts = np.convolve(counts, taps)  # (previous R + d (k - 1),)
    return counts if ndim == 1 else np.outer(counts, counts)


# --------------------------------------------------------------------------- segmentation data


def make_segmentation_task(
    n: int,
    size: int = 24,
    seed: int = 0,
    min_radius: float = 7.0,
    max_radius: float = 11.0,
    noise: float = 0.2,
    rim: float = 2.0,
):
    """Noisy images of one large object whose class is written only on its outline.

    Each image holds one filled disc or square (chosen at random, the shape does
    not matter) of brightness 1. Half of the objects, class 2, have a bright rim
    of brightness 2 and width ``rim`` along their outline; the others, class 1,
    are uniform. Deep inside an object every small window looks the same (flat,
    brightness 1), so a pixel there can only be labelled by a network whose
    receptive field reaches the rim.

    Parameters
    ----------
    n : int, positive
        Number of images.
    size : int, at least 16
        Images are ``size x size`` pixels.
    seed : int
        Seed of ``np.random.default_rng``; same seed, same data on any machine.
    min_radius, max_radius : float
        Range of the half-size in pixels (disc radius or half the square's side),
        ``2 <= min_radius <= max_radius < size / 2``.
    noise : float, non-negative
        Standard deviation of the Gaussian pixel noise.
    rim : float, positive
        Width of the bright rim in pixels.

    Returns
    -------
    images : ndarray, shape (n, 1, size, size), float32
    masks : ndarray, shape (n, size, size), int64
        0 background, 1 uniform object, 2 object with a bright rim.
    """
    fname = "make_segmentation_task"
    for name, value, low in (("n", n, 1), ("size", size, 16)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{fname}: {name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{fname}: {name} must be at least {low}, got {value}")
    for name, value in (("min_radius", min_radius), ("max_radius", max_radius), ("noise", noise), ("rim", rim)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{fname}: {name} must be a real number, got {type(value).__name__}")
    if not 2 <= min_radius <= max_radius < size / 2:
        raise ValueError(
            f"{fname}: need 2 <= min_radius <= max_radius < size / 2 = {size / 2}, got {min_radius}, {max_radius}"
        )
    if noise < 0:
        raise ValueError(f"{fname}: noise must be non-negative, got {noise}")
    if rim <= 0:
        raise ValueError(f"{fname}: rim must be positive, got {rim}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)  # (size, size) each
    masks = np.zeros((n, size, size), dtype=np.int64)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        kind = int(rng.integers(1, 3))
        disc = bool(rng.integers(0, 2))
        r = rng.uniform(min_radius, max_radius)
        cy, cx = rng.uniform(r, size - 1 - r, size=2)
        if disc:
            depth = r - np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)  # distance inside the outline
        else:
            depth = r - np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        inside = depth >= 0
        masks[i][inside] = kind
        images[i, 0][inside] = 1.0
        if kind == 2:
            images[i, 0][inside & (depth < rim)] = 2.0
    images += rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return images, masks


# --------------------------------------------------------------------------- waveform data


def make_waveform(n: int, seed: int = 0, period: float = 24.0, noise: float = 0.3) -> np.ndarray:
    """A noisy, audio-like tone: four harmonics of one pitch with slowly drifting loudness.

    ``clean[t] = sum_h a_h(t) sin(2 pi h t / period + phi_h)`` for harmonics
    ``h = 1..4``, each with its own slow amplitude modulation, plus white noise
    of ``noise`` times the clean signal's standard deviation. The result is
    scaled to unit standard deviation. The waveform repeats (approximately)
    every ``period`` samples, so a predictor that sees one period back can
    average out part of the noise; one that sees only a few samples cannot.

    Parameters
    ----------
    n : int, positive
        Number of samples.
    seed : int
        Seed of ``np.random.default_rng``.
    period : float, at least 2
        Pitch period in samples.
    noise : float, non-negative
        Noise level relative to the clean signal.

    Returns
    -------
    ndarray, shape (n,), float64
    """
    fname = "make_waveform"
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"{fname}: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{fname}: n must be at least 1, got {n}")
    for name, value in (("period", period), ("noise", noise)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{fname}: {name} must be a real number, got {type(value).__name__}")
    if period < 2:
        raise ValueError(f"{fname}: period must be at least 2 samples, got {period}")
    if noise < 0:
        raise ValueError(f"{fname}: noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    clean = np.zeros(n)
    for h, a in enumerate([1.0, 0.6, 0.4, 0.25], start=1):
        loudness = a * (1 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(300, 900) + rng.uniform(0, 2 * np.pi)))
        clean += loudness * np.sin(2 * np.pi * h * t / period + rng.uniform(0, 2 * np.pi))
    x = clean + rng.normal(0.0, noise * clean.std(), n)
    return x / x.std()
