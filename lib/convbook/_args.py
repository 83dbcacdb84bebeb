"""Argument checking and normalisation shared by every public convolution.

Everything a caller can get wrong is caught here, before any arithmetic, and
reported as a ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind,
forbidden value). Messages name the function, the argument and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

_FLOAT_KINDS = "f"  # float16, float32, float64 (numpy kind code)
DILATION_NOTE = " (1 is an ordinary convolution)"
AS_IN_TORCH = " (as in torch)"


def positive_int(value, name: str, fname: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum`` (1: positive, 0: non-negative), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{fname}: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        rule = "a positive int" if minimum == 1 else f"an int >= {minimum}" if minimum > 1 else "a non-negative int"
        raise ValueError(f"{fname}: {name} must be {rule}, got {value}")
    return int(value)


def as_tuple(value, n: int, name: str, fname: str) -> tuple[int, ...]:
    """Turn an int or a length-``n`` sequence of ints into an ``n``-tuple."""
    if isinstance(value, bool):
        raise TypeError(f"{fname}: {name} must be an int or a tuple of {n} ints, got a bool")
    if isinstance(value, Integral):
        return (int(value),) * n
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{fname}: {name} must have {n} element(s), got {len(value)}: {value!r}")
        if not all(isinstance(v, Integral) and not isinstance(v, bool) for v in value):
            raise TypeError(f"{fname}: {name} must contain ints, got {value!r}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{fname}: {name} must be an int or a tuple of {n} ints, got {type(value).__name__}")


def positive_tuple(value, n: int, name: str, fname: str, note: str = "") -> tuple[int, ...]:
    """:func:`as_tuple`, then every entry at least 1; ``note`` is appended to the rule in the message."""
    values = as_tuple(value, n, name, fname)
    if any(v < 1 for v in values):
        raise ValueError(f"{fname}: {name} must be positive{note}, got {values}")
    return values


def positive_int_list(values, name: str, fname: str, minimum: int = 1, item: str = "layer") -> list[int]:
    """A non-empty sequence of ints (one per ``item``), each at least ``minimum``; ``name[i]`` names a bad entry."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{fname}: {name} must be a sequence of ints, got {type(values).__name__}")
    values = list(values)
    if not values:
        raise ValueError(f"{fname}: {name} must name at least one {item}, got an empty sequence")
    return [positive_int(v, f"{name}[{i}]", fname, minimum) for i, v in enumerate(values)]


def real_number(value, name: str, fname: str) -> float:
    """``value`` as a float when it is a real number (bools excluded), or a ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{fname}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def as_array(a, name: str, fname: str) -> np.ndarray:
    """Return ``a`` as an ndarray; a torch tensor is refused with a hint (it would be copied silently)."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        raise TypeError(f"{fname}: {name} must be a NumPy array, got a torch tensor; call .numpy() first")
    return np.asarray(a)


def check_float_array(a, name: str, fname: str) -> np.ndarray:
    """Return ``a`` as an ndarray, refusing anything that is not floating point."""
    a = as_array(a, name, fname)
    if a.dtype.kind not in _FLOAT_KINDS:
        raise TypeError(f"{fname}: {name} must have a floating-point dtype, got {a.dtype}")
    return a


def check_dtype_match(a: np.ndarray, name: str, dtype, fname: str, note: str = AS_IN_TORCH) -> None:
    """Refuse ``a`` when its dtype is not the input's, with a ``TypeError`` (no silent cast).

    For a weight or a bias torch refuses the mix too (a ``RuntimeError``); ``note`` says so in the message.
    """
    if a.dtype != dtype:
        raise TypeError(f"{fname}: {name} dtype {a.dtype} must match input dtype {dtype}{note}")


def check_bias(bias, c_out: int, dtype, fname: str) -> np.ndarray | None:
    """``None``, or a floating-point ``(c_out,)`` bias of the input's dtype."""
    if bias is None:
        return None
    bias = check_float_array(bias, "bias", fname)
    check_dtype_match(bias, "bias", dtype, fname)
    if bias.shape != (c_out,):
        raise ValueError(f"{fname}: bias must have shape (C_out,) = ({c_out},), got {bias.shape}")
    return bias


def resolve_padding(padding, n: int, kernel: tuple, dilation: tuple, stride: tuple, fname: str):
    """Padding as ``n`` (before, after) pairs, following torch's rules.

    ``'valid'`` is no padding. ``'same'`` pads a total of ``d * (k - 1)`` per
    dimension, ``total // 2`` before and the rest after, so an even effective
    kernel gets its extra row or column at the end (as torch does). ``'same'``
    is only defined for stride 1.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fname}: padding='same' requires stride 1 in every dimension, got stride={stride}")
            pairs = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{fname}: padding must be an int, a tuple, 'valid' or 'same', got the string {padding!r}")
    pad = as_tuple(padding, n, "padding", fname)
    if any(p < 0 for p in pad):
        raise ValueError(f"{fname}: padding must be non-negative, got {pad}")
    return tuple((p, p) for p in pad)


@dataclass(frozen=True)
class ConvArgs:
    """A validated convolution call, always in 2-D form.

    1-D calls are lifted to 2-D with a height of one, so that a single engine
    serves both. ``x`` is always batched: ``(N, C_in, H, W)``.
    """

    x: np.ndarray  # (N, C_in, H, W)
    weight: np.ndarray  # (C_out, C_in // groups, kH, kW)
    bias: np.ndarray | None  # (C_out,)
    stride: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    groups: int
    unbatched: bool
    nd: int  # number of spatial dimensions of the original call (1 or 2)

    @property
    def out_size(self) -> tuple[int, int]:
        (_, _, H, W), (_, _, kH, kW) = self.x.shape, self.weight.shape
        sizes = []
        for size, k, s, (p0, p1), d in zip((H, W), (kH, kW), self.stride, self.pad, self.dilation):
            sizes.append((size + p0 + p1 - d * (k - 1) - 1) // s + 1)
        return tuple(sizes)

    def restore(self, out: np.ndarray) -> np.ndarray:
        """Undo the 2-D lifting and the batching of the inputs."""
        if self.nd == 1:
            out = out[:, :, 0, :]  # (N, C_out, 1, L) -> (N, C_out, L)
        if self.unbatched:
            out = out[0]
        return out


def parse_conv_args(x, weight, bias, stride, padding, dilation, groups, nd: int, fname: str) -> ConvArgs:
    """Validate a ``conv1d``/``conv2d`` call (torch's semantics) and lift it to 2-D."""
    x = check_float_array(x, "input x", fname)
    weight = check_float_array(weight, "weight", fname)
    check_dtype_match(weight, "weight", x.dtype, fname)
    if weight.ndim != nd + 2:
        raise ValueError(
            f"{fname}: weight must be {nd + 2}-D (C_out, C_in/groups{', kH, kW' if nd == 2 else ', k'}), "
            f"got {weight.ndim}-D with shape {weight.shape}"
        )
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{fname}: input x must be {nd + 1}-D (unbatched) or {nd + 2}-D (batched), "
            f"got {x.ndim}-D with shape {x.shape}"
        )
    groups = positive_int(groups, "groups", fname)
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    c_in, c_out, c_per_group = x.shape[1], weight.shape[0], weight.shape[1]
    if c_in % groups != 0:
        raise ValueError(f"{fname}: groups={groups} must divide the input channels C_in={c_in}")
    if c_out % groups != 0:
        raise ValueError(f"{fname}: groups={groups} must divide the output channels C_out={c_out}")
    if c_per_group * groups != c_in:
        raise ValueError(
            f"{fname}: input has C_in={c_in} channels but weight expects "
            f"weight.shape[1] * groups = {c_per_group} * {groups} = {c_per_group * groups}"
        )
    if any(s == 0 for s in x.shape[2:]) or any(s == 0 for s in weight.shape):
        raise ValueError(f"{fname}: input x {x.shape} and weight {weight.shape} must have no zero-size dimension")
    stride = positive_tuple(stride, nd, "stride", fname)
    dilation = positive_tuple(dilation, nd, "dilation", fname, DILATION_NOTE)
    kernel = weight.shape[2:]
    pad = resolve_padding(padding, nd, kernel, dilation, stride, fname)
    for axis, size, k, d, (p0, p1) in zip("HW"[2 - nd :], x.shape[2:], kernel, dilation, pad):
        effective = d * (k - 1) + 1
        if size + p0 + p1 < effective:
            raise ValueError(
                f"{fname}: the effective kernel size d*(k-1)+1 = {effective} along {axis if nd == 2 else 'L'} "
                f"does not fit the padded input of size {size}+{p0}+{p1} = {size + p0 + p1}"
            )
    bias = check_bias(bias, c_out, x.dtype, fname)
    if nd == 1:  # lift to 2-D: a height of one, with trivial settings along it
        x, weight = x[:, :, None, :], weight[:, :, None, :]
        stride, dilation, pad = (1, *stride), (1, *dilation), ((0, 0), *pad)
    return ConvArgs(x, weight, bias, stride, pad, dilation, groups, unbatched, nd)


def pad_input(x: np.ndarray, pad) -> np.ndarray:
    """Zero-pad the two spatial axes of ``x`` (N, C, H, W) by ``pad`` = ((top, bottom), (left, right))."""
    if all(p == 0 for pair in pad for p in pair):
        return x
    return np.pad(x, ((0, 0), (0, 0), *pad))
