"""Model builders used by the chapters (imports torch).

* :func:`mobilenet_v1` and :func:`mobilenet_v1_full_conv`: MobileNet v1
  (Howard et al. 2017, Table 1) and the same network with every
  depthwise-separable block replaced by one standard 3x3 convolution.
* :func:`small_cnn`: a small image classifier for the separable chapter's
  training experiment, in a standard and a depthwise-separable version.

Every builder returns a plain ``nn.Sequential`` (nested where it helps), so
that :func:`convbook.profile` sees named ``Conv2d`` and ``Linear`` layers.
"""

from __future__ import annotations

from numbers import Real

from torch import nn

#: MobileNet v1's body after the first convolution (Table 1 of Howard et al. 2017):
#: one ``(output channels, stride)`` pair per depthwise-separable block, the stride
#: being that of the block's depthwise 3x3 convolution. The paper's table lists the
#: 13th block's depthwise convolution as "s2" but gives 7x7 as both its input and the
#: next layer's input size, so its stride is 1 (as in the reference implementation).
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


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """``Conv2d`` (no bias, 'same'-style padding ``k // 2``), then BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def separable_block(c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3) -> nn.Sequential:
    """MobileNet's block (its Figure 3, right): depthwise conv-BN-ReLU, then pointwise conv-BN-ReLU."""
    return nn.Sequential(
        _conv_bn_relu(c_in, c_in, kernel_size, stride, groups=c_in),  # depthwise
        _conv_bn_relu(c_in, c_out, 1),  # pointwise
    )


def standard_block(c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3) -> nn.Sequential:
    """The full-convolution counterpart of :func:`separable_block` (its Figure 3, left)."""
    return _conv_bn_relu(c_in, c_out, kernel_size, stride)


def _width(channels: int, alpha: float) -> int:
    return max(1, int(channels * alpha))


def _check_builder_args(width_multiplier, num_classes, fname: str) -> None:
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, Real):
        raise TypeError(f"{fname}: width_multiplier must be a number, got {type(width_multiplier).__name__}")
    if not 0 < width_multiplier <= 4:
        raise ValueError(f"{fname}: width_multiplier must be in (0, 4], got {width_multiplier}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{fname}: num_classes must be a positive int, got {num_classes!r}")


def _mobilenet(block, width_multiplier: float, num_classes: int, in_channels: int) -> nn.Sequential:
    c = _width(MOBILENET_V1_STEM, width_multiplier)
    layers = [_conv_bn_relu(in_channels, c, 3, stride=2)]
    for c_out, stride in MOBILENET_V1_BLOCKS:
        c_out = _width(c_out, width_multiplier)
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
    _check_builder_args(width_multiplier, num_classes, "mobilenet_v1")
    return _mobilenet(separable_block, width_multiplier, num_classes, in_channels)


def mobilenet_v1_full_conv(
    width_multiplier: float = 1.0, num_classes: int = 1000, in_channels: int = 3
) -> nn.Sequential:
    """MobileNet v1 with each depthwise-separable block replaced by a standard 3x3 convolution.

    The "Conv MobileNet" of the paper's Table 4: same depth, widths, strides and
    classifier as :func:`mobilenet_v1`.
    """
    _check_builder_args(width_multiplier, num_classes, "mobilenet_v1_full_conv")
    return _mobilenet(standard_block, width_multiplier, num_classes, in_channels)


def small_cnn(
    separable: bool, channels=(16, 32, 64), num_classes: int = 4, in_channels: int = 1, kernel_size: int = 3
) -> nn.Sequential:
    """A small classifier: a 3x3 stem, then one block per later width, each halving the resolution.

    Parameters
    ----------
    separable : bool
        ``False``: every block is a standard ``k x k`` convolution.
        ``True``: every block is a depthwise ``k x k`` then a pointwise ``1 x 1``
        convolution (the stem stays standard: a one-channel input has nothing to separate).
    channels : sequence of int
        Width of the stem, then of each block.
    num_classes, in_channels, kernel_size : int

    Returns
    -------
    nn.Sequential
        Input ``(N, in_channels, H, W)``, output ``(N, num_classes)``. A block
        is conv-BN-ReLU (twice when separable) with stride 2; global average
        pooling and a linear layer end the network.
    """
    fname = "small_cnn"
    if not isinstance(separable, bool):
        raise TypeError(f"{fname}: separable must be a bool, got {type(separable).__name__}")
    channels = tuple(channels)
    if len(channels) < 2 or not all(isinstance(c, int) and c > 0 for c in channels):
        raise ValueError(f"{fname}: channels must hold at least two positive ints, got {channels!r}")
    block = separable_block if separable else standard_block
    layers = [_conv_bn_relu(in_channels, channels[0], kernel_size)]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers.append(block(c_in, c_out, stride=2, kernel_size=kernel_size))
    return nn.Sequential(
        nn.Sequential(*layers),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], num_classes)),
    )
