"""convbook.nets.segmentation and segmentation_eval: the dilated chapter's segmentation networks, ASPP, the context
module, and their measurements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convbook import receptive_field
from convbook.nets.segmentation import (
    ASPP,
    aspp_net,
    context_module,
    segmentation_net,
    strided_segmentation_net,
    valid_taps,
)
from convbook.nets.segmentation_eval import (
    blind_pixels,
    centred_mass,
    dependency_box,
    effective_receptive_field,
    erf_extent,
    erf_side,
    fit_threshold_baseline,
    predict,
    predict_threshold_baseline,
    segmentation_scores,
)
from convbook.nets.training import count_params


def _field_by_gradient(net, size=41) -> tuple[int, int]:
    """Rows and columns of the input that reach the centre output (float64, eval mode)."""
    net = net.double().eval()
    x = torch.randn(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    net(x)[0, :, size // 2, size // 2].sum().backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("dilations", [[1, 1, 1, 1], [1, 2, 4, 1], [1, 1, 2, 4, 8]])
def test_segmentation_net_keeps_the_size_and_has_the_computed_field(dilations):
    torch.manual_seed(0)
    net = segmentation_net(dilations)
    assert net(torch.zeros(2, 1, 24, 24)).shape == (2, 3, 24, 24)
    field = receptive_field([(3, 1, d) for d in dilations])
    assert _field_by_gradient(net) == (field, field)


def test_segmentation_net_is_a_flat_stack_of_biased_conv_bn_relu():
    """The layout the reference results were trained with: flat layers, a bias before every batch norm."""
    net = segmentation_net([1, 2])
    assert [type(m).__name__ for m in net] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["Conv2d"]
    assert all(m.bias is not None for m in net if isinstance(m, torch.nn.Conv2d))
    assert net[3].dilation == (2, 2) and net[3].padding == (2, 2)
    head = ASPP(8, 4, 6, rates=(3,))
    assert head.branches[1][0].padding == (3, 3) and head.branches[1][0].bias is not None
    assert [type(m).__name__ for m in head.pool] == ["Conv2d", "ReLU"]


def test_plain_dilated_and_strided_networks_have_the_same_weights():
    counts = [count_params(n) for n in (segmentation_net([1] * 4), segmentation_net([1, 2, 4, 1]))]
    strided = strided_segmentation_net((1, 2, 2, 1))
    assert counts == [1923, 1923] and count_params(strided) == 1923
    assert strided(torch.zeros(1, 1, 24, 24)).shape == (1, 3, 24, 24)
    assert count_params(segmentation_net([1] * 4, kernel_size=[3, 5, 5, 3])) > 1923


def test_aspp_branches_and_shapes():
    torch.manual_seed(0)
    head = ASPP(8, 4, 6, rates=(2, 4, 6))
    assert len(head.branches) == 4 and head.pool is not None  # a 1x1 branch and three rates, plus pooling
    assert head(torch.randn(2, 8, 24, 24)).shape == (2, 6, 24, 24)
    net = aspp_net((1, 1), rates=(2, 4, 6), image_pooling=False).eval()
    assert net(torch.randn(2, 1, 24, 24)).shape == (2, 3, 24, 24)
    assert _field_by_gradient(net) == (17, 17)  # two 3x3 layers (5) and the rate-6 branch (+12)
    with_pool = aspp_net((1, 1), rates=(2, 4, 6)).eval()
    assert _field_by_gradient(with_pool) == (41, 41)  # image pooling: every pixel of the input


@pytest.mark.parametrize("size, rate", [(24, 1), (24, 6), (24, 12), (24, 23), (24, 24), (65, 24), (10, 3)])
def test_valid_taps_counts_the_taps_that_miss_the_padding(size, rate):
    ones = torch.ones(1, 1, size, size, dtype=torch.float64)
    counted = F.conv2d(ones, torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=rate, dilation=rate)
    assert np.array_equal(valid_taps(size, rate), counted[0, 0].numpy().astype(int))


def test_valid_taps_degenerate_to_the_centre_tap():
    assert np.all(valid_taps(24, 24) == 1)  # rate >= size: a 1x1 filter
    assert valid_taps(24, 1).max() == 9 and valid_taps(24, 12).max() == 4
    with pytest.raises(ValueError, match="valid_taps: kernel_size must be odd, got 2"):
        valid_taps(24, 2, kernel_size=2)


def test_identity_initialised_context_module_passes_its_input_through():
    torch.manual_seed(0)
    module = context_module(3)
    x = torch.rand(2, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(module(x), x)  # non-negative input: unchanged
        assert torch.equal(module(x - 0.5), F.relu(x - 0.5))  # ReLU truncation: max(x, 0)
        assert not torch.equal(context_module(3, init="default")(x), x)
    assert count_params(module) == 7 * (3 * 3 * 9 + 3) + (3 * 3 + 3)


def test_blind_pixels_and_scores_by_hand():
    clean = np.zeros((1, 1, 9, 9), dtype=np.float32)
    clean[0, 0, 1:8, 1:8] = 1.0  # a flat 7x7 object
    masks = (clean[:, 0] > 0).astype(np.int64)
    blind3 = blind_pixels(clean, masks, 3)
    assert blind3.sum() == 25 and blind3[0, 4, 4] and not blind3[0, 1, 1]  # the 5x5 interior
    assert blind_pixels(clean, masks, 7).sum() == 1  # only the centre sees no background in a 7x7 window
    pred = masks.copy()
    pred[0, 4, 4] = 2
    s = segmentation_scores(pred, masks, blind3, classes=(1,))
    assert s["pixel_accuracy"] == pytest.approx(80 / 81) and s["mean_iou"] == pytest.approx(48 / 49)
    assert s["blind_accuracy"] == pytest.approx(24 / 25)


def test_threshold_baseline_separates_separable_brightness():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=(20, 8, 8))
    x = (y.astype(np.float32) + rng.uniform(-0.3, 0.3, size=y.shape).astype(np.float32))[:, None]
    t = fit_threshold_baseline(x, y)
    assert 0.3 < t[0] < 0.7 and 1.3 < t[1] < 1.7
    assert np.array_equal(predict_threshold_baseline(x, t), y)


def test_predict_returns_labels_in_eval_mode():
    torch.manual_seed(0)
    net = segmentation_net([1, 2])
    net.train()
    labels = predict(net, np.zeros((3, 1, 12, 12), dtype=np.float32), batch_size=2)
    assert labels.shape == (3, 12, 12) and labels.dtype == np.int64 and net.training


def test_effective_receptive_field_vanishes_outside_the_theoretical_field():
    torch.manual_seed(0)
    net = segmentation_net([1, 2, 4, 1])
    images = np.random.default_rng(0).normal(size=(4, 1, 24, 24)).astype(np.float32)
    erf = effective_receptive_field(net, images, batch_size=3)
    assert erf.shape == (24, 24) and np.all(erf >= 0)
    inside = np.zeros((24, 24), dtype=bool)
    inside[12 - 8 : 12 + 9, 12 - 8 : 12 + 9] = True
    assert np.all(erf[~inside] == 0) and erf[12, 12] > 0
    mass = centred_mass(erf)
    assert np.all(np.diff(mass) >= -1e-12) and mass[8] == pytest.approx(1.0)  # side 17 holds everything
    assert erf_extent(erf, 1.0) <= 17


def test_centred_mass_and_extent_on_known_maps():
    delta = np.zeros((9, 9))
    delta[4, 4] = 1.0
    assert erf_extent(delta, 0.99) == 1
    uniform = np.ones((9, 9))
    np.testing.assert_allclose(centred_mass(uniform), [1 / 81, 9 / 81, 25 / 81, 49 / 81, 1.0])
    assert erf_extent(uniform, 0.5) == 7
    with pytest.raises(ValueError, match=r"erf_extent: fraction must be a number in \(0, 1\]"):
        erf_extent(uniform, 0)
    with pytest.raises(TypeError, match="erf_extent: fraction must be a number, got str"):
        erf_extent(uniform, "0.9")
    with pytest.raises(ValueError, match="centred_mass: erf must be a 2-D non-negative map"):
        centred_mass(-uniform)


def test_erf_side_interpolates_between_odd_sides():
    uniform = np.ones((9, 9))  # shares 1/81, 9/81, 25/81, 49/81, 1 at sides 1, 3, 5, 7, 9
    assert erf_side(uniform, 0.5) == pytest.approx(5 + 2 * (0.5 - 25 / 81) / (24 / 81))  # between 5 and 7
    assert erf_side(uniform, 49 / 81) == pytest.approx(7.0) and erf_side(uniform, 1.0) == pytest.approx(9.0)
    assert abs(erf_side(uniform, 0.5) - 9 * 0.5**0.5) < 0.1  # close to r * sqrt(fraction)
    delta = np.zeros((9, 9))
    delta[4, 4] = 1.0
    assert erf_side(delta, 0.5) == 1.0
    wider = np.pad(uniform, 2)  # zeros around do not move it
    assert erf_side(wider, 0.5) == pytest.approx(erf_side(uniform, 0.5))
    with pytest.raises(ValueError, match=r"erf_side: fraction must be a number in \(0, 1\]"):
        erf_side(uniform, 1.5)
    with pytest.raises(TypeError, match="erf_side: fraction must be a number, got str"):
        erf_side(uniform, "0.5")


def test_dependency_box_measures_fields_through_strides_and_upsampling():
    (r0, r1), (c0, c1) = dependency_box(segmentation_net([1, 2, 4, 1]), 48, (24, 24))
    assert (r1 - r0 + 1, c1 - c0 + 1) == (17, 17) and (r0 + r1) // 2 == 24  # stride 1: the formula, centred
    strided = strided_segmentation_net((1, 2, 2, 1))
    boxes = [dependency_box(strided, 48, (i, 24))[0] for i in range(22, 30)]
    assert all(b - a + 1 == 21 for a, b in boxes)  # 17 + 4: bilinear x4 mixes two coarse scores 4 pixels apart
    assert len(set(boxes)) == 2  # four consecutive output rows share one field
    with pytest.raises(ValueError, match=r"dependency_box: pixel \(48, 0\) is outside the output"):
        dependency_box(strided, 48, (48, 0))


def test_segmentation_errors_name_the_argument():
    with pytest.raises(ValueError, match="segmentation_net: kernel sizes must be odd"):
        segmentation_net([1, 1], kernel_size=2)
    with pytest.raises(ValueError, match=r"segmentation_net: kernel_size must give one size per dilation \(2\)"):
        segmentation_net([1, 1], kernel_size=[3])
    with pytest.raises(ValueError, match="segmentation_net: dilations must name at least one layer"):
        segmentation_net([])
    with pytest.raises(TypeError, match="segmentation_net: dilations must be a sequence of ints, got int"):
        segmentation_net(2)
    with pytest.raises(ValueError, match="segmentation_net: kernel_size must be a positive int, got 0"):
        segmentation_net([1, 1], kernel_size=0)
    with pytest.raises(ValueError, match=r"strided_segmentation_net: strides\[1\] must be a positive int, got 0"):
        strided_segmentation_net((1, 0))
    with pytest.raises(ValueError, match="context_module: init must be 'identity' or 'default'"):
        context_module(3, init="zeros")
    with pytest.raises(TypeError, match="ASPP: image_pooling must be a bool"):
        ASPP(8, 4, 8, image_pooling=1)
    with pytest.raises(ValueError, match="blind_pixels: field must be odd, got 4"):
        blind_pixels(np.zeros((1, 1, 5, 5)), np.zeros((1, 5, 5), dtype=int), 4)
    with pytest.raises(ValueError, match="segmentation_scores: pred and masks must have the same shape"):
        segmentation_scores(np.zeros((1, 4, 4), dtype=int), np.zeros((1, 5, 5), dtype=int))
