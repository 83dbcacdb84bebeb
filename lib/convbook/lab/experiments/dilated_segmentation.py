"""Dense prediction with and without dilation (dilated/07): which networks label pixels that need context?

The task (``convbook.dilated.make_segmentation_task``, 24x24, 512 training and
256 test images, noise 0.2; each seed ``s`` draws its own training set, data seed
``1 + 2 s``, and test set, data seed ``2 + 2 s``) writes each object's class only on its outline, so
the pixels deep inside an object can be labelled only by a network whose
receptive field reaches the outline. Six networks (:data:`MODELS`):

* ``plain`` and ``dilated``: four 3x3 ``conv-BN-ReLU`` layers with 8 channels
  and a 1x1 output layer, dilations 1, 1, 1, 1 (field 9x9) and 1, 2, 4, 1
  (field 17x17): the same 1,923 parameters;
* ``plain_deep``: eight undilated layers, field 17x17 with about twice the
  parameters (the dilated network's efficiency claim, checked against the
  plain way of getting the same field);
* ``strided``: four layers with strides 1, 2, 2, 1 and x4 bilinear
  upsampling: the same parameters as ``dilated``, at a quarter of the
  resolution (the downsampling alternative); one coarse score sees 17x17 input
  pixels, one output pixel, after the upsampling, 21x21, not centred on it
  (``convbook.nets.segmentation_eval.dependency_box``);
* ``aspp`` and ``aspp_no_pooling``: two 3x3 layers and DeepLab's atrous
  spatial pyramid pooling head (a 1x1 branch and 3x3 branches at rates 2, 4,
  6, with and without the image-pooling branch), about the same parameters.

Trivial baselines, per seed's data: the majority class everywhere (background),
and two intensity thresholds fitted on the training pixels (each pixel labelled
by its own brightness). Every network trains from each of five seeds, 20 epochs,
Adam (1e-2, cosine-annealed, batches of 32), on the CPU with one thread under
``convbook.nets.training.deterministic``; training and test pixel accuracy after
every epoch (the learning curve), and at the end, on the training and the test
set: pixel accuracy, the mean IoU of the two object classes, and the accuracy on
the "blind" pixels whose 9x9 window holds only flat object interior. The seed
sets the data draw, the initial weights and the batch order, so the spread over
seeds holds both the data's and the initialisation's variance.

The data (:func:`data`), the networks (:data:`MODELS`), the recipe (:data:`TRAIN`) and :func:`train_one` are
shared with ``dilated_erf_trained`` and ``dilated_segmentation_context`` (dilated/03 and 07a), so that all three
train identical networks (training is deterministic on the CPU: the same seed gives the same network in every
experiment), and with the notebooks' live reruns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from convbook.lab.datasets import make_segmentation_task
from convbook.lab.stats import learning_curve, summary
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import AccuracyCurves, Summary
from convbook.nets.segmentation import aspp_net, segmentation_net, strided_segmentation_net
from convbook.nets.segmentation_eval import (
    blind_pixels,
    fit_threshold_baseline,
    predict,
    predict_threshold_baseline,
    segmentation_scores,
)
from convbook.nets.training import count_params, deterministic, train_classifier

DESCRIPTION = (
    "dilated/07: plain, dilated, deeper plain, strided and ASPP segmentation networks (5 seeds, 20 epochs) against "
    "majority and intensity-threshold baselines on the rim task; train/test pixel accuracy, mean IoU, blind pixels"
)
RESULT_VERSION = 2

SEEDS = [0, 1, 2, 3, 4]
TRAIN = {"epochs": 20, "batch_size": 32, "lr": 1e-2, "schedule": "cosine"}
QUICK_TRAIN = {"epochs": 1, "batch_size": 32, "lr": 1e-2, "schedule": "cosine"}
DATA = {"n_train": 512, "n_test": 256, "size": 24, "noise": 0.2, "data_seeds": "train 1 + 2 * seed, test 2 + 2 * seed"}
THREADS = 1  # training runs with one thread: deterministic, and the notebooks' live reruns reproduce it
METRICS = ("pixel_accuracy", "mean_iou", "blind_accuracy")

# name: (builder, description). Every builder returns a fresh, randomly initialised network.
MODELS = {
    "plain": (lambda: segmentation_net([1, 1, 1, 1]), "4 layers 3x3, d = 1, 1, 1, 1: field 9x9"),
    "dilated": (lambda: segmentation_net([1, 2, 4, 1]), "4 layers 3x3, d = 1, 2, 4, 1: field 17x17"),
    "plain_deep": (lambda: segmentation_net([1] * 8), "8 layers 3x3, d = 1: field 17x17, about twice the weights"),
    "strided": (lambda: strided_segmentation_net((1, 2, 2, 1)), "4 layers 3x3, strides 1, 2, 2, 1, then x4 upsampling"),
    "aspp": (lambda: aspp_net((1, 1), rates=(2, 4, 6)), "2 layers 3x3, ASPP (1x1; rates 2, 4, 6; image pooling)"),
    "aspp_no_pooling": (
        lambda: aspp_net((1, 1), rates=(2, 4, 6), image_pooling=False),
        "2 layers 3x3, ASPP (1x1; rates 2, 4, 6) without image pooling",
    ),
}
# the stride-1 formula's field; for ``strided`` that of one coarse score (an output pixel's is 21x21, see above)
FIELDS = {"plain": 9, "dilated": 17, "plain_deep": 17, "strided": 17, "aspp": None, "aspp_no_pooling": 17}


@dataclass(frozen=True)
class Data:
    n_train: int
    n_test: int
    size: int
    noise: float
    data_seeds: str  # each seed draws its own training and test set


@dataclass(frozen=True)
class Training:
    epochs: int
    batch_size: int
    lr: float
    schedule: str


@dataclass(frozen=True)
class Settings:
    seeds: list[int]
    data: Data
    training: Training
    threads: int
    device: str
    models: dict[str, str]  # name -> description
    metrics: str


@dataclass(frozen=True)
class Scores:
    """``convbook.nets.segmentation_eval.segmentation_scores`` of one network (or baseline) on one split."""

    pixel_accuracy: float
    mean_iou: float
    blind_accuracy: float


@dataclass(frozen=True)
class ScoreSummaries:
    """The same scores over seeds."""

    pixel_accuracy: Summary
    mean_iou: Summary
    blind_accuracy: Summary


@dataclass(frozen=True)
class Run:
    model: str
    seed: int
    params: int
    train: Scores
    test: Scores
    train_seconds: float
    history: list[dict[str, int | float]]  # per epoch: epoch, train_loss, train_accuracy, test_accuracy


@dataclass(frozen=True)
class Baseline:
    train: Scores
    test: Scores


@dataclass(frozen=True)
class ThresholdBaseline:
    thresholds: list[float]
    train: Scores
    test: Scores


@dataclass(frozen=True)
class SeedBaselines:
    """The trivial baselines on one seed's data."""

    seed: int
    majority: Baseline
    threshold: ThresholdBaseline


@dataclass(frozen=True)
class BaselineSummary:
    """A baseline's scores over the seeds' data draws."""

    train: ScoreSummaries
    test: ScoreSummaries


@dataclass(frozen=True)
class SeedData:
    """One seed's data draw: its blind pixels and class shares."""

    seed: int
    test_pixels_blind: int
    test_object_pixels: int
    test_majority_share: float  # share of the most frequent class among the blind test pixels
    train_majority_share: float
    pixel_shares_test: list[float]  # share of each class among the test pixels


@dataclass(frozen=True)
class DataSummary:
    test_pixels_blind: Summary
    test_majority_share: Summary
    pixel_shares_test: list[Summary]


@dataclass(frozen=True)
class ModelSummary:
    params: int
    field: int | None  # None: ASPP's image pooling sees the whole image
    final_train_loss: Summary  # the training loss (cross-entropy) of the last epoch
    train: ScoreSummaries
    test: ScoreSummaries


@dataclass(frozen=True)
class Results:
    runs: list[Run]
    baselines: list[SeedBaselines]
    baseline_summary: dict[str, BaselineSummary]  # 'majority', 'threshold' -> over the seeds' data
    data: list[SeedData]
    data_summary: DataSummary
    summary: dict[str, ModelSummary]  # model name -> over seeds
    curves: dict[str, AccuracyCurves]  # model name -> learning curves
    total_train_seconds: float


def data_seeds(seed: int) -> tuple[int, int]:
    """The data seeds of the training and the test set drawn for ``seed`` (all distinct over seeds)."""
    return 1 + 2 * seed, 2 + 2 * seed


def data(quick: bool = False, seed: int = 0) -> dict:
    """Seed ``seed``'s training and test images, masks, and the pixels a 9x9 field cannot label.

    Keys ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``blind_train``, ``blind_test``; the data seeds are
    :func:`data_seeds` (seed 0: training set 1, test set 2).
    """
    n_train, n_test = (64, 32) if quick else (DATA["n_train"], DATA["n_test"])
    train_seed, test_seed = data_seeds(seed)
    x_train, y_train = make_segmentation_task(n_train, seed=train_seed, noise=DATA["noise"])
    x_test, y_test = make_segmentation_task(n_test, seed=test_seed, noise=DATA["noise"])
    clean_train, _ = make_segmentation_task(n_train, seed=train_seed, noise=0.0)
    clean_test, _ = make_segmentation_task(n_test, seed=test_seed, noise=0.0)
    return {
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
        "blind_train": blind_pixels(clean_train, y_train, 9),
        "blind_test": blind_pixels(clean_test, y_test, 9),
    }


def blind_majority(y: np.ndarray, blind: np.ndarray) -> float:
    """The share of the most frequent class among the blind pixels: the best a network blind to the rim can do."""
    return float(max((y[blind] == c).mean() for c in (1, 2)))


def score_summaries(scores: list[Scores]) -> ScoreSummaries:
    """:class:`ScoreSummaries` of several runs' scores."""
    return ScoreSummaries(**{m: summary([getattr(s, m) for s in scores]) for m in METRICS})


def train_one(name: str, seed: int, d: dict, settings: dict, device=None) -> tuple[torch.nn.Module, Run]:
    """Train network ``name`` from ``seed`` as the reference does (one thread, deterministic).

    ``device`` defaults to the CPU, where the reference is made (a notebook's live
    rerun may pass ``pick_device()``). Returns the trained network and its :class:`Run`
    (learning curve and final scores).
    """
    with fixed_threads(THREADS):
        with deterministic(seed):
            net = MODELS[name][0]()
        r = train_classifier(
            net, (d["x_train"], d["y_train"]), (d["x_test"], d["y_test"]), epochs=settings["epochs"],
            batch_size=settings["batch_size"], lr=settings["lr"], seed=seed, device=torch.device(device or "cpu"),
            schedule=settings["schedule"], eval_every=1,
        )  # fmt: skip
        train_scores = segmentation_scores(predict(net, d["x_train"]), d["y_train"], d["blind_train"])
        test_scores = segmentation_scores(predict(net, d["x_test"]), d["y_test"], d["blind_test"])
    return net, Run(
        model=name,
        seed=seed,
        params=count_params(net),
        train=Scores(**train_scores),
        test=Scores(**test_scores),
        train_seconds=round(r.train_seconds, 2),
        history=[{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()} for row in r.history],
    )


def baselines(d: dict) -> dict:
    """The majority class (background) everywhere, and the fitted two-threshold intensity classifier."""
    out = {}
    for split in ("train", "test"):
        zeros = np.zeros_like(d[f"y_{split}"])
        out.setdefault("majority", {})[split] = segmentation_scores(zeros, d[f"y_{split}"], d[f"blind_{split}"])
    thresholds = fit_threshold_baseline(d["x_train"], d["y_train"])
    out["threshold"] = {"thresholds": list(thresholds)}
    for split in ("train", "test"):
        pred = predict_threshold_baseline(d[f"x_{split}"], thresholds)
        out["threshold"][split] = segmentation_scores(pred, d[f"y_{split}"], d[f"blind_{split}"])
    return out


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    models = ("plain", "dilated") if quick else tuple(MODELS)
    settings = QUICK_TRAIN if quick else TRAIN
    runs, seed_baselines, seed_data = [], [], []
    start = time.perf_counter()
    for seed in seeds:
        d = data(quick, seed)
        for name in models:
            runs.append(train_one(name, seed, d, settings)[1])
        seed_baselines.append({"seed": seed, **baselines(d)})
        seed_data.append(
            SeedData(
                seed=seed,
                test_pixels_blind=int(d["blind_test"].sum()),
                test_object_pixels=int((d["y_test"] > 0).sum()),
                test_majority_share=blind_majority(d["y_test"], d["blind_test"]),
                train_majority_share=blind_majority(d["y_train"], d["blind_train"]),
                pixel_shares_test=(np.bincount(d["y_test"].ravel(), minlength=3) / d["y_test"].size).tolist(),
            )
        )
    runs.sort(key=lambda r: (models.index(r.model), r.seed))  # by model, then seed
    results = {
        "runs": runs,
        "baselines": seed_baselines,
        "baseline_summary": {
            b: {
                split: score_summaries([Scores(**sb[b][split]) for sb in seed_baselines]) for split in ("train", "test")
            }
            for b in ("majority", "threshold")
        },
        "data": seed_data,
        "data_summary": DataSummary(
            test_pixels_blind=summary([sd.test_pixels_blind for sd in seed_data]),
            test_majority_share=summary([sd.test_majority_share for sd in seed_data]),
            pixel_shares_test=[summary([sd.pixel_shares_test[c] for sd in seed_data]) for c in range(3)],
        ),
        "summary": {},
        "curves": {},
        "total_train_seconds": round(time.perf_counter() - start, 1),
    }
    for name in models:
        mine = [r for r in runs if r.model == name]
        results["summary"][name] = ModelSummary(
            params=mine[0].params,
            field=FIELDS[name],
            final_train_loss=summary([r.history[-1]["train_loss"] for r in mine]),
            train=score_summaries([r.train for r in mine]),
            test=score_summaries([r.test for r in mine]),
        )
        results["curves"][name] = AccuracyCurves(
            *(learning_curve(mine, k) for k in ("train_accuracy", "test_accuracy"))
        )
    return {
        "settings": {
            "seeds": list(seeds),
            "data": DATA,
            "training": settings,
            "threads": THREADS,
            "device": "cpu",
            "models": {name: MODELS[name][1] for name in models},
            "metrics": "pixel accuracy; mean IoU of classes 1 and 2; accuracy on the test pixels whose 9x9 window "
            "holds only flat object interior (blind)",
        },
        "results": results,
    }
