"""Independent references for the self-checks: plain loops and brute-force counting.

Nothing here imports the rest of convbook. Each function computes what an
exercise asks for in the most literal way (a loop over every output and every
tap, a count of window positions, an enumeration of paths), so that the checks
do not compare a student's answer with the library function the exercise asks
the student to write. ``tests/test_check.py`` compares every reference here
with PyTorch and with the library. The checks refuse answers that call these
functions.

Sizes are small on purpose: the loops are slow, and clear.
"""

from __future__ import annotations

import itertools

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


def path_counts(kernel_size: int, dilations) -> np.ndarray:
    """Number of paths from each input offset to one output: every choice of one tap per layer, enumerated."""
    total = sum(d * (kernel_size - 1) for d in dilations)
    counts = np.zeros(total + 1, dtype=np.int64)
    for taps in itertools.product(range(kernel_size), repeat=len(dilations)):
        counts[sum(d * j for d, j in zip(dilations, taps))] += 1
    return counts


def conv_macs(n: int, c_in: int, c_out: int, kernel: tuple, out: tuple, groups: int = 1) -> int:
    """Multiply-adds of a convolution: one per output value and per weight that output uses."""
    outputs = n * c_out * int(np.prod(out))
    weights_per_output = (c_in // groups) * int(np.prod(kernel))
    return outputs * weights_per_output


# --------------------------------------------------------------------------- arrays


def corr1d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Single-channel cross-correlation, no padding, stride 1: ``y[i] = sum_u x[i + u] k[u]``."""
    out = np.zeros(len(x) - len(k) + 1)
    for i in range(len(out)):
        for u in range(len(k)):
            out[i] += x[i + u] * k[u]
    return out


def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in // groups, kH, kW), by loops."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    sh, sw = _tuple(stride, 2)
    ph, pw = _tuple(padding, 2)
    dh, dw = _tuple(dilation, 2)
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    out_per_group = c_out // groups
    xp = np.zeros((n, c_in, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph : ph + h, pw : pw + w] = x
    ho = window_count(h, kh, sh, ph, dh)
    wo = window_count(w, kw, sw, pw, dw)
    y = np.zeros((n, c_out, ho, wo))
    for b in range(n):
        for o in range(c_out):
            first_channel = (o // out_per_group) * c_per_group
            for i in range(ho):
                for j in range(wo):
                    total = 0.0
                    for c in range(c_per_group):
                        for u in range(kh):
                            for v in range(kw):
                                total += weight[o, c, u, v] * xp[b, first_channel + c, i * sh + u * dh, j * sw + v * dw]
                    y[b, o, i, j] = total
    return y


def depthwise(x, weight, stride=1, padding=0) -> np.ndarray:
    """Depthwise convolution: output channel ``c*K + m`` filters input channel ``c`` with ``weight[c*K + m, 0]``."""
    return conv2d(x, weight, stride=stride, padding=padding, groups=np.asarray(x).shape[1])


def pointwise(x, weight, bias=None) -> np.ndarray:
    """1x1 convolution of ``x`` (N, C_in, H, W) with a matrix ``weight`` (C_out, C_in), pixel by pixel."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n, _, h, w = x.shape
    y = np.zeros((n, weight.shape[0], h, w))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y[b, :, i, j] = weight @ x[b, :, i, j] + (0.0 if bias is None else bias)
    return y


def dilate_kernel(weight, dilation) -> np.ndarray:
    """The kernel with ``d - 1`` zeros between neighbouring taps along each spatial axis, tap by tap."""
    weight = np.asarray(weight)
    nd = weight.ndim - 2
    dil = _tuple(dilation, nd)
    spans = tuple(span(k, d) for k, d in zip(weight.shape[2:], dil))
    out = np.zeros(weight.shape[:2] + spans, dtype=np.float64)
    for taps in itertools.product(*(range(k) for k in weight.shape[2:])):
        target = tuple(d * t for d, t in zip(dil, taps))
        out[(slice(None), slice(None)) + target] = weight[(slice(None), slice(None)) + taps]
    return out


def causal_conv1d(x, weight, dilation=1) -> np.ndarray:
    """``y[n, o, t] = sum_{c, j} w[o, c, j] x[n, c, t - d (k - 1 - j)]``, with ``x`` zero before time 0."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n, _, length = x.shape
    c_out, c_in, k = weight.shape
    y = np.zeros((n, c_out, length))
    for b in range(n):
        for o in range(c_out):
            for t in range(length):
                for c in range(c_in):
                    for j in range(k):
                        source = t - dilation * (k - 1 - j)
                        if source >= 0:
                            y[b, o, t] += weight[o, c, j] * x[b, c, source]
    return y


def separable_pair(x, dw, pw) -> np.ndarray:
    """Depthwise ``dw`` (C, 1, k, k), then pointwise ``pw`` (C_out, C, 1, 1), no padding, by loops."""
    return pointwise(depthwise(x, dw), np.asarray(pw)[:, :, 0, 0])


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
