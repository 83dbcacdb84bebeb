"""Cheap depth with 1x1 layers (pointwise/04): does Network in Network's per-pixel MLP help a small CNN?

The book's small CNN (``convbook.nets.small_cnn.SmallCNN``, the network of
``convbook.nets.small_cnn.small_cnn(False)``) is trained on the shapes task of the
separable chapter (``separable_accuracy.data``: ``make_shapes``, 16x16, 1500 training and 1000 test images,
noise 0.2 "easy" and 0.5 "hard"), with and without two 1x1 units after each 3x3
unit, and against controls:

* ``plain``: the small CNN, conv-BN-ReLU units (widths 16, 32, 64);
* ``nin``: the same with two 1x1 conv-BN-ReLU units after each 3x3 unit
  (Network in Network's "mlpconv");
* ``nin_linear``: the same 1x1 units without their ReLUs (affine at inference:
  the extra depth without the nonlinearity);
* ``wide``: the plain network widened to the ``nin`` variant's parameter count
  (the matched-parameter control);
* ``plain_nobn`` and ``nin_nobn``: the two without batch norm (conv with bias,
  ReLU), the setting of the book's first version of this experiment;
* ``linear``: logistic regression on the 256 pixels (a trivial learned
  baseline); and ``majority``: always the most frequent training class.

Every model trains with the same protocol (Adam, learning rate 3e-3, batches of
64, cosine schedule over ``EPOCHS`` epochs, training and test accuracy every
``EVAL_EVERY`` epochs), from each seed in ``SEEDS`` (the seed sets the initial
weights and the batch order), on the CPU with one thread per run, two runs at a
time: deterministic, so a rerun on the same torch build gives the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from convbook.lab.experiments.separable_accuracy import (
    BATCH,
    DATA_SEEDS,
    LR,
    N_TEST,
    N_TRAIN,
    SIZE,
    TASKS,
    Majority,
    Task,
    linear_model,
    majority_baseline,
    map_runs,
    train_run,
    workers,
)
from convbook.lab.stats import learning_curve, summary, welch
from convbook.lab.typed import AccuracyCurves, Difference, Summary
from convbook.nets.profiler import profile
from convbook.nets.small_cnn import SmallCNN
from convbook.nets.training import count_params

DESCRIPTION = (
    "Cheap depth with 1x1 layers (pointwise/04): the small CNN with and without NiN's 1x1 units, same batch norm, "
    "a linear-1x1 control, a matched-parameter wider twin, no-BN versions and trivial baselines; 5 seeds, 2 tasks"
)
RESULT_VERSION = 1

EPOCHS, EVAL_EVERY = 30, 3
SEEDS = (0, 1, 2, 3, 4)
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


@dataclass(frozen=True)
class Settings:
    tasks: dict[str, Task]
    size: int
    n_train: int
    n_test: int
    data_seeds: list[int]
    models: dict[str, dict[str, Any] | str]  # SmallCNN arguments, or what the model is
    optimizer: str
    lr: float
    batch_size: int
    schedule: str
    epochs: int
    eval_every: int
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
    train_accuracy: float
    test_accuracy: float
    train_seconds: float
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss (and the accuracies where evaluated)


@dataclass(frozen=True)
class AccuracySummary:
    test: Summary
    train: Summary


@dataclass(frozen=True)
class Results:
    runs: list[Run]
    costs: dict[str, Cost]  # model name ->
    summary: dict[str, dict[str, AccuracySummary]]  # task -> model name -> over seeds
    curves: dict[str, dict[str, AccuracyCurves]]  # task -> model name -> learning curves
    majority: dict[str, Majority]  # task ->
    differences: dict[str, dict[str, Difference]]  # task -> 'nin-plain' -> test accuracy, first minus second


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


def _train_one(job):
    """One run (a worker process): ``job = (task, model, seed, epochs, n_train, n_test)``."""
    task, name, seed, epochs, n_train, n_test = job
    record = train_run(
        task, lambda: build(name), seed, epochs=epochs, schedule="cosine", eval_every=EVAL_EVERY,
        n_train=n_train, n_test=n_test,
    )  # fmt: skip
    return {"task": task, "model": name, "seed": seed, **record}


def _cache_file(jobs: list) -> Path:
    """Where finished runs are kept while the experiment runs, so that an interrupted run resumes.

    The name hashes the jobs, the torch version and the source of every convbook module the runs use: a
    change of any of them starts afresh. The runs are deterministic, so a resumed experiment gives the same
    result as an uninterrupted one.
    """
    package = Path(__file__).resolve().parents[2]  # convbook/
    sources = [package / "nets" / f for f in ("blocks.py", "small_cnn.py", "training.py", "torch_bridge.py")]
    sources += [package / "lab" / "datasets.py", Path(__file__).with_name("separable_accuracy.py")]
    code = hashlib.sha256(b"".join(f.read_bytes() for f in [Path(__file__), *sources])).hexdigest()
    key = hashlib.sha256(json.dumps([jobs, torch.__version__, EVAL_EVERY, LR, BATCH, code]).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"convbook-pointwise_cheap_depth-{key}.jsonl"


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    epochs = 1 if quick else EPOCHS
    n_train, n_test = (96, 64) if quick else (N_TRAIN, N_TEST)
    tasks = ("hard",) if quick else tuple(TASKS)
    model_costs = costs()  # first: it imports every module the experiment needs
    jobs = [(t, m, s, epochs, n_train, n_test) for t in tasks for m in MODELS for s in seeds]
    n_workers = workers(quick)
    if n_workers == 1:
        runs = [_train_one(j) for j in jobs]
    else:
        cache = _cache_file(jobs)
        done = {}
        if cache.is_file():
            for line in cache.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                done[(r["task"], r["model"], r["seed"])] = r
        todo = [j for j in jobs if (j[0], j[1], j[2]) not in done]
        print(f"pointwise_cheap_depth: {len(jobs)} runs, {len(done)} already in {cache}", file=sys.stderr)
        for r in map_runs(_train_one, todo, n_workers):
            done[(r["task"], r["model"], r["seed"])] = r
            with cache.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
            print(f"  {len(done)}/{len(jobs)}: {r['task']} {r['model']} seed {r['seed']}: "
                  f"test {r['test_accuracy']:.3f}", file=sys.stderr, flush=True)  # fmt: skip
        runs = [done[(j[0], j[1], j[2])] for j in jobs]
    results = {"runs": runs, "costs": model_costs, "summary": {}, "curves": {}, "majority": {}, "differences": {}}
    for task in tasks:
        results["majority"][task] = majority_baseline(task, n_train, n_test)
        results["summary"][task], results["curves"][task] = {}, {}
        by_model = {m: [r for r in runs if r["task"] == task and r["model"] == m] for m in MODELS}
        for m, rs in by_model.items():
            results["summary"][task][m] = AccuracySummary(
                test=summary([r["test_accuracy"] for r in rs]), train=summary([r["train_accuracy"] for r in rs])
            )
            results["curves"][task][m] = AccuracyCurves(
                *(learning_curve(rs, k) for k in ("train_accuracy", "test_accuracy"))
            )
        test = {m: [r["test_accuracy"] for r in rs] for m, rs in by_model.items()}
        results["differences"][task] = {
            f"{a}-{b}": welch(test[a], test[b])
            for a, b in [
                ("nin", "plain"),
                ("nin", "wide"),
                ("nin", "nin_linear"),
                ("nin_linear", "plain"),
                ("wide", "plain"),
                ("nin_nobn", "plain_nobn"),
                ("plain", "linear"),
            ]
        }
    settings = {
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "size": SIZE,
        "n_train": n_train,
        "n_test": n_test,
        "data_seeds": list(DATA_SEEDS),
        "models": {m: (kw if kw is not None else "logistic regression on the pixels") for m, kw in MODELS.items()},
        "optimizer": "Adam",
        "lr": LR,
        "batch_size": BATCH,
        "schedule": "cosine",
        "epochs": epochs,
        "eval_every": EVAL_EVERY,
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
    }
    return {"settings": settings, "results": results}
