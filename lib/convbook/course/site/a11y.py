"""The accessibility check of the built site: axe-core's WCAG 2.0 and 2.1 rules, levels A and AA, in Chromium.

``python -m convbook.course check-site`` runs it after its own checks (so ``make test-site`` and
``make test-student-site`` do); ``--no-a11y`` skips it. :func:`check_accessibility` visits each page twice, in the
theme's light mode and in its dark mode (``localStorage["mode"]``, which pydata-sphinx-theme reads before the first
paint; the check fails if ``<html data-theme>`` or the page's background colour do not follow), and runs axe-core on
the whole page. On a page with explorers (``[data-explorer]``) it then puts each explorer in several states and runs
axe-core on the explorers alone: every preset button pressed in turn (the stack explorers' presets included), an
output cell selected, and the player paused mid-way. Zero violations is the pass mark.

axe-core is the ``axe.min.js`` shipped in the PyPI package ``axe-playwright-python`` (pinned in requirements.txt;
0.1.8 carries axe-core 4.12.1). Only that file is used, read as package data and injected into each page, so the
check needs no network. The rules run are those tagged ``wcag2a``, ``wcag2aa``, ``wcag21a`` and ``wcag21aa``.
"""

from __future__ import annotations

import importlib.resources
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlparse

#: axe-core's tags for WCAG 2.0 and 2.1, levels A and AA.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
#: The theme's colour modes.
MODES = ("light", "dark")
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000
#: Rows of the failure table printed before it is cut short.
MAX_ROWS = 40

#: Run axe-core on ``target`` (an element; the whole document when null) with the WCAG tags; return what it found.
RUN_JS = """
async ([target, tags]) => {
  const r = await axe.run(target || document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return {
    version: axe.version,
    rules: axe.getRules(tags).length,
    violations: r.violations.map((v) => ({
      id: v.id, impact: v.impact || "", help: v.help,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(" "), summary: (n.failureSummary || "").replace(/\\s+/g, " "),
      })),
    })),
  };
}
"""

#: Typeset math changes the page: wait for MathJax where the page has math (at most 15 s).
SETTLE_JS = """
async () => {
  if (!document.querySelector(".math")) return;
  const t0 = Date.now();
  while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
    if (Date.now() - t0 > 15000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  await window.MathJax.startup.promise;
}
"""

#: The mode the theme applied, and the page's background colour (the first opaque one from <body> up).
MODE_JS = """
() => {
  let bg = "rgba(0, 0, 0, 0)";
  for (let el = document.body; el; el = el.parentElement) {
    bg = getComputedStyle(el).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(bg) && bg !== "transparent") break;
  }
  return {theme: document.documentElement.dataset.theme || null, background: bg};
}
"""


def axe_source() -> str:
    """axe-core's ``axe.min.js``, as shipped in the pinned ``axe-playwright-python`` (only this file of it is used)."""
    try:
        return (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise RuntimeError(
            "axe-core is missing: install the pinned axe-playwright-python (pip install -r requirements.txt)"
        ) from exc


def luminance(css: str) -> float:
    """WCAG relative luminance of a CSS ``rgb()``/``rgba()`` colour, in [0, 1]."""
    values = re.findall(r"[\d.]+", css)
    if not css.startswith("rgb") or len(values) < 3:
        raise ValueError(f"luminance: css must be an rgb() or rgba() colour, got {css!r}")

    def linear(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(float(v)) for v in values[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@dataclass
class Finding:
    """One rule violated on one page (or one explorer state) in one mode."""

    page: str  # site-relative; an explorer state adds " [explorer 1: preset 'Dilated']"
    mode: str
    rule: str
    impact: str
    nodes: int
    example: str = ""  # the first node: its selector and axe-core's summary


@dataclass
class A11yResult:
    """What :func:`check_accessibility` found, and what it ran."""

    version: str = ""
    rules: int = 0
    pages: set[str] = field(default_factory=set)
    modes: set[str] = field(default_factory=set)
    states: int = 0  # explorer states checked (in all modes together)
    runs: int = 0  # axe-core runs
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        """One line: what was checked, and how many violations."""
        nodes = sum(f.nodes for f in self.findings)
        return (
            f"accessibility (axe-core {self.version or '?'}, {self.rules} rules tagged {'/'.join(TAGS)}): "
            f"{len(self.pages)} pages x {len(self.modes)} modes ({', '.join(sorted(self.modes))}) "
            f"+ {self.states} explorer states, {self.runs} runs: "
            + ("no violations" if self.ok else f"{len(self.findings)} violations, {nodes} nodes")
        )

    def table(self, max_rows: int = MAX_ROWS) -> str:
        """The violations as a table (page, mode, rule, impact, nodes), then each rule's totals and one example."""
        if self.ok:
            return ""
        rows = sorted(self.findings, key=lambda f: (f.rule, f.page, f.mode))
        width = min(60, max(len(f.page) for f in rows))
        lines = [f"{'page':<{width}}  {'mode':<5}  {'rule':<24}  {'impact':<8}  nodes"]
        for f in rows[:max_rows]:
            lines.append(f"{f.page[:width]:<{width}}  {f.mode:<5}  {f.rule:<24}  {f.impact:<8}  {f.nodes:>5}")
        if len(rows) > max_rows:
            lines.append(f"... and {len(rows) - max_rows} more rows")
        by_rule: dict[str, list[Finding]] = defaultdict(list)
        for f in rows:
            by_rule[f.rule].append(f)
        lines.append("")
        for rule, found in by_rule.items():
            pages = len({f.page.split(" [")[0] for f in found})
            lines.append(
                f"{rule} ({found[0].impact}): {sum(f.nodes for f in found)} nodes on {pages} pages; "
                f"e.g. {found[0].example[:160]}"
            )
        return "\n".join(lines)


class AccessibilityChecker:
    """Runs axe-core on pages served at ``origin`` by ``browser`` (Playwright's, Chromium); fills ``result``."""

    def __init__(self, browser, origin: str, result: A11yResult | None = None):
        self.browser, self.origin = browser, origin.rstrip("/")
        self.result = result if result is not None else A11yResult()
        self.axe = axe_source()

    def new_page(self, mode: str):
        """A page in a fresh context in ``mode``, with every request to another host blocked (the site is offline)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        context = self.browser.new_context(viewport=VIEWPORT, color_scheme=mode)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
        context.route(
            lambda url: not url.startswith(self.origin) and urlparse(url).scheme in ("http", "https"),
            lambda route: route.abort("blockedbyclient"),
        )
        return context.new_page()

    def axe_run(self, page, label: str, mode: str, target=None) -> None:
        """axe-core on ``page`` (or on the element handle ``target``); each violated rule becomes a finding."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe)
        found = page.evaluate(RUN_JS, [target, list(TAGS)])
        self.result.version, self.result.rules = found["version"], found["rules"]
        self.result.runs += 1
        for v in found["violations"]:
            first = v["nodes"][0] if v["nodes"] else {"target": "", "summary": ""}
            example = f"{first['target']}: {first['summary'] or v['help']}"
            self.result.findings.append(Finding(label, mode, v["id"], v["impact"], len(v["nodes"]), example))

    def check_mode(self, page, rel: str, mode: str) -> None:
        """The theme applied ``mode``: ``data-theme`` on <html>, and a dark (light) background in dark (light) mode."""
        shown = page.evaluate(MODE_JS)
        lum = luminance(shown["background"])
        if shown["theme"] != mode or (lum > 0.2 if mode == "dark" else lum < 0.5):
            example = f"data-theme={shown['theme']!r}, background {shown['background']} (luminance {lum:.2f})"
            self.result.findings.append(Finding(rel, mode, f"{mode}-mode-not-applied", "setup", 1, example))

    def check_page(self, page, rel: str, mode: str, explorers: bool = True) -> None:
        """One page in one mode: the mode, axe-core on the whole page, then the explorers' states."""
        response = page.goto(f"{self.origin}/{rel}", wait_until="load")
        if response is None or response.status != 200:
            raise RuntimeError(f"HTTP {response.status if response else 'no response'}")
        page.evaluate(SETTLE_JS)
        self.check_mode(page, rel, mode)
        self.axe_run(page, rel, mode)
        self.result.pages.add(rel)
        if explorers and page.locator("[data-explorer]").count():
            self.check_explorers(page, rel, mode)

    def check_explorers(self, page, rel: str, mode: str) -> None:
        """Each explorer of the page in several states, axe-core on the explorer alone after each."""
        page.wait_for_function("() => !document.querySelector('[data-explorer]:not([data-ready])')")
        roots = page.locator("[data-explorer]")
        for index in range(roots.count()):
            self.check_explorer(page, roots.nth(index), f"{rel} [explorer {index + 1}", mode)

    def check_explorer(self, page, root, where: str, mode: str) -> None:
        """One explorer (``root``, a locator): each preset, a selected output cell, the player paused mid-way."""
        handle = root.element_handle()
        buttons = root.locator("[data-preset-button]")
        for b in range(buttons.count()):
            name = buttons.nth(b).get_attribute("data-preset-button")
            self.state(page, handle, f"{where}: preset {name}]", mode, buttons.nth(b).click)
        if root.evaluate("(r) => !!(r.convExplorer && r.convExplorer.select)"):
            select = lambda: root.evaluate("(r) => r.convExplorer.select('output', 0, 0, 0)")  # noqa: E731
            self.state(page, handle, f"{where}: a cell selected]", mode, select)
        play, first = root.locator('[data-act="play"]'), root.locator('[data-act="first"]')
        if play.count():

            def midway():
                if first.count():
                    first.click()
                play.click()
                page.wait_for_timeout(800)
                play.click()  # paused mid-way

            self.state(page, handle, f"{where}: player paused mid-way]", mode, midway)

    def state(self, page, handle, label: str, mode: str, action) -> None:
        """``action()`` puts the explorer ``handle`` in a state; then axe-core runs on it (a failure is a finding)."""
        try:
            action()
            page.wait_for_timeout(50)  # let a debounced redraw or description land
            self.axe_run(page, label, mode, target=handle)
        except Exception as exc:  # one broken state must not hide the others
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
            self.result.findings.append(Finding(label, mode, "page-error", "setup", 1, message))
        self.result.states += 1


def check_accessibility(
    browser, origin: str, pages: list[str], modes: tuple[str, ...] = MODES, explorers: bool = True
) -> A11yResult:
    """axe-core (WCAG 2.0/2.1 A and AA) on each of ``pages`` (site-relative) at ``origin``, in each of ``modes``.

    ``explorers``: also put each explorer of a page in several states (presets, a selected cell, the player paused
    mid-way) and check it in each. A page that fails to load or to run becomes a finding (rule ``page-error``).
    """
    if isinstance(pages, str):
        raise TypeError("pages must be a list of site-relative paths, not one string")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {modes!r}")
    checker = AccessibilityChecker(browser, origin)
    for mode in modes:
        checker.result.modes.add(mode)
        page = checker.new_page(mode)
        try:
            for rel in pages:
                try:
                    checker.check_page(page, rel, mode, explorers)
                except Exception as exc:  # one broken page must not hide the others
                    message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
                    checker.result.findings.append(Finding(rel, mode, "page-error", "setup", 1, message))
        finally:
            page.context.close()
    return checker.result
