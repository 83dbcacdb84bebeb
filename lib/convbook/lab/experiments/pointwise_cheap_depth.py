"""Cheap depth with 1x1 layers (pointwise/04): does Network in Network's per-pixel MLP help a small CNN?

The book's small CNN (``convbook.nets.small_cnn.SmallCNN``, the network of
``convbook.nets.small_cnn.small_cnn(False)``) is trained on the shapes task of the
separable chapter (``make_shapes``, 16x16, 1500 training and 1000 test images, noise 0.2 "easy" and 0.5
"hard"), with and without two 1x1 units after each 3x3 unit, and against controls:

* ``plain``: the small CNN, conv-BN-ReLU units (widths 16, 32, 64);
* ``nin``: the same with two 1x1 conv-BN-ReLU units after each 3x3 unit
  (Network in Network's "mlpconv");
* ``nin_linear``: the same 1x1 units without their ReLUs (affine at inference:
  the extra depth without the nonlinearity);
* ``wide``: the plain network widened to the ``nin`` variant's parameter count
  (the matched-parameter control);
* ``plain_nobn`` and ``nin_nobn``: the two without batch norm (conv with bias, ReLU);
* ``linear``: logistic regression on the 256 pixels (a trivial learned
  baseline); and ``majority``: always the most frequent training class.

The protocol:

* **Data per seed.** Run seed ``s`` draws its own training set (``make_shapes`` seed ``100 + s``) and test set
  (seed ``200 + s``); the easy and hard tasks of one seed share the shapes and differ in the noise's scale. Every
  model of one seed sees the same data, so the spread over seeds holds both the data and the initialisation.
* **Learning rate per model**, from the grid ``LR_GRID``, chosen on the hard task by the mean accuracy on a
  validation set (its own draw, seed ``300 + s``) over the selection seeds ``SELECTION_SEEDS``, which are not
  among the reported seeds; the test sets play no part in the choice. The chosen rate serves both tasks.
* **Training.** Adam, batches of 64, the learning rate cosine-annealed to zero over ``EPOCHS[model]`` epochs
  (30 with batch norm and for the linear model, 90 without batch norm, which trains more slowly); training and test
  accuracy every ``EVAL_EVERY`` epochs, the training loss (mean over the epoch's batches) every epoch.
* **Convergence** is judged on the training loss, not on the end of the schedule (which flattens every curve): a
  run has converged when its final training loss (the mean cross-entropy over the whole training set in eval mode,
  ``separable_accuracy.mean_loss``) is below ``CONVERGED_LOSS``: it fits its training set (chance is
  ln 4 = 1.39 nats), and a loss bounded below by zero has no room left to fall. The linear model cannot fit the
  training set and is a floor, not a converged comparison.

On the CPU with one thread per run, two runs at a time: deterministic, so a rerun on the same torch build gives the
same numbers. This module is long because it declares its result's layout (the runs, the learning-rate grid and the
summaries) beside a protocol in two phases (the grid, then the reported runs) and its resumable run cache.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from convbook.lab.datasets import make_shapes
from convbook.lab.experiments.separable_accuracy import (
    BATCH,
    N_TEST,
    N_TRAIN,
    SIZE,
    TASKS,
    Task,
    linear_model,
    map_runs,
    mean_loss,
    workers,
)
from convbook.lab.stats import learning_curve, summary, welch
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import Difference, LearningCurves, Summary, TrainTest
from convbook.nets.profiler import profile
from convbook.nets.small_cnn import SmallCNN
from convbook.nets.training import count_params, deterministic, train_classifier

DESCRIPTION = (
    "Cheap depth with 1x1 layers (pointwise/04): the small CNN with and without NiN's 1x1 units, same batch norm, "
    "a linear-1x1 control, a matched-parameter wider twin, no-BN versions and trivial baselines; data drawn per "
    "seed, learning rate per model from a grid (validation set), convergence on the training loss; 5 seeds, 2 tasks"
)
RESULT_VERSION = 2

SEEDS = (0, 1, 2, 3, 4)
SELECTION_SEEDS = (10, 11)  # the learning-rate choice: seeds of their own, never reported
SELECTION_TASK = "hard"
LR_GRID = (1e-3, 3e-3, 1e-2)
#: make_shapes seed of run seed s: TRAIN_SEED + s, TEST_SEED + s, VALIDATION_SEED + s
TRAIN_SEED, TEST_SEED, VALIDATION_SEED = 100, 200, 300
N_VALIDATION = 1000
EVAL_EVERY = 3
CONVERGED_LOSS = 0.05  # a run has converged when its final training loss (nats) is below this
#: SmallCNN keyword arguments of each model; ``wide`` matches ``nin``'s parameter count (34,811 against 34,868).
MODELS = {
    "plain": {},
    "nin": {"pointwise_layers": 2},
    "nin_linear": {"pointwise_layers": 2, "pointwise_relu": False},
    "wide": {"widths": (20, 39, 77)},
    "plain_nobn": {"norm": None},
    "nin_nobn": {"pointwise_layers": 2, "norm": None},
    "linear": None,  # logistic regression on the pixels
}
#: epochs of each model's cosine schedule
EPOCHS = {m: 90 if m.endswith("_nobn") else 30 for m in MODELS}
#: the differences of mean test accuracy the chapter discusses (first minus second)
COMPARISONS = (
    ("nin", "plain"),
    ("nin", "wide"),
    ("nin", "nin_linear"),
    ("nin_linear", "plain"),
    ("wide", "plain"),
    ("nin_nobn", "plain_nobn"),
    ("nin_nobn", "nin"),
    ("plain_nobn", "plain"),
    ("plain", "linear"),
)


@dataclass(frozen=True)
class Settings:
    tasks: dict[str, Task]
    size: int
    n_train: int
    n_test: int
    n_validation: int
    data_seeds: dict[str, int]  # 'train', 'test', 'validation' -> make_shapes seed of run seed 0 (add the seed)
    models: dict[str, dict[str, Any] | str]  # SmallCNN arguments, or what the model is
    epochs: dict[str, int]  # model ->
    optimizer: str
    lr_grid: list[float]
    selection_task: str
    selection_seeds: list[int]
    selection_rule: str
    batch_size: int
    schedule: str
    eval_every: int
    converged_loss: float
    device: str
    threads_per_run: int
    parallel_runs: int
    seeds: list[int]


@dataclass(frozen=True)
class Cost:
    params: int  # trainable parameters
    macs: int  # multiply-adds on one 16x16 image


@dataclass(frozen=True)
class Run:
    task: str
    model: str
    seed: int
    lr: float
    epochs: int
    train_loss: float  # final training loss: mean cross-entropy over the training set, eval mode
    train_accuracy: float
    test_accuracy: float
    train_seconds: float
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss (and the accuracies where evaluated)


@dataclass(frozen=True)
class GridRun:
    """One run of the learning-rate choice: validation accuracy in place of test accuracy."""

    model: str
    seed: int
    lr: float
    train_loss: float
    train_accuracy: float
    validation_accuracy: float


@dataclass(frozen=True)
class Selection:
    validation_accuracy: dict[str, dict[str, float]]  # model -> learning rate (str) -> mean over selection seeds
    train_loss: dict[str, dict[str, float]]  # model -> learning rate (str) -> mean final training loss
    chosen: dict[str, float]  # model -> learning rate


@dataclass(frozen=True)
class RunSummary:
    test: Summary
    train: Summary
    train_loss: Summary  # final training loss
    converged: int  # seeds whose final training loss is below CONVERGED_LOSS


@dataclass(frozen=True)
class Results:
    selection: Selection
    grid: list[GridRun]
    runs: list[Run]
    costs: dict[str, Cost]  # model name ->
    summary: dict[str, dict[str, RunSummary]]  # task -> model name -> over seeds
    curves: dict[str, dict[str, LearningCurves]]  # task -> model name -> learning curves
    majority: dict[str, TrainTest]  # task ->
    differences: dict[str, dict[str, Difference]]  # task -> 'nin-plain' -> test accuracy, first minus second


def data(task: str, seed: int, n_train: int = N_TRAIN, n_eval: int = N_TEST, held_out: str = "test"):
    """Run seed ``seed``'s ``(train, held_out)`` sets of ``task``: its own draws of ``make_shapes``.

    ``held_out`` is ``'test'`` (seed ``TEST_SEED + seed``) or ``'validation'`` (``VALIDATION_SEED + seed``); the
    training set is ``TRAIN_SEED + seed``.
    """
    if task not in TASKS:
        raise ValueError(f"data: task must be one of {', '.join(TASKS)}, got {task!r}")
    if held_out not in ("test", "validation"):
        raise ValueError(f"data: held_out must be 'test' or 'validation', got {held_out!r}")
    noise = TASKS[task]
    other = (TEST_SEED if held_out == "test" else VALIDATION_SEED) + seed
    return (
        make_shapes(n_train, size=SIZE, seed=TRAIN_SEED + seed, noise=noise),
        make_shapes(n_eval, size=SIZE, seed=other, noise=noise),
    )


def build(name: str):
    """A fresh model (built under the caller's seed)."""
    if MODELS[name] is None:
        return linear_model()
    return SmallCNN(**MODELS[name])


def costs() -> dict[str, Cost]:
    """Trainable parameters and multiply-adds (one 16x16 image) of every model."""
    out = {}
    for name in MODELS:
        model = build(name)
        out[name] = Cost(params=count_params(model), macs=profile(model, (1, 1, SIZE, SIZE)).total_macs)
    return out


def train_one(task, name, seed, lr, epochs, n_train=N_TRAIN, n_eval=N_TEST, held_out="test") -> dict:
    """One run, as the reference makes it: CPU, one thread, deterministic; its record (a dict)."""
    train, other = data(task, seed, n_train, n_eval, held_out)
    with fixed_threads(1):
        with deterministic(seed):
            model = build(name)
        r = train_classifier(
            model, train, other, epochs=epochs, batch_size=BATCH, lr=lr, seed=seed, device=torch.device("cpu"),
            schedule="cosine", eval_every=EVAL_EVERY,
        )  # fmt: skip
    return {
        "task": task,
        "model": name,
        "seed": seed,
        "lr": lr,
        "epochs": epochs,
        "train_loss": mean_loss(model, *train),
        "train_accuracy": r.train_accuracy,
        "test_accuracy": r.test_accuracy,  # the validation accuracy when held_out == 'validation'
        "train_seconds": round(r.train_seconds, 2),
        "history": r.history,
    }


def _job(job):
    """A worker process's run: ``job`` is the argument list of :func:`train_one`."""
    return train_one(*job)


def _cache_file(phase: str, jobs: list) -> Path:
    """Where finished runs are kept while the experiment runs, so that an interrupted run resumes.

    The name hashes the jobs, the torch version and the source of every convbook module the runs use: a
    change of any of them starts afresh. The runs are deterministic, so a resumed experiment gives the same
    result as an uninterrupted one.
    """
    package = Path(__file__).resolve().parents[2]  # convbook/
    nets = ("layers.py", "models.py", "small_cnn.py", "training.py", "torch_bridge.py")
    sources = [package / "nets" / f for f in nets]
    sources += [package / "lab" / "datasets.py", Path(__file__).with_name("separable_accuracy.py")]
    code = hashlib.sha256(b"".join(f.read_bytes() for f in [Path(__file__), *sources])).hexdigest()
    key = hashlib.sha256(json.dumps([jobs, torch.__version__, code]).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"convbook-pointwise_cheap_depth-{phase}-{key}.jsonl"


def _run_all(phase: str, jobs: list, n_workers: int) -> list[dict]:
    """Every job's record, in the order of ``jobs``; finished runs are cached (see :func:`_cache_file`)."""
    if n_workers == 1:
        return [_job(j) for j in jobs]
    key = lambda j: (j[0], j[1], j[2], j[3])  # noqa: E731 (task, model, seed, lr)
    cache, done = _cache_file(phase, jobs), {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            done[(r["task"], r["model"], r["seed"], r["lr"])] = r
    todo = sorted((j for j in jobs if key(j) not in done), key=lambda j: -EPOCHS[j[1]])  # long runs first
    print(f"pointwise_cheap_depth {phase}: {len(jobs)} runs, {len(done)} already in {cache}", file=sys.stderr)
    for r in map_runs(_job, todo, n_workers):
        done[(r["task"], r["model"], r["seed"], r["lr"])] = r
        with cache.open("a", encoding="utf-8") as f:
            f.write(json.dumps(r) + "\n")
        what = f"{r['task']} {r['model']} seed {r['seed']} lr {r['lr']:g}"
        got = f"loss {r['train_loss']:.3f}, held-out {r['test_accuracy']:.3f}"
        print(f"  {phase} {len(done)}/{len(jobs)}: {what}: {got}", file=sys.stderr, flush=True)
    return [done[key(j)] for j in jobs]


def select(grid: list[dict], models, lrs) -> dict:
    """The learning rate of each model: the highest mean validation accuracy over the selection seeds
    (ties: the lower mean final training loss)."""
    acc, loss, chosen = {}, {}, {}
    for m in models:
        rows = {lr: [r for r in grid if r["model"] == m and r["lr"] == lr] for lr in lrs}
        acc[m] = {str(lr): float(np.mean([r["test_accuracy"] for r in rs])) for lr, rs in rows.items()}
        loss[m] = {str(lr): float(np.mean([r["train_loss"] for r in rs])) for lr, rs in rows.items()}
        chosen[m] = max(lrs, key=lambda lr: (acc[m][str(lr)], -loss[m][str(lr)]))
    return {"validation_accuracy": acc, "train_loss": loss, "chosen": chosen}


def majority(task: str, seeds, n_train: int, n_test: int) -> TrainTest:
    """Always the most frequent training class of each seed's draw: training and test accuracy over the seeds."""
    train, test = [], []
    for s in seeds:
        (_, ytr), (_, yte) = data(task, s, n_train, n_test)
        label = int(np.bincount(ytr).argmax())
        train.append(float(np.mean(ytr == label)))
        test.append(float(np.mean(yte == label)))
    return TrainTest(train=summary(train), test=summary(test))


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    epochs = dict.fromkeys(MODELS, 1) if quick else EPOCHS
    n_train, n_test = (96, 64) if quick else (N_TRAIN, N_TEST)
    n_valid = 64 if quick else N_VALIDATION
    tasks = ("hard",) if quick else tuple(TASKS)
    model_costs = costs()  # first: it imports every module the experiment needs
    n_workers = workers(quick)

    grid_jobs = [
        (SELECTION_TASK, m, s, lr, epochs[m], n_train, n_valid, "validation")
        for m in MODELS
        for lr in LR_GRID
        for s in SELECTION_SEEDS
    ]
    grid = _run_all("grid", grid_jobs, n_workers)
    selection = select(grid, MODELS, LR_GRID)
    lr = selection["chosen"]

    jobs = [(t, m, s, lr[m], epochs[m], n_train, n_test, "test") for t in tasks for m in MODELS for s in seeds]
    runs = _run_all("runs", jobs, n_workers)
    results = {
        "selection": selection,
        "grid": [
            {
                "model": r["model"],
                "seed": r["seed"],
                "lr": r["lr"],
                "train_loss": r["train_loss"],
                "train_accuracy": r["train_accuracy"],
                "validation_accuracy": r["test_accuracy"],
            }
            for r in grid
        ],
        "runs": runs,
        "costs": model_costs,
        "summary": {},
        "curves": {},
        "majority": {},
        "differences": {},
    }
    for task in tasks:
        results["majority"][task] = majority(task, seeds, n_train, n_test)
        by_model = {m: [r for r in runs if r["task"] == task and r["model"] == m] for m in MODELS}
        results["summary"][task] = {
            m: RunSummary(
                test=summary([r["test_accuracy"] for r in rs]),
                train=summary([r["train_accuracy"] for r in rs]),
                train_loss=summary([r["train_loss"] for r in rs]),
                converged=sum(r["train_loss"] < CONVERGED_LOSS for r in rs),
            )
            for m, rs in by_model.items()
        }
        results["curves"][task] = {
            m: LearningCurves(**{k: learning_curve(rs, k) for k in ("train_loss", "train_accuracy", "test_accuracy")})
            for m, rs in by_model.items()
        }
        test = {m: [r["test_accuracy"] for r in rs] for m, rs in by_model.items()}
        results["differences"][task] = {f"{a}-{b}": welch(test[a], test[b]) for a, b in COMPARISONS}
    settings = {
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "size": SIZE,
        "n_train": n_train,
        "n_test": n_test,
        "n_validation": n_valid,
        "data_seeds": {"train": TRAIN_SEED, "test": TEST_SEED, "validation": VALIDATION_SEED},
        "models": {m: (kw if kw is not None else "logistic regression on the pixels") for m, kw in MODELS.items()},
        "epochs": epochs,
        "optimizer": "Adam",
        "lr_grid": list(LR_GRID),
        "selection_task": SELECTION_TASK,
        "selection_seeds": list(SELECTION_SEEDS),
        "selection_rule": "highest mean validation accuracy over the selection seeds (ties: lower training loss)",
        "batch_size": BATCH,
        "schedule": "cosine",
        "eval_every": EVAL_EVERY,
        "converged_loss": CONVERGED_LOSS,
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
    }
    return {"settings": settings, "results": results}
