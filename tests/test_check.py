"""The exercise self-checks (``convbook.course.check``): fair, informative, and they never raise.

For every check: a right answer passes in float64 and in float32 (and as a torch tensor that requires
grad); each typical wrong answer fails with feedback that names the mistake; a stub that raises
``NotImplementedError`` gets "not implemented yet" and no formula; calling the library function the
exercise asks for fails; and whatever the function returns or raises, the check returns a result.
The checks' independent references are tested against torch and against the library.
"""

from __future__ import annotations

import itertools
import re
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convbook
from conftest import student_causal_conv1d as causal_conv1d
from conftest import student_coverage as coverage
from conftest import student_dilate_kernel as dilate_kernel
from convbook.course import check as check_api
from convbook.course.check import _reference as ref
from convbook.course.check import basics, dilated, notation, performance, pointwise, separable
from convbook.nets.architectures import MOBILENET_V1_BLOCKS, mobilenet_v1_costs

# --------------------------------------------------------------------------- right answers, written here


def corr1d(x, k):
    return np.array([np.dot(x[i : i + len(k)], k) for i in range(len(x) - len(k) + 1)])


def output_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def depthwise(x, w, stride=1, padding=0):
    c, k = x.shape[1], w.shape[2]
    K = w.shape[0] // c
    xp = np.repeat(np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))), K, axis=1)
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], c * K, ho, wo), dtype=np.result_type(x, w))
    for u in range(k):
        for v in range(k):
            window = xp[:, :, u : u + stride * (ho - 1) + 1 : stride, v : v + stride * (wo - 1) + 1 : stride]
            out += w[None, :, 0, u, v, None, None] * window
    return out


def pointwise_matmul(x, w):
    n, c, h, wd = x.shape
    return (x.transpose(0, 2, 3, 1).reshape(-1, c) @ w.T).reshape(n, h, wd, -1).transpose(0, 3, 1, 2)


def depthwise_bound(channels, batch, size, k, peak, bandwidth, *, flops_per_mac=2, itemsize=4, output=True):
    flops = flops_per_mac * batch * channels * size * size * k * k
    nbytes = itemsize * ((1 + output) * batch * channels * size * size + channels * k * k)
    return min(peak, flops / nbytes * bandwidth)


def mobilenet_counts(alpha, resolution, *, bias=True):
    width = lambda c: max(1, int(alpha * c))  # noqa: E731
    channels, side = width(32), (resolution - 1) // 2 + 1
    weights, macs = 27 * channels, 27 * channels * side * side
    for c_out, stride in MOBILENET_V1_BLOCKS:
        c_out, side = width(c_out), (side - 1) // stride + 1
        weights, macs = weights + 9 * channels + channels * c_out, macs + (9 * channels + channels * c_out) * side**2
        channels = c_out
    return weights + 1000 * channels + 1000 * bias, macs + 1000 * channels


def mobilenet_ratios(alpha, resolution, **kwargs):
    (w, m), (w1, m1) = mobilenet_counts(alpha, resolution, **kwargs), mobilenet_counts(1.0, 224, **kwargs)
    return w / w1, m / m1


def inverted_residual_macs(c_in, c_out, size, t, stride, *, expand_always=False):
    out, mid = (size - 1) // stride + 1, t * c_in
    expand = size * size * c_in * mid if (t > 1 or expand_always) else 0
    return expand + out * out * mid * (9 + c_out)


#: check -> (right answer, float-valued result?)
FUNCTION_CHECKS = {
    "corr1d": (basics.corr1d, corr1d, 4),
    "output_size": (basics.output_size, output_size, 4),
    "dilate_kernel": (dilated.dilate_kernel, dilate_kernel, 4),
    "causal_conv1d": (dilated.causal_conv1d, causal_conv1d, 3),
    "coverage_map": (dilated.coverage_map, coverage, 5),
    "effective_kernel_size": (dilated.effective_kernel_size, lambda k, d: d * (k - 1) + 1, 5),
    "wavenet_receptive_field": (dilated.wavenet_receptive_field, lambda k, ds: 1 + (k - 1) * sum(ds), 3),
    "depthwise_conv2d": (separable.depthwise_conv2d, depthwise, 4),
    "separable_to_standard": (
        separable.separable_to_standard,
        lambda dw, pw: np.einsum("oc,cuv->ocuv", pw[:, :, 0, 0], dw[:, 0]),
        4,
    ),
    "fold_depthwise_bias": (separable.fold_depthwise_bias, lambda b_d, pw, b_p: pw[:, :, 0, 0] @ b_d + b_p, 3),
    "separable_ratio": (separable.separable_ratio, lambda c_in, c_out, k, K: K / c_out + K / k**2, 4),
    "pointwise_matmul": (pointwise.pointwise_matmul, pointwise_matmul, 3),
    "compose_pointwise": (pointwise.compose_pointwise, lambda w1, b1, w2, b2: (w2 @ w1, w2 @ b1 + b2), 3),
    "pointwise_macs": (pointwise.pointwise_macs, lambda c_in, c_out, h, w: c_in * c_out * h * w, 3),
    "roofline": (performance.roofline, lambda i, p, b: min(p, i * b), 4),
    "depthwise_roofline": (separable.depthwise_roofline, depthwise_bound, 4),
    "mobilenet_multipliers": (separable.mobilenet_multipliers, mobilenet_ratios, 5),
    "inverted_residual_macs": (separable.inverted_residual_macs, inverted_residual_macs, 4),
}
INTEGER_CHECKS = {
    "output_size",
    "coverage_map",
    "effective_kernel_size",
    "wavenet_receptive_field",
    "pointwise_macs",
    "inverted_residual_macs",
}
SCALAR_CHECKS = {"separable_ratio", "roofline", "depthwise_roofline"}  # one float each
ARRAY_CHECKS = set(FUNCTION_CHECKS) - INTEGER_CHECKS - SCALAR_CHECKS


def _float32(value):
    return value.astype(np.float32) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value


def in_float32(fn):
    """The same answer computed in float32: the inputs are rounded first, the result is float32."""

    def wrapped(*args, **kwargs):
        out = fn(*[_float32(a) for a in args], **{k: _float32(v) for k, v in kwargs.items()})
        if isinstance(out, tuple):
            return tuple(np.asarray(o, dtype=np.float32) for o in out)
        return np.float32(out) if isinstance(out, float) else _float32(np.asarray(out))

    return wrapped


def as_tensor(fn, **tensor_kwargs):
    def wrapped(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(torch.tensor(np.asarray(o), **tensor_kwargs) for o in out)
        return torch.tensor(np.asarray(out), **tensor_kwargs)

    return wrapped


# --------------------------------------------------------------------------- right answers pass


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
def test_right_answer_passes_in_float64(name):
    check, right, n_cases = FUNCTION_CHECKS[name]
    result = check(right)
    assert result, str(result)
    # the public case counts are what the book's stored outputs print ("all N cases match")
    assert str(result) == f"PASS {name}: all {n_cases} cases match"


@pytest.mark.parametrize("name", sorted(ARRAY_CHECKS | SCALAR_CHECKS))
def test_right_answer_passes_in_float32(name):
    check, right, _ = FUNCTION_CHECKS[name]
    assert check(in_float32(right)), str(check(in_float32(right)))
    assert check(in_float32(right), seed=11)


@pytest.mark.parametrize("name", sorted(ARRAY_CHECKS))
def test_right_answer_as_a_torch_tensor_that_requires_grad_passes(name):
    check, right, _ = FUNCTION_CHECKS[name]
    assert check(as_tensor(right, dtype=torch.float64, requires_grad=True))
    assert check(as_tensor(in_float32(right), dtype=torch.float32))


@pytest.mark.parametrize("name", sorted(INTEGER_CHECKS - {"coverage_map"}))
def test_integer_answers_in_any_integer_type_pass(name):
    check, right, _ = FUNCTION_CHECKS[name]
    assert check(lambda *a: np.int64(right(*a)))
    assert check(lambda *a: np.array(right(*a)))
    assert check(lambda *a: torch.tensor(right(*a)))


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_extra_cases_pass_a_right_answer_and_differ_from_the_public_ones(name, seed):
    check, right, n_cases = FUNCTION_CHECKS[name]
    result = check(right, seed=seed)
    assert result, str(result)
    assert "(extra cases)" in str(result)
    assert int(re.search(r"all (\d+) cases", str(result)).group(1)) >= n_cases


# --------------------------------------------------------------------------- typical wrong answers fail, with feedback


def _flip_kernel(x, k):
    return corr1d(x, k[::-1])


def _symmetric_causal(x, w, dilation=1):
    total = dilation * (w.shape[-1] - 1)
    xp = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2)))
    return convbook.conv1d(xp, w, dilation=dilation)


def _right_padded_causal(x, w, dilation=1):
    xp = np.pad(x, ((0, 0), (0, 0), (0, dilation * (w.shape[-1] - 1))))
    return convbook.conv1d(xp, w, dilation=dilation)


def _undilated_padding_causal(x, w, dilation=1):
    xp = np.pad(x, ((0, 0), (0, 0), (w.shape[-1] - 1, 0)))
    return convbook.conv1d(xp, w, dilation=dilation)


def _depthwise_other_order(x, w, stride=1, padding=0):
    c = x.shape[1]
    K = w.shape[0] // c
    xt = np.tile(np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))), (1, K, 1, 1))
    return depthwise(xt, w, stride, 0)


def _depthwise_one_short(x, w, stride=1, padding=0):
    """The output size without its "+ 1": one window position short along each axis."""
    return depthwise(x, w, stride, padding)[:, :, :-1, :-1]


WRONG = [
    ("corr1d", basics.corr1d, _flip_kernel, "kernel flipped"),
    ("corr1d", basics.corr1d, lambda x, k: np.correlate(x, k, "full"), "'full' mode"),
    ("corr1d", basics.corr1d, lambda x, k: np.correlate(x, k, "same"), "'same' mode"),
    ("corr1d", basics.corr1d, lambda x, k: corr1d(x, k)[:-1], "one value short"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) / s + 1, "a float"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: (i + 2 * p - k) // s + 1, "dilation is ignored"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: (i + p - d * (k - 1) - 1) // s + 1, "on each side"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: (i + 2 * p - d * (k - 1) - 1) // s, "one less"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: -(-(i + 2 * p - d * (k - 1) - 1) // s) + 1, "rounded up"),
    ("output_size", basics.output_size, lambda i, k, s, p, d: (i + 2 * p - (d + 1) * (k - 1) - 1) // s + 1, "gap"),
    (
        "dilate_kernel",
        dilated.dilate_kernel,
        lambda w, d: (
            np.kron(w, np.eye(1, d if np.isscalar(d) else 1)[0]) if w.ndim == 3 else dilate_kernel(w, d)[..., :-1]
        ),
        "",
    ),
    (
        "dilate_kernel",
        dilated.dilate_kernel,
        lambda w, d: dilate_kernel(w, d[::-1] if isinstance(d, tuple) else d),
        "swapped",
    ),
    ("causal_conv1d", dilated.causal_conv1d, _symmetric_causal, ""),
    ("causal_conv1d", dilated.causal_conv1d, _right_padded_causal, "wrong side"),
    ("causal_conv1d", dilated.causal_conv1d, _undilated_padding_causal, "whole dilated span"),
    (
        "causal_conv1d",
        dilated.causal_conv1d,
        lambda x, w, dilation=1: causal_conv1d(x, w[:, :, ::-1], dilation),
        "flipped",
    ),
    ("coverage_map", dilated.coverage_map, lambda k, ds: (coverage(k, ds) > 0).astype(int), "count how many paths"),
    ("coverage_map", dilated.coverage_map, lambda k, ds: np.outer(coverage(k, ds), coverage(k, ds)), "1-D map"),
    ("effective_kernel_size", dilated.effective_kernel_size, lambda k, d: k * d, "one gap too many"),
    ("effective_kernel_size", dilated.effective_kernel_size, lambda k, d: (d + 1) * (k - 1) + 1, "gap count"),
    ("wavenet_receptive_field", dilated.wavenet_receptive_field, lambda k, ds: (k - 1) * sum(ds), "already sees 1"),
    ("wavenet_receptive_field", dilated.wavenet_receptive_field, lambda k, ds: sum(k * d for d in ds), "(k - 1) d"),
    (
        "depthwise_conv2d",
        separable.depthwise_conv2d,
        lambda x, w, stride=1, padding=0: depthwise(x, w, 1, padding),
        "stride",
    ),
    (
        "depthwise_conv2d",
        separable.depthwise_conv2d,
        lambda x, w, stride=1, padding=0: depthwise(x, w, stride, 0),
        "padding",
    ),
    ("depthwise_conv2d", separable.depthwise_conv2d, _depthwise_one_short, "off by one"),
    ("depthwise_conv2d", separable.depthwise_conv2d, _depthwise_other_order, "wrong order"),
    (
        "depthwise_conv2d",
        separable.depthwise_conv2d,
        lambda x, w, stride=1, padding=0: depthwise(x, w[:, :, ::-1, ::-1], stride, padding),
        "flipped",
    ),
    (
        "separable_to_standard",
        separable.separable_to_standard,
        lambda dw, pw: np.einsum("oc,cuv->couv", pw[:, :, 0, 0], dw[:, 0]),
        "(C_out, C, k, k)",
    ),
    ("fold_depthwise_bias", separable.fold_depthwise_bias, lambda b_d, pw, b_p: b_p, "depthwise bias is missing"),
    ("fold_depthwise_bias", separable.fold_depthwise_bias, lambda b_d, pw, b_p: b_p + b_d.sum(), "multiplied by"),
    ("separable_ratio", separable.separable_ratio, lambda c_in, c_out, k, K: 1 / c_out + 1 / k**2, "multiplier m"),
    ("separable_ratio", separable.separable_ratio, lambda c_in, c_out, k, K: 1 / (K / c_out + K / k**2), "upside down"),
    (
        "pointwise_matmul",
        pointwise.pointwise_matmul,
        lambda x, w: pointwise_matmul(x, w).transpose(0, 1, 3, 2),
        "swapped",
    ),
    (
        "pointwise_matmul",
        pointwise.pointwise_matmul,
        lambda x, w: pointwise_matmul(x, w).transpose(0, 2, 3, 1),
        "channels last",
    ),
    (
        "pointwise_matmul",
        pointwise.pointwise_matmul,
        lambda x, w: (x.reshape(-1, x.shape[1]) @ w.T).reshape(x.shape[0], w.shape[0], *x.shape[2:]),
        "one row per pixel",
    ),
    ("compose_pointwise", pointwise.compose_pointwise, lambda w1, b1, w2, b2: (w2 @ w1, b2), "bias"),
    (
        "compose_pointwise",
        pointwise.compose_pointwise,
        lambda w1, b1, w2, b2: ((w2 @ w1).T, w2 @ b1 + b2),
        "transposed",
    ),
    ("pointwise_macs", pointwise.pointwise_macs, lambda c_in, c_out, h, w: 2 * c_in * c_out * h * w, "FLOPs"),
    ("pointwise_macs", pointwise.pointwise_macs, lambda c_in, c_out, h, w: c_in * c_out, "number of weights"),
    ("roofline", performance.roofline, lambda i, p, b: max(p, i * b), "ridge"),
    ("roofline", performance.roofline, lambda i, p, b: i * b, "peak"),
    ("roofline", performance.roofline, lambda i, p, b: p, "ridge"),
    ("depthwise_roofline", separable.depthwise_roofline, lambda *a: depthwise_bound(*a[:4], 1e12, a[5]), "peak"),
    ("depthwise_roofline", separable.depthwise_roofline, lambda *a: a[4], "ridge"),
    ("depthwise_roofline", separable.depthwise_roofline, partial(depthwise_bound, flops_per_mac=1), "two floating"),
    ("depthwise_roofline", separable.depthwise_roofline, partial(depthwise_bound, itemsize=1), "4 bytes"),
    ("depthwise_roofline", separable.depthwise_roofline, partial(depthwise_bound, output=False), "output"),
    ("mobilenet_multipliers", separable.mobilenet_multipliers, lambda a, r: (a**2, (a * r / 224) ** 2), "approximate"),
    ("mobilenet_multipliers", separable.mobilenet_multipliers, lambda a, r: mobilenet_ratios(a, r)[::-1], "swapped"),
    ("mobilenet_multipliers", separable.mobilenet_multipliers, partial(mobilenet_ratios, bias=False), "biases"),
    (
        "mobilenet_multipliers",
        separable.mobilenet_multipliers,
        lambda a, r: (mobilenet_ratios(a, r)[0] * (r / 224) ** 2, mobilenet_ratios(a, r)[1]),
        "not the weights",
    ),
    ("mobilenet_multipliers", separable.mobilenet_multipliers, lambda a, r: mobilenet_ratios(a, r)[:1], "two numbers"),
    ("inverted_residual_macs", separable.inverted_residual_macs, lambda *a: 2 * inverted_residual_macs(*a), "FLOPs"),
    (
        "inverted_residual_macs",
        separable.inverted_residual_macs,
        partial(inverted_residual_macs, expand_always=True),
        "no expansion",
    ),
    (
        "inverted_residual_macs",
        separable.inverted_residual_macs,
        lambda ci, co, s, t, st: (  # the projection counted on the input's pixels
            inverted_residual_macs(ci, co, s, t, st) + t * ci * co * (s * s - ((s - 1) // st + 1) ** 2)
        ),
        "after the stride",
    ),
]


@pytest.mark.parametrize("name, check, wrong, feedback", WRONG, ids=[f"{w[0]}-{i}" for i, w in enumerate(WRONG)])
def test_typical_wrong_answer_fails_with_feedback(name, check, wrong, feedback):
    result = check(wrong)
    assert not result and str(result).startswith(f"FAIL {name}:")
    assert result.hint, "a failure comes with a hint"
    assert feedback in str(result), str(result)


def test_the_cost_checks_hints_do_not_contain_the_expected_value():
    """sep-ex-8, 10, 11: the hint names the mistake; the case's expected value appears only in the case line."""
    for name, check, wrong, _ in WRONG:
        if name not in ("depthwise_roofline", "mobilenet_multipliers", "inverted_residual_macs"):
            continue
        result = check(wrong)
        expected = re.search(r"expected ([\d.e+]+)", result.message)
        assert not expected or expected.group(1) not in result.hint, str(result)
        assert not re.search(r"\d{4,}", result.hint), str(result)  # no count, no ratio written out


def test_hints_do_not_give_the_answer_away():
    """The old hints were the solutions ('pad d*(k-1) zeros on the LEFT only', the einsum); none survives."""
    leaks = ["d*(k-1)", "d * (k - 1)", "LEFT", "einsum", "//", "min(", "floor(", "transpose(0, 2, 3, 1)", "w2 @"]
    for name, (check, _, _) in FUNCTION_CHECKS.items():
        for answer in (lambda *a, **k: None, lambda *a, **k: np.zeros(3), lambda *a, **k: -1):
            text = str(check(answer))
            assert not any(leak in text for leak in leaks), f"{name}: {text}"


# --------------------------------------------------------------------------- stubs, the library, odd returns


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
def test_a_stub_gets_not_implemented_yet(name):
    check = FUNCTION_CHECKS[name][0]

    def stub(*args, **kwargs):
        raise NotImplementedError("your code here")

    result = check(stub)
    assert not result
    assert result.message.startswith("not implemented yet")
    assert result.hint == check_api.NOT_IMPLEMENTED_HINT


LIBRARY = {
    "corr1d": lambda x, k: convbook.conv1d(x[None, None], k[None, None])[0, 0],
    "output_size": convbook.conv_output_size,
    "dilate_kernel": convbook.dilate_kernel,
    "causal_conv1d": convbook.causal_conv1d,
    "coverage_map": lambda k, ds: convbook.coverage_map(k, ds, ndim=1),
    "effective_kernel_size": convbook.effective_kernel_size,
    "wavenet_receptive_field": lambda k, ds: convbook.receptive_field([(k, 1, d) for d in ds]),
    "depthwise_conv2d": lambda x, w, stride=1, padding=0: convbook.depthwise_conv2d(
        x, w, stride=stride, padding=padding
    ),
    "depthwise_conv2d via conv2d": lambda x, w, stride=1, padding=0: convbook.conv2d(
        x, w, stride=stride, padding=padding, groups=x.shape[1]
    ),
    "separable_to_standard": convbook.separable.separable_to_standard,
    "separable_ratio": lambda c_in, c_out, k, K: (
        sum(c.params for c in convbook.separable_cost(c_in, c_out, k, 1, depth_multiplier=K))
        / convbook.conv_cost(c_in, c_out, k, 1).params
    ),
    "pointwise_matmul": lambda x, w: convbook.pointwise_conv2d(x, w),
    "pointwise_macs": lambda c_in, c_out, h, w: convbook.conv_cost(c_in, c_out, 1, (h, w)).macs,
    "dilate_kernel via the check's reference": ref.dilate_kernel,
    "depthwise_roofline": lambda c, n, s, k, p, b: min(
        p, convbook.costs.conv_intensity(c, c, k, s, groups=c, batch=n)["intensity"] * b
    ),
    "mobilenet_multipliers": lambda a, r: [
        sum(row[key] for row in mobilenet_v1_costs(a, r)) / sum(row[key] for row in mobilenet_v1_costs())
        for key in ("params", "macs")
    ],
    "inverted_residual_macs": lambda ci, co, s, t, st: convbook.inverted_residual_cost(ci, co, s, t, st)["total"].macs,
}


@pytest.mark.parametrize("key", sorted(LIBRARY))
def test_calling_the_library_is_not_the_way_to_pass(key):
    check = FUNCTION_CHECKS[key.split(" ")[0]][0]
    result = check(LIBRARY[key])
    assert not result
    assert "your function calls" in result.message
    assert "convbook" in result.message


def test_the_watch_leaves_the_library_unchanged_and_restores_a_profiler():
    import sys

    seen = []
    sys.setprofile(lambda frame, event, arg: seen.append(event))
    try:
        assert not dilated.dilate_kernel(convbook.dilate_kernel)
        assert sys.getprofile() is not None
    finally:
        sys.setprofile(None)
    assert seen, "the previous profiler kept receiving events"
    w = np.arange(4.0).reshape(1, 1, 2, 2)
    assert convbook.dilate_kernel(w, 2).shape == (1, 1, 3, 3)


def _gen(*a, **k):
    yield 1


ODD_RETURNS = {
    "None": lambda *a, **k: None,
    "a list": lambda *a, **k: [1, 2, 3],
    "a ragged list": lambda *a, **k: [[1, 2], [3]],
    "a string": lambda *a, **k: "42",
    "a dict": lambda *a, **k: {"a": 1},
    "a generator": _gen,
    "a bool": lambda *a, **k: True,
    "NaN": lambda *a, **k: float("nan"),
    "inf": lambda *a, **k: float("inf"),
    "a 2-element tensor": lambda *a, **k: torch.tensor([1.0, 2.0]),
    "a tensor that requires grad": lambda *a, **k: torch.ones(3, requires_grad=True),
    "a meta tensor": lambda *a, **k: torch.empty(3, device="meta"),
    "a bfloat16 tensor": lambda *a, **k: torch.ones(2, 2, dtype=torch.bfloat16),
    "a float16 tensor": lambda *a, **k: torch.ones(2, dtype=torch.float16),
    "a complex array": lambda *a, **k: np.ones(3, dtype=complex),
    "a list of tensors": lambda *a, **k: [torch.ones(2), torch.ones(2)],
    "an object array": lambda *a, **k: np.array([object()]),
    "an exception": lambda *a, **k: 1 / 0,
    "sys.exit": lambda *a, **k: __import__("sys").exit(3),
    "a wrong signature": lambda: 0,
    "a tuple": lambda *a, **k: (1, 2),
}


@pytest.mark.parametrize("name", sorted(FUNCTION_CHECKS))
def test_checks_never_raise(name):
    check = FUNCTION_CHECKS[name][0]
    for label, answer in ODD_RETURNS.items():
        result = check(answer)
        assert isinstance(result, check_api.CheckResult), label
        assert not result, f"{label} passed {name}"
        assert str(result).startswith(f"FAIL {name}:"), label
    for not_a_function in (None, 3, "my_function", np.zeros(2)):
        result = check(not_a_function)
        assert not result and "expected a function" in result.message


# --------------------------------------------------------------------------- by-hand answers

BY_HAND = [
    (dilated.dilation_from_gaps, (3, 7), (2, 5), "gaps"),
    (dilated.padding_for_same_size, (56, 4), (56, 8), "each side"),
    (dilated.zero_insertion_cost, (14_450_688, 130_056_192, 9), (14_450_688 * 2, 130_056_192, 9), "twice"),
    (dilated.undilated_layers, (31,), (63,), "receptive field itself"),
    (separable.mobilenet_layer, (2_359_296, 462_422_016, 266_752, 52_283_392), (2_359_296, 462_422_016, 4_608, 1), ""),
    (separable.layout_reorders, (12_845_056, 14_450_688 / 19_272_192), (6_422_528, 2.25), "each copy reads"),
    (notation.gap_count, (2, 5), (1, 3), "counts gaps"),
    (notation.output_length, (32,), (32.5,), "rounded"),
    (notation.layer_costs, (460_800, 921_600, 4608, 4608), (460_800, 460_800, 4608, 4608 * 9), "two floating"),
    (pointwise.layer_costs, (16_448, 51_380_224), (16_384, 51_380_224), "biases are parameters"),
    (pointwise.bottleneck_ratio, (69_632, 589_824, 589_824 / 69_632), (32_768, 589_824, 8.47), "3x3 layer"),
]


def test_a_rounded_ratio_passes_as_in_the_autograder():
    """pw-ex-15: the solution prints 8.47 and says "about 8.5"; the self-check, like the autograder's 1 %
    (answer_difference), accepts those and refuses a ratio 2 % off; the counts stay exact."""
    exact = 589_824 / 69_632  # 8.4706...
    for rounded in (8.47, 8.5, 8.471, 8.4706, exact, torch.tensor(8.47)):
        assert pointwise.bottleneck_ratio(69_632, 589_824, rounded), rounded
        assert check_api.answer_difference(rounded, exact) is None, rounded  # the grader agrees
    for wrong in (8.3, 8.64, 1 / exact):
        result = pointwise.bottleneck_ratio(69_632, 589_824, wrong)
        assert not result and "wrong: ratio" in str(result), wrong
    assert not pointwise.bottleneck_ratio(69_633, 589_824, exact), "the counts are exact"
    assert not notation.output_length(32.2), "answers without rel_tol stay exact"


@pytest.mark.parametrize("check, right, wrong, feedback", BY_HAND, ids=[b[0].__name__ for b in BY_HAND])
def test_by_hand_checks(check, right, wrong, feedback):
    assert check(*right), str(check(*right))
    assert check(*[float(v) for v in right]), "an integral float typed by hand is accepted"
    assert check(*[torch.tensor(v) for v in right])
    unanswered = check(*[None] * len(right))
    assert not unanswered and unanswered.message.startswith("not answered yet")
    result = check(*wrong)
    assert not result and feedback in str(result), str(result)
    for value in right:  # feedback names what is wrong, never the expected value
        if value not in wrong and value > 100:
            assert str(value) not in str(result)
    for odd in (None, "12", [1, 2], torch.ones(2), object()):
        assert isinstance(check(*([odd] * len(right))), check_api.CheckResult)


def test_depthwise_bound():
    assert performance.depthwise_bound(45.0) and performance.depthwise_bound(44.9)
    assert not performance.depthwise_bound(None)
    assert "ridge" in str(performance.depthwise_bound(200))
    assert "intensity" in str(performance.depthwise_bound(2.25))
    assert not performance.depthwise_bound(torch.tensor([1.0, 2.0]))


def test_the_by_hand_answers_agree_with_the_notation_page():
    """The notation checks and the solutions written on the notation page give the same numbers."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "chapters" / "notation.md").read_text()
    digits = {int(n.replace(r"\,", "").replace(",", "")) for n in re.findall(r"\d[\d\\,]*\d|\d", page)}
    for value in (2, 5, 32, 460_800, 921_600, 4608):
        assert value in digits, value


# --------------------------------------------------------------------------- the references are right


def test_reference_convolutions_match_torch():
    rng = np.random.default_rng(0)
    for n, c_in, c_out, h, w, k, s, p, d, g in [
        (2, 4, 6, 7, 6, 3, 2, 1, 1, 2),
        (1, 3, 3, 9, 8, 2, 1, 2, 3, 3),
        (1, 2, 4, 5, 5, 1, 3, 0, 1, 1),
    ]:
        x = rng.standard_normal((n, c_in, h, w))
        wt = rng.standard_normal((c_out, c_in // g, k, k))
        expected = F.conv2d(torch.tensor(x), torch.tensor(wt), stride=s, padding=p, dilation=d, groups=g).numpy()
        np.testing.assert_allclose(ref.conv2d(x, wt, s, p, d, g), expected, rtol=1e-10, atol=1e-10)
    x, k = rng.standard_normal(11), rng.standard_normal(4)
    expected = F.conv1d(torch.tensor(x)[None, None], torch.tensor(k)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ref.corr1d(x, k), expected, atol=1e-12)
    x, wt = rng.standard_normal((2, 3, 15)), rng.standard_normal((4, 3, 3))
    for d in (1, 2, 5):
        xt = F.pad(torch.tensor(x), (d * 2, 0))
        expected = F.conv1d(xt, torch.tensor(wt), dilation=d).numpy()
        np.testing.assert_allclose(ref.causal_conv1d(x, wt, d), expected, atol=1e-12)
        np.testing.assert_allclose(ref.causal_conv1d(x, wt, d), convbook.causal_conv1d(x, wt, dilation=d), atol=1e-12)
    x, dw = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((6, 1, 3, 3))
    expected = F.conv2d(torch.tensor(x), torch.tensor(dw), stride=2, padding=1, groups=3).numpy()
    np.testing.assert_allclose(ref.depthwise(x, dw, 2, 1), expected, atol=1e-12)
    pw = rng.standard_normal((5, 3))
    np.testing.assert_allclose(ref.pointwise(x, pw), np.einsum("oc,nchw->nohw", pw, x), atol=1e-12)


def test_reference_sizes_and_counts_match_the_library():
    for i, k, s, p, d in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(0, 3), range(1, 4)):
        if i + 2 * p >= d * (k - 1) + 1:
            assert ref.window_count(i, k, s, p, d) == convbook.conv_output_size(i, k, s, p, d)
    for k, d in itertools.product(range(1, 6), range(1, 6)):
        assert ref.span(k, d) == convbook.effective_kernel_size(k, d)
    for k, dils in [(2, [1, 2, 4, 8]), (3, [1, 2, 5]), (3, [2, 2, 2]), (2, [3])]:
        assert ref.stack_field(k, dils) == convbook.receptive_field([(k, 1, d) for d in dils])
        np.testing.assert_array_equal(ref.path_counts(k, dils), convbook.coverage_map(k, dils, ndim=1))
    rng = np.random.default_rng(1)
    for shape, dil in [((2, 3, 3, 3), 2), ((1, 2, 2, 4), (3, 1)), ((2, 1, 5), 3)]:
        w = rng.standard_normal(shape)
        np.testing.assert_array_equal(ref.dilate_kernel(w, dil), convbook.dilate_kernel(w, dil))
    assert ref.conv_macs(1, 32, 64, (3, 3), (28, 28)) == convbook.conv_cost(32, 64, 3, 28).macs


# --------------------------------------------------------------------------- the result object and compare()


def test_layout_reorders_accepts_rounded_working_and_names_each_mistake():
    assert separable.layout_reorders(12_845_056, 0.75), "an intensity rounded to 2 digits passes"
    assert not separable.layout_reorders(12_845_056, 0.7)
    result = separable.layout_reorders(3_211_264, 14_450_688 / 6_427_136)
    assert not result and "minimum traffic" in result.hint and "reads its tensor" in result.hint
    assert "12845056" not in str(result).replace(",", "") and "0.75" not in str(result)
    assert not separable.layout_reorders(12_845_056, None) and "still None" in str(separable.layout_reorders(1, None))


def test_cost_references_match_the_library():
    """The references of sep-ex-8 to sep-ex-11 against convbook.costs and the architecture table."""
    assert tuple(ref.MOBILENET_V1_TABLE) == MOBILENET_V1_BLOCKS
    for alpha, resolution in itertools.product((1.0, 0.75, 0.5, 0.25, 0.35, 1.4), (224, 192, 160, 128, 97, 33)):
        rows = mobilenet_v1_costs(alpha, resolution)
        assert ref.mobilenet_v1_counts(alpha, resolution) == (
            sum(r["params"] for r in rows),
            sum(r["macs"] for r in rows),
        )
    for c_in, c_out, size, t, stride in itertools.product((1, 7, 24), (5, 24), (3, 13, 56), (1, 2, 6), (1, 2)):
        cost = convbook.inverted_residual_cost(c_in, c_out, size, expansion=t, stride=stride)
        assert ref.inverted_residual_macs(c_in, c_out, size, t, stride) == cost["total"].macs
    for channels, batch, size, k in itertools.product((1, 16, 128), (1, 8), (5, 28), (1, 3, 5)):
        expected = convbook.costs.conv_intensity(channels, channels, k, size, groups=channels, batch=batch)
        assert ref.depthwise_flops_bytes(channels, batch, size, k) == (expected["flops"], expected["bytes"])
    assert ref.roofline(2.25, 98.0, 96.0) == 98.0 and ref.roofline(2.0, 98.0, 29.0) == 58.0


def test_check_result_and_compare_keep_their_api():
    ok = check_api.CheckResult("x", True, "all 2 cases match")
    bad = check_api.CheckResult("x", False, "case 1: wrong", "think again")
    assert ok and not bad
    assert str(ok) == repr(ok) == "PASS x: all 2 cases match"
    assert str(bad) == "FAIL x: case 1: wrong\n  hint: think again"
    cases = [((np.arange(3.0),), {}), ((np.ones(2),), {})]
    assert check_api.compare("double", lambda a: 2 * a, lambda a: a + a, cases)
    assert not check_api.compare("double", lambda a: 3 * a, lambda a: a + a, cases, hint="h")
    assert check_api.compare("close", lambda a: a + 1e-3, lambda a: a, cases, atol=1e-2)
    assert not check_api.compare("close", lambda a: a + 1e-3, lambda a: a, cases, atol=1e-4)


def test_tolerance_follows_the_dtype():
    exp = np.full(3, 1.0)
    assert check_api.arrays_match((exp + 1e-6).astype(np.float32), exp, "float32")
    assert not check_api.arrays_match(exp + 1e-6, exp, "float64")
    assert check_api.arrays_match(exp + 1e-11, exp, "float64")
    assert not check_api.arrays_match((exp + 1e-3).astype(np.float32), exp, "float32")
    assert check_api.arrays_match((exp + 5e-3).astype(np.float16), exp, "float16")


def test_grading_seed(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVBOOK_HIDDEN_SEED", raising=False)
    deep = tmp_path / "autograded" / "alice" / "a2-dilated"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    with pytest.raises(RuntimeError, match="only when grading"):
        check_api.grading_seed()
    (tmp_path / "hidden_seed.txt").write_text("4242\n# a comment\n")
    assert check_api.grading_seed() == 4242
    monkeypatch.setenv("CONVBOOK_HIDDEN_SEED", "7")
    assert check_api.grading_seed() == 7


@pytest.mark.parametrize(
    "check, right, own",
    [
        (separable.mobilenet_multipliers, mobilenet_ratios, [(0.5, 224), (1.0, 160), (0.75, 192), (0.25, 128)]),
        (separable.inverted_residual_macs, inverted_residual_macs, [(24, 24, 56, 6, 1)]),
    ],
    ids=["mobilenet_multipliers", "inverted_residual_macs"],
)
def test_the_exercise_own_cases_feedback_gives_no_answer_away(check, right, own):
    """sep-ex-10, 11: a wrong answer on a case the exercise asks about shows neither the expected value nor the
    size of the error (from which the expected value follows); a wrong answer elsewhere still shows both."""
    for case in own:
        expected = right(*case)
        for wrong_value in ((1, 1), (0.5, 0.5)) if check is separable.mobilenet_multipliers else (1, 0):

            def wrong(*args, case=case, wrong_value=wrong_value):
                return wrong_value if args == case else right(*args)

            text = str(check(wrong))
            assert text.startswith("FAIL") and str(case) in text, text
            assert "expected" not in text.split("hint:")[0].replace("expected value is not shown", ""), text
            assert "error" not in text, text
            for value in np.atleast_1d(expected):
                for shown in (
                    f"{value}",
                    f"{value:.3g}",
                    f"{value:.6g}",
                    f"{value:,}" if isinstance(value, int) else "",
                ):
                    assert not shown or shown not in text.split(str(case), 1)[1], (shown, text)
    # the first case is not the exercise's: a function that returns a constant sees a value it may compare with
    assert "expected" in check(lambda *args: 1).message or "largest error" in check(lambda *args: 1).message
