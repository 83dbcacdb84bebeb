"""Shared set-up of the dilated chapter's segmentation experiments (dilated/03, dilated/07, dilated/07a).

One data set, one list of models, one training recipe, so that
``dilated_segmentation``, ``dilated_segmentation_context`` and
``dilated_erf_trained`` train identical networks (training is deterministic on
the CPU: the same seed gives the same network in every experiment).
"""

from __future__ import annotations

import numpy as np

from convbook.dilated import make_segmentation_task
from convbook.nets.segmentation import aspp_net, blind_pixels, segmentation_net, strided_segmentation_net

SEEDS = [0, 1, 2, 3, 4]
TRAIN = {"epochs": 20, "batch_size": 32, "lr": 1e-2, "schedule": "cosine"}
QUICK_TRAIN = {"epochs": 1, "batch_size": 32, "lr": 1e-2, "schedule": "cosine"}
DATA = {"n_train": 512, "train_seed": 1, "n_test": 256, "test_seed": 2, "size": 24, "noise": 0.2}
THREADS = 1  # training runs with one thread: deterministic, and the notebooks' live reruns reproduce it

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
FIELDS = {"plain": 9, "dilated": 17, "plain_deep": 17, "strided": 17, "aspp": None, "aspp_no_pooling": 17}


def data(quick: bool = False) -> dict:
    """Training and test images, masks, noise-free test images, and the test pixels a 9x9 field cannot label."""
    n_train, n_test = (64, 32) if quick else (DATA["n_train"], DATA["n_test"])
    x_train, y_train = make_segmentation_task(n_train, seed=DATA["train_seed"])
    x_test, y_test = make_segmentation_task(n_test, seed=DATA["test_seed"])
    clean_train, _ = make_segmentation_task(n_train, seed=DATA["train_seed"], noise=0.0)
    clean_test, _ = make_segmentation_task(n_test, seed=DATA["test_seed"], noise=0.0)
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
