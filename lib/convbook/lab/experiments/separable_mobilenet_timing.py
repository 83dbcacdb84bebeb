"""MobileNet v1 against its full-convolution twin in time (separable/06).

The paper's MobileNet (``convbook.nets.models.mobilenet_v1``) and its "Conv
MobileNet" twin (``mobilenet_v1_full_conv``: every block one standard 3x3
convolution) do 568.7 and 4867.3 million multiply-adds per 224x224 image. How
much faster is MobileNet in time, and where does its time go?

* ``forward``: one forward pass of each network on one 224x224 image
  (inference mode, float32), in NCHW and in ``channels_last``, sampled in
  interleaved blocks (``convbook.lab.timing``: one thread, warm-up, medians,
  every sample stored), with glibc's allocator kept steady
  (``convbook.lab.machine.steady_allocator``);
* ``by_kind``: MobileNet's time per layer kind (the stem's standard
  convolution, depthwise, pointwise, the classifier), from forward hooks
  around every convolution and linear layer (the batch norms and ReLUs between
  them are not counted), the median over ``REPEATS`` passes, in both layouts,
  next to each kind's share of the multiply-adds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from convbook.costs import cost_shares
from convbook.lab.machine import steady_allocator
from convbook.lab.timing import TimingRecord, fixed_threads, time_interleaved
from convbook.nets.architectures import mobilenet_v1_costs
from convbook.nets.models import mobilenet_v1, mobilenet_v1_full_conv
from convbook.nets.profiler import layer_kind
from convbook.nets.torch_bridge import float32_precision

DESCRIPTION = (
    "separable/06: forward time of MobileNet v1 and its full-convolution twin (1 image, 224x224, 1 thread, NCHW and "
    "channels_last), and MobileNet's time per layer kind against its multiply-add shares"
)

RESOLUTION, BATCH, THREADS = 224, 1, 1
LAYOUTS = ("nchw", "channels_last")
REPEATS, WARMUP = 15, 2
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class Settings:
    resolution: int
    batch: int
    threads: int
    layouts: list[str]
    repeats: int
    warmup: int
    dtype: str
    device: str
    allocator: str


@dataclass(frozen=True)
class ByKind:
    """MobileNet's seconds per layer kind ('conv', 'depthwise', 'pointwise', 'linear', and 'whole_pass')."""

    passes: list[dict[str, float]]
    median_s: dict[str, float]
    share_of_layers_percent: dict[str, float]


@dataclass(frozen=True)
class Networks:
    mobilenet: int
    full_conv: int


@dataclass(frozen=True)
class LayoutSummary:
    mobilenet_ms: float
    full_conv_ms: float
    time_ratio: float


@dataclass(frozen=True)
class Summary:
    """Median forward times and their ratio in each layout, and the ratio of multiply-adds."""

    nchw: LayoutSummary
    mac_ratio: float
    channels_last: LayoutSummary | None = None

    def layout(self, name: str) -> LayoutSummary:
        """The summary of layout ``name`` ('nchw' or 'channels_last')."""
        if name not in LAYOUTS or getattr(self, name) is None:
            raise ValueError(f"Summary.layout: name must be a measured layout of {LAYOUTS}, got {name!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class Results:
    forward: TimingRecord  # names '{layout}/{network}'
    by_kind: dict[str, ByKind]  # by layout
    macs: Networks
    mac_share_percent: dict[str, float]  # by layer kind
    summary: Summary


def _prepare(model, layout: str, device):
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return model.to(device).to(memory_format=fmt).eval()


def _input(layout: str, device, resolution: int = RESOLUTION, batch: int = BATCH):
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    return torch.zeros(batch, 3, resolution, resolution, device=device).to(memory_format=fmt)


def time_networks(
    layouts=LAYOUTS,
    device="cpu",
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    threads: int | None = THREADS,
    resolution: int = RESOLUTION,
    batch: int = BATCH,
    precision: str = "ieee",
) -> TimingRecord:
    """Seconds per forward pass of MobileNet and its twin, names ``'{layout}/{network}'`` (every sample, medians)."""
    device = torch.device(device)
    torch.manual_seed(0)
    nets = {"mobilenet": mobilenet_v1(), "full_conv": mobilenet_v1_full_conv()}
    fns = {}
    for layout in layouts:
        x = _input(layout, device, resolution, batch)
        for name, net in nets.items():
            model = _prepare(net, layout, device)

            def forward(model=model, x=x):
                with torch.no_grad():
                    model(x)

            fns[f"{layout}/{name}"] = forward
    with float32_precision(precision):
        timings = time_interleaved(fns, repeats=repeats, warmup=warmup, threads=threads, device=device)
    timings.settings.update(resolution=resolution, batch=batch, precision=precision)
    return timings.record()


def time_by_kind(layout: str = "nchw", repeats: int = REPEATS, threads: int = THREADS) -> dict:
    """MobileNet's seconds per layer kind (median over ``repeats`` passes), on the CPU, from forward hooks."""
    torch.manual_seed(0)
    model = _prepare(mobilenet_v1(), layout, "cpu")
    x = _input(layout, "cpu")
    started, spent, hooks = {}, {}, []
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            kind = layer_kind(module)
            hooks.append(module.register_forward_pre_hook(lambda m, i: started.__setitem__(m, time.perf_counter())))
            hooks.append(
                module.register_forward_hook(
                    lambda m, i, o, kind=kind: spent.__setitem__(kind, spent[kind] + time.perf_counter() - started[m])
                )
            )
    passes = []
    try:
        with fixed_threads(threads), torch.no_grad():
            for i in range(repeats + WARMUP):
                spent = dict.fromkeys(("conv", "depthwise", "pointwise", "linear"), 0.0)
                t0 = time.perf_counter()
                model(x)
                total = time.perf_counter() - t0
                if i >= WARMUP:
                    passes.append({**spent, "whole_pass": total})
    finally:
        for h in hooks:
            h.remove()
    medians = {k: float(np.median([p[k] for p in passes])) for k in passes[0]}
    layers_total = sum(v for k, v in medians.items() if k != "whole_pass")
    return {
        "passes": passes,
        "median_s": medians,
        "share_of_layers_percent": {k: 100 * v / layers_total for k, v in medians.items() if k != "whole_pass"},
    }


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    repeats, warmup = (2, 1) if quick else (REPEATS, WARMUP)
    layouts = ("nchw",) if quick else LAYOUTS
    forward = time_networks(layouts, repeats=repeats, warmup=warmup, resolution=64 if quick else RESOLUTION)
    by_kind = {layout: time_by_kind(layout, repeats=repeats) for layout in layouts}
    mobile, twin = mobilenet_v1_costs(), mobilenet_v1_costs(full_conv=True)
    med = forward.median_s
    results = {
        "forward": forward,
        "by_kind": by_kind,
        "macs": {"mobilenet": sum(r["macs"] for r in mobile), "full_conv": sum(r["macs"] for r in twin)},
        "mac_share_percent": {k: v["macs"] for k, v in cost_shares(mobile).items() if k != "total"},
        "summary": {
            layout: {
                "mobilenet_ms": 1e3 * med[f"{layout}/mobilenet"],
                "full_conv_ms": 1e3 * med[f"{layout}/full_conv"],
                "time_ratio": med[f"{layout}/full_conv"] / med[f"{layout}/mobilenet"],
            }
            for layout in layouts
        },
    }
    results["summary"]["mac_ratio"] = results["macs"]["full_conv"] / results["macs"]["mobilenet"]
    settings = {
        "resolution": 64 if quick else RESOLUTION,
        "batch": BATCH,
        "threads": THREADS,
        "layouts": list(layouts),
        "repeats": repeats,
        "warmup": warmup,
        "dtype": "float32",
        "device": "cpu",
        "allocator": allocator,
    }
    return {"settings": settings, "results": results}
