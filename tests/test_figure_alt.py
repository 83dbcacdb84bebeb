"""Every figure has a text alternative that says what it shows (issue 21): the rule, the HTML and notebook checks
(each with planted faults), the animation player's label, every notebook of the book, and the built site."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from convbook import plotting
from convbook.course.site.figure_alt import html_alt_problems, notebook_alt_problems, site_alt_problems
from convbook.course.site.report import Report
from convbook.plotting.alt_text import alt_text_problems

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
SITE = ROOT / "_build" / "html"
GOOD = "Line chart of time per call against the input side, both axes logarithmic, for four implementations."
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="


def test_the_rule_accepts_a_description_and_rejects_paths_hashes_and_short_texts():
    assert alt_text_problems(GOOD) == []
    assert alt_text_problems("A 3×3 kernel slides over a padded 5×5 input, one frame per output cell.") == []
    bad = {
        None: "missing",
        "": "only 0 words",
        "   ": "only 0 words",
        "Colab logo": "only 2 words",
        "animation": "only 1 word (",
        "../_images/f874a9c3b2d1e0f4a5b6c7d8e9f0a1b2.png": "file name or path",
        "figure.png shows the time per call against the input side": "file name or path",
        "f874a9c3b2d1e0f4a5b6c7d8e9f0a1b2 time per call against the input side": "hash-like token",
        "see _images/fig for the time per call against the side": "file name or path",
        42: "not text (int)",
    }
    for text, expected in bad.items():
        problems = alt_text_problems(text)
        assert any(expected in p for p in problems), (text, problems)


def page(*figures: str) -> str:
    return f"<html><body><article class='bd-article'>{''.join(figures)}</article></body></html>"


def test_html_check_passes_good_figures_and_the_theme_icons():
    icon = '<a class="btn"><span class="btn__icon-container"><img alt="Colab logo" src="_static/c.png"></span>Colab</a>'
    html = page(f'<img src="../_images/abc.png" alt="{GOOD}">', icon)
    assert html_alt_problems(html) == []


@pytest.mark.parametrize(
    "img, expected",
    [
        ('<img src="../_images/f874.png" alt="../_images/f874.png">', "file name or path"),
        ('<img src="../_images/f874.png" alt="Timing figure">', "only 2 words"),
        ('<img src="../_images/f874.png">', "missing"),
        ('<img src="../_images/f874.png" alt="">', "only 0 words"),
    ],
)
def test_html_check_fails_on_a_planted_bad_alternative(img, expected):
    problems = html_alt_problems(page(f'<img src="a.png" alt="{GOOD}">', img), "chapters/x.html")
    assert problems and all(p.startswith("chapters/x.html: <img src=../_images/f874.png>") for p in problems)
    assert any(expected in p for p in problems), problems


def test_the_player_is_labelled_with_what_the_animation_shows():
    player = plotting.animate_conv((5, 5), 3, padding=1)
    assert html_alt_problems(player._repr_html_()) == []
    assert "padding 1x1" in player.alt and "5x5 output" in player.alt  # the default says what it animates
    dilated = plotting.animate_conv((7, 7), 3, dilation=2, alt=GOOD)
    html = dilated._repr_html_()
    label = f"Animation, {len(dilated)} frames, with play and step controls"
    assert dilated.label == label and f'role="group" aria-label="{label}"' in html and f'alt="{GOOD}"' in html
    assert html.count(GOOD) == 1  # the description is read once (the frame's alt), not again as the group's name
    assert plotting.Player([b"frame"], alt=GOOD).label == "Animation, 1 frame, with play and step controls"
    unlabelled = html.replace(' role="group"', "").replace(f'aria-label="{label}"', "")
    problems = html_alt_problems(unlabelled)
    assert any("no role" in p for p in problems) and any("aria-label=None: missing" in p for p in problems)
    with pytest.raises(ValueError, match="alt must say what the animation shows"):
        plotting.Player([b"frame"], alt="3x3 kernel")
    with pytest.raises(ValueError, match="alt must say what the animation shows .*file name"):
        plotting.animate_conv((3, 3), 1, alt="frames/kernel_sliding_over_the_input_grid.png")
    with pytest.raises(TypeError, match="alt must be a str"):
        plotting.Player([b"frame"], alt=None)
    with pytest.raises(TypeError, match="alt"):
        plotting.Player([b"frame"])  # no default: every player says what it shows


def figure_notebook(alt=None, metadata=True):
    cell = nbformat.v4.new_code_cell("plt.plot([1, 2]);")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    if metadata:
        cell.metadata["mystnb"] = {"image": {"alt": alt}}
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page"), cell])


def test_notebook_check_reads_the_cells_mystnb_alt_and_fails_on_planted_faults():
    assert notebook_alt_problems(figure_notebook(GOOD)) == []
    for nb, expected in [
        (figure_notebook(metadata=False), "missing"),
        (figure_notebook("../_images/f874.png"), "file name or path"),
        (figure_notebook("Timing plot"), "only 2 words"),
    ]:
        problems = notebook_alt_problems(nb, "x.ipynb")
        assert problems and all("x.ipynb: cell " in p and "mystnb.image.alt" in p for p in problems), problems
        assert any(expected in p for p in problems), problems
    player = figure_notebook(GOOD)
    animation = plotting.animate_conv((3, 3), 1, alt=GOOD)
    html = animation._repr_html_()
    player.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/html": html}, execution_count=1)]
    assert notebook_alt_problems(player) == []
    player.cells[1].outputs[0]["data"]["text/html"] = html.replace(
        f'aria-label="{animation.label}"', 'aria-label="a player"'
    )
    assert any("only 1 word (" in p for p in notebook_alt_problems(player))  # "a" is not a word
    with pytest.raises(TypeError, match="nb must be a notebook"):
        notebook_alt_problems(["not", "a", "notebook"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_figure_of_the_book_has_a_text_alternative(path):
    nb = nbformat.read(path, as_version=4)
    assert notebook_alt_problems(nb, path.relative_to(ROOT).as_posix()) == []


def test_the_book_has_figures_to_check():
    figures = 0
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                figures += "image/png" in data or "convbook-player" in str(data.get("text/html", ""))
    assert figures >= 50  # a check that finds no figure proves nothing


def test_site_check_counts_and_fails_a_planted_page(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "index.html").write_text(page(f'<img src="a.png" alt="{GOOD}">'))
    (tmp_path / "_static" / "theme.html").write_text(page('<img src="x.png">'))  # assets are not pages
    assert site_alt_problems(tmp_path) == (1, 1, [])
    (tmp_path / "chapters" / "bad.html").write_text(page('<img src="../_images/f.png" alt="../_images/f.png">'))
    figures, good, problems = site_alt_problems(tmp_path)
    assert (figures, good) == (2, 1) and problems and all(p.startswith("chapters/bad.html: ") for p in problems)
    from convbook.course.site.figure_alt import check_site_alt

    report = Report()
    check_site_alt(tmp_path, report)
    assert not report.ok and report.counts["figures with a text alternative"] == 1
    with pytest.raises(ValueError, match="site must be a built site's folder"):
        site_alt_problems(tmp_path / "missing")


def built_site_is_current() -> bool:
    """A site built after every notebook was last changed (a stale build says nothing about the sources)."""
    index = SITE / "index.html"
    return index.is_file() and index.stat().st_mtime > max(p.stat().st_mtime for p in NOTEBOOKS)


@pytest.mark.skipif(not built_site_is_current(), reason="no site built since the notebooks last changed")
def test_every_figure_on_the_built_site_has_a_text_alternative():
    figures, good, problems = site_alt_problems(SITE)
    assert figures >= 50 and problems == [], problems[:5]
