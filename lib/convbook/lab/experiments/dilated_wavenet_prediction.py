"""Next-sample prediction with and without dilation (dilated/04): what does a 64-sample field buy?

Two causal stacks with the same weights (``convbook.nets.wavenet.causal_stack``: six
causal layers with 2 taps, 8 channels, ``tanh``, and a 1x1 output layer; 713
parameters): ``plain`` with ``d = 1`` everywhere (field 7 samples) and
``dilated`` with ``d = 1, 2, 4, ..., 32`` (field 64). Both are trained with
full-batch Adam (1e-2) on the mean-squared one-step-ahead error, the errors
recorded after 50, 100, 250, 500, 1000 and 1500 steps (the learning curve; at
this fixed learning rate the training error is still falling at 1500 steps, so
the comparison is at fixed budgets), on the CPU with one thread under
``convbook.nets.training.deterministic``. Only predictions made with a full
64-sample history are scored.

**Waveform** (``convbook.dilated.make_waveform``, a noisy tone with a 24-sample
period): for each seed ``s`` in 0..4 the signal of seed ``s`` gives the training
data (4 sequences of 1000 samples) and, right after it, a **held-out
continuation** (2 x 1000 samples: the same tone, later); a waveform of another
seed (``100 + s``: other harmonic phases and loudness drifts) is scored too, as
a test of transfer to a differently shaped tone. The model seed is ``s``: each
seed draws its own data and its own initial weights.

**EEG** (matplotlib's ``eeg.dat``, 4 channels of 800 samples, standardised):
train on channels 0-2, test on channel 3, model seeds 0..4 (one recording: the
seeds draw the initial weights only).

Baselines, fitted on the same training data: persistence (the next sample
equals this one), and linear autoregressive predictors fitted by least squares
(``fit_autoregressive``): AR(7), the plain stack's field, AR(64), the dilated
one's, and AR(2) and AR(24) for reference. For the waveform, the noise floor:
the error of an oracle that knows the clean tone (the white noise is
unpredictable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import cbook

from convbook.lab.datasets import make_waveform
from convbook.lab.stats import summary
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import Summary
from convbook.nets.causal import causal_stack, fit_autoregressive, predict_autoregressive, train_predictor
from convbook.nets.training import deterministic

DESCRIPTION = (
    "dilated/04: plain vs dilated causal stacks (5 seeds, learning curve to 1500 steps) predicting the next sample "
    "of a held-out continuation, another waveform and an EEG channel; persistence, AR(p) least-squares baselines"
)
RESULT_VERSION = 1

SEEDS = [0, 1, 2, 3, 4]
CONFIGS = {"plain": [1] * 6, "dilated": [2**i for i in range(6)]}
SKIP = 64  # score only predictions made with a full 64-sample history
LR = 1e-2
STEPS = 1500
EVAL_AT = (50, 100, 250, 500, 1000, 1500)
HEADLINE_STEP = 250  # the budget the page quotes first
AR_ORDERS = (2, 7, 24, 64)
THREADS = 1
WAVE = {"train_sequences": 4, "test_sequences": 2, "length": 1000, "other_seed_offset": 100}


@dataclass(frozen=True)
class Stack:
    dilations: list[int]
    kernel_size: int
    channels: int
    activation: str


@dataclass(frozen=True)
class Optimiser:
    name: str
    lr: float
    batch: str


@dataclass(frozen=True)
class Waveform:
    train_sequences: int
    test_sequences: int
    length: int
    other_seed_offset: int


@dataclass(frozen=True)
class Settings:
    seeds: list[int]
    models: dict[str, Stack]  # 'plain', 'dilated'
    skip: int
    optimiser: Optimiser
    steps: int
    eval_at: list[int]
    headline_step: int
    ar_orders: list[int]
    waveform: Waveform
    eeg: str
    threads: int
    device: str


@dataclass(frozen=True)
class WavePoint:
    """Mean-squared errors of one stack after ``step`` training steps."""

    step: int
    train_mse: float
    continuation_mse: float
    other_waveform_mse: float


@dataclass(frozen=True)
class WaveRun:
    model: str
    seed: int
    history: list[WavePoint]


@dataclass(frozen=True)
class WaveErrors:
    train: float
    continuation: float
    other_waveform: float


@dataclass(frozen=True)
class SeedBaselines:
    seed: int
    errors: dict[str, WaveErrors]  # 'persistence', 'AR(2)', ... ->


@dataclass(frozen=True)
class WaveSummary:
    train_mse: Summary
    continuation_mse: Summary
    other_waveform_mse: Summary


@dataclass(frozen=True)
class WaveErrorSummary:
    train: Summary
    continuation: Summary
    other_waveform: Summary


@dataclass(frozen=True)
class WaveResults:
    runs: list[WaveRun]
    baselines: list[SeedBaselines]
    noise_floor: list[float]  # per seed: the error of an oracle that knows the clean tone
    summary: dict[str, dict[str, WaveSummary]]  # stack -> step ('250') -> over seeds
    baseline_summary: dict[str, WaveErrorSummary]  # 'persistence', 'AR(7)', ... -> over seeds
    noise_floor_summary: Summary


@dataclass(frozen=True)
class EegPoint:
    step: int
    train_mse: float
    other_channel_mse: float


@dataclass(frozen=True)
class EegRun:
    model: str
    seed: int
    history: list[EegPoint]


@dataclass(frozen=True)
class EegErrors:
    train: float
    other_channel: float


@dataclass(frozen=True)
class EegSummary:
    train_mse: Summary
    other_channel_mse: Summary


@dataclass(frozen=True)
class EegResults:
    runs: list[EegRun]
    baselines: dict[str, EegErrors]  # 'persistence', 'AR(2)', ... ->
    summary: dict[str, dict[str, EegSummary]]  # stack -> step -> over seeds


@dataclass(frozen=True)
class Results:
    waveform: WaveResults
    eeg: EegResults
    total_seconds: float


def waveform_data(seed: int, length: int = WAVE["length"]) -> dict:
    """Training sequences, the held-out continuation, another seed's waveform, and the continuation's clean tone.

    All arrays have shape ``(sequences, 1, length)``; the clean tone is scaled
    to the noisy signal by least squares (``make_waveform(noise=0)`` is the
    same tone at unit variance).
    """
    n_train, n_test = WAVE["train_sequences"] * length, WAVE["test_sequences"] * length
    signal = make_waveform(n_train + n_test, seed=seed)
    clean = make_waveform(n_train + n_test, seed=seed, noise=0.0)
    clean = clean * (signal @ clean) / (clean @ clean)  # the tone inside the noisy signal
    return {
        "train": signal[:n_train].reshape(-1, 1, length),
        "continuation": signal[n_train:].reshape(-1, 1, length),
        "other_waveform": make_waveform(n_test, seed=seed + WAVE["other_seed_offset"]).reshape(-1, 1, length),
        "continuation_clean": clean[n_train:].reshape(-1, 1, length),
    }


def eeg_data() -> dict:
    """matplotlib's EEG sample, each channel standardised: channels 0-2 for training, 3 for the test."""
    with cbook.get_sample_data("eeg.dat") as f:
        eeg = np.fromfile(f, dtype=float).reshape(800, 4).T  # (4 channels, 800 samples)
    eeg = (eeg - eeg.mean(axis=1, keepdims=True)) / eeg.std(axis=1, keepdims=True)
    return {"train": eeg[:3, None], "other_channel": eeg[3:, None]}


def persistence_mse(x: np.ndarray, skip: int = SKIP) -> float:
    """Mean-squared error of "the next sample equals this one" on ``x`` (N, 1, L)."""
    return float(np.mean((x[:, :, skip + 1 :] - x[:, :, skip:-1]) ** 2))


def baselines(train: np.ndarray, tests: dict, orders=AR_ORDERS) -> dict:
    """Persistence and AR(p) errors on the training data and on every test set."""
    out = {"persistence": {"train": persistence_mse(train), **{k: persistence_mse(v) for k, v in tests.items()}}}
    for p in orders:
        coef = fit_autoregressive(train, p, skip=SKIP)
        out[f"AR({p})"] = {
            "train": predict_autoregressive(coef, train, skip=SKIP)[1],
            **{k: predict_autoregressive(coef, v, skip=SKIP)[1] for k, v in tests.items()},
        }
    return out


def train_one(
    name: str, seed: int, train: np.ndarray, tests: dict, steps: int = STEPS, eval_at=EVAL_AT, device=None
) -> tuple:
    """Train stack ``name`` from ``seed`` as the reference does; return the model and its learning curve.

    One thread, deterministic, on ``device`` (default: the CPU, where the reference is made).
    """
    with fixed_threads(THREADS), deterministic(seed):
        model = causal_stack(CONFIGS[name])
        history = train_predictor(
            model, train, tests, steps=steps, lr=LR, skip=SKIP, eval_at=eval_at, device=torch.device(device or "cpu")
        )
    return model, history


def _summaries(runs: list[dict], keys: list[str]) -> dict:
    """Mean and SD over seeds of every error at every recorded step, per model."""
    out = {}
    for name in CONFIGS:
        mine = [r for r in runs if r["model"] == name]
        steps = [h["step"] for h in mine[0]["history"]]
        out[name] = {
            str(step): {k: summary([r["history"][i][k] for r in mine]) for k in keys} for i, step in enumerate(steps)
        }
    return out


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    steps, eval_at = (10, (5, 10)) if quick else (STEPS, EVAL_AT)
    start = time.perf_counter()
    # ---- waveform
    wave_runs, wave_baselines, noise_floor = [], [], []
    for seed in seeds:
        d = waveform_data(seed, length=200 if quick else WAVE["length"])
        tests = {"continuation": d["continuation"], "other_waveform": d["other_waveform"]}
        wave_baselines.append({"seed": seed, "errors": baselines(d["train"], tests)})
        cont, clean = d["continuation"], d["continuation_clean"]
        noise_floor.append(float(np.mean((cont[:, :, SKIP + 1 :] - clean[:, :, SKIP + 1 :]) ** 2)))
        for name in CONFIGS:
            _, history = train_one(name, seed, d["train"], tests, steps, eval_at)
            wave_runs.append({"model": name, "seed": seed, "history": history})
    # ---- EEG
    e = eeg_data()
    eeg_tests = {"other_channel": e["other_channel"]}
    eeg_base = baselines(e["train"], eeg_tests)
    eeg_runs = []
    for seed in seeds:
        for name in CONFIGS:
            _, history = train_one(name, seed, e["train"], eeg_tests, steps, eval_at)
            eeg_runs.append({"model": name, "seed": seed, "history": history})
    wave_keys = ["train_mse", "continuation_mse", "other_waveform_mse"]
    base_names = ["persistence"] + [f"AR({p})" for p in AR_ORDERS]
    results = {
        "waveform": {
            "runs": wave_runs,
            "baselines": wave_baselines,
            "noise_floor": noise_floor,
            "summary": _summaries(wave_runs, wave_keys),
            "baseline_summary": {
                b: {
                    k: summary([wb["errors"][b][k] for wb in wave_baselines])
                    for k in ("train", "continuation", "other_waveform")
                }
                for b in base_names
            },
            "noise_floor_summary": summary(noise_floor),
        },
        "eeg": {
            "runs": eeg_runs,
            "baselines": eeg_base,
            "summary": _summaries(eeg_runs, ["train_mse", "other_channel_mse"]),
        },
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    return {
        "settings": {
            "seeds": list(seeds),
            "models": {
                k: {"dilations": v, "kernel_size": 2, "channels": 8, "activation": "tanh"} for k, v in CONFIGS.items()
            },
            "skip": SKIP,
            "optimiser": {"name": "Adam", "lr": LR, "batch": "full"},
            "steps": steps,
            "eval_at": list(eval_at),
            "headline_step": HEADLINE_STEP,
            "ar_orders": list(AR_ORDERS),
            "waveform": WAVE,
            "eeg": "matplotlib eeg.dat, channels standardised; train channels 0-2, test channel 3",
            "threads": THREADS,
            "device": "cpu",
        },
        "results": results,
    }
