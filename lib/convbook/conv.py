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
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._args import ConvArgs, pad_input, parse_conv_args

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


# --------------------------------------------------------------------------- fast paths


def _shifted_gemm(a: ConvArgs) -> np.ndarray:
    """Stride-1, ungrouped convolution as a sum of ``kH*kW`` large matrix products.

    The padded input is stored channels-last and flattened to a matrix
    ``X`` of shape ``(N*Hp*Wp, C_in)``. For the kernel tap ``(u, v)`` every
    output position needs the input row shifted by ``off = u*dH*Wp + v*dW``, so
    the tap contributes ``X[off : off + L] @ W[:, :, u, v].T``: a *contiguous*
    slice, handed to BLAS without copying. Summing over the taps gives the
    output on the padded grid; the rows and columns past ``H_out``/``W_out``
    (and across image borders) are junk and are sliced away. Compared with
    im2col this never builds the ``kH*kW`` times larger column matrix.
    """
    x, w = a.x, a.weight
    N, C_in, H, W = x.shape
    C_out, _, kH, kW = w.shape
    (pt, pb), (pl, pr) = a.pad
    (dH, dW) = a.dilation
    Hp, Wp = H + pt + pb, W + pl + pr
    Ho, Wo = a.out_size
    xl = np.zeros((N, Hp, Wp, C_in), dtype=x.dtype)  # channels-last, zero border
    xl[:, pt : pt + H, pl : pl + W, :] = x.transpose(0, 2, 3, 1)  # (N, H, W, C_in)
    xl = xl.reshape(N * Hp * Wp, C_in)  # (N*Hp*Wp, C_in)
    L = N * Hp * Wp - ((kH - 1) * dH * Wp + (kW - 1) * dW)  # rows every tap can read
    wt = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (kH, kW, C_in, C_out)
    out = np.zeros((N * Hp * Wp, C_out), dtype=x.dtype)  # (N*Hp*Wp, C_out)
    tmp = np.empty((L, C_out), dtype=x.dtype)
    for u in range(kH):
        for v in range(kW):
            off = u * dH * Wp + v * dW
            np.matmul(xl[off : off + L], wt[u, v], out=tmp)  # (L, C_in) @ (C_in, C_out)
            out[:L] += tmp
    if a.bias is not None:
        out += a.bias
    out = out.reshape(N, Hp, Wp, C_out)[:, :Ho, :Wo]  # (N, Ho, Wo, C_out)
    return out.transpose(0, 3, 1, 2)  # (N, C_out, Ho, Wo), a view


def _depthwise_taps(a: ConvArgs) -> np.ndarray:
    """Depthwise convolution (``groups == C_in``, one filter per channel).

    There is nothing to contract over, so a matrix multiply does not help.
    Instead, accumulate one broadcast multiply per kernel tap over a strided
    view of the padded input: ``kH*kW`` passes over memory, no copies.
    """
    xp = pad_input(a.x, a.pad)  # (N, C, Hp, Wp)
    N, C = xp.shape[:2]
    C_out, _, kH, kW = a.weight.shape
    mult = C_out // C  # depth multiplier: output channel o reads input channel o // mult
    if mult > 1:
        xp = np.repeat(xp, mult, axis=1)  # (N, C_out, Hp, Wp)
    (sH, sW), (dH, dW) = a.stride, a.dilation
    Ho, Wo = a.out_size
    out = np.zeros((N, C_out, Ho, Wo), dtype=xp.dtype)
    for u in range(kH):
        for v in range(kW):
            tap = xp[:, :, u * dH : u * dH + sH * (Ho - 1) + 1 : sH, v * dW : v * dW + sW * (Wo - 1) + 1 : sW]
            out += tap * a.weight[None, :, 0, u, v, None, None]  # (N, C_out, Ho, Wo)
    if a.bias is not None:
        out += a.bias[None, :, None, None]
    return out


def _forward(a: ConvArgs) -> np.ndarray:
    """Dispatch to the fastest implementation that applies."""
    C_in = a.x.shape[1]
    if a.groups == C_in and a.weight.shape[1] == 1 and C_in > 1:
        return _depthwise_taps(a)
    if a.groups == 1 and a.stride == (1, 1):
        return _shifted_gemm(a)
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
