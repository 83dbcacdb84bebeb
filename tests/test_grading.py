"""Grading with nbgrader, end to end, on the two assignments that are cheap to run (dilated, separable).

`make assignments` for them, then `python -m convbook.course grade` (convbook.course.grade) on a batch of submissions:
the solution notebooks get full marks; the untouched release notebooks get zero, without crashing; a notebook with
one wrong answer loses that exercise's points and keeps the rest; a broken file is reported and a crashing kernel
is graded, and neither stops the batch; no submission is changed or overwritten. About a minute on two cores.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest

from convbook.course import grade
from convbook.course.assignments import make_assignments
from convbook.course.notebooks import load_config, normalize, solution_fingerprints

pytestmark = pytest.mark.slow  # nbgrader, end to end

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = {"a2-dilated": "08_exercises.ipynb", "a3-separable": "07_exercises.ipynb"}
#: the answer made wrong in the "one wrong answer" submission, and how
WRONG = {
    "a2-dilated": ("dil-ex-5", "spans = tuple(d * (k - 1) + 1", "spans = tuple(d * k"),  # one zero too many
    "a3-separable": ("sep-ex-4", '"oc,cuv->ocuv"', '"oc,cuv->couv"'),  # the axes swapped
}


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    path = tmp_path_factory.mktemp("course") / "course"
    config = load_config(ROOT)  # the course's points, with the two exercise notebooks that run in seconds
    config["assignments"] = {
        "a2-dilated": {"title": "Dilated convolution", "notebooks": ["chapters/dilated/08_exercises.ipynb"]},
        "a3-separable": {"title": "Separable convolution", "notebooks": ["chapters/separable/07_exercises.ipynb"]},
    }
    plans = make_assignments(path, ROOT, seed=20260, timeout=120, quiet=True, config=config)
    return path, {p.name: p for p in plans}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    path, plans = course
    results, digests = {}, {}
    for assignment, notebook in ASSIGNMENTS.items():
        subs = tmp_path_factory.mktemp(f"submissions-{assignment}")
        for student in ("solutions", "untouched", "wrong"):
            (subs / student).mkdir()
        source = path / "source" / assignment / notebook
        (subs / "solutions" / notebook).write_bytes(source.read_bytes())  # the book's solutions, in nbgrader's form
        (subs / "untouched" / notebook).write_bytes((path / "release" / assignment / notebook).read_bytes())
        label, old, new = WRONG[assignment]
        nb = nbformat.read(source, as_version=4)
        (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-answer"]
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
        nbformat.write(nb, subs / "wrong" / notebook)
        if assignment == "a2-dilated":  # two bad submissions: a broken file, a kernel that dies
            (subs / "broken").mkdir()
            (subs / "broken" / notebook).write_text('{"cells": [ not json')
            crash = nbformat.read(path / "release" / assignment / notebook, as_version=4)
            crash.cells[3].source = "import os\n\nos._exit(1)"
            (subs / "crash").mkdir()
            nbformat.write(crash, subs / "crash" / notebook)
        before = _digest(subs)
        results[assignment] = {r.student: r for r in grade.grade(assignment, subs, path, timeout=300)}
        digests[assignment] = (before, _digest(subs))
    return results, digests, plans


def test_release_notebooks_hold_no_solution_and_no_hidden_test(course):
    path, _ = course
    fingerprints = solution_fingerprints(ROOT)
    for assignment, notebook in ASSIGNMENTS.items():
        nb = nbformat.read(path / "release" / assignment / notebook, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "seed=" not in text
        source = (path / "source" / assignment / notebook).read_text()
        assert "seed=_grading_seed()" in source and "20260" not in source, "the seed is in no notebook"
        leaks = [f for f in fingerprints if f in normalize(text)]
        assert not leaks, leaks[:3]
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert "raise NotImplementedError" in text and "YOUR ANSWER HERE" in text
        assert (path / "gradebook.db").exists()


def test_solutions_get_full_marks(graded):
    results, _, plans = graded
    for assignment in ASSIGNMENTS:
        r = results[assignment]["solutions"]
        assert r.graded, r.error
        assert r.auto_score == r.auto_max == plans[assignment].auto_points
        assert r.written_pending == plans[assignment].written_points, "written answers wait for the instructor"


def test_untouched_notebooks_get_zero(graded):
    results, _, plans = graded
    for assignment in ASSIGNMENTS:
        r = results[assignment]["untouched"]
        assert r.graded, r.error
        assert r.auto_score == 0 and r.auto_max == plans[assignment].auto_points
        assert r.written_pending == 0 and sum(s for s, _ in r.written.values()) == 0, "an unchanged answer scores 0"


def test_one_wrong_answer_loses_only_that_exercise(graded):
    results, _, plans = graded
    for assignment in ASSIGNMENTS:
        label = WRONG[assignment][0]
        r = results[assignment]["wrong"]
        assert r.graded, r.error
        lost = sum(i.points for i in plans[assignment].items if i.exercise == label and i.kind != "written")
        assert lost > 0 and r.auto[label][0] == 0
        assert r.auto_score == plans[assignment].auto_points - lost
        assert all(score == top for ex, (score, top) in r.auto.items() if ex != label)


def test_bad_submissions_are_reported_and_do_not_stop_the_batch(graded):
    results, _, _ = graded
    batch = results["a2-dilated"]
    assert not batch["broken"].graded and "JSON" in batch["broken"].error
    # a cell that kills the student's process is an error in that cell; the cells before it run again, the rest
    # of the notebook is graded (tests/test_grading_security.py: a crash costs only its exercise)
    assert batch["crash"].graded and batch["crash"].auto_score == 0, batch["crash"].error
    assert all(batch[s].graded for s in ("solutions", "untouched", "wrong")), "the others were graded"
    rows = grade.score_table(list(batch.values()))
    assert [row[0] for row in rows[1:]] == ["broken", "crash", "solutions", "untouched", "wrong"]


def test_no_submission_is_changed_or_overwritten(graded, course, tmp_path):
    _, digests, _ = graded
    for before, after in digests.values():
        assert before == after, "grading changed a submitted file"
    path, _ = course
    # a student hands in again: the copy graded before is archived, not overwritten
    first = path / "submitted" / "wrong" / "a2-dilated" / ASSIGNMENTS["a2-dilated"]
    old = first.read_bytes()
    again = tmp_path / "wrong"
    again.mkdir()
    (again / first.name).write_bytes(old)
    assert grade.collect("a2-dilated", again, path) == "unchanged"
    (again / first.name).write_bytes(old + b"\n")
    assert grade.collect("a2-dilated", again, path).startswith("new version")
    (archived,) = (path / "archive" / "a2-dilated" / "wrong").rglob(first.name)
    assert archived.read_bytes() == old and first.read_bytes() == old + b"\n"
    assert (path / "autograded" / "solutions" / "a2-dilated" / first.name).exists()


def test_score_table_is_written(graded, course):
    path, plans = course
    table = (path / "grades" / "a2-dilated.csv").read_text().splitlines()
    assert table[0].startswith("student,autograded,dil-ex-1")
    total = f"{plans['a2-dilated'].auto_points:g}"
    assert f"solutions,{total}/{total}," in "\n".join(table)
    assert f"untouched,0/{total}," in "\n".join(table)
