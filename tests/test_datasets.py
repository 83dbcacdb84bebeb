"""The dilated chapter's data generators (convbook.lab.datasets): the segmentation task and the waveform.

``make_shapes`` is tested with the training loop in test_bridge.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from convbook.lab.datasets import make_segmentation_task, make_waveform


def test_make_segmentation_task():
    x, y = make_segmentation_task(6, size=24, seed=5)
    assert x.shape == (6, 1, 24, 24) and x.dtype == np.float32
    assert y.shape == (6, 24, 24) and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1, 2}
    x2, y2 = make_segmentation_task(6, size=24, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    _, clean = make_segmentation_task(4, seed=1, noise=0.0)
    assert np.all(clean.reshape(4, -1).max(axis=1) > 0)  # every image holds an object


def test_segmentation_classes_differ_only_on_the_rim():
    """Without noise, class 1 is flat (brightness 1) and class 2 is bright (2) only within ``rim`` of its outline."""
    x, y = make_segmentation_task(40, size=24, seed=3, noise=0.0, rim=2.0)
    x = x[:, 0]
    assert np.all(x[y == 0] == 0.0) and np.all(x[y == 1] == 1.0)
    assert set(np.unique(x[y == 2])) == {1.0, 2.0}  # a bright rim around a flat inside
    assert {1, 2} <= set(np.unique(y))


def test_make_waveform():
    x = make_waveform(500, seed=3)
    assert x.shape == (500,) and x.dtype == np.float64
    assert abs(x.std() - 1.0) < 1e-12
    assert np.array_equal(x, make_waveform(500, seed=3))
    # the clean tone repeats every `period` samples, nearly: one period back it correlates far better than half
    clean = make_waveform(4000, seed=0, noise=0.0)
    one, half = np.corrcoef(clean[24:], clean[:-24])[0, 1], np.corrcoef(clean[12:], clean[:-12])[0, 1]
    assert one > 0.9 > half


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: make_segmentation_task(0), ValueError, r"make_segmentation_task: n must be a positive int, got 0"),
        (lambda: make_segmentation_task(2.0), TypeError, r"make_segmentation_task: n must be an int, got float"),
        (lambda: make_segmentation_task(2, size=8), ValueError, r"make_segmentation_task: size must be an int >= 16"),
        (
            lambda: make_segmentation_task(2, min_radius=9, max_radius=5),
            ValueError,
            r"make_segmentation_task: need 2 <= min_radius <= max_radius",
        ),
        (lambda: make_segmentation_task(2, noise=-1.0), ValueError, r"make_segmentation_task: noise must be non-neg"),
        (lambda: make_segmentation_task(2, rim=0.0), ValueError, r"make_segmentation_task: rim must be positive"),
        (lambda: make_segmentation_task(2, rim="2"), TypeError, r"make_segmentation_task: rim must be a real number"),
        (lambda: make_waveform(10, period=1), ValueError, r"make_waveform: period must be at least 2"),
        (lambda: make_waveform(0), ValueError, r"make_waveform: n must be a positive int, got 0"),
        (lambda: make_waveform(10, noise="a"), TypeError, r"make_waveform: noise must be a real number, got str"),
        (lambda: make_waveform(10, noise=-0.1), ValueError, r"make_waveform: noise must be non-negative"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
