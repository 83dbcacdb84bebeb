"""Small synthetic data sets, generated on the spot (no download, no network).

``make_shapes`` draws noisy binary shapes (circle, square, triangle, cross) at
random positions and scales: an image-classification task that a small CNN
learns in seconds on a CPU, and that needs spatial context to solve.
"""

from __future__ import annotations

import numpy as np

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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"make_shapes: n must be a positive int, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"make_shapes: size must be an int >= 16, got {size!r}")
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
