"""Yu & Koltun's context module and its identity initialisation (dilated/07a).

Yu & Koltun (2016) put a *context module* of dilated 3x3 layers on top of a
segmentation network's class scores and found that random initialisation
schemes did not work well for it; they initialise every layer to pass its
input through (the identity). This experiment repeats the
comparison on the chapter's rim task:

* the front end is the chapter's ``plain`` network (field 9x9, trained exactly
  as in ``dilated_segmentation``, same seed), frozen; its softmax class
  probabilities (3 maps) are the module's input;
* the module is ``convbook.nets.segmentation.context_module(3, (1, 1, 2, 4, 8, 1))``
  (six 3x3 layers with ReLU and a final 1x1 layer, 516 parameters; the paper's
  ``d = 16`` layer is left out because on 24x24 maps it would read almost only
  padding), initialised either as the identity or with PyTorch's default
  random initialisation;
* trained 10 epochs with Adam at a constant learning rate of 1e-3 and of 1e-2
  (batches of 32), from each of five seeds (the seed sets the data draw, as in
  ``dilated_segmentation``, the front end, the random initialisation and the
  batch order), on the CPU with one thread, deterministically. Recorded: the
  scores at initialisation (epoch 0), the training and test pixel accuracy after
  every epoch, the final training loss, the final training and test pixel
  accuracy, mean IoU and blind-pixel accuracy, and the share of the test pixels
  predicted as each class (a run that labels every pixel one class shows it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from convbook.lab.experiments.dilated_segmentation import (
    DATA,
    QUICK_TRAIN,
    SEEDS,
    THREADS,
    TRAIN,
    Data,
    Scores,
    ScoreSummaries,
    Training,
    data,
    score_summaries,
    train_one,
)
from convbook.lab.stats import summary
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import Summary
from convbook.nets.segmentation import context_module
from convbook.nets.segmentation_eval import predict, segmentation_scores
from convbook.nets.training import count_params, deterministic, train_classifier

DESCRIPTION = (
    "dilated/07a: Yu & Koltun's context module on a frozen plain front end, identity vs default random "
    "initialisation, two learning rates, 5 seeds; scores at initialisation and after every epoch"
)
RESULT_VERSION = 2

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 1)
CONTEXT_TRAIN = {"epochs": 10, "batch_size": 32, "schedule": "constant"}
LRS = (1e-3, 1e-2)
INITS = ("identity", "default")


@dataclass(frozen=True)
class FrontEndSettings:
    model: str
    training: Training


@dataclass(frozen=True)
class ContextTraining:
    epochs: int
    batch_size: int
    schedule: str
    lrs: list[float]


@dataclass(frozen=True)
class Settings:
    seeds: list[int]
    data: Data
    front_end: FrontEndSettings
    context_dilations: list[int]
    context_training: ContextTraining
    inits: list[str]
    threads: int
    device: str


@dataclass(frozen=True)
class FrontEnd:
    seed: int
    test: Scores
    train: Scores


@dataclass(frozen=True)
class Run:
    init: str
    lr: float
    seed: int
    params: int
    at_init: Scores
    train: Scores
    test: Scores
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss, train_accuracy, test_accuracy
    at_init_equals_front_end: bool | None  # None: not compared (no front end's scores given)
    predicted_shares_test: list[float]  # share of the test pixels predicted as class 0, 1, 2
    true_shares_test: list[float]  # share of the test pixels of class 0, 1, 2


@dataclass(frozen=True)
class FrontEndSummary:
    train: ScoreSummaries
    test: ScoreSummaries


@dataclass(frozen=True)
class InitSummaries:
    pixel_accuracy: Summary
    mean_iou: Summary


@dataclass(frozen=True)
class ModuleSummary:
    params: int
    at_init: InitSummaries
    train: ScoreSummaries
    test: ScoreSummaries


@dataclass(frozen=True)
class SeedCurves:
    """Test pixel accuracy at initialisation (epoch 0) and after every epoch: per seed, mean and SD over seeds."""

    epoch: list[int]
    test_accuracy_per_seed: list[list[float]]
    mean: list[float]
    sd: list[float]


@dataclass(frozen=True)
class Results:
    front_end: list[FrontEnd]
    front_end_summary: FrontEndSummary
    runs: list[Run]
    summary: dict[str, ModuleSummary]  # 'identity_lr0.001', 'default_lr0.01', ... -> over seeds
    curves: dict[str, SeedCurves]  # the same keys


def front_end_probabilities(net, x: np.ndarray) -> np.ndarray:
    """The frozen front end's softmax class probabilities ``(N, 3, H, W)`` (float32), in eval mode."""
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(torch.as_tensor(x)), dim=1).numpy()


def train_context(
    init: str, lr: float, seed: int, feats: dict, d: dict, epochs: int, device=None, front_test: Scores | None = None
) -> Run:
    """Train one context module on the front end's probabilities; scores at init, per epoch and at the end.

    One thread, deterministic, on ``device`` (default: the CPU, where the reference is made). ``front_test``, the
    front end's own test scores, if given, is compared with the module's scores at initialisation.
    """
    with fixed_threads(THREADS):
        with deterministic(seed):
            module = context_module(3, CONTEXT_DILATIONS, init=init)
        at_init = Scores(**segmentation_scores(predict(module, feats["test"]), d["y_test"], d["blind_test"]))
        r = train_classifier(
            module, (feats["train"], d["y_train"]), (feats["test"], d["y_test"]), epochs=epochs,
            batch_size=CONTEXT_TRAIN["batch_size"], lr=lr, seed=seed, device=torch.device(device or "cpu"),
            schedule=CONTEXT_TRAIN["schedule"], eval_every=1,
        )  # fmt: skip
        train_scores = segmentation_scores(predict(module, feats["train"]), d["y_train"], d["blind_train"])
        test_pred = predict(module, feats["test"])
        test_scores = segmentation_scores(test_pred, d["y_test"], d["blind_test"])
    return Run(
        init=init,
        lr=lr,
        seed=seed,
        params=count_params(module),
        at_init=at_init,
        train=Scores(**train_scores),
        test=Scores(**test_scores),
        history=[{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()} for row in r.history],
        at_init_equals_front_end=None if front_test is None else at_init == front_test,
        predicted_shares_test=(np.bincount(test_pred.ravel(), minlength=3) / test_pred.size).tolist(),
        true_shares_test=(np.bincount(d["y_test"].ravel(), minlength=3) / d["y_test"].size).tolist(),
    )


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    front_settings = QUICK_TRAIN if quick else TRAIN
    epochs = 1 if quick else CONTEXT_TRAIN["epochs"]
    lrs = LRS[:1] if quick else LRS
    fronts, runs = [], []
    for seed in seeds:
        d = data(quick, seed)  # this seed's own training and test draw
        net, front = train_one("plain", seed, d, front_settings)
        feats = {"train": front_end_probabilities(net, d["x_train"]), "test": front_end_probabilities(net, d["x_test"])}
        fronts.append(FrontEnd(seed=seed, test=front.test, train=front.train))
        for lr in lrs:
            for init in INITS:
                # (the identity-initialised module starts from exactly the front end's scores)
                runs.append(train_context(init, lr, seed, feats, d, epochs, front_test=front.test))
    front_summary = FrontEndSummary(
        train=score_summaries([f.train for f in fronts]), test=score_summaries([f.test for f in fronts])
    )
    summaries, curves = {}, {}
    for lr in lrs:
        for init in INITS:
            mine = [r for r in runs if r.lr == lr and r.init == init]
            key = f"{init}_lr{lr:g}"
            summaries[key] = ModuleSummary(
                params=mine[0].params,
                at_init=InitSummaries(
                    **{m: summary([getattr(r.at_init, m) for r in mine]) for m in ("pixel_accuracy", "mean_iou")}
                ),
                train=score_summaries([r.train for r in mine]),
                test=score_summaries([r.test for r in mine]),
            )
            values = np.array([[r.at_init.pixel_accuracy] + [h["test_accuracy"] for h in r.history] for r in mine])
            curves[key] = SeedCurves(
                epoch=list(range(values.shape[1])),
                test_accuracy_per_seed=values.tolist(),
                mean=values.mean(axis=0).tolist(),
                sd=values.std(axis=0, ddof=1).tolist(),
            )
    return {
        "settings": {
            "seeds": list(seeds),
            "data": DATA,
            "front_end": {"model": "plain", "training": front_settings},
            "context_dilations": list(CONTEXT_DILATIONS),
            "context_training": {**CONTEXT_TRAIN, "epochs": epochs, "lrs": list(lrs)},
            "inits": list(INITS),
            "threads": THREADS,
            "device": "cpu",
        },
        "results": Results(
            front_end=fronts, front_end_summary=front_summary, runs=runs, summary=summaries, curves=curves
        ),
    }
