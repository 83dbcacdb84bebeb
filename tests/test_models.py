"""Model builders: the conv-BN-ReLU unit, MobileNet v1 and its full-convolution twin against the paper's costs."""

from __future__ import annotations

import pytest
import torch

from convbook.nets.layers import conv_bn_relu
from convbook.nets.models import MOBILENET_V1_BLOCKS, mobilenet_v1, mobilenet_v1_full_conv, separable_block
from convbook.nets.profiler import profile
from convbook.nets.training import count_params

# Our exact counts (convolution and linear layers; batch norm excluded, as in the paper).
MOBILENET_PARAMS, MOBILENET_MACS = 4_210_088, 568_740_352
FULL_CONV_PARAMS, FULL_CONV_MACS = 29_282_120, 4_867_293_184


def conv_and_linear_params(model):
    return sum(
        p.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for p in m.parameters()
    )


@pytest.fixture(scope="module")
def mobilenet_profile():
    torch.manual_seed(0)
    return profile(mobilenet_v1(), (1, 3, 224, 224))


def test_mobilenet_matches_the_paper(mobilenet_profile):
    p = mobilenet_profile
    assert (p.total_params, p.total_macs) == (MOBILENET_PARAMS, MOBILENET_MACS)
    # Howard et al. 2017, Table 4: 4.2 million parameters, 569 million mult-adds
    assert abs(p.total_params / 4.2e6 - 1) < 0.01
    assert abs(p.total_macs / 569e6 - 1) < 0.001
    kinds = p.by_kind()
    assert [kinds[k]["layers"] for k in ("conv", "depthwise", "pointwise", "linear")] == [1, 13, 13, 1]
    # Section 3.1: about 95% of the computation and 75% of the parameters are in the 1x1 convolutions
    assert 0.94 < kinds["pointwise"]["macs"] / p.total_macs < 0.96
    assert 0.74 < kinds["pointwise"]["params"] / p.total_params < 0.76
    assert p[-2].out_shape == (1, 1024, 7, 7)


def test_mobilenet_output_and_batch_norm_parameters():
    torch.manual_seed(0)
    model = mobilenet_v1(num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 10)
    n_bn = sum(m.weight.numel() + m.bias.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert count_params(model) == profile(model, (1, 3, 64, 64)).total_params + n_bn


def test_full_conv_twin_matches_the_paper():
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        model = mobilenet_v1_full_conv()
    assert conv_and_linear_params(model) == FULL_CONV_PARAMS
    assert abs(FULL_CONV_PARAMS / 29.3e6 - 1) < 0.01  # Table 4: 29.3 million
    assert abs(FULL_CONV_MACS / 4866e6 - 1) < 0.001  # Table 4: 4866 million


def test_full_conv_macs_by_formula():
    """The twin's MACs from the architecture table, without running the 4.9-GMAC forward pass."""
    size, c, macs = 112, 32, 3 * 32 * 9 * 112 * 112
    for c_out, stride in MOBILENET_V1_BLOCKS:
        size //= stride
        macs += c * c_out * 9 * size * size
        c = c_out
    assert macs + 1024 * 1000 == FULL_CONV_MACS


@pytest.mark.parametrize("alpha, params, macs", [(0.75, 2.6e6, 325e6), (0.5, 1.3e6, 149e6), (0.25, 0.5e6, 41e6)])
def test_width_multiplier_matches_table_6(alpha, params, macs):
    p = profile(mobilenet_v1(alpha), (1, 3, 224, 224))
    assert abs(p.total_params / params - 1) < 0.08  # the paper rounds to 0.1 million
    assert abs(p.total_macs / macs - 1) < 0.01


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: mobilenet_v1(0), ValueError, r"mobilenet_v1: width_multiplier must be in \(0, 4\]"),
        (lambda: mobilenet_v1("1"), TypeError, r"mobilenet_v1: width_multiplier must be a real number, got str"),
        (lambda: mobilenet_v1_full_conv(num_classes=0), ValueError, r"mobilenet_v1_full_conv: num_classes must be"),
        (lambda: mobilenet_v1(num_classes=2.0), TypeError, r"mobilenet_v1: num_classes must be an int, got float"),
        (lambda: mobilenet_v1(in_channels=0), ValueError, r"mobilenet_v1: in_channels must be a positive int, got 0"),
        (lambda: separable_block(4, 8, mid_activation="no"), TypeError, r"separable_block: mid_activation must be"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_xception_block_is_one_rank_constrained_convolution():
    """With nothing between the steps, depthwise then pointwise is one standard convolution whose kernel is
    convbook.separable.separable_to_standard of the two weights (section 3)."""
    import numpy as np

    from convbook.separable import separable_to_standard

    torch.manual_seed(0)
    block = separable_block(4, 6, stride=2, mid_activation=False).double().eval()
    dw, pw = block[0][0], block[1][0]
    assert dw.groups == 4 and pw.kernel_size == (1, 1)
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    merged = separable_to_standard(dw.weight.detach().numpy(), pw.weight.detach().numpy())
    with torch.no_grad():
        pair = pw(dw(x))
        one = torch.nn.functional.conv2d(x, torch.from_numpy(np.ascontiguousarray(merged)), stride=2, padding=1)
    assert torch.allclose(pair, one, atol=1e-12)
    assert len(separable_block(4, 6)[0]) == 3  # MobileNet's block: conv, batch norm, ReLU between the steps


# --------------------------------------------------------------------------- the conv-BN-ReLU unit


def test_conv_bn_relu_parts_and_defaults():
    unit = conv_bn_relu(4, 8, 3, stride=2)
    assert [type(m) for m in unit] == [torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU]
    conv = unit[0]
    assert conv.bias is None and conv.padding == (1, 1) and conv.stride == (2, 2)  # no bias before batch norm
    bare = conv_bn_relu(4, 8, 1, norm=None, activation=None)
    assert len(bare) == 1 and bare[0].bias is not None  # without batch norm the convolution has a bias
    assert [type(m) for m in conv_bn_relu(4, 8, 3, norm=None)] == [torch.nn.Conv2d, torch.nn.ReLU]
    assert isinstance(conv_bn_relu(4, 8, 1, activation="relu6")[-1], torch.nn.ReLU6)
    assert conv_bn_relu(4, 8, 3, bias=True)[0].bias is not None  # the segmentation networks' choice


@pytest.mark.parametrize("k, d", [(1, 1), (3, 1), (3, 2), (5, 3), (7, 4)])
def test_conv_bn_relu_keeps_the_size(k, d):
    unit = conv_bn_relu(2, 3, k, dilation=d, groups=1).eval()
    assert unit[0].padding == (d * (k // 2),) * 2
    assert unit(torch.zeros(1, 2, 11, 9)).shape == (1, 3, 11, 9)


def test_conv_bn_relu_depthwise_parameters():
    unit = conv_bn_relu(8, 8, 3, groups=8)
    assert count_params(unit) == 8 * 9 + 2 * 8  # one 3x3 filter per channel, then batch norm's scale and shift


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: conv_bn_relu(4, 8, 3, norm="layer"), ValueError, r"conv_bn_relu: norm must be 'batch' or None"),
        (lambda: conv_bn_relu(4, 8, 3, activation="gelu"), ValueError, r"conv_bn_relu: activation must be 'relu'"),
        (lambda: conv_bn_relu(4, 8, 3, bias=1), TypeError, r"conv_bn_relu: bias must be a bool or None, got int"),
        (lambda: conv_bn_relu(4, 0, 3), ValueError, r"conv_bn_relu: c_out must be a positive int, got 0"),
        (lambda: conv_bn_relu(4, 8, 3.0), TypeError, r"conv_bn_relu: kernel_size must be an int, got float"),
        (lambda: conv_bn_relu(4, 8, 3, dilation=0), ValueError, r"conv_bn_relu: dilation must be a positive int"),
    ],
)
def test_conv_bn_relu_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
