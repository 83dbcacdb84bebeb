"""The explorer's accessibility checks (convbook.course.site.explorer_a11y) in Chromium, on the real script and on
copies of it with a fault planted: each check must pass on the first and fail on the second.

The page is the smallest that holds a layer and a stack explorer, served from a temporary folder, so these tests
need no built site; they need Debian's chromium (``make test-site`` runs the same checks on the built site).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convbook.course.site.explorer_a11y import AccessChecks
from convbook.course.site.explorer_page import Results
from convbook.course.site.server import CHROMIUM, SiteServer, launch_chromium

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]

STATIC = Path(__file__).resolve().parents[1] / "_static" / "explorer"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>explorer</title>
<link rel="stylesheet" href="explorer.css"><script src="explorer.js"></script></head>
<body><main><div data-explorer data-preset="standard"></div><div data-explorer="stack" data-preset="hybrid"></div>
</main></body></html>
"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = launch_chromium(pw, CHROMIUM)
        yield b
        b.close()


def run_checks(browser, folder: Path, plant: tuple[str, str] | None = None) -> list[str]:
    """Every access check on the page, with ``plant`` (old, new) replaced in explorer.js; the failures."""
    js = (STATIC / "explorer.js").read_text(encoding="utf-8")
    if plant:
        assert js.count(plant[0]) == 1, f"the plant's text is not in explorer.js once: {plant[0]!r}"
        js = js.replace(*plant)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "explorer.js").write_text(js, encoding="utf-8")
    (folder / "explorer.css").write_text((STATIC / "explorer.css").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    results = Results()
    checks = AccessChecks(results)
    with SiteServer(folder) as server:
        for reduced in (False, True):
            context = browser.new_context(
                viewport={"width": 1200, "height": 900}, reduced_motion="reduce" if reduced else "no-preference"
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(f"{server.origin}/index.html", wait_until="load")
            page.wait_for_function("() => !document.querySelector('[data-explorer]:not([data-ready])')")
            layer = page.locator("[data-explorer]:not([data-explorer=stack])").first
            if reduced:
                checks.reduced_motion(layer, "page")
            else:
                checks.roles(layer, "layer")
                checks.roles(page.locator("[data-explorer=stack]").first, "stack")
                checks.keys(page, layer, "page")
                checks.description(page, layer, "page")
                checks.small_cells(layer, "page")
            results.failures += [f"page error: {e}" for e in errors]
            context.close()
    return results.failures


def test_the_explorer_passes_its_access_checks(browser, tmp_path):
    assert run_checks(browser, tmp_path) == []


@pytest.mark.parametrize(
    "plant, failure",
    [
        (('role: "application"', 'role: "img"'), "takes arrow keys but is role='img'"),
        (
            (
                'var figs = el("div", { class: "cx-figures" });',
                'var figs = el("div", { class: "cx-figures", "aria-live": "polite" });',
            ),
            "live regions",
        ),
        (("var DESCRIBE_DELAY = 400;", "var DESCRIBE_DELAY = 0;"), "not debounced"),
        (('padCells + " of them padding', '(padCells + 1) + " of them padding'), "the library"),
        (('if (k === "ArrowRight") cur[2]++;', 'if (k === "ArrowRight") cur[2] += 0;'), "arrows on the input view"),
        (("return dot(ctx, x, y, size, color, d);", "return;"), "cell read (0, 1, 1) has no cue besides colour"),
        (("else slash(ctx, x, y, cell, padMark);", ""), "padding (0, 33, 33) has no cue besides colour"),
        (("btn.disabled = reduce;", "btn.disabled = false;"), "with reduced motion the player ran"),
        (
            ("if (this.reducedMotion && this.reducedMotion.matches) return; // the button is disabled too", ""),
            "with reduced motion the player ran",
        ),
    ],
)
def test_each_access_check_fails_on_its_fault(browser, tmp_path, plant, failure):
    failures = run_checks(browser, tmp_path, plant)
    assert any(failure in f for f in failures), failures
