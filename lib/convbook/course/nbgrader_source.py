"""The nbgrader source version of a book notebook: answer cells with the solution between nbgrader's markers,
the self-checks as locked test cells, hidden tests, and the written answers graded by hand.

For every exercise (see :mod:`convbook.course.exercises` for how its cells are found):

* its **answer cell** becomes an nbgrader "autograded answer" cell: the book's stub, then the book's solution code
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader removes it from the release, leaving the stub);
* each **self-check** call becomes a locked, graded test cell (``assert`` the check passes), and, when the check can
  draw extra cases, a second one holding the same check with ``seed=`` between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``: hidden cases that nbgrader strips from the release and puts back when grading. The seed
  itself is in no notebook: ``convbook.course.check.grading_seed()`` reads it from the course folder while grading;
* a **value** answer without a self-check is graded by a hidden test that reruns the book's solution cell and
  compares (1 % for floats, exact for integers);
* a **written** answer (an exercise without an answer cell, or one listed with ``written:`` points) gets a
  "manually graded answer" markdown cell holding the book's solution text, graded in nbgrader's formgrader.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from convbook.course.exercises import CheckCall, Exercise, find_exercises
from convbook.course.myst import directive_blocks
from convbook.course.notebooks import source_of, tags
from convbook.course.studentize import clear_outputs

SCHEMA = 3
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass
class GradeItem:
    """One graded cell of an assignment."""

    notebook: str
    exercise: str
    grade_id: str
    kind: str  # "public", "hidden", "value" (autograded) or "written" (by hand)
    points: float


@dataclass
class AssignmentPlan:
    name: str
    title: str
    notebooks: list[str]
    items: list[GradeItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def auto_points(self) -> float:
        return sum(i.points for i in self.items if i.kind != "written")

    @property
    def written_points(self) -> float:
        return sum(i.points for i in self.items if i.kind == "written")


def _nbgrader(cell, grade_id: str, *, solution=False, grade=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA, "solution": solution}
    meta["task"] = False
    if grade:
        meta["points"] = float(points)
    cell.metadata["nbgrader"] = meta
    return cell


def split_points(total: float, n: int) -> list[float]:
    """``total`` over ``n`` tests in half points, the remainder on the last: 4 over 3 -> 1.5, 1.5, 1.0."""
    if n == 0:
        return []
    each = [round(total / n * 2) / 2 for _ in range(n - 1)]
    return each + [total - sum(each)]


def _without_check_statements(source: str, checks: list[CheckCall]) -> tuple[str, str]:
    """Split a stub cell into its code and its top-level statements that call a self-check."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, ""
    lines = source.splitlines()
    moved, taken = [], set()
    for node in tree.body:
        segment = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if not isinstance(node, ast.FunctionDef) and any(c.source in segment for c in checks):
            moved.append(segment)
            taken.update(range(node.lineno - 1, node.end_lineno))
    keep = [line for i, line in enumerate(lines) if i not in taken]
    return "\n".join(keep).rstrip(), "\n".join(moved)


def _solution_text(markdown: str) -> str:
    """The body of the ``{solution}`` blocks of a markdown cell (what the manually graded cell holds)."""
    blocks = directive_blocks(markdown, "solution")
    return "\n\n".join(b.body for b in blocks) if blocks else markdown


def _value_test(label: str, values: list[str], solution_code: str) -> str:
    return (
        f"# Autograder test: {label}, your answer against the solution.\n"
        f"{BEGIN_HIDDEN}\n"
        "import contextlib as _contextlib\n"
        "import io as _io\n\n"
        "from convbook.course.check import answer_difference as _answer_difference\n\n"
        "_solution = dict(globals())\n"
        "with _contextlib.redirect_stdout(_io.StringIO()):\n"
        f"    exec({solution_code!r}, _solution)\n"
        f"for _name in {values!r}:\n"
        '    assert globals().get(_name) is not None, f"{_name} is not answered yet"\n'
        "    _problem = _answer_difference(globals()[_name], _solution[_name])\n"
        '    assert _problem is None, f"{_name}: {_problem}"\n'
        f"{END_HIDDEN}"
    )


def exercise_points(exercise: Exercise, config: dict) -> tuple[float, float]:
    """(autograded, written) points of one exercise, from course/assignments.yml."""
    defaults = config.get("points", {})
    override = (config.get("exercises") or {}).get(exercise.label, {}) or {}
    if exercise.kind == "written":
        return 0.0, float(override.get("written", defaults.get("written", 2)))
    auto = float(override.get("auto", defaults.get(exercise.kind, 2)))
    return auto, float(override.get("written", 0))


def nbgrader_source(nb, notebook: str, config: dict, plan: AssignmentPlan, header: str):
    """The nbgrader source version of one book notebook, with its grade items appended to ``plan``."""
    exercises = find_exercises(nb)
    by_start = {ex.cell: ex for ex in exercises}
    in_exercise = {i for ex in exercises for i in ex.cells}
    cells, index = [], 0
    stem = Path(notebook).stem
    header_at = 1 if nb.cells and "remove-cell" in tags(nb.cells[0]) else 0  # after the hidden install cell
    while index < len(nb.cells):
        cell = clear_outputs(copy.deepcopy(nb.cells[index]))
        if index == header_at:
            cells.append(new_markdown_cell(header))
        if index in by_start:
            cells.extend(_exercise_cells(nb, by_start[index], stem, config, plan))
            index = by_start[index].cells[-1] + 1
            continue
        if index not in in_exercise:
            cells.append(cell)
        index += 1
    new = copy.deepcopy(nb)
    new.cells = cells
    return new


def _tests(ex: Exercise, label: str) -> list[tuple[str, str, str]]:
    """The autograder's tests of one exercise's self-checks: (kind, grade_id, source)."""
    tests = []
    for number, check in enumerate(dict.fromkeys(c.source for c in ex.checks), start=1):
        call = next(c for c in ex.checks if c.source == check)
        tests.append(
            (
                "public",
                f"{label}-test-{number}",
                f"# Autograder test: {label}, the self-check above must pass.\n"
                f"_result = {call.source}\nprint(_result)\n"
                f"assert _result, {f'{label}: the self-check does not pass'!r}",
            )
        )
        if call.takes_seed:
            tests.append(
                (
                    "hidden",
                    f"{label}-hidden-{number}",
                    f"# Autograder test: {label}, hidden cases, run when grading.\n{BEGIN_HIDDEN}\n"
                    "from convbook.course.check import grading_seed as _grading_seed\n\n"
                    f"_result = {call.with_seed('_grading_seed()')}\nprint(_result)\n"
                    f"assert _result, {f'{label}: the hidden cases do not pass'!r}\n{END_HIDDEN}",
                )
            )
    return tests


def _exercise_cells(nb, ex: Exercise, stem: str, config: dict, plan: AssignmentPlan) -> list:
    src = lambda i: source_of(nb.cells[i])  # noqa: E731
    label = ex.label
    cells = [copy.deepcopy(nb.cells[ex.cell])]
    auto, written = exercise_points(ex, config)
    solution_code = "\n\n\n".join(src(i).strip() for i in ex.solution_code)
    # the answer cell: the stub, the book's solution after it in a solution region
    moved = []
    if ex.answer_cells:
        stub_parts = []
        for i in ex.answer_cells:
            kept, checks = _without_check_statements(src(i), ex.checks)
            stub_parts.append(kept)
            if checks:
                moved.append(checks)
        stub = "\n\n\n".join(p for p in stub_parts if p.strip())
        body = f"{stub}\n\n{BEGIN}\n{solution_code}\n{END}" if solution_code else stub
        cells.append(_nbgrader(new_code_cell(body), f"{label}-answer", solution=True))
    elif solution_code:  # computations that support a written answer: an empty cell for the student's own
        cells.append(_nbgrader(new_code_cell(f"{BEGIN}\n{solution_code}\n{END}"), f"{label}-work", solution=True))
    if moved:
        cells.append(new_code_cell("\n".join(moved)))
    # the check cells of the book, as they are
    for i in ex.check_cells:
        cells.append(clear_outputs(copy.deepcopy(nb.cells[i])))
    # the autograder's tests
    tests = _tests(ex, label)
    covered = {name for c in ex.checks for name in ex.values if name in c.source}
    uncovered = [v for v in ex.values if v not in covered]
    if uncovered and solution_code:
        tests.append(("value", f"{label}-value", _value_test(label, uncovered, solution_code)))
    if ex.kind != "written" and not tests:
        plan.warnings.append(f"{stem}: {label} has an answer cell but no self-check: its points are graded by hand")
        written += auto
    for (kind, grade_id, source), points in zip(tests, split_points(auto, len(tests))):
        cells.append(_nbgrader(new_code_cell(source), grade_id, grade=True, locked=True, points=points))
        plan.items.append(GradeItem(stem, label, grade_id, kind, points))
    # the written answer, graded by hand
    if ex.kind == "written" or written:
        text = "\n\n".join(_solution_text(src(i)) for i in ex.solution_markdown) or "(no solution text in the book)"
        cell = new_markdown_cell(text)
        cells.append(_nbgrader(cell, f"{label}-written", solution=True, grade=True, points=written))
        plan.items.append(GradeItem(stem, label, f"{label}-written", "written", written))
    return cells
