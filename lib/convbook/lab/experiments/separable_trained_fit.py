"""How far are trained kernels from separable ones? (separable/03)

Section 3 fits the best depthwise-separable pair (``convbook.separable.fit_separable``,
one truncated SVD per input channel) to a random kernel. Random kernels are the
worst case: their ``C_out x k^2`` slices have singular values of similar size.
This experiment fits the kernels of *trained* networks: the book's standard
small CNN (``convbook.nets.small_cnn.small_cnn(False)``: 3x3 layers 1 -> 16, 16 -> 32
and 32 -> 64 channels, each followed by batch norm and a ReLU), trained on the
shapes task with the protocol of ``separable_accuracy`` (each seed with its own
data draw; Adam at the constant learning rate that experiment chose for the
standard network on the task, batches of 64, 40 epochs, one CPU thread,
deterministic; the final training loss and the plateau criterion of
``separable_accuracy.plateaued`` recorded per run), from every seed in ``SEEDS``
and on both tasks.

For every 3x3 layer it records the relative error ``||W - W_fit|| / ||W||`` of
the best fit with depth multiplier ``K = 1 .. 9``:

* at initialisation (torch's default, Kaiming-uniform: independent entries);
* after training, for the raw kernel ``W`` and for the kernel with its batch
  norm folded in, ``W[o] * gamma[o] / sqrt(var[o] + eps)`` (the linear map the
  layer applies before its ReLU at inference; batch norm rescales each output
  channel, which the fit's Frobenius norm weighs);
* for Gaussian random kernels of the same shape (``RANDOM_SEEDS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from convbook.lab.experiments.separable_accuracy import (
    BATCH,
    EPOCHS,
    LR,
    PLATEAU_DROP,
    PLATEAU_WINDOW,
    TASKS,
    Plateau,
    Task,
    data,
    data_seeds,
    map_runs,
    mean_loss,
    plateaued,
    workers,
)
from convbook.lab.results import load_reference
from convbook.lab.stats import summary
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import Summary
from convbook.nets.small_cnn import small_cnn
from convbook.nets.training import deterministic, train_classifier
from convbook.separable import relative_fit_error

DESCRIPTION = (
    "separable/03: best separable fit (K = 1..9) of the 3x3 kernels of the small standard CNN at initialisation "
    "and after training on both shapes tasks (5 seeds with their own data, constant learning rate until the training "
    "loss plateaus), raw and with batch norm folded in"
)
RESULT_VERSION = 2

SEEDS = (0, 1, 2, 3, 4)
RANDOM_SEEDS = tuple(range(100, 110))
MULTIPLIERS = tuple(range(1, 10))
LAYERS = ("stem", "block1", "block2")  # model[0][0], model[0][1], model[0][2] of small_cnn(False)


@dataclass(frozen=True)
class TrainingProtocol:
    epochs: int
    schedule: str
    optimizer: str
    lr: dict[str, float]  # task -> the rate separable_accuracy chose for the standard network
    batch_size: int
    plateau: Plateau
    data_seeds: str


@dataclass(frozen=True)
class Settings:
    model: str
    layers: dict[str, list[int]]  # layer -> kernel shape
    tasks: dict[str, Task]
    protocol: TrainingProtocol
    n_train: int | str  # 'as separable_accuracy' for the reference
    multipliers: list[int]
    random_seeds: list[int]
    device: str
    threads_per_run: int
    parallel_runs: int
    seeds: list[int]


@dataclass(frozen=True)
class Run:
    """One trained network: relative fit errors for K = 1..9, per layer, before and after training."""

    task: str
    seed: int
    lr: float
    train_accuracy: float
    test_accuracy: float
    train_loss: float  # final: whole training set, eval mode
    plateaued: bool
    init: dict[str, list[float]]
    trained: dict[str, list[float]]
    trained_folded: dict[str, list[float]]  # batch norm folded into the kernel


@dataclass(frozen=True)
class Fit:
    """Fit errors of one kind of kernel over runs: at K = 1, and the mean at every K."""

    k1: Summary
    mean_by_k: list[float]


@dataclass(frozen=True)
class Accuracy:
    train: Summary
    test: Summary
    train_loss: Summary  # final, eval mode
    plateaued: int  # runs whose training loss plateaued


@dataclass(frozen=True)
class Results:
    runs: list[Run]
    random: dict[str, list[list[float]]]  # layer -> per random seed -> K = 1..9
    shapes: dict[str, list[int]]  # layer -> kernel shape
    summary: dict[str, dict[str, Fit]]  # layer -> 'random', 'hard/init', 'easy/trained_folded', ... ->
    accuracy: dict[str, Accuracy]  # task -> the trained networks' accuracy


def kernels(model) -> dict:
    """The 3x3 kernels of ``small_cnn(False)``: ``{layer: (raw, folded)}`` as float64 arrays (C_out, C_in, 3, 3)."""
    out = {}
    for name, unit in zip(LAYERS, model[0]):
        conv, bn = unit[0], unit[1]
        w = conv.weight.detach().double().cpu().numpy()  # (C_out, C_in, 3, 3)
        scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().double().cpu().numpy()  # (C_out,)
        out[name] = (w, w * scale[:, None, None, None])
    return out


def fit_errors(w: np.ndarray) -> list[float]:
    """Relative error of the best separable fit of ``w`` for every depth multiplier in ``MULTIPLIERS``."""
    return [relative_fit_error(w, depth_multiplier=k) for k in MULTIPLIERS]


def chosen_lr(task: str) -> float:
    """The learning rate ``separable_accuracy`` chose for the standard network on ``task`` (its stored reference)."""
    return load_reference("separable_accuracy").results.learning_rates[task]["standard"].chosen


def train_and_fit(
    task: str, seed: int, epochs: int | None = None, n_train: int | None = None, lr: float | None = None
) -> Run:
    """Train ``small_cnn(False)`` from ``seed`` on ``task`` as the reference does; fit its kernels before and after.

    ``lr`` defaults to :func:`chosen_lr`; the data are seed ``seed``'s own draw.
    """
    epochs = EPOCHS if epochs is None else epochs
    lr = chosen_lr(task) if lr is None else lr
    sizes = () if n_train is None else (n_train, max(32, n_train // 2))
    train, test = data(task, *sizes, seed=seed)
    with fixed_threads(1):
        with deterministic(seed):
            model = small_cnn(False)
        before = {name: fit_errors(raw) for name, (raw, _) in kernels(model).items()}
        r = train_classifier(
            model, train, test, epochs=epochs, batch_size=BATCH, lr=lr, seed=seed, device=torch.device("cpu"),
            schedule="constant",
        )  # fmt: skip
        final_loss = mean_loss(model, *train)
    after = kernels(model)
    return Run(
        task=task,
        seed=seed,
        lr=lr,
        train_accuracy=r.train_accuracy,
        test_accuracy=r.test_accuracy,
        train_loss=final_loss,
        plateaued=plateaued(r.history),
        init=before,
        trained={name: fit_errors(raw) for name, (raw, _) in after.items()},
        trained_folded={name: fit_errors(folded) for name, (_, folded) in after.items()},
    )


def _job(args):
    return train_and_fit(*args)


def random_errors(shapes: dict, seeds=RANDOM_SEEDS) -> dict:
    """Fit errors of Gaussian random kernels of each layer's shape: ``{layer: [[K=1..9] per seed]}``."""
    return {
        name: [fit_errors(np.random.default_rng(s).standard_normal(shape)) for s in seeds]
        for name, shape in shapes.items()
    }


def _fit(errors: list[list[float]]) -> Fit:
    return Fit(k1=summary([e[0] for e in errors]), mean_by_k=np.mean(errors, axis=0).tolist())


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    tasks = ("hard",) if quick else tuple(TASKS)
    epochs, n_train = (1, 96) if quick else (EPOCHS, None)
    lrs = {t: LR if quick else chosen_lr(t) for t in tasks}
    jobs = [(t, s, epochs, n_train, lrs[t]) for t in tasks for s in seeds]
    n_workers = workers(quick)
    runs = list(map_runs(_job, jobs, n_workers, Run))
    shapes = {name: tuple(unit[0].weight.shape) for name, unit in zip(LAYERS, small_cnn(False)[0])}
    rand = random_errors(shapes, RANDOM_SEEDS[:2] if quick else RANDOM_SEEDS)
    fits = {}
    for name in LAYERS:
        fits[name] = {"random": _fit(rand[name])}
        for task in tasks:
            rs = [r for r in runs if r.task == task]
            for state in ("init", "trained", "trained_folded"):
                fits[name][f"{task}/{state}"] = _fit([getattr(r, state)[name] for r in rs])
    accuracy = {
        task: Accuracy(
            train=summary([r.train_accuracy for r in runs if r.task == task]),
            test=summary([r.test_accuracy for r in runs if r.task == task]),
            train_loss=summary([r.train_loss for r in runs if r.task == task]),
            plateaued=sum(r.plateaued for r in runs if r.task == task),
        )
        for task in tasks
    }
    settings = {
        "model": "small_cnn(False)",
        "layers": {name: list(shapes[name]) for name in LAYERS},
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "protocol": {
            "epochs": epochs,
            "schedule": "constant",
            "optimizer": "Adam",
            "lr": lrs,
            "batch_size": BATCH,
            "plateau": {"window": PLATEAU_WINDOW, "drop": PLATEAU_DROP},
            "data_seeds": f"seed s: make_shapes seeds {data_seeds(0)[0]} + 2 s (training), {data_seeds(0)[1]} + 2 s",
        },
        "n_train": n_train or "as separable_accuracy",
        "multipliers": list(MULTIPLIERS),
        "random_seeds": list(RANDOM_SEEDS[:2] if quick else RANDOM_SEEDS),
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
    }
    results = Results(
        runs=runs, random=rand, shapes={k: list(v) for k, v in shapes.items()}, summary=fits, accuracy=accuracy
    )
    return {"settings": settings, "results": results}
