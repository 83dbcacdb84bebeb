"""Check the built site in a real browser: headless Debian Chromium driven by Playwright.

    python -m convbook.course check-site            # what `make test-site` runs
    python -m convbook.course check-site --site DIR --toc DIR/_toc.yml

It serves ``_build/html`` on 127.0.0.1 (a free port) and visits every page of
the site: it crawls every internal link from ``index.html`` (plus ``search.html``
and ``genindex.html``), so new chapters are picked up without editing this module.
HTML files on disk that no page links to (left over from an earlier build) are
listed as notes. Checks on each page:

* every page loads with no 404 for any of its resources (scripts, styles, fonts,
  images) and no uncaught JavaScript error (the theme stack's known
  ``THEBE_JS_URL`` redeclaration excepted);
* the site needs no network: any request to another host is blocked and
  reported (a classroom may be offline);
* every internal link (``a``, ``img``, ``link``, ``script``) resolves, and a
  link's ``#fragment`` names an element of the target page;
* every image in the page content has loaded (``naturalWidth > 0``), and PNG
  figures are opaque, so that they stay readable in dark mode;
* every figure has a text alternative that says what it shows, not a file name (``figure_alt``);
* math is typeset by MathJax (served from the site): every ``.math`` element
  becomes an ``mjx-container`` with no TeX error, and the notation page has math;
* every animation player (``.convbook-player``) advances a frame when its play
  button is clicked; the check fails if the site has no player at all;
* every exercise solution is a dropdown, hidden until its title is clicked and
  visible after, and so is every code cell tagged ``solution`` (folded behind a
  toggle); the check fails if the site has no solution at all;
* the search dialog finds "dilation" (typed into the search box, results listed);
* each notebook's first cell installs convbook on Colab (guarded, tagged
  ``remove-cell``) and is not shown on the site;
* notebook pages have Colab and Binder launch buttons for a notebook that exists
  in the repository; every page has a download link and the repository link.

With ``--student`` it checks the student edition (``make student-site``) instead: the same checks, except that
no page may hold a solution, the repository and launch buttons must point to ``--repository`` (the class
repository) or be absent, and every file of the site (HTML, the downloadable ``_sources``, the search index) is
scanned for the text of the book's solutions and their outputs, and for a self-check's PASS.

Then the accessibility check (:mod:`convbook.course.site.a11y`, skipped with ``--no-a11y``): axe-core's WCAG 2.1
A and AA rules on every page checked above, in light and dark mode, and on each explorer in several states; a
table of the violations (page, mode, rule, impact, nodes) is printed, or one line when there is none.

Screenshots of each chapter's first page (the chapters of ``_toc.yml``) go to
``_build/screenshots/``, plus one page in dark mode. Exit status 0 when every
check passed, 1 otherwise; a summary with counts is printed either way.
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

from playwright.sync_api import sync_playwright

from convbook.course.notebooks import normalize, solution_fingerprints
from convbook.course.site.a11y import check_accessibility
from convbook.course.site.figure_alt import check_site_alt
from convbook.course.site.pages import ASSET_DIRS, BOOK_REPOSITORY, TIMEOUT_MS, VIEWPORT, PageChecker, site_pages
from convbook.course.site.report import Report, print_summary
from convbook.course.site.server import CHROMIUM, INSTALL_HINT, SiteServer, http_status, launch_chromium, site_path

SEARCH_TERM = "dilation"
START_PAGES = ("index.html", "search.html", "genindex.html")


class SiteChecker(PageChecker):
    """Every page a reader can reach (crawled from the start pages), then the checks of the whole site."""

    # ---- whole site
    def scan_for_solutions(self) -> None:
        """Every file of the student site: no text of a solution (or of its output), no PASS of a self-check."""
        fingerprints = solution_fingerprints(self.book)
        self.report.counts["solution fingerprints looked for"] = len(fingerprints)
        passes = re.compile(r"\bPASS \w+: (all \d+ (cases match|answers are right)|the answer is right)")
        for path in sorted(self.site.rglob("*")):
            if not path.is_file() or path.suffix not in (".html", ".ipynb", ".md", ".js", ".txt", ".json", ".py"):
                continue
            if path.relative_to(self.site).parts[0] == "_static" and path.suffix == ".js":
                continue  # the theme's and MathJax's scripts
            text = path.read_text(errors="replace")
            if path.suffix == ".html":
                text = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
            elif path.suffix == ".ipynb":
                cells = json.loads(text).get("cells", [])
                parts = []
                for cell in cells:
                    parts.append("".join(cell.get("source", "")))
                    for output in cell.get("outputs", []):
                        parts.append(
                            "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
                        )
                text = "\n".join(parts)
            self.report.counts["files scanned for solutions"] += 1
            flat = normalize(text)
            rel = path.relative_to(self.site).as_posix()
            found = [f for f in fingerprints if f in flat]
            if found:
                self.report.fail("student edition", f"{rel}: solution text: {found[0][:70]!r} (+{len(found) - 1} more)")
            if passes.search(text):
                self.report.fail(
                    "student edition", f"{rel}: a self-check's PASS is stored: {passes.search(text).group(0)}"
                )
            if re.search(r"\{solution(-start|-end)?\}", text):
                self.report.fail("student edition", f"{rel}: a {{solution}} directive")

    def check_links(self, origin: str) -> None:
        """Every internal URL referenced by any page answers 200; fragments name an element of their page."""
        statuses: dict[str, int] = {}
        for info in self.pages.values():
            for kind, url in info.refs:
                if url.startswith(("data:", "mailto:", "javascript:", "blob:", "about:")):
                    continue
                base, fragment = urldefrag(url)
                rel = site_path(base, origin)
                if rel is None:
                    if urlparse(url).scheme in ("http", "https"):
                        self.report.counts["external links skipped"] += 1
                    continue
                if base not in statuses:
                    target = rel if rel in self.pages else None
                    statuses[base] = 200 if target else http_status(base)
                    self.report.counts["links checked"] += 1
                if statuses[base] != 200:
                    self.report.fail("links", f"{info.path}: <{kind}> {base.replace(origin, '')} -> {statuses[base]}")
                    continue
                if fragment and kind == "a" and rel in self.pages:
                    self.report.counts["anchors checked"] += 1
                    if unquote(fragment) not in self.pages[rel].ids:
                        self.report.fail("links", f"{info.path}: link to {rel}#{fragment}: no such anchor")

    def check_search(self, page, origin: str) -> None:
        """Type the term into the theme's search dialog, press Enter, expect results."""
        try:
            page.goto(f"{origin}/index.html", wait_until="load", timeout=TIMEOUT_MS)
            page.locator(".search-button__button:visible").first.click(timeout=TIMEOUT_MS)
            box = page.locator("#pst-search-dialog input[name='q']")
            box.fill(SEARCH_TERM, timeout=TIMEOUT_MS)
            box.press("Enter")
            page.wait_for_url(re.compile(r"search\.html\?q="), timeout=TIMEOUT_MS)
            page.wait_for_function(
                "() => document.querySelector('#search-results .search-summary, #search-results p')",
                timeout=TIMEOUT_MS,
            )
            page.wait_for_function(
                "() => !document.querySelector('#search-results h2') || "
                "document.querySelector('#search-results h2').textContent !== 'Searching'",
                timeout=TIMEOUT_MS,
            )
            hits = page.locator("#search-results ul.search > li")
            n = hits.count()
            self.report.counts[f'search hits for "{SEARCH_TERM}"'] = n
            if n == 0:
                self.report.fail("search", f'searching for "{SEARCH_TERM}" found nothing')
        except Exception as exc:
            self.report.fail("search", f"the search dialog did not work: {str(exc).splitlines()[0]}")

    def dark_screenshot(self, browser, origin: str) -> None:
        """One page in dark mode (the first chapter page with figures), saved for a human to look at."""

        def has_figure(p):
            return any(not img["src"].startswith("data:") for img in p.images)

        candidates = [p for p in self.pages.values() if has_figure(p) and p.path in self.chapters]
        candidates += [p for p in self.pages.values() if has_figure(p)]
        target = candidates[0].path if candidates else "chapters/notation.html"
        if target not in self.pages:
            target = "index.html"
        context = browser.new_context(viewport=VIEWPORT, color_scheme="dark")
        context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
        self.block_external(context, origin)
        try:
            page = context.new_page()
            page.goto(f"{origin}/{target}", wait_until="load", timeout=TIMEOUT_MS)
            theme = page.evaluate("() => document.documentElement.dataset.theme")
            if theme != "dark":
                self.report.fail("dark mode", f"{target}: dark mode did not apply (data-theme={theme!r})")
            first_img = page.locator("article.bd-article img:not([src^='data:'])").first
            if first_img.count():
                first_img.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
                page.evaluate("() => window.scrollBy(0, -150)")
            self.shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(self.shots / ("dark__" + target[: -len(".html")].replace("/", "__") + ".png")))
            self.report.counts["screenshots"] += 1
        finally:
            context.close()

    def block_external(self, context, origin: str) -> None:
        def handle(route):
            request = route.request
            referrer = (request.frame.url if request.frame else "") if not request.is_navigation_request() else ""
            self.external_requests[urlparse(request.url).netloc].add(site_path(referrer, origin) or referrer or "?")
            route.abort("blockedbyclient")

        context.route(lambda url: not url.startswith(origin) and urlparse(url).scheme in ("http", "https"), handle)

    def run(self, browser, origin: str) -> None:
        for old in self.shots.glob("*.png"):  # no stale screenshots of pages that are gone
            old.unlink()
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        self.block_external(context, origin)
        page = context.new_page()
        # Crawl from the root page (and Sphinx's two generated pages) along every internal link,
        # so that each page a reader can reach is visited, new chapters included.
        queue, seen = [p for p in START_PAGES if (self.site / p).is_file()], set()
        while queue:
            rel = queue.pop(0)
            if rel in seen:
                continue
            seen.add(rel)
            info = self.visit(page, origin, rel)
            if info is None:
                continue
            self.pages[rel] = info
            for kind, url in info.refs:
                target = site_path(urldefrag(url)[0], origin)
                if kind == "a" and target and target.endswith(".html") and target.split("/")[0] not in ASSET_DIRS:
                    if target not in seen and (self.site / target).is_file():
                        queue.append(target)
        on_disk = set(site_pages(self.site))
        for rel in sorted(on_disk - set(self.pages) - seen):
            self.report.notes.append(
                f"{rel}: on disk but linked from no page (left over from an earlier build? `make clean`); not checked"
            )
        self.check_links(origin)
        check_site_alt(self.site, self.report)  # every figure has a text alternative (figure_alt)
        self.check_search(page, origin)
        context.close()
        self.dark_screenshot(browser, origin)
        missing = sorted(self.chapters - set(self.pages))
        for rel in missing:
            why = "could not be checked" if (self.site / rel).is_file() else "is not in the built site"
            self.report.fail("pages", f"{rel}: listed in _toc.yml but {why} (no screenshot)")
        if "chapters/notation.html" in self.chapters and "chapters/notation.html" not in self.pages:
            self.report.fail("math", "the notation page was not checked")
        if self.report.counts["animation players"] == 0:
            self.report.fail(
                "animation",
                "no page has an animation player (.convbook-player); Chapter 1 and the dilated chapter need one",
            )
        if self.student:
            self.scan_for_solutions()
        elif self.report.counts["solutions"] == 0:
            self.report.fail("solutions", "no page has an exercise solution ({solution} directive)")
        for host, pages in sorted(self.external_requests.items()):
            shown = ", ".join(sorted(pages)[:5]) + (" ..." if len(pages) > 5 else "")
            self.report.fail("offline", f"the site requested {host} (blocked; the book must work offline): {shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course check-site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--site", type=Path, default=None, help="the built site (default: ROOT/_build/html)")
    parser.add_argument("--toc", type=Path, default=None, help="_toc.yml (default: next to the site's _build)")
    parser.add_argument("--screenshots", type=Path, default=None, help="default: _build/screenshots next to the site")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--student", action="store_true", help="check the student edition (make student-site)")
    parser.add_argument("--no-a11y", action="store_true", help="skip the accessibility check (axe-core)")
    parser.add_argument(
        "--repository",
        default=None,
        help="the repository the buttons must link to (default: the book's; none with --student)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    site = (args.site or root / "_build" / "html").resolve()
    sources = site.parent.parent  # <book>/_build/html: the book, or the student book, the site was built from
    toc = args.toc or sources / "_toc.yml"
    shots = args.screenshots or site.parent / "screenshots"
    if not args.chromium.exists():
        print(f"check-site: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if not (site / "index.html").exists():
        print(f"check-site: {site}/index.html is missing: build the site first with `make build`", file=sys.stderr)
        return 2
    report, start = Report(), time.perf_counter()
    with SiteServer(site) as server, sync_playwright() as pw:
        print(f"serving {site} at {server.origin}; browser {args.chromium}")
        browser = launch_chromium(pw, args.chromium)
        try:
            repository = args.repository or (None if args.student else BOOK_REPOSITORY)
            checker = SiteChecker(site, toc, shots, sources, report, args.student, repository, book=root)
            checker.run(browser, server.origin)
            if not args.no_a11y:
                a11y = check_accessibility(browser, server.origin, sorted(checker.pages))
                print(a11y.table() + "\n" + a11y.summary() if not a11y.ok else a11y.summary())
                report.counts["accessibility: pages x modes"] = len(a11y.pages) * len(a11y.modes)
                report.counts["accessibility: explorer states"] = a11y.states
                report.counts["accessibility: axe-core rules"] = a11y.rules
                for f in a11y.findings:
                    report.fail("accessibility", f"{f.page} ({f.mode}): {f.rule} ({f.impact}), {f.nodes} nodes")
        finally:
            browser.close()
    print_summary(report, time.perf_counter() - start, shots)
    return 0 if report.ok else 1
