"""The book's one convolution unit: a convolution, then batch norm, then an activation (imports torch).

:func:`conv_bn_relu` builds every conv-BN-ReLU of the nets layer: MobileNet's
units (``convbook.nets.models``), the small CNN (``convbook.nets.small_cnn``),
the segmentation networks (``convbook.nets.segmentation``) and the 1x1
chapter's blocks (``convbook.nets.blocks``). Each part is optional, so the same
builder gives a bare convolution, conv-BN (a linear bottleneck), conv-ReLU
(the networks that predate batch norm) and conv-BN-ReLU6 (MobileNetV2).
"""

from __future__ import annotations

from torch import nn

from convbook._args import positive_int

__all__ = ["ACTIVATIONS", "NORMS", "conv_bn_relu"]

NORMS = ("batch", None)
ACTIVATIONS = ("relu", "relu6", None)


def conv_bn_relu(
    c_in: int,
    c_out: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    norm: str | None = "batch",
    activation: str | None = "relu",
    bias: bool | None = None,
) -> nn.Sequential:
    """``Conv2d``, then ``BatchNorm2d`` (``norm='batch'``), then a ReLU (``activation='relu'``).

    Parameters
    ----------
    c_in, c_out, kernel_size : int
    stride, dilation, groups : int
        As in ``nn.Conv2d``; ``groups=c_in`` is a depthwise convolution.
    norm : {'batch', None}
        ``None``: no batch norm.
    activation : {'relu', 'relu6', None}
        The activation after the norm: ``nn.ReLU(inplace=True)``,
        ``nn.ReLU6(inplace=True)`` (MobileNetV2), or none (a linear unit).
    bias : bool, optional
        Whether the convolution has a bias. Default: only without batch norm
        (batch norm's own shift makes a bias before it redundant).

    Returns
    -------
    nn.Sequential
        ``[conv, bn, activation]`` without the parts left out, so that
        ``unit[0]`` is always the convolution. Padding ``dilation * (kernel_size // 2)``:
        an odd kernel at stride 1 keeps the size. Input ``(N, c_in, H, W)``,
        output ``(N, c_out, H_out, W_out)`` with
        ``H_out = (H + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1``.
    """
    fname = "conv_bn_relu"
    for name, value in (("c_in", c_in), ("c_out", c_out), ("kernel_size", kernel_size)):
        positive_int(value, name, fname)
    for name, value in (("stride", stride), ("dilation", dilation), ("groups", groups)):
        positive_int(value, name, fname)
    if norm not in NORMS:
        raise ValueError(f"{fname}: norm must be 'batch' or None, got {norm!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{fname}: activation must be 'relu', 'relu6' or None, got {activation!r}")
    if bias is None:
        bias = norm is None
    elif not isinstance(bias, bool):
        raise TypeError(f"{fname}: bias must be a bool or None, got {type(bias).__name__}")
    padding = dilation * (kernel_size // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    ]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(c_out))
    if activation == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif activation == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)
