"""Wall time of dilated convolutions against the dilation, for several implementations and sizes.

Used by chapters/dilated/02_implementations.ipynb ("Is the wall time equal too?").

The question: a dilated convolution does the same multiply-adds at every
dilation ``d`` when it samples the input with gaps, and ``(d (k - 1) + 1)^2 / k^2``
times as many when it inserts zeros into the kernel. Does the wall time follow,
and does reading the input "with gaps" cost time of its own once the data no
longer fits in the caches? Three sizes:

* 2-D, 16 -> 16 channels, 64 x 64 (the input, 256 kB in float32, sits in the L2 cache);
* 2-D, 64 -> 64 channels, 128 x 128 (input and output 4 MB each, im2col buffer 38 MB);
* 1-D, 32 -> 32 channels, 65,536 samples (8 MB), dilations up to 1024, as in WaveNet-like stacks (1000
  beside 1024: taps 4 kB apart, a power of two, can compete for the same cache sets).

Implementations (float32, stride 1, ``padding='same'``, one batch element):

* zero insertion (``dilated_conv2d_zeros`` / ``conv1d`` on ``dilate_kernel``);
* gap sampling (``dilated_conv2d_gaps`` / ``dilated_conv1d_gaps``): one product
  per kernel tap over a slice of the input that is contiguous along rows;
* im2col with a per-output gather: each output's ``k x k`` patch is copied
  into one row of a matrix, reading the input at a stride of ``d`` samples
  within the patch, then one matrix product;
* ``convbook.conv2d`` / ``conv1d`` (shifted matrix products on a flat layout);
* torch ``F.conv2d`` / ``F.conv1d`` (NCHW), and ``channels_last`` in 2-D;
* the two gathers alone, with the same bytes moved: per output (stride ``d``
  within a patch) and per tap (contiguous rows). They isolate the memory-access
  order from the arithmetic.

Protocol (``convbook.lab.timing``): one thread for torch, NumPy's BLAS and
convbook's pool; the allocator kept steady (``machine.steady_allocator``);
warm-up; for each size and dilation every implementation is sampled in
interleaved blocks; medians and quartiles, every sample stored. Zero insertion
is skipped where one call would take more than a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

from convbook import conv1d, conv2d
from convbook.dilated import dilate_kernel, dilated_conv1d_gaps, dilated_conv2d_gaps, dilated_conv2d_zeros
from convbook.lab.machine import steady_allocator
from convbook.lab.timing import TimingRecord, time_interleaved
from convbook.nets.torch_bridge import float32_precision

DESCRIPTION = (
    "Wall time of zero insertion, gap sampling, im2col, convbook and torch dilated convolutions against the "
    "dilation, at a cache-resident and two larger sizes (dilated/02)"
)

#: The sizes of the sweep: name -> settings. ``zeros_max_d``: largest dilation timed for zero insertion.
CONFIGS = {
    "2-D, 16 ch, 64x64": {
        "ndim": 2,
        "channels": 16,
        "size": 64,
        "dilations": [1, 2, 4, 8, 16],
        "zeros_max_d": 16,
        "repeats": 21,
    },
    "2-D, 64 ch, 128x128": {
        "ndim": 2,
        "channels": 64,
        "size": 128,
        "dilations": [1, 2, 4, 8, 16],
        "zeros_max_d": 8,
        "repeats": 15,
    },
    "1-D, 32 ch, 65536 samples": {
        "ndim": 1,
        "channels": 32,
        "size": 65536,
        "dilations": [1, 4, 16, 64, 256, 1000, 1024],
        "zeros_max_d": 16,
        "repeats": 15,
    },
}
KERNEL_SIZE = 3
SEED = 0

#: Display names, in plotting order.
NAMES = {
    "zeros": "zero insertion (NumPy)",
    "gaps": "gap sampling, per tap (NumPy)",
    "im2col": "im2col, per-output gather (NumPy)",
    "convbook": "convbook.conv2d / conv1d",
    "torch": "torch (NCHW)",
    "torch_cl": "torch (channels_last)",
    "gather_output": "gather only: per output (stride d)",
    "gather_tap": "gather only: per tap (contiguous rows)",
}
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class Config:
    """One size of the sweep (see :data:`CONFIGS`)."""

    ndim: int
    channels: int
    size: int
    dilations: list[int]
    zeros_max_d: int
    repeats: int


@dataclass(frozen=True)
class Settings:
    configs: dict[str, Config]
    kernel_size: int
    dtype: str
    padding: str
    stride: int
    batch: int
    threads: int
    warmup: int
    allocator: str
    input_seed: int
    names: dict[str, str]


@dataclass(frozen=True)
class AtDilation(TimingRecord):
    """Every implementation timed at one dilation, and whether each gave torch's result."""

    agree_with_torch: bool


@dataclass(frozen=True)
class ConfigResult:
    per_dilation: dict[str, AtDilation]  # by dilation
    median_s: dict[str, dict[str, float]]  # implementation -> dilation -> seconds
    spread_over_d: dict[str, float]  # implementation -> slowest median / fastest median
    input_megabytes: float

    def median(self, name: str, d) -> float:
        """Median seconds of implementation ``name`` at dilation ``d``."""
        return self.median_s[name][str(d)]

    def spread(self, name: str, dilations=None) -> float:
        """Slowest over fastest median of ``name`` across ``dilations`` (default: all it was timed at); 1 is flat."""
        values = [self.median_s[name][str(d)] for d in (dilations or self.median_s[name])]
        return max(values) / min(values)


@dataclass(frozen=True)
class Results:
    configs: dict[str, ConfigResult]  # by configuration name (keys of CONFIGS)


def median_table(result: ConfigResult) -> str:
    """Every implementation's median ms at each dilation of one configuration ('-' where it was not timed)."""
    ds = list(result.per_dilation)
    lines = [f"{'implementation':>38} " + " ".join(f"{'d=' + d:>8}" for d in ds)]
    for key, name in NAMES.items():
        if key in result.median_s:
            row = [result.median_s[key].get(d) for d in ds]
            lines.append(f"{name:>38} " + " ".join(f"{v * 1e3:8.4g}" if v else f"{'-':>8}" for v in row))
    return "\n".join(lines)


def _windows(x: np.ndarray, d: int, k: int) -> np.ndarray:
    """All ``k``-tap (``k x k``) windows at dilation ``d`` of ``x`` padded 'same': a strided view, no copy.

    ``x`` (N, C, L) -> (N, C, L, k); ``x`` (N, C, H, W) -> (N, C, H, W, k, k).
    """
    p = d * (k - 1) // 2
    span = d * (k - 1) + 1
    nd = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p)] * nd)  # (N, C, *spatial + 2p)
    win = sliding_window_view(xp, (span,) * nd, axis=tuple(range(2, 2 + nd)))  # (N, C, *out, *span)
    return win[(Ellipsis,) + (slice(None, None, d),) * nd]  # (N, C, *out, k[, k]): taps d apart


def gather_per_output(x: np.ndarray, d: int, k: int = KERNEL_SIZE) -> np.ndarray:
    """im2col, output by output: row ``p`` holds the ``C k^nd`` inputs output ``p`` reads (stride ``d`` within a patch).

    Returns shape (N * P, C * k^nd) with ``P`` the output positions.
    """
    win = _windows(x, d, k)
    nd = x.ndim - 2
    order = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))  # (N, *out, C, *taps)
    cols = np.ascontiguousarray(win.transpose(order))
    return cols.reshape(-1, x.shape[1] * k**nd)


def gather_per_tap(x: np.ndarray, d: int, k: int = KERNEL_SIZE) -> np.ndarray:
    """im2col, tap by tap: row ``(c, tap)`` holds the inputs that tap meets over all outputs (contiguous rows).

    Returns shape (N, C * k^nd, P).
    """
    win = _windows(x, d, k)
    nd = x.ndim - 2
    order = (0, 1, *range(2 + nd, 2 + 2 * nd), *range(2, 2 + nd))  # (N, C, *taps, *out)
    cols = np.ascontiguousarray(win.transpose(order))
    return cols.reshape(x.shape[0], x.shape[1] * k**nd, -1)


def im2col_per_output(x: np.ndarray, w: np.ndarray, d: int) -> np.ndarray:
    """Dilated convolution ('same', stride 1) by a per-output gather and one matrix product. Same shape as ``x``."""
    k = w.shape[-1]
    cols = gather_per_output(x, d, k)  # (N * P, C_in * k^nd)
    out = cols @ w.reshape(w.shape[0], -1).T  # (N * P, C_out)
    N, spatial = x.shape[0], x.shape[2:]
    out = out.reshape(N, *spatial, w.shape[0])  # (N, *out, C_out)
    return np.moveaxis(out, -1, 1)  # (N, C_out, *out), a view


def make_inputs(config: dict, batch: int = 1, seed: int = SEED):
    """Random float32 input and weights for one configuration: ``x`` (N, C, *spatial), ``w`` (C, C, *taps)."""
    rng = np.random.default_rng(seed)
    nd, c, n = config["ndim"], config["channels"], config["size"]
    x = rng.normal(size=(batch, c) + (n,) * nd).astype(np.float32)
    w = (rng.normal(size=(c, c) + (KERNEL_SIZE,) * nd) / np.sqrt(c * KERNEL_SIZE**nd)).astype(np.float32)
    return x, w


def implementations(config: dict, d: int, x: np.ndarray, w: np.ndarray, device=None, names=None) -> dict:
    """No-argument callables, one per implementation (keys of :data:`NAMES`), for dilation ``d``.

    ``device``: where the torch versions run (default the CPU). ``names``: a subset of the keys.
    """
    nd = config["ndim"]
    dev = torch.device(device or "cpu")
    xt, wt = torch.from_numpy(x).to(dev), torch.from_numpy(w).to(dev)
    p = d * (KERNEL_SIZE - 1) // 2
    fns = {}
    if nd == 2:
        if d <= config["zeros_max_d"]:
            fns["zeros"] = lambda: dilated_conv2d_zeros(x, w, padding=p, dilation=d)
        fns["gaps"] = lambda: dilated_conv2d_gaps(x, w, padding=p, dilation=d)
        fns["im2col"] = lambda: im2col_per_output(x, w, d)
        fns["convbook"] = lambda: conv2d(x, w, padding=p, dilation=d)
        fns["torch"] = lambda: F.conv2d(xt, wt, padding=p, dilation=d)
        xcl = xt.to(memory_format=torch.channels_last)
        wcl = wt.to(memory_format=torch.channels_last)
        fns["torch_cl"] = lambda: F.conv2d(xcl, wcl, padding=p, dilation=d)
    else:
        if d <= config["zeros_max_d"]:
            wd = dilate_kernel(w, d)  # (C, C, d(k-1)+1), made once: the insertion is not what is timed
            fns["zeros"] = lambda: conv1d(x, wd, padding=p)
        fns["gaps"] = lambda: dilated_conv1d_gaps(x, w, padding=p, dilation=d)
        fns["im2col"] = lambda: im2col_per_output(x, w, d)
        fns["convbook"] = lambda: conv1d(x, w, padding=p, dilation=d)
        fns["torch"] = lambda: F.conv1d(xt, wt, padding=p, dilation=d)
    fns["gather_output"] = lambda: gather_per_output(x, d)
    fns["gather_tap"] = lambda: gather_per_tap(x, d)
    if names is not None:
        fns = {k: v for k, v in fns.items() if k in names}
    return fns


def check_agreement(config: dict, d: int, x: np.ndarray, w: np.ndarray) -> bool:
    """Every implementation gives torch's result (float32, tolerance 1e-3 relative to the output's scale)."""
    fns = implementations(config, d, x, w)
    with torch.no_grad():
        ref = fns["torch"]().numpy()
    scale = float(np.abs(ref).max())
    for name in ("zeros", "gaps", "im2col", "convbook", "torch_cl"):
        if name in fns:
            out = fns[name]()
            out = out.numpy() if hasattr(out, "numpy") else out
            if out.shape != ref.shape or np.abs(out - ref).max() > 1e-3 * scale:
                return False
    # the two gathers hold the same numbers, in two orders
    a, b = fns["gather_output"](), fns["gather_tap"]()
    n = x.shape[0]
    return bool(np.array_equal(a.reshape(n, -1, a.shape[1]).transpose(0, 2, 1), b))


def sweep(config: dict, dilations=None, repeats: int | None = None, warmup: int = 1, threads: int = 1, names=None):
    """Time every implementation of ``config`` at each dilation, by the book's protocol.

    Returns ``{d: Timings}`` (``convbook.lab.timing.Timings``), one interleaved run per dilation.
    """
    x, w = make_inputs(config)
    out = {}
    with torch.no_grad():
        for d in dilations or config["dilations"]:
            fns = implementations(config, d, x, w, names=names)
            out[d] = time_interleaved(fns, repeats=repeats or config["repeats"], warmup=warmup, threads=threads)
    return out


def time_torch_on_device(config: dict, device, dilations=None, batch: int = 16, repeats: int = 9) -> dict:
    """torch's dilated convolution of ``config`` on ``device`` (a GPU, or the CPU), NCHW and channels_last.

    The batch is larger than the CPU sweep's single image so that a GPU does more than launch kernels.
    Every call runs in float32 with IEEE precision (``float32_precision('ieee')``: no TF32 on CUDA) and
    every sample waits for the device. Returns ``{d: Timings}`` with names 'torch (NCHW)' and
    'torch (channels_last)'.
    """
    dev = torch.device(device)
    x, w = make_inputs(config, batch=batch)
    xt, wt = torch.from_numpy(x).to(dev), torch.from_numpy(w).to(dev)
    conv = F.conv2d if config["ndim"] == 2 else F.conv1d
    layouts = {"torch (NCHW)": (xt, wt)}
    if config["ndim"] == 2:
        layouts["torch (channels_last)"] = (
            xt.to(memory_format=torch.channels_last),
            wt.to(memory_format=torch.channels_last),
        )
    out = {}
    with torch.no_grad(), float32_precision("ieee"):
        for d in dilations or config["dilations"]:
            p = d * (KERNEL_SIZE - 1) // 2
            fns = {
                name: (lambda a=a, b=b, d=d, p=p: conv(a, b, padding=p, dilation=d)) for name, (a, b) in layouts.items()
            }
            sync = dev if dev.type != "cpu" else None
            out[d] = time_interleaved(fns, repeats=repeats, warmup=2, device=sync)
    return out


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    configs = CONFIGS
    if quick:  # seconds: the small size at two dilations, few samples
        small = dict(CONFIGS["2-D, 16 ch, 64x64"], dilations=[1, 4], repeats=3)
        one_d = dict(CONFIGS["1-D, 32 ch, 65536 samples"], size=4096, dilations=[1, 64], repeats=3)
        configs = {"2-D, 16 ch, 64x64": small, "1-D, 32 ch, 4096 samples": one_d}
    results = {}
    for cname, config in configs.items():
        x, w = make_inputs(config)
        per_d = {}
        for d, timings in sweep(config).items():
            entry = timings.to_dict()
            entry["agree_with_torch"] = check_agreement(config, d, x, w)
            per_d[str(d)] = entry
        medians = {
            name: {d: per_d[d]["median_s"][name] for d in per_d if name in per_d[d]["median_s"]} for name in NAMES
        }
        results[cname] = {
            "per_dilation": per_d,
            "median_s": {k: v for k, v in medians.items() if v},
            # the flatness of each implementation over d: slowest median / fastest median
            "spread_over_d": {k: max(v.values()) / min(v.values()) for k, v in medians.items() if len(v) > 1},
            "input_megabytes": x.nbytes / 1e6,
        }
    return {
        "settings": {
            "configs": configs,
            "kernel_size": KERNEL_SIZE,
            "dtype": "float32",
            "padding": "same",
            "stride": 1,
            "batch": 1,
            "threads": 1,
            "warmup": 1,
            "allocator": allocator,
            "input_seed": SEED,
            "names": NAMES,
        },
        "results": {"configs": results},
    }
