"""Where a layer's time goes (separable/05): oneDNN's own account of warm calls, the per-call cost, the batch.

* :func:`onednn_breakdown`: in a fresh process, each standard and depthwise layer is warmed up, timed with oneDNN's
  log off, then called again with the log on (``torch.backends.mkldnn.verbose``), every call labelled
  (:func:`convbook.lab.onednn.mark`) and timed too. The log gives each primitive's milliseconds: the convolution
  itself and the *reorders* (copies between PyTorch's layout and oneDNN's blocked one); the timed calls of the same
  process give the whole call, so the two can be compared: the call's time beyond its primitives is what PyTorch and
  oneDNN spend around the kernels (argument checks, dispatch, allocation, the primitive cache's look-up).
* :func:`tiny_layers`: the same layers on one image of 2 x 2 pixels, where the arithmetic is negligible: what is
  left is the cost of a call.
* :func:`batch_sweep`: the depthwise layer at a few widths over the batch size, to see where its rate per FLOP
  changes, and its working set (input and output bytes) beside the CPU's cache sizes
  (:func:`convbook.lab.machine.cache_sizes`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from convbook.lab.experiments.separable_timing.layers import (
    BATCH,
    CHANNELS,
    LAYOUTS,
    PAUSE,
    SIZE,
    THREADS,
    make_layers,
    memory_format,
    time_layers,
)
from convbook.lab.machine import steady_allocator
from convbook.lab.onednn import Primitive, by_label, capture_value, mark
from convbook.lab.timing import time_interleaved

__all__ = [
    "BATCH_SWEEP",
    "ONEDNN_CALLS",
    "ONEDNN_KINDS",
    "ONEDNN_SKIP",
    "ONEDNN_WARMUP",
    "TINY",
    "batch_sweep",
    "onednn_breakdown",
    "onednn_calls",
    "onednn_split",
    "tiny_layers",
]

#: Logged calls per layer, the first ``ONEDNN_SKIP`` of them left out; untimed warm-up calls before them.
ONEDNN_CALLS, ONEDNN_SKIP, ONEDNN_WARMUP = 25, 1, 5
#: The layers oneDNN runs (the 1x1 layer does not run in oneDNN on one thread: see ``layers.dispatch``).
ONEDNN_KINDS = ("standard", "depthwise")
#: The tiny input of :func:`tiny_layers`: batch and side.
TINY = {"batch": 1, "size": 2}
#: :func:`batch_sweep`'s widths and batch sizes.
BATCH_SWEEP = {"channels": (128, 256), "batches": (1, 2, 4, 8, 16)}


def _timed(m, x) -> float:
    t0 = time.perf_counter()
    m(x)
    return time.perf_counter() - t0


def onednn_calls(allocator: str, channels, calls: int, warmup: int = ONEDNN_WARMUP) -> dict:
    """Run in the logged process (:func:`onednn_breakdown`): every standard and depthwise layer, warm, timed twice.

    For each layer ``key = '{layout}/{kind}/{C}'``: ``warmup`` untimed calls (log off, label ``'warmup'``), then
    ``calls`` timed calls with the log off, then ``calls`` timed calls with the log on, call ``i`` labelled
    ``'{key}/{i}'``. Returns ``{key: {'call_s': [...], 'logged_call_s': [...]}}``.
    """
    if allocator == "steady":
        steady_allocator()
    out = {}
    for c in channels:
        for layout in LAYOUTS:
            x = torch.randn(BATCH, c, SIZE, SIZE).to(memory_format=memory_format(layout))
            for kind, m in make_layers(c, "cpu", layout).items():
                if kind not in ONEDNN_KINDS:
                    continue
                key = f"{layout}/{kind}/{c}"
                with torch.no_grad():
                    mark("warmup")
                    for _ in range(warmup):
                        m(x)
                    quiet = [_timed(m, x) for _ in range(calls)]
                    logged = []
                    with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                        for i in range(calls):
                            mark(f"{key}/{i}")
                            logged.append(_timed(m, x))
                        mark("end")
                out[key] = {"call_s": quiet, "logged_call_s": logged}
    return out


def onednn_split(
    records: list[Primitive], key: str, calls: int, skip: int = ONEDNN_SKIP, timed: dict | None = None
) -> dict:
    """oneDNN's milliseconds per call of layer ``key`` (calls ``skip .. calls - 1``, labels ``key/i``).

    Medians of the reorders, the convolution and all primitives of a call; with ``timed`` (what
    :func:`onednn_calls` timed for this layer) also the medians of the whole call, log off and log on. Every
    per-call value is kept under ``samples`` (ms).
    """
    groups = by_label(records)
    reorder, conv, total, impl = [], [], [], ""
    for i in range(skip, calls):
        prims = groups.get(f"{key}/{i}", [])
        reorder.append(sum(p.ms for p in prims if p.kind == "reorder"))
        conv.append(sum(p.ms for p in prims if p.kind == "convolution"))
        total.append(sum(p.ms for p in prims))
        impl = next((p.impl for p in reversed(prims) if p.kind == "convolution"), impl)
    samples = {"reorder_ms": reorder, "convolution_ms": conv, "primitives_ms": total}
    if timed is not None:
        samples["call_ms"] = [1e3 * s for s in timed["call_s"][skip:]]
        samples["logged_call_ms"] = [1e3 * s for s in timed["logged_call_s"][skip:]]
    out = {"implementation": impl, "samples": samples}
    for name, values in samples.items():
        out[f"{name}_median"] = float(np.median(values)) if values else float("nan")
    return out


def onednn_breakdown(allocator: str, channels=CHANNELS, calls: int = ONEDNN_CALLS) -> dict:
    """oneDNN's per-primitive times of warm forward calls of each layer, beside the calls' own times.

    One fresh process (Linux x86 builds with oneDNN), ``allocator`` 'steady' or 'default'; keys
    ``'{layout}/{kind}/{C}'`` (:func:`onednn_split`).
    """
    records, timed = capture_value(onednn_calls, allocator, list(channels), calls, threads=THREADS)
    keys = [f"{layout}/{kind}/{c}" for c in channels for layout in LAYOUTS for kind in ONEDNN_KINDS]
    return {key: onednn_split(records, key, calls, timed=timed[key]) for key in keys}


def tiny_layers(channels=CHANNELS, repeats: int = 15, warmup: int = 2) -> dict:
    """Every layer on one 2 x 2 image (:data:`TINY`): the time of a call whose arithmetic is negligible."""
    return time_layers(channels, TINY["batch"], TINY["size"], repeats=repeats, warmup=warmup)


def batch_sweep(
    channels=BATCH_SWEEP["channels"], batches=BATCH_SWEEP["batches"], repeats: int = 15, warmup: int = 2
) -> dict:
    """The depthwise layer over the batch size: ``{str(C): timings}``, names ``'{layout}/b{batch}'``.

    Each width's calls (every layout and batch) are interleaved (:func:`convbook.lab.timing.time_interleaved`),
    one thread.
    """
    out = {}
    for c in channels:
        fns = {}
        for layout in LAYOUTS:
            m = make_layers(c, "cpu", layout)["depthwise"]
            for b in batches:
                x = torch.randn(b, c, SIZE, SIZE).to(memory_format=memory_format(layout))

                def call(m=m, x=x):
                    with torch.no_grad():
                        m(x)

                fns[f"{layout}/b{b}"] = call
        t = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=THREADS, per_block=1, pause=PAUSE)
        t.settings.update(channels=c, size=SIZE, batches=list(batches))
        out[str(c)] = t.to_dict()
    return out
