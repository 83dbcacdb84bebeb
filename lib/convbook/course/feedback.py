"""Feedback for students: the tests' results, never their code; regenerated after grading by hand.

    python -m convbook.course feedback a2-dilated                      # what `make feedback ASSIGNMENT=...` runs
    python -m convbook.course feedback a2-dilated --course _build/course --out RETURN/

nbgrader writes each student's feedback (``<course>/feedback/<student>/<assignment>/*.html``) from the graded
notebook and the gradebook, so it shows the scores the written answers got in the formgrader only when it is
generated *after* them. This command regenerates it for every graded student (``nbgrader generate_feedback
--force``), holds back (and names) any page that quotes a hidden test's code, prints each student's total
(autograded + by hand, and what still waits for a grade) and, with ``--out``, copies the pages to ``OUT/<student>/``
for returning through a learning platform (``nbgrader release_feedback`` returns them on a
JupyterHub exchange instead).

:class:`ResultsOnly` is the feedback step that keeps results only: in a test cell, every error output keeps its
one line ``Name: message`` and loses its traceback (nbgrader's ``ClearHiddenTests`` removes the hidden code from
the cell's source, not from the traceback of a failure).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from convbook.course.assignments import run_nbgrader

DEFAULT_COURSE = Path("_build") / "course"
#: what must never reach a student's feedback page
#: (the hidden tests' own names: a student who types them into a cell only holds back their own page)
LEAKS = ("BEGIN HIDDEN TESTS", "_grading_seed", "_part_credit", "_solution_values")


class ResultsOnly(NbGraderPreprocessor):
    """Feedback step: a test cell's failures keep their message, not their traceback (which quotes the test)."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def leaks(html: str) -> list[str]:
    """The forbidden strings (hidden-test code) found in a feedback page."""
    return [word for word in LEAKS if word in html]


def course_id(course: Path) -> str:
    found = re.search(r"course_id = ['\"]([^'\"]+)", (course / "nbgrader_config.py").read_text())
    return found.group(1) if found else "default"


def totals(course: Path, assignment: str) -> list[tuple[str, float, float, float]]:
    """(student, points, maximum, points still to grade by hand) for every submission in the gradebook."""
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id(course)) as gb:
        try:
            submissions = gb.assignment_submissions(assignment)
        except MissingEntry:
            return rows
        for sub in submissions:
            pending = sum(g.max_score for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
            rows.append((sub.student.id, sub.score, sub.max_score, pending))
    return sorted(rows)


def regenerate(assignment: str, course: Path, out: Path | None = None) -> list[tuple[str, float, float, float]]:
    """Regenerate every student's feedback and copy the pages that quote no hidden test to ``out``."""
    if not (course / "gradebook.db").exists():
        raise SystemExit(f"feedback: {course} has no gradebook: run `make assignments` and `make grade` first")
    proc = run_nbgrader(course, "generate_feedback", assignment, "--force")
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"feedback: nbgrader generate_feedback {assignment} failed")
    pages = sorted((course / "feedback").glob(f"*/{assignment}/*.html"))
    bad = {p: found for p in pages if (found := leaks(p.read_text(errors="replace")))}
    for page, found in bad.items():
        print(f"feedback: {page.relative_to(course)} quotes {found}: not returned, look at it", file=sys.stderr)
    if out is not None:
        for page in (p for p in pages if p not in bad):
            student = page.relative_to(course / "feedback").parts[0]
            (out / student).mkdir(parents=True, exist_ok=True)
            shutil.copy2(page, out / student / page.name)
    return totals(course, assignment)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course feedback", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="the assignment, e.g. a2-dilated")
    parser.add_argument(
        "--course", type=Path, default=DEFAULT_COURSE, help="the course folder (default: _build/course)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also copy the pages to OUT/<student>/")
    args = parser.parse_args(argv)
    rows = regenerate(args.assignment, args.course.resolve(), args.out)
    print(f"{'student':<20} {'score':>12}  still to grade by hand")
    for student, score, top, pending in rows:
        print(f"{student:<20} {f'{score:g}/{top:g}':>12}  {pending:g}")
    print(f"\nfeedback pages: {args.course / 'feedback'}/<student>/{args.assignment}/")
    return 0
