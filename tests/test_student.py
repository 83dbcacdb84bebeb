"""`make student` and `make student-site`: the student editions hold no solution, in sources or in outputs.

Runs scripts/make_student.py on a synthetic notebook (so that the logic is always tested) and writes the whole
handout of the repository's book; checks the student website's configuration, its notebooks, and the leak scan
that `scripts/check_site.py --student` runs on the built site.
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

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


make_student = load_script("make_student")
make_student_site = load_script("make_student_site")
cn = load_script("course_notebooks")
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
    reports = make_student.make_student([src], out, root=tmp_path / "src", quiet=True)
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
    site, removed, _ = cn.studentize(nb, outputs="exercises")
    assert removed == 2
    lesson = next(c for c in site.cells if c.source.startswith("print('a lesson"))
    check = next(c for c in site.cells if c.source.startswith("check."))
    assert lesson.outputs and lesson.execution_count == 3, "a lesson's output before the exercises is kept"
    assert check.outputs == [] and check.execution_count is None, "an exercise's outputs are cleared"
    later = next(c for c in site.cells if c.source.startswith("print('a figure after"))
    assert later.outputs, "a lesson's output after the exercises (past the next heading) is kept"
    with pytest.raises(ValueError, match="outputs must be"):
        cn.studentize(nb, outputs="some")


def test_strip_nested_fences():
    text = "before\n::::{solution} x\n:::{note}\ninner\n:::\nstill solution\n::::\nafter\n"
    stripped, count = make_student.strip_solution_directives(text)
    assert count == 1
    assert stripped == "before\nafter\n"


def test_out_dir_not_ours_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not made by this script"):
        make_student.make_student([], tmp_path, root=tmp_path, quiet=True)
    assert (tmp_path / "precious.txt").exists()


def test_command_line(tmp_path, capsys):
    src = tmp_path / "chapters" / "02_cli.ipynb"
    src.parent.mkdir(parents=True)
    nbformat.write(_synthetic_notebook(), src)
    out = tmp_path / "student"
    assert make_student.main(["--out", str(out), str(src)]) == 0
    assert "removed 2 solution cell(s)" in capsys.readouterr().out
    (copy,) = out.rglob("*.ipynb")  # outside the repository: written under its own name
    assert copy.name == "02_cli.ipynb"
    assert "SECRET_ANSWER" not in copy.read_text()


# --------------------------------------------------------------------------- the repository's handout


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout") / "student"
    reports = make_student.write_handout(out, quiet=True)
    return out, reports


def test_handout_notebooks_hold_no_solution(handout):
    out, reports = handout
    notebooks = make_student.find_notebooks(ROOT)
    assert len(reports) == len(notebooks) + 1  # and the notation notebook
    fingerprints = cn.solution_fingerprints(ROOT)
    assert len(fingerprints) > 50, "the leak test needs solutions to look for"
    for report in reports[:-1]:
        rel = report.source.relative_to(ROOT)
        assert report.target == out / rel, "the book's folder layout is kept (launch buttons of a class repository)"
        original = nbformat.read(report.source, as_version=4)
        student = nbformat.read(report.target, as_version=4)
        _assert_student_copy(original, student)
        flat = cn.normalize(_texts(student))
        leaks = [f for f in fingerprints if f in flat]
        assert not leaks, f"{rel}: solution text in the student copy: {leaks[:3]}"
        assert not student.metadata.get("widgets")


def test_handout_can_be_installed_and_read(handout):
    out, _ = handout
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
    assert (out / "pyproject.toml").exists() and (out / "lib" / "convbook" / "check" / "__init__.py").exists()
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


def test_handout_notebook_runs_and_its_checks_fail_without_answers(handout):
    """A student opens the dilated exercises: every check runs and says what to do, none passes, nothing raises."""
    from nbclient import NotebookClient

    out, _ = handout
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


def test_the_notation_notebook(handout):
    out, _ = handout
    config = cn.load_config()
    nb = nbformat.read(out / config["notation"]["notebook"], as_version=4)
    page = (ROOT / config["notation"]["source"]).read_text()
    labels = [b.options["label"] for b in cn.directive_blocks(page, "exercise")]
    assert labels and labels == list(config["notation"]["exercises"])
    exercises = cn.find_exercises(nb)
    assert [e.label for e in exercises] == labels
    for exercise in exercises:
        assert exercise.kind == "value" and exercise.checks, exercise.label
    assert "remove-cell" in _tags(nb.cells[0]) and "google.colab" in nb.cells[0].source
    # the book-style notebook: its solutions pass its own checks
    book = cn.notation_notebook(config)
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
    plain = make_student_site.student_config(book, None)
    assert "repository" not in plain and not plain["html"]["use_repository_button"]
    assert plain["launch_buttons"]["binderhub_url"] == "" and plain["launch_buttons"]["colab_url"] == ""
    assert plain["sphinx"]["config"]["html_copy_source"] is True and plain["sphinx"]["config"]["hide_solutions"]
    assert plain["html"]["use_download_button"]
    assert book["html"]["use_repository_button"], "the book's own configuration is not changed"
    classroom = make_student_site.student_config(book, "https://github.com/school/class")
    assert classroom["repository"]["url"] == "https://github.com/school/class"
    assert classroom["html"]["use_repository_button"]
    note = make_student_site.instructor_note("(instructor-guide)=\n# Instructor's guide\n\nsecret plans", "Guide")
    assert note.startswith("(instructor-guide)=\n# Guide") and "secret plans" not in note


def test_student_book_sources(tmp_path):
    out = tmp_path / "student-book"
    counts = make_student_site.write_student_book(out, quiet=True)
    assert counts["solution cells removed"] > 50 and counts["solution blocks removed"] >= 3
    fingerprints = cn.solution_fingerprints(ROOT)
    for path in out.rglob("*.ipynb"):
        if path.relative_to(out).parts[0] in ("lib", "tests", "scripts", "benchmarks"):
            continue
        text = cn.normalize(_texts(nbformat.read(path, as_version=4)))
        assert not [f for f in fingerprints if f in text], path
        assert "PASS " not in text, path
    for path in (out / "chapters").rglob("*.md"):
        assert not DIRECTIVE.search(path.read_text()), path
    assert "Check yourself" in (out / "chapters" / "notation.md").read_text()
    assert "This page is for instructors" in (out / "chapters" / "instructor_guide.md").read_text()
    assert (out / "_toc.yml").read_text() == (ROOT / "_toc.yml").read_text()


def test_the_site_scan_finds_a_leak(tmp_path):
    check_site = load_script("check_site")
    site = tmp_path / "html"
    (site / "_sources").mkdir(parents=True)
    (site / "index.html").write_text("<html><body><p>A lesson.</p></body></html>")
    report = check_site.Report()
    checker = check_site.SiteChecker(site, ROOT / "_toc.yml", tmp_path / "shots", ROOT, report, True, None)
    checker.scan_for_solutions()
    assert report.ok, dict(report.failures)
    leak = cn.solution_fingerprints(ROOT)[0]
    (site / "chapters.html").write_text(f"<html><body><pre><span>{leak[:10]}</span>{leak[10:]}</pre></body></html>")
    nb = new_notebook(cells=[new_code_cell("check.x(f)")])
    nb.cells[0].outputs = [new_output("execute_result", data={"text/plain": "PASS x: all 3 cases match"})]
    (site / "_sources" / "a.ipynb").write_text(json.dumps(nb))
    checker.scan_for_solutions()
    failures = "\n".join(report.failures["student edition"])
    assert "chapters.html: solution text" in failures
    assert "a.ipynb: a self-check's PASS" in failures
