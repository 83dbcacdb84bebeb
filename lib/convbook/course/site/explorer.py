"""Check the convolution explorer in a real browser against the convbook library.

    python -m convbook.course check-explorer       # what `make test-site` runs after check-site
    python -m convbook.course check-explorer --settings 300 --stacks 120 --seed 0

The explorer (``_static/explorer/explorer.js``) is driven only through its documented interface: controls
``[data-param=NAME]`` set with ``input``/``change`` events, figures read from ``[data-value=NAME]``. For each of
``--settings`` random one-layer settings (seeded) this check sets the controls, reads what the page shows and
compares it with the library:

* output size with ``convbook.conv_output_size`` and ``convbook.same_padding`` (``same``), or the same ValueError
  that ``convbook.conv_macs`` raises for settings torch rejects;
* weights and multiply-adds with ``convbook.conv_cost`` (and ``conv_macs``, the library's second counter), the twin
  with ``convbook.separable_cost`` / ``conv_cost``, receptive field with ``convbook.receptive_field``;
* for every third setting (small ones), it points the mouse at a random output cell and checks the highlighted
  input cells against ``convbook.plotting.footprint_taps`` (padded coordinates) and the input channels against the
  support of ``convbook.conv2d_backward`` with all-one weights; it points at a random input cell and checks the
  outputs it lights against the support of ``convbook.conv2d`` of a one-hot input; it samples the canvas pixels
  of the lit and unlit cells; and it checks the numbers drawn against ``convbook.conv2d`` / ``conv1d`` /
  ``causal_conv1d`` on the same arrays.

For ``--stacks`` random stacks it checks the receptive field of each prefix with ``convbook.receptive_field``, the
path counts with ``convbook.dilated.coverage_map`` (equal kernels, stride 1) or with the gradient of a stack of
``convbook.conv1d`` layers (any kernels and strides), and the count of holes. It also checks the presets on the
book's pages, keyboard operation, labels, dark mode, a phone's width (no horizontal scrolling), a page opened from
disk (``file://``) and that no page logs a console error. The accessibility checks of
:mod:`convbook.course.site.explorer_a11y` run too: roles and live regions of every explorer, a walk with Tab and the
arrow keys, the settled description against the library's footprint, and the player under reduced motion.
Screenshots go to ``_build/screenshots/explorer__*.png``.
Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from convbook import pointwise_conv2d
from convbook.course.site.explorer_a11y import AccessChecks
from convbook.course.site.explorer_cases import (
    LayerSetting,
    draw_settings,
    draw_stacks,
    expected_feeds,
    expected_footprint,
    expected_layer,
    expected_output,
    expected_stack,
    padded_geometry,
    parse_number,
    snap_groups,
)
from convbook.course.site.explorer_page import (
    COLORS_JS,
    PIXELS_JS,
    POINT_JS,
    SET_LAYER_JS,
    SET_STACK_JS,
    STANDALONE,
    ExplorerPage,
    Results,
    controls_of,
)
from convbook.course.site.server import CHROMIUM, SiteServer, launch_chromium

#: The chapter pages with presets, and how many layer and stack explorers each has (site-relative).
PRESET_PAGES = {
    "chapters/dilated/index.html": {"layer": 1, "stack": 1},
    "chapters/separable/index.html": {"layer": 1, "stack": 0},
    "chapters/pointwise/index.html": {"layer": 1, "stack": 0},
    STANDALONE: {"layer": 1, "stack": 1},
}
#: Above this many multiply-adds the library is not asked to convolve (the figures are still compared).
MAX_CONV_MACS = 400_000
LAYER_VALUES = (
    "out_height",
    "out_width",
    "out_channels",
    "weights",
    "macs",
    "receptive_field",
    "effective_kernel",
    "pad_top",
    "pad_bottom",
    "pad_left",
    "pad_right",
    "groups",
    "twin_weights",
    "twin_macs",
    "pointwise_weights",
    "pointwise_macs",
    "total_weights",
    "total_macs",
)


class ExplorerChecker(ExplorerPage):
    """The explorer against the library: presets, random settings, pointing, random stacks."""

    # ---- the pages and their presets
    def check_pages(self) -> None:
        page = self.new_page()
        for rel, want in PRESET_PAGES.items():
            if not (self.site / rel).is_file():
                self.r.fail(f"{rel}: not in the built site")
                continue
            self.open(page, rel)
            found = page.evaluate(
                "() => ({layer: document.querySelectorAll('[data-explorer]:not([data-explorer=stack])').length,"
                " stack: document.querySelectorAll('[data-explorer=stack]').length})"
            )
            for kind in ("layer", "stack"):
                if found[kind] < want[kind]:
                    self.r.fail(f"{rel}: {found[kind]} {kind} explorer(s), expected {want[kind]}")
            self.r.add("pages with explorers")
            self.check_labels(page, rel)
            for index, root in enumerate(page.locator("[data-explorer]").all()):
                AccessChecks(self.r).roles(root, f"{rel} explorer {index + 1}")
            # every preset button gives the library's figures
            for root in page.locator("[data-explorer]").all():
                stack = root.get_attribute("data-explorer") == "stack"
                buttons = root.locator("[data-preset-button]")
                for b in range(buttons.count()):
                    buttons.nth(b).click()
                    self.r.add("preset buttons pressed")
                    if stack:
                        layers = root.evaluate("(r) => r.convExplorer.layers")
                        self.compare_stack(root, [tuple(x) for x in layers], f"{rel} preset")
                    else:
                        state = root.evaluate("(r) => r.convExplorer.state")
                        setting = LayerSetting(**{k: state[k] for k in LayerSetting.__dataclass_fields__})
                        shown = root.evaluate(SET_LAYER_JS, {})  # read only
                        self.compare_layer(setting, shown, f"{rel} preset {buttons.nth(b).inner_text()!r}")
        page.context.close()

    def compare_layer(self, s: LayerSetting, shown: dict, where: str) -> bool:
        exp = expected_layer(s)
        self.r.add("settings compared")
        if "error" in exp:
            self.r.add("invalid settings compared")
            if not shown["__error"]:
                self.r.fail(f"{where}: {s}: convbook raises ({exp['error']}) but the page shows no error")
                return False
            for name in ("out_height", "out_width", "weights", "macs"):
                if parse_number(shown[name]) is not None:
                    self.r.fail(f"{where}: {s}: invalid settings but {name} shows {shown[name]!r}")
                    return False
            return True
        if shown["__error"]:
            self.r.fail(f"{where}: {s}: the page shows an error ({shown['__error']}) where convbook computes")
            return False
        bad = []
        for name in LAYER_VALUES:
            want = exp.get(name)
            got = parse_number(shown.get(name, "—"))
            if want != got:
                bad.append(f"{name}: page {shown.get(name)!r}, convbook {want}")
        if bad:
            self.r.fail(f"{where}: {s}: " + "; ".join(bad))
            return False
        self.r.add("figures compared", len(LAYER_VALUES))
        return True

    def check_random_layers(self, n: int, seed: int) -> None:
        page = self.new_page()
        self.open(page, STANDALONE)
        root = page.locator("[data-explorer]:not([data-explorer=stack])").first
        root.scroll_into_view_if_needed()
        colors = root.evaluate(COLORS_JS)
        rng = np.random.default_rng(seed + 2)
        mismatches_before = len(self.r.failures)
        for s_req, index in draw_settings(n, seed):
            shown = root.evaluate(SET_LAYER_JS, controls_of(s_req))
            prev = int(shown["__groups_before"]) if shown["__groups_before"] else 1
            got_groups = int(shown["__groups_control"])
            want_groups = snap_groups(s_req.groups, prev, s_req.in_channels, s_req.out_channels)
            if got_groups != want_groups:
                self.r.fail(
                    f"setting {index}: asked groups={s_req.groups} (from {prev}); "
                    f"the slider shows {got_groups}, expected {want_groups}"
                )
                continue
            self.r.add("groups requests checked")
            held = shown["__controls"]
            wrong = [
                f"{name}={held[name]!r}"
                for name, want in controls_of(s_req).items()
                if name != "groups"
                and not (name == "height" and s_req.dims == 1)
                and str(held[name]).lower() != str(want).lower()
            ]
            if wrong:
                self.r.fail(f"setting {index}: the controls do not hold what was set: {', '.join(wrong)}")
                continue
            s = LayerSetting(**{**s_req.__dict__, "groups": got_groups})
            if not self.compare_layer(s, shown, f"setting {index}"):
                continue
            exp = expected_layer(s)
            if "error" in exp or index % 3:
                continue
            if s.out_channels * exp["out_height"] * exp["out_width"] > 4096 or exp["macs"] > MAX_CONV_MACS:
                continue
            self.check_pointing(page, root, s, exp, rng, colors, f"setting {index}")
        self.r.counts["mismatches in random settings"] = len(self.r.failures) - mismatches_before
        self.keyboard(page, root)
        access = AccessChecks(self.r)
        access.keys(page, root, STANDALONE)
        access.description(page, root, STANDALONE)
        access.small_cells(root, STANDALONE)
        page.context.close()

    def check_reduced_motion(self) -> None:
        """prefers-reduced-motion: reduce stops the player; stepping still works."""
        page = self.new_page(reduced_motion=True)
        self.open(page, STANDALONE)
        AccessChecks(self.r).reduced_motion(
            page.locator("[data-explorer]:not([data-explorer=stack])").first, STANDALONE
        )
        page.context.close()

    def check_pointing(self, page, root, s: LayerSetting, exp: dict, rng, colors, where: str) -> None:
        api = "(r, a) => r.convExplorer"
        # an output cell, pointed at with the mouse
        o = int(rng.integers(s.out_channels))
        i = int(rng.integers(exp["out_height"]))
        j = int(rng.integers(exp["out_width"]))
        pos = root.evaluate(POINT_JS, ["output", o, i, j])
        page.mouse.move(pos["x"], pos["y"])
        lit = root.evaluate(f"{api}.highlighted()", None)
        want = expected_footprint(s, exp, o, i, j)
        got = {(c, r, q, kind) for c, r, q, kind in lit["input"]}
        if got != want:
            self.r.fail(
                f"{where}: {s}: output ({o},{i},{j}) lights {sorted(got)[:6]}..., "
                f"the library reads {sorted(want)[:6]}... ({len(got)} vs {len(want)} cells)"
            )
            return
        if lit["output"] != [[o, i, j, "sel"]]:
            self.r.fail(f"{where}: pointing at output ({o},{i},{j}) selected {lit['output']}")
            return
        self.r.add("output footprints compared")
        self.check_pixels(root, "input", want, exp, s, colors, where)
        # an input cell (anywhere in the padded grid), pointed at with the mouse
        rows, cols, _, _ = padded_geometry(s, exp)
        c, r, q = int(rng.integers(s.in_channels)), int(rng.integers(rows)), int(rng.integers(cols))
        pos = root.evaluate(POINT_JS, ["input", c, r, q])
        page.mouse.move(pos["x"], pos["y"])
        lit = root.evaluate(f"{api}.highlighted()", None)
        got = {(a, b, d) for a, b, d, kind in lit["output"]}
        want = expected_feeds(s, exp, c, r, q)
        if got != want or any(kind != "feed" for *_, kind in lit["output"]):
            self.r.fail(
                f"{where}: {s}: input ({c},{r},{q}) lights outputs {sorted(got)[:6]}..., "
                f"the library feeds {sorted(want)[:6]}..."
            )
            return
        self.r.add("input fan-outs compared")
        # the numbers drawn are the library's convolution of the drawn input with the drawn weights
        t = root.evaluate(f"{api}.tensors()", None)
        x = np.array(t["xPadded"], dtype=np.float64)
        w = np.array(t["weight"], dtype=np.float64)
        y = np.array(t["output"], dtype=np.float64)
        ref = expected_output(s, x, w)
        if y.shape != ref.shape or np.max(np.abs(y - ref)) > 1e-9:
            self.r.fail(f"{where}: {s}: the output drawn differs from convbook's convolution")
            return
        self.r.add("outputs compared with convbook.conv2d")
        if s.pointwise and s.groups == s.in_channels:
            pw = np.array(t["pointwiseWeight"], dtype=np.float64)[:, :, None, None]  # (P, C_out, 1, 1)
            z = np.array(t["pointwiseOutput"], dtype=np.float64)
            if np.max(np.abs(z - pointwise_conv2d(ref[None], pw)[0])) > 1e-9:
                self.r.fail(f"{where}: {s}: the pointwise output drawn differs from convbook.pointwise_conv2d")
                return
            self.r.add("pointwise outputs compared")

    def check_pixels(self, root, view, want, exp, s, colors, where) -> None:
        """The canvas shows the highlight: lit cells in their colour, a sample of unlit cells in neither."""
        rows, cols, _, _ = padded_geometry(s, exp)
        lit = sorted(want)[:40]
        unlit = [
            (c, r, q)
            for c in range(min(s.in_channels, 4))
            for r in range(rows)
            for q in range(cols)
            if (c, r, q, "tap") not in want and (c, r, q, "tapPad") not in want
        ][:40]
        if root.evaluate(f"(r) => r.convExplorer.cellCenter('{view}', 0, 0, 0).size") < 3:
            return
        got = root.evaluate(PIXELS_JS, [view, [list(x[:3]) for x in lit] + [list(x) for x in unlit]])
        for cell, painted in zip(lit, got[: len(lit)]):
            if colors[cell[3]] not in painted:
                self.r.fail(f"{where}: {s}: lit cell {cell} is painted {painted[:4]}, not {colors[cell[3]]}")
                return
        for cell, painted in zip(unlit, got[len(lit) :]):
            if colors["tap"] in painted or colors["tapPad"] in painted:
                self.r.fail(f"{where}: {s}: unlit cell {cell} is painted in a highlight colour")
                return
        self.r.add("canvas cells sampled", len(got))

    # ---- keyboard
    # ---- stacks
    def compare_stack(self, root, layers, where: str) -> None:
        exp = expected_stack(layers)
        shown = root.evaluate(SET_STACK_JS, [list(x) for x in layers])
        self.r.add("stacks compared")
        bad = []
        for name in ("receptive_field", "paths", "holes"):
            if parse_number(shown[name]) != exp[name]:
                bad.append(f"{name}: page {shown[name]!r}, convbook {exp[name]}")
        if [parse_number(x) for x in shown["prefix"]] != exp["prefix"]:
            bad.append(f"receptive field by layer: page {shown['prefix']}, convbook {exp['prefix']}")
        if [parse_number(x) for x in shown["jumps"]] != exp["jumps"]:
            bad.append(f"jumps: page {shown['jumps']}, convbook {exp['jumps']}")
        if shown["counts"] != exp["counts"]:
            bad.append("path counts differ from convbook's coverage")
        if bad:
            self.r.fail(f"{where}: stack {layers}: " + "; ".join(bad))

    def check_random_stacks(self, n: int, seed: int) -> None:
        page = self.new_page()
        self.open(page, STANDALONE)
        root = page.locator("[data-explorer=stack]").first
        before = len(self.r.failures)
        for index, layers in enumerate(draw_stacks(n, seed)):
            self.compare_stack(root, layers, f"stack {index}")
        self.r.counts["mismatches in random stacks"] = len(self.r.failures) - before
        page.context.close()

    # ---- looks: dark mode, a phone, screenshots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.course check-explorer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--site", type=Path, default=None, help="the built site (default: ROOT/_build/html)")
    parser.add_argument("--screenshots", type=Path, default=None, help="default: _build/screenshots")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--settings", type=int, default=300, help="random one-layer settings to compare")
    parser.add_argument("--stacks", type=int, default=120, help="random stacks to compare")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    site = (args.site or args.root / "_build" / "html").resolve()
    shots = args.screenshots or site.parent / "screenshots"
    if not args.chromium.exists():
        print(f"check-explorer: {args.chromium} is missing: sudo apt-get install -y chromium", file=sys.stderr)
        return 2
    if not (site / STANDALONE).exists():
        print(f"check-explorer: {site / STANDALONE} is missing: build the site first (make build)", file=sys.stderr)
        return 2
    results, start = Results(), time.perf_counter()
    with SiteServer(site) as server, sync_playwright() as pw:
        browser = launch_chromium(pw, args.chromium)
        try:
            checker = ExplorerChecker(browser, server.origin, site, shots, results)
            steps = [
                ("pages and presets", checker.check_pages),
                ("random settings", lambda: checker.check_random_layers(args.settings, args.seed)),
                ("random stacks", lambda: checker.check_random_stacks(args.stacks, args.seed)),
                ("reduced motion", checker.check_reduced_motion),
                ("looks", checker.check_looks),
                ("file://", checker.check_file_url),
            ]
            for name, step in steps:
                t0 = time.perf_counter()
                try:
                    step()
                except Exception as exc:  # one broken step must not hide the others
                    results.fail(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                results.counts[f"seconds: {name}"] = round(time.perf_counter() - t0)
        finally:
            browser.close()
    seconds = time.perf_counter() - start
    print(
        f"\nBrowser check of the explorer {'PASSED' if not results.failures else 'FAILED'} in {seconds:.0f} s "
        f"(seed {args.seed})"
    )
    for key, value in results.counts.items():
        print(f"  {key:<40} {value}")
    print(f"  screenshots in {shots}")
    if results.failures:
        print(f"\nFAILED ({len(results.failures)}):")
        for message in results.failures[:40]:
            print(f"  - {message}")
    return 0 if not results.failures else 1
