"""A 1x1 convolution is a GEMM (pointwise/05): timings of torch's 1x1 convolution against the same matrix products.

Four ways of computing one 1x1 layer (``C_in = C_out = C``) are timed by the book's protocol
(``convbook.lab.timing.time_interleaved``: one thread for torch and for BLAS, warm-up, interleaved blocks, medians and
quartiles, every sample kept):

* ``conv2d, NCHW`` and ``conv2d, NHWC``: ``F.conv2d`` on channels-first data and on ``channels_last`` data (weight in
  the same layout);
* ``matmul, channels first``: ``W @ X_n`` for every image (a batched GEMM);
* ``matmul, channels last``: one ``(N H W x C) @ (C x C)`` GEMM.

Measured: a sweep over the channel count (one 28x28 image) with square float32 matrix products (``PEAK_SIZES``)
interleaved at every width, three ResNet-like layer shapes with a batch of 16, and grouped 1x1 layers whose FLOPs are
held fixed while the groups grow (ShuffleNet V2's guideline G2). A run's matmul "peak" is the best median rate of all
the matrix products of its sweep (the square ones, pooled over the widths, and the two layer-shaped ones at each
width), measured under the same conditions as the convolutions it is compared with (:class:`Peak`). Everything runs
twice, each time in a fresh process (:func:`convbook.lab.fresh.run_fresh`): with glibc's default allocator (what a
reader's torch does) and with ``convbook.lab.machine.steady_allocator()`` (freed memory reused, no page faults on
freshly allocated buffers). Last, oneDNN's own log of one call in each layout (:mod:`convbook.lab.onednn`): which
primitives run, reorders (layout conversions) included. ``PROCESSES = 3``: the command runs all of it in three
independent processes (:mod:`convbook.lab.replicate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from convbook.costs import pointwise_cost
from convbook.lab.fresh import run_fresh
from convbook.lab.machine import steady_allocator
from convbook.lab.onednn import Primitive, by_label, capture, mark
from convbook.lab.timing import TimingRecord, time_interleaved

DESCRIPTION = (
    "1x1 convolution as a GEMM (pointwise/05): conv2d vs matmul in both layouts over channels and layer shapes, "
    "the matmul peak, grouped 1x1 layers at fixed FLOPs; CPU, 1 thread, default and steady allocator"
)

THREADS = 1
REPEATS = 45
#: Seconds between two blocks of samples: on one thread no pool is left spinning, so a short pause does.
PAUSE = 0.02
PROCESSES = 3
METHODS = ("conv2d, NCHW", "conv2d, NHWC", "matmul, channels first", "matmul, channels last")
PEAK_SIZES = (256, 512, 1024)
CHANNELS = (16, 32, 64, 128, 256, 512)
SWEEP = {"n": 1, "hw": 28}
CASES = ((16, 56, 64), (16, 14, 256), (16, 7, 512))  # (N, H = W, C)
#: (groups, channels): FLOPs ``N H W C^2 / g`` are the same for every row (C^2 / g = 4096).
GROUPED = ((1, 64), (4, 128), (16, 256), (64, 512))
GROUPED_SHAPE = {"n": 8, "hw": 28}
TRACE_CALLS = 10
RESULT_VERSION = 2
#: The name of a square product ``n x n`` in a sweep point's timings.
SQUARE = "square {}"


@dataclass(frozen=True)
class Shape:
    n: int
    hw: int


@dataclass(frozen=True)
class Settings:
    device: str
    dtype: str
    threads: int
    repeats: int
    protocol: str
    methods: list[str]
    peak_sizes: list[int]
    channels: list[int]
    sweep: Shape
    cases: list[tuple[int, int, int]]  # (N, H = W, C)
    grouped: list[tuple[int, int]]  # (groups, C)
    grouped_shape: Shape
    allocators: list[str]
    pause_s: float


@dataclass(frozen=True)
class Rate:
    """GFLOP/s from the median time, and from its quartiles (slow, fast)."""

    gflops: float
    gflops_iqr: tuple[float, float]


@dataclass(frozen=True)
class Peak:
    """A run's matrix products (``'square N'``, pooled over the widths; ``'METHOD @ C'``); the best one is the peak."""

    products: dict[str, Rate]

    @property
    def name(self) -> str:
        """The product with the highest median rate: ``products[name]`` is the peak."""
        return max(self.products, key=lambda k: self.products[k].gflops)

    @property
    def peak_gflops(self) -> float:
        return self.products[self.name].gflops


@dataclass(frozen=True)
class Point:
    """One layer shape: the rate of every method (:data:`METHODS`)."""

    rates: dict[str, Rate]
    flops: int
    timings: TimingRecord

    def best_gflops(self, methods) -> float:
        """The highest median rate among ``methods``."""
        return max(self.rates[m].gflops for m in methods)

    def ratio(self, method: str, other: str) -> float:
        """How many times the rate of ``other`` that ``method`` reaches."""
        return self.rates[method].gflops / self.rates[other].gflops


@dataclass(frozen=True)
class Grouped:
    """One grouped 1x1 layer, in both layouts ('NCHW', 'NHWC')."""

    channels: int
    flops: int
    memory_access_values: int
    median_ms: dict[str, float]
    rates: dict[str, Rate]
    timings: TimingRecord


@dataclass(frozen=True)
class Measured:
    """Everything one process measured, under one allocator setting."""

    allocator: str
    sweep: dict[str, Point]  # by channel count
    cases: dict[str, Point]  # 'N,H,C'
    grouped: dict[str, Grouped]  # by groups

    @property
    def peak(self) -> Peak:
        """This run's matmul peak: the best of the matrix products timed in its sweep (:func:`peak_of`)."""
        return peak_of(self.sweep)


@dataclass(frozen=True)
class Trace:
    """oneDNN's primitives of the last (warm) call of one layer shape, in each layout ('NCHW', 'NHWC')."""

    shape: dict[str, int]
    calls: int
    primitives: dict[str, list[Primitive]]

    def reorder_share(self, layout: str) -> float:
        """The share of the call's oneDNN time that ``layout``'s reorders (layout conversions) take."""
        prims = self.primitives[layout]
        return sum(p.ms for p in prims if p.kind == "reorder") / sum(p.ms for p in prims)


@dataclass(frozen=True)
class Results:
    default: Measured
    onednn_trace: dict[str, Trace | None]  # 'N,H,C'; None where torch runs no oneDNN
    steady: Measured | None = None


def pointwise_fns(n: int, c: int, hw: int, device="cpu") -> tuple[dict, int]:
    """The four callables of one 1x1 layer (see the module docstring) and its FLOPs, ``2 N H W C^2``.

    Inputs are float32, random, on ``device``; the same numbers in both layouts.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, hw, hw, generator=gen).to(device)  # (N, C, H, W)
    w = torch.randn(c, c, 1, 1, generator=gen).to(device)  # (C_out, C_in, 1, 1)
    x_cl, w_cl = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
    w2 = w[:, :, 0, 0]  # (C_out, C_in)
    x_cf = x.reshape(n, c, hw * hw)  # (N, C, HW): a view
    rows = x_cl.permute(0, 2, 3, 1).reshape(-1, c)  # (N*H*W, C): a view of the channels-last data
    fns = {
        METHODS[0]: lambda: F.conv2d(x, w),
        METHODS[1]: lambda: F.conv2d(x_cl, w_cl),
        METHODS[2]: lambda: torch.matmul(w2, x_cf),
        METHODS[3]: lambda: rows @ w2.T,
    }
    return fns, n * pointwise_cost(c, c, hw).flops


def grouped_fns(n: int, c: int, hw: int, groups: int, device="cpu") -> tuple[dict, int, int]:
    """A grouped 1x1 layer (``c`` to ``c`` channels) in both layouts; its FLOPs and memory access cost.

    The memory access cost, in values (ShuffleNet V2's MAC): ``N H W (c + c) + c^2 / g``,
    the input and output maps plus the weights.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, hw, hw, generator=gen).to(device)  # (N, C, H, W)
    w = torch.randn(c, c // groups, 1, 1, generator=gen).to(device)  # (C, C / g, 1, 1)
    x_cl, w_cl = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
    fns = {"NCHW": lambda: F.conv2d(x, w, groups=groups), "NHWC": lambda: F.conv2d(x_cl, w_cl, groups=groups)}
    cost = pointwise_cost(c, c, hw, groups=groups)
    return fns, n * cost.flops, n * hw * hw * 2 * c + cost.params


def _rates(timings, flops: int) -> dict[str, Rate]:
    """GFLOP/s of every implementation (all of ``flops`` FLOPs): from the median and the quartiles of the time."""
    return {name: _rate(samples, flops) for name, samples in timings.samples.items()}


def case_label(key: str) -> str:
    """``'16,56,64'`` (a key of ``cases``: N, H = W, C) as the chapter writes it: ``'16, 56x56, 64'``."""
    n, hw, c = key.split(",")
    return f"{n}, {hw}x{hw}, {c}"


def rates_table(points: dict, methods, head: str = "C", width: int = 5, label=str) -> str:
    """One line per layer shape of ``points`` (a sweep, or the cases): every method's median GFLOP/s.

    ``label(key)`` writes a shape's key (:func:`case_label` for the cases), right-aligned in ``width`` columns.
    """
    lines = [f"{head:>{width}} " + " ".join(f"{m:>23}" for m in methods)]
    for key, p in points.items():
        lines.append(f"{label(key):>{width}} " + " ".join(f"{p.rates[m].gflops:>23.0f}" for m in methods))
    return "\n".join(lines)


def _kw(device, threads, repeats) -> dict:
    return {"repeats": repeats, "warmup": 2, "threads": threads, "device": device, "pause": PAUSE}


def square_fns(sizes=PEAK_SIZES, device="cpu") -> tuple[dict, dict]:
    """Square float32 products ``n x n`` for each ``n`` in ``sizes`` (names ``'square n'``) and their FLOPs."""
    gen = torch.Generator().manual_seed(1)
    fns, flops = {}, {}
    for n in sizes:
        a, b = torch.randn(n, n, generator=gen).to(device), torch.randn(n, n, generator=gen).to(device)
        fns[SQUARE.format(n)], flops[SQUARE.format(n)] = (lambda a=a, b=b: a @ b), 2 * n**3
    return fns, flops


def peak_of(sweep: dict[str, Point]) -> Peak:
    """The :class:`Peak` of a sweep: every matrix product it timed (square ones pooled over the widths)."""
    products = {}
    first = next(iter(sweep.values()))
    for name in (k for k in first.timings.samples_s if k.startswith(SQUARE.format(""))):
        n = int(name.split()[-1])
        samples = [s for p in sweep.values() for s in p.timings.samples_s[name]]
        products[name] = _rate(samples, 2 * n**3)
    for c, p in sweep.items():
        for m in METHODS[2:]:
            products[f"{m} @ {c}"] = p.rates[m]
    return Peak(products=products)


def _rate(samples, flops: int) -> Rate:
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return Rate(gflops=flops / med / 1e9, gflops_iqr=(flops / q3 / 1e9, flops / q1 / 1e9))


def time_sweep(
    device="cpu",
    n: int = SWEEP["n"],
    hw: int = SWEEP["hw"],
    channels=CHANNELS,
    threads: int | None = THREADS,
    repeats: int = REPEATS,
    sizes=PEAK_SIZES,
) -> dict[str, Point]:
    """The four methods at ``C = C_in = C_out`` for each ``C`` in ``channels``, ``n`` images of ``hw x hw``.

    The square products of ``sizes`` (:func:`square_fns`) are timed with them at every width, interleaved; their
    rates are in the point's ``rates`` too, under ``'square n'``.
    """
    squares, square_flops = square_fns(sizes, device)
    out = {}
    for c in channels:
        fns, flops = pointwise_fns(n, c, hw, device)
        t = time_interleaved({**fns, **squares}, **_kw(device, threads, repeats))
        rates = {**_rates(t, flops), **{k: _rates(t, f)[k] for k, f in square_flops.items()}}
        out[str(c)] = Point(rates=rates, flops=flops, timings=t.record())
    return out


def time_cases(device="cpu", cases=CASES, threads: int | None = THREADS, repeats: int = REPEATS) -> dict[str, Point]:
    """The four methods for each ``(N, H = W, C)`` in ``cases``; keys ``"N,H,C"``."""
    out = {}
    for n, hw, c in cases:
        fns, flops = pointwise_fns(n, c, hw, device)
        t = time_interleaved(fns, **_kw(device, threads, repeats))
        out[f"{n},{hw},{c}"] = Point(rates=_rates(t, flops), flops=flops, timings=t.record())
    return out


def time_grouped(device="cpu", n: int = GROUPED_SHAPE["n"], hw: int = GROUPED_SHAPE["hw"], grouped=GROUPED,
                 threads: int | None = THREADS, repeats: int = REPEATS) -> dict[str, Grouped]:  # fmt: skip
    """Grouped 1x1 layers at fixed FLOPs, both layouts, for each ``(groups, channels)`` in ``grouped``; keys: groups."""
    out = {}
    for g, c in grouped:
        fns, flops, mac = grouped_fns(n, c, hw, g, device)
        t = time_interleaved(fns, **_kw(device, threads, repeats))
        out[str(g)] = Grouped(
            channels=c,
            flops=flops,
            memory_access_values=mac,
            median_ms={k: 1e3 * t.median(k) for k in fns},
            rates=_rates(t, flops),
            timings=t.record(),
        )
    return out


def measure(device="cpu", threads: int | None = THREADS, repeats: int = REPEATS, quick: bool = False) -> dict:
    """Every measurement of this experiment, in this process, on ``device`` (tiny sizes when ``quick``)."""
    if quick:
        return {
            "sweep": time_sweep(device, 1, 8, (16, 64), threads, repeats, (64, 128)),
            "cases": time_cases(device, ((2, 8, 16),), threads, repeats),
            "grouped": time_grouped(device, 1, 8, GROUPED[:2], threads, repeats),
        }
    return {
        "sweep": time_sweep(device, SWEEP["n"], SWEEP["hw"], CHANNELS, threads, repeats, PEAK_SIZES),
        "cases": time_cases(device, CASES, threads, repeats),
        "grouped": time_grouped(device, GROUPED_SHAPE["n"], GROUPED_SHAPE["hw"], GROUPED, threads, repeats),
    }


def trace_calls(n: int, c: int, hw: int, layout: str, calls: int) -> None:
    """``calls`` calls of torch's 1x1 convolution, each labelled in oneDNN's log (run in the logged process).

    One thread and the steady allocator, so that the last call runs on warm, already mapped memory.
    """
    steady_allocator()
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(n, c, hw, hw, generator=g), torch.randn(c, c, 1, 1, generator=g)
    if layout == "NHWC":
        x, w = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
    for i in range(calls):
        mark(f"call {i}")
        F.conv2d(x, w)


def onednn_trace(n: int = 16, c: int = 64, hw: int = 56, calls: int = TRACE_CALLS) -> Trace | None:
    """The oneDNN primitives that one call of torch's CPU 1x1 convolution runs, in each layout.

    Runs the convolution ``calls`` times in a fresh process with oneDNN's log on (:func:`convbook.lab.onednn.capture`)
    and keeps the primitives of the last call: for every primitive its kind (``reorder``: a layout conversion, or
    ``convolution``), implementation, memory formats, problem size and time in ms. ``None`` where torch has no
    oneDNN or the log is empty.
    """
    out = {}
    for layout in ("NCHW", "NHWC"):
        last = by_label(capture(trace_calls, n, c, hw, layout, calls, threads=1, timeout=300)).get(f"call {calls - 1}")
        if not last:
            return None
        out[layout] = last
    return Trace(shape={"n": n, "c": c, "hw": hw}, calls=calls, primitives=out)


def _worker(allocator: str, quick: bool) -> dict:
    """One process's measurements (run in a fresh process: ``steady_allocator()`` is for good)."""
    note = steady_allocator() if allocator == "steady" else "default (glibc's, as torch gets it)"
    return {"allocator": note, **measure("cpu", THREADS, 6 if quick else REPEATS, quick)}


def run(quick: bool = False) -> dict:
    results = {}
    if quick:  # a smoke run: tiny sizes, this process, the allocator as it is
        results["default"] = {"allocator": "as found (quick run)", **measure("cpu", THREADS, 3, quick=True)}
        results["onednn_trace"] = {"2,8,16": onednn_trace(2, 16, 8, 2)}
    else:
        for allocator in ("default", "steady"):
            results[allocator] = run_fresh(_worker, allocator, quick)
        results["onednn_trace"] = {f"{n},{hw},{c}": onednn_trace(n, c, hw) for n, hw, c in (CASES[0], CASES[-1])}
    settings = {
        "device": "cpu",
        "dtype": "float32",
        "threads": THREADS,
        "repeats": 6 if quick else REPEATS,
        "protocol": "convbook.lab.timing.time_interleaved: warm-up 2, blocks of 3 samples alternating between methods",
        "methods": list(METHODS),
        "peak_sizes": list(PEAK_SIZES),
        "channels": list(CHANNELS),
        "sweep": SWEEP,
        "cases": [list(c) for c in CASES],
        "grouped": [list(g) for g in GROUPED],
        "grouped_shape": GROUPED_SHAPE,
        "allocators": ["default", "steady"],
        "pause_s": PAUSE,
    }
    return {"settings": settings, "results": results}
