"""FLOPs are not time (separable/05): standard, depthwise and pointwise layers timed, and why they differ.

The layers, their FLOP and byte counts and the timed calls are in
:mod:`convbook.lab.experiments.separable_timing.layers`. What is measured (``convbook.lab.timing`` protocol: one
thread for torch, NumPy's BLAS and convbook's pool; warm-up; interleaved blocks over all kinds and both layouts;
every sample stored; medians and quartiles):

* ``forward``: one forward pass, with glibc's allocator kept steady (``convbook.lab.machine.steady_allocator``,
  as in the benchmark) and, in a second process, with the default allocator, which is what a notebook gets;
* ``train_step``: forward and backward (gradients of the input and the weights), steady allocator;
* ``dispatch``: which PyTorch operator runs each layer (oneDNN, or PyTorch's own matrix-product path), from
  torch's profiler;
* ``onednn``: where the time of one forward call goes, from oneDNN's own per-primitive log
  (:mod:`convbook.lab.onednn`, in a fresh process for each allocator): the convolution primitive, and the
  *reorders* that convert an NCHW tensor into oneDNN's blocked layout and back;
* ``ceilings``: the roofs of a roofline, measured on the same thread count (``convbook.lab.machine``): the
  float32 matrix-product peak, and the copy bandwidth of a 64 MB array (main memory) and of a 4 MB one (the L3
  cache);
* ``numpy``: convbook's own NumPy layers (``conv2d``, ``depthwise_conv2d``, ``pointwise_conv2d``) on one image;
* ``small_cnn``: one Adam step of the separable chapter's small CNN and its separable twin (batch 64, 16x16), the
  networks of ``separable_accuracy``.

Each allocator setting is measured in its own fresh process (:func:`convbook.lab.fresh.run_fresh`):
``steady_allocator()`` stays in force for good once made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from convbook.lab.experiments.separable_timing.layers import (
    BATCH,
    CHANNELS,
    KERNEL,
    KINDS,
    LAYOUTS,
    NUMPY_CHANNELS,
    PER_BLOCK,
    REPEATS,
    SIZE,
    THREADS,
    WARMUP,
    device_ceilings,
    dispatch,
    layer_flops,
    make_layers,
    memory_format,
    numpy_layers,
    small_cnn_steps,
    time_layers,
)
from convbook.lab.fresh import run_fresh
from convbook.lab.machine import steady_allocator
from convbook.lab.onednn import Primitive, by_label, capture, mark
from convbook.lab.timing import TimingRecord, fixed_threads

DESCRIPTION = (
    "separable/05: standard, depthwise, pointwise and separable layers timed in NCHW and channels_last (forward, "
    "forward+backward, default and steady allocator), oneDNN's reorder/convolution split, measured roofs"
)
RESULT_VERSION = 1
ONEDNN_CALLS, ONEDNN_SKIP = 13, 3


@dataclass(frozen=True)
class Settings:
    channels: list[int]
    batch: int
    size: int
    kernel_size: int
    kinds: list[str]
    layouts: list[str]
    dtype: str
    threads: int
    repeats: int
    warmup: int
    per_block: int
    device: str
    train_step: str
    numpy_channels: list[int]


@dataclass(frozen=True)
class Roofs:
    """The CPU's measured roofs (:func:`~convbook.lab.experiments.separable_timing.layers.device_ceilings`)."""

    device: str
    last_level_cache_bytes: int | None
    matmul_gflops: float
    dram_gbs: float
    cache_gbs: float
    detail: dict[str, Any]


@dataclass(frozen=True)
class Measured:
    """What one process measured; only the steady-allocator process measures more than ``forward``."""

    allocator: str
    forward: dict[str, TimingRecord]  # by channel count
    ceilings: Roofs | None = None
    train_step: dict[str, TimingRecord] | None = None
    numpy: dict[str, TimingRecord] | None = None
    small_cnn: TimingRecord | None = None
    dispatch: dict[str, list[str]] | None = None  # '{layout}/{kind}/{C}': aten operators


@dataclass(frozen=True)
class OnednnSplit:
    """oneDNN's milliseconds of one forward call of a layer, per call after the first ``ONEDNN_SKIP``."""

    implementation: str
    reorder_ms_median: float
    convolution_ms_median: float
    reorder_ms: list[float]
    convolution_ms: list[float]


@dataclass(frozen=True)
class OnednnByAllocator:
    steady: dict[str, OnednnSplit]  # '{layout}/{kind}/{C}'
    default: dict[str, OnednnSplit]


@dataclass(frozen=True)
class LayerCost:
    flops: int
    bytes: int
    intensity: float


@dataclass(frozen=True)
class KindCosts:
    standard: LayerCost
    depthwise: LayerCost
    pointwise: LayerCost
    separable: LayerCost

    def kind(self, name: str) -> LayerCost:
        """The cost of layer kind ``name`` (one of ``KINDS``)."""
        return getattr(self, name)


@dataclass(frozen=True)
class Rate:
    ms: float
    gflops: float


@dataclass(frozen=True)
class LayerRow:
    """One layout and channel count: every kind's median time and rate, and the separable pair's speed-up."""

    standard: Rate
    depthwise: Rate
    pointwise: Rate
    separable: Rate
    speedup: float
    mac_ratio: float
    depthwise_time_share: float

    def kind(self, name: str) -> Rate:
        """The time and rate of layer kind ``name`` (one of ``KINDS``)."""
        return getattr(self, name)


@dataclass(frozen=True)
class AllocatorSummary:
    forward: dict[str, LayerRow]  # '{layout}/{C}'
    train_step: dict[str, LayerRow] | None = None


@dataclass(frozen=True)
class SummaryByAllocator:
    steady: AllocatorSummary
    default: AllocatorSummary | None = None


@dataclass(frozen=True)
class Results:
    steady: Measured
    costs: dict[str, KindCosts]  # by channel count
    summary: SummaryByAllocator
    default: Measured | None = None
    onednn: OnednnByAllocator | None = None


# ---- oneDNN's own account of a call, in a fresh process with its log on


def onednn_calls(allocator: str, channels, calls: int) -> None:
    """Call the standard and depthwise layers ``calls`` times each, every call labelled in oneDNN's log.

    Run in the logged process (:func:`onednn_breakdown`); the 1x1 layer does not run in oneDNN (see ``dispatch``).
    """
    if allocator == "steady":
        steady_allocator()
    for c in channels:
        for layout in LAYOUTS:
            x = torch.randn(BATCH, c, SIZE, SIZE).to(memory_format=memory_format(layout))
            for kind, m in make_layers(c, "cpu", layout).items():
                if kind not in ("standard", "depthwise"):
                    continue
                with torch.no_grad():
                    for i in range(calls):
                        mark(f"{layout}/{kind}/{c}/{i}")
                        m(x)
    mark("end")


def onednn_split(records: list[Primitive], key: str, calls: int, skip: int = ONEDNN_SKIP) -> dict:
    """Reorder and convolution milliseconds of each call ``skip .. calls - 1`` of layer ``key`` (labels ``key/i``)."""
    groups = by_label(records)
    reorder, conv, impl = [], [], ""
    for i in range(skip, calls):
        prims = groups.get(f"{key}/{i}", [])
        reorder.append(sum(p.ms for p in prims if p.kind == "reorder"))
        conv.append(sum(p.ms for p in prims if p.kind == "convolution"))
        impl = next((p.impl for p in reversed(prims) if p.kind == "convolution"), impl)
    return {
        "implementation": impl,
        "reorder_ms_median": float(np.median(reorder)),
        "convolution_ms_median": float(np.median(conv)),
        "reorder_ms": reorder,
        "convolution_ms": conv,
    }


def onednn_breakdown(allocator: str, channels=CHANNELS, calls: int = ONEDNN_CALLS) -> dict:
    """oneDNN's per-primitive times of one forward call of each layer (a fresh process; Linux x86 builds)."""
    records = capture(onednn_calls, allocator, list(channels), calls, threads=THREADS)
    keys = [f"{layout}/{kind}/{c}" for c in channels for layout in LAYOUTS for kind in ("standard", "depthwise")]
    return {key: onednn_split(records, key, calls) for key in keys}


# ---- the timing processes


def measure(allocator: str, quick: bool = False) -> dict:
    """Everything measured in one process under one allocator setting ('steady' or 'default')."""
    note = steady_allocator() if allocator == "steady" else "default"
    channels = CHANNELS[:2] if quick else CHANNELS
    repeats, warmup = (3, 1) if quick else (REPEATS, WARMUP)
    out = {"allocator": note, "forward": time_layers(channels, repeats=repeats, warmup=warmup)}
    if allocator == "steady":
        with fixed_threads(THREADS):
            out["ceilings"] = device_ceilings("cpu", quick=quick)
        out["train_step"] = time_layers(channels, repeats=repeats, warmup=warmup, backward=True)
        out["numpy"] = numpy_layers(NUMPY_CHANNELS[:1] if quick else NUMPY_CHANNELS, 3 if quick else 9)
        out["small_cnn"] = small_cnn_steps(*((3, 1) if quick else (REPEATS, WARMUP)))
        with fixed_threads(THREADS):  # torch's choice of path depends on the thread count
            out["dispatch"] = dispatch(channels)
    return out


def layer_rows(timed: dict, batch: int = BATCH, size: int = SIZE, layouts=LAYOUTS, backward: bool = False) -> dict:
    """Per ``'{layout}/{C}'`` a :class:`LayerRow`: every kind's median ms and GFLOP/s, the pair's speed-up, MAC ratio.

    ``timed`` is what :func:`~convbook.lab.experiments.separable_timing.layers.time_layers` returns (or its
    stored :class:`~convbook.lab.timing.TimingRecord` s); ``backward=True`` counts 3x the forward FLOPs.
    """
    rows = {}
    for c, t in timed.items():
        med = t["median_s"] if isinstance(t, dict) else t.median_s
        flops = {kind: layer_flops(kind, int(c), batch, size)["flops"] for kind in KINDS}
        for layout in layouts:
            sec = {kind: med[f"{layout}/{kind}"] for kind in KINDS}
            rates = {k: Rate(ms=1e3 * sec[k], gflops=flops[k] * (3 if backward else 1) / sec[k] / 1e9) for k in KINDS}
            rows[f"{layout}/{c}"] = LayerRow(
                **rates,
                speedup=sec["standard"] / sec["separable"],
                mac_ratio=flops["standard"] / flops["separable"],
                depthwise_time_share=sec["depthwise"] / (sec["depthwise"] + sec["pointwise"]),
            )
    return rows


def summarize(measured: dict) -> dict:
    """Medians the chapter quotes: per layout and channel count, ms, GFLOP/s and the separable speed-up."""
    parts = [p for p in ("forward", "train_step") if p in measured]
    return {part: layer_rows(measured[part], backward=part == "train_step") for part in parts}


def run(quick: bool = False) -> dict:
    if quick:  # everything in this process, two sizes, few repeats; no allocator comparison, no oneDNN log
        measured = {"steady": measure("steady", quick=True)}
    else:
        measured = {a: run_fresh(measure, a) for a in ("steady", "default")}
        measured["onednn"] = {a: onednn_breakdown(a) for a in ("steady", "default")}
    channels = CHANNELS[:2] if quick else CHANNELS
    results = {
        **measured,
        "costs": {str(c): {k: layer_flops(k, c) for k in KINDS} for c in channels},
        "summary": {a: summarize(measured[a]) for a in ("steady", "default") if a in measured},
    }
    settings = {
        "channels": list(channels),
        "batch": BATCH,
        "size": SIZE,
        "kernel_size": KERNEL,
        "kinds": list(KINDS),
        "layouts": list(LAYOUTS),
        "dtype": "float32",
        "threads": THREADS,
        "repeats": 3 if quick else REPEATS,
        "warmup": 1 if quick else WARMUP,
        "per_block": PER_BLOCK,
        "device": "cpu",
        "train_step": "forward + backward (input and weight gradients); its FLOPs are counted as 3x the forward's",
        "numpy_channels": list(NUMPY_CHANNELS[:1] if quick else NUMPY_CHANNELS),
    }
    return {"settings": settings, "results": results}
