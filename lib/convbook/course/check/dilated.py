"""Self-checks for the exercises of the dilated-convolution chapter.

Functions (``dilate_kernel``, ``causal_conv1d``, ``coverage_map``,
``effective_kernel_size``, ``wavenet_receptive_field``) take the student's
function; the by-hand checks (``dilation_from_gaps``, ``padding_for_same_size``,
``zero_insertion_cost``, ``undilated_layers``) take the student's numbers. All
return a :class:`convbook.course.check.CheckResult` and never raise.
"""

from __future__ import annotations

import numpy as np

from convbook import dilated as _dil
from convbook import shapes as _shapes
from convbook.course.check import CheckResult, _reference, as_array, as_number, compare, compare_values, never_raises


def _rng(seed=None):
    return np.random.default_rng(2016 if seed is None else seed)


def _label(seed):
    return "" if seed is None else "(extra cases)"


# --------------------------------------------------------------------------- dilate_kernel


def _dilate_diagnosis(args, kwargs, got):
    weight, dilation = args
    array, _ = as_array(got)
    nd = weight.ndim - 2
    dil = tuple(dilation) if isinstance(dilation, (tuple, list)) else (dilation,) * nd
    expected = _reference.dilate_kernel(weight, dil)
    if array.shape[:2] != weight.shape[:2]:
        return "the first two axes (C_out, C_in) must stay as they are; only the spatial axes grow"
    trailing = tuple(d * k for d, k in zip(dil, weight.shape[2:]))
    if array.shape[2:] == trailing:
        return "your kernel is d * k wide: there are d - 1 zeros *between* neighbouring taps, none after the last"
    if array.ndim != expected.ndim:
        return f"the answer must keep the weight's {weight.ndim} axes"
    if nd == 2 and dil[0] != dil[1]:
        swapped = _reference.dilate_kernel(weight, dil[::-1])
        if array.shape == swapped.shape:
            return "the two dilations look swapped: dilation=(dH, dW) spreads the rows by dH and the columns by dW"
    if array.shape == expected.shape:
        return "the shape is right but some taps are in the wrong place: where does the second tap of a row land?"
    return None


def _dilate_cases(seed):
    rng = _rng(seed)
    if seed is None:
        return [
            ((rng.normal(size=(2, 3, 3, 3)), 2), {}),
            ((rng.normal(size=(1, 1, 3, 3)), 1), {}),
            ((rng.normal(size=(4, 2, 2, 3)), (3, 2)), {}),
            ((rng.normal(size=(2, 1, 5)), 4), {}),
        ]
    cases = []
    for number in range(8):
        if number % 3 == 2:  # 1-D
            weight = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 6))))
            dilation = int(rng.integers(1, 6))
        else:
            weight = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 4)), *rng.integers(1, 5, size=2)))
            dilation = tuple(int(d) for d in rng.integers(1, 5, size=2)) if number % 2 else int(rng.integers(1, 5))
        if number >= 6:
            weight = weight.astype(np.float32)
        cases.append(((weight, dilation), {}))
    return cases


@never_raises
def dilate_kernel(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(weight, dilation)``: the kernel with ``d - 1`` zeros between neighbouring taps.

    Cases: 2-D kernels with an int and a tuple dilation (non-square kernel), a 1-D kernel, and ``d = 1``.
    """
    return compare(
        "dilate_kernel",
        student_fn,
        _reference.dilate_kernel,
        _dilate_cases(seed),
        hint="work out the dilated kernel's size along each axis first, then place each tap (dilated chapter, "
        "section 2, 'Two implementations')",
        diagnose=_dilate_diagnosis,
        forbidden=(_dil.dilate_kernel, _dil.dilated_conv2d_zeros),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- causal_conv1d


def _causal_diagnosis(args, kwargs, got):
    x, weight = args
    d = kwargs.get("dilation", 1)
    array, _ = as_array(got)
    k = weight.shape[-1]
    expected_shape = (x.shape[0], weight.shape[0], x.shape[2])
    if array.shape[:2] == expected_shape[:2] and array.shape[2] < x.shape[2]:
        short = x.shape[2] - array.shape[2]
        if short == (d - 1) * (k - 1):
            return "the output is shorter than the input: the padding must cover the kernel's whole dilated span"
        return "the output must be as long as the input: pad so that every time step has an output"
    if array.shape != expected_shape:
        return None
    padded_right = np.pad(x, ((0, 0), (0, 0), (0, d * (k - 1))))
    right = _reference.conv2d(padded_right[:, :, None, :], weight[:, :, None, :], dilation=(1, d))[:, :, 0, :]
    if np.allclose(array, right, atol=1e-5):
        return "your output at time t depends on inputs after t: the zeros are on the wrong side"
    total = d * (k - 1)
    centred = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2)))
    sym = _reference.conv2d(centred[:, :, None, :], weight[:, :, None, :], dilation=(1, d))[:, :, 0, :]
    if np.allclose(array, sym, atol=1e-5):
        return "padding on both sides centres the kernel on t, so its last taps read the future"
    flipped = _reference.causal_conv1d(x, weight[:, :, ::-1], d)
    if not np.allclose(weight, weight[:, :, ::-1]) and np.allclose(array, flipped, atol=1e-5):
        return "the kernel is flipped: tap j = k - 1, the last one, must read the current sample"
    undilated = _reference.causal_conv1d(x, weight, 1)
    if d > 1 and np.allclose(array[..., : x.shape[2]], undilated, atol=1e-5):
        return "the dilation is ignored"
    return None


def _causal_cases(seed):
    rng = _rng(seed)
    if seed is None:
        return [
            ((rng.normal(size=(1, 1, 12)), rng.normal(size=(1, 1, 2))), {"dilation": 1}),
            ((rng.normal(size=(2, 3, 20)), rng.normal(size=(4, 3, 2))), {"dilation": 4}),
            ((rng.normal(size=(1, 2, 16)), rng.normal(size=(2, 2, 3))), {"dilation": 3}),
        ]
    cases = []
    for number in range(6):
        n, c_in, c_out, k, d = (int(v) for v in rng.integers([1, 1, 1, 1, 1], [3, 4, 4, 5, 6]))
        length = int(rng.integers(d * (k - 1) + 1, 30))
        x, w = rng.normal(size=(n, c_in, length)), rng.normal(size=(c_out, c_in, k))
        if number >= 4:
            x, w = x.astype(np.float32), w.astype(np.float32)
        cases.append(((x, w), {"dilation": d}))
    return cases


@never_raises
def causal_conv1d(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(x, weight, dilation=d)``: a causal dilated 1-D convolution.

    ``x`` has shape (N, C_in, L), ``weight`` (C_out, C_in, k); the output has shape (N, C_out, L), and
    output ``t`` depends only on inputs ``<= t``. Using ``convbook.conv1d`` inside is allowed.
    """
    return compare(
        "causal_conv1d",
        student_fn,
        lambda x, w, dilation=1: _reference.causal_conv1d(x, w, dilation),
        _causal_cases(seed),
        hint="output t may read x[t] and earlier samples only, and there is one output per input sample "
        "(dilated chapter, section 4, 'Causal dilated convolution')",
        diagnose=_causal_diagnosis,
        forbidden=(_dil.causal_conv1d,),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- coverage


def _coverage_diagnosis(args, kwargs, got):
    k, dilations = args
    array, _ = as_array(got)
    expected = _reference.path_counts(k, dilations)
    if array.ndim == 2:
        return "this exercise asks for the 1-D map (one axis); the 2-D map is the outer product of two of them"
    if array.shape == expected.shape:
        if set(np.unique(array)) <= {0, 1} and np.array_equal(array > 0, expected > 0):
            return "your map marks which offsets are reached (0 or 1); count how many paths reach each one"
        if np.array_equal(array[::-1], expected):
            return "the map is reversed"
        return None
    if array.shape[0] > expected.shape[0]:
        return "the map is longer than the receptive field: does each layer add more than (k - 1) d offsets?"
    return "the map is shorter than the receptive field: does it start from a single offset, [1]?"


@never_raises
def coverage_map(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check a 1-D ``student_fn(kernel_size, dilations)``: paths from each input offset to one output."""
    if seed is None:
        specs = [(3, [1]), (3, [1, 1]), (3, [2, 2, 2]), (3, [1, 2, 5]), (2, [1, 2, 4, 8])]
    else:
        rng = _rng(seed)
        specs = []
        for _ in range(8):
            depth = int(rng.integers(1, 5))
            specs.append((int(rng.integers(2, 4)), [int(d) for d in rng.integers(1, 6, size=depth)]))
    return compare(
        "coverage_map",
        student_fn,
        _reference.path_counts,
        [(spec, {}) for spec in specs],
        hint="one layer alone reaches k offsets, d apart; each further layer spreads every path of the layers "
        "below over its own k taps (dilated chapter, section 5, 'Gridding')",
        diagnose=_coverage_diagnosis,
        forbidden=(_dil.coverage_map,),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- sizes


def _effective_diagnosis(args, kwargs, got):
    k, d = args
    value, _ = as_number(got)
    if value == k * d:
        return "k * d counts d samples per tap, one gap too many after the last tap"
    if value == (d + 1) * (k - 1) + 1:
        return "you read d as a gap count; in this book d = 1 is an ordinary kernel, with no gaps"
    return None


@never_raises
def effective_kernel_size(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(kernel_size, dilation)``: the span of a dilated kernel, in input samples."""
    if seed is None:
        specs = [(3, 1), (3, 2), (5, 3), (2, 512), (7, 4)]
    else:
        rng = _rng(seed)
        specs = [(int(rng.integers(1, 9)), int(rng.integers(1, 20))) for _ in range(10)]
    return compare(
        "effective_kernel_size",
        student_fn,
        _reference.span,
        [(spec, {}) for spec in specs],
        hint="count the taps and the gaps between them (notation page, 'Dilation')",
        diagnose=_effective_diagnosis,
        forbidden=(_shapes.effective_kernel_size,),
        label=_label(seed),
    )


def _field_diagnosis(args, kwargs, got):
    k, dilations = args
    value, _ = as_number(got)
    right = _reference.stack_field(k, dilations)
    if value == right - 1:
        return "one less than expected: a stack of no layers already sees 1 sample"
    if value == sum(k * d for d in dilations):
        return "each layer adds (k - 1) d samples, not k d: its first tap is the sample already seen"
    return None


@never_raises
def wavenet_receptive_field(student_fn, *, seed: int | None = None) -> CheckResult:
    """Check ``student_fn(kernel_size, dilations)``: receptive field (in samples) of a stride-1 stack."""
    if seed is None:
        specs = [(2, [1, 2, 4, 8]), (2, [2**i for i in range(10)]), (3, [1, 1, 2, 4, 8, 16, 1])]
    else:
        rng = _rng(seed)
        specs = [
            (int(rng.integers(2, 5)), [int(d) for d in rng.integers(1, 9, size=rng.integers(1, 7))]) for _ in range(8)
        ]
    return compare(
        "wavenet_receptive_field",
        student_fn,
        _reference.stack_field,
        [(spec, {}) for spec in specs],
        hint="follow one output down the stack: how many more input samples can each layer reach? "
        "(dilated chapter, section 3, 'Receptive field')",
        diagnose=_field_diagnosis,
        forbidden=(_shapes.receptive_field,),
        label=_label(seed),
    )


# --------------------------------------------------------------------------- answers by hand


@never_raises
def dilation_from_gaps(dilation, span) -> CheckResult:
    """Exercise dil-ex-1: a 3x3 kernel with two gaps between taps ("dilation 2" counting gaps)."""
    expected = {"dilation": 2 + 1, "span": _reference.span(3, 2 + 1)}

    def diagnose(name, value):
        if name == "dilation" and value == 2:
            return "2 is the paper's count of gaps; PyTorch's dilation is the step between taps"
        if name == "span" and value == _reference.span(3, 2):
            return "that is the span at dilation 2; with two gaps between taps the step is larger"
        return None

    return compare_values(
        "dilation_from_gaps",
        {"dilation": dilation, "span": span},
        expected,
        diagnose,
        hint="notation page, 'Dilation': the table of the two conventions",
    )


@never_raises
def padding_for_same_size(output_size, padding) -> CheckResult:
    """Exercise dil-ex-2: a 3x3 kernel at d = 4 on a 64x64 input: output size without padding, padding for 64."""
    expected = {"output_size": _reference.window_count(64, 3, 1, 0, 4), "padding": None}
    expected["padding"] = next(p for p in range(20) if _reference.window_count(64, 3, 1, p, 4) == 64)

    def diagnose(name, value):
        if name == "padding" and value == 2 * expected["padding"]:
            return "that is the total; padding= is added on each side"
        if name == "output_size" and value == _reference.window_count(64, 3, 1, 0, 1):
            return "the dilation is ignored"
        if name == "output_size" and value == expected["output_size"] - 1:
            return "one less than expected: count the window positions, the first one included"
        return None

    return compare_values(
        "padding_for_same_size",
        {"output_size": output_size, "padding": padding},
        expected,
        diagnose,
        hint="notation page, 'Output size'",
    )


@never_raises
def zero_insertion_cost(gap_macs, zero_macs, ratio) -> CheckResult:
    """Exercise dil-ex-3: 32 -> 64 channels, 3x3 at d = 4, 36x36 input, no padding, one image."""
    side = _reference.window_count(36, 3, 1, 0, 4)
    wide = _reference.span(3, 4)
    gaps = _reference.conv_macs(1, 32, 64, (3, 3), (side, side))
    zeros = _reference.conv_macs(1, 32, 64, (wide, wide), (side, side))
    expected = {"gap_macs": gaps, "zero_macs": zeros, "ratio": zeros // gaps}

    def diagnose(name, value):
        if name in ("gap_macs", "zero_macs"):
            taps = 9 if name == "gap_macs" else wide * wide
            if value == _reference.conv_macs(1, 32, 64, (1, 1), (36, 36)) * taps:
                return "without padding the output is smaller than the input"
            if value == 2 * expected[name]:
                return "that is twice the count: a multiply-add is one multiplication and one addition"
        return None

    return compare_values(
        "zero_insertion_cost",
        {"gap_macs": gap_macs, "zero_macs": zero_macs, "ratio": ratio},
        expected,
        diagnose,
        hint="notation page, 'Counting weights, multiply-adds and FLOPs'",
    )


@never_raises
def undilated_layers(layers) -> CheckResult:
    """Exercise dil-ex-4: how many undilated 3-tap layers reach the field of dilations 1, 2, 4, 8, 16."""
    target = _reference.stack_field(3, [1, 2, 4, 8, 16])
    expected = next(n for n in range(1, 1000) if _reference.stack_field(3, [1] * n) >= target)

    def diagnose(name, value):
        if value == target:
            return "that is the receptive field itself; how many samples does each undilated layer add?"
        return None

    return compare_values("undilated_layers", {"layers": layers}, {"layers": expected}, diagnose)
