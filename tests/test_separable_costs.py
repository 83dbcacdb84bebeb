"""The separable chapter's architecture tables (convbook.nets.architectures) and the inverted residual block's
count (convbook.costs) against torch models and the papers' tables, and the helpers of its reference experiments."""

from __future__ import annotations

import pytest
import torch

from convbook.costs import cost_shares, inverted_residual_cost
from convbook.nets.architectures import MOBILENET_V1_BLOCKS, mobilenet_v1_costs, scaled_width
from convbook.nets.models import InvertedResidual, mobilenet_v1, mobilenet_v1_full_conv
from convbook.nets.profiler import profile


def _totals(rows):
    return sum(r["params"] for r in rows), sum(r["macs"] for r in rows)


def _torch_weights(model):
    """torch's own count of the weights of the layers profile counts (batch norms left out, as in the papers)."""
    layers = (torch.nn.Conv2d, torch.nn.Linear)
    return sum(p.numel() for m in model.modules() if isinstance(m, layers) for p in m.parameters(recurse=False))


@pytest.mark.parametrize("alpha, resolution", [(1.0, 224), (0.75, 192), (0.5, 160), (0.25, 128), (1.3, 96)])
def test_mobilenet_costs_equal_the_profile_of_the_torch_model(alpha, resolution):
    rows = mobilenet_v1_costs(alpha, resolution)
    model = mobilenet_v1(alpha)
    p = profile(model, (1, 3, resolution, resolution))
    assert _totals(rows) == (p.total_params, p.total_macs)
    assert p.total_params == _torch_weights(model)
    assert [r["kind"] for r in rows] == [row.kind for row in p]
    assert [r["macs"] for r in rows] == [row.macs for row in p]
    assert rows[-2]["out_size"] == p[-2].out_shape[-1]


def test_full_conv_costs_equal_the_profile():
    with torch.device("meta"):  # weights only: the 4.9-GMAC forward pass is counted by formula below
        model = mobilenet_v1_full_conv()
    weights = sum(p.numel() for p in model.parameters() if p.ndim != 1 or p.numel() == 1000)
    rows = mobilenet_v1_costs(full_conv=True)
    assert _totals(rows) == (weights, 4_867_293_184)
    assert [r["kind"] for r in rows] == ["conv"] * 14 + ["linear"]


# Howard et al. 2017, Table 6 (width multiplier) and Table 7 (resolution): million mult-adds and parameters
TABLE_6_7 = [
    (1.0, 224, 569, 4.2),
    (0.75, 224, 325, 2.6),
    (0.5, 224, 149, 1.3),
    (0.25, 224, 41, 0.5),
    (1.0, 192, 418, 4.2),
    (1.0, 160, 290, 4.2),
    (1.0, 128, 186, 4.2),
]


@pytest.mark.parametrize("alpha, resolution, macs_m, params_m", TABLE_6_7)
def test_width_and_resolution_multipliers_match_the_paper(alpha, resolution, macs_m, params_m):
    params, macs = _totals(mobilenet_v1_costs(alpha, resolution))
    assert abs(macs / 1e6 - macs_m) < 1  # the paper rounds 568.7 up to 569 but cuts 290.7 down to 290
    assert round(params / 1e6, 1) == params_m


def test_table_2_shares():
    """The paper's Table 2: 94.86 / 3.06 / 1.19 / 0.18 % of mult-adds and 74.59 / 1.06 / 0.02 / 24.33 % of
    parameters. The stem's 1.19 is 1.91 with two digits swapped; the parameter shares hold without the
    classifier's 1000 biases."""
    rows = mobilenet_v1_costs()
    shares, no_bias = cost_shares(rows), cost_shares(rows, bias=False)
    macs = {k: round(v["macs"], 2) for k, v in shares.items() if k != "total"}
    assert macs == {"pointwise": 94.86, "depthwise": 3.06, "conv": 1.91, "linear": 0.18}
    params = {k: round(v["params"], 2) for k, v in no_bias.items() if k != "total"}
    assert params == {"pointwise": 74.59, "depthwise": 1.06, "conv": 0.02, "linear": 24.33}
    assert round(shares["pointwise"]["params"], 2) == 74.57 and round(shares["linear"]["params"], 2) == 24.35
    assert no_bias["total"]["params"] == shares["total"]["params"] - 1000


def test_scaled_width_truncates_like_the_reference_implementation():
    assert [scaled_width(c, 0.75) for c in (32, 64, 1024)] == [24, 48, 768]
    assert scaled_width(3, 0.25) == 1


@pytest.mark.parametrize("c_in, c_out, size, t, s", [(24, 24, 56, 6, 1), (32, 64, 28, 6, 2), (32, 16, 112, 1, 1)])
def test_inverted_residual_cost_equals_the_profile(c_in, c_out, size, t, s):
    torch.manual_seed(0)
    block = InvertedResidual(c_in, c_out, stride=s, expansion=t)
    p = profile(block, (1, c_in, size, size))
    cost = inverted_residual_cost(c_in, c_out, size, expansion=t, stride=s)
    assert (cost["total"].params, cost["total"].macs) == (p.total_params, p.total_macs)
    assert cost["total"].params == _torch_weights(block)
    assert [r.kind for r in p] == (["pointwise"] if t > 1 else []) + ["depthwise", "pointwise"]
    assert cost["out_size"] == p[-1].out_shape[-1] and cost["residual"] == block.residual
    assert (cost["expand"] is None) == (t == 1)


def test_inverted_residual_block_adds_its_input_and_ends_linear():
    torch.manual_seed(0)
    block = InvertedResidual(8, 8, stride=1, expansion=4).eval()
    x = torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        out = block(x)
        assert torch.allclose(out, x + block.body(x))
        assert (block.body(x) < 0).any()  # the projection has no ReLU: negative outputs survive
    assert not isinstance(block.body[-1][-1], (torch.nn.ReLU, torch.nn.ReLU6))
    assert InvertedResidual(8, 16, stride=2)(torch.zeros(1, 8, 10, 10)).shape == (1, 16, 5, 5)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: mobilenet_v1_costs(0), ValueError, r"mobilenet_v1_costs: width_multiplier must be in \(0, 4\]"),
        (lambda: mobilenet_v1_costs("1"), TypeError, r"mobilenet_v1_costs: width_multiplier must be a real number"),
        (lambda: mobilenet_v1_costs(1.0, 16), ValueError, r"mobilenet_v1_costs: resolution must be an int >= 32"),
        (lambda: mobilenet_v1_costs(full_conv=1), TypeError, r"mobilenet_v1_costs: full_conv must be a bool"),
        (lambda: inverted_residual_cost(8, 8, 10, kernel_size=4), ValueError, r"kernel_size must be odd"),
        (lambda: inverted_residual_cost(8, 8, 10, expansion=0), ValueError, r"expansion must be a positive int"),
        (lambda: InvertedResidual(8, 8, stride=3), ValueError, r"InvertedResidual: stride must be 1 or 2"),
        (lambda: InvertedResidual(8, 8, expansion=2.0), TypeError, r"InvertedResidual: expansion must be an int"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_table_is_the_one_models_builds():
    import convbook.nets.models

    assert convbook.nets.models.MOBILENET_V1_BLOCKS is MOBILENET_V1_BLOCKS
    assert MOBILENET_V1_BLOCKS[-1] == (1024, 1) and MOBILENET_V1_BLOCKS[-2] == (1024, 2)


# ---- helpers of the reference experiments


def test_matched_parameter_control():
    from convbook.lab.experiments.separable_accuracy import matched_channels
    from convbook.nets.small_cnn import small_cnn
    from convbook.nets.training import count_params

    assert matched_channels() == (16, 16, 8)
    assert count_params(small_cnn(False, channels=(16, 16, 8))) == count_params(small_cnn(True)) == 3716


def test_layer_flops_of_the_timing_experiment():
    from convbook.lab.experiments.separable_timing.layers import layer_flops

    std, sep = layer_flops("standard", 128), layer_flops("separable", 128)
    dw, pw = layer_flops("depthwise", 128), layer_flops("pointwise", 128)
    assert sep["flops"] == dw["flops"] + pw["flops"] and sep["bytes"] == dw["bytes"] + pw["bytes"]
    assert std["flops"] / sep["flops"] == pytest.approx(1 / (1 / 128 + 1 / 9))


def test_welch_interval():
    from convbook.lab.stats import welch

    w = welch([0.8, 0.82, 0.84, 0.86, 0.88], [0.7, 0.72, 0.74, 0.76, 0.78])
    assert w.diff == pytest.approx(0.1)
    assert w.ci95[0] > 0 and w.df == pytest.approx(8.0)
    same = welch([0.5, 0.5], [0.4, 0.4])
    assert same.diff == pytest.approx(0.1) and same.ci95 == pytest.approx((0.1, 0.1)) and same.df is None


def test_mobilenet_v2_costs_equal_the_profile_of_a_torch_build():
    """MobileNetV2 (Sandler et al. 2018, Table 2) built from InvertedResidual blocks: the NumPy count equals
    convbook.nets.profiler.profile, and both give the paper's 300 million multiply-adds and 3.4 million parameters."""
    from torch import nn

    from convbook.nets.architectures import MOBILENET_V2_SETTINGS, mobilenet_v2_costs

    def cbr(c_in, c_out, k, s):
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU6())

    layers, c = [cbr(3, 32, 3, 2)], 32
    for t, c_out, n, s in MOBILENET_V2_SETTINGS:
        for i in range(n):
            layers.append(InvertedResidual(c, c_out, stride=s if i == 0 else 1, expansion=t))
            c = c_out
    layers += [cbr(c, 1280, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    p = profile(nn.Sequential(*layers), (1, 3, 224, 224))
    rows = mobilenet_v2_costs()
    assert _totals(rows) == (p.total_params, p.total_macs) == (3_470_760, 300_774_272)
    assert p.total_params == _torch_weights(nn.Sequential(*layers))
    assert [r["kind"] for r in rows] == [row.kind for row in p]
    assert round(p.total_macs / 1e6) == 301 and round(p.total_params / 1e6, 1) == 3.5  # paper: 300M, 3.4M
