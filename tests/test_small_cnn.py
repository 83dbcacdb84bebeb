"""The book's one small CNN (convbook.nets.small_cnn): its variants, its checks, and the stored reference results it
must still reproduce (parameter counts and initial weights of the networks the experiments trained)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import convbook.lab
from convbook.lab.experiments import pointwise_cheap_depth, separable_accuracy, separable_trained_fit
from convbook.nets.profiler import profile
from convbook.nets.small_cnn import SmallCNN, small_cnn
from convbook.nets.training import count_params, deterministic

RESULTS = Path(convbook.lab.__file__).parent / "reference" / "results"


def _reference(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))["results"]


# --------------------------------------------------------------------------- the stored reference results


@pytest.mark.parametrize("experiment", [separable_accuracy, pointwise_cheap_depth], ids=lambda m: m.__name__)
def test_every_trained_variant_has_its_stored_costs(experiment):
    """Every network the experiment trained still has the parameters and multiply-adds stored with its results."""
    stored = _reference(experiment.__name__.rsplit(".", 1)[-1])["costs"]
    assert set(stored) == set(experiment.MODELS)
    for name, cost in stored.items():
        model = experiment.build(name)  # how the experiment built it for training
        p = profile(model, (1, 1, 16, 16))
        assert count_params(model) == cost["params"], name
        assert p.total_macs == cost["macs"], name
        if "weights" in cost:  # convolution and linear weights, batch norm excluded
            assert p.total_params == cost["weights"], name


def test_known_parameter_counts():
    """The counts the chapters quote, pinned independently of the stored files."""
    assert count_params(small_cnn(False)) == count_params(SmallCNN()) == 23_668
    assert count_params(small_cnn(True)) == count_params(SmallCNN(separable=True)) == 3_716
    assert count_params(small_cnn(True, mid_activation=False)) == 3_716 - 2 * (16 + 32)  # no batch norm between
    assert count_params(small_cnn(False, channels=(16, 16, 8))) == 3_716  # the matched-parameter control
    assert count_params(SmallCNN(pointwise_layers=2)) == 34_868  # NiN's units
    assert count_params(SmallCNN(widths=(20, 39, 77))) == 34_811  # its matched wider twin
    assert count_params(SmallCNN(norm=None)) == 23_556


def test_initial_weights_are_the_ones_the_reference_fitted():
    """separable_trained_fit stored the separable-fit errors of small_cnn(False)'s initial 3x3 kernels for each seed;
    the network built now under the same seed gives the same kernels, hence the same errors."""
    stored = {r["seed"]: r["init"] for r in _reference("separable_trained_fit")["runs"]}
    for seed in (0, 3):
        with deterministic(seed):
            model = small_cnn(False)
        for name, (raw, _) in separable_trained_fit.kernels(model).items():
            assert separable_trained_fit.fit_errors(raw) == pytest.approx(stored[seed][name], rel=1e-9, abs=1e-12)


def test_both_spellings_give_the_same_network_and_weights():
    torch.manual_seed(3)
    a = small_cnn(True, channels=(8, 16, 24))
    torch.manual_seed(3)
    b = SmallCNN(widths=(8, 16, 24), separable=True)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_stage_layout():
    """model[0][i] is stage i: its conv-BN-ReLU alone, or a Sequential of it and its 1x1 units."""
    plain = SmallCNN()
    nin = SmallCNN(pointwise_layers=1)
    assert [type(m) for m in plain[0][0]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in nin[0][0][0]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert nin[0][0][1][0].kernel_size == (1, 1)


# --------------------------------------------------------------------------- the variants


def test_standard_and_separable_pair():
    torch.manual_seed(0)
    standard, separable = small_cnn(False), small_cnn(True)
    x = torch.zeros(3, 1, 16, 16)
    assert standard(x).shape == separable(x).shape == (3, 4)
    ps, pd = profile(standard, (1, 1, 16, 16)), profile(separable, (1, 1, 16, 16))
    assert set(pd.by_kind()) == {"conv", "depthwise", "pointwise", "linear"}
    assert set(ps.by_kind()) == {"conv", "linear"}
    assert ps.total_params > 5 * pd.total_params


@pytest.mark.parametrize("norm", ["batch", None])
@pytest.mark.parametrize("p", [0, 1, 2])
def test_pointwise_units_shapes_and_counts(norm, p):
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


def test_macs_of_the_pointwise_units():
    plain = profile(SmallCNN(), (1, 1, 16, 16)).total_macs
    nin = profile(SmallCNN(pointwise_layers=2), (1, 1, 16, 16)).total_macs
    # two 1x1 units per stage, at 16x16 (16 ch), 8x8 (32 ch) and 4x4 (64 ch)
    assert nin - plain == 2 * (16 * 16 * 16 * 16 + 8 * 8 * 32 * 32 + 4 * 4 * 64 * 64)


def test_without_pointwise_relu_each_stage_is_affine():
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


def test_separable_blocks_with_pointwise_units():
    model = SmallCNN(separable=True, pointwise_layers=1)
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 4)
    assert count_params(model) == count_params(SmallCNN(separable=True)) + sum(w * w + 2 * w for w in (16, 32, 64))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: SmallCNN(pointwise_layers=-1), ValueError, "SmallCNN: pointwise_layers must be a non-negative int"),
        (lambda: SmallCNN(pointwise_layers=True), TypeError, "SmallCNN: pointwise_layers must be an int, got bool"),
        (lambda: SmallCNN(widths=()), ValueError, "SmallCNN: widths must name at least one layer"),
        (lambda: SmallCNN(widths=(16,)), ValueError, "SmallCNN: widths must hold at least two ints"),
        (lambda: SmallCNN(widths=16), TypeError, "SmallCNN: widths must be a sequence of ints, got int"),
        (lambda: SmallCNN(widths=(16, 0)), ValueError, r"SmallCNN: widths\[1\] must be a positive int, got 0"),
        (lambda: SmallCNN(norm="layer"), ValueError, "SmallCNN: norm must be 'batch' or None"),
        (lambda: SmallCNN(pointwise_relu=0), TypeError, "SmallCNN: pointwise_relu must be a bool"),
        (lambda: SmallCNN(num_classes=0), ValueError, "SmallCNN: num_classes must be a positive int"),
        (lambda: SmallCNN(separable=True, norm=None), ValueError, "SmallCNN: norm=None applies to standard blocks"),
        (lambda: small_cnn(1), TypeError, "small_cnn: separable must be a bool"),
        (lambda: small_cnn(True, channels=(8,)), ValueError, "small_cnn: channels must hold at least two"),
        (lambda: small_cnn(False, mid_activation=False), ValueError, "small_cnn: mid_activation=False applies to"),
        (lambda: small_cnn(True, mid_activation=0), TypeError, "small_cnn: mid_activation must be a bool"),
        (lambda: small_cnn(True, kernel_size=1.5), TypeError, "small_cnn: kernel_size must be an int"),
    ],
)
def test_bad_input(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_channels_may_be_any_sequence_of_ints():
    assert np.array_equal(small_cnn(False, channels=np.array([4, 8])).widths, (4, 8))
    assert small_cnn(False, channels=[4, 8]).widths == (4, 8)
