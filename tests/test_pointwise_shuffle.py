"""Grouped 1x1 convolutions and ShuffleNet's channel shuffle (convbook.pointwise), against torch and the loop oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convbook import conv2d
from convbook.pointwise import (
    channel_shuffle,
    compose_connectivity,
    group_connectivity,
    pointwise_conv2d,
    pointwise_conv2d_loop,
    shuffle_connectivity,
    shuffle_permutation,
)

TOL64 = 1e-10


@st.composite
def grouped_cases(draw):
    g = draw(st.integers(1, 4))
    ci, co = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((n, ci, h, w))
    weight = rng.standard_normal((co, ci // g, 1, 1))
    bias = rng.standard_normal(co) if draw(st.booleans()) else None
    return x, weight, bias, g


@settings(max_examples=40, deadline=None)
@given(grouped_cases())
def test_grouped_pointwise_matches_torch_and_the_loop(case):
    x, weight, bias, g = case
    b = None if bias is None else torch.from_numpy(bias)
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), b, groups=g).numpy()
    loop = pointwise_conv2d_loop(x, weight, bias, groups=g)
    assert np.max(np.abs(loop - expected)) < TOL64
    assert np.max(np.abs(pointwise_conv2d(x, weight, bias, groups=g) - loop)) < TOL64
    assert np.max(np.abs(conv2d(x, weight, bias, groups=g) - loop)) < TOL64


def test_groups_one_is_the_plain_layer_and_unbatched_works():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 3, 2)), rng.standard_normal((4, 6))
    assert np.allclose(pointwise_conv2d(x, w, groups=1), pointwise_conv2d(x, w))
    wg = rng.standard_normal((4, 3))
    assert pointwise_conv2d(x, wg, groups=2).shape == (4, 3, 2)
    assert np.allclose(pointwise_conv2d(x, wg, groups=2), pointwise_conv2d_loop(x, wg, groups=2))


@pytest.mark.parametrize("fn", [pointwise_conv2d, pointwise_conv2d_loop])
@pytest.mark.parametrize(
    "shape_x, shape_w, groups, error, match",
    [
        ((1, 6, 2, 2), (4, 3), 0, ValueError, "groups must be a positive int"),
        ((1, 6, 2, 2), (4, 3), 2.0, TypeError, "groups must be an int"),
        ((1, 6, 2, 2), (3, 3), 2, ValueError, "groups=2 must divide the output channels C_out=3"),
        ((1, 5, 2, 2), (4, 2), 2, ValueError, "groups=2 must divide the input channels C_in=5"),
        ((1, 6, 2, 2), (4, 2), 2, ValueError, r"input has C_in=6 channels but weight expects .* = 2 \* 2 = 4"),
    ],
)
def test_grouped_bad_input(fn, shape_x, shape_w, groups, error, match):
    with pytest.raises(error, match=match):
        fn(np.zeros(shape_x), np.zeros(shape_w), groups=groups)


@pytest.mark.parametrize("c, g", [(6, 1), (6, 2), (6, 3), (12, 4), (8, 8)])
def test_channel_shuffle_matches_torch(c, g):
    x = np.random.default_rng(c + g).standard_normal((2, c, 3, 2))
    expected = torch.nn.ChannelShuffle(g)(torch.from_numpy(x)).numpy()
    assert np.array_equal(channel_shuffle(x, g), expected)
    perm = shuffle_permutation(c, g)
    assert np.array_equal(channel_shuffle(x, g), x[:, perm])
    assert sorted(perm.tolist()) == list(range(c))


def test_channel_shuffle_example_and_inverse():
    # 6 channels in 2 groups (0 1 2 | 3 4 5): the shuffle interleaves them
    assert shuffle_permutation(6, 2).tolist() == [0, 3, 1, 4, 2, 5]
    x = np.arange(12.0).reshape(1, 12, 1)
    # shuffling with g groups is undone by shuffling with C / g groups
    assert np.array_equal(channel_shuffle(channel_shuffle(x, 3), 4), x)
    # 1-D feature maps and integer arrays are fine: the shuffle only moves channels
    assert channel_shuffle(np.arange(4).reshape(1, 4, 1), 2)[0, :, 0].tolist() == [0, 2, 1, 3]


@pytest.mark.parametrize(
    "x, groups, error, match",
    [
        (np.zeros((2, 6)), 2, ValueError, r"shape \(N, C, \.\.\.\) with at least one spatial axis"),
        (np.zeros((1, 6, 2)), 4, ValueError, "groups=4 must divide the channel count C=6"),
        (np.zeros((1, 6, 2)), 0, ValueError, "groups must be a positive int"),
        (torch.zeros(1, 6, 2), 2, TypeError, "got a torch tensor"),
    ],
)
def test_channel_shuffle_bad_input(x, groups, error, match):
    with pytest.raises(error, match=match):
        channel_shuffle(x, groups)


def test_connectivity():
    m = group_connectivity(6, 4, 2)
    assert m.shape == (4, 6) and m.dtype == bool
    assert m.sum() == 2 * (2 * 3)  # two blocks of 2 x 3
    assert m[:2, :3].all() and m[2:, 3:].all() and not m[:2, 3:].any()
    assert group_connectivity(5, 3).all()  # groups = 1: dense
    # the connectivity matrix is where a grouped weight can be non-zero: it matches torch's layer
    w = torch.ones(4, 3, 1, 1)
    probe = torch.eye(6).reshape(6, 6, 1, 1)  # one channel lit per image
    reads = F.conv2d(probe, w, groups=2)[:, :, 0, 0].T.numpy() != 0  # (c_out, c_in)
    assert np.array_equal(reads, m)


def test_shuffle_lets_groups_talk():
    c, g = 12, 3
    gconv = group_connectivity(c, c, g)
    without = compose_connectivity(gconv, gconv)
    assert np.array_equal(without, gconv)  # stacked grouped layers never mix groups
    with_shuffle = compose_connectivity(gconv, shuffle_connectivity(c, g), gconv)
    assert with_shuffle.all()  # after the shuffle every output reads every input
    assert shuffle_connectivity(c, g).sum(axis=0).tolist() == [1] * c  # a permutation
    # the composed matrix agrees with running the layers: a grouped conv of ones, shuffled, then again
    probe = np.eye(c).reshape(c, c, 1, 1)  # (N=c, C=c, 1, 1): image n lights channel n
    w = np.ones((c, c // g, 1, 1))
    y = pointwise_conv2d(channel_shuffle(pointwise_conv2d(probe, w, groups=g), g), w, groups=g)
    assert np.array_equal(y[:, :, 0, 0].T != 0, with_shuffle)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: compose_connectivity(), ValueError, "give at least one connectivity matrix"),
        (lambda: compose_connectivity(np.ones(3, bool)), ValueError, "layer 0 must be a 2-D matrix"),
        (lambda: compose_connectivity(np.ones((4, 3)), np.ones((2, 5))), ValueError, "layer 1 reads 5 channels"),
        (lambda: group_connectivity(6, 5, 2), ValueError, "groups=2 must divide c_out=5"),
        (lambda: shuffle_permutation(7, 2), ValueError, "groups=2 must divide channels=7"),
    ],
)
def test_connectivity_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
