"""Grade students' submissions of one assignment with nbgrader, and print the score table.

    python -m convbook.course grade a2-dilated SUBMISSIONS/          # what `make grade` runs
    python -m convbook.course grade a2-dilated SUBMISSIONS/ --feedback --course _build/course

``SUBMISSIONS`` holds one folder per student, named by the student's id, with the student's notebooks in it
(``SUBMISSIONS/alice/08_exercises.ipynb``; ``SUBMISSIONS/alice/a2-dilated/08_exercises.ipynb`` works too),
as a class repository's forks, an LMS download unpacked by ``nbgrader zip_collect`` or ``nbgrader collect`` on a
JupyterHub leave them. The course folder is the one ``make assignments`` wrote
(``_build/course`` of the current folder by default).

For each student, this command

1. copies the notebooks into the course's ``submitted/<student>/<assignment>/`` (nbgrader's own layout). The
   originals are never touched. A submission already there with other contents is first moved to
   ``archive/<assignment>/<student>/<time>/``: **no submission is ever overwritten**;
2. runs ``nbgrader autograde`` for that student alone, in its own process with a time limit, so that **one bad
   submission (a broken file, an endless loop, a crashing kernel) never stops the batch**. nbgrader executes a
   copy in ``autograded/``, puts back the locked test cells and the hidden tests, and records every score in
   ``gradebook.db``;
3. (``--feedback``) writes each student's feedback as HTML in ``feedback/``.

Then it prints one row per student: each exercise's autograded points, the total, and how many points wait for
grading by hand in nbgrader's formgrader; the same table goes to ``<course>/grades/<assignment>.csv``. The exit
status is 0 when every submission was graded, 2 when one or more could not be (they are listed, with the reason).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from convbook.course.assignments import run_nbgrader

DEFAULT_COURSE = Path("_build") / "course"
GRADE_ID = re.compile(r"^(?P<label>.+)-(?P<kind>test-\d+|hidden-\d+|value|written)$")


@dataclass
class StudentResult:
    student: str
    graded: bool = False
    error: str = ""
    auto: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max)
    written_pending: float = 0.0
    written: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def auto_score(self) -> float:
        return sum(s for s, _ in self.auto.values())

    @property
    def auto_max(self) -> float:
        return sum(m for _, m in self.auto.values())


def student_folders(submissions: Path) -> list[Path]:
    return sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))


def submitted_notebooks(folder: Path, assignment: str) -> list[Path]:
    inner = folder / assignment
    base = inner if inner.is_dir() else folder
    return sorted(base.glob("*.ipynb"))


def collect(assignment: str, folder: Path, course: Path) -> str:
    """Copy one student's notebooks into nbgrader's ``submitted/``; archive (never overwrite) an older copy."""
    student = folder.name
    notebooks = submitted_notebooks(folder, assignment)
    if not notebooks:
        raise ValueError(f"no .ipynb in {folder}")
    target = course / "submitted" / student / assignment
    if target.exists():
        same = sorted(p.name for p in target.glob("*.ipynb")) == [p.name for p in notebooks] and all(
            filecmp.cmp(p, target / p.name, shallow=False) for p in notebooks
        )
        if same:
            return "unchanged"
        stamp = datetime.fromtimestamp(target.stat().st_mtime, timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        archive = course / "archive" / assignment / student / stamp
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), str(archive))
        status = f"new version (the previous one is in {archive.relative_to(course)})"
    else:
        status = "new"
    target.mkdir(parents=True)
    for path in notebooks:
        shutil.copy2(path, target / path.name)
    newest = max(p.stat().st_mtime for p in notebooks)
    stamp = datetime.fromtimestamp(newest, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    (target / "timestamp.txt").write_text(stamp)  # nbgrader's record of the submission time
    return status


def autograde(assignment: str, student: str, course: Path, timeout: int) -> tuple[bool, str]:
    """``nbgrader autograde`` for one student, in its own process."""
    try:
        proc = run_nbgrader(course, "autograde", assignment, "--student", student, "--force", timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"nbgrader did not finish in {timeout} s"
    if proc.returncode != 0:
        return False, failure_reason(proc.stdout + proc.stderr)
    return True, ""


def failure_reason(log: str) -> str:
    """The most telling line of a failed nbgrader run: the exception, else its first own error line."""
    exceptions = re.findall(r"^\s*((?:\w+\.)*\w+(?:Error|Exception|Exit)\b:?.*)$", log, re.M)
    if exceptions:
        return exceptions[-1].strip()[:200]
    errors = [
        line.split("]", 1)[-1].strip()
        for line in log.splitlines()
        if "ERROR]" in line and "There was an error" not in line and "Please see" not in line
    ]
    return (errors[0] if errors else "nbgrader failed")[:200]


def read_scores(assignment: str, result: StudentResult, course: Path) -> None:
    """Fill ``result`` from the gradebook: autograded points per exercise, written answers graded or waiting."""
    config = (course / "nbgrader_config.py").read_text()
    course_id = re.search(r"course_id = ['\"]([^'\"]+)", config)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id.group(1) if course_id else "default") as gb:
        try:
            submission = gb.find_submission(assignment, result.student)
        except MissingEntry:
            result.graded, result.error = False, result.error or "no submission in the gradebook"
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                match = GRADE_ID.match(grade.name)
                label = match.group("label") if match else grade.name
                score = grade.score or 0.0
                if match and match.group("kind") == "written":
                    if grade.needs_manual_grade:
                        result.written_pending += grade.max_score
                    else:
                        old = result.written.get(label, (0.0, 0.0))
                        result.written[label] = (old[0] + score, old[1] + grade.max_score)
                    continue
                old = result.auto.get(label, (0.0, 0.0))
                result.auto[label] = (old[0] + score, old[1] + grade.max_score)


def score_table(results: list[StudentResult]) -> list[list[str]]:
    exercises = list(dict.fromkeys(label for r in results for label in r.auto))
    header = ["student", "autograded", *exercises, "written: graded", "written: to grade by hand"]
    rows = [header]
    for r in results:
        if not r.graded:
            rows.append([r.student, "not graded", *["" for _ in exercises], "", f"error: {r.error}"])
            continue
        cells = [f"{r.auto[e][0]:g}/{r.auto[e][1]:g}" if e in r.auto else "" for e in exercises]
        written = sum(s for s, _ in r.written.values())
        written_max = sum(m for _, m in r.written.values())
        rows.append(
            [
                r.student,
                f"{r.auto_score:g}/{r.auto_max:g}",
                *cells,
                f"{written:g}/{written_max:g}",
                f"{r.written_pending:g}",
            ]
        )
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))


def grade(
    assignment: str, submissions: Path, course: Path = DEFAULT_COURSE, timeout: int = 900, feedback: bool = False
) -> list[StudentResult]:
    if not (course / "nbgrader_config.py").exists() or not (course / "release" / assignment).is_dir():
        raise SystemExit(f"grade: {course} has no released assignment {assignment!r}: run `make assignments` first")
    results = []
    for folder in student_folders(submissions):
        result = StudentResult(folder.name)
        start = time.perf_counter()
        try:
            status = collect(assignment, folder, course)
        except Exception as exc:  # an unreadable folder is one student's problem, not the batch's
            result.error = f"could not collect: {exc}"
            results.append(result)
            print(f"{folder.name}: {result.error}", file=sys.stderr)
            continue
        ok, why = autograde(assignment, folder.name, course, timeout)
        result.graded, result.error = ok, why
        if ok:
            read_scores(assignment, result, course)
        print(
            f"{folder.name}: {status}; "
            + (f"graded in {time.perf_counter() - start:.0f} s" if ok else f"NOT GRADED ({why})"),
            file=sys.stderr,
        )
        results.append(result)
    if feedback:
        run_nbgrader(course, "generate_feedback", assignment, "--force")
    rows = score_table(results)
    (course / "grades").mkdir(exist_ok=True)
    with open(course / "grades" / f"{assignment}.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convbook.course grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="the assignment's name in course/assignments.yml, e.g. a2-dilated")
    parser.add_argument("submissions", type=Path, help="one folder per student, holding that student's notebooks")
    parser.add_argument(
        "--course", type=Path, default=DEFAULT_COURSE, help="the course folder (default: _build/course)"
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds for one student's submission")
    parser.add_argument("--feedback", action="store_true", help="also write HTML feedback to <course>/feedback/")
    args = parser.parse_args(argv)
    results = grade(args.assignment, args.submissions.resolve(), args.course.resolve(), args.timeout, args.feedback)
    print()
    print_table(score_table(results))
    print(f"\n(also in {args.course / 'grades' / (args.assignment + '.csv')})")
    failed = [r for r in results if not r.graded]
    return 2 if failed else 0
