"""Dense prediction with dilated convolutions: the segmentation models and measurements of the dilated chapter.

* :func:`segmentation_net`: ``conv-BN-ReLU`` layers at chosen dilations (and
  kernel sizes), then a 1x1 layer to per-pixel class scores, at full resolution;
  :func:`strided_segmentation_net`, the downsampling alternative (strides, then
  bilinear upsampling of the scores).
* :class:`ASPP` and :func:`aspp_net`: DeepLab's atrous spatial pyramid pooling
  (Chen et al. 2018; with the image-pooling branch of DeepLabv3, Chen et al.
  2017): parallel 3x3 branches at several rates, a 1x1 branch and a global
  average, concatenated and projected.
* :func:`valid_taps`: how many taps of a dilated 3x3 filter land inside the
  map rather than on its zero padding; the reason ASPP needs an image-pooling
  branch at large rates.
* :func:`context_module`: Yu & Koltun's basic context module (2016), with
  their identity initialisation or PyTorch's default one.
* :func:`blind_pixels`, :func:`segmentation_scores`,
  :func:`fit_threshold_baseline`: the task's measurements and its trivial
  baseline.
* :func:`effective_receptive_field`, :func:`centred_mass`, :func:`erf_extent`:
  the gradient-based effective receptive field (Luo et al. 2016).

Importing this module imports torch.
"""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Real

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from convbook._args import positive_int

__all__ = [
    "ASPP",
    "aspp_net",
    "blind_pixels",
    "centred_mass",
    "context_module",
    "effective_receptive_field",
    "erf_extent",
    "fit_threshold_baseline",
    "predict",
    "predict_threshold_baseline",
    "segmentation_net",
    "segmentation_scores",
    "strided_segmentation_net",
    "valid_taps",
]


def _int_sequence(values, name: str, fname: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{fname}: {name} must be a sequence of positive ints, got {type(values).__name__}")
    out = tuple(positive_int(v, f"each entry of {name}", fname) for v in values)
    if not out:
        raise ValueError(f"{fname}: {name} must not be empty")
    return out


def _conv_bn_relu(c_in: int, c_out: int, k: int, d: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=d * (k - 1) // 2, dilation=d), nn.BatchNorm2d(c_out), nn.ReLU()]


def segmentation_net(
    dilations, channels: int = 8, kernel_size=3, in_channels: int = 1, classes: int = 3
) -> nn.Sequential:
    """A full-resolution segmentation network: ``conv-BN-ReLU`` per dilation, then a 1x1 layer to class scores.

    Parameters
    ----------
    dilations : sequence of int
        One layer per entry.
    channels : int
        Channels of every hidden layer.
    kernel_size : int (odd) or sequence of odd ints
        One size for every layer, or one per layer.
    in_channels, classes : int

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``
        (padding ``d (k - 1) / 2`` keeps the size). Its receptive field is
        ``1 + sum((k_l - 1) d_l)`` pixels along each axis.
    """
    fname = "segmentation_net"
    dils = _int_sequence(dilations, "dilations", fname)
    ks = (
        (kernel_size,) * len(dils) if isinstance(kernel_size, int) else _int_sequence(kernel_size, "kernel_size", fname)
    )
    ks = tuple(positive_int(k, "kernel_size", fname) for k in ks)
    if len(ks) != len(dils):
        raise ValueError(f"{fname}: kernel_size must give one size per dilation ({len(dils)}), got {len(ks)}")
    if any(k % 2 == 0 for k in ks):
        raise ValueError(f"{fname}: kernel sizes must be odd (centred 'same' padding), got {ks}")
    channels = positive_int(channels, "channels", fname)
    in_channels = positive_int(in_channels, "in_channels", fname)
    classes = positive_int(classes, "classes", fname, minimum=2)
    layers: list[nn.Module] = []
    c_in = in_channels
    for k, d in zip(ks, dils):
        layers += _conv_bn_relu(c_in, channels, k, d)
        c_in = channels
    layers.append(nn.Conv2d(channels, classes, 1))  # per-pixel class scores
    return nn.Sequential(*layers)


def strided_segmentation_net(strides=(1, 2, 2, 1), channels: int = 8, in_channels: int = 1, classes: int = 3):
    """The downsampling alternative: 3x3 ``conv-BN-ReLU`` layers with strides, then bilinear upsampling.

    The same weights as :func:`segmentation_net` with as many layers, and a
    wider receptive field (strides multiply the step of every later layer:
    ``(1, 2, 2, 1)`` gives 17x17, like dilations ``(1, 2, 4, 1)``), but the
    class scores are computed on a map ``prod(strides)`` times coarser and
    interpolated back: context at the price of resolution.

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``;
        ``H`` and ``W`` must be multiples of ``prod(strides)``.
    """
    fname = "strided_segmentation_net"
    strides = _int_sequence(strides, "strides", fname)
    channels = positive_int(channels, "channels", fname)
    layers: list[nn.Module] = []
    c_in = positive_int(in_channels, "in_channels", fname)
    for s in strides:
        layers += [nn.Conv2d(c_in, channels, 3, stride=s, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
        c_in = channels
    layers.append(nn.Conv2d(channels, positive_int(classes, "classes", fname, minimum=2), 1))
    factor = int(np.prod(strides))
    if factor > 1:
        layers.append(nn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- ASPP


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab; with DeepLabv3's 1x1 and image-pooling branches).

    Branches, each ``conv-BN-ReLU`` with ``branch_channels`` outputs: one 1x1
    convolution, one 3x3 convolution per entry of ``rates`` (dilation = rate,
    padding = rate, so every branch keeps the size), and, with
    ``image_pooling``, the global average of the input through a 1x1
    convolution, broadcast back to every pixel. The branches are concatenated
    and projected by a 1x1 ``conv-BN-ReLU`` to ``out_channels``.

    Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H, W)``.
    """

    def __init__(
        self, in_channels: int, branch_channels: int, out_channels: int, rates=(2, 4, 6), image_pooling: bool = True
    ):
        super().__init__()
        fname = "ASPP"
        for name, value in (
            ("in_channels", in_channels),
            ("branch_channels", branch_channels),
            ("out_channels", out_channels),
        ):
            positive_int(value, name, fname)
        self.rates = _int_sequence(rates, "rates", fname)
        if not isinstance(image_pooling, bool):
            raise TypeError(f"{fname}: image_pooling must be a bool, got {type(image_pooling).__name__}")
        c, b = in_channels, branch_channels
        self.branches = nn.ModuleList([nn.Sequential(*_conv_bn_relu(c, b, 1, 1))])
        self.branches.extend(nn.Sequential(*_conv_bn_relu(c, b, 3, r)) for r in self.rates)
        # no batch norm in the pooled branch: it holds one value per image and channel
        self.pool = nn.Sequential(nn.Conv2d(c, b, 1), nn.ReLU()) if image_pooling else None
        n = len(self.branches) + (1 if image_pooling else 0)
        self.project = nn.Sequential(*_conv_bn_relu(n * b, out_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]  # each (N, b, H, W)
        if self.pool is not None:
            pooled = self.pool(x.mean(dim=(2, 3), keepdim=True))  # (N, b, 1, 1)
            outs.append(pooled.expand(-1, -1, *x.shape[2:]))  # (N, b, H, W)
        return self.project(torch.cat(outs, dim=1))  # (N, out_channels, H, W)


def aspp_net(
    front_dilations=(1, 1),
    channels: int = 8,
    branch_channels: int = 4,
    rates=(2, 4, 6),
    image_pooling: bool = True,
    in_channels: int = 1,
    classes: int = 3,
) -> nn.Sequential:
    """A few ``conv-BN-ReLU`` layers (the "backbone"), an :class:`ASPP` head, and a 1x1 layer to class scores.

    Returns
    -------
    nn.Sequential
        Maps ``(N, in_channels, H, W)`` to logits ``(N, classes, H, W)``.
    """
    fname = "aspp_net"
    dils = _int_sequence(front_dilations, "front_dilations", fname)
    channels = positive_int(channels, "channels", fname)
    layers: list[nn.Module] = []
    c_in = positive_int(in_channels, "in_channels", fname)
    for d in dils:
        layers += _conv_bn_relu(c_in, channels, 3, d)
        c_in = channels
    layers.append(ASPP(channels, branch_channels, channels, rates, image_pooling))
    layers.append(nn.Conv2d(channels, positive_int(classes, "classes", fname, minimum=2), 1))
    return nn.Sequential(*layers)


def valid_taps(size: int, rate: int, kernel_size: int = 3) -> np.ndarray:
    """How many taps of a ``kernel_size`` x ``kernel_size`` filter at dilation ``rate`` fall inside the map.

    With ``padding = rate (k - 1) / 2`` ("same" output), output pixel ``(i, j)``
    reads input ``(i + rate u, j + rate v)`` for ``u, v`` in
    ``-(k - 1)/2 .. (k - 1)/2``; taps outside ``0 .. size - 1`` read zero
    padding and carry no information. Once ``rate >= size`` only the centre
    tap is left, and the filter has degenerated to a 1x1 filter (DeepLabv3's
    observation, which motivates its image-pooling branch).

    Parameters
    ----------
    size : int
        The map is ``size x size``.
    rate : int
        The dilation.
    kernel_size : int, odd

    Returns
    -------
    ndarray of int, shape (size, size)
        The number of valid taps (1 .. k^2) at every output pixel.
    """
    fname = "valid_taps"
    size = positive_int(size, "size", fname)
    rate = positive_int(rate, "rate", fname)
    kernel_size = positive_int(kernel_size, "kernel_size", fname)
    if kernel_size % 2 == 0:
        raise ValueError(f"{fname}: kernel_size must be odd, got {kernel_size}")
    half = (kernel_size - 1) // 2
    pos = np.arange(size)[:, None] + rate * np.arange(-half, half + 1)[None, :]  # (size, k): rows a tap reads
    inside = ((pos >= 0) & (pos < size)).sum(axis=1)  # (size,): valid taps along one axis
    return np.outer(inside, inside)  # (size, size)


# --------------------------------------------------------------------------- context module


def context_module(channels: int, dilations=(1, 1, 2, 4, 8, 16, 1), init: str = "identity") -> nn.Sequential:
    """Yu & Koltun's basic context module: 3x3 layers with ``channels`` in and out, ReLU, then a 1x1 layer.

    Parameters
    ----------
    channels : int
        ``C``: the module maps ``C`` feature maps (in the paper, the front
        end's class scores) to ``C`` maps of the same size.
    dilations : sequence of int
        The 3x3 layers' dilations; the paper's are ``1, 1, 2, 4, 8, 16, 1``
        (receptive field 67x67) for 64x64 maps.
    init : {'identity', 'default'}
        ``'identity'``: Yu & Koltun's initialisation, ``w[c, c', u, v] = 1`` if
        ``c = c'`` and ``(u, v)`` is the centre tap, 0 otherwise, zero biases:
        every layer passes its input through, so the whole module computes
        ``max(x, 0)`` at initialisation (the input itself when it is
        non-negative). ``'default'``: PyTorch's random initialisation.

    Returns
    -------
    nn.Sequential
        ``(N, C, H, W)`` to ``(N, C, H, W)``: each 3x3 layer is followed by a
        ReLU (the paper's "truncation"), the final 1x1 layer is not.
    """
    fname = "context_module"
    channels = positive_int(channels, "channels", fname)
    dils = _int_sequence(dilations, "dilations", fname)
    if init not in ("identity", "default"):
        raise ValueError(f"{fname}: init must be 'identity' or 'default', got {init!r}")
    layers: list[nn.Module] = []
    for d in dils:
        layers += [nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU()]
    layers.append(nn.Conv2d(channels, channels, 1))
    module = nn.Sequential(*layers)
    if init == "identity":
        with torch.no_grad():
            for m in module:
                if isinstance(m, nn.Conv2d):
                    m.weight.zero_()
                    m.bias.zero_()
                    centre = m.kernel_size[0] // 2
                    for c in range(channels):
                        m.weight[c, c, centre, centre] = 1.0
    return module


# --------------------------------------------------------------------------- measurements


def _masks(y, name: str, fname: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.ndim != 3:
        raise ValueError(f"{fname}: {name} must be integer labels of shape (N, H, W), got {y.dtype} {y.shape}")
    return y


def blind_pixels(clean_images, masks, field: int, value: float = 1.0) -> np.ndarray:
    """Object pixels whose ``field x field`` window sees only flat object interior (no rim, no background).

    Parameters
    ----------
    clean_images : ndarray, shape (N, 1, H, W)
        The noise-free images (``make_segmentation_task(..., noise=0.0)``).
    masks : ndarray of int, shape (N, H, W)
        Labels, 0 for background.
    field : int, odd
        The receptive field's side in pixels.
    value : float
        The brightness of flat interior.

    Returns
    -------
    ndarray of bool, shape (N, H, W)
        True where a network with this field has, in principle, no information
        about the object's class. Outside the image counts as background.
    """
    fname = "blind_pixels"
    clean_images = np.asarray(clean_images)
    masks = _masks(masks, "masks", fname)
    if (
        clean_images.ndim != 4
        or clean_images.shape[1] != 1
        or clean_images.shape[0:1] + clean_images.shape[2:] != (masks.shape)
    ):
        raise ValueError(
            f"{fname}: clean_images must be (N, 1, H, W) matching masks {masks.shape}, got {clean_images.shape}"
        )
    field = positive_int(field, "field", fname)
    if field % 2 == 0:
        raise ValueError(f"{fname}: field must be odd, got {field}")
    h = field // 2
    padded = np.pad(clean_images[:, 0], ((0, 0), (h, h), (h, h)))  # (N, H + 2h, W + 2h), background outside
    windows = sliding_window_view(padded, (field, field), axis=(1, 2))  # (N, H, W, field, field)
    return (masks > 0) & np.all(windows == value, axis=(-2, -1))


def segmentation_scores(pred, masks, blind=None, classes=(1, 2)) -> dict:
    """Per-pixel accuracy, mean IoU over ``classes``, and the accuracy on the ``blind`` pixels.

    Parameters
    ----------
    pred, masks : ndarray of int, shape (N, H, W)
    blind : ndarray of bool, shape (N, H, W), optional
    classes : the classes whose intersection-over-union is averaged (the objects, by default).

    Returns
    -------
    dict
        ``pixel_accuracy``, ``mean_iou`` and, with ``blind``, ``blind_accuracy``.
        A class absent from both ``pred`` and ``masks`` counts as IoU 1.
    """
    fname = "segmentation_scores"
    pred, masks = _masks(pred, "pred", fname), _masks(masks, "masks", fname)
    if pred.shape != masks.shape:
        raise ValueError(f"{fname}: pred and masks must have the same shape, got {pred.shape} and {masks.shape}")
    ious = []
    for c in classes:
        union = ((pred == c) | (masks == c)).sum()
        ious.append(((pred == c) & (masks == c)).sum() / union if union else 1.0)
    out = {"pixel_accuracy": float((pred == masks).mean()), "mean_iou": float(np.mean(ious))}
    if blind is not None:
        blind = np.asarray(blind, dtype=bool)
        if blind.shape != masks.shape:
            raise ValueError(f"{fname}: blind must have the shape of masks {masks.shape}, got {blind.shape}")
        out["blind_accuracy"] = float((pred == masks)[blind].mean()) if blind.any() else float("nan")
    return out


@torch.no_grad()
def predict(model: nn.Module, images, batch_size: int = 256) -> np.ndarray:
    """Per-pixel arg-max labels ``(N, H, W)`` of ``model`` on ``images`` ``(N, C, H, W)``, in eval mode."""
    images, batch_size = _image_batches(images, batch_size, "predict")
    out = []
    with _evaluating(model) as param:
        for i in range(0, len(images), batch_size):
            x = torch.as_tensor(images[i : i + batch_size], dtype=param.dtype, device=param.device)
            out.append(model(x).argmax(dim=1).cpu().numpy())  # (B, H, W)
    return np.concatenate(out)


def _image_batches(images, batch_size, fname: str):
    """``images`` as an ``(N, C, H, W)`` array and a valid ``batch_size``, or a ValueError naming ``fname``."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{fname}: images must be (N, C, H, W), got shape {images.shape}")
    return images, positive_int(batch_size, "batch_size", fname)


@contextmanager
def _evaluating(model: nn.Module):
    """Put ``model`` in eval mode for the block, yield its first parameter (for dtype and device), then restore it."""
    was_training = model.training
    model.eval()
    try:
        yield next(model.parameters())
    finally:
        model.train(was_training)


def fit_threshold_baseline(images, masks) -> tuple[float, float]:
    """The trivial baseline: two intensity thresholds ``t1 < t2`` that label each pixel by its own brightness.

    A pixel below ``t1`` is background, between them class 1, above ``t2``
    class 2 (a bright rim). Both thresholds are chosen on a grid to maximise
    the per-pixel accuracy on the given (training) pixels.

    Parameters
    ----------
    images : ndarray, shape (N, 1, H, W)
    masks : ndarray of int, shape (N, H, W), labels 0, 1, 2

    Returns
    -------
    (t1, t2) : floats
    """
    fname = "fit_threshold_baseline"
    masks = _masks(masks, "masks", fname)
    images = np.asarray(images, dtype=np.float64)
    if images.shape != masks.shape[:1] + (1,) + masks.shape[1:]:
        raise ValueError(f"{fname}: images must be (N, 1, H, W) matching masks {masks.shape}, got {images.shape}")
    v, y = images[:, 0].ravel(), masks.ravel()
    grid = np.linspace(np.percentile(v, 1), np.percentile(v, 99), 121)
    # cumulative class counts below each grid value: the accuracy of every (t1, t2) pair without a loop over pixels
    below = np.stack([np.searchsorted(np.sort(v[y == c]), grid) for c in (0, 1, 2)])  # (3, grid)
    total = np.array([(y == c).sum() for c in (0, 1, 2)])
    correct = below[0][:, None] + (below[1][None, :] - below[1][:, None]) + (total[2] - below[2])[None, :]  # (t1, t2)
    correct = np.where(grid[:, None] < grid[None, :], correct, -1)
    i, j = np.unravel_index(np.argmax(correct), correct.shape)
    return float(grid[i]), float(grid[j])


def predict_threshold_baseline(images, thresholds) -> np.ndarray:
    """Labels ``(N, H, W)`` of :func:`fit_threshold_baseline`'s thresholds on ``images`` ``(N, 1, H, W)``."""
    t1, t2 = thresholds
    v = np.asarray(images)[:, 0]  # (N, H, W)
    return np.where(v < t1, 0, np.where(v < t2, 1, 2)).astype(np.int64)


# --------------------------------------------------------------------------- effective receptive field


def effective_receptive_field(model: nn.Module, images, batch_size: int = 64) -> np.ndarray:
    """Mean absolute gradient of the centre output pixel with respect to the input (Luo et al. 2016).

    For every image, the gradient of the sum of the class scores at the
    centre pixel ``(H // 2, W // 2)`` with respect to every input pixel, in
    eval mode (batch norm uses its running statistics, so images do not
    interact); the absolute values are averaged over the images and channels.

    Parameters
    ----------
    model : nn.Module
        ``(N, C, H, W)`` to ``(N, K, H, W)``.
    images : ndarray, shape (N, C, H, W)

    Returns
    -------
    ndarray, shape (H, W), float64
        Zero outside the theoretical receptive field; its spread inside is the
        effective field.
    """
    images, batch_size = _image_batches(images, batch_size, "effective_receptive_field")
    h, w = images.shape[2] // 2, images.shape[3] // 2
    total = torch.zeros(images.shape[2:], dtype=torch.float64)
    with _evaluating(model) as param:
        for i in range(0, len(images), batch_size):
            x = torch.as_tensor(images[i : i + batch_size], dtype=param.dtype, device=param.device).requires_grad_(True)
            out = model(x)  # (B, K, H, W)
            (grad,) = torch.autograd.grad(out[:, :, h, w].sum(), x)  # (B, C, H, W); images independent in eval mode
            total += grad.abs().sum(dim=(0, 1)).double().cpu()
    return (total / (len(images) * images.shape[1])).numpy()


def centred_mass(erf, sides=None) -> np.ndarray:
    """The share of ``erf``'s total that lies in centred squares of odd side ``1, 3, 5, ...``.

    Parameters
    ----------
    erf : ndarray, shape (H, W), non-negative
        E.g. :func:`effective_receptive_field`, centred on ``(H // 2, W // 2)``.
    sides : sequence of odd int, optional
        Default: every odd side up to the map.

    Returns
    -------
    ndarray, shape (len(sides),)
    """
    fname = "centred_mass"
    erf = np.asarray(erf, dtype=np.float64)
    if erf.ndim != 2 or (erf < 0).any() or erf.sum() <= 0:
        raise ValueError(f"{fname}: erf must be a 2-D non-negative map with a positive sum, got shape {erf.shape}")
    ci, cj = erf.shape[0] // 2, erf.shape[1] // 2
    limit = 2 * min(ci, cj, erf.shape[0] - 1 - ci, erf.shape[1] - 1 - cj) + 1
    sides = list(range(1, limit + 1, 2)) if sides is None else [positive_int(s, "each side", fname) for s in sides]
    out = []
    for s in sides:
        if s % 2 == 0:
            raise ValueError(f"{fname}: sides must be odd, got {s}")
        h = s // 2
        out.append(erf[max(ci - h, 0) : ci + h + 1, max(cj - h, 0) : cj + h + 1].sum() / erf.sum())
    return np.array(out)


def erf_extent(erf, fraction: float = 0.9) -> int:
    """The side of the smallest centred square that holds ``fraction`` of ``erf``'s total (an odd int)."""
    fname = "erf_extent"
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction <= 1:
        raise ValueError(f"{fname}: fraction must be a number in (0, 1], got {fraction!r}")
    reached = centred_mass(erf) >= fraction - 1e-12
    if not reached.any():
        raise ValueError(f"{fname}: no centred square inside the map holds {fraction} of the total")
    return int(2 * np.argmax(reached) + 1)
