"""`make student`: student copies keep every cell except the solutions.

Runs scripts/make_student.py on a synthetic notebook (so the logic is always
tested) and on every notebook of the repository (whatever chapters exist).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_student", ROOT / "scripts" / "make_student.py")
make_student = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_student", make_student)  # dataclasses look their module up
_spec.loader.exec_module(make_student)

DIRECTIVE = re.compile(r"\{solution(?:-start|-end)?\}")


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", []) or []


def _assert_student_copy(original, student) -> None:
    """No solution survives, and every other cell is kept, in order and unchanged."""
    for cell in student.cells:
        assert "solution" not in _tags(cell), "a cell tagged 'solution' survived"
        if cell.cell_type == "markdown":
            assert not DIRECTIVE.search(cell.source), f"solution directive text survived: {cell.source[:80]!r}"
    # whole solution cells (long enough not to match by accident) must not reappear anywhere
    solution_sources = [
        c.source.strip() for c in original.cells if "solution" in _tags(c) and len(c.source.strip()) >= 20
    ]
    student_text = "\n".join(c.source for c in student.cells)
    for source in solution_sources:
        assert source not in student_text, f"solution text survived: {source[:80]!r}"
    expected = [c for c in original.cells if "solution" not in _tags(c) and not DIRECTIVE.search(c.source)]
    kept = [c for c in student.cells if c.source in {e.source for e in expected}]
    assert [(c.cell_type, c.source) for c in kept] == [(c.cell_type, c.source) for c in expected]


def _synthetic_notebook():
    cells = [
        new_code_cell("import numpy as np", metadata={"tags": ["remove-cell"]}),
        new_markdown_cell("# A section\n\nWhat does dilation do?"),
        new_markdown_cell(":::{exercise}\n:label: dil-ex-1\nWhat is the span of a 5-tap kernel at d=3?\n:::"),
        new_markdown_cell(
            ":::{solution} dil-ex-1\n:class: dropdown\nThe span is 13.\n:::", metadata={"tags": ["solution"]}
        ),
        new_code_cell("def my_dilate_kernel(w, d):\n    return SECRET_ANSWER", metadata={"tags": ["solution"]}),
        new_code_cell("check.dilate_kernel(my_dilate_kernel)"),
        # untagged by mistake: the safety net cuts the directive, keeps the exercise text
        new_markdown_cell(
            "::::{exercise}\n:label: dil-ex-2\nWhy?\n::::\n\n::::{solution} dil-ex-2\n:class: dropdown\n"
            "```python\nLEAKED_CODE = 1\n```\n::::\n"
        ),
        new_markdown_cell("## What we learned"),
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
    text = "\n".join(c.source for c in student.cells)
    assert "SECRET_ANSWER" not in text and "The span is 13" not in text and "LEAKED_CODE" not in text
    assert "{exercise}" in text and ":label: dil-ex-2" in text and "check.dilate_kernel" in text
    assert len(student.cells) == 6


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


def test_repository_notebooks(tmp_path):
    """Every notebook of the book (none yet is fine): no solution survives, other cells kept."""
    notebooks = make_student.find_notebooks(ROOT)
    assert all("_build" not in p.parts and ".venv" not in p.parts for p in notebooks)
    out = tmp_path / "student"
    reports = make_student.make_student(notebooks, out, root=ROOT, quiet=True)
    assert len(reports) == len(notebooks)
    for report in reports:
        rel = report.source.relative_to(ROOT)
        assert report.target == out / rel
        _assert_student_copy(nbformat.read(report.source, as_version=4), nbformat.read(report.target, as_version=4))


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
