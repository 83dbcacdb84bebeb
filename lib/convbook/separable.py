"""Depthwise-separable convolution: a depthwise ``k x k`` step, then a pointwise ``1 x 1`` step.

Conventions are torch's. The *depthwise* step filters each input channel on its
own: with ``C_in`` input channels and a depth multiplier ``m`` its weight has shape
``(C_in*m, 1, kH, kW)``, and output channel ``c*m + f`` (``f < m``) reads input
channel ``c`` only. It is ``conv2d(x, weight, groups=C)``. The *pointwise* step
mixes channels at every pixel with a ``(C_out, C_in*m, 1, 1)`` weight (see
:mod:`convbook.pointwise`). Output size, per spatial dimension::

    out = floor((size + 2 * padding - dilation * (k - 1) - 1) / stride) + 1

The pointwise step keeps that size. Composed, the two steps are one ordinary
convolution whose kernel is constrained::

    w[c_o, c, :, :] = sum_f P[c_o, c*m + f] * D[c*m + f, :, :]      (rank <= m per input channel)

:func:`separable_to_standard` builds that kernel; :func:`fit_separable` finds
the separable pair closest to a given standard kernel (least squares, one SVD
per input channel), :func:`relative_fit_error` how far it is.

Elsewhere: what a separable pair, an inverted residual block or a layer's
roofline point costs is counted in :mod:`convbook.costs`; MobileNet's tables
live in ``convbook.nets.architectures``; the ReLU embedding argument of
MobileNetV2 is in :mod:`convbook.analysis_channels`.
"""

from __future__ import annotations

import numpy as np

from convbook._args import check_bias, check_dtype_match, check_float_array, pad_input, parse_conv_args, positive_int
from convbook.conv import _forward, conv2d
from convbook.pointwise import pointwise_conv2d


def _parse_depthwise(x, weight, bias, stride, padding, dilation, fname: str):
    """Check the depthwise-specific rules, then hand over to ``parse_conv_args`` with ``groups = C``."""
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    if x.ndim not in (3, 4):
        raise ValueError(f"{fname}: input x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{fname}: weight must be 4-D (C_in*m, 1, kH, kW), got shape {weight.shape}")
    C = x.shape[-3]
    if C == 0:
        raise ValueError(f"{fname}: input x must have at least one channel, got shape {x.shape}")
    if weight.shape[1] != 1:
        raise ValueError(
            f"{fname}: a depthwise weight has one input channel per filter, shape (C_in*m, 1, kH, kW); "
            f"got weight.shape[1] = {weight.shape[1]} (shape {weight.shape})"
        )
    if weight.shape[0] == 0 or weight.shape[0] % C != 0:
        raise ValueError(
            f"{fname}: weight.shape[0] = {weight.shape[0]} must be a positive multiple of the input's "
            f"C_in = {C} channels (C_in*m filters for a depth multiplier m)"
        )
    return parse_conv_args(x, weight, bias, stride, padding, dilation, C, nd=2, fname=fname)


def depthwise_conv2d_loop(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Depthwise convolution, one input channel at a time: the reference version.

    Each input channel ``c`` is convolved, as a one-channel image, with its
    ``m`` filters ``weight[c*m : (c+1)*m]``; the results are stacked in order.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    weight : ndarray, shape (C_in*m, 1, kH, kW)
        ``m`` (the depth multiplier) filters per input channel.
    bias : ndarray, shape (C_in*m,), optional
    stride, dilation : int or (int, int), positive
    padding : int, (int, int), 'valid' or 'same'

    Returns
    -------
    ndarray, shape (N, C_in*m, H_out, W_out) (unbatched if ``x`` was)
        ``H_out = (H + 2 p - d (kH - 1) - 1) // s + 1``, likewise ``W_out``.
    """
    a = _parse_depthwise(x, weight, bias, stride, padding, dilation, "depthwise_conv2d_loop")
    C_in, m = a.x.shape[1], a.weight.shape[0] // a.x.shape[1]
    channels = []
    for c in range(C_in):
        xc = a.x[:, c : c + 1]  # (N, 1, H, W): one channel, as its own image
        wc = a.weight[c * m : (c + 1) * m]  # (m, 1, kH, kW): its m filters
        # an ordinary one-channel convolution; padding is already resolved into a.pad
        xc = pad_input(xc, a.pad)  # (N, 1, Hp, Wp)
        channels.append(conv2d(xc, wc, stride=a.stride, dilation=a.dilation))  # (N, m, H_out, W_out)
    out = np.concatenate(channels, axis=1)  # (N, C_in*m, H_out, W_out)
    if a.bias is not None:
        out = out + a.bias[None, :, None, None]
    return a.restore(out)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Depthwise convolution, vectorised over channels and pixels: a loop over the ``kH*kW`` taps only.

    For each kernel tap ``(u, v)``, the input shifted by that tap (a strided
    view) is multiplied by the tap's weight of every channel at once and added
    to the output: ``kH*kW`` broadcast multiply-adds over whole arrays, no copy
    of the windows. There is no sum over channels, so a matrix product (as in a
    standard convolution) has nothing to work with.

    Same signature, shapes and result as :func:`depthwise_conv2d_loop`, and as
    ``convbook.conv2d(x, weight, bias, stride, padding, dilation, groups=C)``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    weight : ndarray, shape (C_in*m, 1, kH, kW)
    bias : ndarray, shape (C_in*m,), optional
    stride, dilation : int or (int, int), positive
    padding : int, (int, int), 'valid' or 'same'

    Returns
    -------
    ndarray, shape (N, C_in*m, H_out, W_out) (unbatched if ``x`` was)
        ``H_out = (H + 2 p - d (kH - 1) - 1) // s + 1``, likewise ``W_out``.

    Raises
    ------
    TypeError, ValueError
        Before any arithmetic, e.g. when ``weight.shape[0]`` is not a multiple of ``C``.
    """
    a = _parse_depthwise(x, weight, bias, stride, padding, dilation, "depthwise_conv2d")
    return a.restore(_forward(a))  # the depthwise fast path of convbook.conv: one pass per tap


def _pointwise_matrix(pointwise_weight, mid: int, fname: str) -> np.ndarray:
    """A pointwise weight as a ``(C_out, mid)`` matrix, after checking it."""
    pw = check_float_array(pointwise_weight, "pointwise_weight", fname)
    if pw.ndim == 4:
        if pw.shape[2:] != (1, 1):
            raise ValueError(f"{fname}: a 4-D pointwise_weight must be (C_out, C_in*m, 1, 1), got shape {pw.shape}")
        pw = pw[:, :, 0, 0]  # (C_out, C_in*m)
    elif pw.ndim != 2:
        raise ValueError(
            f"{fname}: pointwise_weight must be (C_out, C_in*m) or (C_out, C_in*m, 1, 1), got shape {pw.shape}"
        )
    if pw.shape[1] != mid or pw.shape[0] == 0:
        raise ValueError(
            f"{fname}: pointwise_weight.shape[1] = {pw.shape[1]} must equal the depthwise output channels "
            f"C_in*m = {mid} (and C_out >= 1)"
        )
    return pw


def separable_conv2d(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Depthwise-separable convolution: :func:`depthwise_conv2d`, then a 1x1 convolution.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    depthwise_weight : ndarray, shape (C_in*m, 1, kH, kW)
    pointwise_weight : ndarray, shape (C_out, C_in*m, 1, 1) or (C_out, C_in*m)
    bias : ndarray, shape (C_out,), optional
        Added after the pointwise step. (A depthwise bias ``b_d`` adds nothing
        new: it equals a pointwise bias ``P @ b_d``.)
    stride, padding, dilation
        Of the depthwise step, as in :func:`depthwise_conv2d`.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) (unbatched if ``x`` was)
        ``H_out = (H + 2 p - d (kH - 1) - 1) // s + 1``, likewise ``W_out``.
        Equal to ``conv2d(x, separable_to_standard(depthwise_weight, pointwise_weight), bias, ...)``.
    """
    fname = "separable_conv2d"
    a = _parse_depthwise(x, depthwise_weight, None, stride, padding, dilation, fname)
    pw = _pointwise_matrix(pointwise_weight, a.weight.shape[0], fname)
    check_dtype_match(pw, "pointwise_weight", a.x.dtype, fname)
    bias = check_bias(bias, pw.shape[0], a.x.dtype, fname)
    mid = _forward(a)  # (N, C_in*m, H_out, W_out), the depthwise step
    return a.restore(pointwise_conv2d(mid, pw, bias))  # (N, C_out, H_out, W_out)


def separable_to_standard(depthwise_weight, pointwise_weight, depth_multiplier: int = 1) -> np.ndarray:
    """The ordinary kernel that a depthwise + pointwise pair computes.

    ``w[c_o, c] = sum_f P[c_o, c*m + f] * D[c*m + f, 0]``: every output channel sees
    input channel ``c`` through a combination of the same ``m`` spatial filters.

    Parameters
    ----------
    depthwise_weight : ndarray, shape (C_in*m, 1, kH, kW)
    pointwise_weight : ndarray, shape (C_out, C_in*m, 1, 1) or (C_out, C_in*m)
    depth_multiplier : int
        ``m``; must divide ``depthwise_weight.shape[0]`` (the weights alone cannot tell ``C_in`` from ``m``).

    Returns
    -------
    ndarray, shape (C_out, C, kH, kW)
    """
    fname = "separable_to_standard"
    dw = check_float_array(depthwise_weight, "depthwise_weight", fname)
    if dw.ndim != 4 or dw.shape[1] != 1 or dw.shape[0] == 0:
        raise ValueError(f"{fname}: depthwise_weight must have shape (C_in*m, 1, kH, kW), got {dw.shape}")
    m = positive_int(depth_multiplier, "depth_multiplier", fname)
    filters, _, kH, kW = dw.shape  # filters = C_in * m
    if filters % m:
        raise ValueError(f"{fname}: depth_multiplier={m} must divide depthwise_weight.shape[0] = {filters}")
    pw = _pointwise_matrix(pointwise_weight, filters, fname)  # (C_out, C_in*m)
    d = dw.reshape(filters // m, m, kH, kW)  # (C_in, m, kH, kW)
    p = pw.reshape(pw.shape[0], filters // m, m)  # (C_out, C_in, m)
    return np.einsum("ock,ckuv->ocuv", p, d).astype(np.result_type(dw, pw), copy=False)  # (C_out, C, kH, kW)


def fit_separable(weight, depth_multiplier: int = 1):
    """The depthwise + pointwise pair whose kernel is closest to ``weight`` (least squares).

    For each input channel ``c`` the slice ``w[:, c]``, flattened to a
    ``(C_out, kH*kW)`` matrix, must be approximated by a matrix of rank at most
    ``m`` (the depth multiplier). By the Eckart-Young theorem the best one in the
    Frobenius norm is its truncated SVD: keep the ``m`` largest singular triples ``s u v^T``,
    put ``v`` (reshaped to ``kH x kW``) in the depthwise filter and ``s u`` in
    the pointwise column. Signs are fixed so that each depthwise filter's entry
    of largest magnitude is positive (the SVD alone leaves them arbitrary).

    Parameters
    ----------
    weight : ndarray, shape (C_out, C, kH, kW)
    depth_multiplier : int, default 1

    Returns
    -------
    depthwise_weight : ndarray, shape (C_in*m, 1, kH, kW)
    pointwise_weight : ndarray, shape (C_out, C_in*m, 1, 1)
        ``separable_to_standard(dw, pw, m)`` is the best approximation; it
        equals ``weight`` exactly when every slice has rank at most ``m``.
    """
    fname = "fit_separable"
    w = check_float_array(weight, "weight", fname)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"{fname}: weight must be 4-D (C_out, C, kH, kW) with no zero dimension, got {w.shape}")
    m = positive_int(depth_multiplier, "depth_multiplier", fname)
    C_out, C_in, kH, kW = w.shape
    rank = min(m, C_out, kH * kW)  # components beyond the rank of a slice stay zero
    dw = np.zeros((C_in, m, kH * kW), dtype=w.dtype)  # (C_in, m, kH*kW)
    pw = np.zeros((C_out, C_in, m), dtype=w.dtype)  # (C_out, C_in, m)
    for c in range(C_in):
        u, s, vt = np.linalg.svd(w[:, c].reshape(C_out, kH * kW), full_matrices=False)  # (C_out, q), (q,), (q, kH*kW)
        for f in range(rank):
            v = vt[f]
            sign = 1.0 if v[np.argmax(np.abs(v))] >= 0 else -1.0
            dw[c, f] = sign * v
            pw[:, c, f] = sign * s[f] * u[:, f]
    dw = dw.reshape(C_in * m, 1, kH, kW)  # (C_in*m, 1, kH, kW)
    pw = pw.reshape(C_out, C_in * m, 1, 1)  # (C_out, C_in*m, 1, 1)
    return dw, pw


def relative_fit_error(weight, depth_multiplier: int = 1) -> float:
    """``||W - W_fit||_F / ||W||_F`` for the best separable fit of ``weight`` (see :func:`fit_separable`)."""
    dw, pw = fit_separable(weight, depth_multiplier)
    w = np.asarray(weight)
    approx = separable_to_standard(dw, pw, depth_multiplier)
    norm = float(np.linalg.norm(w))
    return float(np.linalg.norm(w - approx)) / norm if norm > 0 else 0.0
