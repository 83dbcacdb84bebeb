"""Convolution arithmetic: output sizes, effective kernels and receptive fields.

Conventions (the book's and PyTorch's): ``dilation = 1`` is an ordinary
convolution; dilation ``d`` leaves ``d - 1`` gaps between taps, so a kernel of
size ``k`` spans ``k + (k - 1)(d - 1)`` input samples.
"""

from __future__ import annotations

from numbers import Integral

from convbook._args import positive_int


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``k + (k - 1)(d - 1) = d (k - 1) + 1``."""
    k = positive_int(kernel_size, "kernel_size", "effective_kernel_size")
    d = positive_int(dilation, "dilation", "effective_kernel_size")
    return d * (k - 1) + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one dimension.

    Dumoulin & Visin (2016), relationship 15::

        o = floor((i + 2p - k - (k - 1)(d - 1)) / s) + 1

    Parameters
    ----------
    size : int
        Input length ``i``.
    kernel_size, stride, dilation : int, positive
    padding : int, non-negative
        Padding added on *each* side.

    Returns
    -------
    int
        The output length, at least 1.

    Raises
    ------
    ValueError
        If the dilated kernel does not fit the padded input.
    """
    fname = "conv_output_size"
    i = positive_int(size, "size", fname)
    k = positive_int(kernel_size, "kernel_size", fname)
    s = positive_int(stride, "stride", fname)
    p = positive_int(padding, "padding", fname, minimum=0)
    d = positive_int(dilation, "dilation", fname)
    span = d * (k - 1) + 1
    if i + 2 * p < span:
        raise ValueError(
            f"{fname}: the effective kernel size d*(k-1)+1 = {span} does not fit the padded input i+2p = {i + 2 * p}"
        )
    return (i + 2 * p - span) // s + 1


def _layer(spec, index: int, fname: str) -> tuple[int, int, int]:
    if isinstance(spec, Integral) and not isinstance(spec, bool):
        spec = (spec,)
    if not isinstance(spec, (tuple, list)) or not 1 <= len(spec) <= 3:
        raise TypeError(f"{fname}: layers[{index}] must be a (kernel_size, stride, dilation) tuple, got {spec!r}")
    k, s, d = (*spec, 1, 1)[:3]
    return (
        positive_int(k, f"layers[{index}] kernel_size", fname),
        positive_int(s, f"layers[{index}] stride", fname),
        positive_int(d, f"layers[{index}] dilation", fname),
    )


def receptive_field(layers) -> int:
    """Receptive field, in input samples, of a stack of convolutions.

    Parameters
    ----------
    layers : sequence of (kernel_size, stride, dilation)
        From input to output. Shorter tuples default stride and dilation to 1.

    Returns
    -------
    int
        How many consecutive input samples (along one dimension) one output
        element depends on. Each layer widens the field by ``(k - 1) * d``
        times the product of the strides below it::

            r = 1 + sum_l (k_l - 1) d_l prod_{m < l} s_m

    Examples
    --------
    >>> receptive_field([(3, 1, 1)] * 3)
    7
    >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])
    15
    """
    fname = "receptive_field"
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"{fname}: layers must be a sequence of (kernel_size, stride, dilation) tuples")
    field, jump = 1, 1
    for index, spec in enumerate(layers):
        k, s, d = _layer(spec, index, fname)
        field += (k - 1) * d * jump
        jump *= s
    return field


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) padding torch uses for ``padding='same'`` at stride 1."""
    total = effective_kernel_size(kernel_size, dilation) - 1
    return total // 2, total - total // 2
