"""Fast WaveNet generation with cached activations (dilated/04a): the same samples, how much faster?

A WaveNet (``convbook.nets.wavenet.WaveNet``: 256 mu-law classes, 32 residual and
32 gate channels, 64 skip channels, 2-tap kernels) with one block of
dilations ``1, 2, ..., 2^(m-1)`` for m = 4, 6, 8, 10, and two blocks of
``1, ..., 512`` (receptive fields 17, 65, 257, 1025 and 2048 samples), random
weights (the cost does not depend on them). For each, after a random prime
one receptive field long, batch 1:

* ``generate_naive`` reruns the network over the last receptive field for
  every new sample (16 samples per timed call);
* ``generate_cached`` fills a queue per layer from one pass over the prime,
  then computes one position per layer per sample (256 samples per timed
  call, the pass over the prime included).

Timings follow the book's protocol (``convbook.lab.timing.time_interleaved``: one
thread for torch and BLAS, warm-up, blocks alternating between all ten
generators of the five networks, so that load on the machine hits them alike,
every sample kept), float32, on the CPU; reported in milliseconds per
generated sample (median and quartiles), with the speed-up (ratio of medians)
and the multiply-add ratio (``generation_macs``, the receptive field). The
agreement of the two generators is checked on every model: identical samples in
float32 and float64 (64 samples, the same seed), and the largest difference of
their float64 logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from convbook.lab.timing import time_interleaved
from convbook.nets.wavenet import WaveNet, generate_cached, generate_naive, generation_macs

DESCRIPTION = (
    "dilated/04a: WaveNet generation, naive (rerun over the receptive field) vs cached (a queue per layer); "
    "ms per sample for fields 17-2048 on the CPU, speed-up, multiply-add ratio, and exact agreement of the samples"
)

STACKS = {
    "m4": [2**i for i in range(4)],
    "m6": [2**i for i in range(6)],
    "m8": [2**i for i in range(8)],
    "m10": [2**i for i in range(10)],
    "2x m10": [2**i for i in range(10)] * 2,
}
MODEL = {"classes": 256, "residual_channels": 32, "gate_channels": 32, "skip_channels": 64, "kernel_size": 2}
N_NAIVE, N_CACHED = 16, 256
REPEATS, WARMUP, THREADS = 12, 1, 1
CHECK_SAMPLES = 64
RESULT_VERSION = 2
#: Replicate processes per reference (convbook.lab.replicate): one process is one sample of a timing.
PROCESSES = 3


@dataclass(frozen=True)
class Model:
    classes: int
    residual_channels: int
    gate_channels: int
    skip_channels: int
    kernel_size: int


@dataclass(frozen=True)
class PerGenerator:
    """One value for each generator."""

    naive: int
    cached: int


@dataclass(frozen=True)
class Settings:
    model: Model
    stacks: dict[str, list[int]]  # dilations by stack name
    batch: int
    prime_length: str
    samples_per_call: PerGenerator
    repeats: int
    warmup: int
    threads: int
    dtype: str
    device: str
    timing: dict  # what time_interleaved recorded


@dataclass(frozen=True)
class Macs:
    """Multiply-adds per generated sample (:func:`convbook.nets.wavenet.generation_macs`)."""

    per_position: int
    naive: int
    cached: int
    ratio: int


@dataclass(frozen=True)
class Agreement:
    same_samples_float32: bool
    max_logit_difference_float32: float
    same_samples_float64: bool
    max_logit_difference_float64: float


@dataclass(frozen=True)
class MsPerSample:
    naive: float
    cached: float


@dataclass(frozen=True)
class Stack:
    """One network: its size, the milliseconds per generated sample of both generators, and their agreement."""

    receptive_field: int
    layers: int
    macs: Macs
    samples_per_call: PerGenerator
    ms_per_sample: dict[str, list[float]]  # by generator, every timed call
    median_ms_per_sample: MsPerSample
    quartiles_ms_per_sample: dict[str, tuple[float, float, float]]  # by generator
    speedup: float
    agreement: Agreement | None = None


@dataclass(frozen=True)
class Results:
    stacks: dict[str, Stack]  # by stack name (keys of STACKS)


def build(dilations, seed: int = 0, dtype=None):
    """The WaveNet of this experiment with ``dilations``, random weights from ``seed``, in eval mode."""
    torch.manual_seed(seed)
    model = WaveNet(dilations=dilations, **MODEL).eval()
    return model.to(dtype) if dtype is not None else model


def agreement(dilations, samples: int = CHECK_SAMPLES) -> dict:
    """Do the two generators draw the same samples (float32 and float64), and how close are their logits?"""
    out = {}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        model = build(dilations, dtype=dtype)
        prime = torch.randint(
            0, MODEL["classes"], (2, model.receptive_field), generator=torch.Generator().manual_seed(1)
        )
        a, la = generate_naive(model, samples, prime, seed=2, return_logits=True)
        b, lb = generate_cached(model, samples, prime, seed=2, return_logits=True)
        out[f"same_samples_{name}"] = bool(torch.equal(a, b))
        out[f"max_logit_difference_{name}"] = float((la - lb).abs().max())
    return out


def time_all(
    stacks: dict, repeats: int = REPEATS, n_naive: int = N_NAIVE, n_cached: int = N_CACHED
) -> tuple[dict, dict]:
    """Milliseconds per generated sample of both generators for every stack (CPU, float32, one thread); settings.

    All the generators of all the stacks are timed in one interleaved run, so that a burst of load on the
    machine hits every one of them alike; every sample is kept.
    """
    fns, models = {}, {}
    per = {"naive": n_naive, "cached": n_cached}
    for name, dils in stacks.items():
        model = models[name] = build(dils)
        gen = torch.Generator().manual_seed(1)
        prime = torch.randint(0, MODEL["classes"], (1, model.receptive_field), generator=gen)
        fns[f"{name} naive"] = lambda m=model, p=prime: generate_naive(m, n_naive, p, seed=3)
        fns[f"{name} cached"] = lambda m=model, p=prime: generate_cached(m, n_cached, p, seed=3)
    timings = time_interleaved(fns, repeats=repeats, warmup=WARMUP, threads=THREADS)
    out = {}
    for name, dils in stacks.items():
        ms = {k: [1e3 * v / per[k] for v in timings.samples[f"{name} {k}"]] for k in per}
        q = {k: [1e3 * v / per[k] for v in timings.quartiles(f"{name} {k}")] for k in per}
        out[name] = {
            "receptive_field": models[name].receptive_field,
            "layers": len(dils),
            "macs": generation_macs(models[name]),
            "samples_per_call": per,
            "ms_per_sample": ms,
            "median_ms_per_sample": {k: q[k][1] for k in per},
            "quartiles_ms_per_sample": q,
            "speedup": q["naive"][1] / q["cached"][1],
        }
    return out, timings.settings


def run(quick: bool = False) -> dict:
    stacks = {"m4": STACKS["m4"]} if quick else STACKS
    repeats = 3 if quick else REPEATS
    n_naive, n_cached = (2, 4) if quick else (N_NAIVE, N_CACHED)
    results, timing_settings = time_all(stacks, repeats, n_naive, n_cached)
    for name, dils in stacks.items():
        results[name]["agreement"] = agreement(dils, 8 if quick else CHECK_SAMPLES)
    return {
        "settings": {
            "model": MODEL,
            "stacks": stacks,
            "batch": 1,
            "prime_length": "one receptive field",
            "samples_per_call": {"naive": n_naive, "cached": n_cached},
            "repeats": repeats,
            "warmup": WARMUP,
            "threads": THREADS,
            "dtype": "float32",
            "device": "cpu",
            "timing": timing_settings,
        },
        "results": {"stacks": results},
    }
