"""The tables separable/05 prints from the stored reference (:mod:`convbook.lab.experiments.separable_timing`).

Each function takes parts of the typed result (``load_reference("separable_timing").results``) and returns the
text of one table, or the numbers a table shows, so that the chapter's cells print them and assert its claims on
them in a few lines.
"""

from __future__ import annotations

from convbook.lab.experiments.separable_timing.layers import LAYOUTS

__all__ = [
    "LAYOUT_NAMES",
    "batch_rates",
    "batch_table",
    "call_split",
    "forward_table",
    "intensity_table",
    "losses_table",
    "numpy_rates",
    "numpy_table",
    "onednn_table",
    "pair_losses",
    "paths_table",
    "pointwise_paths",
    "split_table",
    "tiny_table",
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


def call_split(onednn: dict, costs: dict, key: str) -> dict:
    """One layer ``key = '{layout}/{kind}/{C}'`` of the oneDNN log: its parts (ms) and rates (GFLOP/s).

    ``conv``, ``reorders`` and ``primitives`` (oneDNN's medians, log on), ``call`` (the whole call's median, log
    off, in the same process), ``rest = call - primitives``; ``primitive_gflops`` and ``call_gflops``: the layer's
    FLOPs over the convolution primitive's time and over the whole call's.
    """
    rec = onednn[key]
    _, kind, c = key.split("/")
    flops = costs[c].kind(kind).flops
    return {
        "conv": rec.convolution_ms_median,
        "reorders": rec.reorder_ms_median,
        "primitives": rec.primitives_ms_median,
        "call": rec.call_ms_median,
        "logged_call": rec.logged_call_ms_median,
        "rest": rec.call_ms_median - rec.primitives_ms_median,
        "primitive_gflops": flops / rec.convolution_ms_median / 1e6,
        "call_gflops": flops / rec.call_ms_median / 1e6,
    }


def split_table(onednn: dict, costs: dict, channels, kinds=("standard", "depthwise")) -> str:
    """Per layer: oneDNN's convolution and reorders, the whole call and the rest (ms); primitive and call GFLOP/s."""
    lines = [
        f"{'layer':<11} {'layout':<14} {'C':>4} {'conv ms':>8} {'reorders':>8} {'call ms':>8} {'rest ms':>8}   "
        f"GFLOP/s: primitive / call"
    ]
    for kind in kinds:
        for layout in LAYOUTS:
            for c in channels:
                s = call_split(onednn, costs, f"{layout}/{kind}/{c}")
                lines.append(
                    f"{kind:<11} {LAYOUT_NAMES[layout]:<14} {c:>4} {s['conv']:>8.3f} {s['reorders']:>8.3f} "
                    f"{s['call']:>8.3f} {s['rest']:>8.3f}   {s['primitive_gflops']:>6.1f} / {s['call_gflops']:5.1f}"
                )
    return "\n".join(lines)


def tiny_table(tiny: dict, channels) -> str:
    """The median ms of every layer on one 2 x 2 image (the cost of a call)."""
    kinds = ("standard", "depthwise", "pointwise")
    lines = [f"{'C':>4} {'layout':<14} " + " ".join(f"{k:>10}" for k in kinds) + "   (ms per call, one 2x2 image)"]
    for c in channels:
        med = tiny[str(c)].median_s
        for layout in LAYOUTS:
            cells = " ".join(f"{1e3 * med[f'{layout}/{k}']:>10.3f}" for k in kinds)
            lines.append(f"{c:>4} {LAYOUT_NAMES[layout]:<14} {cells}")
    return "\n".join(lines)


def batch_rates(sweep: dict, flops, size: int) -> dict:
    """``{(C, layout, batch): (ms, GFLOP/s, working-set bytes)}`` of the depthwise batch sweep.

    ``flops(C, batch)`` gives a call's FLOPs; the working set is the input and output, 4 bytes a value.
    """
    out = {}
    for c, t in sweep.items():
        for name, sec in t.median_s.items():
            layout, b = name.split("/b")
            c_, b_ = int(c), int(b)
            out[c_, layout, b_] = (1e3 * sec, flops(c_, b_) / sec / 1e9, 2 * 4 * b_ * c_ * size * size)
    return out


def batch_table(rates: dict) -> str:
    """The rows of :func:`batch_rates`."""
    lines = [f"{'C':>4} {'layout':<14} {'batch':>5} {'ms':>8} {'GFLOP/s':>8} {'in + out MB':>11}"]
    for (c, layout, b), (ms, gf, nbytes) in rates.items():
        lines.append(f"{c:>4} {LAYOUT_NAMES[layout]:<14} {b:>5} {ms:>8.3f} {gf:>8.1f} {nbytes / 2**20:>11.2f}")
    return "\n".join(lines)


def pointwise_paths(forward: dict, costs: dict, channels) -> dict:
    """``{(C, layout): {'conv2d', 'matmul', 'onednn': ms}}``: the 1x1 layer by each path (median ms)."""
    out = {}
    for c in channels:
        med = forward[str(c)].median_s
        for layout in LAYOUTS:
            paths = {"conv2d": "pointwise", "matmul": "pointwise_matmul", "onednn": "pointwise_onednn"}
            out[c, layout] = {p: 1e3 * med[f"{layout}/{k}"] for p, k in paths.items() if f"{layout}/{k}" in med}
    return out


def paths_table(paths: dict, costs: dict) -> str:
    """The rows of :func:`pointwise_paths`, with GFLOP/s."""
    lines = [f"{'C':>4} {'layout':<14} {'conv2d ms':>9} {'matmul ms':>9} {'oneDNN ms':>9}   GFLOP/s: conv2d / matmul / "
             "oneDNN"]  # fmt: skip
    for (c, layout), ms in paths.items():
        flops = costs[str(c)].pointwise.flops
        gf = " / ".join(f"{flops / ms[p] / 1e6:.0f}" for p in ("conv2d", "matmul", "onednn") if p in ms)
        cells = " ".join(f"{ms.get(p, float('nan')):>9.3f}" for p in ("conv2d", "matmul", "onednn"))
        lines.append(f"{c:>4} {LAYOUT_NAMES[layout]:<14} {cells}   {gf}")
    return "\n".join(lines)
