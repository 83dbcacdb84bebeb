"""The explorer's static figures, shown where JavaScript does not run (the ``<noscript>`` of chapters/explorer.md).

    python -m convbook.course.site.explorer_figure            # writes _static/explorer/noscript-*.png

Both are drawn from the library, with the explorer's light palette and cues (padding hatched, cells read ringed):

* ``noscript-layer.png``: what one output reads, for the explorer's first two presets: a 3 x 3 kernel with padding 1
  at the corner output (0, 0), where five of its nine taps fall on the padding, and a 3 x 3 kernel with dilation 2
  at output (2, 2) (``convbook.plotting.footprint_taps``);
* ``noscript-stack.png``: the number of paths from each input sample to one output for three 3-tap layers with
  dilations 1, 2, 3 (no holes) and 2, 2, 2 (gridding: every other sample unreached), ``convbook.coverage_map``.

The PNGs are committed; ``tests/test_explorer.py`` redraws them and fails when they no longer match the files, so
rerun this command after changing what they show. The page's alt texts say the same in words.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a file, never a window; before pyplot, which picks the backend on import

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from convbook import coverage_map  # noqa: E402
from convbook.plotting import footprint_taps, use_book_style  # noqa: E402

#: The explorer's light palette (explorer.css), so that the figure reads as the page does.
CELL, PAD, PAD_MARK, LINE = "#ffffff", "#d9dce1", "#5d6570", "#b8bec8"
TAP, TAP_PAD, MARK = "#d55e00", "#b34e00", "#000000"
#: (title, unpadded input size, kernel, padding, dilation, output position) of each panel of noscript-layer.png.
LAYER_PANELS = (
    ("k = 3, padding 1: output (0, 0)", 6, 3, 1, 1, (0, 0)),
    ("k = 3, dilation 2: output (2, 2)", 9, 3, 0, 2, (2, 2)),
)
#: (label, dilations) of each stack in noscript-stack.png, 3-tap layers.
STACKS = (("dilations 1, 2, 3", (1, 2, 3)), ("dilations 2, 2, 2", (2, 2, 2)))
DEFAULT_OUT = Path("_static") / "explorer"


def draw_footprint(ax, size: int, kernel: int, padding: int, dilation: int, position) -> list:
    """One channel of the padded input, the taps of the output at ``position`` ringed, padding hatched."""
    n = size + 2 * padding
    taps = set(footprint_taps(position, kernel, 1, dilation))
    drawn = []
    for r in range(n):
        for q in range(n):
            pad = min(r, q) < padding or max(r, q) >= padding + size
            read = (r, q) in taps
            face = (TAP_PAD if pad else TAP) if read else (PAD if pad else CELL)
            ax.add_patch(Rectangle((q - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor=LINE, linewidth=0.8))
            if pad:
                ax.add_patch(
                    Rectangle(
                        (q - 0.5, r - 0.5),
                        1,
                        1,
                        fill=False,
                        hatch="///",
                        edgecolor=MARK if read else PAD_MARK,
                        linewidth=0,
                    )
                )
            if read:
                drawn.append(
                    ax.add_patch(Rectangle((q - 0.38, r - 0.38), 0.76, 0.76, fill=False, edgecolor=MARK, linewidth=1.6))
                )
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.tick_params(labelsize=7)
    what = "padded input" if padding else "input"  # a panel without padding is the input itself
    ax.set_xlabel(f"{what} column")
    ax.set_ylabel(f"{what} row")
    return drawn


def layer_figure(panels=LAYER_PANELS):
    """The figure of ``noscript-layer.png``."""
    use_book_style()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), layout="constrained")
    for ax, (title, size, kernel, padding, dilation, position) in zip(np.atleast_1d(axes), panels):
        draw_footprint(ax, size, kernel, padding, dilation, position)
        ax.set_title(title, fontsize=10)
    fig.suptitle("Input cells one output reads (ringed); padding hatched", fontsize=11)
    return fig


def stack_figure(stacks=STACKS):
    """The figure of ``noscript-stack.png``."""
    use_book_style()
    fig, axes = plt.subplots(len(stacks), 1, figsize=(7.5, 2.1 * len(stacks)), sharex=True, layout="constrained")
    for ax, (label, dilations) in zip(np.atleast_1d(axes), stacks):
        counts = coverage_map(3, list(dilations), ndim=1)
        x = np.arange(counts.size)
        ax.bar(x, counts, color="#0072b2", edgecolor=MARK, linewidth=0.6)
        holes = x[counts == 0]
        ax.plot(
            holes,
            np.zeros_like(holes) + 0.35,
            "x",
            color=TAP,
            markersize=9,
            markeredgewidth=2.2,
            label="hole: no path" if holes.size else None,
        )
        ax.set_title(f"{label}: {counts.size}-sample field, {holes.size} holes", fontsize=10)
        ax.set_ylabel("paths")
        ax.set_ylim(0, max(counts.max(), 1) * 1.2)
        if holes.size:
            ax.legend(loc="upper right", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("input sample (offset in the receptive field)")
    np.atleast_1d(axes)[-1].set_xticks(range(0, counts.size))
    return fig


def write_figures(out: Path) -> list[Path]:
    """Draw both figures into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in (("noscript-layer.png", layer_figure), ("noscript-stack.png", stack_figure)):
        fig = make()
        path = out / name
        fig.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: the bytes follow the drawing
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.course.site.explorer_figure", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for path in write_figures(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
