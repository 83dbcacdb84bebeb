"""Model builders used by the chapters (imports torch).

* :func:`mobilenet_v1` and :func:`mobilenet_v1_full_conv`: MobileNet v1
  (Howard et al. 2017, Table 1) and the same network with every
  depthwise-separable block replaced by one standard 3x3 convolution.
* :func:`small_cnn`: the book's small image classifier (conv-BN-ReLU units)
  for the shapes task, in a standard and a depthwise-separable version. Its
  standard version is also ``convbook.nets.blocks.SmallCNN()`` of the 1x1 chapter
  (same layers, created in the same order, so the same seed gives the same
  weights); the separable chapter uses ``small_cnn`` because it needs the
  separable twin, the 1x1 chapter ``SmallCNN`` because it adds 1x1 units.
* :func:`separable_block` and :func:`standard_block`: MobileNet's block and its
  full-convolution counterpart; ``separable_block(..., mid_activation=False)``
  is Xception's separable convolution, with nothing between its two steps.
* :class:`InvertedResidual`: MobileNetV2's expand - depthwise - linear project
  block (Sandler et al. 2018); :func:`convbook.separable.inverted_residual_cost`
  counts it without torch.

Every builder returns an ``nn.Sequential`` (nested where it helps), so that
:func:`convbook.profile` sees named ``Conv2d`` and ``Linear`` layers.
"""

from __future__ import annotations

from numbers import Real

from torch import nn

from convbook.separable import MOBILENET_V1_BLOCKS, MOBILENET_V1_STEM, scaled_width

__all__ = [
    "MOBILENET_V1_BLOCKS",
    "MOBILENET_V1_STEM",
    "InvertedResidual",
    "mobilenet_v1",
    "mobilenet_v1_full_conv",
    "separable_block",
    "small_cnn",
    "standard_block",
]


def _conv_bn_relu(c_in: int, c_out: int, kernel_size: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """``Conv2d`` (no bias, 'same'-style padding ``k // 2``), then BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


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
        return nn.Sequential(
            _conv_bn_relu(c_in, c_in, kernel_size, stride, groups=c_in),  # depthwise
            _conv_bn_relu(c_in, c_out, 1),  # pointwise
        )
    depthwise = nn.Conv2d(
        c_in, c_in, kernel_size, stride=stride, padding=kernel_size // 2, groups=c_in, bias=False
    )  # nothing after it: the pointwise step follows at once
    return nn.Sequential(nn.Sequential(depthwise), _conv_bn_relu(c_in, c_out, 1))


def standard_block(c_in: int, c_out: int, stride: int = 1, kernel_size: int = 3) -> nn.Sequential:
    """The full-convolution counterpart of :func:`separable_block` (its Figure 3, left)."""
    return _conv_bn_relu(c_in, c_out, kernel_size, stride)


def _check_builder_args(width_multiplier, num_classes, fname: str) -> None:
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, Real):
        raise TypeError(f"{fname}: width_multiplier must be a number, got {type(width_multiplier).__name__}")
    if not 0 < width_multiplier <= 4:
        raise ValueError(f"{fname}: width_multiplier must be in (0, 4], got {width_multiplier}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{fname}: num_classes must be a positive int, got {num_classes!r}")


def _mobilenet(block, width_multiplier: float, num_classes: int, in_channels: int) -> nn.Sequential:
    c = scaled_width(MOBILENET_V1_STEM, width_multiplier)
    layers = [_conv_bn_relu(in_channels, c, 3, stride=2)]
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
    separable: bool,
    channels=(16, 32, 64),
    num_classes: int = 4,
    in_channels: int = 1,
    kernel_size: int = 3,
    mid_activation: bool = True,
) -> nn.Sequential:
    """The book's small classifier: a 3x3 stem, then one block per later width, each halving the resolution.

    With the defaults it is the network of the separable chapter's experiment
    (section 4, ``convbook.lab.experiments.separable_accuracy``) for 16x16 one-channel
    shape images: stem 1 -> 16 channels at full resolution, blocks 16 -> 32 and
    32 -> 64 with stride 2, global average pooling, a linear layer to 4 classes.
    Every convolution is followed by batch norm and a ReLU (conv-BN-ReLU, as
    in MobileNet); convolutions have no bias. ``small_cnn(False)`` is the same
    network as ``convbook.nets.blocks.SmallCNN()`` of the 1x1 chapter.

    Parameters
    ----------
    separable : bool
        ``False``: every block is a standard ``k x k`` convolution (23,668
        trainable parameters with the defaults).
        ``True``: every block is a depthwise ``k x k`` then a pointwise ``1 x 1``
        convolution (:func:`separable_block`; 3,716 parameters). The stem stays
        standard: a one-channel input has nothing to separate.
    channels : sequence of int
        Width of the stem, then of each block (at least two entries).
    num_classes, in_channels, kernel_size : int
    mid_activation : bool
        For ``separable=True`` only: ``False`` puts nothing between the depthwise
        and the pointwise step (Xception's separable convolution; see
        :func:`separable_block`).

    Returns
    -------
    nn.Sequential
        Input ``(N, in_channels, H, W)``, output ``(N, num_classes)`` logits.
        ``model[0]`` holds the stem and the blocks, ``model[1]`` the classifier.
    """
    fname = "small_cnn"
    if not isinstance(separable, bool):
        raise TypeError(f"{fname}: separable must be a bool, got {type(separable).__name__}")
    if not isinstance(mid_activation, bool):
        raise TypeError(f"{fname}: mid_activation must be a bool, got {type(mid_activation).__name__}")
    if not separable and not mid_activation:
        raise ValueError(f"{fname}: mid_activation=False applies to separable blocks only (separable=True)")
    channels = tuple(channels)
    if len(channels) < 2 or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels):
        raise ValueError(f"{fname}: channels must hold at least two positive ints, got {channels!r}")
    layers = [_conv_bn_relu(in_channels, channels[0], kernel_size)]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        if separable:
            layers.append(separable_block(c_in, c_out, 2, kernel_size, mid_activation=mid_activation))
        else:
            layers.append(standard_block(c_in, c_out, stride=2, kernel_size=kernel_size))
    return nn.Sequential(
        nn.Sequential(*layers),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], num_classes)),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block with a linear bottleneck (Sandler et al. 2018, Table 1, Fig. 3b).

    ``expand``: 1x1 conv-BN-ReLU6 from ``c_in`` to ``t * c_in`` channels
    (absent when ``t == 1``); ``depthwise``: ``k x k`` depthwise conv-BN-ReLU6
    with stride ``s``; ``project``: 1x1 conv-BN down to ``c_out`` channels,
    *without* an activation (the linear bottleneck). When ``s == 1`` and
    ``c_in == c_out`` the input is added to the output (the shortcut joins
    the thin bottlenecks, not the wide expanded layers: "inverted").
    Convolutions have no bias. :func:`convbook.separable.inverted_residual_cost`
    gives the same weights and multiply-adds as :func:`convbook.profile`.

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
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{fname}: {name} must be an int, got {type(v).__name__}")
            if v < 1:
                raise ValueError(f"{fname}: {name} must be a positive int, got {v}")
        if stride not in (1, 2) or isinstance(stride, bool):
            raise ValueError(f"{fname}: stride must be 1 or 2, got {stride!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"{fname}: kernel_size must be odd, got {kernel_size}")
        mid, pad = expansion * c_in, kernel_size // 2
        layers = []
        if expansion > 1:
            layers.append(
                nn.Sequential(nn.Conv2d(c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(inplace=True))
            )
        layers.append(
            nn.Sequential(
                nn.Conv2d(mid, mid, kernel_size, stride=stride, padding=pad, groups=mid, bias=False),
                nn.BatchNorm2d(mid),
                nn.ReLU6(inplace=True),
            )
        )
        layers.append(nn.Sequential(nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out)))  # linear
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out
