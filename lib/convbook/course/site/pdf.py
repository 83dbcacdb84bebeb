"""The PDF edition: the whole book in one PDF, made offline with Debian's chromium.

    python -m convbook.course pdf                 # what `make pdf` runs: build, print, check
    python -m convbook.course pdf --check-only    # check an existing _build/pdf/convbook.pdf

1. Build the single-page HTML edition with Sphinx's ``singlehtml`` builder into ``_build/pdf/`` (its own folder and
   doctrees, so it never races ``make build``), failing on any warning as ``make build`` does.
2. Serve it on 127.0.0.1 and open it in headless ``/usr/bin/chromium`` (driven by Playwright; Playwright's own
   browser download, which Jupyter Book's ``pdfhtml`` builder needs, is not used). Before printing: every lazy image
   is loaded, MathJax (served from the site by sphinx-mathjax-offline) has typeset every formula, every explorer has
   drawn itself, every solution dropdown is opened, a title page naming the edition (``convbook._release``) is put
   first, and print CSS wraps long lines of code, keeps output blocks unwrapped (each output block too wide for the
   page is set in a smaller font until it fits, so a table row stays on one line), keeps a code cell that fits on a
   page in one piece (a split cell left an empty framed box at the bottom of a page), shows each animation as its
   first frame without its buttons, and starts every chapter and section on a new page.
3. Print with ``page.pdf()`` (A4, page numbers in the footer) to ``_build/pdf/convbook.pdf``, tagged (a structure
   tree for screen readers), with an outline (bookmarks from the headings) and the page's language (``<html lang>``).
4. Check the PDF (:func:`convbook.course.site.pdf_check.check_pdf`): its page count, every chapter's and section's
   title in its text, at the top of a page and in the outline, tags and language, the version on the title page,
   its images, typeset math, no wrapped output row and no page ending in an empty box; and, measured in the page
   before printing, no line of code wider than its box.

Exit status 0 when the PDF was written and passed every check.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

from convbook._release import REPOSITORY, TAG, VERSION
from convbook.course.build import jupyter_book_build, report_failure
from convbook.course.site.pdf_check import check_pdf, css_problems
from convbook.course.site.server import CHROMIUM, SiteServer, launch_chromium

PDF_NAME = "convbook.pdf"
#: Where the other editions are: every tag is one (the title page and the site's footer point here).
RELEASES = f"{REPOSITORY}/tags"

#: Print CSS: the page content only, code cells whole, output rows unwrapped, animations as their first frame,
#: chapters on new pages. ``pdf_check.css_problems`` checks the rules that the PDF's own checks rely on.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
html, body { background: #fff !important; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-area, .skip-link, .search-button-field, #pst-back-to-top, .headerlink,
.toggle-button, .copybtn, .convbook-player button, .convbook-player input, .convbook-player .frame-label,
.header-article-items, .pst-scrollable-table-container::after { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width, .bd-container, .bd-container__inner {
  max-width: none !important; width: auto !important; margin: 0 !important; padding: 0 !important;
  display: block !important; }
/* a new page for every chapter and section (Sphinx's singlehtml marks each document with an anchor) */
span[id^="document-"] { display: block; break-before: page; page-break-before: always; height: 0; }
span[id="document-index"] { break-before: auto; page-break-before: auto; }
/* the title page (TITLE_PAGE_JS) */
.convbook-title-page { break-after: page; page-break-after: always; text-align: center; padding-top: 28vh; }
.convbook-title-page .title { font-size: 2.1em; font-weight: 600; line-height: 1.25; margin-bottom: 1.2em; }
.convbook-title-page p { margin: 0.5em 0; }
.convbook-title-page .version { font-size: 1.25em; }
/* code: wrap long lines of source instead of cutting them at the margin */
pre, pre code, .highlight pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word !important;
  overflow: visible !important; max-height: none !important; }
/* outputs: never wrapped (a table row broken in two is unreadable); FIT_OUTPUTS_JS shrinks the wide ones */
.cell_output pre, .cell_output .output pre, .output pre {
  white-space: pre !important; overflow-wrap: normal !important; word-break: normal !important;
  overflow: visible !important; max-height: none !important; font-size: 0.8em; }
div.highlight, .cell_output, .output { overflow: visible !important; max-height: none !important; }
/* a code cell (or one output block) that fits on a page is never split: the theme keeps a <pre> whole, and a cell
   whose <pre> moved to the next page left its empty frame at the bottom of this one. A longer cell still splits,
   between lines, with text on both sides of the break. */
div.cell_input, div.cell_output .output { break-inside: avoid; page-break-inside: avoid; }
/* the theme's wrappers inside a cell also avoid breaks, so a cell taller than a page pushed its code to the next
   page and left a page-high empty frame behind: inside the cell the code may break anywhere between lines */
div.cell_input > div, div.cell_input div.highlight, div.cell_output div.highlight, div.cell_input pre {
  display: block !important; break-inside: auto !important; page-break-inside: auto !important; }
table { font-size: 0.85em; }
.pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
img, canvas, svg { max-width: 100% !important; }
.cx-canvas { height: auto !important; }
figure, img, .convbook-player, .admonition, table { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
details > summary { list-style: none; }
/* folded cells (myst-nb's hide-input wraps them in <details class="admonition hide">) print open, without the box and
   its toggle label, and break like any cell: the box could not split and left an empty frame at a page's foot */
details.hide { border: none !important; box-shadow: none !important; padding: 0 !important; margin: 0 !important;
  background: none !important; break-inside: auto !important; page-break-inside: auto !important; }
details.hide > summary { display: none !important; }
/* a solution that holds code cells, and an explorer, can be taller than what is left of a page: they break like
   text (their cells still keep their own lines together), and print without a frame, which would otherwise stand
   empty at the page's foot where a cell moved on to the next page; the solution keeps its title */
div.solution, div.admonition:has(div.cell), div[data-explorer], div[data-explorer] * { break-inside: auto !important;
  page-break-inside: auto !important; }
div.solution, div.admonition:has(div.cell), div[data-explorer] { border: none !important; box-shadow: none !important;
  background: none !important; }
"""

#: The title page, first in the article: the book, its version (the tag to cite and to install), where the others are.
TITLE_PAGE_JS = """
(html) => {
  const article = document.querySelector("article.bd-article") || document.body;
  const page = document.createElement("div");
  page.className = "convbook-title-page";
  page.innerHTML = html;
  // before Sphinx's print-only title and contents (singlehtml's ".onlyprint"), else first in the article
  const first = document.querySelector(".onlyprint") || article.firstChild;
  first.parentNode.insertBefore(page, first);
  if (!document.documentElement.lang) document.documentElement.lang = "en";
  return document.documentElement.lang;
}
"""

#: Output blocks wider than their box get a smaller font, step by step, down to 5 px (about 3.8 pt); a block that
#: still does not fit (a very wide table) wraps as before, and is counted: the PDF's check then looks for rows
#: broken in two in its text.
FIT_OUTPUTS_JS = """
() => {
  const result = { fitted: 0, wrapped: [] };
  for (const pre of document.querySelectorAll(".cell_output pre, .output pre")) {
    let size = parseFloat(getComputedStyle(pre).fontSize);
    if (pre.scrollWidth <= pre.clientWidth + 1) continue;
    while (pre.scrollWidth > pre.clientWidth + 1 && size > 5) {
      size = Math.max(5, size * Math.min(0.95, (pre.clientWidth - 2) / pre.scrollWidth));
      pre.style.setProperty("font-size", size + "px", "important");
    }
    result.fitted += 1;
    if (pre.scrollWidth > pre.clientWidth + 1) {
      pre.style.setProperty("white-space", "pre-wrap", "important");
      pre.style.setProperty("overflow-wrap", "anywhere", "important");
      result.wrapped.push(pre.textContent.slice(0, 60));
    }
  }
  return result;
}
"""

#: Everything dynamic settles before printing: images, MathJax, explorers, dropdowns.
SETTLE_JS = (
    """
async () => {
  for (const d of document.querySelectorAll("details")) d.open = true;
  for (const e of document.querySelectorAll(".toggle-hidden")) e.classList.remove("toggle-hidden");
  const imgs = Array.from(document.images);
  for (const img of imgs) if (img.loading === "lazy") img.loading = "eager";
  await Promise.all(imgs.map((img) => img.complete ? null : new Promise((ok) => {
    img.addEventListener("load", ok, { once: true }); img.addEventListener("error", ok, { once: true });
    setTimeout(ok, 15000);
  })));
  const t0 = Date.now();
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() - t0 > 30000) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
    if (MathJax.typesetPromise) await MathJax.typesetPromise();
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const fitted = (FIT_OUTPUTS)();
  const article = document.querySelector("article.bd-article") || document.body;
  const pres = Array.from(article.querySelectorAll("pre"));
  return {
    images: imgs.filter((i) => i.naturalWidth > 0 && i.closest("article")).length,
    brokenImages: imgs.filter((i) => i.closest("article") && i.naturalWidth === 0).map((i) => i.src.slice(0, 80)),
    math: article.querySelectorAll(".math").length,
    typeset: document.querySelectorAll("mjx-container").length,
    texErrors: document.querySelectorAll("mjx-merror").length,
    explorers: document.querySelectorAll("[data-explorer]").length,
    explorersReady: document.querySelectorAll("[data-explorer][data-ready]").length,
    players: document.querySelectorAll(".convbook-player").length,
    pre: pres.length,
    fitted: fitted.fitted,
    wrappedOutputs: fitted.wrapped,
    preCut: pres.filter((p) => p.scrollWidth > p.clientWidth + 1).map((p) => p.textContent.slice(0, 60)),
    documents: Array.from(document.querySelectorAll('span[id^="document-"]'), (s) => s.id.slice(9)),
  };
}
"""
).replace("(FIT_OUTPUTS)", f"({FIT_OUTPUTS_JS.strip()})")


# --------------------------------------------------------------------------- titles


def toc_documents(toc: Path) -> list[str]:
    """Every document of the book in reading order (root, chapters, globbed sections), as paths without suffix."""
    data = yaml.safe_load(toc.read_text())
    docs = [data["root"]]
    for part in data.get("parts", []):
        for chapter in part.get("chapters", []):
            docs.append(chapter["file"])
            for section in chapter.get("sections", []):
                if "file" in section:
                    docs.append(section["file"])
                elif "glob" in section:
                    matches = sorted(toc.parent.glob(section["glob"] + ".*"))
                    docs.extend(str(m.relative_to(toc.parent).with_suffix("")) for m in matches)
    return [re.sub(r"\.(md|ipynb)$", "", d) for d in docs]


def document_title(root: Path, doc: str) -> str:
    """The first level-1 heading of a MyST page or notebook, as plain text (math, code and links unwrapped)."""
    md, nb = root / f"{doc}.md", root / f"{doc}.ipynb"
    if md.exists():
        lines = md.read_text(encoding="utf-8").splitlines()
    elif nb.exists():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        lines = [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()]
    else:
        raise FileNotFoundError(f"{doc}: neither {md.name} nor {nb.name} exists")
    for line in lines:
        if line.startswith("# "):
            return plain(line[2:])
    raise ValueError(f"{doc}: no level-1 heading")


def plain(text: str) -> str:
    """Markdown heading text as a reader sees it: no backticks, emphasis, links or $...$ math markers."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\{[a-z]+\}`([^`]*)`", r"\1", text)
    return text.replace("`", "").replace("*", "").replace("$", "").strip()


# --------------------------------------------------------------------------- build and print


def build_singlehtml(root: Path, out_dir: Path) -> Path:
    """Sphinx's singlehtml build of the book at ``root`` into ``out_dir/_build/singlehtml``; fails on any warning."""
    code, warnings = jupyter_book_build(root, out_dir, builder="singlehtml", show=3000)
    if report_failure("pdf: the singlehtml build", code, warnings):
        raise SystemExit(f"pdf: the singlehtml build failed (exit {code}, {len(warnings)} warnings)")
    index = out_dir / "_build" / "singlehtml" / "index.html"
    if not index.exists():
        raise SystemExit(f"pdf: {index} is missing after the build")
    return index.parent


def title_page(root: Path) -> str:
    """The title page's HTML: the book's title and author (``_config.yml``), its version and tag
    (``convbook._release``), and where the other versions are."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))
    title, author = html.escape(str(config["title"])), html.escape(str(config.get("author", "")))
    return (
        f'<div class="title">{title}</div><p>{author}</p>'
        f'<p class="version">Version {VERSION}</p>'
        f"<p>This PDF is the edition tagged <code>{TAG}</code> in {REPOSITORY}.<br>"
        f"Other versions: {RELEASES}; what changed between them: CHANGELOG.md.<br>"
        "How to cite it: CITATION.cff and the README.</p>"
    )


def print_pdf(site: Path, pdf: Path, chromium: Path, title_html: str = "") -> dict:
    """Open the single page in chromium, put ``title_html`` first as a title page, let it settle, print it (tagged,
    with an outline); return what the page reported."""
    external: list[str] = []
    with SiteServer(site) as server, sync_playwright() as pw:
        origin = server.origin
        browser = launch_chromium(pw, chromium)
        try:
            # about the printable width of A4 at 96 dpi, so that the explorers draw for the page they print on
            context = browser.new_context(viewport={"width": 700, "height": 1000})

            def block(route):
                external.append(route.request.url)
                route.abort()

            context.route(lambda url: not url.startswith(origin), block)
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.emulate_media(media="print")
            page.goto(f"{origin}/index.html", wait_until="load")
            page.add_style_tag(content=PRINT_CSS)
            language = page.evaluate(TITLE_PAGE_JS, title_html) if title_html else ""
            info = page.evaluate(SETTLE_JS)
            info["language"] = language
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<div></div>",
                footer_template=(
                    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
                    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
                ),
                margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
                prefer_css_page_size=False,
                tagged=True,  # a structure tree: screen readers read headings, paragraphs, tables, figures
                outline=True,  # bookmarks from the headings: every chapter and section
            )
        finally:
            browser.close()
    info["external"] = sorted(set(external))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default ROOT/_build/pdf)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    parser.add_argument("--check-only", action="store_true", help="only check an existing PDF")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "_build" / "pdf").resolve()
    pdf = out / PDF_NAME
    docs = toc_documents(root / "_toc.yml")
    titles = [document_title(root, d) for d in docs]
    start = time.perf_counter()
    problems: list[str] = []
    if not args.check_only:
        if not args.chromium.exists():
            print(f"pdf: {args.chromium} is missing: sudo apt-get install -y chromium", file=sys.stderr)
            return 2
        out.mkdir(parents=True, exist_ok=True)
        site = build_singlehtml(root, out)
        built = time.perf_counter()
        info = print_pdf(site, pdf, args.chromium, title_page(root))
        (out / "print-report.json").write_text(json.dumps(info, indent=1))
        print(
            f"singlehtml built in {built - start:.0f} s, printed in {time.perf_counter() - built:.0f} s: "
            f"{info['images']} images, {info['typeset']} formulas typeset ({info['math']} math elements), "
            f"{info['explorers']} explorers ({info['explorersReady']} drawn), {info['players']} animations, "
            f"{info['pre']} code blocks ({info['fitted']} output blocks set smaller to fit the page, "
            f"{len(info['wrappedOutputs'])} too wide even so, wrapped)"
        )
        if info["brokenImages"]:
            problems.append(f"images that did not load: {info['brokenImages'][:5]}")
        if info["typeset"] < info["math"] or info["texErrors"]:
            problems.append(f"MathJax typeset {info['typeset']} of {info['math']} formulas, {info['texErrors']} errors")
        if info["explorersReady"] < info["explorers"]:
            problems.append(f"{info['explorers'] - info['explorersReady']} explorer(s) did not draw")
        if info["preCut"]:
            problems.append(f"{len(info['preCut'])} code block(s) wider than the page: {info['preCut'][:3]}")
        if info["external"]:
            problems.append(f"the page asked the network for: {info['external'][:5]}")
        missing = [d for d in docs if d not in info["documents"] and d != docs[0]]
        if missing:
            problems.append(f"documents missing from the singlehtml build: {missing}")
        min_images = info["images"]
    else:
        report_file = out / "print-report.json"
        min_images = json.loads(report_file.read_text())["images"] if report_file.exists() else 1
    problems += css_problems(PRINT_CSS)
    report = check_pdf(pdf, titles, min_pages=len(titles) + 1, min_images=min_images, version=VERSION)
    problems += report.problems
    size = pdf.stat().st_size / 1e6 if pdf.exists() else 0
    print(
        f"{pdf.relative_to(root) if pdf.is_relative_to(root) else pdf}: {report.pages} pages, {size:.1f} MB, "
        f"{report.images} images, {report.titles_found}/{len(titles)} titles found, "
        f"{report.titles_on_new_page} at the top of a page, {report.math_fonts} MathJax fonts; "
        f"tagged: {'yes' if report.tagged else 'no'}, language {report.language or 'none'}, "
        f"{report.outline_entries} outline entries ({report.titles_in_outline}/{len(titles)} titles), "
        f"{report.wrapped_rows} wrapped output rows, {len(report.empty_boxes)} pages ending in an empty box; "
        f"{time.perf_counter() - start:.0f} s in all"
    )
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print("PDF edition " + ("PASSED" if not problems else "FAILED"))
    return 0 if not problems else 1
