"""Check the convolution explorer in a real browser against the convbook library.

    .venv/bin/python scripts/check_explorer.py            # what `make test-site` runs after check_site.py
    .venv/bin/python scripts/check_explorer.py --settings 300 --stacks 120 --seed 0

The explorer (``_static/explorer/explorer.js``) is driven only through its documented interface: controls
``[data-param=NAME]`` set with ``input``/``change`` events, figures read from ``[data-value=NAME]``. For each of
``--settings`` random one-layer settings (seeded) this script sets the controls, reads what the page shows and
compares it with the library:

* output size with ``convbook.conv_output_size`` and ``convbook.same_padding`` (``same``), or the same ValueError
  that ``convbook.dilated.conv_macs`` raises for settings torch rejects;
* weights and multiply-adds with ``convbook.conv_cost`` (and ``conv_macs``, the library's second counter), the twin
  with ``convbook.separable_cost`` / ``conv_cost``, receptive field with ``convbook.receptive_field``;
* for every third setting (small ones), it points the mouse at a random output cell and checks the highlighted
  input cells against ``convbook.plotting.footprint_taps`` (padded coordinates) and the input channels against the
  support of ``convbook.conv2d_backward`` with all-one weights; it points at a random input cell and checks the
  outputs it lights against the support of ``convbook.conv2d`` of a one-hot input; it samples the canvas pixels
  of the lit and unlit cells; and it checks the numbers drawn against ``convbook.conv2d`` / ``conv1d`` /
  ``causal_conv1d`` on the same arrays.

For ``--stacks`` random stacks it checks the receptive field of each prefix with ``convbook.receptive_field``, the
path counts with ``convbook.dilated.coverage_map`` (equal kernels, stride 1) or with the gradient of a stack of
``convbook.conv1d`` layers (any kernels and strides), and the count of holes. It also checks the presets on the
book's pages, keyboard operation, labels, dark mode, a phone's width (no horizontal scrolling), a page opened from
disk (``file://``) and that no page logs a console error. Screenshots go to ``_build/screenshots/explorer__*.png``.
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_site import SiteServer  # noqa: E402 (a sibling script: the local server of the site check)

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: The page with the standalone explorers, and the chapter pages with presets (site-relative).
STANDALONE = "chapters/explorer.html"
PRESET_PAGES = {
    "chapters/dilated/index.html": {"layer": 1, "stack": 1},
    "chapters/separable/index.html": {"layer": 1, "stack": 0},
    "chapters/pointwise/index.html": {"layer": 1, "stack": 0},
    STANDALONE: {"layer": 1, "stack": 1},
}
#: Uncaught errors every page of this theme stack logs (scripts/check_site.py); not the explorer's.
KNOWN_PAGE_ERRORS = ("THEBE_JS_URL",)
#: Above this many multiply-adds the library is not asked to convolve (the figures are still compared).
MAX_CONV_MACS = 400_000
#: The order in which a setting's controls are set: groups after the channels it must divide.
PARAM_ORDER = (
    "dims",
    "height",
    "width",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "causal",
    "groups",
    "pointwise",
    "pointwise_channels",
    "bias",
    "arrange",
)
LAYER_VALUES = (
    "out_height",
    "out_width",
    "out_channels",
    "weights",
    "macs",
    "receptive_field",
    "effective_kernel",
    "pad_top",
    "pad_bottom",
    "pad_left",
    "pad_right",
    "groups",
    "twin_weights",
    "twin_macs",
    "pointwise_weights",
    "pointwise_macs",
    "total_weights",
    "total_macs",
)


# --------------------------------------------------------------------------- the oracle (library side)


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
    from convbook import (
        conv_cost,
        conv_output_size,
        effective_kernel_size,
        receptive_field,
        same_padding,
        separable_cost,
    )
    from convbook.dilated import conv_macs

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
    from convbook import conv1d_backward, conv2d_backward
    from convbook.plotting import footprint_taps

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
    from convbook import conv1d, conv2d

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
    from convbook import causal_conv1d, conv1d, conv2d

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
    from convbook import conv1d, conv1d_backward, receptive_field
    from convbook.dilated import coverage_map

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


# --------------------------------------------------------------------------- the browser side

SET_LAYER_JS = """
(root, values) => {
  const order = __ORDER__;
  const before = {};
  for (const name of order) {
    if (!(name in values)) continue;
    const el = root.querySelector(`[data-param="${name}"]`);
    before[name] = el.type === "checkbox" ? el.checked : el.value;
    if (el.type === "checkbox") el.checked = !!values[name]; else el.value = String(values[name]);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }
  const out = {};
  for (const el of root.querySelectorAll("[data-value]")) {
    if (el.closest("[data-layer]")) continue;
    const name = el.getAttribute("data-value");
    if (!(name in out)) out[name] = el.textContent;
  }
  out.__controls = {};
  for (const name of order) {
    const el = root.querySelector(`[data-param="${name}"]`);
    out.__controls[name] = el.type === "checkbox" ? el.checked : el.value;
  }
  out.__error = root.getAttribute("data-error");
  out.__groups_control = root.querySelector('[data-param="groups"]').value;
  out.__groups_before = before.groups;
  return out;
}
""".replace("__ORDER__", json.dumps(list(PARAM_ORDER)))

SET_STACK_JS = """
(root, layers) => {
  const fire = (el) => { el.dispatchEvent(new Event("input", { bubbles: true }));
                         el.dispatchEvent(new Event("change", { bubbles: true })); };
  const count = root.querySelector('[data-param="layers"]');
  count.value = String(layers.length); fire(count);
  layers.forEach((l, i) => {
    const row = root.querySelector(`[data-layer="${i + 1}"]`);
    ["kernel_size", "stride", "dilation"].forEach((name, j) => {
      const el = row.querySelector(`[data-param="${name}"]`); el.value = String(l[j]); fire(el);
    });
  });
  const top = (name) => root.querySelector(`[data-value="${name}"]`).textContent;
  const rows = Array.from(root.querySelectorAll("[data-layer]"));
  return {
    receptive_field: top("receptive_field"), paths: top("paths"), holes: top("holes"),
    prefix: rows.map((r) => r.querySelector('[data-value="receptive_field"]').textContent),
    jumps: rows.map((r) => r.querySelector('[data-value="jump"]').textContent),
    counts: root.convExplorer.coverage(),
    rows: rows.length,
  };
}
"""

#: Scroll cell (c, r, q) of a view to the middle of the window; return where it is on screen.
POINT_JS = """
(root, [view, c, r, q]) => {
  const p = root.convExplorer.cellCenter(view, c, r, q);
  window.scrollBy(0, p.y - window.innerHeight / 2);
  return root.convExplorer.cellCenter(view, c, r, q);
}
"""

#: Colour of the canvas pixel near the top-left corner of each listed cell (inside the cell, clear of its digits).
PIXELS_JS = """
(root, [view, cells]) => {
  const api = root.convExplorer, canvas = root.querySelector(`canvas[data-view="${view}"]`);
  const ctx = canvas.getContext("2d"), ratio = canvas.width / canvas.getBoundingClientRect().width;
  return cells.map(([c, r, q]) => {
    const p = api.cellCenter(view, c, r, q);
    const inset = Math.max(1.5, Math.min(4, p.size * 0.2));
    const d = ctx.getImageData(Math.floor((p.left + inset) * ratio), Math.floor((p.top + inset) * ratio), 1, 1).data;
    return [d[0], d[1], d[2]];
  });
}
"""

COLORS_JS = """
(root) => {
  const probe = document.createElement("canvas").getContext("2d"), out = {};
  const colors = root.convExplorer.colors();
  for (const k of ["tap", "tapPad", "sel", "feed"]) {
    probe.fillStyle = colors[k]; probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data; out[k] = [d[0], d[1], d[2]];
  }
  return out;
}
"""


@dataclass
class Results:
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def _as_dict(s: LayerSetting) -> dict:
    d = {name: getattr(s, name) for name in PARAM_ORDER if hasattr(s, name)}
    d["arrange"] = "channel"
    return d


class ExplorerChecker:
    def __init__(self, browser, origin: str, site: Path, shots: Path, results: Results):
        self.browser, self.origin, self.site, self.shots, self.r = browser, origin, site, shots, results
        self.errors: list[str] = []

    def new_page(self, width=1200, height=900, dark=False, console=True):
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, color_scheme="dark" if dark else "light"
        )
        if dark:
            context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
        local = ("http://127.0.0.1", "file:", "data:", "blob:")
        context.route(lambda url: not url.startswith(local), self.block)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if console:
            page.on("pageerror", lambda exc: self.page_error(page, str(exc)))
            page.on("console", lambda msg: self.page_error(page, msg.text) if msg.type == "error" else None)
        else:  # file://: the theme's own fetches fail there; only the explorer's errors count
            page.on("pageerror", lambda exc: "explorer" in (exc.stack or "") and self.page_error(page, str(exc)))
        return page

    def block(self, route) -> None:
        self.r.fail(f"network request to {route.request.url}")
        route.abort()

    def page_error(self, page, text: str) -> None:
        if any(known in text for known in KNOWN_PAGE_ERRORS):
            return
        self.r.fail(f"{page.url}: console error: {text.splitlines()[0][:200]}")

    def open(self, page, rel: str):
        page.goto(f"{self.origin}/{rel}", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('[data-explorer]:not([data-ready])').length === 0")

    # ---- the pages and their presets
    def check_pages(self) -> None:
        page = self.new_page()
        for rel, want in PRESET_PAGES.items():
            if not (self.site / rel).is_file():
                self.r.fail(f"{rel}: not in the built site")
                continue
            self.open(page, rel)
            found = page.evaluate(
                "() => ({layer: document.querySelectorAll('[data-explorer]:not([data-explorer=stack])').length,"
                " stack: document.querySelectorAll('[data-explorer=stack]').length})"
            )
            for kind in ("layer", "stack"):
                if found[kind] < want[kind]:
                    self.r.fail(f"{rel}: {found[kind]} {kind} explorer(s), expected {want[kind]}")
            self.r.add("pages with explorers")
            self.check_labels(page, rel)
            # every preset button gives the library's figures
            for root in page.locator("[data-explorer]").all():
                stack = root.get_attribute("data-explorer") == "stack"
                buttons = root.locator("[data-preset-button]")
                for b in range(buttons.count()):
                    buttons.nth(b).click()
                    self.r.add("preset buttons pressed")
                    if stack:
                        layers = root.evaluate("(r) => r.convExplorer.layers")
                        self.compare_stack(root, [tuple(x) for x in layers], f"{rel} preset")
                    else:
                        state = root.evaluate("(r) => r.convExplorer.state")
                        setting = LayerSetting(**{k: state[k] for k in LayerSetting.__dataclass_fields__})
                        shown = root.evaluate(SET_LAYER_JS, {})  # read only
                        self.compare_layer(setting, shown, f"{rel} preset {buttons.nth(b).inner_text()!r}")
        page.context.close()

    def check_labels(self, page, rel: str) -> None:
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                  '[data-explorer] input, [data-explorer] select, [data-explorer] button'))
                .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                                && !(el.textContent || '').trim())
                .map((el) => el.outerHTML.slice(0, 80))"""
        )
        for html in unlabelled:
            self.r.fail(f"{rel}: control without a label: {html}")
        self.r.add("controls checked for labels", page.locator("[data-explorer] [data-param]").count())

    # ---- one layer
    def compare_layer(self, s: LayerSetting, shown: dict, where: str) -> bool:
        exp = expected_layer(s)
        self.r.add("settings compared")
        if "error" in exp:
            self.r.add("invalid settings compared")
            if not shown["__error"]:
                self.r.fail(f"{where}: {s}: convbook raises ({exp['error']}) but the page shows no error")
                return False
            for name in ("out_height", "out_width", "weights", "macs"):
                if parse_number(shown[name]) is not None:
                    self.r.fail(f"{where}: {s}: invalid settings but {name} shows {shown[name]!r}")
                    return False
            return True
        if shown["__error"]:
            self.r.fail(f"{where}: {s}: the page shows an error ({shown['__error']}) where convbook computes")
            return False
        bad = []
        for name in LAYER_VALUES:
            want = exp.get(name)
            got = parse_number(shown.get(name, "—"))
            if want != got:
                bad.append(f"{name}: page {shown.get(name)!r}, convbook {want}")
        if bad:
            self.r.fail(f"{where}: {s}: " + "; ".join(bad))
            return False
        self.r.add("figures compared", len(LAYER_VALUES))
        return True

    def check_random_layers(self, n: int, seed: int) -> None:
        page = self.new_page()
        self.open(page, STANDALONE)
        root = page.locator("[data-explorer]:not([data-explorer=stack])").first
        root.scroll_into_view_if_needed()
        colors = root.evaluate(COLORS_JS)
        rng = np.random.default_rng(seed + 2)
        mismatches_before = len(self.r.failures)
        for s_req, index in draw_settings(n, seed):
            shown = root.evaluate(SET_LAYER_JS, _as_dict(s_req))
            prev = int(shown["__groups_before"]) if shown["__groups_before"] else 1
            got_groups = int(shown["__groups_control"])
            want_groups = snap_groups(s_req.groups, prev, s_req.in_channels, s_req.out_channels)
            if got_groups != want_groups:
                self.r.fail(
                    f"setting {index}: asked groups={s_req.groups} (from {prev}); "
                    f"the slider shows {got_groups}, expected {want_groups}"
                )
                continue
            self.r.add("groups requests checked")
            held = shown["__controls"]
            wrong = [
                f"{name}={held[name]!r}"
                for name, want in _as_dict(s_req).items()
                if name != "groups"
                and not (name == "height" and s_req.dims == 1)
                and str(held[name]).lower() != str(want).lower()
            ]
            if wrong:
                self.r.fail(f"setting {index}: the controls do not hold what was set: {', '.join(wrong)}")
                continue
            s = LayerSetting(**{**s_req.__dict__, "groups": got_groups})
            if not self.compare_layer(s, shown, f"setting {index}"):
                continue
            exp = expected_layer(s)
            if "error" in exp or index % 3:
                continue
            if s.out_channels * exp["out_height"] * exp["out_width"] > 4096 or exp["macs"] > MAX_CONV_MACS:
                continue
            self.check_pointing(page, root, s, exp, rng, colors, f"setting {index}")
        self.r.counts["mismatches in random settings"] = len(self.r.failures) - mismatches_before
        self.keyboard(page, root)
        page.context.close()

    def check_pointing(self, page, root, s: LayerSetting, exp: dict, rng, colors, where: str) -> None:
        api = "(r, a) => r.convExplorer"
        # an output cell, pointed at with the mouse
        o = int(rng.integers(s.out_channels))
        i = int(rng.integers(exp["out_height"]))
        j = int(rng.integers(exp["out_width"]))
        pos = root.evaluate(POINT_JS, ["output", o, i, j])
        page.mouse.move(pos["x"], pos["y"])
        lit = root.evaluate(f"{api}.highlighted()", None)
        want = expected_footprint(s, exp, o, i, j)
        got = {(c, r, q, kind) for c, r, q, kind in lit["input"]}
        if got != want:
            self.r.fail(
                f"{where}: {s}: output ({o},{i},{j}) lights {sorted(got)[:6]}..., "
                f"the library reads {sorted(want)[:6]}... ({len(got)} vs {len(want)} cells)"
            )
            return
        if lit["output"] != [[o, i, j, "sel"]]:
            self.r.fail(f"{where}: pointing at output ({o},{i},{j}) selected {lit['output']}")
            return
        self.r.add("output footprints compared")
        self.check_pixels(root, "input", want, exp, s, colors, where)
        # an input cell (anywhere in the padded grid), pointed at with the mouse
        rows, cols, _, _ = padded_geometry(s, exp)
        c, r, q = int(rng.integers(s.in_channels)), int(rng.integers(rows)), int(rng.integers(cols))
        pos = root.evaluate(POINT_JS, ["input", c, r, q])
        page.mouse.move(pos["x"], pos["y"])
        lit = root.evaluate(f"{api}.highlighted()", None)
        got = {(a, b, d) for a, b, d, kind in lit["output"]}
        want = expected_feeds(s, exp, c, r, q)
        if got != want or any(kind != "feed" for *_, kind in lit["output"]):
            self.r.fail(
                f"{where}: {s}: input ({c},{r},{q}) lights outputs {sorted(got)[:6]}..., "
                f"the library feeds {sorted(want)[:6]}..."
            )
            return
        self.r.add("input fan-outs compared")
        # the numbers drawn are the library's convolution of the drawn input with the drawn weights
        t = root.evaluate(f"{api}.tensors()", None)
        x = np.array(t["xPadded"], dtype=np.float64)
        w = np.array(t["weight"], dtype=np.float64)
        y = np.array(t["output"], dtype=np.float64)
        ref = expected_output(s, x, w)
        if y.shape != ref.shape or np.max(np.abs(y - ref)) > 1e-9:
            self.r.fail(f"{where}: {s}: the output drawn differs from convbook's convolution")
            return
        self.r.add("outputs compared with convbook.conv2d")
        if s.pointwise and s.groups == s.in_channels:
            from convbook import pointwise_conv2d

            pw = np.array(t["pointwiseWeight"], dtype=np.float64)[:, :, None, None]  # (P, C_out, 1, 1)
            z = np.array(t["pointwiseOutput"], dtype=np.float64)
            if np.max(np.abs(z - pointwise_conv2d(ref[None], pw)[0])) > 1e-9:
                self.r.fail(f"{where}: {s}: the pointwise output drawn differs from convbook.pointwise_conv2d")
                return
            self.r.add("pointwise outputs compared")

    def check_pixels(self, root, view, want, exp, s, colors, where) -> None:
        """The canvas shows the highlight: lit cells in their colour, a sample of unlit cells in neither."""
        rows, cols, _, _ = padded_geometry(s, exp)
        lit = sorted(want)[:40]
        unlit = [
            (c, r, q)
            for c in range(min(s.in_channels, 4))
            for r in range(rows)
            for q in range(cols)
            if (c, r, q, "tap") not in want and (c, r, q, "tapPad") not in want
        ][:40]
        if root.evaluate(f"(r) => r.convExplorer.cellCenter('{view}', 0, 0, 0).size") < 3:
            return
        got = root.evaluate(PIXELS_JS, [view, [list(x[:3]) for x in lit] + [list(x) for x in unlit]])
        for cell, rgb in zip(lit, got[: len(lit)]):
            if rgb != colors[cell[3]]:
                self.r.fail(f"{where}: {s}: lit cell {cell} is painted {rgb}, not {colors[cell[3]]}")
                return
        for cell, rgb in zip(unlit, got[len(lit) :]):
            if rgb in (colors["tap"], colors["tapPad"]):
                self.r.fail(f"{where}: {s}: unlit cell {cell} is painted in a highlight colour")
                return
        self.r.add("canvas cells sampled", len(got))

    # ---- keyboard
    def keyboard(self, page, root) -> None:
        root.evaluate(
            SET_LAYER_JS,
            _as_dict(
                LayerSetting(dims=2, height=6, width=6, in_channels=2, out_channels=2, kernel_size=3, padding="1")
            ),
        )
        slider = root.locator('[data-param="kernel_size"]')
        slider.focus()
        page.keyboard.press("ArrowRight")
        k = root.locator('[data-param="kernel_size"]').input_value()
        shown = root.evaluate(SET_LAYER_JS, {})
        if k != "4" or parse_number(shown["weights"]) != 2 * 2 * 16:
            self.r.fail(f"keyboard: ArrowRight on the kernel slider gave k={k}, weights {shown['weights']}")
        padding = root.locator('[data-param="padding"]')
        padding.select_option("same")
        shown = root.evaluate(SET_LAYER_JS, {})
        if parse_number(shown["out_height"]) != 6 or parse_number(shown["pad_bottom"]) != 2:
            self.r.fail(f"keyboard: padding 'same' chosen with the select shows {shown['out_height']} rows")
        canvas = root.locator('canvas[data-view="output"]')
        root.evaluate("(r) => r.convExplorer.select('output', 0, 0, 0)")
        canvas.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("PageDown")
        lit = root.evaluate("(r) => r.convExplorer.highlighted()")
        if lit["output"] != [[1, 1, 1, "sel"]]:
            self.r.fail(f"keyboard: arrows and PageDown on the output view selected {lit['output']}, not (1, 1, 1)")
        desc = root.locator('[data-role="desc"]').inner_text()
        if "Output channel 1" not in desc:
            self.r.fail(f"keyboard: the description does not follow the cursor: {desc[:80]!r}")
        # play: the selection walks the output
        root.locator('[data-act="first"]').click()
        root.locator('[data-act="play"]').click()
        page.wait_for_timeout(1200)
        after = root.evaluate("(r) => r.convExplorer.highlighted().output")
        root.locator('[data-act="play"]').click()
        if not after or after == [[0, 0, 0, "sel"]]:
            self.r.fail("play: the selected output did not move")
        self.r.add("keyboard and player checks")

    # ---- stacks
    def compare_stack(self, root, layers, where: str) -> None:
        exp = expected_stack(layers)
        shown = root.evaluate(SET_STACK_JS, [list(x) for x in layers])
        self.r.add("stacks compared")
        bad = []
        for name in ("receptive_field", "paths", "holes"):
            if parse_number(shown[name]) != exp[name]:
                bad.append(f"{name}: page {shown[name]!r}, convbook {exp[name]}")
        if [parse_number(x) for x in shown["prefix"]] != exp["prefix"]:
            bad.append(f"receptive field by layer: page {shown['prefix']}, convbook {exp['prefix']}")
        if [parse_number(x) for x in shown["jumps"]] != exp["jumps"]:
            bad.append(f"jumps: page {shown['jumps']}, convbook {exp['jumps']}")
        if shown["counts"] != exp["counts"]:
            bad.append("path counts differ from convbook's coverage")
        if bad:
            self.r.fail(f"{where}: stack {layers}: " + "; ".join(bad))

    def check_random_stacks(self, n: int, seed: int) -> None:
        page = self.new_page()
        self.open(page, STANDALONE)
        root = page.locator("[data-explorer=stack]").first
        before = len(self.r.failures)
        for index, layers in enumerate(draw_stacks(n, seed)):
            self.compare_stack(root, layers, f"stack {index}")
        self.r.counts["mismatches in random stacks"] = len(self.r.failures) - before
        page.context.close()

    # ---- looks: dark mode, a phone, screenshots
    def check_looks(self) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        for name, width, dark in (("light", 1200, False), ("dark", 1200, True), ("phone", 390, False)):
            page = self.new_page(width=width, height=900 if width > 600 else 844, dark=dark)
            self.open(page, STANDALONE)
            if dark and page.evaluate("() => document.documentElement.dataset.theme") != "dark":
                self.r.fail("dark mode did not apply")
            root = page.locator("[data-explorer]").first
            root.evaluate("(r) => r.querySelector('[data-preset-button=\"separable\"]').click()")
            root.evaluate("(r) => r.convExplorer.select('output', 1, 2, 2)")
            bg = root.evaluate("(r) => getComputedStyle(r).backgroundColor")
            fg = root.evaluate("(r) => getComputedStyle(r).color")
            if contrast(bg, fg) < 7:
                self.r.fail(f"{name}: text contrast {contrast(bg, fg):.1f} < 7 ({fg} on {bg})")
            overflow = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth,"
                " Math.max(...Array.from(document.querySelectorAll('[data-explorer]'),"
                " (e) => e.getBoundingClientRect().right))]"
            )
            if overflow[2] > overflow[1] + 1:
                self.r.fail(f"{name}: an explorer is {overflow[2]:.0f} px wide in a {overflow[1]} px window")
            page.add_style_tag(content=".bd-header, .skip-link, .bd-header-article { visibility: hidden !important; }")
            root.scroll_into_view_if_needed()
            root.screenshot(path=str(self.shots / f"explorer__{name}.png"))
            if name == "light":
                stack = page.locator("[data-explorer=stack]").first
                stack.evaluate("(r) => r.querySelector('[data-preset-button=\"gridding\"]').click()")
                stack.screenshot(path=str(self.shots / "explorer__stack_gridding.png"))
            self.r.add("screenshots", 1 + (name == "light"))
            page.context.close()

    def check_file_url(self) -> None:
        """The saved page works without a server: open the built HTML from disk."""
        page = self.new_page(console=False)
        page.goto((self.site / STANDALONE).resolve().as_uri(), wait_until="load")
        try:
            page.wait_for_function("() => document.querySelector('[data-explorer][data-ready]')", timeout=10_000)
            shown = page.locator("[data-explorer]").first.evaluate(SET_LAYER_JS, {"kernel_size": 5})
            if parse_number(shown["effective_kernel"]) != 5:
                self.r.fail(f"file://: the explorer does not react (effective kernel {shown['effective_kernel']})")
            self.r.add("file:// page checks")
        except Exception as exc:
            self.r.fail(f"file://: the explorer did not start: {str(exc).splitlines()[0]}")
        page.context.close()


def contrast(bg: str, fg: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def lum(css):
        vals = [float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
        lin = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in vals]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    a, b = sorted((lum(bg), lum(fg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=None, help="default: _build/screenshots")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--settings", type=int, default=300, help="random one-layer settings to compare")
    parser.add_argument("--stacks", type=int, default=120, help="random stacks to compare")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    site = args.site.resolve()
    shots = args.screenshots or site.parent / "screenshots"
    if not args.chromium.exists():
        print(f"check_explorer: {args.chromium} is missing: sudo apt-get install -y chromium", file=sys.stderr)
        return 2
    if not (site / STANDALONE).exists():
        print(f"check_explorer: {site / STANDALONE} is missing: build the site first (make build)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    results, start = Results(), time.perf_counter()
    with SiteServer(site) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(args.chromium), headless=True, args=LAUNCH_ARGS)
        try:
            checker = ExplorerChecker(browser, server.origin, site, shots, results)
            steps = [
                ("pages and presets", checker.check_pages),
                ("random settings", lambda: checker.check_random_layers(args.settings, args.seed)),
                ("random stacks", lambda: checker.check_random_stacks(args.stacks, args.seed)),
                ("looks", checker.check_looks),
                ("file://", checker.check_file_url),
            ]
            for name, step in steps:
                t0 = time.perf_counter()
                try:
                    step()
                except Exception as exc:  # one broken step must not hide the others
                    results.fail(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                results.counts[f"seconds: {name}"] = round(time.perf_counter() - t0)
        finally:
            browser.close()
    seconds = time.perf_counter() - start
    print(
        f"\nBrowser check of the explorer {'PASSED' if not results.failures else 'FAILED'} in {seconds:.0f} s "
        f"(seed {args.seed})"
    )
    for key, value in results.counts.items():
        print(f"  {key:<40} {value}")
    print(f"  screenshots in {shots}")
    if results.failures:
        print(f"\nFAILED ({len(results.failures)}):")
        for message in results.failures[:40]:
            print(f"  - {message}")
    return 0 if not results.failures else 1


if __name__ == "__main__":
    sys.exit(main())
