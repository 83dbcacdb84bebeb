"""Counting weights, multiply-adds (MACs) and arithmetic intensity: the library's one counter.

One multiply-add (MAC) is one ``a * b + c``. An output element of a
convolution with ``C_in / groups`` input channels per group and a ``kH x kW``
kernel costs ``(C_in / groups) * kH * kW`` MACs, one per weight it uses;
FLOPs are ``2 x`` MACs. Biases are counted as weights only where asked for,
and their additions are not counted as MACs. Every other layer kind is a case
of that one formula (:func:`_count`):

* standard and grouped convolutions: :func:`conv_cost`;
* depthwise (``groups = C_in``): :func:`depthwise_cost`; pointwise (a
  ``1 x 1`` kernel): :func:`pointwise_cost`; the pair: :func:`separable_cost`;
* dilated: :func:`dilated_cost`. Dilation changes no count of the direct
  (gap) form, whose taps never meet a zero; the zero-insertion form
  multiplies by every entry of the ``d (k - 1) + 1`` wide kernel
  (``zero_inserted=True``, :func:`dilated_kernel_macs`);
* MobileNetV2's inverted residual block: :func:`inverted_residual_cost`;
* a fully connected layer, a ``1 x 1`` convolution over its rows: :func:`linear_cost`.

:func:`conv_macs` counts one call from the shapes of its arguments (batch
included), :func:`conv_intensity` adds the minimum memory traffic of a layer
for a roofline, and :func:`cost_shares` gives each layer kind's share of a
table of layers. ``convbook.nets.profiler`` (a torch model, layer by layer) and
``convbook.nets.architectures`` (the MobileNet and ResNet tables) count
through these functions. Winograd's algorithm has its own count
(``convbook.winograd.winograd_macs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from numbers import Integral

import numpy as np

from convbook._args import parse_conv_args, positive_int, positive_tuple
from convbook.shapes import conv_output_size, effective_kernel_size


@dataclass(frozen=True)
class LayerCost:
    """Weights and multiply-adds of one layer, per input sample."""

    params: int
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def __add__(self, other: LayerCost) -> LayerCost:
        return LayerCost(self.params + other.params, self.macs + other.macs)


ZERO = LayerCost(0, 0)


def _dims(kernel_size, fname: str) -> int:
    """Number of spatial dimensions named by ``kernel_size``: its length, or 2 for an int."""
    if not isinstance(kernel_size, (tuple, list)):
        return 2
    if not 1 <= len(kernel_size) <= 3:
        raise ValueError(f"{fname}: kernel_size must have 1 to 3 entries, got {len(kernel_size)}: {kernel_size!r}")
    return len(kernel_size)


def _check_bias(bias, fname: str) -> bool:
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"{fname}: bias must be True or False, got {type(bias).__name__}")
    return bool(bias)


def _count(c_in, c_out, kernel_size, out_size, groups, bias, fname: str, taps=None) -> LayerCost:
    """The one formula. ``taps``: multiplications per output and input channel, if not ``prod(kernel)``."""
    c_in, c_out = positive_int(c_in, "c_in", fname), positive_int(c_out, "c_out", fname)
    groups = positive_int(groups, "groups", fname)
    n = _dims(kernel_size, fname)
    kernel = positive_tuple(kernel_size, n, "kernel_size", fname)
    out = positive_tuple(out_size, n, "out_size", fname)
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fname}: groups={groups} must divide c_in={c_in} and c_out={c_out}")
    weights = c_out * (c_in // groups) * prod(kernel)
    per_output = (c_in // groups) * (prod(kernel) if taps is None else taps)
    return LayerCost(
        params=weights + (c_out if _check_bias(bias, fname) else 0),
        macs=c_out * prod(out) * per_output,
    )


def conv_cost(c_in: int, c_out: int, kernel_size, out_size, groups: int = 1, bias: bool = False) -> LayerCost:
    """Weights and MACs of a (standard or grouped) convolution producing ``c_out`` maps of ``out_size``.

    Parameters
    ----------
    c_in, c_out : int, positive
    kernel_size : int or tuple of ints
        ``k`` (a ``k x k`` kernel) or ``(kH, kW)`` (or ``(k,)`` in 1-D).
    out_size : int or tuple of ints
        Spatial size of the output, one entry per kernel dimension.
    groups : int, dividing ``c_in`` and ``c_out``
    bias : bool
        Whether to count the ``c_out`` bias weights.

    Returns
    -------
    LayerCost
        ``params = c_out * (c_in / groups) * prod(kernel) (+ c_out)``,
        ``macs = c_out * prod(out_size) * (c_in / groups) * prod(kernel)``, per sample.

    Raises
    ------
    TypeError
        If a count is not an int (``conv_cost(2.5, ...)``) or ``bias`` not a bool.
    ValueError
        If a count is not positive, or ``groups`` does not divide the channels.
    """
    return _count(c_in, c_out, kernel_size, out_size, groups, bias, "conv_cost")


def depthwise_cost(channels: int, kernel_size, out_size, depth_multiplier: int = 1, bias: bool = False) -> LayerCost:
    """A depthwise convolution: ``groups = channels``, ``channels * depth_multiplier`` filters of one channel each."""
    fname = "depthwise_cost"
    c = positive_int(channels, "channels", fname)
    m = positive_int(depth_multiplier, "depth_multiplier", fname)
    return _count(c, c * m, kernel_size, out_size, c, bias, fname)


def pointwise_cost(c_in: int, c_out: int, out_size, groups: int = 1, bias: bool = False) -> LayerCost:
    """A ``1 x 1`` convolution (``groups`` as in ShuffleNet's grouped 1x1); ``out_size`` an int means a square map."""
    n = len(out_size) if isinstance(out_size, (tuple, list)) else 2
    return _count(c_in, c_out, (1,) * n, out_size, groups, bias, "pointwise_cost")


def separable_cost(c_in: int, c_out: int, kernel_size, out_size, depth_multiplier: int = 1, bias: bool = False):
    """Cost of a depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` one.

    Returns ``(depthwise, pointwise)`` as two :class:`LayerCost`. Relative to a
    standard convolution the ratio is ``1 / c_out + 1 / k^2`` (Howard et al.
    2017, section 3.1) for ``depth_multiplier = 1``, for weights and MACs alike.
    """
    fname = "separable_cost"
    c_in = positive_int(c_in, "c_in", fname)
    m = positive_int(depth_multiplier, "depth_multiplier", fname)
    n = _dims(kernel_size, fname)
    depthwise = _count(c_in, c_in * m, kernel_size, out_size, c_in, bias, fname)
    pointwise = _count(c_in * m, c_out, (1,) * n, out_size, 1, bias, fname)
    return depthwise, pointwise


def dilated_cost(
    c_in: int,
    c_out: int,
    kernel_size,
    out_size,
    dilation=1,
    groups: int = 1,
    bias: bool = False,
    zero_inserted: bool = False,
) -> LayerCost:
    """A dilated convolution: the same as :func:`conv_cost`, unless it is computed by zero insertion.

    The direct (gap) form multiplies each of the ``k`` taps per dimension
    once, whatever the dilation. The zero-insertion form convolves with
    ``dilate_kernel(weight, d)``, ``d (k - 1) + 1`` taps per dimension, and
    multiplies by every one of them, zeros included: ``macs`` grows, the
    weights (``params``) do not.
    """
    fname = "dilated_cost"
    n = _dims(kernel_size, fname)
    kernel = positive_tuple(kernel_size, n, "kernel_size", fname)
    dil = positive_tuple(dilation, n, "dilation", fname)
    if not isinstance(zero_inserted, bool):
        raise TypeError(f"{fname}: zero_inserted must be True or False, got {type(zero_inserted).__name__}")
    taps = prod(effective_kernel_size(k, d) for k, d in zip(kernel, dil)) if zero_inserted else None
    return _count(c_in, c_out, kernel, out_size, groups, bias, fname, taps)


def dilated_kernel_macs(c_in: int, c_out: int, kernel_size, dilation, out_size) -> int:
    """MACs of a dilated convolution done the wasteful way: zeros inserted into the kernel.

    The zero-inserted kernel has ``k + (k - 1)(d - 1)`` taps per dimension, and
    each of them is multiplied, zeros included (:func:`dilated_cost` with ``zero_inserted=True``).
    """
    return dilated_cost(c_in, c_out, kernel_size, out_size, dilation, zero_inserted=True).macs


def linear_cost(in_features: int, out_features: int, bias: bool = True, rows: int = 1) -> LayerCost:
    """A fully connected layer applied to ``rows`` vectors per sample: a ``1 x 1`` convolution over ``rows`` positions.

    ``params = in * out (+ out)``, ``macs = rows * in * out``. ``rows`` is 1 for
    a classifier on a pooled vector, ``L`` for a layer applied at each of
    ``L`` positions (``torch.nn.Linear`` on an ``(N, L, in)`` input).
    """
    return _count(in_features, out_features, (1,), rows, 1, bias, "linear_cost")


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
    fname = "inverted_residual_cost"
    c_in, c_out = positive_int(c_in, "c_in", fname), positive_int(c_out, "c_out", fname)
    size, t = positive_int(size, "size", fname), positive_int(expansion, "expansion", fname)
    stride, k = positive_int(stride, "stride", fname), positive_int(kernel_size, "kernel_size", fname)
    if k % 2 == 0:
        raise ValueError(f"{fname}: kernel_size must be odd (padding k // 2 keeps the size), got {k}")
    mid = t * c_in
    out = conv_output_size(size, k, stride=stride, padding=k // 2)
    expand = _count(c_in, mid, 1, size, 1, False, fname) if t > 1 else None
    depthwise = _count(mid, mid, k, out, mid, False, fname)
    project = _count(mid, c_out, 1, out, 1, False, fname)
    return {
        "expand": expand,
        "depthwise": depthwise,
        "project": project,
        "total": (expand or ZERO) + depthwise + project,
        "mid_channels": mid,
        "out_size": out,
        "residual": stride == 1 and c_in == c_out,
    }


def _shape(value, name: str, fname: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) for s in value
    ):
        raise TypeError(f"{fname}: {name} must be a tuple of ints, got {value!r}")
    return tuple(int(s) for s in value)


def conv_macs(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, zero_inserted: bool = False) -> int:
    """Multiply-adds of one 2-D (or 1-D) convolution call, counted from the shapes, batch included.

    The call is validated as :func:`convbook.conv2d` would validate it (on
    zero-byte stand-ins, so nothing is allocated), then counted by
    :func:`dilated_cost` for each of the ``N`` samples.

    Parameters
    ----------
    x_shape : tuple, (N, C_in, H, W) or (N, C_in, L)
    weight_shape : tuple, (C_out, C_in // groups, kH, kW) or (C_out, C_in // groups, k)
    stride, padding, dilation, groups : as for :func:`convbook.conv2d` (padding may be 'same'/'valid')
    zero_inserted : bool
        Count the multiplications of the zero-insertion implementation, which
        multiplies by every entry of the ``d (k - 1) + 1`` wide kernel.

    Returns
    -------
    int
        ``N C_out H_out W_out (C_in / groups) K`` with ``K = kH kW`` for gap
        sampling and ``K = (dH (kH - 1) + 1)(dW (kW - 1) + 1)`` for zero insertion.
    """
    fname = "conv_macs"
    x_shape, weight_shape = _shape(x_shape, "x_shape", fname), _shape(weight_shape, "weight_shape", fname)
    nd = len(weight_shape) - 2
    if nd not in (1, 2) or len(x_shape) != nd + 2:
        raise ValueError(
            f"{fname}: need x_shape of length 3 or 4 and weight_shape of the same length, "
            f"got {x_shape} and {weight_shape}"
        )
    # validate the call on stand-ins whose strides are 0 bytes: no memory
    x = np.broadcast_to(np.zeros((), dtype=np.float64), x_shape)
    w = np.broadcast_to(np.zeros((), dtype=np.float64), weight_shape)
    a = parse_conv_args(x, w, None, stride, padding, dilation, groups, nd=nd, fname=fname)
    c_out, _, kH, kW = a.weight.shape  # 1-D calls are lifted to a height of one
    per_sample = dilated_cost(
        a.x.shape[1], c_out, (kH, kW), a.out_size, a.dilation, a.groups, zero_inserted=zero_inserted
    )
    return a.x.shape[0] * per_sample.macs


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
    fname = "conv_intensity"
    size = positive_int(size, "size", fname)
    batch, itemsize = positive_int(batch, "batch", fname), positive_int(itemsize, "itemsize", fname)
    cost = _count(c_in, c_out, kernel_size, size, groups, False, fname)
    macs = batch * cost.macs
    nbytes = itemsize * (batch * (c_in + c_out) * size * size + cost.params)
    return {"macs": macs, "flops": 2 * macs, "bytes": nbytes, "intensity": 2 * macs / nbytes}


def cost_shares(rows: list[dict], bias: bool = True) -> dict:
    """Each layer kind's share (in per cent) of the weights and multiply-adds of a table of layers.

    ``rows`` are dicts with ``kind``, ``params`` and ``macs`` (and, where a
    layer has biases that should be left out, ``bias``: their count), as
    ``convbook.nets.architectures.mobilenet_v1_costs`` returns them.
    ``bias=False`` leaves those biases out of the weights (MobileNet v1's only
    biases are its classifier's; the paper's Table 2 apparently leaves them out).

    Returns
    -------
    dict
        ``{kind: {'params': %, 'macs': %}}`` in order of first appearance, and
        ``'total': {'params': int, 'macs': int}``.
    """
    fname = "cost_shares"
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"{fname}: rows must be a non-empty list of dicts with 'kind', 'params' and 'macs'")
    _check_bias(bias, fname)
    params = {r["kind"]: 0 for r in rows}
    macs = dict(params)
    for r in rows:
        params[r["kind"]] += r["params"] - (0 if bias else r.get("bias", 0))
        macs[r["kind"]] += r["macs"]
    total_p, total_m = sum(params.values()), sum(macs.values())
    if total_p <= 0 or total_m <= 0:
        raise ValueError(
            f"{fname}: the rows must hold some weights and some multiply-adds, got {total_p} and {total_m}"
        )
    out = {k: {"params": 100 * params[k] / total_p, "macs": 100 * macs[k] / total_m} for k in params}
    out["total"] = {"params": total_p, "macs": total_m}
    return out
