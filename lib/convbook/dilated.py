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

``convbook.costs.conv_macs`` counts the multiply-adds of either. :func:`causal_conv1d`
pads on the left only, so output ``t`` depends on inputs ``<= t`` (WaveNet).
:func:`coverage_map` counts the paths from the input to one output of a stack
of dilated layers, which exposes the gridding artifact (Wang et al. 2018).

Elsewhere: the frequency response of a dilated kernel and the de-gridding
model are in :mod:`convbook.analysis`, the chapter's data sets in
``convbook.lab.datasets``, the dilated ResNet trunks in
``convbook.nets.architectures``. NumPy only: this module never imports torch.
"""

from __future__ import annotations

import numpy as np

from convbook._args import (
    DILATION_NOTE,
    ConvArgs,
    check_float_array,
    pad_input,
    parse_conv_args,
    positive_int,
    positive_int_list,
    positive_tuple,
)
from convbook.conv import _forward

__all__ = [
    "causal_conv1d",
    "coverage_map",
    "dilate_kernel",
    "dilated_conv1d_gaps",
    "dilated_conv2d_gaps",
    "dilated_conv2d_zeros",
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
    dil = positive_tuple(dilation, nd, "dilation", fname, DILATION_NOTE)
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
    (d,) = positive_tuple(dilation, 1, "dilation", fname, DILATION_NOTE)
    left = d * (weight.shape[2] - 1)
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(left, 0)])  # (..., C_in, left + L)
    a = parse_conv_args(xp, weight, bias, 1, 0, d, 1, nd=1, fname=fname)
    return a.restore(_gaps(a))


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
    kernel_size = positive_int(kernel_size, "kernel_size", fname)
    dilations = positive_int_list(dilations, "dilations", fname)
    if ndim not in (1, 2) or isinstance(ndim, bool):
        raise ValueError(f"{fname}: ndim must be 1 or 2, got {ndim!r}")
    counts = np.ones(1, dtype=np.int64)
    for d in dilations:
        taps = np.zeros(d * (kernel_size - 1) + 1, dtype=np.int64)
        taps[::d] = 1  # the dilated all-ones kernel
        counts = np.convolve(counts, taps)  # (previous R + d (k - 1),)
    return counts if ndim == 1 else np.outer(counts, counts)
