"""The architectures of the book as plain tables, and what each of their layers costs.

* MobileNet v1 (Howard et al. 2017): :data:`MOBILENET_V1_STEM`,
  :data:`MOBILENET_V1_BLOCKS`, the width multiplier :func:`scaled_width`, and
  :func:`mobilenet_v1_costs`, every layer's weights and multiply-adds for any
  width multiplier and resolution. ``convbook.nets.models.mobilenet_v1``
  builds the network from the same table.
* MobileNetV2 (Sandler et al. 2018): :data:`MOBILENET_V2_SETTINGS` and
  :func:`mobilenet_v2_costs`.
* The bottleneck ResNet trunks (He et al. 2016) at DeepLab's output strides
  32, 16 and 8: :func:`resnet_layers` and :func:`resnet_summary`.

Plain Python: this module needs no torch (it lives with the nets because it
is where the architectures are). Every count comes from :mod:`convbook.costs`.
"""

from __future__ import annotations

from convbook._args import positive_int, real_number
from convbook.costs import conv_cost, depthwise_cost, dilated_cost, inverted_residual_cost, linear_cost, pointwise_cost
from convbook.shapes import conv_output_size, receptive_field

__all__ = [
    "MOBILENET_V1_BLOCKS",
    "MOBILENET_V1_STEM",
    "MOBILENET_V2_SETTINGS",
    "mobilenet_v1_costs",
    "mobilenet_v2_costs",
    "resnet_layers",
    "resnet_summary",
    "scaled_width",
]

# --------------------------------------------------------------------------- MobileNet v1

#: MobileNet v1's body after the first convolution (Table 1 of Howard et al. 2017):
#: one ``(output channels, stride)`` pair per depthwise-separable block, the stride
#: being that of the block's depthwise 3x3 convolution. The paper's table lists the
#: last (13th) depthwise convolution, whose input is 7x7x1024, as "s2", yet gives
#: 7x7 as its output size too (the input of the pooling layer), so its stride is 1,
#: as in the reference implementation.
MOBILENET_V1_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
MOBILENET_V1_STEM = 32  # output channels of the first 3x3 convolution (stride 2)


def scaled_width(channels: int, width_multiplier: float) -> int:
    """MobileNet's width multiplier ``alpha`` applied to a layer: ``max(1, int(alpha * channels))``."""
    return max(1, int(channels * width_multiplier))


def _check_multiplier(value, name: str, fname: str, high: float) -> float:
    value = real_number(value, name, fname)
    if not 0 < value <= high:
        raise ValueError(f"{fname}: {name} must be in (0, {high:g}], got {value}")
    return value


def mobilenet_v1_costs(
    width_multiplier: float = 1.0, resolution: int = 224, num_classes: int = 1000, full_conv: bool = False
) -> list[dict]:
    """Weights and multiply-adds of every layer of MobileNet v1, from its architecture table alone.

    The same network as ``convbook.nets.models.mobilenet_v1`` (``full_conv=True``:
    ``mobilenet_v1_full_conv``), counted with :mod:`convbook.costs` instead of a
    forward pass, so it needs no torch and takes microseconds. The width
    multiplier ``alpha`` scales every layer's channels to
    ``int(alpha * channels)``; the resolution multiplier ``rho`` is applied by
    choosing the input size (Howard et al. 2017, section 3.3 and 3.4: 224, 192,
    160 or 128). Convolutions have no bias (batch norm follows each); the
    classifier has ``num_classes`` biases, counted in its ``params``.

    Parameters
    ----------
    width_multiplier : float in (0, 4]
    resolution : int, at least 32
        Height and width of the square input image.
    num_classes : int
    full_conv : bool
        Count the "Conv MobileNet" twin (each block one standard 3x3 convolution).

    Returns
    -------
    list of dict
        One dict per layer, in execution order: ``name``, ``kind`` ('conv',
        'depthwise', 'pointwise' or 'linear', as :func:`convbook.nets.profiler.profile` names
        them), ``c_in``, ``c_out``, ``out_size`` (spatial side), ``params`` and
        ``macs`` (per image); the linear layer also has ``bias`` (its share of ``params``).
        Output side of a 3x3 layer with padding 1 and stride ``s``:
        ``(size + 2 - 3) // s + 1``.
    """
    fname = "mobilenet_v1_costs"
    alpha = _check_multiplier(width_multiplier, "width_multiplier", fname, 4.0)
    resolution = positive_int(resolution, "resolution", fname, minimum=32)
    num_classes = positive_int(num_classes, "num_classes", fname)
    if not isinstance(full_conv, bool):
        raise TypeError(f"{fname}: full_conv must be a bool, got {type(full_conv).__name__}")
    rows = []

    def add(name, kind, c_in, c_out, size, cost, **extra):
        rows.append(dict(name=name, kind=kind, c_in=c_in, c_out=c_out, out_size=size, **vars(cost), **extra))

    c = scaled_width(MOBILENET_V1_STEM, alpha)
    size = conv_output_size(resolution, 3, stride=2, padding=1)
    add("stem", "conv", 3, c, size, conv_cost(3, c, 3, size))
    for i, (c_out, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        c_out = scaled_width(c_out, alpha)
        size = conv_output_size(size, 3, stride=stride, padding=1)
        if full_conv:
            add(f"block{i}", "conv", c, c_out, size, conv_cost(c, c_out, 3, size))
        else:
            add(f"block{i}.depthwise", "depthwise", c, c, size, depthwise_cost(c, 3, size))
            add(f"block{i}.pointwise", "pointwise", c, c_out, size, pointwise_cost(c, c_out, size))
        c = c_out
    add("classifier", "linear", c, num_classes, 1, linear_cost(c, num_classes, bias=True), bias=num_classes)
    return rows


# --------------------------------------------------------------------------- MobileNetV2

#: MobileNetV2's body (Sandler et al. 2018, Table 2): ``(t, c, n, s)`` = expansion factor, output channels,
#: number of inverted residual blocks, stride of the first of them. A 3x3 stride-2 convolution to 32 channels
#: comes before; a 1x1 convolution to 1280 channels, global average pooling and a 1x1 classifier come after.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2_costs(resolution: int = 224, num_classes: int = 1000) -> list[dict]:
    """Weights and multiply-adds of every layer of MobileNetV2 (width 1.0), from its Table 2 alone.

    Stem: 3x3 convolution, stride 2, 3 -> 32 channels; then the blocks of
    :data:`MOBILENET_V2_SETTINGS` (:func:`convbook.costs.inverted_residual_cost`, one row per
    layer: ``expand``, ``depthwise``, ``project``); a 1x1 convolution to 1280
    channels; the classifier (1280 -> ``num_classes``, with biases). Batch
    norms are not counted, convolutions have no bias.

    Returns
    -------
    list of dict
        ``name``, ``kind`` (as :func:`convbook.nets.profiler.profile` names it), ``params``, ``macs`` per image.
    """
    fname = "mobilenet_v2_costs"
    resolution = positive_int(resolution, "resolution", fname, minimum=32)
    num_classes = positive_int(num_classes, "num_classes", fname)
    size = conv_output_size(resolution, 3, stride=2, padding=1)
    rows = [dict(name="stem", kind="conv", **vars(conv_cost(3, 32, 3, size)))]
    c, block = 32, 0
    for t, c_out, n, s in MOBILENET_V2_SETTINGS:
        for i in range(n):
            block += 1
            cost = inverted_residual_cost(c, c_out, size, expansion=t, stride=s if i == 0 else 1)
            for part, kind in (("expand", "pointwise"), ("depthwise", "depthwise"), ("project", "pointwise")):
                if cost[part] is not None:
                    rows.append(dict(name=f"block{block}.{part}", kind=kind, **vars(cost[part])))
            c, size = c_out, cost["out_size"]
    rows.append(dict(name="last_1x1", kind="pointwise", **vars(pointwise_cost(c, 1280, size))))
    rows.append(dict(name="classifier", kind="linear", **vars(linear_cost(1280, num_classes, bias=True))))
    return rows


# --------------------------------------------------------------------------- ResNet trunks at an output stride

_RESNET_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def resnet_layers(depth: int = 50, output_stride: int = 32, input_size: int = 224) -> list[dict]:
    """The convolution and pooling layers of a bottleneck ResNet trunk, with DeepLab's output stride.

    ResNet-50/101/152 (He et al. 2016, torchvision's "v1.5" layout: the
    stride of a stage sits on the 3 x 3 convolution of its first block)
    reduce the input 32 times: output stride 32. DeepLab (Chen et al.)
    keeps more resolution by removing the stride of the last stages and
    dilating what follows: for output stride 16 the last stage (conv5_x) runs
    at stride 1 with dilation 2, for output stride 8 conv4_x also runs at
    stride 1, with dilation 2, and conv5_x with dilation 4. The first 3 x 3
    convolution of an un-strided stage keeps the previous dilation, so that
    every layer's reach in input pixels, and the receptive field, stay exactly
    those of the strided network. The weights are the same; the maps of the
    last stages are larger, and so are their multiply-adds (a dilated layer
    costs what the undilated one costs on the same map, :func:`convbook.costs.dilated_cost`).

    Parameters
    ----------
    depth : {50, 101, 152}
    output_stride : {32, 16, 8}
    input_size : int, at least 32
        Height and width of the (square) input image.

    Returns
    -------
    list of dict
        One entry per layer, from the input: ``stage`` ('conv1', 'pool',
        'conv2_x' ... 'conv5_x'), ``name``, ``kind`` ('conv' or 'maxpool'),
        ``c_in``, ``c_out``, ``kernel_size``, ``stride``, ``dilation``,
        ``padding``, ``in_size``, ``out_size``, ``main_path`` (False for the
        1 x 1 projection shortcuts), ``params`` and ``macs`` (per image, no
        biases, no batch-norm; 0 for the pooling layer). The fully connected
        classifier is not part of the trunk.
    """
    fname = "resnet_layers"
    if isinstance(depth, bool) or depth not in _RESNET_BLOCKS:
        raise ValueError(f"{fname}: depth must be one of 50, 101, 152, got {depth!r}")
    if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
        raise ValueError(f"{fname}: output_stride must be 32, 16 or 8, got {output_stride!r}")
    size = positive_int(input_size, "input_size", fname, minimum=32)
    layers = []

    def add(stage, name, kind, c_in, c_out, k, s, d, p, main=True):
        nonlocal size
        out = conv_output_size(size, k, s, p, d)
        cost = dilated_cost(c_in, c_out, k, out, d) if kind == "conv" else None
        layers.append(
            {
                "stage": stage,
                "name": name,
                "kind": kind,
                "c_in": c_in,
                "c_out": c_out,
                "kernel_size": k,
                "stride": s,
                "dilation": d,
                "padding": p,
                "in_size": size,
                "out_size": out,
                "main_path": main,
                "params": cost.params if cost else 0,
                "macs": cost.macs if cost else 0,
            }
        )
        return out

    size = add("conv1", "conv1", "conv", 3, 64, 7, 2, 1, 3)
    size = add("pool", "maxpool", "maxpool", 64, 64, 3, 2, 1, 1)
    # (stage, width, stride in the strided network); DeepLab turns the last strides into dilation
    stages = [("conv2_x", 64, 1), ("conv3_x", 128, 2), ("conv4_x", 256, 2), ("conv5_x", 512, 2)]
    keep = {32: 4, 16: 3, 8: 2}[output_stride]  # how many stages keep their stride (conv2_x has none)
    c_in, dilation = 64, 1
    for index, ((stage, width, stride), blocks) in enumerate(zip(stages, _RESNET_BLOCKS[depth])):
        if index < keep:
            first_dilation, new_dilation = dilation, dilation
        else:  # stride removed: the first 3x3 keeps the old dilation, the rest double it
            first_dilation, new_dilation, stride = dilation, dilation * stride, 1
        for b in range(blocks):
            s = stride if b == 0 else 1
            d = first_dilation if b == 0 else new_dilation
            block_in = size
            prefix = f"{stage}.{b + 1}"
            add(stage, f"{prefix}.conv_a (1x1)", "conv", c_in, width, 1, 1, 1, 0)
            mid = add(stage, f"{prefix}.conv_b (3x3)", "conv", width, width, 3, s, d, d)
            size = mid
            add(stage, f"{prefix}.conv_c (1x1)", "conv", width, 4 * width, 1, 1, 1, 0)
            if b == 0:  # projection shortcut: 1x1 with the block's stride
                saved, size = size, block_in
                add(stage, f"{prefix}.shortcut (1x1)", "conv", c_in, 4 * width, 1, s, 1, 0, main=False)
                size = saved
            c_in = 4 * width
        dilation = new_dilation
    return layers


def resnet_summary(layers) -> dict:
    """Per-stage totals of :func:`resnet_layers`, and the receptive field of the trunk's main path.

    Returns
    -------
    dict
        ``stages``: ``{stage: {"out_size", "params", "macs", "activations"}}``
        (``activations`` counts the output elements of the stage's layers, per
        image: what a forward pass writes, a proxy for memory traffic);
        ``params``, ``macs``, ``activations``: totals; ``output_size``: the
        last map's side; ``receptive_field``: along one dimension, in input
        pixels, through the main path (the deepest path; shortcuts are shorter).
    """
    if not isinstance(layers, (list, tuple)) or not layers or not all(isinstance(L, dict) for L in layers):
        raise TypeError("resnet_summary: layers must be the list of dicts that resnet_layers returns")
    stages: dict = {}
    for L in layers:
        s = stages.setdefault(L["stage"], {"out_size": L["out_size"], "params": 0, "macs": 0, "activations": 0})
        s["out_size"] = L["out_size"]
        s["params"] += L["params"]
        s["macs"] += L["macs"]
        s["activations"] += L["c_out"] * L["out_size"] ** 2
    main = [(L["kernel_size"], L["stride"], L["dilation"]) for L in layers if L["main_path"]]
    return {
        "stages": stages,
        "params": sum(s["params"] for s in stages.values()),
        "macs": sum(s["macs"] for s in stages.values()),
        "activations": sum(s["activations"] for s in stages.values()),
        "output_size": layers[-1]["out_size"],
        "receptive_field": receptive_field(main),
    }
