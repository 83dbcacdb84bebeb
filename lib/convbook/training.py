"""A small, deterministic training loop shared by the chapters' experiments (imports torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .torch_bridge import pick_device, synchronize


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class TrainResult:
    """What :func:`train_classifier` measured."""

    test_accuracy: float
    train_accuracy: float
    train_seconds: float
    device: str
    losses: list = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (convbook's NumPy code takes explicit generators)."""
    torch.manual_seed(seed)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Fraction of ``x`` whose arg-max prediction equals ``y``. Works for per-pixel labels too."""
    model.eval()
    correct, total = 0, 0
    for i in range(0, len(x), batch_size):
        pred = model(x[i : i + batch_size]).argmax(dim=1)
        correct += (pred == y[i : i + batch_size]).sum().item()
        total += y[i : i + batch_size].numel()
    return correct / total


def train_classifier(
    model: nn.Module, train, test, epochs: int = 5, batch_size: int = 64, lr: float = 3e-3, seed: int = 0, device=None
) -> TrainResult:
    """Train ``model`` with Adam and cross-entropy; return test accuracy and time.

    Parameters
    ----------
    model : nn.Module
        Maps ``(B, C, H, W)`` to logits ``(B, K)`` (or ``(B, K, H, W)`` for
        per-pixel labels).
    train, test : (ndarray, ndarray)
        Inputs and integer labels.
    epochs, batch_size, lr : training settings
    seed : int
        Seeds the weight initialisation (call before building ``model`` too)
        and the shuffling.
    device : optional
        Default :func:`convbook.torch_bridge.pick_device`.
    """
    device = torch.device(device) if device is not None else pick_device()
    gen = torch.Generator().manual_seed(seed)
    xtr, ytr = (torch.as_tensor(a).to(device) for a in train)
    xte, yte = (torch.as_tensor(a).to(device) for a in test)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen).to(device)
        for i in range(0, len(xtr), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    synchronize(device)
    seconds = time.perf_counter() - start
    return TrainResult(accuracy(model, xte, yte), accuracy(model, xtr, ytr), seconds, device.type, losses)
