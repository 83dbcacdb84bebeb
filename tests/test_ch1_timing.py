"""Chapter 1's timing experiment (convbook.lab.experiments.ch1_timing): inputs, implementations, the timing helpers.

The stored reference itself is checked by tests/test_experiments.py; these tests pin the code that makes it and
that the chapter's live cell calls, including the GPU branch (run here on torch's "meta" device, which computes
shapes only and needs no synchronisation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convbook.lab.experiments import ch1_timing


def test_inputs_have_the_layer_shape_and_are_seeded():
    x, w = ch1_timing.make_inputs(10, batch=2)
    assert x.shape == (2, 8, 10, 10) and w.shape == (8, 8, 3, 3)
    assert x.dtype == w.dtype == np.float32
    x2, _ = ch1_timing.make_inputs(10, batch=2)
    assert np.array_equal(x, x2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0,), "make_inputs: side must be a positive int, got 0"),
        ((8, 1.5), "make_inputs: batch must be a positive int"),
    ],
)
def test_bad_inputs_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        ch1_timing.make_inputs(*args)


def test_every_implementation_computes_the_same_layer():
    assert ch1_timing.check_agreement(8)
    x, w = ch1_timing.make_inputs(6)
    fns = ch1_timing.implementations(x, w, naive=False)
    assert list(fns) == ["im2col", "conv2d", "torch"]  # no GPU key on the CPU, no loops when naive=False
    with torch.no_grad():
        assert fns["torch"]().shape == (1, 8, 6, 6)


def test_display_names():
    assert ch1_timing.display_name("conv2d") == "convbook.conv2d"
    assert ch1_timing.display_name("torch_cuda") == "torch, cuda"
    with pytest.raises(ValueError, match="display_name: unknown implementation 'numpy'"):
        ch1_timing.display_name("numpy")


def test_time_sizes_times_each_implementation_with_one_thread_and_skips_large_loops():
    out = ch1_timing.time_sizes([4, 6], repeats=1, warmup=0, naive_max=4)
    assert isinstance(out, ch1_timing.LayerTimes) and out.sizes == [4, 6] and out.batch == 1
    assert list(out.median_ms) == ["naive", "im2col", "conv2d", "torch"]
    assert out.median_ms["naive"][1] is None and out.median_ms["naive"][0] > 0  # loops only up to naive_max
    for table in (out.median_ms, out.q1_ms, out.q3_ms):
        assert all(v > 0 for v in table["conv2d"])
    assert set(out.samples_s) == {"4", "6"}
    threads = out.settings.threads
    assert threads.torch == threads.convbook == 1
    assert threads.blas in (1, None)  # None where threadpoolctl finds no BLAS it controls
    assert out.settings.float32_precision == "float32"


def test_time_sizes_on_a_second_device_adds_its_own_key():
    """The GPU branch: torch on another device beside the CPU (torch's meta device stands in for a GPU)."""
    out = ch1_timing.time_sizes([5], repeats=1, warmup=0, device="meta", names=["torch", "torch_meta"], batch=3)
    assert list(out.median_ms) == ["torch", "torch_meta"]
    assert out.batch == 3 and out.settings.device == "meta"


def test_einsum_with_and_without_optimize_agree():
    rng = np.random.default_rng(1)
    x, k = rng.standard_normal((9, 7)), rng.standard_normal((3, 3))
    expected = np.array([[np.sum(x[i : i + 3, j : j + 3] * k) for j in range(5)] for i in range(7)])
    for optimize in (False, True):
        np.testing.assert_allclose(ch1_timing.corr2d_windows(x, k, optimize), expected, rtol=0, atol=1e-12)
    out = ch1_timing.time_einsum([8], repeats=1, warmup=0)
    assert out.agree and set(out.median_ms) == {"plain", "optimize"}
