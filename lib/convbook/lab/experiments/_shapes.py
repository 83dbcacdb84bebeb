"""What the shapes-task experiments share (separable/04 and 03, pointwise/04): data, protocol, baselines, workers.

The task is ``convbook.lab.datasets.make_shapes`` at 16x16 pixels, 1500 training and
1000 test images (data seeds 1 and 2), with pixel noise 0.2 ("easy") or 0.5
("hard"). Every run trains with Adam (learning rate 3e-3, batches of 64) on the
CPU with one thread, under ``convbook.nets.training.deterministic``, so that a rerun
on the same torch build reproduces it exactly; runs go two at a time in
separate processes.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

TASKS = {"easy": 0.2, "hard": 0.5}  # noise standard deviation of make_shapes
SIZE, N_TRAIN, N_TEST, DATA_SEEDS = 16, 1500, 1000, (1, 2)
LR, BATCH, EVAL_EVERY = 3e-3, 64, 3
NUM_CLASSES = 4


def data(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST):
    """The task's ``(train, test)`` sets: ``make_shapes`` with data seeds 1 and 2."""
    from convbook.lab.datasets import make_shapes

    noise = TASKS[task]
    train = make_shapes(n_train, size=SIZE, seed=DATA_SEEDS[0], noise=noise)
    test = make_shapes(n_test, size=SIZE, seed=DATA_SEEDS[1], noise=noise)
    return train, test


def linear_model():
    """Logistic regression on the pixels: the trivial learned baseline."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, NUM_CLASSES))


def majority_baseline(task: str, n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict:
    """Always predict the most frequent training class: its training and test accuracy."""
    (_, ytr), (_, yte) = data(task, n_train, n_test)
    label = int(np.bincount(ytr).argmax())
    return {
        "label": label,
        "train_accuracy": float(np.mean(ytr == label)),
        "test_accuracy": float(np.mean(yte == label)),
    }


def train_run(
    task: str, build, seed: int, *, epochs: int, schedule: str, eval_every: int, n_train=N_TRAIN, n_test=N_TEST
):
    """Train ``build()`` (made under ``seed``) on ``task`` by the shared protocol; return the run's record.

    Returns ``train_accuracy``, ``test_accuracy``, ``train_seconds`` and ``history`` (per epoch).
    """
    import torch

    from convbook.lab.timing import fixed_threads
    from convbook.nets.training import deterministic, train_classifier

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


def map_runs(fn, jobs: list, n_workers: int):
    """``fn`` over ``jobs``, in order, in ``n_workers`` fresh processes (or here, for one worker); a generator.

    The processes are spawned, not forked: a forked child of a process whose
    OpenMP pool has started can hang.
    """
    if n_workers == 1:
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(fn, jobs)
