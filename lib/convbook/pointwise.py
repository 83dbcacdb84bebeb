"""The 1x1 (pointwise) convolution: a per-pixel linear map across channels.

``y[n, o, i, j] = sum_c w[o, c] * x[n, c, i, j] + b[o]``: the same ``C_out x C_in``
matrix applied to every pixel's channel vector. With channels last it is one
matrix product of shape ``(N*H*W, C_in) @ (C_in, C_out)``.

Besides the convolution itself (a loop oracle and the fast version, both with
torch's ``groups``, and checked by the same gate as :func:`convbook.conv2d`),
this module has ShuffleNet's channel shuffle and the channel connectivity of
grouped layers. Elsewhere: the oriented edge filters are in
:mod:`convbook.analysis`, PCA over channels as a 1x1 layer in
:mod:`convbook.analysis_channels`, the diagram of a 1x1 kernel in
``convbook.plotting.pointwise_figure``. NumPy only.
"""

from __future__ import annotations

import numpy as np

from convbook._args import ConvArgs, as_array, check_float_array, parse_conv_args, positive_int


def _parse_pointwise(x, weight, bias, groups, fname: str) -> ConvArgs:
    """Validate a 1x1 call as ``conv2d`` validates it; the weight may drop its two trailing 1s.

    Returns the :class:`~convbook._args.ConvArgs` of the equivalent ``conv2d`` call:
    ``x`` (N, C_in, H, W), ``weight`` (C_out, C_in // groups, 1, 1), ``bias`` (C_out,) or None.
    """
    check_float_array(x, "input x", fname)  # the input is named first, as conv2d names it
    weight = check_float_array(weight, "weight", fname)
    if weight.ndim == 2:
        weight = weight[:, :, None, None]  # (C_out, C_in // groups, 1, 1)
    elif weight.ndim != 4:
        raise ValueError(
            f"{fname}: weight must be (C_out, C_in // groups) or (C_out, C_in // groups, 1, 1), "
            f"got shape {weight.shape}"
        )
    elif weight.shape[2:] != (1, 1):
        raise ValueError(f"{fname}: a 4-D weight must have a 1x1 kernel, got shape {weight.shape}")
    return parse_conv_args(x, weight, bias, 1, 0, 1, groups, nd=2, fname=fname)


def pointwise_conv2d(x, weight, bias=None, groups: int = 1) -> np.ndarray:
    """A 1x1 convolution as one matrix product over channels (one per group).

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, 1, 1) or (C_out, C_in // groups)
    bias : ndarray, shape (C_out,), optional
    groups : int
        Split the channels into ``groups`` groups: output channels
        ``[k C_out/g, (k+1) C_out/g)`` read only input channels
        ``[k C_in/g, (k+1) C_in/g)`` (torch's ``groups``; ShuffleNet's grouped 1x1).

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        Equal to ``conv2d(x, weight.reshape(C_out, C_in // groups, 1, 1), bias, groups=groups)``.

    Raises
    ------
    TypeError, ValueError
        Where :func:`convbook.conv2d` raises them, with the same messages: a
        weight or bias whose dtype is not the input's is a ``TypeError``, as torch
        refuses it (``RuntimeError``) rather than casting.
    """
    a = _parse_pointwise(x, weight, bias, groups, "pointwise_conv2d")
    N, C_in, H, W = a.x.shape
    C_out, g = a.weight.shape[0], a.groups
    xg = a.x.reshape(N, g, C_in // g, H, W)  # (N, g, C_in/g, H, W)
    wg = a.weight.reshape(g, C_out // g, C_in // g)  # (g, C_out/g, C_in/g)
    y = np.einsum("goc,ngchw->ngohw", wg, xg, optimize=True).reshape(N, C_out, H, W)  # (N, C_out, H, W)
    if a.bias is not None:
        y = y + a.bias[None, :, None, None]
    return a.restore(y.astype(a.x.dtype, copy=False))


def pointwise_conv2d_loop(x, weight, bias=None, groups: int = 1) -> np.ndarray:
    """A 1x1 convolution by a loop over pixels: the oracle for :func:`pointwise_conv2d`.

    Each pixel's channel vector ``x[n, :, i, j]`` (length ``C_in``) is multiplied
    by the matrix ``weight`` (``C_out x C_in``); no pixel looks at a neighbour.
    With ``groups = g`` the matrix is block-diagonal: group ``k`` of the output
    reads only group ``k`` of the input, through its own
    ``(C_out/g) x (C_in/g)`` block ``weight[k C_out/g : (k+1) C_out/g]``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in // groups, 1, 1) or (C_out, C_in // groups)
    bias : ndarray, shape (C_out,), optional
    groups : int

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        The spatial size is unchanged: ``H_out = H``, ``W_out = W``.
    """
    a = _parse_pointwise(x, weight, bias, groups, "pointwise_conv2d_loop")
    x, weight, bias, g = a.x, a.weight[:, :, 0, 0], a.bias, a.groups  # weight: (C_out, C_in // g)
    N, C_in, H, W = x.shape
    C_out = weight.shape[0]
    ci, co = C_in // g, C_out // g
    y = np.zeros((N, C_out, H, W), dtype=x.dtype)  # (N, C_out, H, W)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                for k in range(g):
                    block = weight[k * co : (k + 1) * co]  # (C_out/g, C_in/g)
                    y[n, k * co : (k + 1) * co, i, j] = block @ x[n, k * ci : (k + 1) * ci, i, j]
                if bias is not None:
                    y[n, :, i, j] += bias
    return a.restore(y)


# --------------------------------------------------------------------------- groups and channel shuffle


def _check_groups(channels: int, groups: int, fname: str, name: str = "channels") -> tuple[int, int]:
    channels = positive_int(channels, name, fname)
    groups = positive_int(groups, "groups", fname)
    if channels % groups:
        raise ValueError(f"{fname}: groups={groups} must divide {name}={channels}")
    return channels, groups


def shuffle_permutation(channels: int, groups: int) -> np.ndarray:
    """The channel order after ShuffleNet's channel shuffle (Zhang et al. 2018).

    Think of the ``channels`` channels as a ``groups x (channels / groups)``
    matrix, one row per group; the shuffle transposes it and reads it out row
    by row. Output channel ``i`` is input channel ``perm[i]``, so consecutive
    output channels come from different groups.

    Returns
    -------
    ndarray, shape (channels,), int
        ``perm``: ``channel_shuffle(x, groups)[:, i] == x[:, perm[i]]``.
    """
    c, g = _check_groups(channels, groups, "shuffle_permutation")
    return np.arange(c).reshape(g, c // g).T.ravel()  # (C,)


def channel_shuffle(x, groups: int) -> np.ndarray:
    """ShuffleNet's channel shuffle: reshape channels to ``(groups, C / groups)``, transpose, flatten.

    Equal to ``torch.nn.ChannelShuffle(groups)``. It moves no values within a
    channel and costs no multiply-adds; it only reorders channels so that a
    following grouped layer's group ``k`` reads one channel from every group of
    the layer before.

    Parameters
    ----------
    x : ndarray, shape (N, C, ...)
        Any number of trailing (spatial) axes, at least one.
    groups : int, dividing C

    Returns
    -------
    ndarray, shape (N, C, ...)
        ``out[:, i] = x[:, perm[i]]`` with ``perm = shuffle_permutation(C, groups)``.
    """
    x = as_array(x, "x", "channel_shuffle")
    if x.ndim < 3:
        raise ValueError(
            f"channel_shuffle: x must have shape (N, C, ...) with at least one spatial axis, got {x.shape}"
        )
    n, c = x.shape[:2]
    c, g = _check_groups(c, groups, "channel_shuffle", "the channel count C")
    y = x.reshape(n, g, c // g, *x.shape[2:])  # (N, g, C/g, ...)
    return np.ascontiguousarray(y.swapaxes(1, 2)).reshape(x.shape)  # (N, C/g, g, ...) -> (N, C, ...)


def group_connectivity(c_in: int, c_out: int, groups: int = 1) -> np.ndarray:
    """Which input channels each output channel of a grouped 1x1 (or k x k) convolution reads.

    Returns
    -------
    ndarray, shape (c_out, c_in), bool
        ``M[o, c]`` is True when output channel ``o`` reads input channel ``c``:
        block-diagonal with ``groups`` blocks of ``(c_out/g) x (c_in/g)``.
    """
    fname = "group_connectivity"
    c_in, g = _check_groups(c_in, groups, fname, "c_in")
    c_out, _ = _check_groups(c_out, g, fname, "c_out")
    return (np.arange(c_out)[:, None] // (c_out // g)) == (np.arange(c_in)[None, :] // (c_in // g))


def shuffle_connectivity(channels: int, groups: int) -> np.ndarray:
    """The channel shuffle as a connectivity matrix, shape (channels, channels), bool: ``M[i, perm[i]]``."""
    perm = shuffle_permutation(channels, groups)
    m = np.zeros((perm.size, perm.size), dtype=bool)
    m[np.arange(perm.size), perm] = True
    return m


def compose_connectivity(*layers) -> np.ndarray:
    """Which inputs of the first layer reach each output of the last, through a chain of layers.

    Parameters
    ----------
    *layers : ndarray, shape (c_out_i, c_in_i), bool
        Connectivity matrices in the order the layers are applied
        (``c_in_{i+1} == c_out_i``).

    Returns
    -------
    ndarray, shape (c_out_last, c_in_first), bool
        The boolean product ``L_k ... L_2 L_1``.
    """
    if not layers:
        raise ValueError("compose_connectivity: give at least one connectivity matrix")
    mats = [np.asarray(m) for m in layers]
    for i, m in enumerate(mats):
        if m.ndim != 2:
            raise ValueError(f"compose_connectivity: layer {i} must be a 2-D matrix, got shape {m.shape}")
    reach = mats[0].astype(bool)
    for i, m in enumerate(mats[1:], start=1):
        if m.shape[1] != reach.shape[0]:
            raise ValueError(
                f"compose_connectivity: layer {i} reads {m.shape[1]} channels but layer {i - 1} writes {reach.shape[0]}"
            )
        reach = (m.astype(np.int64) @ reach.astype(np.int64)) > 0  # (c_out_i, c_in_first)
    return reach
