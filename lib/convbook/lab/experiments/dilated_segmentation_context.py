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
  (batches of 32), from each of five seeds (the seed sets the front end, the
  random initialisation and the batch order), on the CPU with one thread,
  deterministically. Recorded: the scores at initialisation (epoch 0), the
  training and test pixel accuracy after every epoch, and the final training
  and test pixel accuracy, mean IoU and blind-pixel accuracy.
"""

from __future__ import annotations

import numpy as np

from convbook.lab.experiments import summary
from convbook.lab.experiments._dilated_seg_common import DATA, QUICK_TRAIN, SEEDS, THREADS, TRAIN, data
from convbook.lab.experiments.dilated_segmentation import train_one

DESCRIPTION = (
    "dilated/07a: Yu & Koltun's context module on a frozen plain front end, identity vs default random "
    "initialisation, two learning rates, 5 seeds; scores at initialisation and after every epoch"
)

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 1)
CONTEXT_TRAIN = {"epochs": 10, "batch_size": 32, "schedule": "constant"}
LRS = (1e-3, 1e-2)
INITS = ("identity", "default")


def front_end_probabilities(net, x: np.ndarray) -> np.ndarray:
    """The frozen front end's softmax class probabilities ``(N, 3, H, W)`` (float32), in eval mode."""
    import torch

    net.eval()
    with torch.no_grad():
        return torch.softmax(net(torch.as_tensor(x)), dim=1).numpy()


def train_context(init: str, lr: float, seed: int, feats: dict, d: dict, epochs: int, device=None) -> dict:
    """Train one context module on the front end's probabilities; scores at init, per epoch and at the end.

    One thread, deterministic, on ``device`` (default: the CPU, where the reference is made).
    """
    import torch

    from convbook.lab.timing import fixed_threads
    from convbook.nets.segmentation import context_module, predict, segmentation_scores
    from convbook.nets.training import count_params, deterministic, train_classifier

    with fixed_threads(THREADS):
        with deterministic(seed):
            module = context_module(3, CONTEXT_DILATIONS, init=init)
        at_init = segmentation_scores(predict(module, feats["test"]), d["y_test"], d["blind_test"])
        r = train_classifier(
            module, (feats["train"], d["y_train"]), (feats["test"], d["y_test"]), epochs=epochs,
            batch_size=CONTEXT_TRAIN["batch_size"], lr=lr, seed=seed, device=torch.device(device or "cpu"),
            schedule=CONTEXT_TRAIN["schedule"], eval_every=1,
        )  # fmt: skip
        train_scores = segmentation_scores(predict(module, feats["train"]), d["y_train"], d["blind_train"])
        test_scores = segmentation_scores(predict(module, feats["test"]), d["y_test"], d["blind_test"])
    return {
        "init": init,
        "lr": lr,
        "seed": seed,
        "params": count_params(module),
        "at_init": at_init,
        "train": train_scores,
        "test": test_scores,
        "history": [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()} for row in r.history],
    }


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    front_settings = QUICK_TRAIN if quick else TRAIN
    epochs = 1 if quick else CONTEXT_TRAIN["epochs"]
    lrs = LRS[:1] if quick else LRS
    d = data(quick)
    fronts, runs = [], []
    for seed in seeds:
        net, front = train_one("plain", seed, d, front_settings)
        feats = {"train": front_end_probabilities(net, d["x_train"]), "test": front_end_probabilities(net, d["x_test"])}
        fronts.append({"seed": seed, "test": front["test"], "train": front["train"]})
        for lr in lrs:
            for init in INITS:
                row = train_context(init, lr, seed, feats, d, epochs)
                # the identity-initialised module starts from exactly the front end's scores
                row["at_init_equals_front_end"] = row["at_init"] == front["test"]
                runs.append(row)
    results = {"front_end": fronts, "runs": runs, "summary": {}, "curves": {}}
    results["summary"]["front_end"] = {
        f"{split}_{m}": summary([f[split][m] for f in fronts])
        for split in ("train", "test")
        for m in ("pixel_accuracy", "mean_iou", "blind_accuracy")
    }
    for lr in lrs:
        for init in INITS:
            mine = [r for r in runs if r["lr"] == lr and r["init"] == init]
            key = f"{init}_lr{lr:g}"
            results["summary"][key] = {
                "params": mine[0]["params"],
                **{f"at_init_{m}": summary([r["at_init"][m] for r in mine]) for m in ("pixel_accuracy", "mean_iou")},
                **{
                    f"{split}_{m}": summary([r[split][m] for r in mine])
                    for split in ("train", "test")
                    for m in ("pixel_accuracy", "mean_iou", "blind_accuracy")
                },
            }
            values = np.array(
                [[r["at_init"]["pixel_accuracy"]] + [h["test_accuracy"] for h in r["history"]] for r in mine]
            )
            results["curves"][key] = {
                "epoch": list(range(values.shape[1])),
                "test_accuracy_per_seed": values.tolist(),
                "mean": values.mean(axis=0).tolist(),
                "sd": values.std(axis=0, ddof=1).tolist(),
            }
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
        "results": results,
    }
