"""The layers of separable/05 and how they are timed: definitions, FLOP and byte counts, the timed calls.

Layers (PyTorch, float32, stride 1, padding ``k // 2``, no bias), ``C -> C`` channels for every ``C`` in
``CHANNELS``, on a batch of ``BATCH`` images of ``SIZE x SIZE``:

* ``standard``: ``Conv2d(C, C, 3)``; ``depthwise``: ``Conv2d(C, C, 3, groups=C)``; ``pointwise``:
  ``Conv2d(C, C, 1)``; ``separable``: the depthwise layer then the pointwise one;
* in both memory layouts: NCHW (torch's default) and ``channels_last`` (NHWC; module and input both converted).

:func:`time_layers`, :func:`device_ceilings` and :func:`numpy_layers` are what the experiment
(:mod:`convbook.lab.experiments.separable_timing`) measures and what the chapter's live cells call, with fewer
sizes and repeats, and on a GPU when there is one.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile

from convbook import conv2d
from convbook.conv import winograd_allowed
from convbook.costs import conv_intensity
from convbook.lab.machine import last_level_cache_bytes, matmul_peak, memory_bandwidth
from convbook.lab.timing import time_interleaved
from convbook.nets.small_cnn import small_cnn
from convbook.nets.torch_bridge import float32_precision, synchronize
from convbook.pointwise import pointwise_conv2d
from convbook.separable import depthwise_conv2d

__all__ = [
    "BATCH",
    "CHANNELS",
    "KERNEL",
    "KINDS",
    "LAYOUTS",
    "POINTWISE_PATHS",
    "SIZE",
    "device_ceilings",
    "dispatch",
    "layer_flops",
    "make_layers",
    "numpy_layers",
    "small_cnn_profile",
    "small_cnn_steps",
    "time_layers",
]

CHANNELS = (16, 32, 64, 128, 256)
BATCH, SIZE, KERNEL = 8, 28, 3
KINDS = ("standard", "depthwise", "pointwise", "separable")
LAYOUTS = ("nchw", "channels_last")
THREADS = 1
REPEATS, WARMUP, PER_BLOCK = 21, 2, 1
#: Seconds between two samples. On one thread no pool is left spinning after a call (the reason for the protocol's
#: pause), so a short one does; it keeps the samples apart in time all the same.
PAUSE = 0.02
#: The 1x1 layer computed other ways than ``Conv2d`` (``pointwise_paths=True``): one matrix product on the reshaped
#: tensor, and oneDNN's convolution called directly (``torch.mkldnn_convolution``), which ATen's dispatch does not
#: choose for this layer on one thread (it runs ``aten::_slow_conv2d_forward``, a BLAS product per image).
POINTWISE_PATHS = ("pointwise_matmul", "pointwise_onednn")
NUMPY_CHANNELS = (32, 128)


def layer_flops(kind: str, c: int, batch: int = BATCH, size: int = SIZE) -> dict:
    """``{'flops', 'bytes', 'intensity'}`` of one forward call (:func:`convbook.costs.conv_intensity`).

    The separable pair's bytes are the sum of its two layers' (its intermediate tensor is written and read once).
    """
    if kind not in KINDS:
        raise ValueError(f"layer_flops: kind must be one of {', '.join(KINDS)}; got {kind!r}")

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


def memory_format(layout: str):
    """torch's memory format of ``layout`` (``'nchw'`` or ``'channels_last'``)."""
    return torch.channels_last if layout == "channels_last" else torch.contiguous_format


def make_layers(c: int, device, layout: str, seed: int = 0) -> dict:
    """The four layers for ``c`` channels on ``device`` in ``layout``: ``{kind: nn.Module}``."""
    torch.manual_seed(seed)
    dw = nn.Conv2d(c, c, KERNEL, padding=KERNEL // 2, groups=c, bias=False)
    pw = nn.Conv2d(c, c, 1, bias=False)
    layers = {
        "standard": nn.Conv2d(c, c, KERNEL, padding=KERNEL // 2, bias=False),
        "depthwise": dw,
        "pointwise": pw,
        "separable": nn.Sequential(dw, pw),
    }
    return {k: m.to(device).to(memory_format=memory_format(layout)) for k, m in layers.items()}


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
    pause: float = PAUSE,
    pointwise_paths: bool = False,
) -> dict:
    """Seconds per call of every kind of layer in every layout, for each channel count.

    For each ``c`` all ``len(KINDS) * len(layouts)`` calls are sampled together by
    :func:`convbook.lab.timing.time_interleaved` (names ``'{layout}/{kind}'``; ``per_block=1``: every sample is
    taken in its own block, so that a change of load on the machine during the run hits every layer alike), under
    ``float32_precision(precision)`` (which matters on CUDA only) and ``threads`` CPU threads. ``backward=True``
    times forward plus backward (gradients of the input and the weights, through ``torch.autograd.grad``).
    ``pointwise_paths=True`` (forward only) adds the 1x1 layer computed as in :data:`POINTWISE_PATHS`, names
    ``'{layout}/pointwise_matmul'`` and ``'{layout}/pointwise_onednn'`` (the latter where torch has oneDNN).

    Returns
    -------
    dict
        ``{str(c): Timings.to_dict()}`` (every sample, medians, quartiles, settings).
    """
    device = torch.device(device)
    out = {}
    with float32_precision(precision):
        for c in channels:
            fns = {}
            for layout in layouts:
                x = torch.randn(batch, c, size, size, device=device).to(memory_format=memory_format(layout))
                layers = make_layers(c, device, layout)
                for kind, m in layers.items():
                    fns[f"{layout}/{kind}"] = _call(m, x, backward)
                if pointwise_paths and not backward:
                    fns.update(_pointwise_paths(layers["pointwise"].weight, x, layout, device))
            timings = time_interleaved(
                fns, repeats=repeats, warmup=warmup, threads=threads, device=device, per_block=per_block, pause=pause
            )
            timings.settings.update(batch=batch, size=size, channels=c, precision=precision, backward=backward)
            out[str(c)] = timings.to_dict()
    return out


def _pointwise_paths(weight, x, layout: str, device) -> dict:
    """The 1x1 layer with ``weight`` (C, C, 1, 1) on ``x`` as one matrix product, and as oneDNN's convolution."""
    n, c, h, w = x.shape
    w2 = weight.detach()[:, :, 0, 0]  # (C_out, C_in)
    if layout == "channels_last":
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # (N*H*W, C): a view of the channels-last data

        def matmul():
            return rows @ w2.T  # (N*H*W, C_out): one product for the whole batch

    else:
        planes = x.reshape(n, c, h * w)  # (N, C, HW): a view

        def matmul():
            return torch.matmul(w2, planes)  # (N, C_out, HW): one batched product

    out = {f"{layout}/pointwise_matmul": matmul}
    if torch.device(device).type == "cpu" and torch.backends.mkldnn.is_available():
        wt = weight.detach()

        def onednn():
            return torch.mkldnn_convolution(x, wt, None, [0, 0], [1, 1], [1, 1], 1)

        out[f"{layout}/pointwise_onednn"] = onednn
    return out


def _call(module, x, backward: bool):
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


def device_ceilings(device="cpu", precision: str = "ieee", quick: bool = False) -> dict:
    """Measured roofs on ``device``: float32 matrix-product GFLOP/s and copy GB/s.

    CPU: ``convbook.lab.machine``'s ``matmul_peak`` (the better of ``n = 512`` and ``1024``; NumPy's BLAS or
    torch, whichever is faster) and ``memory_bandwidth`` (main memory, 64 MB) and the bandwidth of a copy that
    fits in the last-level cache (4 MB), on the thread count in force. GPU (CUDA, MPS): the best of a few
    ``4096 x 4096`` products under ``float32_precision(precision)``, and a 256 MB device-to-device copy,
    synchronised.
    """
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


def numpy_layers(channels=NUMPY_CHANNELS, repeats: int = 9, warmup: int = 1) -> dict:
    """convbook's NumPy ``conv2d``, ``depthwise_conv2d`` and ``pointwise_conv2d`` on one image, float32.

    ``conv2d`` runs with its Winograd path switched off (``convbook.conv.winograd_allowed(False)``), as nine
    shifted matrix products: the algorithm the chapter describes, and the one the depthwise layer cannot use.
    """
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


def small_cnn_steps(repeats: int = 15, warmup: int = 2, batch: int = 64, pause: float = PAUSE) -> dict:
    """Seconds per phase of one Adam step of ``small_cnn(False)`` and ``small_cnn(True)``, interleaved.

    Names ``'{net}/forward'`` (the loss), ``'{net}/forward_backward'`` (and its gradients) and ``'{net}/step'`` (and
    the optimiser's update: a whole training step), for ``net`` in ``standard`` and ``separable``.
    """
    torch.manual_seed(0)
    x = torch.randn(batch, 1, 16, 16)
    y = torch.randint(0, 4, (batch,))
    fns = {}
    for name, separable in (("standard", False), ("separable", True)):
        model = small_cnn(separable)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)

        def forward(model=model):
            return torch.nn.functional.cross_entropy(model(x), y)

        def forward_backward(model=model, opt=opt, forward=forward):
            opt.zero_grad()
            forward().backward()

        def step(opt=opt, forward_backward=forward_backward):
            forward_backward()
            opt.step()

        fns.update({f"{name}/forward": forward, f"{name}/forward_backward": forward_backward, f"{name}/step": step})
    timings = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=THREADS, pause=pause)
    timings.settings.update(batch=batch, size=16)
    return timings.to_dict()


#: How :func:`small_cnn_profile` sorts torch's operators: the first category whose words a name contains.
OP_CATEGORIES = (
    ("convolution", ("conv",)),
    ("batch_norm", ("batch_norm",)),
    ("relu", ("relu", "threshold")),
)


def small_cnn_profile(steps: int = 5, batch: int = 64) -> dict:
    """Milliseconds per forward + backward of section 4's networks by kind of operator, from torch's profiler.

    ``{net: {'convolution', 'batch_norm', 'relu', 'other': ms}}``: the self CPU time of the ``aten`` operators
    (:data:`OP_CATEGORIES`; ``other`` is everything else: pooling, the linear layer, the loss, autograd's
    accumulation), summed over ``steps`` profiled passes after a warm-up and divided by ``steps``. The profiler
    adds a cost per operator, so these are shares to compare, not times to add to the timed ones.
    """
    torch.manual_seed(0)
    x = torch.randn(batch, 1, 16, 16)
    y = torch.randint(0, 4, (batch,))
    out = {}
    for name, separable in (("standard", False), ("separable", True)):
        model = small_cnn(separable)

        def fb(model=model):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()

        fb()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                fb()
        ms = dict.fromkeys([c for c, _ in OP_CATEGORIES] + ["other"], 0.0)
        for e in prof.key_averages():
            if not e.key.startswith("aten::"):
                continue
            cat = next((c for c, words in OP_CATEGORIES if any(w in e.key for w in words)), "other")
            ms[cat] += e.self_cpu_time_total / 1e3 / steps
        out[name] = ms
    return out


def dispatch(channels=CHANNELS) -> dict:
    """Which PyTorch operator runs each layer: ``{'{layout}/{kind}/{c}': [aten ops]}``, from torch's profiler.

    ``aten::mkldnn_convolution`` is oneDNN; ``aten::_slow_conv2d_forward`` is PyTorch's own path, a matrix product
    through the BLAS (the generic ``aten::conv2d``, ``aten::convolution``, ``aten::_convolution`` and allocation
    ops are left out).
    """
    generic = {"aten::conv2d", "aten::convolution", "aten::_convolution", "aten::empty", "aten::detach", "detach"}
    out = {}
    for c in channels:
        for layout in LAYOUTS:
            x = torch.randn(BATCH, c, SIZE, SIZE).to(memory_format=memory_format(layout))
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
