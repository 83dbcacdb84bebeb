"""The integrity report beside the scores: what a submission's own code does that an answer never needs.

:func:`scan_source` reads a cell's code with Python's ``ast`` (it never runs it) and names what it finds:

* **patches a module**: an assignment, ``del`` or ``setattr`` on an attribute of an imported module (or of
  something reached through one: ``np.linalg.norm = ...``), or on ``builtins`` / ``__builtins__``;
* **touches sys.modules**, **inspects the grader** (``gc.get_objects``, ``sys._getframe``, ``inspect.stack``,
  ``sys.setprofile``/``settrace``, ``ctypes``);
* **reads files outside its folder**: a path written as ``..``/absolute, or naming the course's files
  (``hidden_seed``, ``gradebook``, ``source/``, ``autograded``);
* **uses the network** or **runs programs** (``socket``, ``urllib``, ``requests``, ``subprocess``, ``os.system``).

:func:`scan_notebook` scans the code cells the student wrote or changed (those not identical to a cell of the
release notebook). The grader adds what the sandbox saw at run time (:mod:`convbook.course.runner`'s audit events).
A flag is a reason for a teaching assistant to look, not a verdict: a student may import ``os`` for a good reason.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat

NETWORK = {"socket", "urllib", "urllib3", "requests", "http", "httpx", "ftplib", "smtplib", "aiohttp"}
PROGRAMS = {"subprocess", "pty", "multiprocessing"}
INSPECT = {
    "gc.get_objects",
    "gc.get_referrers",
    "sys._getframe",
    "inspect.stack",
    "inspect.currentframe",
    "sys.setprofile",
    "sys.settrace",
}
COURSE_FILES = ("hidden_seed", "gradebook", "source/", "autograded", "nbgrader_config", "release/")


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


def scan_source(source: str, modules: set[str] | None = None) -> list[str]:
    """Flags for one cell's code; ``modules`` are names bound to modules by earlier cells (updated in place)."""
    modules = set() if modules is None else modules
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    flags: list[str] = []

    def flag(text: str) -> None:
        if text not in flags:
            flags.append(text)

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for alias in node.names:
                if isinstance(node, ast.Import) or alias.name[:1].islower():
                    modules.add(alias.asname or alias.name.split(".")[0])
            for name in names:
                top = name.split(".")[0]
                if top in NETWORK:
                    flag(f"uses the network ({name})")
                if top in PROGRAMS:
                    flag(f"runs programs ({name})")
                if top == "ctypes":
                    flag("inspects the grader (ctypes)")
        modules.update({"builtins", "__builtins__"})
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Attribute, ast.Subscript)) and _root(sub) in modules:
                    flag(f"patches a module ({_dotted(sub) if isinstance(sub, ast.Attribute) else _root(sub)})")
                    break
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in ("setattr", "delattr") and node.args and _root(node.args[0]) in modules:
                flag(f"patches a module ({name} on {_root(node.args[0])})")
            if name in INSPECT or name.startswith("ctypes."):
                flag(f"inspects the grader ({name})")
            if name in ("os.system", "os.popen") or name.startswith(("os.exec", "os.spawn")):
                flag(f"runs programs ({name})")
        if isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            flag("touches sys.modules")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if ".." in text.split("/") or any(word in text for word in COURSE_FILES):
                flag(f"reads files outside its folder ({text[:60]!r})")
            elif text.startswith("/") and len(text) > 1 and "\n" not in text:
                flag(f"reads files outside its folder ({text[:60]!r})")
    return flags


def scan_notebook(submitted: Path, release: Path | None) -> list[str]:
    """Flags for the code cells of ``submitted`` that are not cells of the ``release`` notebook, in order."""
    try:
        nb = nbformat.read(submitted, as_version=4)
    except Exception:  # an unreadable file is reported by the grading itself
        return []
    given = set()
    if release is not None and release.exists():
        given = {c.source.strip() for c in nbformat.read(release, as_version=4).cells if c.cell_type == "code"}
    modules: set[str] = set()
    flags: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        found = scan_source(cell.source, modules)
        if cell.source.strip() not in given:
            flags += [f for f in found if f not in flags]
    return flags


def runtime_flags(course: Path, assignment: str, student: str) -> tuple[list[str], set[str]]:
    """What the sandbox saw (audit events) for one student, and the sandbox modes the notebooks ran in."""
    flags, modes = [], set()
    for path in sorted((course / "integrity" / assignment / student).glob("*.json")):
        record = json.loads(path.read_text())
        modes.add(record.get("sandbox", "?"))
        flags += [f"at run time: {e}" for e in record.get("events", []) if f"at run time: {e}" not in flags]
    return flags, modes
