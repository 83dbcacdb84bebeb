"""convbook: dilated, depthwise-separable and 1x1 convolutions from scratch in NumPy.

The core (this namespace) needs only NumPy. PyTorch is imported only by
``convbook.torch_bridge``, ``convbook.profiler`` and ``convbook.models``;
``convbook.profile`` is loaded from ``convbook.profiler`` on first use.
"""

from .backward import conv1d_backward, conv2d_backward
from .conv import conv1d, conv1d_naive, conv2d, conv2d_im2col, conv2d_naive
from .costs import LayerCost, conv_cost, dilated_kernel_macs, separable_cost
from .shapes import conv_output_size, effective_kernel_size, receptive_field, same_padding

__version__ = "0.1.0"

__all__ = [
    "LayerCost",
    "conv1d",
    "conv1d_backward",
    "conv1d_naive",
    "conv2d",
    "conv2d_backward",
    "conv2d_im2col",
    "conv2d_naive",
    "conv_cost",
    "conv_output_size",
    "dilated_kernel_macs",
    "effective_kernel_size",
    "profile",
    "receptive_field",
    "same_padding",
    "separable_cost",
]


def __getattr__(name):
    if name == "profile":  # lazily, so that `import convbook` does not import torch
        from .profiler import profile

        return profile
    raise AttributeError(f"module 'convbook' has no attribute {name!r}")
