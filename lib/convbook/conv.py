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

The fast paths (performance chapter, ``python -m convbook.lab.bench``) share one
idea, the *flat layout* (``_flat_layout``): pad each image once and flatten
each channel, so that at stride 1 every kernel tap reads the same array at a
constant offset. A tap over all output pixels is then a strided *view*: one
matrix product per kernel row for standard, dilated and 1x1 layers
(``_shifted_gemm``, with the row's taps stacked), one multiply and one add per
tap for depthwise layers (``_depthwise_flat``), with no full im2col copy. Work
goes in blocks into preallocated buffers (``out=``, ``+=``). Wide 3x3 layers
take Winograd's algorithm instead (``convbook.winograd``), where it measured
faster (``_winograd_pays``).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convbook._args import ConvArgs, pad_input, parse_conv_args
from convbook._parallel import run_blocks
from convbook.winograd import tile_waste, winograd_forward

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


def _flat_layout(x: np.ndarray, pad, kernel, dilation):
    """Zero-pad ``x`` and flatten every (image, channel) plane into one long row.

    ``x`` (N, C, H, W) -> ``xf`` (N, C, R * Wq), plus the row pitch ``Wq``.
    Pixel ``(r, c)`` sits at flat index ``(r + pt) * Wq + pl + c``. With stride 1
    the output pixel ``(i, j)`` lives at flat index ``p = i * Wq + j`` and its kernel
    tap ``(u, v)`` reads ``xf[p + u * dH * Wq + v * dW]``: every tap is the *same*
    flat array shifted by a constant ``off``, so a tap over all output pixels is
    the contiguous slice ``xf[..., off : off + Ho * Wq]`` (no copy).

    Two tricks keep the padding small:

    * the right border of row ``r`` doubles as the left border of row ``r + 1``,
      so a row needs ``Wq = W + max(pl, pr)`` columns, not ``W + pl + pr`` (a few
      more if the output is wider than that);
    * the ``Wq - Wo`` columns past the output width are junk (their windows wrap
      into the next row) and are sliced away at the end; ``R`` adds enough zero
      rows at the bottom for the junk of the last row to stay inside the array.

    When there is no padding and no wrap-around (a 1x1 kernel), ``xf`` is a
    reshape of ``x`` itself and no copy is made.
    """
    N, C, H, W = x.shape
    (pt, pb), (pl, pr) = pad
    span_w = dilation[1] * (kernel[1] - 1)  # how far right the last tap reaches
    Wq = W + max(pl, pr, pl + pr - span_w)  # >= W + pl, >= W + pr, >= W_out
    if (pt, pb, pl, pr) == (0, 0, 0, 0) and span_w == 0:
        return x.reshape(N, C, H * W), W  # (N, C, H*W), a view when x is contiguous
    R = H + pt + pb + -(-span_w // Wq)  # padded rows + room for the last row's junk
    xf = np.zeros((N, C, R, Wq), dtype=x.dtype)
    xf[:, :, pt : pt + H, pl : pl + W] = x
    return xf.reshape(N, C, R * Wq), Wq  # (N, C, R*Wq), a view


def _chunk(per_image: int, n: int, budget: int = 1 << 18) -> int:
    """Images per block, so that a block's scratch (``per_image`` elements each) stays in cache."""
    return max(1, min(n, budget // max(per_image, 1)))


def _shifted_gemm(a: ConvArgs) -> np.ndarray:
    """Stride-1, ungrouped convolution as ``kH`` matrix products on shifted views.

    With the flat layout of :func:`_flat_layout`, the tap ``(u, v)`` sees the
    input of image ``n`` as a ``(C_in, Ho * Wq)`` matrix ``X_n[:, off:off + L]``:
    a strided slice that BLAS can read in place. The output of the image is

        ``Y_n = sum over taps of W[:, :, u, v] @ X_n[:, off : off + L]``

    ``(C_out, C_in) @ (C_in, L)``, already in channels-first order. Summing
    ``kH * kW`` such products would cost ``kH * kW - 1`` additions over the
    whole output, and each product, with only ``C_in`` terms per sum, runs well
    below BLAS's peak. So the ``kW`` taps of each kernel row are *stacked*
    first: ``S_n`` holds ``kW`` copies of ``X_n``, shifted by ``0, dW, 2 dW, ...``
    (``kW`` contiguous copies, a third of a full im2col for a 3x3 kernel). Row
    ``u`` of the kernel is then one product ``(C_out, kW C_in) @ (kW C_in, L)``
    on a shifted view of ``S_n``: ``kH`` products, ``kH - 1`` additions, and
    three times longer sums (measured: about 10% faster than one product per
    tap for 3x3 layers on the reference machine). The first row writes straight
    into the output (``matmul(..., out=)``); the others go to a scratch buffer
    and are added in place, one image (or a cache-sized block of images) at a
    time. A 1x1 kernel is a single product on the input itself. FLOPs equal
    the direct convolution's, plus ``Wq / Wo - 1`` junk columns (about 2% at
    56x56, 3x3).
    """
    x, w = a.x, a.weight
    N = x.shape[0]
    C_out, C_in, kH, kW = w.shape
    (dH, dW) = a.dilation
    Ho, Wo = a.out_size
    xf, Wq = _flat_layout(x, a.pad, (kH, kW), a.dilation)  # (N, C_in, R*Wq)
    L = Ho * Wq  # output pixels per image, junk columns included
    span = (kH - 1) * dH * Wq + L  # what the kH rows of the kernel read, per stacked copy
    wt = np.ascontiguousarray(w.transpose(2, 0, 3, 1)).reshape(kH, C_out, kW * C_in)  # (kH, C_out, kW*C_in)
    out = np.empty((N, C_out, L), dtype=x.dtype)  # (N, C_out, Ho*Wq)
    nb = _chunk(max(kW * C_in * span, C_out * L), N)
    stack = np.empty((nb, kW, C_in, span), dtype=x.dtype) if kW > 1 else None
    tmp = np.empty((nb, C_out, L), dtype=x.dtype) if kH > 1 else None
    for n0 in range(0, N, nb):
        blk = out[n0 : n0 + nb]  # (b, C_out, L)
        b = blk.shape[0]
        if stack is None:
            s = xf[n0 : n0 + b]  # (b, C_in, span): with kW == 1 no copy is needed
        else:
            for v in range(kW):
                np.copyto(stack[:b, v], xf[n0 : n0 + b, :, v * dW : v * dW + span])
            s = stack[:b].reshape(b, kW * C_in, span)  # (b, kW*C_in, span)
        for u in range(kH):
            src = s[:, :, u * dH * Wq : u * dH * Wq + L]  # (b, kW*C_in, L), a strided view
            if u == 0:
                np.matmul(wt[0], src, out=blk)  # (C_out, kW*C_in) @ (b, kW*C_in, L)
            else:
                np.matmul(wt[u], src, out=tmp[:b])
                blk += tmp[:b]
    if a.bias is not None:
        out += a.bias[None, :, None]
    return out.reshape(N, C_out, Ho, Wq)[:, :, :, :Wo]  # (N, C_out, Ho, Wo), a view


def _depthwise_flat(a: ConvArgs) -> np.ndarray:
    """Stride-1 depthwise convolution (``groups == C_in == C_out``) on the flat layout.

    There is nothing to contract over, so a matrix product does not help. Each
    tap is one multiply of a shifted slice (see :func:`_flat_layout`) by a
    per-channel weight, added into the output: ``2 kH kW - 1`` elementwise
    passes, because NumPy has no fused multiply-add. Every multiply and add
    writes into a preallocated buffer (``out=``), so no temporaries are
    created. NumPy's elementwise operations use one core, so blocks of
    channels are shared out among threads (``convbook._parallel``; the
    operations release the GIL). The blocks are large (about 2**18 elements,
    1 MB in float32): each thread takes the GIL back between two operations,
    and with small blocks (tried: 2**15 to 2**17 elements, cache-sized) that
    hand-off, not the arithmetic, set the pace and the second thread gained
    nothing.
    """
    x, w = a.x, a.weight
    N, C = x.shape[:2]
    kH, kW = w.shape[2:]
    (dH, dW) = a.dilation
    Ho, Wo = a.out_size
    xf, Wq = _flat_layout(x, a.pad, (kH, kW), a.dilation)  # (N, C, R*Wq)
    L = Ho * Wq
    taps = w[:, 0].reshape(C, kH * kW)  # (C, kH*kW)
    out = np.empty((N, C, L), dtype=x.dtype)  # (N, C, Ho*Wq)
    cb = _chunk(L, C, budget=1 << 18)  # channels per block

    def work(blocks):
        tmp = np.empty((cb, L), dtype=x.dtype)
        for n, c0 in blocks:
            blk = out[n, c0 : c0 + cb]  # (cb, L)
            scratch, t = tmp[: blk.shape[0]], taps[c0 : c0 + cb]
            for u in range(kH):
                for v in range(kW):
                    off = u * dH * Wq + v * dW
                    src = xf[n, c0 : c0 + cb, off : off + L]  # (cb, L), a view
                    if u == 0 and v == 0:
                        np.multiply(src, t[:, :1], out=blk)
                    else:
                        np.multiply(src, t[:, u * kW + v, None], out=scratch)
                        blk += scratch

    run_blocks(work, [(n, c0) for n in range(N) for c0 in range(0, C, cb)])
    if a.bias is not None:
        out += a.bias[None, :, None]
    return out.reshape(N, C, Ho, Wq)[:, :, :, :Wo]  # (N, C, Ho, Wo), a view


def _depthwise_taps(a: ConvArgs) -> np.ndarray:
    """Depthwise convolution (``groups == C_in``, one filter per channel), any stride.

    There is nothing to contract over, so a matrix multiply does not help.
    Instead, accumulate one broadcast multiply per kernel tap over a strided
    view of the padded input: ``kH*kW`` passes over memory, no copies.
    Stride 1 with one filter per channel takes :func:`_depthwise_flat` instead.
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
        and C_in * C_out >= 128 * 128
        and min(Ho, Wo) >= 28
        and tile_waste(a.out_size, a.dilation) <= 1.1
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
