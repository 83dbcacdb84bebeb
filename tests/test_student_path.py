"""A student's path through the book (issue 22, part 6): the glossary, the comparison page, core/optional marks, folded
verification cells, exercise titles that match their labels, one toggle per solution, honest outputs under stubs, and
exercises that read as plain markdown in Jupyter and Colab.

Every check below is a small function run on the book and, in a second test, on a planted fault that it must catch.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from markdown_it import MarkdownIt
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from convbook.course.exercises import checks_before_solutions, find_exercises, stored_output_problems
from convbook.course.myst import directive_blocks
from convbook.course.notebooks import book_notebooks, is_solution_cell, source_of, tags
from convbook.course.studentize import studentize

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = book_notebooks(ROOT)
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _pages() -> list[Path]:
    """Every page of the book under chapters/, in _toc.yml order (globs expanded), as a path with its suffix."""
    pages = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                stem = ROOT / entry["file"]
                pages.append(next(p for p in (stem.with_suffix(".ipynb"), stem.with_suffix(".md")) if p.exists()))
            if "glob" in entry:
                pages.extend(sorted(p for p in ROOT.glob(entry["glob"]) if p.suffix in {".ipynb", ".md"}))
            walk(entry.get("sections"))

    for part in TOC.get("parts", []):
        walk(part.get("chapters"))
    return [p for p in pages if p.parts[len(ROOT.parts)] == "chapters"]


def _markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    return "\n\n".join(source_of(c) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --------------------------------------------------------------------------------------------------- glossary

GLOSSARY = ROOT / "chapters" / "glossary.md"
#: Terms the issue asked for; each is a term of the glossary (an entry line of its {glossary} block).
REQUIRED_TERMS = [
    "receptive field", "multiply-add", "MAC", "FLOP", "GEMM", "BLAS", "im2col", "twin", "jump", "output stride",
    "dilation", "dilation rate", "gridding", "depthwise", "pointwise", "separable", "bottleneck", "channel multiplier",
    "roofline", "arithmetic intensity", "NCHW", "channels_last", "ERF",
]  # fmt: skip
#: The first use of a term that pages use before they define it: (page, term) linked with {term}.
FIRST_USES = [
    ("chapters/01_convolution_from_scratch.ipynb", "receptive field"),
    ("chapters/01_convolution_from_scratch.ipynb", "BLAS"),
    ("chapters/01_convolution_from_scratch.ipynb", "im2col"),
    ("chapters/01_convolution_from_scratch.ipynb", "multiply-add"),
    ("chapters/pointwise/index.md", "GEMM"),
    ("chapters/separable/index.md", "twin"),
    ("chapters/dilated/05_gridding.ipynb", "jump"),
    ("chapters/dilated/index.md", "output stride"),
]
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`")


def glossary_terms(text: str) -> dict[str, str]:
    """The terms of a page's {glossary} blocks, each mapped to its definition (the indented lines after its group)."""
    terms = {}
    for block in directive_blocks(text, "glossary"):
        group: list[str] = []
        for line in block.body.splitlines():
            if not line.strip():
                continue
            if line.startswith((" ", "\t")):
                for term in group:
                    terms[term] = (terms.get(term, "") + " " + line.strip()).strip()
                if group and terms[group[-1]] and not line.startswith(" " * 2):
                    group = []
            else:
                if group and terms.get(group[-1]):
                    group = []
                group.append(line.strip())
    return terms


def glossary_problems(text: str) -> list[str]:
    terms = glossary_terms(text)
    problems = [f"no glossary entry for {term!r}" for term in REQUIRED_TERMS if term not in terms]
    for term, definition in terms.items():
        if not re.search(r"\{(doc|ref)\}`", definition):
            problems.append(f"{term!r} does not link to where the book introduces it")
    return problems


def test_the_glossary_defines_every_term_and_links_to_where_it_is_introduced():
    assert "chapters/glossary" in (ROOT / "_toc.yml").read_text()
    assert glossary_problems(GLOSSARY.read_text()) == []


def test_the_glossary_check_catches_a_missing_term_and_a_missing_link():
    text = GLOSSARY.read_text()
    no_jump = re.sub(r"^jump\n(  .*\n)+", "", text, flags=re.M)
    assert "no glossary entry for 'jump'" in glossary_problems(no_jump)
    unlinked = text.replace("{doc}`dilated/05_gridding`.", "the gridding section.", 1)
    assert any("'gridding' does not link" in p for p in glossary_problems(unlinked))


def test_terms_used_before_their_definition_link_to_the_glossary():
    terms = glossary_terms(GLOSSARY.read_text())
    for page, term in FIRST_USES:
        linked = TERM_ROLE.findall(_markdown(ROOT / page))
        assert term in linked, f"{page}: the first use of {term!r} is not linked with {{term}}"
    for page in _pages():
        for target in TERM_ROLE.findall(_markdown(page)):
            assert target in terms, f"{_rel(page)}: {{term}} {target!r} is not in the glossary"


# ------------------------------------------------------------------------------------------------- comparison

COMPARISON = ROOT / "chapters" / "comparison.ipynb"


def _comparison_namespace(mutate=None) -> dict:
    """Run the comparison page's code cells (the install cell excepted) in a fresh namespace; ``mutate`` edits the
    VARIANTS table between the cell that defines it and the checks, to plant a fault."""
    nb = nbformat.read(COMPARISON, as_version=4)
    code = [source_of(c) for c in nb.cells if c.cell_type == "code" and "remove-cell" not in tags(c)]
    namespace: dict = {}
    for source in code:
        if mutate and "checked = 0" in source:
            head, tail = source.split("checked = 0", 1)
            exec(head, namespace)  # noqa: S102 (the book's own cell)
            mutate(namespace["VARIANTS"])
            source = "checked = 0" + tail
        exec(source, namespace)  # noqa: S102 (the book's own cell)
    return namespace


@pytest.mark.slow
def test_the_comparison_formulas_are_checked_against_convbook_costs():
    namespace = _comparison_namespace()
    assert namespace["checked"] > 100
    table = namespace["Table"](("a", "b"), [("x<y", "f(k)")], code=(1,))
    body = "<tbody><tr><td>x&lt;y</td><td><code>f(k)</code></td></tr></tbody>"
    assert table._repr_html_() == f"<table><thead><tr><th>a</th><th>b</th></tr></thead>{body}</table>"
    assert repr(table) == "a | b\nx<y | f(k)"
    for name in ("standard", "dilated", "depthwise-separable", "1×1 (pointwise)"):
        assert name in namespace["VARIANTS"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "column, wrong",
    [(2, "C_out·C_in·k"), (3, "C_out·C_in·k²·H"), (4, "d·k + 1"), (5, "nn.Conv2d(C_in, C_out, 3)")],
)
def test_a_wrong_formula_on_the_comparison_page_fails_its_check(column, wrong):
    def plant(variants):
        row = list(variants["dilated"])
        row[column] = wrong
        variants["dilated"] = tuple(row)

    with pytest.raises(AssertionError):
        _comparison_namespace(plant)


# --------------------------------------------------------------------------------------------- core / optional

#: Reference pages carry no mark; every other page of chapters/ carries exactly one.
REFERENCE_PAGES = {"glossary", "instructor_guide", "corrections", "bibliography"}
MARK = re.compile(r'<span class="section-mark (core|optional)">\*\*(Core|Optional) section\*\*</span>')
GUIDE = ROOT / "chapters" / "instructor_guide.md"
PLAN_HEADER = "| week | pages | lectures | lab | assignment due | load |"


def core_pages(guide: str) -> set[str]:
    """The core pages as the instructor guide teaches them: the pages of its shortest plan (the 2-week module, "the
    foundations and the core of the three variants") and each variant chapter's opening page."""
    plans = []
    for table in guide.split(PLAN_HEADER)[1:]:
        rows = []
        for line in table.splitlines()[2:]:  # the rest of the header line, the --- line, then the weeks
            if not line.startswith("|"):
                break
            rows.append(line.split("|")[2])
        plans.append({page for row in rows for page in re.findall(r"`([\w/]+)`", row)})
    return min(plans, key=len) | {f"{chapter}/index" for chapter in ("dilated", "separable", "pointwise")}


CORE = core_pages(GUIDE.read_text())


def page_marks(text: str) -> list[str]:
    """The core/optional marks of a page, in order; a page must have exactly one, under its title."""
    marks = [m.group(1) for m in MARK.finditer(text)]
    if marks and "section-mark" not in "\n".join(text.split("\n# ", 1)[-1].split("\n")[:4]):
        marks.append("not under the title")
    return marks


def mark_problems(core: set[str]) -> list[str]:
    """Pages whose core/optional mark disagrees with ``core`` (the guide's core pages), or that carry no single mark."""
    problems, seen = [], set()
    for page in _pages():
        name = page.relative_to(ROOT / "chapters").with_suffix("").as_posix()
        marks = page_marks(_markdown(page))
        if name in REFERENCE_PAGES:
            if marks:
                problems.append(f"{_rel(page)} is a reference page: no mark")
            continue
        expected = "core" if name in core or name.endswith("_exercises") else "optional"
        if marks != [expected]:
            problems.append(f"{_rel(page)}: marks {marks}, expected one {expected!r}")
        seen.add(name)
    if core - seen:
        problems.append(f"core pages missing from the book: {core - seen}")
    return problems


def test_every_chapter_page_carries_exactly_one_core_or_optional_mark():
    """Core means what the instructor guide teaches in its 2-week module; the marks say the same."""
    assert {"notation", "01_convolution_from_scratch", "comparison", "pointwise/02_bottleneck"} <= CORE
    assert "pointwise/05_performance" not in CORE
    assert mark_problems(CORE) == []


def test_the_marks_are_compared_with_the_guide():
    """Planted: the comparison page dropped from the guide's 2-week plan while the page still says core."""
    guide = GUIDE.read_text()
    two_week = guide.split(PLAN_HEADER)[1].split("\n\n")[0]
    dropped = guide.replace(two_week, two_week.replace(", `comparison`", ""))
    assert dropped != guide
    assert "chapters/comparison.ipynb: marks ['core'], expected one 'optional'" in mark_problems(core_pages(dropped))


def test_the_mark_check_catches_a_second_mark_and_a_missing_one():
    text = _markdown(ROOT / "chapters" / "dilated" / "01_definition.ipynb")
    assert page_marks(text) == ["core"]
    assert page_marks(text + "\n\n" + MARK.search(text).group(0)) == ["core", "core"]
    assert page_marks(MARK.sub("", text)) == []


# ---------------------------------------------------------------------------------------------- folded cells

#: Verification cells (agreement with torch) and environment cells (live timings, devices, threads, precision),
#: by cell id, with the tag that folds them on the site (sphinx-book-theme / myst-nb: hide-input keeps the output).
FOLDED = {
    "chapters/01_convolution_from_scratch.ipynb": {"bc720251": "hide-input", "f78e07f5": "hide-input",
                                                   "098ad885": "hide-input"},
    "chapters/dilated/01_definition.ipynb": {"e6f8ec58": "hide-input"},
    "chapters/dilated/02_implementations.ipynb": {"25debfaf": "hide-input", "a01d738f": "hide-input",
                                                  "105f08f0": "hide-input", "b3676ef3": "hide-input"},
    "chapters/dilated/04_causal_wavenet.ipynb": {"e6f5a61f": "hide-input"},
    "chapters/dilated/04a_wavenet_generation.ipynb": {"a616831e": "hide-input"},
    "chapters/separable/01_depthwise_then_pointwise.ipynb": {"3976e329": "hide-input"},
    "chapters/separable/05_flops_are_not_time.ipynb": {"e40afa8b": "hide-input"},
    "chapters/separable/06_mobilenet.ipynb": {"afca6cd3": "hide-input"},
    "chapters/pointwise/01_per_pixel_linear_map.ipynb": {"91502ee4": "hide-cell",
                                                         "1543d81a": "hide-input"},
    "chapters/pointwise/04_cheap_depth.ipynb": {"64ff72fc": "hide-input"},
    "chapters/pointwise/05_performance.ipynb": {"bd4dd2b6": "hide-input", "2003c582": "hide-input",
                                                "1039bf18": "hide-input", "5e2a75f1": "hide-input"},
    "chapters/performance.ipynb": {"418b26ee": "hide-input"},
}  # fmt: skip
HIDE_TAGS = {"hide-input", "hide-cell", "hide-output"}


def folding_problems(nb, classified: dict[str, str]) -> list[str]:
    by_id = {cell.get("id"): cell for cell in nb.cells}
    problems = []
    for cell_id, tag in classified.items():
        cell = by_id.get(cell_id)
        if cell is None:
            problems.append(f"cell {cell_id} is gone: classify its replacement")
        elif tag not in tags(cell):
            problems.append(f"cell {cell_id} lost its {tag} tag")
    return problems


@pytest.mark.parametrize("page", sorted(FOLDED))
def test_verification_and_environment_cells_stay_folded(page):
    assert folding_problems(nbformat.read(ROOT / page, as_version=4), FOLDED[page]) == []


def test_the_folding_check_catches_a_lost_tag():
    page = "chapters/dilated/01_definition.ipynb"
    nb = nbformat.read(ROOT / page, as_version=4)
    for cell in nb.cells:
        if cell.get("id") in FOLDED[page]:
            cell.metadata["tags"] = [t for t in tags(cell) if t not in HIDE_TAGS]
    assert folding_problems(nb, FOLDED[page]) == [f"cell {next(iter(FOLDED[page]))} lost its hide-input tag"]


# ------------------------------------------------------------------------ exercises: titles, toggles, plain text

MD = MarkdownIt("commonmark")


def exercise_problems(text: str) -> list[str]:
    """An exercise's title must be its label (sphinx-exercise numbers exercises across the whole book, so the book
    turns numbering off and titles each box by its label), and its text must read as plain markdown: a bold
    "Exercise LABEL." lead in a paragraph apart from the directive's fence lines, which Jupyter and Colab show as text.
    """
    problems = []
    lines = text.splitlines()
    for block in directive_blocks(text, "exercise"):
        label = block.options.get("label", "")
        if "nonumber" not in block.options or block.arg != label:
            problems.append(f"{label}: the title must be the label (`:::{{exercise}} {label}`, `:nonumber:`)")
        paragraphs = MD.render("\n".join(lines[block.start : block.end])).split("<p>")
        lead = next((p for p in paragraphs if f"<strong>Exercise {label}.</strong>" in p), "")
        if not lead or ":::" in lead or ":label:" in lead:
            problems.append(f"{label}: no plain-markdown lead '**Exercise {label}.**' in a paragraph of its own")
    return problems


def _blocks(nb, index, name):
    return directive_blocks(source_of(nb.cells[index]), name)


def solution_problems(nb) -> list[str]:
    """One toggle per solution: a solution with code is one gated dropdown ({solution-start} ... {solution-end})
    around its text and its code cells; a solution without code is one {solution} dropdown."""
    problems = []
    for ex in find_exercises(nb):
        if ex.solution_code:
            starts = [i for i in ex.solution_markdown if _blocks(nb, i, "solution-start")]
            ends = [i for i in ex.solution_markdown if _blocks(nb, i, "solution-end")]
            inside = len(starts) == len(ends) == 1 and starts[0] < min(ex.solution_code)
            if not inside or max(ex.solution_code) > ends[0]:
                problems.append(f"{ex.label}: its solution code is not inside one gated dropdown")
                continue
            if not all(is_solution_cell(nb.cells[i]) for i in range(starts[0], ends[0] + 1)):
                problems.append(f"{ex.label}: an untagged cell inside the gated solution")
            block = _blocks(nb, starts[0], "solution-start")[0]
        else:
            blocks = [b for i in ex.solution_markdown for b in _blocks(nb, i, "solution")]
            if len(blocks) != 1:
                problems.append(f"{ex.label}: a solution without code is one {{solution}} block")
                continue
            block = blocks[0]
        if "dropdown" not in block.options.get("class", "") or block.arg != ex.label:
            problems.append(f"{ex.label}: the solution is not a dropdown for {ex.label}")
    return problems


EXERCISE_NOTEBOOKS = [p for p in NOTEBOOKS if find_exercises(nbformat.read(p, as_version=4))]


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=_rel)
def test_exercises_are_titled_by_label_read_as_plain_markdown_and_have_one_toggle(path):
    nb = nbformat.read(path, as_version=4)
    for ex in find_exercises(nb):
        assert exercise_problems(source_of(nb.cells[ex.cell])) == []
    assert solution_problems(nb) == []


def test_the_notation_page_exercises_are_titled_by_label():
    assert exercise_problems((ROOT / "chapters" / "notation.md").read_text()) == []


def test_the_site_gives_solution_code_cells_no_toggle_of_their_own():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert ".cell.tag_solution" not in config["togglebutton_selector"]
    assert ".admonition.dropdown" in config["togglebutton_selector"]


def _synthetic(gated=True, numbered=False, check_after=False, stored="FAIL x: not answered yet"):
    exercise = (
        ":::{exercise}\n:label: t-ex-1\nWrite it.\n:::"
        if numbered
        else ':::{exercise} t-ex-1\n:label: t-ex-1\n:nonumber:\n\n<span class="nb-only">**Exercise t-ex-1.**</span> '
        "Write it.\n\n:::"
    )
    check = new_code_cell("check.dilation_from_gaps(dilation, span)")
    check.outputs = [nbformat.v4.new_output("stream", text=stored + "\n")]
    solution = [
        new_markdown_cell(
            ":::{solution-start} t-ex-1\n:class: dropdown\n:::\n\nThree."
            if gated
            else ":::{solution} t-ex-1\n:class: dropdown\nThree.\n:::",
            metadata={"tags": ["solution"]},
        ),
        new_code_cell("dilation, span = 3, 7", metadata={"tags": ["solution"]}),
    ] + ([new_markdown_cell(":::{solution-end}\n:::", metadata={"tags": ["solution"]})] if gated else [])
    cells = [
        new_code_cell("from convbook.course.check import dilated as check"),
        new_markdown_cell(exercise),
        new_code_cell("dilation = None\nspan = None"),
    ]
    cells += solution + [check] if check_after else [check] + solution
    return new_notebook(cells=cells)


def test_the_exercise_checks_catch_a_numbered_title_a_second_toggle_and_a_late_check():
    good = _synthetic()
    assert exercise_problems(source_of(good.cells[1])) == [] and solution_problems(good) == []
    assert stored_output_problems(good) == []
    numbered = _synthetic(numbered=True)
    assert len(exercise_problems(source_of(numbered.cells[1]))) == 2
    assert solution_problems(_synthetic(gated=False)) == ["t-ex-1: its solution code is not inside one gated dropdown"]
    late = _synthetic(check_after=True, stored="PASS dilation_from_gaps: all 2 answers are right")
    assert len(stored_output_problems(late)) == 2
    assert checks_before_solutions(late) == [("t-ex-1", 1)]
    assert [c.source for c in late.cells][3] == "check.dilation_from_gaps(dilation, span)"
    assert len(stored_output_problems(_synthetic(stored="PASS dilation_from_gaps: all 2 answers are right"))) == 1
    assert len(stored_output_problems(_synthetic(stored=""))) == 1


# ------------------------------------------------------------------------------------- outputs under the stubs


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=_rel)
def test_the_outputs_stored_under_stubs_are_what_a_student_sees(path):
    assert stored_output_problems(nbformat.read(path, as_version=4)) == []


def _plain(outputs) -> str:
    text = []
    for out in outputs:
        value = out.get("text") or out.get("data", {}).get("text/plain", "")
        text.append("".join(value) if isinstance(value, list) else value)
    return "".join(text).strip()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dilated/08_exercises.ipynb", "separable/07_exercises.ipynb"])
def test_a_student_running_the_stubs_sees_the_stored_outputs(name, tmp_path):
    """The student edition (no solutions), executed, prints under each stub what the book stores there."""
    from nbclient import NotebookClient  # only this test runs a kernel

    path = ROOT / "chapters" / name
    book = nbformat.read(path, as_version=4)
    student, _, _ = studentize(copy.deepcopy(book), outputs="keep")
    NotebookClient(
        student, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    ran = {cell.get("id"): cell for cell in student.cells}
    for ex in find_exercises(book):
        for index in ex.answer_cells + ex.check_cells:
            cell = book.cells[index]
            assert _plain(ran[cell.get("id")].outputs) == _plain(cell.outputs), f"{name} {ex.label}: cell {index}"


# ---------------------------------------------------------------------------------------------- the built site


class _SolutionCells(HTMLParser):
    """Counts solution code cells (``cell tag_solution``) in and outside a solution admonition of a page."""

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # per open div: inside a solution admonition
        self.inside = self.outside = 0

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        classes = (dict(attrs).get("class") or "").split()
        in_solution = bool(self.stack and self.stack[-1]) or "solution" in classes
        if "tag_solution" in classes:
            self.inside += in_solution
            self.outside += not in_solution
        self.stack.append(in_solution)

    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()


@pytest.mark.slow
def test_a_small_book_built_with_the_book_configuration_titles_and_folds_exercises_as_intended(tmp_path):
    """Build two pages with the book's _config.yml and CSS: exercise titles are the labels, each solution is one
    dropdown holding its code cell, solution code cells have no toggle of their own, and glossary terms link."""
    book = tmp_path / "book"
    (book / "_static").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book)
    shutil.copy(ROOT / "references.bib", book)
    for name in ("student_path.css", "favicon.ico"):
        shutil.copy(ROOT / "_static" / name, book / "_static")
    for folder in ("_ext", "_templates"):  # local extensions and templates the configuration names
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, book / folder)
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: page\n  - file: glossary\n")
    (book / "index.md").write_text("# Home\n")
    (book / "glossary.md").write_text("# Glossary\n\n:::{glossary}\njump\n  A step.\n:::\n")
    nb = _synthetic()
    nb.cells.insert(0, new_markdown_cell("# Page\n\nA {term}`jump`."))
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, book / "page.ipynb")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(book), "-W", "--keep-going"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (book / "_build" / "html" / "page.html").read_text()
    assert '<p class="admonition-title">Exercise (t-ex-1)</p>' in html
    cells = _SolutionCells()
    cells.feed(html)
    assert (cells.inside, cells.outside) == (1, 0), "the solution code cell is inside the solution's dropdown"
    assert html.count('class="solution dropdown admonition"') == 1
    assert '<p class="admonition-title">Solution</p>' in html, "no link inside the dropdown's clickable title"
    assert "student_path.css" in html and 'href="glossary.html#term-jump"' in html


def test_built_exercise_pages_number_exercises_by_label_and_fold_code_into_the_solution():
    """On the built site (``make book``): every exercise box is titled by its label, and every solution code cell
    sits inside its solution's dropdown."""
    page = ROOT / "_build" / "html" / "chapters" / "dilated" / "08_exercises.html"
    source = ROOT / "chapters" / "dilated" / "08_exercises.ipynb"
    if not page.exists() or page.stat().st_mtime < source.stat().st_mtime:
        pytest.skip("no build of the book newer than its notebooks (make book)")
    html = page.read_text()
    titles = re.findall(r'<p class="admonition-title">(?:<span class="caption-number">)?([^<]*)', html)
    assert [t.strip() for t in titles if t.startswith("Exercise")] == [f"Exercise (dil-ex-{n})" for n in range(1, 9)]
    cells = _SolutionCells()
    cells.feed(html)
    assert cells.inside == 7 and cells.outside == 0
