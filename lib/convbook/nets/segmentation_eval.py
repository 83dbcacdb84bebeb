"""Measurements of the dilated chapter's segmentation networks (imports torch).

* :func:`blind_pixels`, :func:`segmentation_scores`, :func:`predict`: which
  pixels a receptive field cannot classify, the scores of a prediction, and a
  network's per-pixel labels.
* :func:`fit_threshold_baseline`, :func:`predict_threshold_baseline`: the
  task's trivial baseline, two brightness thresholds.
* :func:`effective_receptive_field`, :func:`centred_mass`, :func:`erf_extent`,
  :func:`erf_side`: the gradient-based effective receptive field (Luo et al.
  2016); :func:`dependency_box`: the theoretical field of one output pixel,
  measured (through strides and upsampling too).

The networks themselves are in :mod:`convbook.nets.segmentation`.
"""

from __future__ import annotations

import copy
from numbers import Real

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from convbook._args import positive_int
from convbook.nets.training import evaluating

__all__ = [
    "blind_pixels",
    "centred_mass",
    "dependency_box",
    "effective_receptive_field",
    "erf_extent",
    "erf_side",
    "fit_threshold_baseline",
    "predict",
    "predict_threshold_baseline",
    "segmentation_scores",
]


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
    with evaluating(model) as param:
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
    with evaluating(model) as param:
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
    if isinstance(fraction, bool) or not isinstance(fraction, Real):
        raise TypeError(f"{fname}: fraction must be a number, got {type(fraction).__name__}")
    if not 0 < fraction <= 1:
        raise ValueError(f"{fname}: fraction must be a number in (0, 1], got {fraction!r}")
    reached = centred_mass(erf) >= fraction - 1e-12
    if not reached.any():
        raise ValueError(f"{fname}: no centred square inside the map holds {fraction} of the total")
    return int(2 * np.argmax(reached) + 1)


def erf_side(erf, fraction: float = 0.5) -> float:
    """The interpolated side of the centred square that holds ``fraction`` of ``erf``'s total (a continuous measure).

    :func:`centred_mass` gives the share inside centred squares of odd side ``s = 1, 3, 5, ...``; this
    interpolates linearly between the two odd sides whose shares bracket ``fraction`` (below the share of the
    side-1 square it returns 1). Unlike :func:`erf_extent`, which rounds up to an odd side, it moves with the map
    by less than 2 pixels, so that small differences between networks or seeds stay visible. A uniform map of side
    ``r`` gives close to ``r * sqrt(fraction)``.

    Parameters
    ----------
    erf : ndarray, shape (H, W), non-negative
    fraction : float in (0, 1]

    Returns
    -------
    float
    """
    fname = "erf_side"
    if isinstance(fraction, bool) or not isinstance(fraction, Real):
        raise TypeError(f"{fname}: fraction must be a number, got {type(fraction).__name__}")
    if not 0 < fraction <= 1:
        raise ValueError(f"{fname}: fraction must be a number in (0, 1], got {fraction!r}")
    mass = centred_mass(erf)  # non-decreasing in the side
    if mass[-1] < fraction - 1e-12:
        raise ValueError(f"{fname}: no centred square inside the map holds {fraction} of the total")
    if mass[0] >= fraction:
        return 1.0
    k = int(np.argmax(mass >= fraction - 1e-12))  # first odd side 2k + 1 that holds it; k >= 1
    lo, hi = mass[k - 1], mass[k]
    return float(2 * k - 1 + 2 * (fraction - lo) / (hi - lo)) if hi > lo else float(2 * k + 1)


def dependency_box(model: nn.Module, size: int, pixel: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The input rows and columns that output ``pixel`` of ``model`` depends on (its receptive field, measured).

    The field is a property of the architecture, so it is measured on a float64 copy with every convolution's
    weights and biases made positive, batch norm reset to the identity and a constant positive input: then every
    path from an input pixel to the output adds (nothing cancels, no ReLU is cut off) and an input pixel has a
    nonzero gradient exactly when the output depends on it. Works through strides and upsampling, where the field
    of an output pixel is not given by the stride-1 formula.

    Parameters
    ----------
    model : nn.Module
        ``(N, C, size, size)`` to ``(N, K, H', W')``, built from ``Conv2d``, ``BatchNorm2d``, ReLU and
        ``Upsample`` layers (the model itself is not changed).
    size : int
        The side of the square input.
    pixel : (int, int)
        Row and column of the output pixel.

    Returns
    -------
    ((int, int), (int, int))
        The first and last input row, and the first and last input column, with a nonzero gradient.
    """
    fname = "dependency_box"
    size = positive_int(size, "size", fname)
    net = copy.deepcopy(model).to(device="cpu", dtype=torch.float64)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{fname}: model has no Conv2d layer")
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(m.weight.abs() + 0.1)
                if m.bias is not None:
                    m.bias.copy_(m.bias.abs())
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()  # running mean 0, variance 1, weight 1, bias 0: the identity (up to eps)
    net.eval()
    x = torch.ones(1, convs[0].in_channels, size, size, dtype=torch.float64, requires_grad=True)
    out = net(x)  # (1, K, H', W')
    i, j = pixel
    if not (0 <= i < out.shape[2] and 0 <= j < out.shape[3]):
        raise ValueError(f"{fname}: pixel {pixel} is outside the output of shape {tuple(out.shape[2:])}")
    (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), x)  # (1, C, size, size)
    rows, cols = np.nonzero(grad[0].abs().sum(dim=0).numpy())
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))
