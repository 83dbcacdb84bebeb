"""The 1x1 (pointwise) convolution: a per-pixel linear map across channels.

``y[n, o, i, j] = sum_c w[o, c] * x[n, c, i, j] + b[o]``: the same ``C_out x C_in``
matrix applied to every pixel's channel vector. With channels last it is one
matrix product of shape ``(N*H*W, C_in) @ (C_in, C_out)``.
"""

from __future__ import annotations

import numpy as np

from ._args import check_float_array


def pointwise_conv2d(x, weight, bias=None) -> np.ndarray:
    """A 1x1 convolution as one matrix product over channels.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in, 1, 1) or (C_out, C_in)
    bias : ndarray, shape (C_out,), optional

    Returns
    -------
    ndarray, shape (N, C_out, H, W) (unbatched if ``x`` was)
        Equal to ``conv2d(x, weight.reshape(C_out, C_in, 1, 1), bias)``.
    """
    fname = "pointwise_conv2d"
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    if x.ndim not in (3, 4):
        raise ValueError(f"{fname}: input x must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim == 4:
        if weight.shape[2:] != (1, 1):
            raise ValueError(f"{fname}: a 4-D weight must have a 1x1 kernel, got shape {weight.shape}")
        weight = weight[:, :, 0, 0]  # (C_out, C_in)
    elif weight.ndim != 2:
        raise ValueError(f"{fname}: weight must be (C_out, C_in) or (C_out, C_in, 1, 1), got shape {weight.shape}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{fname}: weight dtype {weight.dtype} must match input dtype {x.dtype}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"{fname}: weight expects C_in={weight.shape[1]} channels, input has {x.shape[1]}")
    y = np.einsum("oc,nchw->nohw", weight, x, optimize=True)  # (N, C_out, H, W)
    if bias is not None:
        bias = check_float_array(bias, "bias", fname)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{fname}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        y = y + bias[None, :, None, None]
    y = y.astype(x.dtype, copy=False)
    return y[0] if unbatched else y
