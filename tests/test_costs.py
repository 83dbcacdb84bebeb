"""convbook.costs, the one counter, against counts made without its formula.

Multiply-adds are *measured*: a convolution of an all-ones input with all-ones weights (torch's, no padding)
writes, in each output element, the number of products summed into it, so the sum of the output is the number of
multiply-adds. Weights are counted by torch (``numel`` of the layer's parameters). A few counts are written out by
hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convbook
from convbook.costs import (
    LayerCost,
    conv_cost,
    conv_intensity,
    conv_macs,
    cost_shares,
    depthwise_cost,
    dilated_cost,
    dilated_kernel_macs,
    inverted_residual_cost,
    linear_cost,
    pointwise_cost,
    separable_cost,
)
from convbook.dilated import dilate_kernel
from convbook.nets.models import InvertedResidual
from convbook.nets.profiler import profile


def measured(c_in, c_out, kernel, size, groups=1, dilation=1, stride=1, batch=1):
    """(multiply-adds, output spatial shape) of a torch convolution, measured with all-ones tensors."""
    conv = F.conv2d if len(kernel) == 2 else F.conv1d
    x = torch.ones(batch, c_in, *size, dtype=torch.float64)
    w = torch.ones(c_out, c_in // groups, *kernel, dtype=torch.float64)
    y = conv(x, w, stride=stride, dilation=dilation, groups=groups)  # every product is 1 * 1 = 1
    return int(y.sum().item()), tuple(y.shape[2:])


def torch_weights(c_in, c_out, kernel, groups=1, bias=False, dilation=1):
    layer = (nn.Conv2d if len(kernel) == 2 else nn.Conv1d)(
        c_in, c_out, kernel, groups=groups, bias=bias, dilation=dilation
    )
    return sum(p.numel() for p in layer.parameters())


# --------------------------------------------------------------------------- every layer kind, measured


@pytest.mark.parametrize(
    "c_in, c_out, kernel, size, groups",
    [
        (3, 8, (3, 3), (9, 7), 1),  # standard
        (8, 12, (3, 5), (10, 11), 4),  # grouped, rectangular kernel
        (6, 6, (3, 3), (8, 8), 6),  # depthwise
        (6, 12, (5, 5), (9, 9), 6),  # depthwise, depth multiplier 2
        (5, 7, (1, 1), (4, 6), 1),  # pointwise
        (8, 4, (1, 1), (5, 5), 2),  # grouped pointwise (ShuffleNet)
        (4, 6, (5,), (20,), 2),  # 1-D
    ],
)
@pytest.mark.parametrize("bias", [False, True])
def test_conv_cost_equals_the_measured_count_and_torchs_weights(c_in, c_out, kernel, size, groups, bias):
    macs, out = measured(c_in, c_out, kernel, size, groups)
    cost = conv_cost(c_in, c_out, kernel, out, groups=groups, bias=bias)
    assert cost.macs == macs
    assert cost.params == torch_weights(c_in, c_out, kernel, groups, bias)
    assert cost.flops == 2 * macs


def test_the_named_kinds_equal_their_measured_layers():
    macs, out = measured(6, 12, (3, 3), (9, 9), groups=6)  # depth multiplier 2
    assert depthwise_cost(6, 3, out, depth_multiplier=2) == LayerCost(torch_weights(6, 12, (3, 3), 6), macs)
    macs, out = measured(8, 4, (1, 1), (5, 5), groups=2)
    assert pointwise_cost(8, 4, out, groups=2) == LayerCost(torch_weights(8, 4, (1, 1), 2), macs)
    macs, out = measured(4, 6, (1,), (7,))
    assert pointwise_cost(4, 6, out) == LayerCost(24, macs)


def test_separable_cost_is_its_two_measured_layers():
    dw_macs, out = measured(8, 8, (3, 3), (20, 20), groups=8)
    pw_macs, _ = measured(8, 32, (1, 1), out)
    dw, pw = separable_cost(8, 32, 3, out)
    assert (dw.macs, pw.macs) == (dw_macs, pw_macs)
    assert (dw.params, pw.params) == (torch_weights(8, 8, (3, 3), 8), torch_weights(8, 32, (1, 1)))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_dilation_changes_no_count_of_the_gap_form(d):
    macs, out = measured(4, 6, (3, 3), (20, 20), dilation=d)
    cost = dilated_cost(4, 6, 3, out, dilation=d)
    assert cost == LayerCost(torch_weights(4, 6, (3, 3), dilation=d), macs)
    assert cost == conv_cost(4, 6, 3, out)  # the same layer undilated, on a map of the same size


@pytest.mark.parametrize("d", [1, 2, 4])
def test_zero_insertion_multiplies_by_every_tap_of_the_dilated_kernel(d):
    w = np.ones((6, 4, 3, 3))
    taps = np.prod(dilate_kernel(w, d).shape[2:])  # what the zero-insertion form convolves with
    macs, out = measured(4, 6, tuple(dilate_kernel(w, d).shape[2:]), (20, 20))  # an ordinary conv of that size
    cost = dilated_cost(4, 6, 3, out, dilation=d, zero_inserted=True)
    assert cost.macs == macs == 6 * 4 * taps * int(np.prod(out))
    assert cost.params == 6 * 4 * 9  # the weights are still 3 x 3
    assert dilated_kernel_macs(4, 6, 3, d, out) == macs


def test_linear_cost_equals_torchs_linear():
    layer = nn.Linear(20, 7)
    assert linear_cost(20, 7) == LayerCost(sum(p.numel() for p in layer.parameters()), 140)
    assert linear_cost(20, 7, bias=False, rows=5) == LayerCost(140, 700)  # applied at 5 positions


def test_inverted_residual_cost_equals_the_torch_blocks_weights_and_a_hand_count():
    block = InvertedResidual(24, 24, stride=1, expansion=6)
    conv_weights = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d))
    cost = inverted_residual_cost(24, 24, 56, expansion=6, stride=1)
    assert cost["total"].params == conv_weights == 24 * 144 + 144 * 9 + 144 * 24  # 8208
    # by hand: expand 56^2 * 144 * 24, depthwise 56^2 * 144 * 9, project 56^2 * 24 * 144
    assert cost["total"].macs == 3136 * 3456 + 3136 * 1296 + 3136 * 3456 == 25_740_288
    assert cost["residual"] and cost["mid_channels"] == 144 and cost["out_size"] == 56
    strided = inverted_residual_cost(32, 64, 28, expansion=6, stride=2)
    assert strided["out_size"] == 14 and strided["expand"].macs == 28 * 28 * 32 * 192
    assert strided["depthwise"].macs == 14 * 14 * 192 * 9 and not strided["residual"]


def test_conv_cost_matches_torch_numel_and_the_seed_example():
    standard = conv_cost(8, 32, 3, 18)
    dw, pw = separable_cost(8, 32, 3, 18)
    assert standard.params == 2304 == torch.nn.Conv2d(8, 32, 3, bias=False).weight.numel()
    assert dw.params + pw.params == 328
    torch_pair = (torch.nn.Conv2d(8, 8, 3, groups=8, bias=False), torch.nn.Conv2d(8, 32, 1, bias=False))
    assert sum(m.weight.numel() for m in torch_pair) == 328
    assert round(standard.params / (dw.params + pw.params), 2) == 7.02
    assert standard.macs == 18 * 18 * 2304
    assert standard.flops == 2 * standard.macs
    ratio = (dw.macs + pw.macs) / standard.macs
    assert ratio == pytest.approx(1 / 32 + 1 / 9)


def test_dilated_kernel_macs_count_the_zeros():
    assert convbook.dilated_kernel_macs(1, 1, 3, 1, 10) == conv_cost(1, 1, 3, 10).macs
    assert convbook.dilated_kernel_macs(1, 1, 3, 2, 10) == 25 * 100
    with pytest.raises(ValueError, match="groups=3 must divide"):
        conv_cost(4, 6, 3, 5, groups=3)


# --------------------------------------------------------------------------- whole calls and whole models


@pytest.mark.parametrize(
    "x_shape, w_shape, kw",
    [
        ((2, 4, 10, 10), (8, 2, 3, 3), dict(groups=2)),
        ((3, 16, 12, 12), (16, 16, 3, 3), dict(padding="same", dilation=2)),
        ((1, 3, 15, 13), (6, 3, 3, 3), dict(stride=2, padding=1)),
        ((2, 2, 20), (3, 2, 2), dict(dilation=4)),
    ],
)
def test_conv_macs_equals_the_measured_count_of_the_whole_batch(x_shape, w_shape, kw):
    conv = F.conv2d if len(x_shape) == 4 else F.conv1d
    groups = kw.get("groups", 1)
    x = torch.ones(x_shape, dtype=torch.float64)
    # zero padding would add products with 0, which the ones-sum cannot see: pad the input with ones instead
    pad = kw.get("padding", 0)
    if pad == "same":
        span = kw["dilation"] * (w_shape[-1] - 1)
        pad = span // 2
    if pad:
        x = F.pad(x, (pad,) * (2 * (len(x_shape) - 2)), value=1.0)
    y = conv(
        x,
        torch.ones(w_shape, dtype=torch.float64),
        stride=kw.get("stride", 1),
        dilation=kw.get("dilation", 1),
        groups=groups,
    )
    assert conv_macs(x_shape, w_shape, **kw) == int(y.sum().item())


def test_conv_macs_hand_counts():
    gaps = [conv_macs((1, 16, 32, 32), (16, 16, 3, 3), padding="same", dilation=d) for d in (1, 2, 4, 8)]
    assert len(set(gaps)) == 1 and gaps[0] == 16 * 16 * 9 * 32 * 32
    zeros = [conv_macs((1, 16, 32, 32), (16, 16, 3, 3), padding="same", dilation=d, zero_inserted=True) for d in (1, 2)]
    assert zeros == [gaps[0], 16 * 16 * 25 * 32 * 32]
    assert conv_macs((2, 4, 10, 10), (8, 2, 3, 3), groups=2) == 2 * 8 * 8 * 8 * 2 * 9
    assert conv_macs((1, 1, 20), (1, 1, 2), dilation=4) == 16 * 2


def test_profile_counts_torchs_weights_and_the_measured_multiply_adds():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # conv, with bias
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False),  # depthwise, dilated
        nn.Conv2d(8, 16, 1, groups=2),  # grouped 1x1
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5),
    )
    p = profile(model, (2, 3, 12, 12))
    assert p.total_params == sum(q.numel() for q in model.parameters())
    assert [r.kind for r in p] == ["conv", "depthwise", "grouped", "linear"]
    # each convolution measured on its padded input (12 + 2 * padding per side) made of ones, batch of 2
    first, _ = measured(3, 8, (3, 3), (14, 14), batch=2)
    second, _ = measured(8, 8, (3, 3), (16, 16), groups=8, dilation=2, batch=2)
    third, _ = measured(8, 16, (1, 1), (12, 12), groups=2, batch=2)
    assert [r.macs for r in p] == [first, second, third, 2 * 16 * 5]


def test_conv_intensity():
    d = conv_intensity(128, 128, 3, 28, groups=128, batch=8)
    assert d["macs"] == 8 * 128 * 9 * 28 * 28 and d["flops"] == 2 * d["macs"]
    assert d["bytes"] == 4 * (8 * 256 * 28 * 28 + 128 * 9)  # input and output maps, and the weights, once
    assert d["intensity"] == pytest.approx(2 * 9 * 8 * 128 * 784 / d["bytes"])
    assert 2.2 < d["intensity"] < 2.3  # depthwise: about 2 FLOPs per byte whatever the width
    assert conv_intensity(256, 256, 3, 28, batch=8)["intensity"] > 100 * d["intensity"] / 2.3


def test_cost_shares_by_hand():
    rows = [
        {"kind": "conv", "params": 30, "macs": 10},
        {"kind": "linear", "params": 60, "macs": 20, "bias": 10},
        {"kind": "conv", "params": 10, "macs": 10},
    ]
    shares = cost_shares(rows)
    assert shares["conv"] == {"params": 40.0, "macs": 50.0}
    assert shares["total"] == {"params": 100, "macs": 40}
    assert cost_shares(rows, bias=False)["linear"]["params"] == pytest.approx(100 * 50 / 90)


def test_the_package_exports_the_counter():
    assert convbook.conv_cost is conv_cost and convbook.conv_macs is conv_macs
    assert convbook.separable_cost is separable_cost and convbook.dilated_kernel_macs is dilated_kernel_macs


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: conv_cost(2.5, 8, 3, 10), TypeError, r"conv_cost: c_in must be an int, got float"),
        (lambda: conv_cost(True, 8, 3, 10), TypeError, r"conv_cost: c_in must be an int, got bool"),
        (lambda: conv_cost(0, 8, 3, 10), ValueError, r"conv_cost: c_in must be a positive int, got 0"),
        (lambda: conv_cost(4, 8, 3.0, 10), TypeError, r"conv_cost: kernel_size must be an int or a tuple of 2 ints"),
        (lambda: conv_cost(4, 8, (3, 0), 10), ValueError, r"conv_cost: kernel_size must be positive, got \(3, 0\)"),
        (lambda: conv_cost(4, 8, 3, (10, 10, 10)), ValueError, r"conv_cost: out_size must have 2 element\(s\), got 3"),
        (lambda: conv_cost(4, 8, (1, 1, 1, 1), 10), ValueError, r"conv_cost: kernel_size must have 1 to 3 entries"),
        (lambda: conv_cost(4, 6, 3, 5, groups=3), ValueError, r"conv_cost: groups=3 must divide c_in=4 and c_out=6"),
        (lambda: conv_cost(4, 8, 3, 10, bias=1), TypeError, r"conv_cost: bias must be True or False, got int"),
        (lambda: depthwise_cost(4, 3, 10, depth_multiplier=0), ValueError, r"depth_multiplier must be a positive"),
        (lambda: dilated_cost(4, 4, 3, 10, dilation=0), ValueError, r"dilated_cost: dilation must be positive"),
        (lambda: dilated_cost(4, 4, 3, 10, zero_inserted=1), TypeError, r"zero_inserted must be True or False"),
        (lambda: linear_cost(16, 5, rows=0), ValueError, r"linear_cost: out_size must be positive"),
        (lambda: conv_intensity(8, 8, 3, 0), ValueError, r"conv_intensity: size must be a positive int"),
        (lambda: inverted_residual_cost(8, 8, 10, kernel_size=4), ValueError, r"kernel_size must be odd"),
        (lambda: inverted_residual_cost(8, 8, 10, expansion=0), ValueError, r"expansion must be a positive int"),
        (lambda: cost_shares([]), TypeError, r"cost_shares: rows must be a non-empty list of dicts"),
        (lambda: conv_macs("abc", (1, 1, 3, 3)), TypeError, r"conv_macs: x_shape must be a tuple of ints"),
        (lambda: conv_macs((1, 1, 8), (1, 1, 3, 3)), ValueError, r"conv_macs: need x_shape of length 3 or 4"),
        (lambda: conv_macs((1, 1, 4, 4), (1, 1, 3, 3), dilation=3), ValueError, r"conv_macs: the effective kernel"),
        (lambda: conv_macs((1, 4, 8, 8), (6, 4, 3, 3), groups=3), ValueError, r"conv_macs: groups=3 must divide"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
