"""The diagram of a 1x1 convolution at one pixel (the pointwise chapter's first figure).

:func:`show_pointwise` draws a channel vector going in, the ``C_out x C_in``
weight matrix, and a channel vector coming out; no neighbouring pixel is read.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from convbook._args import positive_int
from convbook.plotting import OUT_COLOR, TAP_COLOR

__all__ = ["show_pointwise"]


def show_pointwise(ax, c_in: int = 4, c_out: int = 3, size: int = 4, pixel=(1, 2), weight=None):
    """Draw what a 1x1 convolution does at one pixel: a channel vector in, a channel vector out.

    From left to right: the ``c_in`` input channels, drawn as separate
    ``size x size`` grids one above the other (channel 0 on top), with the pixel
    at ``pixel`` (row, column) highlighted in each; a line from each highlighted
    cell to its entry of the channel vector ``x`` (length ``c_in``); the
    ``c_out x c_in`` weight matrix ``w`` (random if not given), its rows labelled
    by output channel and its columns by input channel, each entry printed; the
    output vector ``y = w x`` (length ``c_out``); and the ``c_out`` output
    channels with the same pixel highlighted, each joined to its entry of ``y``.
    No neighbouring pixel is read.

    Returns
    -------
    dict
        ``{'in': [Rectangle], 'out': [Rectangle], 'weight': AxesImage}``: the
        highlighted cells (one per channel, top to bottom) and the drawn matrix.
    """
    fname = "show_pointwise"
    c_in = positive_int(c_in, "c_in", fname)
    c_out = positive_int(c_out, "c_out", fname)
    size = positive_int(size, "size", fname)
    pi, pj = (int(v) for v in pixel)
    if not (0 <= pi < size and 0 <= pj < size):
        raise ValueError(f"{fname}: pixel must lie in the {size}x{size} grid, got {tuple(pixel)}")
    if weight is None:
        weight = np.random.default_rng(0).normal(size=(c_out, c_in))
    weight = np.asarray(weight, dtype=float)
    if weight.shape != (c_out, c_in):
        raise ValueError(f"{fname}: weight must have shape ({c_out}, {c_in}), got {weight.shape}")
    gap = 0.7  # between stacked channel grids
    height = max(c_in, c_out) * (size + gap) - gap
    mid = height / 2

    def grids(x0, channels, color, name, label_right=False):
        """``channels`` grids one above the other, centred on ``mid``; returns the highlighted cells."""
        top = mid + (channels * (size + gap) - gap) / 2
        cells = []
        for c in range(channels):
            y0 = top - size - c * (size + gap)  # bottom edge of channel c's grid
            for i in range(size):
                for j in range(size):
                    hit = (i, j) == (pi, pj)
                    r = Rectangle((x0 + j, y0 + size - 1 - i), 1, 1, fc=color if hit else "white", ec="0.6", lw=0.8)
                    ax.add_patch(r)
                    if hit:
                        r.set_edgecolor("black")
                        cells.append(r)
            lx, ha = (x0 + size + 0.3, "left") if label_right else (x0 - 0.3, "right")
            ax.text(lx, y0 + size / 2, f"{name} {c}", ha=ha, va="center", fontsize=8, rotation=90)
        return cells

    def vector(x0, n, color, name):
        top = mid + n / 2
        centres = []
        for c in range(n):
            ax.add_patch(Rectangle((x0, top - c - 1), 1, 1, fc=color, ec="black", lw=0.8))
            ax.text(x0 + 0.5, top - c - 0.5, f"{name}{c}", ha="center", va="center", fontsize=8, color="white")
            centres.append((x0 + 0.5, top - c - 0.5))
        return centres

    def link(a, b):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.35", lw=0.8, ls="--", zorder=1)

    def arrow(x0, x1):
        ax.add_patch(FancyArrowPatch((x0 + 0.2, mid), (x1 - 0.2, mid), arrowstyle="-|>", mutation_scale=14))

    below = -0.6  # labels under the drawing
    left = grids(0.0, c_in, TAP_COLOR, "in")
    ax.text(size / 2, below, f"input: {c_in} channels\nof {size}x{size} pixels", ha="center", va="top", fontsize=8)
    x = size + 2.5
    xs = vector(x, c_in, TAP_COLOR, "x")
    for cell, centre in zip(left, xs):
        link((cell.get_x() + 1, cell.get_y() + 0.5), (centre[0] - 0.5, centre[1]))
    ax.text(x + 0.5, below, f"x: {c_in} values\n(one pixel)", ha="center", va="top", fontsize=8)
    x += 1 + 3.0  # an arrow, then room for the row labels
    vmax = float(np.abs(weight).max()) or 1.0
    extent = (x, x + c_in, mid - c_out / 2, mid + c_out / 2)
    im = ax.imshow(weight, cmap="RdBu_r", vmin=-vmax, vmax=vmax, extent=extent, origin="upper")
    for o in range(c_out):
        yc = mid + c_out / 2 - o - 0.5
        ax.text(x - 0.15, yc, f"out {o}", ha="right", va="center", fontsize=7)
        for c in range(c_in):
            v = weight[o, c]
            ax.text(
                x + c + 0.5,
                yc,
                f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if abs(v) > 0.6 * vmax else "black",
            )
    for c in range(c_in):
        ax.text(x + c + 0.5, mid + c_out / 2 + 0.15, f"in {c}", ha="center", va="bottom", fontsize=7, rotation=90)
    arrow(x - 3.0, x - 1.5)
    ax.text(x + c_in / 2, below, f"w: {c_out} x {c_in}\n(the same at\nevery pixel)", ha="center", va="top", fontsize=8)
    x += c_in + 1.5
    arrow(x - 1.5, x)
    ys = vector(x, c_out, OUT_COLOR, "y")
    ax.text(x + 0.5, below, f"y = w x\n{c_out} values", ha="center", va="top", fontsize=8)
    x += 1 + 2.5
    right = grids(x, c_out, OUT_COLOR, "out", label_right=True)
    for cell, centre in zip(right, ys):
        link((centre[0] + 0.5, centre[1]), (cell.get_x(), cell.get_y() + 0.5))
    ax.text(
        x + size / 2, below, f"output: {c_out} channels\nof {size}x{size} pixels", ha="center", va="top", fontsize=8
    )
    ax.set_xlim(-1.5, x + size + 1.5)
    ax.set_ylim(below - 2.2, height + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return {"in": left, "out": right, "weight": im}
