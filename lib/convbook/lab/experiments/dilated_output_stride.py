"""The price of resolution: a ResNet-50 trunk at output stride 32, 16 and 8 (DeepLab's dilated backbone), timed.

Used by chapters/dilated/02_implementations.ipynb ("At network scale: DeepLab's output stride").

:func:`convbook.dilated.resnet_layers` lists the layers of the three trunks and
counts their multiply-adds: the same weights and the same receptive field, but
output stride 8 computes the last two stages on maps 4 and 16 times larger.
This experiment builds the three trunks in torch (:func:`build_trunk`, checked
layer by layer against the list: same weights, same multiply-adds, same output
size) and times one forward pass of a 512 x 512 image (DeepLab's crop is 513) in
inference mode, in both memory layouts, by the book's timing protocol: one
thread, steady allocator, warm-up, interleaved blocks, medians and quartiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from convbook.lab.machine import steady_allocator
from convbook.lab.timing import TimingRecord, time_interleaved
from convbook.nets.architectures import resnet_layers, resnet_summary
from convbook.nets.layers import conv_bn_relu
from convbook.nets.profiler import profile
from convbook.nets.torch_bridge import float32_precision

DESCRIPTION = (
    "Forward time of a ResNet-50 trunk at output stride 32, 16 and 8 (dilated, DeepLab-style) against its "
    "multiply-add count, NCHW and channels_last (dilated/02)"
)

DEPTH = 50
INPUT_SIZE = 512
OUTPUT_STRIDES = (32, 16, 8)
SEED = 0
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class Settings:
    depth: int
    input_size: int
    batch: int
    output_strides: list[int]
    layouts: list[str]
    dtype: str
    mode: str
    threads: int
    repeats: int
    warmup: int
    allocator: str
    weight_seed: int


@dataclass(frozen=True)
class TrunkCheck:
    """The torch trunk against the layer list of :func:`convbook.dilated.resnet_layers`."""

    params_match: bool
    macs_match: bool
    output_size_match: bool


@dataclass(frozen=True)
class Results:
    timings: TimingRecord  # names 'OS {output stride}, {layout}'
    time_ratio_to_os32: dict[str, dict[str, float]]  # layout -> output stride -> ratio
    macs: dict[str, int]  # by output stride
    mac_ratio_to_os32: dict[str, float]
    receptive_field: dict[str, int]
    trunk_checks: dict[str, TrunkCheck]


def build_trunk(depth: int = DEPTH, output_stride: int = 32):
    """The ResNet trunk of :func:`convbook.dilated.resnet_layers` as a torch module (batch norm, ReLU, no classifier).

    Bottleneck blocks ``1x1 -> 3x3 -> 1x1`` with a projection shortcut in the first
    block of each stage, the stride on the 3 x 3 convolution, and DeepLab's
    dilation where :func:`resnet_layers` puts it. Input (N, 3, H, W), output
    (N, 2048, H / output_stride, W / output_stride) (rounded up).
    """
    layers = resnet_layers(depth, output_stride, 64)

    def unit(L, relu: bool = True):  # one conv-BN(-ReLU) of the layer list, without bias (batch norm follows)
        return conv_bn_relu(
            L["c_in"], L["c_out"], L["kernel_size"], L["stride"], L["dilation"], activation="relu" if relu else None
        )

    class Bottleneck(nn.Module):
        def __init__(self, a, b, c, shortcut):
            super().__init__()
            self.branch = nn.Sequential(unit(a), unit(b), unit(c, relu=False))
            self.shortcut = unit(shortcut, relu=False) if shortcut else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.branch(x) + self.shortcut(x))

    stem = [unit(layers[0]), nn.MaxPool2d(3, 2, 1)]
    blocks, rest = [], layers[2:]
    while rest:
        a, b, c = rest[:3]
        has_shortcut = len(rest) > 3 and not rest[3]["main_path"]
        blocks.append(Bottleneck(a, b, c, rest[3] if has_shortcut else None))
        rest = rest[4:] if has_shortcut else rest[3:]
    return nn.Sequential(*stem, *blocks)


def batchnorm_params(model) -> int:
    """Weights and biases of the batch norms (they are not part of the convolution counts)."""
    return sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())


def check_trunk(depth: int, output_stride: int, size: int = 128) -> dict:
    """The torch trunk against the layer list: weights, multiply-adds (profiler) and output size."""
    model = build_trunk(depth, output_stride).eval()
    summary = resnet_summary(resnet_layers(depth, output_stride, size))
    prof = profile(model, (1, 3, size, size))
    out_size = prof[-1].out_shape[-1]
    conv_params = sum(p.numel() for p in model.parameters()) - batchnorm_params(model)
    return {
        "params_match": conv_params == summary["params"],
        "macs_match": prof.total_macs == summary["macs"],
        "output_size_match": out_size == summary["output_size"],
    }


def time_trunks(
    size: int,
    batch: int = 1,
    repeats: int = 6,
    warmup: int = 1,
    threads: int | None = 1,
    device=None,
    output_strides=OUTPUT_STRIDES,
    layouts=("NCHW", "channels_last"),
):
    """Forward time of the trunks at the given output strides and memory layouts, interleaved.

    Returns ``convbook.lab.timing.Timings`` with names like ``'OS 8, channels_last'``.
    On a GPU the pass runs in float32 with IEEE precision (``float32_precision('ieee')``).
    """
    dev = torch.device(device or "cpu")
    gen = torch.Generator().manual_seed(SEED)
    x = torch.randn(batch, 3, size, size, generator=gen).to(dev)
    x_cl = x.to(memory_format=torch.channels_last)
    fns = {}
    for os_ in output_strides:
        torch.manual_seed(SEED)
        model = build_trunk(DEPTH, os_).eval().to(dev)
        if "NCHW" in layouts:
            fns[f"OS {os_}, NCHW"] = lambda m=model: m(x)
        if "channels_last" in layouts:  # the same weights, stored channels-last
            model_cl = build_trunk(DEPTH, os_).eval().to(dev)
            model_cl.load_state_dict(model.state_dict())
            model_cl = model_cl.to(memory_format=torch.channels_last)
            fns[f"OS {os_}, channels_last"] = lambda m=model_cl: m(x_cl)
    with torch.inference_mode(), float32_precision("ieee"):
        return time_interleaved(
            fns, repeats=repeats, warmup=warmup, threads=threads, device=dev if dev.type != "cpu" else None,
            per_block=2,
        )  # fmt: skip


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    size = 64 if quick else INPUT_SIZE
    repeats = 2 if quick else 6
    strides = (32, 8) if quick else OUTPUT_STRIDES  # quick: a smoke run in seconds
    layouts = ("NCHW",) if quick else ("NCHW", "channels_last")
    checks = {str(os_): check_trunk(DEPTH, os_, 64 if quick else 128) for os_ in ((8,) if quick else strides)}
    timings = time_trunks(size, repeats=repeats, output_strides=strides, layouts=layouts)
    summaries = {str(os_): resnet_summary(resnet_layers(DEPTH, os_, size)) for os_ in strides}
    medians = timings.to_dict()["median_s"]
    ratios = {}
    for layout in layouts:
        base = medians[f"OS 32, {layout}"]
        ratios[layout] = {str(os_): medians[f"OS {os_}, {layout}"] / base for os_ in strides}
    return {
        "settings": {
            "depth": DEPTH,
            "input_size": size,
            "batch": 1,
            "output_strides": list(strides),
            "layouts": list(layouts),
            "dtype": "float32",
            "mode": "inference (torch.inference_mode, batch norm in eval mode)",
            "threads": 1,
            "repeats": repeats,
            "warmup": 1,
            "allocator": allocator,
            "weight_seed": SEED,
        },
        "results": {
            "timings": timings.to_dict(),
            "time_ratio_to_os32": ratios,
            "macs": {k: s["macs"] for k, s in summaries.items()},
            "mac_ratio_to_os32": {k: s["macs"] / summaries["32"]["macs"] for k, s in summaries.items()},
            "receptive_field": {k: s["receptive_field"] for k, s in summaries.items()},
            "trunk_checks": checks,
        },
    }
