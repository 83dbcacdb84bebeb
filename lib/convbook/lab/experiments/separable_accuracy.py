"""Separable against standard accuracy (separable/04): what does the depthwise-separable twin give up?

The book's small CNN (``convbook.nets.small_cnn.small_cnn``: a 3x3 stem, two stride-2
blocks, conv-BN-ReLU units, global average pooling, a linear layer) is trained
on the shapes task (``convbook.lab.datasets.make_shapes``, 16x16, 1500 training
and 1000 test images, noise 0.2 "easy" and 0.5 "hard"), in five versions and
against two trivial baselines:

* ``standard``: ``small_cnn(False)``, widths 16, 32, 64 (23,668 parameters);
* ``separable``: ``small_cnn(True)``, the same with each block a depthwise 3x3
  then a pointwise 1x1 conv-BN-ReLU (MobileNet's block; 3,716 parameters);
* ``separable_no_relu``: the separable twin without the ReLU between its two
  steps, batch norm kept (the variable of Xception's Figure 10; 3,716 parameters);
* ``separable_no_mid``: the separable twin with nothing between its two steps,
  neither batch norm nor ReLU (``mid_activation=False``; 3,620 parameters);
* ``standard_matched``: a standard network narrowed to the separable twin's
  parameter count, widths 16, 16, 8 (3,716 parameters): the matched-parameter
  control, designed in exercise sep-ex-7;
* ``linear``: logistic regression on the 256 pixels (a learned trivial
  baseline); and ``majority``: always the most frequent training class.

The protocol. Each seed draws its own training and test set (:func:`data` with ``seed``) and sets the initial
weights and the batch order. Adam at a **constant** learning rate, batches of 64, ``EPOCHS`` epochs, the training
loss recorded every epoch and the accuracies every ``EVAL_EVERY``; at the end, the training loss over the whole
training set in eval mode (the final training loss). The learning rate of each model and task is chosen from
``LR_GRID`` on the training loss alone: every rate is run from the ``SELECTION_SEEDS`` (their own data draws, not
the reported seeds) and the rate with the lowest mean training loss over the last ``PLATEAU_WINDOW`` epochs wins;
the reported runs (``SEEDS``) then train at that rate. A run has **plateaued** when its mean training loss over the
last ``PLATEAU_WINDOW`` epochs is less than ``PLATEAU_DROP`` nats below the mean over the ``PLATEAU_WINDOW`` epochs
before (:func:`plateaued`). "short" is the state of the same runs after ``SHORT_EPOCHS`` epochs (at a constant rate
the first epochs of a long run are a short run).

Runs are on the CPU with one thread each, two at a time, under
``convbook.nets.training.deterministic``: a rerun on the same torch build gives the
same numbers (the notebook's live cell reruns two of them).

The task and its protocol are shared with ``separable_trained_fit`` (separable/03) and ``pointwise_cheap_depth``
(pointwise/04), which import them from here: :data:`TASKS`, :func:`data` (``seed=None``: the one shared draw of
``DATA_SEEDS``; an int: that seed's own draw), :func:`majority_baseline`, :func:`train_run` (one run by the shared
protocol), :func:`plateaued`, :func:`workers` and :func:`map_runs` (runs two at a time, in separate processes).
This module is long because it holds that shared protocol as well as this experiment: the other two import it from
here, so splitting it would move their imports too.
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
from convbook.lab.typed import Difference, LearningCurves, Summary, TrainTest, from_json, to_json
from convbook.nets.profiler import profile
from convbook.nets.small_cnn import small_cnn
from convbook.nets.training import count_params, deterministic, evaluating, train_classifier

DESCRIPTION = (
    "separable/04: small standard CNN vs its depthwise-separable twin, twins without the ReLU (BN kept) and without "
    "anything between the steps, a matched-parameter standard control and trivial baselines; easy and hard shapes, "
    "6 seeds with their own data, learning rate per model from a grid on the training loss, constant rate, 40 epochs"
)
RESULT_VERSION = 2

# ---- the shapes task and its training protocol (shared with separable_trained_fit and pointwise_cheap_depth)

TASKS = {"easy": 0.2, "hard": 0.5}  # noise standard deviation of make_shapes
SIZE, N_TRAIN, N_TEST, DATA_SEEDS = 16, 1500, 1000, (1, 2)
#: ``data(task, seed=s)`` draws the training set from make_shapes seed DATA_SEED_BASE + 2 s, the test set from +1.
DATA_SEED_BASE = 1000
LR, BATCH = 3e-3, 64
NUM_CLASSES = 4
#: The protocol of this experiment: constant learning rate from the grid, EPOCHS epochs, the plateau criterion.
LR_GRID = (1e-3, 3e-3, 1e-2)
EPOCHS, SHORT_EPOCHS, EVAL_EVERY = 40, 5, 5
PLATEAU_WINDOW, PLATEAU_DROP = 5, 0.02  # epochs, nats


@dataclass(frozen=True)
class Task:
    noise: float


@dataclass(frozen=True)
class Majority:
    """The most frequent training class, and the accuracy of always predicting it."""

    label: int
    train_accuracy: float
    test_accuracy: float


def data_seeds(seed: int | None = None) -> tuple[int, int]:
    """The ``make_shapes`` seeds of the training and the test set: ``DATA_SEEDS``, or the draw of run seed ``seed``."""
    return DATA_SEEDS if seed is None else (DATA_SEED_BASE + 2 * seed, DATA_SEED_BASE + 2 * seed + 1)


def data(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int | None = None):
    """The task's ``(train, test)`` sets: ``make_shapes`` with :func:`data_seeds` (``seed=None``: seeds 1 and 2)."""
    if task not in TASKS:
        raise ValueError(f"data: task must be one of {', '.join(TASKS)}, got {task!r}")
    noise = TASKS[task]
    s_train, s_test = data_seeds(seed)
    train = make_shapes(n_train, size=SIZE, seed=s_train, noise=noise)
    test = make_shapes(n_test, size=SIZE, seed=s_test, noise=noise)
    return train, test


def linear_model():
    """Logistic regression on the pixels: the trivial learned baseline."""
    return nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, NUM_CLASSES))


def majority_baseline(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int | None = None) -> Majority:
    """Always predict the most frequent training class: its training and test accuracy (on :func:`data`'s draw)."""
    (_, ytr), (_, yte) = data(task, n_train, n_test, seed)
    label = int(np.bincount(ytr).argmax())
    return Majority(
        label=label, train_accuracy=float(np.mean(ytr == label)), test_accuracy=float(np.mean(yte == label))
    )


@torch.no_grad()
def mean_loss(model: nn.Module, x, y, batch_size: int = 512) -> float:
    """Mean cross-entropy of ``model`` on ``(x, y)`` in eval mode (the final training loss of a run)."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    total = 0.0
    with evaluating(model):
        for i in range(0, len(x), batch_size):
            total += nn.functional.cross_entropy(model(x[i : i + batch_size]), y[i : i + batch_size], reduction="sum")
    return float(total) / len(x)


def train_run(
    task: str, build, seed: int, *, epochs: int, schedule: str, eval_every: int, n_train=N_TRAIN, n_test=N_TEST,
    lr: float = LR, data_seed: int | None = None, final_loss: bool = False,
) -> dict:  # fmt: skip
    """Train ``build()`` (made under ``seed``) on ``task`` by the shared protocol; return the run's record.

    ``data_seed`` picks the draw (:func:`data`'s ``seed``; None: the shared draw). Returns ``train_accuracy``,
    ``test_accuracy``, ``train_seconds`` and ``history`` (per epoch), and with ``final_loss`` also ``train_loss``,
    the mean cross-entropy over the whole training set in eval mode after training.
    """
    train, test = data(task, n_train, n_test, data_seed)
    with fixed_threads(1):
        with deterministic(seed):
            model = build()
        r = train_classifier(
            model, train, test, epochs=epochs, batch_size=BATCH, lr=lr, seed=seed, device=torch.device("cpu"),
            schedule=schedule, eval_every=eval_every,
        )  # fmt: skip
        record = {
            "train_accuracy": r.train_accuracy,
            "test_accuracy": r.test_accuracy,
            "train_seconds": round(r.train_seconds, 2),
            "history": r.history,
        }
        if final_loss:
            record["train_loss"] = mean_loss(model, *train)
    return record


def tail_loss(history: list[dict], window: int = PLATEAU_WINDOW) -> float:
    """Mean per-epoch training loss over the last ``window`` epochs of ``history``."""
    return float(np.mean([h["train_loss"] for h in history[-window:]]))


def plateaued(history: list[dict], window: int = PLATEAU_WINDOW, drop: float = PLATEAU_DROP) -> bool:
    """Whether the training loss has levelled off: over the last ``window`` epochs its mean is less than ``drop``
    below its mean over the ``window`` epochs before (False when there are fewer than ``2 window`` epochs)."""
    if len(history) < 2 * window:
        return False
    return tail_loss(history[:-window], window) - tail_loss(history, window) < drop


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

#: "converged": the whole run; "short": the same runs after SHORT_EPOCHS epochs.
PROTOCOLS = {
    "short": {"epochs": SHORT_EPOCHS, "schedule": "constant"},
    "converged": {"epochs": EPOCHS, "schedule": "constant"},
}
SEEDS = tuple(range(6))
SELECTION_SEEDS = (100, 101)
#: small_cnn arguments of each model (None: logistic regression on the pixels); ``mid_relu=False`` removes the
#: ReLU after each depthwise step's batch norm (:func:`build`).
MODELS = {
    "standard": {"separable": False},
    "separable": {"separable": True},
    "separable_no_relu": {"separable": True, "mid_relu": False},
    "separable_no_mid": {"separable": True, "mid_activation": False},
    "standard_matched": {"separable": False, "channels": (16, 16, 8)},
    "linear": None,
}
#: The differences of mean test accuracy (and final training loss) the chapter discusses (first minus second).
COMPARISONS = (
    ("standard", "separable"),
    ("separable", "standard_matched"),
    ("standard", "standard_matched"),
    ("separable", "separable_no_relu"),
    ("separable", "separable_no_mid"),
    ("separable", "linear"),
)


@dataclass(frozen=True)
class Protocol:
    epochs: int
    schedule: str


@dataclass(frozen=True)
class Plateau:
    window: int  # epochs
    drop: float  # nats


@dataclass(frozen=True)
class Settings:
    tasks: dict[str, Task]
    size: int
    n_train: int
    n_test: int
    data_seeds: str  # how each seed's training and test set is drawn
    models: dict[str, dict[str, Any] | str]  # small_cnn arguments, or what the model is
    protocols: dict[str, Protocol]  # 'short', 'converged'
    optimizer: str
    lr_grid: list[float]
    lr_choice: str  # how the rate is chosen
    plateau: Plateau
    batch_size: int
    eval_every: int
    device: str
    threads_per_run: int
    parallel_runs: int
    seeds: list[int]
    selection_seeds: list[int]


@dataclass(frozen=True)
class Run:
    task: str
    model: str
    seed: int
    lr: float
    train_accuracy: float
    test_accuracy: float
    train_loss: float  # final: whole training set, eval mode
    plateaued: bool
    train_seconds: float
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss (and the accuracies where evaluated)


@dataclass(frozen=True)
class LearningRate:
    chosen: float
    tail_loss: list[float]  # per rate of the grid: mean over the selection seeds of the last epochs' training loss
    plateaued: list[int]  # per rate: selection runs that plateaued


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters
    weights: int  # conv and linear weights
    macs: int  # multiply-adds on one 16x16 image


@dataclass(frozen=True)
class RunSummary:
    test: Summary
    train: Summary
    train_loss: Summary  # 'converged': final, eval mode; 'short': the mean over the last short epoch
    train_seconds: Summary


@dataclass(frozen=True)
class Results:
    runs: list[Run]  # the reported runs, at the chosen rate
    selection: list[Run]  # the learning-rate grid, from the selection seeds
    learning_rates: dict[str, dict[str, LearningRate]]  # task -> model ->
    costs: dict[str, Cost]  # model name ->
    majority: dict[str, TrainTest]  # task -> over the seeds' draws
    summary: dict[str, dict[str, RunSummary]]  # 'hard/converged' -> model name -> over seeds
    plateaued: dict[str, dict[str, int]]  # task -> model -> reported runs that plateaued
    curves: dict[str, dict[str, LearningCurves]]  # task -> model name -> learning curves
    differences: dict[str, dict[str, Difference]]  # 'hard/converged' -> 'standard-separable' -> test accuracy
    loss_differences: dict[str, dict[str, Difference]]  # task -> 'standard-separable' -> final training loss


def build(name: str):
    """A fresh model (built under the caller's seed)."""
    if MODELS[name] is None:
        return linear_model()
    kwargs = dict(MODELS[name])
    mid_relu = kwargs.pop("mid_relu", True)
    model = small_cnn(**kwargs)
    if not mid_relu:  # each block: Sequential(depthwise [conv, bn, relu], pointwise unit); drop the relu only
        for block in model[0][1:]:
            block[0][2] = nn.Identity()
    return model


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


def train_one(
    task: str, name: str, seed: int, lr: float, epochs: int = EPOCHS, n_train: int = N_TRAIN, n_test: int = N_TEST
) -> Run:
    """One run, as the reference makes it: seed ``seed``'s own data, CPU, one thread, deterministic."""
    record = train_run(
        task, lambda: build(name), seed, epochs=epochs, schedule="constant", eval_every=EVAL_EVERY,
        n_train=n_train, n_test=n_test, lr=lr, data_seed=seed, final_loss=True,
    )  # fmt: skip
    return Run(task=task, model=name, seed=seed, lr=lr, plateaued=plateaued(record["history"]), **record)


def _job(args):
    return train_one(*args)


def _run_all(jobs: list, n_workers: int) -> list[Run]:
    jobs = sorted(jobs, key=lambda j: MODELS[j[1]] is None)  # networks first, the quick baselines last
    return list(map_runs(_job, jobs, n_workers, Run))


def _at_epoch(run: Run, epoch: int) -> dict:
    return next(h for h in run.history if h["epoch"] == epoch)


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    selection_seeds = SELECTION_SEEDS[:1] if quick else SELECTION_SEEDS
    n_train, n_test = (96, 48) if quick else (N_TRAIN, N_TEST)
    epochs = 6 if quick else EPOCHS
    tasks = ("hard",) if quick else tuple(TASKS)
    models = ("standard", "separable") if quick else tuple(MODELS)
    grid = LR_GRID[1:] if quick else LR_GRID
    n_workers = workers(quick)
    # 1. the learning-rate grid, from the selection seeds; the rate with the lowest training loss wins
    selection = _run_all(
        [(t, m, s, lr, epochs, n_train, n_test) for t in tasks for m in models for lr in grid for s in selection_seeds],
        n_workers,
    )
    learning_rates = {}
    for task in tasks:
        learning_rates[task] = {}
        for m in models:
            rs = [[r for r in selection if (r.task, r.model, r.lr) == (task, m, lr)] for lr in grid]
            tails = [float(np.mean([tail_loss(r.history) for r in group])) for group in rs]
            learning_rates[task][m] = LearningRate(
                chosen=grid[int(np.argmin(tails))], tail_loss=tails, plateaued=[sum(r.plateaued for r in g) for g in rs]
            )
    # 2. the reported runs, at the chosen rate, from every seed (each with its own data)
    jobs = [
        (t, m, s, learning_rates[t][m].chosen, epochs, n_train, n_test) for t in tasks for m in models for s in seeds
    ]
    runs = _run_all(jobs, n_workers)
    runs.sort(key=lambda r: (r.task, models.index(r.model), r.seed))
    results = {
        "runs": runs, "selection": selection, "learning_rates": learning_rates, "costs": costs(), "majority": {},
        "summary": {}, "plateaued": {}, "curves": {}, "differences": {}, "loss_differences": {},
    }  # fmt: skip
    for task in tasks:
        maj = [majority_baseline(task, n_train, n_test, s) for s in seeds]
        results["majority"][task] = TrainTest(
            train=summary([b.train_accuracy for b in maj]), test=summary([b.test_accuracy for b in maj])
        )
        by_model = {m: [r for r in runs if r.task == task and r.model == m] for m in models}
        results["plateaued"][task] = {m: sum(r.plateaued for r in rs) for m, rs in by_model.items()}
        results["curves"][task] = {
            m: LearningCurves(**{k: learning_curve(rs, k) for k in ("train_loss", "train_accuracy", "test_accuracy")})
            for m, rs in by_model.items()
        }
        loss = {m: [r.train_loss for r in rs] for m, rs in by_model.items()}
        results["loss_differences"][task] = {f"{a}-{b}": welch(loss[a], loss[b]) for a, b in COMPARISONS if b in loss}
        for protocol in PROTOCOLS:
            key = f"{task}/{protocol}"
            if protocol == "converged":
                rows = {
                    m: [(r.test_accuracy, r.train_accuracy, r.train_loss) for r in rs] for m, rs in by_model.items()
                }
            else:
                rows = {
                    m: [
                        (h["test_accuracy"], h["train_accuracy"], h["train_loss"])
                        for h in (_at_epoch(r, SHORT_EPOCHS) for r in rs)
                    ]
                    for m, rs in by_model.items()
                }
            results["summary"][key] = {
                m: RunSummary(
                    test=summary([row[0] for row in rows[m]]),
                    train=summary([row[1] for row in rows[m]]),
                    train_loss=summary([row[2] for row in rows[m]]),
                    train_seconds=summary([r.train_seconds for r in by_model[m]]),
                )
                for m in models
            }
            test = {m: [row[0] for row in rows[m]] for m in models}
            results["differences"][key] = {f"{a}-{b}": welch(test[a], test[b]) for a, b in COMPARISONS if b in test}
    settings = {
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "size": SIZE,
        "n_train": n_train,
        "n_test": n_test,
        "data_seeds": f"seed s: make_shapes seeds {DATA_SEED_BASE} + 2 s (training), {DATA_SEED_BASE} + 2 s + 1 (test)",
        "models": {m: (MODELS[m] if MODELS[m] is not None else "logistic regression on the pixels") for m in models},
        "protocols": {
            "short": {"epochs": SHORT_EPOCHS, "schedule": "constant"},
            "converged": {"epochs": epochs, "schedule": "constant"},
        },
        "optimizer": "Adam",
        "lr_grid": list(grid),
        "lr_choice": (
            f"per task and model, the grid rate with the lowest mean training loss over the last {PLATEAU_WINDOW} "
            "epochs, averaged over the selection seeds (each with its own data draw)"
        ),
        "plateau": {"window": PLATEAU_WINDOW, "drop": PLATEAU_DROP},
        "batch_size": BATCH,
        "eval_every": EVAL_EVERY,
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
        "selection_seeds": list(selection_seeds),
    }
    return {"settings": settings, "results": results}
