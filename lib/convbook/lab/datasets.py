"""Small synthetic data sets, generated on the spot (no download, no network).

* :func:`make_shapes` draws noisy binary shapes (circle, square, triangle,
  cross) at random positions and scales: an image-classification task that a
  small CNN learns in seconds on a CPU, and that needs spatial context to solve.
* :func:`make_segmentation_task`: the dilated chapter's dense-prediction task,
  labels that need a wide receptive field.
* :func:`make_waveform`: the noisy tone of the WaveNet-style experiment.

Same seed, same data on any machine. NumPy only.
"""

from __future__ import annotations

import numpy as np

from convbook._args import positive_int, real_number

SHAPES = ("circle", "square", "triangle", "cross")


def _mask(kind: str, size: int, cy: float, cx: float, r: float, rng) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    if kind == "circle":
        return dy**2 + dx**2 <= r**2
    if kind == "square":
        return (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)
    if kind == "triangle":  # apex up: inside when below the two slanted edges and above the base
        return (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if kind == "cross":
        t = max(r * 0.3, 1.0)
        return ((np.abs(dy) <= t) & (np.abs(dx) <= r)) | ((np.abs(dx) <= t) & (np.abs(dy) <= r))
    raise ValueError(f"_mask: unknown shape kind {kind!r}; expected one of {SHAPES}")


def make_shapes(
    n: int, size: int = 32, seed: int = 0, noise: float = 0.2, min_radius: float = 4.0, max_radius: float | None = None
):
    """A labelled set of noisy shape images.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Images are ``size x size`` pixels (at least 16).
    seed : int
        Seed of the generator; the same seed gives the same data on any machine.
    noise : float
        Standard deviation of the added Gaussian pixel noise.
    min_radius, max_radius : float
        Range of the shape's half-size in pixels (default max: ``size / 3``).

    Returns
    -------
    images : ndarray, shape (n, 1, size, size), float32
    labels : ndarray, shape (n,), int64
        Index into :data:`SHAPES`.
    """
    fname = "make_shapes"
    n, size = positive_int(n, "n", fname), positive_int(size, "size", fname, minimum=16)
    noise = real_number(noise, "noise", fname)
    if noise < 0:
        raise ValueError(f"make_shapes: noise must be non-negative, got {noise}")
    max_radius = size / 3 if max_radius is None else max_radius
    if not 1 <= min_radius <= max_radius:
        raise ValueError(f"make_shapes: need 1 <= min_radius <= max_radius, got {min_radius}, {max_radius}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), size=n)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        r = rng.uniform(min_radius, max_radius)
        cy, cx = rng.uniform(r, size - 1 - r, size=2)
        images[i, 0] = _mask(SHAPES[label], size, cy, cx, r, rng)
    images += rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------- segmentation data


def make_segmentation_task(
    n: int,
    size: int = 24,
    seed: int = 0,
    min_radius: float = 7.0,
    max_radius: float = 11.0,
    noise: float = 0.2,
    rim: float = 2.0,
):
    """Noisy images of one large object whose class is written only on its outline.

    Each image holds one filled disc or square (chosen at random, the shape does
    not matter) of brightness 1. Half of the objects, class 2, have a bright rim
    of brightness 2 and width ``rim`` along their outline; the others, class 1,
    are uniform. Deep inside an object every small window looks the same (flat,
    brightness 1), so a pixel there can only be labelled by a network whose
    receptive field reaches the rim.

    Parameters
    ----------
    n : int, positive
        Number of images.
    size : int, at least 16
        Images are ``size x size`` pixels.
    seed : int
        Seed of ``np.random.default_rng``; same seed, same data on any machine.
    min_radius, max_radius : float
        Range of the half-size in pixels (disc radius or half the square's side),
        ``2 <= min_radius <= max_radius < size / 2``.
    noise : float, non-negative
        Standard deviation of the Gaussian pixel noise.
    rim : float, positive
        Width of the bright rim in pixels.

    Returns
    -------
    images : ndarray, shape (n, 1, size, size), float32
    masks : ndarray, shape (n, size, size), int64
        0 background, 1 uniform object, 2 object with a bright rim.
    """
    fname = "make_segmentation_task"
    n, size = positive_int(n, "n", fname), positive_int(size, "size", fname, minimum=16)
    min_radius, max_radius = real_number(min_radius, "min_radius", fname), real_number(max_radius, "max_radius", fname)
    noise, rim = real_number(noise, "noise", fname), real_number(rim, "rim", fname)
    if not 2 <= min_radius <= max_radius < size / 2:
        raise ValueError(
            f"{fname}: need 2 <= min_radius <= max_radius < size / 2 = {size / 2}, got {min_radius}, {max_radius}"
        )
    if noise < 0:
        raise ValueError(f"{fname}: noise must be non-negative, got {noise}")
    if rim <= 0:
        raise ValueError(f"{fname}: rim must be positive, got {rim}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)  # (size, size) each
    masks = np.zeros((n, size, size), dtype=np.int64)
    images = np.zeros((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        kind = int(rng.integers(1, 3))
        disc = bool(rng.integers(0, 2))
        r = rng.uniform(min_radius, max_radius)
        cy, cx = rng.uniform(r, size - 1 - r, size=2)
        if disc:
            depth = r - np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)  # distance inside the outline
        else:
            depth = r - np.maximum(np.abs(yy - cy), np.abs(xx - cx))
        inside = depth >= 0
        masks[i][inside] = kind
        images[i, 0][inside] = 1.0
        if kind == 2:
            images[i, 0][inside & (depth < rim)] = 2.0
    images += rng.normal(0.0, noise, size=images.shape).astype(np.float32)
    return images, masks


# --------------------------------------------------------------------------- waveform data


def make_waveform(n: int, seed: int = 0, period: float = 24.0, noise: float = 0.3) -> np.ndarray:
    """A noisy, audio-like tone: four harmonics of one pitch with slowly drifting loudness.

    ``clean[t] = sum_h a_h(t) sin(2 pi h t / period + phi_h)`` for harmonics
    ``h = 1..4``, each with its own slow amplitude modulation, plus white noise
    of ``noise`` times the clean signal's standard deviation. The result is
    scaled to unit standard deviation. The waveform repeats (approximately)
    every ``period`` samples, so a predictor that sees one period back can
    average out part of the noise; one that sees only a few samples cannot.

    Parameters
    ----------
    n : int, positive
        Number of samples.
    seed : int
        Seed of ``np.random.default_rng``.
    period : float, at least 2
        Pitch period in samples.
    noise : float, non-negative
        Noise level relative to the clean signal.

    Returns
    -------
    ndarray, shape (n,), float64
    """
    fname = "make_waveform"
    n = positive_int(n, "n", fname)
    period, noise = real_number(period, "period", fname), real_number(noise, "noise", fname)
    if period < 2:
        raise ValueError(f"{fname}: period must be at least 2 samples, got {period}")
    if noise < 0:
        raise ValueError(f"{fname}: noise must be non-negative, got {noise}")
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    clean = np.zeros(n)
    for h, a in enumerate([1.0, 0.6, 0.4, 0.25], start=1):
        loudness = a * (1 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(300, 900) + rng.uniform(0, 2 * np.pi)))
        clean += loudness * np.sin(2 * np.pi * h * t / period + rng.uniform(0, 2 * np.pi))
    x = clean + rng.normal(0.0, noise * clean.std(), n)
    return x / x.std()
