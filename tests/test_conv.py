"""Forward convolution: the naive oracle against torch, the fast versions against the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import convbook
from conftest import TOL, assert_close, conv_configs, torch_forward
from convbook import conv1d, conv1d_naive, conv2d, conv2d_im2col, conv2d_naive


def _pick(fn_2d, fn_1d, weight):
    return fn_1d if weight.ndim == 3 else fn_2d


@settings(max_examples=80, deadline=None)
@given(conv_configs())
def test_naive_matches_torch(case):
    x, w, b, kw = case
    got = _pick(conv2d_naive, conv1d_naive, w)(x, w, b, **kw)
    assert_close(got, torch_forward(x, w, b, **kw), TOL[np.float64])


@settings(max_examples=150, deadline=None)
@given(conv_configs())
def test_vectorized_matches_naive(case):
    x, w, b, kw = case
    expected = _pick(conv2d_naive, conv1d_naive, w)(x, w, b, **kw)
    assert_close(_pick(conv2d, conv1d, w)(x, w, b, **kw), expected, TOL[np.float64])


@settings(max_examples=80, deadline=None)
@given(conv_configs(nd=2))
def test_im2col_matches_naive(case):
    x, w, b, kw = case
    assert_close(conv2d_im2col(x, w, b, **kw), conv2d_naive(x, w, b, **kw), TOL[np.float64])


@settings(max_examples=80, deadline=None)
@given(conv_configs(dtype=np.float32))
def test_float32_matches_torch(case):
    x, w, b, kw = case
    got = _pick(conv2d, conv1d, w)(x, w, b, **kw)
    assert_close(got, torch_forward(x, w, b, **kw), TOL[np.float32])


@pytest.mark.parametrize(
    "settings_",
    [
        dict(padding=1),  # the shifted-GEMM fast path
        dict(padding=2, dilation=2),
        dict(padding="same", dilation=(2, 3)),
        dict(stride=2, padding=1),  # im2col path
        dict(groups=4, padding=1),  # grouped
        dict(groups=8, padding=1, dilation=2),  # depthwise fast path
        dict(groups=8, stride=(2, 1), padding=(0, 2)),
    ],
)
def test_each_fast_path_matches_torch(settings_):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 13, 11))
    groups = settings_.get("groups", 1)
    w = rng.standard_normal((16, 8 // groups, 3, 3))
    b = rng.standard_normal(16)
    assert_close(conv2d(x, w, b, **settings_), torch_forward(x, w, b, **settings_), TOL[np.float64])


def test_depth_multiplier_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 9))
    w = rng.standard_normal((6, 1, 3, 3))  # depth multiplier 2
    assert_close(conv2d(x, w, groups=3, padding=1), torch_forward(x, w, None, groups=3, padding=1), 1e-10)


@pytest.mark.parametrize("k, d", [(2, 1), (4, 1), (2, 3), (4, 2)])
def test_same_padding_even_effective_kernel_is_asymmetric_like_torch(k, d):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 10))
    w = rng.standard_normal((3, 2, k))
    expected = torch_forward(x, w, None, padding="same", dilation=d)
    assert_close(conv1d(x, w, padding="same", dilation=d), expected, 1e-10)
    assert expected.shape[-1] == 10
    before, after = convbook.same_padding(k, d)
    assert before + after == d * (k - 1) and after - before in (0, 1)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_output_dtype_is_input_dtype(dtype):
    x = np.ones((1, 2, 5, 5), dtype=dtype)
    w = np.ones((3, 2, 3, 3), dtype=dtype)
    for fn in (conv2d, conv2d_naive, conv2d_im2col):
        assert fn(x, w).dtype == dtype
        assert fn(x, w, stride=2).dtype == dtype


def test_unbatched_equals_batch_of_one():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 6))
    w = rng.standard_normal((4, 3, 2, 3))
    out = conv2d(x, w, padding=(1, 0))
    assert out.shape == (4, 8, 4)
    np.testing.assert_array_equal(out, conv2d(x[None], w, padding=(1, 0))[0])


def test_lists_are_accepted_as_tuples():
    x = np.ones((1, 1, 6, 6))
    w = np.ones((1, 1, 3, 3))
    np.testing.assert_array_equal(conv2d(x, w, stride=[2, 1]), conv2d(x, w, stride=(2, 1)))


def test_cross_correlation_not_flipped():
    """A kernel with a single 1 in its top-left corner copies the input unshifted."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = 1.0
    np.testing.assert_array_equal(conv2d(x, w)[0, 0], x[0, 0, :2, :2])


def test_does_not_modify_inputs():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)
    copies = [a.copy() for a in (x, w, b)]
    for fn in (conv2d, conv2d_naive, conv2d_im2col):
        fn(x, w, b, padding=1)
    for a, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.slow
def test_core_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, convbook; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_public_api_resolves():
    for name in convbook.__all__:
        assert callable(getattr(convbook, name)), name
