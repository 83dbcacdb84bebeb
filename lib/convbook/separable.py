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
per input channel).

Costs and architectures, without torch:

* :data:`MOBILENET_V1_BLOCKS` and :func:`mobilenet_v1_costs`: MobileNet v1's
  table and every layer's weights and multiply-adds for any width multiplier
  ``alpha`` and input resolution (the network ``convbook.nets.models.mobilenet_v1``
  builds); :func:`cost_shares` gives each layer kind's share.
* :func:`inverted_residual_cost`: MobileNetV2's expand - depthwise - project
  block, and :func:`mobilenet_v2_costs` the whole network (its Table 2);
  :func:`relu_embedding_error`: its argument for linear bottlenecks.
* :func:`conv_intensity`: FLOPs, minimum bytes and arithmetic intensity of a
  layer, for a roofline.
"""

from __future__ import annotations

import numpy as np

from convbook._args import check_float_array, pad_input, parse_conv_args, positive_int
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
    if pw.dtype != a.x.dtype:
        raise TypeError(f"{fname}: pointwise_weight dtype {pw.dtype} must match input dtype {a.x.dtype}")
    if bias is not None:
        bias = check_float_array(bias, "bias", fname)
        if bias.dtype != a.x.dtype:
            raise TypeError(f"{fname}: bias dtype {bias.dtype} must match input dtype {a.x.dtype}")
        if bias.shape != (pw.shape[0],):
            raise ValueError(f"{fname}: bias must have shape (C_out,) = ({pw.shape[0]},), got {bias.shape}")
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


# ---- MobileNet v1's architecture table and its costs, without torch


#: MobileNet v1's body after the first convolution (Table 1 of Howard et al. 2017):
#: one ``(output channels, stride)`` pair per depthwise-separable block, the stride
#: being that of the block's depthwise 3x3 convolution. The paper's table lists the
#: last (13th) depthwise convolution, whose input is 7x7x1024, as "s2", yet gives
#: 7x7 as its output size too (the input of the pooling layer), so its stride is 1,
#: as in the reference implementation.
MOBILENET_V1_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
MOBILENET_V1_STEM = 32  # output channels of the first 3x3 convolution (stride 2)


def scaled_width(channels: int, width_multiplier: float) -> int:
    """MobileNet's width multiplier ``alpha`` applied to a layer: ``max(1, int(alpha * channels))``."""
    return max(1, int(channels * width_multiplier))


def _check_multiplier(value, name: str, fname: str, high: float) -> float:
    from numbers import Real

    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{fname}: {name} must be a number, got {type(value).__name__}")
    if not 0 < value <= high:
        raise ValueError(f"{fname}: {name} must be in (0, {high:g}], got {value}")
    return float(value)


def mobilenet_v1_costs(
    width_multiplier: float = 1.0, resolution: int = 224, num_classes: int = 1000, full_conv: bool = False
) -> list[dict]:
    """Weights and multiply-adds of every layer of MobileNet v1, from its architecture table alone.

    The same network as ``convbook.nets.models.mobilenet_v1`` (``full_conv=True``:
    ``mobilenet_v1_full_conv``), counted with :func:`convbook.costs.conv_cost`
    instead of a forward pass, so it needs no torch and takes microseconds.
    The width multiplier ``alpha`` scales every layer's channels to
    ``int(alpha * channels)``; the resolution multiplier ``rho`` is applied by
    choosing the input size (Howard et al. 2017, section 3.3 and 3.4: 224, 192,
    160 or 128). Convolutions have no bias (batch norm follows each); the
    classifier has ``num_classes`` biases, counted in its ``params``.

    Parameters
    ----------
    width_multiplier : float in (0, 4]
    resolution : int, at least 32
        Height and width of the square input image.
    num_classes : int
    full_conv : bool
        Count the "Conv MobileNet" twin (each block one standard 3x3 convolution).

    Returns
    -------
    list of dict
        One dict per layer, in execution order: ``name``, ``kind`` ('conv',
        'depthwise', 'pointwise' or 'linear', as :func:`convbook.profile` names
        them), ``c_in``, ``c_out``, ``out_size`` (spatial side), ``params`` and
        ``macs`` (per image); the linear layer also has ``bias`` (its share of ``params``).
        Output side of a 3x3 layer with padding 1 and stride ``s``:
        ``(size + 2 - 3) // s + 1``.
    """
    from convbook.costs import conv_cost
    from convbook.shapes import conv_output_size

    fname = "mobilenet_v1_costs"
    alpha = _check_multiplier(width_multiplier, "width_multiplier", fname, 4.0)
    resolution = positive_int(resolution, "resolution", fname, minimum=32)
    num_classes = positive_int(num_classes, "num_classes", fname)
    if not isinstance(full_conv, bool):
        raise TypeError(f"{fname}: full_conv must be a bool, got {type(full_conv).__name__}")
    rows = []

    def add(name, kind, c_in, c_out, k, size, groups=1):
        cost = conv_cost(c_in, c_out, k, size, groups=groups)
        rows.append(dict(name=name, kind=kind, c_in=c_in, c_out=c_out, out_size=size, **vars(cost)))

    c = scaled_width(MOBILENET_V1_STEM, alpha)
    size = conv_output_size(resolution, 3, stride=2, padding=1)
    add("stem", "conv", 3, c, 3, size)
    for i, (c_out, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        c_out = scaled_width(c_out, alpha)
        size = conv_output_size(size, 3, stride=stride, padding=1)
        if full_conv:
            add(f"block{i}", "conv", c, c_out, 3, size)
        else:
            add(f"block{i}.depthwise", "depthwise", c, c, 3, size, groups=c)
            add(f"block{i}.pointwise", "pointwise", c, c_out, 1, size)
        c = c_out
    rows.append(
        dict(
            name="classifier",
            kind="linear",
            c_in=c,
            c_out=num_classes,
            out_size=1,
            params=c * num_classes + num_classes,
            macs=c * num_classes,
            bias=num_classes,
        )
    )
    return rows


def cost_shares(rows: list[dict], bias: bool = True) -> dict:
    """Each layer kind's share (in per cent) of the weights and multiply-adds of :func:`mobilenet_v1_costs` rows.

    ``bias=False`` leaves the classifier's biases out of the weights (the only
    biases the network has), as the paper's Table 2 apparently does.

    Returns
    -------
    dict
        ``{kind: {'params': %, 'macs': %}}`` in order of first appearance, and
        ``'total': {'params': int, 'macs': int}``.
    """
    params = {r["kind"]: 0 for r in rows}
    macs = dict(params)
    for r in rows:
        params[r["kind"]] += r["params"] - (0 if bias else r.get("bias", 0))
        macs[r["kind"]] += r["macs"]
    total_p, total_m = sum(params.values()), sum(macs.values())
    out = {k: {"params": 100 * params[k] / total_p, "macs": 100 * macs[k] / total_m} for k in params}
    out["total"] = {"params": total_p, "macs": total_m}
    return out


# ---- MobileNetV2's inverted residual block


def inverted_residual_cost(
    c_in: int, c_out: int, size: int, expansion: int = 6, stride: int = 1, kernel_size: int = 3
) -> dict:
    """Weights and multiply-adds of MobileNetV2's inverted residual block (Sandler et al. 2018, Table 1).

    ``expand``: a 1x1 convolution from ``c_in`` to ``t * c_in`` channels (absent
    when ``expansion == 1``); ``depthwise``: a ``k x k`` depthwise convolution
    with stride ``s`` on the ``t * c_in`` channels; ``project``: a *linear* 1x1
    convolution down to ``c_out`` channels. Biases excluded (batch norm follows
    each convolution). The identity shortcut, used when ``s == 1`` and
    ``c_in == c_out``, costs no weights and no multiply-adds.

    Parameters
    ----------
    c_in, c_out : int
    size : int
        Side of the square input; the output side is ``(size + 2 (k // 2) - k) // s + 1``.
    expansion : int
        The expansion factor ``t`` (6 in most of the paper's blocks).
    stride, kernel_size : int

    Returns
    -------
    dict
        ``{'expand': LayerCost or None, 'depthwise': LayerCost, 'project': LayerCost,
        'total': LayerCost, 'mid_channels': t * c_in, 'out_size': int, 'residual': bool}``.
        Per image: ``total.macs = size^2 t c_in^2 + out^2 t c_in (k^2 + c_out)``
        (the first term only when ``t > 1``).
    """
    from convbook.costs import LayerCost, conv_cost
    from convbook.shapes import conv_output_size

    fname = "inverted_residual_cost"
    c_in, c_out = positive_int(c_in, "c_in", fname), positive_int(c_out, "c_out", fname)
    size, t = positive_int(size, "size", fname), positive_int(expansion, "expansion", fname)
    stride, k = positive_int(stride, "stride", fname), positive_int(kernel_size, "kernel_size", fname)
    if k % 2 == 0:
        raise ValueError(f"{fname}: kernel_size must be odd (padding k // 2 keeps the size), got {k}")
    mid = t * c_in
    out = conv_output_size(size, k, stride=stride, padding=k // 2)
    expand = conv_cost(c_in, mid, 1, size) if t > 1 else None
    depthwise = conv_cost(mid, mid, k, out, groups=mid)
    project = conv_cost(mid, c_out, 1, out)
    total = (expand or LayerCost(0, 0)) + depthwise + project
    return {
        "expand": expand,
        "depthwise": depthwise,
        "project": project,
        "total": total,
        "mid_channels": mid,
        "out_size": out,
        "residual": stride == 1 and c_in == c_out,
    }


#: MobileNetV2's body (Sandler et al. 2018, Table 2): ``(t, c, n, s)`` = expansion factor, output channels,
#: number of inverted residual blocks, stride of the first of them. A 3x3 stride-2 convolution to 32 channels
#: comes before; a 1x1 convolution to 1280 channels, global average pooling and a 1x1 classifier come after.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2_costs(resolution: int = 224, num_classes: int = 1000) -> list[dict]:
    """Weights and multiply-adds of every layer of MobileNetV2 (width 1.0), from its Table 2 alone.

    Stem: 3x3 convolution, stride 2, 3 -> 32 channels; then the blocks of
    :data:`MOBILENET_V2_SETTINGS` (:func:`inverted_residual_cost`, one row per
    layer: ``expand``, ``depthwise``, ``project``); a 1x1 convolution to 1280
    channels; the classifier (1280 -> ``num_classes``, with biases). Batch
    norms are not counted, convolutions have no bias.

    Returns
    -------
    list of dict
        ``name``, ``kind`` (as :func:`convbook.profile` names it), ``params``, ``macs`` per image.
    """
    from convbook.costs import conv_cost
    from convbook.shapes import conv_output_size

    fname = "mobilenet_v2_costs"
    resolution = positive_int(resolution, "resolution", fname, minimum=32)
    num_classes = positive_int(num_classes, "num_classes", fname)
    size = conv_output_size(resolution, 3, stride=2, padding=1)
    rows = [dict(name="stem", kind="conv", **vars(conv_cost(3, 32, 3, size)))]
    c, block = 32, 0
    for t, c_out, n, s in MOBILENET_V2_SETTINGS:
        for i in range(n):
            block += 1
            cost = inverted_residual_cost(c, c_out, size, expansion=t, stride=s if i == 0 else 1)
            for part, kind in (("expand", "pointwise"), ("depthwise", "depthwise"), ("project", "pointwise")):
                if cost[part] is not None:
                    rows.append(dict(name=f"block{block}.{part}", kind=kind, **vars(cost[part])))
            c, size = c_out, cost["out_size"]
    rows.append(dict(name="last_1x1", kind="pointwise", **vars(conv_cost(c, 1280, 1, size))))
    rows.append(
        dict(name="classifier", kind="linear", params=1280 * num_classes + num_classes, macs=1280 * num_classes)
    )
    return rows


def relu_embedding_error(points, dims: int, seed: int = 0) -> float:
    """How much of a low-dimensional point set a ReLU destroys in ``dims`` dimensions (Sandler et al. 2018, Fig. 1).

    Each point ``x`` is mapped into ``dims`` dimensions by a random Gaussian
    matrix ``T`` and passed through a ReLU: ``y = relu(T x)``. Where ``y`` is
    positive the ReLU was the identity, so ``x`` is recovered from those
    coordinates alone by least squares, ``x_hat = lstsq(T[S], y[S])`` with
    ``S = {i : y_i > 0}``. When ``S`` holds at least ``D`` independent rows the
    recovery is exact: the ReLU lost nothing. With few dimensions that often
    fails and the point is lost (its minimum-norm reconstruction is wrong); with
    many, nearly every point keeps enough positive coordinates. This is
    MobileNetV2's argument for *linear* bottlenecks: a ReLU in a narrow layer
    destroys information, in a wide one it need not.

    Parameters
    ----------
    points : ndarray, shape (M, D)
        ``M`` points in ``D`` dimensions (e.g. a 2-D spiral).
    dims : int
        Dimension of the embedding, at least ``D``.
    seed : int
        Seed of the random embedding.

    Returns
    -------
    float
        ``||X_hat - X||_F / ||X||_F`` over all points (0: nothing lost).
    """
    fname = "relu_embedding_error"
    p = check_float_array(points, "points", fname).astype(np.float64)
    if p.ndim != 2 or 0 in p.shape:
        raise ValueError(f"{fname}: points must be 2-D (M, D) with M, D >= 1, got shape {p.shape}")
    dims = positive_int(dims, "dims", fname)
    if dims < p.shape[1]:
        raise ValueError(f"{fname}: dims must be at least the points' dimension D = {p.shape[1]}, got {dims}")
    T = np.random.default_rng(seed).standard_normal((dims, p.shape[1]))  # (dims, D)
    y = np.maximum(p @ T.T, 0.0)  # (M, dims)
    back = np.zeros_like(p)  # (M, D)
    for i in range(len(p)):
        keep = y[i] > 0  # the coordinates on which the ReLU was the identity
        if keep.any():
            back[i] = np.linalg.lstsq(T[keep], y[i, keep], rcond=None)[0]
    norm = float(np.linalg.norm(p))
    return float(np.linalg.norm(back - p)) / norm if norm > 0 else 0.0


# ---- arithmetic intensity for the roofline


def conv_intensity(
    c_in: int, c_out: int, kernel_size: int, size: int, groups: int = 1, batch: int = 1, itemsize: int = 4
) -> dict:
    """FLOPs, minimum memory traffic and arithmetic intensity of a stride-1 'same' convolution.

    The minimum traffic moves every input, output and weight element once:
    ``itemsize * (batch * (c_in + c_out) * size^2 + weights)`` bytes. Real
    traffic is higher (re-reads, layout changes), so the intensity is an upper
    bound: the point a perfect implementation would sit at on a roofline
    (Williams et al. 2009).

    Parameters
    ----------
    c_in, c_out, kernel_size, groups : int
    size : int
        Side of the square input and output.
    batch, itemsize : int
        Images per call, and bytes per element (4 for float32).

    Returns
    -------
    dict
        ``macs``, ``flops`` (``2 macs``), ``bytes`` and ``intensity`` (FLOPs per byte).
    """
    from convbook.costs import conv_cost

    fname = "conv_intensity"
    for name, v in (("c_in", c_in), ("c_out", c_out), ("kernel_size", kernel_size), ("size", size)):
        positive_int(v, name, fname)
    batch, itemsize = positive_int(batch, "batch", fname), positive_int(itemsize, "itemsize", fname)
    cost = conv_cost(c_in, c_out, kernel_size, size, groups=positive_int(groups, "groups", fname))
    macs = batch * cost.macs
    nbytes = itemsize * (batch * (c_in + c_out) * size * size + cost.params)
    return {"macs": macs, "flops": 2 * macs, "bytes": nbytes, "intensity": 2 * macs / nbytes}
