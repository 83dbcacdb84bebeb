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

from ._args import ConvArgs, check_float_array, pad_input, parse_conv_args


def _backward(a: ConvArgs, g: np.ndarray):
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
    if g.dtype != a.x.dtype:
        raise TypeError(f"{fname}: grad_output dtype {g.dtype} must match input dtype {a.x.dtype}")
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
