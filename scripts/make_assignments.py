"""Make nbgrader assignments from the book's own notebooks: release notebooks, hidden tests and the gradebook.

    .venv/bin/python scripts/make_assignments.py                   # what `make assignments` runs -> _build/course/
    .venv/bin/python scripts/make_assignments.py --only a2-dilated --seed 1234 --course DIR

One source of truth: the solutions stay where they are, in the book's notebooks (cells tagged ``solution``), and the
assignments are generated from them with nbgrader's markers. ``course/assignments.yml`` says which notebooks form
each assignment and how many points each exercise is worth. For every exercise (see ``course_notebooks.py`` for how
its cells are found):

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

The course folder (``_build/course`` by default) is an nbgrader course: ``nbgrader_config.py``, ``source/``,
``release/`` (what students get), ``gradebook.db``. ``scripts/grade.py`` grades submissions into it.

The hidden tests' seed is drawn once per course folder and kept in ``<course>/hidden_seed.txt`` (so that a
regenerated assignment keeps the same hidden cases), unless ``--seed`` is given. Keep the course folder from students.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course_notebooks as cn  # noqa: E402 (a sibling script)

ROOT = cn.ROOT
DEFAULT_COURSE = ROOT / "_build" / "course"
MARKER = ".convbook-course"
SCHEMA = 3
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

NBGRADER_CONFIG = """\
# nbgrader configuration of the convbook course, written by scripts/make_assignments.py.
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
# The answer cells keep the book's stub (a function that raises NotImplementedError, or names set to None):
# nbgrader only removes the solution region after it.
c.ClearSolutions.code_stub = {{"python": ""}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A chapter notebook runs in about a minute; a slow machine or a student's slow loop gets more, per cell.
c.Execute.timeout = {timeout}
# Feedback shows the tests' results, not the code of the hidden tests.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
"""


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


# --------------------------------------------------------------------------- nbgrader cells


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


def _without_check_statements(source: str, checks: list[cn.CheckCall]) -> tuple[str, str]:
    """Split a stub cell into its code and its top-level statements that call a self-check."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source, ""
    lines = source.splitlines()
    keep, moved = [], []
    taken = set()
    for node in tree.body:
        segment = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        if not isinstance(node, ast.FunctionDef) and any(c.source in segment for c in checks):
            moved.append(segment)
            taken.update(range(node.lineno - 1, node.end_lineno))
    keep = [line for i, line in enumerate(lines) if i not in taken]
    return "\n".join(keep).rstrip(), "\n".join(moved)


def _solution_text(markdown: str) -> str:
    """The body of the ``{solution}`` blocks of a markdown cell (what the manually graded cell holds)."""
    blocks = cn.directive_blocks(markdown, "solution")
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


def exercise_points(exercise: cn.Exercise, config: dict) -> tuple[float, float]:
    """(autograded, written) points of one exercise, from course/assignments.yml."""
    defaults = config.get("points", {})
    override = (config.get("exercises") or {}).get(exercise.label, {}) or {}
    if exercise.kind == "written":
        return 0.0, float(override.get("written", defaults.get("written", 2)))
    auto = float(override.get("auto", defaults.get(exercise.kind, 2)))
    return auto, float(override.get("written", 0))


def nbgrader_source(nb, notebook: str, config: dict, plan: AssignmentPlan, header: str):
    """The nbgrader source version of one book notebook, with its grade items appended to ``plan``."""
    exercises = cn.find_exercises(nb)
    by_start = {ex.cell: ex for ex in exercises}
    in_exercise = {i for ex in exercises for i in ex.cells}
    cells, index = [], 0
    stem = Path(notebook).stem
    header_at = 1 if nb.cells and "remove-cell" in cn.tags(nb.cells[0]) else 0  # after the hidden install cell
    while index < len(nb.cells):
        cell = copy.deepcopy(nb.cells[index])
        cn.clear_outputs(cell)
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


def _exercise_cells(nb, ex: cn.Exercise, stem: str, config: dict, plan: AssignmentPlan) -> list:
    src = lambda i: cn.source_of(nb.cells[i])  # noqa: E731
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
        cell = copy.deepcopy(nb.cells[i])
        cn.clear_outputs(cell)
        cells.append(cell)
    # the autograder's tests
    tests: list[tuple[str, str, str]] = []  # (kind, grade_id, source)
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


# --------------------------------------------------------------------------- the course folder


def book_notebook(path: str, config: dict, root: Path = ROOT):
    """A notebook of an assignment: one of the book's, or the generated notation notebook."""
    if path == config["notation"]["notebook"]:
        return cn.notation_notebook(config, root)
    return nbformat.read(root / path, as_version=4)


def assignment_header(name: str, spec: dict) -> str:
    return (
        f"**Assignment {name}: {spec.get('title', name)}.** Fill in every cell that holds a `None`, a "
        "`raise NotImplementedError` or *YOUR ANSWER HERE*. Then restart the kernel and run all cells, and check "
        "that every self-check prints PASS before you hand the notebook in. When grading, the self-checks run "
        "again together with hidden tests on other cases; answers in words are graded by hand."
    )


def assignment_notebooks(spec: dict, config: dict, root: Path = ROOT) -> list[str]:
    """An assignment's notebooks: the paths listed, and for a pattern every matching notebook with exercises."""
    paths = []
    for entry in spec["notebooks"]:
        if not any(ch in entry for ch in "*?["):
            paths.append(entry)
            continue
        for path in sorted(root.glob(entry)):
            rel = path.relative_to(root).as_posix()
            if cn.find_exercises(book_notebook(rel, config, root)):
                paths.append(rel)
    return paths


def plan_assignments(config: dict, root: Path = ROOT, only: list[str] | None = None):
    """Every assignment's nbgrader source notebooks and grade items (nothing written)."""
    plans, sources = [], {}
    for name, spec in config["assignments"].items():
        if only and name not in only:
            continue
        plan = AssignmentPlan(name, spec.get("title", name), assignment_notebooks(spec, config, root))
        for path in plan.notebooks:
            nb = book_notebook(path, config, root)
            sources[(name, Path(path).name)] = nbgrader_source(nb, path, config, plan, assignment_header(name, spec))
        plans.append(plan)
    return plans, sources


def hidden_seed(course: Path, seed: int | None) -> int:
    path = course / "hidden_seed.txt"
    if seed is not None:
        return seed
    if path.exists():
        return int(path.read_text().split()[0])
    return secrets.randbelow(2**31 - 1) + 1


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course folder (nbgrader_config.py there is read)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    env = dict(os.environ)  # nbgrader runs `alembic` (its database migrations) from PATH: the venv's bin first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)


def points_table(plans: list[AssignmentPlan]) -> str:
    """Markdown table: each exercise's autograded and hand-graded points."""
    lines = ["| assignment | exercise | autograded | by hand |", "| --- | --- | --- | --- |"]
    for plan in plans:
        per: dict[str, list[float]] = {}
        for item in plan.items:
            entry = per.setdefault(item.exercise, [0.0, 0.0])
            entry[1 if item.kind == "written" else 0] += item.points
        for exercise, (auto, written) in per.items():
            lines.append(f"| {plan.name} | {exercise} | {auto:g} | {written:g} |")
        lines.append(f"| {plan.name} | **total** | **{plan.auto_points:g}** | **{plan.written_points:g}** |")
    return "\n".join(lines)


def make_assignments(
    course: Path = DEFAULT_COURSE,
    root: Path = ROOT,
    seed: int | None = None,
    only: list[str] | None = None,
    timeout: int = 300,
    quiet: bool = False,
    config: dict | None = None,
) -> list[AssignmentPlan]:
    """Write the nbgrader course under ``course`` and generate the release of each assignment.

    ``config`` replaces ``course/assignments.yml`` (the tests grade a course of two cheap notebooks).
    """
    config = config or cn.load_config(root / "course" / "assignments.yml")
    if course.exists() and any(course.iterdir()) and not (course / MARKER).exists():
        raise SystemExit(f"make_assignments: {course} exists and was not made by this script")
    course.mkdir(parents=True, exist_ok=True)
    (course / MARKER).write_text("An nbgrader course written by scripts/make_assignments.py.\n")
    seed = hidden_seed(course, seed)
    (course / "hidden_seed.txt").write_text(f"{seed}\n# the seed of the hidden tests' cases: keep it from students\n")
    (course / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(course_id=config.get("course_id", "convbook"), root=str(course), timeout=timeout)
    )
    plans, sources = plan_assignments(config, root, only)
    for plan in plans:
        folder = course / "source" / plan.name
        if folder.exists():
            for old in folder.glob("*.ipynb"):
                old.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        for path in plan.notebooks:
            nbformat.write(sources[(plan.name, Path(path).name)], folder / Path(path).name)
        proc = nbgrader(course, "generate_assignment", plan.name, "--force")
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"make_assignments: nbgrader generate_assignment {plan.name} failed")
        if not quiet:
            print(
                f"{plan.name}: {len(plan.notebooks)} notebook(s), {plan.auto_points:g} autograded points, "
                f"{plan.written_points:g} graded by hand -> {course / 'release' / plan.name}"
            )
            for warning in plan.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
    (course / "points.md").write_text(points_table(plans) + "\n")
    return plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="the nbgrader course folder")
    parser.add_argument("--only", nargs="*", default=None, help="only these assignments")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden tests (default: kept per course)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell when grading")
    args = parser.parse_args(argv)
    plans = make_assignments(args.course.resolve(), seed=args.seed, only=args.only, timeout=args.timeout)
    print(textwrap.dedent(f"\n{points_table(plans)}\n"))
    print(f"course folder: {args.course} (release/ for students; grade with scripts/grade.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
