"""The stride-1 fast paths of ``convbook.conv2d`` on the *flat layout*.

Pad each image once and flatten each channel (:func:`_flat_layout`), so that at
stride 1 every kernel tap reads the same array at a constant offset. A tap
over all output pixels is then a strided *view*: one matrix product per
kernel row for standard, dilated and 1x1 layers (:func:`_shifted_gemm`, with
the row's taps stacked), one multiply and one add per tap for depthwise
layers (:func:`_depthwise_flat`), with no full im2col copy. Work goes in
blocks (:func:`_chunk`) into preallocated buffers (``out=``, ``+=``).
:func:`_depthwise_taps` is the depthwise path at any stride. ``convbook.conv._forward``
chooses among them; ``convbook.backward`` runs the gradients on the same layout.

Private: these take a validated :class:`~convbook._args.ConvArgs` and check nothing.
"""

from __future__ import annotations

import numpy as np

from convbook._args import ConvArgs, pad_input
from convbook._parallel import run_blocks


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
