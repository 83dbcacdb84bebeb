"""convbook: dilated, depthwise-separable and 1x1 convolutions from scratch in NumPy.

The core (this namespace) needs only NumPy. PyTorch is imported only by
``convbook.nets.torch_bridge``, ``convbook.nets.profiler``, ``convbook.nets.training``,
``convbook.nets.models`` and ``convbook.nets.blocks``; ``convbook.profile`` is loaded from
``convbook.nets.profiler`` on first use.
"""

from convbook._release import VERSION
from convbook.backward import conv1d_backward, conv2d_backward
from convbook.conv import conv1d, conv1d_naive, conv2d, conv2d_im2col, conv2d_naive
from convbook.costs import LayerCost, conv_cost, dilated_kernel_macs, separable_cost
from convbook.dilated import causal_conv1d, coverage_map, dilate_kernel, dilated_conv1d_gaps, dilated_conv2d_gaps
from convbook.pointwise import pointwise_conv2d, pointwise_conv2d_loop
from convbook.separable import depthwise_conv2d, depthwise_conv2d_loop, fit_separable, separable_conv2d
from convbook.shapes import conv_output_size, effective_kernel_size, receptive_field, same_padding
from convbook.winograd import conv2d_winograd, winograd_macs

__version__ = VERSION

__all__ = [
    "LayerCost",
    "causal_conv1d",
    "conv1d",
    "conv1d_backward",
    "conv1d_naive",
    "conv2d",
    "conv2d_backward",
    "conv2d_im2col",
    "conv2d_naive",
    "conv2d_winograd",
    "conv_cost",
    "conv_output_size",
    "coverage_map",
    "depthwise_conv2d",
    "depthwise_conv2d_loop",
    "dilate_kernel",
    "dilated_conv1d_gaps",
    "dilated_conv2d_gaps",
    "dilated_kernel_macs",
    "effective_kernel_size",
    "fit_separable",
    "pointwise_conv2d",
    "pointwise_conv2d_loop",
    "profile",
    "receptive_field",
    "same_padding",
    "separable_conv2d",
    "separable_cost",
    "winograd_macs",
]


def __getattr__(name):
    if name == "profile":  # lazily, so that `import convbook` does not import torch
        from convbook.nets.profiler import profile

        return profile
    raise AttributeError(f"module 'convbook' has no attribute {name!r}")
