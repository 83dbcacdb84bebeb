"""``profile``: count the weights and multiply-adds of every conv/linear layer of a model.

It runs one forward pass on zeros of ``input_shape`` with hooks that record
each layer's output shape, then counts each layer with :mod:`convbook.costs`
(``conv_cost`` for a convolution of any kind, ``linear_cost`` for a fully
connected layer): torch supplies the shapes, the library's one counter the
numbers. Only ``Conv1d``, ``Conv2d`` and ``Linear`` layers are counted: batch
norms, activations and pooling are left out, as in the MobileNet and GoogLeNet papers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn

from convbook.costs import conv_cost, linear_cost

KINDS = ("conv", "dilated", "depthwise", "pointwise", "grouped", "linear")


@dataclass(frozen=True)
class LayerRow:
    """One counted layer. ``macs`` are for the whole input batch given to :func:`profile`."""

    name: str
    kind: str
    params: int
    macs: int
    in_shape: tuple
    out_shape: tuple
    kernel_size: tuple = ()
    stride: tuple = ()
    dilation: tuple = ()
    groups: int = 1


def layer_kind(module: nn.Module) -> str:
    """Classify a layer as one of :data:`KINDS`.

    ``depthwise``: ``groups == C_in > 1``; ``grouped``: ``1 < groups < C_in``;
    ``pointwise``: a 1x1 (or size-1) kernel with ``groups == 1``;
    ``dilated``: any dilation above 1; ``conv``: any other convolution.
    """
    if isinstance(module, nn.Linear):
        return "linear"
    if not isinstance(module, (nn.Conv1d, nn.Conv2d)):
        raise TypeError(f"layer_kind: expected Conv1d, Conv2d or Linear, got {type(module).__name__}")
    if module.groups > 1 and module.groups == module.in_channels:
        return "depthwise"
    if module.groups > 1:
        return "grouped"
    if all(k == 1 for k in module.kernel_size):
        return "pointwise"
    if any(d > 1 for d in module.dilation):
        return "dilated"
    return "conv"


class Profile(list):
    """A list of :class:`LayerRow` that prints as a table and knows its totals."""

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self)

    def by_kind(self) -> dict[str, dict[str, int]]:
        """Totals per layer kind: ``{kind: {'layers', 'params', 'macs'}}``, in :data:`KINDS` order."""
        acc = defaultdict(lambda: {"layers": 0, "params": 0, "macs": 0})
        for r in self:
            acc[r.kind]["layers"] += 1
            acc[r.kind]["params"] += r.params
            acc[r.kind]["macs"] += r.macs
        return {k: acc[k] for k in KINDS if k in acc}

    def summary(self) -> str:
        """A short table of the totals per kind, with shares in percent."""
        lines = [f"{'kind':<10} {'layers':>6} {'params':>12} {'%':>6} {'MACs':>15} {'%':>6}"]
        P, M = max(self.total_params, 1), max(self.total_macs, 1)
        for kind, t in self.by_kind().items():
            lines.append(
                f"{kind:<10} {t['layers']:>6} {t['params']:>12,} {100 * t['params'] / P:>6.1f} "
                f"{t['macs']:>15,} {100 * t['macs'] / M:>6.1f}"
            )
        lines.append(f"{'total':<10} {len(self):>6} {self.total_params:>12,} {'':>6} {self.total_macs:>15,}")
        return "\n".join(lines)

    def __str__(self) -> str:
        head = f"{'name':<28} {'kind':<10} {'out shape':<20} {'params':>12} {'MACs':>15}"
        lines = [head, "-" * len(head)]
        for r in self:
            shape = "x".join(str(s) for s in r.out_shape)
            lines.append(f"{r.name:<28} {r.kind:<10} {shape:<20} {r.params:>12,} {r.macs:>15,}")
        lines.append("-" * len(head))
        lines.append(f"{'total':<28} {'':<10} {'':<20} {self.total_params:>12,} {self.total_macs:>15,}")
        return "\n".join(lines)

    __repr__ = __str__


def _row(name: str, module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> LayerRow:
    bias = module.bias is not None
    if isinstance(module, nn.Linear):  # applied to every row of (..., in_features)
        cost = linear_cost(module.in_features, module.out_features, bias, rows=max(out.numel() // out.shape[-1], 1))
        return LayerRow(name, "linear", cost.params, cost.macs, tuple(inp.shape), tuple(out.shape))
    nd = len(module.kernel_size)
    batch = out.shape[0] if out.ndim == nd + 2 else 1  # torch also takes an unbatched (C, *spatial) input
    cost = conv_cost(
        module.in_channels, module.out_channels, tuple(module.kernel_size), tuple(out.shape[-nd:]), module.groups, bias
    )
    return LayerRow(
        name,
        layer_kind(module),
        cost.params,
        batch * cost.macs,
        tuple(inp.shape),
        tuple(out.shape),
        tuple(module.kernel_size),
        tuple(module.stride),
        tuple(module.dilation),
        module.groups,
    )


def profile(model: nn.Module, input_shape) -> Profile:
    """Weights and multiply-adds of every ``Conv1d``, ``Conv2d`` and ``Linear`` in ``model``.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Shape of the input tensor, batch included, e.g. ``(1, 3, 224, 224)``.
        MACs are counted for that whole batch; use a batch of 1 for per-image
        figures, as papers quote them.

    Returns
    -------
    Profile
        One :class:`LayerRow` per layer call, in execution order (a layer used
        twice appears twice, its parameters counted once). ``total_params``,
        ``total_macs`` and ``by_kind()`` give totals; printing it gives a table.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"profile: model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(input_shape, (tuple, list, torch.Size)) or not all(
        isinstance(s, int) and s > 0 for s in input_shape
    ):
        raise ValueError(f"profile: input_shape must be a tuple of positive ints, got {input_shape!r}")
    names = {m: n for n, m in model.named_modules()}
    rows, seen, hooks = Profile(), set(), []

    def hook(module, inputs, output):
        row = _row(names.get(module, type(module).__name__), module, inputs[0], output)
        if module in seen:  # parameters are shared: count them once
            row = LayerRow(**{**row.__dict__, "params": 0})
        seen.add(module)
        rows.append(row)

    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(hook))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape), device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows
