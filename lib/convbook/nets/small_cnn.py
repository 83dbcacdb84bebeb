"""The book's small CNN for the shapes task, in all its variants (imports torch).

:class:`SmallCNN` is the one definition: a 3x3 stem at full resolution, then
one stride-2 block per later width, global average pooling and a linear layer.
The separable chapter uses its standard and depthwise-separable versions
(``separable=False`` / ``True``, spelled :func:`small_cnn`), the 1x1 chapter
adds 1x1 units after each 3x3 unit (``pointwise_layers``, Network in Network's
"mlpconv", Lin et al. 2013) and drops batch norm (``norm=None``). Every unit is
:func:`convbook.nets.layers.conv_bn_relu`; the layers are created in the same
order in every version, so a seed fixes the initial weights of the shared layers.
"""

from __future__ import annotations

from torch import nn

from convbook._args import positive_int, positive_int_list
from convbook.nets.layers import NORMS, conv_bn_relu
from convbook.nets.models import separable_block

__all__ = ["SmallCNN", "small_cnn"]


def _check_args(fname: str, widths_name: str, *, in_channels, num_classes, widths, kernel_size, separable,
                mid_activation, pointwise_layers=0, norm="batch", pointwise_relu=True) -> tuple[int, ...]:  # fmt: skip
    """Check the arguments of :class:`SmallCNN` (or of :func:`small_cnn`, which names ``widths`` ``channels``)."""
    positive_int(in_channels, "in_channels", fname)
    positive_int(num_classes, "num_classes", fname)
    widths = tuple(positive_int_list(widths, widths_name, fname))
    if len(widths) < 2:
        raise ValueError(f"{fname}: {widths_name} must hold at least two ints (the stem and a block), got {widths!r}")
    positive_int(kernel_size, "kernel_size", fname)
    positive_int(pointwise_layers, "pointwise_layers", fname, minimum=0)
    if norm not in NORMS:
        raise ValueError(f"{fname}: norm must be 'batch' or None, got {norm!r}")
    bools = {"pointwise_relu": pointwise_relu, "separable": separable, "mid_activation": mid_activation}
    for name, value in bools.items():
        if not isinstance(value, bool):
            raise TypeError(f"{fname}: {name} must be a bool, got {type(value).__name__}")
    if not separable and not mid_activation:
        raise ValueError(f"{fname}: mid_activation=False applies to separable blocks only (separable=True)")
    if separable and norm is None:
        raise ValueError(f"{fname}: norm=None applies to standard blocks only (separable=False)")
    return widths


class SmallCNN(nn.Sequential):
    """The book's small CNN for ``convbook.lab.datasets.make_shapes``.

    A ``k x k`` stem at full resolution to ``widths[0]`` channels, then one
    ``k x k`` stride-2 block per later width, each halving the resolution;
    global average pooling and a linear layer. With the defaults it is the
    network of the separable chapter's experiment (section 4,
    ``convbook.lab.experiments.separable_accuracy``) for 16x16 one-channel shape
    images: stem 1 -> 16 channels, blocks 16 -> 32 and 32 -> 64, 4 classes,
    23,668 trainable parameters. Every convolution is followed by batch norm
    and a ReLU (conv-BN-ReLU, as in MobileNet) and has no bias.

    Parameters
    ----------
    in_channels, num_classes : int
    widths : sequence of int
        Width of the stem, then of each stride-2 block (at least two entries).
    pointwise_layers : int
        Number of 1x1 units of the same width after each stage (0: none). A 1x1
        unit at width ``w`` adds ``w^2`` weights, plus ``2w`` batch-norm
        parameters (``norm='batch'``) or ``w`` biases (``norm=None``).
    norm : {'batch', None}
        ``'batch'``: conv (no bias) - batch norm - ReLU. ``None``: conv (with
        bias) - ReLU (Network in Network predates batch norm).
    pointwise_relu : bool
        ``False`` drops the ReLU after each 1x1 unit (a control: the 1x1 units
        are then affine at inference, and each stage's stack of them collapses
        into one affine map per pixel).
    separable : bool
        ``True``: every block is a depthwise ``k x k`` then a pointwise ``1 x 1``
        convolution (:func:`convbook.nets.models.separable_block`; 3,716
        parameters with the defaults). The stem stays standard: a one-channel
        input has nothing to separate.
    mid_activation : bool
        For ``separable=True`` only: ``False`` puts nothing between the depthwise
        and the pointwise step (Xception's separable convolution).
    kernel_size : int
        The stem's and the blocks' kernel size.

    Input ``(N, in_channels, H, W)``; output logits ``(N, num_classes)``.
    ``model[0]`` holds the stages (``model[0][i]`` is stage ``i``: its unit or
    block alone, or a ``Sequential`` of it and its 1x1 units), ``model[1]`` the
    classifier.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 4,
        widths=(16, 32, 64),
        pointwise_layers: int = 0,
        norm: str | None = "batch",
        pointwise_relu: bool = True,
        *,
        separable: bool = False,
        mid_activation: bool = True,
        kernel_size: int = 3,
    ):
        widths = _check_args(
            "SmallCNN", "widths", in_channels=in_channels, num_classes=num_classes, widths=widths,
            kernel_size=kernel_size, separable=separable, mid_activation=mid_activation,
            pointwise_layers=pointwise_layers, norm=norm, pointwise_relu=pointwise_relu,
        )  # fmt: skip
        k, activation = kernel_size, "relu" if pointwise_relu else None
        stages, c = [], in_channels
        for i, w in enumerate(widths):
            if i == 0:  # the stem: standard, full resolution
                units = [conv_bn_relu(c, w, k, norm=norm)]
            elif separable:
                units = [separable_block(c, w, 2, k, mid_activation=mid_activation)]
            else:
                units = [conv_bn_relu(c, w, k, stride=2, norm=norm)]
            units += [conv_bn_relu(w, w, 1, norm=norm, activation=activation) for _ in range(pointwise_layers)]
            stages.append(units[0] if len(units) == 1 else nn.Sequential(*units))
            c = w
        classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        super().__init__(nn.Sequential(*stages), classifier)
        self.widths, self.pointwise_layers, self.norm = widths, int(pointwise_layers), norm
        self.pointwise_relu, self.separable, self.mid_activation = pointwise_relu, separable, mid_activation


def small_cnn(
    separable: bool,
    channels=(16, 32, 64),
    num_classes: int = 4,
    in_channels: int = 1,
    kernel_size: int = 3,
    mid_activation: bool = True,
) -> SmallCNN:
    """The separable chapter's spelling of :class:`SmallCNN`: ``small_cnn(separable, channels)``.

    ``small_cnn(False)`` is ``SmallCNN()`` and ``small_cnn(True)`` is
    ``SmallCNN(separable=True)``; ``channels`` is :class:`SmallCNN`'s ``widths``.
    Same layers, created in the same order: the same seed gives the same weights.
    """
    channels = _check_args(
        "small_cnn", "channels", in_channels=in_channels, num_classes=num_classes, widths=channels,
        kernel_size=kernel_size, separable=separable, mid_activation=mid_activation,
    )  # fmt: skip
    return SmallCNN(
        in_channels, num_classes, channels, separable=separable, mid_activation=mid_activation, kernel_size=kernel_size
    )
