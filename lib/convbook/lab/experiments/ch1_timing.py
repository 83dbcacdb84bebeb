"""How much faster is vectorised? The naive loops, im2col, ``convbook.conv2d`` and torch on one small layer.

Used by chapters/01_convolution_from_scratch.ipynb ("How much faster is vectorised?").

The layer: a 3x3 convolution, 8 -> 8 channels, float32, batch 1, padding 1,
on square inputs of side 8 to 128. Four implementations of the same
arithmetic:

* ``conv2d_naive``: the Python loops (timed up to side 16 only: they are slow);
* ``conv2d_im2col``: a window view contracted by one ``einsum`` (im2col);
* ``convbook.conv2d``: the library's default (shifted matrix products);
* torch's ``F.conv2d`` on the CPU (and, in a live rerun, on the GPU when there is one).

A second, smaller table answers the chapter's remark on ``einsum``: one channel,
one 3x3 kernel, the window view contracted by ``np.einsum`` as is, and with
``optimize=True`` (which lets NumPy hand the contraction to BLAS through
``tensordot``, after copying the windows into a matrix).

Protocol (``convbook.lab.timing``): one thread for torch, NumPy's BLAS and
convbook's pool alike (``fixed_threads(1)``: with more, the two libraries'
thread pools compete for the cores, and a busy machine makes it worse: on the
2-core machine this chapter was written on, torch then took 10-50 ms for a call
that takes 0.01 ms); warm-up calls; samples in blocks that alternate between the
implementations; medians and quartiles; every sample stored. On a GPU each
sample waits for the device (``torch_bridge.synchronize``) and float32 runs in
IEEE precision (``float32_precision('ieee')``), recorded with the results.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from convbook import conv2d, conv2d_im2col, conv2d_naive
from convbook.lab.machine import steady_allocator
from convbook.lab.timing import time_interleaved
from convbook.lab.typed import Threads
from convbook.nets.torch_bridge import exact_mode, float32_precision, precision_label

DESCRIPTION = (
    "Naive loops, im2col einsum, convbook.conv2d and torch on a 3x3 8->8 layer (batch 1, sides 8-128, one thread "
    "each), and einsum with and without optimize=True (Chapter 1, 'How much faster is vectorised?')"
)

RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3

SIZES = [8, 16, 32, 64, 128]
CHANNELS = 8
KERNEL_SIZE = 3
NAIVE_MAX = 16  # the loops are timed up to this side only
THREADS = 1
REPEATS = 21
WARMUP = 2
EINSUM_SIZES = [8, 64, 256]
SEED = 0

#: Display names, in plotting order; a GPU adds ``torch_cuda`` or ``torch_mps`` (see :func:`display_name`).
NAMES = {
    "naive": "naive loops (conv2d_naive)",
    "im2col": "im2col einsum (conv2d_im2col)",
    "conv2d": "convbook.conv2d",
    "torch": "torch, CPU",
}


@dataclass(frozen=True)
class Settings:
    layer: str
    sizes: list[int]
    naive_max: int
    threads: int
    repeats: int
    warmup: int
    einsum_sizes: list[int]
    einsum_dtype: str
    allocator: str
    input_seed: int
    names: dict[str, str]
    protocol: str


@dataclass(frozen=True)
class TimingSettings:
    """What a table of :func:`time_sizes` was timed with: threads in force, samples, device, float32 precision."""

    threads: Threads
    repeats: int
    warmup: int
    device: str
    float32_precision: str


@dataclass(frozen=True)
class LayerTimes:
    """:func:`time_sizes`: per implementation (key of :data:`NAMES`), one value per side (None: not timed)."""

    sizes: list[int]
    batch: int
    median_ms: dict[str, list[float | None]]
    q1_ms: dict[str, list[float | None]]
    q3_ms: dict[str, list[float | None]]
    samples_s: dict[str, dict[str, list[float]]]  # side -> implementation -> every sample
    settings: TimingSettings


@dataclass(frozen=True)
class EinsumTimes:
    """:func:`time_einsum`: ``'plain'`` and ``'optimize'``, one value per side; ``agree``: equal results."""

    sizes: list[int]
    median_ms: dict[str, list[float]]
    q1_ms: dict[str, list[float]]
    q3_ms: dict[str, list[float]]
    samples_s: dict[str, dict[str, list[float]]]
    agree: bool


@dataclass(frozen=True)
class SpeedSummary:
    speedup_over_loops_16: dict[str, float]  # how many times faster than the loops, at 16 x 16
    growth_8_to_16: dict[str, float]  # time at 16 x 16 over time at 8 x 8 (4 x the work)
    conv2d_over_torch: list[float]  # at every side
    im2col_over_conv2d: list[float]  # at every side
    einsum_plain_over_optimize: list[float]  # at every side of the einsum table


@dataclass(frozen=True)
class Results:
    layer: LayerTimes
    agree_with_torch: dict[str, bool]  # side -> every implementation agrees with torch
    einsum: EinsumTimes
    summary: SpeedSummary


def display_name(key: str) -> str:
    """The legend label of an implementation key (``'torch_cuda'`` -> ``'torch, cuda'``)."""
    if key in NAMES:
        return NAMES[key]
    if key.startswith("torch_"):
        return f"torch, {key[len('torch_') :]}"
    raise ValueError(f"display_name: unknown implementation {key!r}; expected one of {sorted(NAMES)} or torch_<device>")


def make_inputs(side: int, batch: int = 1, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The layer's float32 input ``x`` (batch, 8, side, side) and weight ``w`` (8, 8, 3, 3)."""
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 1:
        raise ValueError(f"make_inputs: side must be a positive int, got {side!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"make_inputs: batch must be a positive int, got {batch!r}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, CHANNELS, side, side), dtype=np.float32)
    w = (rng.standard_normal((CHANNELS, CHANNELS, KERNEL_SIZE, KERNEL_SIZE)) / np.sqrt(CHANNELS * 9)).astype(np.float32)
    return x, w


def implementations(x: np.ndarray, w: np.ndarray, naive: bool = True, device=None) -> dict:
    """No-argument callables computing the layer (padding 1), keyed like :data:`NAMES`.

    ``naive=False`` leaves the loops out. ``device``: a GPU (CUDA or MPS) adds
    ``'torch_<type>'``, torch on that device, beside torch on the CPU.
    """
    fns = {}
    if naive:
        fns["naive"] = lambda: conv2d_naive(x, w, padding=1)
    fns["im2col"] = lambda: conv2d_im2col(x, w, padding=1)
    fns["conv2d"] = lambda: conv2d(x, w, padding=1)
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    fns["torch"] = lambda: F.conv2d(xt, wt, padding=1)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type != "cpu":
        xg, wg = xt.to(dev), wt.to(dev)
        fns[f"torch_{dev.type}"] = lambda: F.conv2d(xg, wg, padding=1)
    return fns


def check_agreement(side: int, device=None, tolerance: float = 1e-4) -> bool:
    """Every implementation gives torch's CPU result on the layer at this side (float32, absolute ``tolerance``)."""
    x, w = make_inputs(side)
    fns = implementations(x, w, naive=side <= NAIVE_MAX, device=device)
    with torch.no_grad(), exact_mode():
        ref = fns["torch"]().numpy()
        outs = {k: f() for k, f in fns.items() if k != "torch"}
    for out in outs.values():
        out = out.detach().cpu().numpy() if hasattr(out, "detach") else out
        if out.shape != ref.shape or float(np.abs(out - ref).max()) > tolerance:
            return False
    return True


def time_sizes(
    sizes=SIZES,
    *,
    batch: int = 1,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    threads: int = THREADS,
    naive_max: int = NAIVE_MAX,
    device=None,
    names=None,
) -> LayerTimes:
    """Time the implementations at each side in ``sizes`` by the book's protocol (``convbook.lab.timing``).

    Parameters
    ----------
    sizes : list of int
        Input sides (H = W).
    batch : int
        Images per call.
    repeats, warmup : int
        Samples per implementation and size, and untimed calls before each block.
    threads : int
        One thread count for torch, NumPy's BLAS and convbook's pool.
    naive_max : int
        The loops are timed only at sides up to this one.
    device : optional
        A GPU (CUDA or MPS) adds torch on that device; every sample then waits
        for it, and float32 runs in IEEE precision.
    names : list of str, optional
        Time only these implementations (keys of :data:`NAMES`, or ``'torch_<device>'``).

    Returns
    -------
    LayerTimes
        ``sizes``, ``median_ms``, ``q1_ms`` and ``q3_ms`` (name -> one value per
        size, ``None`` where not timed), ``samples_s`` (side -> name -> seconds),
        ``settings`` (threads in force, repeats, device, float32 precision).
    """
    sizes = [int(s) for s in sizes]
    dev = torch.device(device) if device is not None else torch.device("cpu")
    medians, q1s, q3s, samples, used = {}, {}, {}, {}, None
    precision = float32_precision("ieee") if dev.type == "cuda" else contextlib.nullcontext()
    with torch.no_grad(), precision:
        label = precision_label(dev)
        for side in sizes:
            x, w = make_inputs(side, batch)
            fns = implementations(x, w, naive=side <= naive_max, device=dev)
            if names is not None:
                fns = {k: f for k, f in fns.items() if k in names}
            t = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=threads, device=dev)
            used = t.settings["threads"]
            samples[str(side)] = t.to_dict()["samples_s"]
            for k in fns:
                q1, med, q3 = t.quartiles(k)
                for table, value in ((medians, med), (q1s, q1), (q3s, q3)):
                    table.setdefault(k, {})[side] = 1e3 * value
    order = [k for k in [*NAMES, *sorted(medians)] if k in medians]
    order = list(dict.fromkeys(order))

    def as_lists(table):
        return {k: [table[k].get(s) for s in sizes] for k in order}

    return LayerTimes(
        sizes=sizes,
        batch=batch,
        median_ms=as_lists(medians),
        q1_ms=as_lists(q1s),
        q3_ms=as_lists(q3s),
        samples_s=samples,
        settings=TimingSettings(
            threads=Threads(**used), repeats=repeats, warmup=warmup, device=str(dev), float32_precision=label
        ),
    )


def corr2d_windows(x: np.ndarray, k: np.ndarray, optimize: bool) -> np.ndarray:
    """Single-channel cross-correlation (no padding, stride 1) by one ``einsum`` over the window view.

    ``x`` (H, W), ``k`` (kH, kW) -> (H - kH + 1, W - kW + 1). ``optimize=True``
    lets ``einsum`` contract through BLAS (``tensordot``), which copies the
    windows into a matrix first (im2col); ``False`` loops in NumPy's own C code.
    """
    windows = sliding_window_view(x, k.shape)  # (H-kH+1, W-kW+1, kH, kW), a view
    return np.einsum("ijuv,uv->ij", windows, k, optimize=optimize)  # (H-kH+1, W-kW+1)


def time_einsum(
    sizes=EINSUM_SIZES, *, repeats: int = REPEATS, warmup: int = WARMUP, threads: int = THREADS
) -> EinsumTimes:
    """``einsum`` over the window view, as is and with ``optimize=True``, on float64 images of each side.

    ``agree``: the two results are equal to 1e-12 at every size.
    """
    rng = np.random.default_rng(SEED)
    out = {"sizes": [int(s) for s in sizes], "median_ms": {}, "q1_ms": {}, "q3_ms": {}, "samples_s": {}}
    agree = True
    for side in out["sizes"]:
        x, k = rng.standard_normal((side, side)), rng.standard_normal((KERNEL_SIZE, KERNEL_SIZE))
        agree &= bool(np.allclose(corr2d_windows(x, k, False), corr2d_windows(x, k, True), rtol=0, atol=1e-12))
        fns = {
            "plain": lambda x=x, k=k: corr2d_windows(x, k, False),
            "optimize": lambda x=x, k=k: corr2d_windows(x, k, True),
        }
        t = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=threads)
        out["samples_s"][str(side)] = t.to_dict()["samples_s"]
        for name in fns:
            q1, med, q3 = t.quartiles(name)
            for key, value in (("q1_ms", q1), ("median_ms", med), ("q3_ms", q3)):
                out[key].setdefault(name, []).append(1e3 * value)
    return EinsumTimes(**out, agree=agree)


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    sizes = [8, 16] if quick else SIZES
    repeats = 3 if quick else REPEATS
    layer = time_sizes(sizes, repeats=repeats, warmup=1 if quick else WARMUP)
    einsum = time_einsum([8, 64] if quick else EINSUM_SIZES, repeats=repeats, warmup=1 if quick else WARMUP)
    med = layer.median_ms
    i16 = sizes.index(16)
    summary = SpeedSummary(
        speedup_over_loops_16={k: med["naive"][i16] / med[k][i16] for k in ("im2col", "conv2d", "torch")},
        growth_8_to_16={k: med[k][i16] / med[k][0] for k in ("im2col", "conv2d", "torch")},
        conv2d_over_torch=[a / b for a, b in zip(med["conv2d"], med["torch"])],
        im2col_over_conv2d=[a / b for a, b in zip(med["im2col"], med["conv2d"])],
        einsum_plain_over_optimize=[a / b for a, b in zip(einsum.median_ms["plain"], einsum.median_ms["optimize"])],
    )
    settings = Settings(
        layer=f"3x3 conv, {CHANNELS}->{CHANNELS} channels, float32, batch 1, padding 1",
        sizes=sizes,
        naive_max=NAIVE_MAX,
        threads=THREADS,
        repeats=repeats,
        warmup=layer.settings.warmup,
        einsum_sizes=einsum.sizes,
        einsum_dtype="float64, one channel, 3x3 kernel, no padding",
        allocator=allocator,
        input_seed=SEED,
        names=NAMES,
        protocol="convbook.lab.timing.time_interleaved: fixed threads, warm-up, alternating blocks of 3",
    )
    results = Results(
        layer=layer, agree_with_torch={str(s): check_agreement(s) for s in sizes}, einsum=einsum, summary=summary
    )
    return {"settings": settings, "results": results}
