"""The PDF edition's checker (convbook.course.site.pdf) on small PDFs made here, and its reading of the table of
contents.

`make pdf` builds and prints the whole book and then runs the same `check_pdf` on it (page count, every chapter's
and section's title at the top of a page, the images, typeset math); these tests make sure that check can fail.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from convbook.course.site import pdf as make_pdf  # noqa: E402

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
    report = make_pdf.check_pdf(pdf, ["Dilated convolution", "1×1 convolution"], min_pages=2, min_images=2, math=False)
    assert report.ok, report.problems
    assert (report.pages, report.titles_on_new_page) == (2, 2)
    assert report.images >= 2


def test_check_pdf_finds_a_missing_title_and_too_few_pages(tmp_path):
    pdf = _pdf(tmp_path / "short.pdf", [("Dilated convolution", "text", True)])
    report = make_pdf.check_pdf(pdf, ["Dilated convolution", "Performance"], min_pages=2, min_images=1, math=False)
    assert any("title not in the text: 'Performance'" in p for p in report.problems)
    assert any("1 pages, expected at least 2" in p for p in report.problems)


def test_check_pdf_finds_a_chapter_that_does_not_start_a_page(tmp_path):
    pdf = _pdf(tmp_path / "run-on.pdf", [("Dilated convolution", "and then: Separable convolution", False)])
    report = make_pdf.check_pdf(pdf, ["Separable convolution"], min_pages=1, min_images=0, math=False)
    assert any("not at the top of a page" in p for p in report.problems)


def test_check_pdf_wants_the_titles_in_reading_order(tmp_path):
    pdf = _pdf(tmp_path / "order.pdf", [("Performance", "a", False), ("Notation", "b", False)])
    report = make_pdf.check_pdf(pdf, ["Notation", "Performance"], min_pages=2, min_images=0, math=False)
    assert report.problems == ["title not at the top of a page after page 2: 'Performance'"]


def test_check_pdf_finds_missing_images_and_untypeset_math(tmp_path):
    pdf = _pdf(tmp_path / "plain.pdf", [("Notation", r"the ratio $$\frac{1}{k^2}$$", False)])
    report = make_pdf.check_pdf(pdf, ["Notation"], min_pages=1, min_images=1, math=True)
    assert any("0 images, expected at least 1" in p for p in report.problems)
    assert any("no MathJax font" in p for p in report.problems)
    assert any("raw TeX" in p for p in report.problems)


def test_check_pdf_reports_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_text("not a pdf")
    report = make_pdf.check_pdf(bad, ["Notation"], min_pages=1, min_images=0)
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
    assert make_pdf.normalize("Instructor’s  guide\n") == "instructor's guide"
    assert make_pdf.normalize("eﬀective ﬁeld") == "effective field"
