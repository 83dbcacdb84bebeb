"""The parts of sandboxed grading, one at a time (tests/test_grading_security.py runs them end to end).

The integrity scan, the matching of renamed notebooks, the sandbox's command line and its refusal to expose the
course, the data that crosses from the student's process to the grader's, the test runner, partial credit and the
results-only feedback. The tests that start a sandboxed process are marked slow (a few seconds each).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import convbook.course.check.dilated as dilated_check
from convbook.course import assignments, feedback, grade, integrity, notebooks, runner, sandbox, testrun
from convbook.course.check import sealed

CLEAN = """import numpy as np
from convbook import conv1d


def my_causal_conv1d(x, weight, dilation=1):
    left = dilation * (weight.shape[-1] - 1)
    return conv1d(np.pad(x, ((0, 0), (0, 0), (left, 0))), weight, dilation=dilation)
"""


@pytest.mark.parametrize(
    ("source", "flag"),
    [
        ("import convbook.course.check.dilated as d\nd.dilate_kernel = lambda *a: True", "patches a module"),
        ("import numpy as np\nnp.allclose = lambda *a, **k: True", "patches a module (np.allclose)"),
        ("import numpy as np\nnp.linalg.norm = abs", "patches a module (np.linalg.norm)"),
        ("import builtins\nbuiltins.bool = lambda x: True", "patches a module (builtins.bool)"),
        ("__builtins__['bool'] = 1", "patches a module"),
        ("from convbook.course import check\nsetattr(check, 'compare', 1)", "patches a module (setattr on check)"),
        ("import sys\nsys.modules['numpy'] = None", "touches sys.modules"),
        ("import gc\ngc.get_objects()", "inspects the grader (gc.get_objects)"),
        ("import ctypes", "inspects the grader (ctypes)"),
        ("open('../../../hidden_seed.txt')", "reads files outside its folder"),
        ("open('/etc/passwd')", "reads files outside its folder"),
        ("import glob\nglob.glob('x/source/*/*.ipynb')", "reads files outside its folder"),
        ("import urllib.request", "uses the network (urllib.request)"),
        ("import socket", "uses the network (socket)"),
        ("import subprocess", "runs programs (subprocess)"),
        ("import os\nos.system('ls')", "runs programs (os.system)"),
    ],
)
def test_integrity_scan_flags_what_an_answer_never_needs(source, flag):
    flags = integrity.scan_source(source)
    assert any(f.startswith(flag) for f in flags), flags


def test_integrity_scan_leaves_an_honest_answer_alone():
    assert integrity.scan_source(CLEAN) == []
    assert integrity.scan_source("x = np.zeros(3)\nx[0] = 1\nresult = {}\nresult['a'] = 2") == []
    assert integrity.scan_source("def broken(:\n") == []  # a syntax error is the grading's to report


def test_integrity_scan_of_a_notebook_skips_the_release_cells(tmp_path):
    release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.sep)")])
    nbformat.write(release, tmp_path / "release.ipynb")
    submitted = nbformat.v4.new_notebook(cells=[*release.cells, nbformat.v4.new_code_cell("os.sep = '!'")])
    nbformat.write(submitted, tmp_path / "submitted.ipynb")
    assert integrity.scan_notebook(tmp_path / "submitted.ipynb", tmp_path / "release.ipynb") == [
        "patches a module (os.sep)"
    ]
    assert integrity.scan_notebook(tmp_path / "release.ipynb", tmp_path / "release.ipynb") == []


def _touch(folder: Path, *names: str) -> list[Path]:
    paths = []
    for number, name in enumerate(names):
        path = folder / name
        path.write_text("{}")
        os.utime(path, (1000 + number, 1000 + number))
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    "name",
    ["Copy of 08_exercises.ipynb", "08_exercises (1).ipynb", "08_exercises-2.ipynb", "08_exercises - Copy.ipynb"],
)
def test_renamed_notebooks_are_matched(tmp_path, name):
    chosen, notes = grade.match_notebooks(_touch(tmp_path, name), ["08_exercises.ipynb"])
    assert chosen == {"08_exercises.ipynb": tmp_path / name}
    assert notes == [f"'{name}' was graded as 08_exercises.ipynb"]


def test_the_exact_name_wins_and_the_others_are_named(tmp_path):
    paths = _touch(tmp_path, "Copy of a.ipynb", "a.ipynb", "b (2).ipynb", "b (3).ipynb")
    chosen, notes = grade.match_notebooks(paths, ["a.ipynb", "b.ipynb"])
    assert chosen == {"a.ipynb": paths[1], "b.ipynb": paths[3]}  # the exact name, else the newest
    assert "'Copy of a.ipynb' was not graded: 'a.ipynb' is graded as a.ipynb" in notes
    assert "'b (3).ipynb' was graded as b.ipynb" in notes


def test_unknown_notebooks_are_reported_in_one_sentence(tmp_path):
    chosen, notes = grade.match_notebooks(_touch(tmp_path, "homework.ipynb"), ["a.ipynb"])
    assert chosen == {"a.ipynb": tmp_path / "homework.ipynb"}  # the one notebook handed in, for the one expected
    chosen, notes = grade.match_notebooks(_touch(tmp_path, "x.ipynb", "y.ipynb"), ["a.ipynb"])
    assert chosen == {} and notes == ["'x.ipynb', 'y.ipynb' not graded: not a notebook of this assignment (a.ipynb)"]


def test_the_sandbox_never_binds_the_course(tmp_path):
    roots = sandbox.bind_roots()
    with pytest.raises(ValueError, match="lies inside"):
        sandbox.check_roots(roots, [Path(roots[0]) / "course"])
    sandbox.check_roots(roots, [tmp_path])
    cmd = sandbox.bwrap_command(tmp_path / "work", roots)
    assert {"--unshare-all", "--clearenv", "--die-with-parent", "--new-session"} <= set(cmd)
    binds = [cmd[i + 2] for i, arg in enumerate(cmd) if arg == "--bind"]
    assert binds == [str(tmp_path / "work")], "the submission's copy is the only folder it can write"
    assert "CONVBOOK_HIDDEN_SEED" not in " ".join(cmd)
    with pytest.raises(ValueError, match="sandbox mode"):
        sandbox.resolve_mode("chroot")


def _round_trip(value):
    return testrun.decode(runner.encode(value, {}), None, 1)


def test_values_cross_as_data_with_their_types():
    for value in (None, True, 3, 2.5, "s", [1, (2, 3.0)], {"a": 1}, (1,)):
        assert _round_trip(value) == value and type(_round_trip(value)) is type(value)
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = _round_trip(array)
    assert back.dtype == np.float32 and back.shape == (2, 3) and np.array_equal(back, array)
    assert _round_trip(np.int64(7)).dtype == np.int64 and _round_trip(np.int64(7)) == 7
    assert np.isnan(_round_trip(float("nan")))
    assert _round_trip(np) is np and _round_trip(dilated_check.dilate_kernel) is dilated_check.dilate_kernel


def test_nothing_the_student_builds_runs_in_the_grader():
    class Evil(int):
        def __eq__(self, other):
            return True

    assert type(_round_trip(Evil(3))) is int  # a subclass arrives as the plain number
    assert isinstance(_round_trip(np.array([object()])), testrun.Opaque)
    assert isinstance(_round_trip(object()), testrun.Opaque)
    handles = {}
    data = runner.encode(lambda x: x, handles)
    assert data["__callable__"] in handles
    with pytest.raises(ValueError, match="not numeric"):
        testrun.decode({"__ndarray__": "|O", "shape": [1], "data": ""}, None, 1)
    assert isinstance(testrun.decode({"__pickle__": "..."}, None, 1), testrun.Opaque)
    assert testrun.decode({"__ref__": "os", "qualname": "system"}, None, 1).__class__ is testrun.Opaque


class FakeSandbox:
    """Answers ``get`` requests from a dict, as the sandbox would, without a process."""

    def __init__(self, names: dict):
        self.names = names

    def request(self, message, timeout):
        assert message["op"] == "get"
        if message["name"] not in self.names:
            return {"missing": True}
        return {"value": runner.encode(self.names[message["name"]], {})}


def test_a_failing_test_shows_its_result_not_its_code():
    outputs = testrun.run_test(
        "secret = 41\nprint('checked')\nassert answer == secret, 'wrong'", FakeSandbox({"answer": 1}), 5
    )
    assert outputs[0]["text"] == "checked\n"
    assert outputs[-1]["output_type"] == "error" and outputs[-1]["traceback"] == ["AssertionError: wrong"]
    outputs = testrun.run_test("answer * 2", FakeSandbox({"answer": 21}), 5)
    assert outputs == [{"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}}]
    assert testrun.run_test("missing", FakeSandbox({}), 5)[-1]["ename"] == "NameError"


SOLUTION = "gap_macs = 64 * 28 * 28 * 32 * 9\nzero_macs = 64 * 28 * 28 * 32 * 81\nratio = zero_macs // gap_macs"


def test_partial_credit_counts_each_part(capsys):
    names = ["gap_macs", "zero_macs", "ratio"]
    right = testrun.solution_values(SOLUTION, {}, names)
    check = dilated_check.zero_insertion_cost
    assert testrun.part_credit(check, names, SOLUTION, dict(right), 2.0) == 2.0
    for wrong in names:
        assert testrun.part_credit(check, names, SOLUTION, {**right, wrong: 10}, 2.0) == 1.33
    assert "2 of 3 parts right" in capsys.readouterr().out
    assert testrun.part_credit(check, names, SOLUTION, {**right, "ratio": None, "gap_macs": 10}, 2.0) == 0.67
    assert testrun.part_credit(check, names, SOLUTION, dict.fromkeys(names), 2.0) == 0.0


def test_feedback_keeps_only_a_failed_test_message():
    cell = nbformat.v4.new_code_cell("hidden")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="no", traceback=["code line"])]
    student = nbformat.v4.new_code_cell("mine")
    student.outputs = [nbformat.v4.new_output("error", ename="E", evalue="x", traceback=["my line"])]
    nb = nbformat.v4.new_notebook(cells=[cell, student])
    nb, _ = feedback.ResultsOnly().preprocess(nb, {})
    assert nb.cells[0].outputs[0]["traceback"] == ["AssertionError: no"]
    assert nb.cells[1].outputs[0]["traceback"] == ["my line"], "the student's own traceback stays"
    assert feedback.leaks("### BEGIN HIDDEN TESTS") and not feedback.leaks("PASS dilate_kernel")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_the_sandbox_runs_cells_and_contains_them(tmp_path, mode):
    if mode == "bwrap" and not sandbox.bwrap_works()[0]:
        pytest.skip(f"bubblewrap cannot run here: {sandbox.bwrap_works()[1]}")
    course, work = tmp_path / "course", tmp_path / "course" / "submitted" / "me"
    work.mkdir(parents=True)
    (course / "hidden_seed.txt").write_text("1234\n")
    (work / "data.txt").write_text("mine")
    os.environ["CONVBOOK_HIDDEN_SEED"] = "1234"
    try:
        with sandbox.Sandbox(work, mode=mode, private=(course,)) as box:
            assert box.run("print(open('data.txt').read())", 30)["outputs"][0]["text"] == "mine\n"
            seed = box.run(f"open({str(course / 'hidden_seed.txt')!r}).read()", 30)
            env = box.run("import os\nos.environ.get('CONVBOOK_HIDDEN_SEED')", 30)
            box.run("open('data.txt', 'w').write('changed')", 30)
            start = time.monotonic()
            loop = box.run("while True:\n    pass", 3)
            after = box.run("x = 1\nx + 1", 30)
            died = box.run("import os\nos._exit(1)", 30)
            again = box.run("x", 30)
    finally:
        del os.environ["CONVBOOK_HIDDEN_SEED"]
    assert env["outputs"] == [], "the environment is emptied"
    if mode == "bwrap":
        assert seed["error"]["ename"] == "FileNotFoundError"
        assert any("hidden_seed" in e for e in box.events)
    assert (work / "data.txt").read_text() == "mine", "the submission itself is never changed"
    assert loop["error"]["ename"] == "TimeoutError" and time.monotonic() - start < 30
    assert after["outputs"][0]["data"]["text/plain"] == "2"
    assert died["error"]["ename"] == "KernelDied"
    assert again["outputs"][0]["data"]["text/plain"] == "1", "the cells before a crash run again"


def _graded_test_cell(assignment: str, label: str):
    """The graded variant ``label`` of the default course (term 3): its drawn exercise and its test cell's source."""
    root = Path(__file__).resolve().parents[1]
    plans, sources = assignments.plan_assignments(notebooks.load_config(root), root, only=[assignment], term=3)
    item = dict(plans[0].drawn)[label]
    cells = sources[(assignment, f"{assignment}.ipynb")].cells
    tests = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{label}-test-1"]
    kinds = {i.grade_id: i.kind for i in plans[0].items}
    return item, tests[0], kinds[f"{label}-test-1"]


@pytest.mark.parametrize(("assignment", "label"), [("a2-dilated", "a2-g3"), ("a3-separable", "a3-g1")])
def test_a_sealed_answer_of_several_numbers_earns_each_parts_share(assignment, label):
    """The default course's graded variants: the test cell `make grade` runs (testrun.run_test, the student's names
    fetched as data) gives each sealed number its share of the points, without an answer in the test."""
    item, cell, kind = _graded_test_cell(assignment, label)
    points = cell.metadata["nbgrader"]["points"]
    answers = dict(item.answers)
    assert kind == "partial" and len(answers) >= 3 and "BEGIN HIDDEN" not in cell.source
    assert not any(str(v) in cell.source for v in answers.values() if isinstance(v, int) and v > 99)

    def graded(names: dict) -> float:
        outputs = testrun.run_test(cell.source, FakeSandbox(names), 30)
        assert outputs[-1]["output_type"] == "execute_result", outputs
        return float(outputs[-1]["data"]["text/plain"])

    assert graded(answers) == points
    wrong = next(iter(answers))
    n = len(answers)
    assert graded({**answers, wrong: answers[wrong] + 7}) == round(points * (n - 1) / n, 2)
    assert graded({**answers, wrong: None}) == round(points * (n - 1) / n, 2)
    assert graded(dict.fromkeys(answers, 10**9)) == 0.0
    assert graded(dict.fromkeys(answers)) == 0.0  # the release's None values
    deleted = testrun.run_test(cell.source, FakeSandbox({}), 30)  # the answer cell deleted: an error, no points
    assert deleted[-1]["ename"] == "NameError"


def test_sealed_part_credit_refuses_bad_arguments():
    token = sealed.value_token({"a": 1, "b": 2}, "salt")
    assert sealed.part_credit("x", {"a": 1, "b": 5}, token, 2) == 1.0
    with pytest.raises(ValueError, match="given"):
        sealed.part_credit("x", {}, token, 2)
    with pytest.raises(ValueError, match="points"):
        sealed.part_credit("x", {"a": 1}, token, -1)


def _released_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "release" / "a2-dilated").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c.X = ['convbook.course.testrun.SandboxedExecute']\n")
    return course


def test_grading_refuses_without_bubblewrap_unless_told_to_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVBOOK_SANDBOX", raising=False)  # restored after the test
    course, subs = _released_course(tmp_path), tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: (False, "bwrap is not installed"))
    with pytest.raises(SystemExit, match=r"bwrap is not installed.*apt-get install bubblewrap.*SANDBOX=copy"):
        grade.grade("a2-dilated", subs, course, sandbox="bwrap")
    assert not (course / "submitted").exists(), "nothing is touched before the refusal"
    with pytest.raises(SystemExit, match="SANDBOX=copy"):
        grade.main(["a2-dilated", str(subs), "--course", str(course)])  # bwrap is the command's default
    with pytest.raises(ValueError, match="sandbox must be one of"):
        grade.grade("a2-dilated", subs, course, sandbox="chroot")
    monkeypatch.setattr(grade, "autograde", lambda *a: (False, "stub"))
    monkeypatch.setattr(grade, "collect", lambda *a: "collected")
    monkeypatch.setattr(grade, "integrity", lambda *a: {"none"})
    (results,) = grade.grade("a2-dilated", subs, course, sandbox="copy")  # opted out: graded without isolation
    assert results.error == "stub" and os.environ["CONVBOOK_SANDBOX"] == "none"
