"""The benchmark suite: convbook against torch on a fixed set of layers.

The suite runs as the experiment ``bench`` (``python -m convbook.lab.experiments bench [--threads N]``, module
:mod:`convbook.lab.experiments.bench`, which declares its stored layout, summary and table); this module holds the
cases and the timing loop.

Every case is timed for each implementation -- the naive loops (on a reduced
size only: they would take hours at full size), convbook's vectorised code,
torch on the CPU and torch on CUDA when present -- forward and backward
(``convbook.conv2d_backward`` against ``torch.autograd.grad``). For the 3x3
ungrouped cases, the forward pass is also timed along the path ``conv2d`` did
*not* take: ``convbook-winograd`` (Winograd's algorithm, ``convbook.winograd``,
a quarter of the multiplications) where ``conv2d`` uses shifted GEMMs, and
``convbook-direct`` (shifted GEMMs) where it uses Winograd. The targets are
checked on ``convbook`` only. GFLOP/s always counts the direct formula's FLOPs
(an effective rate, comparable across implementations).

Method (see :func:`time_calls`): ``repeats`` samples per implementation, in
blocks of 3 calls, each block after a pause and warm-up calls, the blocks
alternating between the implementations (A B, B A, ...).
The median, the inter-quartile range (IQR) and the best time are reported;
GPU calls (CUDA or Apple's MPS, whichever ``torch_bridge.pick_device`` finds) are
timed between two ``torch_bridge.synchronize`` calls, in the float32 precision
given by ``--precision`` (``ieee`` by default: the float32 NumPy computes; ``tf32``
lets cuDNN use tensor cores), which is recorded. The memory allocator is
put in a steady state first (``machine.steady_allocator``: freed memory is
reused, so no call pays for page faults; ``--allocator default`` keeps
glibc's behaviour). Thread counts are fixed
(``--threads``) for torch, for NumPy's BLAS and for convbook's elementwise
thread pool, and recorded. Every sample is kept, with the median, IQR, best time,
GFLOP/s and the ratio to torch CPU measured in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

import convbook
from convbook._args import parse_conv_args
from convbook._parallel import get_num_threads, set_num_threads
from convbook.conv import _winograd_pays, winograd_allowed
from convbook.costs import conv_cost
from convbook.lab import machine
from convbook.lab.timing import device_sync, time_calls
from convbook.nets.torch_bridge import float32_precision, pick_device
from convbook.winograd import conv2d_winograd

__all__ = ["CASES", "IMPLS", "SUITE", "Case", "Layer", "run_suite"]

IMPLS = ("naive", "convbook", "convbook-winograd", "convbook-direct", "torch-cpu", "torch-cuda", "torch-mps")


@dataclass(frozen=True)
class Layer:
    """One convolution: input (N, C_in, H, W), weight (C_out, C_in // groups, k, k)."""

    c_in: int
    c_out: int
    k: int
    dilation: int = 1
    groups: int = 1

    def kwargs(self) -> dict:
        return dict(padding=self.dilation * (self.k - 1) // 2, dilation=self.dilation, groups=self.groups)


@dataclass(frozen=True)
class Case:
    """A named benchmark: a chain of layers (one, or two for a separable block) on N x H x W."""

    name: str
    title: str
    layers: tuple
    n: int = 8
    size: int = 56
    reduced: tuple | None = field(default=None)  # (N, size, channel divisor) for the naive loops

    def flops(self, n: int | None = None, size: int | None = None, div: int = 1) -> int:
        n, size = n or self.n, size or self.size
        return sum(
            2 * n * conv_cost(L.c_in // div, L.c_out // div, L.k, size, groups=max(L.groups // div, 1)).macs
            for L in self.layers
        )

    def bytes(self) -> int:
        """Least float32 traffic: read input and weights, write output, once per layer."""
        total = 0
        for L in self.layers:
            total += self.n * self.size**2 * (L.c_in + L.c_out) + L.c_out * (L.c_in // L.groups) * L.k**2
        return 4 * total


SUITE = (
    Case("std3x3", "standard 3x3, 64->64", (Layer(64, 64, 3),), reduced=(1, 16, 8)),
    Case("dil2", "dilated 3x3 d=2, 64->64", (Layer(64, 64, 3, 2),), reduced=(1, 16, 8)),
    Case("dil4", "dilated 3x3 d=4, 64->64", (Layer(64, 64, 3, 4),), reduced=(1, 16, 8)),
    Case("depthwise", "depthwise 3x3, 128 ch", (Layer(128, 128, 3, groups=128),), reduced=(1, 16, 16)),
    Case("pointwise", "pointwise 1x1, 128->256", (Layer(128, 256, 1),), reduced=(1, 16, 16)),
    Case("separable", "separable block dw3x3+pw1x1, 128->128", (Layer(128, 128, 3, groups=128), Layer(128, 128, 1))),
    Case("sep_twin", "standard twin 3x3, 128->128", (Layer(128, 128, 3),)),
)
CASES = {c.name: c for c in SUITE}


def _inputs(case: Case, n: int, size: int, div: int, rng) -> tuple:
    x = rng.standard_normal((n, case.layers[0].c_in // div, size, size), dtype=np.float32)
    ws = []
    for L in case.layers:
        g = max(L.groups // div, 1)
        ws.append(0.1 * rng.standard_normal((L.c_out // div, L.c_in // div // g, L.k, L.k), dtype=np.float32))
    return x, ws


def _kw(L: Layer, div: int = 1) -> dict:
    return {**L.kwargs(), "groups": max(L.groups // div, 1)}


def _numpy_forward(fn, case, x, ws, div=1):
    """Closure running ``fn`` (``conv2d`` or ``conv2d_naive``) through the chain of layers."""

    def run():
        y = x
        for L, w in zip(case.layers, ws):
            y = fn(y, w, **_kw(L, div))
        return y

    return run


def _winograd(x, w, padding, dilation, groups):
    """``conv2d_winograd`` with the keyword arguments of a suite layer (3x3, groups 1)."""

    return conv2d_winograd(x, w, padding=padding, dilation=dilation)


def _direct(x, w, **kw):
    """``conv2d`` kept off Winograd's path."""

    with winograd_allowed(False):
        return convbook.conv2d(x, w, **kw)


def _other_path(case: Case, x, ws):
    """For a single 3x3 ungrouped layer, the path ``conv2d`` does not take: (impl name, forward closure), else None."""

    if len(case.layers) != 1 or case.layers[0].k != 3 or case.layers[0].groups != 1:
        return None
    a = parse_conv_args(x, ws[0], None, 1, **{**case.layers[0].kwargs(), "nd": 2, "fname": "bench"})
    if _winograd_pays(a):
        return "convbook-direct", _numpy_forward(_direct, case, x, ws)
    return "convbook-winograd", _numpy_forward(_winograd, case, x, ws)


def _numpy_backward(case, x, ws):
    """Closure timing convbook's backward through the chain (forward activations precomputed)."""
    acts = [x]
    for L, w in zip(case.layers[:-1], ws):
        acts.append(np.ascontiguousarray(convbook.conv2d(acts[-1], w, **L.kwargs())))
    y = convbook.conv2d(acts[-1], ws[-1], **case.layers[-1].kwargs())
    g0 = np.ones_like(y)

    def run():
        g = g0
        for L, w, a in reversed(list(zip(case.layers, ws, acts))):
            g = convbook.conv2d_backward(g, a, w, **L.kwargs())[0]
        return g

    return run


def _torch_fns(case, x, ws, device, div=1):
    """Forward and backward closures for torch on ``device``, and the callable that waits for the device.

    The closures do not synchronise themselves: :func:`convbook.lab.timing.time_calls` calls the returned
    ``sync`` (``torch_bridge.synchronize`` on CUDA and MPS) before starting and before stopping the clock.
    """

    xt = torch.from_numpy(x).to(device).requires_grad_(True)
    wts = [torch.from_numpy(w).to(device).requires_grad_(True) for w in ws]

    def chain(inp):
        for L, w in zip(case.layers, wts):
            inp = F.conv2d(inp, w, **_kw(L, div))
        return inp

    def forward():
        with torch.no_grad():
            chain(xt)

    y = chain(xt)
    g = torch.ones_like(y)

    def backward():
        torch.autograd.grad(y, [xt, *wts], g, retain_graph=True)

    return forward, backward, device_sync(device)


def _row(case, direction, impl, size_label, samples, flops, bytes_):
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return {
        "case": case.name,
        "title": case.title,
        "direction": direction,
        "impl": impl,
        "size": size_label,
        "flops": int(flops),
        "bytes": int(bytes_),
        "samples_s": [float(s) for s in samples],
        "median_s": float(med),
        "min_s": float(np.min(samples)),
        "iqr_s": float(q3 - q1),
        "gflops": float(flops / med / 1e9),
    }


def run_suite(
    names=None,
    repeats=10,
    warmup=2,
    quick=False,
    threads=None,
    naive=True,
    progress=True,
    allocator="steady",
    precision="ieee",
) -> dict:
    """Run the suite (or the cases ``names``): a dict of ``settings``, ``rows`` (one per case, direction,
    implementation and size, every sample kept) and ``ceilings`` (:func:`convbook.lab.machine.ceilings`).

    ``allocator='steady'`` calls :func:`convbook.lab.machine.steady_allocator`
    first (process-wide); ``'default'`` leaves the allocator alone.
    ``precision`` ('ieee' or 'tf32') is the float32 precision of the GPU's
    convolutions (:func:`convbook.nets.torch_bridge.float32_precision`).
    """

    if allocator not in ("steady", "default"):
        raise ValueError(f"run_suite: allocator must be 'steady' or 'default', got {allocator!r}")
    if precision not in ("ieee", "tf32"):
        raise ValueError(f"run_suite: precision must be 'ieee' or 'tf32', got {precision!r}")
    unknown = [n for n in names or () if n not in CASES]
    if unknown:
        raise ValueError(f"run_suite: names must be cases of the suite ({', '.join(CASES)}), got {unknown}")
    alloc_note = machine.steady_allocator() if allocator == "steady" else "default (not changed)"

    threads = threads or machine.usable_cores()
    torch.set_num_threads(threads)
    blas = machine.blas_threads(threads)
    set_num_threads(threads)  # convbook's own elementwise thread pool

    gpu = pick_device()
    gpu = None if gpu.type == "cpu" else gpu
    gpu_impl = f"torch-{gpu.type}" if gpu is not None else None
    cases = [CASES[n] for n in names] if names else list(SUITE)
    ceilings = machine.ceilings(quick=quick)  # first: it also warms up BLAS, torch and the CPU clocks
    rng = np.random.default_rng(0)
    rows = []
    tasks = [(c, d) for c in cases for d in ("forward", "backward")]
    for case, direction in tqdm(tasks, desc="convbook.lab.bench", disable=not progress, leave=False):
        x, ws = _inputs(case, case.n, case.size, 1, rng)
        fns = {}
        t_fwd, t_bwd, _ = _torch_fns(case, x, ws, "cpu")
        if direction == "forward":
            fns["convbook"] = _numpy_forward(convbook.conv2d, case, x, ws)
            fns["torch-cpu"] = t_fwd
            other = _other_path(case, x, ws)
            if other is not None:
                fns[other[0]] = other[1]
        else:
            fns["convbook"] = _numpy_backward(case, x, ws)
            fns["torch-cpu"] = t_bwd
        syncs = {}
        if gpu is not None:
            g_fwd, g_bwd, syncs[gpu_impl] = _torch_fns(case, x, ws, gpu)
            fns[gpu_impl] = g_fwd if direction == "forward" else g_bwd
        flops = case.flops() * (1 if direction == "forward" else 2)
        with float32_precision(precision):
            samples = time_calls(fns, repeats, warmup, sync=syncs)
        for impl, s in samples.items():
            rows.append(_row(case, direction, impl, "full", s, flops, case.bytes()))
        if naive and direction == "forward" and case.reduced and (not quick or case.name in ("std3x3", "dil2")):
            n, size, div = case.reduced
            xr, wr = _inputs(case, n, size, div, rng)
            t_fwd_r, _, _ = _torch_fns(case, xr, wr, "cpu", div)
            fns = {
                "naive": _numpy_forward(convbook.conv2d_naive, case, xr, wr, div),
                "convbook": _numpy_forward(convbook.conv2d, case, xr, wr, div),
                "torch-cpu": t_fwd_r,
            }
            label = f"reduced {n}x{case.layers[0].c_in // div}x{size}x{size}"
            for impl, s in time_calls(fns, min(repeats, 3), 1).items():
                rows.append(_row(case, direction, impl, label, s, case.flops(n, size, div), 0))
    for row in rows:  # the ratio to torch CPU, same case, direction and size
        ref = [
            r for r in rows if r["impl"] == "torch-cpu" and all(r[k] == row[k] for k in ("case", "direction", "size"))
        ]
        row["ratio_to_torch_cpu"] = row["median_s"] / ref[0]["median_s"]
        row["best_ratio_to_torch_cpu"] = row["min_s"] / ref[0]["min_s"]
    return {
        "settings": {
            "repeats": repeats,
            "warmup": warmup,
            "quick": quick,
            "cases": [c.name for c in cases],
            "dtype": "float32",
            "torch_threads": torch.get_num_threads(),
            "blas_threads": blas,
            "convbook_threads": get_num_threads(),
            "blas_threads_note": None if blas else "not controllable; set OPENBLAS_NUM_THREADS before starting",
            "allocator": alloc_note,
            "gpu_device": gpu.type if gpu is not None else None,
            "cuda": gpu is not None and gpu.type == "cuda",
            "float32_precision": precision if gpu is not None and gpu.type == "cuda" else "ieee (CPU)",
        },
        "rows": rows,
        "ceilings": ceilings,
    }
