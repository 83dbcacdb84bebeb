"""The torch blocks of the 1x1 chapter (convbook.nets.blocks): the small CNN of the model zoo, SqueezeNet's fire module,
ShuffleNet's unit and GoogLeNet's inception (3b)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from convbook import profile
from convbook.nets.blocks import (
    INCEPTION_3B,
    SQUEEZENET_FIRES,
    FireModule,
    ShuffleUnit,
    SmallCNN,
    inception_3b,
)
from convbook.nets.models import small_cnn
from convbook.nets.training import count_params
from convbook.pointwise import channel_shuffle


def _weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))


# --------------------------------------------------------------------------- one model zoo


def test_small_cnn_is_the_model_zoos_network():
    """SmallCNN() with no 1x1 units is convbook.nets.models.small_cnn(False): same layers, same initial weights."""
    torch.manual_seed(3)
    ours = SmallCNN()
    torch.manual_seed(3)
    zoo = small_cnn(False)
    a, b = ours.state_dict(), zoo.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(5, 1, 16, 16)
    ours.eval(), zoo.eval()
    assert torch.equal(ours(x), zoo(x))
    torch.manual_seed(0)
    assert count_params(SmallCNN(widths=(8, 16, 24))) == count_params(small_cnn(False, channels=(8, 16, 24)))


@pytest.mark.parametrize("norm", ["batch", None])
@pytest.mark.parametrize("p", [0, 1, 2])
def test_small_cnn_shapes_and_counts(norm, p):
    model = SmallCNN(widths=(16, 32, 64), pointwise_layers=p, norm=norm)
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 4)
    assert model(torch.randn(2, 1, 24, 20)).shape == (2, 4)  # global average pooling: any input size
    extra = sum(w * w + (2 * w if norm == "batch" else w) for w in (16, 32, 64)) * p
    base = count_params(SmallCNN(norm=norm))
    assert count_params(model) == base + extra
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    n_relu = sum(isinstance(m, nn.ReLU) for m in model.modules())
    assert n_conv == 3 * (1 + p) and n_relu == n_conv and n_bn == (n_conv if norm == "batch" else 0)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all((m.bias is None) == (norm == "batch") for m in convs)
    assert [m.kernel_size for m in convs] == [(3, 3), *[(1, 1)] * p] * 3


def test_small_cnn_macs_of_the_pointwise_units():
    plain = profile(SmallCNN(), (1, 1, 16, 16)).total_macs
    nin = profile(SmallCNN(pointwise_layers=2), (1, 1, 16, 16)).total_macs
    # two 1x1 units per stage, at 16x16 (16 ch), 8x8 (32 ch) and 4x4 (64 ch)
    assert nin - plain == 2 * (16 * 16 * 16 * 16 + 8 * 8 * 32 * 32 + 4 * 4 * 64 * 64)


def test_small_cnn_without_pointwise_relu_is_affine_per_stage():
    torch.manual_seed(0)
    model = SmallCNN(widths=(4, 8), pointwise_layers=2, pointwise_relu=False).eval()
    stage = model[0][0]  # 3x3 unit, then two 1x1 units without ReLU
    assert sum(isinstance(m, nn.ReLU) for m in stage.modules()) == 1
    for m in model.modules():  # give the batch norms non-trivial statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2)
    pointwise = nn.Sequential(stage[1], stage[2])
    a, b = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3)
    zero = pointwise(torch.zeros(1, 4, 3, 3))
    with torch.no_grad():  # affine: f(a + b) - f(0) = (f(a) - f(0)) + (f(b) - f(0))
        assert torch.allclose(pointwise(a + b) - zero, (pointwise(a) - zero) + (pointwise(b) - zero), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"pointwise_layers": -1}, ValueError, "SmallCNN: pointwise_layers must be a non-negative int"),
        ({"pointwise_layers": True}, ValueError, "SmallCNN: pointwise_layers must be a non-negative int"),
        ({"widths": ()}, TypeError, "SmallCNN: widths must be a tuple of at least two ints"),
        ({"widths": (16,)}, TypeError, "SmallCNN: widths must be a tuple of at least two ints"),
        ({"widths": (16, 0)}, ValueError, "SmallCNN: widths must be a positive int"),
        ({"norm": "layer"}, ValueError, "SmallCNN: norm must be 'batch' or None"),
        ({"pointwise_relu": 0}, TypeError, "SmallCNN: pointwise_relu must be a bool"),
        ({"num_classes": 0}, ValueError, "SmallCNN: num_classes must be a positive int"),
    ],
)
def test_small_cnn_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        SmallCNN(**kwargs)


# --------------------------------------------------------------------------- GoogLeNet (3b), SqueezeNet, ShuffleNet


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
