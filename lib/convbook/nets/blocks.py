"""Torch building blocks of the 1x1 chapter: bottlenecks, inception modules, fire modules, shuffle units.

* :class:`Bottleneck` and :class:`BasicBlock`: ResNet's 1x1-3x3-1x1 block and
  its plain two-3x3 counterpart (He et al. 2016, Fig. 5).
* :class:`Inception`: GoogLeNet's module, with or without its 1x1 "reduce"
  layers (Szegedy et al. 2015, Fig. 2 and Table 1); :func:`inception_3a`
  builds the (3a) module of Table 1.
* :class:`FireModule` (SqueezeNet, Iandola et al. 2016) and
  :class:`ShuffleUnit` (ShuffleNet, Zhang et al. 2018): 1x1 layers that
  squeeze, and grouped 1x1 layers with a channel shuffle.

Every convolution unit is :func:`convbook.nets.layers.conv_bn_relu`. The small
CNN with 1x1 units of the chapter's section 4 is
:class:`convbook.nets.small_cnn.SmallCNN`. Importing this module imports torch.
"""

from __future__ import annotations

import torch
from torch import nn

from convbook._args import positive_int
from convbook.nets.layers import conv_bn_relu

__all__ = [
    "INCEPTION_3A",
    "INCEPTION_3B",
    "SQUEEZENET_FIRES",
    "BasicBlock",
    "Bottleneck",
    "FireModule",
    "Inception",
    "ShuffleUnit",
    "inception_3a",
    "inception_3b",
]


def _check_channels(fname: str, **values) -> None:
    """Each keyword argument a positive int (``convbook._args.positive_int``), named in the error."""
    for name, v in values.items():
        positive_int(v, name, fname)


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
            *conv_bn_relu(channels, mid, 1),
            *conv_bn_relu(mid, mid, 3),
            *conv_bn_relu(mid, channels, 1, activation=None),  # the ReLU comes after the sum
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
        self.body = nn.Sequential(
            *conv_bn_relu(channels, channels, 3),
            *conv_bn_relu(channels, channels, 3, activation=None),  # the ReLU comes after the sum
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


def _conv_relu(c_in: int, c_out: int, k: int, bias: bool) -> nn.Sequential:
    """Conv-ReLU without batch norm (GoogLeNet and SqueezeNet predate it)."""
    return conv_bn_relu(c_in, c_out, k, norm=None, bias=bias)


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


#: Table 1 of Szegedy et al. (2015), row "inception (3b)": input 28x28x256 (the output of 3a), output 480 channels.
INCEPTION_3B = {"in_channels": 256, "c1": 128, "c3_reduce": 128, "c3": 192, "c5_reduce": 32, "c5": 96, "pool_proj": 64}


def inception_3b(bias: bool = True) -> Inception:
    """GoogLeNet's inception (3b) module (input ``(N, 256, 28, 28)``, output 480 channels)."""
    return Inception(**INCEPTION_3B, bias=bias)


# --------------------------------------------------------------------------- SqueezeNet's fire module


class FireModule(nn.Module):
    """SqueezeNet's fire module (Iandola et al. 2016, Fig. 1).

    A 1x1 "squeeze" layer reduces the input to ``squeeze`` channels; two
    "expand" layers read it side by side, a 1x1 with ``expand1x1`` outputs and a
    3x3 (padding 1) with ``expand3x3`` outputs, and their outputs are
    concatenated. Every convolution has a bias and is followed by a ReLU, as in
    the paper (no batch norm).

    Weights (without biases): ``in * s + s * e1 + 9 * s * e3``, against
    ``9 * in * (e1 + e3)`` for one plain 3x3 layer with the same input and output.

    Input ``(N, in_channels, H, W)``; output ``(N, expand1x1 + expand3x3, H, W)``.
    """

    def __init__(self, in_channels: int = 96, squeeze: int = 16, expand1x1: int = 64, expand3x3: int = 64):
        super().__init__()
        _check_channels(
            "FireModule", in_channels=in_channels, squeeze=squeeze, expand1x1=expand1x1, expand3x3=expand3x3
        )
        self.squeeze = _conv_relu(in_channels, squeeze, 1, True)
        self.expand1x1 = _conv_relu(squeeze, expand1x1, 1, True)
        self.expand3x3 = _conv_relu(squeeze, expand3x3, 3, True)
        self.out_channels = expand1x1 + expand3x3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)  # (N, squeeze, H, W)
        return torch.cat([self.expand1x1(s), self.expand3x3(s)], dim=1)  # (N, e1 + e3, H, W)


#: SqueezeNet (v1.0)'s eight fire modules, Table 1 of Iandola et al. (2016):
#: ``name: (in_channels, squeeze, expand1x1, expand3x3, map size)`` for a 227 x 227 input.
SQUEEZENET_FIRES = {
    "fire2": (96, 16, 64, 64, 55),
    "fire3": (128, 16, 64, 64, 55),
    "fire4": (128, 32, 128, 128, 55),
    "fire5": (256, 32, 128, 128, 27),
    "fire6": (256, 48, 192, 192, 27),
    "fire7": (384, 48, 192, 192, 27),
    "fire8": (384, 64, 256, 256, 27),
    "fire9": (512, 64, 256, 256, 13),
}


# --------------------------------------------------------------------------- ShuffleNet's unit


class ShuffleUnit(nn.Module):
    """ShuffleNet's unit with stride 1 (Zhang et al. 2018, Fig. 2b), and its no-shuffle / ResNet relatives.

    ``channels -> 1x1 grouped conv (groups) -> BN -> ReLU -> channel shuffle ->
    3x3 depthwise conv -> BN -> 1x1 grouped conv (groups) -> BN``, plus the
    identity, then a ReLU. ``mid`` (default ``channels // 4``) is the
    bottleneck width. Convolutions have no bias.

    ``shuffle=False`` drops the shuffle (each group then only ever sees its own
    channels); ``depthwise=False`` makes the 3x3 convolution dense and
    ``groups=1`` the 1x1 layers dense: with both, the unit is ResNet's
    bottleneck. The paper's counts of multiply-adds for an ``h x w`` map:
    ``hw(2 c m / g + 9 m)`` (ShuffleNet), ``hw(2 c m + 9 m^2)`` (ResNet).

    Input and output: ``(N, channels, H, W)``.
    """

    def __init__(self, channels: int = 240, groups: int = 3, mid: int | None = None, shuffle: bool = True,
                 depthwise: bool = True):  # fmt: skip
        super().__init__()
        mid = channels // 4 if mid is None else mid
        _check_channels("ShuffleUnit", channels=channels, groups=groups, mid=mid)
        if channels % groups or mid % groups:
            raise ValueError(f"ShuffleUnit: groups={groups} must divide channels={channels} and mid={mid}")
        self.body = nn.Sequential(
            *conv_bn_relu(channels, mid, 1, groups=groups),
            nn.ChannelShuffle(groups) if shuffle and groups > 1 else nn.Identity(),
            *conv_bn_relu(mid, mid, 3, groups=mid if depthwise else 1, activation=None),
            *conv_bn_relu(mid, channels, 1, groups=groups, activation=None),
        )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))
