"""Figures of the timing chapters: layer times, roofs, rate sweeps and scaling curves.

Each function draws on the axes it is given; the data come from a stored reference or a live run (the typed
results of ``convbook.lab.experiments``: the functions read them by attribute and do not import them, since
plotting sits below the lab).

* :func:`layer_times`: separable/05's time of each layer kind and the separable pair's speed-up;
* :func:`roof` and :func:`kind_points`: a roofline's roof and one layer kind's measured points;
* :func:`layer_rooflines`: separable/05's rooflines of the reference, one panel per memory layout;
* :func:`sweep_panel`: pointwise/05's GFLOP/s of every method over the channel count;
* :func:`scaling_row`: the performance chapter's four scaling curves.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, NullLocator

from convbook.plotting import OKABE_ITO
from convbook.plotting.axes import plain_log_axes

__all__ = ["KIND_COLORS", "kind_points", "layer_rooflines", "layer_times", "roof", "scaling_row", "sweep_panel"]

#: One colour per layer kind of separable/05.
KIND_COLORS = {
    "standard": OKABE_ITO[0],
    "depthwise": OKABE_ITO[1],
    "pointwise": OKABE_ITO[2],
    "separable": OKABE_ITO[3],
}
_LAYOUT_NAMES = {"nchw": "NCHW", "channels_last": "channels_last"}
_LAYOUT_LINES = (("channels_last", "-"), ("nchw", "--"))
#: Arithmetic intensities (FLOPs per byte) a roof is drawn over.
INTENSITIES = np.logspace(-0.3, 3, 200)


def layer_times(ax_t, ax_s, rows, channels, title: str = "Each layer, batch 8, 28×28 (reference CPU, 1 thread)"):
    """Left: each layer kind's median ms against the channel count; right: the pair's speed-up and the MAC ratio.

    ``rows[f"{layout}/{C}"]`` is one row of separable_timing's summary (``kind(name).ms``, ``speedup``,
    ``mac_ratio``).
    """
    for kind in ("standard", "separable", "depthwise", "pointwise"):
        for layout, style in _LAYOUT_LINES:
            ms = [rows[f"{layout}/{c}"].kind(kind).ms for c in channels]
            ax_t.plot(channels, ms, style, marker="o", ms=4, color=KIND_COLORS[kind])
    ax_t.set_xscale("log", base=2)
    ax_t.set_yscale("log")
    ax_t.set_xlabel("channels C (in = out)")
    ax_t.set_ylabel("time per call (ms, median)")
    ax_t.set_title(title)
    kind_handles = [Line2D([], [], color=c, marker="o", ms=4, label=k) for k, c in KIND_COLORS.items()]
    layout_handles = [Line2D([], [], color="0.3", ls=style, label=_LAYOUT_NAMES[lay]) for lay, style in _LAYOUT_LINES]
    ax_t.legend(handles=kind_handles + layout_handles, fontsize=9, ncol=2)
    for layout, style in _LAYOUT_LINES:
        speedup = [rows[f"{layout}/{c}"].speedup for c in channels]
        label = f"measured, {_LAYOUT_NAMES[layout]}"
        ax_s.plot(channels, speedup, style, marker="s", color=KIND_COLORS["separable"], label=label)
    mac_ratio = [rows[f"nchw/{c}"].mac_ratio for c in channels]
    ax_s.plot(channels, mac_ratio, ":", marker="^", color="0.3", label="multiply-add ratio")
    ax_s.set_xscale("log", base=2)
    ax_s.set_xlabel("channels C (in = out)")
    ax_s.set_ylabel("standard time / separable time (×)")
    ax_s.set_title("Speed-up of the separable pair over the standard layer")
    ax_s.legend(fontsize=9)
    for ax in (ax_t, ax_s):
        ax.set_xticks(channels, labels=[str(c) for c in channels])
        ax.grid(True, which="both", alpha=0.3)


def roof(ax, peak_gflops: float, gbs: float, **line):
    """The roof ``min(peak, intensity x bandwidth)`` over :data:`INTENSITIES`; ``line``: matplotlib's line style."""
    return ax.plot(INTENSITIES, np.minimum(peak_gflops, INTENSITIES * gbs), **line)


def kind_points(ax, kind: str, intensity, gflops, **marker):
    """Open markers in layer kind ``kind``'s colour at (intensity, GFLOP/s)."""
    return ax.scatter(intensity, gflops, facecolors="none", edgecolors=KIND_COLORS[kind], **marker)


def layer_rooflines(axes, rows, costs, roofs, channels):
    """separable/05's reference rooflines: one panel per layout (NCHW, channels_last), two roofs, three kinds.

    ``rows`` and ``costs`` are separable_timing's summary rows and layer costs, ``roofs`` its measured ceilings.
    """
    for ax, layout in zip(axes, ("nchw", "channels_last")):
        roof(ax, roofs.matmul_gflops, roofs.dram_gbs, color="0.2", lw=1.5, label="roof: matmul peak, main memory")
        roof(ax, roofs.matmul_gflops, roofs.cache_gbs, color="0.5", lw=1.2, ls="--", label="roof with cache bandwidth")
        for kind in ("standard", "depthwise", "pointwise"):
            x = [costs[str(c)].kind(kind).intensity for c in channels]
            y = [rows[f"{layout}/{c}"].kind(kind).gflops for c in channels]
            kind_points(ax, kind, x, y, s=[12 + c / 3 for c in channels], linewidths=1.5, label=kind)
        ax.set_xlabel("arithmetic intensity (FLOPs per byte, minimum traffic)")
        ax.set_title(f"{_LAYOUT_NAMES[layout]} (reference CPU, 1 thread, float32)")
        plain_log_axes(ax)  # both axes logarithmic, ticks 1, 2, 5, 10, ...
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("achieved throughput (GFLOP/s)")
    axes[1].legend(loc="lower right", fontsize=9)


def sweep_panel(ax, channels, points, methods, peak: float, title: str):
    """pointwise/05: every method's GFLOP/s (median, and its quartiles as error bars) against the channel count.

    ``points[i].rates[method]`` has ``gflops`` and ``gflops_iqr`` (pointwise_gemm's sweep, stored or live).
    """
    for m, marker in zip(methods, "osD^"):
        med = np.array([p.rates[m].gflops for p in points])
        lo, hi = np.array([p.rates[m].gflops_iqr for p in points]).T
        ax.errorbar(channels, med, yerr=[med - lo, hi - med], marker=marker, capsize=2, label=m)
    ax.axhline(peak, color="0.3", ls=":", lw=1.2)
    ax.text(channels[0], peak * 1.02, "matmul peak", fontsize=8, va="bottom")
    ax.set_xscale("log", base=2)
    ax.set_xticks(channels, [str(c) for c in channels])
    ax.set_xlabel("channels C (C_in = C_out)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_ylim(0, 1.15 * peak)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")


_PANELS = (
    ("size", "height = width (pixels)", "3x3 conv 32->32 vs size"),
    ("channels", "channels C", "3x3 conv C->C at 28x28"),
    ("dilation", "dilation d", "3x3 conv 64->64 at 56x56, batch 2"),
)
_STYLE = {"convbook": ("o", OKABE_ITO[0]), "torch": ("s", OKABE_ITO[1]), "torch_cl": ("^", OKABE_ITO[2])}


def scaling_row(axes, curves, names: dict):
    """The performance chapter's scaling curves on four axes: size, channels, dilation, standard vs depthwise.

    ``curves[key]`` has ``values`` and ``median_ms`` (perf_scaling's curves, stored or live); ``names`` maps
    an implementation to its display name.
    """
    for ax, (key, xlabel, title) in zip(axes, _PANELS):
        c = curves[key]
        for impl, (marker, color) in _STYLE.items():
            ax.plot(c.values, c.median_ms[impl], marker=marker, color=color, label=names[impl])
        ax.set(xlabel=xlabel, title=title)
        plain_log_axes(ax, "y")  # plain 1-2-5 tick labels: a panel can span less than one decade
        ax.set_xticks(c.values, [str(v) for v in c.values])
        ax.xaxis.set_minor_locator(NullLocator())
    ax = axes[3]
    for impl, (marker, color) in _STYLE.items():
        for kind, ls in (("standard", "-"), ("depthwise", "--")):
            c = curves[kind]
            ax.plot(c.values, c.median_ms[impl], marker=marker, ls=ls, color=color, label=f"{kind}, {impl}")
    ax.set(xlabel="channels C", title="standard (solid), depthwise (dashed)")
    plain_log_axes(ax, "y")
    ax.set_xticks(curves["depthwise"].values, [str(v) for v in curves["depthwise"].values])
    ax.xaxis.set_minor_locator(NullLocator())
    axes[0].set_ylabel("forward time (ms, median)")
    for ax in axes:
        ax.yaxis.set_minor_formatter(NullFormatter())
