"""Dense prediction with and without dilation (dilated/07): which networks label pixels that need context?

The task (``convbook.dilated.make_segmentation_task``, 24x24, 512 training and
256 test images, noise 0.2) writes each object's class only on its outline, so
the pixels deep inside an object can be labelled only by a network whose
receptive field reaches the outline. Six networks, from ``_dilated_seg_common.MODELS``:

* ``plain`` and ``dilated``: four 3x3 ``conv-BN-ReLU`` layers with 8 channels
  and a 1x1 output layer, dilations 1, 1, 1, 1 (field 9x9) and 1, 2, 4, 1
  (field 17x17): the same 1,923 parameters;
* ``plain_deep``: eight undilated layers, field 17x17 with about twice the
  parameters (the dilated network's efficiency claim, checked against the
  plain way of getting the same field);
* ``strided``: four layers with strides 1, 2, 2, 1 and x4 bilinear
  upsampling: the same parameters and field as ``dilated``, at a quarter of
  the resolution (the downsampling alternative);
* ``aspp`` and ``aspp_no_pooling``: two 3x3 layers and DeepLab's atrous
  spatial pyramid pooling head (a 1x1 branch and 3x3 branches at rates 2, 4,
  6, with and without the image-pooling branch), about the same parameters.

Trivial baselines: the majority class everywhere (background), and two
intensity thresholds fitted on the training pixels (each pixel labelled by its
own brightness). Every network trains from each of five seeds, 20 epochs,
Adam (1e-2, cosine-annealed, batches of 32), on the CPU with one thread under
``convbook.nets.training.deterministic``; training and test pixel accuracy after
every epoch (the learning curve), and at the end, on the training and the test
set: pixel accuracy, the mean IoU of the two object classes, and the accuracy on
the "blind" pixels whose 9x9 window holds only flat object interior.
"""

from __future__ import annotations

import time

import numpy as np

from convbook.lab.experiments import summary
from convbook.lab.experiments._dilated_seg_common import (
    DATA,
    FIELDS,
    MODELS,
    QUICK_TRAIN,
    SEEDS,
    THREADS,
    TRAIN,
    blind_majority,
    data,
)

DESCRIPTION = (
    "dilated/07: plain, dilated, deeper plain, strided and ASPP segmentation networks (5 seeds, 20 epochs) against "
    "majority and intensity-threshold baselines on the rim task; train/test pixel accuracy, mean IoU, blind pixels"
)

METRICS = ("pixel_accuracy", "mean_iou", "blind_accuracy")


def train_one(name: str, seed: int, d: dict, settings: dict, device=None):
    """Train network ``name`` from ``seed`` as the reference does (one thread, deterministic).

    ``device`` defaults to the CPU, where the reference is made (a notebook's live
    rerun may pass ``pick_device()``). Returns the trained network and a dict of
    its learning curve and final scores.
    """
    import torch

    from convbook.lab.timing import fixed_threads
    from convbook.nets.segmentation import predict, segmentation_scores
    from convbook.nets.training import count_params, deterministic, train_classifier

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
    return net, {
        "model": name,
        "seed": seed,
        "params": count_params(net),
        "train": train_scores,
        "test": test_scores,
        "train_seconds": round(r.train_seconds, 2),
        "history": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()} for row in r.history],
    }


def baselines(d: dict) -> dict:
    """The majority class (background) everywhere, and the fitted two-threshold intensity classifier."""
    from convbook.nets.segmentation import fit_threshold_baseline, predict_threshold_baseline, segmentation_scores

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
    d = data(quick)
    runs = []
    start = time.perf_counter()
    for name in models:
        for seed in seeds:
            runs.append(train_one(name, seed, d, settings)[1])
    results = {
        "runs": runs,
        "baselines": baselines(d),
        "blind": {
            "test_pixels": int(d["blind_test"].sum()),
            "test_object_pixels": int((d["y_test"] > 0).sum()),
            "test_majority_share": blind_majority(d["y_test"], d["blind_test"]),
            "train_majority_share": blind_majority(d["y_train"], d["blind_train"]),
        },
        "pixel_shares_test": (np.bincount(d["y_test"].ravel(), minlength=3) / d["y_test"].size).tolist(),
        "summary": {},
        "curves": {},
        "total_train_seconds": round(time.perf_counter() - start, 1),
    }
    for name in models:
        mine = [r for r in runs if r["model"] == name]
        results["summary"][name] = {
            "params": mine[0]["params"],
            "field": FIELDS[name],
            **{f"{split}_{m}": summary([r[split][m] for r in mine]) for split in ("train", "test") for m in METRICS},
        }
        curve = {}
        for key in ("train_accuracy", "test_accuracy"):
            values = np.array([[h[key] for h in r["history"]] for r in mine])  # (seeds, epochs)
            curve[key] = {"mean": values.mean(axis=0).tolist(), "sd": values.std(axis=0, ddof=1).tolist()}
        curve["epoch"] = [h["epoch"] for h in mine[0]["history"]]
        results["curves"][name] = curve
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
