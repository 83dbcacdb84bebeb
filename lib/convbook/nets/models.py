"""Model builders used by the chapters (imports torch).

* :func:`mobilenet_v1` and :func:`mobilenet_v1_full_conv`: MobileNet v1
  (Howard et al. 2017, Table 1) and the same network with every
  depthwise-separable block replaced by one standard 3x3 convolution.
* :func:`separable_block` and :func:`standard_block`: MobileNet's block and its
  full-convolution counterpart; ``separable_block(..., mid_activation=False)``
  is Xception's separable convolution, with nothing between its two steps.
* :class:`InvertedResidual`: MobileNetV2's expand - depthwise - linear project
  block (Sandler et al. 2018); :func:`convbook.separable.inverted_residual_cost`
  counts it without torch.

Every builder returns an ``nn.Sequential`` (nested where it helps), so that
:func:`convbook.nets.profiler.profile` sees named ``Conv2d`` and ``Linear`` layers; every
unit is :func:`convbook.nets.layers.conv_bn_relu`. The book's small CNN, built
from the same blocks, is :class:`convbook.nets.small_cnn.SmallCNN`.
"""

from __future__ import annotations

from torch import nn

from convbook._args import positive_int, real_number
from convbook.nets.architectures import MOBILENET_V1_BLOCKS, MOBILENET_V1_STEM, scaled_width
from convbook.nets.layers import conv_bn_relu

__all__ = [
    "MOBILENET_V1_BLOCKS",
    "MOBILENET_V1_STEM",
    "InvertedResidual",
    "mobilenet_v1",
    "mobilenet_v1_full_conv",
    "separable_block",
    "standard_block",
]


def separable_block(
    c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3, mid_activation: bool = True
) -> nn.Sequential:
    """A depthwise-separable block: a depthwise ``k x k`` step, then a pointwise ``1 x 1`` step.

    ``mid_activation=True``: MobileNet's block (its Figure 3, right), depthwise
    conv-BN-ReLU, then pointwise conv-BN-ReLU. ``mid_activation=False``:
    Xception's separable convolution (Chollet 2017), nothing between the two
    steps (no batch norm, no ReLU), then BN-ReLU after the pointwise step; the
    two steps then form one linear map, a standard convolution with a
    rank-constrained kernel (``convbook.separable.separable_to_standard``).

    Input ``(N, c_in, H, W)``; output ``(N, c_out, H_out, W_out)`` with
    ``H_out = (H + 2 (k // 2) - k) // stride + 1``.
    """
    if not isinstance(mid_activation, bool):
        raise TypeError(f"separable_block: mid_activation must be a bool, got {type(mid_activation).__name__}")
    if mid_activation:
        depthwise = conv_bn_relu(c_in, c_in, kernel_size, stride, groups=c_in)
    else:  # a bare convolution: the pointwise step follows at once
        depthwise = conv_bn_relu(c_in, c_in, kernel_size, stride, groups=c_in, norm=None, activation=None, bias=False)
    return nn.Sequential(depthwise, conv_bn_relu(c_in, c_out, 1))


def standard_block(c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3) -> nn.Sequential:
    """The full-convolution counterpart of :func:`separable_block` (its Figure 3, left)."""
    return conv_bn_relu(c_in, c_out, kernel_size, stride)


def _check_builder_args(width_multiplier, num_classes, in_channels, fname: str) -> None:
    """MobileNet's builder arguments: a width multiplier in (0, 4], positive class and channel counts."""
    if not 0 < real_number(width_multiplier, "width_multiplier", fname) <= 4:
        raise ValueError(f"{fname}: width_multiplier must be in (0, 4], got {width_multiplier}")
    positive_int(num_classes, "num_classes", fname)
    positive_int(in_channels, "in_channels", fname)


def _mobilenet(block, width_multiplier: float, num_classes: int, in_channels: int) -> nn.Sequential:
    c = scaled_width(MOBILENET_V1_STEM, width_multiplier)
    layers = [conv_bn_relu(in_channels, c, 3, stride=2)]
    for c_out, stride in MOBILENET_V1_BLOCKS:
        c_out = scaled_width(c_out, width_multiplier)
        layers.append(block(c, c_out, stride))
        c = c_out
    features = nn.Sequential(*layers)
    classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
    return nn.Sequential(features, classifier)


def mobilenet_v1(width_multiplier: float = 1.0, num_classes: int = 1000, in_channels: int = 3) -> nn.Sequential:
    """MobileNet v1 (Howard et al. 2017, Table 1).

    A 3x3 stride-2 convolution to 32 channels, 13 depthwise-separable blocks
    (:data:`MOBILENET_V1_BLOCKS`), global average pooling and a fully connected
    layer; batch norm and ReLU follow every convolution. The width multiplier
    ``alpha`` scales every layer's channels to ``int(alpha * channels)``.

    Parameters
    ----------
    width_multiplier : float in (0, 4], default 1.0
    num_classes : int, default 1000
    in_channels : int, default 3

    Returns
    -------
    nn.Sequential
        ``model[0]`` are the features (``model[0][0]`` the stem, ``model[0][1:]``
        the blocks), ``model[1]`` the classifier. Input ``(N, in_channels, H, W)``
        (224 x 224 in the paper), output ``(N, num_classes)`` logits.
    """
    _check_builder_args(width_multiplier, num_classes, in_channels, "mobilenet_v1")
    return _mobilenet(separable_block, width_multiplier, num_classes, in_channels)


def mobilenet_v1_full_conv(
    width_multiplier: float = 1.0, num_classes: int = 1000, in_channels: int = 3
) -> nn.Sequential:
    """MobileNet v1 with each depthwise-separable block replaced by a standard 3x3 convolution.

    The "Conv MobileNet" of the paper's Table 4: same depth, widths, strides and
    classifier as :func:`mobilenet_v1`.
    """
    _check_builder_args(width_multiplier, num_classes, in_channels, "mobilenet_v1_full_conv")
    return _mobilenet(standard_block, width_multiplier, num_classes, in_channels)


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block with a linear bottleneck (Sandler et al. 2018, Table 1, Fig. 3b).

    ``expand``: 1x1 conv-BN-ReLU6 from ``c_in`` to ``t * c_in`` channels
    (absent when ``t == 1``); ``depthwise``: ``k x k`` depthwise conv-BN-ReLU6
    with stride ``s``; ``project``: 1x1 conv-BN down to ``c_out`` channels,
    *without* an activation (the linear bottleneck). When ``s == 1`` and
    ``c_in == c_out`` the input is added to the output (the shortcut joins
    the thin bottlenecks, not the wide expanded layers: "inverted").
    Convolutions have no bias. :func:`convbook.separable.inverted_residual_cost`
    gives the same weights and multiply-adds as :func:`convbook.nets.profiler.profile`.

    Parameters
    ----------
    c_in, c_out : int
    stride : int, 1 or 2
    expansion : int
        The expansion factor ``t`` (6 in most of the paper's blocks).
    kernel_size : int, odd

    Input ``(N, c_in, H, W)``; output ``(N, c_out, H_out, W_out)``,
    ``H_out = (H + 2 (k // 2) - k) // s + 1``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expansion: int = 6, kernel_size: int = 3):
        super().__init__()
        fname = "InvertedResidual"
        for name, v in (("c_in", c_in), ("c_out", c_out), ("expansion", expansion), ("kernel_size", kernel_size)):
            positive_int(v, name, fname)
        if stride not in (1, 2) or isinstance(stride, bool):
            raise ValueError(f"{fname}: stride must be 1 or 2, got {stride!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"{fname}: kernel_size must be odd, got {kernel_size}")
        mid = expansion * c_in
        layers = []
        if expansion > 1:
            layers.append(conv_bn_relu(c_in, mid, 1, activation="relu6"))  # expand
        layers.append(conv_bn_relu(mid, mid, kernel_size, stride, groups=mid, activation="relu6"))  # depthwise
        layers.append(conv_bn_relu(mid, c_out, 1, activation=None))  # project: linear
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out
