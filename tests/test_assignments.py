"""`make assignments`: nbgrader source notebooks made from notebooks in the book's format (fast; no nbgrader run).

tests/test_grading.py runs nbgrader itself on two of the assignments.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from convbook.course import assignments as ma
from convbook.course import nbgrader_source as ns
from convbook.course.exercises import find_exercises
from convbook.course.notebooks import book_notebooks, load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(ROOT)
#: The course's assignments are the term's graded variants (tests/test_course_graded.py); the book's own notebooks,
#: each assignment's `practice:`, still go through the same pipeline with `notebooks:` (practice runs, and the
#: grading tests), which these tests check.
BOOK_CONFIG = dict(
    CONFIG,
    assignments={
        name: {"title": spec["title"], "notebooks": spec["practice"]} for name, spec in CONFIG["assignments"].items()
    },
)


@pytest.fixture(scope="module")
def planned():
    return ma.plan_assignments(BOOK_CONFIG, ROOT)


def test_split_points():
    assert ns.split_points(4, 2) == [2, 2]
    assert ns.split_points(4, 3) == [1.5, 1.5, 1.0]
    assert ns.split_points(2, 1) == [2]
    assert ns.split_points(3, 0) == []
    for total, n in [(5, 3), (7, 4), (1, 3)]:
        assert sum(ns.split_points(total, n)) == total


def _synthetic():
    return new_notebook(
        cells=[
            new_code_cell("from convbook.course.check import dilated as chk\nimport numpy as np"),
            new_markdown_cell("# Title"),
            new_markdown_cell(":::{exercise}\n:label: t-ex-1\nWrite f.\n:::"),
            new_code_cell("def f(weight, dilation):\n    raise NotImplementedError\n\n\nprint(chk.dilate_kernel(f))"),
            new_markdown_cell(
                ":::{solution} t-ex-1\n:class: dropdown\nInsert zeros.\n:::", metadata={"tags": ["solution"]}
            ),
            new_code_cell("def f(weight, dilation):\n    return SOLUTION", metadata={"tags": ["solution"]}),
            new_markdown_cell(":::{exercise}\n:label: t-ex-2\nBy hand: how much?\n:::"),
            new_code_cell("answer = None  # your answer"),
            new_code_cell("answer = 13", metadata={"tags": ["solution"]}),
            new_code_cell('print("correct" if answer == 13 else "not yet")'),
            new_markdown_cell(":::{exercise}\n:label: t-ex-3\nWhy?\n:::"),
            new_markdown_cell(":::{solution} t-ex-3\n:class: dropdown\nBecause.\n:::", metadata={"tags": ["solution"]}),
            new_markdown_cell("## Next section"),
            new_code_cell("print('lesson')"),
        ]
    )


def test_exercises_are_found_from_the_structure():
    exercises = find_exercises(_synthetic())
    assert [(e.label, e.kind) for e in exercises] == [
        ("t-ex-1", "function"),
        ("t-ex-2", "value"),
        ("t-ex-3", "written"),
    ]
    f, value, written = exercises
    assert f.functions == ["f"] and [c.source for c in f.checks] == ["chk.dilate_kernel(f)"]
    assert f.checks[0].takes_seed and f.checks[0].with_seed(5) == "chk.dilate_kernel(f, seed=5)"
    assert value.values == ["answer"] and value.checks == [] and value.check_cells == [9]
    assert written.cells == [10, 11], "an exercise ends at the next heading"


def test_nbgrader_source_of_a_synthetic_notebook():
    plan = ns.AssignmentPlan("t", "T", ["x.ipynb"])
    nb = ns.nbgrader_source(_synthetic(), "x.ipynb", {"points": {"function": 4, "value": 2, "written": 3}}, plan, "H")
    meta = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    answer = meta["t-ex-1-answer"].source
    assert answer.startswith("def f(weight, dilation):\n    raise NotImplementedError")
    assert "### BEGIN SOLUTION\ndef f(weight, dilation):\n    return SOLUTION\n### END SOLUTION" in answer
    assert "print(chk.dilate_kernel(f))" not in answer, "the self-check moves to its own cell"
    assert any(c.source == "print(chk.dilate_kernel(f))" for c in nb.cells)
    assert "assert _result" in meta["t-ex-1-test-1"].source and meta["t-ex-1-test-1"].metadata["nbgrader"]["locked"]
    hidden = meta["t-ex-1-hidden-1"].source
    assert "### BEGIN HIDDEN TESTS" in hidden and "chk.dilate_kernel(f, seed=_grading_seed())" in hidden
    value = meta["t-ex-2-value"].source  # the book's answer, run in the grader, against the student's, part by part
    assert "answer = 13" in value and "BEGIN HIDDEN TESTS" in value and "round(POINTS *" in value
    assert meta["t-ex-3-written"].cell_type == "markdown" and meta["t-ex-3-written"].source == "Because."
    assert [(i.grade_id, i.points) for i in plan.items] == [
        ("t-ex-1-test-1", 2),
        ("t-ex-1-hidden-1", 2),
        ("t-ex-2-value", 2),
        ("t-ex-3-written", 3),
    ]
    assert not any("solution" in (c.metadata.get("tags") or []) for c in nb.cells)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == "H"


def test_every_exercise_of_every_assignment_is_graded(planned):
    plans, sources = planned
    assert [p.name for p in plans] == list(CONFIG["assignments"])
    for plan in plans:
        assert not plan.warnings, plan.warnings
        graded = {item.exercise for item in plan.items}
        for path in plan.notebooks:
            book = ma.book_notebook(path, BOOK_CONFIG, ROOT)
            labels = {e.label for e in find_exercises(book)}
            assert labels and labels <= graded, f"{path}: exercises without points: {labels - graded}"
        assert plan.auto_points > 0


def test_source_notebooks_carry_the_books_solutions_between_markers(planned):
    plans, sources = planned
    notebooks = {(plan.name, Path(p).name): p for plan in plans for p in plan.notebooks}
    for (assignment, name), nb in sources.items():
        path = notebooks[(assignment, name)]
        book = ma.book_notebook(path, BOOK_CONFIG, ROOT)
        text = "\n".join(c.source for c in nb.cells)
        for cell in book.cells:
            if "solution" in (cell.metadata.get("tags") or []) and cell.cell_type == "code":
                assert cell.source.strip() in text, f"{name}: a solution is missing from the source notebook"
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{name}: duplicate grade ids"
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta and meta["grade"] and cell.cell_type == "code":  # a pass/fail test, or one that scores each part
                assert meta["locked"] and (
                    "assert" in cell.source or "points=" in cell.source or "POINTS" in cell.source
                )
            if "### BEGIN SOLUTION" in cell.source:
                assert meta and meta["solution"], "a solution region outside a solution cell"
            assert not cell.get("outputs")


def test_function_exercises_have_public_and_hidden_tests(planned):
    plans, _ = planned
    kinds = {}
    for plan in plans:
        for item in plan.items:
            kinds.setdefault(item.exercise, set()).add(item.kind)
    for label in ("dil-ex-5", "dil-ex-6", "dil-ex-7", "sep-ex-4", "sep-ex-6", "ch1-ex-3", "pw-ex-2", "perf-ex-4"):
        assert {"public", "hidden"} <= kinds[label], label
    assert kinds["ch1-ex-1"] == {"value"}, "an answer without a self-check is graded against the solution"
    assert kinds["dil-ex-8"] == {"written"}


def test_the_guide_states_the_points_that_are_generated():
    """The grading scheme in the instructor guide is the one `make assignments` writes (the graded variants)."""
    plans, _ = ma.plan_assignments(CONFIG, ROOT, term=1)
    guide = (ROOT / "chapters" / "instructor_guide.md").read_text()
    rows = re.findall(r"^\| (a\d-[\w-]+) \| ([^|\d][^|]*?) \| (\d+(?:\.\d+)?) \| (\d+(?:\.\d+)?) \|$", guide, re.M)
    stated = {a: (float(x), float(y)) for a, _, x, y in rows}
    generated = {plan.name: (plan.auto_points, plan.written_points) for plan in plans}
    table = "\n".join(f"| {p.name} | ... | {p.auto_points:g} | {p.written_points:g} |" for p in plans)
    assert stated == generated, f"update the table of points in chapters/instructor_guide.md to\n{table}"


def test_the_points_do_not_depend_on_the_term():
    first, _ = ma.plan_assignments(CONFIG, ROOT, term=1)
    other, _ = ma.plan_assignments(CONFIG, ROOT, term=987654)
    assert [(p.auto_points, p.written_points) for p in first] == [(p.auto_points, p.written_points) for p in other]


def test_hidden_seed_is_kept_per_course(tmp_path):
    first = ma.hidden_seed(tmp_path, None)
    (tmp_path / "hidden_seed.txt").write_text(f"{first}\n# comment\n")
    assert ma.hidden_seed(tmp_path, None) == first
    assert ma.hidden_seed(tmp_path, 42) == 42


def test_a_folder_not_made_by_the_script_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not made by this command"):
        ma.make_assignments(tmp_path, ROOT, quiet=True)
    assert nbformat  # the module is used by the fixtures above


def test_the_books_solutions_pass_their_checks_on_hidden_cases():
    """The hidden seed is drawn per course: the book's own solutions must pass the extra cases of any seed."""
    import ast

    for path in book_notebooks(ROOT):
        nb = nbformat.read(path, as_version=4)
        exercises = [e for e in find_exercises(nb) if any(c.takes_seed for c in e.checks)]
        if not exercises:
            continue
        namespace: dict = {}
        for cell in nb.cells:  # the notebook's imports, then the solutions' definitions
            if cell.cell_type == "code":
                tree = ast.parse(cell.source)
                imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
                exec(compile(ast.Module(imports, []), str(path), "exec"), namespace)  # noqa: S102
        for exercise in exercises:
            for index in exercise.solution_code:
                tree = ast.parse(nb.cells[index].source)
                kept = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
                exec(compile(ast.Module(kept, []), str(path), "exec"), namespace)  # noqa: S102
            for call in (c for c in exercise.checks if c.takes_seed):
                assert eval(call.source, namespace), f"{path.name} {exercise.label}: {eval(call.source, namespace)}"  # noqa: S307
                for seed in range(12):
                    result = eval(call.with_seed(seed), namespace)  # noqa: S307
                    assert result, f"{path.name} {exercise.label}, seed {seed}: {result}"


def test_every_notebook_with_exercises_prepares_for_an_assignment(planned):
    plans, _ = planned
    assigned = {path for plan in plans for path in plan.notebooks}
    for path in book_notebooks(ROOT):
        if find_exercises(nbformat.read(path, as_version=4)):
            assert path.relative_to(ROOT).as_posix() in assigned, f"{path}: add it to a practice: list"
