"""A 1x1 convolution is a GEMM (pointwise/05): timings of torch's 1x1 convolution against the same matrix products.

Four ways of computing one 1x1 layer (``C_in = C_out = C``) are timed by the
book's protocol (``convbook.lab.timing.time_interleaved``: one thread for torch and
for BLAS, warm-up, interleaved blocks, medians and quartiles, every sample kept):

* ``conv2d, NCHW`` and ``conv2d, NHWC``: ``F.conv2d`` on channels-first data and
  on ``channels_last`` data (weight in the same layout);
* ``matmul, channels first``: ``W @ X_n`` for every image (a batched GEMM);
* ``matmul, channels last``: one ``(N H W x C) @ (C x C)`` GEMM.

Measured: the matmul "peak" (square products), a sweep over the channel count
(one 28x28 image), three ResNet-like layer shapes with a batch of 16, and
grouped 1x1 layers whose FLOPs are held fixed while the groups grow (ShuffleNet
V2's guideline G2). Everything runs twice, each time in a fresh process: once
with glibc's default allocator (what a reader's torch does) and once with
``convbook.lab.machine.steady_allocator()`` (freed memory reused, no page faults on
freshly allocated buffers).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

DESCRIPTION = (
    "1x1 convolution as a GEMM (pointwise/05): conv2d vs matmul in both layouts over channels and layer shapes, "
    "the matmul peak, grouped 1x1 layers at fixed FLOPs; CPU, 1 thread, default and steady allocator"
)

THREADS = 1
REPEATS = 45
METHODS = ("conv2d, NCHW", "conv2d, NHWC", "matmul, channels first", "matmul, channels last")
PEAK_SIZES = (256, 512, 1024)
CHANNELS = (16, 32, 64, 128, 256, 512)
SWEEP = {"n": 1, "hw": 28}
CASES = ((16, 56, 64), (16, 14, 256), (16, 7, 512))  # (N, H = W, C)
#: (groups, channels): FLOPs ``N H W C^2 / g`` are the same for every row (C^2 / g = 4096).
GROUPED = ((1, 64), (4, 128), (16, 256), (64, 512))
GROUPED_SHAPE = {"n": 8, "hw": 28}


def pointwise_fns(n: int, c: int, hw: int, device="cpu") -> tuple[dict, int]:
    """The four callables of one 1x1 layer (see the module docstring) and its FLOPs, ``2 N H W C^2``.

    Inputs are float32, random, on ``device``; the same numbers in both layouts.
    """
    import torch
    import torch.nn.functional as F

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
    return fns, 2 * n * hw * hw * c * c


def grouped_fns(n: int, c: int, hw: int, groups: int, device="cpu") -> tuple[dict, int, int]:
    """A grouped 1x1 layer (``c`` to ``c`` channels) in both layouts; its FLOPs and memory access cost.

    The memory access cost, in values (ShuffleNet V2's MAC): ``N H W (c + c) + c^2 / g``,
    the input and output maps plus the weights.
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, hw, hw, generator=gen).to(device)  # (N, C, H, W)
    w = torch.randn(c, c // groups, 1, 1, generator=gen).to(device)  # (C, C / g, 1, 1)
    x_cl, w_cl = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
    fns = {"NCHW": lambda: F.conv2d(x, w, groups=groups), "NHWC": lambda: F.conv2d(x_cl, w_cl, groups=groups)}
    return fns, 2 * n * hw * hw * c * c // groups, n * hw * hw * 2 * c + c * c // groups


def _rates(timings, flops: int) -> dict:
    """GFLOP/s of every implementation: from the median, and from the quartiles of the time."""
    out = {}
    for name in timings.samples:
        q1, med, q3 = timings.quartiles(name)
        out[name] = {"gflops": flops / med / 1e9, "gflops_iqr": [flops / q3 / 1e9, flops / q1 / 1e9]}
    return out


def _kw(device, threads, repeats) -> dict:
    return {"repeats": repeats, "warmup": 2, "threads": threads, "device": device}


def time_peak(device="cpu", sizes=PEAK_SIZES, threads: int | None = THREADS, repeats: int = REPEATS) -> dict:
    """GFLOP/s of torch float32 square matrix products, ``n x n`` for each ``n`` in ``sizes``; the best is the peak."""
    import torch

    from convbook.lab.timing import time_interleaved

    gen = torch.Generator().manual_seed(0)
    mats = {
        n: (torch.randn(n, n, generator=gen).to(device), torch.randn(n, n, generator=gen).to(device)) for n in sizes
    }
    t = time_interleaved(
        {str(n): (lambda a=a, b=b: a @ b) for n, (a, b) in mats.items()}, **_kw(device, threads, repeats)
    )
    rates = {str(n): _rates(t, 2 * n**3)[str(n)] for n in sizes}
    return {"sizes": rates, "peak_gflops": max(v["gflops"] for v in rates.values()), "timings": t.to_dict()}


def time_sweep(device="cpu", n: int = SWEEP["n"], hw: int = SWEEP["hw"], channels=CHANNELS,
               threads: int | None = THREADS, repeats: int = REPEATS) -> dict:  # fmt: skip
    """The four methods at ``C = C_in = C_out`` for each ``C`` in ``channels``, ``n`` images of ``hw x hw``."""
    from convbook.lab.timing import time_interleaved

    out = {}
    for c in channels:
        fns, flops = pointwise_fns(n, c, hw, device)
        t = time_interleaved(fns, **_kw(device, threads, repeats))
        out[str(c)] = {"rates": _rates(t, flops), "flops": flops, "timings": t.to_dict()}
    return out


def time_cases(device="cpu", cases=CASES, threads: int | None = THREADS, repeats: int = REPEATS) -> dict:
    """The four methods for each ``(N, H = W, C)`` in ``cases``; keys ``"N,H,C"``."""
    from convbook.lab.timing import time_interleaved

    out = {}
    for n, hw, c in cases:
        fns, flops = pointwise_fns(n, c, hw, device)
        t = time_interleaved(fns, **_kw(device, threads, repeats))
        out[f"{n},{hw},{c}"] = {"rates": _rates(t, flops), "flops": flops, "timings": t.to_dict()}
    return out


def time_grouped(device="cpu", n: int = GROUPED_SHAPE["n"], hw: int = GROUPED_SHAPE["hw"], grouped=GROUPED,
                 threads: int | None = THREADS, repeats: int = REPEATS) -> dict:  # fmt: skip
    """Grouped 1x1 layers at fixed FLOPs, both layouts, for each ``(groups, channels)`` in ``grouped``; keys: groups."""
    from convbook.lab.timing import time_interleaved

    out = {}
    for g, c in grouped:
        fns, flops, mac = grouped_fns(n, c, hw, g, device)
        t = time_interleaved(fns, **_kw(device, threads, repeats))
        out[str(g)] = {
            "channels": c,
            "flops": flops,
            "memory_access_values": mac,
            "median_ms": {k: 1e3 * t.median(k) for k in fns},
            "rates": _rates(t, flops),
            "timings": t.to_dict(),
        }
    return out


def measure(device="cpu", threads: int | None = THREADS, repeats: int = REPEATS, quick: bool = False) -> dict:
    """Every measurement of this experiment, in this process, on ``device`` (tiny sizes when ``quick``)."""
    if quick:
        return {
            "peak": time_peak(device, (64, 128), threads, repeats),
            "sweep": time_sweep(device, 1, 8, (16, 64), threads, repeats),
            "cases": time_cases(device, ((2, 8, 16),), threads, repeats),
            "grouped": time_grouped(device, 1, 8, GROUPED[:2], threads, repeats),
        }
    return {
        "peak": time_peak(device, PEAK_SIZES, threads, repeats),
        "sweep": time_sweep(device, SWEEP["n"], SWEEP["hw"], CHANNELS, threads, repeats),
        "cases": time_cases(device, CASES, threads, repeats),
        "grouped": time_grouped(device, GROUPED_SHAPE["n"], GROUPED_SHAPE["hw"], GROUPED, threads, repeats),
    }


_TRACE = """
import sys, torch, torch.nn.functional as F
from convbook.lab.machine import steady_allocator
steady_allocator()
torch.set_num_threads(1)
n, c, hw, layout, calls = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
g = torch.Generator().manual_seed(0)
x, w = torch.randn(n, c, hw, hw, generator=g), torch.randn(c, c, 1, 1, generator=g)
if layout == "NHWC":
    x, w = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
for _ in range(calls):
    F.conv2d(x, w)
"""


def onednn_trace(n: int = 16, c: int = 64, hw: int = 56, calls: int = 10) -> dict | None:
    """The oneDNN primitives that one call of torch's CPU 1x1 convolution runs, in each layout.

    Runs the convolution ``calls`` times in a fresh Python process with ``ONEDNN_VERBOSE=1`` (one thread, the
    steady allocator, so that the last call runs on warm, already mapped memory) and parses oneDNN's log of the
    last call: for every primitive its kind (``reorder``: a layout conversion, or
    ``convolution``), implementation, memory formats, problem size and time in ms. ``None`` where torch has no
    oneDNN or the log is empty.
    """
    import os
    import subprocess
    import sys

    out = {}
    for layout in ("NCHW", "NHWC"):
        env = {**os.environ, "ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", _TRACE, str(n), str(c), str(hw), layout, str(calls)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        lines = [ln.split(",") for ln in proc.stdout.splitlines() if ln.startswith("onednn_verbose,v1,primitive,exec")]
        if proc.returncode != 0 or not lines or len(lines) % calls:
            return None
        last = lines[-len(lines) // calls :]  # every call runs the same primitives; keep the last (warm) one
        out[layout] = [
            {"kind": f[5], "impl": f[6], "formats": f[8], "problem": f[-2], "ms": float(f[-1])} for f in last
        ]
    return {"shape": {"n": n, "c": c, "hw": hw}, "calls": calls, "primitives": out}


def _worker(job) -> dict:
    """One process's measurements: ``job = (allocator, quick)``."""
    allocator, quick = job
    from convbook.lab.machine import steady_allocator

    note = steady_allocator() if allocator == "steady" else "default (glibc's, as torch gets it)"
    return {"allocator": note, **measure("cpu", THREADS, 6 if quick else REPEATS, quick)}


def run(quick: bool = False) -> dict:
    results = {}
    if quick:  # a smoke run: tiny sizes, this process, the allocator as it is
        results["default"] = {"allocator": "as found (quick run)", **measure("cpu", THREADS, 3, quick=True)}
        results["onednn_trace"] = {"2,8,16": onednn_trace(2, 16, 8, 2)}
    else:
        ctx = multiprocessing.get_context("spawn")  # a fresh process per allocator: steady_allocator() is for good
        for allocator in ("default", "steady"):
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                results[allocator] = pool.submit(_worker, (allocator, quick)).result()
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
    }
    return {"settings": settings, "results": results}
