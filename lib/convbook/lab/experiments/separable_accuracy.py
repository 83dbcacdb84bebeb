"""Separable against standard accuracy (separable/04): what does the depthwise-separable twin give up?

The book's small CNN (``convbook.nets.models.small_cnn``: a 3x3 stem, two stride-2
blocks, conv-BN-ReLU units, global average pooling, a linear layer) is trained
on the shapes task (``convbook.lab.datasets.make_shapes``, 16x16, 1500 training
and 1000 test images, noise 0.2 "easy" and 0.5 "hard"), in five versions and
against a trivial baseline:

* ``standard``: ``small_cnn(False)``, widths 16, 32, 64 (23,668 parameters);
* ``separable``: ``small_cnn(True)``, the same with each block a depthwise 3x3
  then a pointwise 1x1 conv-BN-ReLU (MobileNet's block; 3,716 parameters);
* ``separable_no_mid``: the separable twin with nothing between its two steps
  (Xception's separable convolution, ``mid_activation=False``; 3,620 parameters);
* ``standard_matched``: a standard network narrowed to the separable twin's
  parameter count, widths 16, 16, 8 (3,716 parameters): the matched-parameter
  control, designed in exercise sep-ex-7;
* ``linear``: logistic regression on the 256 pixels (a learned trivial
  baseline); and ``majority``: always the most frequent training class.

Two protocols, each from every seed in ``SEEDS`` (the seed sets the initial
weights and the batch order):

* ``short``: the book's first version of this experiment, 5 epochs at a
  constant learning rate (Adam, 3e-3, batches of 64);
* ``converged``: 30 epochs with the learning rate cosine-annealed to zero (the
  protocol of the 1x1 chapter's experiment), training and test accuracy every
  3 epochs (the learning curve, which shows whether training has plateaued).

Runs are on the CPU with one thread each, two at a time, under
``convbook.nets.training.deterministic``: a rerun on the same torch build gives the
same numbers (the notebook's live cell reruns one of them).
"""

from __future__ import annotations

from convbook.lab.experiments import learning_curve, summary, welch
from convbook.lab.experiments._shapes import (  # noqa: F401 (data and majority_baseline are this experiment's too: the notebook uses them)
    BATCH,
    DATA_SEEDS,
    EVAL_EVERY,
    LR,
    N_TEST,
    N_TRAIN,
    SIZE,
    TASKS,
    data,
    linear_model,
    majority_baseline,
    map_runs,
    train_run,
    workers,
)

DESCRIPTION = (
    "separable/04: small standard CNN vs its depthwise-separable twin, an Xception-style twin, a matched-parameter "
    "standard control and trivial baselines; easy and hard shapes, 8 seeds, 5 epochs (old protocol) and 30 (converged)"
)

PROTOCOLS = {"short": {"epochs": 5, "schedule": "constant"}, "converged": {"epochs": 30, "schedule": "cosine"}}
SEEDS = tuple(range(8))
#: small_cnn arguments of each model (None: logistic regression on the pixels).
MODELS = {
    "standard": {"separable": False},
    "separable": {"separable": True},
    "separable_no_mid": {"separable": True, "mid_activation": False},
    "standard_matched": {"separable": False, "channels": (16, 16, 8)},
    "linear": None,
}
#: The differences of mean test accuracy the chapter discusses (first minus second).
COMPARISONS = (
    ("standard", "separable"),
    ("separable", "standard_matched"),
    ("separable", "separable_no_mid"),
    ("separable", "linear"),
)


def build(name: str):
    """A fresh model (built under the caller's seed)."""
    from convbook.nets.models import small_cnn

    if MODELS[name] is None:
        return linear_model()
    return small_cnn(**MODELS[name])


def matched_channels(target: int | None = None) -> tuple:
    """The widths ``(16, c1, c2)`` of the standard small CNN whose parameter count is closest to ``target``.

    ``target`` defaults to the separable twin's count; ties go to the first in
    order of ``c1``, then ``c2`` (the search of exercise sep-ex-7).
    """
    from convbook.nets.models import small_cnn
    from convbook.nets.training import count_params

    target = count_params(small_cnn(True)) if target is None else target
    return min(
        ((16, c1, c2) for c1 in range(4, 33) for c2 in range(4, 65)),
        key=lambda ch: abs(count_params(small_cnn(False, channels=ch)) - target),
    )


def costs() -> dict:
    """Trainable parameters, conv/linear weights and multiply-adds (one 16x16 image) of every model."""
    from convbook import profile
    from convbook.nets.training import count_params

    out = {}
    for name in MODELS:
        model = build(name)
        p = profile(model, (1, 1, SIZE, SIZE))
        out[name] = {"params": count_params(model), "weights": p.total_params, "macs": p.total_macs}
    return out


def train_one(task: str, name: str, seed: int, protocol: str, n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict:
    """One run, as the reference makes it: CPU, one thread, deterministic. Returns accuracies and the curve."""
    p = PROTOCOLS[protocol]
    record = train_run(
        task, lambda: build(name), seed, epochs=p["epochs"], schedule=p["schedule"],
        eval_every=EVAL_EVERY if protocol == "converged" else 0, n_train=n_train, n_test=n_test,
    )  # fmt: skip
    return {"task": task, "model": name, "seed": seed, "protocol": protocol, **record}


def _job(args):
    return train_one(*args)


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    n_train, n_test = (96, 48) if quick else (N_TRAIN, N_TEST)
    tasks = ("hard",) if quick else tuple(TASKS)
    protocols = ("short",) if quick else tuple(PROTOCOLS)
    models = ("standard", "separable") if quick else tuple(MODELS)
    jobs = [(t, m, s, p, n_train, n_test) for p in protocols for t in tasks for m in models for s in seeds]
    jobs.sort(key=lambda j: -PROTOCOLS[j[3]]["epochs"])  # long runs first: the two workers finish together
    n_workers = workers(quick)
    runs = list(map_runs(_job, jobs, n_workers))
    runs.sort(key=lambda r: (r["protocol"], r["task"], models.index(r["model"]), r["seed"]))
    results = {"runs": runs, "costs": costs(), "majority": {}, "summary": {}, "curves": {}, "differences": {}}
    for task in tasks:
        results["majority"][task] = majority_baseline(task, n_train, n_test)
        for protocol in protocols:
            key = f"{task}/{protocol}"
            by_model = {
                m: [r for r in runs if r["task"] == task and r["model"] == m and r["protocol"] == protocol]
                for m in models
            }
            results["summary"][key] = {
                m: {
                    "test": summary([r["test_accuracy"] for r in rs]),
                    "train": summary([r["train_accuracy"] for r in rs]),
                    "train_seconds": summary([r["train_seconds"] for r in rs]),
                }
                for m, rs in by_model.items()
            }
            if protocol == "converged":
                results["curves"][task] = {
                    m: {k: learning_curve(rs, k) for k in ("train_accuracy", "test_accuracy")}
                    for m, rs in by_model.items()
                }
            test = {m: [r["test_accuracy"] for r in rs] for m, rs in by_model.items()}
            results["differences"][key] = {f"{a}-{b}": welch(test[a], test[b]) for a, b in COMPARISONS if b in test}
    settings = {
        "tasks": {t: {"noise": TASKS[t]} for t in tasks},
        "size": SIZE,
        "n_train": n_train,
        "n_test": n_test,
        "data_seeds": list(DATA_SEEDS),
        "models": {m: (MODELS[m] if MODELS[m] is not None else "logistic regression on the pixels") for m in models},
        "protocols": {p: PROTOCOLS[p] for p in protocols},
        "optimizer": "Adam",
        "lr": LR,
        "batch_size": BATCH,
        "eval_every": EVAL_EVERY,
        "device": "cpu",
        "threads_per_run": 1,
        "parallel_runs": n_workers,
        "seeds": list(seeds),
    }
    return {"settings": settings, "results": results}
