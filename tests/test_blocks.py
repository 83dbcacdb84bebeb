"""The torch blocks of the 1x1 chapter (convbook.nets.blocks): SqueezeNet's fire module, ShuffleNet's unit, GoogLeNet's
inception (3b), and ResNet's blocks built from the shared conv-BN-ReLU unit (the small CNN: tests/test_small_cnn.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from convbook.nets.blocks import (
    INCEPTION_3B,
    SQUEEZENET_FIRES,
    BasicBlock,
    Bottleneck,
    FireModule,
    ShuffleUnit,
    inception_3b,
)
from convbook.nets.profiler import profile
from convbook.nets.training import count_params
from convbook.pointwise import channel_shuffle


def _weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))


# ------------------------------------------------------------------ ResNet, GoogLeNet (3b), SqueezeNet, ShuffleNet


def test_resnet_blocks_layout_and_weights():
    """conv-BN(-ReLU) units with no bias; the last unit has no ReLU of its own, the one after the sum follows."""
    block = Bottleneck()
    names = [type(m).__name__ for m in block.body]
    assert names == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["Conv2d", "BatchNorm2d"]
    assert _weights(block) == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    assert all(m.bias is None for m in block.modules() if isinstance(m, nn.Conv2d))
    assert _weights(BasicBlock(256)) == 2 * 256 * 256 * 9
    assert [type(m).__name__ for m in BasicBlock(8).body] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"]
    x = torch.randn(2, 256, 5, 5)
    with torch.no_grad():
        assert torch.equal(block(x), torch.relu(x + block.body(x)))


def test_inception_3b_counts():
    c = INCEPTION_3B
    weights = (
        c["in_channels"] * (c["c1"] + c["c3_reduce"] + c["c5_reduce"] + c["pool_proj"])
        + 9 * c["c3_reduce"] * c["c3"]
        + 25 * c["c5_reduce"] * c["c5"]
    )
    assert weights == 388_096
    p = profile(inception_3b(bias=False), (1, 256, 28, 28))
    assert p.total_params == weights and p.total_macs == weights * 28 * 28 == 304_267_264
    assert inception_3b()(torch.randn(1, 256, 28, 28)).shape == (1, 480, 28, 28)


@pytest.mark.parametrize("name", list(SQUEEZENET_FIRES))
def test_fire_module_counts(name):
    c_in, s, e1, e3, size = SQUEEZENET_FIRES[name]
    fire = FireModule(c_in, s, e1, e3)
    assert fire.out_channels == e1 + e3
    assert _weights(fire) == c_in * s + s * e1 + 9 * s * e3
    assert count_params(fire) == _weights(fire) + s + e1 + e3  # every convolution has a bias
    p = profile(fire, (1, c_in, size, size))
    assert p.total_macs == _weights(fire) * size * size
    assert fire(torch.randn(2, c_in, 5, 5)).shape == (2, e1 + e3, 5, 5)


def test_squeezenet_fires_chain():
    names = list(SQUEEZENET_FIRES)
    for a, b in zip(names, names[1:]):
        assert SQUEEZENET_FIRES[a][2] + SQUEEZENET_FIRES[a][3] == SQUEEZENET_FIRES[b][0], f"{a} -> {b}"


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8])
def test_shuffle_unit_costs_match_the_paper(groups):
    c, h = 240 if groups != 8 else 384, 28
    m = c // 4
    unit = ShuffleUnit(c, groups)
    assert unit(torch.randn(2, c, 6, 6)).shape == (2, c, 6, 6)
    assert profile(unit, (1, c, h, h)).total_macs == h * h * (2 * c * m // groups + 9 * m)
    resnet = ShuffleUnit(c, 1, depthwise=False)
    assert profile(resnet, (1, c, h, h)).total_macs == h * h * (2 * c * m + 9 * m * m)


def test_shuffle_unit_shuffles_like_numpy():
    unit = ShuffleUnit(24, 3)
    shuffle = unit.body[3]
    assert isinstance(shuffle, nn.ChannelShuffle)
    x = torch.randn(2, 6, 2, 2, dtype=torch.float64)
    assert np.array_equal(shuffle(x).numpy(), channel_shuffle(x.numpy(), 3))
    assert isinstance(ShuffleUnit(24, 3, shuffle=False).body[3], nn.Identity)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: FireModule(96, 0), ValueError, "FireModule: squeeze must be a positive int"),
        (lambda: FireModule(96, 16, 64.0), TypeError, "FireModule: expand1x1 must be an int"),
        (lambda: ShuffleUnit(240, 7), ValueError, "ShuffleUnit: groups=7 must divide channels=240 and mid=60"),
        (lambda: ShuffleUnit(240, 0), ValueError, "ShuffleUnit: groups must be a positive int"),
    ],
)
def test_blocks_bad_input(build, error, match):
    with pytest.raises(error, match=match):
        build()
