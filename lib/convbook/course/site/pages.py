"""The checks of one page of the built site, in the browser: what :class:`PageChecker.visit` finds on a page.

Resources and JavaScript errors, math typeset by MathJax, images (loaded, PNG figures opaque for dark mode),
animation players, solutions folded until clicked (or absent, on the student edition), the download, repository
and launch buttons, the hidden Colab install cell, and a screenshot of each chapter's first page.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import yaml
from PIL import Image

from convbook.course.site.report import PageInfo, Report
from convbook.course.site.server import KNOWN_PAGE_ERRORS, site_path

BOOK_REPOSITORY = "https://github.com/convbook/convbook"
#: Folders of the built site that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads"}
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
    data = yaml.safe_load(toc.read_text())
    files = [data["root"]]
    for part in data.get("parts", []):
        for chapter in part.get("chapters", []):
            if "file" in chapter:
                files.append(chapter["file"])
    return [re.sub(r"\.(md|ipynb|rst)$", "", f) + ".html" for f in files]


def png_is_opaque(data: bytes) -> bool | None:
    """True when a PNG has no transparent pixel, None when it is not a PNG Pillow can read."""
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


#: XPath test for an element whose classes include ``solution`` (a sphinx-exercise solution admonition).
_HAS_CLASS_SOLUTION = "contains(concat(' ', normalize-space(@class), ' '), ' solution ')"


class PageChecker:
    """The checks of one page; :class:`convbook.course.site.check.SiteChecker` crawls the site with them."""

    def __init__(
        self,
        site: Path,
        toc: Path,
        shots: Path,
        repo: Path,
        report: Report,
        student: bool = False,
        repository: str | None = BOOK_REPOSITORY,
        book: Path | None = None,
    ):
        """``repo``: the sources the site was built from (the student book's, for the student edition); ``book``:
        the book's repository, whose solutions the student edition must not hold (needed with ``student``)."""
        if student and book is None:
            raise ValueError("PageChecker: book must be the book's repository when student is True (its solutions)")
        self.site, self.toc, self.shots, self.repo, self.report = site, toc, shots, repo, report
        self.student, self.repository, self.book = student, repository, book
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
        """Code cells tagged ``solution`` are folded (a toggle) until their summary is clicked; inside a gated
        solution, the solution's own dropdown folds them (checked by :meth:`check_solutions`, which opens it)."""
        cells = page.locator("article .cell.tag_solution")
        for index in range(cells.count()):
            cell = cells.nth(index)
            self.report.counts["solution code cells"] += 1
            label = f"{rel}: solution code cell {index + 1}"
            try:
                gated = cell.locator(f"xpath=ancestor::div[{_HAS_CLASS_SOLUTION}]")
                if gated.count():  # inside its solution's one dropdown, hidden and opened by check_solutions
                    if not cell.is_visible():
                        self.report.fail("solutions", f"{label} is not shown when its solution is opened")
                    continue
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
