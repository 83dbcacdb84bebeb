"""The explorer check's library side: random settings of the explorer, and what convbook says it must show.

The browser check (:mod:`convbook.course.site.explorer`) sets these cases through the page's controls and compares
what the page shows with the functions here, which ask the library: output sizes (``conv_output_size``,
``same_padding``, or the ValueError ``convbook.conv_macs`` raises), weights and multiply-adds
(``conv_cost``, ``separable_cost``), receptive fields, footprints (``convbook.plotting.footprint_taps`` and the
support of ``conv2d_backward``), fan-outs and outputs (``conv2d``, ``conv1d``, ``causal_conv1d``), and a stack's path
counts (``convbook.dilated.coverage_map``, or the gradient of a stack of ``conv1d`` layers).
``tests/test_explorer.py`` checks these functions against PyTorch and plain loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convbook import (
    causal_conv1d,
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv_cost,
    conv_macs,
    conv_output_size,
    effective_kernel_size,
    receptive_field,
    same_padding,
    separable_cost,
)
from convbook.dilated import coverage_map
from convbook.plotting import footprint_taps


@dataclass(frozen=True)
class LayerSetting:
    """One setting of the one-layer explorer, with the controls' names."""

    dims: int = 2
    height: int = 6
    width: int = 6
    in_channels: int = 3
    out_channels: int = 4
    kernel_size: int = 3
    stride: int = 1
    padding: str = "1"  # "valid", "same" or a non-negative int as text
    dilation: int = 1
    groups: int = 1
    causal: bool = False
    bias: bool = False
    pointwise: bool = False
    pointwise_channels: int = 6

    def torch_padding(self):
        """The padding argument torch and convbook take: 'valid', 'same' or an int."""
        return self.padding if self.padding in ("valid", "same") else int(self.padding)


def common_divisors(a: int, b: int) -> list[int]:
    return [g for g in range(1, min(a, b) + 1) if a % g == 0 and b % g == 0]


def snap_groups(want: int, prev: int, c_in: int, c_out: int) -> int:
    """The groups value the explorer's slider settles on: ``want`` if it divides both channel counts, else the next
    valid value in the direction of the move (up from ``prev``: the next larger, down: the next smaller)."""
    valid = common_divisors(c_in, c_out)
    if want in valid:
        return want
    if want > prev:
        above = [g for g in valid if g >= want]
        return above[0] if above else valid[-1]
    below = [g for g in valid if g <= want]
    return below[-1] if below else 1


def _shapes(s: LayerSetting):
    """(x_shape, weight_shape, padding, kernel, stride, dilation) of the call the setting makes; causal pads x."""
    k, d = s.kernel_size, s.dilation
    if s.dims == 1:
        length = s.width + (d * (k - 1) if s.causal else 0)
        padding = 0 if s.causal else s.torch_padding()
        return (1, s.in_channels, length), (s.out_channels, s.in_channels // s.groups, k), padding
    return (
        (1, s.in_channels, s.height, s.width),
        (s.out_channels, s.in_channels // s.groups, k, k),
        s.torch_padding(),
    )


def expected_layer(s: LayerSetting) -> dict:
    """What the explorer must show for ``s``, computed by convbook; ``{"error": message}`` where convbook raises."""

    k, st, d, g = s.kernel_size, s.stride, s.dilation, s.groups
    x_shape, w_shape, padding = _shapes(s)
    try:  # the library validates the whole call (same + stride, kernel wider than the padded input, groups)
        macs_check = conv_macs(x_shape, w_shape, stride=st, padding=padding, dilation=d, groups=g)
    except ValueError as exc:
        return {"error": str(exc)}
    if s.causal and s.dims == 1:
        pads_w = (d * (k - 1), 0)
    elif s.padding == "same":
        pads_w = same_padding(k, d)
    elif s.padding == "valid":
        pads_w = (0, 0)
    else:
        pads_w = (int(s.padding), int(s.padding))
    pads_h = pads_w if s.dims == 2 and not s.causal else (0, 0)
    # conv_output_size pads symmetrically; an asymmetric pair is folded into the size, as torch does for 'same'
    out_w = conv_output_size(s.width + pads_w[0] + pads_w[1] - 2 * min(pads_w), k, st, min(pads_w), d)
    if s.dims == 2:
        out_h = conv_output_size(s.height + pads_h[0] + pads_h[1] - 2 * min(pads_h), k, st, min(pads_h), d)
    else:
        out_h = 1  # the library lifts conv1d to conv2d with a height of one
    kernel = (k, k) if s.dims == 2 else (k,)
    out = (out_h, out_w) if s.dims == 2 else (out_w,)
    cost = conv_cost(s.in_channels, s.out_channels, kernel, out, groups=g, bias=s.bias)
    if cost.macs != macs_check:
        raise AssertionError(f"convbook disagrees with itself: conv_cost {cost.macs} != conv_macs {macs_check}")
    res = {
        "out_height": out_h,
        "out_width": out_w,
        "out_channels": s.out_channels,
        "weights": cost.params,
        "macs": cost.macs,
        "receptive_field": receptive_field([(k, st, d)]),
        "effective_kernel": effective_kernel_size(k, d),
        "pad_top": pads_h[0],
        "pad_bottom": pads_h[1],
        "pad_left": pads_w[0],
        "pad_right": pads_w[1],
        "groups": g,
    }
    pointwise = s.pointwise and g == s.in_channels
    if pointwise:
        pw = conv_cost(s.out_channels, s.pointwise_channels, (1,) * len(kernel), out, bias=s.bias)
        res.update(pointwise_weights=pw.params, pointwise_macs=pw.macs)
        res.update(total_weights=cost.params + pw.params, total_macs=cost.macs + pw.macs)
        twin = conv_cost(s.in_channels, s.pointwise_channels, kernel, out, bias=s.bias)
        dw, pw2 = separable_cost(
            s.in_channels,
            s.pointwise_channels,
            kernel,
            out,
            depth_multiplier=s.out_channels // s.in_channels,
            bias=s.bias,
        )
        if (dw + pw2).params != res["total_weights"] or (dw + pw2).macs != res["total_macs"]:
            raise AssertionError("separable_cost disagrees with the two layers' conv_cost")
    elif g == s.in_channels > 1:  # depthwise: its standard version (with one channel, g = 1 is standard)
        twin = conv_cost(s.in_channels, s.out_channels, kernel, out, bias=s.bias)
    else:
        dw, pw2 = separable_cost(s.in_channels, s.out_channels, kernel, out, bias=s.bias)
        twin = dw + pw2
    res.update(twin_weights=twin.params, twin_macs=twin.macs)
    return res


def padded_geometry(s: LayerSetting, exp: dict):
    """(rows, cols) of the padded input grid and the (top, left) offset of the real input in it."""
    rows = (s.height if s.dims == 2 else 1) + exp["pad_top"] + exp["pad_bottom"]
    cols = s.width + exp["pad_left"] + exp["pad_right"]
    return rows, cols, exp["pad_top"], exp["pad_left"]


def _call(s: LayerSetting):
    """(stride, dilation, kernel) of the 2-D lifted call, as the library's _args lift 1-D."""
    if s.dims == 1:
        return (1, s.stride), (1, s.dilation), (1, s.kernel_size)
    return (s.stride, s.stride), (s.dilation, s.dilation), (s.kernel_size, s.kernel_size)


def _padded_call(s: LayerSetting, exp: dict):
    """The same layer on the explicitly padded input: (x shape, weight shape, stride, dilation, nd).

    The padding becomes part of the input (padding 0 in the call), so that the library's convolution and its
    gradient see the padding cells too: a tap on the padding then has a place in the gradient."""
    rows, cols, _, _ = padded_geometry(s, exp)
    k = s.kernel_size
    if s.dims == 1:
        return (1, s.in_channels, cols), (s.out_channels, s.in_channels // s.groups, k), 1
    return (1, s.in_channels, rows, cols), (s.out_channels, s.in_channels // s.groups, k, k), 2


def _kind(s: LayerSetting, exp: dict, r: int, q: int) -> str:
    rows, cols, top, left = padded_geometry(s, exp)
    inside = top <= r < rows - exp["pad_bottom"] and left <= q < cols - exp["pad_right"]
    return "tap" if inside else "tapPad"


def expected_footprint(s: LayerSetting, exp: dict, o: int, i: int, j: int) -> set[tuple]:
    """Input cells (channel, padded row, padded col, kind) that output (o, i, j) reads; kind 'tap' or 'tapPad'.

    The support of ``convbook.conv2d_backward`` (``conv1d_backward``) of a one-hot output gradient, with all-one
    weights and the input padded explicitly; its positions must be ``convbook.plotting.footprint_taps``."""

    stride, dilation, kernel = _call(s)
    x_shape, w_shape, nd = _padded_call(s, exp)
    x, w = np.ones(x_shape), np.ones(w_shape)
    if nd == 2:
        grad = np.zeros((1, s.out_channels, exp["out_height"], exp["out_width"]))
        grad[0, o, i, j] = 1.0
        gx = conv2d_backward(grad, x, w, s.stride, 0, s.dilation, s.groups)[0][0]  # (C_in, rows, cols)
    else:
        grad = np.zeros((1, s.out_channels, exp["out_width"]))
        grad[0, o, j] = 1.0
        gx = conv1d_backward(grad, x, w, s.stride, 0, s.dilation, s.groups)[0][0][:, None, :]  # (C_in, 1, cols)
    cells = {(int(c), int(r), int(q)) for c, r, q in zip(*np.nonzero(gx))}
    taps = set(footprint_taps((i, j), kernel, stride, dilation))
    if {(r, q) for _, r, q in cells} != taps:
        raise AssertionError(f"conv2d_backward and footprint_taps disagree for output {(o, i, j)} of {s}")
    return {(c, r, q, _kind(s, exp, r, q)) for c, r, q in cells}


def expected_feeds(s: LayerSetting, exp: dict, c: int, r: int, q: int) -> set[tuple]:
    """Output cells (channel, row, col) that the padded input cell (c, r, q) feeds: the support of
    ``convbook.conv2d`` (``conv1d``) of a one-hot padded input with all-one weights."""

    x_shape, w_shape, nd = _padded_call(s, exp)
    x, w = np.zeros(x_shape), np.ones(w_shape)
    if nd == 2:
        x[0, c, r, q] = 1.0
        y = conv2d(x, w, None, s.stride, 0, s.dilation, s.groups)[0]  # (C_out, H_out, W_out)
    else:
        x[0, c, q] = 1.0
        y = conv1d(x, w, None, s.stride, 0, s.dilation, s.groups)[0][:, None, :]  # (C_out, 1, L_out)
    if y.shape[1:] != (exp["out_height"], exp["out_width"]):
        raise AssertionError(f"the explicitly padded call gives {y.shape[1:]}, not the layer's output size")
    return {(int(o), int(i), int(j)) for o, i, j in zip(*np.nonzero(y))}


def expected_output(s: LayerSetting, x_padded: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The layer applied by convbook to the numbers the page draws (x_padded: (C_in, rows, cols), padded)."""

    exp = expected_layer(s)
    rows, cols, top, left = padded_geometry(s, exp)
    x = x_padded[:, top : rows - exp["pad_bottom"], left : cols - exp["pad_right"]]  # (C_in, H, W), unpadded
    if s.dims == 2:
        return conv2d(x[None], weight, None, s.stride, s.torch_padding(), s.dilation, s.groups)[0]
    x1, w1 = x[:, 0, :], weight[:, :, 0, :]  # (C_in, L), (C_out, C_in/g, k)
    if s.causal and s.stride == 1 and s.groups == 1:
        y = causal_conv1d(x1[None], w1, None, s.dilation)[0]
    elif s.causal:
        y = conv1d(
            np.pad(x1, ((0, 0), (s.dilation * (s.kernel_size - 1), 0)))[None],
            w1,
            None,
            s.stride,
            0,
            s.dilation,
            s.groups,
        )[0]
    else:
        y = conv1d(x1[None], w1, None, s.stride, s.torch_padding(), s.dilation, s.groups)[0]
    return y[:, None, :]  # (C_out, 1, L_out)


def expected_stack(layers: list[tuple[int, int, int]]) -> dict:
    """Receptive fields, jumps, path counts and holes of a stack [(k, s, d), ...] by convbook."""

    prefix = [receptive_field(layers[: i + 1]) for i in range(len(layers))]
    jumps = list(np.cumprod([s for _, s, _ in layers]).astype(int))
    rf = prefix[-1]
    if len({k for k, _, _ in layers}) == 1 and all(s == 1 for _, s, _ in layers):
        counts = coverage_map(layers[0][0], [d for _, _, d in layers], ndim=1)
    else:  # the gradient of the one output of a stack of all-one convolutions counts the paths to each input
        xs = [np.zeros((1, 1, rf))]
        for k, s, d in layers:
            xs.append(conv1d(xs[-1], np.ones((1, 1, k)), None, s, 0, d))
        if xs[-1].shape[-1] != 1:
            raise AssertionError(f"a stack of {layers} on {rf} samples gave {xs[-1].shape[-1]} outputs, not 1")
        g = np.ones((1, 1, 1))
        for (k, s, d), x in zip(reversed(layers), reversed(xs[:-1])):
            g = conv1d_backward(g, x, np.ones((1, 1, k)), s, 0, d)[0]
        counts = np.rint(g[0, 0]).astype(np.int64)
    return {
        "receptive_field": rf,
        "prefix": prefix,
        "jumps": jumps,
        "paths": math.prod(k for k, _, _ in layers),
        "holes": int(np.sum(counts == 0)),
        "counts": [int(c) for c in counts],
    }


def draw_settings(n: int, seed: int) -> list[tuple[LayerSetting, int]]:
    """``n`` random settings (seeded), each with the groups value to ask the slider for.

    Mostly small layers (which the test can also convolve), some large ones; a few are invalid on purpose (same
    padding with a stride, a kernel wider than the padded input), as a reader may set them."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(n):
        dims = 1 if rng.random() < 0.3 else 2
        big = rng.random() < 0.2
        c_in = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 32, 64] if big else [1, 2, 3, 4, 6, 8]))
        c_out = int(rng.choice([1, 2, 4, 6, 8, 16, 32, 64] if big else [1, 2, 3, 4, 6, 8, 12]))
        if rng.random() < 0.35:  # depthwise-friendly: C_out a multiple of C_in
            c_out = min(64, c_in * int(rng.integers(1, 3)))  # the slider stops at 64
        k = int(rng.integers(1, 8 if not big else 10))
        stride = int(rng.choice([1, 1, 2, 3, 4]))
        dil = int(rng.choice([1, 1, 2, 3, 4, 6, 8]))
        pad = str(rng.choice(["valid", "same", "same", "0", "1", "2", "3", "5", "8"]))
        if pad == "same" and rng.random() < 0.75:
            stride = 1
        size_hi = 32 if big else 12
        width = int(rng.integers(1, size_hi + 1))
        height = int(rng.integers(1, size_hi + 1))
        causal = dims == 1 and rng.random() < 0.4
        valid = common_divisors(c_in, c_out)
        want = int(rng.choice(valid)) if rng.random() < 0.8 else int(rng.integers(1, c_in + 1))
        pointwise = rng.random() < 0.5
        setting = LayerSetting(
            dims=dims,
            height=height if dims == 2 else 1,
            width=width,
            in_channels=c_in,
            out_channels=c_out,
            kernel_size=k,
            stride=stride,
            padding=pad,
            dilation=dil,
            groups=want,
            causal=causal,
            bias=bool(rng.random() < 0.5),
            pointwise=pointwise,
            pointwise_channels=int(rng.integers(1, 17)),
        )
        out.append((setting, index))
    return out


def draw_stacks(n: int, seed: int) -> list[list[tuple[int, int, int]]]:
    """``n`` random stacks of 1 to 6 layers; half with one kernel size and stride 1 (coverage_map's case)."""
    rng = np.random.default_rng(seed + 1)
    stacks = []
    for _ in range(n):
        depth = int(rng.integers(1, 7))
        if rng.random() < 0.5:
            k = int(rng.integers(2, 6))
            layers = [(k, 1, int(rng.choice([1, 1, 2, 2, 3, 4, 5, 8, 16]))) for _ in range(depth)]
        else:
            layers = [
                (int(rng.integers(1, 8)), int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 2, 3, 4, 6])))
                for _ in range(depth)
            ]
        stacks.append(layers)
    return stacks


def parse_number(text: str):
    """A figure as the page prints it ("1,024", "—") as an int, or None."""
    text = text.strip().replace(",", "")
    return int(text) if text.lstrip("-").isdigit() else None


def contrast(bg: str, fg: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def lum(css):
        vals = [float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
        lin = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in vals]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((lum(bg), lum(fg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
