"""Causal convolutions and next-sample prediction in PyTorch: the dilated chapter's WaveNet-style stacks.

* :class:`CausalConv1d`: ``nn.Conv1d`` with ``d (k - 1)`` zeros of left padding,
  so that output ``t`` reads inputs ``<= t`` only and the output is as long as
  the input (the torch twin of :func:`convbook.dilated.causal_conv1d`).
* :func:`causal_stack`: the small next-sample predictor of the dilated chapter
  (causal layers with ``tanh``, then a 1x1 output layer).
* :func:`train_predictor`, :func:`prediction_mse`, :func:`fit_autoregressive`,
  :func:`predict_autoregressive`: one-step-ahead prediction with a mean-squared
  error, the networks trained with Adam, the linear autoregressive baseline
  fitted by least squares.

The gated WaveNet and its generators are in :mod:`convbook.nets.wavenet`.
Importing this module imports torch; ``import convbook`` does not import it.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convbook._args import check_float_array, positive_int, positive_int_list
from convbook.nets.torch_bridge import pick_device
from convbook.nets.training import evaluating

__all__ = [
    "CausalConv1d",
    "causal_stack",
    "fit_autoregressive",
    "predict_autoregressive",
    "prediction_mse",
    "train_predictor",
]


# --------------------------------------------------------------------------- causal layers


class CausalConv1d(nn.Conv1d):
    """``nn.Conv1d`` that pads ``d (k - 1)`` zeros on the left only: a causal convolution.

    Input ``(N, C_in, L)``, output ``(N, C_out, L)``, with
    ``y[n, o, t] = b[o] + sum_{c, j} w[o, c, j] x[n, c, t - d (k - 1 - j)]`` and
    ``x`` taken as zero before ``t = 0``: output ``t`` never reads an input
    after ``t``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        fname = "CausalConv1d"
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            positive_int(value, name, fname)
        positive_int(kernel_size, "kernel_size", fname)
        positive_int(dilation, "dilation", fname)
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)

    @property
    def left_padding(self) -> int:
        """``d (k - 1)``: the zeros padded on the left, and the number of past inputs a generator must keep."""
        return self.dilation[0] * (self.kernel_size[0] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_padding, 0)))  # (N, C_out, L)


def causal_stack(dilations, channels: int = 8, kernel_size: int = 2, in_channels: int = 1) -> nn.Sequential:
    """The dilated chapter's next-sample predictor: causal layers with ``tanh``, then a 1x1 layer to one output.

    Parameters
    ----------
    dilations : sequence of int
        One causal layer per entry, ``kernel_size`` taps at that dilation.
    channels : int
        Channels of every hidden layer.
    kernel_size : int
        Taps per causal layer.
    in_channels : int
        Channels of the input signal.

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, L)`` to ``(N, 1, L)``; output ``t`` is the
        prediction of input ``t + 1`` made from inputs ``<= t``. Its receptive
        field is ``1 + (kernel_size - 1) * sum(dilations)`` samples.
    """
    fname = "causal_stack"
    dils = tuple(positive_int_list(dilations, "dilations", fname))
    positive_int(channels, "channels", fname)
    positive_int(in_channels, "in_channels", fname)
    positive_int(kernel_size, "kernel_size", fname)
    layers: list[nn.Module] = []
    c_in = in_channels
    for d in dils:
        layers += [CausalConv1d(c_in, channels, kernel_size, dilation=d), nn.Tanh()]
        c_in = channels
    layers.append(nn.Conv1d(channels, 1, 1))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- next-sample prediction


def _signal_array(a, name: str, fname: str) -> np.ndarray:
    """``a`` as a float ndarray of shape (N, 1, L) (a torch tensor refused), or a clear error."""
    a = check_float_array(a, name, fname)
    if a.ndim != 3 or a.shape[1] != 1:
        raise ValueError(f"{fname}: {name} must have shape (N, 1, L) (N sequences of one channel), got {a.shape}")
    return a


def _check_skip(skip, length: int, fname: str) -> int:
    skip = positive_int(skip, "skip", fname, minimum=0)
    if skip + 1 >= length:
        raise ValueError(f"{fname}: skip must leave at least one scored sample: skip + 1 < L = {length}, got {skip}")
    return skip


def prediction_mse(model: nn.Module, x, skip: int = 0, device=None) -> float:
    """Mean-squared one-step-ahead error of ``model`` on the sequences ``x``.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 1, L - 1)`` to predictions ``(N, 1, L - 1)``, output ``t``
        predicting ``x[t + 1]`` (e.g. :func:`causal_stack`).
    x : ndarray, shape (N, 1, L), float
    skip : int
        Score only predictions made at ``t >= skip`` (with a full history).
    device : optional
        Where to run; default: the device of the model's parameters.

    Returns
    -------
    float
        ``mean((model(x[..., :-1])[..., skip:] - x[..., skip + 1:]) ** 2)``.
    """
    fname = "prediction_mse"
    x = _signal_array(x, "x", fname)
    skip = _check_skip(skip, x.shape[-1], fname)
    with evaluating(model) as param, torch.no_grad():
        device = torch.device(device) if device is not None else param.device
        xt = torch.as_tensor(x, dtype=param.dtype, device=device)  # (N, 1, L)
        pred = model(xt[:, :, :-1])  # (N, 1, L - 1)
        return F.mse_loss(pred[:, :, skip:], xt[:, :, skip + 1 :]).item()


def train_predictor(
    model: nn.Module,
    train,
    tests: dict | None = None,
    steps: int = 250,
    lr: float = 1e-2,
    skip: int = 0,
    eval_at=(),
    device=None,
) -> list[dict]:
    """Train a next-sample predictor with Adam on the mean-squared error, full batch; return the learning curve.

    The data comes in as arguments (nothing is read from globals). Build the
    model inside ``convbook.nets.training.deterministic(seed)`` for a reproducible
    initialisation; full-batch training has no other randomness.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 1, L - 1)`` to ``(N, 1, L - 1)`` predictions of the next sample.
    train : ndarray, shape (N, 1, L), float
        Training sequences.
    tests : dict of str to ndarray (M, 1, L'), optional
        Sequences to score at every evaluation (e.g. ``{"continuation": ...}``).
    steps : int
        Adam steps (each on all training sequences at once).
    lr : float
        Adam's learning rate.
    skip : int
        The loss and the scores use predictions made at ``t >= skip`` only.
    eval_at : iterable of int
        Steps after which the training and test errors are recorded; the last
        step is always recorded.
    device : optional
        Default :func:`convbook.nets.torch_bridge.pick_device`.

    Returns
    -------
    list of dict
        One dict per evaluation: ``step``, ``train_mse`` and one ``<name>_mse``
        per entry of ``tests``.
    """
    fname = "train_predictor"
    train = _signal_array(train, "train", fname)
    tests = dict(tests or {})
    for name, value in tests.items():
        _signal_array(value, f"tests[{name!r}]", fname)
    steps = positive_int(steps, "steps", fname)
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(f"{fname}: lr must be a number, got {type(lr).__name__}")
    if not lr > 0:
        raise ValueError(f"{fname}: lr must be a positive number, got {lr!r}")
    skip = _check_skip(skip, train.shape[-1], fname)
    checkpoints = {positive_int(s, "each eval_at step", fname) for s in eval_at} | {steps}
    device = torch.device(device) if device is not None else pick_device()
    model = model.to(device)
    xtr = torch.as_tensor(train, dtype=torch.float32, device=device)  # (N, 1, L)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(1, steps + 1):
        model.train()
        opt.zero_grad()
        pred = model(xtr[:, :, :-1])  # (N, 1, L - 1): prediction of sample t + 1 made at t
        loss = F.mse_loss(pred[:, :, skip:], xtr[:, :, skip + 1 :])
        loss.backward()
        opt.step()
        if step in checkpoints:
            row = {"step": step, "train_mse": prediction_mse(model, train, skip, device)}
            for name, value in tests.items():
                row[f"{name}_mse"] = prediction_mse(model, value, skip, device)
            history.append(row)
    return history


def _ar_design(x: np.ndarray, order: int, skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[x[t - order + 1], ..., x[t], 1]`` and targets ``x[t + 1]`` for ``skip <= t < L - 1``."""
    windows = np.lib.stride_tricks.sliding_window_view(x[:, 0, :-1], order, axis=-1)  # (N, L - order, order)
    windows = windows[:, skip - order + 1 :]  # (N, L - 1 - skip, order): windows ending at t = skip, ..., L - 2
    rows = windows.reshape(-1, order)  # (N (L - 1 - skip), order)
    design = np.hstack([rows, np.ones((len(rows), 1))])  # (rows, order + 1)
    return design, x[:, 0, skip + 1 :].reshape(-1)


def fit_autoregressive(train, order: int, skip: int | None = None) -> np.ndarray:
    """Least-squares linear predictor of the next sample from the last ``order`` samples (an AR(order) model).

    Parameters
    ----------
    train : ndarray, shape (N, 1, L), float
    order : int
        Number of past samples, ``x[t - order + 1], ..., x[t]``, that predict ``x[t + 1]``.
    skip : int, optional
        Fit on predictions made at ``t >= skip`` only (default ``order - 1``,
        every full window); must be at least ``order - 1``.

    Returns
    -------
    ndarray, shape (order + 1,)
        The coefficients of ``x[t - order + 1], ..., x[t]``, then the intercept.
    """
    fname = "fit_autoregressive"
    train = _signal_array(train, "train", fname)
    order = positive_int(order, "order", fname)
    skip = order - 1 if skip is None else positive_int(skip, "skip", fname, minimum=0)
    if skip < order - 1:
        raise ValueError(f"{fname}: skip must be at least order - 1 = {order - 1} (a full window), got {skip}")
    _check_skip(skip, train.shape[-1], fname)
    design, target = _ar_design(train.astype(np.float64), order, skip)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coef


def predict_autoregressive(coef, x, skip: int | None = None) -> tuple[np.ndarray, float]:
    """Predictions of :func:`fit_autoregressive`'s model on ``x``, and their mean-squared error.

    Parameters
    ----------
    coef : ndarray, shape (order + 1,)
    x : ndarray, shape (N, 1, L), float
    skip : int, optional
        Score predictions made at ``t >= skip`` (default ``order - 1``).

    Returns
    -------
    pred : ndarray, shape (N, L - 1 - skip)
        ``pred[n, i]`` predicts ``x[n, 0, skip + 1 + i]``.
    mse : float
    """
    fname = "predict_autoregressive"
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 1 or coef.size < 2:
        raise ValueError(f"{fname}: coef must be 1-D with order + 1 >= 2 entries, got shape {coef.shape}")
    x = _signal_array(x, "x", fname)
    order = coef.size - 1
    skip = order - 1 if skip is None else positive_int(skip, "skip", fname, minimum=0)
    if skip < order - 1:
        raise ValueError(f"{fname}: skip must be at least order - 1 = {order - 1} (a full window), got {skip}")
    _check_skip(skip, x.shape[-1], fname)
    design, target = _ar_design(x.astype(np.float64), order, skip)
    pred = design @ coef  # (N (L - 1 - skip),)
    return pred.reshape(x.shape[0], -1), float(np.mean((pred - target) ** 2))
