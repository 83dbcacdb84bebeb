"""`make student` and `make student-site`: the student editions hold no solution, in sources or in outputs.

Runs the handout (convbook.course.handout) on a synthetic notebook (so that the logic is always tested) and writes
the whole handout of the repository's book; checks the student website's configuration, its notebooks, and the leak
scan that `python -m convbook.course check-site --student` runs on the built site. All three student editions (the
handout, the website, the nbgrader release) go through one pipeline, convbook.course.studentize.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from convbook.course import handout, student_site
from convbook.course.assignments import make_assignments
from convbook.course.exercises import find_exercises
from convbook.course.myst import directive_blocks, strip_solution_directives
from convbook.course.notation import notation_notebook
from convbook.course.notebooks import load_config, normalize, solution_fingerprints
from convbook.course.site.check import SiteChecker
from convbook.course.site.report import Report
from convbook.course.studentize import SolutionDirectiveGate, studentize

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", []) or []


def _texts(nb) -> str:
    """Every source and every output of a notebook, as one text."""
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def _assert_student_copy(original, student, outputs: str = "clear") -> None:
    """No solution survives (sources and outputs), and every other cell is kept, in order."""
    for cell in student.cells:
        assert "solution" not in _tags(cell), "a cell tagged 'solution' survived"
        if cell.cell_type == "markdown":
            assert not DIRECTIVE.search(cell.source), f"solution directive text survived: {cell.source[:80]!r}"
        if cell.cell_type == "code" and outputs == "clear":
            assert cell.outputs == [] and cell.execution_count is None, "an output or execution count survived"
            assert "execution" not in cell.metadata
    student_text = _texts(student)
    for cell in original.cells:
        if "solution" not in _tags(cell):
            continue
        for text in [cell.source] + [o.get("text", "") for o in cell.get("outputs", [])]:
            if len(text.strip()) >= 20:
                assert text.strip() not in student_text, f"solution text or output survived: {text[:80]!r}"
    assert "PASS " not in student_text or outputs == "keep", "a self-check's PASS survived"
    expected = [c for c in original.cells if "solution" not in _tags(c) and not DIRECTIVE.search(c.source)]
    kept = [c for c in student.cells if c.source in {e.source for e in expected}]
    assert [(c.cell_type, c.source) for c in kept] == [(c.cell_type, c.source) for c in expected]


def _synthetic_notebook():
    stub = new_code_cell("check.dilate_kernel(my_dilate_kernel)", execution_count=7)
    stub.outputs = [new_output("stream", name="stdout", text="PASS dilate_kernel: all 4 cases match\n")]
    lesson = new_code_cell("print('a lesson figure')", execution_count=3)
    lesson.outputs = [new_output("stream", name="stdout", text="a lesson figure\n")]
    solution = new_code_cell("def my_dilate_kernel(w, d):\n    return SECRET_ANSWER", metadata={"tags": ["solution"]})
    solution.outputs = [new_output("stream", name="stdout", text="the solution's printed answer: 13\n")]
    after = new_code_cell("print('a figure after the exercises')", execution_count=9)
    after.outputs = [new_output("stream", name="stdout", text="a figure after the exercises\n")]
    cells = [
        new_code_cell("import numpy as np", metadata={"tags": ["remove-cell"]}),
        new_markdown_cell("# A section\n\nWhat does dilation do?"),
        lesson,
        new_markdown_cell(":::{exercise}\n:label: dil-ex-1\nWhat is the span of a 5-tap kernel at d=3?\n:::"),
        new_markdown_cell(
            ":::{solution} dil-ex-1\n:class: dropdown\nThe span is 13.\n:::", metadata={"tags": ["solution"]}
        ),
        solution,
        stub,
        # untagged by mistake: the safety net cuts the directive, keeps the exercise text
        new_markdown_cell(
            "::::{exercise}\n:label: dil-ex-2\nWhy?\n::::\n\n::::{solution} dil-ex-2\n:class: dropdown\n"
            "```python\nLEAKED_CODE = 1\n```\n::::\n"
        ),
        new_markdown_cell("## What we learned"),
        after,
    ]
    return new_notebook(cells=cells)


def test_synthetic_notebook(tmp_path):
    src = tmp_path / "src" / "chapters" / "dilated" / "01_demo.ipynb"
    src.parent.mkdir(parents=True)
    nbformat.write(_synthetic_notebook(), src)
    out = tmp_path / "student"
    reports = handout.make_student([src], out, root=tmp_path / "src", quiet=True)
    target = out / "chapters" / "dilated" / "01_demo.ipynb"
    assert target.exists(), "folder layout not preserved"
    (report,) = reports
    assert report.removed_tagged == 2
    assert len(report.warnings) == 1  # the untagged {solution} block
    student = nbformat.read(target, as_version=4)
    _assert_student_copy(nbformat.read(src, as_version=4), student)
    text = _texts(student)
    assert "SECRET_ANSWER" not in text and "The span is 13" not in text and "LEAKED_CODE" not in text
    assert "PASS" not in text and "printed answer" not in text and "a lesson figure\n" not in text
    assert "{exercise}" in text and ":label: dil-ex-2" in text and "check.dilate_kernel" in text
    assert len(student.cells) == 8


def test_site_edition_keeps_the_lessons_outputs_and_clears_the_exercises():
    nb = _synthetic_notebook()
    site, removed, _ = studentize(nb, outputs="exercises")
    assert removed == 2
    lesson = next(c for c in site.cells if c.source.startswith("print('a lesson"))
    check = next(c for c in site.cells if c.source.startswith("check."))
    assert lesson.outputs and lesson.execution_count == 3, "a lesson's output before the exercises is kept"
    assert check.outputs == [] and check.execution_count is None, "an exercise's outputs are cleared"
    later = next(c for c in site.cells if c.source.startswith("print('a figure after"))
    assert later.outputs, "a lesson's output after the exercises (past the next heading) is kept"
    with pytest.raises(ValueError, match="studentize: outputs must be 'clear', 'exercises' or 'keep', got 'some'"):
        studentize(nb, outputs="some")
    with pytest.raises(TypeError, match="studentize: outputs must be a str, .* got NoneType"):
        studentize(nb, outputs=None)


def test_gated_solution_regions_are_dropped():
    """Cells between {solution-start} and {solution-end} are solution text, tagged or not (the directive gate)."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Lesson"),
            new_markdown_cell(":::{solution-start} ex-1\n:::", metadata={"tags": ["solution"]}),
            new_code_cell("GATED_CODE = 1"),
            new_markdown_cell("GATED_TEXT\n\n:::{solution-end}\n:::"),
            new_markdown_cell("after the tagged region"),
            new_markdown_cell(":::{solution-start} ex-2\n:::"),
            new_code_cell("UNTAGGED_GATED = 2"),
            new_markdown_cell(":::{solution-end}\n:::"),
            new_markdown_cell("the end"),
        ]
    )
    student, removed, warnings = studentize(nb)
    assert [c.source for c in student.cells] == ["# Lesson", "after the tagged region", "the end"]
    assert removed == 1 and len(warnings) == 5
    assert warnings[0].startswith("cell 2: inside an untagged {solution-start}")
    assert warnings[2].startswith("cell 5: untagged {solution-start}")


def test_strip_nested_fences():
    text = "before\n::::{solution} x\n:::{note}\ninner\n:::\nstill solution\n::::\nafter\n"
    stripped, count = strip_solution_directives(text)
    assert count == 1
    assert stripped == "before\nafter\n"


def test_out_dir_not_ours_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not made by this command"):
        handout.make_student([], tmp_path, root=tmp_path, quiet=True)
    assert (tmp_path / "precious.txt").exists()


def test_command_line(tmp_path, capsys):
    src = tmp_path / "chapters" / "02_cli.ipynb"
    src.parent.mkdir(parents=True)
    nbformat.write(_synthetic_notebook(), src)
    out = tmp_path / "student"
    assert handout.main(["--out", str(out), str(src)]) == 0
    assert "removed 2 solution cell(s)" in capsys.readouterr().out
    (copy,) = out.rglob("*.ipynb")  # outside the repository: written under its own name
    assert copy.name == "02_cli.ipynb"
    assert "SECRET_ANSWER" not in copy.read_text()


# --------------------------------------------------------------------------- the repository's handout


@pytest.fixture(scope="module")
def the_handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "student"
    reports = handout.write_handout(out, ROOT, quiet=True)
    return out, reports


@pytest.mark.slow
def test_handout_notebooks_hold_no_solution(the_handout):
    out, reports = the_handout
    notebooks = handout.find_notebooks(ROOT)
    assert len(reports) == len(notebooks) + 1  # and the notation notebook
    fingerprints = solution_fingerprints(ROOT)
    assert len(fingerprints) > 50, "the leak test needs solutions to look for"
    for report in reports[:-1]:
        rel = report.source.relative_to(ROOT)
        assert report.target == out / rel, "the book's folder layout is kept (launch buttons of a class repository)"
        original = nbformat.read(report.source, as_version=4)
        student = nbformat.read(report.target, as_version=4)
        _assert_student_copy(original, student)
        flat = normalize(_texts(student))
        leaks = [f for f in fingerprints if f in flat]
        assert not leaks, f"{rel}: solution text in the student copy: {leaks[:3]}"
        assert not student.metadata.get("widgets")


@pytest.mark.slow
def test_handout_can_be_installed_and_read(the_handout):
    out, _ = the_handout
    readme = (out / "README.md").read_text()
    for path in out.rglob("*.ipynb"):
        if path.relative_to(out).parts[0] != "lib":
            assert f"`{path.relative_to(out).as_posix()}`" in readme, f"README does not list {path}"
    assert "{{" not in readme
    requirements = (out / "requirements.txt").read_text().splitlines()
    pins = {line.split("==")[0]: line for line in requirements if "==" in line}
    book_pins = {line.split("==")[0]: line for line in (ROOT / "requirements.txt").read_text().splitlines()}
    for name in ("numpy", "torch", "matplotlib", "jupyterlab", "ipykernel"):
        assert pins[name] == book_pins[name], f"{name}: the handout's pin differs from the book's"
    assert "nbval" not in pins and "jupyter-book" not in pins and "pytest" not in pins
    assert requirements[-1] == "-e ."
    assert (out / "pyproject.toml").exists() and (
        out / "lib" / "convbook" / "course" / "check" / "__init__.py"
    ).exists()
    shipped = {p.name for p in (out / "lib" / "convbook" / "course").iterdir()}
    assert shipped == {"__init__.py", "check", "doctor.py"}, f"the course tooling is the authors': {shipped}"
    assert (out / "LICENSE").exists() and (out / ".gitignore").exists()
    assert not list(out.rglob("__pycache__"))
    # the handout's own library is what `import convbook` finds (as in a clone of a class repository)
    env = {**os.environ, "PYTHONPATH": str(out / "lib")}
    found = subprocess.run(
        [sys.executable, "-c", "import convbook, convbook.course.check.dilated; print(convbook.__file__)"],
        cwd=out.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(out), found
    # and pip can build it, offline, from the handout's pyproject.toml (what `-e .` does)
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            "-e",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]


@pytest.mark.slow
def test_handout_notebook_runs_and_its_checks_fail_without_answers(the_handout):
    """A student opens the dilated exercises: every check runs and says what to do, none passes, nothing raises."""
    from nbclient import NotebookClient

    out, _ = the_handout
    path = out / "chapters" / "dilated" / "08_exercises.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = str(out / "lib")
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute(
        env=env
    )
    results = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in results if o.output_type == "error"]
    checks = [o["data"]["text/plain"] for o in results if o.output_type == "execute_result"]
    assert len(checks) == sum("check." in c.source for c in nb.cells if c.cell_type == "code") >= 8
    for text in checks:
        assert text.startswith("FAIL"), text
        assert "not implemented yet" in text or "not answered yet" in text, text


@pytest.mark.slow
def test_the_notation_notebook(the_handout):
    out, _ = the_handout
    config = load_config(ROOT)
    nb = nbformat.read(out / config["notation"]["notebook"], as_version=4)
    page = (ROOT / config["notation"]["source"]).read_text()
    labels = [b.options["label"] for b in directive_blocks(page, "exercise")]
    assert labels and labels == list(config["notation"]["exercises"])
    exercises = find_exercises(nb)
    assert [e.label for e in exercises] == labels
    for exercise in exercises:
        assert exercise.kind == "value" and exercise.checks, exercise.label
    assert "remove-cell" in _tags(nb.cells[0]) and "google.colab" in nb.cells[0].source
    # the book-style notebook: its solutions pass its own checks
    book = notation_notebook(config, ROOT)
    namespace: dict = {}
    for cell in book.cells[1:]:
        if cell.cell_type == "code":
            exec(cell.source, namespace)  # noqa: S102 (our own generated cells)
            if "check." in cell.source:
                assert eval(cell.source, namespace), cell.source  # noqa: S307


# --------------------------------------------------------------------------- the student website


def test_student_site_configuration():
    import yaml

    book = yaml.safe_load((ROOT / "_config.yml").read_text())
    plain = student_site.student_config(book, None)
    assert "repository" not in plain and not plain["html"]["use_repository_button"]
    assert plain["launch_buttons"]["binderhub_url"] == "" and plain["launch_buttons"]["colab_url"] == ""
    assert plain["sphinx"]["config"]["html_copy_source"] is True and plain["sphinx"]["config"]["hide_solutions"]
    assert plain["html"]["use_download_button"]
    assert book["html"]["use_repository_button"], "the book's own configuration is not changed"
    classroom = student_site.student_config(book, "https://github.com/school/class")
    assert classroom["repository"]["url"] == "https://github.com/school/class"
    assert classroom["html"]["use_repository_button"]
    note = student_site.instructor_note("(instructor-guide)=\n# Instructor's guide\n\nsecret plans", "Guide")
    assert note.startswith("(instructor-guide)=\n# Guide") and "secret plans" not in note


@pytest.mark.slow
def test_student_book_sources(tmp_path):
    out = tmp_path / "student-book"
    counts = student_site.write_student_book(out, ROOT, quiet=True)
    assert counts["solution cells removed"] > 50 and counts["solution blocks removed"] >= 3
    fingerprints = solution_fingerprints(ROOT)
    for path in out.rglob("*.ipynb"):
        if path.relative_to(out).parts[0] in ("lib", "tests", "scripts", "benchmarks"):
            continue
        text = normalize(_texts(nbformat.read(path, as_version=4)))
        assert not [f for f in fingerprints if f in text], path
        assert "PASS " not in text, path
    for path in (out / "chapters").rglob("*.md"):
        assert not DIRECTIVE.search(path.read_text()), path
    assert "Check yourself" in (out / "chapters" / "notation.md").read_text()
    assert "This page is for instructors" in (out / "chapters" / "instructor_guide.md").read_text()
    assert (out / "_toc.yml").read_text() == (ROOT / "_toc.yml").read_text()


def test_the_site_scan_finds_a_leak(tmp_path):
    site = tmp_path / "html"
    (site / "_sources").mkdir(parents=True)
    (site / "index.html").write_text("<html><body><p>A lesson.</p></body></html>")
    report = Report()
    with pytest.raises(ValueError, match="PageChecker: book must be the book's repository when student is True"):
        SiteChecker(site, ROOT / "_toc.yml", tmp_path / "shots", ROOT, report, True, None)
    checker = SiteChecker(site, ROOT / "_toc.yml", tmp_path / "shots", ROOT, report, True, None, book=ROOT)
    checker.scan_for_solutions()
    assert report.ok, dict(report.failures)
    leak = solution_fingerprints(ROOT)[0]
    (site / "chapters.html").write_text(f"<html><body><pre><span>{leak[:10]}</span>{leak[10:]}</pre></body></html>")
    nb = new_notebook(cells=[new_code_cell("check.x(f)")])
    nb.cells[0].outputs = [new_output("execute_result", data={"text/plain": "PASS x: all 3 cases match"})]
    (site / "_sources" / "a.ipynb").write_text(json.dumps(nb))
    checker.scan_for_solutions()
    failures = "\n".join(report.failures["student edition"])
    assert "chapters.html: solution text" in failures
    assert "a.ipynb: a self-check's PASS" in failures


# --------------------------------------------------------------------------- one pipeline for the three editions

PLANTED = ("PLANTED_SOLUTION_CODE", "PLANTED_TAGGED_OUTSIDE", "PLANTED_DIRECTIVE_TEXT", "PLANTED_OUTPUT")


def _planted_book(root: Path) -> None:
    """A one-notebook book with a solution cell, an untagged {solution} directive and a stored PASS output."""
    check = new_code_cell("print(check.dilate_kernel(my_dilate_kernel))", execution_count=4)
    check.outputs = [new_output("stream", name="stdout", text="PASS dilate_kernel: all 4 cases match PLANTED_OUTPUT\n")]
    nb = new_notebook(
        cells=[
            new_code_cell("from convbook.course.check import dilated as check"),
            new_markdown_cell("# Demo"),
            new_markdown_cell(":::{exercise}\n:label: demo-ex-1\nWrite my_dilate_kernel.\n:::"),
            new_code_cell("def my_dilate_kernel(w, dilation):\n    raise NotImplementedError"),
            new_code_cell(
                "def my_dilate_kernel(w, dilation):\n    return PLANTED_SOLUTION_CODE", metadata={"tags": ["solution"]}
            ),
            check,
            new_markdown_cell("## Later"),
            new_markdown_cell(
                "A note, tagged by its author.\n\nPLANTED_TAGGED_OUTSIDE", metadata={"tags": ["solution"]}
            ),
            new_markdown_cell(
                "Kept text.\n\n:::{solution} demo-ex-1\n:class: dropdown\nPLANTED_DIRECTIVE_TEXT\n:::\n", metadata={}
            ),
        ]
    )
    (root / "chapters").mkdir(parents=True)
    nbformat.write(nb, root / "chapters" / "demo.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n- file: chapters/demo\n")
    (root / "_config.yml").write_text("title: Demo\n")
    (root / "index.md").write_text("# Demo book\n")
    (root / "course").mkdir()
    (root / "course" / "assignments.yml").write_text("handout:\n  instructor_pages: []\n")


def _assert_studentized(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    text = _texts(nb)
    assert not [p for p in PLANTED if p in text], f"{path}: {[p for p in PLANTED if p in text]}"
    assert not DIRECTIVE.search(text) and "PASS dilate_kernel" not in text
    assert "raise NotImplementedError" in text and "Kept text." in text and "check.dilate_kernel" in text
    assert nb.metadata["convbook"]["student_copy"]
    return text


@pytest.mark.slow
def test_the_three_editions_share_one_studentizing_pipeline(tmp_path, monkeypatch):
    """The handout, the student website and the nbgrader release all pass the notebook through
    convbook.course.studentize: each strips the planted solution cells, the untagged {solution} directive and the
    exercise's stored output."""
    root = tmp_path / "book"
    _planted_book(root)
    gated = []
    gate = SolutionDirectiveGate.preprocess

    def spy(self, nb, resources):
        gated.append(len(nb.cells))
        return gate(self, nb, resources)

    monkeypatch.setattr(SolutionDirectiveGate, "preprocess", spy)
    # the handout
    (report,) = handout.make_student(handout.find_notebooks(root), tmp_path / "handout", root, quiet=True)
    assert len(gated) == 1 and report.removed_tagged == 2 and len(report.warnings) == 1
    _assert_studentized(tmp_path / "handout" / "chapters" / "demo.ipynb")
    # the student website's sources
    student_site.write_student_book(tmp_path / "site", root, quiet=True)
    assert len(gated) == 2
    _assert_studentized(tmp_path / "site" / "chapters" / "demo.ipynb")
    # the nbgrader release
    config = {
        "notation": {"notebook": "chapters/notation_exercises.ipynb"},
        "assignments": {"a1-demo": {"title": "Demo", "notebooks": ["chapters/demo.ipynb"]}},
    }
    (plan,) = make_assignments(tmp_path / "course", root, seed=7, quiet=True, config=config)
    assert len(gated) == 3
    text = _assert_studentized(tmp_path / "course" / "release" / "a1-demo" / "demo.ipynb")
    assert "Assignment a1-demo" in text
    assert [w for w in plan.warnings if "{solution} block(s) in an untagged markdown cell" in w]
    source = (tmp_path / "course" / "source" / "a1-demo" / "demo.ipynb").read_text()
    assert "PLANTED_SOLUTION_CODE" in source, "the instructor's source keeps the solution between nbgrader's markers"


def test_the_makefile_calls_commands_that_exist(capsys):
    """Every `python -m convbook.course COMMAND` of the Makefile and .ci/run is a command with a main()."""
    import importlib

    from convbook.course.__main__ import COMMANDS, main

    used = set()
    for path in (ROOT / "Makefile", ROOT / ".ci" / "run"):
        used |= set(re.findall(r"-m convbook\.course ([\w-]+)", path.read_text()))
    assert {"build", "handout", "student-site", "assignments", "grade", "check-site", "check-explorer", "pdf"} <= used
    assert used <= set(COMMANDS), sorted(used - set(COMMANDS))
    for module, _ in COMMANDS.values():
        assert callable(importlib.import_module(module).main), module
    assert main(["no-such-command"]) == 2
    assert "unknown command 'no-such-command'" in capsys.readouterr().err
    assert not (ROOT / "scripts").exists(), "the course tooling lives in convbook.course"
