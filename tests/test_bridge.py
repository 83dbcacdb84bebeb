"""The torch bridge, the profiler, the plotting helpers, data and training utilities."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import convbook  # noqa: E402
from convbook import plotting  # noqa: E402
from convbook.course.check import compare  # noqa: E402
from convbook.lab.datasets import SHAPES, make_shapes  # noqa: E402
from convbook.nets.profiler import layer_kind, profile  # noqa: E402
from convbook.nets.torch_bridge import (  # noqa: E402
    compare_with_torch,
    device_name,
    exact_mode,
    max_abs_error,
    pick_device,
    to_numpy,
    to_torch,
    torch_conv,
)


def test_pick_device_order():
    device = pick_device()
    if torch.cuda.is_available():
        assert device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert device.type == "mps"
    else:
        assert device.type == "cpu"
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="prefer must be 'cuda', 'mps', 'cpu' or None"):
        pick_device("tpu")
    assert device_name("cpu").startswith("cpu (")


def test_round_trip_and_errors():
    a = np.arange(6.0).reshape(2, 3)
    t = to_torch(a, "cpu")
    assert t.dtype == torch.float64
    np.testing.assert_array_equal(to_numpy(t), a)
    assert max_abs_error(a, a + 0.5) == 0.5
    with pytest.raises(ValueError, match=r"shapes differ: \(2, 3\) vs \(3, 2\)"):
        max_abs_error(a, a.T)
    with pytest.raises(ValueError, match="weight must be 3-D .* or 4-D"):
        torch_conv(a, a)


def test_exact_mode_is_ieee_float32_and_restores_the_setting():
    from convbook.nets.torch_bridge import current_float32_precision, float32_precision

    before = current_float32_precision()
    with exact_mode():
        assert current_float32_precision() == {"conv": "ieee", "matmul": "ieee"}
    with float32_precision("tf32"):
        assert current_float32_precision() == {"conv": "tf32", "matmul": "tf32"}
    assert current_float32_precision() == before


def test_compare_with_torch_reports_agreement_and_disagreement():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    report = compare_with_torch("conv2d", x, w, padding=1, dilation=2)
    assert report.ok and report.shape == (1, 3, 4, 4) and "True" in str(report)

    def wrong(x, w, b=None, **kw):
        return convbook.conv2d(x, w, b, **kw) + 1e-6

    assert not compare_with_torch(wrong, x, w, padding=1).ok


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dil = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
        self.dw = nn.Conv2d(8, 16, 3, padding=1, groups=8, bias=False)
        self.grp = nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False)
        self.pw = nn.Conv2d(16, 4, 1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = self.pw(self.grp(self.dw(self.dil(self.stem(x)))))
        return self.fc(x.mean(dim=(2, 3)))


def test_profile_counts_params_and_macs_by_hand():
    rows = profile(Tiny(), (2, 3, 10, 10))
    assert [r.kind for r in rows] == ["conv", "dilated", "depthwise", "grouped", "pointwise", "linear"]
    hw = 2 * 10 * 10  # batch 2, 10x10 maps
    expected_macs = [hw * 8 * 27, hw * 8 * 72, hw * 16 * 9, hw * 16 * 36, hw * 4 * 16, 2 * 10 * 4]
    assert [r.macs for r in rows] == expected_macs
    assert [r.params for r in rows] == [8 * 27 + 8, 8 * 72, 16 * 9, 16 * 36, 4 * 16 + 4, 40 + 10]
    assert rows.total_params == sum(p.numel() for p in Tiny().parameters())
    assert rows.total_macs == sum(expected_macs)
    assert rows.by_kind()["depthwise"] == {"layers": 1, "params": 144, "macs": hw * 144}
    table = str(rows)
    assert "depthwise" in table and f"{rows.total_macs:,}" in table
    assert "total" in rows.summary()


def test_profile_errors_and_kinds():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        profile("resnet", (1, 3, 8, 8))
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        profile(Tiny(), (1, 3, 0, 8))
    with pytest.raises(TypeError, match="expected Conv1d, Conv2d or Linear"):
        layer_kind(nn.ReLU())
    assert layer_kind(nn.Conv1d(4, 4, 3, dilation=2)) == "dilated"


def test_plot_helpers_return_what_they_drew():
    fig, axes = plt.subplots(1, 3)
    im = plotting.show_kernel(axes[0], np.eye(3))
    assert im.get_array().shape == (3, 3)
    fm = plotting.show_feature_map(axes[1], np.zeros((5, 4)), title="f", colorbar=True)
    assert fm.get_array().shape == (5, 4)
    taps = plotting.show_footprint(axes[2], (7, 7), 3, dilation=2)
    assert len(taps) == 9
    assert {(int(p.get_x() + 0.5), int(p.get_y() + 0.5)) for p in taps} == {
        (c, r) for r in (0, 2, 4) for c in (0, 2, 4)
    }
    plt.close(fig)
    with pytest.raises(ValueError, match="kernel must be 2-D"):
        plotting.show_kernel(None, np.zeros(3))
    with pytest.raises(ValueError, match="reads outside the padded input"):
        plotting.show_footprint(plt.gca(), (3, 3), 3, position=(1, 1))
    plt.close("all")


def test_footprint_taps_follow_stride_and_dilation():
    assert plotting.footprint_taps((1, 2), (2, 2), stride=(2, 1), dilation=(1, 3)) == [(2, 2), (2, 5), (3, 2), (3, 5)]


def test_animation_has_one_frame_per_output_and_plays_offline():
    player = plotting.animate_conv((5, 5), 3, stride=2, padding=1)
    assert len(player) == 9
    html = player._repr_html_()
    assert html.count("data:image/png;base64,") == 1 + 9  # first frame shown + the frame list
    assert "http" not in html.replace("data:image/png", "")  # no CDN
    assert 'data-act="play"' in html


def test_book_style_is_explicit():
    saved = matplotlib.rcParams["figure.facecolor"]
    plotting.use_book_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    matplotlib.rcParams["figure.facecolor"] = saved


def test_make_shapes_is_deterministic_and_validated():
    a, la = make_shapes(20, seed=3)
    b, lb = make_shapes(20, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert a.shape == (20, 1, 32, 32) and a.dtype == np.float32 and la.dtype == np.int64
    assert set(la) <= set(range(len(SHAPES)))
    with pytest.raises(ValueError, match="n must be a positive int"):
        make_shapes(0)
    with pytest.raises(ValueError, match="size must be an int >= 16"):
        make_shapes(5, size=8)
    with pytest.raises(ValueError, match="noise must be non-negative"):
        make_shapes(5, noise=-1)


def test_training_learns_the_shapes_task():
    from convbook.nets.training import count_params, train_classifier

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )  # fmt: skip
    assert count_params(model) == 8 * 9 + 8 + 16 * 72 + 16 + 64 + 4
    train = make_shapes(600, size=16, seed=1, noise=0.1)
    test = make_shapes(200, size=16, seed=2, noise=0.1)
    result = train_classifier(model, train, test, epochs=8, lr=1e-2, device="cpu")
    assert result.test_accuracy > 0.8  # chance is 0.25; about 0.99 when measured
    assert result.losses[-1] < result.losses[0] / 10
    assert result.train_seconds > 0 and result.device == "cpu"


def test_train_classifier_checks_kinds_and_values():
    from convbook.nets.training import train_classifier

    data = (np.zeros((4, 1, 16, 16), np.float32), np.zeros(4, np.int64))
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 2))
    with pytest.raises(TypeError, match="train_classifier: epochs must be an int, got float"):
        train_classifier(model, data, data, epochs=2.0)
    with pytest.raises(TypeError, match="train_classifier: eval_every must be an int, got bool"):
        train_classifier(model, data, data, eval_every=True)
    with pytest.raises(ValueError, match="train_classifier: eval_every must be a non-negative int, got -1"):
        train_classifier(model, data, data, eval_every=-1)


def test_evaluating_restores_the_mode_even_when_the_block_fails():
    from convbook.nets.training import accuracy, evaluating

    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with pytest.raises(RuntimeError, match="inside the block"):
        with evaluating(model) as param:
            assert not model.training and param is model[0].weight
            raise RuntimeError("inside the block")
    assert model.training
    model.eval()
    with evaluating(model):
        pass
    assert not model.training  # an eval-mode model stays in eval mode
    model.train()
    x, y = torch.randn(8, 2), torch.zeros(8, dtype=torch.int64)
    assert 0 <= accuracy(model, x, y) <= 1 and model.training


def test_check_compare_reports_pass_fail_and_exceptions():
    cases = [((np.ones(3),), {})]
    ok = compare("double", lambda a: 2 * a, lambda a: 2 * a, cases)
    assert ok and str(ok).startswith("PASS")
    bad = compare("double", lambda a: 3 * a, lambda a: 2 * a, cases, hint="multiply by two")
    assert not bad and "values differ" in str(bad) and "hint: multiply by two" in str(bad)
    shape = compare("double", lambda a: a[:2], lambda a: 2 * a, cases)
    assert "shape (2,), expected (3,)" in str(shape)
    boom = compare("double", lambda a: 1 / 0, lambda a: 2 * a, cases)
    assert "raised ZeroDivisionError" in str(boom)
    assert "expected a function" in str(compare("x", 3, lambda: 1, []))


def test_chapter_checks_pass_right_answers_and_fail_wrong_ones():
    from numpy.lib.stride_tricks import sliding_window_view

    from convbook.course.check import basics, performance

    assert basics.corr1d(lambda x, k: sliding_window_view(x, len(k)) @ k)
    assert not basics.corr1d(lambda x, k: np.convolve(x, k, mode="valid"))  # flipped: a true convolution
    assert basics.output_size(lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) // s + 1)
    assert not basics.output_size(lambda i, k, s, p, d: (i + 2 * p - k) // s + 1)  # forgets the dilation
    assert performance.roofline(lambda i, p, b: min(p, i * b))
    assert not performance.roofline(lambda i, p, b: i * b)
