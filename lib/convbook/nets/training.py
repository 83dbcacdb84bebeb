"""A small, deterministic training loop shared by the chapters' experiments (imports torch).

* :func:`deterministic`: seeds torch and turns on deterministic algorithms
  (cuDNN included) for the block, so that a run on the CPU reproduces the
  reference results exactly on the same torch build.
* :func:`train_classifier`: Adam and cross-entropy, with the training and test
  accuracy after every epoch (``TrainResult.history``), so that a chapter can
  show that a model has converged, or plot accuracy against the training budget.
* :func:`count_params`, :func:`accuracy`, and :func:`evaluating`, which puts
  a model in eval mode for a block and restores its mode afterwards.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from convbook._args import positive_int
from convbook.nets.torch_bridge import pick_device, synchronize


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class TrainResult:
    """What :func:`train_classifier` measured.

    ``history`` holds one dict per epoch: ``epoch`` (1-based), ``train_loss``
    (mean over the epoch's batches), and, when evaluated, ``train_accuracy``
    and ``test_accuracy`` after that epoch.
    """

    test_accuracy: float
    train_accuracy: float
    train_seconds: float
    device: str
    losses: list = field(default_factory=list)
    history: list = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (convbook's NumPy code takes explicit generators)."""
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic(seed: int | None = None):
    """Seed torch (when ``seed`` is given) and use deterministic algorithms in the block; restore after.

    Sets ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an
    operation with no deterministic implementation warns instead of raising),
    ``torch.backends.cudnn.deterministic = True`` and
    ``torch.backends.cudnn.benchmark = False``, and, for cuBLAS, the
    ``CUBLAS_WORKSPACE_CONFIG`` environment variable if it is unset (it must be
    set before CUDA starts to take effect). On the CPU, runs with the same seed
    on the same torch build give identical results; across builds, CPUs and
    GPUs they differ in the last bits, and training amplifies that.
    """
    if seed is not None:
        torch.manual_seed(seed)
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Put ``model`` in eval mode for the block, yield its first parameter (for dtype and device), then restore it.

    The model's training mode comes back even when the block raises.
    """
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters())
    finally:
        model.train(was_training)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Fraction of ``x`` whose arg-max prediction equals ``y``, in eval mode. Works for per-pixel labels too."""
    correct, total = 0, 0
    with evaluating(model):
        for i in range(0, len(x), batch_size):
            pred = model(x[i : i + batch_size]).argmax(dim=1)
            correct += (pred == y[i : i + batch_size]).sum().item()
            total += y[i : i + batch_size].numel()
    return correct / total


def train_classifier(
    model: nn.Module,
    train,
    test,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device=None,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    eval_every: int = 0,
) -> TrainResult:
    """Train ``model`` with Adam and cross-entropy; return accuracies, time and the learning curve.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, H, W)`` to logits ``(B, K)`` (or ``(B, K, H, W)`` for
        per-pixel labels). Build it inside ``deterministic(seed)`` (or after
        ``torch.manual_seed(seed)``) for a reproducible initialisation.
    train, test : (ndarray, ndarray)
        Inputs and integer labels.
    epochs, batch_size, lr : training settings
    seed : int
        Seeds the shuffling; the loop runs under :func:`deterministic`.
    device : optional
        Default :func:`convbook.nets.torch_bridge.pick_device`.
    weight_decay : float
        Adam's L2 penalty.
    schedule : {'constant', 'cosine'}
        The learning rate: constant, or cosine-annealed to zero over ``epochs``.
    eval_every : int
        Evaluate training and test accuracy every ``eval_every`` epochs (and
        after the last) into ``history``; 0 evaluates only after the last.
        Evaluation time is not counted in ``train_seconds``.
    """
    fname = "train_classifier"
    epochs = positive_int(epochs, "epochs", fname)
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"{fname}: schedule must be 'constant' or 'cosine', got {schedule!r}")
    eval_every = positive_int(eval_every, "eval_every", fname, minimum=0)
    device = torch.device(device) if device is not None else pick_device()
    gen = torch.Generator().manual_seed(seed)
    xtr, ytr = (torch.as_tensor(a).to(device) for a in train)
    xte, yte = (torch.as_tensor(a).to(device) for a in test)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(xtr) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine" else None
    loss_fn = nn.CrossEntropyLoss()
    losses, history, seconds = [], [], 0.0
    with deterministic():
        for epoch in range(1, epochs + 1):
            synchronize(device)
            start = time.perf_counter()
            model.train()
            order = torch.randperm(len(xtr), generator=gen).to(device)
            epoch_losses = []
            for i in range(0, len(xtr), batch_size):
                idx = order[i : i + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(xtr[idx]), ytr[idx])
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                epoch_losses.append(loss.item())
            synchronize(device)
            seconds += time.perf_counter() - start
            losses += epoch_losses
            row = {"epoch": epoch, "train_loss": sum(epoch_losses) / len(epoch_losses)}
            if epoch == epochs or (eval_every and epoch % eval_every == 0):
                row["train_accuracy"] = accuracy(model, xtr, ytr)
                row["test_accuracy"] = accuracy(model, xte, yte)
            history.append(row)
    last = history[-1]
    return TrainResult(last["test_accuracy"], last["train_accuracy"], seconds, device.type, losses, history)
