"""Backward pass of the convolution: gradients with respect to input, weight and bias.

For ``y = conv(x, w) + b`` and an upstream gradient ``g = dL/dy`` (shape of
``y``), with the tap ``(u, v)`` of the kernel reading the strided view
``x_uv[n, c, i, j] = x_pad[n, c, i*sH + u*dH, j*sW + v*dW]``:

* ``dL/db[o] = sum_{n,i,j} g[n, o, i, j]``
* ``dL/dw[o, c, u, v] = sum_{n,i,j} g[n, o, i, j] * x_uv[n, c, i, j]``
  (a correlation of the input with the output gradient),
* ``dL/dx_pad`` receives ``sum_o g[n, o, i, j] * w[o, c, u, v]`` at every place
  the tap read from (a transposed convolution); cropping the padding gives
  ``dL/dx``.

Within a group only matching channels interact, so the sums above run over the
group's channels. Input positions that no window touches get zero gradient.
"""

from __future__ import annotations

import numpy as np

from convbook._args import ConvArgs, check_dtype_match, check_float_array, pad_input, parse_conv_args
from convbook._flat import _chunk, _flat_layout
from convbook._parallel import run_blocks


def _grad_flat(g: np.ndarray, Wq: int) -> np.ndarray:
    """``g`` (N, C_out, Ho, Wo) on the flat output grid of pitch ``Wq``, zeros in the junk columns.

    Returns shape (N, C_out, Ho * Wq). The zeros make the junk positions of
    the forward pass (see ``_flat._flat_layout``) contribute nothing below.
    """
    N, C_out, Ho, Wo = g.shape
    if Wq == Wo:
        return np.ascontiguousarray(g).reshape(N, C_out, Ho * Wo)  # (N, C_out, Ho*Wo)
    gq = np.zeros((N, C_out, Ho, Wq), dtype=g.dtype)
    gq[..., :Wo] = g
    return gq.reshape(N, C_out, Ho * Wq)  # (N, C_out, Ho*Wq)


def _crop_flat(gxf: np.ndarray, a: ConvArgs, Wq: int) -> np.ndarray:
    """Undo ``_flat._flat_layout``: (N, C_in, R*Wq) -> (N, C_in, H, W), the padding dropped."""
    N, C_in, H, W = a.x.shape
    (pt, _), (pl, _) = a.pad
    gx = gxf.reshape(N, C_in, -1, Wq)  # (N, C_in, R, Wq)
    return gx[:, :, pt : pt + H, pl : pl + W]  # (N, C_in, H, W), a view


def _backward_shifted_gemm(a: ConvArgs, g: np.ndarray):
    """Stride-1, ungrouped backward with the forward's shifted-GEMM trick.

    On the flat layout (``_flat._flat_layout``) the tap ``(u, v)`` reads
    ``X_n[:, off : off + L]``, a ``(C_in, L)`` slice, so for each image ``n``

    * ``grad_weight[:, :, u, v] += G_n @ X_n[:, off : off + L].T``:
      ``(C_out, L) @ (L, C_in)``, one GEMM per tap and image, the transpose a
      free view that BLAS reads in place;
    * ``grad_x_flat[n][:, off : off + L] += W[:, :, u, v].T @ G_n``:
      ``(C_in, C_out) @ (C_out, L)``, scattered back to where the tap read
      from (the transposed convolution), then cropped.

    ``G_n`` has zeros in the junk columns, so the wrapped-around reads receive
    and give nothing. No im2col matrix and no per-tap ``einsum``.
    """
    x, w = a.x, a.weight
    N, C_in = x.shape[:2]
    C_out, _, kH, kW = w.shape
    (dH, dW) = a.dilation
    Ho, Wo = a.out_size
    xf, Wq = _flat_layout(x, a.pad, (kH, kW), a.dilation)  # (N, C_in, R*Wq)
    L = Ho * Wq
    gq = _grad_flat(g, Wq)  # (N, C_out, L)
    gxf = np.zeros((N, C_in, xf.shape[2]), dtype=x.dtype)  # (N, C_in, R*Wq)
    gw = np.empty((kH, kW, C_out, C_in), dtype=x.dtype)
    wT = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (kH, kW, C_in, C_out)
    nb = _chunk(C_in * L, N)
    tmp = np.empty((nb, C_in, L), dtype=x.dtype)
    for u in range(kH):
        for v in range(kW):
            off = u * dH * Wq + v * dW
            src = xf[:, :, off : off + L]  # (N, C_in, L), a view
            gw[u, v] = np.matmul(gq, src.transpose(0, 2, 1)).sum(axis=0)  # (N, C_out, C_in) -> (C_out, C_in)
            for n0 in range(0, N, nb):
                scratch = tmp[: min(nb, N - n0)]
                np.matmul(wT[u, v], gq[n0 : n0 + nb], out=scratch)  # (C_in, C_out) @ (nb, C_out, L)
                gxf[n0 : n0 + nb, :, off : off + L] += scratch
    gx = _crop_flat(gxf, a, Wq)
    return gx, gw.transpose(2, 3, 0, 1), g.sum(axis=(0, 2, 3))


def _backward_depthwise(a: ConvArgs, g: np.ndarray):
    """Stride-1 depthwise backward (one filter per channel) on the flat layout.

    Per tap ``(u, v)`` and channel ``c``: ``grad_w[c, u, v]`` is the dot product
    of ``G[n, c]`` with the shifted slice ``X[n, c, off : off + L]`` (an
    ``einsum`` over a block of channels), and ``grad_x[n, c, off : off + L]``
    gets ``w[c, u, v] * G[n, c]`` added (multiply into a scratch buffer, add in
    place). As in the forward pass, the work goes in large blocks of
    channels shared out among threads; each thread sums its own part of
    ``grad_w`` and the parts are added at the end.
    """
    x, w = a.x, a.weight
    N, C = x.shape[:2]
    kH, kW = w.shape[2:]
    (dH, dW) = a.dilation
    Ho, Wo = a.out_size
    xf, Wq = _flat_layout(x, a.pad, (kH, kW), a.dilation)  # (N, C, R*Wq)
    L = Ho * Wq
    gq = _grad_flat(g, Wq)  # (N, C, L)
    gxf = np.zeros((N, C, xf.shape[2]), dtype=x.dtype)  # (N, C, R*Wq)
    taps = w[:, 0].reshape(C, kH * kW)  # (C, kH*kW)
    cb = _chunk(L, C, budget=1 << 18)  # channels per block, large: see _flat._depthwise_flat

    def work(blocks):
        tmp = np.empty((cb, L), dtype=x.dtype)
        gw = np.zeros((C, kH * kW), dtype=x.dtype)
        for n, c0 in blocks:
            g_blk = gq[n, c0 : c0 + cb]  # (cb, L)
            scratch = tmp[: g_blk.shape[0]]
            for u in range(kH):
                for v in range(kW):
                    off, t = u * dH * Wq + v * dW, u * kW + v
                    src = xf[n, c0 : c0 + cb, off : off + L]  # (cb, L), a view
                    gw[c0 : c0 + cb, t] += np.einsum("cl,cl->c", g_blk, src)
                    np.multiply(g_blk, taps[c0 : c0 + cb, t, None], out=scratch)
                    gxf[n, c0 : c0 + cb, off : off + L] += scratch
        return gw

    gw = sum(run_blocks(work, [(n, c0) for n in range(N) for c0 in range(0, C, cb)]))
    gx = _crop_flat(gxf, a, Wq)
    return gx, gw.reshape(C, 1, kH, kW), g.sum(axis=(0, 2, 3))


def _backward(a: ConvArgs, g: np.ndarray):
    """Dispatch: shifted GEMMs (stride 1, ungrouped), depthwise taps, or the general per-tap loop."""
    C_in = a.x.shape[1]
    if a.stride == (1, 1):
        if a.groups == 1:
            return _backward_shifted_gemm(a, g)
        if a.groups == C_in and a.weight.shape[:2] == (C_in, 1) and C_in > 1:
            return _backward_depthwise(a, g)
    return _backward_general(a, g)


def _backward_general(a: ConvArgs, g: np.ndarray):
    """Any stride and grouping: per tap, two ``einsum`` contractions over strided views."""
    x, w = a.x, a.weight
    N, C_in, H, W = x.shape
    C_out, c_in_g, kH, kW = w.shape
    G = a.groups
    c_out_g = C_out // G
    (sH, sW), (dH, dW) = a.stride, a.dilation
    (pt, pb), (pl, pr) = a.pad
    Ho, Wo = a.out_size
    xp = pad_input(x, a.pad)  # (N, C_in, Hp, Wp)
    gx = np.zeros_like(xp)  # gradient on the padded grid
    gw = np.zeros_like(w)
    gg = g.reshape(N, G, c_out_g, Ho, Wo)  # (N, G, C_out/G, Ho, Wo)
    wg = w.reshape(G, c_out_g, c_in_g, kH, kW)  # (G, C_out/G, C_in/G, kH, kW)
    for u in range(kH):
        rows = slice(u * dH, u * dH + sH * (Ho - 1) + 1, sH)
        for v in range(kW):
            cols = slice(v * dW, v * dW + sW * (Wo - 1) + 1, sW)
            tap = xp[:, :, rows, cols].reshape(N, G, c_in_g, Ho, Wo)  # (N, G, C_in/G, Ho, Wo)
            gw[:, :, u, v] = np.einsum("ngohw,ngchw->goc", gg, tap, optimize=True).reshape(C_out, c_in_g)
            back = np.einsum("ngohw,goc->ngchw", gg, wg[..., u, v], optimize=True)  # (N, G, C_in/G, Ho, Wo)
            gx[:, :, rows, cols] += back.reshape(N, C_in, Ho, Wo)
    gx = gx[:, :, pt : pt + H, pl : pl + W]  # crop the padding: (N, C_in, H, W)
    gb = g.sum(axis=(0, 2, 3))  # (C_out,)
    return gx, gw, gb


def _parse_grad(grad_output, a: ConvArgs, fname: str) -> np.ndarray:
    """Check ``grad_output`` against the forward output's shape and lift it like ``x``."""
    g = check_float_array(grad_output, "grad_output", fname)
    N, C_out, (Ho, Wo) = a.x.shape[0], a.weight.shape[0], a.out_size
    shape = (N, C_out, Ho, Wo) if a.nd == 2 else (N, C_out, Wo)
    if a.unbatched:
        shape = shape[1:]
    if g.shape != shape:
        raise ValueError(f"{fname}: grad_output must have the forward output's shape {shape}, got {g.shape}")
    check_dtype_match(g, "grad_output", a.x.dtype, fname, note="")  # torch would cast it; we refuse
    if a.unbatched:
        g = g[None]
    if a.nd == 1:
        g = g[:, :, None, :]  # (N, C_out, L_out) -> (N, C_out, 1, L_out)
    return g


def _restore_grads(a: ConvArgs, gx, gw, gb):
    if a.nd == 1:
        gx, gw = gx[:, :, 0, :], gw[:, :, 0, :]
    if a.unbatched:
        gx = gx[0]
    return gx, gw, gb


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`convbook.conv2d` by hand; matches ``torch.autograd``.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C_out, H_out, W_out)
        ``dL/dy`` for the output ``y`` of the forward call.
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, kH, kW)
    stride, padding, dilation, groups
        As in the forward call.

    Returns
    -------
    grad_input : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray, shape (C_out,)
        The gradient a bias would receive (the bias itself does not enter).
    """
    fname = "conv2d_backward"
    a = parse_conv_args(x, weight, None, stride, padding, dilation, groups, nd=2, fname=fname)
    g = _parse_grad(grad_output, a, fname)
    return _restore_grads(a, *_backward(a, g))


def conv1d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`convbook.conv1d`; see :func:`conv2d_backward`.

    Shapes: ``grad_output`` (N, C_out, L_out), ``x`` (N, C_in, L),
    ``weight`` (C_out, C_in // groups, k). Returns
    ``(grad_input, grad_weight, grad_bias)``.
    """
    fname = "conv1d_backward"
    a = parse_conv_args(x, weight, None, stride, padding, dilation, groups, nd=1, fname=fname)
    g = _parse_grad(grad_output, a, fname)
    return _restore_grads(a, *_backward(a, g))
