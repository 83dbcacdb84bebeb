"""Counting weights and multiply-adds (MACs) of convolution layers.

One multiply-add (MAC) is one ``a * b + c``. A convolution output element of a
layer with ``C_in / groups`` input channels per group and a ``kH x kW`` kernel
costs ``(C_in / groups) * kH * kW`` MACs; FLOPs are ``2 x`` MACs. Biases are
counted only where asked for, and their additions are not counted as MACs.
A dilated kernel costs the same as an undilated one: the gaps are never
multiplied (a zero-inserted kernel would be; see ``dilated_kernel_macs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from numbers import Integral


def _int_tuple(value, n: int, name: str, fname: str):
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ValueError(f"{fname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, Integral) or v < 1 for v in value):
        raise ValueError(f"{fname}: {name} must contain positive ints, got {value!r}")
    return tuple(int(v) for v in value)


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


def conv_cost(c_in: int, c_out: int, kernel_size, out_size, groups: int = 1, bias: bool = False) -> LayerCost:
    """Weights and MACs of a convolution producing ``c_out`` maps of ``out_size``.

    Parameters
    ----------
    c_in, c_out : int
    kernel_size : int or tuple
        ``k`` or ``(kH, kW)`` (or ``(k,)`` in 1-D).
    out_size : int or tuple
        Spatial size of the output, same length as ``kernel_size``.
    groups : int
    bias : bool
        Whether to count the ``c_out`` bias weights.

    Returns
    -------
    LayerCost
        ``params = c_out * (c_in / groups) * prod(kernel) (+ c_out)``,
        ``macs = c_out * prod(out_size) * (c_in / groups) * prod(kernel)``.
    """
    fname = "conv_cost"
    n = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 2
    kernel = _int_tuple(kernel_size, n, "kernel_size", fname)
    out = _int_tuple(out_size, n, "out_size", fname)
    c_in, c_out, groups = _int_tuple((c_in, c_out, groups), 3, "c_in, c_out, groups", fname)
    if c_in % groups or c_out % groups:
        raise ValueError(f"{fname}: groups={groups} must divide c_in={c_in} and c_out={c_out}")
    per_output = (c_in // groups) * prod(kernel)
    params = c_out * per_output + (c_out if bias else 0)
    return LayerCost(params=params, macs=c_out * prod(out) * per_output)


def dilated_kernel_macs(c_in: int, c_out: int, kernel_size: int, dilation: int, out_size) -> int:
    """MACs of a dilated convolution done the wasteful way: zeros inserted into the kernel.

    The zero-inserted kernel has ``k + (k - 1)(d - 1)`` taps per dimension, and
    each of them is multiplied, zeros included.
    """
    k_eff = dilation * (kernel_size - 1) + 1
    return conv_cost(c_in, c_out, k_eff, out_size).macs


def separable_cost(c_in: int, c_out: int, kernel_size, out_size, depth_multiplier: int = 1, bias: bool = False):
    """Cost of a depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` one.

    Returns ``(depthwise, pointwise)`` as two :class:`LayerCost`. Relative to a
    standard convolution the ratio is ``1 / c_out + 1 / k^2`` (Howard et al.
    2017, section 3.1) for ``depth_multiplier = 1``, for weights and MACs alike.
    """
    mid = c_in * depth_multiplier
    depthwise = conv_cost(c_in, mid, kernel_size, out_size, groups=c_in, bias=bias)
    n = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 2
    pointwise = conv_cost(mid, c_out, (1,) * n, out_size, bias=bias)
    return depthwise, pointwise
