"""The PDF edition: the whole book in one PDF, made offline with Debian's chromium.

    python -m convbook.course pdf                 # what `make pdf` runs: build, print, check
    python -m convbook.course pdf --check-only    # check an existing _build/pdf/convbook.pdf

1. Build the single-page HTML edition with Sphinx's ``singlehtml`` builder into ``_build/pdf/`` (its own folder and
   doctrees, so it never races ``make build``), failing on any warning as ``make build`` does.
2. Serve it on 127.0.0.1 and open it in headless ``/usr/bin/chromium`` (driven by Playwright; Playwright's own
   browser download, which Jupyter Book's ``pdfhtml`` builder needs, is not used). Before printing: every lazy image
   is loaded, MathJax (served from the site by sphinx-mathjax-offline) has typeset every formula, every explorer has
   drawn itself, every solution dropdown is opened, and print CSS wraps long code lines, shows each animation as its
   first frame without its buttons, and starts every chapter and section on a new page.
3. Print with ``page.pdf()`` (A4, page numbers in the footer) to ``_build/pdf/convbook.pdf``.
4. Check the PDF with pypdf (:func:`check_pdf`): its page count, every chapter's and section's title in its text and
   at the top of a page, its images, typeset math (MathJax's fonts, no raw TeX left), and no line of code wider than
   its box (measured in the page before printing).

Exit status 0 when the PDF was written and passed every check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright
from pypdf import PdfReader

from convbook.course.build import jupyter_book_build, report_failure
from convbook.course.site.server import CHROMIUM, SiteServer, launch_chromium

PDF_NAME = "convbook.pdf"
#: Raw TeX that must not survive into the PDF's text: MathJax replaces every formula it typesets.
RAW_TEX = re.compile(r"\\(frac|text|mathbf|mathrm|sum|cdot|times|left|right|begin|end)\b|\$\$|\\\(|\\\[")

#: Print CSS: the page content only, wrapped code, animations as their first frame, chapters on new pages.
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
/* code: wrap long lines instead of cutting them at the margin */
pre, pre code, .highlight pre, div.cell_output pre, .output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word !important;
  overflow: visible !important; max-height: none !important; }
div.highlight, .cell_output, .output { overflow: visible !important; max-height: none !important; }
table { font-size: 0.85em; }
.pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
img, canvas, svg { max-width: 100% !important; }
.cx-canvas { height: auto !important; }
figure, img, .convbook-player, .admonition, table { break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
details > summary { list-style: none; }
"""

#: Everything dynamic settles before printing: images, MathJax, explorers, dropdowns.
SETTLE_JS = """
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
    preCut: pres.filter((p) => p.scrollWidth > p.clientWidth + 1).map((p) => p.textContent.slice(0, 60)),
    documents: Array.from(document.querySelectorAll('span[id^="document-"]'), (s) => s.id.slice(9)),
  };
}
"""


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


def normalize(text: str) -> str:
    """Text for comparison: NFKC (ligatures, × stays), curly quotes straightened, dashes unified, one space."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"), ("\u00ad", "")):
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip().lower()


# --------------------------------------------------------------------------- the check


@dataclass
class PdfReport:
    pages: int = 0
    images: int = 0
    math_fonts: int = 0
    titles_found: int = 0
    titles_on_new_page: int = 0
    fonts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_pdf(path: Path, titles: list[str], min_pages: int, min_images: int, math: bool = True) -> PdfReport:
    """Read the PDF back and check what the edition promises.

    Parameters
    ----------
    path : the PDF.
    titles : every title that must appear in the text, each at the top of a page (a new page per chapter).
    min_pages : at least this many pages (one per title, at least).
    min_images : at least this many embedded images (the book's figures).
    math : require MathJax's fonts (typeset math) and no raw TeX in the text.
    """
    report = PdfReport()
    try:
        reader = PdfReader(str(path))
        pages = reader.pages
        report.pages = len(pages)
    except Exception as exc:  # not a PDF, truncated, missing
        report.problems.append(f"{path}: cannot be read as a PDF: {exc}")
        return report
    if report.pages < min_pages:
        report.problems.append(f"{report.pages} pages, expected at least {min_pages}")
    texts, fonts = [], set()
    for page in pages:
        texts.append(normalize(page.extract_text() or ""))
        report.images += len(page.images)
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            name = font.get("/BaseFont") or (descriptor.get_object().get("/FontName") if descriptor else "")
            fonts.add(str(name))  # Type3 fonts (Chromium's web fonts) are named in their descriptor
    whole = " ".join(texts)
    # the first lines of each page; a bibliography's "[1] [2] ..." label column is extracted before its text
    tops = [re.sub(r"^(\[\d+\]\s*)+", "", t)[:160] for t in texts]
    last = -1  # titles start pages in reading order: each after the page of the one before
    for title in titles:
        want = normalize(title)
        if want not in whole:
            report.problems.append(f"title not in the text: {title!r}")
            continue
        report.titles_found += 1
        starts = [i for i, top in enumerate(tops) if top.startswith(want) and i > last]
        if starts:
            report.titles_on_new_page += 1
            last = starts[0]
        else:
            report.problems.append(f"title not at the top of a page after page {last + 1}: {title!r}")
    if report.images < min_images:
        report.problems.append(f"{report.images} images, expected at least {min_images}")
    if math:
        report.math_fonts = sum("MJX" in f.upper() or "MATHJAX" in f.upper() for f in fonts)
        report.fonts = sorted(fonts)
        if report.math_fonts == 0:
            report.problems.append("no MathJax font in the PDF: the math was not typeset")
        raw = RAW_TEX.search(whole)
        if raw:
            at = whole[max(0, raw.start() - 40) : raw.end() + 40]
            report.problems.append(f"raw TeX in the text (math not typeset): ...{at}...")
    return report


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


def print_pdf(site: Path, pdf: Path, chromium: Path) -> dict:
    """Open the single page in chromium, let it settle, print it; return what the page reported."""
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
            info = page.evaluate(SETTLE_JS)
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
        info = print_pdf(site, pdf, args.chromium)
        (out / "print-report.json").write_text(json.dumps(info, indent=1))
        print(
            f"singlehtml built in {built - start:.0f} s, printed in {time.perf_counter() - built:.0f} s: "
            f"{info['images']} images, {info['typeset']} formulas typeset ({info['math']} math elements), "
            f"{info['explorers']} explorers ({info['explorersReady']} drawn), {info['players']} animations, "
            f"{info['pre']} code blocks"
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
    report = check_pdf(pdf, titles, min_pages=len(titles), min_images=min_images)
    problems += report.problems
    size = pdf.stat().st_size / 1e6 if pdf.exists() else 0
    print(
        f"{pdf.relative_to(root) if pdf.is_relative_to(root) else pdf}: {report.pages} pages, {size:.1f} MB, "
        f"{report.images} images, {report.titles_found}/{len(titles)} titles found, "
        f"{report.titles_on_new_page} at the top of a page, {report.math_fonts} MathJax fonts; "
        f"{time.perf_counter() - start:.0f} s in all"
    )
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print("PDF edition " + ("PASSED" if not problems else "FAILED"))
    return 0 if not problems else 1
