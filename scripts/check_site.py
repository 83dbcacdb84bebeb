"""Check the built site in a real browser: headless Debian Chromium driven by Playwright.

    .venv/bin/python scripts/check_site.py            # what `make test-site` runs
    .venv/bin/python scripts/check_site.py --site DIR --toc DIR/_toc.yml

It serves ``_build/html`` on 127.0.0.1 (a free port) and visits every page of
the site: it crawls every internal link from ``index.html`` (plus ``search.html``
and ``genindex.html``), so new chapters are picked up without editing this file.
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

Screenshots of each chapter's first page (the chapters of ``_toc.yml``) go to
``_build/screenshots/``, plus one page in dark mode. Exit status 0 when every
check passed, 1 otherwise; a summary with counts is printed either way.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BOOK_REPOSITORY = "https://github.com/convbook/convbook"
INSTALL_HINT = "chromium is missing: install it with `sudo apt-get update && sudo apt-get install -y chromium`"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Uncaught errors every page of this theme stack logs (see PITFALLS.md); not the book's fault.
KNOWN_PAGE_ERRORS = ("THEBE_JS_URL",)
#: Folders of the built site that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads"}
SEARCH_TERM = "dilation"
START_PAGES = ("index.html", "search.html", "genindex.html")
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 20_000

# --------------------------------------------------------------------------- in-page scripts

#: Everything a page offers to check, collected in one round trip.
COLLECT_JS = """
() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const abs = (v) => { try { return new URL(v, document.baseURI).href; } catch (e) { return null; } };
  const refs = [];
  for (const a of document.querySelectorAll("a[href]")) refs.push(["a", abs(a.getAttribute("href"))]);
  for (const el of document.querySelectorAll("img[src], script[src]")) {
    refs.push([el.tagName.toLowerCase(), abs(el.getAttribute("src"))]);
  }
  for (const el of document.querySelectorAll("link[href]")) refs.push(["link", abs(el.getAttribute("href"))]);
  return {
    refs: refs.filter((r) => r[1]),
    ids: Array.from(document.querySelectorAll("[id]"), (el) => el.id)
      .concat(Array.from(document.querySelectorAll("a[name]"), (el) => el.getAttribute("name"))),
    math: article.querySelectorAll(".math").length,
    players: document.querySelectorAll(".convbook-player").length,
    solutions: article.querySelectorAll(".solution, .cell.tag_solution").length,
    colabCellShown: article.innerText.includes("google.colab"),
  };
}
"""

#: Wait for every content image (eager-loading lazy ones), then report its natural size.
IMAGES_JS = """
async () => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const imgs = Array.from(article.querySelectorAll("img"));
  await Promise.all(imgs.map((img) => {
    if (img.loading === "lazy") img.loading = "eager";
    if (img.complete) return Promise.resolve();
    return new Promise((resolve) => {
      img.addEventListener("load", resolve, { once: true });
      img.addEventListener("error", resolve, { once: true });
      setTimeout(resolve, 10000);
    });
  }));
  return imgs.map((img) => ({ src: img.currentSrc || img.src, w: img.naturalWidth, h: img.naturalHeight,
                              alt: img.alt || "" }));
}
"""

MATHJAX_JS = """
async () => {
  const t0 = Date.now();
  while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
    if (Date.now() - t0 > 15000) return { loaded: false };
    await new Promise((r) => setTimeout(r, 50));
  }
  await window.MathJax.startup.promise;
  return {
    loaded: true,
    containers: document.querySelectorAll("mjx-container").length,
    errors: Array.from(document.querySelectorAll("mjx-merror"), (e) => e.textContent).slice(0, 5),
  };
}
"""


# --------------------------------------------------------------------------- results


@dataclass
class Report:
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def fail(self, check: str, message: str) -> None:
        self.failures[check].append(message)

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())


@dataclass
class PageInfo:
    path: str  # site-relative, e.g. "chapters/notation.html"
    ids: set[str]
    refs: list[tuple[str, str]]
    images: list[dict]


# --------------------------------------------------------------------------- local server


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class SiteServer:
    """``_build/html`` on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, site: Path):
        handler = functools.partial(_QuietHandler, directory=str(site))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------- helpers


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the built site, site-relative, outside the asset folders."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if rel.parts[0] in ASSET_DIRS:
            continue
        pages.append(rel.as_posix())
    return pages


def chapter_pages(toc: Path) -> list[str]:
    """The first page of each chapter listed in ``_toc.yml`` (the root page too), as site paths."""
    import yaml

    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]
    for part in data.get("parts", []):
        for chapter in part.get("chapters", []):
            if "file" in chapter:
                files.append(chapter["file"])
    return [re.sub(r"\.(md|ipynb|rst)$", "", f) + ".html" for f in files]


def site_path(url: str, origin: str) -> str | None:
    """The site-relative path of a same-origin URL (``index.html`` for folders), else None."""
    if not url.startswith(origin + "/") and url != origin:
        return None
    path = unquote(urlparse(url).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def png_is_opaque(data: bytes) -> bool | None:
    """True when a PNG has no transparent pixel, None when it is not a PNG Pillow can read."""
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception:
        return None
    if img.format != "PNG":
        return None
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        alpha = img.convert("RGBA").getchannel("A")
        return alpha.getextrema()[0] == 255
    return True


def image_bytes(src: str, origin: str, site: Path) -> bytes | None:
    if src.startswith("data:image/png;base64,"):
        return base64.b64decode(src.split(",", 1)[1])
    rel = site_path(src, origin)
    if rel and rel.lower().endswith(".png") and (site / rel).is_file():
        return (site / rel).read_bytes()
    return None


# --------------------------------------------------------------------------- the checks


class SiteChecker:
    def __init__(
        self,
        site: Path,
        toc: Path,
        shots: Path,
        repo: Path,
        report: Report,
        student: bool = False,
        repository: str | None = BOOK_REPOSITORY,
    ):
        self.site, self.toc, self.shots, self.repo, self.report = site, toc, shots, repo, report
        self.student, self.repository = student, repository
        self.pages: dict[str, PageInfo] = {}
        self.external_requests: dict[str, set[str]] = defaultdict(set)
        self.chapters = set(chapter_pages(toc)) if toc.exists() else set()

    # ---- one page
    def visit(self, page, origin: str, rel: str) -> PageInfo | None:
        report, errors, bad_responses = self.report, [], []
        on_error = lambda exc: errors.append(str(exc))  # noqa: E731
        on_response = lambda resp: (  # noqa: E731
            bad_responses.append(f"{resp.status} {resp.url}") if resp.status >= 400 else None
        )
        on_failed = lambda req: (  # noqa: E731
            bad_responses.append(f"failed ({req.failure}) {req.url}") if req.url.startswith(origin) else None
        )
        page.on("pageerror", on_error)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        try:
            resp = page.goto(f"{origin}/{rel}", wait_until="load", timeout=TIMEOUT_MS)
            if resp is None or resp.status != 200:
                report.fail("pages", f"{rel}: HTTP {resp.status if resp else 'no response'}")
                return None
            info = page.evaluate(COLLECT_JS)
            images = page.evaluate(IMAGES_JS)
            if info["math"]:
                self.check_math(page, rel, info["math"])
            elif rel.endswith("notation.html"):
                report.fail("math", f"{rel}: the notation page has no math")
            if rel in self.chapters:  # as a reader first sees it, before any click
                self.screenshot(page, rel)
            self.check_images(rel, images, origin)
            if info["colabCellShown"]:
                report.fail("colab cell", f"{rel}: the Colab install cell is visible; tag it `remove-cell`")
            if info["players"]:
                self.check_players(page, rel)
            if info["solutions"] and self.student:
                self.report.fail(
                    "student edition", f"{rel}: {info['solutions']} solution(s) on a page of the student site"
                )
            elif info["solutions"]:
                self.check_solutions(page, rel)
                self.check_solution_cells(page, rel)
            self.check_buttons(page, rel)
            page.wait_for_timeout(50)  # let late resource errors arrive
        except Exception as exc:  # a timeout or a crash on one page must not hide the others
            report.fail("pages", f"{rel}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return None
        finally:
            page.remove_listener("pageerror", on_error)
            page.remove_listener("response", on_response)
            page.remove_listener("requestfailed", on_failed)
        for message in errors:
            if not any(known in message for known in KNOWN_PAGE_ERRORS):
                report.fail("javascript", f"{rel}: uncaught error: {message.splitlines()[0]}")
        for line in bad_responses:
            report.fail("resources", f"{rel}: {line.replace(origin, '')}")
        report.counts["pages"] += 1
        return PageInfo(rel, set(info["ids"]), [tuple(r) for r in info["refs"]], images)

    def check_images(self, rel: str, images: list[dict], origin: str) -> None:
        for img in images:
            self.report.counts["images"] += 1
            shown = img["src"] if not img["src"].startswith("data:") else f"data URI ({img['alt'] or 'no alt'})"
            if img["w"] <= 0:
                self.report.fail("images", f"{rel}: image did not load: {shown.replace(origin, '')}")
                continue
            data = image_bytes(img["src"], origin, self.site)
            if data is None:
                continue
            opaque = png_is_opaque(data)
            if opaque is None:
                continue
            self.report.counts["png figures checked for opacity"] += 1
            if not opaque:
                self.report.fail(
                    "dark mode",
                    f"{rel}: transparent PNG {shown.replace(origin, '')}: unreadable in dark mode, "
                    "draw it on an opaque white background (use_book_style())",
                )

    def check_math(self, page, rel: str, n_math: int) -> None:
        result = page.evaluate(MATHJAX_JS)
        if not result["loaded"]:
            self.report.fail("math", f"{rel}: MathJax did not load (is it served from _static/mathjax?)")
            return
        self.report.counts["pages with math"] += 1
        self.report.counts["math elements typeset"] += result["containers"]
        if result["containers"] < max(n_math, 1):
            self.report.fail("math", f"{rel}: {n_math} math element(s) but {result['containers']} mjx-container(s)")
        for text in result["errors"]:
            self.report.fail("math", f"{rel}: TeX error: {text[:80]}")

    def check_players(self, page, rel: str) -> None:
        players = page.locator(".convbook-player")
        for index in range(players.count()):
            player = players.nth(index)
            self.report.counts["animation players"] += 1
            try:
                player.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
                before = player.get_attribute("data-frame")
                player.locator('[data-act="play"]').click(timeout=TIMEOUT_MS)
                handle = player.element_handle()
                page.wait_for_function(
                    "([el, before]) => el.getAttribute('data-frame') !== before", arg=[handle, before], timeout=10_000
                )
                player.locator('[data-act="play"]').click(timeout=TIMEOUT_MS)  # pause again
                width = player.locator("img").first.evaluate("(img) => img.naturalWidth")
                if not width:
                    self.report.fail("animation", f"{rel}: player {index + 1}: frame image has no pixels")
            except Exception as exc:
                self.report.fail(
                    "animation", f"{rel}: player {index + 1} did not advance when played: {str(exc).splitlines()[0]}"
                )

    def check_solutions(self, page, rel: str) -> None:
        solutions = page.locator("article .solution")
        for index in range(solutions.count()):
            sol = solutions.nth(index)
            self.report.counts["solutions"] += 1
            label = f"{rel}: solution {index + 1}"
            try:
                classes = (sol.get_attribute("class") or "").split()
                body = sol.locator(":scope > :not(.admonition-title)").first
                if "dropdown" not in classes:
                    self.report.fail("solutions", f"{label} is not a dropdown (add `:class: dropdown`)")
                    continue
                sol.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
                if body.count() == 0:
                    self.report.fail("solutions", f"{label} has no body")
                    continue
                if body.is_visible():
                    self.report.fail("solutions", f"{label} is visible before it is clicked")
                    continue
                sol.locator(".admonition-title").first.click(timeout=TIMEOUT_MS)
                body.wait_for(state="visible", timeout=5_000)
            except Exception as exc:
                self.report.fail("solutions", f"{label}: not shown after a click: {str(exc).splitlines()[0]}")

    def check_solution_cells(self, page, rel: str) -> None:
        """Code cells tagged ``solution`` are folded (a toggle) until their summary is clicked."""
        cells = page.locator("article .cell.tag_solution")
        for index in range(cells.count()):
            cell = cells.nth(index)
            self.report.counts["solution code cells"] += 1
            label = f"{rel}: solution code cell {index + 1}"
            try:
                if cell.is_visible():
                    self.report.fail("solutions", f"{label} is visible before it is clicked")
                    continue
                summary = cell.locator("xpath=ancestor::details[1]/summary")
                if summary.count() == 0:
                    self.report.fail("solutions", f"{label} is hidden but has no toggle to show it")
                    continue
                summary.first.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
                summary.first.click(timeout=TIMEOUT_MS)
                cell.wait_for(state="visible", timeout=5_000)
            except Exception as exc:
                self.report.fail("solutions", f"{label}: not shown after a click: {str(exc).splitlines()[0]}")

    def check_buttons(self, page, rel: str) -> None:
        """Download link on every content page; launch buttons on notebook pages."""
        if rel in {"genindex.html", "search.html"}:
            return
        stem = rel[: -len(".html")]
        hrefs = page.eval_on_selector_all("a[href]", "(els) => els.map((a) => a.href)")
        if not any(f"/_sources/{stem}." in h for h in hrefs):
            self.report.fail("buttons", f"{rel}: no download link to the page's source")
        if self.repository and not any(h.rstrip("/") == self.repository for h in hrefs):
            self.report.fail("buttons", f"{rel}: no repository link to {self.repository}")
        if self.student and self.repository != BOOK_REPOSITORY:
            leaks = sorted({h for h in hrefs if BOOK_REPOSITORY in h})
            if leaks:
                self.report.fail(
                    "student edition",
                    f"{rel}: links to the book's repository, which has the solutions: " + ", ".join(leaks[:3]),
                )
        if (self.site / "_sources" / f"{stem}.ipynb").exists() and self.student and not self.repository:
            self.report.counts["notebook pages"] += 1
            launch = [h for h in hrefs if "colab.research.google.com" in h or "mybinder.org" in h]
            if launch:
                self.report.fail("buttons", f"{rel}: launch buttons without a class repository: {launch[0]}")
            self.check_colab_cell(rel, self.repo / f"{stem}.ipynb")
        elif (self.site / "_sources" / f"{stem}.ipynb").exists():
            self.report.counts["notebook pages"] += 1
            for name, pattern in [
                (
                    "Colab",
                    rf"^https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/({re.escape(stem)}\.ipynb)$",
                ),
                (
                    "Binder",
                    rf"^https://mybinder\.org/v2/gh/[^/]+/[^/]+/[^?]+\?urlpath=tree/({re.escape(stem)}\.ipynb)$",
                ),
            ]:
                match = [m for m in (re.match(pattern, h) for h in hrefs) if m]
                if not match:
                    self.report.fail("buttons", f"{rel}: no {name} launch button")
                elif not (self.repo / match[0].group(1)).exists():
                    self.report.fail("buttons", f"{rel}: {name} opens {match[0].group(1)}, not in the repository")
            self.check_colab_cell(rel, self.repo / f"{stem}.ipynb")

    def check_colab_cell(self, rel: str, notebook: Path) -> None:
        """The notebook's first cell installs convbook on Colab only, and is hidden on the site."""
        if not notebook.exists():
            return
        cells = json.loads(notebook.read_text()).get("cells", [])
        first = cells[0] if cells else {}
        source = "".join(first.get("source", ""))
        tags = first.get("metadata", {}).get("tags", [])
        if first.get("cell_type") != "code" or "google.colab" not in source or "pip" not in source:
            self.report.fail("colab cell", f"{rel}: first cell of {notebook.name} does not install convbook on Colab")
        elif "remove-cell" not in tags:
            self.report.fail("colab cell", f"{rel}: the Colab cell of {notebook.name} is not tagged remove-cell")
        else:
            self.report.counts["colab cells checked"] += 1

    def screenshot(self, page, rel: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        name = rel[: -len(".html")].replace("/", "__") + ".png"
        page.screenshot(path=str(self.shots / name))
        self.report.counts["screenshots"] += 1

    # ---- whole site
    def scan_for_solutions(self) -> None:
        """Every file of the student site: no text of a solution (or of its output), no PASS of a self-check."""
        import html as html_lib

        sys.path.insert(0, str(ROOT / "scripts"))
        import course_notebooks

        fingerprints = course_notebooks.solution_fingerprints(ROOT)
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
            flat = course_notebooks.normalize(text)
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


def print_summary(report: Report, seconds: float, shots: Path) -> None:
    print()
    print("Browser check of the site " + ("PASSED" if report.ok else "FAILED") + f" in {seconds:.0f} s")
    order = ["pages", "links checked", "anchors checked", "images", "png figures checked for opacity"]
    keys = order + sorted(k for k in report.counts if k not in order)
    for key in keys:
        print(f"  {key:<34} {report.counts.get(key, 0)}")
    print(f"  screenshots in {shots}")
    for note in report.notes:
        print(f"  note: {note}")
    for check, messages in report.failures.items():
        if not messages:
            continue
        print(f"\nFAILED {check} ({len(messages)}):")
        for message in messages[:25]:
            print(f"  - {message}")
        if len(messages) > 25:
            print(f"  ... and {len(messages) - 25} more")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site")
    parser.add_argument("--toc", type=Path, default=None, help="_toc.yml (default: next to the site's _build)")
    parser.add_argument("--screenshots", type=Path, default=None, help="default: _build/screenshots next to the site")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--student", action="store_true", help="check the student edition (make student-site)")
    parser.add_argument(
        "--repository",
        default=None,
        help="the repository the buttons must link to (default: the book's; none with --student)",
    )
    args = parser.parse_args(argv)
    site = args.site.resolve()
    book = site.parent.parent  # <book>/_build/html
    toc = args.toc or book / "_toc.yml"
    shots = args.screenshots or site.parent / "screenshots"
    if not args.chromium.exists():
        print(f"check_site: {INSTALL_HINT}", file=sys.stderr)
        return 2
    if not (site / "index.html").exists():
        print(f"check_site: {site}/index.html is missing: build the site first with `make build`", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    report, start = Report(), time.perf_counter()
    with SiteServer(site) as server, sync_playwright() as pw:
        print(f"serving {site} at {server.origin}; browser {args.chromium}")
        browser = pw.chromium.launch(executable_path=str(args.chromium), headless=True, args=LAUNCH_ARGS)
        try:
            repository = args.repository or (None if args.student else BOOK_REPOSITORY)
            SiteChecker(site, toc, shots, book, report, args.student, repository).run(browser, server.origin)
        finally:
            browser.close()
    print_summary(report, time.perf_counter() - start, shots)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
