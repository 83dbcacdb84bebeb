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

Three more views of dilation's cost and side effects:

* :func:`frequency_response` (with :func:`gaussian_kernel` for the smoothing
  control): a kernel dilated by ``d`` has the frequency response ``H(d omega)``,
  periodic with period ``2 pi / d``; its zeros are the patterns it cannot see.
* :func:`stack_impulse_response` and :func:`gridding_ratio`: a linear model of
  a stack of dilated blocks, with or without residual connections, and how much
  of its response sits on a lattice (the de-gridding of Dilated Residual
  Networks, Yu, Koltun and Funkhouser 2017).
* :func:`resnet_layers` and :func:`resnet_summary`: a ResNet trunk at output
  stride 32, 16 or 8 (DeepLab's dilated backbone), with its weights,
  multiply-adds, activations and receptive field.

NumPy only: this module never imports torch.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from convbook._args import ConvArgs, as_tuple, check_float_array, pad_input, parse_conv_args, positive_int
from convbook.costs import conv_cost

__all__ = [
    "causal_conv1d",
    "conv_macs",
    "coverage_map",
    "dilate_kernel",
    "dilated_conv1d_gaps",
    "dilated_conv2d_gaps",
    "dilated_conv2d_zeros",
    "frequency_response",
    "gaussian_kernel",
    "gridding_ratio",
    "make_segmentation_task",
    "make_waveform",
    "resnet_layers",
    "resnet_summary",
    "stack_impulse_response",
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
    from convbook.conv import _forward

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
    if isinstance(sigma, bool) or not isinstance(sigma, Real):
        raise TypeError(f"{fname}: sigma must be a real number, got {type(sigma).__name__}")
    if not sigma > 0:
        raise ValueError(f"{fname}: sigma must be positive, got {sigma}")
    radius = int(np.ceil(3 * sigma)) if radius is None else positive_int(radius, "radius", fname, minimum=0)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2.0 * float(sigma) ** 2))
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
    if isinstance(branch_scale, bool) or not isinstance(branch_scale, Real):
        raise TypeError(f"{fname}: branch_scale must be a real number, got {type(branch_scale).__name__}")
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
        response = response + float(branch_scale) * branch if residual else branch
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


# --------------------------------------------------------------------------- output stride (DeepLab)

_RESNET_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def resnet_layers(depth: int = 50, output_stride: int = 32, input_size: int = 224) -> list[dict]:
    """The convolution and pooling layers of a bottleneck ResNet trunk, with DeepLab's output stride.

    ResNet-50/101/152 (He et al. 2016, torchvision's "v1.5" layout: the
    stride of a stage sits on the 3 x 3 convolution of its first block)
    reduce the input 32 times: output stride 32. DeepLab (Chen et al.)
    keeps more resolution by removing the stride of the last stages and
    dilating what follows: for output stride 16 the last stage (conv5_x) runs
    at stride 1 with dilation 2, for output stride 8 conv4_x also runs at
    stride 1, with dilation 2, and conv5_x with dilation 4. The first 3 x 3
    convolution of an un-strided stage keeps the previous dilation, so that
    every layer's reach in input pixels, and the receptive field, stay exactly
    those of the strided network. The weights are the same; the maps of the
    last stages are larger, and so are their multiply-adds.

    Parameters
    ----------
    depth : {50, 101, 152}
    output_stride : {32, 16, 8}
    input_size : int, at least 32
        Height and width of the (square) input image.

    Returns
    -------
    list of dict
        One entry per layer, from the input: ``stage`` ('conv1', 'pool',
        'conv2_x' ... 'conv5_x'), ``name``, ``kind`` ('conv' or 'maxpool'),
        ``c_in``, ``c_out``, ``kernel_size``, ``stride``, ``dilation``,
        ``padding``, ``in_size``, ``out_size``, ``main_path`` (False for the
        1 x 1 projection shortcuts), ``params`` and ``macs`` (per image, no
        biases, no batch-norm; 0 for the pooling layer). The fully connected
        classifier is not part of the trunk.
    """
    from convbook.shapes import conv_output_size

    fname = "resnet_layers"
    if isinstance(depth, bool) or depth not in _RESNET_BLOCKS:
        raise ValueError(f"{fname}: depth must be one of 50, 101, 152, got {depth!r}")
    if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
        raise ValueError(f"{fname}: output_stride must be 32, 16 or 8, got {output_stride!r}")
    size = positive_int(input_size, "input_size", fname, minimum=32)
    layers = []

    def add(stage, name, kind, c_in, c_out, k, s, d, p, main=True):
        nonlocal size
        out = conv_output_size(size, k, s, p, d)
        cost = conv_cost(c_in, c_out, k, (out, out)) if kind == "conv" else None
        layers.append(
            {
                "stage": stage,
                "name": name,
                "kind": kind,
                "c_in": c_in,
                "c_out": c_out,
                "kernel_size": k,
                "stride": s,
                "dilation": d,
                "padding": p,
                "in_size": size,
                "out_size": out,
                "main_path": main,
                "params": cost.params if cost else 0,
                "macs": cost.macs if cost else 0,
            }
        )
        return out

    size = add("conv1", "conv1", "conv", 3, 64, 7, 2, 1, 3)
    size = add("pool", "maxpool", "maxpool", 64, 64, 3, 2, 1, 1)
    # (stage, width, stride in the strided network); DeepLab turns the last strides into dilation
    stages = [("conv2_x", 64, 1), ("conv3_x", 128, 2), ("conv4_x", 256, 2), ("conv5_x", 512, 2)]
    keep = {32: 4, 16: 3, 8: 2}[output_stride]  # how many stages keep their stride (conv2_x has none)
    c_in, dilation = 64, 1
    for index, ((stage, width, stride), blocks) in enumerate(zip(stages, _RESNET_BLOCKS[depth])):
        if index < keep:
            first_dilation, new_dilation = dilation, dilation
        else:  # stride removed: the first 3x3 keeps the old dilation, the rest double it
            first_dilation, new_dilation, stride = dilation, dilation * stride, 1
        for b in range(blocks):
            s = stride if b == 0 else 1
            d = first_dilation if b == 0 else new_dilation
            block_in = size
            prefix = f"{stage}.{b + 1}"
            add(stage, f"{prefix}.conv_a (1x1)", "conv", c_in, width, 1, 1, 1, 0)
            mid = add(stage, f"{prefix}.conv_b (3x3)", "conv", width, width, 3, s, d, d)
            size = mid
            add(stage, f"{prefix}.conv_c (1x1)", "conv", width, 4 * width, 1, 1, 1, 0)
            if b == 0:  # projection shortcut: 1x1 with the block's stride
                saved, size = size, block_in
                add(stage, f"{prefix}.shortcut (1x1)", "conv", c_in, 4 * width, 1, s, 1, 0, main=False)
                size = saved
            c_in = 4 * width
        dilation = new_dilation
    return layers


def resnet_summary(layers) -> dict:
    """Per-stage totals of :func:`resnet_layers`, and the receptive field of the trunk's main path.

    Returns
    -------
    dict
        ``stages``: ``{stage: {"out_size", "params", "macs", "activations"}}``
        (``activations`` counts the output elements of the stage's layers, per
        image: what a forward pass writes, a proxy for memory traffic);
        ``params``, ``macs``, ``activations``: totals; ``output_size``: the
        last map's side; ``receptive_field``: along one dimension, in input
        pixels, through the main path (the deepest path; shortcuts are shorter).
    """
    from convbook.shapes import receptive_field

    if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(L, dict) for L in layers):
        raise TypeError("resnet_summary: layers must be the list of dicts that resnet_layers returns")
    stages: dict = {}
    for L in layers:
        s = stages.setdefault(L["stage"], {"out_size": L["out_size"], "params": 0, "macs": 0, "activations": 0})
        s["out_size"] = L["out_size"]
        s["params"] += L["params"]
        s["macs"] += L["macs"]
        s["activations"] += L["c_out"] * L["out_size"] ** 2
    main = [(L["kernel_size"], L["stride"], L["dilation"]) for L in layers if L["main_path"]]
    return {
        "stages": stages,
        "params": sum(s["params"] for s in stages.values()),
        "macs": sum(s["macs"] for s in stages.values()),
        "activations": sum(s["activations"] for s in stages.values()),
        "output_size": layers[-1]["out_size"],
        "receptive_field": receptive_field(main),
    }
