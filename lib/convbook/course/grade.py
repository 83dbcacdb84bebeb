"""Grade students' submissions of one assignment with nbgrader, and print the score table.

    python -m convbook.course grade a2-dilated SUBMISSIONS/          # what `make grade` runs
    python -m convbook.course grade a2-dilated SUBMISSIONS/ --feedback --course _build/course

``SUBMISSIONS`` holds one folder per student, named by the student's id, with the student's notebooks in it
(``SUBMISSIONS/alice/08_exercises.ipynb``; ``SUBMISSIONS/alice/a2-dilated/08_exercises.ipynb`` works too),
as a class repository's forks, an LMS download unpacked by ``nbgrader zip_collect`` or ``nbgrader collect`` on a
JupyterHub leave them. The course folder is the one ``make assignments`` wrote
(``_build/course`` of the current folder by default).

For each student, this command

1. copies the notebooks into the course's ``submitted/<student>/<assignment>/`` (nbgrader's own layout), under
   the assignment's names: a renamed notebook (``Copy of 08_exercises.ipynb``, ``08_exercises (1).ipynb``) is
   matched, and one that is not part of the assignment is named in the *notes* column. The originals are never
   touched. A submission already there with other contents is first moved to
   ``archive/<assignment>/<student>/<time>/``: **no submission is ever overwritten**;
2. runs ``nbgrader autograde`` for that student alone, in its own process with a time limit, so that **one bad
   submission (a broken file, an endless loop, a crashing kernel) never stops the batch**. nbgrader puts back the
   locked test cells and the hidden tests; the student's cells run in a sandbox (:mod:`convbook.course.sandbox`,
   bubblewrap: a copy of the one submission, nothing of the course) and the tests in the grader's own process
   (:mod:`convbook.course.testrun`), so that no answer cell can change a test or read the hidden seed; every score
   goes to ``gradebook.db``. Without a working bubblewrap the command refuses to start (:data:`NO_BWRAP` says how to
   install it, or to opt out with ``--sandbox copy``: a throw-away copy, without isolation);
3. scans the cells the student wrote and reads what the sandbox saw (:mod:`convbook.course.integrity`): the
   *integrity* column flags code that patches modules, reads outside its folder or uses the network;
4. (``--feedback``) writes each student's feedback as HTML in ``feedback/`` (results only, no test code); after the
   written answers are graded, ``python -m convbook.course feedback`` regenerates it (:mod:`convbook.course.feedback`).

Then it prints one row per student: each exercise's autograded points, the total, how many points wait for grading
by hand in nbgrader's formgrader, the integrity flags and the notes; the same table goes to
``<course>/grades/<assignment>.csv``. The exit status is 0 when every submission was graded, 2 when one or more
could not be (they are listed, with the reason).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from convbook.course import sandbox as sandboxing
from convbook.course.assignments import run_nbgrader
from convbook.course.integrity import runtime_flags, scan_notebook
from convbook.course.sandbox import FALLBACK_MESSAGE, MODES

#: What ``--sandbox`` (``make grade SANDBOX=...``) takes: the sandbox's modes, and ``copy``, the same as ``none``
#: (a throw-away copy of the submission, without isolation).
CHOICES = (*MODES, "copy")
NO_BWRAP = (
    "grade: bubblewrap cannot run here ({why}), and grading refuses to run students' code without it. Install it "
    "(Debian/Ubuntu: sudo apt-get install bubblewrap). On Ubuntu 24.04 and later, AppArmor may block the "
    "unprivileged user namespaces it needs even when it is installed: allow them "
    "(sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0) or give bwrap an AppArmor profile. To grade "
    "anyway, WITHOUT isolation (a student's code could read what you can read), opt out: make grade ... "
    "SANDBOX=copy (python -m convbook.course grade ... --sandbox copy)"
)

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
    flags: list[str] = field(default_factory=list)  # the integrity report (convbook.course.integrity)
    notes: list[str] = field(default_factory=list)  # renamed or ignored notebooks

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


#: how notebooks get renamed on the way: Colab's "Copy of X", a download's "X (1)", "X-2", "X - Copy"
RENAMINGS = (
    re.compile(r"^copy of (?P<stem>.+)$", re.I),
    re.compile(r"^(?P<stem>.+?)\s*\(\d+\)$"),
    re.compile(r"^(?P<stem>.+?)\s*-\s*copy(\s*\(\d+\))?$", re.I),
    re.compile(r"^(?P<stem>.+?)[-_ ]\d+$"),
)


def original_stem(stem: str, expected: set[str]) -> str | None:
    """The assignment notebook (stem) a renamed notebook's stem stands for, or None."""
    for _ in range(4):
        if stem in expected:
            return stem
        for pattern in RENAMINGS:
            found = pattern.match(stem)
            if found:
                stem = found.group("stem").strip()
                break
        else:
            return None
    return stem if stem in expected else None


def match_notebooks(found: list[Path], expected: list[str]) -> tuple[dict[str, Path], list[str]]:
    """Each of the assignment's notebook names -> the submitted file graded as it, and one sentence per renamed,
    doubled or unknown file."""
    stems = {Path(name).stem for name in expected}
    matched: dict[str, list[Path]] = {}
    unknown = []
    for path in found:
        stem = original_stem(path.stem, stems)
        (matched.setdefault(stem + ".ipynb", []) if stem else unknown).append(path)
    chosen, notes = {}, []
    for name, paths in matched.items():
        exact = [p for p in paths if p.name == name]
        best = exact[0] if exact else max(paths, key=lambda p: p.stat().st_mtime)
        chosen[name] = best
        if best.name != name:
            notes.append(f"'{best.name}' was graded as {name}")
        for other in paths:
            if other is not best:
                notes.append(f"'{other.name}' was not graded: '{best.name}' is graded as {name}")
    missing = [name for name in expected if name not in chosen]
    if len(unknown) == 1 and len(missing) == 1:
        chosen[missing[0]] = unknown[0]
        notes.append(f"'{unknown[0].name}' was graded as {missing[0]}, the one notebook of the assignment missing")
    elif unknown:
        names = ", ".join(f"'{p.name}'" for p in unknown)
        notes.append(f"{names} not graded: not a notebook of this assignment ({', '.join(expected)})")
    return chosen, notes


def collect(assignment: str, folder: Path, course: Path, notes: list[str] | None = None) -> str:
    """Copy one student's notebooks into nbgrader's ``submitted/`` under the assignment's names (a renamed
    notebook is matched, see :func:`match_notebooks`; ``notes`` receives what was matched or left out); archive,
    never overwrite, an older copy."""
    student = folder.name
    found = submitted_notebooks(folder, assignment)
    if not found:
        raise ValueError(f"no .ipynb in {folder}")
    expected = sorted(p.name for p in (course / "release" / assignment).glob("*.ipynb"))
    chosen, found_notes = match_notebooks(found, expected) if expected else ({p.name: p for p in found}, [])
    if notes is not None:
        notes += found_notes
    if not chosen:
        raise ValueError("; ".join(found_notes) or f"no notebook of {assignment} in {folder}")
    target = course / "submitted" / student / assignment
    if target.exists():
        same = sorted(p.name for p in target.glob("*.ipynb")) == sorted(chosen) and all(
            filecmp.cmp(path, target / name, shallow=False) for name, path in chosen.items()
        )
        if same:
            return "unchanged"
        stamp = datetime.fromtimestamp(target.stat().st_mtime, UTC).strftime("%Y%m%dT%H%M%S%fZ")
        archive = course / "archive" / assignment / student / stamp
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), str(archive))
        status = f"new version (the previous one is in {archive.relative_to(course)})"
    else:
        status = "new"
    target.mkdir(parents=True)
    for name, path in chosen.items():
        shutil.copy2(path, target / name)
    newest = max(p.stat().st_mtime for p in chosen.values())
    stamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
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
    header = ["student", "autograded", *exercises, "written: graded", "written: to grade by hand", "integrity", "notes"]
    rows = [header]
    for r in results:
        integrity = f"FLAGGED: {'; '.join(r.flags)}" if r.flags else "ok"
        if not r.graded:
            rows.append(
                [
                    r.student,
                    "not graded",
                    *["" for _ in exercises],
                    "",
                    f"error: {r.error}",
                    integrity,
                    " ".join(r.notes),
                ]
            )
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
                integrity,
                " ".join(r.notes),
            ]
        )
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))


def integrity(assignment: str, folder: Path, result: StudentResult, course: Path) -> set[str]:
    """Fill ``result.flags``: the static scan of the submitted notebooks, then what the sandbox saw."""
    release = course / "release" / assignment
    for path in sorted((course / "submitted" / folder.name / assignment).glob("*.ipynb")):
        result.flags += [f for f in scan_notebook(path, release / path.name) if f not in result.flags]
    seen, modes = runtime_flags(course, assignment, folder.name)
    result.flags += [f for f in seen if f not in result.flags]
    return modes


def grade(
    assignment: str,
    submissions: Path,
    course: Path = DEFAULT_COURSE,
    timeout: int = 900,
    feedback: bool = False,
    sandbox: str = "auto",
) -> list[StudentResult]:
    if not (course / "nbgrader_config.py").exists() or not (course / "release" / assignment).is_dir():
        raise SystemExit(f"grade: {course} has no released assignment {assignment!r}: run `make assignments` first")
    if "convbook.course.testrun" not in (course / "nbgrader_config.py").read_text():
        raise SystemExit(f"grade: {course} was made before sandboxed grading: run `make assignments` again")
    if sandbox not in CHOICES:
        raise ValueError(f"grade: sandbox must be one of {CHOICES}, got {sandbox!r}")
    sandbox = "none" if sandbox == "copy" else sandbox
    if sandbox == "bwrap":  # fail closed, before any submission is touched
        works, why = sandboxing.bwrap_works()
        if not works:
            raise SystemExit(NO_BWRAP.format(why=why))
    os.environ["CONVBOOK_SANDBOX"] = sandbox  # read by convbook.course.testrun in nbgrader's process
    shutil.rmtree(course / "integrity" / assignment, ignore_errors=True)
    results, modes = [], set()
    for folder in student_folders(submissions):
        result = StudentResult(folder.name)
        start = time.perf_counter()
        try:
            status = collect(assignment, folder, course, result.notes)
        except Exception as exc:  # an unreadable folder is one student's problem, not the batch's
            result.error = f"could not collect: {exc}"
            results.append(result)
            print(f"{folder.name}: {result.error}", file=sys.stderr)
            continue
        ok, why = autograde(assignment, folder.name, course, timeout)
        result.graded, result.error = ok, why
        if ok:
            read_scores(assignment, result, course)
        modes |= integrity(assignment, folder, result, course)
        print(
            f"{folder.name}: {status}; "
            + (f"graded in {time.perf_counter() - start:.0f} s" if ok else f"NOT GRADED ({why})"),
            file=sys.stderr,
        )
        results.append(result)
    if "none" in modes:
        print(f"warning: {FALLBACK_MESSAGE}", file=sys.stderr)
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
    parser.add_argument(
        "--sandbox",
        choices=CHOICES,
        default="bwrap",
        help="bwrap (default): refuse without bubblewrap; copy (or none): no isolation; auto: fall back (warned)",
    )
    args = parser.parse_args(argv)
    results = grade(
        args.assignment, args.submissions.resolve(), args.course.resolve(), args.timeout, args.feedback, args.sandbox
    )
    print()
    print_table(score_table(results))
    print(f"\n(also in {args.course / 'grades' / (args.assignment + '.csv')})")
    failed = [r for r in results if not r.graded]
    return 2 if failed else 0
