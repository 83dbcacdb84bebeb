"""The instructor's pool of graded exercises (convbook.course.graded): variants of the book's worked exercises.

Each entry draws its numbers from the term's generator (never the book's numbers), computes the answers with the
solution code written here (the instructor's reference: it is in no student edition, no site and not in the library)
and seals them for the student's self-check. ``POOL`` lists the entries of each assignment, in order.

This file is in the book's repository, which is public: the *numbers* of a term stay private with the term seed, but
anyone can read the solution code below. For a course whose function answers must stay private too, copy this file
out of the repository, change the entries, and pass it with ``python -m convbook.course assignments --pool PATH``.
"""

from __future__ import annotations

import math

from convbook.course.check.sealed import function_token, value_token
from convbook.course.graded import Graded, draw_different

QUICK = "full points for a right answer with a reason from the book; half for a right answer without one; none else"


def _run(code: str) -> dict:
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (the instructor's own solution code)
    return namespace


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _value_check(label: str, names: list[str], answers: dict, salt: str) -> str:
    given = ", ".join(f'"{n}": {n}' for n in names)
    return f'check.values("{label}", {{{given}}}, "{value_token(answers, salt)}")'


def _function_check(label: str, fn: str, token: str, hint: str) -> str:
    return f'check.function("{label}", {fn}, "{token}", hint="{hint}")'


def _cases(rng, shapes_and_extra):
    """Argument specs of sealed cases: whole-number arrays of the given shapes, then the extra arguments."""
    cases = []
    for shapes, extra, kwargs in shapes_and_extra:
        args = [{"ints": list(s), "seed": int(rng.integers(1, 10**6))} for s in shapes] + list(extra)
        cases.append((args, kwargs))
    return cases


# --------------------------------------------------------------------------- a1: foundations


def output_length(rng, salt):
    public = {"n": 100, "k": 5, "s": 3, "p": 2, "d": 2}  # notation-ex-2
    nums = draw_different(
        rng,
        lambda r: {
            "n": int(r.integers(40, 200)),
            "k": _pick(r, [3, 5, 7]),
            "s": int(r.integers(1, 4)),
            "p": int(r.integers(0, 4)),
            "d": int(r.integers(1, 4)),
        },
        public,
    )
    n, k, s, p, d = nums["n"], nums["k"], nums["s"], nums["p"], nums["d"]
    code = f"length = ({n} + 2 * {p} - {d} * ({k} - 1) - 1) // {s} + 1"
    answers = {"length": _run(code)["length"]}
    return Graded(
        "foundations.output_length",
        "value",
        f"A 1-D convolution with kernel size {k}, stride {s}, padding {p} on each side and dilation {d} is applied to "
        f"a signal of {n} samples. How many outputs does it give? Write the number in the cell below (notation page, "
        "'Output size').",
        answer="length = None",
        solution_code=code,
        sample_answer="$\\lfloor (n + 2p - d(k-1) - 1) / s \\rfloor + 1$, computed in the cell below.",
        check=_value_check("output_length", ["length"], answers, salt),
        numbers=nums,
        book=("notation-ex-2", public),
        auto=2,
        answers=answers,
    )


def layer_costs(rng, salt):
    public = {"c_in": 16, "c_out": 32, "k": 3, "side": 10}  # notation-ex-3
    nums = draw_different(
        rng,
        lambda r: {
            "c_in": _pick(r, [8, 12, 24, 48]),
            "c_out": _pick(r, [16, 40, 96]),
            "k": _pick(r, [3, 5]),
            "side": int(r.integers(7, 29)),
        },
        public,
    )
    c_in, c_out, k, side = nums["c_in"], nums["c_out"], nums["k"], nums["side"]
    code = f"weights = {c_out} * {c_in} * {k} * {k}\nmacs = weights * {side} * {side}"
    answers = {name: _run(code)[name] for name in ("weights", "macs")}
    return Graded(
        "foundations.layer_costs",
        "value",
        f"A {k}x{k} convolution maps {c_in} channels to {c_out}, without bias, and its output is {side}x{side} (one "
        "image). How many weights does it have, and how many multiply-adds does it need? (Notation page, 'Counting "
        "weights, multiply-adds and FLOPs'.)",
        answer="weights = None\nmacs = None",
        solution_code=code,
        sample_answer="One weight per (output channel, input channel, tap); one multiply-add per weight and output "
        "position.",
        check=_value_check("layer_costs", ["weights", "macs"], answers, salt),
        numbers=nums,
        book=("notation-ex-3", public),
        auto=2,
        answers=answers,
    )


def true_convolution(rng, salt):
    public = {"stride": 1, "padding": 0, "flipped": False}  # ch1-ex-3: cross-correlation, valid, stride 1
    nums = draw_different(
        rng, lambda r: {"stride": int(r.integers(2, 4)), "padding": int(r.integers(1, 3)), "flipped": True}, public
    )
    s, p = nums["stride"], nums["padding"]
    code = (
        "def my_convolve(x, k):\n"
        f"    x = np.pad(np.asarray(x, dtype=float), {p})  # {p} zeros on each side\n"
        "    k = np.asarray(k, dtype=float)[::-1]  # a convolution flips the kernel\n"
        f"    n_out = (len(x) - len(k)) // {s} + 1\n"
        f"    return np.array([x[i * {s} : i * {s} + len(k)] @ k for i in range(n_out)])\n"
    )
    ns = _run("import numpy as np\n" + code)
    sizes = [(12, 3), (9, 2), (20, 5), (7, 7), (15, 4)]
    token = function_token(
        ns["my_convolve"],
        _cases(rng, [([(n,), (k,)], [], {}) for n, k in sizes]),
        salt,
        ("convbook.conv1d", "convbook.conv2d", "numpy.convolve", "numpy.correlate"),
    )
    return Graded(
        "foundations.true_convolution",
        "function",
        f"Write `my_convolve(x, k)` for 1-D NumPy arrays: the *convolution* of the signal with the kernel in the "
        f"mathematician's sense (the kernel flipped, unlike the cross-correlation of Chapter 1), with {p} zero(s) of "
        f"padding on each side and stride {s}. Write the loop yourself: no `np.convolve`, `np.correlate` or convbook "
        "call.",
        answer="def my_convolve(x, k):\n    # your code here\n    raise NotImplementedError",
        solution_code=code,
        sample_answer="Pad, flip the kernel, then take one dot product per window start, every stride samples.",
        check=_function_check("my_convolve", "my_convolve", token, "flip the kernel, pad both sides, then step"),
        numbers=nums,
        book=("ch1-ex-3", public),
        auto=4,
    )


def even_kernel_padding(rng, salt):
    public = {"k": 3}
    nums = draw_different(rng, lambda r: {"k": _pick(r, [2, 4, 6])}, public)
    k = nums["k"]
    return Graded(
        "foundations.even_kernel",
        "written",
        f"A layer with kernel size {k} (even), stride 1 and dilation 1 must keep the length of its input. How many "
        "zeros of padding does it need in all, why can they not be split evenly, and what does PyTorch's "
        "`padding='same'` do with the extra one? Two or three sentences.",
        sample_answer=f"It needs $k - 1 = {k - 1}$ zeros in all, an odd number, so one side gets one more than the "
        "other; PyTorch's `padding='same'` puts the extra zero at the end (and warns that it may copy the input).",
        written=2,
        rubric=f"1 point for the total {k - 1} with the reason (an odd number cannot be split evenly); "
        "1 point for 'the extra zero goes at the end'. " + QUICK + ".",
        ta_minutes=1.5,
        numbers=nums,
        book=("ch1-ex-4", public),
    )


# --------------------------------------------------------------------------- a2: dilated


def gap_convention(rng, salt):
    public = {"k": 3, "gaps": 2}  # dil-ex-1
    nums = draw_different(rng, lambda r: {"k": _pick(r, [3, 5, 7]), "gaps": int(r.integers(1, 6))}, public)
    k, g = nums["k"], nums["gaps"]
    code = f"dilation = {g} + 1\nspan = {k} + ({k} - 1) * (dilation - 1)"
    answers = {name: _run(code)[name] for name in ("dilation", "span")}
    return Graded(
        "dilated.gap_convention",
        "value",
        f'A paper that counts *gaps* uses a {k}x{k} kernel with "dilation {g}". What do you pass as `dilation=` to '
        "PyTorch for the same layer, and how many input pixels does the kernel span along each side? (Notation page, "
        "'Dilation'.)",
        answer="dilation = None\nspan = None",
        solution_code=code,
        sample_answer="PyTorch's dilation is the step between taps, one more than the number of gaps.",
        check=_value_check("gap_convention", ["dilation", "span"], answers, salt),
        numbers=nums,
        book=("dil-ex-1", public),
        auto=2,
        answers=answers,
    )


def same_padding(rng, salt):
    public = {"k": 3, "d": 4, "n": 64}  # dil-ex-2
    nums = draw_different(
        rng, lambda r: {"k": _pick(r, [3, 5]), "d": int(r.integers(2, 7)), "n": int(r.integers(40, 129))}, public
    )
    k, d, n = nums["k"], nums["d"], nums["n"]
    code = f"output_size = {n} - {d} * ({k} - 1)\npadding = {d} * ({k} - 1) // 2"
    answers = {name: _run(code)[name] for name in ("output_size", "padding")}
    return Graded(
        "dilated.same_padding",
        "value",
        f"A {k}x{k} convolution with $d = {d}$ and stride 1 is applied to a {n}x{n} input. What is the output size "
        f"without padding, and how much padding on each side keeps the output at {n}x{n}?",
        answer="output_size = None\npadding = None",
        solution_code=code,
        sample_answer="The kernel spans $d(k-1)+1$ pixels; padding $d(k-1)/2$ on each side keeps the size.",
        check=_value_check("same_padding", ["output_size", "padding"], answers, salt),
        numbers=nums,
        book=("dil-ex-2", public),
        auto=2,
        answers=answers,
    )


def zero_insertion(rng, salt):
    public = {"c_in": 32, "c_out": 64, "d": 4, "n": 36}  # dil-ex-3
    nums = draw_different(
        rng,
        lambda r: {
            "c_in": _pick(r, [16, 24, 48]),
            "c_out": _pick(r, [32, 40, 96]),
            "d": int(r.integers(2, 6)),
            "n": int(r.integers(24, 49)),
        },
        public,
    )
    c_in, c_out, d, n = nums["c_in"], nums["c_out"], nums["d"], nums["n"]
    code = (
        f"span = {d} * 2 + 1  # a 3-tap kernel at d = {d}\n"
        f"side = {n} - span + 1  # no padding\n"
        f"gap_macs = {c_out} * side * side * {c_in} * 9\n"
        f"zero_macs = {c_out} * side * side * {c_in} * span * span\n"
        "ratio = zero_macs / gap_macs"
    )
    answers = {name: _run(code)[name] for name in ("gap_macs", "zero_macs", "ratio")}
    return Graded(
        "dilated.zero_insertion",
        "value",
        f"A layer maps {c_in} channels to {c_out} with a 3x3 kernel at $d = {d}$, no padding, on a {n}x{n} input "
        "(one image). How many multiply-adds does gap sampling need, how many does zero insertion need, and what is "
        "their ratio? Then, in the cell for words below, say whether the ratio depends on the number of channels, "
        "and why. (Dilated chapter, section 2.)",
        answer="gap_macs = None\nzero_macs = None\nratio = None  # zero_macs / gap_macs",
        solution_code=code,
        sample_answer=f"The ratio is the ratio of the kernels' areas, $({2 * d + 1})^2 / 9 = {answers['ratio']:.3g}$; "
        "the channels (and the output size) appear in both counts and cancel, so it does not depend on them.",
        check=_value_check("zero_insertion", ["gap_macs", "zero_macs", "ratio"], answers, salt),
        numbers=nums,
        book=("dil-ex-3", public),
        auto=2,
        written=1,
        rubric="1 point: 'no', because the channels appear in both counts and cancel (the ratio is the ratio of "
        "kernel areas). 'No' without the reason: half.",
        ta_minutes=1.0,
        answers=answers,
    )


def lagged_causal(rng, salt):
    public = {"lag": 0}  # dil-ex-6: output t reads inputs up to t
    nums = draw_different(rng, lambda r: {"lag": int(r.integers(1, 4))}, public)
    lag = nums["lag"]
    code = (
        "def my_lagged_conv1d(x, weight, dilation=1):\n"
        "    # x (N, C_in, T), weight (C_out, C_in, k) -> (N, C_out, T); output t reads inputs up to t - lag only\n"
        "    n, c_in, length = x.shape\n"
        "    c_out, _, k = weight.shape\n"
        f"    left = dilation * (k - 1) + {lag}\n"
        "    xp = np.pad(x, ((0, 0), (0, 0), (left, 0)))  # (N, C_in, T + left)\n"
        "    y = np.zeros((n, c_out, length))\n"
        "    for t in range(length):\n"
        "        taps = xp[:, :, t : t + dilation * (k - 1) + 1 : dilation]  # (N, C_in, k)\n"
        "        y[:, :, t] = np.einsum('nck,ock->no', taps, weight)\n"
        "    return y\n"
    )
    ns = _run("import numpy as np\n" + code)
    specs = [
        ([(1, 1, 12), (1, 1, 2)], [], {"dilation": 1}),
        ([(2, 3, 20), (4, 3, 2)], [], {"dilation": 4}),
        ([(1, 2, 16), (2, 2, 3)], [], {"dilation": 3}),
        ([(1, 1, 5), (1, 1, 3)], [], {"dilation": 2}),
    ]
    token = function_token(ns["my_lagged_conv1d"], _cases(rng, specs), salt, ("convbook.dilated.causal_conv1d",))
    return Graded(
        "dilated.lagged_causal",
        "function",
        f"Write `my_lagged_conv1d(x, weight, dilation=1)` for `x` of shape `(N, C_in, T)` and `weight` of shape "
        f"`(C_out, C_in, k)`, returning `(N, C_out, T)`: a dilated convolution whose output at time $t$ depends only "
        f"on inputs at times $\\le t - {lag}$ (a causal layer with a delay of {lag}: its last tap reads "
        f"$x[t - {lag}]$; inputs before time 0 are zero). `convbook.dilated.causal_conv1d` is not allowed. "
        "(Dilated chapter, section 4.)",
        answer="def my_lagged_conv1d(x, weight, dilation=1):\n    # your code here\n    raise NotImplementedError",
        solution_code=code,
        sample_answer="Pad $d(k-1)$ plus the delay on the left only, then one dilated window per output.",
        check=_function_check(
            "my_lagged_conv1d", "my_lagged_conv1d", token, "how many zeros go on the left, and none on the right?"
        ),
        numbers=nums,
        book=("dil-ex-6", public),
        auto=4,
    )


def mixed_paths(rng, salt):
    public = {"mixed": False}  # dil-ex-7: one kernel size for every layer
    nums = {"mixed": True}
    code = (
        "def my_paths(layers):\n"
        "    # layers: a list of (kernel_size, dilation), first layer first -> paths per input offset\n"
        "    counts = np.ones(1, dtype=np.int64)\n"
        "    for k, d in layers:\n"
        "        taps = np.zeros(d * (k - 1) + 1, dtype=np.int64)\n"
        "        taps[::d] = 1\n"
        "        counts = np.convolve(counts, taps)\n"
        "    return counts\n"
    )
    ns = _run("import numpy as np\n" + code)
    specs = [([], [[[3, 1], [2, 2]]], {}), ([], [[[5, 1]]], {})]
    for _ in range(4):
        depth = int(rng.integers(2, 5))
        specs.append(([], [[[int(rng.integers(2, 5)), int(rng.integers(1, 6))] for _ in range(depth)]], {}))
    token = function_token(ns["my_paths"], _cases(rng, specs), salt, ("convbook.dilated.coverage_map",))
    return Graded(
        "dilated.mixed_paths",
        "function",
        "Write `my_paths(layers)` for a stride-1 stack whose layers may have *different* kernel sizes: `layers` is a "
        "list of `(kernel_size, dilation)` pairs, first layer first. Return a 1-D array with one entry per input "
        "offset (from the leftmost offset one output reaches): the number of paths from that offset to the output. "
        "(Dilated chapter, section 5.)",
        answer="def my_paths(layers):\n    # your code here\n    raise NotImplementedError",
        solution_code=code,
        sample_answer="Start from one path at one offset; each layer spreads every path over its own taps.",
        check=_function_check("my_paths", "my_paths", token, "one layer alone reaches k offsets, d apart"),
        numbers=nums,
        book=("dil-ex-7", public),
        auto=4,
    )


def holes(rng, salt):
    public = {"dilations": [2, 4, 8]}  # dil-ex-7's stacks
    nums = draw_different(
        rng,
        lambda r: {"dilations": _pick(r, [[2, 2, 4], [3, 6, 9], [1, 2, 6], [1, 3, 7], [2, 4, 6], [1, 4, 8]])},
        public,
    )
    dils = nums["dilations"]
    offsets = {0}
    for d in dils:
        offsets = {o + d * j for o in offsets for j in range(3)}
    hole_count = max(offsets) + 1 - len(offsets)
    factor = math.gcd(*dils)
    return Graded(
        "dilated.holes",
        "written",
        f"Does a stack of three 3-tap layers with dilations {', '.join(map(str, dils))} leave holes in its "
        "receptive field (input offsets from which no path reaches the output)? Answer with the reason, in two or "
        "three sentences. (Dilated chapter, section 5.)",
        sample_answer=f"{'Yes' if hole_count else 'No'}: {hole_count} of the {max(offsets) + 1} offsets "
        f"{'are' if hole_count != 1 else 'is'} unreached. "
        + (
            f"Every dilation is a multiple of {factor}, so only multiples of {factor} are reached."
            if factor > 1
            else "The dilations share no common factor; the rule of section 5 compares each step with "
            "the span the layers below already fill."
        ),
        written=2,
        rubric="1 point for the right yes/no; 1 point for the reason (a common factor, or a step larger "
        "than the span filled below, as section 5's coverage map shows). " + QUICK + ".",
        ta_minutes=1.5,
        numbers=nums,
        book=("dil-ex-7", public),
    )


# --------------------------------------------------------------------------- a3: separable


def separable_layer(rng, salt):
    public = {"c_in": 32, "c_out": 64, "k": 3, "side": 112}  # sep-ex-2 (MobileNet's second layer)
    nums = draw_different(
        rng,
        lambda r: {
            "c_in": _pick(r, [24, 48, 96, 160]),
            "c_out": _pick(r, [64, 128, 320]),
            "k": _pick(r, [3, 5]),
            "side": _pick(r, [7, 14, 28, 56]),
        },
        public,
    )
    c_in, c_out, k, side = nums["c_in"], nums["c_out"], nums["k"], nums["side"]
    code = (
        f"standard_weights = {c_out} * {c_in} * {k} * {k}\n"
        f"separable_weights = {c_in} * {k} * {k} + {c_out} * {c_in}  # depthwise, then pointwise\n"
        f"standard_macs = standard_weights * {side} * {side}\n"
        f"separable_macs = separable_weights * {side} * {side}\n"
        "ratio = separable_macs / standard_macs"
    )
    names = ["standard_weights", "separable_weights", "standard_macs", "separable_macs", "ratio"]
    answers = {name: _run(code)[name] for name in names}
    return Graded(
        "separable.layer",
        "value",
        f"A {k}x{k} layer maps {c_in} channels to {c_out} with 'same' padding and stride 1 on a {side}x{side} "
        "feature map (one image, no bias). Give the weights and multiply-adds of the standard layer and of its "
        "depthwise-separable replacement, and the ratio separable / standard. (Separable chapter, section 2.)",
        answer="\n".join(f"{n} = None" for n in names),
        solution_code=code,
        sample_answer="The ratio is $1/C_\\text{out} + 1/k^2$.",
        check=_value_check("separable_layer", names, answers, salt),
        numbers=nums,
        book=("sep-ex-2", public),
        auto=2,
        answers=answers,
    )


def channels_last_depthwise(rng, salt):
    public = {"layout": "NCHW", "stride": 1}  # sep-ex-6
    nums = draw_different(rng, lambda r: {"layout": "NHWC", "stride": int(r.integers(1, 3))}, public)
    s = nums["stride"]
    code = (
        "def my_depthwise_nhwc(x, weight):\n"
        "    # x (N, H, W, C), weight (kH, kW, C) -> (N, H_out, W_out, C), no padding\n"
        "    n, h, w, c = x.shape\n"
        "    kh, kw, _ = weight.shape\n"
        f"    ho, wo = (h - kh) // {s} + 1, (w - kw) // {s} + 1\n"
        "    y = np.zeros((n, ho, wo, c))\n"
        "    for i in range(ho):\n"
        "        for j in range(wo):\n"
        f"            patch = x[:, i * {s} : i * {s} + kh, j * {s} : j * {s} + kw, :]  # (N, kH, kW, C)\n"
        "            y[:, i, j, :] = (patch * weight).sum(axis=(1, 2))\n"
        "    return y\n"
    )
    ns = _run("import numpy as np\n" + code)
    specs = [
        ([(1, 5, 5, 1), (3, 3, 1)], [], {}),
        ([(2, 7, 6, 3), (3, 3, 3)], [], {}),
        ([(1, 9, 9, 4), (5, 5, 4)], [], {}),
        ([(1, 6, 8, 2), (2, 3, 2)], [], {}),
    ]
    token = function_token(
        ns["my_depthwise_nhwc"], _cases(rng, specs), salt, ("convbook.separable.depthwise_conv2d", "convbook.conv2d")
    )
    return Graded(
        "separable.channels_last_depthwise",
        "function",
        "Write `my_depthwise_nhwc(x, weight)` for a channels-last input `x` of shape `(N, H, W, C)` and a weight "
        f"of shape `(kH, kW, C)`: the depthwise cross-correlation, no padding, stride {s}, returning "
        "`(N, H_out, W_out, C)`. No convbook call. (Separable chapter, section 1; the layouts: section 5.)",
        answer="def my_depthwise_nhwc(x, weight):\n    # your code here\n    raise NotImplementedError",
        solution_code=code,
        sample_answer="One window per output position, multiplied by the weight channel by channel and summed over "
        "the window only.",
        check=_function_check(
            "my_depthwise_nhwc",
            "my_depthwise_nhwc",
            token,
            "each channel is filtered on its own; the channels stay on the last axis",
        ),
        numbers=nums,
        book=("sep-ex-6", public),
        auto=4,
    )


def flops_not_time(rng, salt):
    public = {"question": "which roof bounds section 5's layer"}  # sep-ex-8 asks for the roof; this asks for reasons
    nums = {"question": "why less than the ratio of multiply-adds", "c_out": _pick(rng, [64, 128, 256])}
    return Graded(
        "separable.flops_not_time",
        "written",
        f"A separable layer with {nums['c_out']} output channels needs about a ninth of the multiply-adds of the "
        "standard 3x3 layer it replaces, but it is often far less than nine times faster. Give two reasons from the "
        "chapter, in two or three sentences. (Separable chapter, section 5.)",
        sample_answer="The depthwise step does few multiply-adds per byte it moves, so it is bound by memory "
        "bandwidth rather than arithmetic (the roofline); and it is one more layer with its own launch or loop "
        "overhead and a layout reorder, which count at small sizes.",
        written=2,
        rubric="1 point per reason: memory bound / low arithmetic intensity of the depthwise step; "
        "overheads (two layers, launches, layout reorders, poorer library kernels). " + QUICK + ".",
        ta_minutes=2.0,
        numbers=nums,
        book=("sep-ex-8", public),
    )


# --------------------------------------------------------------------------- a4: pointwise


def pointwise_costs(rng, salt):
    public = {"c_in": 256, "c_out": 64, "side": 56}  # pw-ex-14
    nums = draw_different(
        rng,
        lambda r: {
            "c_in": _pick(r, [128, 192, 384, 512]),
            "c_out": _pick(r, [32, 48, 96]),
            "side": _pick(r, [14, 28, 35]),
        },
        public,
    )
    c_in, c_out, side = nums["c_in"], nums["c_out"], nums["side"]
    code = f"params = {c_out} * {c_in} + {c_out}  # weights and biases\nmacs = {c_out} * {c_in} * {side} * {side}"
    answers = {name: _run(code)[name] for name in ("params", "macs")}
    return Graded(
        "pointwise.costs",
        "value",
        f"A 1x1 convolution with bias maps {c_in} channels to {c_out} on a {side}x{side} feature map (one image). "
        "How many parameters (weights and biases) does it have, and how many multiply-adds does it need? "
        "(1x1 chapter, section 1.)",
        answer="params = None  # parameters: weights and biases\nmacs = None",
        solution_code=code,
        sample_answer="A matrix of $C_\\text{out} \\times C_\\text{in}$ plus one bias per output channel; one "
        "multiply-add per weight and pixel.",
        check=_value_check("pointwise_costs", ["params", "macs"], answers, salt),
        numbers=nums,
        book=("pw-ex-14", public),
        auto=2,
        answers=answers,
    )


def bottleneck_ratio(rng, salt):
    public = {"c": 256, "r": 4}  # pw-ex-15
    nums = draw_different(rng, lambda r: {"c": _pick(r, [128, 192, 384, 512]), "r": _pick(r, [2, 4, 8])}, public)
    c, r = nums["c"], nums["r"]
    code = (
        f"mid = {c} // {r}\n"
        f"bottleneck_macs_per_pixel = {c} * mid + mid * mid * 9 + mid * {c}  # 1x1 down, 3x3, 1x1 up\n"
        f"plain_macs_per_pixel = {c} * {c} * 9  # one 3x3 layer\n"
        "ratio = plain_macs_per_pixel / bottleneck_macs_per_pixel"
    )
    names = ["bottleneck_macs_per_pixel", "plain_macs_per_pixel", "ratio"]
    answers = {name: _run(code)[name] for name in names}
    return Graded(
        "pointwise.bottleneck",
        "value",
        f"A bottleneck block reduces {c} channels to {c}/{r} with a 1x1 layer, applies a 3x3 layer at that width "
        f"('same' padding), and restores {c} channels with a 1x1 layer. Give its multiply-adds per output pixel, "
        f"those of one plain 3x3 layer from {c} to {c} channels, and the ratio plain / bottleneck. "
        "(1x1 chapter, section 2.)",
        answer="\n".join(f"{n} = None" for n in names),
        solution_code=code,
        sample_answer="Add the three layers' weights (each weight is one multiply-add per pixel).",
        check=_value_check("bottleneck", names, answers, salt),
        numbers=nums,
        book=("pw-ex-15", public),
        auto=2,
        answers=answers,
    )


#: Layouts of the a4 function exercise: where the channels are in the input, the weight and the output. The book's
#: pw-ex-16 is all channels last with a (C_in, C_out) weight; pw-ex-2 is all channels first with (C_out, C_in).
_NHWC_IN, _NCHW_IN = "(N, H, W, C_in)", "(N, C_in, H, W)"
_NHWC_OUT, _NCHW_OUT = "(N, H, W, C_out)", "(N, C_out, H, W)"
_LAYOUTS = [
    {"input": i, "weight": w, "output": o}
    for i in (_NHWC_IN, _NCHW_IN)
    for w in ("(C_in, C_out)", "(C_out, C_in)")
    for o in (_NHWC_OUT, _NCHW_OUT)
    if (i, w, o) not in ((_NHWC_IN, "(C_in, C_out)", _NHWC_OUT), (_NCHW_IN, "(C_out, C_in)", _NCHW_OUT))
]


def channels_last_pointwise(rng, salt):
    public = {"input": _NHWC_IN, "weight": "(C_in, C_out)", "output": _NHWC_OUT}  # pw-ex-16, as the book writes it
    nums = draw_different(rng, lambda r: dict(_pick(r, _LAYOUTS)), public)
    rows = "x" if nums["input"] == _NHWC_IN else "np.moveaxis(x, 1, -1)"
    matrix = "weight" if nums["weight"] == "(C_in, C_out)" else "weight.T"
    back = "out" if nums["output"] == _NHWC_OUT else "np.moveaxis(out, -1, 1)"
    code = (
        "def my_pointwise(x, weight, bias):\n"
        f"    # x {nums['input']}, weight {nums['weight']}, bias (C_out,) -> {nums['output']}\n"
        f"    pixels = {rows}  # (N, H, W, C_in): each pixel's channel vector on the last axis\n"
        f"    out = pixels @ {matrix} + bias  # (N, H, W, C_in) @ (C_in, C_out) -> (N, H, W, C_out)\n"
        f"    return {back}  # {nums['output']}\n"
    )
    ns = _run("import numpy as np\n" + code)

    def shapes(n, h, w, c_in, c_out):
        x = (n, h, w, c_in) if nums["input"] == _NHWC_IN else (n, c_in, h, w)
        weight = (c_in, c_out) if nums["weight"] == "(C_in, C_out)" else (c_out, c_in)
        return [x, weight, (c_out,)]

    specs = [(shapes(*s), [], {}) for s in [(1, 2, 3, 4, 5), (2, 3, 3, 1, 2), (1, 4, 2, 6, 3), (1, 3, 5, 3, 3)]]
    token = function_token(
        ns["my_pointwise"], _cases(rng, specs), salt, ("convbook.pointwise.pointwise_conv2d", "convbook.conv2d")
    )
    return Graded(
        "pointwise.layouts",
        "function",
        f"Write `my_pointwise(x, weight, bias)` for an input `x` of shape `{nums['input']}`, a weight of shape "
        f"`{nums['weight']}` and a bias `(C_out,)`: the 1x1 convolution, returning `{nums['output']}`, as one matrix "
        "product over the channels (move axes as you need; the book's own weight is `(C_out, C_in)`). No convbook "
        "call. (1x1 chapter, sections 1 and 5; compare pw-ex-16.)",
        answer="def my_pointwise(x, weight, bias):\n    # your code here\n    raise NotImplementedError",
        solution_code=code,
        sample_answer="Put each pixel's channel vector on the last axis, multiply by the weight as a "
        "(C_in, C_out) matrix, add the bias, then put the channels where the output wants them.",
        check=_function_check(
            "my_pointwise", "my_pointwise", token, "which axis holds the channels, in x and in the output?"
        ),
        numbers=nums,
        book=("pw-ex-16", public),
        auto=4,
    )


def pointwise_context(rng, salt):
    public = {"layers": 2}
    nums = draw_different(rng, lambda r: {"layers": int(r.integers(3, 6))}, public)
    n = nums["layers"]
    return Graded(
        "pointwise.context",
        "written",
        f"A student stacks {n} 1x1 convolutions, with no nonlinearity between them, to 'add depth' to a network. "
        "What does the stack compute, what does it cost compared with that, and how large is its receptive field? "
        "Two or three sentences. (1x1 chapter, sections 1 and 4.)",
        sample_answer="Without a nonlinearity the stack is one 1x1 layer (the product of the matrices, the biases "
        "composed): it costs more for the same function, and its receptive field is still 1x1: it mixes channels, "
        "never neighbouring pixels.",
        written=2,
        rubric="1 point: it collapses to a single 1x1 layer (a product of matrices); 1 point: the "
        "receptive field stays one pixel. " + QUICK + ".",
        ta_minutes=1.5,
        numbers=nums,
        book=("pw-ex-7", public),
    )


# --------------------------------------------------------------------------- a5: performance


def roofline(rng, salt):
    public = {"peak": 500, "bandwidth": 50, "intensity": 2}  # perf-ex-3
    nums = draw_different(
        rng,
        lambda r: {
            "peak": _pick(r, [200, 800, 1500]),
            "bandwidth": _pick(r, [20, 40, 100]),
            "intensity": _pick(r, [0.5, 3, 25, 60]),
        },
        public,
    )
    p, b, i = nums["peak"], nums["bandwidth"], nums["intensity"]
    code = f"ridge = {p} / {b}  # FLOP/byte\nbound = min({p}, {i} * {b})  # GFLOP/s"
    answers = {name: _run(code)[name] for name in ("ridge", "bound")}
    return Graded(
        "performance.roofline",
        "value",
        f"A machine has a peak of {p} GFLOP/s and a memory bandwidth of {b} GB/s. At what arithmetic intensity "
        f"(FLOP/byte) is the ridge point, and what is the roofline's bound for a kernel of intensity {i} FLOP/byte? "
        "(Performance chapter.)",
        answer="ridge = None  # FLOP/byte\nbound = None  # GFLOP/s",
        solution_code=code,
        sample_answer="The ridge is peak / bandwidth; the bound is the lower of the two roofs.",
        check=_value_check("roofline", ["ridge", "bound"], answers, salt),
        numbers=nums,
        book=("perf-ex-3", public),
        auto=2,
        answers=answers,
    )


def which_roof(rng, salt):
    public = {"channels": 32}
    nums = draw_different(rng, lambda r: {"channels": _pick(r, [64, 128, 256])}, public)
    return Graded(
        "performance.which_roof",
        "written",
        f"For a 3x3 depthwise layer on {nums['channels']} channels and a 1x1 layer of the same width, which of the "
        "two is bound by memory bandwidth on a laptop CPU, and what in the performance chapter's measurements shows "
        "it? Two or three sentences.",
        sample_answer="The depthwise layer: about 9 multiply-adds per input value it reads, an intensity of a few "
        "FLOP/byte, below the ridge; the 1x1 layer reuses each input across all output channels, so its intensity "
        "grows with the width and it runs near the compute roof, as the chapter's achieved GFLOP/s show.",
        written=2,
        rubric="1 point: depthwise is memory bound (low intensity), the 1x1 layer compute bound; 1 point "
        "for the evidence (intensity against the ridge, or the measured GFLOP/s). " + QUICK + ".",
        ta_minutes=2.0,
        numbers=nums,
        book=("perf-ex-4", public),
    )


POOL = {
    "a1-foundations": [output_length, layer_costs, true_convolution, even_kernel_padding],
    "a2-dilated": [gap_convention, same_padding, zero_insertion, lagged_causal, mixed_paths, holes],
    "a3-separable": [separable_layer, channels_last_depthwise, flops_not_time],
    "a4-pointwise": [pointwise_costs, bottleneck_ratio, channels_last_pointwise, pointwise_context],
    "a5-performance": [roofline, which_roof],
}
