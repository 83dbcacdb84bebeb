"""The accessibility check (convbook.course.site.a11y): it fails on planted violations and passes a clean page.

The browser tests serve small pages of their own (not the built book) and run axe-core in /usr/bin/chromium.
"""

from __future__ import annotations

import re

import pytest

from convbook.course.site.a11y import MODES, TAGS, A11yResult, Finding, check_accessibility, luminance
from convbook.course.site.server import CHROMIUM, SiteServer, launch_chromium

#: What pydata-sphinx-theme does before the first paint: take the mode from localStorage into <html data-theme>.
THEMED_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>document.documentElement.dataset.theme = localStorage.getItem("mode") || "light";</script>
<style>
  body {{ background: #ffffff; color: #222222; }}
  html[data-theme="dark"] body {{ background: #121212; color: #eeeeee; }}
  html[data-theme="dark"] a {{ color: #9ecbff; }}
</style></head>
"""
CLEAN = (
    THEMED_HEAD.format(title="Clean")
    + """<body><main><h1>A clean page</h1>
<p>Some text and <a href="bad.html">a link with a name</a>.</p></main></body></html>"""
)
#: Two planted violations: an empty link (link-name) and light grey on white, 1.9:1 in both modes (color-contrast).
BAD = (
    THEMED_HEAD.format(title="Bad")
    + """<body><main><h1>A page with faults</h1>
<p><a href="#"></a> <span style="color: #bbbbbb; background: #ffffff">grey text on white</span></p>
</main></body></html>"""
)
#: No mode script: the page stays light whatever localStorage says.
UNTHEMED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plain</title></head>
<body style="background: #fff"><main><h1>Plain</h1></main></body></html>"""
#: A stand-in explorer: its preset "broken" adds a text box without a label (rule label) when pressed.
EXPLORER = (
    THEMED_HEAD.format(title="Explorer")
    + """<body><main><h1>Explorer</h1>
<div data-explorer data-ready>
  <button type="button" data-preset-button="fine">Fine</button>
  <button type="button" data-preset-button="broken"
          onclick="this.parentNode.appendChild(document.createElement('input'))">Broken</button>
</div></main></body></html>"""
)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The small pages above, served on 127.0.0.1, and a Chromium to visit them: (origin, browser)."""
    from playwright.sync_api import sync_playwright  # only the browser tests need Playwright

    root = tmp_path_factory.mktemp("site")
    for name, html in [("clean", CLEAN), ("bad", BAD), ("plain", UNTHEMED), ("explorer", EXPLORER)]:
        (root / f"{name}.html").write_text(html, encoding="utf-8")
    with SiteServer(root) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            yield server.origin, browser
        finally:
            browser.close()


@pytest.mark.slow
@needs_chromium
def test_a_clean_page_passes_in_both_modes(site):
    origin, browser = site
    result = check_accessibility(browser, origin, ["clean.html"])
    assert result.ok, result.table()
    assert result.pages == {"clean.html"} and result.modes == set(MODES)
    assert result.runs == 2 and result.states == 0
    assert re.fullmatch(r"4\.\d+\.\d+", result.version)
    assert result.rules > 40  # the WCAG 2.0/2.1 A and AA rules of axe-core 4.x
    assert "no violations" in result.summary() and "1 pages x 2 modes" in result.summary()


@pytest.mark.slow
@needs_chromium
def test_planted_violations_fail(site):
    origin, browser = site
    result = check_accessibility(browser, origin, ["clean.html", "bad.html"])
    assert not result.ok
    found = {(f.page, f.mode, f.rule) for f in result.findings}
    for mode in MODES:
        assert ("bad.html", mode, "link-name") in found
        assert ("bad.html", mode, "color-contrast") in found
    assert all(f.page == "bad.html" for f in result.findings), result.table()
    table = result.table()
    assert table.splitlines()[0].split() == ["page", "mode", "rule", "impact", "nodes"]
    assert "color-contrast" in table and "link-name" in table and "serious" in table
    assert "violations" in result.summary() and "no violations" not in result.summary()


@pytest.mark.slow
@needs_chromium
def test_a_dark_mode_that_does_not_apply_fails(site):
    origin, browser = site
    result = check_accessibility(browser, origin, ["plain.html"], modes=("dark",))
    assert [f.rule for f in result.findings] == ["dark-mode-not-applied"]
    assert "luminance" in result.findings[0].example


@pytest.mark.slow
@needs_chromium
def test_explorer_states_are_checked_one_by_one(site):
    origin, browser = site
    result = check_accessibility(browser, origin, ["explorer.html"], modes=("light",))
    assert result.states == 2  # the two presets; the stand-in has no player and no convExplorer
    rules = {(f.page, f.rule) for f in result.findings}
    assert rules == {("explorer.html [explorer 1: preset broken]", "label")}, result.table()


@pytest.mark.slow
@needs_chromium
def test_a_missing_page_is_reported(site):
    origin, browser = site
    result = check_accessibility(browser, origin, ["nowhere.html"], modes=("light",), explorers=False)
    assert [(f.rule, f.example) for f in result.findings] == [("page-error", "RuntimeError: HTTP 404")]
    assert result.pages == set()


def test_bad_arguments():
    with pytest.raises(TypeError, match="pages must be a list"):
        check_accessibility(None, "http://127.0.0.1:1", "index.html")
    with pytest.raises(ValueError, match="modes must be"):
        check_accessibility(None, "http://127.0.0.1:1", ["index.html"], modes=("sepia",))
    with pytest.raises(ValueError, match="modes must be"):
        check_accessibility(None, "http://127.0.0.1:1", ["index.html"], modes=())
    with pytest.raises(ValueError, match="css must be"):
        luminance("#ffffff")


def test_luminance():
    assert luminance("rgb(255, 255, 255)") == pytest.approx(1.0)
    assert luminance("rgba(0, 0, 0, 1)") == pytest.approx(0.0)
    # #767676 on white is the classic 4.54:1
    assert (1.05) / (luminance("rgb(118, 118, 118)") + 0.05) == pytest.approx(4.54, abs=0.01)


def test_table_and_summary():
    result = A11yResult(version="4.12.1", rules=57, pages={"a.html", "b.html"}, modes={"light", "dark"}, runs=4)
    assert result.ok and result.table() == ""
    assert result.summary().endswith("no violations")
    assert "2 pages x 2 modes" in result.summary() and "/".join(TAGS) in result.summary()
    result.findings = [Finding(f"p{i}.html", "dark", "summary-name", "serious", 3, "summary: empty") for i in range(50)]
    table = result.table(max_rows=10).splitlines()
    assert table[0].split() == ["page", "mode", "rule", "impact", "nodes"]
    assert len([line for line in table if line.split()[:1] == ["p0.html"] or ".html " in line]) == 10
    assert "... and 40 more rows" in table
    assert table[-1].startswith("summary-name (serious): 150 nodes on 50 pages")
