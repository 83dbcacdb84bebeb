"""The PDF edition's check: read the printed book back and test what the edition promises.

:func:`check_pdf` is what ``make pdf`` runs after printing (``python -m convbook.course pdf``), and
``python -m convbook.course pdf --check-only`` on an existing PDF. It checks, with pypdf and pypdfium2 (both pinned
in requirements.txt):

* the page count, every chapter's and section's title in the text and at the top of a page, in reading order;
* the embedded images, and typeset math (MathJax's fonts, no raw TeX left in the text);
* **accessibility** (issue 21): the PDF is tagged (a structure tree, ``/MarkInfo /Marked true``: what ``pdfinfo``
  reports as ``Tagged: yes``), has an outline (bookmarks) with an entry for every chapter and section, and a document
  language (``/Lang``);
* the title page names the edition's version (``convbook._release.VERSION``);
* **no wrapped output row**: a printed table row continued on the next line leaves a line that starts with the
  ``+- 0.002`` of a "mean +- sd" cell, or a line that ends in a dangling ``+-``;
* **no empty framed box at a page break**: every page is rendered (pypdfium2, at 50 dpi, a few seconds for the book),
  and a page whose content ends in a tall run of identical non-white rows (a frame or a shaded box with nothing in
  it, as the ASPP cell of dilated/07a left when its code was pushed to the next page) is reported.

The print CSS that prevents the last two is checked by :func:`css_problems` (code cells must not be split when they
fit on a page; output blocks must not wrap).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2
from pypdf import PdfReader

#: Raw TeX that must not survive into the PDF's text: MathJax replaces every formula it typesets.
RAW_TEX = re.compile(r"\\(frac|text|mathbf|mathrm|sum|cdot|times|left|right|begin|end)\b|\$\$|\\\(|\\\[")
#: A "mean +- sd" row wrapped in print: a line starting with the "+- 0.002" part, or ending with a dangling "+-".
WRAPPED_ROW = re.compile(r"^\s*(\+-|±)\s*\d|\d\s*(\+-|±)\s*$")
#: The selectors of code cells that must carry ``break-inside: avoid`` in the print CSS (myst-nb's markup).
UNSPLIT_SELECTORS = ("div.cell_input", "div.cell_output .output")
#: Empty boxes: a run of identical non-white rows at least this tall, at the end of a page's content, in mm.
EMPTY_BOX_MM = 12.0
RENDER_DPI = 50
MM_PER_INCH = 25.4


def normalize(text: str) -> str:
    """Text for comparison: NFKC (ligatures, × stays), curly quotes straightened, dashes unified, one space."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-"), ("\u00ad", "")):
        text = text.replace(a, b)
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass
class PdfReport:
    pages: int = 0
    images: int = 0
    math_fonts: int = 0
    titles_found: int = 0
    titles_on_new_page: int = 0
    tagged: bool = False
    language: str = ""
    outline_entries: int = 0
    titles_in_outline: int = 0
    wrapped_rows: int = 0
    empty_boxes: list[int] = field(default_factory=list)
    fonts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- structure: tags, outline, language


def outline_titles(reader: PdfReader) -> list[str]:
    """Every bookmark's title, depth first."""
    titles: list[str] = []

    def walk(items) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(str(item.title))

    walk(reader.outline)
    return titles


def check_structure(reader: PdfReader, titles: list[str], report: PdfReport) -> None:
    """Tagged, an outline entry for every title, a document language; fills ``report``."""
    root = reader.trailer["/Root"]
    mark = root.get("/MarkInfo")
    report.tagged = bool(mark and mark.get_object().get("/Marked")) and "/StructTreeRoot" in root
    if not report.tagged:
        report.problems.append("the PDF is not tagged (no structure tree or /MarkInfo /Marked): print with tagged=True")
    report.language = str(root.get("/Lang") or "")
    if not report.language:
        report.problems.append("no document language (/Lang): the HTML needs <html lang=...>, printed tagged")
    # spaces around inline markup (code, math, quotes) are not always kept in Chromium's bookmarks: compare without
    entries = [re.sub(r"\s", "", normalize(t)) for t in outline_titles(reader)]
    report.outline_entries = len(entries)
    if not entries:
        report.problems.append("the PDF has no outline (bookmarks): print with outline=True")
        return
    missing = [t for t in titles if re.sub(r"\s", "", normalize(t)) not in entries]
    report.titles_in_outline = len(titles) - len(missing)
    if missing:
        report.problems.append(f"{len(missing)} chapter/section title(s) not in the outline: {missing[:5]}")


# --------------------------------------------------------------------------- wrapped rows


def wrapped_rows(page_texts: list[str]) -> list[tuple[int, str]]:
    """(page number, line) of every line that is the broken-off part of a "mean +- sd" row."""
    return [
        (number, line.strip())
        for number, text in enumerate(page_texts, start=1)
        for line in text.splitlines()
        if WRAPPED_ROW.search(line)
    ]


# --------------------------------------------------------------------------- empty boxes


def empty_box_height(gray: np.ndarray, px_per_mm: float, footer_mm: float = 18.0, ink: int = 245) -> float:
    """Height in mm of the empty box a page's content ends with (0.0 when it ends with anything else).

    ``gray`` is the page rendered in grey levels, shape (H, W), 255 white. Rows in the bottom ``footer_mm`` (the
    page-number footer) are left out. From the lowest row with ink upwards, runs of identical rows are a frame or a
    shaded area with nothing in it; runs that start within 2 mm of the lowest ink (a bottom border) count too.
    """
    if gray.ndim != 2:
        raise ValueError(f"empty_box_height: gray must be 2-D (H, W), got shape {gray.shape}")
    rows = gray[: max(0, gray.shape[0] - round(footer_mm * px_per_mm))].astype(np.int16)  # (H', W)
    has_ink = (rows < ink).any(axis=1)  # (H',)
    if not has_ink.any():
        return 0.0

    def top_of_run(y: int) -> int:
        """The first row of the run of rows identical to row ``y`` that ends at ``y``."""
        top = y
        while top > 0 and has_ink[top - 1] and np.abs(rows[top - 1] - rows[y]).max() <= 12:
            top -= 1
        return top

    # the longest run that starts within 2 mm of the lowest ink: a bottom border and its anti-aliased edge are
    # thinner than that, and what they close is measured above them
    y = int(np.flatnonzero(has_ink)[-1])
    limit, longest = y - 2.0 * px_per_mm, 0
    while y >= 0 and y >= limit and has_ink[y]:
        top = top_of_run(y)
        longest = max(longest, y - top + 1)
        y = top - 1
    return longest / px_per_mm


def empty_boxes(path: Path, min_mm: float = EMPTY_BOX_MM, dpi: int = RENDER_DPI) -> list[tuple[int, float]]:
    """(page number, height in mm) of every page whose content ends with an empty box at least ``min_mm`` tall."""
    found = []
    document = pypdfium2.PdfDocument(str(path))
    try:
        for number in range(1, len(document) + 1):
            gray = document[number - 1].render(scale=dpi / 72, grayscale=True).to_numpy()
            gray = gray[..., 0] if gray.ndim == 3 else gray  # (H, W)
            height = empty_box_height(gray, px_per_mm=dpi / MM_PER_INCH)
            if height >= min_mm:
                found.append((number, round(height, 1)))
    finally:
        document.close()
    return found


def css_problems(css: str) -> list[str]:
    """What the print CSS lacks: code cells kept whole when they fit a page, output blocks that do not wrap."""
    problems = []
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    for selector in UNSPLIT_SELECTORS:
        if not any(
            selector in [s.strip() for s in sel.split(",")] and re.search(r"break-inside\s*:\s*avoid", body)
            for sel, body in rules
        ):
            problems.append(f"print CSS: {selector} has no break-inside: avoid (a split cell leaves an empty box)")
    if not any(".cell_output pre" in sel and re.search(r"white-space\s*:\s*pre\s*!", body) for sel, body in rules):
        problems.append("print CSS: .cell_output pre is not white-space: pre !important (output rows would wrap)")
    return problems


# --------------------------------------------------------------------------- the whole check


def check_pdf(
    path: Path,
    titles: list[str],
    min_pages: int,
    min_images: int,
    math: bool = True,
    accessible: bool = True,
    version: str | None = None,
    boxes: bool = True,
) -> PdfReport:
    """Read the PDF back and check what the edition promises.

    Parameters
    ----------
    path : the PDF.
    titles : every title that must appear in the text, each at the top of a page (a new page per chapter), and
        (``accessible``) in the outline.
    min_pages : at least this many pages (one per title, at least).
    min_images : at least this many embedded images (the book's figures).
    math : require MathJax's fonts (typeset math) and no raw TeX in the text.
    accessible : require tags, an outline with every title, and a document language.
    version : when given, the first page (the title page) must say "version <version>".
    boxes : render every page and report empty boxes at the end of a page's content.
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
    raw_texts, fonts = [], set()
    for page in pages:
        raw_texts.append(page.extract_text() or "")
        report.images += len(page.images)
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            name = font.get("/BaseFont") or (descriptor.get_object().get("/FontName") if descriptor else "")
            fonts.add(str(name))  # Type3 fonts (Chromium's web fonts) are named in their descriptor
    texts = [normalize(t) for t in raw_texts]
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
    if accessible:
        check_structure(reader, titles, report)
    if version is not None and f"version {normalize(version)}" not in (texts[0] if texts else ""):
        report.problems.append(f"the title page (page 1) does not say 'version {version}'")
    wrapped = wrapped_rows(raw_texts)
    report.wrapped_rows = len(wrapped)
    if wrapped:
        report.problems.append(f"{len(wrapped)} output row(s) wrapped onto a new line, e.g. (page, line) {wrapped[:3]}")
    if boxes:
        report.empty_boxes = [number for number, _ in empty_boxes(path)]
        if report.empty_boxes:
            report.problems.append(f"page(s) ending with an empty framed box: {report.empty_boxes[:10]}")
    return report
