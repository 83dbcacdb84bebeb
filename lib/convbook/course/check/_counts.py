"""Independent references for the self-checks: sizes and counts, by brute-force counting.

Part of the checks' references (:mod:`convbook.course.check._reference` re-exports everything here). These count
what the book's by-hand exercises count, in the most literal way; they hold nothing that the book's lessons and the
library do not already compute, so the student build of the library keeps them, while the array references
(:mod:`convbook.course.check._reference`) are left out of it (see :mod:`convbook.course.handout`).
"""

from __future__ import annotations

import numpy as np


def _tuple(value, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


# --------------------------------------------------------------------------- sizes and counts


def window_count(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """How many positions a (dilated) window takes along a padded axis: counted, start by start."""
    padded = size + 2 * padding
    last_tap = dilation * (kernel_size - 1)  # offset of the last tap from the window's start
    return sum(1 for start in range(0, padded, stride) if start + last_tap <= padded - 1)


def span(kernel_size: int, dilation: int) -> int:
    """Number of input samples from a dilated kernel's first tap to its last, both included."""
    offsets = [dilation * j for j in range(kernel_size)]
    return max(offsets) - min(offsets) + 1


def reachable_offsets(kernel_size: int, dilations) -> list[int]:
    """Input offsets that reach one output of a stride-1 stack, layer by layer (a set of offsets)."""
    offsets = {0}
    for d in dilations:
        offsets = {o + d * j for o in offsets for j in range(kernel_size)}
    return sorted(offsets)


def stack_field(kernel_size: int, dilations) -> int:
    """Receptive field of a stride-1 stack: the extent of the reachable offsets."""
    offsets = reachable_offsets(kernel_size, dilations)
    return offsets[-1] - offsets[0] + 1


def conv_macs(n: int, c_in: int, c_out: int, kernel: tuple, out: tuple, groups: int = 1) -> int:
    """Multiply-adds of a convolution: one per output value and per weight that output uses."""
    outputs = n * c_out * int(np.prod(out))
    weights_per_output = (c_in // groups) * int(np.prod(kernel))
    return outputs * weights_per_output


# --------------------------------------------------------------------------- costs of whole layers and blocks


def roofline(intensity: float, peak: float, bandwidth: float) -> float:
    """The roofline model's ceiling: the lower of the compute roof and the memory roof at this intensity."""
    memory_roof = intensity * bandwidth  # FLOP/byte * GB/s = GFLOP/s
    return float(peak if peak <= memory_roof else memory_roof)


def depthwise_flops_bytes(channels: int, batch: int, size: int, k: int, itemsize: int = 4) -> tuple[int, int]:
    """FLOPs and minimum bytes of a k x k depthwise layer, stride 1, padding k // 2, on square images.

    Every input, weight and output element is moved once; a multiply-add is two FLOPs.
    """
    out = window_count(size, k, 1, k // 2)
    flops = 2 * conv_macs(batch, channels, channels, (k, k), (out, out), groups=channels)
    elements = (
        batch * channels * size * size + channels * k * k + batch * channels * out * out
    )  # input, weights, output
    return flops, itemsize * elements


#: MobileNet v1's body (Howard et al. 2017, Table 1), written out here independently of convbook.nets:
#: (output channels, stride) of each depthwise-separable block; the 13th block's stride is 1 (see separable/06).
MOBILENET_V1_TABLE = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
)


def mobilenet_v1_counts(alpha: float, resolution: int, classes: int = 1000) -> tuple[int, int]:
    """Weights (the classifier's biases included) and multiply-adds per image of MobileNet v1, layer by layer.

    The stem is a 3x3 stride-2 convolution from the 3 colour channels to ``int(32 alpha)``; every 3x3 layer has
    padding 1; every width is ``max(1, int(alpha * C))``.
    """
    weights = macs = 0
    channels = max(1, int(32 * alpha))
    side = window_count(resolution, 3, 2, 1)
    weights += channels * 3 * 9
    macs += conv_macs(1, 3, channels, (3, 3), (side, side))
    for c_out, stride in MOBILENET_V1_TABLE:
        c_out = max(1, int(c_out * alpha))
        side = window_count(side, 3, stride, 1)
        weights += channels * 9 + c_out * channels  # depthwise (C, 1, 3, 3), pointwise (C_out, C, 1, 1)
        macs += conv_macs(1, channels, channels, (3, 3), (side, side), groups=channels)
        macs += conv_macs(1, channels, c_out, (1, 1), (side, side))
        channels = c_out
    weights += classes * channels + classes  # the classifier after global average pooling
    macs += classes * channels
    return weights, macs


def inverted_residual_macs(c_in: int, c_out: int, size: int, t: int, stride: int) -> int:
    """Multiply-adds per image of MobileNetV2's block: 1x1 expansion (none when t == 1), 3x3 depthwise with the
    stride (padding 1), linear 1x1 projection; batch norm, ReLU6 and the shortcut add none."""
    mid = t * c_in
    out = window_count(size, 3, stride, 1)
    expand = conv_macs(1, c_in, mid, (1, 1), (size, size)) if t > 1 else 0
    depthwise = conv_macs(1, mid, mid, (3, 3), (out, out), groups=mid)
    project = conv_macs(1, mid, c_out, (1, 1), (out, out))
    return expand + depthwise + project
