"""nbgrader assignments from the book's own notebooks: release notebooks, hidden tests and the gradebook.

    python -m convbook.course assignments                  # what `make assignments` runs -> _build/course/
    python -m convbook.course assignments --only a2-dilated --seed 1234 --course DIR

One source of truth: the solutions stay where they are, in the book's notebooks (cells tagged ``solution``), and the
assignments are generated from them with nbgrader's markers (:mod:`convbook.course.nbgrader_source`).
``course/assignments.yml`` says which notebooks form each assignment and how many points each exercise is worth.

The course folder (``ROOT/_build/course`` by default) is an nbgrader course: ``nbgrader_config.py``, ``source/``,
``release/`` (what students get), ``gradebook.db``. nbgrader's ``generate_assignment`` makes the release; then every
release notebook goes through :func:`convbook.course.studentize.studentize`, the pipeline of the other student
editions, so that nothing tagged ``solution``, no ``{solution}`` directive and no output outside the exercises
reaches students. ``python -m convbook.course grade`` grades submissions into the course folder.

An assignment is either **graded variants** (``graded: true``: the term's exercises drawn from the instructor's pool
by :mod:`convbook.course.graded`, whose answers are in no student edition) or the book's own notebooks
(``notebooks:``, worked exercises whose solutions are public). The instructor edition of the graded variants, with
their solutions and the rubric of the written answers, is written to ``<course>/instructor/``.

The hidden tests' seed is drawn once per course folder and kept in ``<course>/hidden_seed.txt`` (so that a
regenerated assignment keeps the same hidden cases), unless ``--seed`` is given; the term seed of the graded variants
likewise in ``<course>/instructor/term_seed.txt`` (or ``--term-seed``, ``$CONVBOOK_TERM_SEED``). Keep the course
folder from students.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat

from convbook.course import graded
from convbook.course.exercises import find_exercises
from convbook.course.nbgrader_source import AssignmentPlan, nbgrader_source
from convbook.course.notation import notation_notebook
from convbook.course.notebooks import load_config
from convbook.course.studentize import studentize

MARKER = ".convbook-course"

NBGRADER_CONFIG = """\
# nbgrader configuration of the convbook course, written by `python -m convbook.course assignments`.
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
# Grading: the student's code in a sandbox, the tests outside it, feedback without test code (instructor guide).
from convbook.course.testrun import configure  # noqa: E402

configure(c)
"""


def book_notebook(path: str, config: dict, root: Path):
    """A notebook of an assignment: one of the book's, or the generated notation notebook."""
    if path == config["notation"]["notebook"]:
        return notation_notebook(config, root)
    return nbformat.read(Path(root) / path, as_version=4)


def assignment_header(name: str, spec: dict) -> str:
    return (
        f"**Assignment {name}: {spec.get('title', name)}.** Fill in every cell that holds a `None`, a "
        "`raise NotImplementedError` or *YOUR ANSWER HERE*. Then restart the kernel and run all cells, and check "
        "that every self-check prints PASS before you hand the notebook in. When grading, the self-checks run "
        "again together with hidden tests on other cases; answers in words are graded by hand."
    )


def assignment_notebooks(spec: dict, config: dict, root: Path) -> list[str]:
    """An assignment's book notebooks: the paths listed, and for a pattern every matching notebook with exercises."""
    paths = []
    for entry in spec.get("notebooks", []):
        if not any(ch in entry for ch in "*?["):
            paths.append(entry)
            continue
        for path in sorted(Path(root).glob(entry)):
            rel = path.relative_to(root).as_posix()
            if find_exercises(book_notebook(rel, config, root)):
                paths.append(rel)
    return paths


GRADED_FOLDER = "graded"  # the notebook path of an assignment's graded variants: graded/<assignment>.ipynb


def plan_assignments(
    config: dict, root: Path, only: list[str] | None = None, term: int | None = None, pool: dict | None = None
):
    """Every assignment's nbgrader source notebooks and grade items (nothing written).

    Assignments with ``graded: true`` need the term seed ``term`` (and the pool, ``ROOT/course/instructor/pool.py``
    by default); their drawn exercises are in ``plan.drawn`` as ``[(label, Graded), ...]``.
    """
    plans, sources = [], {}
    for name, spec in config["assignments"].items():
        if only and name not in only:
            continue
        plan = AssignmentPlan(name, spec.get("title", name), assignment_notebooks(spec, config, root))
        plan.drawn = []
        for path in plan.notebooks:
            nb = book_notebook(path, config, root)
            sources[(name, Path(path).name)] = nbgrader_source(nb, path, config, plan, assignment_header(name, spec))
        if spec.get("graded"):
            if term is None:
                raise ValueError(f"plan_assignments: {name} is graded from the pool; give the term seed (term=)")
            pool = pool if pool is not None else graded.load_pool(root)
            plan.drawn = graded.draw_assignment(name, pool, term)
            path = f"{GRADED_FOLDER}/{name}.ipynb"
            nb = graded.graded_notebook(name, spec.get("title", name), plan.drawn)
            points = dict(config, exercises={**(config.get("exercises") or {}), **graded.points_overrides(plan.drawn)})
            sources[(name, Path(path).name)] = nbgrader_source(nb, path, points, plan, assignment_header(name, spec))
            plan.notebooks.append(path)
        if not plan.notebooks:
            raise ValueError(f"plan_assignments: {name} has no notebooks and is not graded: true")
        plans.append(plan)
    return plans, sources


def write_instructor_edition(course: Path, plans: list[AssignmentPlan], sources: dict, term: int) -> Path:
    """``<course>/instructor/``: the graded notebooks with their solutions, the answers and the rubric."""
    folder = course / "instructor"
    folder.mkdir(parents=True, exist_ok=True)
    drawn = {plan.name: plan.drawn for plan in plans if getattr(plan, "drawn", None)}
    for plan in plans:
        if plan.name in drawn:
            nb = graded.graded_notebook(plan.name, plan.title, plan.drawn)
            nbformat.write(nb, folder / f"{plan.name}-solutions.ipynb")
    (folder / "rubric.md").write_text(graded.rubric_markdown(drawn, term) + "\n")
    lines = ["| assignment | exercise | variant of | answers |", "| --- | --- | --- | --- |"]
    for name, items in drawn.items():
        for label, item in items:
            shown = (
                ", ".join(f"{k} = {v!r}" for k, v in item.answers.items()) or "(function or words: see the notebook)"
            )
            lines.append(f"| {name} | {label} | {item.book[0]} | {shown} |")
    (folder / "answers.md").write_text("\n".join(lines) + "\n")
    return folder


def hidden_seed(course: Path, seed: int | None) -> int:
    path = course / "hidden_seed.txt"
    if seed is not None:
        return seed
    if path.exists():
        return int(path.read_text().split()[0])
    return secrets.randbelow(2**31 - 1) + 1


def run_nbgrader(course: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course folder (nbgrader_config.py there is read).

    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    env = dict(os.environ)  # nbgrader runs `alembic` (its database migrations) from PATH: the venv's bin first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env, timeout=timeout)


def studentize_release(folder: Path) -> list[str]:
    """Every notebook nbgrader released in ``folder`` through the student pipeline; the warnings, by notebook."""
    warnings = []
    for path in sorted(folder.glob("*.ipynb")):
        student, _, found = studentize(nbformat.read(path, as_version=4), outputs="clear")
        nbformat.write(student, path)
        warnings += [f"{path.name}: {w}" for w in found]
    return warnings


#: TA minutes per hand-graded point of a book exercise's written answer (the graded variants state their own).
BOOK_MINUTES_PER_POINT = 1.5


def ta_time_table(plans: list[AssignmentPlan], students: int = 60) -> str:
    """Markdown table: minutes a TA spends per submission on the parts graded by hand, and hours for a class."""
    lines = [
        f"| assignment | by hand | minutes per submission | hours at {students} students |",
        "| --- | --- | --- | --- |",
    ]
    for plan in plans:
        drawn = getattr(plan, "drawn", [])
        labels = {label for label, _ in drawn}
        book_written = sum(i.points for i in plan.items if i.kind == "written" and i.exercise not in labels)
        minutes = graded.ta_minutes(drawn) + BOOK_MINUTES_PER_POINT * book_written
        lines.append(f"| {plan.name} | {plan.written_points:g} | {minutes:g} | {minutes * students / 60:.1f} |")
    return "\n".join(lines)


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
    course: Path,
    root: Path,
    seed: int | None = None,
    only: list[str] | None = None,
    timeout: int = 300,
    quiet: bool = False,
    config: dict | None = None,
    term: int | None = None,
    pool: Path | None = None,
) -> list[AssignmentPlan]:
    """Write the nbgrader course under ``course`` and generate the release of each assignment.

    ``config`` replaces ``ROOT/course/assignments.yml`` (the tests grade a course of two cheap notebooks).
    """
    config = config or load_config(root)
    if course.exists() and any(course.iterdir()) and not (course / MARKER).exists():
        raise SystemExit(f"assignments: {course} exists and was not made by this command")
    course.mkdir(parents=True, exist_ok=True)
    (course / MARKER).write_text("An nbgrader course written by `python -m convbook.course assignments`.\n")
    seed = hidden_seed(course, seed)
    (course / "hidden_seed.txt").write_text(f"{seed}\n# the seed of the hidden tests' cases: keep it from students\n")
    (course / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(course_id=config.get("course_id", "convbook"), root=str(course), timeout=timeout)
    )
    graded_specs = [n for n, spec in config["assignments"].items() if spec.get("graded") and (not only or n in only)]
    term = graded.term_seed(course, config, term) if graded_specs else None
    pool_entries = graded.load_pool(root, pool) if graded_specs else None
    plans, sources = plan_assignments(config, root, only, term=term, pool=pool_entries)
    for plan in plans:
        folder = course / "source" / plan.name
        if folder.exists():
            for old in folder.glob("*.ipynb"):
                old.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        for path in plan.notebooks:
            nbformat.write(sources[(plan.name, Path(path).name)], folder / Path(path).name)
        proc = run_nbgrader(course, "generate_assignment", plan.name, "--force")
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"assignments: nbgrader generate_assignment {plan.name} failed")
        plan.warnings += studentize_release(course / "release" / plan.name)
        if not quiet:
            print(
                f"{plan.name}: {len(plan.notebooks)} notebook(s), {plan.auto_points:g} autograded points, "
                f"{plan.written_points:g} graded by hand -> {course / 'release' / plan.name}"
            )
            for warning in plan.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
    (course / "points.md").write_text(points_table(plans) + "\n\n" + ta_time_table(plans) + "\n")
    if graded_specs:
        folder = write_instructor_edition(course, plans, sources, term)
        if not quiet:
            print(f"instructor edition (solutions, answers, rubric; keep it from students): {folder}")
    return plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course assignments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the book's repository (default: here)")
    parser.add_argument("--course", type=Path, default=None, help="the nbgrader course folder (ROOT/_build/course)")
    parser.add_argument("--only", nargs="*", default=None, help="only these assignments")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden tests (default: kept per course)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell when grading")
    parser.add_argument("--term-seed", type=int, default=None, help="seed of the graded variants (default: kept)")
    parser.add_argument("--pool", type=Path, default=None, help="the pool of graded exercises (a private copy)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    course = (args.course or root / "_build" / "course").resolve()
    plans = make_assignments(
        course, root, seed=args.seed, only=args.only, timeout=args.timeout, term=args.term_seed, pool=args.pool
    )
    print(f"\n{points_table(plans)}\n\n{ta_time_table(plans)}\n")
    print(f"course folder: {course} (release/ for students; grade with `python -m convbook.course grade`)")
    return 0
