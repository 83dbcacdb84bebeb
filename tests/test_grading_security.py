"""Grading that cannot be gamed or read (issue 22): submissions that game, peek, rename and crash, end to end.

One course of the dilated exercises (``make assignments`` on ``chapters/dilated/08_exercises.ipynb``), one batch of
submissions built from its source (the book's answers) and release (the stubs), graded once with
``python -m convbook.course grade --feedback``; each test reads the batch's table, gradebook, feedback and
integrity report. About two minutes on two cores. ``GRADING_TABLE`` below is the table these submissions get.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from convbook.course import feedback, grade
from convbook.course.assignments import make_assignments
from convbook.course.notebooks import load_config
from convbook.course.sandbox import bwrap_works

pytestmark = pytest.mark.slow  # nbgrader and bubblewrap, end to end

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "08_exercises.ipynb"
ASSIGNMENT = "a2-dilated"
SEED = 31337
#: every function of the dilated checks replaced by one that passes (the reviewer's submission)
PATCH_CHECKS = """import convbook.course.check.dilated as _d
for _n in dir(_d):
    if not _n.startswith("_") and callable(getattr(_d, _n)):
        setattr(_d, _n, lambda *a, **k: True)
"""
PATCH_NUMPY = """import builtins
import numpy
import convbook.course.check as _c
numpy.allclose = numpy.array_equal = lambda *a, **k: True
builtins.bool = lambda *a: True
_c.CheckResult.__bool__ = lambda self: True
_c.compare = lambda *a, **k: True
"""
PEEK = """import glob, os
print("SOURCES", glob.glob("../../../source/*/*.ipynb") + glob.glob("/work/**/source/*/*.ipynb"))
print("ENV", os.environ.get("CONVBOOK_HIDDEN_SEED"))
for _p in ("../../../hidden_seed.txt", "../../../gradebook.db", "../../hidden_seed.txt"):
    try:
        print("SEED", open(_p).read())
    except OSError as _e:
        print("DENIED", type(_e).__name__)
"""
#: dil-ex-5 right on the public cases (float64) only: the hidden cases (float32 among them) fail
HIDDEN_FAIL = """
_book_dilate_kernel = my_dilate_kernel


def my_dilate_kernel(weight, dilation):
    if weight.dtype != np.float64:
        raise ValueError("only float64")
    return _book_dilate_kernel(weight, dilation)
"""


def _answer(nb, label: str):
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-answer"]
    return cell


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = tmp_path_factory.mktemp("course") / "course"
    config = load_config(ROOT)
    config["assignments"] = {ASSIGNMENT: {"title": "Dilated", "notebooks": [f"chapters/dilated/{NOTEBOOK}"]}}
    plans = make_assignments(course, ROOT, seed=SEED, timeout=40, quiet=True, config=config)
    source = course / "source" / ASSIGNMENT / NOTEBOOK
    release = course / "release" / ASSIGNMENT / NOTEBOOK
    subs = tmp_path_factory.mktemp("submissions")

    def write(student, nb, name=NOTEBOOK):
        (subs / student).mkdir(exist_ok=True)
        nbformat.write(nb, subs / student / name)

    def book():
        return nbformat.read(source, as_version=4)

    def stubs():
        return nbformat.read(release, as_version=4)

    write("solutions", book())
    nb = stubs()
    _answer(nb, "dil-ex-1").source = PATCH_CHECKS + _answer(nb, "dil-ex-1").source
    write("game-checks", nb)
    nb = stubs()
    _answer(nb, "dil-ex-1").source = PATCH_NUMPY + _answer(nb, "dil-ex-1").source
    write("game-numpy", nb)
    nb = stubs()  # the patch runs only when the grader calls the function
    _answer(nb, "dil-ex-5").source = (
        "def my_dilate_kernel(weight, dilation):\n"
        + "".join("    " + line + "\n" for line in PATCH_CHECKS.splitlines())
        + "    return weight\n"
    )
    write("game-at-call", nb)
    nb = stubs()
    _answer(nb, "dil-ex-1").source = PEEK + _answer(nb, "dil-ex-1").source
    write("peek", nb)
    write("rename-colab", book(), f"Copy of {NOTEBOOK}")
    write("rename-download", book(), NOTEBOOK.replace(".ipynb", " (1).ipynb"))
    nb = book()
    (subs / "rename-unknown").mkdir()
    nbformat.write(nb, subs / "rename-unknown" / "homework.ipynb")
    nbformat.write(nb, subs / "rename-unknown" / "notes.ipynb")
    nb = book()
    _answer(nb, "dil-ex-6").source = "raise RuntimeError('a bug of mine')\n\n" + _answer(nb, "dil-ex-6").source
    write("crash-exception", nb)
    nb = book()
    _answer(nb, "dil-ex-6").source = "while True:\n    pass\n\n" + _answer(nb, "dil-ex-6").source
    write("crash-loop", nb)
    nb = book()
    _answer(nb, "dil-ex-6").source = "import sys\n\nsys.exit('bye')\n" + _answer(nb, "dil-ex-6").source
    write("crash-exit", nb)
    nb = book()
    _answer(nb, "dil-ex-6").source = "import os\n\nos._exit(3)\n"
    write("crash-kernel", nb)
    nb = book()
    cell = _answer(nb, "dil-ex-3")
    cell.source = cell.source.replace("### END SOLUTION", "ratio = 10\n### END SOLUTION")
    write("partial", nb)
    nb = book()
    _answer(nb, "dil-ex-5").source += "\n" + HIDDEN_FAIL
    write("hidden-fail", nb)
    old = os.environ.get("CONVBOOK_HIDDEN_SEED")
    os.environ["CONVBOOK_HIDDEN_SEED"] = str(SEED)  # in the grader's environment, never in the student's
    try:
        results = {r.student: r for r in grade.grade(ASSIGNMENT, subs, course, timeout=900, feedback=True)}
    finally:
        os.environ.pop("CONVBOOK_HIDDEN_SEED") if old is None else os.environ.update(CONVBOOK_HIDDEN_SEED=old)
    return course, plans[0], results


def test_batch_table_is_recorded(batch):
    course, plan, results = batch
    rows = grade.score_table(list(results.values()))
    grade.print_table(rows)  # the grading table of these submissions (pytest -s shows it)
    assert [r[0] for r in rows[1:]] == sorted(results)
    assert all(results[s].graded for s in results if s != "rename-unknown")


def test_solutions_get_full_marks_and_no_flag(batch):
    _, plan, results = batch
    for student in ("solutions", "rename-colab", "rename-download"):
        r = results[student]
        assert r.graded and r.auto_score == r.auto_max == plan.auto_points, (student, r.auto)
        assert r.flags == [], r.flags


def test_patching_the_checks_numpy_or_builtins_changes_nothing(batch):
    _, _, results = batch
    for student in ("game-checks", "game-numpy", "game-at-call"):
        r = results[student]
        assert r.graded and r.auto_score == 0, (student, r.auto)
        assert any(f.startswith("patches a module") for f in r.flags), (student, r.flags)


def test_a_submission_cannot_read_the_course(batch):
    course, _, results = batch
    r = results["peek"]
    assert r.graded and r.auto_score == 0
    page = (course / "feedback" / "peek" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert str(SEED) not in page
    assert page.count("DENIED") >= 3 + 1  # three denials printed, plus the source line
    assert "ENV None" in page
    if bwrap_works()[0]:  # without bubblewrap the fallback copy hides ../../../ only by being elsewhere
        assert "SOURCES []" in page
    assert any("reads files outside its folder" in f for f in r.flags)
    assert any(f.startswith("at run time: reads") and "hidden_seed" in f for f in r.flags), r.flags


def test_renamed_notebooks_are_matched_or_reported_in_one_sentence(batch):
    _, _, results = batch
    assert results["rename-colab"].notes == [f"'Copy of {NOTEBOOK}' was graded as {NOTEBOOK}"]
    assert results["rename-download"].notes == [f"'08_exercises (1).ipynb' was graded as {NOTEBOOK}"]
    r = results["rename-unknown"]
    assert not r.graded
    assert "'homework.ipynb', 'notes.ipynb' not graded: not a notebook of this assignment" in r.error


def test_crashes_cost_only_their_exercise(batch):
    _, plan, results = batch
    ex6 = sum(i.points for i in plan.items if i.exercise == "dil-ex-6" and i.kind != "written")
    for student in ("crash-exception", "crash-loop", "crash-exit", "crash-kernel"):
        r = results[student]
        assert r.graded, (student, r.error)
        assert r.auto["dil-ex-6"][0] == 0, (student, r.auto)
        assert r.auto_score == plan.auto_points - ex6, (student, r.auto)


def test_one_wrong_part_of_three_keeps_two_thirds(batch):
    _, plan, results = batch
    r = results["partial"]
    top = r.auto["dil-ex-3"][1]
    assert r.auto["dil-ex-3"][0] == pytest.approx(round(top * 2 / 3, 2))
    assert r.auto_score == pytest.approx(plan.auto_points - top + round(top * 2 / 3, 2))


def test_feedback_shows_results_never_hidden_test_code(batch):
    course, _, results = batch
    r = results["hidden-fail"]
    assert r.auto["dil-ex-5"] == (2.0, 4.0), r.auto  # public cases pass, hidden ones fail
    page = (course / "feedback" / "hidden-fail" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "the hidden cases do not pass" in page
    assert feedback.leaks(page) == [] and "seed=" not in page
    for student in results:
        for path in (course / "feedback" / student).rglob("*.html"):
            assert feedback.leaks(path.read_text()) == [], path


def test_feedback_is_regenerated_after_grading_by_hand(batch, tmp_path):
    course, plan, _ = batch
    from nbgrader.api import Gradebook  # the formgrader's own store, as a TA's grade reaches it

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", feedback.course_id(course)) as gb:
        written = [g for g in gb.find_submission(ASSIGNMENT, "solutions").notebooks[0].grades if g.needs_manual_grade]
        for g in written:  # what the formgrader's grade handler does when a TA enters a score
            g.manual_score, g.needs_manual_grade = g.max_score, False
        gb.db.commit()
    rows = dict((s, (score, pending)) for s, score, _, pending in feedback.regenerate(ASSIGNMENT, course, tmp_path))
    assert rows["solutions"] == (plan.auto_points + plan.written_points, 0)
    page = (tmp_path / "solutions" / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert f"{plan.auto_points + plan.written_points:g}" in page
