"""Tests of the dilated ResNet trunks at DeepLab's output strides (convbook.nets.architectures, used by dilated/02),
and of the dilated wall-time and output-stride experiments. The frequency response and the de-gridding model of
dilated/05 and 06 are tested in test_analysis.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convbook import conv1d, conv2d, receptive_field
from convbook.nets.architectures import resnet_layers, resnet_summary

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
