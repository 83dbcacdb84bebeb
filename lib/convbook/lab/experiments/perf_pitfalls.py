"""Two ways a CPU timing goes wrong without the code changing: page faults on fresh memory, and spinning thread pools.

Used by chapters/performance.ipynb ("The allocator is part of the measurement" and "What to take away").

* ``first_touch``: milliseconds to fill a buffer the size of the benchmark's
  depthwise output (8 x 128 x 56 x 56 float32, 12.8 MB) that is already mapped,
  against one freshly mapped by ``mmap`` (``machine.first_touch_cost``, one
  sample per call, every sample stored). The fresh fill pays a page fault per
  4 KiB page.
* ``spinning_pools``: torch's forward pass of the benchmark's depthwise layer,
  timed two ways with all usable cores for torch and NumPy's BLAS: (a) in blocks
  after a short pause, as ``convbook.lab.bench`` does, and (b) call by call, each
  torch call right after a ``convbook.conv2d`` call of the benchmark's standard
  3x3 layer, whose matrix products leave OpenBLAS's worker threads spinning for
  a while. The ratio b / a is the price of timing two libraries call by call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from convbook import conv2d
from convbook.lab.bench import CASES
from convbook.lab.machine import first_touch_cost, steady_allocator, usable_cores
from convbook.lab.results import Threads
from convbook.lab.timing import fixed_threads, time_calls

DESCRIPTION = (
    "First-touch page faults (fill a reused vs a freshly mapped 12.8 MB buffer) and the cost of timing torch call by "
    "call right after convbook's BLAS work (performance chapter)"
)

REPEATS = 21
SEED = 0
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class Settings:
    repeats: int
    threads: int
    allocator: str
    input_seed: int
    depthwise_layer: str
    blas_layer: str


@dataclass(frozen=True)
class FirstTouch:
    """Milliseconds to fill a buffer already mapped (``reused``) and a freshly mapped one, every sample."""

    mbytes: float
    reused_ms: list[float]
    fresh_ms: list[float]
    median_reused_ms: float
    median_fresh_ms: float
    fresh_over_reused: float


@dataclass(frozen=True)
class SpinningPools:
    """torch's depthwise forward in blocks after a pause, and call by call right after convbook's BLAS work."""

    threads: Threads
    pause_s: float
    torch_in_blocks_s: list[float]
    torch_after_convbook_s: list[float]
    median_in_blocks_ms: float
    median_after_convbook_ms: float
    after_over_blocks: float


@dataclass(frozen=True)
class Results:
    first_touch: FirstTouch
    spinning_pools: SpinningPools


def depthwise_output_mbytes() -> float:
    """Size in MB of the float32 output of the benchmark's depthwise case."""
    dw = CASES["depthwise"]
    return dw.n * dw.layers[0].c_out * dw.size**2 * 4 / 1e6


def first_touch(repeats: int = REPEATS, mbytes: float | None = None) -> FirstTouch:
    """``repeats`` samples of :func:`convbook.lab.machine.first_touch_cost` (one fill of each kind per sample)."""
    mbytes = depthwise_output_mbytes() if mbytes is None else mbytes
    samples = [first_touch_cost(mbytes=mbytes, repeats=1) for _ in range(repeats)]
    reused = [s["reused_ms"] for s in samples]
    fresh = [s["fresh_ms"] for s in samples]
    return FirstTouch(
        mbytes=mbytes,
        reused_ms=reused,
        fresh_ms=fresh,
        median_reused_ms=float(np.median(reused)),
        median_fresh_ms=float(np.median(fresh)),
        fresh_over_reused=float(np.median(fresh) / np.median(reused)),
    )


def spinning_pools(repeats: int = REPEATS, threads: int | None = None, pause: float = 0.15) -> SpinningPools:
    """torch's depthwise forward timed in blocks after a pause, and call by call after convbook's BLAS work."""
    threads = usable_cores() if threads is None else threads
    rng = np.random.default_rng(SEED)
    dw, std = CASES["depthwise"], CASES["std3x3"]
    c = dw.layers[0].c_in
    xt = torch.from_numpy(rng.standard_normal((dw.n, c, dw.size, dw.size), dtype=np.float32))
    wt = torch.from_numpy(rng.standard_normal((c, 1, 3, 3), dtype=np.float32))
    xs = rng.standard_normal((std.n, 64, std.size, std.size), dtype=np.float32)
    ws = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)

    def torch_dw():
        F.conv2d(xt, wt, padding=1, groups=c)

    def convbook_std():
        conv2d(xs, ws, padding=1)

    with torch.no_grad(), fixed_threads(threads) as used:
        blocks = time_calls({"torch": torch_dw, "convbook": convbook_std}, repeats=repeats, warmup=2, pause=pause)
        after_blas = []
        for _ in range(repeats):
            convbook_std()
            t0 = time.perf_counter()
            torch_dw()
            after_blas.append(time.perf_counter() - t0)
    a, b = float(np.median(blocks["torch"])), float(np.median(after_blas))
    return SpinningPools(
        threads=Threads(**used),
        pause_s=pause,
        torch_in_blocks_s=blocks["torch"],
        torch_after_convbook_s=after_blas,
        median_in_blocks_ms=1e3 * a,
        median_after_convbook_ms=1e3 * b,
        after_over_blocks=b / a,
    )


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    repeats = 3 if quick else REPEATS
    return {
        "settings": {
            "repeats": repeats,
            "threads": usable_cores(),
            "allocator": allocator,
            "input_seed": SEED,
            "depthwise_layer": "8 x 128 x 56 x 56, 3x3, groups 128, float32",
            "blas_layer": "convbook.conv2d, 8 x 64 x 56 x 56, 3x3, 64 -> 64, float32",
        },
        "results": {"first_touch": first_touch(repeats), "spinning_pools": spinning_pools(repeats)},
    }
