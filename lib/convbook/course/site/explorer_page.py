"""The explorer check's browser side: the page's documented interface, and the checks of the interface itself.

The explorer (``_static/explorer/explorer.js``) is driven only through that interface: controls ``[data-param=NAME]``
set with ``input``/``change`` events, figures read from ``[data-value=NAME]``, and the ``convExplorer`` object of each
explorer. :class:`ExplorerPage` opens pages (no network, console errors reported) and checks the controls' labels,
keyboard operation, dark mode and a phone's width (with screenshots), and a page opened from disk (``file://``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from convbook.course.site.explorer_cases import LayerSetting, contrast, parse_number
from convbook.course.site.server import KNOWN_PAGE_ERRORS

#: The page with the standalone explorers (site-relative).
STANDALONE = "chapters/explorer.html"
#: The order in which a setting's controls are set: groups after the channels it must divide.
PARAM_ORDER = (
    "dims",
    "height",
    "width",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "causal",
    "groups",
    "pointwise",
    "pointwise_channels",
    "bias",
    "arrange",
)

SET_LAYER_JS = """
(root, values) => {
  const order = __ORDER__;
  const before = {};
  for (const name of order) {
    if (!(name in values)) continue;
    const el = root.querySelector(`[data-param="${name}"]`);
    before[name] = el.type === "checkbox" ? el.checked : el.value;
    if (el.type === "checkbox") el.checked = !!values[name]; else el.value = String(values[name]);
    el.dispatchEvent(new Event("input", { bubbles: true }));
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }
  const out = {};
  for (const el of root.querySelectorAll("[data-value]")) {
    if (el.closest("[data-layer]")) continue;
    const name = el.getAttribute("data-value");
    if (!(name in out)) out[name] = el.textContent;
  }
  out.__controls = {};
  for (const name of order) {
    const el = root.querySelector(`[data-param="${name}"]`);
    out.__controls[name] = el.type === "checkbox" ? el.checked : el.value;
  }
  out.__error = root.getAttribute("data-error");
  out.__groups_control = root.querySelector('[data-param="groups"]').value;
  out.__groups_before = before.groups;
  return out;
}
""".replace("__ORDER__", json.dumps(list(PARAM_ORDER)))

SET_STACK_JS = """
(root, layers) => {
  const fire = (el) => { el.dispatchEvent(new Event("input", { bubbles: true }));
                         el.dispatchEvent(new Event("change", { bubbles: true })); };
  const count = root.querySelector('[data-param="layers"]');
  count.value = String(layers.length); fire(count);
  layers.forEach((l, i) => {
    const row = root.querySelector(`[data-layer="${i + 1}"]`);
    ["kernel_size", "stride", "dilation"].forEach((name, j) => {
      const el = row.querySelector(`[data-param="${name}"]`); el.value = String(l[j]); fire(el);
    });
  });
  const top = (name) => root.querySelector(`[data-value="${name}"]`).textContent;
  const rows = Array.from(root.querySelectorAll("[data-layer]"));
  return {
    receptive_field: top("receptive_field"), paths: top("paths"), holes: top("holes"),
    prefix: rows.map((r) => r.querySelector('[data-value="receptive_field"]').textContent),
    jumps: rows.map((r) => r.querySelector('[data-value="jump"]').textContent),
    counts: root.convExplorer.coverage(),
    rows: rows.length,
  };
}
"""

#: Scroll cell (c, r, q) of a view to the middle of the window; return where it is on screen.
POINT_JS = """
(root, [view, c, r, q]) => {
  const p = root.convExplorer.cellCenter(view, c, r, q);
  window.scrollBy(0, p.y - window.innerHeight / 2);
  return root.convExplorer.cellCenter(view, c, r, q);
}
"""

#: The colours painted inside each listed cell, clear of its edge: its fill, and its hatching or digits in other
#: colours (padding is hatched; digits are drawn in cells of 17 px and more). Rings reach 4 px in from the edge; in
#: cells under 12 px the ring is a dot at the centre, and under 6 px (no grid lines) the whole cell is read.
PIXELS_JS = """
(root, [view, cells]) => {
  const api = root.convExplorer, canvas = root.querySelector(`canvas[data-view="${view}"]`);
  const ctx = canvas.getContext("2d"), ratio = canvas.width / canvas.getBoundingClientRect().width;
  return cells.map(([c, r, q]) => {
    const p = api.cellCenter(view, c, r, q), inset = p.size >= 12 ? 5 : p.size >= 6 ? 1 : 0;
    const x = Math.floor((p.left + inset) * ratio), y = Math.floor((p.top + inset) * ratio);
    const side = Math.max(1, Math.floor((p.size - 2 * inset) * ratio));
    const d = ctx.getImageData(x, y, side, side).data, seen = new Set();
    for (let i = 0; i < d.length; i += 4) seen.add(d[i] + "," + d[i + 1] + "," + d[i + 2]);
    return Array.from(seen, (key) => key.split(",").map(Number));
  });
}
"""

COLORS_JS = """
(root) => {
  const probe = document.createElement("canvas").getContext("2d"), out = {};
  const colors = root.convExplorer.colors();
  for (const k of ["tap", "tapPad", "sel", "feed"]) {
    probe.fillStyle = colors[k]; probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data; out[k] = [d[0], d[1], d[2]];
  }
  return out;
}
"""


@dataclass
class Results:
    """What the explorer check found: failures, and counts of what it compared."""

    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def controls_of(s: LayerSetting) -> dict:
    """The values to set on the page's controls for ``s`` (channels first, so that groups divides them)."""
    d = {name: getattr(s, name) for name in PARAM_ORDER if hasattr(s, name)}
    d["arrange"] = "channel"
    return d


class ExplorerPage:
    """Pages of the built site with explorers, opened in ``browser``; what goes wrong goes to ``results``."""

    def __init__(self, browser, origin: str, site: Path, shots: Path, results: Results):
        self.browser, self.origin, self.site, self.shots, self.r = browser, origin, site, shots, results
        self.errors: list[str] = []

    def new_page(self, width=1200, height=900, dark=False, console=True, reduced_motion=False):
        context = self.browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
            reduced_motion="reduce" if reduced_motion else "no-preference",
        )
        if dark:
            context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
        local = ("http://127.0.0.1", "file:", "data:", "blob:")
        context.route(lambda url: not url.startswith(local), self.block)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if console:
            page.on("pageerror", lambda exc: self.page_error(page, str(exc)))
            page.on("console", lambda msg: self.page_error(page, msg.text) if msg.type == "error" else None)
        else:  # file://: the theme's own fetches fail there; only the explorer's errors count
            page.on("pageerror", lambda exc: "explorer" in (exc.stack or "") and self.page_error(page, str(exc)))
        return page

    def block(self, route) -> None:
        self.r.fail(f"network request to {route.request.url}")
        route.abort()

    def page_error(self, page, text: str) -> None:
        if any(known in text for known in KNOWN_PAGE_ERRORS):
            return
        self.r.fail(f"{page.url}: console error: {text.splitlines()[0][:200]}")

    def open(self, page, rel: str):
        page.goto(f"{self.origin}/{rel}", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('[data-explorer]:not([data-ready])').length === 0")

    # ---- labels
    def check_labels(self, page, rel: str) -> None:
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                  '[data-explorer] input, [data-explorer] select, [data-explorer] button'))
                .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                                && !(el.textContent || '').trim())
                .map((el) => el.outerHTML.slice(0, 80))"""
        )
        for html in unlabelled:
            self.r.fail(f"{rel}: control without a label: {html}")
        self.r.add("controls checked for labels", page.locator("[data-explorer] [data-param]").count())

    # ---- keyboard
    def keyboard(self, page, root) -> None:
        root.evaluate(
            SET_LAYER_JS,
            controls_of(
                LayerSetting(dims=2, height=6, width=6, in_channels=2, out_channels=2, kernel_size=3, padding="1")
            ),
        )
        slider = root.locator('[data-param="kernel_size"]')
        slider.focus()
        page.keyboard.press("ArrowRight")
        k = root.locator('[data-param="kernel_size"]').input_value()
        shown = root.evaluate(SET_LAYER_JS, {})
        if k != "4" or parse_number(shown["weights"]) != 2 * 2 * 16:
            self.r.fail(f"keyboard: ArrowRight on the kernel slider gave k={k}, weights {shown['weights']}")
        padding = root.locator('[data-param="padding"]')
        padding.select_option("same")
        shown = root.evaluate(SET_LAYER_JS, {})
        if parse_number(shown["out_height"]) != 6 or parse_number(shown["pad_bottom"]) != 2:
            self.r.fail(f"keyboard: padding 'same' chosen with the select shows {shown['out_height']} rows")
        canvas = root.locator('canvas[data-view="output"]')
        root.evaluate("(r) => r.convExplorer.select('output', 0, 0, 0)")
        canvas.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("PageDown")
        lit = root.evaluate("(r) => r.convExplorer.highlighted()")
        if lit["output"] != [[1, 1, 1, "sel"]]:
            self.r.fail(f"keyboard: arrows and PageDown on the output view selected {lit['output']}, not (1, 1, 1)")
        try:  # the description is rewritten once the keys settle (debounced)
            page.wait_for_function(
                "(r) => r.querySelector('[data-role=desc]').textContent.startsWith('Output channel 1')",
                arg=root.element_handle(),
                timeout=5_000,
            )
        except Exception:
            desc = root.locator('[data-role="desc"]').inner_text()
            self.r.fail(f"keyboard: the description does not follow the cursor: {desc[:80]!r}")
        # play: the selection walks the output
        root.locator('[data-act="first"]').click()
        root.locator('[data-act="play"]').click()
        page.wait_for_timeout(1200)
        after = root.evaluate("(r) => r.convExplorer.highlighted().output")
        root.locator('[data-act="play"]').click()
        if not after or after == [[0, 0, 0, "sel"]]:
            self.r.fail("play: the selected output did not move")
        self.r.add("keyboard and player checks")

    # ---- stacks
    # ---- looks: dark mode, a phone, screenshots
    def check_looks(self) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        for name, width, dark in (("light", 1200, False), ("dark", 1200, True), ("phone", 390, False)):
            page = self.new_page(width=width, height=900 if width > 600 else 844, dark=dark)
            self.open(page, STANDALONE)
            if dark and page.evaluate("() => document.documentElement.dataset.theme") != "dark":
                self.r.fail("dark mode did not apply")
            root = page.locator("[data-explorer]").first
            root.evaluate("(r) => r.querySelector('[data-preset-button=\"separable\"]').click()")
            root.evaluate("(r) => r.convExplorer.select('output', 1, 2, 2)")
            bg = root.evaluate("(r) => getComputedStyle(r).backgroundColor")
            fg = root.evaluate("(r) => getComputedStyle(r).color")
            if contrast(bg, fg) < 7:
                self.r.fail(f"{name}: text contrast {contrast(bg, fg):.1f} < 7 ({fg} on {bg})")
            overflow = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth,"
                " Math.max(...Array.from(document.querySelectorAll('[data-explorer]'),"
                " (e) => e.getBoundingClientRect().right))]"
            )
            if overflow[2] > overflow[1] + 1:
                self.r.fail(f"{name}: an explorer is {overflow[2]:.0f} px wide in a {overflow[1]} px window")
            page.add_style_tag(content=".bd-header, .skip-link, .bd-header-article { visibility: hidden !important; }")
            root.scroll_into_view_if_needed()
            root.screenshot(path=str(self.shots / f"explorer__{name}.png"))
            if name == "light":
                stack = page.locator("[data-explorer=stack]").first
                stack.evaluate("(r) => r.querySelector('[data-preset-button=\"gridding\"]').click()")
                stack.screenshot(path=str(self.shots / "explorer__stack_gridding.png"))
            self.r.add("screenshots", 1 + (name == "light"))
            page.context.close()

    def check_file_url(self) -> None:
        """The saved page works without a server: open the built HTML from disk."""
        page = self.new_page(console=False)
        page.goto((self.site / STANDALONE).resolve().as_uri(), wait_until="load")
        try:
            page.wait_for_function("() => document.querySelector('[data-explorer][data-ready]')", timeout=10_000)
            shown = page.locator("[data-explorer]").first.evaluate(SET_LAYER_JS, {"kernel_size": 5})
            if parse_number(shown["effective_kernel"]) != 5:
                self.r.fail(f"file://: the explorer does not react (effective kernel {shown['effective_kernel']})")
            self.r.add("file:// page checks")
        except Exception as exc:
            self.r.fail(f"file://: the explorer did not start: {str(exc).splitlines()[0]}")
        page.context.close()
