"""Dense prediction with dilated convolutions: the segmentation networks of the dilated chapter.

* :func:`segmentation_net`: ``conv-BN-ReLU`` layers at chosen dilations (and
  kernel sizes), then a 1x1 layer to per-pixel class scores, at full resolution;
  :func:`strided_segmentation_net`, the downsampling alternative (strides, then
  bilinear upsampling of the scores).
* :class:`ASPP` and :func:`aspp_net`: DeepLab's atrous spatial pyramid pooling
  (Chen et al. 2018; with the image-pooling branch of DeepLabv3, Chen et al.
  2017): parallel 3x3 branches at several rates, a 1x1 branch and a global
  average, concatenated and projected.
* :func:`valid_taps`: how many taps of a dilated 3x3 filter land inside the
  map rather than on its zero padding; the reason ASPP needs an image-pooling
  branch at large rates.
* :func:`context_module`: Yu & Koltun's basic context module (2016), with
  their identity initialisation or PyTorch's default one.

Every ``conv-BN-ReLU`` is :func:`convbook.nets.layers.conv_bn_relu`, with a bias
before the batch norm as when the reference results were trained. The task's
measurements (scores, the threshold baseline, the effective receptive field)
are in :mod:`convbook.nets.segmentation_eval`. Importing this module imports torch.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from torch import nn

from convbook._args import positive_int, positive_int_list
from convbook.nets.layers import conv_bn_relu

__all__ = ["ASPP", "aspp_net", "context_module", "segmentation_net", "strided_segmentation_net", "valid_taps"]


def segmentation_net(
    dilations, channels: int = 8, kernel_size=3, in_channels: int = 1, classes: int = 3
) -> nn.Sequential:
    """A full-resolution segmentation network: ``conv-BN-ReLU`` per dilation, then a 1x1 layer to class scores.

    Parameters
    ----------
    dilations : sequence of int
        One layer per entry.
    channels : int
        Channels of every hidden layer.
    kernel_size : int (odd) or sequence of odd ints
        One size for every layer, or one per layer.
    in_channels, classes : int

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``
        (padding ``d (k - 1) / 2`` keeps the size). Its receptive field is
        ``1 + sum((k_l - 1) d_l)`` pixels along each axis.
    """
    fname = "segmentation_net"
    dils = tuple(positive_int_list(dilations, "dilations", fname))
    if isinstance(kernel_size, Integral):
        ks = (positive_int(kernel_size, "kernel_size", fname),) * len(dils)
    else:
        ks = tuple(positive_int_list(kernel_size, "kernel_size", fname))
    if len(ks) != len(dils):
        raise ValueError(f"{fname}: kernel_size must give one size per dilation ({len(dils)}), got {len(ks)}")
    if any(k % 2 == 0 for k in ks):
        raise ValueError(f"{fname}: kernel sizes must be odd (centred 'same' padding), got {ks}")
    channels = positive_int(channels, "channels", fname)
    in_channels = positive_int(in_channels, "in_channels", fname)
    classes = positive_int(classes, "classes", fname, minimum=2)
    layers: list[nn.Module] = []
    c_in = in_channels
    for k, d in zip(ks, dils):
        layers += conv_bn_relu(c_in, channels, k, dilation=d, bias=True)
        c_in = channels
    layers.append(nn.Conv2d(channels, classes, 1))  # per-pixel class scores
    return nn.Sequential(*layers)


def strided_segmentation_net(strides=(1, 2, 2, 1), channels: int = 8, in_channels: int = 1, classes: int = 3):
    """The downsampling alternative: 3x3 ``conv-BN-ReLU`` layers with strides, then bilinear upsampling.

    The same weights as :func:`segmentation_net` with as many layers, and a
    wider receptive field (strides multiply the step of every later layer: the
    convolutions of ``(1, 2, 2, 1)`` span 17x17 on the coarse map, like dilations
    ``(1, 2, 4, 1)``; after the bilinear upsampling an output pixel depends on a
    21x21 window, shared by blocks of 4x4 pixels, see ``segmentation_eval.dependency_box``),
    but the class scores are computed on a map ``prod(strides)`` times coarser
    and interpolated back: context at the price of resolution.

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``;
        ``H`` and ``W`` must be multiples of ``prod(strides)``.
    """
    fname = "strided_segmentation_net"
    strides = tuple(positive_int_list(strides, "strides", fname))
    channels = positive_int(channels, "channels", fname)
    layers: list[nn.Module] = []
    c_in = positive_int(in_channels, "in_channels", fname)
    for s in strides:
        layers += conv_bn_relu(c_in, channels, 3, stride=s, bias=True)
        c_in = channels
    layers.append(nn.Conv2d(channels, positive_int(classes, "classes", fname, minimum=2), 1))
    factor = int(np.prod(strides))
    if factor > 1:
        layers.append(nn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- ASPP


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab; with DeepLabv3's 1x1 and image-pooling branches).

    Branches, each ``conv-BN-ReLU`` with ``branch_channels`` outputs: one 1x1
    convolution, one 3x3 convolution per entry of ``rates`` (dilation = rate,
    padding = rate, so every branch keeps the size), and, with
    ``image_pooling``, the global average of the input through a 1x1
    convolution, broadcast back to every pixel. The branches are concatenated
    and projected by a 1x1 ``conv-BN-ReLU`` to ``out_channels``.

    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H, W)``.
    """

    def __init__(
        self, in_channels: int, branch_channels: int, out_channels: int, rates=(2, 4, 6), image_pooling: bool = True
    ):
        super().__init__()
        fname = "ASPP"
        for name, value in (
            ("in_channels", in_channels),
            ("branch_channels", branch_channels),
            ("out_channels", out_channels),
        ):
            positive_int(value, name, fname)
        self.rates = tuple(positive_int_list(rates, "rates", fname))
        if not isinstance(image_pooling, bool):
            raise TypeError(f"{fname}: image_pooling must be a bool, got {type(image_pooling).__name__}")
        c, b = in_channels, branch_channels
        self.branches = nn.ModuleList([conv_bn_relu(c, b, 1, bias=True)])
        self.branches.extend(conv_bn_relu(c, b, 3, dilation=r, bias=True) for r in self.rates)
        # no batch norm in the pooled branch: it holds one value per image and channel
        self.pool = conv_bn_relu(c, b, 1, norm=None) if image_pooling else None
        n = len(self.branches) + (1 if image_pooling else 0)
        self.project = conv_bn_relu(n * b, out_channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]  # each (N, b, H, W)
        if self.pool is not None:
            pooled = self.pool(x.mean(dim=(2, 3), keepdim=True))  # (N, b, 1, 1)
            outs.append(pooled.expand(-1, -1, *x.shape[2:]))  # (N, b, H, W)
        return self.project(torch.cat(outs, dim=1))  # (N, out_channels, H, W)


def aspp_net(
    front_dilations=(1, 1),
    channels: int = 8,
    branch_channels: int = 4,
    rates=(2, 4, 6),
    image_pooling: bool = True,
    in_channels: int = 1,
    classes: int = 3,
) -> nn.Sequential:
    """A few ``conv-BN-ReLU`` layers (the "backbone"), an :class:`ASPP` head, and a 1x1 layer to class scores.

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``.
    """
    fname = "aspp_net"
    dils = tuple(positive_int_list(front_dilations, "front_dilations", fname))
    channels = positive_int(channels, "channels", fname)
    layers: list[nn.Module] = []
    c_in = positive_int(in_channels, "in_channels", fname)
    for d in dils:
        layers += conv_bn_relu(c_in, channels, 3, dilation=d, bias=True)
        c_in = channels
    layers.append(ASPP(channels, branch_channels, channels, rates, image_pooling))
    layers.append(nn.Conv2d(channels, positive_int(classes, "classes", fname, minimum=2), 1))
    return nn.Sequential(*layers)


def valid_taps(size: int, rate: int, kernel_size: int = 3) -> np.ndarray:
    """How many taps of a ``kernel_size`` x ``kernel_size`` filter at dilation ``rate`` fall inside the map.

    With ``padding = rate (k - 1) / 2`` ("same" output), output pixel ``(i, j)``
    reads input ``(i + rate u, j + rate v)`` for ``u, v`` in
    ``-(k - 1)/2 .. (k - 1)/2``; taps outside ``0 .. size - 1`` read zero
    padding and carry no information. Once ``rate >= size`` only the centre
    tap is left, and the filter has degenerated to a 1x1 filter (DeepLabv3's
    observation, which motivates its image-pooling branch).

    Parameters
    ----------
    size : int
        The map is ``size x size``.
    rate : int
        The dilation.
    kernel_size : int, odd

    Returns
    -------
    ndarray of int, shape (size, size)
        The number of valid taps (1 .. k^2) at every output pixel.
    """
    fname = "valid_taps"
    size = positive_int(size, "size", fname)
    rate = positive_int(rate, "rate", fname)
    kernel_size = positive_int(kernel_size, "kernel_size", fname)
    if kernel_size % 2 == 0:
        raise ValueError(f"{fname}: kernel_size must be odd, got {kernel_size}")
    half = (kernel_size - 1) // 2
    pos = np.arange(size)[:, None] + rate * np.arange(-half, half + 1)[None, :]  # (size, k): rows a tap reads
    inside = ((pos >= 0) & (pos < size)).sum(axis=1)  # (size,): valid taps along one axis
    return np.outer(inside, inside)  # (size, size)


# --------------------------------------------------------------------------- context module


def context_module(channels: int, dilations=(1, 1, 2, 4, 8, 16, 1), init: str = "identity") -> nn.Sequential:
    """Yu & Koltun's basic context module: 3x3 layers with ``channels`` in and out, ReLU, then a 1x1 layer.

    Parameters
    ----------
    channels : int
        ``C``: the module maps ``C`` feature maps (in the paper, the front
        end's class scores) to ``C`` maps of the same size.
    dilations : sequence of int
        The 3x3 layers' dilations; the paper's are ``1, 1, 2, 4, 8, 16, 1``
        (receptive field 67x67) for 64x64 maps.
    init : {'identity', 'default'}
        ``'identity'``: Yu & Koltun's initialisation, ``w[c, c', u, v] = 1`` if
        ``c = c'`` and ``(u, v)`` is the centre tap, 0 otherwise, zero biases:
        every layer passes its input through, so the whole module computes
        ``max(x, 0)`` at initialisation (the input itself when it is
        non-negative). ``'default'``: PyTorch's random initialisation.

    Returns
    -------
    nn.Sequential
        ``(N, C, H, W)`` to ``(N, C, H, W)``: each 3x3 layer is followed by a
        ReLU (the paper's "truncation"), the final 1x1 layer is not.
    """
    fname = "context_module"
    channels = positive_int(channels, "channels", fname)
    dils = tuple(positive_int_list(dilations, "dilations", fname))
    if init not in ("identity", "default"):
        raise ValueError(f"{fname}: init must be 'identity' or 'default', got {init!r}")
    layers: list[nn.Module] = []
    for d in dils:
        layers += conv_bn_relu(channels, channels, 3, dilation=d, norm=None)
    layers.append(nn.Conv2d(channels, channels, 1))
    module = nn.Sequential(*layers)
    if init == "identity":
        with torch.no_grad():
            for m in module:
                if isinstance(m, nn.Conv2d):
                    m.weight.zero_()
                    m.bias.zero_()
                    centre = m.kernel_size[0] // 2
                    for c in range(channels):
                        m.weight[c, c, centre, centre] = 1.0
    return module
