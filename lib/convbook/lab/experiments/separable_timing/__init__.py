"""FLOPs are not time (separable/05): standard, depthwise and pointwise layers timed, and why they differ.

The layers, their FLOP and byte counts and the timed calls are in
:mod:`convbook.lab.experiments.separable_timing.layers`. What is measured (``convbook.lab.timing`` protocol: one
thread for torch, NumPy's BLAS and convbook's pool; warm-up; interleaved blocks over all kinds and both layouts;
every sample stored; medians and quartiles):

* ``forward``: one forward pass, with glibc's allocator kept steady (``convbook.lab.machine.steady_allocator``,
  as in the benchmark) and, in a second process, with the default allocator, which is what a notebook gets; in
  the steady process the 1x1 layer is also computed as one matrix product and as oneDNN's convolution
  (``layers.POINTWISE_PATHS``), interleaved with the rest, to separate PyTorch's choice of path from the layer;
* ``train_step``: forward and backward (gradients of the input and the weights), steady allocator;
* ``dispatch``: which PyTorch operator runs each layer (oneDNN, or PyTorch's own matrix-product path), from
  torch's profiler;
* ``onednn``: where the time of one warm forward call goes, from oneDNN's own per-primitive log beside the same
  calls timed in the same process (:mod:`~convbook.lab.experiments.separable_timing.probes`, a fresh process for
  each allocator): the convolution primitive, the *reorders* that convert an NCHW tensor into oneDNN's blocked
  layout and back, and the rest of the call;
* ``tiny``: every layer on one 2 x 2 image: the cost of a call with no arithmetic to speak of;
* ``batch_sweep``: the depthwise layer at 128 and 256 channels over batch sizes 1-16, and ``caches``, the CPU's
  cache sizes, for its working set;
* ``ceilings``: the roofs of a roofline, measured on the same thread count (``convbook.lab.machine``): the
  float32 matrix-product peak, and the copy bandwidth of a 64 MB array (main memory) and of a 4 MB one (the L3
  cache);
* ``numpy``: convbook's own NumPy layers (``conv2d``, ``depthwise_conv2d``, ``pointwise_conv2d``) on one image;
* ``small_cnn``: one Adam step of the separable chapter's small CNN and its separable twin (batch 64, 16x16), the
  networks of ``separable_accuracy``, in phases (forward; forward and backward; the whole step), and
  ``small_cnn_profile``, torch's profiler's split of forward and backward by kind of operator.

Each allocator setting is measured in its own fresh process (:func:`convbook.lab.fresh.run_fresh`):
``steady_allocator()`` stays in force for good once made. ``PROCESSES = 3``: ``python -m convbook.lab.experiments
separable_timing`` runs :func:`run` in three independent processes (:mod:`convbook.lab.replicate`); a chapter
asserts an ordering only where the three processes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convbook.lab.experiments.separable_timing.layers import (
    BATCH,
    CHANNELS,
    KERNEL,
    KINDS,
    LAYOUTS,
    NUMPY_CHANNELS,
    PAUSE,
    PER_BLOCK,
    REPEATS,
    SIZE,
    THREADS,
    WARMUP,
    device_ceilings,
    dispatch,
    layer_flops,
    numpy_layers,
    small_cnn_profile,
    small_cnn_steps,
    time_layers,
)
from convbook.lab.experiments.separable_timing.probes import (
    BATCH_SWEEP,
    ONEDNN_CALLS,
    ONEDNN_SKIP,
    ONEDNN_WARMUP,
    TINY,
    batch_sweep,
    onednn_breakdown,
    onednn_calls,
    onednn_split,
    tiny_layers,
)
from convbook.lab.fresh import run_fresh
from convbook.lab.machine import cache_sizes, steady_allocator
from convbook.lab.timing import TimingRecord, fixed_threads

__all__ = ["PROCESSES", "RESULT_VERSION", "Results", "Settings", "layer_rows", "measure", "onednn_breakdown",
           "onednn_calls", "onednn_split", "run", "summarize"]  # fmt: skip

DESCRIPTION = (
    "separable/05: standard, depthwise, pointwise and separable layers timed in NCHW and channels_last (forward, "
    "forward+backward, default and steady allocator), oneDNN's reorder/convolution split, measured roofs"
)
RESULT_VERSION = 2
PROCESSES = 3


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
    pause_s: float
    onednn_calls: int
    onednn_skip: int
    onednn_warmup: int
    tiny: dict[str, int]  # batch, size
    batch_sweep: dict[str, list[int]]  # channels, batches


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
    small_cnn: TimingRecord | None = None  # '{net}/forward', '{net}/forward_backward', '{net}/step'
    small_cnn_profile: dict[str, dict[str, float]] | None = None  # net: {operator kind: ms}
    dispatch: dict[str, list[str]] | None = None  # '{layout}/{kind}/{C}': aten operators
    tiny: dict[str, TimingRecord] | None = None  # by channel count: every layer on one 2 x 2 image
    batch_sweep: dict[str, TimingRecord] | None = None  # by channel count: '{layout}/b{batch}', depthwise
    caches: dict[str, int] | None = None  # bytes per cache level ('L1d', 'L2', 'L3')


@dataclass(frozen=True)
class OnednnSplit:
    """A warm forward call of a layer: oneDNN's primitives (log on) and the whole call (log off, log on), ms medians.

    ``samples`` keeps every call's value (``reorder_ms``, ``convolution_ms``, ``primitives_ms``, ``call_ms``,
    ``logged_call_ms``; pooled over processes in a combined result).
    """

    implementation: str
    reorder_ms_median: float
    convolution_ms_median: float
    primitives_ms_median: float
    call_ms_median: float
    logged_call_ms_median: float
    samples: dict[str, list[float]]


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


# ---- the timing processes


def measure(allocator: str, quick: bool = False) -> dict:
    """Everything measured in one process under one allocator setting ('steady' or 'default')."""
    note = steady_allocator() if allocator == "steady" else "default"
    channels = CHANNELS[:2] if quick else CHANNELS
    repeats, warmup = (3, 1) if quick else (REPEATS, WARMUP)
    steady = allocator == "steady"
    out = {"allocator": note, "forward": time_layers(channels, repeats=repeats, warmup=warmup, pointwise_paths=steady)}
    if steady:
        with fixed_threads(THREADS):
            out["ceilings"] = device_ceilings("cpu", quick=quick)
        out["train_step"] = time_layers(channels, repeats=repeats, warmup=warmup, backward=True)
        out["numpy"] = numpy_layers(NUMPY_CHANNELS[:1] if quick else NUMPY_CHANNELS, 3 if quick else 9)
        out["small_cnn"] = small_cnn_steps(*((3, 1) if quick else (REPEATS, WARMUP)))
        out["tiny"] = tiny_layers(channels, *((3, 1) if quick else (15, 2)))
        sweep = ((channels[0],), (1, 2)) if quick else (BATCH_SWEEP["channels"], BATCH_SWEEP["batches"])
        out["batch_sweep"] = batch_sweep(*sweep, *((3, 1) if quick else (15, 2)))
        out["caches"] = cache_sizes()
        with fixed_threads(THREADS):  # last: the profiler; torch's choice of path depends on the thread count
            out["small_cnn_profile"] = small_cnn_profile(1 if quick else 5)
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
        "pause_s": PAUSE,
        "onednn_calls": ONEDNN_CALLS,
        "onednn_skip": ONEDNN_SKIP,
        "onednn_warmup": ONEDNN_WARMUP,
        "tiny": dict(TINY),
        "batch_sweep": {k: list(v) for k, v in BATCH_SWEEP.items()},
    }
    return {"settings": settings, "results": results}
