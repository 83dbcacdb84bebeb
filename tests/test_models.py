"""Model builders: MobileNet v1 and its full-convolution twin against the paper's costs, the small CNN pair."""

from __future__ import annotations

import pytest
import torch

from convbook import profile
from convbook.models import MOBILENET_V1_BLOCKS, mobilenet_v1, mobilenet_v1_full_conv, small_cnn
from convbook.training import count_params

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


def test_small_cnn_pair():
    torch.manual_seed(0)
    standard, separable = small_cnn(False), small_cnn(True)
    x = torch.zeros(3, 1, 16, 16)
    assert standard(x).shape == separable(x).shape == (3, 4)
    ps, pd = profile(standard, (1, 1, 16, 16)), profile(separable, (1, 1, 16, 16))
    assert set(pd.by_kind()) == {"conv", "depthwise", "pointwise", "linear"}
    assert set(ps.by_kind()) == {"conv", "linear"}
    assert ps.total_params > 5 * pd.total_params


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: mobilenet_v1(0), ValueError, r"mobilenet_v1: width_multiplier must be in \(0, 4\]"),
        (lambda: mobilenet_v1("1"), TypeError, r"mobilenet_v1: width_multiplier must be a number"),
        (lambda: mobilenet_v1_full_conv(num_classes=0), ValueError, r"mobilenet_v1_full_conv: num_classes must be"),
        (lambda: small_cnn(1), TypeError, r"small_cnn: separable must be a bool"),
        (lambda: small_cnn(True, channels=(8,)), ValueError, r"small_cnn: channels must hold at least two"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
