"""The explorer's oracle (convbook.course.site.explorer_cases) and its interface, without a browser.

The browser test (`make test-site`) compares the page with the functions tested here, so these functions are
checked against PyTorch and against plain-loop definitions. The static checks keep the documented interface,
the presets named on the chapter pages and the JavaScript in step.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from convbook.course.site import explorer_a11y as a11y
from convbook.course.site import explorer_cases as ce
from convbook.course.site import explorer_figure
from convbook.plotting.alt_text import alt_text_problems

ROOT = Path(__file__).resolve().parents[1]

JS = (ROOT / "_static" / "explorer" / "explorer.js").read_text(encoding="utf-8")
INTERFACE_PARAMS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")


@st.composite
def layer_settings(draw, small=False):
    dims = draw(st.sampled_from([1, 2]))
    c_in = draw(st.integers(1, 4 if small else 8))
    c_out = draw(st.integers(1, 4 if small else 8))
    groups = draw(st.sampled_from(ce.common_divisors(c_in, c_out)))
    return ce.LayerSetting(
        dims=dims,
        height=draw(st.integers(1, 7)) if dims == 2 else 1,
        width=draw(st.integers(1, 9)),
        in_channels=c_in,
        out_channels=c_out,
        kernel_size=draw(st.integers(1, 4)),
        stride=draw(st.integers(1, 3)),
        padding=draw(st.sampled_from(["valid", "same", "0", "1", "2"])),
        dilation=draw(st.integers(1, 3)),
        groups=groups,
        causal=dims == 1 and draw(st.booleans()),
        bias=draw(st.booleans()),
        pointwise=draw(st.booleans()),
        pointwise_channels=draw(st.integers(1, 5)),
    )


def _torch_layer(s: ce.LayerSetting):
    """The same layer built by torch: (module, input), causal as left padding then padding 0."""
    cls = torch.nn.Conv2d if s.dims == 2 else torch.nn.Conv1d
    padding = 0 if s.causal else s.torch_padding()
    conv = cls(s.in_channels, s.out_channels, s.kernel_size, s.stride, padding, s.dilation, s.groups, bias=s.bias)
    shape = (1, s.in_channels, s.height, s.width) if s.dims == 2 else (1, s.in_channels, s.width)
    x = torch.zeros(shape, dtype=torch.float32)
    if s.causal:
        x = torch.nn.functional.pad(x, (s.dilation * (s.kernel_size - 1), 0))
    return conv, x


@settings(max_examples=150, deadline=None)
@given(layer_settings())
def test_expected_layer_is_torchs_layer(s):
    """Output size, weights (biases counted only when asked) and multiply-adds are those of torch's own layer."""
    exp = ce.expected_layer(s)
    try:  # torch refuses 'same' with a stride when the layer is built, a too-wide kernel when it runs
        conv, x = _torch_layer(s)
        with torch.no_grad():
            y = conv(x)
    except (RuntimeError, ValueError):
        assert "error" in exp, f"torch rejects {s} but the oracle computes {exp}"
        return
    assert "error" not in exp, f"torch computes {s} but the oracle says {exp}"
    assert exp["out_width"] == y.shape[-1]
    assert exp["out_height"] == (y.shape[-2] if s.dims == 2 else 1)
    assert exp["weights"] == sum(p.numel() for p in conv.parameters())
    k_taps = s.kernel_size**s.dims
    assert exp["macs"] == y.numel() * (s.in_channels // s.groups) * k_taps
    assert exp["receptive_field"] == exp["effective_kernel"] == s.dilation * (s.kernel_size - 1) + 1


def test_expected_layer_invalid_settings():
    assert "same" in ce.expected_layer(ce.LayerSetting(padding="same", stride=2))["error"]
    assert (
        "does not fit"
        in ce.expected_layer(ce.LayerSetting(height=3, width=3, kernel_size=3, dilation=3, padding="0"))["error"]
    )


def test_expected_layer_same_padding_is_asymmetric_as_torch():
    exp = ce.expected_layer(ce.LayerSetting(height=6, width=6, kernel_size=4, padding="same"))
    assert (exp["pad_top"], exp["pad_bottom"], exp["pad_left"], exp["pad_right"]) == (1, 2, 1, 2)
    assert (exp["out_height"], exp["out_width"]) == (6, 6)


def test_expected_twins():
    """Standard layer: the separable twin; depthwise: the standard twin; with the pointwise step: the block."""
    std = ce.expected_layer(ce.LayerSetting(height=8, width=8, in_channels=16, out_channels=32, kernel_size=3))
    assert std["weights"] == 32 * 16 * 9
    assert std["twin_weights"] == 16 * 9 + 16 * 32
    dw = ce.expected_layer(ce.LayerSetting(in_channels=4, out_channels=4, groups=4))
    assert dw["weights"] == 4 * 9 and dw["twin_weights"] == 4 * 4 * 9
    block = ce.expected_layer(
        ce.LayerSetting(in_channels=4, out_channels=4, groups=4, pointwise=True, pointwise_channels=6, bias=True)
    )
    assert block["total_weights"] == (4 * 9 + 4) + (6 * 4 + 6)
    assert block["twin_weights"] == 6 * 4 * 9 + 6


def _footprint_by_definition(s, exp, o, i, j):
    """Input cells (padded coordinates) output (o, i, j) reads, straight from the definition of a grouped conv."""
    stride, dilation, kernel = ce._call(s)
    per_in, per_out = s.in_channels // s.groups, s.out_channels // s.groups
    group = o // per_out
    cells = set()
    for c in range(group * per_in, (group + 1) * per_in):
        for u in range(kernel[0]):
            for v in range(kernel[1]):
                r, q = i * stride[0] + u * dilation[0], j * stride[1] + v * dilation[1]
                cells.add((c, r, q, ce._kind(s, exp, r, q)))
    return cells


@settings(max_examples=80, deadline=None)
@given(layer_settings(small=True), st.data())
def test_footprint_and_feeds_match_the_definition(s, data):
    exp = ce.expected_layer(s)
    if "error" in exp:
        return
    o = data.draw(st.integers(0, s.out_channels - 1))
    i = data.draw(st.integers(0, exp["out_height"] - 1))
    j = data.draw(st.integers(0, exp["out_width"] - 1))
    footprint = ce.expected_footprint(s, exp, o, i, j)
    assert footprint == _footprint_by_definition(s, exp, o, i, j)
    # duality: an input cell feeds exactly the outputs whose footprint holds it
    for c, r, q, _ in list(footprint)[:5]:
        assert (o, i, j) in ce.expected_feeds(s, exp, c, r, q)
    rows, cols, _, _ = ce.padded_geometry(s, exp)
    c, r, q = data.draw(st.integers(0, s.in_channels - 1)), data.draw(st.integers(0, rows - 1)), 0
    q = data.draw(st.integers(0, cols - 1))
    for oo, ii, jj in ce.expected_feeds(s, exp, c, r, q):
        assert (c, r, q) in {cell[:3] for cell in ce.expected_footprint(s, exp, oo, ii, jj)}


def test_expected_output_is_torchs_output():
    s = ce.LayerSetting(dims=1, width=9, in_channels=2, out_channels=2, kernel_size=2, dilation=3, causal=True)
    exp = ce.expected_layer(s)
    rows, cols, _, left = ce.padded_geometry(s, exp)
    rng = np.random.default_rng(0)
    xp = np.zeros((2, rows, cols))
    xp[:, :, left:] = rng.integers(-1, 4, size=(2, rows, cols - left))
    w = rng.integers(-1, 2, size=(2, 2, 1, 2)).astype(np.float64)
    y = ce.expected_output(s, xp, w)
    ref = torch.nn.functional.conv1d(torch.from_numpy(xp[:, 0][None]), torch.from_numpy(w[:, :, 0]), dilation=3)
    np.testing.assert_allclose(y[:, 0], ref[0].numpy(), atol=1e-10)


def _paths_by_enumeration(layers):
    rf = ce.expected_stack(layers)["receptive_field"]
    counts = np.zeros(rf, dtype=np.int64)
    jumps = np.cumprod([1] + [s for _, s, _ in layers])
    for taps in itertools.product(*[range(k) for k, _, _ in layers]):
        counts[sum(t * d * jumps[n] for n, (t, (_, _, d)) in enumerate(zip(taps, layers)))] += 1
    return counts.tolist()


@pytest.mark.parametrize(
    "layers, rf, holes",
    [
        ([(3, 1, 1)] * 3, 7, 0),
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15, 0),
        ([(3, 1, 2)] * 3, 13, 6),
        ([(3, 1, 1), (3, 1, 2), (3, 1, 3)], 13, 0),
        ([(3, 2, 1), (3, 2, 1), (3, 2, 1)], 15, 0),
        ([(2, 1, 1), (2, 1, 2), (2, 1, 4), (2, 1, 8)], 16, 0),
        ([(1, 2, 1), (3, 1, 1)], 5, 2),
    ],
)
def test_expected_stack(layers, rf, holes):
    exp = ce.expected_stack(layers)
    assert exp["receptive_field"] == rf
    assert exp["holes"] == holes
    assert exp["counts"] == _paths_by_enumeration(layers)
    assert sum(exp["counts"]) == exp["paths"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4)), min_size=1, max_size=4))
def test_expected_stack_counts_paths(layers):
    exp = ce.expected_stack(layers)
    assert exp["counts"] == _paths_by_enumeration(layers)
    assert exp["prefix"][-1] == exp["receptive_field"] == len(exp["counts"])


def test_snap_groups():
    assert ce.snap_groups(4, 1, 8, 12) == 4  # valid: kept
    assert ce.snap_groups(3, 2, 8, 12) == 4  # moving up from 2: the next valid is 4
    assert ce.snap_groups(3, 4, 8, 12) == 2  # moving down from 4: the next valid is 2
    assert ce.snap_groups(7, 4, 8, 12) == 4  # nothing valid above: the largest
    for want, prev in itertools.product(range(1, 9), range(1, 9)):
        assert ce.snap_groups(want, prev, 8, 6) in (1, 2)


def test_draw_settings_is_seeded_and_varied():
    a, b = ce.draw_settings(120, seed=3), ce.draw_settings(120, seed=3)
    assert a == b and a != ce.draw_settings(120, seed=4)
    settings_ = [s for s, _ in a]
    assert {s.dims for s in settings_} == {1, 2}
    assert any(
        "error" in ce.expected_layer(s)
        for s in settings_
        if s.groups in ce.common_divisors(s.in_channels, s.out_channels)
    )
    assert any(s.causal for s in settings_) and any(s.padding == "same" for s in settings_)


def test_parse_number():
    assert ce.parse_number("1,024") == 1024
    assert ce.parse_number(" 7 ") == 7
    assert ce.parse_number("—") is None


def test_contrast():
    assert ce.contrast("rgb(255, 255, 255)", "rgb(0, 0, 0)") == pytest.approx(21.0)
    assert ce.contrast("rgb(27, 31, 36)", "rgb(232, 234, 237)") > 7


# --------------------------------------------------------------------------- the interface and the presets


def test_interface_is_documented_and_built():
    header = JS[: JS.index("(function ()")]
    assert "STABLE INTERFACE" in header and "data-explorer" in header
    for name in INTERFACE_PARAMS + ("height", "width"):
        assert name in header, f"{name} is not documented in explorer.js"
        assert re.search(rf'(range|select|check)\("{name}"', JS), f"no control built with data-param={name}"
    for name in ("out_height", "out_width", "weights", "macs", "receptive_field"):
        assert name in header and f'data-value="{name}"' in JS


def _presets(block_name: str) -> set[str]:
    start = JS.index(f"var {block_name} = {{")
    block = JS[start : JS.index("\n  };", start)]
    return set(re.findall(r"^    ([a-z0-9_]+): \{", block, flags=re.M))


@pytest.mark.parametrize(
    "page, presets",
    [
        ("chapters/dilated/index.md", {"dilated"}),
        ("chapters/separable/index.md", {"standard4", "grouped", "depthwise", "separable"}),
        ("chapters/pointwise/index.md", {"pointwise"}),
        ("chapters/explorer.md", {"standard"}),
    ],
)
def test_chapter_pages_have_explorers_with_known_presets(page, presets):
    text = (ROOT / page).read_text(encoding="utf-8")
    roots = re.findall(r"<div data-explorer(?:=\"(\w+)\")?([^>]*)>", text)
    assert roots, f"{page} has no explorer"
    layer_presets, stack_presets = _presets("PRESETS"), _presets("STACK_PRESETS")
    named = set()
    for kind, attrs in roots:
        known = stack_presets if kind == "stack" else layer_presets
        for attr in re.findall(r'data-presets?="([^"]*)"', attrs):
            for name in attr.split(","):
                assert name in known, f"{page}: unknown preset {name!r}"
                named.add(name)
    assert presets <= named
    if page.startswith("chapters/dilated") or page.endswith("explorer.md"):
        assert any(kind == "stack" for kind, _ in roots), f"{page} has no stack explorer"


# --------------------------------------------------------------------------- accessibility: the palette

CSS = (ROOT / "_static" / "explorer" / "explorer.css").read_text(encoding="utf-8")


def test_palette_meets_wcag_in_both_modes():
    """Digits and text >= 4.5:1, graphical distinctions and their second cues >= 3:1, light and dark."""
    assert a11y.palette_problems(CSS) == []
    checked = a11y.palette_contrasts(CSS)
    assert {mode for mode, *_ in checked} == {"light", "dark"}
    assert len(checked) == 2 * len(a11y.PALETTE_PAIRS)


@pytest.mark.parametrize(
    "block, name, old, pair",
    [  # the colours issue 21 found, planted back: each must fail the check
        (".cx-root {", "--cx-sel-text", "#000000", "light: --cx-sel-text on --cx-sel is 4.05:1"),
        (".cx-root {", "--cx-muted", "#8a929c", "light: --cx-muted on --cx-panel is 2.9"),
        (".cx-root {", "--cx-tap-pad", "#f3d08c", "light: --cx-tap-pad on --cx-pad is 1.07:1"),
        (".cx-root {", "--cx-tap", "#e69f00", "light: --cx-tap on --cx-cell is 2.25:1"),
        ('html[data-theme="dark"] .cx-root {', "--cx-tap-pad", "#8c6a2c", "dark: --cx-tap-pad on --cx-pad is"),
        ('html[data-theme="dark"] .cx-root {', "--cx-pad-mark", "#4b5361", "dark: --cx-pad-mark on --cx-pad is"),
    ],
)
def test_palette_check_fails_on_the_old_colours(block, name, old, pair):
    start = CSS.index(block)
    end = CSS.index("}", start)
    body = re.sub(rf"{name}: #[0-9a-f]+;", f"{name}: {old};", CSS[start:end], count=1)
    assert body != CSS[start:end], f"{name} is not set in {block}"
    problems = a11y.palette_problems(CSS[:start] + body + CSS[end:])
    assert any(p.startswith(pair) for p in problems), problems


def test_palette_bad_input():
    with pytest.raises(TypeError, match="css must be"):
        a11y.palette(b".cx-root {}")
    with pytest.raises(ValueError, match="no block"):
        a11y.palette("body { color: red; }")
    with pytest.raises(ValueError, match="#rrggbb"):
        a11y.palette('.cx-root { --cx-tap: #12; } html[data-theme="dark"] .cx-root { }')
    with pytest.raises(ValueError, match="has no colour --cx-text"):
        a11y.palette_contrasts('.cx-root { --cx-bg: #ffffff; } html[data-theme="dark"] .cx-root { }')


def test_every_colour_the_script_reads_is_defined_in_both_modes():
    """explorer.js reads its colours from CSS variables; a missing one paints black, whatever the mode."""
    read = set(re.findall(r'get\("(--cx-[a-z0-9-]+)"', JS))
    assert "--cx-g" in read and len(read) > 15  # the group colours are read as "--cx-g" + i, i = 1 .. 6
    read = (read - {"--cx-g"}) | {f"--cx-g{i}" for i in range(1, 7)}
    for mode, colours in a11y.palette(CSS).items():
        assert read <= set(colours), (mode, sorted(read - set(colours)))


def test_described_footprint_parses_the_description():
    text = (
        "Output channel 1 (group 1) at row 0, column 0 reads input channel 1, padded rows 0–4 and columns 0–4 in "
        "steps of 1: 25 cells, 9 of them padding (zeros), in padded row 0 and padded column 0. Receptive field: "
        "5 × 5 input pixels per channel. Value: 2."
    )
    assert a11y.described_footprint(text) == {"cells": 25, "padding": 9, "receptive_field": 5}
    assert a11y.described_footprint("3 cells, none of them padding. Receptive field: 3 input samples")["padding"] == 0
    assert a11y.described_footprint("Invalid settings: the kernel does not fit.") is None


# --------------------------------------------------------------------------- the still figures of the <noscript>


def _difference(a: Path, b: Path) -> float:
    """Mean absolute difference of two PNGs' RGB pixels, 0 to 255 (infinite when their sizes differ)."""
    x, y = (np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) for p in (a, b))
    return float("inf") if x.shape != y.shape else float(np.abs(x - y).mean())


@pytest.mark.slow
def test_noscript_figures_are_what_the_command_draws(tmp_path):
    """The committed PNGs match a fresh drawing; a drawing of something else does not."""
    for path in explorer_figure.write_figures(tmp_path):
        assert _difference(path, ROOT / "_static" / "explorer" / path.name) < 0.5, (
            f"{path.name} is out of date: run python -m convbook.course.site.explorer_figure"
        )
    other = tmp_path / "other"
    other.mkdir()
    fig = explorer_figure.layer_figure(
        tuple((t, n, k, p, d, (1, 1)) for t, n, k, p, d, _ in explorer_figure.LAYER_PANELS)
    )
    fig.savefig(other / "noscript-layer.png", dpi=100)
    assert _difference(other / "noscript-layer.png", ROOT / "_static" / "explorer" / "noscript-layer.png") > 0.5


def test_noscript_fallbacks_show_a_described_figure():
    text = (ROOT / "chapters" / "explorer.md").read_text(encoding="utf-8")
    fallbacks = re.findall(r"<noscript>(.*?)</noscript>", text)
    assert len(fallbacks) == 2
    for block in fallbacks:
        src = re.search(r'<img src="\.\./(_static/explorer/[\w-]+\.png)"', block)
        alt = re.search(r'alt="([^"]*)"', block)
        assert src and (ROOT / src[1]).is_file(), block[:80]
        assert alt and alt_text_problems(alt[1]) == [] and len(alt[1].split()) > 30, alt
