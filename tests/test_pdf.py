"""The PDF edition's checker (convbook.course.site.pdf_check) on small PDFs made here, and its reading of the table
of contents.

`make pdf` builds and prints the whole book and then runs the same `check_pdf` on it (page count, every chapter's
and section's title at the top of a page, the images, typeset math; tags, outline, language, the version on the
title page, wrapped output rows, empty framed boxes at a page break); these tests plant each fault and see the check
fail. One slow test prints a small page with the theme's troublesome CSS through chromium, as `make pdf` does.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402
from pypdf.generic import BooleanObject, DictionaryObject, NameObject, TextStringObject  # noqa: E402

from convbook.course.site import pdf as make_pdf  # noqa: E402
from convbook.course.site import pdf_check  # noqa: E402
from convbook.course.site.pdf_check import check_pdf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _pdf(path: Path, pages: list[tuple[str, str, bool]]) -> Path:
    """A PDF with one page per (top line, body, image?) entry, text extractable, written by matplotlib."""
    with PdfPages(path) as pdf:
        for top, body, image in pages:
            fig = plt.figure(figsize=(5, 7), facecolor="white")
            fig.text(0.1, 0.92, top, fontsize=14, parse_math=False)
            fig.text(0.1, 0.8, body, fontsize=9, parse_math=False)
            if image:
                ax = fig.add_axes((0.2, 0.2, 0.5, 0.4))
                ax.imshow(np.arange(64.0).reshape(8, 8))
                ax.axis("off")  # no tick labels: the title stays the first text on the page
            pdf.savefig(fig)
            plt.close(fig)
    return path


def test_check_pdf_passes_a_good_pdf(tmp_path):
    pdf = _pdf(tmp_path / "good.pdf", [("Dilated convolution", "text", True), ("1×1 convolution", "more", True)])
    report = check_pdf(
        pdf, ["Dilated convolution", "1×1 convolution"], min_pages=2, min_images=2, math=False, accessible=False
    )
    assert report.ok, report.problems
    assert (report.pages, report.titles_on_new_page) == (2, 2)
    assert report.images >= 2


def test_check_pdf_finds_a_missing_title_and_too_few_pages(tmp_path):
    pdf = _pdf(tmp_path / "short.pdf", [("Dilated convolution", "text", True)])
    report = check_pdf(
        pdf, ["Dilated convolution", "Performance"], min_pages=2, min_images=1, math=False, accessible=False
    )
    assert any("title not in the text: 'Performance'" in p for p in report.problems)
    assert any("1 pages, expected at least 2" in p for p in report.problems)


def test_check_pdf_finds_a_chapter_that_does_not_start_a_page(tmp_path):
    pdf = _pdf(tmp_path / "run-on.pdf", [("Dilated convolution", "and then: Separable convolution", False)])
    report = check_pdf(pdf, ["Separable convolution"], min_pages=1, min_images=0, math=False, accessible=False)
    assert any("not at the top of a page" in p for p in report.problems)


def test_check_pdf_wants_the_titles_in_reading_order(tmp_path):
    pdf = _pdf(tmp_path / "order.pdf", [("Performance", "a", False), ("Notation", "b", False)])
    report = check_pdf(pdf, ["Notation", "Performance"], min_pages=2, min_images=0, math=False, accessible=False)
    assert report.problems == ["title not at the top of a page after page 2: 'Performance'"]


def test_check_pdf_finds_missing_images_and_untypeset_math(tmp_path):
    pdf = _pdf(tmp_path / "plain.pdf", [("Notation", r"the ratio $$\frac{1}{k^2}$$", False)])
    report = check_pdf(pdf, ["Notation"], min_pages=1, min_images=1, math=True, accessible=False)
    assert any("0 images, expected at least 1" in p for p in report.problems)
    assert any("no MathJax font" in p for p in report.problems)
    assert any("raw TeX" in p for p in report.problems)


def test_check_pdf_reports_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_text("not a pdf")
    report = check_pdf(bad, ["Notation"], min_pages=1, min_images=0)
    assert not report.ok and "cannot be read" in report.problems[0]


def test_toc_documents_lists_every_page_in_order():
    docs = make_pdf.toc_documents(ROOT / "_toc.yml")
    assert docs[0] == "index"
    assert "chapters/explorer" in docs
    assert docs.index("chapters/dilated/index") < docs.index("chapters/dilated/01_definition")
    assert len(docs) == len(set(docs))
    for doc in docs:
        assert (ROOT / f"{doc}.md").exists() or (ROOT / f"{doc}.ipynb").exists(), doc
        assert make_pdf.document_title(ROOT, doc)


@pytest.mark.parametrize(
    "heading, text",
    [
        ("1×1 (pointwise) convolution", "1×1 (pointwise) convolution"),
        ("The `convbook` library", "The convbook library"),
        ("Why $k^2$ *matters*", "Why k^2 matters"),
        ("See [the guide](https://example.org)", "See the guide"),
    ],
)
def test_plain(heading, text):
    assert make_pdf.plain(heading) == text


def test_normalize():
    assert pdf_check.normalize("Instructor’s  guide\n") == "instructor's guide"
    assert pdf_check.normalize("eﬀective ﬁeld") == "effective field"


# ---- accessibility: tags, outline, language, the version on the title page


def _accessible(src: Path, dst: Path, outline: list[str], lang: str | None = "en", tagged: bool = True) -> Path:
    """``src`` with bookmarks ``outline``, a document language and the marks of a tagged PDF (as Chromium writes)."""
    writer = PdfWriter(clone_from=PdfReader(str(src)))
    for i, title in enumerate(outline):
        writer.add_outline_item(title=title, page_number=min(i, len(writer.pages) - 1))
    root = writer._root_object
    if lang:
        root[NameObject("/Lang")] = TextStringObject(lang)
    if tagged:
        root[NameObject("/MarkInfo")] = DictionaryObject({NameObject("/Marked"): BooleanObject(True)})
        tree = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
        root[NameObject("/StructTreeRoot")] = writer._add_object(tree)
    with open(dst, "wb") as f:
        writer.write(f)
    return dst


TITLES = ["Dilated convolution", "1×1 convolution"]


def _book(tmp_path, top_page: str = "Version 0.3.0", **kwargs) -> Path:
    plain = _pdf(
        tmp_path / "plain.pdf",
        [(top_page, "the title page", False), ("Dilated convolution", "text", True), ("1×1 convolution", "more", True)],
    )
    return _accessible(plain, tmp_path / "book.pdf", kwargs.pop("outline", TITLES), **kwargs)


def test_check_pdf_passes_an_accessible_pdf(tmp_path):
    report = check_pdf(_book(tmp_path), TITLES, min_pages=3, min_images=2, math=False, version="0.3.0")
    assert report.ok, report.problems
    assert (report.tagged, report.language, report.titles_in_outline) == (True, "en", 2)


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"tagged": False}, "the PDF is not tagged"),
        ({"lang": None}, "no document language"),
        ({"outline": []}, "has no outline"),
        ({"outline": ["Dilated convolution"]}, "not in the outline: ['1×1 convolution']"),
    ],
)
def test_check_pdf_finds_a_pdf_that_is_not_accessible(tmp_path, kwargs, problem):
    report = check_pdf(_book(tmp_path, **kwargs), TITLES, min_pages=3, min_images=2, math=False)
    assert any(problem in p for p in report.problems), report.problems


def test_check_pdf_wants_the_version_on_the_title_page(tmp_path):
    report = check_pdf(_book(tmp_path, top_page="Version 0.2.0"), TITLES, 3, 2, math=False, version="0.3.0")
    assert report.problems == ["the title page (page 1) does not say 'version 0.3.0'"]


def test_outline_matches_titles_without_the_spaces_chromium_drops(tmp_path):
    book = _book(tmp_path, outline=["Dilated convolution", "1×1convolution"])
    assert check_pdf(book, TITLES, 3, 2, math=False).ok


# ---- output rows wrapped in print


@pytest.mark.parametrize(
    "text, wrapped",
    [
        ("plain   1923   0.969 +- 0.004   0.697\n  +- 0.052       311", True),  # the "+- sd" of a row, on its own
        ("plain   1923   0.969 +- 0.004   0.697 +-\n0.052       311", True),  # a row cut after its "+-"
        ("plain   1923   0.969 +- 0.004   0.697 ± 0.052   311", False),
        ('print(" ".join(f"{c.mean:.3f}\n  +- {c.sd:.3f}" for c in cols))', False),  # wrapped source code
    ],
)
def test_wrapped_rows(text, wrapped):
    assert bool(pdf_check.wrapped_rows([text])) == wrapped


def test_check_pdf_finds_a_wrapped_output_row(tmp_path):
    pdf = _pdf(tmp_path / "rows.pdf", [("Notation", "dilated   0.999 +- 0.000   0.998\n+- 0.001   6", False)])
    report = check_pdf(pdf, ["Notation"], min_pages=1, min_images=0, math=False, accessible=False)
    assert report.wrapped_rows == 1
    assert any("1 output row(s) wrapped" in p and "+- 0.001" in p for p in report.problems), report.problems


# ---- empty framed boxes at a page break


def _boxed(path: Path, inside: str) -> Path:
    """One page: a title, then a shaded code box with a green left rule at the bottom, holding ``inside``."""
    with PdfPages(path) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69), facecolor="white")  # A4
        fig.text(0.1, 0.92, "Notation", fontsize=14)
        box = fig.add_axes((0.08, 0.09, 0.84, 0.25), facecolor="#f5f5f5")  # ends above an 18 mm footer
        box.set_xticks([]), box.set_yticks([])
        for side in ("top", "right", "bottom"):
            box.spines[side].set_color("#e0e0e0")
        box.spines["left"].set_color("#2a8a2a")
        box.spines["left"].set_linewidth(3)
        for i, line in enumerate(inside.splitlines()):
            box.text(0.02, 0.9 - 0.1 * i, line, family="monospace", fontsize=9, transform=box.transAxes)
        pdf.savefig(fig)
        plt.close(fig)
    return path


def test_check_pdf_finds_a_page_that_ends_with_an_empty_box(tmp_path):
    report = check_pdf(_boxed(tmp_path / "empty.pdf", ""), [], 1, 0, math=False, accessible=False)
    assert report.empty_boxes == [1]
    assert any("ending with an empty framed box: [1]" in p for p in report.problems)


def test_a_box_with_code_in_it_is_not_empty(tmp_path):
    code = "\n".join(f"x{i} = conv2d(x{i - 1}, w, dilation={i})" for i in range(1, 10))
    report = check_pdf(_boxed(tmp_path / "code.pdf", code), [], 1, 0, math=False, accessible=False)
    assert report.empty_boxes == [] and report.ok, report.problems


def test_empty_box_height_on_pixels():
    page = np.full((300, 200), 255, np.uint8)  # 10 px per mm: 30 x 20 mm
    page[20:30:2, 20:180] = 0  # a line of text
    assert pdf_check.empty_box_height(page, px_per_mm=10, footer_mm=0) < 1.0
    page[100:250, 20:180] = 240  # a shaded box ...
    page[100:250, 20:23] = 60  # ... with a left rule, empty: 15 mm
    assert pdf_check.empty_box_height(page, px_per_mm=10, footer_mm=0) == pytest.approx(15.0)
    page[250:253, 20:180] = 200  # closed by a bottom border: still an empty box
    assert pdf_check.empty_box_height(page, px_per_mm=10, footer_mm=0) == pytest.approx(15.0)
    page[215:245:2, 40:120] = 0  # a line of code (3 mm) near its bottom: not empty
    assert pdf_check.empty_box_height(page, px_per_mm=10, footer_mm=0) < 1.0
    with pytest.raises(ValueError, match="gray must be 2-D"):
        pdf_check.empty_box_height(np.zeros((2, 2, 3)), px_per_mm=1)


def test_print_css_keeps_cells_whole_and_rows_unwrapped():
    assert pdf_check.css_problems(make_pdf.PRINT_CSS) == []
    no_avoid = make_pdf.PRINT_CSS.replace("div.cell_input, div.cell_output .output { break-inside: avoid;", "x {")
    assert any("div.cell_input has no break-inside: avoid" in p for p in pdf_check.css_problems(no_avoid))
    wrapping = make_pdf.PRINT_CSS.replace("white-space: pre !important", "white-space: pre-wrap !important")
    assert any("output rows would wrap" in p for p in pdf_check.css_problems(wrapping))


def test_title_page_names_the_version_and_the_other_versions():
    from convbook import _release

    html = make_pdf.title_page(ROOT)
    assert f"Version {_release.VERSION}" in html and _release.TAG in html and _release.RELEASES in html


# ---- the real thing: chromium prints a small page with the theme's CSS, and the check reads it back

#: What the theme does to a code cell: a framed, shaded box whose inner wrappers avoid breaks (so a long <pre> was
#: pushed whole to the next page, leaving its empty frame behind).
THEME_CSS = """
div.cell_input { border: 1px solid #ddd; border-left: 4px solid #2a8a2a; background: #f5f5f5; display: flex; }
div.cell_input > div, div.highlight { display: flex; break-inside: avoid; }
pre { margin: 0; font-size: 13px; }
"""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    rows = "\n".join(
        f"{name:>16}   1923   0.969 +- 0.004   0.886 +- 0.013   0.697 +- 0.052   0.699 +- 0.051   0.701 +- 0.050"
        "   0.702 +- 0.049   311   312"
        for name in ("plain", "dilated", "plain_deep", "aspp_no_pooling", "aspp")
    )
    code = "\n".join(f"x{i} = conv2d(x{i - 1}, w, dilation={i % 4 + 1})  # layer {i}" for i in range(120))
    filler = "".join(f"<p>Paragraph {i} of the text before the long cell.</p>" for i in range(28))
    body = f"""<article class="bd-article"><span id="document-index"></span>
<section><h1>Dilated convolution</h1>{filler}
<div class="cell"><div class="cell_input"><div class="highlight-ipython3"><div class="highlight"><pre>{code}</pre>
</div></div></div><div class="cell_output"><div class="output stream"><div class="highlight"><pre>{rows}</pre>
</div></div></div></div></section>
<span id="document-one"></span><section><h1>1×1 convolution</h1><p>The end.</p></section></article>"""
    head = f'<head><meta charset="utf-8"><style>{THEME_CSS}</style></head>'
    page = f'<!DOCTYPE html><html lang="en">{head}<body>{body}</body></html>'
    (site / "index.html").write_text(page, encoding="utf-8")
    return site


@pytest.mark.slow
def test_chromium_prints_an_accessible_pdf_without_empty_boxes_or_wrapped_rows(tmp_path, monkeypatch):
    chromium = make_pdf.CHROMIUM
    if not chromium.exists():
        pytest.skip(f"{chromium} is not installed")
    site = _site(tmp_path)
    titles = ["Dilated convolution", "1×1 convolution"]
    pdf = tmp_path / "fixed.pdf"
    info = make_pdf.print_pdf(site, pdf, chromium, make_pdf.title_page(ROOT))
    from convbook import _release

    report = check_pdf(pdf, titles, min_pages=3, min_images=0, math=False, version=_release.VERSION)
    assert report.ok, report.problems
    assert report.tagged and report.language == "en" and report.titles_in_outline == 2
    assert info["fitted"] == 1 and not info["preCut"] and not info["wrappedOutputs"]
    # the same page with the print CSS of the previous edition: its output rows wrap (the empty frame of a pushed
    # cell depends on the whole theme; the check finds it on the book: 79 pages before this CSS, none after)
    old_css = make_pdf.PRINT_CSS.split("/* outputs: never wrapped")[0] + "table { font-size: 0.85em; }"
    monkeypatch.setattr(make_pdf, "PRINT_CSS", old_css)
    monkeypatch.setattr(make_pdf, "SETTLE_JS", make_pdf.SETTLE_JS.replace("(FIT_OUTPUTS)", "(() => 0)"))
    make_pdf.print_pdf(site, tmp_path / "old.pdf", chromium)
    old = check_pdf(tmp_path / "old.pdf", titles, min_pages=2, min_images=0, math=False)
    assert old.wrapped_rows > 0, old.problems
