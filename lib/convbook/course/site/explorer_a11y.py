"""The explorer for keyboard, screen reader and low vision (WCAG 2.1 AA): its palette and its browser checks.

* :func:`palette_problems` computes the contrast of every pair of colours in ``_static/explorer/explorer.css`` that
  must stand apart (:data:`PALETTE_PAIRS`, light and dark mode): 4.5:1 for text and the digits drawn in the cells,
  3:1 for graphical distinctions (a cell read against one not read, padding read against padding, the hatching and
  rings that are the cue besides hue). ``tests/test_explorer.py`` runs it on the stylesheet.
* :class:`AccessChecks` checks a page's explorers in Chromium (``python -m convbook.course check-explorer`` runs it):
  the views that take the arrow keys are ``role="application"`` with a description of the keys and are reached with
  Tab; the arrow keys move the selected cell; the description of the cell (the only live region of a layer explorer)
  is rewritten only after the settings settle and names the footprint as the library computes it; at the smallest
  cells (64 channels of a 32×32 input) a cell read, padding, padding read and the cell pointed at each still carry
  their cue besides colour (WCAG 1.4.1); with ``prefers-reduced-motion: reduce`` the player does not run and
  stepping still works.

axe-core's rules run on the explorers in several states in ``convbook.course.site.a11y`` (``make test-site``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from convbook.course.site.explorer_cases import (
    LayerSetting,
    contrast,
    expected_footprint,
    expected_layer,
    padded_geometry,
)
from convbook.course.site.explorer_page import SET_LAYER_JS, Results, controls_of

# ---- the palette

#: Where the value of a cell is drawn, its fill mixes the cell colour with --cx-pos or --cx-neg by at most this much
#: (explorer.js, valueFill); digits must read on the strongest mix as on a plain cell.
VALUE_MIX = 0.55
#: (foreground, background, least contrast ratio, what the pair is). A name "A+B" is A mixed with B by VALUE_MIX.
#: WCAG 2.1: 1.4.3 asks 4.5:1 for text (digits drawn on a canvas included), 1.4.11 asks 3:1 for the parts of a
#: graphic needed to understand it; 1.4.1 asks for a cue besides colour: hatching and rings, the "-mark" colours.
PALETTE_PAIRS = (
    ("--cx-text", "--cx-bg", 4.5, "text"),
    ("--cx-text", "--cx-panel", 4.5, "text on the controls' panel"),
    ("--cx-muted", "--cx-bg", 4.5, "help text and captions"),
    ("--cx-muted", "--cx-panel", 4.5, "help text on the controls' panel"),
    ("--cx-text", "--cx-cell", 4.5, "digits in a plain cell"),
    ("--cx-text", "--cx-cell+--cx-pos", 4.5, "digits in a cell of the largest positive value"),
    ("--cx-text", "--cx-cell+--cx-neg", 4.5, "digits in a cell of the largest negative value"),
    ("--cx-tap-text", "--cx-tap", 4.5, "digits in a cell read by the output pointed at"),
    ("--cx-sel-text", "--cx-sel", 4.5, "digits in the cell pointed at"),
    ("--cx-feed-text", "--cx-feed", 4.5, "digits in an output fed by the input pointed at"),
    ("--cx-tap", "--cx-cell", 3.0, "a cell read against a cell not read"),
    ("--cx-tap-pad", "--cx-pad", 3.0, "padding read against padding not read"),
    ("--cx-sel", "--cx-cell", 3.0, "the cell pointed at against the others"),
    ("--cx-feed", "--cx-cell", 3.0, "an output fed against the others"),
    ("--cx-pad-mark", "--cx-pad", 3.0, "the hatching of padding"),
    ("--cx-tap-pad-mark", "--cx-tap-pad", 3.0, "the hatching of padding read"),
    ("--cx-tap-mark", "--cx-tap", 3.0, "the ring of a cell read"),
    ("--cx-tap-mark", "--cx-tap-pad", 3.0, "the ring of padding read"),
    ("--cx-sel-mark", "--cx-sel", 3.0, "the ring of the cell pointed at"),
    ("--cx-feed-mark", "--cx-feed", 3.0, "the ring of an output fed"),
    ("--cx-focus", "--cx-bg", 3.0, "the focus outline"),
    ("--cx-cursor", "--cx-cell", 3.0, "the keyboard cursor"),
    ("--cx-hole", "--cx-bg", 3.0, "the marks of a stack's holes"),
)
_LIGHT_BLOCK = ".cx-root {"
_DARK_BLOCK = 'html[data-theme="dark"] .cx-root {'


def _hex_rgb(value: str, name: str) -> tuple[int, int, int]:
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise ValueError(f"palette: {name} must be a #rrggbb colour, got {value!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def _variables(css: str, opening: str) -> dict[str, str]:
    start = css.find(opening)
    if start < 0:
        raise ValueError(f"palette: css has no block {opening!r}")
    body = re.sub(r"/\*.*?\*/", "", css[start + len(opening) : css.index("}", start)], flags=re.S)
    pairs = (part.split(":", 1) for part in body.split(";") if part.strip().startswith("--cx-"))
    return {name.strip(): value.strip() for name, value in pairs}


def palette(css: str) -> dict[str, dict[str, tuple[int, int, int]]]:
    """The explorer's colours in each mode, ``{"light": {"--cx-tap": (r, g, b), ...}, "dark": {...}}``.

    ``css`` is the text of ``explorer.css``: the light colours are the ``--cx-*`` variables of ``.cx-root``, the dark
    ones those of ``html[data-theme="dark"] .cx-root`` over them.
    """
    if not isinstance(css, str):
        raise TypeError(f"palette: css must be the stylesheet's text, got {type(css).__name__}")
    light = _variables(css, _LIGHT_BLOCK)
    dark = {**light, **_variables(css, _DARK_BLOCK)}
    return {
        mode: {name: _hex_rgb(value, name) for name, value in values.items() if value.startswith("#")}
        for mode, values in (("light", light), ("dark", dark))
    }


def _colour(colours: dict, name: str) -> tuple[int, int, int]:
    if "+" in name:  # explorer.js's mix(a, b, t), rounded as it rounds
        a, b = (colours[n] for n in name.split("+"))
        return tuple(round(x + (y - x) * VALUE_MIX) for x, y in zip(a, b))
    return colours[name]


def palette_contrasts(css: str) -> list[tuple[str, str, str, float, float, str]]:
    """Every pair of :data:`PALETTE_PAIRS` in each mode: ``(mode, fg, bg, ratio, least, what)``."""
    out = []
    for mode, colours in palette(css).items():
        for fg, bg, least, what in PALETTE_PAIRS:
            missing = [n for n in (*fg.split("+"), *bg.split("+")) if n not in colours]
            if missing:
                raise ValueError(f"palette: {mode} mode has no colour {missing[0]} (needed for {what})")
            a, b = (_colour(colours, n) for n in (fg, bg))
            ratio = contrast("rgb({}, {}, {})".format(*a), "rgb({}, {}, {})".format(*b))
            out.append((mode, fg, bg, ratio, least, what))
    return out


def palette_problems(css: str) -> list[str]:
    """The pairs of the palette below their least contrast, in words (empty when every pair passes)."""
    return [
        f"{mode}: {fg} on {bg} is {ratio:.2f}:1, needs {least}:1 ({what})"
        for mode, fg, bg, ratio, least, what in palette_contrasts(css)
        if ratio < least
    ]


# ---- in the browser

#: The views that take the arrow keys.
POINTABLE = ("input", "output", "pointwise")

#: Each view's role and names, and every live region in (or around) the explorer.
ROLES_JS = """
(root) => {
  const views = Array.from(root.querySelectorAll("canvas"), (c) => {
    const described = c.getAttribute("aria-describedby");
    const target = described ? document.getElementById(described) : null;
    return {view: c.dataset.view, role: c.getAttribute("role"), tabindex: c.getAttribute("tabindex"),
            roledesc: c.getAttribute("aria-roledescription") || "", label: c.getAttribute("aria-label") || "",
            describes: target ? target.getAttribute("data-role") : null};
  });
  const live = Array.from(root.querySelectorAll(
      "[aria-live], [role=status], [role=alert], [role=log], [role=marquee], [role=timer]"),
    (e) => (e.getAttribute("aria-live") === "off" ? null : e.getAttribute("data-role") || e.className || e.tagName))
    .filter((x) => x);
  for (let a = root.parentElement; a; a = a.parentElement) if (a.getAttribute("aria-live")) live.push("around");
  return {views, live};
}
"""

#: Change the kernel slider twice, as a drag does; the description before, right after and half a delay after.
DRAG_JS = """
async (root) => {
  const desc = root.querySelector('[data-role="desc"]'), before = desc.textContent;
  const k = root.querySelector('[data-param="kernel_size"]');
  for (const v of ["4", "5"]) { k.value = v; k.dispatchEvent(new Event("input", {bubbles: true})); }
  const now = desc.textContent;
  await new Promise((done) => setTimeout(done, Math.floor(root.convExplorer.describeDelay / 2)));
  return {before, now, half: desc.textContent};
}
"""

#: The player under reduced motion: play's state, then play forced (its button re-enabled) for a second.
FORCED_PLAY_JS = """
async (root) => {
  const play = root.querySelector('[data-act="play"]'), disabled = play.disabled;
  root.querySelector('[data-act="first"]').click();
  play.disabled = false;
  play.click();
  await new Promise((done) => setTimeout(done, 1000));
  const out = {disabled, playing: root.hasAttribute("data-playing"), lit: root.convExplorer.highlighted().output};
  if (out.playing) play.click();
  return out;
}
"""

#: The setting the keyboard and description checks start from.
SETTING = LayerSetting(dims=2, height=5, width=5, in_channels=2, out_channels=2, kernel_size=3, padding="1")


#: The setting with the smallest cells: 64 channels of a 32×32 input padded by one (3 px cells in a 1200 px page).
SMALL = LayerSetting(dims=2, height=32, width=32, in_channels=64, out_channels=64, kernel_size=3, padding="1")

#: Every colour painted in each listed cell of a view (the whole cell), its size, and the explorer's fills and cue
#: colours as RGB.
CUES_JS = """
(root, [view, cells]) => {
  const api = root.convExplorer, canvas = root.querySelector(`canvas[data-view="${view}"]`);
  const ctx = canvas.getContext("2d"), ratio = canvas.width / canvas.getBoundingClientRect().width;
  const c = api.colors(), probe = document.createElement("canvas").getContext("2d"), rgb = {};
  const named = {tap: c.tap, tapPad: c.tapPad, sel: c.sel, pad: c.pad, padMark: c.padMark,
                 tapPadMark: c.tapPadMark, tapMark: c.mark.tap, selMark: c.mark.sel};
  for (const [k, v] of Object.entries(named)) {
    probe.clearRect(0, 0, 1, 1); probe.fillStyle = v; probe.fillRect(0, 0, 1, 1);
    rgb[k] = Array.from(probe.getImageData(0, 0, 1, 1).data.slice(0, 3));
  }
  const painted = cells.map(([ch, r, q]) => {
    const p = api.cellCenter(view, ch, r, q), side = Math.max(1, Math.round(p.size * ratio));
    const d = ctx.getImageData(Math.round(p.left * ratio), Math.round(p.top * ratio), side, side).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) seen.add(d[i] + "," + d[i + 1] + "," + d[i + 2]);
    return Array.from(seen, (key) => key.split(",").map(Number));
  });
  return {size: api.cellCenter(view, 0, 0, 0).size, rgb, painted};
}
"""


def described_footprint(text: str) -> dict | None:
    """What the description says of the cell's footprint: cells read, how many are padding, the receptive field."""
    cells = re.search(r"(\d+) cells, (?:(\d+) of them padding|none of them padding)", text)
    field = re.search(r"Receptive field: (\d+)(?: × \d+)? input", text)
    if not cells or not field:
        return None
    return {"cells": int(cells[1]), "padding": int(cells[2] or 0), "receptive_field": int(field[1])}


class AccessChecks:
    """Keyboard, screen-reader and motion checks of the explorers on a page; what goes wrong goes to ``results``."""

    def __init__(self, results: Results):
        self.r = results

    def roles(self, root, where: str) -> None:
        """Views that take the arrow keys: application, focusable, keys named; others: images; one live region."""
        found = root.evaluate(ROLES_JS)
        stack = root.get_attribute("data-explorer") == "stack"
        for v in found["views"]:
            if v["view"] in POINTABLE:
                if v["role"] != "application" or v["tabindex"] != "0" or not v["roledesc"]:
                    self.r.fail(
                        f"{where}: the {v['view']} view takes arrow keys but is role={v['role']!r} "
                        f"(tabindex {v['tabindex']}, roledescription {v['roledesc']!r})"
                    )
                elif "Arrow keys" not in v["label"] or v["describes"] != "desc":
                    self.r.fail(f"{where}: the {v['view']} view does not name its keys or its description")
            elif v["role"] != "img" or v["tabindex"] is not None or not v["label"]:
                self.r.fail(
                    f"{where}: the {v['view']} view shows only, but is role={v['role']!r}, "
                    f"tabindex {v['tabindex']}, label {v['label'][:40]!r}"
                )
        want = ["announce"] if stack else ["desc"]
        if found["live"] != want:
            self.r.fail(f"{where}: live regions {found['live']}, expected only {want}")
        self.r.add("explorers checked for roles and live regions")

    def keys(self, page, root, where: str) -> None:
        """Tab from the player's last control reaches the input view, whose arrow keys move the selected cell."""
        root.evaluate(SET_LAYER_JS, controls_of(SETTING))
        root.evaluate("(r) => { r.convExplorer.select('input', 0, 0, 0); r.convExplorer.select(null); }")
        root.locator('[data-param="speed"]').focus()
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => [document.activeElement.dataset.view, document.activeElement.getAttribute('role')]"
        )
        if focused != ["input", "application"]:
            self.r.fail(f"{where}: Tab after the player reaches {focused}, not the input view (an application)")
            return
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        lit = root.evaluate("(r) => r.convExplorer.highlighted()")
        if lit["input"] != [[0, 1, 1, "sel"]] or not lit["output"]:
            self.r.fail(f"{where}: arrows on the input view selected {lit['input']}, not (0, 1, 1)")
        self.r.add("keyboard-only walks checked")

    def description(self, page, root, where: str) -> None:
        """The description waits until the slider settles, then names the footprint the library computes."""
        root.evaluate(SET_LAYER_JS, controls_of(SETTING))
        root.evaluate("(r) => r.convExplorer.select('output', 1, 0, 0)")
        page.wait_for_function(
            "(r) => r.querySelector('[data-role=desc]').textContent.startsWith('Output channel 1')",
            arg=root.element_handle(),
        )
        seen = root.evaluate(DRAG_JS)
        if seen["now"] != seen["before"] or seen["half"] != seen["before"]:
            self.r.fail(
                f"{where}: the description changed while the slider moved (not debounced): {seen['half'][:60]!r}"
            )
            return
        try:
            page.wait_for_function(
                "([r, before]) => r.querySelector('[data-role=desc]').textContent !== before",
                arg=[root.element_handle(), seen["before"]],
                timeout=5_000,
            )
        except Exception:
            self.r.fail(f"{where}: the description did not follow the slider within 5 s")
            return
        text = root.locator('[data-role="desc"]').inner_text()
        s = replace(SETTING, kernel_size=5)
        exp = expected_layer(s)
        taps = expected_footprint(s, exp, 1, 0, 0)
        want = {
            "cells": len(taps),
            "padding": sum(kind == "tapPad" for *_, kind in taps),
            "receptive_field": exp["receptive_field"],
        }
        if described_footprint(text) != want or "row 0, column 0" not in text:
            self.r.fail(
                f"{where}: the description says {described_footprint(text)}, the library {want}: {text[:120]!r}"
            )
        self.r.add("settled descriptions compared")

    def small_cells(self, root, where: str) -> None:
        """At the smallest cells each highlight and the padding keep a cue besides colour (WCAG 1.4.1): a dot in the
        ring's colour on a cell read and on the cell pointed at, a diagonal in the hatching's colour on padding."""
        root.evaluate(SET_LAYER_JS, controls_of(SMALL))
        root.evaluate("(r) => r.convExplorer.select('output', 0, 0, 0)")
        exp = expected_layer(SMALL)
        taps = sorted(expected_footprint(SMALL, exp, 0, 0, 0))
        rows, cols, _, _ = padded_geometry(SMALL, exp)
        tap = next(t[:3] for t in taps if t[3] == "tap")
        tap_pad = next(t[:3] for t in taps if t[3] == "tapPad")
        seen = root.evaluate(CUES_JS, ["input", [list(tap), list(tap_pad), [0, rows - 1, cols - 1]]])
        out = root.evaluate(CUES_JS, ["output", [[0, 0, 0]]])
        if seen["size"] >= 6 or out["size"] >= 6:
            self.r.fail(f"{where}: {SMALL} draws {seen['size']} px input cells, not the smallest (under 6 px)")
            return
        rgb = seen["rgb"]
        wanted = [
            (f"cell read {tap}", seen["painted"][0], ("tap", "tapMark")),
            (f"padding read {tap_pad}", seen["painted"][1], ("tapPad", "tapMark", "tapPadMark")),
            (f"padding {(0, rows - 1, cols - 1)}", seen["painted"][2], ("pad", "padMark")),
            ("output pointed at (0, 0, 0)", out["painted"][0], ("sel", "selMark")),
        ]
        for what, painted, names in wanted:
            missing = [n for n in names if rgb[n] not in painted]
            if missing:
                self.r.fail(
                    f"{where}: at {seen['size']} px the {what} has no cue besides colour: no {missing} "
                    f"among the colours painted {painted[:4]}"
                )
        self.r.add("small-cell cues checked", len(wanted))

    def reduced_motion(self, root, where: str) -> None:
        """With reduced motion the play button is disabled and, forced, does not run; stepping still works."""
        root.evaluate(SET_LAYER_JS, controls_of(SETTING))
        seen = root.evaluate(FORCED_PLAY_JS)
        if not seen["disabled"] or seen["playing"] or seen["lit"] != [[0, 0, 0, "sel"]]:
            self.r.fail(
                f"{where}: with reduced motion the player ran (play disabled: {seen['disabled']}, "
                f"playing: {seen['playing']}, at {seen['lit']})"
            )
            return
        root.locator('[data-act="next"]').click()
        lit = root.evaluate("(r) => r.convExplorer.highlighted().output")
        if lit != [[0, 0, 1, "sel"]]:
            self.r.fail(f"{where}: with reduced motion the step button went to {lit}, not (0, 0, 1)")
        self.r.add("reduced-motion checks")
