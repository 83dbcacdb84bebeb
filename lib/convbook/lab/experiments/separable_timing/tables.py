"""The tables separable/05 prints from the stored reference (:mod:`convbook.lab.experiments.separable_timing`).

Each function takes parts of the typed result (``load_reference("separable_timing").results``) and returns the
text of one table, or the numbers a table shows, so that the chapter's cells print them and assert its claims on
them in a few lines.
"""

from __future__ import annotations

from convbook.lab.experiments.separable_timing.layers import LAYOUTS

__all__ = [
    "LAYOUT_NAMES",
    "forward_table",
    "intensity_table",
    "losses_table",
    "numpy_rates",
    "numpy_table",
    "onednn_table",
    "pair_losses",
    "train_table",
]

#: How the chapter writes each memory layout.
LAYOUT_NAMES = {"nchw": "NCHW", "channels_last": "channels_last"}


def intensity_table(costs: dict, batch: int, size: int) -> str:
    """FLOPs per byte of every layer at each channel count, and the depthwise layer's working set."""
    lines = [
        f"batch {batch}, {size}x{size}, C -> C channels: FLOPs per byte at minimum traffic",
        f"{'C':>4} {'standard':>9} {'depthwise':>9} {'pointwise':>9}   working set of the depthwise layer",
    ]
    for c, k in costs.items():
        lines.append(
            f"{c:>4} {k.standard.intensity:>9.1f} {k.depthwise.intensity:>9.1f} {k.pointwise.intensity:>9.1f}   "
            f"{k.depthwise.bytes / 1e6:.1f} MB"
        )
    return "\n".join(lines)


def forward_table(rows: dict, channels) -> str:
    """Per layout: the standard layer's and the pair's ms, the speed-up, the MAC ratio and every kind's GFLOP/s."""
    lines = []
    for layout in LAYOUTS:
        lines += [
            f"\n{LAYOUT_NAMES[layout]}",
            f"{'C':>4} {'standard ms':>11} {'separable ms':>12} {'speed-up':>8} {'MAC ratio':>9}   GFLOP/s: standard / "
            f"depthwise / pointwise",
        ]
        for c in channels:
            r = rows[f"{layout}/{c}"]
            lines.append(
                f"{c:>4} {r.standard.ms:>11.2f} {r.separable.ms:>12.2f} {r.speedup:>8.2f} {r.mac_ratio:>9.2f}   "
                f"{r.standard.gflops:6.1f} / {r.depthwise.gflops:5.1f} / {r.pointwise.gflops:5.1f}"
            )
    return "\n".join(lines)


def pair_losses(rows: dict, costs: dict, channels) -> dict:
    """``{(C, layout): {kind: ms}}``: the time each step of the pair takes beyond its FLOPs at the standard's rate."""
    out = {}
    for c in channels:
        for layout in LAYOUTS:
            r = rows[f"{layout}/{c}"]
            rate = r.standard.gflops * 1e6  # FLOPs per ms
            out[c, layout] = {k: r.kind(k).ms - costs[str(c)].kind(k).flops / rate for k in ("depthwise", "pointwise")}
    return out


def losses_table(rows: dict, losses: dict) -> str:
    """The lost milliseconds of :func:`pair_losses`, and the rest of the pair's time (neither layer's)."""
    lines = [
        "\nwhere the pair loses against the standard layer's rate (ms, as if each layer ran at that rate):",
        f"{'C':>4} {'layout':<14} {'depthwise':>9} {'pointwise':>9} {'pair, rest':>10}",
    ]
    for (c, layout), lost in losses.items():
        r = rows[f"{layout}/{c}"]
        rest = r.separable.ms - r.depthwise.ms - r.pointwise.ms
        lines.append(
            f"{c:>4} {LAYOUT_NAMES[layout]:<14} {lost['depthwise']:>9.2f} {lost['pointwise']:>9.2f} {rest:>10.2f}"
        )
    return "\n".join(lines)


def onednn_table(onednn: dict, forward: dict, forward_default: dict, channels) -> str:
    """oneDNN's split of the depthwise call (steady allocator) beside the whole call under both allocators."""
    lines = [
        f"{'depthwise':<10} {'layout':<14} {'implementation':<22} {'reorders ms':>11} {'conv ms':>8} {'call ms':>8} "
        f"{'call ms, default allocator':>27}"
    ]
    for c in channels:
        for layout in LAYOUTS:
            rec = onednn[f"{layout}/depthwise/{c}"]
            lines.append(
                f"{c:<10} {LAYOUT_NAMES[layout]:<14} {rec.implementation:<22} {rec.reorder_ms_median:>11.3f} "
                f"{rec.convolution_ms_median:>8.3f} {forward[f'{layout}/{c}'].depthwise.ms:>8.3f} "
                f"{forward_default[f'{layout}/{c}'].depthwise.ms:>27.3f}"
            )
    return "\n".join(lines)


def train_table(rows: dict, channels) -> str:
    """GFLOP/s of forward plus backward of every kind, and the pair's speed-up."""
    head = "GFLOP/s forward + backward: standard / depthwise / pointwise   speed-up of the pair"
    lines = [f"{'C':>4} {'layout':<14} {head}"]
    for c in channels:
        for layout in LAYOUTS:
            r = rows[f"{layout}/{c}"]
            lines.append(
                f"{c:>4} {LAYOUT_NAMES[layout]:<14} {r.standard.gflops:>30.1f} / {r.depthwise.gflops:5.1f} / "
                f"{r.pointwise.gflops:5.1f} {r.speedup:>16.2f}"
            )
    return "\n".join(lines)


def numpy_rates(numpy: dict, flops) -> dict:
    """Per channel count: convbook's median ms, GFLOP/s and the pair's speed-up (``flops(kind, C)`` per call).

    ``numpy`` holds :func:`~convbook.lab.experiments.separable_timing.layers.numpy_layers`'s timings (stored or
    live), by channel count.
    """
    out = {}
    for c, t in numpy.items():
        med = t["median_s"] if isinstance(t, dict) else t.median_s
        out[c] = {
            "ms": {k: 1e3 * v for k, v in med.items()},
            "gflops": {k: flops(k, int(c)) / v / 1e9 for k, v in med.items()},
            "speedup": med["standard"] / (med["depthwise"] + med["pointwise"]),
        }
    return out


def numpy_table(rates: dict) -> str:
    """The rows of :func:`numpy_rates`."""
    lines = [
        f"{'C':>4} {'standard ms':>11} {'depthwise ms':>12} {'pointwise ms':>12} {'speed-up':>8}   GFLOP/s: "
        f"standard / depthwise / pointwise"
    ]
    for c, r in rates.items():
        ms, gf = r["ms"], r["gflops"]
        lines.append(
            f"{c:>4} {ms['standard']:>11.3f} {ms['depthwise']:>12.3f} {ms['pointwise']:>12.3f} {r['speedup']:>8.2f}   "
            f"{gf['standard']:.1f} / {gf['depthwise']:.1f} / {gf['pointwise']:.1f}"
        )
    return "\n".join(lines)
