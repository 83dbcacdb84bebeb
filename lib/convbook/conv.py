"""Forward convolution: a plain-loop oracle and vectorised versions.

All functions follow ``torch.nn.functional.conv1d`` / ``conv2d`` exactly:
channels first, weights ``(C_out, C_in // groups, *kernel)``,
cross-correlation (the kernel is not flipped), ``dilation=1`` is an ordinary
convolution, and ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``.

Output size along each spatial dimension (Dumoulin & Visin, relationship 15)::

    out = floor((size + pad_before + pad_after - dilation * (k - 1) - 1) / stride) + 1

Three implementations share one signature:

* ``conv2d_naive``: explicit loops over every output element. Slow, obviously
  right, and the oracle every other version is tested against.
* ``conv2d_im2col``: a strided *view* of all receptive-field windows
  (``sliding_window_view``) contracted with the weights in one ``einsum``.
* ``conv2d``: the default. It picks a fast path when one applies (see
  ``_forward``) and otherwise falls back on ``conv2d_im2col``.

The fast paths (performance chapter, ``python -m convbook.lab.experiments bench``) live in
``convbook._flat`` and share one idea, the *flat layout* (``_flat_layout``): pad
each image once and flatten each channel, so that at stride 1 every kernel tap
reads the same array at a constant offset; one matrix product per kernel row
(``_shifted_gemm``) or one multiply-add per tap for depthwise layers
(``_depthwise_flat``), with no full im2col copy. Wide 3x3 layers take
Winograd's algorithm instead (``convbook.winograd``), where it measured faster
(``_winograd_pays``).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convbook._args import ConvArgs, pad_input, parse_conv_args
from convbook._flat import _depthwise_flat, _depthwise_taps, _shifted_gemm
from convbook.winograd import tile_waste, winograd_forward

# Where conv2d takes Winograd's F(4x4, 3x3) (see _winograd_pays): thresholds tuned on the reference machine.
WINOGRAD_MIN_CHANNEL_PRODUCT = 128 * 128  # C_in * C_out at least this
WINOGRAD_MIN_SIDE = 28  # the output's smaller side, in pixels, at least this
WINOGRAD_MAX_TILE_WASTE = 1.1  # tile_waste(): tiled area over output area, at most this

# --------------------------------------------------------------------------- naive


def _naive(a: ConvArgs) -> np.ndarray:
    xp = pad_input(a.x, a.pad)  # (N, C_in, Hp, Wp)
    w = a.weight  # (C_out, C_in/G, kH, kW)
    N, C_out = xp.shape[0], w.shape[0]
    kH, kW = w.shape[2:]
    (sH, sW), (dH, dW) = a.stride, a.dilation
    H_out, W_out = a.out_size
    c_in_g, c_out_g = w.shape[1], C_out // a.groups
    out = np.zeros((N, C_out, H_out, W_out), dtype=xp.dtype)
    for n in range(N):
        for o in range(C_out):
            g = o // c_out_g  # the group this output channel belongs to
            for i in range(H_out):
                for j in range(W_out):
                    total = 0.0
                    for c in range(c_in_g):
                        for u in range(kH):
                            for v in range(kW):
                                total += xp[n, g * c_in_g + c, i * sH + u * dH, j * sW + v * dW] * w[o, c, u, v]
                    out[n, o, i, j] = total
    if a.bias is not None:
        out += a.bias[None, :, None, None]
    return out


def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-D convolution by explicit loops: the reference implementation.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, kH, kW)
    bias : ndarray, shape (C_out,), optional
    stride, dilation : int or (int, int), positive
    padding : int, (int, int), 'valid' or 'same'
    groups : int, divides C_in and C_out

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) (unbatched if ``x`` was)
        ``H_out = (H + 2 p - d (kH - 1) - 1) // s + 1``, likewise ``W_out``.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=2, fname="conv2d_naive")
    return a.restore(_naive(a))


def conv1d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-D convolution by explicit loops; see :func:`conv2d_naive`.

    ``x`` has shape ``(N, C_in, L)`` or ``(C_in, L)``, ``weight`` has shape
    ``(C_out, C_in // groups, k)``; the result has shape ``(N, C_out, L_out)``.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=1, fname="conv1d_naive")
    return a.restore(_naive(a))


# --------------------------------------------------------------------------- im2col


def _windows(xp: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """Every receptive field of ``xp`` as a read-only strided view (no copy).

    ``xp`` (N, C, Hp, Wp) -> (N, C, H_out, W_out, kH, kW). Element
    ``[n, c, i, j, u, v]`` is ``xp[n, c, i*sH + u*dH, j*sW + v*dW]``.
    """
    (kH, kW), (sH, sW), (dH, dW) = kernel, stride, dilation
    span = (dH * (kH - 1) + 1, dW * (kW - 1) + 1)  # the effective (dilated) kernel size
    win = sliding_window_view(xp, span, axis=(2, 3))  # (N, C, Hp-spanH+1, Wp-spanW+1, spanH, spanW)
    return win[:, :, ::sH, ::sW, ::dH, ::dW]  # (N, C, H_out, W_out, kH, kW)


def _im2col(a: ConvArgs) -> np.ndarray:
    xp = pad_input(a.x, a.pad)  # (N, C_in, Hp, Wp)
    N, C_in = xp.shape[:2]
    C_out, c_in_g, kH, kW = a.weight.shape
    G = a.groups
    win = _windows(xp, (kH, kW), a.stride, a.dilation)  # (N, C_in, Ho, Wo, kH, kW)
    Ho, Wo = win.shape[2:4]
    win = win.reshape(N, G, c_in_g, Ho, Wo, kH, kW)  # split channels into groups (still a view)
    w = a.weight.reshape(G, C_out // G, c_in_g, kH, kW)  # (G, C_out/G, C_in/G, kH, kW)
    out = np.einsum("ngchwuv,gocuv->ngohw", win, w, optimize=True)  # (N, G, C_out/G, Ho, Wo)
    out = out.reshape(N, C_out, Ho, Wo)
    if a.bias is not None:
        out = out + a.bias[None, :, None, None]
    return out.astype(a.x.dtype, copy=False)


def conv2d_im2col(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-D convolution as one ``einsum`` over a strided view of all windows.

    Same signature, shapes and result as :func:`conv2d_naive`. The window view
    costs no memory; ``einsum`` then materialises it once (im2col) and calls a
    single matrix multiply per group.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=2, fname="conv2d_im2col")
    return a.restore(_im2col(a))


_options = {"winograd": True}


@contextmanager
def winograd_allowed(allowed: bool):
    """Within the ``with`` block, ``conv2d`` may (``True``, the default) or may not take Winograd's path.

    For experiments that compare the two paths on the same layer::

        with convbook.conv.winograd_allowed(False):
            y = convbook.conv2d(x, w, padding=1)  # shifted GEMMs, whatever the layer
    """
    if not isinstance(allowed, bool):
        raise TypeError(f"winograd_allowed: allowed must be a bool, got {type(allowed).__name__}")
    before = _options["winograd"]
    _options["winograd"] = allowed
    try:
        yield
    finally:
        _options["winograd"] = before


def _winograd_pays(a: ConvArgs) -> bool:
    """Whether Winograd's F(4x4, 3x3) (``convbook.winograd``) beats :func:`_shifted_gemm` for this layer.

    Winograd does a quarter of the multiplications but adds strided copies of
    the input and output tiles, which NumPy runs on one core. The rule comes
    from interleaved timings on the 2-core reference machine (float32, batch
    8): Winograd was faster for 3x3 layers with ``C_in * C_out >= 128 * 128``
    on 56x56 maps (dilation 1 and 2), about even at 96 channels, and slower
    at 64 channels, on 14x14 maps, and at dilation 4 on 56x56, where the tiles
    of each phase overshoot the output by 31% (:func:`~convbook.winograd.tile_waste`).
    """
    C_out, C_in, kH, kW = a.weight.shape
    Ho, Wo = a.out_size
    return (
        _options["winograd"]
        and (kH, kW) == (3, 3)
        and C_in * C_out >= WINOGRAD_MIN_CHANNEL_PRODUCT
        and min(Ho, Wo) >= WINOGRAD_MIN_SIDE
        and tile_waste(a.out_size, a.dilation) <= WINOGRAD_MAX_TILE_WASTE
    )


def _forward(a: ConvArgs) -> np.ndarray:
    """Dispatch to the fastest implementation that applies.

    * depthwise (``groups == C_in``, one input channel per filter):
      :func:`_depthwise_flat` at stride 1 without a depth multiplier,
      otherwise :func:`_depthwise_taps`;
    * ungrouped at stride 1: Winograd's algorithm for wide 3x3 layers where it
      measured faster (:func:`_winograd_pays`), otherwise (standard, dilated
      and 1x1) :func:`_shifted_gemm`;
    * anything else (strides, grouped): :func:`_im2col`.
    """
    C_in = a.x.shape[1]
    if a.groups == C_in and a.weight.shape[1] == 1 and C_in > 1:
        if a.stride == (1, 1) and a.weight.shape[0] == C_in:
            return _depthwise_flat(a)
        return _depthwise_taps(a)
    if a.groups == 1 and a.stride == (1, 1):
        return winograd_forward(a) if _winograd_pays(a) else _shifted_gemm(a)
    return _im2col(a)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-D convolution with the semantics of ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
        Floating point (float16, float32 or float64).
    weight : ndarray, shape (C_out, C_in // groups, kH, kW)
        Same dtype as ``x``.
    bias : ndarray, shape (C_out,), optional
    stride : int or (int, int), default 1
    padding : int, (int, int), 'valid' or 'same', default 0
        ``'same'`` needs stride 1; an odd total padding puts the extra row or
        column at the end, as torch does.
    dilation : int or (int, int), default 1
        Spacing between kernel taps. 1 is an ordinary convolution; ``d``
        leaves ``d - 1`` gaps, for an effective kernel ``d (k - 1) + 1``.
    groups : int, default 1
        Splits the channels into ``groups`` independent convolutions.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out), dtype of ``x``
        ``H_out = (H + p_top + p_bottom - dH (kH - 1) - 1) // sH + 1``, and
        likewise for ``W_out``. Unbatched input gives unbatched output.

    Raises
    ------
    TypeError, ValueError
        On bad input, before any computation; the message names the argument.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=2, fname="conv2d")
    return a.restore(_forward(a))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-D convolution with the semantics of ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, L) or (C_in, L)
    weight : ndarray, shape (C_out, C_in // groups, k)
    bias : ndarray, shape (C_out,), optional
    stride, dilation : int or (int,), positive
    padding : int, (int,), 'valid' or 'same'
    groups : int

    Returns
    -------
    ndarray, shape (N, C_out, L_out)
        ``L_out = (L + 2 p - d (k - 1) - 1) // s + 1``.
    """
    a = parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd=1, fname="conv1d")
    return a.restore(_forward(a))
