"""The grader's side of sandboxed grading: nbgrader's autograde step with the tests outside the student's process.

``make assignments`` configures nbgrader (:func:`configure`) to use :class:`SandboxedExecute` instead of its own
``Execute``: every cell the student could have written runs in :class:`convbook.course.sandbox.Sandbox` (bubblewrap,
a copy of the one submission folder, no network, no course folder), and every **test cell** (a graded, locked cell
of the assignment's source notebook, read from ``<course>/source/``, never from the submission) runs here, in the
grader's own process, with its own ``convbook``, ``numpy`` and builtins. A test sees the student's work only as
data: a name it uses and does not define is fetched from the sandbox (numbers, arrays, lists; a function becomes a
:class:`StudentFunction` whose calls go to the sandbox with copies of the arguments and come back as data). So an
answer cell that patches ``convbook.course.check``, ``numpy`` or ``builtins`` patches the student's process only,
and the hidden seed (:func:`convbook.course.check.grading_seed`, read from the course folder) never enters it.

A test cell's error output carries only ``Name: message``, never a traceback with the test's code, and a test
whose last line is a number earns that many points (nbgrader's partial credit, :func:`part_credit`).
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import importlib
import io
import json
import os
import pickle
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer, Unicode

from convbook.course.check import call_student
from convbook.course.runner import TRUSTED_MODULES
from convbook.course.sandbox import RunnerDied, RunnerTimeout, Sandbox

AUTOGRADE = [
    "convbook.course.testrun.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
FEEDBACK = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "convbook.course.feedback.ResultsOnly",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def configure(c) -> None:
    """Point an nbgrader configuration at the sandboxed autograde step and the results-only feedback."""
    c.Autograde.autograde_preprocessors = AUTOGRADE
    c.GenerateFeedback.preprocessors = FEEDBACK
    if "timeout" in c.Execute:
        c.SandboxedExecute.timeout = c.Execute.timeout


class Opaque:
    """A student's object the grader does not rebuild (only its type name and repr travel)."""

    def __init__(self, kind: str, text: str):
        self.kind, self.text = kind, text

    def __repr__(self) -> str:
        return f"<student's {self.kind}: {self.text}>"


def _trusted(module: str, qualname: str | None = None):
    """The grader's own module or function ``module.qualname``, or None when it is not a trusted library's."""
    if module.split(".")[0] not in TRUSTED_MODULES:
        return None
    try:
        obj = importlib.import_module(module)
        for part in (qualname or "").split(".") if qualname else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def decode(data, sandbox: Sandbox, timeout: float):
    """Rebuild a value the sandbox sent (:func:`convbook.course.runner.encode`), trusting nothing in it."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(item, sandbox, timeout) for item in data]
    if not isinstance(data, dict):
        return Opaque(type(data).__name__, "")
    if "__ndarray__" in data:
        return _array(data)
    if "__npscalar__" in data:
        return _array(data["__npscalar__"])[()]
    if "__float__" in data:
        return float(data["__float__"]) if data["__float__"] in ("nan", "inf", "-inf") else Opaque("float", "?")
    if "__tuple__" in data:
        return tuple(decode(item, sandbox, timeout) for item in data["__tuple__"])
    if "__dict__" in data:
        return {_hashable(decode(k, sandbox, timeout)): decode(v, sandbox, timeout) for k, v in data["__dict__"]}
    if "__tensor__" in data:
        import torch  # only when a student's answer is a tensor (torch is slow to import)

        tensor = torch.from_numpy(_array(data["array"]).copy()).to(getattr(torch, str(data["__tensor__"])))
        return tensor.requires_grad_(bool(data.get("requires_grad"))) if tensor.is_floating_point() else tensor
    if "__module__" in data or "__ref__" in data:
        found = _trusted(str(data.get("__module__") or data["__ref__"]), data.get("qualname"))
        return found if found is not None else Opaque("library object", str(data)[:100])
    if "__callable__" in data:
        return StudentFunction(sandbox, str(data["__callable__"]), str(data.get("name", "function")), timeout)
    return Opaque(str(data.get("__opaque__", "object")), str(data.get("repr", ""))[:200])


def _hashable(key):
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def _array(data: dict) -> np.ndarray:
    dtype = np.dtype(str(data["__ndarray__"]))
    if dtype.kind not in "biufc":
        raise ValueError(f"decode: dtype {dtype} is not numeric")
    shape = tuple(int(n) for n in data["shape"])
    return np.frombuffer(base64.b64decode(data["data"]), dtype=dtype).reshape(shape).copy()


class StudentFunction:
    """The grader's handle on a function defined in the sandbox: a call sends the arguments and waits for data."""

    def __init__(self, sandbox: Sandbox, handle: str, name: str, timeout: float):
        self.sandbox, self.handle, self.__name__, self.timeout = sandbox, handle, name, timeout

    def __repr__(self) -> str:
        return f"<student's function {self.__name__}>"

    def __call__(self, *args, **kwargs):
        watch, called = _call_student_watch()
        payload = base64.b64encode(pickle.dumps((args, kwargs))).decode()
        message = {"op": "call", "handle": self.handle, "args": payload, "watch": watch}
        try:
            reply = self.sandbox.request(message, self.timeout)
        except RunnerTimeout as exc:
            raise TimeoutError(f"your function did not return within {self.timeout:g} s") from exc
        except RunnerDied as exc:
            raise StudentCrash(f"your function ended the Python process ({exc})") from exc
        if called is not None:
            called += [name for name in reply.get("called", []) if isinstance(name, str) and name in watch]
        if "raised" in reply:
            kind = str(reply["raised"].get("type", "Exception"))
            text = str(reply["raised"].get("message", ""))
            if kind == "NotImplementedError":
                raise NotImplementedError(text)
            if kind == "KeyboardInterrupt":
                raise TimeoutError(f"your function did not return within {self.timeout:g} s")
            raise type(kind if kind.isidentifier() else "Error", (Exception,), {})(text)
        return decode(reply.get("value"), self.sandbox, self.timeout)


class StudentCrash(Exception):
    """The student's process died during a call."""


def _call_student_watch() -> tuple[list[str], list | None]:
    """The library functions the enclosing :func:`convbook.course.check.call_student` forbids, and its list of
    forbidden calls seen, read from its frame: the sandbox watches for them, since the call runs there."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code is not call_student.__code__:
        frame = frame.f_back
    if frame is None:
        return [], None
    from convbook.course.check import _reference_functions  # the checks' own list, as call_student uses it

    functions = list(frame.f_locals.get("forbidden", ())) + _reference_functions()
    names = [f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', '')}" for f in functions]
    return names, frame.f_locals.get("called")


class StudentNamespace(dict):
    """A test's globals: names it does not define come from the sandbox, as data (a new one for every test)."""

    def __init__(self, sandbox: Sandbox, timeout: float):
        super().__init__(__builtins__=builtins, __name__="__grading__")
        self.sandbox, self.timeout = sandbox, timeout

    def __missing__(self, name: str):
        if name.startswith("__") or hasattr(builtins, name):
            raise KeyError(name)
        reply = self.sandbox.request({"op": "get", "name": name}, self.timeout)
        if reply.get("missing") or "value" not in reply:
            raise KeyError(name)
        value = decode(reply["value"], self.sandbox, self.timeout)
        self[name] = value
        return value


class _Child(dict):
    """Globals for the book's solution code: its own names first, then the test's (hence the student's)."""

    def __init__(self, parent):
        super().__init__(__builtins__=builtins)
        self.parent = parent

    def __missing__(self, name: str):
        if name.startswith("__") or hasattr(builtins, name):
            raise KeyError(name)
        return self.parent[name]


def student_values(namespace, names) -> dict:
    """The student's answers ``names`` (None for a name not defined), from a test's globals."""
    values = {}
    for name in names:
        try:
            values[name] = namespace[name]
        except KeyError:
            values[name] = None
    return values


def solution_values(code: str, namespace, names) -> dict:
    """The book's answers ``names``: its solution ``code`` run on the names the notebook defines."""
    scope = _Child(namespace)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, scope)
    return {name: scope[name] for name in names}


def part_credit(check, names, code: str, namespace, points: float) -> float:
    """Points for a multi-part answer typed by hand: each part counts, judged by the exercise's own self-check.

    The check runs once on all the student's answers (its result is printed, as in the notebook), then once per
    part with the other parts replaced by the book's answers. Returns ``points * right / parts``, rounded to
    hundredths (nbgrader's partial credit takes a test cell's last value as its points).
    """
    given = student_values(namespace, names)
    full = check(*given.values())
    print(full)
    if full:
        return float(points)
    expected = solution_values(code, namespace, names)
    right = []
    for name in names:
        if given[name] is None:
            continue
        args = [given[n] if n == name else expected[n] for n in names]
        if check(*args):
            right.append(name)
    print(f"{len(right)} of {len(names)} parts right" + (f" ({', '.join(right)})" if right else ""))
    return round(points * len(right) / len(names), 2)


def run_test(source: str, sandbox: Sandbox, timeout: float) -> list[dict]:
    """Run one test cell here, with the student's names fetched from the sandbox; its nbformat outputs."""
    namespace = StudentNamespace(sandbox, timeout)
    out = io.StringIO()
    value = None
    try:
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(tree, "<test>", "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<test>", "eval"), namespace)
    except Exception as exc:  # the test failed: its result, never its code
        text = f"{type(exc).__name__}: {exc}".strip()
        outputs = [{"output_type": "stream", "name": "stdout", "text": out.getvalue()}] if out.getvalue() else []
        return [
            *outputs,
            {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc), "traceback": [text]},
        ]
    outputs = [{"output_type": "stream", "name": "stdout", "text": out.getvalue()}] if out.getvalue() else []
    if value is not None:
        outputs.append({"output_type": "execute_result", "data": {"text/plain": repr(value)}, "metadata": {}})
    return outputs


def test_sources(course: Path, assignment: str, notebook: str) -> dict[str, str]:
    """The test cells of the assignment's source notebook: grade_id -> source (the instructor's copy)."""
    path = course / "source" / assignment / f"{notebook}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"grading: no source notebook {path}")
    tests = {}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            tests[meta["grade_id"]] = cell.source
    return tests


def course_root(resources: dict) -> Path:
    url = resources.get("nbgrader", {}).get("db_url", "")
    return Path(url[len("sqlite:///") :]).parent if url.startswith("sqlite:///") else Path.cwd()


class SandboxedExecute(NbGraderPreprocessor):
    """nbgrader's execute step, split: the student's cells in the sandbox, the test cells here."""

    timeout = Integer(300, help="seconds for one cell, or one call of a student's function").tag(config=True)
    sandbox = Unicode("auto", help="auto (bwrap, else a copy without isolation), bwrap or none").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        course = course_root(resources)
        tests = test_sources(course, info["assignment"], info["notebook"])
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        mode = os.environ.get("CONVBOOK_SANDBOX", self.sandbox)
        count = 0
        with Sandbox(folder, mode=mode, private=(course,)) as box:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                count += 1
                cell.execution_count = count
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in tests:
                    cell.source = tests[grade_id]
                    outputs = run_test(tests[grade_id], box, self.timeout)
                else:
                    outputs = box.run(cell.source, self.timeout)["outputs"]
                for output in outputs:
                    if output["output_type"] == "execute_result":
                        output["execution_count"] = count
                cell.outputs = [nbformat.from_dict(o) for o in outputs]
            record = {"sandbox": box.mode, "events": box.events}
        report = course / "integrity" / info["assignment"] / info["student"] / f"{info['notebook']}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(record, indent=1))
        return nb, resources
