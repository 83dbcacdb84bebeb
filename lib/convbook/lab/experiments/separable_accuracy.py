"""Separable against standard accuracy (separable/04): what does the depthwise-separable twin give up?

The book's small CNN (``convbook.nets.models.small_cnn``: a 3x3 stem, two stride-2
blocks, conv-BN-ReLU units, global average pooling, a linear layer) is trained
on the shapes task (``convbook.lab.datasets.make_shapes``, 16x16, 1500 training
and 1000 test images, noise 0.2 "easy" and 0.5 "hard"), in five versions and
against a trivial baseline:

* ``standard``: ``small_cnn(False)``, widths 16, 32, 64 (23,668 parameters);
* ``separable``: ``small_cnn(True)``, the same with each block a depthwise 3x3
  then a pointwise 1x1 conv-BN-ReLU (MobileNet's block; 3,716 parameters);
* ``separable_no_mid``: the separable twin with nothing between its two steps
  (Xception's separable convolution, ``mid_activation=False``; 3,620 parameters);
* ``standard_matched``: a standard network narrowed to the separable twin's
  parameter count, widths 16, 16, 8 (3,716 parameters): the matched-parameter
  control, designed in exercise sep-ex-7;
* ``linear``: logistic regression on the 256 pixels (a learned trivial
  baseline); and ``majority``: always the most frequent training class.

Two protocols, each from every seed in ``SEEDS`` (the seed sets the initial
weights and the batch order):

* ``short``: the book's first version of this experiment, 5 epochs at a
  constant learning rate (Adam, 3e-3, batches of 64);
* ``converged``: 30 epochs with the learning rate cosine-annealed to zero (the
  protocol of the 1x1 chapter's experiment), training and test accuracy every
  3 epochs (the learning curve, which shows whether training has plateaued).

Runs are on the CPU with one thread each, two at a time, under
``convbook.nets.training.deterministic``: a rerun on the same torch build gives the
same numbers (the notebook's live cell reruns one of them).

The task and its protocol are shared with ``separable_trained_fit`` (separable/03) and ``pointwise_cheap_depth``
(pointwise/04), which import them from here: :data:`TASKS`, :func:`data`, :func:`majority_baseline`,
:func:`train_run` (one run by the shared protocol), :func:`workers` and :func:`map_runs` (runs two at a time, in
separate processes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from convbook.lab.datasets import make_shapes
from convbook.lab.fresh import map_fresh
from convbook.lab.stats import learning_curve, summary, welch
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import AccuracyCurves, Difference, Summary, from_json, to_json
from convbook.nets.profiler import profile
from convbook.nets.small_cnn import small_cnn
from convbook.nets.training import count_params, deterministic, train_classifier

DESCRIPTION = (
    "separable/04: small standard CNN vs its depthwise-separable twin, an Xception-style twin, a matched-parameter "
    "standard control and trivial baselines; easy and hard shapes, 8 seeds, 5 epochs (old protocol) and 30 (converged)"
)
RESULT_VERSION = 1

# ---- the shapes task and its training protocol (shared with separable_trained_fit and pointwise_cheap_depth)

TASKS = {"easy": 0.2, "hard": 0.5}  # noise standard deviation of make_shapes
SIZE, N_TRAIN, N_TEST, DATA_SEEDS = 16, 1500, 1000, (1, 2)
LR, BATCH, EVAL_EVERY = 3e-3, 64, 3
NUM_CLASSES = 4


@dataclass(frozen=True)
class Task:
    noise: float


@dataclass(frozen=True)
class Majority:
    """The most frequent training class, and the accuracy of always predicting it."""

    label: int
    train_accuracy: float
    test_accuracy: float


@dataclass(frozen=True)
class Run:
    task: str
    model: str
    seed: int
    protocol: str
    train_accuracy: float
    test_accuracy: float
    train_seconds: float
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss (and the accuracies where evaluated)


def data(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST):
    """The task's ``(train, test)`` sets: ``make_shapes`` with data seeds 1 and 2."""
    if task not in TASKS:
        raise ValueError(f"data: task must be one of {', '.join(TASKS)}, got {task!r}")
    noise = TASKS[task]
    train = make_shapes(n_train, size=SIZE, seed=DATA_SEEDS[0], noise=noise)
    test = make_shapes(n_test, size=SIZE, seed=DATA_SEEDS[1], noise=noise)
    return train, test


def linear_model():
    """Logistic regression on the pixels: the trivial learned baseline."""
    return nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, NUM_CLASSES))


def majority_baseline(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST) -> Majority:
    """Always predict the most frequent training class: its training and test accuracy."""
    (_, ytr), (_, yte) = data(task, n_train, n_test)
    label = int(np.bincount(ytr).argmax())
    return Majority(
        label=label, train_accuracy=float(np.mean(ytr == label)), test_accuracy=float(np.mean(yte == label))
    )


def train_run(
    task: str, build, seed: int, *, epochs: int, schedule: str, eval_every: int, n_train=N_TRAIN, n_test=N_TEST
) -> dict:
    """Train ``build()`` (made under ``seed``) on ``task`` by the shared protocol; return the run's record.

    Returns ``train_accuracy``, ``test_accuracy``, ``train_seconds`` and ``history`` (per epoch).
    """
    train, test = data(task, n_train, n_test)
    with fixed_threads(1):
        with deterministic(seed):
            model = build()
        r = train_classifier(
            model, train, test, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed, device=torch.device("cpu"),
            schedule=schedule, eval_every=eval_every,
        )  # fmt: skip
    return {
        "train_accuracy": r.train_accuracy,
        "test_accuracy": r.test_accuracy,
        "train_seconds": round(r.train_seconds, 2),
        "history": r.history,
    }


def workers(quick: bool) -> int:
    """Runs at a time: one for a quick run, else one per usable core, at most two."""
    if quick:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, cores))


def map_runs(fn, jobs: list, n_workers: int, result_type=Any):
    """``fn`` over ``jobs``, in order, each result read back as ``result_type``; a generator.

    With more than one worker the jobs run in fresh interpreters, ``n_workers`` at a time
    (:func:`convbook.lab.fresh.map_fresh`: a new process, not a fork of one whose OpenMP pool has started, which
    can hang). Results cross the process boundary as JSON, so one worker round-trips them through JSON too: the
    caller gets the same types either way.
    """
    if n_workers == 1:
        results = (to_json(fn(job)) for job in jobs)
    else:
        results = map_fresh(fn, jobs, workers=n_workers)
    for result in results:
        yield from_json(result_type, result)


# ---- this experiment

PROTOCOLS = {"short": {"epochs": 5, "schedule": "constant"}, "converged": {"epochs": 30, "schedule": "cosine"}}
SEEDS = tuple(range(8))
#: small_cnn arguments of each model (None: logistic regression on the pixels).
MODELS = {
    "standard": {"separable": False},
    "separable": {"separable": True},
    "separable_no_mid": {"separable": True, "mid_activation": False},
    "standard_matched": {"separable": False, "channels": (16, 16, 8)},
    "linear": None,
}
#: The differences of mean test accuracy the chapter discusses (first minus second).
COMPARISONS = (
    ("standard", "separable"),
    ("separable", "standard_matched"),
    ("separable", "separable_no_mid"),
    ("separable", "linear"),
)


@dataclass(frozen=True)
class Protocol:
    epochs: int
    schedule: str


@dataclass(frozen=True)
class Settings:
    tasks: dict[str, Task]
    size: int
    n_train: int
    n_test: int
    data_seeds: list[int]
    models: dict[str, dict[str, Any] | str]  # small_cnn arguments, or what the model is
    protocols: dict[str, Protocol]  # 'short', 'converged'
    optimizer: str
    lr: float
    batch_size: int
    eval_every: int
    device: str
    threads_per_run: int
    parallel_runs: int
    seeds: list[int]


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters
    weights: int  # conv and linear weights
    macs: int  # multiply-adds on one 16x16 image


@dataclass(frozen=True)
class RunSummary:
    test: Summary
    train: Summary
    train_seconds: Summary


@dataclass(frozen=True)
class Results:
    runs: list[Run]
    costs: dict[str, Cost]  # model name ->
    majority: dict[str, Majority]  # task ->
    summary: dict[str, dict[str, RunSummary]]  # 'hard/converged' -> model name -> over seeds
    curves: dict[str, dict[str, AccuracyCurves]]  # task -> model name -> learning curves (converged protocol)
    differences: dict[str, dict[str, Difference]]  # 'hard/converged' -> 'standard-separable' -> test accuracy


def build(name: str):
    """A fresh model (built under the caller's seed)."""
    if MODELS[name] is None:
        return linear_model()
    return small_cnn(**MODELS[name])


def matched_channels(target: int | None = None) -> tuple:
    """The widths ``(16, c1, c2)`` of the standard small CNN whose parameter count is closest to ``target``.

    ``target`` defaults to the separable twin's count; ties go to the first in
    order of ``c1``, then ``c2`` (the search of exercise sep-ex-7).
    """
    target = count_params(small_cnn(True)) if target is None else target
    return min(
        ((16, c1, c2) for c1 in range(4, 33) for c2 in range(4, 65)),
        key=lambda ch: abs(count_params(small_cnn(False, channels=ch)) - target),
    )


def costs() -> dict[str, Cost]:
    """Trainable parameters, conv/linear weights and multiply-adds (one 16x16 image) of every model."""
    out = {}
    for name in MODELS:
        model = build(name)
        p = profile(model, (1, 1, SIZE, SIZE))
        out[name] = Cost(params=count_params(model), weights=p.total_params, macs=p.total_macs)
    return out


def train_one(task: str, name: str, seed: int, protocol: str, n_train: int = N_TRAIN, n_test: int = N_TEST) -> Run:
    """One run, as the reference makes it: CPU, one thread, deterministic. Returns accuracies and the curve."""
    p = PROTOCOLS[protocol]
    record = train_run(
        task, lambda: build(name), seed, epochs=p["epochs"], schedule=p["schedule"],
        eval_every=EVAL_EVERY if protocol == "converged" else 0, n_train=n_train, n_test=n_test,
    )  # fmt: skip
    return Run(task=task, model=name, seed=seed, protocol=protocol, **record)


def _job(args):
    return train_one(*args)


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    n_train, n_test = (96, 48) if quick else (N_TRAIN, N_TEST)
    tasks = ("hard",) if quick else tuple(TASKS)
    protocols = ("short",) if quick else tuple(PROTOCOLS)
    models = ("standard", "separable") if quick else tuple(MODELS)
    jobs = [(t, m, s, p, n_train, n_test) for p in protocols for t in tasks for m in models for s in seeds]
    jobs.sort(key=lambda j: -PROTOCOLS[j[3]]["epochs"])  # long runs first: the two workers finish together
    n_workers = workers(quick)
    runs = list(map_runs(_job, jobs, n_workers, Run))
    runs.sort(key=lambda r: (r.protocol, r.task, models.index(r.model), r.seed))
    results = {"runs": runs, "costs": costs(), "majority": {}, "summary": {}, "curves": {}, "differences": {}}
    for task in tasks:
        results["majority"][task] = majority_baseline(task, n_train, n_test)
        for protocol in protocols:
            key = f"{task}/{protocol}"
            by_model = {
                m: [r for r in runs if r.task == task and r.model == m and r.protocol == protocol] for m in models
            }
            results["summary"][key] = {
                m: RunSummary(
                    test=summary([r.test_accuracy for r in rs]),
                    train=summary([r.train_accuracy for r in rs]),
                    train_seconds=summary([r.train_seconds for r in rs]),
                )
                for m, rs in by_model.items()
            }
            if protocol == "converged":
                results["curves"][task] = {
                    m: AccuracyCurves(*(learning_curve(rs, k) for k in ("train_accuracy", "test_accuracy")))
                    for m, rs in by_model.items()
                }
            test = {m: [r.test_accuracy for r in rs] for m, rs in by_model.items()}
            results["differences"][key] = {f"{a}-{b}": welch(test[a], test[b]) for a, b in COMPARISONS if b in test}
    settings = {
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "size": SIZE,
        "n_train": n_train,
        "n_test": n_test,
        "data_seeds": list(DATA_SEEDS),
        "models": {m: (MODELS[m] if MODELS[m] is not None else "logistic regression on the pixels") for m in models},
        "protocols": {p: PROTOCOLS[p] for p in protocols},
        "optimizer": "Adam",
        "lr": LR,
        "batch_size": BATCH,
        "eval_every": EVAL_EVERY,
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
    }
    return {"settings": settings, "results": results}
