"""Convolution arithmetic: output sizes and receptive fields (the costs: test_costs.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from convbook import conv_output_size, effective_kernel_size, receptive_field


def test_output_size_matches_torch_over_a_grid():
    checked = 0
    for size, k, s, p, d in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(0, 3), range(1, 4)):
        if size + 2 * p < d * (k - 1) + 1:
            with pytest.raises(ValueError, match="does not fit the padded input"):
                conv_output_size(size, k, s, p, d)
            continue
        out = torch.nn.functional.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d)
        assert conv_output_size(size, k, s, p, d) == out.shape[-1]
        checked += 1
    assert checked == 996  # every valid combination of the grid


def test_output_size_examples_from_the_arithmetic_guide():
    assert conv_output_size(5, 3) == 3  # no padding, unit stride
    assert conv_output_size(5, 4, padding=2) == 6  # arbitrary padding
    assert conv_output_size(5, 3, stride=2, padding=1) == 3
    assert conv_output_size(7, 3, dilation=2) == 3  # the dilated 7x7 example


@pytest.mark.parametrize(
    "args, error, pattern",
    [
        ((0, 3), ValueError, "size must be a positive int"),
        ((5, 0), ValueError, "kernel_size must be a positive int"),
        ((5, 3, 0), ValueError, "stride must be a positive int"),
        ((5, 3, 1, -1), ValueError, "padding must be a non-negative int"),
        ((5, 3, 1, 0, 0), ValueError, "dilation must be a positive int"),
        ((5.0, 3), TypeError, "size must be an int, got float"),
        (
            (5, 3, 1, 0, 3),
            ValueError,
            r"effective kernel size d\*\(k-1\)\+1 = 7 does not fit the padded input i\+2p = 5",
        ),
    ],
)
def test_output_size_errors(args, error, pattern):
    with pytest.raises(error, match=pattern):
        conv_output_size(*args)


def test_effective_kernel_size():
    assert [effective_kernel_size(3, d) for d in (1, 2, 3, 4)] == [3, 5, 7, 9]
    assert effective_kernel_size(1, 10) == 1


def test_receptive_field_known_values():
    assert receptive_field([(3, 1, 1)] * 3) == 7
    assert receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == 15
    assert receptive_field([(2, 1, 2**i) for i in range(10)]) == 1024  # one WaveNet block
    assert receptive_field([(3, 2, 1), (3, 2, 1)]) == 7
    assert receptive_field([]) == 1
    assert receptive_field([3, (3,), (3, 1)]) == 7


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 3)), min_size=1, max_size=4))
def test_receptive_field_matches_a_measured_gradient(layers):
    """The input samples with a non-zero gradient of the last output form a block of the computed size."""
    torch.manual_seed(0)
    size = receptive_field(layers) + 20
    x = torch.randn(1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        conv = torch.nn.Conv1d(1, 1, k, stride=s, dilation=d, bias=False).double()
        torch.nn.init.constant_(conv.weight, 1.0)  # positive weights: no accidental cancellation
        y = conv(y)
    y[0, 0, -1].backward()
    touched = np.flatnonzero(x.grad[0, 0].numpy() != 0)
    assert touched[-1] - touched[0] + 1 == receptive_field(layers)


@pytest.mark.parametrize(
    "layers, error, pattern",
    [
        ("abc", TypeError, "layers must be a sequence"),
        ([(3, 1, 1, 1)], TypeError, r"layers\[0\] must be a \(kernel_size, stride, dilation\) tuple"),
        ([(3, 1, 1), (3, 0, 1)], ValueError, r"layers\[1\] stride must be a positive int"),
        ([(0, 1, 1)], ValueError, r"layers\[0\] kernel_size must be a positive int"),
    ],
)
def test_receptive_field_errors(layers, error, pattern):
    with pytest.raises(error, match=pattern):
        receptive_field(layers)
