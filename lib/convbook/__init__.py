"""convbook: dilated, depthwise-separable and 1x1 convolutions from scratch in NumPy.

The core (this namespace) needs only NumPy. It holds the operations and, in
``convbook.costs``, the one place that counts weights and multiply-adds. The layers above it:

* ``convbook.plotting``: figures (matplotlib);
* ``convbook.nets``: every PyTorch model, the NumPy-torch bridge, training and the profiler
  (``convbook.nets.profiler.profile``);
* ``convbook.lab``: timing, machine facts, data sets and the experiments behind the book's measured claims;
* ``convbook.course``: the exercises' self-checks and the course tooling.

Each may import the layers below it, never one above; ``import convbook`` imports neither torch nor matplotlib.
"""

from convbook._release import VERSION
from convbook.backward import conv1d_backward, conv2d_backward
from convbook.conv import conv1d, conv1d_naive, conv2d, conv2d_im2col, conv2d_naive
from convbook.costs import (
    LayerCost,
    conv_cost,
    conv_intensity,
    conv_macs,
    depthwise_cost,
    dilated_cost,
    dilated_kernel_macs,
    inverted_residual_cost,
    linear_cost,
    pointwise_cost,
    separable_cost,
)
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
    "conv_intensity",
    "conv_macs",
    "conv_output_size",
    "coverage_map",
    "depthwise_conv2d",
    "depthwise_conv2d_loop",
    "depthwise_cost",
    "dilate_kernel",
    "dilated_conv1d_gaps",
    "dilated_conv2d_gaps",
    "dilated_cost",
    "dilated_kernel_macs",
    "effective_kernel_size",
    "fit_separable",
    "inverted_residual_cost",
    "linear_cost",
    "pointwise_conv2d",
    "pointwise_conv2d_loop",
    "pointwise_cost",
    "receptive_field",
    "same_padding",
    "separable_conv2d",
    "separable_cost",
    "winograd_macs",
]
