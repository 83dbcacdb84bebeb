"""Scaling curves: how the forward time of convbook and torch grows with size, channels and dilation.

Used by chapters/performance.ipynb ("Scaling curves").

Four sweeps of a 3x3 convolution, float32, stride 1, padding keeping the size:

* ``size``: 32 -> 32 channels, batch 4, height = width from 14 to 112 (FLOPs grow as size^2);
* ``channels``: C -> C channels, batch 4, 28 x 28, C from 16 to 128 (FLOPs grow as C^2);
* ``dilation``: 64 -> 64 channels, batch 2, 56 x 56, dilation 1 to 8 (FLOPs do not change);
* ``standard`` and ``depthwise``: C -> C channels at 28 x 28, batch 4, C from 16 to 256, without and with
  ``groups=C`` (FLOPs grow as C^2 and as C).

Implementations: ``convbook.conv2d``, torch's ``F.conv2d`` with NCHW tensors, and
the same with input and weight in ``channels_last`` memory format (torch's speed
on the CPU depends on the layout, most for depthwise layers).

Protocol (``convbook.lab.timing``): one thread for torch, NumPy's BLAS and
convbook's pool alike, so that the curves show what the arithmetic and the
memory traffic cost, not how well each library shares work among cores (the
benchmark's suite measures that), and so that another program busy on the
machine disturbs them less; the allocator kept steady (``machine.steady_allocator``); warm-up calls; for each
point the implementations are sampled in blocks that alternate between them;
medians and quartiles; every sample stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from convbook import conv2d
from convbook.costs import conv_cost
from convbook.lab.machine import steady_allocator
from convbook.lab.report import sig
from convbook.lab.timing import time_interleaved

DESCRIPTION = (
    "Forward time of convbook and torch (NCHW and channels_last) against size, channels, dilation, and depthwise "
    "against standard layers (performance chapter, 'Scaling curves')"
)

#: The sweeps: the varied quantity's values and the fixed settings.
CURVES = {
    "size": {"values": [14, 28, 56, 112], "batch": 4, "channels": 32, "size": None, "dilation": 1, "depthwise": False},
    "channels": {
        "values": [16, 32, 64, 128],
        "batch": 4,
        "channels": None,
        "size": 28,
        "dilation": 1,
        "depthwise": False,
    },
    "dilation": {"values": [1, 2, 4, 8], "batch": 2, "channels": 64, "size": 56, "dilation": None, "depthwise": False},
    "standard": {"values": [16, 64, 256], "batch": 4, "channels": None, "size": 28, "dilation": 1, "depthwise": False},
    "depthwise": {"values": [16, 64, 256], "batch": 4, "channels": None, "size": 28, "dilation": 1, "depthwise": True},
}
#: Display names, in plotting order.
NAMES = {"convbook": "convbook.conv2d", "torch": "torch (NCHW)", "torch_cl": "torch (channels_last)"}
REPEATS = 21
WARMUP = 2
THREADS = 1
SEED = 0
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class CurveSpec:
    """One sweep: the varied quantity's ``values`` and the fixed settings (None: the one varied)."""

    values: list[int]
    batch: int
    channels: int | None
    size: int | None
    dilation: int | None
    depthwise: bool


@dataclass(frozen=True)
class Settings:
    curves: dict[str, CurveSpec]
    kernel_size: int
    dtype: str
    threads: int
    repeats: int
    warmup: int
    allocator: str
    input_seed: int
    names: dict[str, str]
    protocol: str


@dataclass(frozen=True)
class ScalingCurve:
    """One sweep, timed: per implementation (keys of :data:`NAMES`) one value per point of ``values``."""

    values: list[int]
    gflop: list[float]
    samples_s: dict[str, dict[str, list[float]]]  # value -> implementation -> seconds
    threads: dict[str, int | str | None]
    q1_ms: dict[str, list[float]]
    median_ms: dict[str, list[float]]
    q3_ms: dict[str, list[float]]
    agree: bool | None = None


@dataclass(frozen=True)
class Summary:
    """The ratios the chapter quotes, per implementation (see :func:`summarize`)."""

    size_last_step: dict[str, float]
    channels_last_step: dict[str, float]
    dilation_spread: dict[str, float]
    standard_over_depthwise: dict[str, list[float]]
    flop_ratio_standard_over_depthwise: list[int]
    standard_nchw_over_channels_last: list[float]
    depthwise_nchw_over_channels_last: list[float]


@dataclass(frozen=True)
class Results:
    curves: dict[str, ScalingCurve]  # by sweep (keys of CURVES)
    summary: Summary


def layer(curve: str, value: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, dict]:
    """Input ``x`` (N, C, H, W), weight ``w`` (C, C/g, 3, 3) and keyword arguments of one point of a sweep."""
    if curve not in CURVES:
        raise ValueError(f"layer: curve must be one of {', '.join(CURVES)}; got {curve!r}")
    spec = CURVES[curve]
    if value not in spec["values"]:
        raise ValueError(f"layer: value {value!r} is not on the {curve!r} sweep {spec['values']}")
    c = spec["channels"] or value
    size = spec["size"] or value
    d = spec["dilation"] or value
    groups = c if spec["depthwise"] else 1
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((spec["batch"], c, size, size), dtype=np.float32)
    w = rng.standard_normal((c, c // groups, 3, 3), dtype=np.float32) / np.float32(np.sqrt(9 * c // groups))
    return x, w, {"padding": d, "dilation": d, "groups": groups}


def flops(curve: str, value: int) -> int:
    """FLOPs (2 per multiply-add) of one forward call at this point of the sweep."""
    x, w, kw = layer(curve, value)
    n, c, size, _ = x.shape
    return 2 * n * conv_cost(c, w.shape[0], 3, size, groups=kw["groups"]).macs


def implementations(x: np.ndarray, w: np.ndarray, kw: dict, names=None) -> dict:
    """No-argument callables, keyed like :data:`NAMES` (or the subset ``names``), all on the CPU."""
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    xcl, wcl = xt.to(memory_format=torch.channels_last), wt.to(memory_format=torch.channels_last)
    fns = {
        "convbook": lambda: conv2d(x, w, **kw),
        "torch": lambda: F.conv2d(xt, wt, **kw),
        "torch_cl": lambda: F.conv2d(xcl, wcl, **kw),
    }
    return {k: f for k, f in fns.items() if names is None or k in names}


def time_curve(curve: str, values=None, *, repeats: int = REPEATS, warmup: int = WARMUP, threads=THREADS, names=None):
    """Time one sweep by the book's protocol.

    Parameters
    ----------
    curve : str
        A key of :data:`CURVES`.
    values : list of int, optional
        A subset of the sweep's values (default: all).
    repeats, warmup : int
        Samples per implementation and point, untimed calls before each block.
    threads : int
        One thread count for torch, BLAS and convbook (default 1, as in the reference).
    names : list of str, optional
        A subset of :data:`NAMES`.

    Returns
    -------
    ScalingCurve
        ``values``, ``gflop`` (per call), ``median_ms`` / ``q1_ms`` / ``q3_ms`` (name -> one value per point),
        ``samples_s`` (value -> name -> seconds) and ``threads`` (the settings in force); ``agree`` is None
        (:func:`check_agreement` says it).
    """
    values = list(CURVES[curve]["values"] if values is None else values)
    samples, quartiles, threads_used = {}, {"q1_ms": {}, "median_ms": {}, "q3_ms": {}}, {}
    with torch.no_grad():
        for v in values:
            x, w, kw = layer(curve, v)
            t = time_interleaved(implementations(x, w, kw, names), repeats=repeats, warmup=warmup, threads=threads)
            threads_used = t.settings["threads"]
            samples[str(v)] = t.to_dict()["samples_s"]
            for name in t.samples:
                for key, value in zip(("q1_ms", "median_ms", "q3_ms"), t.quartiles(name)):
                    quartiles[key].setdefault(name, []).append(1e3 * value)
    return ScalingCurve(
        values=values,
        gflop=[flops(curve, v) / 1e9 for v in values],
        samples_s=samples,
        threads=threads_used,
        **quartiles,
    )


def check_agreement(curve: str, value: int) -> bool:
    """convbook and torch in both layouts agree at this point (float32, 1e-3 of the output's scale)."""
    x, w, kw = layer(curve, value)
    with torch.no_grad():
        outs = {k: f() for k, f in implementations(x, w, kw).items()}
    ref = outs["torch"].numpy()
    scale = float(np.abs(ref).max())
    return all(
        np.asarray(o).shape == ref.shape and float(np.abs(np.asarray(o) - ref).max()) <= 1e-3 * scale
        for o in outs.values()
    )


def summarize(curves: dict[str, ScalingCurve]) -> Summary:
    """The ratios the chapter quotes, per implementation: growth, flatness, depthwise gain, layout gain.

    ``curves`` holds every sweep of :data:`CURVES`, by name.
    """
    missing = [k for k in CURVES if k not in curves]
    if missing:
        raise ValueError(f"summarize: curves must hold every sweep of CURVES; missing {missing}")
    med = {k: c.median_ms for k, c in curves.items()}

    def nchw_over_channels_last(kind):
        return [a / b for a, b in zip(med[kind]["torch"], med[kind]["torch_cl"])] if "torch_cl" in med[kind] else []

    return Summary(
        # time at the last size (channel count) over the one before: the FLOPs grow 4x between neighbouring points
        size_last_step={k: v[-1] / v[-2] for k, v in med["size"].items()},
        channels_last_step={k: v[-1] / v[-2] for k, v in med["channels"].items()},
        dilation_spread={k: max(v) / min(v) for k, v in med["dilation"].items()},
        standard_over_depthwise={
            k: [s / d for s, d in zip(med["standard"][k], med["depthwise"][k])] for k in med["depthwise"]
        },
        flop_ratio_standard_over_depthwise=list(curves["depthwise"].values),
        standard_nchw_over_channels_last=nchw_over_channels_last("standard"),
        depthwise_nchw_over_channels_last=nchw_over_channels_last("depthwise"),
    )


def rounded(values):
    """``values`` (a number, a list, or a dict of either) at two significant digits (:func:`~convbook.lab.report.sig`).

    What the chapter prints of the summary's ratios: coarse enough to read the same after a rerun.
    """
    if isinstance(values, dict):
        return {k: rounded(v) for k, v in values.items()}
    if isinstance(values, list | tuple):
        return [rounded(v) for v in values]
    return float(sig(values))


def run(quick: bool = False) -> dict:
    allocator = steady_allocator()
    curves = {}
    for name, spec in CURVES.items():
        values = spec["values"][:2] if quick else spec["values"]
        curve = time_curve(name, values, repeats=3 if quick else REPEATS, warmup=1 if quick else WARMUP)
        curves[name] = replace(curve, agree=all(check_agreement(name, v) for v in values))
    return {
        "settings": {
            "curves": CURVES,
            "kernel_size": 3,
            "dtype": "float32",
            "threads": THREADS,
            "repeats": 3 if quick else REPEATS,
            "warmup": 1 if quick else WARMUP,
            "allocator": allocator,
            "input_seed": SEED,
            "names": NAMES,
            "protocol": "convbook.lab.timing.time_interleaved: fixed threads, warm-up, alternating blocks of 3",
        },
        "results": {"curves": curves, "summary": summarize(curves)},
    }
