"""The nbgrader source version of a book notebook: answer cells with the solution between nbgrader's markers,
the self-checks as locked test cells, hidden tests, and the written answers graded by hand.

For every exercise (see :mod:`convbook.course.exercises` for how its cells are found):

* its **answer cell** becomes an nbgrader "autograded answer" cell: the book's stub, then the book's solution code
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader removes it from the release, leaving the stub);
* each **self-check** call becomes a locked, graded test cell (``assert`` the check passes), and, when the check can
  draw extra cases, a second one holding the same check with ``seed=`` between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``: hidden cases that nbgrader strips from the release and puts back when grading. The seed
  itself is in no notebook: ``convbook.course.check.grading_seed()`` reads it from the course folder while grading;
* an answer of **several values** typed by hand (a self-check given two or more of them) gets partial credit: a
  hidden test runs the check once per part, the other parts replaced by the book's answers
  (:func:`convbook.course.testrun.part_credit`); one of three parts wrong earns two thirds of the points. In a
  graded variant (:mod:`convbook.course.graded`, the default course) the numbers are sealed, and the test
  (:func:`convbook.course.check.sealed.part_credit`) judges each number against its own seal instead: the same
  shares, with no answer in the test;
* a **value** answer without a self-check is graded by a hidden test that reruns the book's solution cell and
  compares (1 % for floats, exact for integers), each value earning its share;
* every test imports the check it runs itself, and runs in the grader's process, outside the student's sandbox
  (:mod:`convbook.course.testrun`);
* a **written** answer (an exercise without an answer cell, or one listed with ``written:`` points) gets a
  "manually graded answer" markdown cell holding the book's solution text, graded in nbgrader's formgrader.
"""

from __future__ import annotations

import ast
import copy
import re
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
SEALED = "convbook.course.check.sealed"  # the graded variants' checks


@dataclass
class GradeItem:
    """One graded cell of an assignment."""

    notebook: str
    exercise: str
    grade_id: str
    kind: str  # "public", "hidden", "partial", "value" (autograded) or "written" (by hand)
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


_NB_ONLY_LEAD = re.compile(r'^<span class="nb-only">\*\*[^*]*\*\*</span>\s*')


def _solution_text(markdown: str) -> str:
    """The text of a markdown cell's solution (what the manually graded cell holds), without its fences.

    A ``{solution}`` block gives its body; a gated solution (``{solution-start}`` ... ``{solution-end}``) gives the
    text between its two directives. The plain-markdown lead ("**Solution to dil-ex-3.**") is dropped either way.
    """
    blocks = directive_blocks(markdown, "solution")
    if blocks:
        text = "\n\n".join(b.body for b in blocks)
    else:
        lines = markdown.splitlines(keepends=True)
        for block in sorted(directive_blocks(markdown, "solution-start") + directive_blocks(markdown, "solution-end"),
                            key=lambda b: b.start, reverse=True):  # fmt: skip
            del lines[block.start : block.end]
        text = "".join(lines)
    return "\n".join(_NB_ONLY_LEAD.sub("", line) for line in text.strip("\n").splitlines())


def _value_test(label: str, values: list[str], solution_code: str) -> str:
    """A hidden test that compares answers typed by hand with the book's (1 %, exact for integers), each part
    earning its share of the points."""
    return (
        f"# Autograder test: {label}, your answer against the solution.\n"
        f"{BEGIN_HIDDEN}\n"
        "from convbook.course.check import answer_difference as _answer_difference\n"
        "from convbook.course.testrun import solution_values as _solution_values\n"
        "from convbook.course.testrun import student_values as _student_values\n\n"
        f"_given = _student_values(globals(), {values!r})\n"
        f"_expected = _solution_values({solution_code!r}, globals(), {values!r})\n"
        "_wrong = [n for n, v in _given.items() if v is None or _answer_difference(v, _expected[n]) is not None]\n"
        'print(f"{len(_given) - len(_wrong)} of {len(_given)} right" + (f"; not right: {_wrong}" if _wrong else ""))\n'
        "round(POINTS * (len(_given) - len(_wrong)) / len(_given), 2)\n"
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


def _import(call: CheckCall) -> str:
    """The import that binds the check's module under the name the call uses: tests never use the student's name."""
    base = call.source.split("(", 1)[0].rsplit(".", 1)[0].strip()
    return f"import {call.module}" if base == call.module else f"import {call.module} as {base}"


def _part_names(ex: Exercise, call: CheckCall) -> list[str] | None:
    """The answer names a check call passes, when it passes two or more of the exercise's values and nothing else."""
    try:
        node = ast.parse(call.source, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or node.keywords or len(node.args) < 2:
        return None
    names = [a.id for a in node.args if isinstance(a, ast.Name)]
    return names if len(names) == len(node.args) and set(names) <= set(ex.values) else None


def _sealed_parts(call: CheckCall) -> list[str] | None:
    """The answer names of a sealed check of two or more numbers, ``check.values("a2-g3", {"a": a, ...}, "token")``
    (the graded variants' check, :mod:`convbook.course.check.sealed`), else None."""
    if call.module != SEALED or call.name != "values":
        return None
    try:
        node = ast.parse(call.source, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or node.keywords or len(node.args) != 3 or not isinstance(node.args[1], ast.Dict):
        return None
    keys = node.args[1].keys
    if len(keys) < 2 or not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keys):
        return None
    return [k.value for k in keys]


def _sealed_part_test(call: CheckCall, label: str, parts: list[str]) -> str:
    """The test of a sealed answer of several numbers: each earns its share, judged against its own seal. It holds
    no answer (only the seals the release shows too), so it is a public test."""
    function, arguments = call.source.split("(", 1)
    base = function.strip().rsplit(".", 1)[0]
    return (
        f"# Autograder test: {label}, each of the {len(parts)} answers earns its share of the points.\n"
        f"{_import(call)}\n\n{base}.part_credit({arguments.rstrip()[:-1].rstrip()}, points=POINTS)"
    )


def _tests(ex: Exercise, label: str, solution_code: str = "") -> list[tuple[str, str, str]]:
    """The autograder's tests of one exercise's self-checks: (kind, grade_id, source)."""
    tests = []
    for number, check in enumerate(dict.fromkeys(c.source for c in ex.checks), start=1):
        call = next(c for c in ex.checks if c.source == check)
        sealed = _sealed_parts(call)
        if sealed:  # a graded variant's numbers: each part earns its share, judged against its own seal
            tests.append(("partial", f"{label}-test-{number}", _sealed_part_test(call, label, sealed)))
            continue
        parts = _part_names(ex, call) if solution_code else None
        if parts:  # answers typed by hand: each part earns its share (nbgrader's partial credit)
            function = call.source.split("(", 1)[0].strip()
            tests.append(
                (
                    "partial",
                    f"{label}-test-{number}",
                    f"# Autograder test: {label}, each of the {len(parts)} answers earns its share of the points.\n"
                    f"{BEGIN_HIDDEN}\n{_import(call)}\n"
                    "from convbook.course.testrun import part_credit as _part_credit\n\n"
                    f"_part_credit({function}, {parts!r}, {solution_code!r}, globals(), points=POINTS)\n{END_HIDDEN}",
                )
            )
            continue
        tests.append(
            (
                "public",
                f"{label}-test-{number}",
                f"# Autograder test: {label}, the self-check above must pass.\n{_import(call)}\n\n"
                f"_result = {call.source}\nprint(_result)\n"
                f"assert _result, {f'{label}: the self-check does not pass'!r}",
            )
        )
        if call.takes_seed:
            tests.append(
                (
                    "hidden",
                    f"{label}-hidden-{number}",
                    f"# Autograder test: {label}, hidden cases, run when grading.\n{BEGIN_HIDDEN}\n{_import(call)}\n"
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
    tests = _tests(ex, label, solution_code)
    covered = {name for c in ex.checks for name in ex.values if name in c.source}
    uncovered = [v for v in ex.values if v not in covered]
    if uncovered and solution_code:
        tests.append(("value", f"{label}-value", _value_test(label, uncovered, solution_code)))
    if ex.kind != "written" and not tests:
        plan.warnings.append(f"{stem}: {label} has an answer cell but no self-check: its points are graded by hand")
        written += auto
    for (kind, grade_id, source), points in zip(tests, split_points(auto, len(tests))):
        source = source.replace("points=POINTS", f"points={points:g}")
        cells.append(_nbgrader(new_code_cell(source), grade_id, grade=True, locked=True, points=points))
        plan.items.append(GradeItem(stem, label, grade_id, kind, points))
    # the written answer, graded by hand
    if ex.kind == "written" or written:
        text = "\n\n".join(_solution_text(src(i)) for i in ex.solution_markdown) or "(no solution text in the book)"
        cell = new_markdown_cell(text)
        cells.append(_nbgrader(cell, f"{label}-written", solution=True, grade=True, points=written))
        plan.items.append(GradeItem(stem, label, f"{label}-written", "written", written))
    return cells
