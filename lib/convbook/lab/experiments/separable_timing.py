"""FLOPs are not time (separable/05): standard, depthwise and pointwise layers timed, and why they differ.

Layers (PyTorch, float32, stride 1, padding ``k // 2``, no bias), ``C -> C``
channels for every ``C`` in ``CHANNELS``, on a batch of ``BATCH`` images of
``SIZE x SIZE``:

* ``standard``: ``Conv2d(C, C, 3)``; ``depthwise``: ``Conv2d(C, C, 3, groups=C)``;
  ``pointwise``: ``Conv2d(C, C, 1)``; ``separable``: the depthwise layer then
  the pointwise one;
* in both memory layouts: NCHW (torch's default) and ``channels_last`` (NHWC;
  module and input both converted).

What is measured (``convbook.lab.timing`` protocol: one thread for torch, NumPy's
BLAS and convbook's pool; warm-up; interleaved blocks over all kinds and both
layouts; every sample stored; medians and quartiles):

* ``forward``: one forward pass, with glibc's allocator kept steady
  (``convbook.lab.machine.steady_allocator``, as in the benchmark) and, in a second
  process, with the default allocator, which is what a notebook gets;
* ``train_step``: forward and backward (gradients of the input and the
  weights), steady allocator;
* ``dispatch``: which PyTorch operator runs each layer (oneDNN, or PyTorch's
  own matrix-product path), from torch's profiler;
* ``onednn``: where the time of one forward call goes, from oneDNN's own
  per-primitive log (``ONEDNN_VERBOSE=1``, in a separate process for each
  allocator): the convolution primitive, and the *reorders* that convert an
  NCHW tensor into oneDNN's blocked layout and back;
* ``ceilings``: the roofs of a roofline, measured on the same thread count
  (``convbook.lab.machine``): the float32 matrix-product peak, and the copy
  bandwidth of a 64 MB array (main memory) and of a 4 MB one (the L3 cache);
* ``numpy``: convbook's own NumPy layers (``conv2d``, ``depthwise_conv2d``,
  ``pointwise_conv2d``) on one image, float32;
* ``small_cnn``: one Adam step of the separable chapter's small CNN and its
  separable twin (batch 64, 16x16), the networks of ``separable_accuracy``.

:func:`time_layers` and :func:`device_ceilings` are also what the notebook's
live cell calls (with fewer sizes and repeats, and on a GPU when there is one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DESCRIPTION = (
    "separable/05: standard, depthwise, pointwise and separable layers timed in NCHW and channels_last (forward, "
    "forward+backward, default and steady allocator), oneDNN's reorder/convolution split, measured roofs"
)

CHANNELS = (16, 32, 64, 128, 256)
BATCH, SIZE, KERNEL = 8, 28, 3
KINDS = ("standard", "depthwise", "pointwise", "separable")
LAYOUTS = ("nchw", "channels_last")
THREADS = 1
REPEATS, WARMUP, PER_BLOCK = 21, 2, 1
NUMPY_CHANNELS = (32, 128)


def layer_flops(kind: str, c: int, batch: int = BATCH, size: int = SIZE) -> dict:
    """``{'flops', 'bytes', 'intensity'}`` of one forward call (``convbook.separable.conv_intensity``).

    The separable pair's bytes are the sum of its two layers' (its intermediate
    tensor is written and read once).
    """
    from convbook.separable import conv_intensity

    def one(groups, k):
        return conv_intensity(c, c, k, size, groups=groups, batch=batch)

    parts = {
        "standard": [one(1, KERNEL)],
        "depthwise": [one(c, KERNEL)],
        "pointwise": [one(1, 1)],
        "separable": [one(c, KERNEL), one(1, 1)],
    }[kind]
    flops, nbytes = sum(p["flops"] for p in parts), sum(p["bytes"] for p in parts)
    return {"flops": flops, "bytes": nbytes, "intensity": flops / nbytes}


def make_layers(c: int, device, layout: str, seed: int = 0) -> dict:
    """The four layers for ``c`` channels on ``device`` in ``layout``: ``{kind: nn.Module}``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    dw = nn.Conv2d(c, c, KERNEL, padding=KERNEL // 2, groups=c, bias=False)
    pw = nn.Conv2d(c, c, 1, bias=False)
    layers = {
        "standard": nn.Conv2d(c, c, KERNEL, padding=KERNEL // 2, bias=False),
        "depthwise": dw,
        "pointwise": pw,
        "separable": nn.Sequential(dw, pw),
    }
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return {k: m.to(device).to(memory_format=fmt) for k, m in layers.items()}


def time_layers(
    channels=CHANNELS,
    batch: int = BATCH,
    size: int = SIZE,
    layouts=LAYOUTS,
    device="cpu",
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    threads: int | None = THREADS,
    backward: bool = False,
    precision: str = "ieee",
    per_block: int = PER_BLOCK,
) -> dict:
    """Seconds per call of every kind of layer in every layout, for each channel count.

    For each ``c`` all ``len(KINDS) * len(layouts)`` calls are sampled together
    by :func:`convbook.lab.timing.time_interleaved` (names ``'{layout}/{kind}'``;
    ``per_block=1``: every sample is taken in its own block, so that a change
    of load on the machine during the run hits every layer alike),
    under ``float32_precision(precision)`` (which matters on CUDA only) and
    ``threads`` CPU threads. ``backward=True`` times forward plus backward
    (gradients of the input and the weights, through ``torch.autograd.grad``).

    Returns
    -------
    dict
        ``{str(c): Timings.to_dict()}`` (every sample, medians, quartiles, settings).
    """
    import torch

    from convbook.lab.timing import time_interleaved
    from convbook.nets.torch_bridge import float32_precision

    device = torch.device(device)
    out = {}
    with float32_precision(precision):
        for c in channels:
            fns = {}
            for layout in layouts:
                fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
                x = torch.randn(batch, c, size, size, device=device).to(memory_format=fmt)
                for kind, m in make_layers(c, device, layout).items():
                    fns[f"{layout}/{kind}"] = _call(m, x, backward)
            timings = time_interleaved(
                fns, repeats=repeats, warmup=warmup, threads=threads, device=device, per_block=per_block
            )
            timings.settings.update(batch=batch, size=size, channels=c, precision=precision, backward=backward)
            out[str(c)] = timings.to_dict()
    return out


def _call(module, x, backward: bool):
    import torch

    if not backward:

        def forward():
            with torch.no_grad():
                module(x)

        return forward
    xg = x.detach().clone().requires_grad_(True)
    params = tuple(module.parameters())
    grad_out = torch.ones_like(module(xg))  # the shape and layout of the output

    def step():
        y = module(xg)
        torch.autograd.grad(y, (xg, *params), grad_out)

    return step


def last_level_cache_bytes() -> int | None:
    """Size of the largest CPU cache in bytes (Linux's ``/sys``), or ``None`` where the system does not say."""
    import glob

    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text[:-1] if text[-1:] in "KMG" else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else None


def device_ceilings(device="cpu", precision: str = "ieee", quick: bool = False) -> dict:
    """Measured roofs on ``device``: float32 matrix-product GFLOP/s and copy GB/s.

    CPU: ``convbook.lab.machine``'s ``matmul_peak`` (the better of ``n = 512`` and
    ``1024``; NumPy's BLAS or torch, whichever is faster) and
    ``memory_bandwidth`` (main memory, 64 MB) and the bandwidth of a copy that
    fits in the last-level cache (4 MB), on the thread count in force. GPU (CUDA, MPS): the best of a few
    ``4096 x 4096`` products under ``float32_precision(precision)``, and a
    256 MB device-to-device copy, synchronised.
    """
    import time

    import torch

    from convbook.lab.machine import matmul_peak, memory_bandwidth
    from convbook.nets.torch_bridge import float32_precision, synchronize

    device = torch.device(device)
    if device.type == "cpu":
        peaks = [matmul_peak(n=n, repeats=3 if quick else 5) for n in ((512,) if quick else (512, 1024))]
        peak = max(peaks, key=lambda p: max(p["numpy_gflops"], p["torch_gflops"]))
        dram = memory_bandwidth(mbytes=32 if quick else 64, repeats=3 if quick else 5)
        cache = memory_bandwidth(mbytes=4, repeats=5 if quick else 20)
        return {
            "device": "cpu",
            "last_level_cache_bytes": last_level_cache_bytes(),
            "matmul_gflops": max(peak["numpy_gflops"], peak["torch_gflops"]),
            "dram_gbs": max(dram["numpy_gbs"], dram["torch_gbs"]),
            "cache_gbs": max(cache["numpy_gbs"], cache["torch_gbs"]),
            "detail": {"matmul": peaks, "dram_64MB": dram, "cache_4MB": cache},
        }

    def best(fn, work, repeats=5):
        fn()
        synchronize(device)
        times = []
        for _ in range(repeats):
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            times.append(time.perf_counter() - t0)
        return work / min(times)

    n = 2048 if quick else 4096
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    src = torch.empty(64 * 2**20, device=device)  # 256 MB of float32
    dst = torch.empty_like(src)
    with float32_precision(precision):
        gflops = best(lambda: torch.mm(a, b), 2.0 * n**3) / 1e9
    gbs = best(lambda: dst.copy_(src), 2.0 * src.numel() * 4) / 1e9
    return {"device": device.type, "precision": precision, "matmul_gflops": gflops, "dram_gbs": gbs}


# ---- oneDNN's own account of a call (ONEDNN_VERBOSE), in a child process


def _onednn_child(allocator: str, channels, calls: int) -> None:
    """Run in a fresh process with ``ONEDNN_VERBOSE=1``: a marker line on fd 1 before every call."""
    import torch

    from convbook.lab.machine import steady_allocator

    if allocator == "steady":
        steady_allocator()
    torch.set_num_threads(THREADS)
    for c in channels:
        for layout in LAYOUTS:
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            x = torch.randn(BATCH, c, SIZE, SIZE).to(memory_format=fmt)
            for kind, m in make_layers(c, "cpu", layout).items():
                if kind not in ("standard", "depthwise"):  # the 1x1 layer does not run in oneDNN (see dispatch)
                    continue
                with torch.no_grad():
                    for i in range(calls):
                        os.write(1, f"@@ {layout}/{kind}/{c}/{i}\n".encode())
                        m(x)
    os.write(1, b"@@ end\n")


def parse_onednn_log(text: str, skip: int = 3) -> dict:
    """Per-call milliseconds by oneDNN primitive kind from a marked ``ONEDNN_VERBOSE`` log.

    Returns ``{'{layout}/{kind}/{c}': {'reorder_ms': [...], 'convolution_ms': [...],
    'implementation': str}}`` for the calls after the first ``skip`` of each layer.
    """
    out, key, call = {}, None, 0
    for line in text.splitlines():
        if line.startswith("@@ "):
            parts = line[3:].strip().split("/")
            key, call = ("/".join(parts[:3]), int(parts[3])) if len(parts) == 4 else (None, 0)
            if key is not None and call >= skip:
                row = out.setdefault(key, {"reorder_ms": [], "convolution_ms": [], "implementation": ""})
                row["reorder_ms"].append(0.0)
                row["convolution_ms"].append(0.0)
            continue
        if key is None or call < skip or not line.startswith("onednn_verbose") or ",exec," not in line:
            continue
        fields = line.split(",")
        try:
            i = fields.index("exec")
            primitive, impl, ms = fields[i + 2], fields[i + 3], float(fields[-1])
        except (ValueError, IndexError):
            continue
        row = out[key]
        if primitive == "reorder":
            row["reorder_ms"][-1] += ms
        elif primitive == "convolution":
            row["convolution_ms"][-1] += ms
            row["implementation"] = impl
    return out


def onednn_breakdown(allocator: str, channels=CHANNELS, calls: int = 13) -> dict:
    """oneDNN's per-primitive times of one forward call of each layer (a child process; Linux x86 builds)."""
    code = f"from {__name__} import _onednn_child; _onednn_child({allocator!r}, {tuple(channels)!r}, {calls})"
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "OMP_NUM_THREADS": str(THREADS)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"onednn_breakdown: the child process failed:\n{proc.stderr[-2000:]}")
    rows = parse_onednn_log(proc.stdout)
    return {
        key: {
            "implementation": r["implementation"],
            "reorder_ms_median": float(np.median(r["reorder_ms"])),
            "convolution_ms_median": float(np.median(r["convolution_ms"])),
            "reorder_ms": r["reorder_ms"],
            "convolution_ms": r["convolution_ms"],
        }
        for key, r in rows.items()
    }


# ---- the timing processes


def numpy_layers(channels=NUMPY_CHANNELS, repeats: int = 9, warmup: int = 1) -> dict:
    """convbook's NumPy ``conv2d``, ``depthwise_conv2d`` and ``pointwise_conv2d`` on one image, float32.

    ``conv2d`` runs with its Winograd path switched off
    (``convbook.conv.winograd_allowed(False)``), as nine shifted matrix
    products: the algorithm the chapter describes, and the one the depthwise
    layer cannot use.
    """
    from convbook import conv2d
    from convbook.conv import winograd_allowed
    from convbook.lab.timing import time_interleaved
    from convbook.pointwise import pointwise_conv2d
    from convbook.separable import depthwise_conv2d

    rng = np.random.default_rng(0)
    out = {}
    for c in channels:
        x = rng.standard_normal((1, c, SIZE, SIZE)).astype(np.float32)
        w = rng.standard_normal((c, c, KERNEL, KERNEL)).astype(np.float32)
        w_dw = rng.standard_normal((c, 1, KERNEL, KERNEL)).astype(np.float32)
        w_pw = rng.standard_normal((c, c, 1, 1)).astype(np.float32)
        fns = {
            "standard": lambda x=x, w=w: conv2d(x, w, padding=KERNEL // 2),
            "depthwise": lambda x=x, w=w_dw: depthwise_conv2d(x, w, padding=KERNEL // 2),
            "pointwise": lambda x=x, w=w_pw: pointwise_conv2d(x, w),
        }
        with winograd_allowed(False):
            out[str(c)] = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=THREADS).to_dict()
    return out


def small_cnn_steps(repeats: int = 15, warmup: int = 2, batch: int = 64) -> dict:
    """Seconds per Adam step (forward, backward, update) of ``small_cnn(False)`` and ``small_cnn(True)``."""
    import torch

    from convbook.lab.timing import time_interleaved
    from convbook.nets.models import small_cnn

    torch.manual_seed(0)
    x = torch.randn(batch, 1, 16, 16)
    y = torch.randint(0, 4, (batch,))
    fns = {}
    for name, separable in (("standard", False), ("separable", True)):
        model = small_cnn(separable)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)

        def step(model=model, opt=opt):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        fns[name] = step
    timings = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=THREADS)
    timings.settings.update(batch=batch, size=16)
    return timings.to_dict()


def dispatch(channels=CHANNELS) -> dict:
    """Which PyTorch operator runs each layer: ``{'{layout}/{kind}/{c}': [aten ops]}``, from torch's profiler.

    ``aten::mkldnn_convolution`` is oneDNN; ``aten::_slow_conv2d_forward`` is
    PyTorch's own path, a matrix product through the BLAS (the generic
    ``aten::conv2d``, ``aten::convolution``, ``aten::_convolution`` and
    allocation ops are left out).
    """
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    generic = {"aten::conv2d", "aten::convolution", "aten::_convolution", "aten::empty", "aten::detach", "detach"}
    out = {}
    for c in channels:
        for layout in LAYOUTS:
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            x = torch.randn(BATCH, c, SIZE, SIZE).to(memory_format=fmt)
            for kind, m in make_layers(c, "cpu", layout).items():
                if kind == "separable":
                    continue
                with torch.no_grad():
                    m(x)
                    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                        m(x)
                ops = [e.key for e in prof.key_averages() if e.key.startswith("aten::") and e.key not in generic]
                out[f"{layout}/{kind}/{c}"] = [op for op in ops if "conv" in op or "mkldnn" in op]
    return out


def measure(allocator: str, quick: bool = False) -> dict:
    """Everything measured in one process under one allocator setting ('steady' or 'default')."""
    from convbook.lab.machine import steady_allocator
    from convbook.lab.timing import fixed_threads

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


def _measure_child(allocator: str, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(measure(allocator), f)


def _in_child(allocator: str) -> dict:
    """:func:`measure` in a fresh process, so that each allocator setting starts from a clean heap."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.json")
        code = f"from {__name__} import _measure_child; _measure_child({allocator!r}, {path!r})"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"separable_timing: the {allocator} process failed:\n{proc.stderr[-2000:]}")
        with open(path, encoding="utf-8") as f:
            return json.load(f)


def summarize(measured: dict) -> dict:
    """Medians the chapter quotes: per layout and channel count, ms, GFLOP/s and the separable speed-up."""
    out = {}
    for part in ("forward", "train_step"):
        if part not in measured:
            continue
        rows = {}
        for c, t in measured[part].items():
            med = t["median_s"]
            for layout in LAYOUTS:
                row = {}
                for kind in KINDS:
                    f = layer_flops(kind, int(c))["flops"] * (3 if part == "train_step" else 1)
                    row[kind] = {"ms": 1e3 * med[f"{layout}/{kind}"], "gflops": f / med[f"{layout}/{kind}"] / 1e9}
                std = layer_flops("standard", int(c))["flops"]
                row["speedup"] = med[f"{layout}/standard"] / med[f"{layout}/separable"]
                row["mac_ratio"] = std / layer_flops("separable", int(c))["flops"]
                row["depthwise_time_share"] = med[f"{layout}/depthwise"] / (
                    med[f"{layout}/depthwise"] + med[f"{layout}/pointwise"]
                )
                rows[f"{layout}/{c}"] = row
        out[part] = rows
    return out


def run(quick: bool = False) -> dict:
    if quick:  # everything in this process, two sizes, few repeats; no allocator comparison, no oneDNN log
        measured = {"steady": measure("steady", quick=True)}
    else:
        measured = {"steady": _in_child("steady"), "default": _in_child("default")}
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
