"""Torch building blocks of the 1x1 chapter: bottlenecks, inception modules, and a small CNN.

* :class:`Bottleneck` and :class:`BasicBlock`: ResNet's 1x1-3x3-1x1 block and
  its plain two-3x3 counterpart (He et al. 2016, Fig. 5).
* :class:`Inception`: GoogLeNet's module, with or without its 1x1 "reduce"
  layers (Szegedy et al. 2015, Fig. 2 and Table 1); :func:`inception_3a`
  builds the (3a) module of Table 1.
* :class:`SmallCNN`: a two-stage CNN for ``convbook.datasets.make_shapes``
  with optional 1x1 + ReLU layers after each 3x3 layer (Network in Network's
  "mlpconv", Lin et al. 2013).

Importing this module imports torch.
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn


def _check_channels(fname: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise TypeError(f"{fname}: {name} must be an int, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{fname}: {name} must be a positive int, got {v}")


def _conv_bn(c_in: int, c_out: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: 1x1 reduce, 3x3, 1x1 expand, plus the identity.

    ``channels -> mid -> 3x3 -> channels``, each conv followed by batch norm, a
    ReLU after the first two and after the sum. Convolutions have no bias (the
    batch norm has one). With ``channels=256, mid=64`` its conv weights are
    ``256*64 + 64*64*9 + 64*256 = 69,632``.

    Input and output: ``(N, channels, H, W)``.
    """

    def __init__(self, channels: int = 256, mid: int = 64):
        super().__init__()
        _check_channels("Bottleneck", channels=channels, mid=mid)
        self.body = nn.Sequential(
            *_conv_bn(channels, mid, 1),
            nn.ReLU(),
            *_conv_bn(mid, mid, 3),
            nn.ReLU(),
            *_conv_bn(mid, channels, 1),
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions at full width, plus the identity.

    ``BasicBlock(256)`` is the bottleneck's plain counterpart at the same width
    (``2 * 256*256*9 = 1,179,648`` weights); ``BasicBlock(64)`` is the block He
    et al. compare the bottleneck with ("similar time complexity").

    Input and output: ``(N, channels, H, W)``.
    """

    def __init__(self, channels: int = 256):
        super().__init__()
        _check_channels("BasicBlock", channels=channels)
        self.body = nn.Sequential(*_conv_bn(channels, channels, 3), nn.ReLU(), *_conv_bn(channels, channels, 3))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


def _conv_relu(c_in: int, c_out: int, k: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias), nn.ReLU())


class Inception(nn.Module):
    """GoogLeNet's inception module (Szegedy et al. 2015, Fig. 2).

    Four branches, concatenated along channels:
    ``1x1``; ``[1x1 reduce] -> 3x3``; ``[1x1 reduce] -> 5x5``;
    ``3x3 max pool (stride 1) -> [1x1 pool proj]``. Every conv is followed by a
    ReLU and, as in the paper (which predates batch norm), has a bias.

    Parameters
    ----------
    in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj : int
        The columns of Table 1. ``pool_proj=None`` drops the pool projection
        (the naive module of Fig. 2a: the pooled input passes through).
    reduce : bool
        ``False`` drops the two reduce layers: the 3x3 and 5x5 convolutions
        then read all ``in_channels``.
    bias : bool
        Whether the convolutions have biases.

    Input ``(N, in_channels, H, W)``; output ``(N, out_channels, H, W)`` with
    ``out_channels = c1 + c3 + c5 + (pool_proj or in_channels)``.
    """

    def __init__(
        self,
        in_channels: int = 192,
        c1: int = 64,
        c3_reduce: int = 96,
        c3: int = 128,
        c5_reduce: int = 16,
        c5: int = 32,
        pool_proj: int | None = 32,
        reduce: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        _check_channels(
            "Inception", in_channels=in_channels, c1=c1, c3_reduce=c3_reduce, c3=c3, c5_reduce=c5_reduce, c5=c5
        )
        if pool_proj is not None:
            _check_channels("Inception", pool_proj=pool_proj)
        self.branch1 = _conv_relu(in_channels, c1, 1, bias)
        if reduce:
            reduce3, reduce5 = _conv_relu(in_channels, c3_reduce, 1, bias), _conv_relu(in_channels, c5_reduce, 1, bias)
            self.branch3 = nn.Sequential(reduce3, _conv_relu(c3_reduce, c3, 3, bias))
            self.branch5 = nn.Sequential(reduce5, _conv_relu(c5_reduce, c5, 5, bias))
        else:
            self.branch3 = _conv_relu(in_channels, c3, 3, bias)
            self.branch5 = _conv_relu(in_channels, c5, 5, bias)
        pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.branch_pool = nn.Sequential(pool, _conv_relu(in_channels, pool_proj, 1, bias)) if pool_proj else pool
        self.out_channels = c1 + c3 + c5 + (pool_proj or in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)  # (N, out_channels, H, W)


#: Table 1 of Szegedy et al. (2015), row "inception (3a)": input 28x28x192.
INCEPTION_3A = {"in_channels": 192, "c1": 64, "c3_reduce": 96, "c3": 128, "c5_reduce": 16, "c5": 32, "pool_proj": 32}


def inception_3a(reduce: bool = True, pool_proj: bool = True, bias: bool = True) -> Inception:
    """GoogLeNet's inception (3a) module (input ``(N, 192, 28, 28)``, output 256 channels).

    ``reduce=False`` drops the 1x1 reduce layers; ``pool_proj=False`` also
    drops the pool projection (Fig. 2a; the output then has 416 channels).
    """
    cfg = dict(INCEPTION_3A)
    if not pool_proj:
        cfg["pool_proj"] = None
    return Inception(**cfg, reduce=reduce, bias=bias)


class SmallCNN(nn.Module):
    """A two-stage CNN for small images, with optional 1x1 + ReLU layers ("cheap depth").

    Each stage is ``3x3 conv -> ReLU -> [1x1 conv -> ReLU] * pointwise_layers
    -> 2x2 max pool``; then global average pooling and a linear classifier.
    ``pointwise_layers=0`` is the plain CNN. The 1x1 layers keep the width of
    their stage, so each adds ``width^2 + width`` parameters.

    Parameters
    ----------
    in_channels : int
    num_classes : int
    widths : tuple of int
        Channels of the stages.
    pointwise_layers : int
        Number of 1x1 + ReLU layers after each 3x3 layer.

    Input ``(N, in_channels, H, W)``; output logits ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 4, widths=(16, 32), pointwise_layers: int = 0):
        super().__init__()
        _check_channels("SmallCNN", in_channels=in_channels, num_classes=num_classes)
        if not isinstance(widths, (tuple, list)) or not widths:
            raise TypeError(f"SmallCNN: widths must be a non-empty tuple of ints, got {widths!r}")
        for w in widths:
            _check_channels("SmallCNN", widths=w)
        if isinstance(pointwise_layers, bool) or not isinstance(pointwise_layers, Integral) or pointwise_layers < 0:
            raise ValueError(f"SmallCNN: pointwise_layers must be a non-negative int, got {pointwise_layers!r}")
        layers, c = [], in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            for _ in range(pointwise_layers):
                layers += [nn.Conv2d(w, w, 1), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))  # global average pool: (N, C)
        return self.head(h)  # (N, num_classes)
