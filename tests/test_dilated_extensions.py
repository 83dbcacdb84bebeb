"""Tests of convbook.dilated's frequency response, de-gridding model and output-stride backbone
(used by dilated/02, 05 and 06), and of the dilated wall-time experiment's implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convbook import conv1d, conv2d, receptive_field
from convbook.dilated import (
    coverage_map,
    frequency_response,
    gaussian_kernel,
    gridding_ratio,
    resnet_layers,
    resnet_summary,
    stack_impulse_response,
)

# --------------------------------------------------------------------------- frequency response


@pytest.mark.parametrize("d", [1, 2, 3, 4, 8])
def test_frequency_response_of_a_difference_is_2_sin_d_omega(d):
    omega, h = frequency_response([-1.0, 0.0, 1.0], dilation=d, n=256)
    assert omega.shape == h.shape == (129,)
    assert omega[0] == 0 and omega[-1] == pytest.approx(np.pi)
    assert np.allclose(np.abs(h), 2 * np.abs(np.sin(d * omega)), atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_frequency_response_is_the_undilated_one_at_d_omega(d):
    w = np.array([1.0, -4.0, 1.0]) + np.array([0.0, 2.0, 0.0])  # any real kernel
    omega, h = frequency_response(w, dilation=d, n=512)
    expected = sum(w[u] * np.exp(1j * d * omega * u) for u in range(w.size))  # H(d omega), the definition
    assert np.allclose(h, expected, atol=1e-12)


def test_frequency_response_predicts_the_response_to_a_cosine():
    # cross-correlating a cosine of frequency omega with the dilated kernel scales it by |H(d omega)|
    rng = np.random.default_rng(0)
    w = rng.normal(size=3)
    for d in (1, 3):
        n = 64
        omega, h = frequency_response(w, dilation=d, n=n)
        m = 5  # omega = 2 pi m / n: a whole number of periods in n samples, so circular = exact
        x = np.cos(omega[m] * np.arange(3 * n))
        y = conv1d(x[None, None], w[None, None], dilation=d)[0, 0]  # valid: no border effects
        assert np.isclose(np.abs(y).max(), np.abs(h[m]), rtol=1e-3)


def test_frequency_response_rejects_bad_input():
    with pytest.raises(ValueError, match="frequency_response: kernel must be a non-empty 1-D array"):
        frequency_response(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"frequency_response: n must be at least the dilated kernel's span .* = 9"):
        frequency_response([1.0, 2.0, 3.0], dilation=4, n=8)
    with pytest.raises(ValueError, match="frequency_response: dilation must be a positive int"):
        frequency_response([1.0, 2.0], dilation=0)
    with pytest.raises(TypeError, match="frequency_response: kernel must hold real numbers"):
        frequency_response(np.array([1j, 2j]))
    assert np.allclose(frequency_response([-1, 0, 1])[1], frequency_response([-1.0, 0.0, 1.0])[1])


def test_gaussian_kernel():
    g = gaussian_kernel(1.0)
    assert g.shape == (7,) and np.isclose(g.sum(), 1.0) and np.allclose(g, g[::-1])
    assert np.argmax(g) == 3
    assert gaussian_kernel(0.5, radius=1).shape == (3,)
    with pytest.raises(ValueError, match="gaussian_kernel: sigma must be positive"):
        gaussian_kernel(0.0)
    with pytest.raises(TypeError, match="gaussian_kernel: sigma must be a real number"):
        gaussian_kernel("1")
    with pytest.raises(ValueError, match="gaussian_kernel: radius must be a non-negative int"):
        gaussian_kernel(1.0, radius=-1)


# --------------------------------------------------------------------------- de-gridding model


@pytest.mark.parametrize("dils", [[1, 1], [2, 2, 2], [1, 2, 5], [4]])
@pytest.mark.parametrize("ndim", [1, 2])
def test_plain_stack_response_is_the_coverage_map_over_the_path_count(dils, ndim):
    r = stack_impulse_response([(dils, False)], ndim=ndim)
    paths = coverage_map(3, dils, ndim=ndim)
    assert r.shape == paths.shape
    assert np.allclose(r * 3 ** (ndim * len(dils)), paths, atol=1e-9)


def _torch_stack(blocks, size, s):
    """The same linear network in torch: averaging 3x3 kernels, residual adds, one active pixel."""
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    x[0, 0, size // 2, size // 2] = 1.0
    avg = torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64)
    for dils, residual in blocks:
        b = x
        for d in dils:
            b = F.conv2d(b, avg, padding=d, dilation=d)
        x = x + s * b if residual else b
    return x[0, 0].numpy()


@pytest.mark.parametrize("s", [0.5, 1.0, 3.0])
def test_stack_response_matches_torch_with_residual_blocks(s):
    blocks = [([2, 2], True), ([4, 4], True), ([2, 2], False), ([1, 1], True)]
    ours = stack_impulse_response(blocks, branch_scale=s)
    theirs = _torch_stack(blocks, ours.shape[0], s)
    assert np.allclose(ours, theirs, atol=1e-12)
    assert np.isclose(ours.sum(), (1 + s) ** 3)  # each of the 3 residual blocks multiplies the total by 1 + s


def test_branch_scale_zero_leaves_the_impulse():
    r = stack_impulse_response([([2, 2], True)], branch_scale=0.0)
    assert r.sum() == 1.0 and r[r.shape[0] // 2, r.shape[1] // 2] == 1.0


def test_stack_impulse_response_rejects_bad_input():
    with pytest.raises(TypeError, match=r"stack_impulse_response: blocks\[0\] must be a \(dilations, residual\) pair"):
        stack_impulse_response([[2, 2, 2]])
    with pytest.raises(TypeError, match=r"stack_impulse_response: blocks\[0\] dilations must be a sequence of ints"):
        stack_impulse_response([(2, True)])
    with pytest.raises(ValueError, match="stack_impulse_response: blocks must name at least one block"):
        stack_impulse_response([])
    with pytest.raises(ValueError, match=r"stack_impulse_response: blocks\[0\] must hold at least one convolution"):
        stack_impulse_response([([], True)])
    with pytest.raises(TypeError, match=r"blocks\[0\] residual must be True or False"):
        stack_impulse_response([([1], 1)])
    with pytest.raises(ValueError, match=r"blocks\[0\] dilation must be a positive int"):
        stack_impulse_response([([0], True)])
    with pytest.raises(ValueError, match="stack_impulse_response: branch_scale must be non-negative"):
        stack_impulse_response([([1], True)], branch_scale=-1.0)
    with pytest.raises(ValueError, match="stack_impulse_response: ndim must be 1 or 2"):
        stack_impulse_response([([1], True)], ndim=3)


def test_gridding_ratio():
    assert gridding_ratio(coverage_map(3, [2, 2, 2])) == pytest.approx(1.0)  # every odd offset a hole
    assert gridding_ratio(coverage_map(3, [4, 4]), period=4) == pytest.approx(1.0)
    assert gridding_ratio(np.ones((6, 6))) == pytest.approx(0.0)  # every coset the same weight
    r = np.array([1.0, 2.0, 3.0, 2.0, 1.0])  # even offsets 0, 2, 4 sum to 5, odd to 4
    assert gridding_ratio(r) == pytest.approx(1 / 9)
    # one averaging layer at d = 1 scales the period-2 component by 1/3 per axis
    assert gridding_ratio(stack_impulse_response([([2, 2], False), ([1], False)])) == pytest.approx(1 / 3)
    # dilation-2 layers pass it untouched, whatever comes before
    assert gridding_ratio(stack_impulse_response([([1], False), ([2, 2], False)])) == pytest.approx(1 / 3)


def test_gridding_ratio_rejects_bad_input():
    with pytest.raises(ValueError, match="gridding_ratio: response must be non-negative and not all zero"):
        gridding_ratio(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="gridding_ratio: response must be non-negative and not all zero"):
        gridding_ratio(np.zeros(3))
    with pytest.raises(ValueError, match="gridding_ratio: response must be a non-empty 1-D or 2-D array"):
        gridding_ratio(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="gridding_ratio: period must be an int >= 2"):
        gridding_ratio(np.ones(4), period=1)
    with pytest.raises(TypeError, match="gridding_ratio: response must be a real array"):
        gridding_ratio(np.array(["a"]))


# --------------------------------------------------------------------------- output stride


@pytest.mark.parametrize(
    "depth, weights, gmacs", [(50, 23_454_912, 4.09), (101, 42_394_816, 7.80), (152, 57_992_384, 11.51)]
)
def test_resnet_trunk_matches_the_published_counts(depth, weights, gmacs):
    # torchvision's ResNets: 25,557,032 / 44,549,160 / 60,192,808 parameters, of which the trunk's convolution
    # weights are what is left without the batch-norm parameters and the 2048 x 1000 classifier (+ bias);
    # 4.09 / 7.80 / 11.51 GMACs at 224 x 224 with the classifier's 2,048,000
    for output_stride in (32, 16, 8):
        s = resnet_summary(resnet_layers(depth, output_stride, 224))
        assert s["params"] == weights
    s = resnet_summary(resnet_layers(depth, 32, 224))
    assert round((s["macs"] + 2048 * 1000) / 1e9, 2) == gmacs


@pytest.mark.parametrize("depth", [50, 101])
def test_output_stride_keeps_the_receptive_field_and_grows_the_maps(depth):
    summaries = {os_: resnet_summary(resnet_layers(depth, os_, 512)) for os_ in (32, 16, 8)}
    assert len({s["receptive_field"] for s in summaries.values()}) == 1
    for os_, s in summaries.items():
        assert s["output_size"] == 512 // os_
    assert summaries[32]["macs"] < summaries[16]["macs"] < summaries[8]["macs"]
    # the stages before the first un-strided one cost exactly the same
    for stage in ("conv1", "conv2_x", "conv3_x"):
        assert len({s["stages"][stage]["macs"] for s in summaries.values()}) == 1


def test_resnet_layers_reach_the_same_input_pixels():
    # each layer's reach in input pixels, (k - 1) * d * (product of the strides below), is the same at every stride
    def reaches(layers):
        out, jump = [], 1
        for L in layers:
            if L["main_path"]:
                out.append((L["kernel_size"] - 1) * L["dilation"] * jump)
                jump *= L["stride"]
        return out

    ref = reaches(resnet_layers(50, 32))
    assert reaches(resnet_layers(50, 16)) == ref == reaches(resnet_layers(50, 8))
    assert receptive_field([(L["kernel_size"], L["stride"], L["dilation"]) for L in resnet_layers(50, 8)]) >= 1


def test_resnet_layers_match_torch_shapes():
    # the layer list, run as plain convolutions along the main path, gives the sizes it states
    layers = resnet_layers(50, 8, 96)
    x = torch.zeros(1, 3, 96, 96)
    for L in layers:
        if not L["main_path"]:
            continue
        if L["kind"] == "maxpool":
            x = F.max_pool2d(x, L["kernel_size"], L["stride"], L["padding"])
        else:
            w = torch.zeros(L["c_out"], L["c_in"], L["kernel_size"], L["kernel_size"])
            x = F.conv2d(x, w, stride=L["stride"], padding=L["padding"], dilation=L["dilation"])
        assert tuple(x.shape[1:]) == (L["c_out"], L["out_size"], L["out_size"])


def test_resnet_layers_reject_bad_input():
    with pytest.raises(ValueError, match="resnet_layers: depth must be one of 50, 101, 152"):
        resnet_layers(34)
    with pytest.raises(ValueError, match="resnet_layers: output_stride must be 32, 16 or 8"):
        resnet_layers(50, 4)
    with pytest.raises(ValueError, match="resnet_layers: input_size must be an int >= 32"):
        resnet_layers(50, 32, 16)
    with pytest.raises(TypeError, match="resnet_summary: layers must be the list of dicts"):
        resnet_summary([1, 2])


# --------------------------------------------------------------------------- the wall-time experiment's versions


@pytest.mark.parametrize("config_name", ["2-D, 16 ch, 64x64", "1-D, 32 ch, 65536 samples"])
@pytest.mark.parametrize("d", [1, 3, 8])
def test_wall_time_implementations_agree(config_name, d):
    from convbook.lab.experiments import dilated_wall_time as exp

    config = dict(exp.CONFIGS[config_name], size=24 if "2-D" in config_name else 200, channels=4)
    x, w = exp.make_inputs(config)
    assert exp.check_agreement(config, d, x, w)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    conv = conv2d if config["ndim"] == 2 else conv1d
    ref = conv(x64, w64, padding=d, dilation=d)
    assert np.abs(exp.im2col_per_output(x64, w64, d) - ref).max() < 1e-10


def test_torch_on_device_timing_runs_on_the_cpu():
    from convbook.lab.experiments import dilated_wall_time as exp

    config = dict(exp.CONFIGS["2-D, 16 ch, 64x64"], size=16, channels=4)
    out = exp.time_torch_on_device(config, "cpu", dilations=[1, 2], batch=2, repeats=3)
    assert sorted(out) == [1, 2]
    assert set(out[1].samples) == {"torch (NCHW)", "torch (channels_last)"}
    assert all(len(v) == 3 for v in out[2].samples.values())


def test_output_stride_trunk_matches_the_layer_list():
    from convbook.lab.experiments import dilated_output_stride as exp

    checks = exp.check_trunk(50, 8, 64)
    assert checks == {"params_match": True, "macs_match": True, "output_size_match": True}


def test_show_kernel_writes_white_on_dark_cells():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convbook.plotting import show_kernel

    fig, ax = plt.subplots()
    show_kernel(ax, np.array([[-9.0, 0.0, 9.0]]))
    colours = [t.get_color() for t in ax.texts]
    assert colours == ["white", "black", "white"]
    plt.close(fig)
