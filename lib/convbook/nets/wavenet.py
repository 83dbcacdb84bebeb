"""WaveNet in PyTorch: the gated residual network, mu-law quantisation, and fast generation (imports torch).

* :func:`mu_law_encode`, :func:`mu_law_decode`: WaveNet's companding
  quantisation (NumPy).
* :class:`WaveNet`: van den Oord et al.'s network (2016): a causal input
  layer, then layers of gated activations ``tanh(W_f * x) * sigmoid(W_g * x)``
  with residual and skip connections, and a head that maps the summed skips
  to a categorical distribution over the (mu-law) quantised next sample;
  :func:`train_wavenet` trains it.
* :func:`generate_naive` and :func:`generate_cached`: sampling from a
  :class:`WaveNet` one sample at a time. The naive generator reruns the whole
  network over the last ``receptive_field`` samples for every new sample. The
  cached one keeps, for every layer, a queue of the layer's last ``d (k - 1)``
  inputs (Paine et al. 2016, "Fast Wavenet Generation Algorithm"), so a new
  sample costs one position per layer instead of ``receptive_field``
  positions. Both draw from the same uniform numbers and give the same samples.

The causal convolution and the small next-sample predictors are in
:mod:`convbook.nets.causal`. Importing this module imports torch.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from convbook._args import positive_int, positive_int_list
from convbook.costs import conv_cost
from convbook.nets.causal import CausalConv1d
from convbook.nets.torch_bridge import device_for, pick_device

__all__ = [
    "GatedResidualLayer",
    "WaveNet",
    "generate_cached",
    "generate_naive",
    "generation_macs",
    "mu_law_decode",
    "mu_law_encode",
    "train_wavenet",
]


# --------------------------------------------------------------------------- mu-law


def mu_law_encode(x, classes: int = 256) -> np.ndarray:
    """Quantise ``x`` in [-1, 1] to ``classes`` levels with mu-law companding (``mu = classes - 1``).

    ``f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)``, then ``round((f + 1) / 2 * mu)``.
    Values outside [-1, 1] are clipped.

    Returns
    -------
    ndarray of int64, same shape as ``x``, values in ``0 .. classes - 1``.
    """
    fname = "mu_law_encode"
    classes = positive_int(classes, "classes", fname, minimum=2)
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    mu = classes - 1
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.rint((f + 1) / 2 * mu).astype(np.int64)


def mu_law_decode(q, classes: int = 256) -> np.ndarray:
    """The inverse of :func:`mu_law_encode` (up to the quantisation): levels back to values in [-1, 1]."""
    fname = "mu_law_decode"
    classes = positive_int(classes, "classes", fname, minimum=2)
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"{fname}: q must hold integer levels, got dtype {q.dtype}")
    if q.size and (q.min() < 0 or q.max() >= classes):
        raise ValueError(f"{fname}: levels must lie in 0 .. {classes - 1}, got {q.min()} .. {q.max()}")
    mu = classes - 1
    f = 2 * q.astype(np.float64) / mu - 1
    return np.sign(f) * np.expm1(np.abs(f) * np.log1p(mu)) / mu


# --------------------------------------------------------------------------- WaveNet


class GatedResidualLayer(nn.Module):
    """One WaveNet layer: a dilated causal convolution, a gated activation, residual and skip 1x1 convolutions.

    ``z = tanh(W_f * x) * sigmoid(W_g * x)`` (``W_f`` and ``W_g`` are the two
    halves of one causal convolution with ``2 * gate_channels`` outputs), then
    ``x + W_r z`` goes to the next layer and ``W_s z`` to the skip sum.

    Input ``(N, residual_channels, L)``; returns ``(residual (N, residual_channels, L),
    skip (N, skip_channels, L))``.
    """

    def __init__(self, residual_channels: int, gate_channels: int, skip_channels: int, dilation: int, kernel_size=2):
        super().__init__()
        self.conv = CausalConv1d(residual_channels, 2 * gate_channels, kernel_size, dilation=dilation)
        self.residual = nn.Conv1d(gate_channels, residual_channels, 1)
        self.skip = nn.Conv1d(gate_channels, skip_channels, 1)

    def gate(self, a: torch.Tensor) -> torch.Tensor:
        """``tanh`` of the first half of the channels times ``sigmoid`` of the second half (dim 1)."""
        f, g = a.chunk(2, dim=1)  # (N, G, ...) each
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.gate(self.conv(x))  # (N, G, L)
        return x + self.residual(z), self.skip(z)


class WaveNet(nn.Module):
    """van den Oord et al.'s WaveNet (2016), small: gated residual layers, skip connections, a softmax head.

    Parameters
    ----------
    classes : int
        Quantisation levels of a sample (256 in the paper, with mu-law companding).
    residual_channels, gate_channels, skip_channels : int
        Channels of the residual stream, of each gate, and of the skip sum.
    dilations : sequence of int
        One :class:`GatedResidualLayer` per entry; the paper repeats
        ``1, 2, 4, ..., 512``.
    kernel_size : int
        Taps of every dilated causal convolution (2 in the paper).

    Notes
    -----
    ``forward`` maps a one-hot input ``(N, classes, L)`` to logits
    ``(N, classes, L)``; output ``t`` is the distribution of sample ``t + 1``
    given samples ``<= t``. A causal input layer (2 taps) turns the one-hot
    input into the residual stream; the head is ``ReLU, 1x1, ReLU, 1x1`` on
    the sum of the skips. :attr:`receptive_field` counts the samples that one
    output depends on.
    """

    def __init__(
        self,
        classes: int = 256,
        residual_channels: int = 16,
        gate_channels: int = 16,
        skip_channels: int = 32,
        dilations=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        kernel_size: int = 2,
    ):
        super().__init__()
        fname = "WaveNet"
        self.classes = positive_int(classes, "classes", fname, minimum=2)
        for name, value in (
            ("residual_channels", residual_channels),
            ("gate_channels", gate_channels),
            ("skip_channels", skip_channels),
        ):
            positive_int(value, name, fname)
        positive_int(kernel_size, "kernel_size", fname, minimum=2)
        self.dilations = tuple(positive_int_list(dilations, "dilations", fname))
        self.kernel_size = int(kernel_size)
        self.input_conv = CausalConv1d(classes, residual_channels, 2)
        self.layers = nn.ModuleList(
            GatedResidualLayer(residual_channels, gate_channels, skip_channels, d, kernel_size) for d in self.dilations
        )
        self.head1 = nn.Conv1d(skip_channels, skip_channels, 1)
        self.head2 = nn.Conv1d(skip_channels, classes, 1)

    @property
    def receptive_field(self) -> int:
        """Samples that one output depends on: ``2 + (kernel_size - 1) * sum(dilations)``."""
        return 2 + (self.kernel_size - 1) * sum(self.dilations)

    def one_hot(self, q: torch.Tensor) -> torch.Tensor:
        """Levels ``(N, L)`` (int64) as the one-hot input ``(N, classes, L)`` in the model's dtype."""
        dtype = self.head2.weight.dtype
        return F.one_hot(q, self.classes).to(dtype).transpose(1, 2)  # (N, classes, L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[0]

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits ``(N, classes, L)`` and every causal convolution's input (for :func:`generate_cached`)."""
        inputs = [x]  # (N, classes, L), then (N, R, L) per layer
        h = self.input_conv(x)  # (N, R, L)
        skips = 0
        for layer in self.layers:
            inputs.append(h)
            h, s = layer(h)  # (N, R, L), (N, S, L)
            skips = skips + s
        out = self.head2(F.relu(self.head1(F.relu(skips))))  # (N, classes, L)
        return out, inputs

    def _convs(self) -> list[CausalConv1d]:
        return [self.input_conv] + [layer.conv for layer in self.layers]


def generation_macs(model: WaveNet) -> dict:
    """Multiply-adds per generated sample of the naive and the cached generator (weights only, no activations).

    Returns a dict: ``per_position`` (one output position of the whole network), ``naive`` (``receptive_field``
    positions per sample), ``cached`` (one position per sample) and their ``ratio`` (the receptive field).
    """
    if not isinstance(model, WaveNet):
        raise TypeError(f"generation_macs: model must be a WaveNet, got {type(model).__name__}")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]  # each counted at one output position
    per = sum(conv_cost(m.in_channels, m.out_channels, m.kernel_size, (1,), groups=m.groups).macs for m in convs)
    field = model.receptive_field
    return {"per_position": per, "naive": per * field, "cached": per, "ratio": field}


def _check_generation_args(model, steps, prime, temperature, seed, fname):
    if not isinstance(model, WaveNet):
        raise TypeError(f"{fname}: model must be a WaveNet, got {type(model).__name__}")
    steps = positive_int(steps, "steps", fname)
    if not isinstance(prime, torch.Tensor) or prime.dtype != torch.int64 or prime.ndim != 2 or prime.shape[1] < 1:
        what = f"{prime.dtype} tensor of shape {tuple(prime.shape)}" if isinstance(prime, torch.Tensor) else type(prime)
        raise TypeError(f"{fname}: prime must be an int64 tensor of shape (N, T0) with T0 >= 1, got {what}")
    if prime.numel() and (prime.min() < 0 or prime.max() >= model.classes):
        raise ValueError(f"{fname}: prime levels must lie in 0 .. {model.classes - 1}")
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise TypeError(f"{fname}: temperature must be a number, got {type(temperature).__name__}")
    if temperature < 0:
        raise ValueError(f"{fname}: temperature must be a non-negative number (0: greedy), got {temperature!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"{fname}: seed must be an int, got {type(seed).__name__}")
    device = next(model.parameters()).device
    uniforms = torch.rand(prime.shape[0], steps, generator=torch.Generator().manual_seed(int(seed)))  # (N, steps)
    return steps, prime.to(device), uniforms.to(device=device, dtype=_sample_dtype(device))


def _sample_dtype(device: torch.device) -> torch.dtype:
    """float64 for the sampling arithmetic, except on Apple's MPS, which has none (``device_for``'s rule)."""
    return torch.float64 if device_for(torch.float64, device) == device else torch.float32


def _sample(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """One level per row of ``logits`` (N, classes): inverse-CDF sampling with the given uniforms ``u`` (N,)."""
    if temperature == 0:
        return logits.argmax(dim=1)
    cdf = torch.softmax(logits.to(u.dtype) / temperature, dim=1).cumsum(dim=1)  # (N, classes)
    return (cdf < u[:, None]).sum(dim=1).clamp(max=logits.shape[1] - 1)


@torch.no_grad()
def generate_naive(
    model: WaveNet, steps: int, prime: torch.Tensor, temperature: float = 1.0, seed: int = 0, return_logits=False
):
    """Generate ``steps`` samples after ``prime`` by rerunning the network over the receptive field each time.

    For every new sample the whole network runs over the last
    ``model.receptive_field`` samples (fewer at the start), and only its last
    output is used: ``receptive_field`` positions per layer per sample.

    Parameters
    ----------
    model : WaveNet
    steps : int
        Samples to generate.
    prime : torch.Tensor, int64, shape (N, T0)
        The history to continue (``T0 >= 1``); ``N`` sequences at once.
    temperature : float
        Divides the logits before the softmax; 0 picks the most likely level.
    seed : int
        Seeds the uniform numbers of inverse-CDF sampling, drawn up front, so
        that two generators with the same seed draw the same numbers.
    return_logits : bool
        Also return the logits each sample was drawn from.

    Returns
    -------
    samples : torch.Tensor, int64, shape (N, steps)
    logits : torch.Tensor, shape (N, steps, classes), only with ``return_logits``
    """
    steps, seq, uniforms = _check_generation_args(model, steps, prime, temperature, seed, "generate_naive")
    field = model.receptive_field
    samples, all_logits = [], []
    for i in range(steps):
        logits = model(model.one_hot(seq[:, -field:]))[:, :, -1]  # (N, classes): the last position only
        nxt = _sample(logits, uniforms[:, i], temperature)  # (N,)
        samples.append(nxt)
        all_logits.append(logits)
        seq = torch.cat([seq, nxt[:, None]], dim=1)  # (N, T0 + i + 1)
    out = torch.stack(samples, dim=1)  # (N, steps)
    return (out, torch.stack(all_logits, dim=1)) if return_logits else out


def _conv_step(conv: CausalConv1d, queue: torch.Tensor, t: int, h: torch.Tensor) -> torch.Tensor:
    """Output of ``conv`` at time ``t`` from its input ``h`` (N, C_in) at ``t`` and the queue of its past inputs.

    ``queue`` (N, C_in, d (k - 1)) holds the input at time ``s`` in slot
    ``s mod d (k - 1)`` for the last ``d (k - 1)`` times (zeros before time 0).
    Tap ``j`` reads the input at ``t - d (k - 1 - j)``. ``h`` then replaces
    the oldest entry, the one at ``t - d (k - 1)``, which no later step needs.
    """
    k, d = conv.kernel_size[0], conv.dilation[0]
    w = conv.weight  # (C_out, C_in, k)
    out = F.linear(h, w[:, :, k - 1], conv.bias)  # (N, C_out): the tap on the current input
    size = d * (k - 1)
    for j in range(k - 1):
        out = out + F.linear(queue[:, :, (t - d * (k - 1 - j)) % size], w[:, :, j])  # (N, C_out)
    queue[:, :, t % size] = h
    return out


def _fill_queues(model: WaveNet, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Queues holding each causal convolution's last ``d (k - 1)`` inputs of the prime, in time-modulo slots."""
    queues = []
    for conv, x in zip(model._convs(), inputs):
        size, length = conv.left_padding, x.shape[-1]
        last = F.pad(x, (size, 0))[:, :, -size:]  # (N, C_in, size): inputs at times length - size .. length - 1
        slots = torch.arange(length - size, length, device=x.device) % size
        queue = torch.empty_like(last)
        queue[:, :, slots] = last
        queues.append(queue)
    return queues


@torch.no_grad()
def generate_cached(
    model: WaveNet, steps: int, prime: torch.Tensor, temperature: float = 1.0, seed: int = 0, return_logits=False
):
    """Generate like :func:`generate_naive`, with a queue of past inputs per layer (Paine et al. 2016).

    One parallel pass over ``prime`` fills, for every causal convolution, a
    queue with its last ``d (k - 1)`` inputs. Each new sample then costs one
    position per layer: the convolution reads its taps from the queue (the
    input ``d``, ``2 d``, ... samples ago) instead of recomputing them, and the
    current input replaces the oldest entry. Same parameters and result as
    :func:`generate_naive` (the same samples for the same ``seed``; the logits
    agree to rounding, since the sums are taken in another order).
    """
    steps, prime, uniforms = _check_generation_args(model, steps, prime, temperature, seed, "generate_cached")
    logits_seq, inputs = model._forward(model.one_hot(prime))  # (N, classes, T0), inputs per causal conv
    queues = _fill_queues(model, inputs)
    convs = model._convs()
    t = prime.shape[1]  # the time of the next input
    logits = logits_seq[:, :, -1]  # (N, classes)
    samples, all_logits = [], []
    for i in range(steps):
        nxt = _sample(logits, uniforms[:, i], temperature)  # (N,)
        samples.append(nxt)
        all_logits.append(logits)
        if i == steps - 1:
            break
        x = F.one_hot(nxt, model.classes).to(logits_seq.dtype)  # (N, classes)
        h = _conv_step(convs[0], queues[0], t, x)  # (N, R)
        skips = 0
        for layer, conv, queue in zip(model.layers, convs[1:], queues[1:]):
            z = layer.gate(_conv_step(conv, queue, t, h))  # (N, G)
            skips = skips + F.linear(z, layer.skip.weight[:, :, 0], layer.skip.bias)  # (N, S)
            h = h + F.linear(z, layer.residual.weight[:, :, 0], layer.residual.bias)  # (N, R)
        hidden = F.relu(F.linear(F.relu(skips), model.head1.weight[:, :, 0], model.head1.bias))  # (N, S)
        logits = F.linear(hidden, model.head2.weight[:, :, 0], model.head2.bias)  # (N, classes)
        t += 1
    out = torch.stack(samples, dim=1)  # (N, steps)
    return (out, torch.stack(all_logits, dim=1)) if return_logits else out


def train_wavenet(model: WaveNet, levels, steps: int = 300, lr: float = 3e-3, device=None) -> list[float]:
    """Train ``model`` to predict each next level (cross-entropy), full batch with Adam; return the losses.

    Parameters
    ----------
    model : WaveNet
    levels : ndarray of int, shape (N, L)
        Quantised training sequences (e.g. :func:`mu_law_encode` of a signal).
    steps, lr : Adam steps and learning rate.
    device : optional
        Default :func:`convbook.nets.torch_bridge.pick_device`.

    Returns
    -------
    list of float
        The training loss (nats per sample) before each step.
    """
    fname = "train_wavenet"
    if not isinstance(model, WaveNet):
        raise TypeError(f"{fname}: model must be a WaveNet, got {type(model).__name__}")
    levels = np.asarray(levels)
    if levels.dtype.kind not in "iu" or levels.ndim != 2 or levels.shape[1] < 2:
        raise ValueError(
            f"{fname}: levels must be an int array of shape (N, L) with L >= 2, got {levels.dtype} {levels.shape}"
        )
    if levels.min() < 0 or levels.max() >= model.classes:
        raise ValueError(f"{fname}: levels must lie in 0 .. {model.classes - 1}")
    steps = positive_int(steps, "steps", fname)
    device = torch.device(device) if device is not None else pick_device()
    model = model.to(device)
    q = torch.as_tensor(levels, dtype=torch.int64, device=device)  # (N, L)
    x = model.one_hot(q[:, :-1])  # (N, classes, L - 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), q[:, 1:])  # logits (N, classes, L - 1) against the next levels
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
